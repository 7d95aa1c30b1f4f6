//! The activity log's storage: one entry per change a person or a token made. Append-only for
//! the application: nothing here updates an entry, and only the retention sweep deletes.

use portal_api::ActivityAction;

use crate::db::{now_ms, Db};
use crate::error::{current_request_id, AppResult};

/// What a change was done to. The organisation decides who sees the entry; without one, the
/// mailbox's organisation, else the actor's own.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub organisation_id: Option<i64>,
    pub mailbox_id: Option<i64>,
    /// In words; without it, the mailbox's address.
    pub object: Option<String>,
    pub object_id: Option<String>,
}

impl Target {
    pub fn mailbox(mailbox_id: i64) -> Target {
        Target { mailbox_id: Some(mailbox_id), object_id: Some(mailbox_id.to_string()), ..Target::default() }
    }

    pub fn organisation(organisation_id: i64) -> Target {
        Target { organisation_id: Some(organisation_id), object_id: Some(organisation_id.to_string()), ..Target::default() }
    }

    /// A job (its ID in words) of a mailbox.
    pub fn job(mailbox_id: i64, job_id: &str) -> Target {
        Target { mailbox_id: Some(mailbox_id), object_id: Some(job_id.to_owned()), ..Target::default() }
    }

    pub fn named(mut self, object: impl Into<String>) -> Target {
        self.object = Some(object.into());
        self
    }

    pub fn id(mut self, object_id: impl Into<String>) -> Target {
        self.object_id = Some(object_id.into());
        self
    }
}

/// Whoever made a change: the signed-in user (`auth::CurrentUser`), or a token in their name.
/// A trait, so that this module depends on nothing above it.
pub trait Actor {
    fn user_id(&self) -> i64;
    fn email(&self) -> &str;
    /// The API token's ID and name, when a token made the change.
    fn token(&self) -> Option<(&str, &str)>;
    fn address(&self) -> Option<&str>;
    fn reseller_id(&self) -> Option<i64>;
    fn organisation_id(&self) -> Option<i64>;
    fn mailbox_id(&self) -> Option<i64>;
}

/// Records that `actor` did `action` to `target`, with the request's ID and the client's address.
/// Called once the change is made: an entry that cannot be written is logged with the request
/// ID, and the change stands (a client told "failed" would make it again).
pub async fn record(db: &Db, actor: &impl Actor, action: ActivityAction, target: Target) {
    if let Err(error) = insert(db, actor, action, target).await {
        tracing::error!(%error, action = action.as_str(), user_id = actor.user_id(), "an activity entry could not be written");
    }
}

async fn insert(db: &Db, actor: &impl Actor, action: ActivityAction, target: Target) -> AppResult<()> {
    use rand::RngCore;
    let mut random = [0_u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let id = format!("act_{}", hex::encode(random));
    let token = actor.token();
    // The organisation: the target's, the target mailbox's, or the actor's own; the reseller:
    // that organisation's, or the actor's own (a reseller's sign-in).
    sqlx::query(
        "INSERT INTO activity (id, at, user_id, actor, token_id, token_name, action, object, object_id, organisation_id, \
                               reseller_id, address, request_id) \
         SELECT $1, $2, $3, $4, $5, $6, $7, \
                COALESCE($8, (SELECT email FROM mailboxes WHERE id = $9)), $10, org.id, \
                COALESCE((SELECT reseller_id FROM organisations WHERE id = org.id), $11), $12, $13 \
         FROM (SELECT COALESCE($14, (SELECT organisation_id FROM mailboxes WHERE id = $9), $15, \
                               (SELECT organisation_id FROM mailboxes WHERE id = $16)) AS id) org",
    )
    .bind(id)
    .bind(now_ms())
    .bind(actor.user_id())
    .bind(actor.email())
    .bind(token.map(|(id, _)| id.to_owned()))
    .bind(token.map(|(_, name)| name.to_owned()))
    .bind(action.as_str())
    .bind(target.object)
    .bind(target.mailbox_id)
    .bind(target.object_id)
    .bind(actor.reseller_id())
    .bind(actor.address())
    .bind(current_request_id().unwrap_or_default())
    .bind(target.organisation_id)
    .bind(actor.organisation_id())
    .bind(actor.mailbox_id())
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes entries older than `days` (the configured retention). Answers how many went.
pub async fn sweep(db: &Db, days: u32) -> AppResult<u64> {
    let before = now_ms() - i64::from(days) * 86_400_000;
    Ok(sqlx::query("DELETE FROM activity WHERE at < $1").bind(before).execute(db).await?.rows_affected())
}

/// Every hour (the first time at once), deletes what is past the retention.
pub fn spawn_sweep(db: Db, days: u32) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match sweep(&db, days).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(gone, days, "activity entries past their retention deleted"),
                Err(error) => tracing::warn!(%error, "the activity log could not be swept"),
            }
        }
    });
}
