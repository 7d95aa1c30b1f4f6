//! Messages inside backups: search, preview (the HTML body made safe), attachments.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
