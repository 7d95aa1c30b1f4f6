//! Account › Security: the person's second factor, sessions and password, and the sign-in
//! rules of the organisations (and reseller) they administer. Sent through `request`, as every
//! request of the portal is.

use gloo_net::http::Method;
use portal_api::{
    PasswordChange, RecoveryCodes, SecondFactorCode, SessionRow, SessionsEnded, SignInPolicy, SignInPolicyInput, TotpEnrolment,
    TwoFactorStatus,
};

use super::{encode, get, request, ApiError};

/// The signed-in person's second factor: an authenticator app or not, recovery codes left.
pub async fn two_factor() -> Result<TwoFactorStatus, ApiError> {
    get("/api/account/two-factor").await
}

/// A new authenticator secret (QR code and text); it counts once a code from it is confirmed.
pub async fn start_totp() -> Result<TotpEnrolment, ApiError> {
    request(Method::POST, "/api/account/two-factor/totp", None::<&()>).await
}

/// Confirms the authenticator with a code from it; the answer is the recovery codes, this once.
pub async fn confirm_totp(code: &SecondFactorCode) -> Result<RecoveryCodes, ApiError> {
    request(Method::POST, "/api/account/two-factor/totp/confirm", Some(code)).await
}

/// Removes the authenticator (and the recovery codes with it).
pub async fn remove_totp(code: &SecondFactorCode) -> Result<(), ApiError> {
    request(Method::POST, "/api/account/two-factor/totp/remove", Some(code)).await
}

/// A new set of recovery codes; the old ones stop working.
pub async fn new_recovery_codes(code: &SecondFactorCode) -> Result<RecoveryCodes, ApiError> {
    request(Method::POST, "/api/account/two-factor/recovery-codes", Some(code)).await
}

/// Where the signed-in person is signed in.
pub async fn account_sessions() -> Result<Vec<SessionRow>, ApiError> {
    get("/api/account/sessions").await
}

/// Ends one of the person's other sessions (the current one is ended by signing out).
pub async fn end_session(id: &str) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/account/sessions/{}", encode(id)), None::<&()>).await
}

/// Ends every session of the person but this one.
pub async fn end_other_sessions() -> Result<SessionsEnded, ApiError> {
    request(Method::POST, "/api/account/sessions/end-others", None::<&()>).await
}

/// A new password; the person's other sessions end.
pub async fn change_password(change: &PasswordChange) -> Result<(), ApiError> {
    request(Method::POST, "/api/account/password", Some(change)).await
}

/// Whether an organisation's users must sign in with a second factor.
pub async fn sign_in_policy(organisation_id: i64) -> Result<SignInPolicy, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/sign-in-policy")).await
}

pub async fn save_sign_in_policy(organisation_id: i64, input: &SignInPolicyInput) -> Result<SignInPolicy, ApiError> {
    request(Method::PUT, &format!("/api/organisations/{organisation_id}/sign-in-policy"), Some(input)).await
}

/// A reseller's own rule: its users and every organisation it serves.
pub async fn reseller_sign_in_policy() -> Result<SignInPolicy, ApiError> {
    get("/api/reseller/sign-in-policy").await
}

pub async fn save_reseller_sign_in_policy(input: &SignInPolicyInput) -> Result<SignInPolicy, ApiError> {
    request(Method::PUT, "/api/reseller/sign-in-policy", Some(input)).await
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use portal_api::SecondFactorMethod;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::super::{from_json, SignInAnswer};

    #[wasm_bindgen_test]
    fn a_right_password_reads_as_signed_in_or_as_a_second_step() {
        let challenge = r#"{"methods":["totp","recovery_code"],"expires_in_secs":300}"#;
        match from_json::<SignInAnswer>(challenge) {
            Ok(SignInAnswer::SecondFactor(asked)) => {
                assert_eq!(asked.methods, vec![SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode]);
                assert_eq!(asked.expires_in_secs, 300);
            }
            other => panic!("a challenge read as {other:?}"),
        }
        let session = r#"{"email":"a@b.example","display_name":"A","role":"end_user","scope":"a@b.example","csrf_token":"t","must_enrol_two_factor":true}"#;
        match from_json::<SignInAnswer>(session) {
            Ok(SignInAnswer::SignedIn(user)) => assert!(user.must_enrol_two_factor),
            other => panic!("a session read as {other:?}"),
        }
        // A server from before two-factor sign-in sends no `must_enrol_two_factor`.
        let older = r#"{"email":"a@b.example","display_name":"A","role":"org_admin","scope":"Acme","csrf_token":"t"}"#;
        assert!(matches!(from_json::<SignInAnswer>(older), Ok(SignInAnswer::SignedIn(user)) if !user.must_enrol_two_factor));
    }
}
