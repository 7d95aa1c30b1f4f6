//! `GET /api/Tickets` (search, by client, open only, paged), `GET /api/Tickets/{id}`, and
//! `POST /api/Tickets`: a JSON array whose records without an `id` (or with 0) create tickets
//! and whose records with one update that ticket's given fields. The records are applied in
//! order, up to the first that fails (Halo's batch is not a transaction either); the answer is
//! the last ticket, 201 when it was created, 200 when updated. A new ticket without a
//! `client_id` is filed under none (0); one naming a client Halo does not know is a 422.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::access::{require, EDIT_TICKETS, READ_TICKETS};
use crate::clients::client_name;
use crate::input::{query, query_flag, query_number, records, Fields};
use crate::respond::{json, Refused};
use crate::store::{NewTicket, Ticket, TicketChanges};
use crate::{Halo, NEW_STATUS_ID};

/// A page's size when `pageinate=true` names none; and the largest asked for.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

pub(crate) async fn list(State(halo): State<Halo>, headers: HeaderMap, uri: Uri) -> Result<Response, Refused> {
    require(&halo, &headers, READ_TICKETS)?;
    let params = query(&uri);
    let client_id = query_number(&params, "client_id")?;
    let page_size = query_number(&params, "page_size")?;
    let page_no = query_number(&params, "page_no")?;
    let count = query_number(&params, "count")?;
    let search = params.get("search").map(|text| text.trim().to_lowercase()).filter(|text| !text.is_empty());
    let open_only = query_flag(&params, "open_only");

    let store = halo.store();
    let matching: Vec<&Ticket> = store
        .tickets
        .values()
        .filter(|ticket| client_id.is_none_or(|id| ticket.client_id == id))
        .filter(|ticket| !open_only || !ticket.is_closed())
        .filter(|ticket| search.as_deref().is_none_or(|search| matches(ticket, search)))
        .collect();
    let record_count = matching.len();
    let (skip, take) = if query_flag(&params, "pageinate") {
        let size = page_size.map_or(DEFAULT_PAGE_SIZE, |size| (size.max(1) as usize).min(MAX_PAGE_SIZE));
        let page = page_no.unwrap_or(1).max(1) as usize;
        (size.saturating_mul(page - 1), size)
    } else {
        (0, count.map_or(usize::MAX, |count| count.max(0) as usize))
    };
    let tickets: Vec<&Ticket> = matching.into_iter().skip(skip).take(take).collect();
    Ok(json(StatusCode::OK, &json!({ "record_count": record_count, "tickets": tickets })))
}

/// Whether a ticket's summary or details contain `search` (lower case), or its number is it.
fn matches(ticket: &Ticket, search: &str) -> bool {
    ticket.summary.to_lowercase().contains(search)
        || ticket.details.to_lowercase().contains(search)
        || ticket.id.to_string() == search
}

pub(crate) async fn one(State(halo): State<Halo>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Refused> {
    require(&halo, &headers, READ_TICKETS)?;
    let found = id.parse::<i64>().ok().and_then(|id| halo.store().tickets.get(&id).cloned());
    match found {
        Some(ticket) => Ok(json(StatusCode::OK, &ticket)),
        None => {
            let shown: String = id.chars().take(100).collect();
            Err(Refused::Message(StatusCode::NOT_FOUND, format!("Ticket {shown} was not found.")))
        }
    }
}

pub(crate) async fn post(State(halo): State<Halo>, headers: HeaderMap, body: Bytes) -> Result<Response, Refused> {
    require(&halo, &headers, EDIT_TICKETS)?;
    let mut last = None;
    for record in &records(&body, "tickets")? {
        last = Some(apply(&halo, record)?);
    }
    let (status, ticket) = last.ok_or_else(|| Refused::Message(StatusCode::BAD_REQUEST, "No tickets were sent.".into()))?;
    Ok(json(status, &ticket))
}

/// Creates or updates the ticket of one record: the ticket and 201 or 200. An `id` that is not
/// a number leaves its error in `fields`, so the record is refused (422) where it would create.
fn apply(halo: &Halo, record: &Map<String, Value>) -> Result<(StatusCode, Ticket), Refused> {
    let mut fields = Fields::new(record);
    match fields.id("id") {
        Some(id) if id != 0 => update(halo, id, fields).map(|ticket| (StatusCode::OK, ticket)),
        _ => create(halo, fields).map(|ticket| (StatusCode::CREATED, ticket)),
    }
}

fn create(halo: &Halo, mut fields: Fields) -> Result<Ticket, Refused> {
    let summary = fields.required_text("summary", "Summary");
    let details = fields.text("details").unwrap_or_default();
    let client_id = known_client(halo, &mut fields).unwrap_or(0);
    let tickettype_id = fields.id("tickettype_id");
    let priority_id = fields.id("priority_id");
    let status_id = status(&mut fields).unwrap_or(NEW_STATUS_ID);
    fields.finish()?;
    let summary = summary.unwrap_or_default(); // there: finish refuses a record without it
    let new = NewTicket { summary, details, client_id, tickettype_id, priority_id, status_id };
    Ok(halo.store().create_ticket(new)?)
}

fn update(halo: &Halo, id: i64, mut fields: Fields) -> Result<Ticket, Refused> {
    let summary = fields.text("summary");
    if summary.as_ref().is_some_and(|summary| summary.trim().is_empty()) {
        fields.fail("summary", "The Summary field is required.");
    }
    let changes = TicketChanges {
        summary,
        details: fields.text("details"),
        client_id: known_client(halo, &mut fields),
        tickettype_id: fields.id("tickettype_id"),
        priority_id: fields.id("priority_id"),
        status_id: status(&mut fields),
    };
    fields.finish()?;
    Ok(halo.store().update_ticket(id, changes)?)
}

/// The record's `client_id`, if given and a client of the configuration.
fn known_client(halo: &Halo, fields: &mut Fields) -> Option<i64> {
    let id = fields.id("client_id")?;
    if client_name(halo, id).is_none() {
        fields.fail("client_id", format!("Client {id} was not found."));
        return None;
    }
    Some(id)
}

/// The record's `status_id`, if given and a status (a positive number).
fn status(fields: &mut Fields) -> Option<i64> {
    let status = fields.id("status_id")?;
    if status <= 0 {
        fields.fail("status_id", format!("The value '{status}' is not valid for status_id."));
        return None;
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::testing::{call, demo, token};
    use crate::{CLOSED_STATUS_ID, NEW_STATUS_ID};

    #[tokio::test]
    async fn a_ticket_is_created_and_found_again() {
        let halo = demo();
        let token = token(&halo).await;
        let new = r#"[{"summary":"Backup failed","details":"Mailbox anna@contoso.com: quota","client_id":1,"tickettype_id":3}]"#;
        let (status, _, body) = call(&halo, "POST", "/api/Tickets", Some(&token), new).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["id"], 1001);
        assert_eq!(body["status_id"], NEW_STATUS_ID);
        assert_eq!(body["tickettype_id"], 3);
        assert_eq!(body["priority_id"], json!(null));

        let (status, _, body) = call(&halo, "GET", "/api/Tickets/1001", Some(&token), "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["summary"], "Backup failed");
        let (status, _, body) = call(&halo, "GET", "/api/Tickets/1002", Some(&token), "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["message"], "Ticket 1002 was not found.");

        let tickets = halo.tickets();
        assert_eq!(tickets.len(), 1);
        assert_eq!(tickets[0].client_id, 1);
    }

    #[tokio::test]
    async fn a_ticket_without_summary_or_with_an_unknown_client_is_a_422() {
        let halo = demo();
        let token = token(&halo).await;
        let (status, headers, body) =
            call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"details":"x","client_id":7}]"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/problem+json"));
        assert_eq!(body["type"], "https://tools.ietf.org/html/rfc4918#section-11.2");
        assert_eq!(body["title"], "One or more validation errors occurred.");
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"]["summary"], json!(["The Summary field is required."]));
        assert_eq!(body["errors"]["client_id"], json!(["Client 7 was not found."]));
        assert!(halo.tickets().is_empty());
    }

    #[tokio::test]
    async fn closing_a_ticket_twice_is_a_409() {
        let halo = demo();
        let token = token(&halo).await;
        call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"summary":"Backup failed","client_id":2}]"#).await;
        let close = r#"[{"id":1001,"status_id":9}]"#;
        let (status, _, body) = call(&halo, "POST", "/api/Tickets", Some(&token), close).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status_id"], CLOSED_STATUS_ID);
        assert_eq!(body["summary"], "Backup failed", "fields not given stay");

        let (status, _, body) = call(&halo, "POST", "/api/Tickets", Some(&token), close).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["message"], "Ticket 1001 is already closed.");

        let (status, _, _) = call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"id":4242,"status_id":9}]"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_body_that_is_not_an_array_is_a_400() {
        let halo = demo();
        let token = token(&halo).await;
        for body in [r#"{"summary":"x"}"#, "summary=x", "[]"] {
            let (status, _, answer) = call(&halo, "POST", "/api/Tickets", Some(&token), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(answer["message"].is_string());
        }
        let (status, _, answer) = call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"id":"x","summary":"y"}]"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(answer["errors"]["id"].is_array());
        assert!(halo.tickets().is_empty());
    }

    #[tokio::test]
    async fn tickets_are_searched_by_details_client_and_openness() {
        let halo = demo();
        let token = token(&halo).await;
        let batch = r#"[
            {"summary":"Backup failed","details":"Mailbox Anna@Contoso.com is over quota","client_id":1},
            {"summary":"Backup failed","details":"Mailbox bob@fabrikam.com","client_id":2},
            {"summary":"Restore asked","client_id":1,"status_id":9}
        ]"#;
        let (status, _, body) = call(&halo, "POST", "/api/Tickets", Some(&token), batch).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["id"], 1003, "the last one");

        let list = |query: &'static str| {
            let (halo, token) = (halo.clone(), token.clone());
            async move {
                let (status, _, body) = call(&halo, "GET", &format!("/api/Tickets{query}"), Some(&token), "").await;
                assert_eq!(status, StatusCode::OK, "{query}: {body}");
                let ids: Vec<i64> = body["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
                assert_eq!(body["record_count"], ids.len(), "{query}");
                ids
            }
        };
        assert_eq!(list("").await, [1001, 1002, 1003]);
        assert_eq!(list("?search=anna%40contoso").await, [1001]);
        assert_eq!(list("?search=backup+FAILED&client_id=2").await, [1002]);
        assert_eq!(list("?client_id=1&open_only=true").await, [1001]);
        assert_eq!(list("?search=1003").await, [1003]);

        let (status, _, _) = call(&halo, "GET", "/api/Tickets?client_id=abc", Some(&token), "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, _, body) = call(&halo, "GET", "/api/Tickets?pageinate=true&page_size=2&page_no=2", Some(&token), "").await;
        assert_eq!(body["record_count"], 3);
        assert_eq!(body["tickets"][0]["id"], 1003);
    }
}
