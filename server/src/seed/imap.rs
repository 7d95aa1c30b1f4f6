//! The demo's real mailbox, on request (`--seed-imap-demo HOST:PORT`, with the demo data only):
//! `dora@bluebird-imap.example` at a local Dovecot (plain IMAP, the demo users' password, as
//! `cargo xtask` starts it), a mailbox of Bluebird Clinics, with an end user's sign-in for it
//! (the demo password) and its first backup queued. An end user whose messages are real mail:
//! what Search messages, a message's preview and its restore are shown and tested with.

use portal_api::demo::DEMO_PASSWORD;
use portal_api::{Connector, Role};

use crate::auth::password;
use crate::db::{now_ms, Db};
use crate::queue;
use crate::secrets::SecretBox;

/// The demo IMAP user, its address and password at the demo Dovecot (`xtask/src/imap.rs`).
pub const DEMO_IMAP_USER: &str = "dora";
pub const DEMO_IMAP_EMAIL: &str = "dora@bluebird-imap.example";
const DEMO_IMAP_PASSWORD: &str = "imap-demo";
/// The organisation it belongs to.
const ORGANISATION: &str = "Bluebird Clinics";

/// Adds the demo IMAP mailbox and its end user if `address` (`HOST:PORT`) is given. Run once,
/// right after the demo data was put into an empty database.
pub async fn seed_if_asked(db: &Db, secrets: &SecretBox, address: Option<&str>) -> Result<(), sqlx::Error> {
    let Some(address) = address else { return Ok(()) };
    let bad = |what: String| sqlx::Error::Configuration(what.into());
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.trim(), port.trim().parse::<u16>().ok()?)))
        .filter(|(host, _)| !host.is_empty())
        .ok_or_else(|| bad(format!("--seed-imap-demo takes HOST:PORT, not {address:?}")))?;
    let (organisation_id,): (i64,) = sqlx::query_as("SELECT id FROM organisations WHERE name = $1")
        .bind(ORGANISATION)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| bad(format!("--seed-imap-demo needs the demo data ({ORGANISATION})")))?;

    let now = now_ms();
    let mut tx = db.begin().await?;
    let (mailbox_id,): (i64,) = sqlx::query_as(
        "INSERT INTO mailboxes (id, organisation_id, email, display_name, connector, demo_script) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, 'ok' FROM mailboxes RETURNING id",
    )
    .bind(organisation_id)
    .bind(DEMO_IMAP_EMAIL)
    .bind("Dora Diaz")
    .bind(Connector::Imap.as_str())
    .fetch_one(&mut *tx)
    .await?;
    queue::add_backup_row(&mut tx, mailbox_id, now).await?;
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, role, mailbox_id) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5 FROM users",
    )
    .bind(DEMO_IMAP_EMAIL)
    .bind("Dora Diaz")
    .bind(password::hash(DEMO_PASSWORD))
    .bind(Role::EndUser.as_str())
    .bind(mailbox_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    // Sealed as Account Settings › Mailboxes seals a password typed there.
    let context = crate::imap::password_context(mailbox_id);
    let sealed = secrets
        .seal(db, organisation_id, &context, DEMO_IMAP_PASSWORD.as_bytes())
        .await
        .map_err(|error| bad(format!("sealing the demo IMAP password: {error}")))?;
    sqlx::query(
        "INSERT INTO imap_accounts (mailbox_id, host, port, security, username, password_sealed, updated_at) \
         VALUES ($1, $2, $3, 'plain', $4, $5, $6)",
    )
    .bind(mailbox_id)
    .bind(host)
    .bind(i32::from(port))
    .bind(DEMO_IMAP_USER)
    .bind(&sealed)
    .bind(now)
    .execute(db)
    .await?;
    queue::enqueue_backup(db, mailbox_id, None, now).await?;
    tracing::info!(mailbox = DEMO_IMAP_EMAIL, imap = address, "seeded the demo IMAP mailbox and its end user");
    Ok(())
}
