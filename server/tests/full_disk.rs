//! The service's own storage running short of room: the dashboard warns resellers (who run the
//! service) when the data folder's file system has less room than `--min-free-space-mb`.

mod common;

use common::*;
use portal_api::{Dashboard, Role};

#[tokio::test]
async fn the_dashboard_warns_resellers_only_when_the_data_folder_is_short_of_room() {
    // More than any disk has: it warns.
    let app = test_app_with(|config| config.min_free_space_mb = 1 << 40).await;
    for (role, warned) in [(Role::Reseller, true), (Role::OrgAdmin, false), (Role::EndUser, false)] {
        let client = app.sign_in(role).await;
        let dashboard: Dashboard = body_json(app.get_as(&client, "/api/dashboard").await).await;
        assert_eq!(dashboard.storage_warning.is_some(), warned, "{role:?}");
        if let Some(warning) = dashboard.storage_warning {
            let room = portal_server::disk::room(&app.state.config.data_dir).unwrap();
            assert_eq!(warning.total_bytes, room.total);
            assert!(warning.free_bytes <= warning.total_bytes);
            assert_eq!(warning.threshold_bytes, 1 << 60);
        }
    }
    // Nothing is short of 0 MB: no warning.
    let app = test_app_with(|config| config.min_free_space_mb = 0).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let dashboard: Dashboard = body_json(app.get_as(&reseller, "/api/dashboard").await).await;
    assert_eq!(dashboard.storage_warning, None);
}
