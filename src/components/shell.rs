//! The frame of every signed-in page: header, navigation, who is signed in, sign out.
//! Pages render in its `Outlet` only once the session is known; without one, the user is
//! sent to sign in and brought back afterwards. Someone who must set up a second factor first
//! sees Account › Security only.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;
use leptos_router::{LazyRoute, NavigateOptions};
use portal_api::{Role, SessionInfo};

use crate::components::error_notice::ErrorNotice;
use crate::components::problems_panel::ProblemsPanel;
use crate::live::Live;
use crate::routes::SecurityRoute;
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
    // Required to set up a second factor first: the server answers nothing else until then, so
    // neither live updates nor the rest of the portal; only Account › Security and Sign out.
    let enrolling = user.must_enrol_two_factor;
    if !enrolling {
        provide_context(Live::start());
    }
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
    let pathname = use_location().pathname;

    view! {
        <header class="shell__header">
            {if enrolling {
                view! { <span class="shell__brand">"Backup Portal"</span> }.into_any()
            } else {
                view! { <A href=paths::DASHBOARD attr:class="shell__brand">"Backup Portal"</A> }.into_any()
            }}
            <nav class="shell__nav" aria-label="Main">
                {if enrolling { view! { <EnrollingNav /> }.into_any() } else { view! { <FullNav role=user.role /> }.into_any() }}
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
            {if enrolling { view! { <EnrollingPage pathname /> }.into_any() } else { view! { <Outlet /> }.into_any() }}
        </main>
    }
}

/// While a second factor must be set up first: Account › Security, whatever the address (which
/// is replaced by its own: Back does not lead out again). Drawn here, not in the `Outlet`: the
/// outlet would first draw the page of the address asked for, whose requests the server refuses.
#[component]
fn EnrollingPage(pathname: Memo<String>) -> impl IntoView {
    let options = NavigateOptions { replace: true, ..Default::default() };
    view! {
        <Show when=move || pathname.with(|path| path != paths::SECURITY)>
            <Redirect path=paths::SECURITY options=options.clone() />
        </Show>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading Account › Security…"</p> }>
            {Suspend::new(SecurityRoute::view(SecurityRoute))}
        </Transition>
    }
}

/// The navigation while a second factor must be set up first: the one page that answers.
#[component]
fn EnrollingNav() -> impl IntoView {
    view! {
        <span class="shell__nav-group">"Account Settings"</span>
        <A href=paths::SECURITY>"Security"</A>
    }
}

#[component]
fn FullNav(role: Role) -> impl IntoView {
    view! {
        <A href=paths::DASHBOARD exact=true>"Dashboard"</A>
        <span class="shell__nav-group">"System Status"</span>
        <A href=paths::BACKUPS>"Backups"</A>
        <A href=paths::MIGRATES>"Migrates"</A>
        <A href=paths::RESTORES>"Restores"</A>
        <A href=paths::DOWNLOADS>"Downloads"</A>
        {portal_api::Action::ReadMessages.allowed(role).then(|| view! {
            <A href=paths::MESSAGES>"Search messages"</A>
        })}
        <span class="shell__nav-group">"Account Settings"</span>
        {portal_api::Action::ViewSettings.allowed(role).then(|| view! {
            <A href=paths::CREDENTIALS>"Credentials"</A>
            <A href=paths::MAILBOXES>"Mailboxes"</A>
            {portal_api::Action::ManageRetention.allowed(role).then(|| view! {
                <A href=paths::RETENTION>"Retention"</A>
            })}
            {portal_api::Action::ManageIntegrations.allowed(role).then(|| view! {
                <A href=paths::INTEGRATIONS>"Integrations"</A>
                <A href=paths::DELIVERIES>"Deliveries"</A>
            })}
            {portal_api::Action::ManageTokens.allowed(role).then(|| view! {
                <A href=paths::TOKENS>"API tokens"</A>
            })}
            {portal_api::Action::ViewActivity.allowed(role).then(|| view! {
                <A href=paths::ACTIVITY>"Activity"</A>
            })}
        })}
        {portal_api::Action::ManageOwnSecurity.allowed(role).then(|| view! {
            <A href=paths::SECURITY>"Security"</A>
        })}
        <span class="shell__nav-group">"Help"</span>
        <A href=paths::ERROR_TYPES>"Error types"</A>
    }
}
