//! Reading what a POST carries: a JSON array of records (Halo's convention), each read field by
//! field so that one 422 names every wrong field of a record, as ASP.NET's model validation
//! does. Values are taken as leniently as Halo's JSON.NET takes them (an ID as a number or a
//! numeric string; a number where text is wanted, as its text).

use std::collections::{BTreeMap, HashMap};

use axum::http::{StatusCode, Uri};
use serde_json::{Map, Value};

use crate::respond::Refused;

/// The records of a JSON array body; else 400 (not JSON, not an array of objects, empty).
pub(crate) fn records(body: &[u8], what: &str) -> Result<Vec<Map<String, Value>>, Refused> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| Refused::Message(StatusCode::BAD_REQUEST, format!("The request body is not valid JSON: {error}.")))?;
    let Value::Array(elements) = value else {
        return Err(Refused::Message(StatusCode::BAD_REQUEST, format!("The request body must be a JSON array of {what}.")));
    };
    if elements.is_empty() {
        return Err(Refused::Message(StatusCode::BAD_REQUEST, format!("The request body holds no {what}.")));
    }
    elements
        .into_iter()
        .map(|element| match element {
            Value::Object(object) => Ok(object),
            _ => Err(Refused::Message(
                StatusCode::BAD_REQUEST,
                format!("Each element of the array must be an object: one of {what}."),
            )),
        })
        .collect()
}

/// One record's fields, and what is wrong with them so far.
pub(crate) struct Fields<'a> {
    record: &'a Map<String, Value>,
    errors: BTreeMap<String, Vec<String>>,
}

impl<'a> Fields<'a> {
    pub fn new(record: &'a Map<String, Value>) -> Self {
        Fields { record, errors: BTreeMap::new() }
    }

    /// A field's value; absent and `null` are the same.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.record.get(name).filter(|value| !value.is_null())
    }

    pub fn fail(&mut self, name: &str, text: impl Into<String>) {
        self.errors.entry(name.to_owned()).or_default().push(text.into());
    }

    pub fn text(&mut self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(text) => Some(text.clone()),
            value @ (Value::Number(_) | Value::Bool(_)) => Some(value.to_string()),
            _ => {
                self.fail(name, format!("The field {name} must be text."));
                None
            }
        }
    }

    /// Text that must be there and not blank on a record that creates (`Required` in ASP.NET).
    pub fn required_text(&mut self, name: &str, label: &str) -> Option<String> {
        let text = self.text(name).filter(|text| !text.trim().is_empty());
        if text.is_none() && !self.errors.contains_key(name) {
            self.fail(name, format!("The {label} field is required."));
        }
        text
    }

    pub fn id(&mut self, name: &str) -> Option<i64> {
        let value = self.get(name)?;
        let id = match value {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        if id.is_none() {
            self.fail(name, format!("The value '{}' is not valid for {name}.", shorten(value)));
        }
        id
    }

    /// An ID that must be there on this record.
    pub fn required_id(&mut self, name: &str, label: &str) -> Option<i64> {
        if self.get(name).is_none() {
            self.fail(name, format!("The {label} field is required."));
            return None;
        }
        self.id(name)
    }

    pub fn flag(&mut self, name: &str) -> Option<bool> {
        let value = self.get(name)?;
        let flag = match value {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        if flag.is_none() {
            self.fail(name, format!("The value '{}' is not valid for {name}.", shorten(value)));
        }
        flag
    }

    /// `Ok` when nothing was wrong; else the 422 naming every wrong field.
    pub fn finish(self) -> Result<(), Refused> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Refused::Invalid(self.errors))
        }
    }
}

/// A JSON value as at most 100 characters of text, for an error.
fn shorten(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.chars().take(100).collect()
}

/// Form-encoded parameters (a form body, a query): the first of each name, at most 64.
pub(crate) fn params(encoded: &[u8]) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(encoded).take(64) {
        params.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    params
}

/// A query's parameters.
pub(crate) fn query(uri: &Uri) -> HashMap<String, String> {
    params(uri.query().unwrap_or_default().as_bytes())
}

/// A query parameter that must be a whole number, if given; else 400.
pub(crate) fn query_number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Refused> {
    match params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty()) {
        None => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| {
            let value: String = value.chars().take(100).collect();
            Refused::Message(StatusCode::BAD_REQUEST, format!("The value '{value}' is not valid for {name}."))
        }),
    }
}

/// A query flag: `true` or `1` is on.
pub(crate) fn query_flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_read_leniently_and_every_wrong_one_is_named() {
        let record = json!({"summary": 12, "client_id": "2", "priority_id": "high", "hidden": "true", "details": null});
        let record = record.as_object().unwrap();
        let mut fields = Fields::new(record);
        assert_eq!(fields.text("summary").as_deref(), Some("12"));
        assert_eq!(fields.id("client_id"), Some(2));
        assert_eq!(fields.id("priority_id"), None);
        assert_eq!(fields.flag("hidden"), Some(true));
        assert_eq!(fields.required_text("details", "Details"), None);
        assert_eq!(fields.errors.keys().collect::<Vec<_>>(), ["details", "priority_id"]);
    }

    #[test]
    fn only_an_array_of_objects_is_taken() {
        assert!(records(b"[{\"a\":1}]", "tickets").is_ok());
        for body in [&b"{\"a\":1}"[..], b"[]", b"[1]", b"not json"] {
            assert!(matches!(records(body, "tickets"), Err(Refused::Message(StatusCode::BAD_REQUEST, _))));
        }
    }
}
