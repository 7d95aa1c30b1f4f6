//! One error type for every handler; each becomes `application/problem+json` (RFC 9457).
//! The request ID is filled into `instance` by the problem layer (`problem.rs`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portal_api::problem::PROBLEM_CONTENT_TYPE;
use portal_api::{FieldError, Problem};

#[derive(Debug)]
pub enum AppError {
    /// No session, or it ended.
    Unauthenticated,
    /// Sign-in with an unknown email or a wrong password (never says which).
    InvalidCredentials,
    /// A state-changing request without this session's CSRF token, or from another site.
    CsrfRejected,
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(String),
    /// It existed, and is no longer available (an expired download link).
    Gone(String),
    /// The request conflicts with the thing's current state; says what conflicts.
    Conflict(String),
    /// The body is not JSON at all.
    MalformedBody(String),
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// The body or query parsed, but fields are wrong: each is named.
    Validation(Vec<FieldError>),
    /// Too many attempts; the client may try again after this many seconds (`Retry-After`).
    RateLimited {
        retry_after_secs: u64,
        detail: String,
    },
    /// A service we depend on (the identity provider) could not be reached or answered
    /// something we cannot use. Logged in full; the client learns which service.
    Upstream {
        service: &'static str,
        cause: String,
    },
    /// A `Range` that selects nothing of a file of `length` bytes (`Content-Range: bytes */length`).
    RangeNotSatisfiable {
        length: u64,
    },
    /// The request took longer than the server's time limit (in milliseconds).
    Timeout {
        limit_ms: u64,
    },
    /// The database is out of reach or busy for a moment (locked by another writer, no free
    /// connection, connection refused). Logged in full; the client may try again after this
    /// many seconds (`Retry-After`).
    Unavailable {
        retry_after_secs: u64,
        cause: String,
    },
    /// Anything we did not expect. Logged in full; the client learns only that it happened.
    Internal(String),
}

impl AppError {
    pub fn not_found(detail: impl Into<String>) -> Self {
        AppError::NotFound(detail.into())
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        AppError::Internal(error.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::CsrfRejected | AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            AppError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One problem of each kind, for their documentation pages (`problems.rs`); a new kind
    /// belongs here too.
    pub(crate) fn kinds() -> [AppError; 18] {
        let text = String::new;
        [
            AppError::Unauthenticated,
            AppError::InvalidCredentials,
            AppError::CsrfRejected,
            AppError::Forbidden(text()),
            AppError::NotFound(text()),
            AppError::MethodNotAllowed(text()),
            AppError::Gone(text()),
            AppError::Conflict(text()),
            AppError::MalformedBody(text()),
            AppError::UnsupportedMediaType,
            AppError::PayloadTooLarge,
            AppError::Validation(Vec::new()),
            AppError::RateLimited { retry_after_secs: 0, detail: text() },
            AppError::RangeNotSatisfiable { length: 0 },
            AppError::Upstream { service: "", cause: text() },
            AppError::Timeout { limit_ms: 0 },
            AppError::Unavailable { retry_after_secs: 0, cause: text() },
            AppError::Internal(text()),
        ]
    }

    /// For the documentation page: when this problem is answered, and what a client does next.
    pub(crate) fn guidance(&self) -> (&'static str, &'static str) {
        match self {
            AppError::Unauthenticated => (
                "The request carried no session, or its session ended (signed out, or older than the session lifetime).",
                "Sign in again (POST /api/session) and repeat the request. The portal brings you back to the page you were on.",
            ),
            AppError::InvalidCredentials => (
                "Sign-in with an email address and password that do not match an account. The answer never says which of the two was wrong.",
                "Check both (and Caps Lock) and sign in again.",
            ),
            AppError::CsrfRejected => (
                "A request that changes something came without this session's security token (the x-csrf-token header), or from another site.",
                "Reload the page, which fetches the token again (GET /api/session), and repeat the request.",
            ),
            AppError::Forbidden(_) => (
                "The signed-in role may not do this: for example an end user forcing a backup, or anyone but an organisation's admins and its reseller opening its credentials.",
                "Ask someone with the role the detail names (your organisation admin or your reseller).",
            ),
            AppError::NotFound(_) => (
                "Nothing is at this address for you: it never existed, it was deleted, or it belongs to someone outside your scope (which reads the same, on purpose).",
                "Go back to the list and look for it there; an old link may point to something deleted.",
            ),
            AppError::MethodNotAllowed(_) => (
                "The address exists but does not take this HTTP method. The Allow header lists the ones it takes.",
                "Use one of the methods in Allow. In the portal this means the page is out of date: reload it.",
            ),
            AppError::Gone(_) => (
                "It existed and is no longer available, such as a download link past its expiry.",
                "Ask for it again (a download: Request again on the Downloads page).",
            ),
            AppError::Conflict(_) => (
                "The request does not fit the thing's current state: a backup already running, a restore that already finished, a password for a job that no longer waits for one. The detail says what.",
                "Reload the item to see its current state, then decide again.",
            ),
            AppError::MalformedBody(_) => (
                "The body could not be read as JSON at all. The detail says where it stopped making sense.",
                "Send a valid JSON document.",
            ),
            AppError::UnsupportedMediaType => (
                "The body was sent with a Content-Type other than application/json.",
                "Send JSON with Content-Type: application/json.",
            ),
            AppError::PayloadTooLarge => ("The body is larger than the server accepts (2 MB).", "Send less at once."),
            AppError::Validation(_) => (
                "The body or the query string was read, but some fields are wrong. The errors member names each field and what is wrong with it.",
                "Correct each named field and send again; nothing was changed.",
            ),
            AppError::RateLimited { .. } => (
                "Too many attempts in a short time (re-authentication attempts are limited per user and per organisation).",
                "Wait the number of seconds in the Retry-After header, then try again. The portal counts down and retries by itself.",
            ),
            AppError::RangeNotSatisfiable { .. } => (
                "A download was asked for a byte range (the Range header) that starts past the end of its file. Content-Range: bytes */length gives the file's length.",
                "Ask for a range within the length, or for the whole file without Range. A download manager that resumes a file which has since been made again starts it over.",
            ),
            AppError::Upstream { .. } => (
                "A service the server depends on, such as the identity provider, could not be reached or answered something unusable.",
                "Nothing was changed. Try again in a few minutes; if it persists, quote the request ID to support.",
            ),
            AppError::Timeout { .. } => (
                "The request took longer than the server's time limit, so the server stopped waiting for it.",
                "Reload to see whether what you asked for completed anyway, then try again, with a narrower request if it was a large one.",
            ),
            AppError::Unavailable { .. } => (
                "The database could not be used for a moment: another writer held it longer than the server waits, every connection was busy, or it could not be reached. Nothing was changed.",
                "Wait the number of seconds in the Retry-After header, then try again. The portal counts down and retries by itself.",
            ),
            AppError::Internal(_) => (
                "Something failed on the server that it did not expect. The cause is in the server's log under the request ID; the answer never includes it.",
                "Try again. If it happens again, quote the request ID to support.",
            ),
        }
    }

    /// The stable problem type: a URI reference per kind of problem.
    pub(crate) fn slug(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid-credentials",
            AppError::CsrfRejected => "csrf-rejected",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::MethodNotAllowed(_) => "method-not-allowed",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::MalformedBody(_) => "malformed-body",
            AppError::UnsupportedMediaType => "unsupported-media-type",
            AppError::PayloadTooLarge => "payload-too-large",
            AppError::Validation(_) => "validation",
            AppError::RateLimited { .. } => "rate-limited",
            AppError::RangeNotSatisfiable { .. } => "range-not-satisfiable",
            AppError::Upstream { .. } => "upstream-unavailable",
            AppError::Timeout { .. } => "timeout",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub(crate) fn title(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "You are not signed in",
            AppError::InvalidCredentials => "Email address or password not recognised",
            AppError::CsrfRejected => "Request not accepted from this page",
            AppError::Forbidden(_) => "Not allowed for your role",
            AppError::NotFound(_) => "Not found",
            AppError::MethodNotAllowed(_) => "Method not allowed here",
            AppError::Conflict(_) => "In conflict with the current state",
            AppError::Gone(_) => "No longer available",
            AppError::MalformedBody(_) => "The request body is not valid JSON",
            AppError::UnsupportedMediaType => "The request body must be JSON",
            AppError::PayloadTooLarge => "The request body is too large",
            AppError::Validation(_) => "Some fields are not valid",
            AppError::RateLimited { .. } => "Too many attempts",
            AppError::RangeNotSatisfiable { .. } => "The range asked for is not in the file",
            AppError::Upstream { .. } => "A service we rely on did not answer as expected",
            AppError::Timeout { .. } => "The request took too long",
            AppError::Unavailable { .. } => "The service is busy for a moment",
            AppError::Internal(_) => "Something went wrong on our side",
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::Unauthenticated => "Your session has ended or you have not signed in. Sign in and try again.".into(),
            AppError::InvalidCredentials => {
                "The email address and password do not match an account. Check both and try again.".into()
            }
            AppError::CsrfRejected => {
                "The request did not carry this session's security token. Reload the page and try again.".into()
            }
            AppError::Forbidden(detail)
            | AppError::NotFound(detail)
            | AppError::MethodNotAllowed(detail)
            | AppError::Conflict(detail)
            | AppError::Gone(detail)
            | AppError::MalformedBody(detail)
            | AppError::RateLimited { detail, .. } => detail.clone(),
            AppError::RangeNotSatisfiable { length } => {
                format!("The file is {length} bytes long: ask for a range that starts before its end, or for the whole file.")
            }
            AppError::Upstream { service, .. } => {
                format!("{service} could not be reached or gave an answer we could not use. Nothing was changed; try again in a few minutes.")
            }
            AppError::Timeout { limit_ms } => format!(
                "The server stopped waiting after {}. What you asked for may still complete: reload to see the current state before you try again.",
                if *limit_ms >= 1000 { format!("{} s", limit_ms / 1000) } else { format!("{limit_ms} ms") }
            ),
            AppError::UnsupportedMediaType => "Send the body as JSON with `Content-Type: application/json`.".into(),
            AppError::PayloadTooLarge => "The request is larger than the server accepts (2 MB). Send less at once.".into(),
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("Check these fields: {}.", fields.join(", "))
            }
            AppError::Unavailable { retry_after_secs, .. } => format!(
                "Our database is busy or out of reach for a moment, so nothing was changed. Try again in {retry_after_secs} s."
            ),
            AppError::Internal(_) => {
                "The request could not be completed. It has been logged; try again, and quote the request ID to support if it happens again.".into()
            }
        }
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            type_uri: format!("/problems/{}", self.slug()),
            title: self.title().into(),
            status: self.status().as_u16(),
            detail: Some(self.detail()),
            instance: None,
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title(), self.status())
    }
}

/// How long a client waits before trying again when the database is busy or out of reach.
const DATABASE_RETRY_AFTER_SECS: u64 = 5;

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if database_out_of_reach(&error) {
            AppError::Unavailable { retry_after_secs: DATABASE_RETRY_AFTER_SECS, cause: format!("database: {error}") }
        } else {
            AppError::internal(format!("database: {error}"))
        }
    }
}

/// A secret that could not be read or stored: the database's trouble is the database's answer
/// (a 503 while it is out of reach); one that does not decrypt is ours.
impl From<crate::secrets::SecretError> for AppError {
    fn from(error: crate::secrets::SecretError) -> Self {
        match error {
            crate::secrets::SecretError::Database(error) => error.into(),
            undecryptable => AppError::internal(undecryptable),
        }
    }
}

/// A failure that passes by itself: the database is locked by another writer, has no free
/// connection, or cannot be reached; not a bad query or bad data, which stay 500.
fn database_out_of_reach(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: 5 BUSY, 6 LOCKED (extended codes keep the primary code in the low byte).
            // PostgreSQL: class 08 (connection), 53300 too many connections, 57P01-57P03 shutting down or starting.
            let sqlite_busy = code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy || code.starts_with("08") || matches!(code.as_ref(), "53300" | "57P01" | "57P02" | "57P03")
        }
        _ => false,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            // The cause goes to the log only; the problem layer adds the request ID to this line's span.
            tracing::error!(%cause, "internal error");
        }
        if let AppError::Upstream { service, cause } = &self {
            tracing::warn!(service, %cause, "upstream error");
        }
        if let AppError::Unavailable { cause, .. } = &self {
            tracing::warn!(%cause, "database unavailable");
        }
        let mut response = problem_response(&self.to_problem());
        if let AppError::RateLimited { retry_after_secs, .. } | AppError::Unavailable { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let AppError::RangeNotSatisfiable { length } = &self {
            // RFC 9110 §15.5.17: the length, so that a client can ask again within it.
            let value = HeaderValue::from_str(&format!("bytes */{length}")).expect("digits");
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        response
    }
}

/// A problem as a response; the one place that sets the problem media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    response
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_listed_once() {
        let kinds = AppError::kinds();
        let mut slugs: Vec<&str> = kinds.iter().map(AppError::slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), kinds.len(), "one of each kind");
    }
}
