//! System Status › Migrates, Restores and Downloads: one page, three kinds. Filter (status
//! chips with counts, text), sort and page live in the URL, so a view can be shared.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::jobs::destination_password_fixes;
use portal_api::{JobKind, JobRow, JobSort, JobStatus, JobsQuery, Page};

use crate::access;
use crate::components::copy_button::CopyButton;
use crate::components::jobs::destination_password::{DestinationEdits, DestinationPasswordEdit};
use crate::components::jobs::job_actions::{may_manage, JobActionError, JobActions, RetryJobButton};
use crate::components::jobs::job_run::JobRunSummary;
use crate::components::jobs::new_job::{noun, NewJobForm};
use crate::components::jobs::skipped_items::{OpenedSkipped, SkippedItems, SkippedOf};
use crate::components::jobs::status_badge::StatusBadge;
use crate::components::live_list::{use_live_list, LiveListView};
use crate::components::local_time::LocalTime;
use crate::components::pager::Pager;
use crate::live::Live;
use crate::session::Session;
use crate::{api, paths};

/// The address of a tab (`/status/restores`) with its filter; defaults are left out.
pub fn jobs_href(kind: JobKind, query: &JobsQuery) -> String {
    let mut pairs = Vec::new();
    if let Some(q) = query.q.as_deref().filter(|v| !v.is_empty()) {
        pairs.push(("q", q.to_owned()));
    }
    if let Some(status) = query.status {
        pairs.push(("status", status.as_str().to_owned()));
    }
    if let Some(sort) = query.sort.filter(|s| *s != JobSort::Newest) {
        pairs.push(("sort", sort.as_str().to_owned()));
    }
    if let Some(page) = query.page.filter(|p| *p > 1) {
        pairs.push(("page", page.to_string()));
    }
    format!("{}{}", paths::jobs(kind), api::query_string(&pairs))
}

#[component]
pub fn MigratesPage() -> impl IntoView {
    view! { <JobsPage kind=JobKind::Migrate /> }
}

#[component]
pub fn RestoresPage() -> impl IntoView {
    view! { <JobsPage kind=JobKind::Restore /> }
}

#[component]
pub fn DownloadsPage() -> impl IntoView {
    view! { <JobsPage kind=JobKind::Download /> }
}

#[component]
fn JobsPage(kind: JobKind) -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let session = expect_context::<Session>();
    let live = use_context::<Live>();
    let filter = Memo::new(move |_| {
        let query = query.read();
        JobsQuery {
            kind: Some(kind),
            q: query.get("q").filter(|q| !q.is_empty()),
            // A name the list does not know (an old or edited address) filters nothing.
            status: query.get("status").and_then(|s| JobStatus::parse(&s)).filter(|s| kind.allows(*s)),
            sort: query.get("sort").and_then(|s| JobSort::parse(&s)),
            page: query.get("page").and_then(|p| p.parse().ok()),
            per_page: None,
        }
    });
    let jobs = use_live_list(filter, |filter| async move { api::jobs(&filter).await });
    let counts = LocalResource::new(move || {
        let q = filter.get().q;
        if let Some(live) = live {
            live.tick.track();
        }
        async move { api::job_counts(kind, q.as_deref()).await }
    });
    let refresh = Callback::new(move |_: ()| {
        jobs.refetch();
        counts.refetch();
    });
    JobActions::provide(Callback::new(move |_| refresh.run(())));
    DestinationEdits::provide(refresh);
    OpenedSkipped::provide();
    let show_organisation = Signal::derive(move || session.role().is_some_and(access::sees_other_mailboxes));
    // Who may start this kind of job, from the table the server enforces; the others are told who does.
    let may_start = Signal::derive(move || session.may(portal_api::Action::start(kind)));
    let who_starts = move || session.role().is_some() && !may_start.get();

    let search = RwSignal::new(filter.get_untracked().q.unwrap_or_default());
    let go = move |change: &dyn Fn(&mut JobsQuery)| {
        let mut next = filter.get_untracked();
        next.page = None;
        change(&mut next);
        navigate(&jobs_href(kind, &next), Default::default());
    };
    let go_search = go.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go_search(&|q: &mut JobsQuery| q.q = Some(search.get_untracked()));
    };
    let on_sort = move |ev: leptos::ev::Event| {
        let sort = JobSort::parse(&event_target_value(&ev));
        go(&|q: &mut JobsQuery| q.sort = sort);
    };
    let creating = RwSignal::new(false);
    let created = RwSignal::new(None::<String>);
    let on_created = Callback::new(move |id: String| {
        creating.set(false);
        created.set(Some(id));
        refresh.run(());
    });
    let title_id = format!("{}-title", kind.as_str());
    let heading_id = title_id.clone();

    view! {
        <section class="jobs" aria-labelledby=title_id>
            <header class="page-header">
                <p class="page-header__trail">"System Status"</p>
                <h1 id=heading_id>{kind.plural()}</h1>
            </header>
            <Show when=move || may_start.get()>
                <div class="jobs__new">
                    <Show
                        when=move || creating.get()
                        fallback=move || view! {
                            <button type="button" class="button button--primary" on:click=move |_| creating.set(true)>
                                {format!("New {}", noun(kind))}
                            </button>
                        }
                    >
                        <NewJobForm kind on_created on_cancel=Callback::new(move |_| creating.set(false)) />
                    </Show>
                    {move || created.get().map(|id| view! {
                        <p class="jobs__created" role="status">{format!("{} {id} is queued. It shows below.", kind.id_label().trim_end_matches(" ID"))}</p>
                    })}
                </div>
            </Show>
            <Show when=who_starts>
                <p class="jobs__who-starts">
                    {who_starts_text(kind)}
                </p>
            </Show>
            <nav class="status-chips" aria-label="Filter by status">
                {move || {
                    let current = filter.get();
                    let all = JobsQuery { status: None, page: None, ..current.clone() };
                    let chips = counts.get().and_then(Result::ok).unwrap_or_default();
                    let total: u64 = chips.iter().map(|c| c.count).sum();
                    let mut links = vec![chip(jobs_href(kind, &all), "All".to_owned(), total, current.status.is_none())];
                    for count in chips {
                        let target = JobsQuery { status: Some(count.status), page: None, ..current.clone() };
                        let selected = current.status == Some(count.status);
                        links.push(chip(jobs_href(kind, &target), count.status.label().to_owned(), count.count, selected));
                    }
                    links.collect_view()
                }}
            </nav>
            <form class="filters" role="search" on:submit=on_submit>
                <div class="filters__field">
                    <label for="jobs-search">"Search"</label>
                    <input
                        id="jobs-search"
                        type="search"
                        placeholder=format!("{}, mailbox or organisation", kind.id_label())
                        prop:value=search
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                </div>
                <div class="filters__field">
                    <label for="jobs-sort">"Sort"</label>
                    <select id="jobs-sort" on:change=on_sort prop:value=move || filter.get().sort.unwrap_or(JobSort::Newest).as_str()>
                        {JobSort::ALL.into_iter().map(|sort| view! { <option value=sort.as_str()>{sort.label()}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="button">"Search"</button>
            </form>
            <p class="backups__updated" aria-live="polite">{move || jobs.updated()}</p>
            <LiveListView
                list=jobs
                loading="Loading…"
                show=move |page, filter| view! { <JobsTable kind page filter show_organisation /> }
            />
        </section>
    }
}

/// Said instead of "New …" to whoever may not start this kind of job: who does.
fn who_starts_text(kind: JobKind) -> String {
    let who = portal_api::Action::start(kind).who_may();
    match kind {
        JobKind::Migrate => format!("{who}. Ask your organisation's admin if this mailbox should move to another."),
        _ => format!("{who}. Ask your organisation's admin."),
    }
}

/// A status chip: a link that filters the list, with its count.
fn chip(href: String, label: String, count: u64, selected: bool) -> impl IntoView {
    view! {
        <A href=href attr:class="status-chip" attr:aria-current=selected.then_some("true")>
            {label} " " <span class="status-chip__count">{count}</span>
        </A>
    }
}

#[component]
fn JobsTable(kind: JobKind, page: Page<JobRow>, filter: JobsQuery, show_organisation: Signal<bool>) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = filter.q.is_some() || filter.status.is_some();
        let all = jobs_href(kind, &JobsQuery::default());
        let noun = kind.plural().to_lowercase();
        return Either::Left(view! {
            <div class="empty-state">
                <p>{if filtered { format!("No {noun} match this filter.") } else { format!("There are no {noun} yet.") }}</p>
                {filtered.then(|| view! { <A href=all>{format!("Show all {noun}")}</A> })}
            </div>
        });
    }
    let (first, last) = page.range();
    let summary = format!("{first}–{last} of {} {}", page.total, kind.plural().to_lowercase());
    let pager_page = page.clone();
    let href = Callback::new(move |to: u32| jobs_href(kind, &JobsQuery { page: Some(to), ..filter.clone() }));

    Either::Right(view! {
        <table class="backups-table jobs-table">
            <caption class="visually-hidden">{summary.clone()}</caption>
            <thead>
                <tr>
                    <th scope="col">{kind.id_label()}</th>
                    <th scope="col">"Mailbox"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">{if kind == JobKind::Download { "File" } else { "What and where" }}</th>
                    <th scope="col">"Asked for"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || page.items.clone() key=|row| row.clone() children=move |row: JobRow| {
                    let organisation = row.organisation.clone();
                    let id_text = row.id.clone();
                    view! {
                    <tr class="backups-table__row" data-status=row.status.as_str()>
                        <td data-label=kind.id_label() class="jobs-table__id">
                            <A href=paths::job(kind, &row.id)><code>{id_text}</code></A>
                            <CopyButton value=row.id.clone() what=kind.id_label() />
                        </td>
                        <td data-label="Mailbox">
                            <span class="backups-table__email">{row.mailbox_email.clone()}</span>
                            <Show when=move || show_organisation.get()>
                                <span class="jobs-table__organisation">{organisation.clone()}</span>
                            </Show>
                        </td>
                        <td data-label="Status" class="backups-table__status">
                            <StatusBadge status=row.status interrupted=row.run.interrupted_at.is_some() />
                            <JobRunSummary kind status=row.status run=row.run.clone() id=row.id.clone() may_manage=may_manage(&row) />
                            {(row.status == JobStatus::PartiallyComplete)
                                .then(|| view! { <SkippedItems of=SkippedOf::Job(row.id.clone()) /> })}
                        </td>
                        <td data-label=if kind == JobKind::Download { "File" } else { "What and where" }>
                            {row.target.clone()}
                            {row.download_url.clone().map(|url| {
                                view! {
                                    // Not a portal route: the browser fetches the file itself.
                                    <a class="button button--small jobs-table__download" href=url download="" rel="external">
                                        "Download"
                                    </a>
                                    <span class="jobs-table__expiry">
                                        "Link expires " <LocalTime at=row.expires_at.clone() />
                                    </span>
                                }
                            })}
                        </td>
                        <td data-label="Asked for"><LocalTime at=Some(row.created_at.clone()) /></td>
                        <td data-label="Actions">
                            <RetryJobButton row=row.clone() />
                            {destination_password_fixes(row.kind, row.status)
                                .then(|| view! { <DestinationPasswordEdit row=row.clone() /> })}
                            <JobActionError id=row.id.clone() />
                        </td>
                    </tr>
                    }
                } />
            </tbody>
        </table>
        <Pager page=pager_page noun=kind.plural().to_lowercase() href />
    })
}
