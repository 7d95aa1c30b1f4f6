//! The PSA tickets this service opened, one open per organisation and subject in the Halo the
//! organisation uses now: what `notify` reads before it opens, notes or closes one, and what a
//! Backups row shows. A ticket number means something only in its Halo: rows of a Halo the
//! organisation no longer uses are closed here (detached), never written to again.

use crate::db::{now_ms, Db};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OpenTicket {
    pub halo_ticket_id: i64,
    pub occurrences: i32,
    pub last_notification_id: String,
}

/// The open ticket about `subject` in the Halo at `halo_url`.
pub async fn open_about(db: &Db, organisation_id: i64, halo_url: &str, subject: &str) -> Result<Option<OpenTicket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT halo_ticket_id, occurrences, last_notification_id FROM tickets \
         WHERE organisation_id = $1 AND halo_url = $2 AND subject = $3 AND closed_at IS NULL ORDER BY opened_at DESC LIMIT 1",
    )
    .bind(organisation_id)
    .bind(halo_url)
    .bind(subject)
    .fetch_optional(db)
    .await
}

/// What a ticket just opened is about.
pub struct Opened<'a> {
    pub halo_url: &'a str,
    pub subject: &'a str,
    pub mailbox_id: Option<i64>,
    pub halo_ticket_id: i64,
    pub title: &'a str,
    pub notification_id: &'a str,
}

/// A ticket just opened in the PSA.
pub async fn opened(db: &Db, organisation_id: i64, ticket: Opened<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tickets (organisation_id, halo_url, subject, mailbox_id, halo_ticket_id, title, occurrences, \
                              last_notification_id, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) \
         ON CONFLICT (organisation_id, halo_url, halo_ticket_id) DO UPDATE SET subject = excluded.subject, \
             mailbox_id = excluded.mailbox_id, title = excluded.title, occurrences = 1, \
             last_notification_id = excluded.last_notification_id, opened_at = excluded.opened_at, closed_at = NULL",
    )
    .bind(organisation_id)
    .bind(ticket.halo_url)
    .bind(ticket.subject)
    .bind(ticket.mailbox_id)
    .bind(ticket.halo_ticket_id)
    .bind(ticket.title)
    .bind(ticket.notification_id)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// The problem happened again: a note was added for this event.
pub async fn noted(
    db: &Db,
    organisation_id: i64,
    halo_url: &str,
    halo_ticket_id: i64,
    notification_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET occurrences = occurrences + 1, last_notification_id = $1 \
         WHERE organisation_id = $2 AND halo_url = $3 AND halo_ticket_id = $4 AND last_notification_id <> $1",
    )
    .bind(notification_id)
    .bind(organisation_id)
    .bind(halo_url)
    .bind(halo_ticket_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Closed in the PSA (by us, or by someone there).
pub async fn closed(db: &Db, organisation_id: i64, halo_url: &str, halo_ticket_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET closed_at = $1 WHERE organisation_id = $2 AND halo_url = $3 AND halo_ticket_id = $4 AND closed_at IS NULL",
    )
    .bind(now_ms())
    .bind(organisation_id)
    .bind(halo_url)
    .bind(halo_ticket_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The organisation moved to another Halo (`keep`) or removed its Halo (`None`): the open
/// tickets of any other Halo are detached (they stay as they are in that Halo).
pub async fn detach_other(db: &Db, organisation_id: i64, keep: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET closed_at = $1 WHERE organisation_id = $2 AND closed_at IS NULL AND halo_url <> $3")
        .bind(now_ms())
        .bind(organisation_id)
        .bind(keep.unwrap_or(""))
        .execute(db)
        .await?;
    Ok(())
}
