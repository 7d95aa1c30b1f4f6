//! Account Settings › API tokens: what a script or a PSA signs in to the API with
//! (`Authorization: Bearer …`). Created here, shown once, listed with their last use, revoked
//! here. For organisation admins and resellers; anyone else is told who may.

use leptos::prelude::*;
use portal_api::{Action, CreatedApiToken};

use crate::api;
use crate::components::not_allowed::NotAllowed;
use crate::components::tokens::new_token::NewTokenForm;
use crate::components::tokens::token_list::TokenList;
use crate::components::tokens::token_secret::TokenSecret;
use crate::session::Session;

#[component]
pub fn TokensPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let allowed = move || session.may(Action::ManageTokens);

    view! {
        <section class="tokens" aria-labelledby="tokens-page-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="tokens-page-title">"API tokens"</h1>
                <p class="page-header__lead">
                    "A token lets a script or your PSA use the API as you, within what you may see, without your password. It cannot create tokens, nor change credentials, mailboxes or integrations."
                </p>
            </header>
            <Show when=allowed fallback=|| view! { <NotAllowed action=Action::ManageTokens /> }>
                <Tokens />
            </Show>
        </section>
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let read = LocalResource::new(api::api_tokens);
    let created = RwSignal::new(None::<CreatedApiToken>);
    let on_created = Callback::new(move |token: CreatedApiToken| {
        created.set(Some(token));
        read.refetch();
    });

    view! {
        <NewTokenForm on_created />
        {move || created.get().map(|created_token| view! {
            <TokenSecret created=created_token on_done=Callback::new(move |_: ()| created.set(None)) />
        })}
        <TokenList read />
    }
}
