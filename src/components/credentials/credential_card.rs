//! One credential on Account Settings › Credentials: whether it works, since when and why it
//! is broken, when it was last verified, and the flow that fixes it.

use leptos::prelude::*;
use portal_api::{Credential, CredentialKind, CredentialState, DeviceFlow};

use crate::components::credentials::backup_admin_form::BackupAdminForm;
use crate::components::credentials::consent_button::ConsentButton;
use crate::components::credentials::device_authorization::DeviceAuthorization;
use crate::components::credentials::just_fixed::JustFixed;
use crate::components::local_time::LocalTime;
use crate::time;

/// What the card says after its flow succeeded.
fn fixed_message(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::MainApp => "Consent is given again.",
        CredentialKind::BackupAdmin => "Checked with Microsoft and saved.",
        CredentialKind::Device => "Verified with Microsoft and saved.",
    }
}

#[component]
pub fn CredentialCard(
    organisation_id: i64,
    credential: Credential,
    flow: Option<DeviceFlow>,
    refresh: Callback<()>,
) -> impl IntoView {
    let kind = credential.kind;
    let broken = credential.state == CredentialState::Broken;
    let heading_id = format!("credential-{}", kind.as_str());
    let labelled_by = heading_id.clone();
    let just_fixed = use_context::<JustFixed>().map(|JustFixed(fixed)| fixed);
    let confirmation = move || {
        (just_fixed.and_then(|fixed| fixed.get()) == Some(kind))
            .then(|| view! { <p class="notice notice--success" role="status">{fixed_message(kind)}</p> })
    };
    let action = match kind {
        CredentialKind::MainApp => view! { <ConsentButton organisation_id primary=broken /> }.into_any(),
        CredentialKind::BackupAdmin => {
            view! { <BackupAdminForm organisation_id username=credential.username.clone() primary=broken /> }.into_any()
        }
        CredentialKind::Device => view! { <DeviceAuthorization organisation_id flow primary=broken refresh /> }.into_any(),
    };
    view! {
        <article class=format!("credential credential--{}", if broken { "broken" } else { "working" }) id=kind.as_str() aria-labelledby=labelled_by>
            <header class="credential__header">
                <h2 id=heading_id>{kind.label()}</h2>
                <span class=format!("status-badge status-badge--{}", if broken { "danger" } else { "success" })>
                    {if broken { "Broken" } else { "Working" }}
                </span>
            </header>
            <dl class="credential__facts">
                {broken.then(|| view! {
                    <dt>"Broken since"</dt>
                    <dd><LocalTime at=credential.broken_since.clone() missing="unknown" /></dd>
                    <dt>"Why"</dt>
                    <dd>{credential.reason.clone().unwrap_or_else(|| "Not known.".into())}</dd>
                })}
                {credential.username.clone().map(|name| view! { <dt>"Username"</dt><dd>{name}</dd> })}
                {(kind == CredentialKind::Device).then(|| token_expiry(broken, credential.expires_at.clone()))}
                <dt>"Last verified"</dt>
                <dd><LocalTime at=credential.last_verified_at.clone() /></dd>
            </dl>
            {broken.then(|| view! { <p class="credential__explanation">{kind.broken_explanation()}</p> })}
            {confirmation}
            {action}
        </article>
    }
}

/// When the delegated token expires, or expired. A broken card never says its token is good
/// for weeks: a token that is no longer accepted before its date shows no date at all.
fn token_expiry(broken: bool, expires_at: Option<String>) -> Option<impl IntoView> {
    let past = expires_at.as_deref().and_then(time::parse).is_some_and(|at| at <= time::now_ms());
    let label = match (broken, past) {
        (_, true) => "Delegated token expired",
        (false, false) => "Delegated token expires",
        (true, false) => return None,
    };
    Some(view! {
        <dt>{label}</dt>
        <dd><LocalTime at=expires_at missing="no token" /></dd>
    })
}
