//! What the server accepts, said exactly: the names and bounds the handlers check, written into
//! the document from the same lists the handlers check against (so the two cannot drift).
//! Rules JSON Schema cannot say (an address on the public internet, a mailbox that is yours, a
//! host name's syntax) stay in the handlers, each answered with 422 naming the field.

use portal_api::page::MAX_PER_PAGE;
use portal_api::{ActivityAction, JobKind, JobSort, JobStatus, MessageSort};
use serde_json::{json, Value};

fn names<T: Copy>(values: &[T], name: impl Fn(T) -> &'static str) -> Value {
    json!(values.iter().map(|v| name(*v)).collect::<Vec<_>>())
}

/// The kinds a jobs list or a new job may name: backups have their own endpoints.
const JOB_KINDS: [JobKind; 3] = [JobKind::Migrate, JobKind::Restore, JobKind::Download];

pub fn complete(document: &mut Value) {
    let backup_statuses = names(JobKind::Backup.statuses(), JobStatus::as_str);
    // A filter sent empty (a form's "every …") is no filter: "" is among the names it takes.
    let or_empty = |names: Value| with(names, json!(""));
    let job_kinds = names(&JOB_KINDS, JobKind::as_str);

    for (path, item) in document["paths"].as_object_mut().expect("paths").iter_mut() {
        for (method, operation) in item.as_object_mut().expect("a path item").iter_mut() {
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for parameter in parameters.iter_mut().filter(|p| p["in"] == "query") {
                let name = parameter["name"].as_str().unwrap_or("").to_owned();
                let schema = &mut parameter["schema"];
                match (method.as_str(), path.as_str(), name.as_str()) {
                    // Read as u32 (not int32: a page past 2^31 is just empty).
                    (_, _, "page") => *schema = json!({ "type": "integer", "minimum": 1, "maximum": u32::MAX }),
                    (_, _, "per_page") => *schema = json!({ "type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE }),
                    ("get", "/api/backups", "status") => *schema = json!({ "type": "string", "enum": or_empty(backup_statuses.clone()) }),
                    ("get", "/api/activity" | "/api/activity.csv", "action") => {
                        *schema = json!({ "type": "string", "enum": or_empty(names(&ActivityAction::ALL, ActivityAction::as_str)) })
                    }
                    ("get", "/api/jobs", "kind") => {
                        *schema = json!({ "type": "string", "enum": job_kinds });
                        parameter["required"] = json!(true);
                    }
                    ("get", "/api/jobs/counts", "kind") => {
                        *schema = json!({ "type": "string", "enum": names(&JobKind::ALL, JobKind::as_str) });
                        parameter["required"] = json!(true);
                    }
                    ("get", "/api/jobs", "status") => {
                        *schema = json!({ "type": "string", "enum": or_empty(names(&JobStatus::ALL, JobStatus::as_str)) })
                    }
                    ("get", "/api/jobs", "sort") => *schema = json!({ "type": "string", "enum": names(&JobSort::ALL, JobSort::as_str) }),
                    ("get", "/api/downloads/{id}/file", "expires" | "signature") => parameter["required"] = json!(true),
                    ("get", "/api/messages", "sort") => {
                        *schema = json!({ "type": "string", "enum": or_empty(names(&MessageSort::ALL, MessageSort::as_str)) })
                    }
                    ("get", "/api/messages", "after" | "before") => {
                        *schema = json!({ "anyOf": [{ "type": "string", "format": "date" }, { "type": "string", "maxLength": 0 }] })
                    }
                    _ => {}
                }
            }
        }
    }

    let schemas = &mut document["components"]["schemas"];
    let mut set = |schema: &str, property: &str, rule: Value| {
        let target = &mut schemas[schema]["properties"][property];
        assert!(target.is_object(), "{schema}.{property} is in the document");
        for (key, value) in rule.as_object().expect("a rule is an object") {
            target[key] = value.clone();
        }
    };
    // Text is trimmed before it is checked: a bound here holds for the text as sent (a pattern
    // only where trimming cannot change the answer, e.g. "has an @").
    set("SignInRequest", "email", json!({ "minLength": 1, "pattern": "@" }));
    set("SignInRequest", "password", json!({ "minLength": 1 }));
    set("ForceBackupsRequest", "status", json!({ "type": ["string", "null"], "enum": with(or_empty(backup_statuses.clone()), Value::Null) }));
    set("NewJob", "kind", json!({ "type": "string", "enum": job_kinds, "description": "Migrate, restore or download." }));
    set("NewJob", "messages", json!({ "maxItems": crate::listing::MAX_CHOSEN_MESSAGES }));
    for (schema, property) in [("DestinationPassword", "password"), ("ImapPassword", "password"), ("ImapMailboxRequest", "password")] {
        set(schema, property, json!({ "minLength": 1, "maxLength": 1024 }));
    }
    set("BackupAdminSignIn", "username", json!({ "minLength": 1, "pattern": "@" }));
    set("BackupAdminSignIn", "password", json!({ "minLength": 1 }));
    set("ImapMailboxRequest", "port", json!({ "minimum": 1, "maximum": 65535 }));
    set("ImapMailboxRequest", "security", json!({ "enum": ["tls", "plain"] }));
    set("ImapMailboxRequest", "host", json!({ "minLength": 1 }));
    set("ImapMailboxRequest", "username", json!({ "minLength": 1 }));
    set("HaloSettingsInput", "url", json!({ "minLength": 1 }));
    set("HaloSettingsInput", "client_id", json!({ "minLength": 1 }));
    set("HaloSettingsInput", "halo_client_id", json!({ "minLength": 1 }));
    set("HaloSettingsInput", "client_secret", json!({ "maxLength": 500 }));
    set("NewWebhook", "url", json!({ "minLength": 1 }));
    // A name: 1 to 100 characters as sent, with something but spaces, and no control characters.
    set("NewApiToken", "name", json!({ "minLength": 1, "maxLength": 100, "pattern": TOKEN_NAME_PATTERN }));
}

/// No control character (Rust's `char::is_control`), and one that is not white space.
const TOKEN_NAME_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$";

/// `values` (a JSON array) and one more.
fn with(values: Value, more: Value) -> Value {
    let mut values = values.as_array().cloned().unwrap_or_default();
    values.push(more);
    Value::Array(values)
}
