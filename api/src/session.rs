//! Signing in and the signed-in user.

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// What a signed-in user may see and do (design.md, "Who uses it").
    pub enum Role("role") {
        /// Sees own mailbox only.
        EndUser = "end_user",
        /// Sees every account of one organisation.
        OrgAdmin = "org_admin",
        /// Sees every organisation it serves.
        Reseller = "reseller",
    }
}

impl Role {
    /// The role's name as the portal shows it.
    pub fn label(self) -> &'static str {
        match self {
            Role::EndUser => "End user",
            Role::OrgAdmin => "Organisation admin",
            Role::Reseller => "Reseller",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

/// The signed-in user, as `GET /api/session` and a successful sign-in return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// What the user's view covers: a mailbox, an organisation or a reseller's name.
    pub scope: String,
    /// Send this in the `x-csrf-token` header on every state-changing request.
    pub csrf_token: String,
    /// The user's organisation or reseller requires a second factor and the user has none yet:
    /// until one is enrolled, only Account › Security and signing out answer.
    #[serde(default)]
    pub must_enrol_two_factor: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
