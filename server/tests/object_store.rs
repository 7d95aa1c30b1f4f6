//! The shared object store (`--object-store s3://…`) against a real S3 API (`s3s-fs` on
//! loopback, `testkit::S3`): real mail (Dovecot) backed up into it and restored byte for byte,
//! also by a second instance with a data folder of its own; the store check reads it and
//! finds damage there. On both databases.

mod common;

use axum::http::{Method, StatusCode};
use common::imap::{mail_of, Imap};
use common::*;
use portal_api::{JobRow, JobStatus, Role};
use portal_server::config::{Config, Hidden};
use portal_server::imap::check::check_store;
use portal_server::imap::store::ObjectStore;
use serde_json::json;
use testkit::{User, S3};

fn on(s3: &S3) -> impl Fn(&mut Config) + '_ {
    move |config| {
        config.object_store = Some(s3.url());
        config.object_store_endpoint = Some(s3.endpoint.clone());
        config.object_store_key_id = Some(testkit::S3_KEY_ID.into());
        config.object_store_secret = Some(Hidden::new(testkit::S3_SECRET));
        // Instances share the master key (the mailboxes' passwords are sealed with it) and the
        // key that signs download links (a link made by one works on the other), as they must.
        config.master_key = Some("5a".repeat(32));
        let link_key = s3.dir().join("link.key");
        std::fs::write(&link_key, "7b".repeat(32)).unwrap();
        config.link_key_file = Some(link_key);
    }
}
/// A GET of a download link, of the bytes `range` names if any.
fn link_request(link: &str, range: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::get(link);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.body(axum::body::Body::empty()).unwrap()
}

/// The pack files the S3 server holds, by their paths in its folder.
fn packs_in(s3: &S3) -> Vec<std::path::PathBuf> {
    let folder = s3.files().join("backups").join("packs");
    let mut packs: Vec<_> = std::fs::read_dir(folder)
        .map(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pack")).collect()
        })
        .unwrap_or_default();
    packs.sort();
    packs
}

#[tokio::test]
async fn a_backup_in_the_shared_store_is_restored_byte_for_byte_by_another_instance() {
    let s3 = S3::start().expect("the S3 server starts (cargo xtask test installs s3s-fs)");
    // Data folders of their own (on PostgreSQL the tests' apps otherwise share one).
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let users = [User::new("alice", "alice-pw"), User::new("bob", "bob-pw"), User::new("carol", "carol-pw")];
    let imap = Imap::start_with(&users, |config| {
        on(&s3)(config);
        config.data_dir = first.path().into();
    })
    .await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.add("bob@imap.test", "bob", "bob-pw").await;
    imap.run().await;
    assert_eq!(imap.backup(alice.id).await.status, JobStatus::PartiallyComplete, "the malformed message is listed");
    assert_eq!(imap.saved_messages(alice.id).await, 6);

    // The contents went to the S3 server, none to the data folder.
    assert!(!packs_in(&s3).is_empty(), "no pack in the shared store");
    let local = imap.app.state.config.data_dir.join("packs");
    let local_packs = std::fs::read_dir(&local)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "pack")).count());
    assert_eq!(local_packs.unwrap_or(0), 0, "a pack was written to the data folder");

    // A second instance on the same database and store, with a data folder of its own,
    // restores what the first backed up.
    let other = test_app_at(tempfile::tempdir().unwrap(), imap.app.state.config.database_url.clone(), |config| {
        on(&s3)(config);
        config.data_dir = second.path().into();
    })
    .await;
    let admin = other.sign_in(Role::OrgAdmin).await;
    let response = other
        .send_as(
            &admin,
            Method::POST,
            "/api/jobs",
            Some(json!({ "kind": "restore", "mailbox_id": alice.id, "destination": "bob@imap.test" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let restore: JobRow = body_json(response).await;
    other.state.engine.run_due().await.unwrap();
    let done: JobRow = body_json(other.get_as(&admin, &format!("/api/jobs/{}", restore.id)).await).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let restored = mail_of(&imap.dovecot, "bob");
    assert_eq!(restored.len(), 6);
    assert_eq!(restored, mail_of(&imap.dovecot, "alice"), "bytes, flags and arrival times");

    // A download made by one instance is served by the other, whole and in part, from the store.
    let download = imap.start_job(json!({ "kind": "download", "mailbox_id": alice.id, "format": "mbox" })).await;
    imap.run().await;
    let ready = imap.job(&download.id).await;
    assert_eq!(ready.status, JobStatus::Completed, "{ready:?}");
    let in_store = s3.files().join("backups").join("downloads").join(format!("{}.mbox", download.id));
    assert!(in_store.exists(), "the file is not in the shared store");
    assert!(!first.path().join("downloads").join(format!("{}.mbox", download.id)).exists(), "a local copy stayed");
    let link = ready.download_url.unwrap();
    let whole = other.send(link_request(&link, None)).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let whole = axum::body::to_bytes(whole.into_body(), 1 << 26).await.unwrap();
    assert_eq!(whole, std::fs::read(&in_store).unwrap(), "the file as stored");
    assert_eq!(
        whole.windows(14).filter(|w| w == b"\nMessage-ID: <").count() + usize::from(whole.starts_with(b"Message-ID")),
        6,
        "every message"
    );
    let part = other.send(link_request(&link, Some("bytes=10-99"))).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 10-99/{}", whole.len()).as_str());
    assert_eq!(axum::body::to_bytes(part.into_body(), 1 << 20).await.unwrap(), whole[10..100]);
    // Deleting the download (on the other instance) deletes its file from the store.
    let deleted = other.send_as(&admin, Method::DELETE, &format!("/api/jobs/{}", download.id), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(!in_store.exists(), "the file stayed in the store");
    assert_eq!(other.send(link_request(&link, None)).await.status(), StatusCode::NOT_FOUND);

    // A file of several parts (uploaded in 8 MB parts, sent in 4 MB parts): whole, and a range
    // across a part's end, as stored.
    imap.dovecot.seed("carol", &testkit::bulk_mail("carol@imap.test", 120, 90_000)).unwrap();
    let carol = imap.add("carol@imap.test", "carol", "carol-pw").await;
    imap.run().await;
    let large = imap.start_job(json!({ "kind": "download", "mailbox_id": carol.id, "format": "mbox" })).await;
    imap.run().await;
    let large = imap.job(&large.id).await;
    assert_eq!(large.status, JobStatus::Completed, "{large:?}");
    let stored = std::fs::read(s3.files().join("backups").join("downloads").join(format!("{}.mbox", large.id))).unwrap();
    assert!(stored.len() > 10_000_000, "{} bytes: not several parts", stored.len());
    let link = large.download_url.unwrap();
    let whole = other.send(link_request(&link, None)).await;
    assert_eq!(whole.headers()["content-length"], stored.len().to_string().as_str());
    assert!(axum::body::to_bytes(whole.into_body(), 1 << 26).await.unwrap() == stored, "the whole file, as stored");
    let across = other.send(link_request(&link, Some("bytes=4194000-8389000"))).await;
    assert_eq!(across.status(), StatusCode::PARTIAL_CONTENT);
    assert!(axum::body::to_bytes(across.into_body(), 1 << 26).await.unwrap() == stored[4_194_000..=8_389_000]);

    // The store check reads every object back from S3 and finds it sound.
    let store = || ObjectStore::from_config(&imap.app.state.config).unwrap();
    let report = check_store(&imap.app.db, store(), false).await.unwrap();
    assert!(!report.damaged() && !report.unreferenced(), "{report}");
    assert_eq!(report.objects_checked, 6 + 120, "{report}");
    assert_eq!(report.pack_files, packs_in(&s3).len() as u64, "{report}");

    // Damage there is found: a changed byte, then a pack gone.
    let pack = packs_in(&s3)[0].clone();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    let report = check_store(&imap.app.db, store(), false).await.unwrap();
    assert!(report.corrupt >= 1 && report.damaged(), "{report}");
    std::fs::remove_file(&pack).unwrap();
    let report = check_store(&imap.app.db, store(), false).await.unwrap();
    assert!(report.missing >= 1 && report.corrupt == 0, "{report}");

    // A pack no row points at is listed, and a repair deletes it from the bucket.
    let stray = pack.with_file_name("1000-0123456789ab.pack");
    std::fs::write(&stray, b"not a backup").unwrap();
    let report = check_store(&imap.app.db, store(), true).await.unwrap();
    assert_eq!(report.unindexed_packs, 1, "{report}");
    assert!(!stray.exists(), "the repair left the stray pack: {report}");
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_fails_the_backup_and_says_so() {
    // A store whose keys the S3 server refuses: the backup does not say Completed.
    let s3 = S3::start().expect("the S3 server starts");
    let imap = Imap::start_with(&[User::new("alice", "alice-pw")], |config| {
        on(&s3)(config);
        config.object_store_secret = Some(Hidden::new("a wrong secret"));
    })
    .await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let backup = imap.backup(alice.id).await;
    assert_eq!(backup.status, JobStatus::Retrying, "{backup:?}");
    assert!(backup.run.detail.as_deref().is_some_and(|d| d.contains("writing messages to the backup storage")), "{backup:?}");
    assert_eq!(imap.saved_messages(alice.id).await, 0, "nothing is recorded that the store does not hold");
    assert!(packs_in(&s3).is_empty());
}
