//! One API token in the list: its name, access level, first characters, owner, when it was
//! created, expires and was last used (and from where), whether it still works, and Revoke,
//! which asks first.

use std::collections::HashMap;

use leptos::prelude::*;
use portal_api::ApiToken;

use crate::api::ApiError;
use crate::components::confirm::Confirm;
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::local_time::LocalTime;
use crate::time;

/// Whether a token works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    /// Where `token` stands at `now_ms`, given when it was revoked (if it was).
    pub fn of(token: &ApiToken, revoked_at: Option<&str>, now_ms: f64) -> TokenState {
        if revoked_at.is_some() {
            TokenState::Revoked
        } else if time::parse(&token.expires_at).is_some_and(|at| at <= now_ms) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    fn label(self) -> &'static str {
        match self {
            TokenState::Active => "Active",
            TokenState::Expired => "Expired",
            TokenState::Revoked => "Revoked",
        }
    }

    /// On the one status scale.
    fn tone(self) -> &'static str {
        match self {
            TokenState::Active => "success",
            TokenState::Expired => "warning",
            TokenState::Revoked => "neutral",
        }
    }
}

/// What the list's rows share, kept by the list so that it outlives any one row's drawing.
#[derive(Clone, Copy)]
pub struct Tokens {
    /// The token whose Revoke waits for a yes.
    pub confirming: RwSignal<Option<String>>,
    /// The tokens revoked on this page, and when (RFC 3339): shown as revoked at once, before
    /// the list is read again.
    pub revoked_here: RwSignal<HashMap<String, String>>,
    /// Revoke (the token's ID); answers with the ID.
    pub revoke: Action<String, (String, Result<(), ApiError>)>,
}

impl Tokens {
    /// When `token` was revoked, as the server said or as done on this page. Tracked.
    pub fn revoked_at(&self, token: &ApiToken) -> Option<String> {
        token.revoked_at.clone().or_else(|| self.revoked_here.with(|here| here.get(&token.id).cloned()))
    }
}

#[component]
pub fn TokenItem(token: ApiToken, tokens: Tokens) -> impl IntoView {
    let Tokens { confirming, revoked_here, revoke } = tokens;
    let id = StoredValue::new(token.id.clone());
    let name = StoredValue::new(token.name.clone());
    let name_id = format!("token-{}-name", token.id);
    let revoke_id = format!("token-{}-revoke", token.id);
    let confirm_id = format!("token-{}-confirm", token.id);
    let revoked_at = {
        let token = token.clone();
        Memo::new(move |_| tokens.revoked_at(&token))
    };
    let state = {
        let token = token.clone();
        // Expiry as of when the list was drawn: a token that expires while the page is open
        // shows it on the next read.
        let now = time::now_ms();
        Memo::new(move |_| revoked_at.with(|at| TokenState::of(&token, at.as_deref(), now)))
    };
    let is_confirming = move || confirming.with(|c| c.as_deref() == Some(id.get_value().as_str()));
    let revoking = move || revoke.pending().get() && revoke.input().with(|i| i.as_deref() == Some(id.get_value().as_str()));
    let revoke_failure = move || {
        revoke.value().get().filter(|(revoked, _)| *revoked == id.get_value()).and_then(|(_, result)| result.err()).map(|error| {
            let again = Callback::new(move |_: ()| {
                revoke.dispatch(id.get_value());
            });
            view! { <ErrorNotice error retry=again /> }
        })
    };
    let just_revoked = move || revoked_here.with(|here| here.contains_key(&id.get_value()));
    let last_used = match token.last_used_from.clone() {
        Some(address) => view! {
            <LocalTime at=token.last_used_at.clone() missing="Never used" />
            <span class="token__from">{format!("from {address}")}</span>
        }
        .into_any(),
        None => view! { <LocalTime at=token.last_used_at.clone() missing="Never used" /> }.into_any(),
    };
    let (back_to, group_id) = (revoke_id.clone(), confirm_id.clone());
    let describe = name_id.clone();

    view! {
        <li class="token" data-state=move || state.get().label().to_lowercase()>
            <div class="token__head">
                <h3 class="token__name" id=name_id tabindex="-1">{token.name.clone()}</h3>
                <span class=move || format!("status-badge status-badge--{}", state.get().tone())>{move || state.get().label()}</span>
            </div>
            <dl class="token__facts">
                <div>
                    <dt>"Access"</dt>
                    <dd>{token.access.label()}</dd>
                </div>
                <div>
                    <dt>"Starts with"</dt>
                    <dd><code class="token__prefix">{token.prefix.clone()}</code></dd>
                </div>
                <div>
                    <dt>"Owner"</dt>
                    <dd class="token__owner">{token.owner.clone()}</dd>
                </div>
                <div>
                    <dt>"Created"</dt>
                    <dd><LocalTime at=Some(token.created_at.clone()) /></dd>
                </div>
                <div>
                    <dt>{move || if state.get() == TokenState::Expired { "Expired" } else { "Expires" }}</dt>
                    <dd><LocalTime at=Some(token.expires_at.clone()) /></dd>
                </div>
                <div>
                    <dt>"Last used"</dt>
                    <dd>{last_used}</dd>
                </div>
                {move || revoked_at.get().map(|at| view! {
                    <div>
                        <dt>"Revoked"</dt>
                        <dd><LocalTime at=Some(at) /></dd>
                    </div>
                })}
            </dl>
            <Show when=move || just_revoked() && state.get() == TokenState::Revoked>
                <p class="notice notice--success" role="status">"Revoked: anything that uses it now gets 401."</p>
            </Show>
            <Show when=move || state.get() == TokenState::Active && !is_confirming()>
                <div class="token__actions">
                    <button
                        type="button"
                        class="button button--small"
                        id=revoke_id.clone()
                        aria-describedby=describe.clone()
                        on:click={
                            let confirm_id = confirm_id.clone();
                            move |_| {
                                confirming.set(Some(id.get_value()));
                                focus_soon(confirm_id.clone());
                            }
                        }
                    >
                        "Revoke"
                    </button>
                </div>
            </Show>
            <Show when=move || is_confirming() && state.get() == TokenState::Active>
                <Confirm
                    id=group_id.clone()
                    class="token__confirm"
                    label="Revoke this token?"
                    question=format!(
                        "Revoke “{}”? Anything that uses it gets 401 from its next request. This cannot be undone: whatever used it needs a new token.",
                        name.get_value()
                    )
                    yes="Revoke token"
                    busy_text="Revoking…"
                    busy=Signal::derive(revoking)
                    on_yes=Callback::new(move |_: ()| {
                        revoke.dispatch(id.get_value());
                    })
                    on_keep=Callback::new(move |_: ()| confirming.set(None))
                    back_to=back_to.clone()
                />
            </Show>
            {revoke_failure}
        </li>
    }
}
