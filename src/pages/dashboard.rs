//! The backup dashboard: every kind's statuses as counts that lead to the filtered list,
//! storage against the subscription (and by organisation, with its retention), the accounts
//! whose backups are getting old, and (for resellers, to whom the server sends it) a warning
//! when the service's own storage runs short.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::{Dashboard, JobKind, JobStatus, ServiceStorage};

use crate::bytes::human_bytes;
use crate::components::credentials::reauth_banner::ReauthBanner;
use crate::components::credentials::renew_soon::RenewSoon;
use crate::components::error_notice::ErrorList;
use crate::components::integrations::failed_deliveries::FailedDeliveries;
use crate::components::local_time::LocalTime;
use crate::components::retention::organisation_storage::OrganisationStorageList;
use crate::live::Live;
use crate::{api, paths};

/// The list of a kind, filtered to one status.
fn status_href(kind: JobKind, status: JobStatus) -> String {
    format!("{}?status={}", paths::jobs(kind), status.as_str())
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_context::<Live>();
    let dashboard = LocalResource::new(move || {
        if let Some(live) = live {
            live.tick.track();
        }
        api::dashboard()
    });
    view! {
        <section class="dashboard" aria-labelledby="dashboard-title">
            <header class="page-header">
                <h1 id="dashboard-title">"Backup dashboard"</h1>
                <p class="page-header__lead">"What needs attention, across the accounts you look after."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading the dashboard…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move { dashboard.await.map(|d| view! { <DashboardView dashboard=d /> }) })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn DashboardView(dashboard: Dashboard) -> impl IntoView {
    let broken = dashboard.need_reauthentication.clone();
    let expiring = dashboard.expiring.clone();
    let storage = dashboard.storage;
    let percent = storage.percent();
    let kinds = dashboard.kinds.into_iter().map(|kind_counts| {
        let kind = kind_counts.kind;
        let total: u64 = kind_counts.counts.iter().map(|c| c.count).sum();
        let items = kind_counts
            .counts
            .into_iter()
            .filter(|c| c.count > 0)
            .map(|c| {
                view! {
                    <li>
                        <A href=status_href(kind, c.status) attr:class=format!("dashboard__count status-badge status-badge--{}", c.status.tone().as_str())>
                            {c.status.label()} " " <strong>{c.count}</strong>
                        </A>
                    </li>
                }
            })
            .collect_view();
        view! {
            <article class="dashboard__card">
                <h2><A href=paths::jobs(kind)>{kind.plural()}</A></h2>
                <p class="dashboard__total">{format!("{total} in all")}</p>
                <ul class="dashboard__counts">{items}</ul>
            </article>
        }
    }).collect_view();
    let stale_rows = dashboard
        .stale
        .into_iter()
        .map(|account| {
            view! {
                <li>
                    <A href=format!("{}?q={}", paths::BACKUPS, account.mailbox_email)>{account.mailbox_email.clone()}</A>
                    " · last complete backup " <LocalTime at=account.last_success_at.clone() />
                </li>
            }
        })
        .collect_view();
    view! {
        {dashboard.storage_warning.map(|warning| view! { <StorageAlert warning /> })}
        <ReauthBanner broken />
        <RenewSoon expiring />
        <FailedDeliveries count=dashboard.failed_deliveries />
        <div class="dashboard__grid">{kinds}</div>
        <article class="dashboard__card dashboard__storage">
            <h2>"Storage"</h2>
            <meter min="0" max="100" low="80" high="95" optimum="0" value=percent.min(100).to_string() aria-label="Storage used">
                {format!("{percent}%")}
            </meter>
            <p>
                {format!("{} of {} used ({percent}%)", human_bytes(storage.used_bytes), human_bytes(storage.quota_bytes))}
                {(percent >= 100).then_some(" · Full: new backups stop until storage is added or accounts are removed.")}
            </p>
            <OrganisationStorageList organisations=dashboard.organisations />
        </article>
        <article class="dashboard__card dashboard__stale">
            <h2>"Backups getting old"</h2>
            <p>
                {format!(
                    "{} account(s) without a complete backup for more than 24 h, {} for more than 48 h.",
                    dashboard.stale_over_24h, dashboard.stale_over_48h
                )}
            </p>
            <ul>{stale_rows}</ul>
        </article>
    }
}

/// The disk where this service keeps its backups is short of room: what that means for the
/// backups, and what makes it right.
#[component]
fn StorageAlert(warning: ServiceStorage) -> impl IntoView {
    view! {
        <section class="storage-alert" role="alert" aria-labelledby="storage-alert-title">
            <h2 id="storage-alert-title">"This service's backup storage is running out of room"</h2>
            <p>
                {format!(
                    "{} free of {} on the disk where this service keeps its backups (this warning shows under {}).",
                    human_bytes(warning.free_bytes),
                    human_bytes(warning.total_bytes),
                    human_bytes(warning.threshold_bytes)
                )}
            </p>
            <p>
                "Once it is full, every backup stops and waits as Retrying: nothing saved is lost, but new mail is not \
                 backed up. Give the server's data folder more room, or move it to a larger disk; the backups then go on \
                 by themselves, or at once with Force Backup."
            </p>
        </section>
    }
}
