use leptos::prelude::*;
use leptos_router::components::A;

use crate::paths;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="not-found" id="main">
            <h1>"This page does not exist"</h1>
            <p>"The address may be mistyped, or the page has moved."</p>
            <p><A href=paths::BACKUPS>"Go to System Status › Backups"</A></p>
        </main>
    }
}
