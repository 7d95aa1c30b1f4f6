//! A HaloPSA's REST API, as this service uses it: a token by client credentials at
//! `{url}/auth/token` (`?tenant=` for hosted Halo), the client tickets are filed under
//! (`GET /api/Client/{id}`), and tickets opened, noted, found and closed (`/api/Tickets`,
//! `/api/Actions`, each taking a JSON array as Halo does).

use portal_api::FieldError;
use serde_json::{json, Value};

use super::{send, Answer, NoAnswer, Outgoing};
use crate::secrets::SecretString;

/// The scopes asked for: tickets to open and close, and the client to check they go under.
pub const SCOPES: &str = "read:tickets edit:tickets read:customers";
/// Halo's default status "Closed".
pub const CLOSED_STATUS_ID: i64 = 9;

/// A Halo and the API application this service signs in as.
#[derive(Clone, Debug)]
pub struct HaloAccount {
    /// No trailing slash.
    pub url: String,
    pub tenant: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub halo_client_id: i64,
    pub ticket_type_id: Option<i64>,
    pub priority_id: Option<i64>,
}

/// Which request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Token,
    Client,
    Tickets,
}

/// What Halo answered instead of what was asked, or that it did not answer.
#[derive(Clone, Debug)]
pub struct HaloError {
    pub step: Step,
    /// Halo's status; none when it did not answer.
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    /// Halo's own message, as it gave it.
    pub message: Option<String>,
    /// Halo's field errors (422).
    pub errors: Vec<FieldError>,
    /// The answer's first lines, or why there was none (for the Deliveries page).
    pub answer: String,
    pub timed_out: bool,
    /// Refused here before anything was sent (a private address): trying again changes nothing.
    pub refused: bool,
    pub duration_ms: u64,
}

impl HaloError {
    fn from_answer(step: Step, answer: &Answer) -> HaloError {
        let (message, errors) = halo_message(&answer.body);
        HaloError {
            step,
            status: Some(answer.status),
            retry_after: answer.retry_after,
            message,
            errors,
            answer: super::first_lines(&answer.body),
            timed_out: false,
            refused: false,
            duration_ms: answer.duration_ms,
        }
    }

    pub(crate) fn from_no_answer(step: Step, no: NoAnswer) -> HaloError {
        HaloError {
            step,
            status: None,
            retry_after: None,
            message: None,
            errors: Vec::new(),
            answer: no.why,
            timed_out: no.timed_out,
            refused: no.refused,
            duration_ms: no.duration_ms,
        }
    }

    fn unreadable(step: Step, answer: &Answer) -> HaloError {
        let mut error = HaloError::from_answer(step, answer);
        error.message = Some("Halo's answer could not be read.".into());
        error
    }
}

/// Halo's message and field errors from an error's body: OAuth's `error_description`, Halo's
/// `message`, ASP.NET's validation `errors`, or the text's first line.
pub fn halo_message(body: &str) -> (Option<String>, Vec<FieldError>) {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        let line = body.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(300).collect());
        return (line, Vec::new());
    };
    let message = ["error_description", "message", "Message", "title", "error"]
        .iter()
        .find_map(|key| value.get(*key).and_then(Value::as_str))
        .map(|m| m.chars().take(300).collect());
    let mut errors = Vec::new();
    if let Some(map) = value.get("errors").and_then(Value::as_object) {
        for (field, messages) in map.iter().take(20) {
            let text = match messages {
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            errors.push(FieldError::new(field.clone(), text.chars().take(300).collect::<String>()));
        }
    }
    (message, errors)
}

fn base(outgoing: &Outgoing, account: &HaloAccount, step: Step) -> Result<reqwest::Url, HaloError> {
    outgoing.check_url(&account.url).map_err(|refused| HaloError::from_no_answer(step, NoAnswer::refused(refused.0)))
}

/// `path` (with its query, if any) under the Halo's address (which may itself have a path).
fn join(base: &reqwest::Url, path: &str) -> reqwest::Url {
    let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    let mut url = base.clone();
    let joined = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(query);
    url
}

/// A token for the API application.
pub async fn token(outgoing: &Outgoing, account: &HaloAccount) -> Result<String, HaloError> {
    let mut url = join(&base(outgoing, account, Step::Token)?, "/auth/token");
    if !account.tenant.is_empty() {
        url.query_pairs_mut().append_pair("tenant", &account.tenant);
    }
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", account.client_id.as_str()),
        ("client_secret", account.client_secret.expose()),
        ("scope", SCOPES),
    ];
    let answer = send(outgoing.client().post(url).form(&form)).await.map_err(|no| HaloError::from_no_answer(Step::Token, no))?;
    if answer.status != 200 {
        return Err(HaloError::from_answer(Step::Token, &answer));
    }
    let value: Value = serde_json::from_str(&answer.body).map_err(|_| HaloError::unreadable(Step::Token, &answer))?;
    value
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| HaloError::unreadable(Step::Token, &answer))
}

/// One API request with the token; Halo's status and its JSON answer, or why not.
async fn call(
    outgoing: &Outgoing,
    account: &HaloAccount,
    token: &str,
    step: Step,
    request: impl FnOnce(&reqwest::Client, reqwest::Url) -> reqwest::RequestBuilder,
    path: &str,
) -> Result<(u16, Value), HaloError> {
    let url = join(&base(outgoing, account, step)?, path);
    let answer =
        send(request(outgoing.client(), url).bearer_auth(token)).await.map_err(|no| HaloError::from_no_answer(step, no))?;
    if !(200..300).contains(&answer.status) {
        return Err(HaloError::from_answer(step, &answer));
    }
    let value = serde_json::from_str(&answer.body).map_err(|_| HaloError::unreadable(step, &answer))?;
    Ok((answer.status, value))
}

/// The name of the client tickets are filed under.
pub async fn client_name(outgoing: &Outgoing, account: &HaloAccount, token: &str) -> Result<String, HaloError> {
    let path = format!("/api/Client/{}", account.halo_client_id);
    let (_, value) = call(outgoing, account, token, Step::Client, |c, u| c.get(u), &path).await?;
    Ok(value.get("name").and_then(Value::as_str).unwrap_or("(unnamed)").to_owned())
}

/// Opens a ticket; answers its number and Halo's status.
pub async fn open_ticket(
    outgoing: &Outgoing,
    account: &HaloAccount,
    token: &str,
    summary: &str,
    details: &str,
) -> Result<(i64, u16), HaloError> {
    let mut ticket = json!({ "summary": summary, "details": details, "client_id": account.halo_client_id });
    if let Some(id) = account.ticket_type_id {
        ticket["tickettype_id"] = json!(id);
    }
    if let Some(id) = account.priority_id {
        ticket["priority_id"] = json!(id);
    }
    let body = json!([ticket]);
    let (status, value) = call(outgoing, account, token, Step::Tickets, |c, u| c.post(u).json(&body), "/api/Tickets").await?;
    ticket_id(&value).map(|id| (id, status)).ok_or_else(|| HaloError {
        step: Step::Tickets,
        status: Some(200),
        retry_after: None,
        message: Some("Halo's answer named no ticket.".into()),
        errors: Vec::new(),
        answer: value.to_string().chars().take(500).collect(),
        timed_out: false,
        refused: false,
        duration_ms: 0,
    })
}

fn ticket_id(value: &Value) -> Option<i64> {
    let one = if let Value::Array(list) = value { list.first()? } else { value };
    one.get("id").and_then(Value::as_i64)
}

/// A ticket whose details carry `marker` (an event's ID), open or not: finds the ticket an
/// earlier attempt opened before it could record it.
pub async fn find_ticket(
    outgoing: &Outgoing,
    account: &HaloAccount,
    token: &str,
    marker: &str,
) -> Result<Option<i64>, HaloError> {
    let search: String = form_urlencoded::byte_serialize(marker.as_bytes()).collect();
    let path = format!("/api/Tickets?search={search}&client_id={}", account.halo_client_id);
    let (_, value) = call(outgoing, account, token, Step::Tickets, |c, u| c.get(u), &path).await?;
    let tickets = value.get("tickets").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(tickets
        .iter()
        .find(|t| t.get("details").and_then(Value::as_str).is_some_and(|d| d.contains(marker)))
        .and_then(|t| t.get("id").and_then(Value::as_i64)))
}

/// Whether a ticket is still open in Halo: `None` when it is gone (deleted there).
pub async fn ticket_open(
    outgoing: &Outgoing,
    account: &HaloAccount,
    token: &str,
    ticket: i64,
) -> Result<Option<bool>, HaloError> {
    let path = format!("/api/Tickets/{ticket}");
    match call(outgoing, account, token, Step::Tickets, |c, u| c.get(u), &path).await {
        Ok((_, value)) => Ok(Some(value.get("status_id").and_then(Value::as_i64) != Some(CLOSED_STATUS_ID))),
        Err(error) if error.status == Some(404) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Adds a note to a ticket; answers Halo's status.
pub async fn add_note(
    outgoing: &Outgoing,
    account: &HaloAccount,
    token: &str,
    ticket: i64,
    note: &str,
) -> Result<u16, HaloError> {
    let body = json!([{ "ticket_id": ticket, "note": note, "outcome": "Backup Portal", "hiddenfromuser": false }]);
    call(outgoing, account, token, Step::Tickets, |c, u| c.post(u).json(&body), "/api/Actions").await.map(|(status, _)| status)
}

/// Closes a ticket; answers Halo's status. One already closed (by someone in Halo: 409)
/// counts as closed.
pub async fn close_ticket(outgoing: &Outgoing, account: &HaloAccount, token: &str, ticket: i64) -> Result<u16, HaloError> {
    let body = json!([{ "id": ticket, "status_id": CLOSED_STATUS_ID }]);
    match call(outgoing, account, token, Step::Tickets, |c, u| c.post(u).json(&body), "/api/Tickets").await {
        Ok((status, _)) => Ok(status),
        Err(error) if error.status == Some(409) => Ok(409),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halo_messages_are_read_from_each_shape_it_answers_in() {
        assert_eq!(
            halo_message(r#"{"error":"invalid_client","error_description":"Bad secret"}"#).0.as_deref(),
            Some("Bad secret")
        );
        assert_eq!(
            halo_message(r#"{"message":"Ticket 5 is already closed."}"#).0.as_deref(),
            Some("Ticket 5 is already closed.")
        );
        let (title, errors) = halo_message(
            r#"{"title":"One or more validation errors occurred.","status":422,"errors":{"summary":["The Summary field is required."]}}"#,
        );
        assert_eq!(title.as_deref(), Some("One or more validation errors occurred."));
        assert_eq!(errors, vec![FieldError::new("summary", "The Summary field is required.")]);
        assert_eq!(halo_message("\n  Service Unavailable\nmore").0.as_deref(), Some("Service Unavailable"));
    }
}
