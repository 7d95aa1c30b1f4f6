//! Account Settings › Credentials: an organisation's three credentials (state, since when
//! and why broken, when last verified), the flow that fixes each, and a short history.
//! Admins see their organisation; resellers choose one of theirs (`?organisation=ID`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use portal_api::{CredentialKind, CredentialState, Credentials, OrganisationSummary};

use crate::api;
use crate::components::credentials::backup_admin_form::BackupAdminDraft;
use crate::components::credentials::credential_card::CredentialCard;
use crate::components::credentials::just_fixed::JustFixed;
use crate::components::error_notice::{ErrorList, ErrorNotice};
use crate::components::local_time::LocalTime;
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::live::Live;
use crate::paths;
use crate::session::Session;

/// What came back from the provider's consent page, in words (`?consent=`).
fn consent_outcome(outcome: &str) -> Option<(&'static str, &'static str)> {
    Some(match outcome {
        "fixed" => ("success", "Consent is given again: the Main App works. Backups that stopped for it run again now."),
        "denied" => ("danger", "Consent was denied at Microsoft, so nothing changed. Choose Continue again and approve, as a global administrator."),
        "wrong_tenant" => (
            "danger",
            "The consent was given in another organisation's Microsoft 365, so it does not count here. Choose Continue and sign in with a global administrator of this organisation.",
        ),
        "state_mismatch" => (
            "danger",
            "This answer from Microsoft does not belong to a consent started here (it may be old, or from another session). Nothing changed; choose Continue to start again.",
        ),
        "expired" => ("danger", "The consent took longer than 10 minutes, so it was not accepted. Choose Continue to start again."),
        "failed" => ("danger", "Microsoft's answer could not be used, so nothing changed. Choose Continue to try again; if it happens again, contact support."),
        _ => return None,
    })
}

/// An organisation in the picker, with how many of its credentials need fixing.
fn with_breaks(organisation: &OrganisationSummary) -> String {
    match organisation.broken {
        0 => organisation.name.clone(),
        broken => format!("{} ({broken} to fix)", organisation.name),
    }
}

#[component]
pub fn CredentialsPage() -> impl IntoView {
    let query = use_query_map();
    let live = use_context::<Live>();
    let just_fixed = RwSignal::new(None);
    provide_context(JustFixed(just_fixed));
    let chosen = ChosenOrganisation::new();
    let organisation = chosen.id;
    let credentials = LocalResource::new(move || {
        let id = organisation.get();
        if let Some(live) = live {
            live.tick.track();
        }
        async move {
            match id {
                Some(id) => api::credentials(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let refresh = Callback::new(move |_: ()| credentials.refetch());
    // Re Authenticate's form is kept here: a live update rebuilds the cards under it.
    let backup_admin = BackupAdminDraft::provide(organisation, refresh);
    // Check now: kept here, not in the view a reload rebuilds, so its answer stays on screen;
    // with the organisation it was for, so that it is not shown under another one chosen since.
    let check = Action::new_local(move |organisation_id: &i64| {
        let organisation_id = *organisation_id;
        async move {
            let outcome = api::verify_credentials(organisation_id)
                .await
                .map(|checked| checked.items.iter().filter(|c| c.state == CredentialState::Broken).count());
            if outcome.is_ok() && organisation.get_untracked() == Some(organisation_id) {
                credentials.refetch();
            }
            (organisation_id, outcome)
        }
    });
    #[allow(clippy::result_large_err)]
    let check_outcome = move || {
        let outcome = check.value().get().filter(|(id, _)| Some(*id) == organisation.get()).map(|(_, outcome)| outcome);
        outcome.map(|outcome| match outcome {
            Ok(0) => view! {
                <p class="notice notice--success" role="status">"Checked with Microsoft just now: every credential works."</p>
            }
            .into_any(),
            Ok(broken) => view! {
                <p class="notice notice--danger" role="alert">
                    {format!("Checked with Microsoft just now: {broken} to fix, shown below.")}
                </p>
            }
            .into_any(),
            Err(error) => {
                let again = Callback::new(move |_: ()| {
                    if let Some(id) = organisation.get_untracked() {
                        check.dispatch(id);
                    }
                });
                view! { <ErrorNotice error retry=again /> }.into_any()
            }
        })
    };
    // A check of the organisation shown is on its way.
    let checking =
        move || check.pending().get() && check.input().with(|input| input.is_some_and(|id| Some(id) == organisation.get()));
    // Re-authentication (and Check now) is for admins and resellers (`portal_api::Action`).
    let session = expect_context::<Session>();
    let may_check = move || session.may(portal_api::Action::ChangeCredentials);
    let outcome = move || query.read().get("consent").and_then(|o| consent_outcome(&o));
    let on_change = Callback::new(move |_: ()| {
        just_fixed.set(None);
        backup_admin.reset();
        check.value().set(None);
    });

    view! {
        <section class="credentials" aria-labelledby="credentials-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="credentials-title">"Credentials"</h1>
                <p class="page-header__lead">
                    "What the backup service signs in to Microsoft 365 with. When one breaks, backups stop with Authentication Error until it is fixed here."
                </p>
            </header>
            {move || outcome().map(|(tone, text)| view! {
                <p class=format!("notice notice--{tone}") role=if tone == "success" { "status" } else { "alert" }>{text}</p>
            })}
            <OrganisationPicker
                chosen
                path=paths::CREDENTIALS
                id="credentials-organisation"
                describe=with_breaks
                on_change
            />
            <Show when=may_check>
                <div class="credentials__check">
                    <button
                        type="button"
                        class="button"
                        disabled=move || checking() || organisation.get().is_none()
                        on:click=move |_| {
                            if let Some(id) = organisation.get_untracked() {
                                just_fixed.set(None);
                                check.dispatch(id);
                            }
                        }
                    >
                        {move || if checking() { "Checking with Microsoft…" } else { "Check now" }}
                    </button>
                    <span class="credentials__check-hint">"Tries each saved credential with Microsoft."</span>
                </div>
            </Show>
            {check_outcome}
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading credentials…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        credentials.await.map(|found| match found {
                            Some(credentials) => view! { <CredentialsView credentials refresh /> }.into_any(),
                            None => view! { <p class="empty-state">"You do not manage any organisation's credentials."</p> }.into_any(),
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn CredentialsView(credentials: Credentials, refresh: Callback<()>) -> impl IntoView {
    let organisation_id = credentials.organisation_id;
    let cards = CredentialKind::ALL
        .into_iter()
        .filter_map(|kind| credentials.items.iter().find(|c| c.kind == kind).cloned())
        .map(|credential| {
            let flow = (credential.kind == CredentialKind::Device).then(|| credentials.device_flow.clone()).flatten();
            view! { <CredentialCard organisation_id credential flow refresh /> }
        })
        .collect_view();
    let events = credentials.events.clone();
    view! {
        <p class="credentials__domain">{format!("{} · Microsoft 365 domain {}", credentials.organisation, credentials.domain)}</p>
        <div class="credentials__cards">{cards}</div>
        <section class="credentials__history" aria-labelledby="credentials-history">
            <h2 id="credentials-history">"History"</h2>
            {if events.is_empty() {
                view! { <p>"Nothing has broken yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="credentials__events">
                        {events.into_iter().map(|event| view! {
                            <li class=if event.resolved { "credentials__event credentials__event--resolved" } else { "credentials__event" }>
                                <LocalTime at=Some(event.at.clone()) />
                                <strong>{event.title.clone()}</strong>
                                {event.detail.clone().map(|d| view! { <span class="credentials__event-detail">{d}</span> })}
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
