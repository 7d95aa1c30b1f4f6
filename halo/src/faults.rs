//! Faults on demand: what a Halo does on a bad day (refuses a secret, limits the rate, fails,
//! answers slowly, drops the connection), so that the tests and the demo can show how the
//! portal copes. A fault waits until a request it applies to comes; requests take them in the
//! order they were added. They apply before anything else (authentication too): a 401 on
//! `/auth/token` is answered as a wrong secret would be.
//!
//! [`gate`] also logs every request ([`crate::Halo::requests`]). `/faults` itself is never
//! faulted, so that a fault for any request can still be cleared.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::respond::{default_message, invalid_token, message, not_found, oauth_error, with_retry_after};
use crate::store::{Fault, MAX_FAULTS};
use crate::Halo;

/// The longest a fault may delay an answer.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// Every request passes here: logged, then the first fault for it (if any) applied.
pub(crate) async fn gate(State(halo): State<Halo>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let fault = {
        let mut store = halo.store();
        let shown: String = path.chars().take(200).collect();
        store.log_request(format!("{} {shown}", request.method()));
        if path == "/faults" {
            None
        } else {
            store.take_fault(&path)
        }
    };
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if let Some(delay) = fault.delay_ms {
        tokio::time::sleep(Duration::from_millis(delay).min(MAX_DELAY)).await;
    }
    if fault.drop == Some(true) {
        if fault.after_serving == Some(true) {
            let _served = next.run(request).await;
        }
        return dropped();
    }
    match fault.status {
        Some(status) => answer(&fault, status, &path),
        None => next.run(request).await,
    }
}

/// A fault's answer: its status and message, as Halo would say it there.
fn answer(fault: &Fault, status: u16, path: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = fault.message.clone().unwrap_or_else(|| match (path.starts_with("/auth/token"), status.as_u16()) {
        (true, 401) => "The client ID or secret is wrong.".to_owned(),
        _ => default_message(status),
    });
    let response = match (path.starts_with("/auth/token"), status.as_u16()) {
        (true, 400) => oauth_error(status, "invalid_request", text),
        (true, 401) => oauth_error(status, "invalid_client", text),
        (false, 401) => invalid_token(text),
        _ => message(status, text),
    };
    match fault.retry_after {
        Some(seconds) => with_retry_after(response, seconds),
        None => response,
    }
}

/// An answer whose body fails before its first byte: hyper then closes the connection
/// without sending the head, and the client sees the connection drop.
fn dropped() -> Response {
    let failing = futures_util::stream::iter([Err::<Bytes, _>(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "the embedded HaloPSA dropped the connection (a fault)",
    ))]);
    Response::new(Body::from_stream(failing))
}

/// `POST /faults`: a [`Fault`] as JSON, added after those waiting (204).
pub(crate) async fn add(State(halo): State<Halo>, uri: Uri, body: Bytes) -> Response {
    if !halo.config().faults_enabled {
        return not_found(uri).await;
    }
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(error) => return message(StatusCode::BAD_REQUEST, format!("The request body is not a fault: {error}.")),
    };
    if fault.status.is_some_and(|status| !(200..=599).contains(&status)) {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "A fault's status must be from 200 to 599.");
    }
    if fault.status.is_none() && fault.delay_ms.is_none() && fault.drop != Some(true) {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "A fault needs a status, a delay_ms or drop: true.");
    }
    if halo.store().faults.len() >= MAX_FAULTS {
        return message(StatusCode::SERVICE_UNAVAILABLE, format!("At most {MAX_FAULTS} faults can wait; clear them first."));
    }
    halo.add_fault(fault);
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /faults`: forgets every fault waiting (204).
pub(crate) async fn clear(State(halo): State<Halo>, uri: Uri) -> Response {
    if !halo.config().faults_enabled {
        return not_found(uri).await;
    }
    halo.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use http_body_util::BodyExt as _;

    use crate::store::Fault;
    use crate::testing::{call, demo, demo_with, send, token};

    #[tokio::test]
    async fn a_429_is_answered_once_with_retry_after() {
        let halo = demo();
        let token = token(&halo).await;
        let fault = r#"{"path":"/api/Tickets","status":429,"retry_after":7}"#;
        let response = send(&halo, "POST", "/faults", None, fault).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.extensions().get::<crate::OwnFormat>().is_some());

        let (status, headers, body) = call(&halo, "GET", "/api/Tickets", Some(&token), "").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "7");
        assert!(body["message"].is_string());
        let (status, _, _) = call(&halo, "GET", "/api/Tickets", Some(&token), "").await;
        assert_eq!(status, StatusCode::OK, "used up");
    }

    #[tokio::test]
    async fn a_fault_applies_before_authentication() {
        let halo = demo_with(|config| config.base_path = "/halo".into());
        halo.add_fault(Fault { path: Some("/halo/auth/token".into()), status: Some(401), ..Fault::default() });
        let form = "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=demo-halo-secret";
        let (status, _, body) = call(&halo, "POST", "/auth/token", None, form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(halo.token_requests(), 0);

        halo.add_fault(Fault { status: Some(504), times: Some(2), ..Fault::default() });
        for _ in 0..2 {
            let (status, _, body) = call(&halo, "GET", "/api/Tickets", None, "").await;
            assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
            assert_eq!(body["message"], "The request timed out.");
        }
        let (status, _, _) = call(&halo, "GET", "/api/Tickets", None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "then served again");
    }

    #[tokio::test]
    async fn a_dropped_connection_gives_no_answer_and_a_slow_one_comes_late() {
        let halo = demo();
        halo.add_fault(Fault { path: Some("/api".into()), drop: Some(true), ..Fault::default() });
        let response = send(&halo, "GET", "/api/Tickets", None, "").await;
        assert!(response.into_body().collect().await.is_err());

        halo.add_fault(Fault { delay_ms: Some(50), ..Fault::default() });
        let started = std::time::Instant::now();
        let (status, _, _) = call(&halo, "GET", "/api/Tickets", None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "served after the delay");
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_dropped_connection_sends_nothing_on_a_socket() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let halo = demo();
        halo.add_fault(Fault { path: Some("/api/Tickets".into()), drop: Some(true), ..Fault::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(std::future::IntoFuture::into_future(axum::serve(listener, halo.router::<()>())));

        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /api/Tickets HTTP/1.1\r\nHost: halo\r\n\r\n").await.unwrap();
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;
        assert!(received.is_empty(), "got {}", String::from_utf8_lossy(&received));
        server.abort();
    }

    #[tokio::test]
    async fn faults_are_cleared_or_not_served() {
        let halo = demo();
        halo.add_fault(Fault { status: Some(500), times: Some(5), ..Fault::default() });
        let response = send(&halo, "DELETE", "/faults", None, "").await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "/faults is never faulted");
        let (status, _, _) = call(&halo, "GET", "/api/Tickets", None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (status, _, _) = call(&halo, "POST", "/faults", None, r#"{"path":"/api","statuz":500}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused");
        let (status, _, _) = call(&halo, "POST", "/faults", None, r#"{"path":"/api"}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let closed = demo_with(|config| config.faults_enabled = false);
        let (status, _, _) = call(&closed, "POST", "/faults", None, r#"{"status":500}"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = call(&closed, "DELETE", "/faults", None, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(closed.requests(), ["POST /faults", "DELETE /faults"]);
    }
}
