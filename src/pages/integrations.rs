//! Account Settings › Integrations: where an organisation's events go — tickets in its
//! HaloPSA, and signed webhooks to its own systems. Admins see their organisation; resellers
//! choose one of theirs (`?organisation=ID`).

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::OrganisationSummary;

use crate::components::integrations::halo_section::HaloSection;
use crate::components::integrations::no_organisation::NoOrganisation;
use crate::components::integrations::webhooks::WebhooksSection;
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::paths;

fn name_only(organisation: &OrganisationSummary) -> String {
    organisation.name.clone()
}

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let chosen = ChosenOrganisation::new();
    // The sections start afresh (their forms empty) only when another organisation is chosen.
    let organisation = Memo::new(move |_| chosen.id.get());

    view! {
        <section class="integrations" aria-labelledby="integrations-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="integrations-title">"Integrations"</h1>
                <p class="page-header__lead">
                    "Where the organisation's events go: tickets in your HaloPSA when backups fail, and signed webhooks to your own systems."
                </p>
            </header>
            <OrganisationPicker chosen path=paths::INTEGRATIONS id="integrations-organisation" describe=name_only />
            <NoOrganisation chosen />
            {move || organisation.get().map(|organisation_id| view! {
                <p class="integrations__deliveries">
                    "Every event sent, with each attempt and answer: "
                    <A href=paths::for_organisation(paths::DELIVERIES, organisation_id)>"Deliveries"</A>
                </p>
                <HaloSection organisation_id />
                <WebhooksSection organisation_id />
            })}
        </section>
    }
}
