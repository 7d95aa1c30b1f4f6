//! The API as a client sees it: `app().oneshot(...)` against a fresh, seeded SQLite database per test.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::{BackupHistory, BackupRow, JobStatus, Page, Role};
use portal_server::config::Config;
use serde_json::{json, Value};
use tower::ServiceExt;

#[tokio::test]
async fn unknown_api_routes_are_404_problems() {
    let app = test_app().await;
    let response = app.send(Request::get("/api/no-such-thing").body(Body::empty()).unwrap()).await;
    let problem = problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(problem.type_uri, "/problems/not-found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_that_keeps_allow() {
    let app = test_app().await;
    let response = app.send(Request::put("/api/session").body(Body::empty()).unwrap()).await;
    let allow = response.headers()[header::ALLOW].to_str().unwrap().to_owned();
    assert!(allow.contains("POST") && allow.contains("DELETE"), "{allow}");
    let problem = problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let detail = problem.detail.unwrap();
    assert!(detail.contains("POST"), "{detail}");
}

#[tokio::test]
async fn bodies_that_are_not_json_or_not_valid_are_told_apart() {
    let app = test_app().await;
    let malformed =
        Request::post("/api/session").header(header::CONTENT_TYPE, "application/json").body(Body::from("{\"email\": ")).unwrap();
    problem(app.send(malformed).await, StatusCode::BAD_REQUEST).await;

    let not_json = Request::post("/api/session").header(header::CONTENT_TYPE, "text/plain").body(Body::from("x")).unwrap();
    problem(app.send(not_json).await, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let missing = json_request(Method::POST, "/api/session", json!({"email": "a@b.example"}));
    let p = problem(app.send(missing).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.field_error("password"), Some("This field is required."));

    let wrong_type = json_request(Method::POST, "/api/session", json!({"email": 5, "password": "x"}));
    let p = problem(app.send(wrong_type).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("email").is_some(), "{p:?}");

    let empty = json_request(Method::POST, "/api/session", json!({"email": " ", "password": ""}));
    let p = problem(app.send(empty).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.field_error("email"), Some("Enter your email address."));
    assert_eq!(p.field_error("password"), Some("Enter your password."));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let app = test_app().await;
    let wrong = json_request(Method::POST, "/api/session", json!({"email": DEMO_SIGN_INS[0].1, "password": "nope"}));
    let a = problem(app.send(wrong).await, StatusCode::UNAUTHORIZED).await;
    let unknown = json_request(Method::POST, "/api/session", json!({"email": "who@nowhere.example", "password": "nope"}));
    let b = problem(app.send(unknown).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!((a.type_uri, a.detail), (b.type_uri, b.detail));
}

#[tokio::test]
async fn without_a_session_the_api_answers_401() {
    let app = test_app().await;
    for uri in ["/api/session", "/api/backups", "/api/backups/1"] {
        let response = app.send(Request::get(uri).body(Body::empty()).unwrap()).await;
        let p = problem(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(p.type_uri, "/problems/unauthenticated");
    }
    let forged = Request::get("/api/backups").header(header::COOKIE, "portal_session=forged").body(Body::empty()).unwrap();
    problem(app.send(forged).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_lax_and_only_its_hash_is_stored() {
    let app = test_app().await;
    let email = DEMO_SIGN_INS[0].1;
    let response = app.send(json_request(Method::POST, "/api/session", json!({"email": email, "password": DEMO_PASSWORD}))).await;
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let session_id = set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    assert_eq!(session_id.len(), 64, "32 random bytes");

    let body = String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(!body.contains(&session_id) && !body.contains("argon2"), "{body}");

    let stored: Vec<(String,)> = sqlx::query_as("SELECT id_hash FROM sessions").fetch_all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, session_id);
}

#[tokio::test]
async fn sign_in_from_another_site_is_refused() {
    let app = test_app().await;
    let mut request = json_request(Method::POST, "/api/session", json!({"email": DEMO_SIGN_INS[0].1, "password": DEMO_PASSWORD}));
    request.headers_mut().insert(header::HOST, "portal.example".parse().unwrap());
    request.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let p = problem(app.send(request).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p.type_uri, "/problems/csrf-rejected");
}

#[tokio::test]
async fn sign_out_needs_the_csrf_token_and_ends_the_session() {
    let app = test_app().await;
    let client = app.sign_in(Role::OrgAdmin).await;

    let without_token = Request::delete("/api/session").header(header::COOKIE, &client.cookie).body(Body::empty()).unwrap();
    let p = problem(app.send(without_token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p.type_uri, "/problems/csrf-rejected");

    let wrong_token = Request::delete("/api/session")
        .header(header::COOKIE, &client.cookie)
        .header("x-csrf-token", "0".repeat(64))
        .body(Body::empty())
        .unwrap();
    problem(app.send(wrong_token).await, StatusCode::FORBIDDEN).await;

    let with_token = Request::delete("/api/session")
        .header(header::COOKIE, &client.cookie)
        .header("x-csrf-token", &client.session.csrf_token)
        .body(Body::empty())
        .unwrap();
    let response = app.send(with_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    problem(app.get_as(&client, "/api/session").await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn each_role_sees_exactly_its_own_backups() {
    let app = test_app().await;

    let end_user = app.sign_in(Role::EndUser).await;
    assert_eq!(end_user.session.role, Role::EndUser);
    assert_eq!(end_user.session.scope, DEMO_SIGN_INS[0].1);
    let page: Page<BackupRow> = body_json(app.get_as(&end_user, "/api/backups").await).await;
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].mailbox_email, DEMO_SIGN_INS[0].1);

    let admin = app.sign_in(Role::OrgAdmin).await;
    assert_eq!(admin.session.scope, "Acme Legal");
    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?per_page=200").await).await;
    assert_eq!(page.total, 20);
    assert!(page.items.iter().all(|row| row.organisation == "Acme Legal"));
    let statuses: std::collections::HashSet<_> = page.items.iter().map(|row| row.status).collect();
    assert_eq!(statuses.len(), 8, "the demo organisation shows every backup status");

    let reseller = app.sign_in(Role::Reseller).await;
    let page: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups").await).await;
    assert_eq!((page.total, page.items.len(), page.page_count()), (60, 50, 2));
    let second: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?page=2").await).await;
    assert_eq!(second.items.len(), 10);
    let all: Vec<_> = page.items.iter().chain(&second.items).collect();
    assert!(all.iter().all(|row| !row.mailbox_email.ends_with("delta-foods.example")), "another reseller's data");
    assert!(all.windows(2).all(|w| w[0].mailbox_email < w[1].mailbox_email), "ordered by address");
}

#[tokio::test]
async fn an_end_user_cannot_read_another_mailbox() {
    let app = test_app().await;
    let end_user = app.sign_in(Role::EndUser).await;
    let own: Page<BackupRow> = body_json(app.get_as(&end_user, "/api/backups").await).await;
    let own_id = own.items[0].mailbox_id;

    let response = app.get_as(&end_user, &format!("/api/backups/{own_id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    for other in [own_id + 1, own_id + 30, 61] {
        problem(app.get_as(&end_user, &format!("/api/backups/{other}")).await, StatusCode::NOT_FOUND).await;
    }
    let searched: Page<BackupRow> = body_json(app.get_as(&end_user, "/api/backups?q=example").await).await;
    assert_eq!(searched.total, 1);

    // The organisation admin reaches the same mailbox, but not one of another organisation.
    let admin = app.sign_in(Role::OrgAdmin).await;
    assert_eq!(app.get_as(&admin, &format!("/api/backups/{own_id}")).await.status(), StatusCode::OK);
    problem(app.get_as(&admin, "/api/backups/25").await, StatusCode::NOT_FOUND).await;
    problem(app.get_as(&end_user, &format!("/api/backups/{}/history", own_id + 1)).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn space_full_shows_the_numbers_and_the_history_holds_the_last_30_backups_newest_first() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let full: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=space_full").await).await;
    let full = &full.items[0];
    let storage = full.storage.expect("a Space Full row carries the storage numbers");
    assert!(
        storage.used_bytes > 0 && storage.quota_bytes == 50_000_000_000 && storage.used_bytes >= storage.quota_bytes,
        "{storage:?}"
    );
    let healthy: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    assert!(healthy.items.iter().all(|row| row.storage.is_none()));

    let history_of = |id: i64| format!("/api/backups/{id}/history");
    let history: BackupHistory = body_json(app.get_as(&admin, &history_of(full.mailbox_id)).await).await;
    assert_eq!(history.runs.len(), 30);
    assert!(history.runs.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");
    assert_eq!(history.runs[0].status, JobStatus::SpaceFull, "the current run leads");
    let oldest = history.runs.last().unwrap().job_id.clone();

    // A new run joins the history at its head; the oldest drops off.
    app.state.engine.run_due().await.unwrap();
    let forced = app.send_as(&admin, Method::POST, &format!("/api/backups/{}/force", full.mailbox_id), None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED);
    app.state.engine.run_due().await.unwrap();
    let after: BackupHistory = body_json(app.get_as(&admin, &history_of(full.mailbox_id)).await).await;
    assert_eq!(after.runs.len(), 30);
    assert_eq!(after.runs[1].job_id, history.runs[0].job_id);
    assert_eq!(after.runs[0].status, JobStatus::SpaceFull);
    assert!(after.runs[0].items_done > 0, "it saved what fitted");
    assert!(after.runs.iter().all(|run| run.job_id != oldest));
}

#[tokio::test]
async fn filters_match_text_and_status_and_treat_wildcards_literally() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;

    let page: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?q=BLUEBIRD&per_page=200").await).await;
    assert_eq!(page.total, 20);

    let page: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?status=space_full").await).await;
    assert!(page.total >= 2, "Acme and Cedar are full; Bluebird has room");
    assert!(page.items.iter().all(|row| row.status == portal_api::JobStatus::SpaceFull));

    let page: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?q=%25").await).await;
    assert_eq!(page.total, 0, "% is a character to find, not a wildcard");
}

#[tokio::test]
async fn bad_filters_are_422_with_the_field_named() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let p = problem(app.get_as(&reseller, "/api/backups?status=lost").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("status").unwrap().contains("authentication_error"));
    let p = problem(app.get_as(&reseller, "/api/backups?page=abc").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("page").is_some(), "{p:?}");
    let p = problem(app.get_as(&reseller, "/api/backups?per_page=1000&page=0").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("per_page").is_some() && p.field_error("page").is_some(), "{p:?}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = test_app().await;
    let response = app.send(Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = body_json(response).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/api/session", "/api/backups", "/api/backups/{mailbox_id}", "/api/health"] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    for method in ["get", "post", "delete"] {
        assert!(paths["/api/session"].get(method).is_some(), "session {method}");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
    // Every reference leads somewhere: a client generated from the document can use it all.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let (kind, name) = reference.strip_prefix("#/components/").and_then(|r| r.split_once('/')).unwrap_or_else(|| panic!("{reference}"));
        assert!(doc["components"][kind].get(name).is_some(), "{reference} is not defined");
    }
    // How a request is authenticated is a security scheme, never a parameter: a client
    // generated from the document must not take the CSRF token for data.
    for item in paths.values() {
        for operation in item.as_object().unwrap().values() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert_ne!(parameter["name"], "x-csrf-token", "{operation}");
            }
        }
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!((schemes["csrf"]["in"].as_str(), schemes["csrf"]["name"].as_str()), (Some("header"), Some("x-csrf-token")));
    // Enums travel by their wire names (a derive once listed the Rust names instead).
    assert!(doc["components"]["schemas"]["JobStatus"]["enum"].as_array().unwrap().contains(&json!("in_progress")));
    let jobs_kind = paths["/api/jobs"]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "kind").unwrap();
    assert_eq!(jobs_kind["schema"]["enum"], json!(["migrate", "restore", "download"]));
    assert_eq!(jobs_kind["required"], json!(true));
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(member, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[tokio::test]
async fn a_restart_keeps_the_data_and_does_not_seed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path()).await;
    let first = portal_server::prepare(Config::for_database(&url)).await.unwrap();
    first.db.close().await;
    let second = portal_server::prepare(Config::for_database(&url)).await.unwrap();
    let (mailboxes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mailboxes").fetch_one(&second.db).await.unwrap();
    assert_eq!(mailboxes, 65);
}

#[tokio::test]
async fn the_portal_is_served_precompressed_and_its_routes_fall_back_to_index_html() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!DOCTYPE html><title>Backup Portal</title>").unwrap();
    std::fs::write(dist.join("index.html.gz"), b"not really gzip, but proves which file was sent").unwrap();
    let mut config = Config::for_database(database_url(dir.path()).await);
    config.dist = dist;
    let app = portal_server::app(portal_server::prepare(config).await.unwrap());

    let gzip = Request::get("/").header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(gzip).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    std::fs::write(dir.path().join("dist/index.html.br"), b"not really brotli either").unwrap();
    let both = Request::get("/").header(header::ACCEPT_ENCODING, "gzip, deflate, br").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(both).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "br", "the smaller one, when the browser takes it");
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert_eq!(&body[..], b"not really brotli either");

    // A portal route (no such file) is the portal itself, so a bookmarked URL opens.
    let route = Request::get("/status/backups?status=space_full").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(route).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("Backup Portal"));
}

#[tokio::test]
async fn a_request_over_the_time_limit_ends_with_a_504_problem() {
    // Signing in checks an Argon2id hash on a blocking thread: far longer than 1 ms.
    let app = test_app_with(|config| config.request_timeout_ms = 1).await;
    let (_, email) = DEMO_SIGN_INS[0];
    let response = app.send(json_request(Method::POST, "/api/session", json!({"email": email, "password": DEMO_PASSWORD}))).await;
    let problem = problem(response, StatusCode::GATEWAY_TIMEOUT).await;
    assert_eq!(problem.type_uri, "/problems/timeout");
    let detail = problem.detail.unwrap();
    assert!(detail.contains("1 ms") && detail.contains("reload"), "{detail}");

    // Within the limit, the same request is answered as usual.
    let app = test_app_with(|config| config.request_timeout_ms = 30_000).await;
    let response = app.send(json_request(Method::POST, "/api/session", json!({"email": email, "password": DEMO_PASSWORD}))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_problem_type_leads_to_its_documentation_page() {
    let app = test_app().await;
    let page = |uri: String| {
        let app = &app;
        async move {
            let response = app.send(Request::get(uri.as_str()).body(Body::empty()).unwrap()).await;
            let status = response.status();
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
            let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, content_type, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    // The index lists every type; each listed page says when it happens and what to do.
    let (status, content_type, index) = page("/problems".into()).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    let listed: Vec<String> = index.split("<a href=\"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect();
    assert_eq!(listed.len(), 18, "{index}");
    for uri in &listed {
        let (status, _, html) = page(uri.clone()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(html.contains("<h2>When</h2>") && html.contains("<h2>What to do</h2>"), "{uri}: {html}");
    }
    // A real answer's type is one of them.
    let response = app.send(Request::get("/api/backups").body(Body::empty()).unwrap()).await;
    let answered = problem(response, StatusCode::UNAUTHORIZED).await;
    assert!(listed.contains(&answered.type_uri), "{}", answered.type_uri);
    let (_, _, html) = page(answered.type_uri).await;
    assert!(html.contains("You are not signed in"), "{html}");

    let response = app.send(Request::get("/problems/no-such-kind").body(Body::empty()).unwrap()).await;
    problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_typo_in_a_body_is_refused_and_nothing_is_forced() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let jobs = || async {
        sqlx::query_as::<_, (i64, i64)>("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM jobs")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let before = jobs().await;
    let typo = json!({ "stauts": "failed" });
    let response = app.send_as(&reseller, Method::POST, "/api/backups/force", Some(typo)).await;
    let p = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.field_error("stauts"), Some("This field is not expected here."), "{p:?}");
    assert_eq!(jobs().await, before, "no backup was queued or changed");

    // Text with a NUL character never reaches the database, in a body or a query.
    let nul = json!({ "q": "a\u{0}b" });
    let p =
        problem(app.send_as(&reseller, Method::POST, "/api/backups/force", Some(nul)).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(p.field_error("q").is_some(), "{p:?}");
    let p = problem(app.get_as(&reseller, "/api/backups?q=a%00b").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p.field_error("q").is_some(), "{p:?}");
    // A path parameter that cannot name anything is simply not found.
    problem(app.get_as(&reseller, "/api/backups/not-a-number/history").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_database_held_by_another_writer_is_a_503_with_retry_after_and_nothing_changes() {
    if postgres().is_some() {
        // PostgreSQL has no lock on the whole database: a writer waits for the rows it needs,
        // and past the time limit the request is a 504 (the test above).
        eprintln!("SQLite only: the write lock on the whole database");
        return;
    }
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let mailbox = page.items[0].mailbox_id;

    // Another process (a backup tool, a migration) holds the write lock longer than we wait.
    use sqlx::Connection;
    let url = format!("sqlite://{}/portal.db", app.dir.path().display());
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();

    let forced = app.send_as(&admin, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await;
    assert_eq!(forced.headers()[header::RETRY_AFTER], "5");
    let busy = problem(forced, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(busy.type_uri, "/problems/unavailable");
    let detail = busy.detail.unwrap();
    assert!(!detail.to_lowercase().contains("lock") && !detail.contains("sqlite"), "nothing internal: {detail}");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let backup: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{mailbox}")).await).await;
    assert_eq!(backup.status, JobStatus::Completed, "nothing was forced while the database was held");
    let forced = app.send_as(&admin, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED, "the same request goes through once it is free");
}

#[tokio::test]
async fn a_row_that_cannot_be_read_is_a_500_that_names_nothing_internal() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    sqlx::query("UPDATE jobs SET status = 'garbled' WHERE kind = 'restore'").execute(&app.db).await.unwrap();
    let failed = problem(app.get_as(&admin, "/api/jobs?kind=restore").await, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(failed.type_uri, "/problems/internal");
    let detail = failed.detail.unwrap();
    assert!(!detail.contains("garbled") && !detail.contains("status"), "nothing internal: {detail}");
}
