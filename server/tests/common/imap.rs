//! A real Dovecot on loopback and a test app that backs its mailboxes up: what the imap
//! connector's tests (and the store's) start from.

use axum::http::{Method, StatusCode};
use portal_api::{BackupHistory, BackupRow, JobRow, JobStatus, OrganisationMailbox, Role, SkippedItem};
use serde_json::{json, Value};
use testkit::{Dovecot, User};

/// Every message of the sample's folders, as Dovecot stores them, the malformed one left out.
pub fn mail_of(dovecot: &Dovecot, user: &str) -> Vec<testkit::Stored> {
    let mut all = Vec::new();
    for folder in ["INBOX", "Work", "Archive/2024"] {
        all.extend(dovecot.stored(user, folder).into_iter().filter(|m| !m.raw.starts_with(b"\n")));
    }
    all.sort();
    all
}

use super::*;

/// The demo organisation the tests add their mailboxes to.
pub const ACME: i64 = 1;

pub struct Imap {
    pub app: TestApp,
    pub admin: Client,
    pub dovecot: Dovecot,
}

impl Imap {
    pub async fn start(users: &[User]) -> Imap {
        Imap::start_with(users, |_| {}).await
    }

    pub async fn start_with(users: &[User], adjust: impl FnOnce(&mut portal_server::config::Config)) -> Imap {
        let dovecot = Dovecot::start(users).expect("Dovecot starts (cargo xtask setup installs it)");
        let app = test_app_with(adjust).await;
        let admin = app.sign_in(Role::OrgAdmin).await;
        // The demo fills Acme's subscription on purpose (a Space Full to show); these tests
        // need room, except the one that sets a small quota itself.
        sqlx::query("UPDATE organisations SET storage_quota_bytes = 1000000000000 WHERE id = $1")
            .bind(ACME)
            .execute(&app.db)
            .await
            .unwrap();
        Imap { app, admin, dovecot }
    }

    pub fn settings(&self, email: &str, user: &str, password: &str) -> Value {
        json!({ "email": email, "host": "127.0.0.1", "port": self.dovecot.port, "security": "plain", "username": user, "password": password })
    }

    pub async fn add(&self, email: &str, user: &str, password: &str) -> OrganisationMailbox {
        let uri = format!("/api/organisations/{ACME}/mailboxes");
        let response = self.app.send_as(&self.admin, Method::POST, &uri, Some(self.settings(email, user, password))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body_json(response).await
    }

    pub async fn backup(&self, mailbox_id: i64) -> BackupRow {
        body_json(self.app.get_as(&self.admin, &format!("/api/backups/{mailbox_id}")).await).await
    }

    pub async fn current_job(&self, mailbox_id: i64) -> String {
        let history: BackupHistory =
            body_json(self.app.get_as(&self.admin, &format!("/api/backups/{mailbox_id}/history")).await).await;
        history.runs[0].job_id.clone()
    }

    pub async fn force(&self, mailbox_id: i64) {
        let response = self.app.send_as(&self.admin, Method::POST, &format!("/api/backups/{mailbox_id}/force"), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    pub async fn start_job(&self, job: Value) -> JobRow {
        let response = self.app.send_as(&self.admin, Method::POST, "/api/jobs", Some(job)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body_json(response).await
    }

    pub async fn job(&self, id: &str) -> JobRow {
        body_json(self.app.get_as(&self.admin, &format!("/api/jobs/{id}")).await).await
    }

    pub async fn skipped(&self, id: &str) -> Vec<SkippedItem> {
        body_json(self.app.get_as(&self.admin, &format!("/api/jobs/{id}/skipped")).await).await
    }

    /// Runs the due jobs, then the search indexer (as a backup's end wakes it in a server).
    pub async fn run(&self) {
        self.app.state.engine.run_due().await.unwrap();
        portal_server::search::indexer::run(&self.app.db, &self.app.state.store).await.unwrap();
    }

    /// Runs a download in this format and saves the file its link serves, as `name`.
    pub async fn download(&self, mailbox_id: i64, format: &str, name: &str) -> std::path::PathBuf {
        let download = self.start_job(json!({ "kind": "download", "mailbox_id": mailbox_id, "format": format })).await;
        self.run().await;
        let ready = self.job(&download.id).await;
        assert_eq!(ready.status, JobStatus::Completed);
        let link = axum::http::Request::get(ready.download_url.unwrap()).body(axum::body::Body::empty()).unwrap();
        let response = self.app.send(link).await;
        assert_eq!(response.status(), StatusCode::OK);
        let file = self.dovecot.dir().join(name);
        std::fs::write(&file, axum::body::to_bytes(response.into_body(), 1 << 26).await.unwrap()).unwrap();
        file
    }

    pub async fn saved_messages(&self, mailbox_id: i64) -> i64 {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM backup_messages WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_one(&self.app.db)
            .await
            .unwrap();
        count
    }
}
