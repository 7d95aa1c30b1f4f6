//! Account Settings › Integrations: an organisation's HaloPSA (`halo.rs`), its webhooks
//! (`webhooks.rs`), and every delivery to them with Send again (`deliveries.rs`). Organisation
//! admins for their organisation, resellers for the organisations they serve.

pub mod deliveries;
pub mod halo;
pub mod webhooks;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/organisations/{id}/integrations/halo", get(halo::get_halo).put(halo::save_halo).delete(halo::delete_halo))
        .route("/api/organisations/{id}/integrations/halo/test", post(halo::test_halo))
        .route("/api/integrations/halo", axum::routing::put(halo::save_halo_for_all))
        .route("/api/organisations/{id}/webhooks", get(webhooks::list_webhooks).post(webhooks::create_webhook))
        .route("/api/organisations/{id}/webhooks/{webhook_id}", axum::routing::delete(webhooks::delete_webhook))
        .route("/api/organisations/{id}/webhooks/{webhook_id}/test", post(webhooks::test_webhook))
        .route("/api/organisations/{id}/deliveries", get(deliveries::list_deliveries))
        .route("/api/deliveries/{id}/send-again", post(deliveries::send_again))
}
