//! The store check on the shared store (S3-compatible): the same verdicts as on the data
//! folder's packs, read with ranged requests. A pack there is written whole, once, so it has no
//! cut-off end to find.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;

use super::{PackUse, Report, Verdict};
use crate::imap::store::{Located, ObjectStore, Remote};

/// Bytes read in one request at most (several objects of a pack at once).
const READ_AT_ONCE: u64 = 32 << 20;

/// Each object of a page, a pack's at a time.
pub(super) async fn verify_page(remote: &Remote, mut page: Vec<Located>) -> Vec<(Located, Verdict)> {
    page.sort_by(|a, b| (&a.pack, a.offset).cmp(&(&b.pack, b.offset)));
    let mut out = Vec::with_capacity(page.len());
    let mut objects = page.into_iter().peekable();
    while let Some(first) = objects.next() {
        let mut same = vec![first];
        while objects.peek().is_some_and(|next| next.pack == same[0].pack) {
            same.extend(objects.next());
        }
        verify_pack(remote, same, &mut out).await;
    }
    out
}

async fn verify_pack(remote: &Remote, objects: Vec<Located>, out: &mut Vec<(Located, Verdict)>) {
    let pack = objects[0].pack.clone();
    if !crate::imap::store::pack_name_is_ours(&pack) {
        out.extend(objects.into_iter().map(|o| (o, Verdict::Corrupt("the index names a pack file that is not one of ours"))));
        return;
    }
    let size = match remote.size(&pack).await {
        Ok(size) => size,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            out.extend(objects.into_iter().map(|o| (o, Verdict::Missing("its pack file is gone"))));
            return;
        }
        Err(error) => {
            let kind = error.kind();
            out.extend(objects.into_iter().map(|o| (o, Verdict::Unreadable(std::io::Error::new(kind, error.to_string())))));
            return;
        }
    };
    // What can be read, in groups of at most READ_AT_ONCE bytes (memory stays bounded).
    let mut group: Vec<Located> = Vec::new();
    let mut bytes = 0;
    for object in objects {
        if object.offset < 0 || object.size < 0 {
            out.push((object, Verdict::Corrupt("the index row has a negative place")));
            continue;
        }
        if (object.offset as u64).saturating_add(object.size as u64) > size {
            out.push((object, Verdict::Missing("its pack file ends before it")));
            continue;
        }
        if bytes + object.size as u64 > READ_AT_ONCE && !group.is_empty() {
            read_group(remote, &pack, std::mem::take(&mut group), out).await;
            bytes = 0;
        }
        bytes += object.size as u64;
        group.push(object);
    }
    if !group.is_empty() {
        read_group(remote, &pack, group, out).await;
    }
}

async fn read_group(remote: &Remote, pack: &str, group: Vec<Located>, out: &mut Vec<(Located, Verdict)>) {
    let ranges: Vec<std::ops::Range<u64>> = group.iter().map(Located::range).collect();
    match remote.read_ranges(pack, &ranges).await {
        Ok(parts) => out.extend(group.into_iter().zip(parts).map(|(object, bytes)| {
            let verdict = if ObjectStore::hash(&bytes) == object.content_hash {
                Verdict::Sound
            } else {
                Verdict::Corrupt("its bytes do not match its hash")
            };
            (object, verdict)
        })),
        Err(error) => {
            let kind = error.kind();
            out.extend(group.into_iter().map(|o| (o, Verdict::Unreadable(std::io::Error::new(kind, error.to_string())))));
        }
    }
}

/// The shared store's packs against what the index says of them; with `repair`, the
/// unindexed and unreferenced ones deleted (`lock`: held alone for a repair). Returns (packs deleted, bytes freed).
pub(super) async fn scan_packs(
    db: &crate::db::Db,
    lock: Option<&crate::imap::store::StoreLock>,
    remote: &Remote,
    packs: &HashMap<String, PackUse>,
    retired: &HashSet<String>,
    report: &mut Report,
) -> std::io::Result<(u64, u64)> {
    let repair = lock.is_some();
    let (mut deleted, mut freed) = (0, 0);
    let mut listed = remote.list();
    while let Some((name, len)) = listed.try_next().await? {
        if !name.ends_with(".pack") || !crate::imap::store::pack_name_is_ours(&name) {
            continue;
        }
        report.pack_files += 1;
        // Written whole, once: a pack in use has no cut-off end here.
        let whole = super::judge_pack(&name, len, packs.get(&name), retired, report).unwrap_or(false);
        if whole && repair {
            // The hold, still ours: else a backup may have written this pack and not yet recorded it.
            let lock = lock.expect("repairing");
            if !lock.confirm_now(db).await.map_err(std::io::Error::other)? {
                return Err(std::io::Error::other("the object store's lock was lost: the repair stopped"));
            }
            remote.delete(&name).await?;
            deleted += 1;
            freed += len;
        }
    }
    Ok((deleted, freed))
}
