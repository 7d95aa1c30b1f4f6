use leptos::prelude::*;
use portal_api::JobStatus;

/// A status as a coloured badge; the colour comes from the one status scale (tone).
#[component]
pub fn StatusBadge(status: JobStatus) -> impl IntoView {
    view! {
        <span class=format!("status-badge status-badge--{}", status.tone().as_str())>{status.label()}</span>
    }
}
