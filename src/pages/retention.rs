//! Account Settings › Retention: how long a message deleted from its mailbox stays in the
//! organisation's backups (for ever by default), what the last daily pruning removed, the
//! storage used, and each mailbox's legal hold. For organisation admins and resellers; anyone
//! else is told who may.

use leptos::prelude::*;
use portal_api::{Action, OrganisationSummary};

use crate::api;
use crate::components::error_notice::ErrorList;
use crate::components::not_allowed::NotAllowed;
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::components::retention::legal_holds::LegalHolds;
use crate::components::retention::retention_form::RetentionSettings;
use crate::paths;
use crate::session::Session;

fn name_only(organisation: &OrganisationSummary) -> String {
    organisation.name.clone()
}

#[component]
pub fn RetentionPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let allowed = move || session.may(Action::ManageRetention);

    view! {
        <section class="retention" aria-labelledby="retention-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="retention-title">"Retention"</h1>
                <p class="page-header__lead">
                    "How long a message deleted from a mailbox stays in its backups. Until then it can be found in Search messages and restored."
                </p>
            </header>
            <Show when=allowed fallback=|| view! { <NotAllowed action=Action::ManageRetention /> }>
                <Retention />
            </Show>
        </section>
    }
}

#[component]
fn Retention() -> impl IntoView {
    let chosen = ChosenOrganisation::new();
    // Read once per organisation: a change made here shows where it was made, not by reading again.
    let retention = LocalResource::new(move || {
        let id = chosen.id.get();
        async move {
            match id {
                Some(id) => api::retention(id).await.map(|retention| Some((id, retention))),
                None => Ok(None),
            }
        }
    });
    let mailboxes = LocalResource::new(move || {
        let id = chosen.id.get();
        async move {
            match id {
                Some(id) => api::organisation_mailboxes(id).await.map(Some),
                None => Ok(None),
            }
        }
    });

    view! {
        <OrganisationPicker chosen path=paths::RETENTION id="retention-organisation" describe=name_only />
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading retention…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    retention.await.map(|found| match found {
                        Some((organisation_id, retention)) => view! { <RetentionSettings organisation_id retention /> }.into_any(),
                        None => view! { <p class="empty-state">"You do not manage any organisation."</p> }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Transition>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading mailboxes…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    mailboxes.await.map(|found| found.map(|list| view! { <LegalHolds list /> }))
                })}
            </ErrorBoundary>
        </Transition>
    }
}
