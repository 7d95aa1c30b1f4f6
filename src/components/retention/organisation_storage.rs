//! The dashboard's storage by organisation (for those who administer more than their own
//! mailbox): what each one's backups hold against its quota, how long it keeps deleted
//! messages, and what the last pruning removed, with the way to its Retention settings.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::OrganisationStorage;

use crate::bytes::human_bytes;
use crate::components::local_time::LocalTime;
use crate::components::retention::retention_form::kept_for;
use crate::paths;

#[component]
pub fn OrganisationStorageList(organisations: Vec<OrganisationStorage>) -> impl IntoView {
    if organisations.is_empty() {
        return None;
    }
    let items = organisations
        .into_iter()
        .map(|organisation| {
            let used = match organisation.quota_bytes {
                0 => format!("{} used", human_bytes(organisation.used_bytes)),
                quota => format!("{} of {} used", human_bytes(organisation.used_bytes), human_bytes(quota)),
            };
            let pruned = organisation.last_pruned_at.clone().map(|at| {
                view! {
                    <span class="organisation-storage__pruned">
                        {format!("Last pruning removed {}, ", human_bytes(organisation.last_pruned_bytes))}
                        <LocalTime at=Some(at) />
                    </span>
                }
            });
            view! {
                <li class="organisation-storage__item">
                    <A href=paths::for_organisation(paths::RETENTION, organisation.organisation_id)>{organisation.organisation.clone()}</A>
                    <span class="organisation-storage__used">{used}</span>
                    <span class="organisation-storage__kept">
                        {format!("Deleted messages kept {}.", kept_for(organisation.keep_deleted_days))}
                    </span>
                    {pruned}
                </li>
            }
        })
        .collect_view();
    Some(view! {
        <h3 class="organisation-storage__title">"By organisation"</h3>
        <ul class="organisation-storage">{items}</ul>
    })
}
