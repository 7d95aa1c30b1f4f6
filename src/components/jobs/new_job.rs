//! Start a restore, a download or a migration: a short form; the new job shows in its list
//! at once, and any field the server refuses is marked with its own message.

use leptos::prelude::*;
use portal_api::{BackupsQuery, DownloadFormat, JobKind, NewJob, OnConflict};

use crate::access::may_choose_destination;
use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;
use crate::session::Session;

/// "restore", "download", "migration": what the form starts.
pub fn noun(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Restore => "restore",
        JobKind::Download => "download",
        JobKind::Migrate => "migration",
        JobKind::Backup => "backup",
    }
}

#[component]
pub fn NewJobForm(kind: JobKind, on_created: Callback<String>, on_cancel: Callback<()>) -> impl IntoView {
    let mailboxes =
        LocalResource::new(|| async { api::backups(&BackupsQuery { per_page: Some(200), ..Default::default() }).await });
    // An end user restores into their own mailbox only (`portal_api::Action`): no other is offered.
    let session = expect_context::<Session>();
    let choose_destination = Signal::derive(move || session.role().is_some_and(may_choose_destination));
    let mailbox = RwSignal::new(String::new());
    let folders = RwSignal::new(Vec::<String>::new());
    let elsewhere = RwSignal::new(kind == JobKind::Migrate);
    let destination = RwSignal::new(String::new());
    let on_conflict = RwSignal::new(OnConflict::Skip);
    let format = RwSignal::new(DownloadFormat::Mbox);
    // The first mailbox is preselected in the list; an untouched select means that one.
    let chosen_mailbox = move || {
        mailbox
            .get()
            .parse::<i64>()
            .ok()
            .or_else(|| mailboxes.get().and_then(Result::ok).and_then(|page| page.items.first().map(|m| m.mailbox_id)))
    };
    let chosen_email = move || {
        let chosen = chosen_mailbox()?;
        mailboxes.get().and_then(Result::ok)?.items.into_iter().find(|m| m.mailbox_id == chosen).map(|m| m.mailbox_email)
    };
    // The folders of the chosen mailbox's backup (a real mailbox has its own).
    let backed_up = LocalResource::new(move || {
        let chosen = chosen_mailbox();
        async move {
            match chosen {
                Some(id) => api::backup_folders(id).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });

    // What was last sent, to send again after a 429 or a new sign-in.
    let last_job = StoredValue::new(None::<NewJob>);
    let start = Action::new_local(move |job: &NewJob| {
        let job = job.clone();
        async move {
            let created = api::start_job(&job).await?;
            on_created.run(created.id);
            Ok::<(), ApiError>(())
        }
    });
    let error = move || start.value().get().and_then(Result::err);
    let field = move |name: &'static str| move || error().and_then(|e| e.field_error(name));

    let start_again = Callback::new(move |_: ()| {
        if let Some(Err(_)) = start.value().get_untracked() {
            if let Some(job) = last_job.get_value() {
                start.dispatch(job);
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let job = NewJob {
            kind,
            mailbox_id: untrack(chosen_mailbox).unwrap_or(0),
            folders: folders.get_untracked(),
            destination: (elsewhere.get_untracked() && choose_destination.get_untracked()).then(|| destination.get_untracked()),
            on_conflict: (kind == JobKind::Restore).then(|| on_conflict.get_untracked()),
            format: (kind == JobKind::Download).then(|| format.get_untracked()),
            messages: Vec::new(),
            restore_to: None,
        };
        last_job.set_value(Some(job.clone()));
        start.dispatch(job);
    };
    let toggle_folder = move |name: String, on: bool| {
        folders.update(|list| {
            list.retain(|f| *f != name);
            if on {
                list.push(name);
            }
        })
    };

    view! {
        <form class="new-job" on:submit=submit novalidate aria-label=format!("New {}", noun(kind))>
            <h2 class="new-job__title">{format!("New {}", noun(kind))}</h2>
            <div class="field">
                <label for="new-job-mailbox">"Mailbox"</label>
                <select
                    id="new-job-mailbox"
                    on:change=move |ev| {
                        folders.set(Vec::new());
                        mailbox.set(event_target_value(&ev));
                    }
                    aria-describedby="new-job-mailbox-error"
                >
                    {move || {
                        mailboxes.get().and_then(Result::ok).map(|page| {
                            page.items
                                .into_iter()
                                .map(|m| view! { <option value=m.mailbox_id.to_string()>{m.mailbox_email}</option> })
                                .collect_view()
                        })
                    }}
                </select>
                <p class="field__error" id="new-job-mailbox-error">{field("mailbox_id")}</p>
            </div>
            <Show when=move || kind != JobKind::Migrate>
                <fieldset class="field new-job__folders">
                    <legend>"Folders (none ticked: the whole mailbox)"</legend>
                    <For each=move || backed_up.get().unwrap_or_default() key=|name| name.clone() let:name>
                        <label class="new-job__choice">
                            <input
                                type="checkbox"
                                value=name.clone()
                                on:change={
                                    let name = name.clone();
                                    move |ev| toggle_folder(name.clone(), event_target_checked(&ev))
                                }
                            />
                            {name.clone()}
                        </label>
                    </For>
                    <p class="field__error">{field("folders")}</p>
                </fieldset>
            </Show>
            <Show when=move || kind == JobKind::Restore>
                <Show
                    when=move || choose_destination.get()
                    fallback=move || view! {
                        <p class="field new-job__into">
                            <strong>"Restore into: "</strong>
                            {move || match chosen_email() {
                                Some(email) => format!("your own mailbox, {email}."),
                                None => "your own mailbox.".to_owned(),
                            }}
                            " Restoring into another mailbox is for your organisation's admin."
                        </p>
                    }
                >
                    <fieldset class="field">
                        <legend>"Restore into"</legend>
                        <label class="new-job__choice">
                            <input type="radio" name="new-job-into" checked=true on:change=move |_| elsewhere.set(false) />
                            "The original mailbox"
                        </label>
                        <label class="new-job__choice">
                            <input type="radio" name="new-job-into" on:change=move |_| elsewhere.set(true) />
                            "Another mailbox"
                        </label>
                    </fieldset>
                </Show>
                <div class="field">
                    <label for="new-job-conflict">"When a message is already there"</label>
                    <select id="new-job-conflict" on:change=move |ev| on_conflict.set(OnConflict::parse(&event_target_value(&ev)).unwrap_or(OnConflict::Skip))>
                        <option value="skip">"Skip it"</option>
                        <option value="keep_both">"Keep both"</option>
                    </select>
                </div>
            </Show>
            <Show when=move || elsewhere.get() && choose_destination.get()>
                <TextField
                    id="new-job-destination"
                    label=if kind == JobKind::Migrate { "Migrate to (mailbox address)" } else { "Restore into (mailbox address)" }
                    value=destination
                    kind="email"
                    error=Signal::derive_local(field("destination"))
                />
            </Show>
            <Show when=move || kind == JobKind::Download>
                <fieldset class="field">
                    <legend>"Format"</legend>
                    <label class="new-job__choice">
                        <input type="radio" name="new-job-format" checked=true on:change=move |_| format.set(DownloadFormat::Mbox) />
                        "One mbox file"
                    </label>
                    <label class="new-job__choice">
                        <input type="radio" name="new-job-format" on:change=move |_| format.set(DownloadFormat::EmlZip) />
                        "EML files in a zip"
                    </label>
                </fieldset>
            </Show>
            // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=start_again /> })}
            <div class="new-job__actions">
                <button type="submit" class="button button--primary" disabled=move || start.pending().get()>
                    {move || if start.pending().get() { "Starting…".to_owned() } else { format!("Start {}", noun(kind)) }}
                </button>
                <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
