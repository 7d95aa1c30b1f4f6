//! An event delivered to a HaloPSA as tickets that open and close themselves: the first event
//! about a subject opens a ticket; a repeat while it is open adds a note with the count; the
//! event that resolves it adds a closing note and closes it. The ticket's number is kept
//! (`outbox::tickets`) and shown on the row. A Halo token is asked for once and kept; when Halo
//! refuses it (401), one new token is asked for and the step tried again.

use portal_api::EventType;
use serde_json::Value;

use super::{resolves, Notifier};
use crate::outbox::tickets as store;
use crate::outbox::{Attempt, DueDelivery, Next};
use crate::outgoing::halo::{self, HaloAccount, HaloError, Step};

/// Delivers one event to the organisation's Halo.
pub(super) async fn deliver(notifier: &Notifier, delivery: &DueDelivery, body: &str) -> Result<(Attempt, Next), sqlx::Error> {
    let account = match super::settings::halo_account(&notifier.db, &notifier.secrets, delivery.organisation_id).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            return Ok((super::ours("HaloPSA is no longer set up for this organisation; nothing was sent."), Next::Cancelled))
        }
        Err(crate::secrets::SecretError::Database(error)) => return Err(error),
        Err(error) => {
            tracing::warn!(%error, organisation = delivery.organisation_id, "the Halo client secret could not be opened");
            return Ok((super::ours("The saved Halo client secret could not be read on our side: save it again."), Next::Failed));
        }
    };
    let data = serde_json::from_str::<Value>(body).ok().and_then(|v| v.get("data").cloned()).unwrap_or(Value::Null);
    let started = std::time::Instant::now();
    let mut refreshed = false;
    loop {
        let token = match notifier.halo_token(delivery.organisation_id, &account).await {
            Ok(token) => token,
            Err(error) => return Ok(failure(notifier, delivery, &error)),
        };
        let mut last_status = None;
        match act(notifier, delivery, &account, &token, &data, &mut last_status).await {
            Ok(done) => {
                let attempt =
                    Attempt { http_status: last_status, answer: done, duration_ms: started.elapsed().as_millis() as u64 };
                return Ok((attempt, Next::Delivered));
            }
            Err(Acted::Db(error)) => return Err(error),
            Err(Acted::Halo(error)) if error.status == Some(401) && error.step != Step::Token && !refreshed => {
                // The token was refused (it expired or was revoked): ask for one new token, once.
                notifier.forget_token(delivery.organisation_id, &account);
                refreshed = true;
            }
            Err(Acted::Halo(error)) => return Ok(failure(notifier, delivery, &error)),
        }
    }
}

enum Acted {
    Halo(HaloError),
    Db(sqlx::Error),
}

impl From<HaloError> for Acted {
    fn from(error: HaloError) -> Self {
        Acted::Halo(error)
    }
}

impl From<sqlx::Error> for Acted {
    fn from(error: sqlx::Error) -> Self {
        Acted::Db(error)
    }
}

/// What the event does to the subject's ticket; answers what was done, in a line, and keeps
/// Halo's last status in `last`.
async fn act(
    notifier: &Notifier,
    d: &DueDelivery,
    account: &HaloAccount,
    token: &str,
    data: &Value,
    last: &mut Option<u16>,
) -> Result<String, Acted> {
    let key = super::settings::halo_key(&account.url, &account.tenant);
    let (db, out, halo) = (&notifier.db, &notifier.outgoing, key.as_str());
    let open = store::open_about(db, d.organisation_id, halo, &d.subject).await?;
    if let Some(ticket) = open.as_ref().filter(|t| t.last_notification_id == d.notification_id && !resolves(d.event_type)) {
        return Ok(format!("Already noted on ticket #{}.", ticket.halo_ticket_id));
    }
    // A ticket someone closed or deleted in Halo is not written to again.
    let open = match open {
        Some(ticket) if halo::ticket_open(out, account, token, ticket.halo_ticket_id).await? == Some(true) => Some(ticket),
        Some(ticket) => {
            store::closed(db, d.organisation_id, halo, ticket.halo_ticket_id).await?;
            touch_row(notifier, d).await?;
            None
        }
        None => None,
    };
    if resolves(d.event_type) {
        let Some(ticket) = open else {
            return Ok("No ticket was open about it in HaloPSA; nothing to close.".into());
        };
        *last = Some(halo::add_note(out, account, token, ticket.halo_ticket_id, &closing_note(d, data)).await?);
        *last = Some(halo::close_ticket(out, account, token, ticket.halo_ticket_id).await?);
        store::closed(db, d.organisation_id, halo, ticket.halo_ticket_id).await?;
        touch_row(notifier, d).await?;
        return Ok(format!("Ticket #{} closed.", ticket.halo_ticket_id));
    }
    if !crate::outbox::ticketed(d.event_type) {
        return Ok("Nothing to file in a PSA.".into());
    }
    if let Some(ticket) = open {
        let count = ticket.occurrences + 1;
        let note = format!("Happened again ({count} times so far): {}\n\n{}", d.summary, details(d, data));
        *last = Some(halo::add_note(out, account, token, ticket.halo_ticket_id, &note).await?);
        store::noted(db, d.organisation_id, halo, ticket.halo_ticket_id, &d.notification_id).await?;
        return Ok(format!("Note added to ticket #{} ({count} times so far).", ticket.halo_ticket_id));
    }
    // Sent again after it was resolved: a ticket opened now would never close.
    if resolved_since(notifier, d).await? {
        return Ok("Resolved since this happened; no ticket opened.".into());
    }
    // An earlier claim may have opened the ticket and lost the answer (or stopped before it
    // recorded the attempt): look for it first.
    let retried = d.attempts > 0 || d.claims > 1;
    let found = if retried { halo::find_ticket(out, account, token, &d.notification_id).await? } else { None };
    // One found closed (someone closed it meanwhile) is left as it is: a new one is opened.
    let found = match found {
        Some(number) if halo::ticket_open(out, account, token, number).await? == Some(true) => Some(number),
        _ => None,
    };
    let title = title(d, data);
    let (number, verb) = match found {
        Some(number) => (number, "found (an earlier attempt opened it)"),
        None => {
            let (number, status) = halo::open_ticket(out, account, token, &title, &details(d, data)).await?;
            *last = Some(status);
            (number, "opened")
        }
    };
    let opened = store::Opened {
        halo_url: halo,
        subject: &d.subject,
        mailbox_id: d.mailbox_id,
        halo_ticket_id: number,
        title: &title,
        notification_id: &d.notification_id,
    };
    store::opened(db, d.organisation_id, opened).await?;
    touch_row(notifier, d).await?;
    Ok(format!("Ticket #{number} {verb}."))
}

/// Open pages redraw the mailbox's row, which names its ticket.
async fn touch_row(notifier: &Notifier, d: &DueDelivery) -> Result<(), sqlx::Error> {
    match d.mailbox_id {
        Some(mailbox_id) => crate::queue::touch_backup(&notifier.db, mailbox_id).await,
        None => Ok(()),
    }
}

/// Whether an event that resolves this one's subject came after it (or in the same
/// millisecond: then no ticket is opened that might never close).
async fn resolved_since(notifier: &Notifier, d: &DueDelivery) -> Result<bool, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM notifications WHERE organisation_id = $1 AND subject = $2 AND created_at >= $3 AND id <> $4 \
             AND type IN ($5, $6, $7)",
    )
    .bind(d.organisation_id)
    .bind(&d.subject)
    .bind(d.created_at)
    .bind(&d.notification_id)
    .bind(super::RESOLVING[0].as_str())
    .bind(super::RESOLVING[1].as_str())
    .bind(super::RESOLVING[2].as_str())
    .fetch_one(&notifier.db)
    .await?;
    Ok(count > 0)
}

fn text<'a>(data: &'a Value, pointer: &str) -> &'a str {
    data.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The ticket's summary: the PSA error type, and what it is about.
fn title(d: &DueDelivery, data: &Value) -> String {
    let about = match text(data, "/mailbox/email") {
        "" => text(data, "/organisation/name"),
        email => email,
    };
    let psa_type = match text(data, "/psa_type") {
        "" => d.summary.as_str(),
        t => t,
    };
    format!("{psa_type} — {about}")
}

/// The ticket's details: what happened, why, what to do, where to look, and the event's ID
/// (how a retry finds a ticket it opened).
fn details(d: &DueDelivery, data: &Value) -> String {
    let mut lines = vec![d.summary.clone()];
    for (label, pointer) in [
        ("Organisation", "/organisation/name"),
        ("Mailbox", "/mailbox/email"),
        ("Status", "/status_label"),
        ("Cause", "/cause"),
        ("What to do", "/what_to_do"),
        ("Expires", "/expires_at"),
        ("In the portal", "/link"),
    ] {
        let value = text(data, pointer);
        if !value.is_empty() {
            lines.push(format!("{label}: {value}"));
        }
    }
    lines.push(format!("Event ID: {}", d.notification_id));
    lines.join("\n")
}

fn closing_note(d: &DueDelivery, data: &Value) -> String {
    let wording = match d.event_type {
        EventType::BackupErrorResolved => format!("{} is resolved: the next backup completed.", text(data, "/psa_type")),
        EventType::CredentialRenewed => format!("Resolved: {}.", d.summary),
        _ => format!("{}.", text(data, "/psa_type")),
    };
    format!("{wording}\n\n{}", details(d, data))
}

/// How a failed attempt is recorded, and what comes next: Halo's 429 waits `Retry-After`; no
/// answer, a timeout, 408, 5xx and a refused token are tried again later; anything else Halo
/// refused (400, 403, 404, 405, 409, 422) would be refused again and fails at once.
fn failure(notifier: &Notifier, d: &DueDelivery, error: &HaloError) -> (Attempt, Next) {
    let step = match error.step {
        Step::Token => "asking for a token",
        Step::Client => "reading the client",
        Step::Tickets => "filing the ticket",
    };
    let mut answer = match (error.status, &error.message) {
        (Some(status), Some(message)) => format!("HaloPSA answered {status} when {step}: {message}"),
        (Some(status), None) => format!("HaloPSA answered {status} when {step}."),
        (None, _) => format!("No answer from HaloPSA when {step}: {}", error.answer),
    };
    for field in &error.errors {
        answer.push_str(&format!("\n- {}: {}", field.field, field.message));
    }
    if error.status.is_some() && !error.answer.is_empty() {
        answer.push_str(&format!("\n\n{}", error.answer));
    }
    let next = match error.status {
        None if error.refused => Next::Failed,
        None | Some(401) | Some(408) | Some(429) => notifier.retry(d, error.retry_after),
        Some(status) if status >= 500 => notifier.retry(d, error.retry_after),
        Some(_) => Next::Failed,
    };
    (Attempt { http_status: error.status, answer, duration_ms: error.duration_ms }, next)
}

impl Notifier {
    /// The key of a Halo token: the organisation and the Halo and application it is for (a
    /// token is never sent to another Halo, whatever changed meanwhile).
    fn token_key(organisation_id: i64, account: &HaloAccount) -> String {
        format!("{organisation_id}\n{}\n{}\n{}", account.url, account.tenant, account.client_id)
    }

    /// The organisation's Halo token: the one kept, or a new one.
    pub(super) async fn halo_token(&self, organisation_id: i64, account: &HaloAccount) -> Result<String, HaloError> {
        let key = Self::token_key(organisation_id, account);
        if let Some(token) = self.tokens.lock().expect("the token map is never poisoned").get(&key) {
            return Ok(token.clone());
        }
        let token = halo::token(&self.outgoing, account).await?;
        let mut tokens = self.tokens.lock().expect("the token map is never poisoned");
        // Bounded: about one per organisation with a Halo; dropped all at once if it ever grows large.
        if tokens.len() > 10_000 {
            tokens.clear();
        }
        tokens.insert(key, token.clone());
        Ok(token)
    }

    pub(super) fn forget_token(&self, organisation_id: i64, account: &HaloAccount) {
        self.tokens.lock().expect("the token map is never poisoned").remove(&Self::token_key(organisation_id, account));
    }
}
