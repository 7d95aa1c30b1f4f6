//! The PSA tickets this service opened, one open per organisation and subject: what `notify`
//! reads before it opens, notes or closes one, and what a Backups row shows.

use crate::db::{now_ms, Db};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OpenTicket {
    pub halo_ticket_id: i64,
    pub subject: String,
    pub occurrences: i32,
    pub last_notification_id: String,
}

/// The open ticket about `subject`.
pub async fn open_about(db: &Db, organisation_id: i64, subject: &str) -> Result<Option<OpenTicket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT halo_ticket_id, subject, occurrences, last_notification_id FROM tickets \
         WHERE organisation_id = $1 AND subject = $2 AND closed_at IS NULL ORDER BY opened_at DESC LIMIT 1",
    )
    .bind(organisation_id)
    .bind(subject)
    .fetch_optional(db)
    .await
}

/// The open tickets about `subject` and what hangs from it (`credential:device` and
/// `credential:device:expiring`).
pub async fn open_under(db: &Db, organisation_id: i64, subject: &str) -> Result<Vec<OpenTicket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT halo_ticket_id, subject, occurrences, last_notification_id FROM tickets \
         WHERE organisation_id = $1 AND (subject = $2 OR subject LIKE $3) AND closed_at IS NULL ORDER BY opened_at",
    )
    .bind(organisation_id)
    .bind(subject)
    .bind(format!("{subject}:%"))
    .fetch_all(db)
    .await
}

/// A ticket just opened in the PSA.
pub async fn opened(
    db: &Db,
    organisation_id: i64,
    subject: &str,
    mailbox_id: Option<i64>,
    halo_ticket_id: i64,
    title: &str,
    notification_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tickets (organisation_id, subject, mailbox_id, halo_ticket_id, title, occurrences, last_notification_id, opened_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7) ON CONFLICT (organisation_id, halo_ticket_id) DO NOTHING",
    )
    .bind(organisation_id)
    .bind(subject)
    .bind(mailbox_id)
    .bind(halo_ticket_id)
    .bind(title)
    .bind(notification_id)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// The problem happened again: a note was added for this event.
pub async fn noted(db: &Db, organisation_id: i64, halo_ticket_id: i64, notification_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET occurrences = occurrences + 1, last_notification_id = $1 \
         WHERE organisation_id = $2 AND halo_ticket_id = $3 AND last_notification_id <> $1",
    )
    .bind(notification_id)
    .bind(organisation_id)
    .bind(halo_ticket_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Closed in the PSA.
pub async fn closed(db: &Db, organisation_id: i64, halo_ticket_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET closed_at = $1 WHERE organisation_id = $2 AND halo_ticket_id = $3 AND closed_at IS NULL")
        .bind(now_ms())
        .bind(organisation_id)
        .bind(halo_ticket_id)
        .execute(db)
        .await?;
    Ok(())
}
