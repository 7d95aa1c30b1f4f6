//! API tokens: what a script or a PSA signs in with (`Authorization: Bearer …`).

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// What a token may do, within its owner's scope.
    pub enum TokenAccess("access level") {
        /// Read statuses, settings and the activity log; change nothing.
        Read = "read",
        /// Read, plus Force Backup, new restores, migrations and downloads, Try again (and a
        /// job's other actions: Delete, the destination's password).
        Act = "act",
    }
}

impl TokenAccess {
    pub fn label(self) -> &'static str {
        match self {
            TokenAccess::Read => "Read only",
            TokenAccess::Act => "Read and act",
        }
    }
}

/// An API token as listed (the token itself is shown once, when it is created).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// `tok_…`
    pub id: String,
    pub name: String,
    pub access: TokenAccess,
    /// The token's first characters, to tell tokens apart (`bpt_3f9a…`).
    pub prefix: String,
    /// Who created it: the token acts as this user, within their scope.
    pub owner: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; after it, the token answers 401.
    pub expires_at: String,
    /// RFC 3339, to the minute; none if never used.
    pub last_used_at: Option<String>,
    /// The address it was last used from.
    pub last_used_from: Option<String>,
    /// RFC 3339; a revoked token answers 401 at once.
    pub revoked_at: Option<String>,
}

/// `POST /api/tokens`. The access level travels as text so that a wrong one is named with its
/// field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    /// 1–100 characters, e.g. "HaloPSA sync".
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// `read` or `act`.
    #[cfg_attr(feature = "openapi", schema(value_type = TokenAccess))]
    pub access: String,
    /// 1–365.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub expires_in_days: i64,
}

/// `201` from `POST /api/tokens`: the token, this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    /// Send it as `Authorization: Bearer <token>`. It cannot be shown again.
    pub token: String,
    #[serde(flatten)]
    pub api_token: ApiToken,
}
