//! "Need Reauthentication": on the dashboard when a credential of an organisation the user
//! administers is broken, naming which and why, with the button that starts its fix.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::BrokenCredential;

use crate::paths;

#[component]
pub fn ReauthBanner(broken: Vec<BrokenCredential>) -> impl IntoView {
    (!broken.is_empty()).then(|| {
        view! {
            <section class="dashboard-notice dashboard-notice--danger" role="alert" aria-labelledby="reauth-banner-title">
                <h2 id="reauth-banner-title">"Need Reauthentication"</h2>
                <p>"Backups that need these credentials stop with Authentication Error until they are fixed:"</p>
                <ul class="dashboard-notice__list">
                    {broken.into_iter().map(|item| {
                        let href = format!("{}?organisation={}#{}", paths::CREDENTIALS, item.organisation_id, item.kind.as_str());
                        view! {
                            <li>
                                <strong>{format!("{} · {}", item.organisation, item.kind.label())}</strong>
                                {item.reason.clone().map(|reason| view! { <span class="dashboard-notice__detail">{reason}</span> })}
                                <A href=href attr:class="button button--small button--primary">{item.kind.fix_action()}</A>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}
