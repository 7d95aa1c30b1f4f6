//! What every operation of the document shares, written once: how a request is authenticated
//! (security schemes, not header parameters), the problems any request may meet (declared once
//! under `components/responses` and referenced), and the links from an answer to the
//! operations its IDs lead to (so that a client, or a fuzzer, can follow them).

use serde_json::{json, Map, Value};

/// Operations that need no session nor token.
const PUBLIC: [(&str, &str); 10] = [
    ("get", "/api/health"),
    ("get", "/api/ready"),
    ("post", "/api/session"),
    // The second step of signing in: its challenge cookie is the permission.
    ("get", "/api/session/second-factor"),
    ("post", "/api/session/second-factor"),
    ("post", "/api/session/second-factor/passkey/options"),
    ("post", "/api/session/second-factor/passkey"),
    // Signing in with a passkey alone: its signature is the permission.
    ("post", "/api/session/passkey/options"),
    ("post", "/api/session/passkey"),
    // A signed link: the signature is the permission.
    ("get", "/api/downloads/{id}/file"),
];

/// The problems a request may meet whatever it asks: (status, component name, when, headers).
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    retry_after: bool,
    applies: fn(&Operation) -> bool,
}

struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    public: bool,
    has_body: bool,
    has_input: bool,
}

const SHARED: [Shared; 12] = [
    Shared {
        status: "400",
        name: "MalformedBody",
        description: "The body is not JSON, or not JSON of this shape",
        retry_after: false,
        applies: |op| op.has_body,
    },
    Shared {
        status: "401",
        name: "Unauthenticated",
        description: "No session or API token, or it ended, was revoked or has expired",
        retry_after: false,
        applies: |op| !op.public,
    },
    Shared {
        status: "403",
        name: "Forbidden",
        description: "Your role or your token's access level may not do this, or a session's request without its CSRF token",
        retry_after: false,
        applies: |op| !op.public || op.method == "post",
    },
    Shared {
        status: "404",
        name: "NotFound",
        description: "What the path names does not exist, or is not among what you may see (which reads the same)",
        retry_after: false,
        applies: |op| op.path.contains('{'),
    },
    Shared {
        status: "413",
        name: "PayloadTooLarge",
        description: "The body is larger than the server accepts",
        retry_after: false,
        applies: |op| op.has_body,
    },
    Shared {
        status: "415",
        name: "UnsupportedMediaType",
        description: "The body is not sent as `application/json`",
        retry_after: false,
        applies: |op| op.has_body,
    },
    Shared {
        status: "422",
        name: "Validation",
        description: "Fields that are missing or wrong, each named in `errors`",
        retry_after: false,
        applies: |op| op.has_input,
    },
    Shared {
        status: "429",
        name: "RateLimited",
        description: "Too many requests lately (an API token's per-minute limit, sign-in attempts): wait `Retry-After` seconds",
        retry_after: true,
        applies: |op| !op.public,
    },
    Shared {
        status: "500",
        name: "Internal",
        description: "Something we did not expect; logged with the request ID",
        retry_after: false,
        applies: |_| true,
    },
    Shared {
        status: "502",
        name: "Upstream",
        description: "The identity provider could not be reached or gave an answer we could not use; nothing was changed",
        retry_after: false,
        applies: |op| op.path.contains("/credentials"),
    },
    Shared {
        status: "503",
        name: "Unavailable",
        description: "The database is busy or out of reach for a moment: wait `Retry-After` seconds",
        retry_after: true,
        applies: |_| true,
    },
    Shared {
        status: "504",
        name: "Timeout",
        description: "The server stopped waiting for the answer; what was asked may still complete",
        retry_after: false,
        applies: |op| op.path != "/api/events",
    },
];

/// From an answer to the operations its IDs lead to: (operation, status, link name, target
/// operation, parameters as runtime expressions).
const LINKS: &[(&str, &str, &str, &str, &[(&str, &str)])] = &[
    ("list_backups", "200", "Backup", "get_backup", &[("mailbox_id", "$response.body#/items/0/mailbox_id")]),
    ("list_backups", "200", "ForceBackup", "force_backup", &[("mailbox_id", "$response.body#/items/0/mailbox_id")]),
    ("list_backups", "200", "History", "backup_history", &[("mailbox_id", "$response.body#/items/0/mailbox_id")]),
    ("list_backups", "200", "Folders", "backup_folders", &[("mailbox_id", "$response.body#/items/0/mailbox_id")]),
    ("list_jobs", "200", "Job", "get_job", &[("id", "$response.body#/items/0/id")]),
    ("list_jobs", "200", "Skipped", "skipped_items", &[("id", "$response.body#/items/0/id")]),
    ("start_job", "201", "Job", "get_job", &[("id", "$response.body#/id")]),
    ("start_job", "201", "Delete", "delete_job", &[("id", "$response.body#/id")]),
    ("start_job", "201", "TryAgain", "retry_job", &[("id", "$response.body#/id")]),
    ("start_job", "201", "Skipped", "skipped_items", &[("id", "$response.body#/id")]),
    ("start_job", "201", "DestinationPassword", "set_destination_password", &[("id", "$response.body#/id")]),
    ("list_organisations", "200", "Credentials", "get_credentials", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "Mailboxes", "list_mailboxes", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "Halo", "get_halo", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "Webhooks", "list_webhooks", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "Deliveries", "list_deliveries", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "DeviceAuthorization", "start_device", &[("id", "$response.body#/0/id")]),
    ("list_organisations", "200", "CheckNow", "verify_credentials", &[("id", "$response.body#/0/id")]),
    ("start_device", "201", "Complete", "complete_device", &[("id", "$request.path.id"), ("flow", "$response.body#/id")]),
    ("add_mailbox", "201", "NewPassword", "change_password", &[("id", "$response.body#/id")]),
    ("create_webhook", "201", "Test", "test_webhook", &[("id", "$request.path.id"), ("webhook_id", "$response.body#/id")]),
    ("create_webhook", "201", "Delete", "delete_webhook", &[("id", "$request.path.id"), ("webhook_id", "$response.body#/id")]),
    ("test_webhook", "202", "SendAgain", "send_again", &[("id", "$response.body#/id")]),
    ("list_deliveries", "200", "SendAgain", "send_again", &[("id", "$response.body#/0/id")]),
    ("create_token", "201", "Revoke", "revoke_token", &[("id", "$response.body#/id")]),
];

/// Completes the generated document (as JSON) with what every operation shares.
pub fn complete(document: &mut Value) {
    let components = document["components"].as_object_mut().expect("the document has components");
    components.insert("securitySchemes".into(), security_schemes());
    let responses: Map<String, Value> = SHARED.iter().map(|shared| (shared.name.to_owned(), shared_response(shared))).collect();
    components.insert("responses".into(), Value::Object(responses));

    let paths = document["paths"].as_object_mut().expect("the document has paths");
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().expect("a path item is an object").iter_mut() {
            complete_operation(method, path, operation);
        }
    }
    // Each event of the live stream (Open API 3.1: the schema of `text/event-stream` is that of
    // one event): a `job` event whose data is a JobChanged as JSON.
    document["paths"]["/api/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"] = json!({
        "type": "object",
        "required": ["event", "id", "data"],
        "properties": {
            "event": { "type": "string", "enum": ["job"] },
            "id": { "type": "string", "description": "Send it back as `Last-Event-ID` to resume after it" },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": { "$ref": "#/components/schemas/JobChanged" }
            },
            "retry": { "type": "integer", "minimum": 0 }
        }
    });
    for (from, status, name, to, parameters) in LINKS {
        let parameters: Map<String, Value> = parameters.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        let response = operation_mut(document, from)
            .and_then(|op| op["responses"].get_mut(*status))
            .unwrap_or_else(|| panic!("a link from {from} {status}: no such answer"));
        let links = response.as_object_mut().expect("a response is an object").entry("links").or_insert_with(|| json!({}));
        links[*name] = json!({ "operationId": to, "parameters": parameters });
    }
}

fn complete_operation(method: &str, path: &str, operation: &mut Value) {
    // The CSRF token is part of how a session authenticates, not data: a security scheme.
    if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        parameters.retain(|p| !(p["in"] == "header" && p["name"] == portal_api::CSRF_HEADER));
        if parameters.is_empty() {
            operation.as_object_mut().expect("an operation is an object").remove("parameters");
        }
    }
    let op = Operation {
        method,
        path,
        public: PUBLIC.contains(&(method, path)),
        has_body: operation.get("requestBody").is_some(),
        has_input: operation.get("requestBody").is_some() || operation.get("parameters").is_some(),
    };
    if !op.public {
        let session = if method == "get" { json!({ "session": [] }) } else { json!({ "session": [], "csrf": [] }) };
        operation["security"] =
            if person_only(method, path) { json!([session]) } else { json!([session, { "token": [] }]) };
    }
    let responses = operation["responses"].as_object_mut().expect("an operation has responses");
    for shared in SHARED.iter().filter(|shared| (shared.applies)(&op)) {
        responses
            .entry(shared.status.to_owned())
            .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{}", shared.name) }));
    }
    // Every declared problem can carry Retry-After where the server sets it.
    for status in ["429", "503"] {
        if let Some(response) = responses.get_mut(status).and_then(Value::as_object_mut) {
            if !response.contains_key("$ref") {
                response.entry("headers").or_insert_with(|| json!({})).as_object_mut().expect("headers").insert("Retry-After".into(), retry_after());
            }
        }
    }
}

/// Operations no API token may take (`Action::allowed_for_token`: tokens, credentials,
/// mailboxes' changes, integrations, one's own sign-in and sign-in rules; and signing out): only
/// a session is offered for them.
/// `server/tests/roles.rs` checks this against what the server answers a token.
fn person_only(method: &str, path: &str) -> bool {
    let settings = [
        "/api/tokens",
        "/credentials",
        "/integrations",
        "/webhooks",
        "/deliveries",
        "/retention",
        "/api/account/",
        "/sign-in-policy",
    ];
    settings.iter().any(|part| path.contains(part))
        || (path.contains("/mailboxes") && method != "get")
        || (path == "/api/session" && method == "delete")
}

fn operation_mut<'a>(document: &'a mut Value, operation_id: &str) -> Option<&'a mut Value> {
    document["paths"]
        .as_object_mut()?
        .values_mut()
        .flat_map(|item| item.as_object_mut().into_iter().flat_map(|ops| ops.values_mut()))
        .find(|op| op["operationId"] == operation_id)
}

fn security_schemes() -> Value {
    json!({
        "session": {
            "type": "apiKey", "in": "cookie", "name": "portal_session",
            "description": "The session cookie `POST /api/session` sets (HttpOnly)."
        },
        "csrf": {
            "type": "apiKey", "in": "header", "name": portal_api::CSRF_HEADER,
            "description": "The session's CSRF token (`csrf_token` of `GET /api/session`): required with the session cookie on every request that changes something."
        },
        "token": {
            "type": "http", "scheme": "bearer",
            "description": "An API token (Account Settings › API tokens): the owner's scope, limited to the token's access level (`read` or `act`). No cookie and no CSRF token with it."
        }
    })
}

fn shared_response(shared: &Shared) -> Value {
    let mut response = json!({
        "description": shared.description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    });
    if shared.retry_after {
        response["headers"] = json!({ "Retry-After": retry_after() });
    }
    response
}

fn retry_after() -> Value {
    json!({ "description": "Seconds to wait before trying again", "schema": { "type": "integer", "minimum": 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_of_its_own() {
        let document = crate::openapi::document();
        let mut seen = std::collections::BTreeSet::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(seen.insert(id.to_owned()), "operationId {id} twice");
            }
        }
    }

    #[test]
    fn the_csrf_token_is_a_security_scheme_and_shared_problems_are_referenced() {
        let document = crate::openapi::document();
        let force = &document["paths"]["/api/backups/{mailbox_id}/force"]["post"];
        assert!(force["parameters"].as_array().unwrap().iter().all(|p| p["name"] != portal_api::CSRF_HEADER));
        assert_eq!(force["security"], json!([{ "session": [], "csrf": [] }, { "token": [] }]));
        assert_eq!(force["responses"]["503"]["$ref"], "#/components/responses/Unavailable");
        assert!(document["paths"]["/api/health"]["get"].get("security").is_none());
        let links = &document["paths"]["/api/jobs"]["post"]["responses"]["201"]["links"];
        assert_eq!(links["Job"]["operationId"], "get_job");
    }
}
