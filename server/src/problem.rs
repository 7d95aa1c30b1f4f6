//! The outermost API layer: gives every request an ID, makes sure every error that leaves
//! the server is problem+json carrying that ID, and logs one line per request.
//!
//! Handlers return `AppError`, which is already a problem carrying the request ID (the
//! layer answers each request inside `error::with_request_id`), and passes as it is; this
//! layer also catches what does not pass through a handler (axum's own 405) so that
//! nothing reaches the browser as a bare status or plain text.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portal_api::problem::PROBLEM_CONTENT_TYPE;
use portal_api::{Problem, REQUEST_ID_HEADER};
use tracing::Instrument;

use crate::error::{problem_response, with_request_id, AppError};

pub async fn problem_layer(request: Request, next: Next) -> Response {
    let request_id = new_request_id();
    let method = request.method().clone();
    // The path only: a query string may one day carry something secret.
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id);

    let response = with_request_id(request_id.clone(), next.run(request)).instrument(span.clone()).await;
    // The stand-ins built in (identity provider, HaloPSA) answer in their own formats (JSON errors, HTML pages).
    let own_format = response.extensions().get::<portal_idp::OwnFormat>().is_some();
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let mut response = if failed && !own_format { as_problem(response, &request_id) } else { response };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    response
}

/// Leaves a problem as it is (it carries the request ID already), or turns a bare error
/// response into one.
fn as_problem(response: Response, request_id: &str) -> Response {
    let is_problem =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if is_problem {
        return response;
    }
    // A bare answer's body (plain text, or nothing) is not shown: the problem says it all.
    let (mut parts, _) = response.into_parts();
    let mut problem = fallback_problem(parts.status, &parts);
    problem.instance = Some(request_id.to_owned());

    // Keep the headers that belong to the answer (Allow, Retry-After, Set-Cookie...).
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut rebuilt = problem_response(&problem);
    *rebuilt.status_mut() = parts.status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

/// The problem for an error response that no handler wrote.
fn fallback_problem(status: StatusCode, parts: &axum::http::response::Parts) -> Problem {
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            AppError::MethodNotAllowed(format!("This address accepts only: {allow}."))
        }
        StatusCode::NOT_FOUND => AppError::not_found("There is nothing at this address."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        s if s.is_server_error() => AppError::internal(format!("bare {s} response")),
        _ => {
            // A status we have no kind for: describe it by its standard name.
            let reason = status.canonical_reason().unwrap_or("Error");
            return Problem {
                type_uri: "about:blank".into(),
                title: reason.into(),
                status: status.as_u16(),
                detail: None,
                instance: None,
                errors: Vec::new(),
            };
        }
    };
    let mut problem = error.to_problem();
    problem.status = status.as_u16();
    problem
}

/// Ends a request that takes longer than the configured limit with 504, rather than leaving the
/// browser waiting. Only the time until the answer starts counts (a stream's body may go on).
pub async fn time_limit(State(limit_ms): State<u64>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(std::time::Duration::from_millis(limit_ms), next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout { limit_ms }.into_response(),
    }
}

/// A caught panic: logged by tower-http, answered as a plain internal error.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::internal("a handler panicked").into_response()
}

fn new_request_id() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}
