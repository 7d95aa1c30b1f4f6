//! Every route of the OpenAPI document, walked with malformed input: path parameters, query
//! strings, bodies and headers a client should never send, and no session or no CSRF token.
//! Each answer is a success or a problem (RFC 9457) that carries the request ID; never a 500,
//! and no error tells how the server is built.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use common::*;
use portal_api::problem::PROBLEM_CONTENT_TYPE;
use portal_api::{Role, CSRF_HEADER, REQUEST_ID_HEADER};
use serde_json::Value;

/// Values no path parameter should take, put into the URI as written: some are percent-escapes
/// (a NUL, bytes that are not UTF-8, a slash), one is not a valid escape at all.
const BAD_SEGMENTS: [&str; 15] = [
    "not-a-number",
    "-1",
    "0",
    "1.5",
    "99999999999999999999",
    "-9223372036854775809",
    "%00",
    "%ZZ",
    "%FF%FE",
    "..%2F..",
    "%27%20OR%201%3D1%20--",
    "%E2%80%AE%F0%9F%92%A5",
    "",
    "LONG",
    "a%0D%0ASet-Cookie:%20x=y",
];

/// Query strings of the wrong types, unknown values, duplicates and broken escapes. Every
/// route that takes a query gets them all: what one route ignores, another must refuse.
const BAD_QUERIES: [&str; 18] = [
    "page=-5&per_page=abc&status=nonsense&sort=%00&kind=nonsense",
    "kind=migrate&page=99999999999999999999",
    "kind=download&page=0&per_page=0",
    "kind=restore&per_page=100000",
    "kind=restore&page=4294967295&per_page=200",
    "kind=backup&status=%FF&q=%00",
    "kind=migrate&sort=nonsense&status=nonsense",
    "kind=migrate&q=%27%20OR%201%3D1%20--",
    "kind=migrate&q=a%00b",
    "kind=download&q=%25%5F%5C",
    "page=1&page=2",
    "page=1.5&per_page=",
    "kind%5B%5D=x&page%5B0%5D=1",
    "%ZZ=%ZZ&&&=&kind",
    "expires=abc&signature=%ZZ",
    "expires=-1&signature=",
    "expires=9223372036854775807&signature=00",
    "expires=99999999999999999999&signature=zz",
];

/// Header values for the headers an operation documents (other than the CSRF token).
const BAD_HEADER_VALUES: [&str; 4] = ["not-a-number", "-99999999999999999999", "%00", "9223372036854775807"];

/// Words an error must not carry: SQL, the database, Rust's panic and source locations.
const LEAKS: [&str; 9] =
    ["SELECT ", "INSERT ", "UPDATE ", " WHERE ", "sqlx", "panicked", ".rs:", "called `Option", "called `Result"];
/// The same, in any case.
const LEAKS_ANY_CASE: [&str; 6] = ["syntax error", "sqlite", "postgres", "stack", "backtrace", "database:"];

/// Who sends a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// The signed-in reseller, with the session's CSRF token.
    Reseller,
    NoSession,
    /// A cookie the server never gave.
    ForgedCookie,
    NoCsrfToken,
    WrongCsrfToken,
}

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    /// Each path parameter, and whether it is an integer.
    path_params: Vec<(String, bool)>,
    takes_query: bool,
    headers: Vec<String>,
    /// A body of the documented shape, its required fields only.
    body: Option<Value>,
    /// The document says the operation may answer 502 (the identity provider not reached).
    upstream: bool,
}

impl Operation {
    fn changes_state(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }

    /// The path with each parameter as `value_of` says.
    fn uri(&self, value_of: impl Fn(usize, bool) -> String) -> String {
        let mut uri = self.path.clone();
        for (i, (name, integer)) in self.path_params.iter().enumerate() {
            uri = uri.replace(&format!("{{{name}}}"), &value_of(i, *integer));
        }
        uri
    }

    /// The path with values the router accepts, so that what is malformed is the rest.
    fn plausible_uri(&self) -> String {
        self.uri(|_, integer| plausible(integer).to_owned())
    }
}

/// A value of the parameter's type: organisation and mailbox 1 are the demo reseller's.
fn plausible(integer: bool) -> &'static str {
    if integer {
        "1"
    } else {
        "no-such-id"
    }
}

fn bad_segment(segment: &str) -> String {
    if segment == "LONG" {
        "a".repeat(300)
    } else {
        segment.to_owned()
    }
}

/// One malformed request.
struct Probe {
    method: Method,
    variant: String,
    uri: String,
    caller: Caller,
    body: Option<(Option<&'static str>, Vec<u8>)>,
    headers: Vec<(String, String)>,
}

impl Probe {
    /// As the reseller, with a body of the documented shape where the operation takes one.
    fn new(operation: &Operation, variant: impl Into<String>, uri: String) -> Probe {
        let body = operation.body.as_ref().map(|body| (JSON, body.to_string().into_bytes()));
        Probe {
            method: operation.method.clone(),
            variant: variant.into(),
            uri,
            caller: Caller::Reseller,
            body,
            headers: Vec::new(),
        }
    }
}

const JSON: Option<&str> = Some("application/json");

/// Bodies that are not JSON, JSON of the wrong shape, or not sent as JSON.
fn bad_bodies() -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let too_large = format!("{{\"q\": \"{}\"}}", "a".repeat(3 << 20));
    vec![
        ("not JSON", JSON, b"{not json".to_vec()),
        ("JSON cut short", JSON, b"{\"email\": ".to_vec()),
        ("empty body", JSON, Vec::new()),
        ("an array", JSON, b"[]".to_vec()),
        ("a string", JSON, b"\"x\"".to_vec()),
        ("null", JSON, b"null".to_vec()),
        ("an unexpected field", JSON, b"{\"unexpected\": 1}".to_vec()),
        (
            "every field the wrong type",
            JSON,
            concat!(
                r#"{"email": 1, "password": [], "username": false, "kind": {}, "#,
                r#""mailbox_id": "one", "q": 5, "status": [1], "folders": "all"}"#
            )
            .into(),
        ),
        ("a number out of range", JSON, br#"{"kind": "download", "mailbox_id": 99999999999999999999}"#.to_vec()),
        ("nested too deep", JSON, nested.into_bytes()),
        ("bytes that are not UTF-8", JSON, b"{\"email\": \"\xff\xfe\", \"password\": \"\xc3\"}".to_vec()),
        (
            "a NUL in a string",
            JSON,
            br#"{"email": "a\u0000@b.example", "password": "\u0000", "username": "\u0000", "q": "\u0000"}"#.to_vec(),
        ),
        ("larger than the server accepts", JSON, too_large.into_bytes()),
        ("JSON sent as text/plain", Some("text/plain"), b"{}".to_vec()),
        ("JSON sent without a media type", None, b"{}".to_vec()),
        ("JSON sent as a form", Some("application/x-www-form-urlencoded"), b"email=a&password=b".to_vec()),
        ("not JSON, with a charset", Some("application/json; charset=utf-8"), b"{not json".to_vec()),
    ]
}

/// The operations of the OpenAPI document, as the server serves it.
async fn operations(app: &TestApp) -> Vec<Operation> {
    let response = app.send(Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = body_json(response).await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("the document has paths") {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            if operation.get("responses").is_none() {
                continue;
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let of = |place: &str| -> Vec<&Value> { parameters.iter().filter(|p| p["in"] == place).collect() };
            let path_params = of("path")
                .iter()
                .map(|p| (p["name"].as_str().unwrap().to_owned(), p["schema"]["type"] == "integer"))
                .collect::<Vec<_>>();
            // Every `{name}` of the path is a parameter, documented or not.
            let undocumented: Vec<(String, bool)> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .filter(|name| !path_params.iter().any(|(n, _)| n == name))
                .map(|name| (name.to_owned(), false))
                .collect();
            operations.push(Operation {
                method,
                path: path.clone(),
                path_params: path_params.into_iter().chain(undocumented).collect(),
                takes_query: !of("query").is_empty(),
                headers: of("header")
                    .iter()
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .filter(|name| !name.eq_ignore_ascii_case(CSRF_HEADER))
                    .collect(),
                body: operation.get("requestBody").map(|body| example(&doc, &body["content"]["application/json"]["schema"])),
                upstream: operation["responses"].get("502").is_some(),
            });
        }
    }
    operations
}

/// A value of the schema's shape: each required field with a value of its type.
fn example(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return example(doc, &doc["components"]["schemas"][name]);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or_default(),
        kind => kind.clone(),
    };
    match kind.as_str() {
        Some("string") => Value::from("x"),
        Some("integer" | "number") => Value::from(1),
        Some("boolean") => Value::from(false),
        Some("array") => Value::Array(Vec::new()),
        _ => {
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            let fields = required
                .iter()
                .filter_map(|name| name.as_str())
                .map(|name| (name.to_owned(), example(doc, &schema["properties"][name])))
                .collect();
            Value::Object(fields)
        }
    }
}

/// The malformed requests for one operation. Only what is named malformed is wrong in each:
/// the rest is what the router accepts, so each probe reaches the part it is about.
fn probes(operation: &Operation) -> Vec<Probe> {
    let mut probes = Vec::new();
    let plausible_uri = operation.plausible_uri();
    let params = &operation.path_params;
    for segment in BAD_SEGMENTS {
        let bad = bad_segment(segment);
        let shown = if segment == "LONG" { "300 characters" } else { segment };
        if !params.is_empty() {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            probes.push(Probe::new(operation, format!("{} = {shown:?}", names.join(", ")), operation.uri(|_, _| bad.clone())));
        }
        if params.len() > 1 {
            for (i, (name, _)) in params.iter().enumerate() {
                let uri = operation.uri(|j, integer| if i == j { bad.clone() } else { plausible(integer).to_owned() });
                probes.push(Probe::new(operation, format!("{name} = {shown:?}, the rest plausible"), uri));
            }
        }
    }
    if operation.takes_query {
        for query in BAD_QUERIES {
            probes.push(Probe::new(operation, format!("query {query:?}"), format!("{plausible_uri}?{query}")));
        }
    }
    if operation.body.is_some() {
        for (name, content_type, bytes) in bad_bodies() {
            let mut probe = Probe::new(operation, format!("body: {name}"), plausible_uri.clone());
            probe.body = Some((content_type, bytes));
            probes.push(probe);
        }
    }
    for name in &operation.headers {
        for value in BAD_HEADER_VALUES {
            let mut probe = Probe::new(operation, format!("header {name}: {value:?}"), plausible_uri.clone());
            probe.headers.push((name.clone(), value.to_owned()));
            probes.push(probe);
        }
    }
    let mut callers = vec![Caller::NoSession, Caller::ForgedCookie];
    if operation.changes_state() {
        callers.extend([Caller::NoCsrfToken, Caller::WrongCsrfToken]);
    }
    for caller in callers {
        let mut probe = Probe::new(operation, format!("{caller:?}"), plausible_uri.clone());
        probe.caller = caller;
        probes.push(probe);
    }
    probes
}

fn request(probe: &Probe, client: &Client) -> Result<Request<Body>, String> {
    let mut builder = Request::builder().method(probe.method.clone()).uri(&probe.uri);
    let (cookie, csrf) = match probe.caller {
        Caller::Reseller => (Some(client.cookie.clone()), Some(client.session.csrf_token.clone())),
        Caller::NoSession => (None, None),
        Caller::ForgedCookie => (Some("portal_session=forged".to_owned()), Some("forged".to_owned())),
        Caller::NoCsrfToken => (Some(client.cookie.clone()), None),
        Caller::WrongCsrfToken => (Some(client.cookie.clone()), Some("0".repeat(client.session.csrf_token.len()))),
    };
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    if let Some(csrf) = csrf {
        builder = builder.header(CSRF_HEADER, csrf);
    }
    for (name, value) in &probe.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match &probe.body {
        Some((content_type, bytes)) => {
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, *content_type);
            }
            Body::from(bytes.clone())
        }
        None => Body::empty(),
    };
    builder.body(body).map_err(|e| e.to_string())
}

/// What is wrong with an answer; none for a success (whose body is not read: the event
/// stream never ends, and a download is a file).
async fn faults(response: Response, upstream_documented: bool) -> (StatusCode, Vec<String>, String) {
    let status = response.status();
    if status.as_u16() < 400 {
        return (status, Vec::new(), String::new());
    }
    let mut faults = Vec::new();
    if status.is_server_error() && !(status == StatusCode::BAD_GATEWAY && upstream_documented) {
        faults.push(format!("a server error ({status})"));
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if content_type != PROBLEM_CONTENT_TYPE {
        faults.push(format!("Content-Type is {content_type:?}, not {PROBLEM_CONTENT_TYPE}"));
    }
    let request_id = response.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if request_id.is_none() {
        faults.push(format!("no {REQUEST_ID_HEADER} header"));
    }
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(problem) => {
            for member in ["type", "title"] {
                if !problem[member].as_str().is_some_and(|s| !s.is_empty()) {
                    faults.push(format!("no `{member}`"));
                }
            }
            // A stable type with its documentation page, not the bare `about:blank`.
            if !problem["type"].as_str().is_some_and(|t| t.starts_with("/problems/")) {
                faults.push(format!("`type` is {}, not one of /problems/", problem["type"]));
            }
            if problem["status"].as_u64() != Some(u64::from(status.as_u16())) {
                faults.push(format!("`status` is {}, not {}", problem["status"], status.as_u16()));
            }
            if request_id.is_some() && problem["instance"].as_str() != request_id.as_deref() {
                faults.push(format!("`instance` is {}, not the request ID {request_id:?}", problem["instance"]));
            }
        }
        Err(error) => faults.push(format!("the body is not JSON ({error})")),
    }
    let lower = text.to_lowercase();
    for word in LEAKS.iter().filter(|w| text.contains(**w)) {
        faults.push(format!("the body says {word:?}"));
    }
    for word in LEAKS_ANY_CASE.iter().filter(|w| lower.contains(**w)) {
        faults.push(format!("the body says {word:?}"));
    }
    (status, faults, text.chars().take(240).collect())
}

#[tokio::test]
async fn every_route_answers_malformed_input_with_problems_and_never_a_500() {
    walk(test_app().await).await;
}

/// Sends every operation's probes as the demo reseller and fails once, with every answer that
/// was not as it should be.
async fn walk(app: TestApp) {
    let operations = operations(&app).await;
    let mut client = app.sign_in(Role::Reseller).await;
    let mut violations = Vec::new();
    let mut not_sent = Vec::new();
    // Documented 502s pass as problems, but malformed input should be refused before the
    // provider is asked: they are listed, to be looked at.
    let mut upstream = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut sent = 0;
    let mut paths_seen = std::collections::BTreeSet::new();

    for operation in &operations {
        // No probe is meant to sign out, but if one does, the rest still go as the reseller.
        if app.get_as(&client, "/api/session").await.status() != StatusCode::OK {
            client = app.sign_in(Role::Reseller).await;
        }
        let mut probes = probes(operation);
        // A method the document does not list for this path, once per path.
        if paths_seen.insert(operation.path.clone()) {
            let mut probe = Probe::new(operation, "a method the path does not take", operation.plausible_uri());
            probe.method = Method::PATCH;
            probes.push(probe);
        }
        for probe in probes {
            let request = match request(&probe, &client) {
                Ok(request) => request,
                Err(error) => {
                    // Not a request at all (hyper would refuse it before the app); nothing to check.
                    not_sent.push(format!("{} {} [{}]: {error}", probe.method, probe.uri, probe.variant));
                    continue;
                }
            };
            sent += 1;
            let (status, faults, excerpt) = faults(app.send(request).await, operation.upstream).await;
            *statuses.entry(status.as_u16()).or_default() += 1;
            if status == StatusCode::BAD_GATEWAY {
                upstream.push(format!("{} {} [{}]", probe.method, probe.uri, probe.variant));
            }
            if !faults.is_empty() {
                let uri: String = probe.uri.chars().take(120).collect();
                violations.push(format!(
                    "{} {uri} [{}] → {status}: {}\n      body: {excerpt}",
                    probe.method,
                    probe.variant,
                    faults.join("; ")
                ));
            }
        }
    }

    println!("{} operations of {} paths, {sent} requests; statuses: {statuses:?}", operations.len(), paths_seen.len());
    for line in &not_sent {
        println!("not sent: {line}");
    }
    for line in &upstream {
        println!("asked the identity provider: {line}");
    }
    assert!(operations.len() >= 15, "the walk covered only {} operations of the document", operations.len());
    assert!(
        operations.iter().any(|o| o.body.is_some()) && operations.iter().any(|o| o.takes_query),
        "bodies and queries were walked"
    );
    assert!(
        violations.is_empty(),
        "{} of {sent} answers to malformed input were not problems as they should be:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}
