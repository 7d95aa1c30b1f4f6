//! Force Backup: of one account, or of every account of the current filter (after a
//! confirmation that says how many).

use leptos::prelude::*;
use portal_api::ForceBackupsRequest;

use crate::api;
use crate::components::error_notice::ErrorNotice;

/// Starts a backup of one account now; the list refreshes when it has.
#[component]
pub fn ForceBackupButton(mailbox_id: i64, mailbox_email: String, on_started: Callback<()>) -> impl IntoView {
    let force = Action::new_local(move |_: &()| async move {
        let result = api::force_backup(mailbox_id).await.map(|_| ());
        if result.is_ok() {
            on_started.run(());
        }
        result
    });
    let error = move || force.value().get().and_then(Result::err);
    let force_again = Callback::new(move |_: ()| {
        force.dispatch(());
    });
    view! {
        <button
            type="button"
            class="button button--small"
            aria-label=format!("Force Backup of {mailbox_email}")
            disabled=move || force.pending().get()
            on:click=move |_| {
                force.dispatch(());
            }
        >
            {move || if force.pending().get() { "Starting…" } else { "Force Backup" }}
        </button>
        {move || error().map(|error| view! { <ErrorNotice error retry=force_again /> })}
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
