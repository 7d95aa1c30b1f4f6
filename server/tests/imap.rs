//! The imap connector against a real Dovecot on loopback (started per test by `testkit`):
//! backups, restores, migrations and downloads of real mail, and every failure a mail server
//! can cause, each ending in the status the design gives it.

mod common;

use std::time::{Duration, SystemTime};

use axum::http::{Method, StatusCode};
use common::imap::{mail_of, Imap, ACME};
use common::*;
use portal_api::{BackupRow, JobStatus, OrganisationMailbox, Role};
use serde_json::{json, Value};
use testkit::{message, Dovecot, Seed, User};

fn seed(folder: &str, raw: Vec<u8>, flags: &str, days_ago: u64) -> Seed {
    Seed { folder: folder.into(), raw, flags: flags.into(), arrived: SystemTime::now() - Duration::from_secs(days_ago * 86_400) }
}

fn alice_mail() -> Vec<Seed> {
    testkit::sample_mail("alice@imap.test")
}
#[tokio::test]
async fn backup_restore_migrate_and_download_real_mail() {
    let imap = Imap::start(&[User::new("alice", "alice-pw"), User::new("bob", "bob-pw"), User::new("carol", "carol-pw")]).await;
    imap.dovecot.seed("alice", &alice_mail()).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    let bob = imap.add("bob@imap.test", "bob", "bob-pw").await;
    imap.add("carol@imap.test", "carol", "carol-pw").await;
    assert_eq!(alice.connector, portal_api::Connector::Imap);
    imap.run().await;

    // Every folder read; the malformed message skipped and listed, so Partially Complete.
    let backup = imap.backup(alice.id).await;
    assert_eq!(backup.status, JobStatus::PartiallyComplete, "{:?}", backup.run.detail);
    assert_eq!(imap.saved_messages(alice.id).await, 6);
    let skipped = imap.skipped(&imap.current_job(alice.id).await).await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].item.starts_with("Work, UID") && skipped[0].reason.contains("no headers"), "{skipped:?}");

    // Restore into an empty mailbox: the same messages, byte for byte, with flags and dates.
    let restore = imap
        .start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test", "on_conflict": "skip" }))
        .await;
    imap.run().await;
    assert_eq!(imap.job(&restore.id).await.status, JobStatus::Completed);
    let restored = mail_of(&imap.dovecot, "bob");
    assert_eq!(restored.len(), 6);
    assert_eq!(restored, mail_of(&imap.dovecot, "alice"), "bytes, flags and arrival times");
    // Skip on conflict: a second restore adds nothing.
    imap.start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test" })).await;
    imap.run().await;
    assert_eq!(mail_of(&imap.dovecot, "bob").len(), 6, "nothing twice");
    // Keep both, for one folder: that folder's messages are there twice, the others once.
    let inbox = imap.dovecot.stored("bob", "INBOX").len();
    let both = imap
        .start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test",
                           "folders": ["INBOX"], "on_conflict": "keep_both" }))
        .await;
    imap.run().await;
    assert_eq!(imap.job(&both.id).await.status, JobStatus::Completed);
    assert_eq!(imap.dovecot.stored("bob", "INBOX").len(), inbox * 2);
    assert_eq!(mail_of(&imap.dovecot, "bob").len(), 6 + inbox);

    // New mail: the next backup fetches only it.
    imap.dovecot.seed("alice", &[seed("INBOX", message("new@p", "alice@imap.test", "New", "new-1@p", "Fresh."), "", 0)]).unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let second = imap.backup(alice.id).await;
    assert_eq!(second.run.items_total, Some(1), "only the new message was fetched");
    assert_eq!(second.status, JobStatus::PartiallyComplete, "the message it cannot take is listed again, not forgotten");
    assert_eq!(imap.saved_messages(alice.id).await, 7);

    // Migration into another mailbox; again after more mail, each message arrives once.
    imap.start_job(json!({ "kind": "migrate", "mailbox_id": alice.id, "destination": "carol@imap.test" })).await;
    imap.run().await;
    imap.dovecot
        .seed("alice", &[seed("Work", message("new@p", "alice@imap.test", "Newer", "new-2@p", "Fresher."), "S", 0)])
        .unwrap();
    let again = imap.start_job(json!({ "kind": "migrate", "mailbox_id": alice.id, "destination": "carol@imap.test" })).await;
    imap.run().await;
    assert_eq!(imap.job(&again.id).await.status, JobStatus::PartiallyComplete, "the malformed message is still listed");
    assert_eq!(mail_of(&imap.dovecot, "carol"), mail_of(&imap.dovecot, "alice"));
    assert_eq!(mail_of(&imap.dovecot, "carol").len(), 8);

    // The mbox export opens with Python's standard mbox reader and holds every message.
    let file = imap.download(alice.id, "mbox", "export.mbox").await;
    let read = std::process::Command::new("python3")
        .args(["-c", "import mailbox, sys\nfor m in mailbox.mbox(sys.argv[1]): print(m['Message-ID'])", file.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let mut ids: Vec<String> = String::from_utf8(read.stdout).unwrap().lines().map(str::to_owned).collect();
    ids.sort();
    let mut expected: Vec<String> = [
        "contract@p",
        "figures@partner.example",
        "gruesse@partner.example",
        "hello@p",
        "new-1@p",
        "new-2@p",
        "old@acme",
        "plan@acme",
    ]
    .iter()
    .map(|id| format!("<{id}>"))
    .collect();
    expected.sort();
    assert_eq!(ids, expected);

    // The EML zip: one file per message, each read back by Python's email parser.
    let file = imap.download(alice.id, "eml_zip", "export.zip").await;
    let read = std::process::Command::new("python3")
        .args([
            "-c",
            "import email, sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1]) as z:\n\
             \x20   for name in z.namelist():\n\
             \x20       assert name.endswith('.eml'), name\n\
             \x20       print(email.message_from_bytes(z.read(name))['Message-ID'])",
            file.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let mut ids: Vec<String> = String::from_utf8(read.stdout).unwrap().lines().map(str::to_owned).collect();
    ids.sort();
    assert_eq!(ids, expected);
    let _ = bob;
}

#[tokio::test]
async fn a_server_stopped_mid_backup_is_a_connection_error_and_the_retry_completes() {
    let mut imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    let many: Vec<Seed> = (0..10_000)
        .map(|i| {
            seed(
                "INBOX",
                message("bulk@p", "alice@imap.test", &format!("Bulk {i}"), &format!("bulk-{i}@p"), &"x".repeat(2000)),
                "S",
                1,
            )
        })
        .collect();
    imap.dovecot.seed("alice", &many).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;

    let engine = imap.app.state.engine.clone();
    let running = tokio::spawn(async move { engine.run_due().await.unwrap() });
    // Stopped once some messages are in.
    loop {
        let row = imap.backup(alice.id).await;
        if row.run.items_done > 0 {
            break;
        }
        assert!(!running.is_finished(), "the backup ended before it could be interrupted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    imap.dovecot.kill();
    running.await.unwrap();
    let cut = imap.backup(alice.id).await;
    assert_eq!(cut.status, JobStatus::ConnectionError, "{:?}", cut.run.detail);
    let saved = imap.saved_messages(alice.id).await;
    assert!(saved < 10_000, "it was cut short ({saved})");

    // Back up again; the retry's wait (30 min) is made to pass.
    imap.dovecot.run().unwrap();
    sqlx::query("UPDATE jobs SET next_run_at = $1 WHERE mailbox_id = $2 AND status = 'connection_error'")
        .bind(portal_server::db::now_ms())
        .bind(alice.id)
        .execute(&imap.app.db)
        .await
        .unwrap();
    imap.run().await;
    let retried = imap.backup(alice.id).await;
    assert_eq!(retried.status, JobStatus::Completed, "{:?}", retried.run.detail);
    assert_eq!(imap.saved_messages(alice.id).await, 10_000);
    assert_eq!(retried.run.items_total, Some(10_000 - saved as u64), "the retry went on from where it stopped");
}

#[tokio::test]
async fn a_changed_password_is_an_authentication_error_until_the_new_one_is_given() {
    let mut imap = Imap::start(&[User::new("alice", "alice-pw"), User::new("bob", "bob-pw")]).await;
    imap.dovecot.seed("alice", &alice_mail()[..2]).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.add("bob@imap.test", "bob", "bob-pw").await;
    imap.run().await;
    assert_eq!(imap.backup(alice.id).await.status, JobStatus::Completed);

    imap.dovecot.set_password("alice", "changed-pw").unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let refused = imap.backup(alice.id).await;
    assert_eq!(refused.status, JobStatus::AuthenticationError);
    assert!(refused.run.detail.as_deref().unwrap_or_default().contains("not accepted"), "{:?}", refused.run.detail);

    let uri = format!("/api/mailboxes/{}/imap-password", alice.id);
    let wrong = app_put(&imap, &uri, json!({ "password": "still-wrong" })).await;
    let p = problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.errors[0].field, "password");
    assert_eq!(app_put(&imap, &uri, json!({ "password": "changed-pw" })).await.status(), StatusCode::OK);
    imap.run().await;
    assert_eq!(imap.backup(alice.id).await.status, JobStatus::Completed, "the new password is used at once");

    // A restore into a mailbox whose password changed: Authentication Error, fixed by Edit.
    imap.dovecot.set_password("bob", "bob-new").unwrap();
    let restore = imap.start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test" })).await;
    imap.run().await;
    assert_eq!(imap.job(&restore.id).await.status, JobStatus::AuthenticationError);
    let edit = app_put(&imap, &format!("/api/jobs/{}/destination-password", restore.id), json!({ "password": "bob-new" })).await;
    assert_eq!(edit.status(), StatusCode::ACCEPTED);
    imap.run().await;
    assert_eq!(imap.job(&restore.id).await.status, JobStatus::Completed);
    assert_eq!(imap.dovecot.stored("bob", "INBOX").len(), 2);
}

async fn app_put(imap: &Imap, uri: &str, body: Value) -> axum::response::Response {
    imap.app.send_as(&imap.admin, Method::PUT, uri, Some(body)).await
}

#[tokio::test]
async fn full_storage_is_space_full_and_what_was_saved_is_kept() {
    let imap = Imap::start(&[User::new("alice", "alice-pw"), User::new("dora", "dora-pw").with_quota_kib(8)]).await;
    let big: Vec<Seed> = (0..20)
        .map(|i| seed("INBOX", message("b@p", "alice@imap.test", "Big", &format!("big-{i}@p"), &"y".repeat(3000)), "", 1))
        .collect();
    imap.dovecot.seed("alice", &big).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.add("dora@imap.test", "dora", "dora-pw").await;
    imap.run().await;
    assert_eq!(imap.saved_messages(alice.id).await, 20);

    // The destination mailbox's own quota: Space Full on the restore.
    let restore = imap.start_job(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "dora@imap.test" })).await;
    imap.run().await;
    let full = imap.job(&restore.id).await;
    assert_eq!(full.status, JobStatus::SpaceFull, "{:?}", full.run.detail);
    assert!(full.run.detail.unwrap().contains("over its quota"));
    let in_dora = imap.dovecot.stored("dora", "INBOX").len();
    assert!(in_dora > 0 && in_dora < 20, "{in_dora}");

    // The subscription's storage: the backup stops in Space Full with what fitted kept.
    sqlx::query("DELETE FROM backup_messages WHERE mailbox_id = $1").bind(alice.id).execute(&imap.app.db).await.unwrap();
    sqlx::query("DELETE FROM backup_folders WHERE mailbox_id = $1").bind(alice.id).execute(&imap.app.db).await.unwrap();
    sqlx::query("UPDATE mailboxes SET storage_used_bytes = 0 WHERE organisation_id = $1")
        .bind(ACME)
        .execute(&imap.app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE organisations SET storage_quota_bytes = 20000 WHERE id = $1")
        .bind(ACME)
        .execute(&imap.app.db)
        .await
        .unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let stopped = imap.backup(alice.id).await;
    assert_eq!(stopped.status, JobStatus::SpaceFull, "{:?}", stopped.run.detail);
    let kept = imap.saved_messages(alice.id).await;
    assert!(kept > 0 && kept < 20, "what fitted is kept: {kept}");
}

#[tokio::test]
async fn test_connection_names_exactly_what_failed() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    let uri = format!("/api/organisations/{ACME}/mailboxes/test");
    let try_with = |body: Value| imap.app.send_as(&imap.admin, Method::POST, &uri, Some(body));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut refused = imap.settings("a@imap.test", "alice", "alice-pw");
    refused["port"] = closed.into();
    let p = problem(try_with(refused).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.errors[0].field, "host");
    assert!(p.errors[0].message.contains("refused"), "{}", p.errors[0].message);

    let p = problem(try_with(imap.settings("a@imap.test", "alice", "wrong")).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.errors[0].field, "password");
    // In our words; never the server's own text.
    assert!(p.errors[0].message.contains("username or password was not accepted"), "{}", p.errors[0].message);
    assert!(!p.errors[0].message.contains("AUTHENTICATIONFAILED"), "{}", p.errors[0].message);
    assert!(!p.errors[0].message.contains("wrong"), "the password is never repeated");

    let mut remote_plain = imap.settings("a@imap.test", "alice", "alice-pw");
    remote_plain["host"] = "imap.example.com".into();
    let p = problem(try_with(remote_plain).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.errors[0].field, "security");

    imap.dovecot.seed("alice", &alice_mail()).unwrap();
    let ok = try_with(imap.settings("a@imap.test", "alice", "alice-pw")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let test: portal_api::ConnectionTest = body_json(ok).await;
    assert!(test.folders.contains(&"Work".to_owned()) && test.folders.contains(&"Archive/2024".to_owned()), "{:?}", test.folders);

    // An end user may not add mailboxes; the same address cannot be added twice.
    let end_user = imap.app.sign_in(Role::EndUser).await;
    let add = format!("/api/organisations/{ACME}/mailboxes");
    let body = imap.settings("alice@imap.test", "alice", "alice-pw");
    problem(imap.app.send_as(&end_user, Method::POST, &add, Some(body.clone())).await, StatusCode::FORBIDDEN).await;
    imap.add("alice@imap.test", "alice", "alice-pw").await;
    let p = problem(imap.app.send_as(&imap.admin, Method::POST, &add, Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p.errors[0].field, "email");
}

#[tokio::test]
async fn a_new_uidvalidity_reads_the_folder_again_and_stores_nothing_twice() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    imap.dovecot.seed("alice", &alice_mail()).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    assert_eq!(imap.saved_messages(alice.id).await, 6);
    let objects = |db: portal_server::db::Db| async move {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM objects").fetch_one(&db).await.unwrap();
        count
    };
    let stored = objects(imap.app.db.clone()).await;

    imap.dovecot.set_uid_validity("alice", "INBOX", 4242).unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let again = imap.backup(alice.id).await;
    assert_eq!(again.run.items_total, Some(4), "INBOX (4 messages) was read again, the other folders were not");
    assert_eq!(imap.saved_messages(alice.id).await, 6, "the renumbered messages replace the old ones");
    assert_eq!(objects(imap.app.db.clone()).await, stored, "no content was stored twice");
    let (validity,): (i64,) =
        sqlx::query_as("SELECT uid_validity FROM backup_folders WHERE mailbox_id = $1 AND folder = 'INBOX'")
            .bind(alice.id)
            .fetch_one(&imap.app.db)
            .await
            .unwrap();
    assert_eq!(validity, 4242);

    // A message deleted at the server, then the folder renumbered again: the deleted one stays
    // in the backup (retention or legal hold decide), the others are not kept twice.
    assert_eq!(imap.dovecot.delete("alice", "INBOX", b"hello@p"), 1);
    imap.force(alice.id).await;
    imap.run().await;
    imap.dovecot.set_uid_validity("alice", "INBOX", 4343).unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    assert_eq!(imap.saved_messages(alice.id).await, 6, "3 renumbered, 1 deleted kept, 2 in other folders");
    let deleted: portal_api::Page<portal_api::MessageHit> =
        body_json(imap.app.get_as(&imap.admin, "/api/messages?deleted=true").await).await;
    let subjects: Vec<&str> = deleted.items.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["Hello"]);
    assert_eq!(body_json::<portal_api::Page<portal_api::MessageHit>>(imap.app.get_as(&imap.admin, "/api/messages").await).await.total, 6);
}

#[tokio::test]
async fn imap_over_tls_is_checked_against_the_trusted_roots_and_a_company_ca() {
    let dovecot = Dovecot::start_with_tls(&[User::new("alice", "alice-pw")]).unwrap();
    dovecot.seed("alice", &alice_mail()[..3]).unwrap();
    let settings = json!({
        "email": "alice@imap.test", "host": "localhost", "port": dovecot.tls_port.unwrap(),
        "security": "tls", "username": "alice", "password": "alice-pw"
    });

    // A certificate from a CA nobody told the portal about is refused, on the server's field.
    let untrusting = test_app().await;
    let admin = untrusting.sign_in(Role::OrgAdmin).await;
    let uri = format!("/api/organisations/{ACME}/mailboxes/test");
    let p =
        problem(untrusting.send_as(&admin, Method::POST, &uri, Some(settings.clone())).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(p.errors[0].field, "host");
    assert!(
        p.errors[0].message.contains("secure connection") && p.errors[0].message.contains("UnknownIssuer"),
        "{}",
        p.errors[0].message
    );

    // With the company's CA trusted (--imap-ca-file): signed in over TLS, and backed up.
    let trusting = test_app_with(|config| config.imap_ca_file = Some(dovecot.ca_file())).await;
    sqlx::query("UPDATE organisations SET storage_quota_bytes = 1000000000000 WHERE id = $1")
        .bind(ACME)
        .execute(&trusting.db)
        .await
        .unwrap();
    let admin = trusting.sign_in(Role::OrgAdmin).await;
    let response = trusting.send_as(&admin, Method::POST, &format!("/api/organisations/{ACME}/mailboxes"), Some(settings)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let alice: OrganisationMailbox = body_json(response).await;
    trusting.state.engine.run_due().await.unwrap();
    let backup: BackupRow = body_json(trusting.get_as(&admin, &format!("/api/backups/{}", alice.id)).await).await;
    assert_eq!(backup.status, JobStatus::Completed, "{:?}", backup.run.detail);
    assert_eq!(backup.run.items_done, 3);
    // The total was known before the first message came: the progress went by bytes.
    assert!(backup.run.bytes_done > 0);
    assert_eq!(backup.run.bytes_total, Some(backup.run.bytes_done));
}

#[tokio::test]
async fn a_folder_name_with_a_line_break_is_skipped_never_sent_as_commands() {
    let imap = Imap::start(&[User::new("alice", "alice-pw"), User::new("bob", "bob-pw")]).await;
    imap.dovecot.seed("alice", &alice_mail()).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.add("bob@imap.test", "bob", "bob-pw").await;
    imap.run().await;
    // A hostile mail server can name a folder with CR LF in its LIST (as a literal); the backup
    // keeps the name as it came. Raw in an APPEND, it would be three command lines.
    let hostile = "Work\r\nX1 CREATE Injected\r\nX2 NOOP";
    sqlx::query("UPDATE backup_messages SET folder = $1 WHERE mailbox_id = $2 AND folder = 'Work'")
        .bind(hostile)
        .bind(alice.id)
        .execute(&imap.app.db)
        .await
        .unwrap();
    let restore = imap
        .start_job(
            json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test", "on_conflict": "keep_both" }),
        )
        .await;
    imap.run().await;

    assert!(!imap.dovecot.dir().join("mail/bob/.Injected").exists(), "no command was injected");
    let job = imap.job(&restore.id).await;
    assert_eq!(job.status, JobStatus::PartiallyComplete, "{:?}", job.run.detail);
    let skipped = imap.skipped(&restore.id).await;
    assert!(!skipped.is_empty());
    for item in &skipped {
        assert!(item.item.starts_with("Work\\r\\nX1 CREATE"), "the name shown escaped: {item:?}");
        assert!(item.reason.contains("line break"), "{item:?}");
    }
    assert_eq!(imap.dovecot.stored("bob", "INBOX"), imap.dovecot.stored("alice", "INBOX"), "the other folders are restored");
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_skipped_and_named_by_every_backup() {
    let imap = Imap::start_with(&[User::new("alice", "alice-pw")], |config| config.max_message_mb = 1).await;
    let line = "z".repeat(76);
    let mut mail: Vec<Seed> = (0..3)
        .map(|i| seed("INBOX", message("b@p", "alice@imap.test", "Hello", &format!("small-{i}@p"), "Hi."), "", 3))
        .collect();
    let huge = message("b@p", "alice@imap.test", "Scans", "huge@p", &vec![line.as_str(); 20_000].join("\r\n"));
    mail.insert(1, seed("INBOX", huge, "", 2));
    imap.dovecot.seed("alice", &mail).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;

    let first = imap.backup(alice.id).await;
    assert_eq!(first.status, JobStatus::PartiallyComplete, "{:?}", first.run.detail);
    assert_eq!(imap.saved_messages(alice.id).await as usize, mail.len() - 1, "everything else is saved");
    let job = imap.current_job(alice.id).await;
    let skipped = imap.skipped(&job).await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].item.starts_with("INBOX, UID"), "{skipped:?}");
    assert!(skipped[0].reason.contains("larger than 1 MB"), "{skipped:?}");

    // The next backup has nothing new to read, and still names it: it is not in the backup.
    imap.force(alice.id).await;
    imap.run().await;
    let again = imap.backup(alice.id).await;
    assert_eq!(again.status, JobStatus::PartiallyComplete, "{:?}", again.run.detail);
    assert_eq!(imap.skipped(&imap.current_job(alice.id).await).await.len(), 1);
}

#[tokio::test]
async fn a_download_larger_than_a_page_and_a_read_batch_holds_every_message_once() {
    let imap = Imap::start(&[User::new("alice", "alice-pw")]).await;
    // More messages than one listing page (1,000) across two folders, and a folder of messages
    // larger than a read from the store (8 MB), as attachments are.
    let small = |folder: &str, i: usize| {
        seed(
            folder,
            message("bulk@p", "alice@imap.test", &format!("Bulk {i}"), &format!("{folder}-{i}@p"), "From here on."),
            "S",
            1,
        )
    };
    let mut mail: Vec<Seed> = (0..1_500).map(|i| small("INBOX", i)).collect();
    mail.extend((0..700).map(|i| small("Archive", i)));
    let attachment = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n".repeat(110_000);
    mail.extend(
        (0..3).map(|i| seed("Large", message("big@p", "alice@imap.test", "Scan", &format!("Large-{i}@p"), &attachment), "", 1)),
    );
    imap.dovecot.seed("alice", &mail).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    assert_eq!(imap.backup(alice.id).await.status, JobStatus::Completed);

    let count_ids = |file: &std::path::Path| {
        let read = std::process::Command::new("python3")
            .args([
                "-c",
                "import collections, mailbox, sys\n\
                 ids = collections.Counter(m['Message-ID'].split('-')[0] for m in mailbox.mbox(sys.argv[1]))\n\
                 print(sorted(ids.items()), len(set(m['Message-ID'] for m in mailbox.mbox(sys.argv[1]))))",
                file.to_str().unwrap(),
            ])
            .output()
            .expect("python3 runs");
        assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
        String::from_utf8(read.stdout).unwrap().trim().to_owned()
    };
    let file = |id: &str| {
        portal_server::downloads::file::file_path(
            &imap.app.state.config.data_dir,
            id,
            portal_server::downloads::file::Format::Mbox,
        )
    };
    let all = imap.start_job(json!({ "kind": "download", "mailbox_id": alice.id, "format": "mbox" })).await;
    imap.run().await;
    let done = imap.job(&all.id).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!((done.run.items_done, done.run.items_total), (2203, Some(2203)));
    assert_eq!(count_ids(&file(&all.id)), "[('<Archive', 700), ('<INBOX', 1500), ('<Large', 3)] 2203", "each message once");

    let some = imap
        .start_job(json!({ "kind": "download", "mailbox_id": alice.id, "format": "mbox", "folders": ["Large", "Archive"] }))
        .await;
    imap.run().await;
    assert_eq!(imap.job(&some.id).await.status, JobStatus::Completed);
    assert_eq!(count_ids(&file(&some.id)), "[('<Archive', 700), ('<Large', 3)] 703", "only the folders asked for");
}
