//! HaloPSA tickets against the Halo built in (on a loopback port, as a real Halo would be):
//! tickets that open once, take notes and close themselves; a refused token asked for again
//! once; Retry-After honoured; refusals shown on the Deliveries page; nothing lost across a
//! restart or an instance stopped mid-attempt; the saved secret sent only to its Halo; who may.
//! Webhooks: `webhooks.rs`.

mod common;

use axum::http::{Method, StatusCode};
use common::halo::*;
use common::*;
use portal_api::{BackupRow, DeliveryStatus, HaloTest, JobStatus, Page, Role};
use portal_halo::{Fault, Halo, HaloConfig, CLOSED_STATUS_ID};
use serde_json::{json, Value};

#[tokio::test]
async fn a_backup_error_opens_one_ticket_repeats_add_notes_and_the_next_backup_closes_it() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, organisation) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;

    back_up(&app, &admin, target.mailbox_id).await;
    let opened = tickets_about(&halo, &target.mailbox_email);
    assert_eq!(opened.len(), 1, "one ticket: {opened:?}");
    assert!(opened[0].summary.starts_with("The email backup has failed"), "{}", opened[0].summary);
    assert_eq!(opened[0].client_id, 1);
    let row: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{}", target.mailbox_id)).await).await;
    assert_eq!(row.ticket.as_ref().map(|t| t.id), Some(opened[0].id), "the row names the ticket");

    back_up(&app, &admin, target.mailbox_id).await;
    back_up(&app, &admin, target.mailbox_id).await;
    let noted = tickets_about(&halo, &target.mailbox_email);
    assert_eq!(noted.len(), 1, "never a second ticket while one is open");
    let notes: Vec<&str> = noted[0].actions.iter().map(|a| a.note.as_str()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains("3 times"), "the count: {notes:?}");

    script(&app, target.mailbox_id, "ok").await;
    back_up(&app, &admin, target.mailbox_id).await;
    let closed = tickets_about(&halo, &target.mailbox_email);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].status_id, CLOSED_STATUS_ID, "closed once the backup completed");
    assert!(closed[0].actions.last().unwrap().note.contains("is resolved"), "{:?}", closed[0].actions);
    let row: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{}", target.mailbox_id)).await).await;
    assert_eq!(row.status, JobStatus::Completed);
    assert_eq!(row.ticket, None);

    // Failing again later opens a new ticket.
    script(&app, target.mailbox_id, "unknown_always").await;
    back_up(&app, &admin, target.mailbox_id).await;
    assert_eq!(tickets_about(&halo, &target.mailbox_email).len(), 2);
    let all = deliveries(&app, &admin, organisation).await;
    assert!(all.iter().all(|d| d.status == DeliveryStatus::Delivered), "{all:?}");
}

#[tokio::test]
async fn a_refused_token_is_asked_for_again_once() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, _) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;
    back_up(&app, &admin, target.mailbox_id).await;
    assert_eq!(halo.token_requests(), 1);

    halo.revoke_tokens();
    back_up(&app, &admin, target.mailbox_id).await;
    assert_eq!(halo.token_requests(), 2, "one new token after the 401");
    assert_eq!(tickets_about(&halo, &target.mailbox_email)[0].actions.len(), 1, "and the note went in");
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_delivers() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, organisation) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;
    halo.add_fault(Fault { path: Some("/api/Tickets".into()), status: Some(429), retry_after: Some(2), ..Fault::default() });
    back_up(&app, &admin, target.mailbox_id).await;
    assert!(tickets_about(&halo, &target.mailbox_email).is_empty());
    let waiting =
        deliveries(&app, &admin, organisation).await.into_iter().find(|d| d.summary.contains(&target.mailbox_email)).unwrap();
    assert_eq!(waiting.status, DeliveryStatus::Pending);
    assert_eq!(waiting.attempts[0].http_status, Some(429));
    let next =
        time::OffsetDateTime::parse(waiting.next_attempt_at.as_deref().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let wait = next - time::OffsetDateTime::now_utc();
    assert!(wait.whole_milliseconds() > 500 && wait.whole_seconds() <= 2, "Retry-After: 2 s, not the backoff: {wait}");

    app.state.notifier.run_due().await.unwrap();
    assert!(tickets_about(&halo, &target.mailbox_email).is_empty(), "not before the wait is over");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.state.notifier.run_due().await.unwrap();
    assert_eq!(tickets_about(&halo, &target.mailbox_email).len(), 1);
}

#[tokio::test]
async fn conflicts_and_refused_fields_fail_at_once_with_halos_message_and_send_again_delivers() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, organisation) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;
    halo.add_fault(Fault {
        path: Some("/api/Tickets".into()),
        status: Some(422),
        message: Some("The Summary field is too long.".into()),
        ..Fault::default()
    });
    back_up(&app, &admin, target.mailbox_id).await;
    let failed =
        deliveries(&app, &admin, organisation).await.into_iter().find(|d| d.summary.contains(&target.mailbox_email)).unwrap();
    assert_eq!(failed.status, DeliveryStatus::Failed, "422 would be refused again: no retry");
    assert_eq!(failed.attempts.len(), 1);
    assert_eq!(failed.attempts[0].http_status, Some(422));
    assert!(failed.attempts[0].answer.contains("HaloPSA answered 422"), "{}", failed.attempts[0].answer);
    let dashboard: portal_api::Dashboard = body_json(app.get_as(&admin, "/api/dashboard").await).await;
    assert_eq!(dashboard.failed_deliveries, 1, "the organisation's admins see it");

    halo.add_fault(Fault {
        path: Some("/api/Tickets".into()),
        status: Some(409),
        message: Some("Ticket is locked by another agent.".into()),
        ..Fault::default()
    });
    let again = app.send_as(&admin, Method::POST, &format!("/api/deliveries/{}/send-again", failed.id), None).await;
    assert_eq!(again.status(), StatusCode::OK);
    app.state.notifier.run_due().await.unwrap();
    let conflict = deliveries(&app, &admin, organisation).await.into_iter().find(|d| d.id == failed.id).unwrap();
    assert_eq!(conflict.status, DeliveryStatus::Failed);
    assert_eq!(conflict.attempts[1].http_status, Some(409));
    assert!(conflict.attempts[1].answer.contains("Ticket is locked by another agent."), "{}", conflict.attempts[1].answer);

    app.send_as(&admin, Method::POST, &format!("/api/deliveries/{}/send-again", failed.id), None).await;
    app.state.notifier.run_due().await.unwrap();
    let delivered = deliveries(&app, &admin, organisation).await.into_iter().find(|d| d.id == failed.id).unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(tickets_about(&halo, &target.mailbox_email).len(), 1);
    let done = app.send_as(&admin, Method::POST, &format!("/api/deliveries/{}/send-again", failed.id), None).await;
    problem(done, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn an_event_recorded_before_a_restart_is_delivered_after_it_once() {
    let first = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, _) = with_halo(&first, &url).await;
    let target = failing_mailbox(&first, &admin).await;
    first.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", target.mailbox_id), None).await;
    first.state.engine.run_due().await.unwrap();
    // The server stops here, between the event and its delivery.
    let common::TestApp { dir, state, .. } = first;
    let database_url = state.config.database_url.clone();
    drop(state);
    let second = test_app_at(dir, database_url, |_| {}).await;
    second.state.notifier.run_due().await.unwrap();
    second.state.notifier.run_due().await.unwrap();
    assert_eq!(tickets_about(&halo, &target.mailbox_email).len(), 1, "delivered once after the restart");

    // An attempt whose answer was lost (the ticket was made, the connection dropped) finds the
    // ticket on its retry instead of opening a second.
    let other: Page<BackupRow> =
        body_json(second.get_as(&second.sign_in(Role::OrgAdmin).await, "/api/backups?status=completed").await).await;
    let other = other.items.into_iter().find(|b| b.mailbox_id != target.mailbox_id).unwrap();
    script(&second, other.mailbox_id, "unknown_always").await;
    halo.add_fault(Fault { path: Some("/api/Tickets".into()), drop: Some(true), after_serving: Some(true), ..Fault::default() });
    let admin = second.sign_in(Role::OrgAdmin).await;
    back_up(&second, &admin, other.mailbox_id).await;
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'pending'").execute(&second.db).await.unwrap();
    second.state.notifier.run_due().await.unwrap();
    assert_eq!(tickets_about(&halo, &other.mailbox_email).len(), 1, "found, not opened twice");
}

#[tokio::test]
async fn test_connection_names_the_field_to_change_with_halos_status_and_message() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = own_organisation(&app, &admin).await;
    let test = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let response = app
                .send_as(admin, Method::POST, &format!("/api/organisations/{organisation}/integrations/halo/test"), Some(body))
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            body_json::<HaloTest>(response).await
        }
    };
    let wrong = test(settings(&url, "not-the-secret", 1)).await;
    assert!(!wrong.ok);
    assert_eq!((wrong.field.as_deref(), wrong.halo_status), (Some("client_secret"), Some(401)));
    assert!(wrong.halo_message.is_some());

    let right = test(settings(&url, &HaloConfig::demo().client_secret, 1)).await;
    assert!(right.ok, "{right:?}");
    assert!(right.client_name.is_some());

    let no_client = test(settings(&url, &HaloConfig::demo().client_secret, 999)).await;
    assert_eq!((no_client.field.as_deref(), no_client.halo_status), (Some("halo_client_id"), Some(404)));

    halo.set_permissions(vec!["read:tickets".into(), "edit:tickets".into()]);
    let lacking = test(settings(&url, &HaloConfig::demo().client_secret, 1)).await;
    assert_eq!((lacking.field.as_deref(), lacking.halo_status), (Some("client_id"), Some(403)));
    assert!(lacking.halo_message.unwrap().contains("read:customers"), "Halo names the permission");

    halo.add_fault(Fault { path: Some("/auth/token".into()), status: Some(429), retry_after: Some(27), ..Fault::default() });
    let slow_down = test(settings(&url, &HaloConfig::demo().client_secret, 1)).await;
    assert_eq!((slow_down.halo_status, slow_down.retry_after_seconds), (Some(429), Some(27)));

    let not_halo = test(settings(&format!("{url}/nothing-here"), &HaloConfig::demo().client_secret, 1)).await;
    assert_eq!(not_halo.field.as_deref(), Some("url"));

    let response = app
        .send_as(
            &admin,
            Method::POST,
            &format!("/api/organisations/{organisation}/integrations/halo/test"),
            Some(json!({"url": "ftp://x", "client_id": "", "halo_client_id": "abc"})),
        )
        .await;
    let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    for field in ["url", "client_id", "client_secret", "halo_client_id"] {
        assert!(problem.field_error(field).is_some(), "{field}: {problem:?}");
    }
}

#[tokio::test]
async fn integrations_are_for_the_organisations_admins_and_its_reseller_only() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = own_organisation(&app, &admin).await;
    let user = app.sign_in(Role::EndUser).await;
    for path in ["integrations/halo", "webhooks", "deliveries"] {
        let uri = format!("/api/organisations/{organisation}/{path}");
        assert_eq!(app.get_as(&admin, &uri).await.status(), StatusCode::OK, "{uri}");
        problem(app.get_as(&user, &uri).await, StatusCode::FORBIDDEN).await;
        let elsewhere = format!("/api/organisations/{}/{path}", organisation + 1);
        problem(app.get_as(&admin, &elsewhere).await, StatusCode::NOT_FOUND).await;
    }
    let reseller = app.sign_in(Role::Reseller).await;
    assert_eq!(app.get_as(&reseller, &format!("/api/organisations/{organisation}/webhooks")).await.status(), StatusCode::OK);
    let strict = test_app_with(|c| c.allow_private_targets = false).await;
    let strict_admin = strict.sign_in(Role::OrgAdmin).await;
    let private = strict
        .send_as(
            &strict_admin,
            Method::POST,
            &format!("/api/organisations/{organisation}/webhooks"),
            Some(json!({"url": "https://127.0.0.1/hook"})),
        )
        .await;
    assert!(problem(private, StatusCode::UNPROCESSABLE_ENTITY).await.field_error("url").unwrap().contains("private"));
}

#[tokio::test]
async fn credential_tickets_open_on_a_break_or_before_an_expiry_and_close_when_fixed_or_renewed() {
    use portal_api::CredentialKind;
    use portal_server::credentials::store;
    const DAY: i64 = 86_400_000;
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (_, organisation) = with_halo(&app, &url).await;
    let now = portal_server::db::now_ms();
    let set_expiry = |at: i64| {
        sqlx::query("UPDATE credentials SET expires_at = $1, state = 'working' WHERE organisation_id = $2 AND kind = 'device'")
            .bind(at)
            .bind(organisation)
            .execute(&app.db)
    };
    set_expiry(now + 10 * DAY).await.unwrap();
    assert!(app.state.notifier.check_expiring().await.unwrap() >= 1, "the 14-day warning");
    assert_eq!(app.state.notifier.check_expiring().await.unwrap(), 0, "once per expiry date");
    app.state.notifier.run_due().await.unwrap();
    let expiring = |halo: &Halo| {
        halo.tickets().into_iter().filter(|t| t.summary.contains("Device Authorization expires")).collect::<Vec<_>>()
    };
    assert_eq!(expiring(&halo).len(), 1);
    set_expiry(now + 2 * DAY).await.unwrap();
    assert!(app.state.notifier.check_expiring().await.unwrap() >= 1, "the 3-day warning");
    app.state.notifier.run_due().await.unwrap();
    let warned = expiring(&halo);
    assert_eq!((warned.len(), warned[0].actions.len()), (1, 1), "the 3-day warning is a note on the same ticket");

    store::save_working(&app.db, organisation, CredentialKind::Device, None, Some("sealed"), Some(now + 90 * DAY), "renewed")
        .await
        .unwrap();
    app.state.notifier.run_due().await.unwrap();
    assert_eq!(expiring(&halo)[0].status_id, CLOSED_STATUS_ID, "renewed: closed");

    let mut conn = app.db.acquire().await.unwrap();
    store::mark_broken(&mut conn, organisation, CredentialKind::MainApp, "The consent was revoked.", now).await.unwrap();
    drop(conn);
    app.state.notifier.run_due().await.unwrap();
    let title = CredentialKind::MainApp.event_title(false);
    let broken: Vec<_> = halo.tickets().into_iter().filter(|t| t.summary.starts_with(title)).collect();
    assert_eq!(broken.len(), 1, "{:?}", halo.tickets());
    assert!(broken[0].details.contains("The consent was revoked."));
    store::save_working(&app.db, organisation, CredentialKind::MainApp, None, None, None, "consented again").await.unwrap();
    app.state.notifier.run_due().await.unwrap();
    let fixed: Vec<_> = halo.tickets().into_iter().filter(|t| t.summary.starts_with(title)).collect();
    assert_eq!(fixed[0].status_id, CLOSED_STATUS_ID);
    assert!(fixed[0].actions.last().unwrap().note.contains(CredentialKind::MainApp.event_title(true)), "{:?}", fixed[0].actions);
}

#[tokio::test]
async fn the_saved_secret_is_sent_only_to_the_halo_it_was_given_for() {
    let app = test_app().await;
    let (_, url) = halo_on_loopback().await;
    let (admin, organisation) = with_halo(&app, &url).await;
    let uri = format!("/api/organisations/{organisation}/integrations/halo");
    let saved: portal_api::HaloSettings = body_json(app.get_as(&admin, &uri).await).await;
    assert!(saved.secret_saved);
    assert!(!serde_json::to_string(&saved).unwrap().contains(&HaloConfig::demo().client_secret), "never sent back");
    // The same Halo with the secret left empty: the saved one is used.
    let same = app.send_as(&admin, Method::POST, &format!("{uri}/test"), Some(settings(&url, "", 1))).await;
    assert!(body_json::<HaloTest>(same).await.ok);
    // Another address with the secret left empty: refused before anything is sent.
    let (elsewhere, other_url) = halo_on_loopback().await;
    for method in [Method::POST, Method::PUT] {
        let path = if method == Method::POST { format!("{uri}/test") } else { uri.clone() };
        let response = app.send_as(&admin, method, &path, Some(settings(&other_url, "", 1))).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem.field_error("client_secret").unwrap().contains("Enter the client secret again"), "{problem:?}");
    }
    assert!(elsewhere.requests().is_empty(), "nothing reached the other address: {:?}", elsewhere.requests());
    // The same address with another tenant, or another application: the same.
    let mut other_tenant = settings(&url, "", 1);
    other_tenant["tenant"] = json!("someone-else");
    let mut other_application = settings(&url, "", 1);
    other_application["client_id"] = json!("another-application");
    for body in [other_tenant, other_application] {
        let response = app.send_as(&admin, Method::POST, &format!("{uri}/test"), Some(body)).await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY).await.field_error("client_secret").unwrap();
    }
}

#[tokio::test]
async fn another_halo_or_a_ticket_closed_by_hand_gets_a_new_ticket_never_a_note_on_the_old_one() {
    let app = test_app().await;
    let (first, url) = halo_on_loopback().await;
    let (admin, organisation) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;
    back_up(&app, &admin, target.mailbox_id).await;
    let ticket = tickets_about(&first, &target.mailbox_email)[0].id;

    // Closed by an agent in Halo: the next failure opens a new ticket.
    assert!(first.agent_sets(ticket, Some(CLOSED_STATUS_ID)));
    back_up(&app, &admin, target.mailbox_id).await;
    let now = tickets_about(&first, &target.mailbox_email);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now[0].actions.is_empty(), "nothing written to the closed one");
    // Deleted in Halo: the same.
    assert!(first.agent_sets(now[1].id, None));
    back_up(&app, &admin, target.mailbox_id).await;
    assert_eq!(tickets_about(&first, &target.mailbox_email).len(), 2, "one deleted, one new");

    // The organisation moves to another Halo: the row no longer names the first one's ticket,
    // and the next failure opens a ticket there, nothing in the first.
    let (second, second_url) = halo_on_loopback().await;
    let uri = format!("/api/organisations/{organisation}/integrations/halo");
    let moved = app.send_as(&admin, Method::PUT, &uri, Some(settings(&second_url, &HaloConfig::demo().client_secret, 1))).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let row: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{}", target.mailbox_id)).await).await;
    assert_eq!(row.ticket, None);
    let before = first.requests().len();
    back_up(&app, &admin, target.mailbox_id).await;
    assert_eq!(tickets_about(&second, &target.mailbox_email).len(), 1);
    assert_eq!(first.requests().len(), before, "no request, no token, to the Halo left behind");

    // Removed: rows name no ticket; what was waiting is cancelled, not failed.
    let removed = app.send_as(&admin, Method::DELETE, &uri, None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let row: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{}", target.mailbox_id)).await).await;
    assert_eq!(row.ticket, None);
}

#[tokio::test]
async fn an_instance_that_stopped_mid_attempt_leaves_a_ticket_the_next_one_finds() {
    let app = test_app().await;
    let (halo, url) = halo_on_loopback().await;
    let (admin, _) = with_halo(&app, &url).await;
    let target = failing_mailbox(&app, &admin).await;
    app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", target.mailbox_id), None).await;
    app.state.engine.run_due().await.unwrap();
    // An instance takes the delivery, opens the ticket in Halo, and stops before it records
    // anything (its lease runs out).
    let taken = portal_server::outbox::claim_due(&app.db, 10, 1).await.unwrap();
    let delivery = taken.into_iter().find(|d| d.summary.contains(&target.mailbox_email)).unwrap();
    assert_eq!((delivery.attempts, delivery.claims), (0, 1));
    let http = reqwest::Client::new();
    let demo = HaloConfig::demo();
    let token: Value = http
        .post(format!("{url}/auth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &demo.client_id), ("client_secret", &demo.client_secret)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let made = http
        .post(format!("{url}/api/Tickets"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!([{ "summary": format!("The email backup has failed — {}", target.mailbox_email), "details": format!("Event ID: {}", delivery.notification_id), "client_id": 1 }]))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    app.state.notifier.run_due().await.unwrap();
    let tickets = tickets_about(&halo, &target.mailbox_email);
    assert_eq!(tickets.len(), 1, "found by the event's ID, not opened twice: {tickets:?}");
    // Its late record is refused: the lease is no longer its.
    let late = portal_server::outbox::record_attempt(
        &app.db,
        &delivery,
        portal_server::outbox::Attempt { http_status: Some(201), answer: "late".into(), duration_ms: 1 },
        portal_server::outbox::Next::Delivered,
    )
    .await
    .unwrap();
    assert!(!late);
}

#[tokio::test]
async fn a_reseller_sets_up_one_halo_for_every_organisation_it_serves_each_keeping_its_client() {
    let app = test_app().await;
    let (_, url) = halo_on_loopback().await;
    let (_, acme) = with_halo(&app, &url).await;
    sqlx::query("UPDATE halo_settings SET halo_client_id = 7 WHERE organisation_id = $1")
        .bind(acme)
        .execute(&app.db)
        .await
        .unwrap();
    let reseller = app.sign_in(Role::Reseller).await;
    // Bluebird Clinics filed in a Halo of its own as client 9: a number of that Halo, not kept.
    let (_, elsewhere) = halo_on_loopback().await;
    let bluebird = settings(&elsewhere, &HaloConfig::demo().client_secret, 9);
    let saved = app.send_as(&reseller, Method::PUT, "/api/organisations/2/integrations/halo", Some(bluebird)).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let without_secret = app.send_as(&reseller, Method::PUT, "/api/integrations/halo", Some(settings(&url, "", 2))).await;
    problem(without_secret, StatusCode::UNPROCESSABLE_ENTITY).await.field_error("client_secret").unwrap();
    let response = app
        .send_as(&reseller, Method::PUT, "/api/integrations/halo", Some(settings(&url, &HaloConfig::demo().client_secret, 2)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let applied: portal_api::HaloAppliedToAll = body_json(response).await;
    assert_eq!(applied.organisations, ["Acme Legal", "Bluebird Clinics", "Cedar Logistics"]);
    assert_eq!(applied.kept_their_client, ["Acme Legal"]);
    let clients: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.name, h.halo_client_id FROM halo_settings h JOIN organisations o ON o.id = h.organisation_id ORDER BY o.name",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        clients,
        [("Acme Legal".into(), 7), ("Bluebird Clinics".into(), 2), ("Cedar Logistics".into(), 2)],
        "the other reseller's untouched"
    );
}
