use leptos::prelude::*;
use portal_api::JobStatus;

/// A status as a coloured badge; the colour comes from the one status scale (tone).
/// `interrupted`: In Progress whose server stopped (`JobRun::interrupted_at`), never shown as running.
#[component]
pub fn StatusBadge(status: JobStatus, #[prop(optional)] interrupted: bool) -> impl IntoView {
    let (tone, label) = if interrupted && status == JobStatus::InProgress {
        (JobStatus::Retrying.tone(), "Interrupted")
    } else {
        (status.tone(), status.label())
    };
    view! {
        <span class=format!("status-badge status-badge--{}", tone.as_str())>{label}</span>
    }
}
