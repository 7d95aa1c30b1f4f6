//! Sends the outbox: each due delivery to its HaloPSA (tickets that open, take notes and close
//! themselves, `tickets.rs`) or its webhook (signed, `outgoing::webhook`), with retries
//! (exponential with jitter, Halo's or the receiver's `Retry-After` honoured) until the last,
//! then marked failed for the organisation's admins to see. Also raises the warnings before a
//! credential's token expires (`expiry.rs`).

mod expiry;
pub mod settings;
mod tickets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_api::EventType;

use crate::db::{now_ms, Db};
use crate::outbox::{self, Attempt, DueDelivery, Next};
use crate::outgoing::{self, Outgoing};
use crate::secrets::SecretBox;

/// How the notifier sends.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// This server's address as others reach it: links in events are made absolute with it.
    pub public_url: String,
    /// The wait before the first retry; each next one doubles it.
    pub first_retry_ms: i64,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// How long an instance holds a delivery it is sending.
    pub lease_ms: i64,
    /// How often the outbox is looked at.
    pub poll: Duration,
}

impl NotifyConfig {
    pub fn new(public_url: String) -> NotifyConfig {
        NotifyConfig { public_url, first_retry_ms: 30_000, max_attempts: 10, lease_ms: 120_000, poll: Duration::from_secs(1) }
    }
}

/// The longest wait between two attempts, whatever a receiver asks.
const MAX_WAIT_MS: i64 = 6 * 3_600_000;
/// Deliveries taken at a time.
const BATCH: i64 = 20;

#[derive(Clone)]
pub struct Notifier {
    db: Db,
    secrets: SecretBox,
    outgoing: Outgoing,
    config: Arc<NotifyConfig>,
    /// Each organisation's Halo token, until Halo refuses it (then one new one is asked for).
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// Rung when something is due now (Send again), so it goes without waiting for the poll.
    wake: Arc<tokio::sync::Notify>,
}

impl Notifier {
    pub fn new(db: Db, secrets: SecretBox, outgoing: Outgoing, config: NotifyConfig) -> Notifier {
        Notifier { db, secrets, outgoing, config: Arc::new(config), tokens: Default::default(), wake: Default::default() }
    }

    /// Sends what is due until nothing is; answers how many attempts were made. (What `spawn`
    /// does continuously; tests call it to step the notifier.)
    pub async fn run_due(&self) -> Result<usize, sqlx::Error> {
        let mut made = 0;
        loop {
            let due = outbox::claim_due(&self.db, BATCH, self.config.lease_ms).await?;
            if due.is_empty() {
                return Ok(made);
            }
            let results = futures_util::future::join_all(due.iter().map(|delivery| self.send_one(delivery))).await;
            for result in results {
                result?;
                made += 1;
            }
        }
    }

    /// One attempt at one delivery, recorded. The attempt as a whole ends well within its lease
    /// (a Halo delivery makes several requests), so that no other instance takes it over while
    /// it is still under way.
    async fn send_one(&self, delivery: &DueDelivery) -> Result<(), sqlx::Error> {
        let limit = Duration::from_millis((self.config.lease_ms - self.config.lease_ms / 4).max(1000) as u64);
        let started = std::time::Instant::now();
        let (attempt, next) = match tokio::time::timeout(limit, self.attempt(delivery)).await {
            Ok(done) => done?,
            Err(_) => (
                Attempt {
                    http_status: None,
                    answer: format!("The attempt took longer than {} s and was stopped.", limit.as_secs()),
                    duration_ms: started.elapsed().as_millis() as u64,
                },
                self.retry(delivery, None),
            ),
        };
        outbox::record_attempt(&self.db, delivery, attempt, next).await?;
        Ok(())
    }

    /// The warnings before tokens expire (14 and 3 days before); answers how many were raised.
    pub async fn check_expiring(&self) -> Result<usize, sqlx::Error> {
        expiry::raise_warnings(&self.db).await
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends continuously: each delivery as soon as a slot is free (no batch waits for its
    /// slowest), at most [`BATCH`] at once on this instance.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let slots = Arc::new(tokio::sync::Semaphore::new(BATCH as usize));
            let mut last_expiry_check = 0_i64;
            loop {
                if now_ms() - last_expiry_check >= 60_000 {
                    last_expiry_check = now_ms();
                    if let Err(error) = self.check_expiring().await {
                        tracing::warn!(%error, "could not look for credentials about to expire");
                    }
                }
                let free = slots.available_permits() as i64;
                if free > 0 {
                    match outbox::claim_due(&self.db, free, self.config.lease_ms).await {
                        Ok(due) => {
                            for delivery in due {
                                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                                let notifier = self.clone();
                                tokio::spawn(async move {
                                    if let Err(error) = notifier.send_one(&delivery).await {
                                        tracing::warn!(%error, delivery = %delivery.id, "a delivery's attempt could not be recorded");
                                    }
                                    drop(permit);
                                    // A slot is free: whatever is due goes now.
                                    notifier.wake();
                                });
                            }
                        }
                        Err(error) => tracing::warn!(%error, "could not look for due deliveries"),
                    }
                }
                let _ = tokio::time::timeout(self.config.poll, self.wake.notified()).await;
            }
        })
    }

    async fn attempt(&self, delivery: &DueDelivery) -> Result<(Attempt, Next), sqlx::Error> {
        let body = self.body(delivery);
        if delivery.target == outbox::TARGET_HALO {
            return tickets::deliver(self, delivery, &body).await;
        }
        let Some(webhook_id) = &delivery.webhook_id else {
            return Ok((ours("A delivery with no receiver."), Next::Failed));
        };
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT url, sealed_secret FROM webhooks WHERE id = $1 AND organisation_id = $2")
                .bind(webhook_id)
                .bind(delivery.organisation_id)
                .fetch_optional(&self.db)
                .await?;
        let Some((url, sealed)) = found else {
            return Ok((ours("The webhook was deleted; nothing was sent."), Next::Cancelled));
        };
        let secret =
            match self.secrets.open(&self.db, delivery.organisation_id, &settings::webhook_context(webhook_id), &sealed).await {
                Ok(secret) => secret,
                Err(error) => {
                    tracing::warn!(%error, webhook = %webhook_id, "a webhook's secret could not be opened");
                    return Ok((ours("The webhook's signing secret could not be read on our side."), Next::Failed));
                }
            };
        let secret = String::from_utf8_lossy(&secret).into_owned();
        let sent =
            outgoing::webhook::deliver(&self.outgoing, &url, &secret, &delivery.notification_id, now_ms() / 1000, &body).await;
        Ok(match sent {
            Ok(answer) if (200..300).contains(&answer.status) => (answered(&answer, None), Next::Delivered),
            Ok(answer) => (answered(&answer, None), self.retry(delivery, answer.retry_after)),
            Err(no) => (
                Attempt { http_status: None, answer: no.why.clone(), duration_ms: no.duration_ms },
                if no.refused { Next::Failed } else { self.retry(delivery, None) },
            ),
        })
    }

    /// The JSON body as sent: the stored event with its link made absolute.
    fn body(&self, delivery: &DueDelivery) -> String {
        let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&delivery.payload) else {
            return delivery.payload.clone();
        };
        if let Some(link) = payload.pointer_mut("/data/link") {
            if let Some(path) = link.as_str().filter(|p| p.starts_with('/')) {
                *link = serde_json::Value::String(format!("{}{path}", self.config.public_url));
            }
        }
        payload.to_string()
    }

    /// The next attempt after this one, or failed when it was the last.
    pub(crate) fn retry(&self, delivery: &DueDelivery, retry_after_secs: Option<u64>) -> Next {
        let made = delivery.attempts as u32 + 1;
        if made >= self.config.max_attempts {
            return Next::Failed;
        }
        let wait = match retry_after_secs {
            Some(secs) => (secs as i64).saturating_mul(1000),
            None => {
                let backoff = self.config.first_retry_ms.saturating_mul(1_i64 << (made - 1).min(20));
                // ±20 % so that many deliveries that failed together do not come back together.
                let jitter = (rand::random::<f64>() * 0.4 + 0.8) * backoff as f64;
                jitter as i64
            }
        };
        Next::RetryAt(now_ms() + wait.clamp(1000, MAX_WAIT_MS))
    }
}

/// An attempt that ended on our side, before anything was sent.
fn ours(why: &str) -> Attempt {
    Attempt { http_status: None, answer: why.to_owned(), duration_ms: 0 }
}

fn answered(answer: &outgoing::Answer, prefix: Option<&str>) -> Attempt {
    let lines = outgoing::first_lines(&answer.body);
    let text = match prefix {
        Some(prefix) if lines.is_empty() => prefix.to_owned(),
        Some(prefix) => format!("{prefix}\n{lines}"),
        None => lines,
    };
    Attempt { http_status: Some(answer.status), answer: text, duration_ms: answer.duration_ms }
}

/// Whether an event resolves what earlier ones of its subject reported.
fn resolves(event_type: EventType) -> bool {
    RESOLVING.contains(&event_type)
}

/// The events that resolve what earlier ones of their subject reported.
const RESOLVING: [EventType; 3] = [EventType::BackupErrorResolved, EventType::CredentialFixed, EventType::CredentialRenewed];
