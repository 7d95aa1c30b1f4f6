//! The shared store's lock, kept in the database (`store_holds`) so that every instance sees
//! it: backup runs hold it together, a repair or a compaction alone, as `packs/.lock` does on
//! one machine. A hold is renewed while it lives and lapses when its instance dies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::db::{Backend, Db};

/// A hold not renewed for this long is over (its instance died).
const HOLD_MS: i64 = 60_000;
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// Held while it lives; renewed in the background.
pub struct Hold {
    id: String,
    db: Db,
    renew: tokio::task::JoinHandle<()>,
    /// Set when a renewal found the hold gone (it lapsed, and another may hold the store now).
    lost: Arc<AtomicBool>,
}

/// The database's clock in Unix ms: every instance compares holds on one clock.
fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// Takes the hold, `exclusive` or shared; `WouldBlock` when the other side holds it.
pub async fn take(db: &Db, exclusive: bool) -> std::io::Result<Hold> {
    let id = hex::encode(rand::random::<[u8; 12]>());
    let backend = Backend::of(db);
    let now = now_sql(backend);
    let mut tx = db.begin().await.map_err(std::io::Error::other)?;
    if backend == Backend::Postgres {
        // Two instances taking at once see each other (SQLite has one writer anyway).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('store_holds', 7405022))")
            .execute(&mut *tx)
            .await
            .map_err(std::io::Error::other)?;
    }
    // Lapsed holds go first, so that the insert's look sees only live ones (and a renewal
    // under way, which waits for this, finds its row gone rather than revived).
    sqlx::query(&format!("DELETE FROM store_holds WHERE until_ms <= {now}"))
        .execute(&mut *tx)
        .await
        .map_err(std::io::Error::other)?;
    let taken = sqlx::query(&format!(
        "INSERT INTO store_holds (id, exclusive, until_ms) SELECT $1, $2, {now} + $3 \
         WHERE NOT EXISTS (SELECT 1 FROM store_holds WHERE exclusive = 1 OR $2 = 1)"
    ))
    .bind(&id)
    .bind(i32::from(exclusive))
    .bind(HOLD_MS)
    .execute(&mut *tx)
    .await
    .map_err(std::io::Error::other)?;
    tx.commit().await.map_err(std::io::Error::other)?;
    if taken.rows_affected() == 0 {
        return Err(std::io::ErrorKind::WouldBlock.into());
    }
    let lost = Arc::new(AtomicBool::new(false));
    let renew = tokio::spawn({
        let (db, id, lost) = (db.clone(), id.clone(), lost.clone());
        async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let renewed = match db.acquire().await {
                    Ok(mut connection) => renew(&mut connection, Backend::of(&db), &id).await,
                    Err(error) => Err(error),
                };
                match renewed {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!("the object store's hold lapsed: what holds it stops at its next step");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "the object store's hold could not be renewed"),
                }
            }
        }
    });
    Ok(Hold { id, db: db.clone(), renew, lost })
}

/// Moves a live hold's end on; `false` when it is not there any more (it lapsed: a lapsed row
/// is never revived).
async fn renew(connection: &mut sqlx::AnyConnection, backend: Backend, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_sql(backend);
    let renewed = sqlx::query(&format!("UPDATE store_holds SET until_ms = {now} + $1 WHERE id = $2 AND until_ms > {now}"))
        .bind(HOLD_MS)
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(renewed.rows_affected() == 1)
}

impl Hold {
    /// Whether the hold is still ours (and renewed): checked in the transaction that records
    /// what a backup wrote or a compaction moved, and before a pack is deleted, so that work
    /// whose hold lapsed (its renewals failed) changes nothing.
    pub async fn confirm(&self, connection: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
        if self.lost.load(Ordering::SeqCst) {
            return Ok(false);
        }
        renew(connection, Backend::of(&self.db), &self.id).await
    }

    /// Gives the hold back now (a command that ends next cannot leave it to `Drop`).
    pub async fn release(mut self) {
        self.renew.abort();
        let id = std::mem::take(&mut self.id);
        if let Err(error) = give_back(&self.db, id).await {
            tracing::warn!(%error, "the object store's hold could not be given back: it lapses within a minute");
        }
    }
}

async fn give_back(db: &Db, id: String) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM store_holds WHERE id = $1").bind(id).execute(db).await.map(|_| ())
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.renew.abort();
        if self.id.is_empty() {
            return; // released
        }
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        // Given back at once where a runtime is at hand; otherwise it lapses within HOLD_MS.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = give_back(&db, id).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backups_hold_the_store_together_a_repair_alone_and_a_lapsed_hold_is_nobodys() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::connect(&format!("sqlite://{}/holds.db", dir.path().display())).await.unwrap();
        let refused = |taken: std::io::Result<Hold>| taken.err().map(|e| e.kind()) == Some(std::io::ErrorKind::WouldBlock);
        let one = take(&db, false).await.unwrap();
        let two = take(&db, false).await.unwrap();
        assert!(refused(take(&db, true).await), "a repair while backups write");
        one.release().await;
        two.release().await;
        let alone = take(&db, true).await.unwrap();
        assert!(refused(take(&db, false).await) && refused(take(&db, true).await), "anything during a repair");

        // Its instance died (no renewal): the next taker has the store, and the lapsed hold's
        // owner, were it still running, is told it lost it.
        sqlx::query("UPDATE store_holds SET until_ms = 0").execute(&db).await.unwrap();
        let next = take(&db, false).await.unwrap();
        let mut connection = db.acquire().await.unwrap();
        assert!(!alone.confirm(&mut connection).await.unwrap());
        assert!(next.confirm(&mut connection).await.unwrap());
    }
}
