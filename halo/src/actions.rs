//! `GET /api/Actions?ticket_id=` and `POST /api/Actions`: the notes on a ticket. A POST is a
//! JSON array of `{"ticket_id", "note", "outcome", "hiddenfromuser", "new_status"}`, applied in
//! order up to the first that fails; `new_status` also sets the ticket's status (closing one
//! already closed is a 409, as an update's is). The answer is the last action, 201.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::access::{require, EDIT_TICKETS, READ_TICKETS};
use crate::input::{query, query_number, records, Fields};
use crate::respond::{json, Refused};
use crate::store::{Action, NewAction, Refusal};
use crate::Halo;

pub(crate) async fn list(State(halo): State<Halo>, headers: HeaderMap, uri: Uri) -> Result<Response, Refused> {
    require(&halo, &headers, READ_TICKETS)?;
    let Some(ticket_id) = query_number(&query(&uri), "ticket_id")? else {
        return Err(Refused::Message(StatusCode::BAD_REQUEST, "The ticket_id parameter is required.".into()));
    };
    let store = halo.store();
    let ticket = store.tickets.get(&ticket_id).ok_or(Refusal::TicketNotFound(ticket_id))?;
    Ok(json(StatusCode::OK, &json!({ "record_count": ticket.actions.len(), "actions": ticket.actions })))
}

pub(crate) async fn post(State(halo): State<Halo>, headers: HeaderMap, body: Bytes) -> Result<Response, Refused> {
    require(&halo, &headers, EDIT_TICKETS)?;
    let mut last = None;
    for record in &records(&body, "actions")? {
        last = Some(add(&halo, record)?);
    }
    let action = last.ok_or_else(|| Refused::Message(StatusCode::BAD_REQUEST, "No actions were sent.".into()))?;
    Ok(json(StatusCode::CREATED, &action))
}

fn add(halo: &Halo, record: &Map<String, Value>) -> Result<Action, Refused> {
    let mut fields = Fields::new(record);
    let ticket_id = fields.required_id("ticket_id", "Ticket");
    let note = fields.required_text("note", "Note");
    let outcome = fields.text("outcome").unwrap_or_default();
    let hiddenfromuser = fields.flag("hiddenfromuser").unwrap_or(false);
    let new_status = fields.id("new_status");
    if new_status.is_some_and(|status| status <= 0) {
        fields.fail("new_status", "The value is not valid for new_status.");
    }
    fields.finish()?;
    // Both there: finish refuses a record without them.
    let (ticket_id, note) = (ticket_id.unwrap_or_default(), note.unwrap_or_default());
    let new = NewAction { ticket_id, note, outcome, hiddenfromuser, new_status };
    Ok(halo.store().add_action(new)?)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::testing::{call, demo, token};
    use crate::CLOSED_STATUS_ID;

    #[tokio::test]
    async fn actions_are_appended_and_listed() {
        let halo = demo();
        let token = token(&halo).await;
        call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"summary":"Backup failed","client_id":1}]"#).await;

        let note = r#"[{"ticket_id":1001,"note":"Retried: failed again","outcome":"Backup Portal","hiddenfromuser":true}]"#;
        let (status, _, body) = call(&halo, "POST", "/api/Actions", Some(&token), note).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body,
            json!({"id": 1, "ticket_id": 1001, "note": "Retried: failed again", "outcome": "Backup Portal", "hiddenfromuser": true})
        );
        let close = r#"[{"ticket_id":1001,"note":"It works again","outcome":"Resolved","new_status":9}]"#;
        let (status, _, body) = call(&halo, "POST", "/api/Actions", Some(&token), close).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["id"], 2);
        assert_eq!(halo.tickets()[0].status_id, CLOSED_STATUS_ID);
        let (status, _, body) = call(&halo, "POST", "/api/Actions", Some(&token), close).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["message"], "Ticket 1001 is already closed.");

        let (status, _, body) = call(&halo, "GET", "/api/Actions?ticket_id=1001", Some(&token), "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["record_count"], 2);
        assert_eq!(body["actions"][1]["outcome"], "Resolved");
        assert_eq!(halo.tickets()[0].actions.len(), 2, "the refused one added nothing");
    }

    #[tokio::test]
    async fn an_empty_note_or_unknown_ticket_is_refused() {
        let halo = demo();
        let token = token(&halo).await;
        let (status, _, body) = call(&halo, "POST", "/api/Actions", Some(&token), r#"[{"ticket_id":1001,"note":"x"}]"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["message"], "Ticket 1001 was not found.");

        let (status, _, body) = call(&halo, "POST", "/api/Actions", Some(&token), r#"[{"note":" "}]"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"]["note"], json!(["The Note field is required."]));
        assert_eq!(body["errors"]["ticket_id"], json!(["The Ticket field is required."]));

        let (status, _, _) = call(&halo, "GET", "/api/Actions", Some(&token), "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
