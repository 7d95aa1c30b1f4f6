//! Live updates that scale with the changes, not the pages open: one poller per server
//! instance whatever the number of streams (and none when no stream is open), at most
//! `--max-streams-per-user` streams per user (one more closes the oldest), and each change
//! to every stream whose user may see it, and to no other.

mod common;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{BackupRow, JobChanged, Page, Role};
use portal_server::config::Config;
use portal_server::db::now_ms;
use portal_server::events::hub::{Hub, Stats};
use serde_json::json;

/// The hub's stats once it has done `rounds` more rounds (waiting at most 10 s for them).
async fn rounds_later(hub: &Hub, rounds: u64) -> Stats {
    let target = hub.stats().rounds + rounds;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = hub.stats();
        if stats.rounds >= target {
            return stats;
        }
        assert!(tokio::time::Instant::now() < deadline, "the poller does not go round: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first mailbox in `client`'s Backups list.
async fn first_mailbox(app: &TestApp, client: &Client) -> i64 {
    let page: Page<BackupRow> = body_json(app.get_as(client, "/api/backups").await).await;
    page.items[0].mailbox_id
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&app.db).await.unwrap().0
}

/// A mailbox of `client`'s whose backup is not running (so it can be forced).
async fn idle_mailbox(app: &TestApp, client: &Client) -> i64 {
    let page: Page<BackupRow> = body_json(app.get_as(client, "/api/backups?status=completed").await).await;
    page.items[0].mailbox_id
}

/// The job events a stream sends up to and with the first that satisfies `last`.
async fn events_until(body: &mut Body, last: impl Fn(&JobChanged) -> bool) -> Vec<JobChanged> {
    let seen = RefCell::new(Vec::new());
    let found = next_job_event(
        body,
        |change| {
            seen.borrow_mut().push(change.clone());
            last(change)
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(found.is_some(), "the awaited change did not arrive; got {:?}", seen.borrow());
    seen.into_inner()
}

#[tokio::test]
async fn one_stream_too_many_closes_the_users_oldest() {
    let app = test_app().await;
    let hub = &app.state.live;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let admin_id = user_id(&app, &admin.session.email).await;
    let reseller_id = user_id(&app, &reseller.session.email).await;
    let reseller_stream = app.send(events_request(&reseller, None)).await;

    // The default limit is 4; the fifth stream closes the first.
    let mut streams = Vec::new();
    for _ in 0..5 {
        let response = app.send(events_request(&admin, None)).await;
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response.into_body());
    }
    let first = streams.remove(0);
    let ended = tokio::time::timeout(Duration::from_secs(10), axum::body::to_bytes(first, 1 << 20)).await;
    let text = String::from_utf8(ended.expect("the oldest stream ended").unwrap().to_vec()).unwrap();
    assert!(text.contains("retry: 60000"), "the browser is told to wait before it reconnects: {text:?}");
    assert_eq!(hub.open_streams(admin_id), 4);
    assert_eq!(hub.open_streams(reseller_id), 1, "another user's streams are not counted against this one");

    // The newest is live.
    let target = idle_mailbox(&app, &admin).await;
    app.send_as(&admin, Method::POST, &format!("/api/backups/{target}/force"), None).await;
    let newest = streams.last_mut().unwrap();
    assert!(next_job_event(newest, |c| c.mailbox_id == target, Duration::from_secs(10)).await.is_some());

    // Closed streams leave the list.
    drop(streams);
    assert_eq!(hub.open_streams(admin_id), 0);
    drop(reseller_stream);
    assert_eq!(hub.open_streams(reseller_id), 0);
}

#[tokio::test]
async fn the_limit_is_a_flag_of_at_least_one() {
    use clap::Parser;
    assert_eq!(Config::parse_from(["portal-server"]).max_streams_per_user, 4);
    assert_eq!(Config::parse_from(["portal-server", "--max-streams-per-user", "1"]).max_streams_per_user, 1);
    assert!(Config::try_parse_from(["portal-server", "--max-streams-per-user", "0"]).is_err(), "a limit of 0 is refused");

    // With a limit of 1, each new page of the user replaces the previous one.
    let app = test_app_with(|config| config.max_streams_per_user = 1).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let first = app.send(events_request(&admin, None)).await;
    let _second = app.send(events_request(&admin, None)).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), axum::body::to_bytes(first.into_body(), 1 << 20)).await;
    assert!(ended.expect("the first stream ended").is_ok());
    assert_eq!(app.state.live.open_streams(user_id(&app, &admin.session.email).await), 1);
}

#[tokio::test]
async fn many_open_streams_cost_one_pollers_reads() {
    let app = test_app_with(|config| config.max_streams_per_user = 20).await;
    let hub = Arc::clone(&app.state.live);
    assert!(!hub.polling(), "no stream open, no poller");
    let admin = app.sign_in(Role::OrgAdmin).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let end_user = app.sign_in(Role::EndUser).await;

    let mut streams = vec![app.send(events_request(&admin, None)).await];
    assert!(hub.polling());
    // After its first round (which may read what seeding just wrote), nothing changes: each
    // round reads the same.
    let one_start = rounds_later(&hub, 1).await;
    let one = rounds_later(&hub, 4).await;
    let rounds = one.rounds - one_start.rounds;
    let reads = one.poll_reads - one_start.poll_reads;
    assert_eq!(reads % rounds, 0, "{one_start:?} {one:?}");
    let reads_per_round = reads / rounds;

    for client in [&admin, &reseller, &end_user] {
        for _ in 0..8 {
            streams.push(app.send(events_request(client, None)).await);
        }
    }
    let many_start = rounds_later(&hub, 1).await;
    let many = rounds_later(&hub, 4).await;
    assert_eq!(
        many.poll_reads - many_start.poll_reads,
        reads_per_round * (many.rounds - many_start.rounds),
        "25 streams read as much as one: {many_start:?} {many:?}"
    );
    assert_eq!(many.stream_reads, 0, "no stream reads by itself");
    assert_eq!(many.pollers, 1, "one poller for all");

    // With every stream closed the poller stops: no reads for live updates on an idle server.
    drop(streams);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.polling() {
        assert!(tokio::time::Instant::now() < deadline, "the poller still runs with no stream open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the next stream starts it again.
    let again = app.send(events_request(&reseller, None)).await;
    assert!(hub.polling());
    assert_eq!(hub.stats().pollers, 2);
    drop(again);
}

#[tokio::test]
async fn a_resuming_stream_reads_what_it_missed_by_itself_then_follows_the_poller() {
    let app = test_app().await;
    let hub = &app.state.live;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let before = now_ms() - 1;
    let missed = idle_mailbox(&app, &admin).await;
    app.send_as(&admin, Method::POST, &format!("/api/backups/{missed}/force"), None).await;

    let mut body = app.send(events_request(&admin, Some(before))).await.into_body();
    assert!(next_job_event(&mut body, |c| c.mailbox_id == missed, Duration::from_secs(10)).await.is_some());
    assert!(hub.stats().stream_reads >= 1, "the resume was read by the stream itself");
    let after_resume = hub.stats().stream_reads;

    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let next = page.items.iter().map(|row| row.mailbox_id).find(|id| *id != missed).unwrap();
    app.send_as(&admin, Method::POST, &format!("/api/backups/{next}/force"), None).await;
    assert!(next_job_event(&mut body, |c| c.mailbox_id == next, Duration::from_secs(10)).await.is_some());
    assert_eq!(hub.stats().stream_reads, after_resume, "caught up, it reads no more by itself");
}

#[tokio::test]
async fn a_change_reaches_every_stream_that_may_see_it_and_no_other() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let end_user = app.sign_in(Role::EndUser).await;
    let other_reseller = app.sign_in_as("reseller@harbour.example").await;

    let mut admin_streams = Vec::new();
    for _ in 0..2 {
        admin_streams.push(app.send(events_request(&admin, None)).await.into_body());
    }
    let mut reseller_stream = app.send(events_request(&reseller, None)).await.into_body();
    let mut end_user_stream = app.send(events_request(&end_user, None)).await.into_body();
    let mut outsider_stream = app.send(events_request(&other_reseller, None)).await.into_body();

    // A change in the admin's organisation, on a mailbox that is not the end user's.
    let end_users_mailbox = first_mailbox(&app, &end_user).await;
    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let changed = page.items.iter().map(|row| row.mailbox_id).find(|id| *id != end_users_mailbox).unwrap();
    assert_eq!(
        app.send_as(&admin, Method::POST, &format!("/api/backups/{changed}/force"), None).await.status(),
        StatusCode::ACCEPTED
    );
    for body in admin_streams.iter_mut().chain([&mut reseller_stream]) {
        assert!(next_job_event(body, |c| c.mailbox_id == changed, Duration::from_secs(10)).await.is_some());
    }

    // Then a change each of the others may see. The poller sends changes in order, so each
    // stream would have had the first one before its own.
    let outsiders_mailbox = first_mailbox(&app, &other_reseller).await;
    let marker = |mailbox_id: i64| {
        let db = app.db.clone();
        async move {
            let (job_id,): (String,) =
                sqlx::query_as("SELECT MIN(id) FROM jobs WHERE mailbox_id = $1").bind(mailbox_id).fetch_one(&db).await.unwrap();
            sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = $2").bind(now_ms()).bind(&job_id).execute(&db).await.unwrap();
            job_id
        }
    };
    let end_users_marker = marker(end_users_mailbox).await;
    let outsiders_marker = marker(outsiders_mailbox).await;
    for (body, marker) in [(&mut end_user_stream, &end_users_marker), (&mut outsider_stream, &outsiders_marker)] {
        let seen = events_until(body, |c| c.id == *marker).await;
        assert!(seen.iter().all(|c| c.mailbox_id != changed), "a change outside the user's scope was sent: {seen:?}");
    }
}

#[tokio::test]
async fn signing_out_ends_the_users_streams_at_once_and_a_session_ended_elsewhere_soon() {
    let app = test_app().await;
    let hub = &app.state.live;
    let laptop = app.sign_in(Role::OrgAdmin).await;
    let phone = app.sign_in(Role::OrgAdmin).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let admin_id = user_id(&app, &laptop.session.email).await;
    let reseller_id = user_id(&app, &reseller.session.email).await;
    let phone_stream = app.send(events_request(&phone, None)).await.into_body();
    let reseller_stream = app.send(events_request(&reseller, None)).await.into_body();

    // Signed out on this instance: the hub lets go of the user's streams before the answer.
    assert_eq!(app.send_as(&laptop, Method::DELETE, "/api/session", None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(hub.open_streams(admin_id), 0);
    let ended = tokio::time::timeout(Duration::from_secs(10), axum::body::to_bytes(phone_stream, 1 << 20)).await;
    assert!(ended.expect("the stream ended").is_ok());

    // Ended by another instance (or expired): the poller's session check, every 5 s, finds it.
    let checks = hub.stats().session_reads;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(reseller_id).execute(&app.db).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), axum::body::to_bytes(reseller_stream, 1 << 20)).await;
    assert!(ended.expect("the stream ended").is_ok());
    assert!(hub.stats().session_reads > checks, "found by a session check");
    assert_eq!(hub.open_streams(reseller_id), 0);
}

#[tokio::test]
async fn a_token_stream_lives_past_session_checks_and_ends_when_the_token_is_revoked() {
    let app = test_app().await;
    let hub = &app.state.live;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let admin_id = user_id(&app, &admin.session.email).await;
    let body = json!({ "name": "RMM", "access": "read", "expires_in_days": 1 });
    let created: portal_api::CreatedApiToken = body_json(app.send_as(&admin, Method::POST, "/api/tokens", Some(body)).await).await;
    let request = axum::http::Request::get("/api/events")
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {}", created.token))
        .body(Body::empty())
        .unwrap();
    let mut stream = app.send(request).await.into_body();

    // Two session checks later (every 5 s) it is still open, and a change reaches it.
    let checks = hub.stats().session_reads;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hub.stats().session_reads < checks + 2 {
        assert!(tokio::time::Instant::now() < deadline, "no session check ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hub.open_streams(admin_id), 1, "a token's stream is not a session that ended");
    let mailbox = idle_mailbox(&app, &admin).await;
    assert_eq!(app.send_as(&admin, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await.status(), StatusCode::ACCEPTED);
    events_until(&mut stream, |change| change.mailbox_id == mailbox).await;

    // Revoked: the next check ends it.
    let revoke = format!("/api/tokens/{}", created.api_token.id);
    assert_eq!(app.send_as(&admin, Method::DELETE, &revoke, None).await.status(), StatusCode::NO_CONTENT);
    let ended = tokio::time::timeout(Duration::from_secs(20), axum::body::to_bytes(stream, 1 << 20)).await;
    assert!(ended.expect("the stream ended").is_ok());
    assert_eq!(hub.open_streams(admin_id), 0);
}
