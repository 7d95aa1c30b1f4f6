//! Account › Security and the second step of signing in: the code field and the step itself,
//! the authenticator's enrolment and its recovery codes (shown once), removing it, passkeys, the
//! person's sessions, the password, and the sign-in rules of admins and resellers (two factors,
//! Enforce SSO).

pub mod code_field;
pub mod code_request;
pub mod enrol_required;
pub mod passkey_flow;
pub mod passkey_row;
pub mod passkeys;
pub mod password_form;
pub mod recovery_codes;
pub mod retry_wait;
pub mod second_factor_form;
pub mod session_row;
pub mod sessions_list;
pub mod sign_in_policy;
pub mod sso_rule;
pub mod totp_enrol;
pub mod two_factor;
