//! Extractors whose rejections are our problems: a JSON body and a query string whose
//! wrong fields come back as 422 with each field named.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use portal_api::FieldError;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::MalformedBody(rejection.body_text())
            }
        })?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(ApiJson(value)),
            Err(error) => {
                let path = error.path().to_string();
                let inner = error.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(AppError::MalformedBody(format!(
                        "The body could not be read as JSON (line {}, column {}).",
                        inner.line(),
                        inner.column()
                    )))
                } else {
                    Err(AppError::Validation(vec![field_error(&path, &inner.to_string())]))
                }
            }
        }
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|error| {
            let path = error.path().to_string();
            AppError::Validation(vec![field_error(&path, &error.into_inner().to_string())])
        })
    }
}

/// Names the field a serde error is about, with a message a person can act on.
/// A missing field is reported by serde at its parent, so its name is taken from the message.
fn field_error(path: &str, message: &str) -> FieldError {
    let parent = if path == "." { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(name) = between(message, "missing field `", "`") {
        return FieldError::new(join(name), "This field is required.");
    }
    if let Some(name) = between(message, "unknown field `", "`") {
        return FieldError::new(join(name), "This field is not expected here.");
    }
    let message = message.split(" at line ").next().unwrap_or(message);
    FieldError::new(if parent.is_empty() { "body" } else { parent }, format!("Not a valid value: {message}."))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_named_by_its_own_name() {
        let e = field_error(".", "missing field `password` at line 1 column 20");
        assert_eq!(e.field, "password");
        assert_eq!(e.message, "This field is required.");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let e = field_error("page", "invalid digit found in string");
        assert_eq!(e.field, "page");
        assert!(e.message.contains("invalid digit"));
    }
}
