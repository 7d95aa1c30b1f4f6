//! What an organisation's settings page shows when there is no organisation to show: the
//! organisations could not be read, or the user manages none.

use leptos::prelude::*;

use crate::components::error_notice::ErrorList;
use crate::components::organisation_picker::ChosenOrganisation;

#[component]
pub fn NoOrganisation(chosen: ChosenOrganisation) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading your organisations…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    chosen.list.await.map(|list| {
                        list.is_empty().then(|| view! { <p class="empty-state">"You do not manage any organisation."</p> })
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
