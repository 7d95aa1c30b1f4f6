//! How the embedded HaloPSA answers: Halo's JSON (`{"message": ...}`; ASP.NET's validation
//! problem for a 422), and [`finish`], which every answer leaves through, so that axum's own
//! answers (a 405, a body over the limit) are JSON too and all carry [`OwnFormat`].

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::store::Refusal;
use crate::OwnFormat;

/// How long a caller is asked to wait when the store is full (`Retry-After`, seconds).
const FULL_RETRY_SECONDS: u64 = 60;

/// A JSON answer, never cached.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    json_typed(status, body, "application/json; charset=utf-8")
}

fn json_typed(status: StatusCode, body: &impl Serialize, content_type: &'static str) -> Response {
    let mut response = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Halo's error: `{"message": ...}`.
pub(crate) fn message(status: StatusCode, text: impl Into<String>) -> Response {
    json(status, &json!({ "message": text.into() }))
}

/// ASP.NET's validation problem (422), each field with what is wrong with it, as Halo answers
/// a ticket it cannot take.
pub(crate) fn validation(errors: BTreeMap<String, Vec<String>>) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc4918#section-11.2",
        "title": "One or more validation errors occurred.",
        "status": 422,
        "errors": errors,
    });
    json_typed(StatusCode::UNPROCESSABLE_ENTITY, &body, "application/problem+json; charset=utf-8")
}

/// OAuth's error (RFC 6749 §5.2), as Halo's token endpoint answers.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    json(status, &json!({ "error": error, "error_description": description.into() }))
}

/// The 401 of an API call without a live token.
pub(crate) fn invalid_token(text: impl Into<String>) -> Response {
    let mut response = message(StatusCode::UNAUTHORIZED, text);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

pub(crate) fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// What Halo says with a status when nothing more specific is known (a fault's answer).
pub(crate) fn default_message(status: StatusCode) -> String {
    let text = match status.as_u16() {
        400 => "The request is invalid.",
        401 => "Authorization has been denied for this request.",
        403 => "You do not have permission to perform this action.",
        404 => "The requested resource was not found.",
        405 => "The requested resource does not support this HTTP method.",
        409 => "The request conflicts with the current state of the resource.",
        413 => "The request is too large.",
        422 => "The request could not be processed.",
        429 => "API rate limit exceeded. Try again later.",
        500 => "An error has occurred.",
        502 => "Bad gateway.",
        503 => "The service is temporarily unavailable.",
        504 => "The request timed out.",
        _ => {
            return status.canonical_reason().map_or_else(|| format!("Error {}.", status.as_u16()), |reason| format!("{reason}."))
        }
    };
    text.to_owned()
}

/// Why a request is not served, on its way to becoming Halo's answer: small, so that `?`
/// carries it out of a handler (a whole `Response` would be large to pass back).
#[derive(Debug)]
pub(crate) enum Refused {
    /// `{"message": ...}` with this status.
    Message(StatusCode, String),
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    InvalidToken(String),
    /// 422: ASP.NET's validation problem, what is wrong with each field.
    Invalid(BTreeMap<String, Vec<String>>),
    /// What the store refused.
    Store(Refusal),
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Refused::Store(refusal)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Message(status, text) => message(status, text),
            Refused::InvalidToken(text) => invalid_token(text),
            Refused::Invalid(errors) => validation(errors),
            Refused::Store(refusal) => refusal.into_response(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Full => with_retry_after(
                message(StatusCode::SERVICE_UNAVAILABLE, "This HaloPSA stand-in holds all the tickets and notes it can keep."),
                FULL_RETRY_SECONDS,
            ),
            Refusal::TicketNotFound(id) => message(StatusCode::NOT_FOUND, format!("Ticket {id} was not found.")),
            Refusal::AlreadyClosed(id) => message(StatusCode::CONFLICT, format!("Ticket {id} is already closed.")),
        }
    }
}

/// Any other address, in ASP.NET's words.
pub(crate) async fn not_found(uri: Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    message(StatusCode::NOT_FOUND, format!("No HTTP resource was found that matches the request URI '{path}'."))
}

/// Every answer leaves through here: an error that is not yet JSON or HTML (axum's 405 with an
/// empty body, its plain-text rejections) becomes `{"message": ...}`, its other headers (`Allow`)
/// kept; and each carries [`OwnFormat`].
pub(crate) async fn finish(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let mut response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        let typed = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
            value.starts_with("application/json")
                || value.starts_with("application/problem+json")
                || value.starts_with("text/html")
        });
        if !typed {
            response = as_json(response, &method).await;
        }
    }
    response.extensions_mut().insert(OwnFormat);
    response
}

/// An error answer as `{"message": ...}`: its text if it has one, else what its status means.
async fn as_json(response: Response, method: &Method) -> Response {
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned());
    let text = match text {
        Ok(text) if !text.is_empty() => text,
        _ if parts.status == StatusCode::METHOD_NOT_ALLOWED => {
            format!("The requested resource does not support http method '{method}'.")
        }
        _ => default_message(parts.status),
    };
    let json = message(parts.status, text);
    parts.headers.remove(header::CONTENT_LENGTH);
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(value) = json.headers().get(&name) {
            parts.headers.insert(name, value.clone());
        }
    }
    Response::from_parts(parts, Body::new(json.into_body()))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt as _;

    use crate::testing::{body_json, demo};

    #[tokio::test]
    async fn a_method_not_allowed_is_json_with_allow() {
        let halo = demo();
        let request = Request::delete("/api/Tickets").body(axum::body::Body::empty()).unwrap();
        let response = halo.router::<()>().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 405);
        assert!(response.headers().get("allow").is_some(), "{:?}", response.headers());
        assert!(response.extensions().get::<crate::OwnFormat>().is_some());
        let body = body_json(response).await;
        assert_eq!(body["message"], "The requested resource does not support http method 'DELETE'.");
    }

    #[tokio::test]
    async fn a_full_store_answers_503_with_retry_after() {
        use axum::response::IntoResponse as _;

        let response = crate::store::Refusal::Full.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "60");
        assert!(body_json(response).await["message"].is_string());
    }

    #[tokio::test]
    async fn an_unknown_address_is_a_json_404() {
        let request = Request::get("/api/Nothing").body(axum::body::Body::empty()).unwrap();
        let response = demo().router::<()>().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.extensions().get::<crate::OwnFormat>().is_some());
        assert!(body_json(response).await["message"].as_str().unwrap().contains("/api/Nothing"));
    }
}
