//! The API tokens the user manages: those that work first, then the expired and revoked ones,
//! each group newest first. Revoke shows on its row at once; the focus stays on that row.

use std::collections::HashMap;

use leptos::prelude::*;
use portal_api::ApiToken;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorList;
use crate::components::focus::focus_soon;
use crate::components::tokens::token_item::{TokenItem, TokenState, Tokens};
use crate::time;

/// `read`: the list as the server gives it (newest first), read again by the page after a
/// token is created.
#[component]
pub fn TokenList(read: LocalResource<Result<Vec<ApiToken>, ApiError>>) -> impl IntoView {
    // The list as last read: drawn outside the loading boundary, so reading it again neither
    // redraws the rows that did not change nor takes the focus from them.
    let list = Memo::new(move |last: Option<&Option<Vec<ApiToken>>>| match read.get() {
        Some(Ok(list)) => Some(list),
        _ => last.cloned().flatten(),
    });
    let confirming = RwSignal::new(None::<String>);
    let revoked_here = RwSignal::new(HashMap::<String, String>::new());
    let revoke = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            let result = api::revoke_api_token(&id).await;
            if result.is_ok() {
                confirming.set(None);
                let now = String::from(js_sys::Date::new_0().to_iso_string());
                revoked_here.update(|here| {
                    here.insert(id.clone(), now);
                });
                // Its row stays where it is, now Revoked: the focus goes to its name.
                focus_soon(format!("token-{id}-name"));
            }
            (id, result)
        }
    });
    let tokens = Tokens { confirming, revoked_here, revoke };
    // In the order read: the ones that work first. A token revoked here keeps its place until
    // the list is read again, so that the row with the focus does not move.
    let ordered = move || {
        let mut list = list.get().unwrap_or_default();
        let now = time::now_ms();
        list.sort_by_key(|token| TokenState::of(token, token.revoked_at.as_deref(), now) != TokenState::Active);
        list
    };

    view! {
        <section class="tokens__list" aria-labelledby="tokens-title">
            <h2 id="tokens-title" tabindex="-1">"Tokens"</h2>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading tokens…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move { read.await.map(|_| ()) })}
                </ErrorBoundary>
            </Transition>
            <Show when=move || list.with(|l| l.as_ref().is_some_and(Vec::is_empty))>
                <p class="empty-state">"No API tokens yet. Create one above for each script or system that calls the API."</p>
            </Show>
            <ul class="tokens__items">
                // Keyed by what can change: a token read again with a new last use, or revoked
                // elsewhere, is drawn anew; the others stay as they are.
                <For
                    each=ordered
                    key=|token| (token.id.clone(), token.revoked_at.clone(), token.last_used_at.clone(), token.last_used_from.clone())
                    let:token
                >
                    <TokenItem token tokens />
                </For>
            </ul>
        </section>
    }
}
