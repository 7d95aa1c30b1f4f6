//! The service's own storage full: the data folder on a small file system (a tmpfs, mounted
//! for the test: root, as CI runs) fills during a backup. The run ends Retrying with the cause
//! in our words (not Space Full: the customer's subscription has room), nothing half-written
//! is left or indexed, the server keeps answering, resellers are warned on the dashboard, and
//! once room is made the retry completes. The database stays on the ordinary disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::StatusCode;
use common::imap::Imap;
use common::*;
use portal_api::{Dashboard, JobStatus, Role};
use portal_server::imap::check::{check, Repair};
use testkit::User;

/// A tmpfs of `size_mb` mounted on a new folder, unmounted when dropped (a failed test too).
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new(size_mb: u64) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("the mount command runs");
        assert!(
            mounted.status.success(),
            "this test mounts a {size_mb} MB tmpfs as the data folder, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        Mount { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still in use (a file left open by a failed test): detached now, freed when closed.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Takes all the room of the file system of `dir` but `leave` bytes.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let free = portal_server::disk::room(dir).unwrap().free;
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![0_u8; free.saturating_sub(leave) as usize]).unwrap();
    filler
}

#[tokio::test]
async fn a_full_data_folder_stops_a_backup_honestly_and_the_retry_completes_once_there_is_room() {
    let mount = Mount::new(32);
    let data_dir = mount.path().join("data");
    let imap = Imap::start_with(&[User::new("alice", "alice-pw")], |config| config.data_dir = data_dir.clone()).await;
    assert!(!imap.app.state.config.database_url.contains(&mount.path().display().to_string()), "the database is elsewhere");
    // About 20 MB of mail (four fetches of 500 messages) into about 6 MB of room.
    imap.dovecot.seed("alice", &testkit::bulk_mail("alice@imap.test", 2000, 10_000)).unwrap();
    let filler = fill(mount.path(), 6 << 20);
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;

    let stopped = imap.backup(alice.id).await;
    assert_eq!(stopped.status, JobStatus::Retrying, "{:?}", stopped.run.detail);
    assert_eq!(
        stopped.run.detail.as_deref(),
        Some(
            "The backup storage of this service is full. This is on our side, not your subscription's storage: \
             nothing was lost, and it will be tried again."
        ),
        "the cause in our words, never the system's"
    );
    let saved = imap.saved_messages(alice.id).await;
    assert!(saved < 2000, "it stopped part way ({saved} saved)");

    // Nothing half-written: what is indexed is whole, and no bytes are left past it.
    let db = &imap.app.db;
    let report = check(db, &data_dir, false).await.unwrap();
    assert!(!report.damaged(), "{report}");
    assert_eq!(report.objects_checked, saved as u64, "{report}");
    assert_eq!(report.tail_bytes + report.unindexed_packs, 0, "the failed write was cut off: {report}");
    let repaired = check(db, &data_dir, true).await.unwrap();
    assert!(matches!(repaired.repair, Repair::Done { .. }) && repaired.exit_code() == 0, "{repaired}");
    let report = check(db, &data_dir, false).await.unwrap();
    assert!(!report.damaged() && !report.unreferenced(), "{report}");

    // The server keeps answering; its reseller sees the warning on the dashboard.
    let reseller = imap.app.sign_in(Role::Reseller).await;
    let response = imap.app.get_as(&reseller, "/api/dashboard").await;
    assert_eq!(response.status(), StatusCode::OK);
    let dashboard: Dashboard = body_json(response).await;
    let warning = dashboard.storage_warning.expect("under the default 1024 MB");
    assert!(warning.free_bytes < 8 << 20 && warning.total_bytes <= 32 << 20, "{warning:?}");
    assert_eq!(warning.threshold_bytes, 1024 << 20);

    // Room made: Force Backup goes on from where it stopped and completes.
    std::fs::remove_file(filler).unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let retried = imap.backup(alice.id).await;
    assert_eq!(retried.status, JobStatus::Completed, "{:?}", retried.run.detail);
    assert_eq!(imap.saved_messages(alice.id).await, 2000);
    assert_eq!(retried.run.items_total, Some(2000 - saved as u64), "only what was not saved was fetched again");
    let report = check(db, &data_dir, false).await.unwrap();
    assert!(!report.damaged() && !report.unreferenced(), "{report}");
    assert_eq!(report.objects_checked, 2000, "{report}");
}

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
