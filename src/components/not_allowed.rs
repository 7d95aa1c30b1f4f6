//! What a page shows someone whose role may not use it (they typed its address, or followed an
//! old link): who may, and whom to ask. The page asks the server nothing it would refuse.

use leptos::prelude::*;
use portal_api::{Action, ProblemKind};

#[component]
pub fn NotAllowed(action: Action) -> impl IntoView {
    view! {
        <div class="not-allowed" role="status">
            <p class="not-allowed__heading">"This page is not for your role"</p>
            <p>{format!("{}.", action.who_may())}</p>
            <p>{ProblemKind::Forbidden.info().user_what_to_do}</p>
        </div>
    }
}
