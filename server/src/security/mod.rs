//! Account › Security: one's own second factors (authenticator app, passkeys), password and sessions
//! (`Action::ManageOwnSecurity`), and who must use a second factor (`Action::ManageSignInPolicy`).

mod browser;
pub mod passkeys;
pub mod policy;
pub mod sessions;
pub mod totp;

use axum::routing::{delete, get, post};
use axum::Router;

use crate::state::AppState;

use passkeys::{add_passkey, change_passkey, list_passkeys, passkey_options, remove_passkey};
use policy::{get_organisation_policy, get_reseller_policy, set_organisation_policy, set_reseller_policy};
use sessions::{change_own_password, end_other_sessions, end_session, list_sessions};
use totp::{begin_totp, confirm_totp, remove_totp, renew_recovery_codes, two_factor_status};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/account/two-factor", get(two_factor_status))
        .route("/api/account/two-factor/totp", post(begin_totp))
        .route("/api/account/two-factor/totp/confirm", post(confirm_totp))
        .route("/api/account/two-factor/totp/remove", post(remove_totp))
        .route("/api/account/two-factor/recovery-codes", post(renew_recovery_codes))
        .route("/api/account/passkeys", get(list_passkeys).post(add_passkey))
        .route("/api/account/passkeys/options", post(passkey_options))
        .route("/api/account/passkeys/{id}", axum::routing::patch(change_passkey).delete(remove_passkey))
        .route("/api/account/sessions", get(list_sessions))
        .route("/api/account/sessions/end-others", post(end_other_sessions))
        .route("/api/account/sessions/{id}", delete(end_session))
        .route("/api/account/password", post(change_own_password))
        .route("/api/organisations/{id}/sign-in-policy", get(get_organisation_policy).put(set_organisation_policy))
        .route("/api/reseller/sign-in-policy", get(get_reseller_policy).put(set_reseller_policy))
}
