//! Backup Portal: the App and its routes. `main.rs` only mounts it.

pub mod api;
pub mod components;
pub mod pages;
pub mod time;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::path;
use portal_api::SessionInfo;

use crate::api::ApiError;
use crate::components::shell::Shell;
use crate::pages::backups::BackupsPage;
use crate::pages::not_found::NotFound;
use crate::pages::sign_in::SignInPage;

/// The signed-in user, loaded once and refetched after signing in or out.
#[derive(Clone, Copy)]
pub struct Session(pub LocalResource<Result<SessionInfo, ApiError>>);

impl Session {
    pub fn refetch(&self) {
        self.0.refetch();
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session(LocalResource::new(api::current_session)));

    view! {
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/sign-in") view=SignInPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=|| view! { <Redirect path="/status/backups" /> } />
                    <Route path=path!("status/backups") view=BackupsPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
