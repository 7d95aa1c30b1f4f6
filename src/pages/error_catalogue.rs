//! Error types: the job errors the service raises as PSA tickets, grouped by service, each
//! with what it means and what to do, and how upstream answers become job statuses. Job
//! errors on System Status link here (`/errors#{id}`).

use leptos::prelude::*;
use leptos_router::hooks::use_location;
use portal_api::error_types::{Service, ERROR_TYPES, UPSTREAM_ANSWERS};

#[component]
pub fn ErrorCataloguePage() -> impl IntoView {
    // A link to one entry (`#id`) scrolls to it once the page is on screen; the browser does it
    // only for a full page load.
    let location = use_location();
    Effect::new(move |_| {
        let hash = location.hash.get();
        let id = hash.trim_start_matches('#').to_owned();
        if id.is_empty() {
            return;
        }
        request_animation_frame(move || {
            if let Some(entry) = document().get_element_by_id(&id) {
                entry.scroll_into_view();
            }
        });
    });

    let groups = Service::ALL
        .into_iter()
        .map(|service| {
            let heading_id = format!("errors-{}", service.label().split_whitespace().next().unwrap_or("").to_lowercase());
            let labelled_by = heading_id.clone();
            let entries = ERROR_TYPES
                .iter()
                .filter(|e| e.service == service)
                .map(|entry| {
                    view! {
                        <article class="error-type" id=entry.id tabindex="-1">
                            <h3>{entry.title}</h3>
                            <p>{entry.meaning}</p>
                            <p class="error-type__todo"><strong>"What to do: "</strong>{entry.what_to_do}</p>
                        </article>
                    }
                })
                .collect_view();
            view! {
                <section class="error-catalogue__group" aria-labelledby=labelled_by>
                    <h2 id=heading_id>{service.label()}</h2>
                    {entries}
                </section>
            }
        })
        .collect_view();
    let upstream =
        UPSTREAM_ANSWERS.iter().map(|(answer, status)| view! { <tr><td>{*answer}</td><td>{*status}</td></tr> }).collect_view();

    view! {
        <section class="error-catalogue" aria-labelledby="error-catalogue-title">
            <header class="page-header">
                <h1 id="error-catalogue-title">"Error types"</h1>
                <p class="page-header__lead">
                    "The errors the backup service reports, under the names they carry in your PSA's tickets: what each means and what to do."
                </p>
            </header>
            {groups}
            <section class="error-catalogue__group" aria-labelledby="errors-upstream">
                <h2 id="errors-upstream">"How answers from Microsoft and Google become statuses"</h2>
                <table class="error-catalogue__table">
                    <thead><tr><th scope="col">"The service answered"</th><th scope="col">"Status on System Status"</th></tr></thead>
                    <tbody>{upstream}</tbody>
                </table>
            </section>
        </section>
    }
}
