//! Retention per organisation and legal hold per mailbox: who may set them (admins and
//! resellers in person, each within their scope), and the pruning that applies them to real
//! mail backed up from Dovecot, with an injected clock: a message deleted longer ago than the
//! retention leaves the backup, its search row and, once nothing else references its content,
//! the object store (its pack rewritten, the old one deleted after a while); a mailbox on
//! legal hold, an organisation without retention and content another message shares lose
//! nothing, and what stays reads back byte for byte.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::imap::{Imap, ACME};
use common::*;
use portal_api::{CreatedApiToken, OrganisationMailbox, Retention, Role};
use portal_server::db::{now_ms, Db};
use portal_server::imap::check::check;
use portal_server::imap::store::compact::RETIRED_GRACE_MS;
use portal_server::imap::store::{Located, ObjectStore};
use portal_server::retention::prune::{prune, sweep};
use serde_json::json;
use testkit::{message, Seed, User};

const DAY: i64 = 86_400_000;

async fn organisation(db: &Db, name: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM organisations WHERE name = $1").bind(name).fetch_one(db).await.unwrap();
    id
}

async fn a_mailbox_of(db: &Db, organisation: i64) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM mailboxes WHERE organisation_id = $1")
        .bind(organisation)
        .fetch_one(db)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn retention_and_legal_hold_are_set_by_admins_and_resellers_within_their_scope() {
    let app = test_app().await;
    let (admin, reseller, end_user) =
        (app.sign_in(Role::OrgAdmin).await, app.sign_in(Role::Reseller).await, app.sign_in(Role::EndUser).await);
    let acme = organisation(&app.db, "Acme Legal").await;
    let bluebird = organisation(&app.db, "Bluebird Clinics").await;
    let delta = organisation(&app.db, "Delta Foods").await;
    let uri = |id: i64| format!("/api/organisations/{id}/retention");

    // Nothing set: everything is kept; what the backups hold is the mailboxes' sum.
    let fresh: Retention = body_json(app.get_as(&admin, &uri(acme)).await).await;
    let (used,): (i64,) =
        sqlx::query_as("SELECT CAST(SUM(storage_used_bytes) AS BIGINT) FROM mailboxes WHERE organisation_id = $1")
            .bind(acme)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        fresh,
        Retention {
            keep_deleted_days: None,
            last_pruned_at: None,
            last_pruned_messages: 0,
            last_pruned_bytes: 0,
            storage_used_bytes: used as u64
        }
    );

    // An end user: 403, whatever the organisation; another organisation: 404, as if there were none.
    problem(app.get_as(&end_user, &uri(acme)).await, StatusCode::FORBIDDEN).await;
    let put = |days: serde_json::Value| Some(json!({ "keep_deleted_days": days }));
    problem(app.send_as(&end_user, Method::PUT, &uri(acme), put(json!(30))).await, StatusCode::FORBIDDEN).await;
    problem(app.get_as(&admin, &uri(bluebird)).await, StatusCode::NOT_FOUND).await;
    problem(app.send_as(&admin, Method::PUT, &uri(delta), put(json!(30))).await, StatusCode::NOT_FOUND).await;
    problem(app.get_as(&reseller, &uri(delta)).await, StatusCode::NOT_FOUND).await;
    problem(app.get_as(&admin, &uri(987_654)).await, StatusCode::NOT_FOUND).await;

    // Out of range or not a number of days: 422 naming the field; nothing saved.
    for wrong in [json!(0), json!(36_501), json!(-1), json!("30"), json!(1.5)] {
        let answer =
            problem(app.send_as(&admin, Method::PUT, &uri(acme), put(wrong.clone())).await, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        assert_eq!(answer.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["keep_deleted_days"], "{wrong}");
    }
    let unknown = app.send_as(&admin, Method::PUT, &uri(acme), Some(json!({ "keep_deleted_days": 3, "keep": 1 }))).await;
    problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body_json::<Retention>(app.get_as(&admin, &uri(acme)).await).await.keep_deleted_days, None);

    // Set, read back, by the admin and by the organisation's reseller; null keeps everything again.
    let saved: Retention = body_json(app.send_as(&admin, Method::PUT, &uri(acme), put(json!(30))).await).await;
    assert_eq!(saved.keep_deleted_days, Some(30));
    assert_eq!(body_json::<Retention>(app.get_as(&reseller, &uri(acme)).await).await.keep_deleted_days, Some(30));
    let saved: Retention = body_json(app.send_as(&reseller, Method::PUT, &uri(bluebird), put(json!(36_500))).await).await;
    assert_eq!(saved.keep_deleted_days, Some(36_500));
    let saved: Retention = body_json(app.send_as(&admin, Method::PUT, &uri(acme), put(json!(null))).await).await;
    assert_eq!(saved.keep_deleted_days, None);
    assert_eq!(body_json::<Retention>(app.get_as(&admin, &uri(acme)).await).await.keep_deleted_days, None);

    // Never with an API token, even one that may act.
    let body = json!({ "name": "script", "access": "act", "expires_in_days": 30 });
    let created: CreatedApiToken = body_json(app.send_as(&admin, Method::POST, "/api/tokens", Some(body)).await).await;
    for (method, path, body) in [
        (Method::GET, uri(acme), None),
        (Method::PUT, uri(acme), put(json!(5))),
        (
            Method::PUT,
            format!("/api/mailboxes/{}/legal-hold", a_mailbox_of(&app.db, acme).await),
            Some(json!({ "on_hold": true })),
        ),
    ] {
        let request =
            Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {}", created.token));
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        problem(app.send(request.unwrap()).await, StatusCode::FORBIDDEN).await;
    }

    // Legal hold: on and off, seen in the mailboxes list; an end user 403; out of scope 404.
    let mailbox = a_mailbox_of(&app.db, acme).await;
    let hold = |id: i64| format!("/api/mailboxes/{id}/legal-hold");
    let held: OrganisationMailbox =
        body_json(app.send_as(&admin, Method::PUT, &hold(mailbox), Some(json!({ "on_hold": true }))).await).await;
    assert_eq!((held.id, held.legal_hold), (mailbox, true));
    let listed: Vec<OrganisationMailbox> =
        body_json(app.get_as(&admin, &format!("/api/organisations/{acme}/mailboxes")).await).await;
    assert!(listed.iter().all(|m| m.legal_hold == (m.id == mailbox)));
    let released: OrganisationMailbox =
        body_json(app.send_as(&reseller, Method::PUT, &hold(mailbox), Some(json!({ "on_hold": false }))).await).await;
    assert!(!released.legal_hold);
    let on = Some(json!({ "on_hold": true }));
    problem(app.send_as(&end_user, Method::PUT, &hold(mailbox), on.clone()).await, StatusCode::FORBIDDEN).await;
    let bluebirds = a_mailbox_of(&app.db, bluebird).await;
    problem(app.send_as(&admin, Method::PUT, &hold(bluebirds), on.clone()).await, StatusCode::NOT_FOUND).await;
    problem(
        app.send_as(&reseller, Method::PUT, &hold(a_mailbox_of(&app.db, delta).await), on.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.send_as(&admin, Method::PUT, &hold(987_654), on.clone()).await, StatusCode::NOT_FOUND).await;
    problem(
        app.send_as(&admin, Method::PUT, &hold(mailbox), Some(json!({ "on_hold": "yes" }))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let (held,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM mailboxes WHERE legal_hold <> 0").fetch_one(&app.db).await.unwrap();
    assert_eq!(held, 0, "refused requests changed nothing");

    // Each change is in the activity log, by whoever made it.
    let entries: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT action, actor, object FROM activity WHERE action IN ($1, $2) ORDER BY at, id")
            .bind("retention.changed")
            .bind("mailbox.legal_hold_changed")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let actions: Vec<&str> = entries.iter().map(|(action, _, _)| action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "retention.changed").count(), 3, "{entries:?}");
    assert_eq!(actions.iter().filter(|a| **a == "mailbox.legal_hold_changed").count(), 2, "{entries:?}");
    assert!(entries.iter().any(|(_, actor, object)| actor == "reseller@northwind.example"
        && object.as_deref() == Some("deleted messages kept 36500 day(s)")));
}

/// A message of its own in INBOX, arrived now.
fn seed(raw: Vec<u8>) -> Seed {
    Seed { folder: "INBOX".into(), raw, flags: "S".into(), arrived: SystemTime::now() }
}

fn mail(id: &str, to: &str, size: usize) -> Vec<u8> {
    message("sender@partner.example", to, id, &format!("{id}@p"), &format!("{id} ").repeat(size / (id.len() + 1) + 1))
}

async fn content_of(db: &Db, mailbox: i64, id: &str) -> String {
    let (hash,): (String,) =
        sqlx::query_as("SELECT content_hash FROM backup_messages WHERE mailbox_id = $1 AND message_id LIKE $2")
            .bind(mailbox)
            .bind(format!("%{id}@p%"))
            .fetch_one(db)
            .await
            .unwrap();
    hash
}

async fn deleted(db: &Db, mailbox: i64, id: &str, at: i64) {
    let done = sqlx::query("UPDATE backup_messages SET deleted_at = $1 WHERE mailbox_id = $2 AND message_id LIKE $3")
        .bind(at)
        .bind(mailbox)
        .bind(format!("%{id}@p%"))
        .execute(db)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "{id}");
}

async fn objects(db: &Db) -> Vec<Located> {
    sqlx::query_as("SELECT content_hash, pack, pack_offset, size FROM objects ORDER BY content_hash").fetch_all(db).await.unwrap()
}

/// Every stored content, read back (each checked against its hash), by hash.
async fn contents(db: &Db, store: &ObjectStore) -> HashMap<String, Vec<u8>> {
    let located = objects(db).await;
    let read = store.read(located.clone()).await.unwrap();
    located.into_iter().zip(read).map(|(object, bytes)| (object.content_hash, bytes.expect("reads back intact"))).collect()
}

/// The pack files on disk and their sizes.
fn packs(data: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(data.join("packs"))
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .filter(|(name, _)| name.ends_with(".pack"))
        .collect()
}

async fn storage(db: &Db, mailbox: i64) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT storage_used_bytes FROM mailboxes WHERE id = $1")
        .bind(mailbox)
        .fetch_one(db)
        .await
        .unwrap()
        .0
}

async fn messages_of(db: &Db, mailbox: i64) -> Vec<String> {
    let rows: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT message_id FROM backup_messages WHERE mailbox_id = $1 ORDER BY message_id")
            .bind(mailbox)
            .fetch_all(db)
            .await
            .unwrap();
    rows.into_iter().map(|(id,)| id.unwrap_or_default().trim_matches(['<', '>']).to_owned()).collect()
}

#[tokio::test]
async fn a_retention_of_one_day_prunes_a_message_deleted_two_days_ago_and_keeps_one_on_legal_hold() {
    // A data folder of its own (on PostgreSQL, tests otherwise share one).
    let folder = tempfile::tempdir().unwrap();
    let own = folder.path().join("data");
    let users: Vec<User> = ["alice", "bob", "carol", "erin", "frank"].iter().map(|u| User::new(u, &format!("{u}-pw"))).collect();
    let imap = Imap::start_with(&users, |config| config.data_dir = own).await;
    let (db, data) = (imap.app.db.clone(), imap.app.state.config.data_dir.clone());
    let store = ObjectStore::new(&data, None);
    // Alice: one to prune, one kept, one deleted only hours ago, and one whose very bytes Bob
    // also has (stored once). Carol is on legal hold; Erin's only message goes, and with it her
    // whole pack; Frank's organisation keeps everything.
    let shared = mail("shared", "team@imap.test", 3000);
    let dovecot = &imap.dovecot;
    let to = "team@imap.test";
    dovecot
        .seed(
            "alice",
            &[
                seed(mail("a-old", to, 20_000)),
                seed(mail("a-keep", to, 5000)),
                seed(mail("a-recent", to, 700)),
                seed(shared.clone()),
            ],
        )
        .unwrap();
    dovecot.seed("bob", &[seed(shared.clone()), seed(mail("b-own", to, 900))]).unwrap();
    dovecot.seed("carol", &[seed(mail("c-old", to, 8000))]).unwrap();
    dovecot.seed("erin", &[seed(mail("e-old", to, 12_000))]).unwrap();
    dovecot.seed("frank", &[seed(mail("f-old", to, 4000))]).unwrap();
    let mut ids = HashMap::new();
    for user in ["alice", "bob", "carol", "erin", "frank"] {
        ids.insert(user, imap.add(&format!("{user}@imap.test"), user, &format!("{user}-pw")).await.id);
        // One backup at a time: each run writes a pack of its own.
        imap.run().await;
    }
    let delta = organisation(&db, "Delta Foods").await;
    sqlx::query("UPDATE mailboxes SET organisation_id = $1 WHERE id = $2")
        .bind(delta)
        .bind(ids["frank"])
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(content_of(&db, ids["alice"], "shared").await, content_of(&db, ids["bob"], "shared").await, "stored once");

    // Retention of a day for Acme; Carol on hold. Deleted two days ago, or twelve hours ago.
    let now = now_ms();
    let admin = &imap.admin;
    let uri = format!("/api/organisations/{ACME}/retention");
    let set = imap.app.send_as(admin, Method::PUT, &uri, Some(json!({ "keep_deleted_days": 1 }))).await;
    assert_eq!(set.status(), StatusCode::OK);
    let hold = format!("/api/mailboxes/{}/legal-hold", ids["carol"]);
    let held = imap.app.send_as(admin, Method::PUT, &hold, Some(json!({ "on_hold": true }))).await;
    assert_eq!(held.status(), StatusCode::OK);
    for (user, id) in [("alice", "a-old"), ("alice", "shared"), ("carol", "c-old"), ("erin", "e-old"), ("frank", "f-old")] {
        deleted(&db, ids[user], id, now - 2 * DAY).await;
    }
    deleted(&db, ids["alice"], "a-recent", now - DAY / 2).await;

    let gone = [content_of(&db, ids["alice"], "a-old").await, content_of(&db, ids["erin"], "e-old").await];
    let before: Retention = body_json(imap.app.get_as(admin, &uri).await).await;
    let stored = contents(&db, &store).await;
    let size = |id: &str| stored[&content_with(&stored, id)].len() as i64;
    let pack_of = |hash: &str, objects: &[Located]| objects.iter().find(|o| o.content_hash == hash).unwrap().pack.clone();
    let (alice_pack, erin_pack) = (pack_of(&gone[0], &objects(&db).await), pack_of(&gone[1], &objects(&db).await));
    let packs_before = packs(&data);
    assert_eq!(packs_before.len(), 5, "{packs_before:?}");
    let (mut storage_before, mut search_before) = (HashMap::new(), HashMap::new());
    for (user, id) in &ids {
        storage_before.insert(*user, storage(&db, *id).await);
        search_before.insert(*user, search_count(&db, *id).await);
    }
    assert_eq!(search_before["alice"], 4, "the backup indexed each message for search");

    // While a backup writes to the store, the messages go but the store is left for the next run.
    let writing = store.lock(&db, false).await.unwrap();
    let summary = prune(&db, &store, now).await.unwrap();
    drop(writing);
    assert_eq!((summary.organisations, summary.messages), (1, 3), "{summary:?}");
    assert!(summary.compaction.is_none() && summary.put_off.is_some(), "{summary:?}");
    assert_eq!(objects(&db).await.len(), stored.len(), "no content removed while a backup runs");
    assert_eq!(packs(&data), packs_before);

    // The messages: gone from the backups; the one on hold, the recent one and Delta's kept.
    assert_eq!(messages_of(&db, ids["alice"]).await, ["a-keep@p", "a-recent@p"]);
    assert_eq!(messages_of(&db, ids["bob"]).await, ["b-own@p", "shared@p"]);
    assert_eq!(messages_of(&db, ids["carol"]).await, ["c-old@p"]);
    assert!(messages_of(&db, ids["erin"]).await.is_empty());
    assert_eq!(messages_of(&db, ids["frank"]).await, ["f-old@p"]);
    // Their search rows too, and what the mailboxes hold.
    assert_eq!(search_count(&db, ids["alice"]).await, 2);
    assert_eq!(search_count(&db, ids["erin"]).await, 0);
    for user in ["bob", "carol", "frank"] {
        assert_eq!(search_count(&db, ids[user]).await, search_before[user], "{user}");
        assert_eq!(storage(&db, ids[user]).await, storage_before[user], "{user}");
    }
    assert_eq!(storage(&db, ids["erin"]).await, 0);
    assert_eq!(storage(&db, ids["alice"]).await, storage_before["alice"] - size("a-old") - size("shared"));
    assert_eq!(summary.bytes as i64, size("a-old") + size("shared") + size("e-old"));
    let after: Retention = body_json(imap.app.get_as(admin, &uri).await).await;
    assert_eq!((after.last_pruned_messages, after.last_pruned_bytes), (3, summary.bytes));
    assert_eq!(after.last_pruned_at, Some(portal_server::db::rfc3339(now)));
    assert_eq!(after.storage_used_bytes, before.storage_used_bytes - summary.bytes);
    // The dashboard shows it per organisation: used now, and what the pruning removed.
    let dashboard: portal_api::Dashboard = body_json(imap.app.get_as(admin, "/api/dashboard").await).await;
    let acme = dashboard.organisations.iter().find(|o| o.organisation_id == ACME).expect("the admin's organisation");
    assert_eq!((acme.used_bytes, acme.last_pruned_bytes, acme.keep_deleted_days), (after.storage_used_bytes, summary.bytes, Some(1)));
    assert_eq!(dashboard.organisations.len(), 1, "an admin sees their organisation only");
    let (actor, object): (String, Option<String>) =
        sqlx::query_as("SELECT actor, object FROM activity WHERE action = $1 AND organisation_id = $2")
            .bind("retention.pruned")
            .bind(ACME)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(actor, "Daily pruning (retention)");
    assert!(object.as_deref().unwrap_or("").starts_with("3 message(s)"), "{object:?}");

    // The next run compacts: only the content no message references leaves the store (the
    // shared one stays, Bob's message needs it); Alice's pack is written again without it,
    // Erin's retired whole; both stay on disk a while, for readers already on their way.
    let summary = prune(&db, &store, now).await.unwrap();
    assert_eq!(summary.messages, 0);
    let compaction = summary.compaction.clone().expect("compacted");
    assert_eq!((compaction.objects_removed, compaction.packs_rewritten, compaction.packs_retired), (2, 1, 2), "{summary:?}");
    assert_eq!(compaction.object_bytes_removed as i64, size("a-old") + size("e-old"));
    assert_eq!(summary.swept.packs_deleted, 0, "{summary:?}");
    let left = objects(&db).await;
    assert_eq!(left.len(), stored.len() - 2);
    assert!(left.iter().all(|o| !gone.contains(&o.content_hash)));
    assert!(left.iter().any(|o| o.content_hash == content_with(&stored, "shared")));
    let read_again = contents(&db, &store).await;
    assert_eq!(read_again.len(), left.len());
    for (hash, bytes) in &read_again {
        assert_eq!(bytes, &stored[hash], "a content that stays reads back byte for byte");
    }
    let in_use: BTreeSet<String> = left.iter().map(|o| o.pack.clone()).collect();
    assert!(!in_use.contains(&alice_pack) && !in_use.contains(&erin_pack), "{in_use:?}");
    let on_disk = packs(&data);
    assert!(on_disk.contains_key(&alice_pack) && on_disk.contains_key(&erin_pack), "retired, not yet deleted");
    let new: Vec<&String> = in_use.iter().filter(|p| !packs_before.contains_key(*p)).collect();
    assert_eq!(new.len(), 1, "one new pack: {in_use:?}");
    assert!(on_disk[new[0]] + size("a-old") as u64 <= packs_before[&alice_pack], "{on_disk:?} {packs_before:?}");

    // Once the grace is over, the retired packs are deleted: the store is smaller by at least
    // what was pruned, and the store check finds nothing missing nor left over.
    let later = sweep(&db, &store, now + RETIRED_GRACE_MS - 1).await.unwrap();
    assert_eq!(later.swept.packs_deleted, 0, "not before the grace is over");
    let later = sweep(&db, &store, now + RETIRED_GRACE_MS).await.unwrap();
    assert_eq!(later.swept.packs_deleted, 2, "{later:?}");
    let packs_after = packs(&data);
    assert_eq!(packs_after.keys().cloned().collect::<BTreeSet<_>>(), in_use);
    let (total_before, total_after): (u64, u64) = (packs_before.values().sum(), packs_after.values().sum());
    assert!(total_after + (size("a-old") + size("e-old")) as u64 <= total_before, "{total_before} -> {total_after}");
    assert_eq!(later.swept.bytes_freed, packs_before[&alice_pack] + packs_before[&erin_pack]);
    let (retired,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM retired_packs").fetch_one(&db).await.unwrap();
    assert_eq!(retired, 0);
    let report = check(&db, &data, false).await.unwrap();
    assert!(!report.damaged() && !report.unreferenced(), "{report}");

    // The backups still download whole.
    let file = imap.download(ids["bob"], "eml_zip", "bob.zip").await;
    assert_eq!(message_ids_in_zip(&file), ["<b-own@p>", "<shared@p>"]);
    let file = imap.download(ids["alice"], "eml_zip", "alice.zip").await;
    assert_eq!(message_ids_in_zip(&file), ["<a-keep@p>", "<a-recent@p>"]);
}

async fn search_count(db: &Db, mailbox: i64) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM message_search WHERE mailbox_id = $1")
        .bind(mailbox)
        .fetch_one(db)
        .await
        .unwrap()
        .0
}

/// The hash of the stored content whose Message-ID is `id`.
fn content_with(stored: &HashMap<String, Vec<u8>>, id: &str) -> String {
    let needle = format!("Message-ID: <{id}@p>");
    let found: Vec<&String> =
        stored.iter().filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(&needle)).map(|(hash, _)| hash).collect();
    assert_eq!(found.len(), 1, "{id}");
    found[0].clone()
}

fn message_ids_in_zip(file: &Path) -> Vec<String> {
    let read = std::process::Command::new("python3")
        .args([
            "-c",
            "import email, sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1]) as z:\n\
             \x20   for name in z.namelist():\n\
             \x20       print(email.message_from_bytes(z.read(name))['Message-ID'])",
            file.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let mut ids: Vec<String> = String::from_utf8(read.stdout).unwrap().lines().map(str::to_owned).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_pack_whose_live_content_is_damaged_is_left_as_it_is_and_compacted_once_repaired() {
    let folder = tempfile::tempdir().unwrap();
    let own = folder.path().join("data");
    let imap = Imap::start_with(&[User::new("alice", "alice-pw")], |config| config.data_dir = own).await;
    let (db, data) = (imap.app.db.clone(), imap.app.state.config.data_dir.clone());
    let store = ObjectStore::new(&data, None);
    let to = "alice@imap.test";
    imap.dovecot.seed("alice", &[seed(mail("old", to, 6000)), seed(mail("kept", to, 6000))]).unwrap();
    let alice = imap.add(to, "alice", "alice-pw").await.id;
    imap.run().await;
    let uri = format!("/api/organisations/{ACME}/retention");
    let set = imap.app.send_as(&imap.admin, Method::PUT, &uri, Some(json!({ "keep_deleted_days": 1 }))).await;
    assert_eq!(set.status(), StatusCode::OK);
    let now = now_ms();
    deleted(&db, alice, "old", now - 2 * DAY).await;

    // A byte of the content that stays is changed on disk: copying it would carry the damage
    // into a new pack under a good name, so the pack is left whole, dead row and all.
    let stored = objects(&db).await;
    let kept_hash = content_of(&db, alice, "kept").await;
    let kept = stored.iter().find(|o| o.content_hash == kept_hash).unwrap().clone();
    let pack = data.join("packs").join(&kept.pack);
    let sound = std::fs::read(&pack).unwrap();
    let mut damaged = sound.clone();
    damaged[kept.offset as usize + 20] ^= 0x20;
    std::fs::write(&pack, &damaged).unwrap();
    let summary = prune(&db, &store, now).await.unwrap();
    assert_eq!(summary.messages, 1);
    let compaction = summary.compaction.expect("tried");
    assert_eq!((compaction.packs_skipped, compaction.packs_retired, compaction.objects_removed), (1, 0, 0), "{compaction:?}");
    assert_eq!(objects(&db).await, stored, "the index is as it was");
    assert_eq!(packs(&data).len(), 1, "no new pack left behind");
    let (listed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM retired_packs").fetch_one(&db).await.unwrap();
    assert_eq!(listed, 0);
    assert!(check(&db, &data, false).await.unwrap().damaged(), "the check still names the damage");

    // Put back (as from a copy of the data folder): the next run compacts.
    std::fs::write(&pack, &sound).unwrap();
    let summary = prune(&db, &store, now).await.unwrap();
    let compaction = summary.compaction.expect("compacted");
    assert_eq!((compaction.packs_skipped, compaction.packs_rewritten, compaction.objects_removed), (0, 1, 1), "{compaction:?}");
    sweep(&db, &store, now + RETIRED_GRACE_MS).await.unwrap();
    let report = check(&db, &data, false).await.unwrap();
    assert!(!report.damaged() && !report.unreferenced(), "{report}");
    assert_eq!(report.objects_checked, 1);
}
