//! The pages that load when first opened: each is a lazy route, so its code (and the code only
//! it uses) is a chunk of its own, fetched the first time it is shown or prefetched while the
//! browser is idle (`prefetch_likely_pages`). Sign-in and the shell are in the first load.
//!
//! One `impl` per route, each on lines of its own: the split point's name is made from where
//! the macro is called.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};
use wasm_bindgen::JsCast;

use crate::pages::activity::ActivityPage;
use crate::pages::backups::BackupsPage;
use crate::pages::credentials::CredentialsPage;
use crate::pages::dashboard::DashboardPage;
use crate::pages::deliveries::DeliveriesPage;
use crate::pages::error_catalogue::ErrorCataloguePage;
use crate::pages::integrations::IntegrationsPage;
use crate::pages::job::{DownloadPage, MigratePage, RestorePage};
use crate::pages::jobs::{DownloadsPage, MigratesPage, RestoresPage};
use crate::pages::mailboxes::MailboxesPage;
use crate::pages::message::MessagePage;
use crate::pages::messages::MessagesPage;
use crate::pages::retention::RetentionPage;
use crate::pages::security::SecurityPage;
use crate::pages::tokens::TokensPage;

pub struct DashboardRoute;
#[lazy_route]
impl LazyRoute for DashboardRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <DashboardPage /> }.into_any()
    }
}

pub struct BackupsRoute;
#[lazy_route]
impl LazyRoute for BackupsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <BackupsPage /> }.into_any()
    }
}

pub struct MigratesRoute;
#[lazy_route]
impl LazyRoute for MigratesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <MigratesPage /> }.into_any()
    }
}

pub struct RestoresRoute;
#[lazy_route]
impl LazyRoute for RestoresRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <RestoresPage /> }.into_any()
    }
}

pub struct DownloadsRoute;
#[lazy_route]
impl LazyRoute for DownloadsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <DownloadsPage /> }.into_any()
    }
}

pub struct MigrateRoute;
#[lazy_route]
impl LazyRoute for MigrateRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <MigratePage /> }.into_any()
    }
}

pub struct RestoreRoute;
#[lazy_route]
impl LazyRoute for RestoreRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <RestorePage /> }.into_any()
    }
}

pub struct DownloadRoute;
#[lazy_route]
impl LazyRoute for DownloadRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <DownloadPage /> }.into_any()
    }
}

pub struct CredentialsRoute;
#[lazy_route]
impl LazyRoute for CredentialsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <CredentialsPage /> }.into_any()
    }
}

pub struct MailboxesRoute;
#[lazy_route]
impl LazyRoute for MailboxesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <MailboxesPage /> }.into_any()
    }
}

pub struct IntegrationsRoute;
#[lazy_route]
impl LazyRoute for IntegrationsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <IntegrationsPage /> }.into_any()
    }
}

pub struct DeliveriesRoute;
#[lazy_route]
impl LazyRoute for DeliveriesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <DeliveriesPage /> }.into_any()
    }
}

pub struct TokensRoute;
#[lazy_route]
impl LazyRoute for TokensRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <TokensPage /> }.into_any()
    }
}

pub struct ActivityRoute;
#[lazy_route]
impl LazyRoute for ActivityRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <ActivityPage /> }.into_any()
    }
}

pub struct MessagesRoute;
#[lazy_route]
impl LazyRoute for MessagesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <MessagesPage /> }.into_any()
    }
}

pub struct MessageRoute;
#[lazy_route]
impl LazyRoute for MessageRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <MessagePage /> }.into_any()
    }
}

pub struct RetentionRoute;
#[lazy_route]
impl LazyRoute for RetentionRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <RetentionPage /> }.into_any()
    }
}

pub struct SecurityRoute;
#[lazy_route]
impl LazyRoute for SecurityRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <SecurityPage /> }.into_any()
    }
}

pub struct ErrorTypesRoute;
#[lazy_route]
impl LazyRoute for ErrorTypesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <ErrorCataloguePage /> }.into_any()
    }
}

/// Fetches the chunks of the pages most opened after signing in (the dashboard, then Backups)
/// once the browser has nothing else to do, so that opening them does not wait on the network.
pub fn prefetch_likely_pages() {
    let fetch = || {
        leptos::task::spawn_local(async {
            DashboardRoute::preload().await;
            BackupsRoute::preload().await;
        })
    };
    let idle = wasm_bindgen::closure::Closure::once_into_js(fetch);
    let window = window();
    let asked = js_sys::Reflect::get(&window, &"requestIdleCallback".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .map(|request| request.call1(&window, &idle).is_ok());
    if asked != Some(true) {
        // Safari has no requestIdleCallback: a short wait does the same.
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(idle.unchecked_ref(), 200);
    }
}
