//! One error type for every handler; each becomes `application/problem+json` (RFC 9457).
//! Each variant is one kind of problem (`portal_api::ProblemKind`), whose status, `type`, title
//! and documentation come from that one table; `instance` is the ID of the request being
//! answered, which the problem layer (`problem.rs`) sets around each request.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portal_api::problem::PROBLEM_CONTENT_TYPE;
use portal_api::{FieldError, Problem, ProblemKind};

#[derive(Debug)]
pub enum AppError {
    /// No session, or it ended.
    Unauthenticated,
    /// An `Authorization` header that is not a token we know and honour: says why (unknown,
    /// revoked, expired, not Bearer).
    TokenRejected(String),
    /// Sign-in with an unknown email or a wrong password (never says which).
    InvalidCredentials,
    /// A second factor that is wrong, already used, or asked for too late: says which.
    SecondFactorRejected(String),
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
    /// This instance takes no requests now (shutting down, or its database lacks a migration
    /// of this build): `/api/ready`'s 503. The cause is logged, never told.
    NotReady(String),
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

    /// The kind of problem this is: its status, `type`, title and documentation are that kind's
    /// (`portal_api::ProblemKind::info`).
    pub fn kind(&self) -> ProblemKind {
        match self {
            AppError::Unauthenticated | AppError::TokenRejected(_) => ProblemKind::Unauthenticated,
            AppError::InvalidCredentials | AppError::SecondFactorRejected(_) => ProblemKind::InvalidCredentials,
            AppError::CsrfRejected => ProblemKind::CsrfRejected,
            AppError::Forbidden(_) => ProblemKind::Forbidden,
            AppError::NotFound(_) => ProblemKind::NotFound,
            AppError::MethodNotAllowed(_) => ProblemKind::MethodNotAllowed,
            AppError::Gone(_) => ProblemKind::Gone,
            AppError::Conflict(_) => ProblemKind::Conflict,
            AppError::MalformedBody(_) => ProblemKind::MalformedBody,
            AppError::UnsupportedMediaType => ProblemKind::UnsupportedMediaType,
            AppError::PayloadTooLarge => ProblemKind::PayloadTooLarge,
            AppError::Validation(_) => ProblemKind::Validation,
            AppError::RateLimited { .. } => ProblemKind::RateLimited,
            AppError::RangeNotSatisfiable { .. } => ProblemKind::RangeNotSatisfiable,
            AppError::Upstream { .. } => ProblemKind::UpstreamUnavailable,
            AppError::Timeout { .. } => ProblemKind::Timeout,
            AppError::Unavailable { .. } | AppError::NotReady(_) => ProblemKind::Unavailable,
            AppError::Internal(_) => ProblemKind::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.kind())
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
            | AppError::SecondFactorRejected(detail)
            | AppError::TokenRejected(detail)
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
            AppError::NotReady(_) => format!(
                "This server is not taking requests now (it is starting, stopping or being upgraded). Another server can answer; try again in {DATABASE_RETRY_AFTER_SECS} s."
            ),
            AppError::Internal(_) => {
                "The request could not be completed. It has been logged; try again, and quote the request ID to support if it happens again.".into()
            }
        }
    }

    /// The problem as answered: `instance` is the ID of the request being answered, when there
    /// is one (`with_request_id`).
    pub fn to_problem(&self) -> Problem {
        let kind = self.kind();
        Problem {
            type_uri: kind.type_uri(),
            title: kind.info().title.into(),
            status: kind.info().status,
            detail: Some(self.detail()),
            instance: REQUEST_ID.try_with(Clone::clone).ok(),
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.kind().info().title, self.status())
    }
}

/// A kind's HTTP status.
pub(crate) fn status_of(kind: ProblemKind) -> StatusCode {
    StatusCode::from_u16(kind.info().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The ID of the request being answered, if any (the activity log records it).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

tokio::task_local! {
    /// The ID of the request being answered: every problem built meanwhile carries it.
    static REQUEST_ID: String;
}

/// Answers a request (`answer`) with `request_id` as the `instance` of every problem built
/// meanwhile; the problem layer runs each request so.
pub async fn with_request_id<F: std::future::Future>(request_id: String, answer: F) -> F::Output {
    REQUEST_ID.scope(request_id, answer).await
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
        if let AppError::NotReady(cause) = &self {
            // Asked every few seconds by a load balancer while it lasts: not worth a warning each.
            tracing::debug!(%cause, "not ready");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(DATABASE_RETRY_AFTER_SECS));
        }
        if let AppError::TokenRejected(_) = &self {
            // RFC 6750 §3: the scheme to use, and that the one given is not valid.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
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

    #[tokio::test]
    async fn a_problem_carries_the_id_of_the_request_it_answers() {
        let answered = with_request_id("0123abcd".into(), async { AppError::not_found("Nothing here.").to_problem() }).await;
        assert_eq!(answered.instance.as_deref(), Some("0123abcd"));
        assert_eq!((answered.type_uri.as_str(), answered.status), ("/problems/not-found", 404));
        assert_eq!(AppError::not_found("Nothing here.").to_problem().instance, None, "outside a request: none");
    }
}
