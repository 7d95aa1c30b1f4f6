//! Migrations, restores and downloads through the API: every status shown, scoped by role,
//! counted, sorted, and started again.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{JobKind, JobRow, JobStatus, Page, Role, StatusCount};
use portal_server::db::now_ms;
use serde_json::json;

async fn list(app: &TestApp, client: &Client, query: &str) -> Page<JobRow> {
    let response = app.get_as(client, &format!("/api/jobs?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await
}

async fn first_in(app: &TestApp, client: &Client, kind: JobKind, status: JobStatus) -> JobRow {
    let page = list(app, client, &format!("kind={}&status={}", kind.as_str(), status.as_str())).await;
    page.items.into_iter().next().unwrap_or_else(|| panic!("no {kind:?} in {status:?}"))
}

#[tokio::test]
async fn every_status_of_every_kind_is_there_to_see_and_counted() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    for kind in [JobKind::Migrate, JobKind::Restore, JobKind::Download] {
        let page = list(&app, &reseller, &format!("kind={}&per_page=200", kind.as_str())).await;
        for status in kind.statuses() {
            assert!(page.items.iter().any(|row| row.status == *status), "{kind:?} has no {status:?}");
        }
        assert!(page.items.iter().all(|row| row.kind == kind && row.id.starts_with(&kind.as_str()[..1].to_uppercase())));
        let counts: Vec<StatusCount> =
            body_json(app.get_as(&reseller, &format!("/api/jobs/counts?kind={}", kind.as_str())).await).await;
        assert_eq!(counts.len(), kind.statuses().len());
        assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), page.total);
    }
    let counts: Vec<StatusCount> = body_json(app.get_as(&reseller, "/api/jobs/counts?kind=backup").await).await;
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), 60, "backups are counted by account");
}

#[tokio::test]
async fn rows_carry_what_the_status_line_needs() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let retrying = first_in(&app, &reseller, JobKind::Restore, JobStatus::Retrying).await;
    assert!(retrying.run.retries > 0 && retrying.run.next_run_at.is_some());
    assert_eq!(retrying.run.max_retries, 25);
    let queued = first_in(&app, &reseller, JobKind::Migrate, JobStatus::OnQueue).await;
    assert!(queued.run.queue_position.is_some());
    let ready = first_in(&app, &reseller, JobKind::Download, JobStatus::Completed).await;
    assert!(ready.expires_at.is_some());
    assert!(ready.target.contains("mbox") || ready.target.contains("EML"));
    let restore = first_in(&app, &reseller, JobKind::Restore, JobStatus::Completed).await;
    assert!(restore.target.contains(" into "), "{}", restore.target);
}

#[tokio::test]
async fn an_end_user_sees_only_their_own_jobs() {
    let app = test_app().await;
    let end_user = app.sign_in(Role::EndUser).await;
    let reseller = app.sign_in(Role::Reseller).await;
    for kind in ["migrate", "restore", "download"] {
        let own = list(&app, &end_user, &format!("kind={kind}&per_page=200")).await;
        assert!(own.total > 0, "the demo end user has some {kind} jobs");
        assert!(own.items.iter().all(|row| row.mailbox_email == end_user.session.email));
    }
    let others = list(&app, &reseller, "kind=restore&q=bluebird").await;
    let other_id = &others.items[0].id;
    problem(app.get_as(&end_user, &format!("/api/jobs/{other_id}")).await, StatusCode::NOT_FOUND).await;
    problem(app.send_as(&end_user, Method::POST, &format!("/api/jobs/{other_id}/retry"), None).await, StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn lists_sort_and_reject_what_they_do_not_know() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let newest = list(&app, &reseller, "kind=restore&per_page=200").await;
    assert!(newest.items.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let oldest = list(&app, &reseller, "kind=restore&sort=oldest&per_page=200").await;
    assert!(oldest.items.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    let by_mailbox = list(&app, &reseller, "kind=restore&sort=mailbox&per_page=200").await;
    assert!(by_mailbox.items.windows(2).all(|w| w[0].mailbox_email <= w[1].mailbox_email));

    let by_id = list(&app, &reseller, &format!("kind=restore&q={}", newest.items[3].id.to_lowercase())).await;
    assert_eq!(by_id.items.len(), 1, "a Restore ID finds its restore");

    let p = problem(app.get_as(&reseller, "/api/jobs?kind=restore&sort=size").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("sort").is_some());
    let p = problem(app.get_as(&reseller, "/api/jobs").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("kind").is_some());
    // A status the kind never reaches is no mistake: it lists nothing. An unknown one is.
    let none: Page<JobRow> = body_json(app.get_as(&reseller, "/api/jobs?kind=download&status=space_full").await).await;
    assert_eq!(none.total, 0, "downloads are never in Space Full");
    let p = problem(app.get_as(&reseller, "/api/jobs?kind=download&status=lost").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("status").is_some());
}

#[tokio::test]
async fn try_again_puts_a_cancelled_restore_back_on_the_queue_under_the_same_id() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let cancelled = first_in(&app, &admin, JobKind::Restore, JobStatus::Cancelled).await;
    let response = app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", cancelled.id), None).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued: JobRow = body_json(response).await;
    assert_eq!((queued.id.as_str(), queued.status, queued.run.retries), (cancelled.id.as_str(), JobStatus::OnQueue, 0));

    // Asked twice: it is no longer cancelled.
    let again = app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", cancelled.id), None).await;
    let p = problem(again, StatusCode::CONFLICT).await;
    assert!(p.detail.unwrap().contains("On Queue"));

    let completed = first_in(&app, &admin, JobKind::Restore, JobStatus::Completed).await;
    problem(app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", completed.id), None).await, StatusCode::CONFLICT)
        .await;
}

#[tokio::test]
async fn edit_stores_the_destination_password_sealed_and_the_restore_completes_with_the_right_one() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let refused = first_in(&app, &admin, JobKind::Restore, JobStatus::AuthenticationError).await;
    let edit = format!("/api/jobs/{}/destination-password", refused.id);

    let empty =
        problem(app.send_as(&admin, Method::PUT, &edit, Some(json!({ "password": "" }))).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(empty.errors[0].field, "password");

    // A wrong password: the restore runs again and the destination refuses it again.
    let response = app.send_as(&admin, Method::PUT, &edit, Some(json!({ "password": "not-the-one" }))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(!body.contains("not-the-one"), "the password is never sent back");
    assert!(body.contains("\"status\":\"on_queue\""), "{body}");
    let (sealed,): (String,) =
        sqlx::query_as("SELECT sealed FROM job_secrets WHERE job_id = $1").bind(&refused.id).fetch_one(&app.db).await.unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("not-the-one"), "stored encrypted");
    app.state.engine.run_due().await.unwrap();
    let again: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", refused.id)).await).await;
    assert_eq!(again.status, JobStatus::AuthenticationError);

    // The right one: the restore completes, under the same Restore ID.
    let right = json!({ "password": portal_api::demo::DEMO_MAILBOX_PASSWORD });
    assert_eq!(app.send_as(&admin, Method::PUT, &edit, Some(right.clone())).await.status(), StatusCode::ACCEPTED);
    app.state.engine.run_due().await.unwrap();
    let done: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", refused.id)).await).await;
    assert_eq!(done.status, JobStatus::Completed);

    // Nothing to fix any more, and nobody outside the organisation may try.
    let p = problem(app.send_as(&admin, Method::PUT, &edit, Some(right.clone())).await, StatusCode::CONFLICT).await;
    assert!(p.detail.unwrap().contains("Completed"));
    let end_user = app.sign_in(Role::EndUser).await;
    problem(app.send_as(&end_user, Method::PUT, &edit, Some(right)).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_sealed_password_moved_to_another_job_does_not_open() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let refused = first_in(&app, &admin, JobKind::Restore, JobStatus::AuthenticationError).await;
    let migrate = first_in(&app, &admin, JobKind::Migrate, JobStatus::AuthenticationError).await;
    let right = json!({ "password": portal_api::demo::DEMO_MAILBOX_PASSWORD });
    app.send_as(&admin, Method::PUT, &format!("/api/jobs/{}/destination-password", refused.id), Some(right)).await;
    // Someone with database access copies the restore's sealed password onto the migration.
    sqlx::query(
        "INSERT INTO job_secrets (job_id, purpose, sealed, updated_at) \
         SELECT $1, purpose, sealed, updated_at FROM job_secrets WHERE job_id = $2",
    )
    .bind(&migrate.id)
    .bind(&refused.id)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("UPDATE jobs SET status = 'on_queue', next_run_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(&migrate.id)
        .execute(&app.db)
        .await
        .unwrap();
    app.state.engine.run_due().await.unwrap();
    let migrated: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", migrate.id)).await).await;
    assert_eq!(migrated.status, JobStatus::AuthenticationError, "bound to its own job, it does not decrypt there");
    assert!(migrated.run.detail.unwrap().contains("enter it again"));
}

#[tokio::test]
async fn a_download_link_expires_and_request_again_makes_a_new_one() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let ready = first_in(&app, &admin, JobKind::Download, JobStatus::Completed).await;
    sqlx::query("UPDATE jobs SET expires_at = $1 WHERE id = $2")
        .bind(now_ms() - 1)
        .bind(&ready.id)
        .execute(&app.db)
        .await
        .unwrap();
    assert!(app.state.engine.expire_downloads().await.unwrap() >= 1);
    let expired: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", ready.id)).await).await;
    assert_eq!(expired.status, JobStatus::Expired);

    let response = app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", ready.id), None).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.state.engine.run_due().await.unwrap();
    let renewed: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", ready.id)).await).await;
    assert_eq!(renewed.status, JobStatus::Completed);
    assert!(renewed.expires_at.unwrap() > expired.expires_at.unwrap());
}

#[tokio::test]
async fn a_ready_download_is_a_real_file_behind_a_signed_link_that_expires() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let ready = list(&app, &admin, "kind=download&status=completed&per_page=200").await;
    let mbox = ready.items.iter().find(|row| row.target == "mbox file").expect("a ready mbox download");
    let url = mbox.download_url.clone().expect("a ready download has a link");

    // The link works without a session: it can be handed to whoever needs the file.
    let response = app.send(axum::http::Request::get(&url).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/mbox");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(".mbox"));
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(text.lines().filter(|line| line.starts_with("From ")).count(), 24, "every message of the mailbox");

    let tampered = url.replace("signature=", "signature=00");
    problem(app.send(axum::http::Request::get(&tampered).body(axum::body::Body::empty()).unwrap()).await, StatusCode::NOT_FOUND)
        .await;

    // The same job with its link run out: 410, saying what to do.
    let expires = now_ms() - 1000;
    sqlx::query("UPDATE jobs SET expires_at = $1 WHERE id = $2").bind(expires).bind(&mbox.id).execute(&app.db).await.unwrap();
    let stale = app.state.links.url(&mbox.id, expires);
    let p = problem(app.send(axum::http::Request::get(&stale).body(axum::body::Body::empty()).unwrap()).await, StatusCode::GONE)
        .await;
    assert!(p.detail.unwrap().contains("Request the download again"));
}

#[tokio::test]
async fn a_requested_eml_zip_is_built_when_the_download_runs() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let expired = list(&app, &admin, "kind=download&status=expired&per_page=200").await;
    let job = &expired.items[0];
    sqlx::query("UPDATE jobs SET params = '{\"format\":\"eml_zip\"}' WHERE id = $1")
        .bind(&job.id)
        .execute(&app.db)
        .await
        .unwrap();
    app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", job.id), None).await;
    app.state.engine.run_due().await.unwrap();
    let done: JobRow = body_json(app.get_as(&admin, &format!("/api/jobs/{}", job.id)).await).await;
    assert_eq!(done.status, JobStatus::Completed);
    let response = app.send(axum::http::Request::get(done.download_url.unwrap()).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "a zip file");
}

#[tokio::test]
async fn the_dashboard_counts_every_kind_and_names_the_stale_accounts() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let dashboard: portal_api::Dashboard = body_json(app.get_as(&admin, "/api/dashboard").await).await;
    assert_eq!(dashboard.kinds.len(), 4);
    let backups = &dashboard.kinds[0];
    assert_eq!(backups.kind, JobKind::Backup);
    assert_eq!(backups.counts.iter().map(|c| c.count).sum::<u64>(), 20, "every account of the organisation");
    assert_eq!(dashboard.storage.quota_bytes, 50_000_000_000);
    assert!(dashboard.storage.used_bytes > 0);
    // The demo's broken backups last completed a day or more ago.
    assert!(dashboard.stale_over_24h >= dashboard.stale_over_48h && dashboard.stale_over_48h > 0);
    assert_eq!(dashboard.stale.len() as u64, dashboard.stale_over_24h.min(20));
    assert!(dashboard.stale.iter().all(|a| a.mailbox_email.ends_with("@acme-legal.example")));

    let end_user = app.sign_in(Role::EndUser).await;
    let own: portal_api::Dashboard = body_json(app.get_as(&end_user, "/api/dashboard").await).await;
    assert_eq!(own.kinds[0].counts.iter().map(|c| c.count).sum::<u64>(), 1);
}

#[tokio::test]
async fn a_restore_download_or_migration_started_from_the_portal_is_queued_and_runs() {
    let app = test_app().await;
    let end_user = app.sign_in(Role::EndUser).await;
    let own: Page<portal_api::BackupRow> = body_json(app.get_as(&end_user, "/api/backups").await).await;
    let mailbox_id = own.items[0].mailbox_id;

    let body = serde_json::json!({"kind": "restore", "mailbox_id": mailbox_id, "folders": ["Inbox"], "on_conflict": "keep_both"});
    let response = app.send_as(&end_user, Method::POST, "/api/jobs", Some(body)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let restore: JobRow = body_json(response).await;
    assert_eq!((restore.kind, restore.status), (JobKind::Restore, JobStatus::OnQueue));
    assert_eq!(restore.target, format!("Inbox into {} (keep both)", end_user.session.email));
    let listed = list(&app, &end_user, &format!("kind=restore&q={}", restore.id)).await;
    assert_eq!(listed.total, 1, "it shows in its list at once");

    let body = serde_json::json!({"kind": "download", "mailbox_id": mailbox_id, "format": "eml_zip"});
    let download: JobRow = body_json(app.send_as(&end_user, Method::POST, "/api/jobs", Some(body)).await).await;
    app.state.engine.run_due().await.unwrap();
    let done: JobRow = body_json(app.get_as(&end_user, &format!("/api/jobs/{}", download.id)).await).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert!(done.download_url.is_some());
}

#[tokio::test]
async fn a_new_job_with_wrong_fields_names_each_of_them() {
    let app = test_app().await;
    let end_user = app.sign_in(Role::EndUser).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let body = serde_json::json!({"kind": "migrate", "mailbox_id": 30, "destination": "not an address", "folders": ["Secret"]});
    let p =
        problem(app.send_as(&admin, Method::POST, "/api/jobs", Some(body.clone())).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.field_error("mailbox_id"), Some("Choose one of your mailboxes."), "another organisation's mailbox");
    assert!(p.field_error("destination").is_some() && p.field_error("folders").is_some(), "{p:?}");
    // An end user may not migrate at all: the role is told before any field.
    let p = problem(app.send_as(&end_user, Method::POST, "/api/jobs", Some(body)).await, StatusCode::FORBIDDEN).await;
    assert!(p.detail.unwrap().contains("Migrations are started by"));

    let body = serde_json::json!({"kind": "backup", "mailbox_id": 1});
    let p = problem(app.send_as(&end_user, Method::POST, "/api/jobs", Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("kind").is_some());

    // Every wrong field at once, in the form's order: the mailbox, its folders, then the choices.
    let body = serde_json::json!({"kind": "restore", "mailbox_id": 30, "folders": ["Secret"], "on_conflict": "overwrite"});
    let p = problem(app.send_as(&admin, Method::POST, "/api/jobs", Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["mailbox_id", "folders", "on_conflict"], "{p:?}");
}

#[tokio::test]
async fn a_finished_job_can_be_deleted_and_its_old_link_is_a_404_what_still_runs_cannot() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let restore = first_in(&app, &admin, JobKind::Restore, JobStatus::Completed).await;
    let uri = format!("/api/jobs/{}", restore.id);

    // Someone outside the organisation cannot tell it exists, let alone delete it.
    let outsider = app.sign_in_as("reseller@harbour.example").await;
    problem(app.send_as(&outsider, Method::DELETE, &uri, None).await, StatusCode::NOT_FOUND).await;

    let deleted = app.send_as(&admin, Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = problem(app.get_as(&admin, &uri).await, StatusCode::NOT_FOUND).await;
    assert!(gone.detail.unwrap().contains("deleted"), "an old link says it may have been deleted");
    let page = list(&app, &admin, "kind=restore&per_page=200").await;
    assert!(page.items.iter().all(|row| row.id != restore.id), "it left the list");
    problem(app.send_as(&admin, Method::DELETE, &uri, None).await, StatusCode::NOT_FOUND).await;

    // Still working: refused, saying what it is doing.
    let running = first_in(&app, &admin, JobKind::Migrate, JobStatus::InProgress).await;
    let refused =
        problem(app.send_as(&admin, Method::DELETE, &format!("/api/jobs/{}", running.id), None).await, StatusCode::CONFLICT)
            .await;
    assert!(refused.detail.unwrap().contains("In Progress"));
    app.get_as(&admin, &format!("/api/jobs/{}", running.id)).await.status().is_success().then_some(()).expect("kept");

    // A download's file goes with it, and its link stops working.
    let ready = list(&app, &admin, "kind=download&status=completed&per_page=200").await;
    let download = ready.items.iter().find(|row| row.target == "mbox file").expect("a ready mbox download");
    let file = portal_server::downloads::file::file_path(
        &app.state.config.data_dir,
        &download.id,
        portal_server::downloads::file::Format::Mbox,
    );
    assert!(file.exists());
    let deleted = app.send_as(&admin, Method::DELETE, &format!("/api/jobs/{}", download.id), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(!file.exists(), "the file was deleted with the download");
    let link = download.download_url.clone().unwrap();
    problem(app.send(axum::http::Request::get(&link).body(axum::body::Body::empty()).unwrap()).await, StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn a_job_runs_again_only_where_it_may_write_now() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let cancelled = list(&app, &admin, "kind=migrate&status=cancelled").await;
    let job = &cancelled.items[0];
    // Stored before the rule was tightened (or its destination left the organisation since).
    let params = serde_json::json!({"destination": "someone@another-company.example"}).to_string();
    sqlx::query("UPDATE jobs SET params = $1 WHERE id = $2").bind(&params).bind(&job.id).execute(&app.db).await.unwrap();
    let p = problem(app.send_as(&admin, Method::POST, &format!("/api/jobs/{}/retry", job.id), None).await, StatusCode::CONFLICT)
        .await;
    assert!(p.detail.unwrap().contains("is not a mailbox of this organisation"));

    // Nor is a mailbox migrated into itself.
    let body = serde_json::json!({"kind": "migrate", "mailbox_id": job.mailbox_id, "destination": job.mailbox_email});
    let p = problem(app.send_as(&admin, Method::POST, "/api/jobs", Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("destination").unwrap().contains("into itself"));
}
