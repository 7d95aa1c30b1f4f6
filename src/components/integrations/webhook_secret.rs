//! A new webhook's signing secret, shown this once (the server keeps it sealed and never sends
//! it again): copy it now, or delete the webhook and add it anew.

use leptos::prelude::*;
use portal_api::CreatedWebhook;

use crate::components::copy_button::CopyButton;
use crate::components::focus::focus_soon;

#[component]
pub fn WebhookSecret(webhook: CreatedWebhook, on_done: Callback<()>) -> impl IntoView {
    let secret = webhook.secret.clone();
    view! {
        <section class="webhook-secret" aria-labelledby="webhook-secret-title">
            <h3 id="webhook-secret-title" tabindex="-1">"Copy the signing secret now"</h3>
            <p>
                {format!("The webhook to {} is added. Its secret is shown only here: it will not be shown again.", webhook.webhook.url)}
            </p>
            <p class="webhook-secret__value">
                <code>{secret.clone()}</code>
                <CopyButton value=secret what="signing secret" />
            </p>
            <p>
                "Your endpoint uses it to check the " <code>"webhook-signature"</code>
                " header of every delivery, as Standard Webhooks describes: a request without a valid signature did not come from us."
            </p>
            <button
                type="button"
                class="button"
                on:click=move |_| {
                    on_done.run(());
                    focus_soon("webhook-url");
                }
            >
                "I have copied it"
            </button>
        </section>
    }
}
