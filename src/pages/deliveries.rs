//! Account Settings › Deliveries: every event sent to HaloPSA or a webhook, newest first, with
//! each attempt and what the receiver answered; Send again once the receiver is fixed.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::OrganisationSummary;

use crate::components::integrations::deliveries_list::DeliveriesList;
use crate::components::integrations::no_organisation::NoOrganisation;
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::paths;

fn name_only(organisation: &OrganisationSummary) -> String {
    organisation.name.clone()
}

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let chosen = ChosenOrganisation::new();
    let organisation = Memo::new(move |_| chosen.id.get());

    view! {
        <section class="deliveries" aria-labelledby="deliveries-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="deliveries-title">"Deliveries"</h1>
                <p class="page-header__lead">
                    "Every event sent to HaloPSA or a webhook, newest first, with each attempt and what the receiver answered. A failed one can be sent again once the receiver is fixed."
                </p>
            </header>
            <OrganisationPicker chosen path=paths::DELIVERIES id="deliveries-organisation" describe=name_only />
            <NoOrganisation chosen />
            {move || organisation.get().map(|organisation_id| view! {
                <p class="integrations__deliveries">
                    "Where events go is set on "
                    <A href=paths::for_organisation(paths::INTEGRATIONS, organisation_id)>"Integrations"</A>
                    "."
                </p>
                <DeliveriesList organisation_id />
            })}
        </section>
    }
}
