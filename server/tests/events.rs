//! Live updates over server-sent events: changes arrive, in scope only, and resume.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::{BackupRow, JobStatus, Page, Role};
use portal_server::db::now_ms;

#[tokio::test]
async fn a_forced_backup_reaches_an_open_stream() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let target = page.items[0].mailbox_id;

    let response = app.send(events_request(&admin, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();

    app.send_as(&admin, Method::POST, &format!("/api/backups/{target}/force"), None).await;
    let (id, change) = next_job_event(&mut body, |c| c.mailbox_id == target, Duration::from_secs(5))
        .await
        .expect("the change arrives while the stream is open");
    assert_eq!(change.status, JobStatus::PreparingBackup);
    assert!(id.parse::<i64>().is_ok(), "event IDs are change times: {id}");
}

#[tokio::test]
async fn a_reconnecting_page_gets_what_it_missed_and_only_its_own() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let end_user = app.sign_in(Role::EndUser).await;
    let before = now_ms() - 1;
    // A change elsewhere (another organisation), then one to the end user's own mailbox.
    app.send_as(&reseller, Method::POST, "/api/backups/25/force", None).await;
    let own: Page<BackupRow> = body_json(app.get_as(&end_user, "/api/backups").await).await;
    let own_id = own.items[0].mailbox_id;
    app.send_as(&reseller, Method::POST, &format!("/api/backups/{own_id}/force"), None).await;

    let mut body = app.send(events_request(&end_user, Some(before))).await.into_body();
    let (_, first) = next_job_event(&mut body, |_| true, Duration::from_secs(5)).await.expect("the missed change");
    assert_eq!(first.mailbox_id, own_id, "the other organisation's change is not sent");

    let mut reseller_body = app.send(events_request(&reseller, Some(before))).await.into_body();
    assert!(next_job_event(&mut reseller_body, |c| c.mailbox_id == 25, Duration::from_secs(5)).await.is_some());
}

#[tokio::test]
async fn the_stream_needs_a_session() {
    let app = test_app().await;
    let response = app.send(Request::get("/api/events").body(Body::empty()).unwrap()).await;
    problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn more_changes_in_one_millisecond_than_a_page_all_arrive() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    // A burst: 700 jobs (more than one page of 500) changed at the very same millisecond.
    let at = now_ms() + 5_000;
    let mut tx = app.db.begin().await.unwrap();
    for n in 0..700 {
        sqlx::query(
            "INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at) VALUES ($1, 'restore', 1, 'on_queue', $2, $2)",
        )
        .bind(format!("R-BURST{n:03}"))
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // And one after it, which must not wait behind the burst.
    sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = (SELECT MIN(id) FROM jobs WHERE kind = 'migrate')")
        .bind(at + 1)
        .execute(&app.db)
        .await
        .unwrap();

    let mut body = app.send(events_request(&reseller, Some(at - 1))).await.into_body();
    let mut burst = std::collections::HashSet::new();
    while burst.len() < 700 {
        let (_, change) = next_job_event(&mut body, |c| c.id.starts_with("R-BURST"), Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("only {} of the 700 arrived", burst.len()));
        burst.insert(change.id);
    }
    assert!(next_job_event(&mut body, |c| c.id.starts_with("M-"), Duration::from_secs(5)).await.is_some());
}
