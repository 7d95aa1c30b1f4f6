//! Problem details (RFC 9457): the one shape of every API error.

use serde::{Deserialize, Serialize};

/// Media type of every error response.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An API error as the server sends it and the portal shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A stable URI reference naming the kind of problem, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the kind of problem; the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, in words that help to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request ID: quote it to support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For 422: each field that is wrong, with what is wrong with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request body or query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as in the request (a dotted path for nested fields).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl Problem {
    /// The message for one field, if the server named it.
    pub fn field_error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_rfc9457_member_names() {
        let problem = Problem {
            type_uri: "/problems/validation".into(),
            title: "Some fields are not valid".into(),
            status: 422,
            detail: None,
            instance: Some("abc".into()),
            errors: vec![FieldError::new("email", "Enter an email address.")],
        };
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "/problems/validation");
        assert_eq!(json["errors"][0]["field"], "email");
        assert!(json.get("detail").is_none(), "absent members are left out");
        assert_eq!(problem.field_error("email"), Some("Enter an email address."));
        assert_eq!(problem.field_error("password"), None);
    }
}
