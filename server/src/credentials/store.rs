//! What the job engine reads of the credentials: below both, so that the engine (a lower
//! layer) never imports the credentials' handlers.

use crate::db::Db;

/// Whether every credential of the organisation works (backups can sign in).
pub async fn all_working(db: &Db, organisation_id: i64) -> Result<bool, sqlx::Error> {
    let (broken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM credentials WHERE organisation_id = $1 AND state = 'broken'")
        .bind(organisation_id)
        .fetch_one(db)
        .await?;
    Ok(broken == 0)
}
