//! Extractors whose rejections are our problems: a JSON body and a query string whose
//! wrong fields come back as 422 with each field named, and path parameters that answer 404
//! when they cannot name anything. Text with a NUL character is refused here, where all input
//! comes in: PostgreSQL cannot store it (SQLite can), so it must never reach a query.

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
        // First as JSON, so that text is checked before any field is taken from it.
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|error| {
            AppError::MalformedBody(format!(
                "The body could not be read as JSON (line {}, column {}).",
                error.line(),
                error.column()
            ))
        })?;
        // Every body this API takes is an object (serde would also read a struct from an array).
        if !value.is_object() {
            return Err(AppError::Validation(vec![FieldError::new("body", "Send a JSON object, like {\"name\": …}.")]));
        }
        if let Some(field) = nul_in(&value, "") {
            return Err(AppError::Validation(vec![FieldError::new(field, NUL_MESSAGE)]));
        }
        let mut value = value;
        whole_numbers(&mut value);
        serde_path_to_error::deserialize(value).map(ApiJson).map_err(|error| {
            let path = error.path().to_string();
            AppError::Validation(vec![field_error(&path, &error.into_inner().to_string(), "body")])
        })
    }
}

/// JSON does not tell `97.0` from `97` (and JSON Schema counts both as integers): a whole
/// number written with a fraction is taken as the integer it is.
fn whole_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            // Within ±2^53 every integer is exact in an f64.
            if let Some(float) = number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0) {
                *value = serde_json::Value::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(members) => members.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

const NUL_MESSAGE: &str = "Text may not contain the NUL character (\\u0000).";

/// The path of the first string (or key) in `value` that holds a NUL character.
fn nul_in(value: &serde_json::Value, path: &str) -> Option<String> {
    let at = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(text) => {
            text.contains('\0').then(|| if path.is_empty() { "body".to_owned() } else { path.to_owned() })
        }
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| nul_in(item, &format!("{path}[{i}]"))),
        serde_json::Value::Object(members) => members.iter().find_map(|(key, member)| {
            if key.contains('\0') {
                Some(if path.is_empty() { "body".to_owned() } else { path.to_owned() })
            } else {
                nul_in(member, &at(key))
            }
        }),
        _ => None,
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = form_urlencoded::parse(query.as_bytes());
        if let Some((key, _)) = pairs.clone().find(|(key, value)| key.contains('\0') || value.contains('\0')) {
            let field = if key.contains('\0') { "query".to_owned() } else { key.into_owned() };
            return Err(AppError::Validation(vec![FieldError::new(field, NUL_MESSAGE)]));
        }
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|error| {
            let path = error.path().to_string();
            AppError::Validation(vec![field_error(&path, &error.into_inner().to_string(), "query")])
        })
    }
}

/// Path parameters. One that cannot be read as what the route takes (a word where an ID
/// goes), or that holds a NUL character, names nothing: 404, as for an ID that does not exist.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let path = parts.uri.path().to_owned();
        let nothing_here = || AppError::not_found(format!("There is nothing at {path}."));
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state).await.map_err(|_| nothing_here())?;
        if raw.iter().any(|(_, value)| value.contains('\0')) {
            return Err(nothing_here());
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(nothing_here()),
        }
    }
}

/// Names the field a serde error is about, with a message a person can act on.
/// A missing field is reported by serde at its parent, so its name is taken from the message;
/// an error about the whole body or query string is named `whole`.
fn field_error(path: &str, message: &str, whole: &str) -> FieldError {
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
        // Reported at the field itself when read from a JSON value, at its parent otherwise.
        let at_itself = parent == name || parent.ends_with(&format!(".{name}"));
        return FieldError::new(if at_itself { parent.to_owned() } else { join(name) }, "This field is not expected here.");
    }
    let message = message.split(" at line ").next().unwrap_or(message);
    FieldError::new(if parent.is_empty() { whole } else { parent }, format!("Not a valid value: {message}."))
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
        let e = field_error(".", "missing field `password` at line 1 column 20", "body");
        assert_eq!(e.field, "password");
        assert_eq!(e.message, "This field is required.");
    }

    #[test]
    fn an_unknown_field_is_named_once() {
        assert_eq!(field_error("stauts", "unknown field `stauts`, expected `q`", "body").field, "stauts");
        assert_eq!(field_error("filter", "unknown field `stauts`, expected `q`", "body").field, "filter.stauts");
    }

    #[test]
    fn a_nul_is_found_with_its_path() {
        let value = serde_json::json!({ "folders": ["Inbox", "a\u{0}b"], "name": "ok" });
        assert_eq!(nul_in(&value, "").as_deref(), Some("folders[1]"));
        assert_eq!(nul_in(&serde_json::json!({ "name": "ok" }), ""), None);
    }

    #[test]
    fn a_whole_number_with_a_fraction_is_an_integer() {
        let mut value = serde_json::json!({ "days": 97.0, "ratio": 0.5, "list": [3.0], "big": 1e300 });
        whole_numbers(&mut value);
        assert_eq!(value, serde_json::json!({ "days": 97, "ratio": 0.5, "list": [3], "big": 1e300 }));
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let e = field_error("page", "invalid digit found in string", "query");
        assert_eq!(e.field, "page");
        assert!(e.message.contains("invalid digit"));
    }
}
