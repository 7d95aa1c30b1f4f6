//! One of the person's sessions: its browser, when it signed in and was last seen (local time
//! and how long ago), from where; "This browser" for the current one, which is ended by signing
//! out, and End session for any other.

use leptos::prelude::*;
use portal_api::SessionRow;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::local_time::LocalTime;
use crate::paths;

/// The ID of a session's button (End session, or Sign out): where the focus goes when the row
/// that had it goes away.
pub fn action_id(session_id: &str) -> String {
    format!("session-{session_id}-action")
}

/// What the list's rows share, kept by the list so that it outlives any one row's drawing.
#[derive(Clone, Copy)]
pub struct Sessions {
    /// End session (the session's ID); answers with the ID.
    pub end: Action<String, (String, Result<(), ApiError>)>,
}

#[component]
pub fn SessionItem(row: SessionRow, sessions: Sessions) -> impl IntoView {
    let Sessions { end } = sessions;
    let id = StoredValue::new(row.id.clone());
    let browser_id = format!("session-{}-browser", row.id);
    let ending = move || end.pending().get() && end.input().with(|i| i.as_deref() == Some(id.get_value().as_str()));
    let end_failure = move || {
        end.value().get().filter(|(ended, _)| *ended == id.get_value()).and_then(|(_, result)| result.err()).map(|error| {
            let again = Callback::new(move |_: ()| {
                end.dispatch(id.get_value());
            });
            view! { <ErrorNotice error retry=again /> }
        })
    };
    let address = row.address.clone().unwrap_or_else(|| "Not known".to_owned());
    let action = if row.current {
        view! { <SignOutHere id=action_id(&row.id) /> }.into_any()
    } else {
        view! {
            <button
                type="button"
                class="button button--small"
                id=action_id(&row.id)
                aria-describedby=browser_id.clone()
                aria-disabled=move || ending().then_some("true")
                on:click=move |_| {
                    if !ending() {
                        end.dispatch(id.get_value());
                    }
                }
            >
                {move || if ending() { "Ending…" } else { "End session" }}
            </button>
        }
        .into_any()
    };

    view! {
        <li class="session" data-current=row.current.to_string()>
            <div class="session__head">
                <h3 class="session__browser" id=browser_id>{row.browser.clone()}</h3>
                {row.current.then(|| view! { <span class="status-badge status-badge--success">"This browser"</span> })}
            </div>
            <dl class="session__facts">
                <div>
                    <dt>"Signed in"</dt>
                    <dd><LocalTime at=Some(row.created_at.clone()) /></dd>
                </div>
                <div>
                    <dt>"Last seen"</dt>
                    <dd><LocalTime at=Some(row.last_seen_at.clone()) /></dd>
                </div>
                <div>
                    <dt>"Address"</dt>
                    <dd class="session__address">{address}</dd>
                </div>
            </dl>
            <div class="session__actions">{action}</div>
            {end_failure}
        </li>
    }
}

/// Sign out, for the current session: after it, a full page load on the sign-in page (nothing
/// of the session stays in memory), as the header's Sign out does.
#[component]
fn SignOutHere(id: String) -> impl IntoView {
    let sign_out = Action::new_local(move |_: &()| async move {
        api::sign_out().await?;
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(paths::SIGN_IN);
        }
        Ok::<(), ApiError>(())
    });
    let busy = move || sign_out.pending().get();
    let again = Callback::new(move |_: ()| {
        sign_out.dispatch(());
    });
    view! {
        <button
            type="button"
            class="button button--small"
            id=id
            aria-disabled=move || busy().then_some("true")
            on:click=move |_| {
                if !busy() {
                    sign_out.dispatch(());
                }
            }
        >
            {move || if busy() { "Signing out…" } else { "Sign out" }}
        </button>
        {move || sign_out.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error retry=again /> })}
    }
}
