//! The embedded HaloPSA's state, in memory and bounded whatever a peer sends: the server
//! serves it to anyone who has the demo's secret, so each kind of entry is capped, each text is
//! cut to [`MAX_TEXT_CHARS`], and all texts together to [`MAX_TEXT_BYTES`]. When full, a new
//! ticket or action is refused with 503 and `Retry-After`; the oldest token, fault or logged
//! request makes room for a new one.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::Serialize;

use crate::CLOSED_STATUS_ID;
use serde::Deserialize;

/// The most tickets kept.
pub const MAX_TICKETS: usize = 10_000;
/// The most actions kept, over all tickets.
pub const MAX_ACTIONS: usize = 100_000;
/// The longest text kept (a summary, details, a note, an outcome), in characters; longer is cut.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most bytes of text kept over all tickets and actions.
pub const MAX_TEXT_BYTES: usize = 64 << 20;
/// The most live tokens; a new one pushes out the oldest.
pub const MAX_TOKENS: usize = 1_000;
/// The most faults waiting; more are ignored.
pub const MAX_FAULTS: usize = 1_000;
/// How many requests [`crate::Halo::requests`] remembers.
pub const MAX_LOGGED_REQUESTS: usize = 1_000;
/// How long a token lives, in seconds (Halo's default).
pub const TOKEN_SECONDS: u64 = 3600;
/// The first ticket's ID; later ones count up from it.
pub const FIRST_TICKET_ID: i64 = 1001;

/// A ticket as Halo's API shows it (the fields our client uses).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub summary: String,
    pub details: String,
    /// The client (customer) it is filed under; 0: none.
    pub client_id: i64,
    pub tickettype_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub status_id: i64,
    /// Its notes, oldest first.
    pub actions: Vec<Action>,
}

impl Ticket {
    pub fn is_closed(&self) -> bool {
        self.status_id == CLOSED_STATUS_ID
    }
}

/// A note on a ticket (Halo's "action").
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Action {
    /// Counts from 1 within its ticket, as Halo's do.
    pub id: i64,
    pub ticket_id: i64,
    pub note: String,
    pub outcome: String,
    /// A private note, not shown to the end user.
    pub hiddenfromuser: bool,
}

/// A new ticket, its fields checked (a known client, a summary).
pub(crate) struct NewTicket {
    pub summary: String,
    pub details: String,
    pub client_id: i64,
    pub tickettype_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub status_id: i64,
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Default)]
pub(crate) struct TicketChanges {
    pub summary: Option<String>,
    pub details: Option<String>,
    pub client_id: Option<i64>,
    pub tickettype_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub status_id: Option<i64>,
}

/// A new action, its fields checked (a note).
pub(crate) struct NewAction {
    pub ticket_id: i64,
    pub note: String,
    pub outcome: String,
    pub hiddenfromuser: bool,
    /// The ticket's status from now on.
    pub new_status: Option<i64>,
}

/// Why the store refused a change.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No room for another ticket or action, or for its text.
    Full,
    TicketNotFound(i64),
    /// Asked to close a ticket that is closed.
    AlreadyClosed(i64),
}

/// A token issued by `/auth/token`.
pub(crate) struct IssuedToken {
    value: String,
    scopes: Vec<String>,
    expires: Instant,
}

pub(crate) struct Store {
    pub tickets: BTreeMap<i64, Ticket>,
    next_ticket_id: i64,
    actions: usize,
    text_bytes: usize,
    pub tokens: VecDeque<IssuedToken>,
    pub token_requests: usize,
    /// The application's permissions now (they start as the configuration's).
    pub permissions: Vec<String>,
    pub faults: VecDeque<Fault>,
    pub requests: VecDeque<String>,
}

impl Store {
    pub fn new(permissions: Vec<String>) -> Store {
        Store {
            tickets: BTreeMap::new(),
            next_ticket_id: FIRST_TICKET_ID,
            actions: 0,
            text_bytes: 0,
            tokens: VecDeque::new(),
            token_requests: 0,
            permissions,
            faults: VecDeque::new(),
            requests: VecDeque::new(),
        }
    }

    /// Issues a token with these scopes, pushing out expired ones and, when full, the oldest.
    pub fn issue_token(&mut self, scopes: Vec<String>) -> String {
        let now = Instant::now();
        self.tokens.retain(|token| token.expires > now);
        while self.tokens.len() >= MAX_TOKENS {
            self.tokens.pop_front();
        }
        let value = random_token();
        self.tokens.push_back(IssuedToken { value: value.clone(), scopes, expires: now + Duration::from_secs(TOKEN_SECONDS) });
        self.token_requests += 1;
        value
    }

    /// The scopes of a live token (issued, not revoked, not expired).
    pub fn token_scopes(&self, value: &str) -> Option<&[String]> {
        let now = Instant::now();
        self.tokens
            .iter()
            .find(|token| token.expires > now && constant_time_eq(token.value.as_bytes(), value.as_bytes()))
            .map(|token| token.scopes.as_slice())
    }

    pub fn log_request(&mut self, line: String) {
        if self.requests.len() >= MAX_LOGGED_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back(line);
    }

    pub fn add_fault(&mut self, fault: Fault) {
        if self.faults.len() < MAX_FAULTS {
            self.faults.push_back(fault);
        }
    }

    /// The first waiting fault that applies to `path`, used once (it goes when used up).
    pub fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|fault| fault.applies_to(path))?;
        let fault = &mut self.faults[index];
        let left = fault.times.unwrap_or(1).max(1) - 1;
        if left == 0 {
            self.faults.remove(index)
        } else {
            fault.times = Some(left);
            Some(fault.clone())
        }
    }

    pub fn create_ticket(&mut self, new: NewTicket) -> Result<Ticket, Refusal> {
        let (summary, details) = (cut(new.summary), cut(new.details));
        let bytes = summary.len() + details.len();
        if self.tickets.len() >= MAX_TICKETS || self.text_bytes + bytes > MAX_TEXT_BYTES {
            return Err(Refusal::Full);
        }
        let id = self.next_ticket_id;
        self.next_ticket_id += 1;
        self.text_bytes += bytes;
        let ticket = Ticket {
            id,
            summary,
            details,
            client_id: new.client_id,
            tickettype_id: new.tickettype_id,
            priority_id: new.priority_id,
            status_id: new.status_id,
            actions: Vec::new(),
        };
        self.tickets.insert(id, ticket.clone());
        Ok(ticket)
    }

    pub fn update_ticket(&mut self, id: i64, changes: TicketChanges) -> Result<Ticket, Refusal> {
        let ticket = self.tickets.get_mut(&id).ok_or(Refusal::TicketNotFound(id))?;
        if changes.status_id == Some(CLOSED_STATUS_ID) && ticket.is_closed() {
            return Err(Refusal::AlreadyClosed(id));
        }
        let summary = changes.summary.map(cut);
        let details = changes.details.map(cut);
        let old_bytes =
            summary.as_ref().map_or(0, |_| ticket.summary.len()) + details.as_ref().map_or(0, |_| ticket.details.len());
        let new_bytes = summary.as_ref().map_or(0, String::len) + details.as_ref().map_or(0, String::len);
        if (self.text_bytes - old_bytes) + new_bytes > MAX_TEXT_BYTES {
            return Err(Refusal::Full);
        }
        self.text_bytes = self.text_bytes - old_bytes + new_bytes;
        if let Some(summary) = summary {
            ticket.summary = summary;
        }
        if let Some(details) = details {
            ticket.details = details;
        }
        ticket.client_id = changes.client_id.unwrap_or(ticket.client_id);
        ticket.tickettype_id = changes.tickettype_id.or(ticket.tickettype_id);
        ticket.priority_id = changes.priority_id.or(ticket.priority_id);
        ticket.status_id = changes.status_id.unwrap_or(ticket.status_id);
        Ok(ticket.clone())
    }

    pub fn add_action(&mut self, new: NewAction) -> Result<Action, Refusal> {
        let ticket = self.tickets.get_mut(&new.ticket_id).ok_or(Refusal::TicketNotFound(new.ticket_id))?;
        if new.new_status == Some(CLOSED_STATUS_ID) && ticket.is_closed() {
            return Err(Refusal::AlreadyClosed(new.ticket_id));
        }
        let (note, outcome) = (cut(new.note), cut(new.outcome));
        let bytes = note.len() + outcome.len();
        if self.actions >= MAX_ACTIONS || self.text_bytes + bytes > MAX_TEXT_BYTES {
            return Err(Refusal::Full);
        }
        self.actions += 1;
        self.text_bytes += bytes;
        let id = ticket.actions.last().map_or(1, |last| last.id + 1);
        let action = Action { id, ticket_id: new.ticket_id, note, outcome, hiddenfromuser: new.hiddenfromuser };
        ticket.actions.push(action.clone());
        if let Some(status) = new.new_status {
            ticket.status_id = status;
        }
        Ok(action)
    }
}

/// At most [`MAX_TEXT_CHARS`] characters of `text`.
fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text,
    }
}

/// 32 random bytes, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares two byte strings in time that depends on their lengths only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What to do to the next request(s) to a path, instead of (or before) serving them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Applies to requests whose path starts with this (`"/auth/token"`, `"/api/Tickets"`, …;
    /// relative to where the Halo is mounted, the base path cut if given); None: any request.
    pub path: Option<String>,
    /// Answer with this status (401, 403, 404, 405, 409, 422, 429, 500, 503, 504 …) instead of
    /// serving the request.
    pub status: Option<u16>,
    /// How many requests it applies to (0 or absent: 1).
    pub times: Option<u32>,
    /// The `Retry-After` header of its answer, in seconds (for a 429 or 503).
    pub retry_after: Option<u64>,
    /// The message in the body (else a Halo-like default for that status).
    pub message: Option<String>,
    /// Wait this long before answering (or before serving the request, with no status).
    pub delay_ms: Option<u64>,
    /// Drop the connection instead of answering: the answer's body fails at once, so that the
    /// client gets an error and no usable answer.
    pub drop: Option<bool>,
    /// With `drop`: serve the request first (a ticket is made), then drop the answer, as a
    /// connection lost on the way back would.
    pub after_serving: Option<bool>,
}

impl Fault {
    pub(crate) fn applies_to(&self, path: &str) -> bool {
        self.path.as_deref().is_none_or(|prefix| path.starts_with(prefix))
    }

    /// The fault with its path relative to the Halo's `base_path` (`/halo/api` → `/api`).
    pub(crate) fn relative_to(mut self, base_path: &str) -> Fault {
        let base = base_path.trim_end_matches('/');
        if let Some(path) = &self.path {
            if let Some(rest) =
                path.strip_prefix(base).filter(|rest| !base.is_empty() && (rest.is_empty() || rest.starts_with('/')))
            {
                self.path = Some(if rest.is_empty() { "/".to_owned() } else { rest.to_owned() });
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NEW_STATUS_ID;

    fn new_ticket(summary: &str) -> NewTicket {
        NewTicket {
            summary: summary.into(),
            details: String::new(),
            client_id: 1,
            tickettype_id: None,
            priority_id: None,
            status_id: NEW_STATUS_ID,
        }
    }

    #[test]
    fn texts_are_cut_by_characters() {
        assert_eq!(cut("é".repeat(MAX_TEXT_CHARS + 5)).chars().count(), MAX_TEXT_CHARS);
        assert_eq!(cut("short".into()), "short");
    }

    #[test]
    fn tickets_stop_at_the_cap_and_the_oldest_token_makes_room() {
        let mut store = Store::new(vec![]);
        for _ in 0..MAX_TICKETS {
            store.create_ticket(new_ticket("x")).unwrap();
        }
        assert_eq!(store.create_ticket(new_ticket("one more")), Err(Refusal::Full));
        assert_eq!(store.tickets.keys().next(), Some(&FIRST_TICKET_ID));

        let first = store.issue_token(vec![]);
        for _ in 0..MAX_TOKENS {
            store.issue_token(vec![]);
        }
        assert_eq!(store.tokens.len(), MAX_TOKENS);
        assert!(store.token_scopes(&first).is_none(), "the oldest token was pushed out");
    }

    #[test]
    fn text_bytes_are_accounted_on_update() {
        let mut store = Store::new(vec![]);
        let ticket = store.create_ticket(new_ticket("abc")).unwrap();
        assert_eq!(store.text_bytes, 3);
        let changes = TicketChanges { summary: Some("abcdef".into()), ..TicketChanges::default() };
        store.update_ticket(ticket.id, changes).unwrap();
        assert_eq!(store.text_bytes, 6);
    }

    #[test]
    fn a_fault_is_used_as_many_times_as_it_says() {
        let mut store = Store::new(vec![]);
        store.add_fault(Fault { path: Some("/api".into()), status: Some(500), times: Some(2), ..Fault::default() });
        assert!(store.take_fault("/auth/token").is_none());
        assert!(store.take_fault("/api/Tickets").is_some());
        assert!(store.take_fault("/api/Tickets").is_some());
        assert!(store.take_fault("/api/Tickets").is_none());
    }
}
