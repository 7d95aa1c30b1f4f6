//! Warnings before a credential's token expires: 14 days before and 3 days before, a
//! `credential.expiring` event (a PSA ticket, a webhook), once per expiry date and warning.

use portal_api::{CredentialKind, CredentialState};

use crate::db::{now_ms, Db};

const DAY_MS: i64 = 86_400_000;
/// The warnings, furthest first.
pub const WARN_DAYS: [i64; 2] = [14, 3];

#[derive(sqlx::FromRow)]
struct Expiring {
    organisation_id: i64,
    #[sqlx(try_from = "String")]
    kind: CredentialKind,
    expires_at: i64,
}

/// Raises the warnings due now; answers how many were new.
pub(super) async fn raise_warnings(db: &Db) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let expiring: Vec<Expiring> = sqlx::query_as(
        "SELECT organisation_id, kind, expires_at FROM credentials \
         WHERE state = $1 AND expires_at IS NOT NULL AND expires_at > $2 AND expires_at <= $3",
    )
    .bind(CredentialState::Working.as_str())
    .bind(now)
    .bind(now + WARN_DAYS[0] * DAY_MS)
    .fetch_all(db)
    .await?;
    let mut raised = 0;
    for credential in expiring {
        // The nearest warning whose window it is in (within 3 days: the 3-day one).
        let days = WARN_DAYS.iter().rev().copied().find(|d| credential.expires_at - now <= d * DAY_MS).unwrap_or(WARN_DAYS[0]);
        let mut tx = db.begin().await?;
        let new = crate::outbox::events::credential_expiring(
            &mut tx,
            credential.organisation_id,
            credential.kind,
            credential.expires_at,
            days,
        )
        .await?;
        tx.commit().await?;
        raised += usize::from(new);
    }
    Ok(raised)
}
