//! Account Settings › Activity: who did what, to which object, when and from where, newest
//! first — each change a person or an API token made in the organisations the user
//! administers. The filter and page live in the address, so a view can be shared; Export CSV
//! takes the same filter. For organisation admins and resellers; anyone else is told who may.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use portal_api::Action;

use crate::api;
use crate::components::activity::activity_filters::ActivityFilters;
use crate::components::activity::activity_table::ActivityTable;
use crate::components::activity::filter;
use crate::components::error_notice::ErrorList;
use crate::components::not_allowed::NotAllowed;
use crate::session::Session;

#[component]
pub fn ActivityPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let allowed = move || session.may(Action::ViewActivity);

    view! {
        <section class="activity" aria-labelledby="activity-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="activity-title">"Activity"</h1>
                <p class="page-header__lead">
                    "Who did what, and when: sign-ins, Force Backups, new jobs, changes to settings and API tokens, by a person or through a token. Newest first."
                </p>
            </header>
            <Show when=allowed fallback=|| view! { <NotAllowed action=Action::ViewActivity /> }>
                <ActivityLog />
            </Show>
        </section>
    }
}

#[component]
fn ActivityLog() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| filter::from_address(&query.read()));
    // Each answer carries the filter it was read for (the pager's links and the empty state).
    let read = LocalResource::new(move || {
        let filter = filter.get();
        async move { api::activity(&filter).await.map(|page| (page, filter)) }
    });
    let errors = Signal::derive_local(move || read.get().and_then(Result::err));
    let export = move || api::activity_csv_href(&filter.get());

    view! {
        <ActivityFilters filter errors />
        <p class="activity__export">
            <a class="button button--small" href=export download="activity.csv" aria-describedby="activity-export-hint">
                "Export CSV"
            </a>
            <span class="field__hint" id="activity-export-hint">"Every entry that matches the filter, all pages, as a spreadsheet file."</span>
        </p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading activity…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    read.await.map(|(page, filter)| view! { <ActivityTable page filter /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
