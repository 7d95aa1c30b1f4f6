//! The identity provider built into the server for the embedded default (see the module's
//! README in the helper's notes). Placeholder: filled in by the IdP work.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
