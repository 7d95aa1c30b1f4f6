//! Account Settings › Integrations › HaloPSA: what connecting does, how to make the API
//! application in Halo, and the form with the connection as saved.

use leptos::prelude::*;

use crate::api;
use crate::components::error_notice::ErrorList;
use crate::components::integrations::halo_form::HaloForm;

#[component]
pub fn HaloSection(organisation_id: i64) -> impl IntoView {
    // Read once: after Save or Remove the form keeps what the server answered.
    let settings = LocalResource::new(move || api::halo_settings(organisation_id));
    view! {
        <section class="halo" aria-labelledby="halo-title">
            <h2 id="halo-title" tabindex="-1">"HaloPSA"</h2>
            <p class="integrations__lead">
                "Tickets open and close themselves: one ticket per mailbox and error, opened when its backup fails and closed when its next backup completes."
            </p>
            <details class="halo__help">
                <summary>"How to connect your Halo"</summary>
                <ol>
                    <li>"In Halo, go to Configuration › Integrations › Halo API and choose New application."</li>
                    <li>"Authentication method: " <strong>"Client ID and Secret (Services)"</strong> "."</li>
                    <li>"Permissions: " <code>"read:tickets"</code> ", " <code>"edit:tickets"</code> " and " <code>"read:customers"</code> "."</li>
                    <li>"Copy its Client ID and Client secret here, with the ID of the customer (client) in Halo that tickets are about, then Test connection and Save."</li>
                </ol>
            </details>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading the HaloPSA connection…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        settings.await.map(|saved| view! { <HaloForm organisation_id saved /> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
