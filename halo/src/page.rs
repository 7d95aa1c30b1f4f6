//! `GET /`: the embedded HaloPSA's one page, where a demo's audience sees the tickets the portal
//! filed and the notes it added, newest first. It refreshes itself (a `<meta>` refresh: the
//! server's CSP allows no script), and uses only `portal_html`'s style, whose hash the CSP
//! names.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portal_html::{document, esc};

use crate::clients::client_name;
use crate::store::Ticket;
use crate::Halo;

/// How many tickets the page shows (the newest).
const SHOWN_TICKETS: usize = 200;
/// How much of a ticket's details the page shows, in characters.
const SHOWN_DETAILS_CHARS: usize = 500;
/// How often the page reloads itself, in seconds.
const REFRESH_SECONDS: u32 = 5;

pub(crate) async fn tickets(State(halo): State<Halo>) -> Response {
    let base = halo.config().base_path.trim_end_matches('/').to_owned();
    let body = {
        let store = halo.store();
        let open = store.tickets.values().filter(|ticket| !ticket.is_closed()).count();
        let total = store.tickets.len();
        let mut body = format!(
            "<p>A stand-in for a HaloPSA, built into the Backup Portal: what the portal files in Halo \
arrives here. Its API is at <code>{api}</code>, its token endpoint at <code>{token}</code>.</p>\
<p><strong>{open} open</strong> of {total} {tickets}. This page refreshes every {REFRESH_SECONDS} seconds.</p>",
            api = esc(&format!("{base}/api")),
            token = esc(&format!("{base}/auth/token")),
            tickets = if total == 1 { "ticket" } else { "tickets" },
        );
        if total == 0 {
            body.push_str("<p class=\"note\">No tickets yet.</p>");
        } else {
            if total > SHOWN_TICKETS {
                body.push_str(&format!("<p class=\"note\">The newest {SHOWN_TICKETS} are shown.</p>"));
            }
            body.push_str("<ul>");
            for ticket in store.tickets.values().rev().take(SHOWN_TICKETS) {
                body.push_str(&ticket_item(&halo, ticket));
            }
            body.push_str("</ul>");
        }
        body
    };
    let page = document(StatusCode::OK, "Backup Portal", "Embedded HaloPSA", &body);
    with_refresh(page).await
}

/// A ticket: its number, summary, client, whether open, details and notes.
fn ticket_item(halo: &Halo, ticket: &Ticket) -> String {
    let client = match (ticket.client_id, client_name(halo, ticket.client_id)) {
        (_, Some(name)) => name.to_owned(),
        (0, None) => "No client".to_owned(),
        (id, None) => format!("Client {id}"),
    };
    let state = if ticket.is_closed() { "Closed" } else { "Open" };
    let mut item = format!(
        "<li><strong>#{id} {summary}</strong><br><span class=\"note\">{client} · {state}</span>",
        id = ticket.id,
        summary = esc(&ticket.summary),
        client = esc(&client),
    );
    if !ticket.details.is_empty() {
        let details: String = ticket.details.chars().take(SHOWN_DETAILS_CHARS).collect();
        let more = if details.len() < ticket.details.len() { "…" } else { "" };
        // Halo shows a ticket's lines as lines.
        item.push_str(&format!("<br>{}{more}", esc(&details).replace('\n', "<br>")));
    }
    if !ticket.actions.is_empty() {
        item.push_str("<ul>");
        for action in &ticket.actions {
            let outcome = if action.outcome.is_empty() { String::new() } else { format!(" — {}", esc(&action.outcome)) };
            let private = if action.hiddenfromuser { " (private)" } else { "" };
            item.push_str(&format!(
                "<li>{}<span class=\"note\">{outcome}{private}</span></li>",
                esc(&action.note).replace('\n', "<br>")
            ));
        }
        item.push_str("</ul>");
    }
    item.push_str("</li>");
    item
}

/// The page with a `<meta>` refresh in its head (`document` has no place for one).
async fn with_refresh(page: Response) -> Response {
    let (parts, body) = page.into_parts();
    let html = axum::body::to_bytes(body, usize::MAX).await.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let html = html.unwrap_or_default().replacen(
        "<title>",
        &format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\"><title>"),
        1,
    );
    Response::from_parts(parts, html.into())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use http_body_util::BodyExt as _;

    use crate::testing::{call, demo, send, token};

    #[tokio::test]
    async fn the_page_lists_tickets_and_their_notes() {
        let halo = demo();
        let token = token(&halo).await;
        let ticket = r#"[{"summary":"Backup <failed>","details":"Mailbox anna","client_id":3}]"#;
        call(&halo, "POST", "/api/Tickets", Some(&token), ticket).await;
        call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"summary":"Older","client_id":1,"status_id":9}]"#).await;
        let note = r#"[{"ticket_id":1001,"note":"Retried","outcome":"Backup Portal"}]"#;
        call(&halo, "POST", "/api/Actions", Some(&token), note).await;

        let response = send(&halo, "GET", "/", None, "").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.extensions().get::<crate::OwnFormat>().is_some());
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(response.headers().contains_key("content-security-policy"));
        let html = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        assert!(html.contains("<head><meta charset=\"utf-8\">"), "{html}");
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\"><title>"), "{html}");
        assert!(html.contains("Embedded HaloPSA"));
        assert!(html.contains("stand-in for a HaloPSA"));
        assert!(html.contains("<strong>1 open</strong> of 2 tickets"));
        assert!(html.contains("#1001 Backup &lt;failed&gt;"), "escaped");
        assert!(html.contains("Bluebird Clinics · Open"));
        assert!(html.contains("Contoso Ltd · Closed"));
        assert!(html.contains("Retried<span class=\"note\"> — Backup Portal</span>"));
        assert!(html.find("#1002").unwrap() < html.find("#1001").unwrap(), "newest first");
        assert!(!html.contains("<script"));
    }
}
