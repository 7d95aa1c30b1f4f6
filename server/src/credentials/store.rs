//! A credential's state in the database: what the engine and the dashboard read of it, and
//! every write of it (below the credentials' handlers, which the others never import).

use portal_api::{BrokenCredential, CredentialKind, CredentialState, ExpiringCredential};

use crate::db::{now_ms, rfc3339, Db};
use crate::error::{AppError, AppResult};

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

async fn record_event(
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
    .execute(&mut *conn)
    .await?;
    crate::outbox::events::credential_changed(conn, organisation_id, kind, !resolved, detail).await
}

/// The broken credentials of the organisations the user administers (the dashboard's banner).
pub async fn need_reauthentication(db: &Db, user: impl crate::access::Principal) -> AppResult<Vec<BrokenCredential>> {
    let Some((condition, id)) = crate::access::scope(&user).organisation_condition() else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String, String, Option<String>, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT o.id, o.name, c.kind, c.reason, c.broken_since FROM credentials c JOIN organisations o ON o.id = c.organisation_id \
         WHERE {condition} AND c.state = $2 ORDER BY o.name, c.kind"
    ))
    .bind(id)
    .bind(CredentialState::Broken.as_str())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(organisation_id, organisation, kind, reason, since)| {
            Ok(BrokenCredential {
                organisation_id,
                organisation,
                kind: kind.parse().map_err(AppError::internal)?,
                reason,
                broken_since: since.map(rfc3339),
            })
        })
        .collect::<AppResult<_>>()?)
}

/// Saves a fixed credential (its secret already sealed) and, when it was broken, records the fix.
pub async fn save_working(
    db: &Db,
    organisation_id: i64,
    kind: CredentialKind,
    username: Option<&str>,
    sealed: Option<&str>,
    expires_at: Option<i64>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let was: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT state, expires_at FROM credentials WHERE organisation_id = $1 AND kind = $2")
            .bind(organisation_id)
            .bind(kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, broken_since, reason, username, sealed_secret, expires_at, \
                                  last_verified_at, updated_at) \
         VALUES ($1, $2, $7, NULL, NULL, $3, $4, $5, $6, $6) \
         ON CONFLICT (organisation_id, kind) DO UPDATE SET state = excluded.state, broken_since = NULL, reason = NULL, \
             username = COALESCE(excluded.username, credentials.username), sealed_secret = excluded.sealed_secret, \
             expires_at = excluded.expires_at, last_verified_at = excluded.last_verified_at, updated_at = excluded.updated_at",
    )
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(username)
    .bind(sealed)
    .bind(expires_at)
    .bind(now)
    .bind(CredentialState::Working.as_str())
    .execute(&mut *tx)
    .await?;
    match was {
        Some((state, _)) if state == CredentialState::Broken.as_str() => {
            record_event(&mut tx, organisation_id, kind, true, Some(detail), now).await?;
        }
        // Renewed before it expired (a later expiry): a warning that it would is answered.
        Some((_, Some(before))) if expires_at.is_some_and(|after| after > before) => {
            crate::outbox::events::credential_renewed(&mut tx, organisation_id, kind, expires_at).await?;
        }
        _ => {}
    }
    tx.commit().await
}

/// A working credential checked again with the provider: its secret (rotated, or the same) and
/// when it was checked.
pub async fn renew_secret(db: &Db, organisation_id: i64, kind: CredentialKind, sealed: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE credentials SET sealed_secret = $1, last_verified_at = $2, updated_at = $2 \
         WHERE organisation_id = $3 AND kind = $4 AND state = $5",
    )
    .bind(sealed)
    .bind(now_ms())
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(CredentialState::Working.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// When a credential's token expired (the demo data: a token that broke by expiring).
pub async fn expired_at<'e, E>(db: E, organisation_id: i64, kind: CredentialKind, at: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("UPDATE credentials SET expires_at = $1 WHERE organisation_id = $2 AND kind = $3")
        .bind(at)
        .bind(organisation_id)
        .bind(kind.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// The working credentials whose token expires before `until`, soonest first, of the
/// organisations the user administers (the dashboard's "Renew soon").
pub async fn expiring(db: &Db, user: impl crate::access::Principal, until: i64) -> AppResult<Vec<ExpiringCredential>> {
    let Some((condition, id)) = crate::access::scope(&user).organisation_condition() else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(&format!(
        "SELECT o.id, o.name, c.kind, c.expires_at FROM credentials c JOIN organisations o ON o.id = c.organisation_id \
         WHERE {condition} AND c.state = $2 AND c.expires_at IS NOT NULL AND c.expires_at <= $3 ORDER BY c.expires_at, o.name"
    ))
    .bind(id)
    .bind(CredentialState::Working.as_str())
    .bind(until)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(organisation_id, organisation, kind, expires_at)| {
            Ok(ExpiringCredential {
                organisation_id,
                organisation,
                kind: kind.parse().map_err(AppError::internal)?,
                expires_at: rfc3339(expires_at),
            })
        })
        .collect()
}
