//! The OpenAPI document, generated from the handlers and the shared types, then completed
//! with what every operation shares (`contract.rs`): how it is authenticated, the problems
//! any request may meet, and the links between operations.

mod contract;
mod inputs;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Backup Portal API",
        description = "The API behind the Backup Portal. Sign in with `POST /api/session`; the session \
                       travels in an HttpOnly cookie, and every state-changing request must carry the \
                       session's CSRF token in `x-csrf-token`. Scripts and PSAs send an API token \
                       instead (`Authorization: Bearer …`, Account Settings › API tokens), with no cookie \
                       and no CSRF token. Every error is `application/problem+json` (RFC 9457) with the \
                       request ID in `instance` and in the `x-request-id` header."
    ),
    paths(
        crate::health::health,
        crate::health::ready,
        crate::auth::sign_in,
        crate::auth::current_session,
        crate::auth::sign_out,
        crate::backups::list_backups,
        crate::backups::get_backup,
        crate::backups::force_backup,
        crate::backups::force_backups,
        crate::backups::backup_history,
        crate::backups::backup_folders,
        crate::jobs::list_jobs,
        crate::jobs::start_job,
        crate::jobs::count_jobs,
        crate::jobs::get_job,
        crate::jobs::delete_job,
        crate::jobs::skipped_items,
        crate::jobs::retry_job,
        crate::jobs::set_destination_password,
        crate::downloads::download_file,
        crate::events::events,
        crate::dashboard::dashboard,
        crate::credentials::list_organisations,
        crate::credentials::get_credentials,
        crate::credentials::consent::start_consent,
        crate::credentials::reauthenticate_backup_admin,
        crate::credentials::device::start_device,
        crate::credentials::device::complete_device,
        crate::credentials::verify_credentials,
        crate::mailboxes::list_mailboxes,
        crate::mailboxes::test_connection,
        crate::mailboxes::add_mailbox,
        crate::mailboxes::change_password,
        crate::integrations::halo::get_halo,
        crate::integrations::halo::save_halo,
        crate::integrations::halo::save_halo_for_all,
        crate::integrations::halo::delete_halo,
        crate::integrations::halo::test_halo,
        crate::integrations::webhooks::list_webhooks,
        crate::integrations::webhooks::create_webhook,
        crate::integrations::webhooks::delete_webhook,
        crate::integrations::webhooks::test_webhook,
        crate::integrations::deliveries::list_deliveries,
        crate::integrations::deliveries::send_again,
        crate::tokens::list_tokens,
        crate::tokens::create_token,
        crate::tokens::revoke_token,
        crate::activity::list_activity,
        crate::activity::export_activity,
        crate::retention::get_retention,
        crate::retention::set_retention,
        crate::retention::set_legal_hold,
        crate::messages::search_messages,
        crate::messages::preview_message,
        crate::messages::message_html,
        crate::messages::message_attachment,
        crate::auth::challenge::second_factor_challenge,
        crate::auth::challenge::second_factor,
        crate::auth::passkey_sign_in::second_factor_passkey_options,
        crate::auth::passkey_sign_in::second_factor_passkey,
        crate::auth::passkey_sign_in::passkey_sign_in_options,
        crate::auth::passkey_sign_in::sign_in_with_passkey,
        crate::security::passkeys::list_passkeys,
        crate::security::passkeys::passkey_options,
        crate::security::passkeys::add_passkey,
        crate::security::passkeys::change_passkey,
        crate::security::passkeys::remove_passkey,
        crate::security::totp::two_factor_status,
        crate::security::totp::begin_totp,
        crate::security::totp::confirm_totp,
        crate::security::totp::remove_totp,
        crate::security::totp::renew_recovery_codes,
        crate::security::sessions::list_sessions,
        crate::security::sessions::end_session,
        crate::security::sessions::end_other_sessions,
        crate::security::sessions::change_own_password,
        crate::security::policy::get_organisation_policy,
        crate::security::policy::set_organisation_policy,
        crate::security::policy::get_reseller_policy,
        crate::security::policy::set_reseller_policy,
    ),
    // Schemas used only by query parameters are not gathered by utoipa: named here.
    components(schemas(portal_api::Problem, portal_api::FieldError, portal_api::JobSort, portal_api::JobKind, portal_api::JobStatus, portal_api::MessageSort)),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "backups", description = "The state of each mailbox's backup, and Force Backup"),
        (name = "jobs", description = "Migrations, restores and downloads"),
        (name = "credentials", description = "Account Settings › Credentials and the re-authentication flows"),
        (name = "mailboxes", description = "Account Settings › Mailboxes: real mailboxes over IMAP"),
        (name = "integrations", description = "Account Settings › Integrations: HaloPSA tickets, signed webhooks (Standard Webhooks) and their deliveries"),
        (name = "tokens", description = "Account Settings › API tokens: for scripts and PSAs (`Authorization: Bearer …`)"),
        (name = "activity", description = "Account Settings › Activity: who did what, when, from where"),
        (name = "retention", description = "Retention: how long messages deleted from a mailbox stay in its backup, and legal hold"),
        (name = "security", description = "Account › Security: two-factor sign-in (authenticator app, passkeys), recovery codes, password, sessions, and the sign-in rules of organisations and resellers"),
        (name = "messages", description = "Messages inside backups: search, preview, attachments (restore or download chosen messages with POST /api/jobs)"),
    )
)]
pub struct ApiDoc;

/// The document as served: generated once, completed by `contract::complete`.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document is JSON");
        contract::complete(&mut document);
        inputs::complete(&mut document);
        document
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(|| async { Json(document()) }))
}
