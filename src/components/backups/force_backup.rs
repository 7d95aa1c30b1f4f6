//! Force Backup: of one account, or of every account of the current filter (after a
//! confirmation that says how many).

use leptos::prelude::*;
use portal_api::ForceBackupsRequest;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;

/// Force Backup of single accounts on a page. It belongs to the page, not to the row: a live
/// update rebuilds the rows, and the answer to a click (an error, its countdown, its retry)
/// must stay beside the account.
#[derive(Clone, Copy)]
pub struct ForceBackups {
    force: Action<i64, ()>,
    failed: RwSignal<Option<(i64, ApiError)>>,
}

impl ForceBackups {
    /// `on_started` runs once a backup has started (the list refreshes).
    pub fn provide(on_started: Callback<()>) -> ForceBackups {
        let failed = RwSignal::new(None::<(i64, ApiError)>);
        let force = Action::new_local(move |mailbox_id: &i64| {
            let mailbox_id = *mailbox_id;
            async move {
                match api::force_backup(mailbox_id).await {
                    Ok(_) => {
                        if failed.with_untracked(|f| f.as_ref().is_some_and(|(id, _)| *id == mailbox_id)) {
                            failed.set(None);
                        }
                        on_started.run(());
                    }
                    Err(error) => failed.set(Some((mailbox_id, error))),
                }
            }
        });
        let forces = ForceBackups { force, failed };
        provide_context(forces);
        forces
    }

    fn pending_for(&self, mailbox_id: i64) -> bool {
        self.force.pending().get() && self.force.input().get() == Some(mailbox_id)
    }
}

/// Starts a backup of one account now.
#[component]
pub fn ForceBackupButton(mailbox_id: i64, mailbox_email: String) -> impl IntoView {
    let forces = expect_context::<ForceBackups>();
    view! {
        <button
            type="button"
            class="button button--small"
            aria-label=format!("Force Backup of {mailbox_email}")
            disabled=move || forces.pending_for(mailbox_id)
            on:click=move |_| {
                forces.force.dispatch(mailbox_id);
            }
        >
            {move || if forces.pending_for(mailbox_id) { "Starting…" } else { "Force Backup" }}
        </button>
        {move || {
            forces.failed.get().filter(|(id, _)| *id == mailbox_id).map(|(_, error)| {
                let again = Callback::new(move |_: ()| {
                    forces.force.dispatch(mailbox_id);
                });
                view! { <ErrorNotice error retry=again /> }
            })
        }}
    }
}

/// Force Backup of every account that matches the list's filter. It stays in place while the
/// list refreshes, so what it reports is not lost.
#[component]
pub fn ForceBackupAll(
    filter: Signal<ForceBackupsRequest>,
    /// Accounts that match the filter; `None` until the list has loaded.
    count: Signal<Option<u64>>,
    on_started: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    // Repeated as confirmed (not as the filter may read by then), after a 429 or a new sign-in.
    let last_confirmed = StoredValue::new(None::<ForceBackupsRequest>);
    let force = Action::new_local(move |filter: &ForceBackupsRequest| {
        let filter = filter.clone();
        async move {
            let result = api::force_backups(&filter).await;
            if result.is_ok() {
                on_started.run(());
            }
            result
        }
    });
    let accounts = move || match count.get().unwrap_or(0) {
        1 => "1 account".to_owned(),
        n => format!("{n} accounts"),
    };
    let backups = move || match count.get().unwrap_or(0) {
        1 => "1 backup".to_owned(),
        n => format!("{n} backups"),
    };
    let force_confirmed_again = Callback::new(move |_: ()| {
        if let Some(confirmed) = last_confirmed.get_value() {
            force.dispatch(confirmed);
        }
    });
    view! {
        <div class="force-all">
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button
                        type="button"
                        class="button"
                        on:click=move |_| confirming.set(true)
                        disabled=move || count.get().unwrap_or(0) == 0 || force.pending().get()
                    >
                        {move || format!("Force Backup of all {}", accounts())}
                    </button>
                }
            >
                <div class="force-all__confirm" role="group" aria-label="Confirm Force Backup">
                    <p>
                        {move || format!(
                            "Start a backup of {} now? Accounts whose backup is already running are left as they are.",
                            accounts()
                        )}
                    </p>
                    <button
                        type="button"
                        class="button button--primary"
                        on:click=move |_| {
                            let confirmed = filter.get_untracked();
                            last_confirmed.set_value(Some(confirmed.clone()));
                            force.dispatch(confirmed);
                            confirming.set(false);
                        }
                    >
                        {move || format!("Start {} now", backups())}
                    </button>
                    <button type="button" class="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            </Show>
            {move || match force.value().get() {
                Some(Ok(result)) => Some(view! {
                    <p class="force-all__result" role="status">
                        {format!("Started {} backup(s); {} already running.", result.started, result.already_running)}
                    </p>
                }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNotice error retry=force_confirmed_again /> }.into_any()),
                None => None,
            }}
        </div>
    }
}
