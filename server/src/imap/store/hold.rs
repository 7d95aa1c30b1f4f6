//! The shared store's lock, kept in the database (`store_holds`) so that every instance sees
//! it: backup runs hold it together, a repair or a compaction alone, as `packs/.lock` does on
//! one machine. A hold is renewed while it lives and lapses when its instance dies.

use std::time::Duration;

use crate::db::{now_ms, Backend, Db};

/// A hold not renewed for this long is over (its instance died).
const HOLD_MS: i64 = 60_000;
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// Held while it lives; renewed in the background.
pub struct Hold {
    id: String,
    db: Db,
    renew: tokio::task::JoinHandle<()>,
}

/// Takes the hold, `exclusive` or shared; `WouldBlock` when the other side holds it.
pub async fn take(db: &Db, exclusive: bool) -> std::io::Result<Hold> {
    let id = hex::encode(rand::random::<[u8; 12]>());
    let now = now_ms();
    let mut tx = db.begin().await.map_err(std::io::Error::other)?;
    if Backend::of(db) == Backend::Postgres {
        // Two instances taking at once see each other (SQLite has one writer anyway).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('store_holds', 7405022))")
            .execute(&mut *tx)
            .await
            .map_err(std::io::Error::other)?;
    }
    let taken = sqlx::query(
        "INSERT INTO store_holds (id, exclusive, until_ms) SELECT $1, $2, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM store_holds WHERE until_ms > $4 AND (exclusive = 1 OR $2 = 1))",
    )
    .bind(&id)
    .bind(i32::from(exclusive))
    .bind(now + HOLD_MS)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(std::io::Error::other)?;
    // Lapsed holds go while we are here.
    sqlx::query("DELETE FROM store_holds WHERE until_ms <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(std::io::Error::other)?;
    tx.commit().await.map_err(std::io::Error::other)?;
    if taken.rows_affected() == 0 {
        return Err(std::io::ErrorKind::WouldBlock.into());
    }
    let renew = tokio::spawn({
        let (db, id) = (db.clone(), id.clone());
        async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let renewed = sqlx::query("UPDATE store_holds SET until_ms = $1 WHERE id = $2")
                    .bind(now_ms() + HOLD_MS)
                    .bind(&id)
                    .execute(&db)
                    .await;
                if let Err(error) = renewed {
                    tracing::warn!(%error, "the object store's hold could not be renewed");
                }
            }
        }
    });
    Ok(Hold { id, db: db.clone(), renew })
}

impl Hold {
    /// Whether the hold is still ours: checked in the transaction that records what a backup
    /// wrote, so a run whose hold lapsed (its renewals failed) records nothing.
    pub async fn confirm(&self, connection: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
        let renewed = sqlx::query("UPDATE store_holds SET until_ms = $1 WHERE id = $2")
            .bind(now_ms() + HOLD_MS)
            .bind(&self.id)
            .execute(&mut *connection)
            .await?;
        Ok(renewed.rows_affected() == 1)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.renew.abort();
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        // Given back at once where a runtime is at hand; otherwise it lapses within HOLD_MS.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = sqlx::query("DELETE FROM store_holds WHERE id = $1").bind(id).execute(&db).await;
            });
        }
    }
}
