//! Add a webhook: an https address and the events it is sent (none ticked: every event).

use leptos::prelude::*;
use portal_api::{CreatedWebhook, EventType, NewWebhook};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::text_field::TextField;

#[component]
pub fn NewWebhookForm(organisation_id: i64, on_created: Callback<CreatedWebhook>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<EventType>::new());
    let add = Action::new_local(move |webhook: &NewWebhook| {
        let webhook = webhook.clone();
        async move {
            let created = api::add_webhook(organisation_id, &webhook).await?;
            url.set(String::new());
            events.set(Vec::new());
            on_created.run(created);
            // Its secret is shown once, below: the focus goes there so it is not missed.
            focus_soon("webhook-secret-title");
            Ok::<(), ApiError>(())
        }
    });
    let error = move || add.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive_local(move || error().and_then(|e| e.field_error(name)));
    let busy = move || add.pending().get();
    let new_webhook = move || {
        // In the order listed, whatever order they were ticked in.
        let chosen: Vec<String> = EventType::subscribable()
            .filter(|e| events.with_untracked(|c| c.contains(e)))
            .map(|e| e.as_str().to_owned())
            .collect();
        NewWebhook { url: url.get_untracked().trim().to_owned(), events: (!chosen.is_empty()).then_some(chosen) }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            add.dispatch(new_webhook());
        }
    };
    // The fields stay as they were when it failed.
    let again = Callback::new(move |_: ()| {
        add.dispatch(new_webhook());
    });
    let choices = EventType::subscribable()
        .map(|event| {
            let id = format!("webhook-event-{}", event.as_str().replace('.', "-"));
            view! {
                <li>
                    <input
                        type="checkbox"
                        id=id.clone()
                        value=event.as_str()
                        prop:checked=move || events.with(|c| c.contains(&event))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            events.update(|c| {
                                c.retain(|e| *e != event);
                                if on {
                                    c.push(event);
                                }
                            });
                        }
                    />
                    <label for=id>{event.label()} " " <code>{event.as_str()}</code></label>
                </li>
            }
        })
        .collect_view();

    view! {
        <form class="new-webhook" on:submit=submit novalidate aria-labelledby="new-webhook-title">
            <h3 id="new-webhook-title">"Add a webhook"</h3>
            <TextField
                id="webhook-url"
                label="Endpoint URL"
                value=url
                kind="url"
                hint="An https:// address that takes POST requests."
                error=field("url")
            />
            <fieldset class="new-webhook__events" aria-describedby="webhook-events-hint webhook-events-error">
                <legend>"Events"</legend>
                <p class="field__hint" id="webhook-events-hint">"None ticked: every event, including ones added later."</p>
                <ul class="new-webhook__choices">{choices}</ul>
                <p class="field__error" id="webhook-events-error">{move || field("events").get()}</p>
            </fieldset>
            // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
            {move || error().map(|error| view! { <ErrorNotice error retry=again /> })}
            <div class="new-webhook__actions">
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || if busy() { "Adding…" } else { "Add webhook" }}
                </button>
            </div>
        </form>
    }
}
