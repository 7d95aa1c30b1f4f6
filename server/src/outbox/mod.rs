//! The outbox: every event an organisation's PSA or webhooks are to hear of, written in the same
//! transaction as the change it reports (a job's end, a credential's break), with one delivery
//! per receiver. `notify` sends them; nothing is lost on a restart, and an event keeps its ID on
//! every attempt (the receiver's `webhook-id`, to ignore a repeat).
//!
//! Storage only: what an event says is decided by its caller (`outbox::events` for the queue's
//! and the credentials' events).

pub mod events;
pub mod tickets;

use portal_api::{Delivery, DeliveryAttempt, DeliveryStatus, EventType};

use crate::db::{now_ms, rfc3339, Db};

/// An event to record.
pub struct NewEvent {
    pub organisation_id: i64,
    pub event_type: EventType,
    /// What it is about; a PSA keeps one open ticket per subject.
    pub subject: String,
    pub mailbox_id: Option<i64>,
    /// In a line, for the Deliveries page and the ticket.
    pub summary: String,
    /// The event's `data` (Standard Webhooks' envelope: `type`, `timestamp`, `data`).
    pub data: serde_json::Value,
    /// Recorded only once under this key (a warning for one expiry date).
    pub dedupe_key: Option<String>,
    /// A test event goes to this webhook alone.
    pub only_webhook: Option<String>,
}

/// Where deliveries go.
pub const TARGET_HALO: &str = "halo";
pub const TARGET_WEBHOOK: &str = "webhook";

/// Whether a HaloPSA hears of this event (a download ready is no one's problem; a test is for
/// the webhook it names).
pub fn ticketed(event_type: EventType) -> bool {
    !matches!(event_type, EventType::DownloadReady | EventType::WebhookTest)
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// Records the event and a delivery to each receiver that wants it. Answers the event's ID, or
/// `None` when its dedupe key was recorded before.
pub async fn record(conn: &mut sqlx::AnyConnection, event: NewEvent) -> Result<Option<String>, sqlx::Error> {
    let now = now_ms();
    let id = random_id("msg");
    let payload = serde_json::json!({
        "type": event.event_type.as_str(),
        "timestamp": rfc3339(now),
        "data": event.data,
    });
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, organisation_id, type, subject, mailbox_id, summary, payload, dedupe_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&id)
    .bind(event.organisation_id)
    .bind(event.event_type.as_str())
    .bind(&event.subject)
    .bind(event.mailbox_id)
    .bind(&event.summary)
    .bind(payload.to_string())
    .bind(&event.dedupe_key)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let mut targets: Vec<(&str, Option<String>, String)> = Vec::new();
    if ticketed(event.event_type) {
        let halo: Option<(i64,)> = sqlx::query_as("SELECT organisation_id FROM halo_settings WHERE organisation_id = $1")
            .bind(event.organisation_id)
            .fetch_optional(&mut *conn)
            .await?;
        if halo.is_some() {
            targets.push((TARGET_HALO, None, "HaloPSA".to_owned()));
        }
    }
    let webhooks: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, url, events FROM webhooks WHERE organisation_id = $1 ORDER BY created_at")
            .bind(event.organisation_id)
            .fetch_all(&mut *conn)
            .await?;
    for (webhook_id, url, events) in webhooks {
        let wanted = match &event.only_webhook {
            Some(only) => *only == webhook_id,
            None => wants(&events, event.event_type),
        };
        if wanted {
            targets.push((TARGET_WEBHOOK, Some(webhook_id), url));
        }
    }
    for (target, webhook_id, label) in targets {
        sqlx::query(
            "INSERT INTO deliveries (id, notification_id, organisation_id, target, webhook_id, target_label, subject, status, \
                                     attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $9)",
        )
        .bind(random_id("dl"))
        .bind(&id)
        .bind(event.organisation_id)
        .bind(target)
        .bind(webhook_id)
        .bind(label)
        .bind(&event.subject)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(id))
}

/// Whether a webhook subscribed to `events` (a JSON array; empty: all) wants this type.
pub fn wants(events: &str, event_type: EventType) -> bool {
    if event_type == EventType::WebhookTest {
        return false;
    }
    let names: Vec<String> = serde_json::from_str(events).unwrap_or_default();
    names.is_empty() || names.iter().any(|n| n == event_type.as_str())
}

/// A delivery taken for sending, with its event.
#[derive(Debug, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: String,
    pub notification_id: String,
    pub organisation_id: i64,
    pub target: String,
    pub webhook_id: Option<String>,
    pub subject: String,
    /// Attempts recorded before this one.
    pub attempts: i32,
    /// Times taken, this one included: more than `attempts + 1` when an instance stopped in the
    /// middle of an attempt (the receiver may have got it).
    pub claims: i32,
    /// This claim's lease: the attempt is recorded only while it is still ours.
    pub lease_until: i64,
    #[sqlx(try_from = "String")]
    pub event_type: EventType,
    pub mailbox_id: Option<i64>,
    pub summary: String,
    pub payload: String,
    pub created_at: i64,
}

/// Deliveries of one organisation being sent at a time, by all instances together: a slow or
/// flooded receiver of one tenant does not hold up the others'.
pub const PER_ORGANISATION: i64 = 2;

/// Takes up to `limit` due deliveries, so that at most [`PER_ORGANISATION`] of each organisation
/// are being sent, for
/// `lease_ms` (another instance leaves them alone until then). A PSA's deliveries about one
/// subject go one at a time and in order: one waits while an older one of the same subject is
/// pending, or another of it is being sent (a ticket is opened before it is closed).
pub async fn claim_due(db: &Db, limit: i64, lease_ms: i64) -> Result<Vec<DueDelivery>, sqlx::Error> {
    let now = now_ms();
    let candidates: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM ( \
             SELECT d.id, d.next_attempt_at, \
                    ROW_NUMBER() OVER (PARTITION BY d.organisation_id ORDER BY d.next_attempt_at, d.id) AS turn, \
                    (SELECT COUNT(*) FROM deliveries l WHERE l.organisation_id = d.organisation_id AND l.status = $1 \
                         AND l.lease_until IS NOT NULL AND l.lease_until >= $2) AS busy \
             FROM deliveries d WHERE d.status = $1 AND d.next_attempt_at <= $2 \
                 AND (d.lease_until IS NULL OR d.lease_until < $2) \
                 AND NOT (d.target = $3 AND EXISTS (SELECT 1 FROM deliveries e WHERE e.organisation_id = d.organisation_id \
                     AND e.subject = d.subject AND e.target = $3 AND e.status = $1 AND e.id <> d.id \
                     AND (e.created_at < d.created_at OR (e.created_at = d.created_at AND e.id < d.id) \
                          OR (e.lease_until IS NOT NULL AND e.lease_until >= $2)))) \
         ) due WHERE turn + busy <= $5 ORDER BY next_attempt_at, id LIMIT $4",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .bind(now)
    .bind(TARGET_HALO)
    .bind(limit)
    .bind(PER_ORGANISATION)
    .fetch_all(db)
    .await?;
    let mut taken = Vec::new();
    for (id,) in candidates {
        let lease_until = now + lease_ms;
        // Taken only if no other instance took it meanwhile.
        let won = sqlx::query(
            "UPDATE deliveries SET lease_until = $1, claims = claims + 1 \
             WHERE id = $2 AND status = $3 AND (lease_until IS NULL OR lease_until < $4) AND next_attempt_at <= $4",
        )
        .bind(lease_until)
        .bind(&id)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .execute(db)
        .await?;
        if won.rows_affected() == 1 {
            let due: DueDelivery = sqlx::query_as(
                "SELECT d.id, d.notification_id, d.organisation_id, d.target, d.webhook_id, d.subject, d.attempts, d.claims, \
                        d.lease_until, n.type AS event_type, n.mailbox_id, n.summary, n.payload, n.created_at \
                 FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(db)
            .await?;
            taken.push(due);
        }
    }
    Ok(taken)
}

/// One attempt's result, as recorded.
pub struct Attempt {
    pub http_status: Option<u16>,
    pub answer: String,
    pub duration_ms: u64,
}

/// What comes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(i64),
    Failed,
    /// Its receiver is gone: nothing to send, nothing to try again.
    Cancelled,
}

/// The most of an answer kept with an attempt.
pub const ANSWER_CHARS: usize = 2000;

/// Records an attempt and where the delivery goes next; the lease ends. Nothing is recorded
/// when the lease is no longer this claim's (it ran out and another instance took the delivery:
/// its attempt counts); answers whether it was recorded.
pub async fn record_attempt(db: &Db, delivery: &DueDelivery, attempt: Attempt, next: Next) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let number = delivery.attempts + 1;
    let answer: String = attempt.answer.chars().take(ANSWER_CHARS).collect();
    let (status, next_at) = match next {
        Next::Delivered => (DeliveryStatus::Delivered, None),
        Next::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
        Next::Failed => (DeliveryStatus::Failed, None),
        Next::Cancelled => (DeliveryStatus::Cancelled, None),
    };
    let mut tx = db.begin().await?;
    let ours = sqlx::query(
        "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, updated_at = $4 \
         WHERE id = $5 AND lease_until = $6",
    )
    .bind(status.as_str())
    .bind(number)
    .bind(next_at)
    .bind(now)
    .bind(&delivery.id)
    .bind(delivery.lease_until)
    .execute(&mut *tx)
    .await?;
    if ours.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, number, at, http_status, answer, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&delivery.id)
    .bind(number)
    .bind(now)
    .bind(attempt.http_status.map(i32::from))
    .bind(answer)
    .bind(attempt.duration_ms as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Send again: a failed or waiting delivery is due now (its attempts so far are kept). Answers
/// whether it could be (a delivered or cancelled one cannot).
pub async fn send_again(db: &Db, organisation_id: i64, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE deliveries SET status = $1, next_attempt_at = $2, updated_at = $2 \
         WHERE id = $3 AND organisation_id = $4 AND status <> $5 AND status <> $6",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .bind(now)
    .bind(id)
    .bind(organisation_id)
    .bind(DeliveryStatus::Delivered.as_str())
    .bind(DeliveryStatus::Cancelled.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    id: String,
    notification_id: String,
    #[sqlx(try_from = "String")]
    event_type: EventType,
    summary: String,
    target_label: String,
    #[sqlx(try_from = "String")]
    status: DeliveryStatus,
    next_attempt_at: Option<i64>,
    created_at: i64,
}

const SELECT_DELIVERIES: &str = "SELECT d.id, d.notification_id, n.type AS event_type, n.summary, d.target_label, d.status, \
        d.next_attempt_at, d.created_at \
     FROM deliveries d JOIN notifications n ON n.id = d.notification_id";

/// The organisation's deliveries, newest first, with their attempts.
pub async fn list(db: &Db, organisation_id: i64, limit: i64) -> Result<Vec<Delivery>, sqlx::Error> {
    let records: Vec<DeliveryRecord> = sqlx::query_as(&format!(
        "{SELECT_DELIVERIES} WHERE d.organisation_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
    ))
    .bind(organisation_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        out.push(with_attempts(db, record).await?);
    }
    Ok(out)
}

/// One delivery of the organisation.
pub async fn one(db: &Db, organisation_id: i64, id: &str) -> Result<Option<Delivery>, sqlx::Error> {
    let record: Option<DeliveryRecord> =
        sqlx::query_as(&format!("{SELECT_DELIVERIES} WHERE d.organisation_id = $1 AND d.id = $2"))
            .bind(organisation_id)
            .bind(id)
            .fetch_optional(db)
            .await?;
    match record {
        Some(record) => Ok(Some(with_attempts(db, record).await?)),
        None => Ok(None),
    }
}

/// Whether a test event to this webhook has not been tried yet (one at a time: a test is not a
/// way to flood a receiver or the outbox; one that was tried and waits for a retry does not stop
/// a new test once the receiver is fixed).
pub async fn test_pending(db: &Db, webhook_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT d.id FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE d.webhook_id = $1 AND d.status = $2 AND d.attempts = 0 AND n.type = $3 LIMIT 1",
    )
    .bind(webhook_id)
    .bind(DeliveryStatus::Pending.as_str())
    .bind(EventType::WebhookTest.as_str())
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

async fn with_attempts(db: &Db, record: DeliveryRecord) -> Result<Delivery, sqlx::Error> {
    let attempts: Vec<(i32, i64, Option<i32>, String, i64)> = sqlx::query_as(
        "SELECT number, at, http_status, answer, duration_ms FROM delivery_attempts WHERE delivery_id = $1 ORDER BY number",
    )
    .bind(&record.id)
    .fetch_all(db)
    .await?;
    Ok(Delivery {
        id: record.id,
        event_id: record.notification_id,
        event_type: record.event_type,
        summary: record.summary,
        target: record.target_label,
        status: record.status,
        next_attempt_at: (record.status == DeliveryStatus::Pending).then(|| record.next_attempt_at.map(rfc3339)).flatten(),
        created_at: rfc3339(record.created_at),
        attempts: attempts
            .into_iter()
            .map(|(number, at, http_status, answer, duration_ms)| DeliveryAttempt {
                number: number.max(0) as u32,
                at: rfc3339(at),
                http_status: http_status.and_then(|s| u16::try_from(s).ok()),
                answer,
                duration_ms: duration_ms.max(0) as u64,
            })
            .collect(),
    })
}

/// Deliveries that gave up, in the organisations matched by `condition` on `o` (the
/// dashboard's notice; `access::Scope::organisation_condition`).
pub async fn failed_count(db: &Db, condition: &str, scope_id: i64) -> Result<u64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM deliveries d JOIN organisations o ON o.id = d.organisation_id WHERE {condition} AND d.status = $2"
    ))
    .bind(scope_id)
    .bind(DeliveryStatus::Failed.as_str())
    .fetch_one(db)
    .await?;
    Ok(count.max(0) as u64)
}
