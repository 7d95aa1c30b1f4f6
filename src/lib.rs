//! Backup Portal: the App and its routes. `main.rs` only mounts it.

pub mod access;
pub mod api;
pub mod bytes;
pub mod components;
pub mod live;
pub mod pages;
pub mod paths;
pub mod routes;
pub mod session;
pub mod time;
pub mod webauthn;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};

use crate::components::route_focus::RouteFocus;
use crate::components::shell::Shell;
use crate::pages::not_found::NotFound;
use crate::pages::sign_in::SignInPage;
use crate::paths::route;
use crate::routes::*;
use crate::session::Session;

// The unit tests inside the modules run in the browser, as tests/browser.rs does.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// For components/error_notice.rs, which names them here.
pub use crate::session::{current_address, sign_in_href};

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session::load());

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
                    <Route path=route!(MESSAGES) view={Lazy::<MessagesRoute>::new()} />
                    <Route path=route!(MESSAGE) view={Lazy::<MessageRoute>::new()} />
                    <Route path=route!(CREDENTIALS) view={Lazy::<CredentialsRoute>::new()} />
                    <Route path=route!(MAILBOXES) view={Lazy::<MailboxesRoute>::new()} />
                    <Route path=route!(INTEGRATIONS) view={Lazy::<IntegrationsRoute>::new()} />
                    <Route path=route!(DELIVERIES) view={Lazy::<DeliveriesRoute>::new()} />
                    <Route path=route!(TOKENS) view={Lazy::<TokensRoute>::new()} />
                    <Route path=route!(ACTIVITY) view={Lazy::<ActivityRoute>::new()} />
                    <Route path=route!(RETENTION) view={Lazy::<RetentionRoute>::new()} />
                    <Route path=route!(SECURITY) view={Lazy::<SecurityRoute>::new()} />
                    <Route path=route!(ERROR_TYPES) view={Lazy::<ErrorTypesRoute>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
