//! A page of the activity log, newest first, with the pages before and after it; or what to
//! say when the filter finds nothing.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::{ActivityEntry, ActivityQuery, Page};

use crate::components::activity::activity_row::ActivityRow;
use crate::components::activity::filter;
use crate::components::pager::Pager;
use crate::paths;

/// `filter`: what `page` was read for.
#[component]
pub fn ActivityTable(page: Page<ActivityEntry>, filter: ActivityQuery) -> impl IntoView {
    if page.items.is_empty() {
        let (text, link) = if page.total > 0 {
            (
                "This page is past the end of the list.",
                Some((filter::href(&ActivityQuery { page: None, ..filter }), "Go to the first page")),
            )
        } else if filter::is_filtered(&filter) {
            ("No activity matches this filter.", Some((paths::ACTIVITY.to_owned(), "Show all activity")))
        } else {
            ("Nothing has been done yet. Sign-ins, Force Backups, new jobs, changes to settings and API tokens show here as they happen.", None)
        };
        return Either::Left(view! {
            <div class="empty-state">
                <p>{text}</p>
                {link.map(|(href, label)| view! { <A href=href>{label}</A> })}
            </div>
        });
    }
    let (first, last) = page.range();
    let summary = format!("Activity {first}–{last} of {}, newest first", page.total);
    let pager_page = page.clone();
    let href = Callback::new(move |to: u32| filter::href(&ActivityQuery { page: Some(to), ..filter.clone() }));

    Either::Right(view! {
        <table class="backups-table activity-table">
            <caption class="visually-hidden">{summary}</caption>
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Who"</th>
                    <th scope="col">"What"</th>
                    <th scope="col">"Object"</th>
                    <th scope="col">"Organisation"</th>
                    <th scope="col">"Address"</th>
                    <th scope="col">"Request ID"</th>
                </tr>
            </thead>
            <tbody>
                <For each=move || page.items.clone() key=|entry| entry.id.clone() let:entry>
                    <ActivityRow entry />
                </For>
            </tbody>
        </table>
        <Pager page=pager_page noun="entries".to_owned() href />
    })
}
