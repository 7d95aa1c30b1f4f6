//! System Status › Backups: the latest backup of each mailbox the user may see.
//! Filter and page live in the URL, so a view can be bookmarked and shared.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::{BackupRow, BackupStatus, BackupsQuery, Page, Role};

use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::error_notice::ErrorList;
use crate::components::local_time::LocalTime;
use crate::components::status_badge::StatusBadge;
use crate::Session;

const BASE: &str = "/status/backups";

/// The page's address for a filter (empty values and page 1 are left out).
pub fn backups_href(query: &BackupsQuery) -> String {
    let mut pairs = Vec::new();
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        pairs.push(("q", q.to_owned()));
    }
    if let Some(status) = query.status.as_deref().filter(|s| !s.is_empty()) {
        pairs.push(("status", status.to_owned()));
    }
    if let Some(page) = query.page.filter(|p| *p > 1) {
        pairs.push(("page", page.to_string()));
    }
    format!("{BASE}{}", api::query_string(&pairs))
}

#[component]
pub fn BackupsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let session = expect_context::<Session>();
    let filter = Memo::new(move |_| {
        let query = query.read();
        BackupsQuery {
            q: query.get("q").filter(|q| !q.is_empty()),
            status: query.get("status").filter(|s| !s.is_empty()),
            page: query.get("page").and_then(|p| p.parse().ok()),
            per_page: None,
        }
    });
    let backups = LocalResource::new(move || {
        let filter = filter.get();
        async move { api::backups(&filter).await }
    });
    let show_organisation =
        Signal::derive(move || !matches!(session.0.get(), Some(Ok(ref user)) if user.role == Role::EndUser));

    // The search box is edited freely and applied on submit; the URL stays the source of truth.
    let search = RwSignal::new(filter.get_untracked().q.unwrap_or_default());
    let go = move |q: Option<String>, status: Option<String>| {
        navigate(&backups_href(&BackupsQuery { q, status, page: None, per_page: None }), Default::default());
    };
    let go_search = go.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go_search(Some(search.get_untracked()), filter.get_untracked().status);
    };
    let on_status = move |ev: leptos::ev::Event| {
        go(Some(search.get_untracked()), Some(event_target_value(&ev)));
    };

    view! {
        <section class="backups" aria-labelledby="backups-title">
            <header class="page-header">
                <p class="page-header__trail">"System Status"</p>
                <h1 id="backups-title">"Backups"</h1>
                <p class="page-header__lead">"The latest backup of each mailbox, and when it last completed."</p>
            </header>
            <form class="filters" role="search" on:submit=on_submit>
                <div class="filters__field">
                    <label for="backups-search">"Search"</label>
                    <input
                        id="backups-search"
                        type="search"
                        placeholder="Mailbox or organisation"
                        prop:value=search
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                </div>
                <div class="filters__field">
                    <label for="backups-status">"Status"</label>
                    <select id="backups-status" on:change=on_status prop:value=move || filter.get().status.unwrap_or_default()>
                        <option value="">"All statuses"</option>
                        {BackupStatus::ALL
                            .into_iter()
                            .map(|status| view! { <option value=status.as_str()>{status.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit" class="button">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading backups…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        backups.await.map(|page| view! { <BackupsTable page filter=filter.get_untracked() show_organisation /> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn BackupsTable(page: Page<BackupRow>, filter: BackupsQuery, show_organisation: Signal<bool>) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = filter.q.is_some() || filter.status.is_some();
        return Either::Left(view! {
            <div class="empty-state">
                <p>{if filtered { "No backups match this filter." } else { "There are no mailboxes to show yet." }}</p>
                {filtered.then(|| view! { <A href=BASE>"Show all backups"</A> })}
            </div>
        });
    }
    let first = (page.page - 1) as u64 * page.per_page as u64 + 1;
    let last = first + page.items.len() as u64 - 1;
    let summary = format!("{first}–{last} of {} mailboxes", page.total);
    let page_count = page.page_count();
    let link = move |to: u32| backups_href(&BackupsQuery { page: Some(to), ..filter.clone() });
    let previous = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < page_count).then(|| link(page.page + 1));

    Either::Right(view! {
        <table class="backups-table">
            <caption class="visually-hidden">{summary.clone()}</caption>
            <thead>
                <tr>
                    <th scope="col">"Mailbox Email ID"</th>
                    <Show when=move || show_organisation.get()>
                        <th scope="col">"Organisation"</th>
                    </Show>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last backup"</th>
                    <th scope="col">"Last completed"</th>
                </tr>
            </thead>
            <tbody>
                <For each=move || page.items.clone() key=|row| row.mailbox_id let:row>
                    <tr class="backups-table__row" data-status=row.status.as_str()>
                        <td data-label="Mailbox Email ID" class="backups-table__mailbox">
                            <span class="backups-table__email">{row.mailbox_email.clone()}</span>
                            <CopyButton value=row.mailbox_email.clone() what="Mailbox Email ID" />
                        </td>
                        <Show when=move || show_organisation.get()>
                            <td data-label="Organisation">{row.organisation.clone()}</td>
                        </Show>
                        <td data-label="Status"><StatusBadge status=row.status /></td>
                        <td data-label="Last backup"><LocalTime at=row.last_backup_at.clone() /></td>
                        <td data-label="Last completed"><LocalTime at=row.last_success_at.clone() /></td>
                    </tr>
                </For>
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            <span class="pager__summary">{summary}</span>
            {previous.map(|href| view! { <A href=href attr:rel="prev">"Previous"</A> })}
            <span class="pager__position">{format!("Page {} of {page_count}", page.page)}</span>
            {next.map(|href| view! { <A href=href attr:rel="next">"Next"</A> })}
        </nav>
    })
}
