//! What the job engine reads of the credentials: below both, so that the engine (a lower
//! layer) never imports the credentials' handlers.

use portal_api::{CredentialKind, CredentialState};

use crate::db::Db;

/// How long a delegated (device) token lasts.
pub const DELEGATED_TOKEN_DAYS: i64 = 90;

/// Whether every credential of the organisation works (backups can sign in).
pub async fn all_working(db: &Db, organisation_id: i64) -> Result<bool, sqlx::Error> {
    let (broken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM credentials WHERE organisation_id = $1 AND state = $2")
        .bind(organisation_id)
        .bind(portal_api::CredentialState::Broken.as_str())
        .fetch_one(db)
        .await?;
    Ok(broken == 0)
}

portal_api::named_enum! {
    /// Which re-authentication an OAuth flow (`oauth_flows`) is.
    pub enum FlowKind("flow kind") {
        /// The Main App's admin consent (authorization code).
        Consent = "consent",
        /// Device Authorization (RFC 8628).
        Device = "device",
    }
}

/// Marks a credential broken and records the break (the demo data; a backup run that finds it so).
pub async fn mark_broken(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    reason: &str,
    since: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, broken_since, reason, updated_at) VALUES ($1, $2, $5, $3, $4, $3) \
         ON CONFLICT (organisation_id, kind) DO UPDATE SET state = excluded.state, broken_since = excluded.broken_since, \
             reason = excluded.reason, updated_at = excluded.updated_at",
    )
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(since)
    .bind(reason)
    .bind(CredentialState::Broken.as_str())
    .execute(&mut *conn)
    .await?;
    record_event(conn, organisation_id, kind, false, Some(reason), since).await
}

/// A working credential as the demo data has it (verified some time ago).
pub async fn seed_working<'e, E>(
    db: E,
    organisation_id: i64,
    kind: CredentialKind,
    username: Option<&str>,
    verified: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let expires = (kind == CredentialKind::Device).then_some(verified + DELEGATED_TOKEN_DAYS * 86_400_000);
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, username, expires_at, last_verified_at, updated_at) \
         VALUES ($1, $2, $6, $3, $4, $5, $5)",
    )
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(username)
    .bind(expires)
    .bind(verified)
    .bind(CredentialState::Working.as_str())
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn record_event(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    resolved: bool,
    detail: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credential_events (id, organisation_id, kind, resolved, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hex::encode(rand::random::<[u8; 8]>()))
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(i32::from(resolved))
    .bind(detail)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
