//! Where the person is signed in: this browser first, then the others, most recently seen
//! first. End session ends one at once (it signs in again with the password, and the code if
//! it has a second factor); Sign out everywhere else ends all the others.

use std::collections::HashSet;

use leptos::prelude::*;
use portal_api::SessionRow;

use crate::api::{self, ApiError};
use crate::components::error_notice::{ErrorList, ErrorNotice};
use crate::components::focus::focus_first_soon;
use crate::components::security::session_row::{action_id, SessionItem, Sessions};
use crate::time;

const TITLE_ID: &str = "sessions-title";

/// The sessions in the order shown: the current one first, then by when last seen.
fn ordered(mut list: Vec<SessionRow>, ended: &HashSet<String>) -> Vec<SessionRow> {
    list.retain(|row| !ended.contains(&row.id));
    let seen = |row: &SessionRow| time::parse(&row.last_seen_at).unwrap_or(0.0);
    list.sort_by(|a, b| b.current.cmp(&a.current).then(seen(b).total_cmp(&seen(a))));
    list
}

/// `read`: the list as the server gives it; the page reads it again when the password changes.
#[component]
pub fn SessionsList(read: LocalResource<Result<Vec<SessionRow>, ApiError>>) -> impl IntoView {
    // The list as last read: drawn outside the loading boundary, so reading it again neither
    // redraws the rows that did not change nor takes the focus from them.
    let list = Memo::new(move |last: Option<&Option<Vec<SessionRow>>>| match read.get() {
        Some(Ok(list)) => Some(list),
        _ => last.cloned().flatten(),
    });
    let ended_here = RwSignal::new(HashSet::<String>::new());
    let shown = move || ordered(list.get().unwrap_or_default(), &ended_here.read());
    let end = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            let result = api::end_session(&id).await;
            if result.is_ok() {
                // The focus goes to the row after it (or before it, or the heading).
                let rows = untrack(shown);
                let at = rows.iter().position(|row| row.id == id).unwrap_or(0);
                let near = [at + 1, at.wrapping_sub(1)].into_iter().filter_map(|i| rows.get(i)).map(|row| action_id(&row.id));
                focus_first_soon(near.chain([TITLE_ID.to_owned()]).collect());
                ended_here.update(|ended| {
                    ended.insert(id.clone());
                });
            }
            (id, result)
        }
    });
    let end_others = Action::new_local(move |_: &()| async move {
        let ended = api::end_other_sessions().await?;
        read.refetch();
        Ok::<u32, ApiError>(ended.ended)
    });
    let others = move || shown().iter().any(|row| !row.current);
    let busy = move || end_others.pending().get();
    let again = Callback::new(move |_: ()| {
        end_others.dispatch(());
    });
    let outcome = move || {
        end_others.value().get().map(|result| match result {
            Ok(0) => {
                view! { <p class="notice notice--success" role="status">"There was no other session to end."</p> }.into_any()
            }
            Ok(1) => view! { <p class="notice notice--success" role="status">"1 other session is ended."</p> }.into_any(),
            Ok(n) => view! { <p class="notice notice--success" role="status">{format!("{n} other sessions are ended.")}</p> }
                .into_any(),
            Err(error) => view! { <ErrorNotice error retry=again /> }.into_any(),
        })
    };
    let sessions = Sessions { end };

    view! {
        <section class="sessions" aria-labelledby=TITLE_ID>
            <h2 id=TITLE_ID tabindex="-1">"Where you are signed in"</h2>
            <p class="sessions__lead">
                "A session you do not recognise? End it, then change your password. An ended session has to sign in again."
            </p>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading your sessions…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move { read.await.map(|_| ()) })}
                </ErrorBoundary>
            </Transition>
            <ul class="sessions__list">
                // Keyed by what can change: a session seen again since is drawn anew.
                <For each=shown key=|row| (row.id.clone(), row.last_seen_at.clone(), row.address.clone()) let:row>
                    <SessionItem row sessions />
                </For>
            </ul>
            // Kept once used, so that the focus stays on it when the others go.
            <Show when=move || others() || end_others.value().with(Option::is_some)>
                <div class="sessions__others">
                    <button
                        type="button"
                        class="button"
                        aria-disabled=move || busy().then_some("true")
                        on:click=move |_| {
                            if !busy() {
                                end_others.dispatch(());
                            }
                        }
                    >
                        {move || if busy() { "Signing out…" } else { "Sign out everywhere else" }}
                    </button>
                    {outcome}
                </div>
            </Show>
        </section>
    }
}
