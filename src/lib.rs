//! Backup Portal: the App and its routes. `main.rs` only mounts it.

pub mod access;
pub mod api;
pub mod components;
pub mod live;
pub mod pages;
pub mod routes;
pub mod time;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};
use portal_api::SessionInfo;

use crate::api::ApiError;
use crate::components::route_focus::RouteFocus;
use crate::components::shell::Shell;
use crate::pages::not_found::NotFound;
use crate::pages::sign_in::SignInPage;
use crate::routes::*;

/// The signed-in user, loaded once and refetched after signing in or out.
#[derive(Clone, Copy)]
pub struct Session(pub LocalResource<Result<SessionInfo, ApiError>>);

impl Session {
    pub fn refetch(&self) {
        self.0.refetch();
    }
}

/// The address of the page being shown (path and query), to come back to after signing in.
pub fn current_address() -> String {
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let path = location.pathname.get_untracked();
    if search.is_empty() {
        path
    } else {
        format!("{path}?{}", search.trim_start_matches('?'))
    }
}

/// The sign-in page's address, bringing the user back to `next` afterwards.
pub fn sign_in_href(next: &str) -> String {
    if next == "/" {
        "/sign-in".to_owned()
    } else {
        format!("/sign-in{}", api::query_string(&[("next", next.to_owned())]))
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session(LocalResource::new(api::current_session)));

    view! {
        <Router>
            <RouteFocus />
            <Routes fallback=NotFound>
                <Route path=path!("/sign-in") view=SignInPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view={Lazy::<DashboardRoute>::new()} />
                    <Route path=path!("status/backups") view={Lazy::<BackupsRoute>::new()} />
                    <Route path=path!("status/migrates") view={Lazy::<MigratesRoute>::new()} />
                    <Route path=path!("status/restores") view={Lazy::<RestoresRoute>::new()} />
                    <Route path=path!("status/downloads") view={Lazy::<DownloadsRoute>::new()} />
                    <Route path=path!("status/migrates/:id") view={Lazy::<MigrateRoute>::new()} />
                    <Route path=path!("status/restores/:id") view={Lazy::<RestoreRoute>::new()} />
                    <Route path=path!("status/downloads/:id") view={Lazy::<DownloadRoute>::new()} />
                    <Route path=path!("settings/credentials") view={Lazy::<CredentialsRoute>::new()} />
                    <Route path=path!("settings/mailboxes") view={Lazy::<MailboxesRoute>::new()} />
                    <Route path=path!("errors") view={Lazy::<ErrorTypesRoute>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
