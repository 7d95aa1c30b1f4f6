//! Account Settings › Integrations › Webhooks: the organisation's endpoints, each with the
//! events it is sent, Send test event and Delete; the form that adds one, and its secret.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::{CreatedWebhook, Delivery, Webhook};

use crate::api::{self, ApiError};
use crate::components::confirm::Confirm;
use crate::components::error_notice::{ErrorList, ErrorNotice};
use crate::components::focus::focus_soon;
use crate::components::integrations::new_webhook::NewWebhookForm;
use crate::components::integrations::webhook_secret::WebhookSecret;
use crate::components::local_time::LocalTime;
use crate::paths;

/// What the section's buttons do to its endpoints. Kept by the section, not by the rows, so
/// an answer stays beside its endpoint when the list is read again.
#[derive(Clone, Copy)]
struct Endpoints {
    organisation_id: i64,
    /// The endpoint whose Delete waits for a yes.
    confirming: RwSignal<Option<String>>,
    delete: Action<(String, String), (String, Result<(), ApiError>)>,
    send_test: Action<String, (String, Result<Delivery, ApiError>)>,
}

#[component]
pub fn WebhooksSection(organisation_id: i64) -> impl IntoView {
    let read = LocalResource::new(move || api::webhooks(organisation_id));
    // The list as last read: drawn outside the loading boundary, so reading it again after a
    // change neither redraws the rows nor takes the focus from them.
    let list = Memo::new(move |last: Option<&Option<Vec<Webhook>>>| match read.get() {
        Some(Ok(list)) => Some(list),
        _ => last.cloned().flatten(),
    });
    let created = RwSignal::new(None::<CreatedWebhook>);
    let deleted = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<String>);
    let delete = Action::new_local(move |(id, url): &(String, String)| {
        let (id, url) = (id.clone(), url.clone());
        async move {
            let result = api::delete_webhook(organisation_id, &id).await;
            if result.is_ok() {
                confirming.set(None);
                deleted.set(Some(url));
                read.refetch();
                // Its row is going: the section's heading, above the line that says it went.
                focus_soon("webhooks-title");
            }
            (id, result)
        }
    });
    let send_test = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            let result = api::test_webhook(organisation_id, &id).await;
            (id, result)
        }
    });
    let endpoints = Endpoints { organisation_id, confirming, delete, send_test };
    let on_created = Callback::new(move |webhook: CreatedWebhook| {
        deleted.set(None);
        created.set(Some(webhook));
        read.refetch();
    });
    let deliveries = paths::for_organisation(paths::DELIVERIES, organisation_id);

    view! {
        <section class="webhooks" aria-labelledby="webhooks-title">
            <h2 id="webhooks-title" tabindex="-1">"Webhooks"</h2>
            <p class="integrations__lead">
                "Each event is sent as a signed POST to every endpoint that asked for it, and retried for a while if it does not answer 2xx. What was sent and each answer are on "
                <A href=deliveries>"Deliveries"</A>
                "."
            </p>
            {move || deleted.get().map(|url| view! {
                <p class="notice notice--success" role="status">{format!("Deleted the webhook to {url}.")}</p>
            })}
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading webhooks…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move { read.await.map(|_| ()) })}
                </ErrorBoundary>
            </Transition>
            <Show when=move || list.with(|l| l.as_ref().is_some_and(Vec::is_empty))>
                <p class="empty-state">"No webhooks yet: add one below."</p>
            </Show>
            <ul class="webhooks__list">
                <For
                    each=move || list.get().unwrap_or_default()
                    key=|webhook| webhook.id.clone()
                    let:webhook
                >
                    <WebhookItem webhook endpoints />
                </For>
            </ul>
            <NewWebhookForm organisation_id on_created />
            {move || created.get().map(|webhook| view! {
                <WebhookSecret webhook on_done=Callback::new(move |_: ()| created.set(None)) />
            })}
        </section>
    }
}

#[component]
fn WebhookItem(webhook: Webhook, endpoints: Endpoints) -> impl IntoView {
    let Endpoints { organisation_id, confirming, delete, send_test } = endpoints;
    let id = StoredValue::new(webhook.id.clone());
    let url = webhook.url.clone();
    let url_id = format!("webhook-{}-url", webhook.id);
    let delete_id = format!("webhook-{}-delete", webhook.id);
    let confirm_id = format!("webhook-{}-confirm", webhook.id);
    let is_confirming = move || confirming.with(|c| c.as_deref() == Some(id.get_value().as_str()));
    let testing = move || send_test.pending().get() && send_test.input().with(|i| i.as_deref() == Some(id.get_value().as_str()));
    let deleting =
        move || delete.pending().get() && delete.input().with(|i| i.as_ref().is_some_and(|(d, _)| *d == id.get_value()));
    let events = if webhook.events.is_empty() {
        view! { <p class="webhook__events">"Every event"</p> }.into_any()
    } else {
        view! {
            <ul class="webhook__events">
                {webhook.events.iter().map(|e| view! { <li>{e.label()} " " <code>{e.as_str()}</code></li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let deliveries = paths::for_organisation(paths::DELIVERIES, organisation_id);
    let test_answer = move || {
        send_test.value().get().filter(|(tested, _)| *tested == id.get_value()).map(|(_, result)| match result {
            Ok(_) => view! {
                <p class="notice notice--success" role="status">
                    "Test event queued — see " <A href=deliveries.clone()>"Deliveries"</A>
                </p>
            }
            .into_any(),
            Err(error) => {
                let again = Callback::new(move |_: ()| {
                    send_test.dispatch(id.get_value());
                });
                view! { <ErrorNotice error retry=again /> }.into_any()
            }
        })
    };
    let delete_failure = move || {
        delete.value().get().filter(|(deleted, _)| *deleted == id.get_value()).and_then(|(_, result)| result.err()).map(|error| {
            let url = url.clone();
            let again = Callback::new(move |_: ()| {
                delete.dispatch((id.get_value(), url.clone()));
            });
            view! { <ErrorNotice error retry=again /> }
        })
    };
    let confirm_url = webhook.url.clone();
    // The confirmation gives the focus back to Delete, which it stands in for.
    let (back_to, group_id) = (delete_id.clone(), confirm_id.clone());

    view! {
        <li class="webhook">
            <p class="webhook__url" id=url_id.clone()>{webhook.url.clone()}</p>
            {events}
            <p class="webhook__created">"Added " <LocalTime at=Some(webhook.created_at.clone()) /></p>
            <div class="webhook__actions">
                <button
                    type="button"
                    class="button button--small"
                    aria-describedby=url_id.clone()
                    aria-disabled=move || testing().then_some("true")
                    on:click=move |_| {
                        if !untrack(testing) {
                            send_test.dispatch(id.get_value());
                        }
                    }
                >
                    {move || if testing() { "Sending…" } else { "Send test event" }}
                </button>
                <Show when=move || !is_confirming()>
                    <button
                        type="button"
                        class="button button--small"
                        id=delete_id.clone()
                        aria-describedby=url_id.clone()
                        on:click={
                            let confirm_id = confirm_id.clone();
                            move |_| {
                                confirming.set(Some(id.get_value()));
                                focus_soon(confirm_id.clone());
                            }
                        }
                    >
                        "Delete"
                    </button>
                </Show>
            </div>
            {test_answer}
            <Show when=is_confirming>
                <Confirm
                    id=group_id.clone()
                    class="webhook__confirm"
                    label="Delete this webhook?"
                    question=format!("Delete the webhook to {confirm_url}? Nothing more is sent to it; its deliveries stay listed.")
                    yes="Delete webhook"
                    busy_text="Deleting…"
                    busy=Signal::derive(deleting)
                    on_yes={
                        let url = confirm_url.clone();
                        Callback::new(move |_: ()| {
                            delete.dispatch((id.get_value(), url.clone()));
                        })
                    }
                    on_keep=Callback::new(move |_: ()| confirming.set(None))
                    back_to=back_to.clone()
                />
            </Show>
            {delete_failure}
        </li>
    }
}
