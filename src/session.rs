//! The signed-in user, for every page (`Session`, in the context), and the way back to a page
//! after signing in. What the user may do is in `access.rs`.

use leptos::prelude::*;
use portal_api::SessionInfo;

use crate::api::{self, ApiError};
use crate::paths;

/// The signed-in user, loaded once and refetched after signing in or out.
#[derive(Clone, Copy)]
pub struct Session(pub LocalResource<Result<SessionInfo, ApiError>>);

impl Session {
    /// Reads the session from the server; `App` provides it.
    pub fn load() -> Session {
        Session(LocalResource::new(api::current_session))
    }

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
