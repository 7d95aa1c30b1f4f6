//! The frame of every signed-in page: header, navigation, who is signed in, sign out.
//! Pages render in its `Outlet` only once the session is known; without one, the user is
//! sent to sign in and brought back afterwards.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use portal_api::SessionInfo;

use crate::components::error_notice::ErrorNotice;
use crate::components::problems_panel::ProblemsPanel;
use crate::live::Live;
use crate::session::{current_address, sign_in_href, Session};
use crate::{api, paths};

#[component]
pub fn Shell() -> impl IntoView {
    let session = expect_context::<Session>();

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        // A Transition, not a Suspense: pages read their data inside it, and a Suspense would
        // put the whole portal back to "Loading" (focus and open forms lost) on every refresh.
        <Transition fallback=|| view! { <p class="shell__loading">"Loading your portal…"</p> }>
            {move || Suspend::new(async move {
                match session.0.await {
                    Ok(user) => EitherOf3::A(view! { <SignedIn user /> }),
                    Err(error) if error.is_unauthenticated() => {
                        let path = sign_in_href(&current_address());
                        EitherOf3::B(view! { <Redirect path /> })
                    }
                    Err(error) => EitherOf3::C(view! {
                        <main class="shell__failed" id="main">
                            <h1>"The portal could not load"</h1>
                            <ErrorNotice error />
                            <button type="button" on:click=move |_| session.refetch()>"Try again"</button>
                        </main>
                    }),
                }
            })}
        </Transition>
    }
}

#[component]
fn SignedIn(user: SessionInfo) -> impl IntoView {
    provide_context(Live::start());
    // The messages ticked in a search, for as long as the person is signed in here.
    provide_context(crate::components::messages::selection::Selection::new());
    crate::routes::prefetch_likely_pages();
    // After signing out, a full page load: nothing of the session stays in memory.
    let sign_out = Action::new_local(move |_: &()| async move {
        api::sign_out().await?;
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(paths::SIGN_IN);
        }
        Ok::<(), api::ApiError>(())
    });
    let sign_out_error = move || sign_out.value().get().and_then(Result::err);

    view! {
        <header class="shell__header">
            <A href=paths::DASHBOARD attr:class="shell__brand">"Backup Portal"</A>
            <nav class="shell__nav" aria-label="Main">
                <A href=paths::DASHBOARD exact=true>"Dashboard"</A>
                <span class="shell__nav-group">"System Status"</span>
                <A href=paths::BACKUPS>"Backups"</A>
                <A href=paths::MIGRATES>"Migrates"</A>
                <A href=paths::RESTORES>"Restores"</A>
                <A href=paths::DOWNLOADS>"Downloads"</A>
                {portal_api::Action::ReadMessages.allowed(user.role).then(|| view! {
                    <A href=paths::MESSAGES>"Search messages"</A>
                })}
                {portal_api::Action::ViewSettings.allowed(user.role).then(|| view! {
                    <span class="shell__nav-group">"Account Settings"</span>
                    <A href=paths::CREDENTIALS>"Credentials"</A>
                    <A href=paths::MAILBOXES>"Mailboxes"</A>
                    {portal_api::Action::ManageRetention.allowed(user.role).then(|| view! {
                        <A href=paths::RETENTION>"Retention"</A>
                    })}
                    {portal_api::Action::ManageIntegrations.allowed(user.role).then(|| view! {
                        <A href=paths::INTEGRATIONS>"Integrations"</A>
                        <A href=paths::DELIVERIES>"Deliveries"</A>
                    })}
                    {portal_api::Action::ManageTokens.allowed(user.role).then(|| view! {
                        <A href=paths::TOKENS>"API tokens"</A>
                    })}
                    {portal_api::Action::ViewActivity.allowed(user.role).then(|| view! {
                        <A href=paths::ACTIVITY>"Activity"</A>
                    })}
                })}
                <span class="shell__nav-group">"Help"</span>
                <A href=paths::ERROR_TYPES>"Error types"</A>
            </nav>
            <div class="shell__user">
                <span class="shell__user-name">{user.display_name.clone()}</span>
                <span class="shell__user-role">{format!("{} · {}", user.role.label(), user.scope)}</span>
                <ProblemsPanel />
                <button
                    type="button"
                    class="button button--quiet"
                    on:click=move |_| {
                        sign_out.dispatch(());
                    }
                    disabled=move || sign_out.pending().get()
                >
                    "Sign out"
                </button>
            </div>
        </header>
        {move || sign_out_error().map(|error| view! { <div class="shell__alert"><ErrorNotice error /></div> })}
        <main class="shell__main" id="main">
            <Outlet />
        </main>
    }
}
