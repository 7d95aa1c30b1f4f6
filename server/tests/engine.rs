//! The job engine against a real database: Force Backup, runs, retries and their limit,
//! a run whose instance died, and scheduled backups.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{BackupRow, ForceBackupsResult, JobStatus, Page, Role};
use portal_server::connector::Outcome;
use portal_server::db::now_ms;
use portal_server::demo::DemoConnector;
use portal_server::engine::{Engine, EngineConfig};
use serde_json::json;

/// The first mailbox of the organisation admin's view in this status.
async fn mailbox_in(app: &TestApp, client: &Client, status: JobStatus) -> BackupRow {
    let uri = format!("/api/backups?status={}", status.as_str());
    let page: Page<BackupRow> = body_json(app.get_as(client, &uri).await).await;
    page.items.into_iter().next().unwrap_or_else(|| panic!("no mailbox in {status:?}"))
}

async fn backup(app: &TestApp, client: &Client, mailbox_id: i64) -> BackupRow {
    body_json(app.get_as(client, &format!("/api/backups/{mailbox_id}")).await).await
}

async fn attempts(app: &TestApp, mailbox_id: i64) -> Vec<(i32, Option<i64>, Option<String>)> {
    sqlx::query_as(
        "SELECT a.number, a.finished_at, a.outcome FROM job_attempts a \
         JOIN backups b ON b.current_job_id = a.job_id WHERE b.mailbox_id = $1 ORDER BY a.number",
    )
    .bind(mailbox_id)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

/// A forced backup that is the only job due, and an engine whose claims run out at once
/// (its lease is over as soon as it is taken).
async fn forced_backup_and_short_lease_engine(app: &TestApp) -> (Client, BackupRow, Engine) {
    let admin = app.sign_in(Role::OrgAdmin).await;
    let target = mailbox_in(app, &admin, JobStatus::Completed).await;
    // Finish the demo's own due runs first, so that the forced one is the only one due.
    app.state.engine.run_due().await.unwrap();
    app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", target.mailbox_id), None).await;
    let mut short = EngineConfig::new(25, 30, 24);
    short.lease_ms = -1;
    let engine = Engine::new(
        app.db.clone(),
        short,
        Arc::new(DemoConnector { step: std::time::Duration::ZERO, data_dir: app.state.config.data_dir.clone(), remote: None }),
        app.state.secrets.clone(),
    );
    (admin, target, engine)
}

#[tokio::test]
async fn force_backup_starts_a_run_that_the_engine_completes() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let target = mailbox_in(&app, &admin, JobStatus::Completed).await;

    let response = app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", target.mailbox_id), None).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued: BackupRow = body_json(response).await;
    assert_eq!(queued.status, JobStatus::PreparingBackup);

    // Twice in a row: the first is still waiting to run.
    let again = app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", target.mailbox_id), None).await;
    let p = problem(again, StatusCode::CONFLICT).await;
    assert!(p.detail.unwrap().contains("already running"));

    assert!(app.state.engine.run_due().await.unwrap() >= 1);
    let done = backup(&app, &admin, target.mailbox_id).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.run.percent(), Some(100));
    assert!(done.last_backup_at > target.last_backup_at, "the run is the new last backup");
    assert_eq!(attempts(&app, target.mailbox_id).await.len(), 1);
}

#[tokio::test]
async fn an_end_user_may_not_force_a_backup_and_others_only_in_their_scope() {
    let app = test_app().await;
    let end_user = app.sign_in(Role::EndUser).await;
    let own: Page<BackupRow> = body_json(app.get_as(&end_user, "/api/backups").await).await;
    let id = own.items[0].mailbox_id;
    let p = problem(app.send_as(&end_user, Method::POST, &format!("/api/backups/{id}/force"), None).await, StatusCode::FORBIDDEN)
        .await;
    assert!(p.detail.unwrap().contains("resellers and organisation admins"));

    let admin = app.sign_in(Role::OrgAdmin).await;
    // Mailbox 25 belongs to another organisation of the same reseller.
    problem(app.send_as(&admin, Method::POST, "/api/backups/25/force", None).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn errors_recover_or_persist_as_their_mailbox_is_scripted() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let broken = mailbox_in(&app, &admin, JobStatus::AuthenticationError).await;
    let retrying = mailbox_in(&app, &admin, JobStatus::Retrying).await;
    assert!(retrying.run.retries > 0 && retrying.run.next_run_at.is_some(), "{:?}", retrying.run);
    assert_eq!(retrying.run.max_retries, 25);

    // Force Backup on a retrying account brings its retry forward and keeps its count.
    let response = app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", retrying.mailbox_id), None).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", broken.mailbox_id), None).await;
    app.state.engine.run_due().await.unwrap();

    let recovered = backup(&app, &admin, retrying.mailbox_id).await;
    assert_eq!(recovered.status, JobStatus::Completed, "{:?}", recovered.run);
    let still_broken = backup(&app, &admin, broken.mailbox_id).await;
    assert_eq!(still_broken.status, JobStatus::AuthenticationError);
    assert!(still_broken.run.detail.unwrap().contains("rejected the sign-in"));
}

#[tokio::test]
async fn bulk_force_backup_starts_every_account_of_the_filter_and_counts_the_running_ones() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let response = app.send_as(&reseller, Method::POST, "/api/backups/force", Some(json!({"q": "bluebird"}))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let result: ForceBackupsResult = body_json(response).await;
    assert_eq!(result.started + result.already_running, 20);
    assert!(result.already_running >= 2, "the demo has running backups: {result:?}");

    let p = problem(
        app.send_as(&reseller, Method::POST, "/api/backups/force", Some(json!({"status": "cancelled"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p.field_error("status").is_some(), "Cancelled is not a backup status");
}

#[tokio::test]
async fn a_run_whose_instance_died_is_taken_over_and_counted_once_more() {
    let app = test_app().await;
    // Instance A claims the run with a lease so short it is over at once, then "dies".
    let (admin, target, dying) = forced_backup_and_short_lease_engine(&app).await;
    let claimed = dying.claim().await.unwrap().expect("a due job");
    assert_eq!(backup(&app, &admin, target.mailbox_id).await.status, JobStatus::InProgress);

    // Instance B, started later, finds the run's lease over and finishes it.
    let connector = Arc::new(DemoConnector { step: std::time::Duration::ZERO, data_dir: app.state.config.data_dir.clone(), remote: None });
    let survivor = Engine::new(app.db.clone(), EngineConfig::new(25, 30, 24), connector, app.state.secrets.clone());
    survivor.run_due().await.unwrap();
    let done = backup(&app, &admin, target.mailbox_id).await;
    assert_eq!(done.status, JobStatus::Completed);
    let (attempt_count,): (i32,) =
        sqlx::query_as("SELECT attempts FROM jobs WHERE id = $1").bind(claimed.id()).fetch_one(&app.db).await.unwrap();
    assert_eq!(attempt_count, 2, "the dead instance's attempt and the one that finished");
    let recorded = attempts(&app, target.mailbox_id).await;
    assert_eq!(recorded.len(), 2);
    // The dead instance's attempt never ended by itself: the take-over closes it as interrupted.
    assert_eq!(recorded[0].2.as_deref(), Some("interrupted"), "{recorded:?}");
    assert_eq!(recorded[1].2.as_deref(), Some("completed"));
}

#[tokio::test]
async fn a_restore_that_keeps_failing_is_cancelled_after_its_last_retry() {
    let app = test_app_with(|config| config.max_retries = 3).await;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_at, updated_at, next_run_at) \
         VALUES ('R-TESTRETRY', 'restore', 1, 'on_queue', '{\"script\":\"unknown_always\"}', $1, $1, $1)",
    )
    .bind(now)
    .execute(&app.db)
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..10 {
        // Time passes: the retry is due.
        sqlx::query("UPDATE jobs SET next_run_at = $1 WHERE id = 'R-TESTRETRY' AND next_run_at IS NOT NULL")
            .bind(now_ms())
            .execute(&app.db)
            .await
            .unwrap();
        app.state.engine.run_due().await.unwrap();
        let (status, retries): (String, i32) =
            sqlx::query_as("SELECT status, retries FROM jobs WHERE id = 'R-TESTRETRY'").fetch_one(&app.db).await.unwrap();
        seen.push((status.clone(), retries));
        if status == "cancelled" {
            break;
        }
    }
    assert_eq!(seen, vec![("retrying".into(), 1), ("retrying".into(), 2), ("retrying".into(), 3), ("cancelled".into(), 3)]);
}

#[tokio::test]
async fn accounts_not_backed_up_within_the_interval_get_a_scheduled_backup() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let target = mailbox_in(&app, &admin, JobStatus::Completed).await;
    assert_eq!(app.state.engine.schedule_backups().await.unwrap(), 0, "the demo's completed backups are recent");

    sqlx::query("UPDATE backups SET last_backup_at = $1 WHERE mailbox_id = $2")
        .bind(now_ms() - 25 * 3_600_000)
        .bind(target.mailbox_id)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.state.engine.schedule_backups().await.unwrap(), 1);
    assert_eq!(backup(&app, &admin, target.mailbox_id).await.status, JobStatus::PreparingBackup);
    assert_eq!(app.state.engine.schedule_backups().await.unwrap(), 0, "not twice");
}

#[tokio::test]
async fn a_run_that_lost_its_claim_to_the_same_instance_does_not_write_over_the_new_one() {
    let app = test_app().await;
    // One instance claims the run twice (its first claim's lease ran out): only the later claim may finish it.
    let (_, _, engine) = forced_backup_and_short_lease_engine(&app).await;
    let first = engine.claim().await.unwrap().expect("a due job");
    let second = engine.claim().await.unwrap().expect("the same job, its lease over");
    assert_eq!(first.id(), second.id());
    let (attempts,): (i32,) =
        sqlx::query_as("SELECT attempts FROM jobs WHERE id = $1").bind(first.id()).fetch_one(&app.db).await.unwrap();
    assert_eq!(attempts, 2);

    let status = |id: String| {
        let db = app.db.clone();
        async move {
            let (status,): (String,) =
                sqlx::query_as("SELECT status FROM jobs WHERE id = $1").bind(id).fetch_one(&db).await.unwrap();
            status
        }
    };
    engine.finish_claimed(&first, &Outcome::Authentication("stale run".into())).await.unwrap();
    assert_eq!(status(first.id().to_owned()).await, "in_progress", "the stale run's result is ignored");
    engine.finish_claimed(&second, &Outcome::Completed).await.unwrap();
    assert_eq!(status(first.id().to_owned()).await, "completed");
}

#[tokio::test]
async fn a_database_error_in_a_run_is_never_shown_in_the_job() {
    let app = test_app().await;
    app.state.engine.run_due().await.unwrap();
    // A restore from an IMAP mailbox whose settings table is gone: the connector's first
    // query fails with the database's own words (the table's name, the driver's text).
    sqlx::query("UPDATE mailboxes SET connector = 'imap' WHERE id = 2").execute(&app.db).await.unwrap();
    sqlx::query("DROP TABLE imap_accounts").execute(&app.db).await.unwrap();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at, next_run_at) \
         VALUES ('R-DBERROR1', 'restore', 2, 'on_queue', $1, $1, $1)",
    )
    .bind(now)
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(app.state.engine.run_due().await.unwrap(), 1);

    let (status, detail): (String, Option<String>) =
        sqlx::query_as("SELECT status, detail FROM jobs WHERE id = 'R-DBERROR1'").fetch_one(&app.db).await.unwrap();
    let (attempt_detail,): (Option<String>,) =
        sqlx::query_as("SELECT detail FROM job_attempts WHERE job_id = 'R-DBERROR1'").fetch_one(&app.db).await.unwrap();
    assert_eq!(status, "retrying", "an unknown error is retried, as before");
    let expected = "Something went wrong on our side while looking up the destination mailbox; it will be tried again.";
    assert_eq!(detail.as_deref(), Some(expected));
    assert_eq!(attempt_detail.as_deref(), Some(expected));
}

#[tokio::test]
async fn a_run_whose_instance_stopped_is_shown_interrupted_until_a_worker_takes_it_over() {
    let app = test_app().await;
    // Claimed by an instance whose lease is over at once: as if it died mid-run.
    let (admin, target, stopped) = forced_backup_and_short_lease_engine(&app).await;
    let claimed = stopped.claim().await.unwrap().expect("the forced backup");
    let row = backup(&app, &admin, target.mailbox_id).await;
    assert_eq!(row.status, JobStatus::InProgress);
    assert!(row.run.interrupted_at.is_some(), "a lapsed claim is never shown as running: {:?}", row.run);

    // A worker of a live instance takes it over: running again, no longer interrupted.
    let again = app.state.engine.claim().await.unwrap().expect("the interrupted run");
    assert_eq!(again.id(), claimed.id());
    let row = backup(&app, &admin, target.mailbox_id).await;
    assert_eq!((row.status, row.run.interrupted_at), (JobStatus::InProgress, None));
    app.state.engine.finish_claimed(&again, &Outcome::Completed).await.unwrap();
    let row = backup(&app, &admin, target.mailbox_id).await;
    assert_eq!((row.status, row.run.interrupted_at), (JobStatus::Completed, None));
}

/// The statuses one organisation's demo mailboxes (or one mailbox) show for a kind
/// (backups: the Backups list).
async fn demo_statuses(app: &TestApp, kind: portal_api::JobKind, condition: &str, id: i64) -> Vec<String> {
    let sql = if kind == portal_api::JobKind::Backup {
        format!("SELECT DISTINCT b.status FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id WHERE {condition} AND $2 <> ''")
    } else {
        format!("SELECT DISTINCT j.status FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id WHERE {condition} AND j.kind = $2")
    };
    let rows: Vec<(String,)> = sqlx::query_as(&sql).bind(id).bind(kind.as_str()).fetch_all(&app.db).await.unwrap();
    rows.into_iter().map(|(status,)| status).collect()
}

#[tokio::test]
async fn the_demo_brings_back_a_status_that_passed_through_a_real_run() {
    use portal_api::JobKind;
    let app = test_app().await;
    // Time passes: every waiting retry comes due and succeeds, as in a demo left running.
    for _ in 0..3 {
        sqlx::query("UPDATE jobs SET next_run_at = $1 WHERE next_run_at IS NOT NULL")
            .bind(now_ms())
            .execute(&app.db)
            .await
            .unwrap();
        app.state.engine.run_due().await.unwrap();
    }
    let (alice,): (i64,) = sqlx::query_as("SELECT id FROM mailboxes WHERE email = $1")
        .bind(portal_api::demo::DEMO_SIGN_INS[0].1)
        .fetch_one(&app.db)
        .await
        .unwrap();
    // What the demo organisation admin (organisation 1) and end user see.
    let scopes = [("m.organisation_id = $1", 1, &JobKind::ALL[..]), ("m.id = $1", alice, &JobKind::ALL[1..])];
    for (condition, id, kinds) in scopes {
        for &kind in kinds {
            let shown = demo_statuses(&app, kind, condition, id).await;
            for gone in ["retrying", "connection_error", "on_queue", "preparing_backup"] {
                assert!(
                    !shown.iter().any(|s| s == gone),
                    "{condition} {id} {kind}: {gone} still shown after every retry ran: {shown:?}"
                );
            }
        }
    }
    let (seeded,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs").fetch_one(&app.db).await.unwrap();

    let started = portal_server::seed::director::keep_every_status(&app.db).await.unwrap();
    assert!(started > 0);
    // What waits is seen waiting; the runs that start now end in the statuses that had gone,
    // in the organisation and in the end user's own mailbox.
    app.state.engine.run_due().await.unwrap();
    for (condition, id, kinds) in scopes {
        for &kind in kinds {
            let shown = demo_statuses(&app, kind, condition, id).await;
            let waiting = if kind == JobKind::Backup { "preparing_backup" } else { "on_queue" };
            for back in [waiting, "retrying", "connection_error", "completed", "partially_complete"] {
                assert!(
                    !kind.allows(back.parse().unwrap()) || shown.iter().any(|s| s == back),
                    "{condition} {id} {kind}: no {back} in {shown:?}"
                );
            }
        }
    }
    // Nothing else is missing: a second look starts only runs In Progress again (their slow
    // script ends at once here, where the demo's steps take no time).
    let before = now_ms();
    portal_server::seed::director::keep_every_status(&app.db).await.unwrap();
    let again: Vec<(String,)> =
        sqlx::query_as("SELECT params FROM jobs WHERE created_at >= $1").bind(before).fetch_all(&app.db).await.unwrap();
    assert!(again.iter().all(|(params,)| params.contains(r#""script":"slow""#)), "{again:?}");

    // Hours later, the director's finished runs are removed (a download's file too); the
    // seed's jobs and every mailbox's current backup stay.
    app.state.engine.run_due().await.unwrap();
    let removed =
        portal_server::seed::director::remove_old_runs(&app.db, &app.state.config.data_dir, None, now_ms() + 1).await.unwrap();
    assert!(removed > 0);
    let (left,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE params NOT LIKE '%demo_cycle%'").fetch_one(&app.db).await.unwrap();
    assert_eq!(left, seeded, "no job but the director's is removed");
    let (dangling,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM backups b LEFT JOIN jobs j ON j.id = b.current_job_id WHERE j.id IS NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(dangling, 0, "every Backups row keeps its current run");
}

/// A job's status and detail as stored.
async fn stored_status(app: &TestApp, id: &str) -> (String, String) {
    let (status, detail): (String, Option<String>) =
        sqlx::query_as("SELECT status, detail FROM jobs WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap();
    (status, detail.unwrap_or_default())
}

#[tokio::test]
async fn a_job_row_this_server_cannot_read_is_set_aside_and_the_queue_goes_on() {
    let app = test_app().await;
    app.state.engine.run_due().await.unwrap();
    let now = now_ms();
    // Written by a newer server (or by hand): a kind and parameters this build cannot read.
    for (id, kind, params) in [("X-UNKNOWN", "archive", "{}"), ("R-BADPARAMS", "restore", r#"{"folders":5}"#)] {
        sqlx::query(
            "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_at, updated_at, next_run_at) \
             VALUES ($1, $2, 1, 'on_queue', $3, $4, $4, $4)",
        )
        .bind(id)
        .bind(kind)
        .bind(params)
        .bind(now - 1)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let admin = app.sign_in(Role::OrgAdmin).await;
    let forced = app.send_as(&admin, Method::POST, "/api/backups/2/force", None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED);

    // Both are dealt with, and the backup due after them still runs.
    assert!(app.state.engine.run_due().await.unwrap() >= 2);
    let (unknown, why) = stored_status(&app, "X-UNKNOWN").await;
    assert_eq!(unknown, "failed");
    assert!(why.contains("cannot run a job of this kind"), "{why}");
    let (bad, why) = stored_status(&app, "R-BADPARAMS").await;
    assert_eq!(bad, "failed");
    assert!(why.contains("stored parameters could not be read"), "{why}");
    assert_eq!(backup(&app, &admin, 2).await.status, JobStatus::Completed);
}
