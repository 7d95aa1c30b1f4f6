//! System Status › Backups: the latest backup of each mailbox the user may see.
//! Filter and page live in the URL, so a view can be bookmarked and shared.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::{BackupRow, BackupsQuery, ForceBackupsRequest, JobKind, JobStatus, Page};

use crate::access;
use crate::api;
use crate::bytes::human_bytes;
use crate::components::backups::backup_history::BackupHistoryToggle;
use crate::components::backups::force_backup::{ForceBackupAll, ForceBackupButton, ForceBackups};
use crate::components::copy_button::CopyButton;
use crate::components::integrations::ticket_badge::TicketBadge;
use crate::components::jobs::job_run::JobRunSummary;
use crate::components::jobs::skipped_items::{OpenedSkipped, SkippedItems, SkippedOf};
use crate::components::jobs::status_badge::StatusBadge;
use crate::components::live_list::{use_live_list, LiveListView};
use crate::components::local_time::LocalTime;
use crate::components::messages::filter as messages;
use crate::components::pager::Pager;
use crate::paths;
use crate::session::Session;

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
    format!("{}{}", paths::BACKUPS, api::query_string(&pairs))
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
    let backups = use_live_list(filter, |filter| async move { api::backups(&filter).await });
    let refresh = Callback::new(move |_: ()| backups.refetch());
    ForceBackups::provide(refresh);
    OpenedSkipped::provide();
    let show_organisation = Signal::derive(move || session.role().is_some_and(access::sees_other_mailboxes));
    let may_force = Signal::derive(move || session.may(portal_api::Action::ForceBackup));
    let total = Signal::derive(move || backups.total());
    let force_filter = Signal::derive(move || {
        let current = filter.get();
        ForceBackupsRequest { q: current.q, status: current.status }
    });

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
                        {JobKind::Backup.statuses()
                            .iter()
                            .map(|status| view! { <option value=status.as_str()>{status.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit" class="button">"Search"</button>
            </form>
            <div class="backups__toolbar">
                <p class="backups__updated" aria-live="polite">{move || backups.updated()}</p>
                <Show when=move || may_force.get()>
                    <ForceBackupAll filter=force_filter count=total on_started=refresh />
                </Show>
            </div>
            <LiveListView
                list=backups
                loading="Loading backups…"
                show=move |page, filter| view! { <BackupsTable page filter show_organisation may_force /> }
            />
        </section>
    }
}

#[component]
fn BackupsTable(
    page: Page<BackupRow>,
    filter: BackupsQuery,
    show_organisation: Signal<bool>,
    may_force: Signal<bool>,
) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = filter.q.is_some() || filter.status.is_some();
        return Either::Left(view! {
            <div class="empty-state">
                <p>{if filtered { "No backups match this filter." } else { "There are no mailboxes to show yet." }}</p>
                {filtered.then(|| view! { <A href=paths::BACKUPS>"Show all backups"</A> })}
            </div>
        });
    }
    let (first, last) = page.range();
    let summary = format!("{first}–{last} of {} mailboxes", page.total);
    let pager_page = page.clone();
    let href = Callback::new(move |to: u32| backups_href(&BackupsQuery { page: Some(to), ..filter.clone() }));

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
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                // Keyed by the whole row: a row whose data changed is drawn anew, the others
                // (and the focus in them) stay as they are. The answer to a Force Backup is kept
                // by the page (`ForceBackups`), so a redrawn row shows it still.
                <For each=move || page.items.clone() key=|row| row.clone() let:row>
                    <tr class="backups-table__row" data-status=row.status.as_str()>
                        <td data-label="Mailbox Email ID" class="backups-table__mailbox">
                            <span class="backups-table__email">{row.mailbox_email.clone()}</span>
                            <CopyButton value=row.mailbox_email.clone() what="Mailbox Email ID" />
                            <BackupHistoryToggle mailbox_id=row.mailbox_id mailbox_email=row.mailbox_email.clone() />
                        </td>
                        <Show when=move || show_organisation.get()>
                            <td data-label="Organisation">{row.organisation.clone()}</td>
                        </Show>
                        <td data-label="Status" class="backups-table__status">
                            <StatusBadge status=row.status interrupted=row.run.interrupted_at.is_some() />
                            <JobRunSummary kind=JobKind::Backup status=row.status run=row.run.clone() id=row.mailbox_email.clone() />
                            {(row.status == JobStatus::PartiallyComplete)
                                .then(|| view! { <SkippedItems of=SkippedOf::Backup(row.mailbox_id) /> })}
                            {row.ticket.clone().map(|ticket| view! { <TicketBadge ticket /> })}
                            {row.storage.map(|storage| view! {
                                <p class="job-run__storage">
                                    {format!(
                                        "Storage: {} used of {} ({}%).",
                                        human_bytes(storage.used_bytes),
                                        human_bytes(storage.quota_bytes),
                                        storage.percent()
                                    )}
                                </p>
                            })}
                        </td>
                        <td data-label="Last backup"><LocalTime at=row.last_backup_at.clone() /></td>
                        <td data-label="Last completed"><LocalTime at=row.last_success_at.clone() /></td>
                        <td data-label="Actions" class="backups-table__actions">
                            {
                                let (mailbox_id, mailbox_email) = (row.mailbox_id, row.mailbox_email.clone());
                                view! {
                                    <Show when=move || may_force.get()>
                                        <ForceBackupButton mailbox_id mailbox_email=mailbox_email.clone() />
                                    </Show>
                                }
                            }
                            <MessageLinks mailbox_id=row.mailbox_id mailbox_email=row.mailbox_email.clone() />
                        </td>
                    </tr>
                </For>
            </tbody>
        </table>
        <Pager page=pager_page noun="mailboxes".to_owned() href />
    })
}

/// Search messages in a mailbox's backups, and what was deleted from it most recently (the
/// backups keep it): on every row, for everyone who sees the row.
#[component]
fn MessageLinks(mailbox_id: i64, mailbox_email: String) -> impl IntoView {
    let (of, from) = (format!(" of {mailbox_email}"), format!(" from {mailbox_email}"));
    view! {
        <p class="backups-table__message-links">
            <A href=messages::of_mailbox(mailbox_id)>
                "Search messages" <span class="visually-hidden">{of}</span>
            </A>
            <A href=messages::recently_deleted(mailbox_id)>
                "Recently deleted" <span class="visually-hidden">{from}</span>
            </A>
        </p>
    }
}
