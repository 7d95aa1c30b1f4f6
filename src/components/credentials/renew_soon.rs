//! "Renew soon": on the dashboard when a working credential's token runs out within two
//! weeks, naming which and when, with the button that renews it, so backups never stop.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::ExpiringCredential;

use crate::components::local_time::LocalTime;
use crate::paths;

#[component]
pub fn RenewSoon(expiring: Vec<ExpiringCredential>) -> impl IntoView {
    (!expiring.is_empty()).then(|| {
        view! {
            <section class="dashboard-notice dashboard-notice--warning" role="status" aria-labelledby="renew-soon-title">
                <h2 id="renew-soon-title">"Renew soon"</h2>
                <p>"These credentials stop working on the date shown. Renewed before then, backups carry on:"</p>
                <ul class="dashboard-notice__list">
                    {expiring.into_iter().map(|item| {
                        let href = format!("{}?organisation={}#{}", paths::CREDENTIALS, item.organisation_id, item.kind.as_str());
                        view! {
                            <li>
                                <strong>{format!("{} · {}", item.organisation, item.kind.label())}</strong>
                                <span class="dashboard-notice__detail">"expires " <LocalTime at=Some(item.expires_at.clone()) /></span>
                                <A href=href attr:class="button button--small">{item.kind.fix_action()}</A>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}
