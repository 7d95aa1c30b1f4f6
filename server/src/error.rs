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
    RateLimited { retry_after_secs: u64, detail: String },
    /// A service we depend on (the identity provider) could not be reached or answered
    /// something we cannot use. Logged in full; the client learns which service.
    Upstream { service: &'static str, cause: String },
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
            AppError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable problem type: a URI reference per kind of problem.
    fn slug(&self) -> &'static str {
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
            AppError::Upstream { .. } => "upstream-unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
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
            AppError::Upstream { .. } => "A service we rely on did not answer as expected",
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
            AppError::Upstream { service, .. } => {
                format!("{service} could not be reached or gave an answer we could not use. Nothing was changed; try again in a few minutes.")
            }
            AppError::UnsupportedMediaType => "Send the body as JSON with `Content-Type: application/json`.".into(),
            AppError::PayloadTooLarge => "The request is larger than the server accepts (2 MB). Send less at once.".into(),
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("Check these fields: {}.", fields.join(", "))
            }
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

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        AppError::internal(format!("database: {error}"))
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
        let mut response = problem_response(&self.to_problem());
        if let AppError::RateLimited { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
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
