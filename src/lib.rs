//! Backup Portal: the App and its routes. `main.rs` only mounts it.

pub mod access;
pub mod api;
pub mod components;
pub mod live;
pub mod pages;
pub mod paths;
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
use crate::paths::route;
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
    if next == paths::DASHBOARD {
        paths::SIGN_IN.to_owned()
    } else {
        format!("{}{}", paths::SIGN_IN, api::query_string(&[("next", next.to_owned())]))
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session(LocalResource::new(api::current_session)));

    view! {
        <Router>
            <RouteFocus />
            <Routes fallback=NotFound>
                <Route path=route!(SIGN_IN) view=SignInPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=route!(DASHBOARD) view={Lazy::<DashboardRoute>::new()} />
                    <Route path=route!(BACKUPS) view={Lazy::<BackupsRoute>::new()} />
                    <Route path=route!(MIGRATES) view={Lazy::<MigratesRoute>::new()} />
                    <Route path=route!(RESTORES) view={Lazy::<RestoresRoute>::new()} />
                    <Route path=route!(DOWNLOADS) view={Lazy::<DownloadsRoute>::new()} />
                    <Route path=route!(MIGRATE) view={Lazy::<MigrateRoute>::new()} />
                    <Route path=route!(RESTORE) view={Lazy::<RestoreRoute>::new()} />
                    <Route path=route!(DOWNLOAD) view={Lazy::<DownloadRoute>::new()} />
                    <Route path=route!(CREDENTIALS) view={Lazy::<CredentialsRoute>::new()} />
                    <Route path=route!(MAILBOXES) view={Lazy::<MailboxesRoute>::new()} />
                    <Route path=route!(ERROR_TYPES) view={Lazy::<ErrorTypesRoute>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
