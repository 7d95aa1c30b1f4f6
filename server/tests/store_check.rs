//! The store check against a store of real mail (backed up from Dovecot): clean after a
//! backup; a changed byte, an index row gone, a pack deleted each found as damage; content no
//! backup needs listed, and `--repair` removes that and nothing else. Run as the library call
//! and as `portal-server check`, whose exit status says which.

mod common;

use std::path::{Path, PathBuf};

use common::imap::Imap;
use portal_server::db::{Backend, Db};
use portal_server::imap::check::{check, Repair, Report};
use portal_server::imap::store::{Located, ObjectStore};
use testkit::User;

/// The objects of the store, in the order they were written.
async fn objects(db: &Db) -> Vec<Located> {
    sqlx::query_as("SELECT content_hash, pack, pack_offset, size FROM objects ORDER BY pack, pack_offset")
        .fetch_all(db)
        .await
        .unwrap()
}

/// `portal-server check` on this test's database and data folder: its exit status and output.
fn command(imap: &Imap, repair: bool) -> (i32, String) {
    let config = &imap.app.state.config;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portal-server"));
    command
        .arg("check")
        .env("DATABASE_URL", &config.database_url)
        .env("PORTAL_DATA_DIR", &config.data_dir)
        .env("RUST_LOG", "warn");
    if repair {
        command.arg("--repair");
    }
    let output = command.output().expect("the server binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().expect("it exits"), text)
}

async fn checked(imap: &Imap) -> Report {
    check(&imap.app.db, &imap.app.state.config.data_dir, false).await.unwrap()
}

fn pack_path(data: &Path, pack: &str) -> PathBuf {
    data.join("packs").join(pack)
}

#[tokio::test]
async fn the_store_check_finds_damage_and_repairs_only_what_no_backup_needs() {
    // A data folder of its own (on PostgreSQL, tests otherwise share one).
    let folder = tempfile::tempdir().unwrap();
    let own = folder.path().join("data");
    let imap = Imap::start_with(&[User::new("alice", "alice-pw")], |config| config.data_dir = own).await;
    imap.dovecot.seed("alice", &testkit::sample_mail("alice@imap.test")).unwrap();
    let alice = imap.add("alice@imap.test", "alice", "alice-pw").await;
    imap.run().await;
    let db = &imap.app.db;
    let data = imap.app.state.config.data_dir.clone();

    // Clean: the six messages it took, each read back and hashed.
    let stored = objects(db).await;
    assert_eq!(stored.len(), 6);
    let report = checked(&imap).await;
    assert_eq!((report.objects_checked, report.pack_files), (6, 1), "{report}");
    assert_eq!(report.bytes_checked, stored.iter().map(|o| o.size as u64).sum::<u64>());
    assert!(!report.damaged() && !report.unreferenced(), "{report}");
    let (status, text) = command(&imap, false);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("Checked 6 object(s)") && text.contains("Every backup's content is there and intact."), "{text}");

    // One byte changed in a pack: that object is corrupt, the others sound; the command says DAMAGED.
    let pack = pack_path(&data, &stored[1].pack);
    let sound = std::fs::read(&pack).unwrap();
    let mut changed = sound.clone();
    changed[stored[1].offset as usize + 10] ^= 0x20;
    std::fs::write(&pack, &changed).unwrap();
    let report = checked(&imap).await;
    assert_eq!((report.corrupt, report.missing, report.objects_checked), (1, 0, 6), "{report}");
    assert!(report.damaged() && report.named[0].contains(&stored[1].content_hash), "{report}");
    let (status, text) = command(&imap, false);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("1 corrupt") && text.contains("DAMAGED"), "{text}");
    std::fs::write(&pack, &sound).unwrap();

    // A message whose content has no index row any more.
    let gone = &stored[0];
    sqlx::query("DELETE FROM objects WHERE content_hash = $1").bind(&gone.content_hash).execute(db).await.unwrap();
    let report = checked(&imap).await;
    assert_eq!((report.messages_without_content, report.objects_checked), (1, 5), "{report}");
    assert!(report.named.iter().any(|n| n.starts_with("no content:") && n.contains(&gone.content_hash)), "{report}");
    let mut connection = db.acquire().await.unwrap();
    ObjectStore::record(&mut connection, Backend::of(db), std::slice::from_ref(gone)).await.unwrap();
    drop(connection);

    // What no backup needs: the last object of a second backup's pack, its message since gone;
    // an object of another message gone, in a pack of its own; a pack file no row points at;
    // and bytes after the end of the first pack.
    imap.dovecot.seed("alice", &testkit::bulk_mail("alice@imap.test", 2, 6000)).unwrap();
    imap.force(alice.id).await;
    imap.run().await;
    let second: Vec<Located> = objects(db).await.into_iter().filter(|o| o.pack != stored[0].pack).collect();
    assert_eq!(second.len(), 2, "the new messages, in a pack of the second run");
    let (kept, last) = (&second[0], &second[1]);
    let second_pack = pack_path(&data, &last.pack);
    let second_sound = std::fs::read(&second_pack).unwrap();
    assert!(last.offset as usize >= 4096, "it begins past the first block: {last:?}");
    sqlx::query("DELETE FROM backup_messages WHERE content_hash = $1").bind(&last.content_hash).execute(db).await.unwrap();
    let store = ObjectStore::new(&data, None);
    let orphan = b"Subject: gone\r\n\r\nA message no backup holds any more.\r\n".to_vec();
    let mut writer = store.pack_writer(db).await.unwrap();
    let written = writer.append(vec![(ObjectStore::hash(&orphan), orphan)]).unwrap();
    drop(writer);
    let mut connection = db.acquire().await.unwrap();
    ObjectStore::record(&mut connection, Backend::of(db), &written).await.unwrap();
    drop(connection);
    std::fs::write(pack_path(&data, "1000-stray.pack"), vec![1_u8; 5000]).unwrap();
    let mut longer = sound.clone();
    longer.extend_from_slice(&[7_u8; 300]);
    std::fs::write(&pack, &longer).unwrap();

    let report = checked(&imap).await;
    assert!(!report.damaged(), "nothing a backup needs is touched: {report}");
    assert_eq!((report.unreferenced_objects, report.unreferenced_packs, report.unindexed_packs), (2, 1, 1), "{report}");
    assert_eq!((report.unindexed_pack_bytes, report.tail_bytes, report.pack_files), (5000, 300, 4), "{report}");
    let (status, text) = command(&imap, false);
    assert_eq!(status, 0, "unreferenced content is not damage: {text}");
    assert!(text.contains("2 object(s) in no backup") && text.contains("Run it with --repair"), "{text}");

    // No repair while a backup runs (here, or on another instance), nor while a run holds the store.
    let running = store.pack_writer(db).await.unwrap();
    let refused = check(db, &data, true).await.unwrap();
    assert!(matches!(&refused.repair, Repair::Refused(why) if why.contains("writing to the store")), "{refused}");
    assert_eq!(refused.exit_code(), 2);
    drop(running);
    let alices =
        "SELECT j.id FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id WHERE m.connector = 'imap' AND j.kind = 'backup'";
    let job: (String,) = sqlx::query_as(alices).fetch_one(db).await.unwrap();
    let until = portal_server::db::now_ms() + 60_000;
    let lease = "UPDATE jobs SET status = $1, lease_until = $2 WHERE id = $3";
    sqlx::query(lease).bind("in_progress").bind(until).bind(&job.0).execute(db).await.unwrap();
    let (status, text) = command(&imap, true);
    assert_eq!(status, 2, "{text}");
    assert!(text.contains("1 backup(s) are running, nothing was removed"), "{text}");
    assert_eq!(checked(&imap).await.unreferenced_objects, 2, "nothing removed");
    sqlx::query(lease).bind("completed").bind(None::<i64>).bind(&job.0).execute(db).await.unwrap();

    // The repair: the two unreferenced rows, the orphan's pack, the stray pack, the first
    // pack's extra bytes, and the second pack's end from the block of its last object left;
    // nothing else.
    let (status, text) = command(&imap, true);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("Repair: deleted 2 index row(s) and 2 pack file(s)"), "{text}");
    let report = checked(&imap).await;
    assert!(!report.damaged() && !report.unreferenced(), "clean at once: {report}");
    assert_eq!((report.objects_checked, report.pack_files), (7, 2), "{report}");
    assert_eq!(std::fs::read(&pack).unwrap(), sound, "the first pack as it was written");
    let end = (last.offset as usize).div_ceil(4096) * 4096;
    assert!(end < second_sound.len());
    assert_eq!(std::fs::read(&second_pack).unwrap(), second_sound[..end], "the second, up to its last object's block");
    let mut needed = stored.clone();
    needed.push(kept.clone());
    assert_eq!(objects(db).await, needed);

    // The first pack deleted: every object in it is missing.
    std::fs::remove_file(&pack).unwrap();
    let report = checked(&imap).await;
    assert_eq!((report.missing, report.objects_checked, report.pack_files), (6, 7, 1), "{report}");
    assert!(report.named.iter().all(|n| n.starts_with("missing: its pack file is gone")), "{report}");
    let (status, text) = command(&imap, true);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("6 missing") && text.contains("DAMAGED"), "{text}");
    assert_eq!(objects(db).await, needed, "a repair never removes what a backup needs, found or not");
}
