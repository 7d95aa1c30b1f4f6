//! The restores and downloads made from chosen messages, newest first, each with a link to its
//! page on System Status (where it is followed to Completed, and a download's file is fetched).

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::{JobKind, JobRow};

use crate::paths;

#[component]
pub fn CreatedJobs(made: RwSignal<Vec<JobRow>>, #[prop(into)] title_id: String) -> impl IntoView {
    view! {
        <Show when=move || made.with(|m| !m.is_empty())>
            <div class="created-jobs" role="status">
                <h3 class="created-jobs__title" id=title_id.clone() tabindex="-1">
                    {move || if made.with(Vec::len) == 1 { "Started" } else { "Started, one per mailbox" }}
                </h3>
                <ul class="created-jobs__list">
                    <For each=move || made.get() key=|row| row.id.clone() let:row>
                        <CreatedJob row />
                    </For>
                </ul>
            </div>
        </Show>
    }
}

#[component]
fn CreatedJob(row: JobRow) -> impl IntoView {
    let noun = row.kind.id_label().trim_end_matches(" ID");
    let after = match row.kind {
        JobKind::Download => "is being prepared: its page has the file once it is ready.",
        _ => "is queued: its page shows it until it is Completed.",
    };
    view! {
        <li class="created-jobs__item" data-kind=row.kind.as_str()>
            {format!("{noun} ")}
            <A href=paths::job(row.kind, &row.id)><code>{row.id.clone()}</code></A>
            {format!(" of {} ({}) {after}", row.mailbox_email, row.target)}
        </li>
    }
}
