//! Where an organisation's events go, as stored: its HaloPSA (the client secret sealed) and its
//! webhooks (each signing secret sealed). The integration handlers write them; the notifier
//! reads them when it sends.

use portal_api::{CreatedWebhook, EventType, HaloSettings, Webhook};

use crate::db::{now_ms, rfc3339, Db};
use crate::outgoing::halo::HaloAccount;
use crate::outgoing::webhook;
use crate::secrets::{SecretBox, SecretError, SecretString};

/// The sealing context of an organisation's Halo client secret.
const HALO_CONTEXT: &str = "halo-client-secret";

/// The sealing context of a webhook's signing secret.
pub fn webhook_context(id: &str) -> String {
    format!("webhook:{id}")
}

/// Which Halo a ticket number is of: its address, and its tenant when hosted (the same as
/// `halo_key_sql` computes from `halo_settings` as `h`).
pub fn halo_key(url: &str, tenant: &str) -> String {
    if tenant.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?tenant={tenant}")
    }
}

/// [`halo_key`] in SQL, of `halo_settings` joined as `h`.
pub const HALO_KEY_SQL: &str = "CASE WHEN h.tenant = '' THEN h.url ELSE h.url || '?tenant=' || h.tenant END";

/// What Save stores (checked by the handler).
pub struct HaloInput {
    pub url: String,
    pub tenant: String,
    pub client_id: String,
    /// None: keep the saved one.
    pub client_secret: Option<SecretString>,
    pub halo_client_id: i64,
    pub ticket_type_id: Option<i64>,
    pub priority_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct HaloRecord {
    url: String,
    tenant: String,
    client_id: String,
    sealed_secret: String,
    halo_client_id: i64,
    ticket_type_id: Option<i64>,
    priority_id: Option<i64>,
    updated_at: i64,
}

async fn halo_record(db: &Db, organisation_id: i64) -> Result<Option<HaloRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT url, tenant, client_id, sealed_secret, halo_client_id, ticket_type_id, priority_id, updated_at \
         FROM halo_settings WHERE organisation_id = $1",
    )
    .bind(organisation_id)
    .fetch_optional(db)
    .await
}

/// The Halo connection as the portal shows it.
pub async fn halo_settings(db: &Db, organisation_id: i64) -> Result<Option<HaloSettings>, sqlx::Error> {
    Ok(halo_record(db, organisation_id).await?.map(|r| HaloSettings {
        url: r.url,
        tenant: r.tenant,
        client_id: r.client_id,
        secret_saved: !r.sealed_secret.is_empty(),
        halo_client_id: r.halo_client_id,
        ticket_type_id: r.ticket_type_id,
        priority_id: r.priority_id,
        updated_at: rfc3339(r.updated_at),
    }))
}

/// The Halo to send to, its secret opened.
pub async fn halo_account(db: &Db, secrets: &SecretBox, organisation_id: i64) -> Result<Option<HaloAccount>, SecretError> {
    let Some(record) = halo_record(db, organisation_id).await? else { return Ok(None) };
    let secret = secrets.open(db, organisation_id, HALO_CONTEXT, &record.sealed_secret).await?;
    Ok(Some(HaloAccount {
        url: record.url.trim_end_matches('/').to_owned(),
        tenant: record.tenant,
        client_id: record.client_id,
        client_secret: SecretString::new(String::from_utf8_lossy(&secret).into_owned()),
        halo_client_id: record.halo_client_id,
        ticket_type_id: record.ticket_type_id,
        priority_id: record.priority_id,
    }))
}

/// The saved secret, for a test or a save that keeps it.
pub async fn saved_halo_secret(db: &Db, secrets: &SecretBox, organisation_id: i64) -> Result<Option<SecretString>, SecretError> {
    Ok(halo_account(db, secrets, organisation_id).await?.map(|a| a.client_secret))
}

/// Saves the Halo connection (a new secret sealed; none given: the saved one kept).
pub async fn save_halo(db: &Db, secrets: &SecretBox, organisation_id: i64, input: HaloInput) -> Result<(), SecretError> {
    let sealed = match &input.client_secret {
        Some(secret) => Some(secrets.seal(db, organisation_id, HALO_CONTEXT, secret.expose().as_bytes()).await?),
        None => None,
    };
    sqlx::query(
        "INSERT INTO halo_settings (organisation_id, url, tenant, client_id, sealed_secret, halo_client_id, ticket_type_id, \
                                    priority_id, updated_at) \
         VALUES ($1, $2, $3, $4, COALESCE($5, ''), $6, $7, $8, $9) \
         ON CONFLICT (organisation_id) DO UPDATE SET url = excluded.url, tenant = excluded.tenant, client_id = excluded.client_id, \
             sealed_secret = COALESCE($5, halo_settings.sealed_secret), halo_client_id = excluded.halo_client_id, \
             ticket_type_id = excluded.ticket_type_id, priority_id = excluded.priority_id, updated_at = excluded.updated_at",
    )
    .bind(organisation_id)
    .bind(input.url.trim_end_matches('/'))
    .bind(&input.tenant)
    .bind(&input.client_id)
    .bind(sealed)
    .bind(input.halo_client_id)
    .bind(input.ticket_type_id)
    .bind(input.priority_id)
    .bind(now_ms())
    .execute(db)
    .await?;
    // Ticket numbers of another Halo mean nothing in this one.
    let key = halo_key(input.url.trim_end_matches('/'), &input.tenant);
    crate::outbox::tickets::detach_other(db, organisation_id, Some(&key)).await?;
    Ok(())
}

/// Removes the Halo connection. Deliveries still waiting for it are cancelled when their turn
/// comes (kept, with why); tickets it opened stay as they are in Halo, and are no longer
/// shown on rows.
pub async fn delete_halo(db: &Db, organisation_id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM halo_settings WHERE organisation_id = $1").bind(organisation_id).execute(db).await?;
    crate::outbox::tickets::detach_other(db, organisation_id, None).await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct WebhookRecord {
    id: String,
    url: String,
    events: String,
    created_at: i64,
}

impl WebhookRecord {
    fn into_webhook(self) -> Webhook {
        let names: Vec<String> = serde_json::from_str(&self.events).unwrap_or_default();
        Webhook {
            id: self.id,
            url: self.url,
            // A name this build does not know (written by a newer one) is left out, not guessed.
            events: names.iter().filter_map(|n| EventType::parse(n)).collect(),
            created_at: rfc3339(self.created_at),
        }
    }
}

pub async fn webhooks(db: &Db, organisation_id: i64) -> Result<Vec<Webhook>, sqlx::Error> {
    let records: Vec<WebhookRecord> =
        sqlx::query_as("SELECT id, url, events, created_at FROM webhooks WHERE organisation_id = $1 ORDER BY created_at, id")
            .bind(organisation_id)
            .fetch_all(db)
            .await?;
    Ok(records.into_iter().map(WebhookRecord::into_webhook).collect())
}

/// Whether the organisation has this webhook.
pub async fn has_webhook(db: &Db, organisation_id: i64, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM webhooks WHERE id = $1 AND organisation_id = $2")
        .bind(id)
        .bind(organisation_id)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// A new endpoint with a fresh signing secret (answered this once).
pub async fn create_webhook(
    db: &Db,
    secrets: &SecretBox,
    organisation_id: i64,
    url: &str,
    events: &[EventType],
) -> Result<CreatedWebhook, SecretError> {
    let id = format!("wh_{}", hex::encode(rand::random::<[u8; 10]>()));
    let secret = webhook::new_secret();
    let sealed = secrets.seal(db, organisation_id, &webhook_context(&id), secret.as_bytes()).await?;
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO webhooks (id, organisation_id, url, events, sealed_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(organisation_id)
    .bind(url)
    .bind(serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()))
    .bind(sealed)
    .bind(now)
    .execute(db)
    .await?;
    Ok(CreatedWebhook { webhook: Webhook { id, url: url.to_owned(), events: events.to_vec(), created_at: rfc3339(now) }, secret })
}

/// Removes an endpoint; its deliveries stay on the Deliveries page (waiting ones fail).
pub async fn delete_webhook(db: &Db, organisation_id: i64, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND organisation_id = $2")
        .bind(id)
        .bind(organisation_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
