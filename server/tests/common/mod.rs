//! Helpers shared by the server's test files: a fresh, seeded database per test (an SQLite
//! file; or, when `PORTAL_TEST_POSTGRES` names a PostgreSQL server, a database of its own
//! there), and a client that signs in as a demo user.

#![allow(dead_code)]

pub mod halo;
pub mod idp;
pub mod imap;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::{Problem, Role, SessionInfo};
use portal_server::config::Config;
use portal_server::state::AppState;
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub db: portal_server::db::Db,
    pub state: AppState,
    /// The test's own folder: the SQLite database file (`portal.db`) and the data folder.
    pub dir: tempfile::TempDir,
}

pub async fn test_app() -> TestApp {
    test_app_with(|_| {}).await
}

/// A test app whose configuration the caller adjusts first.
pub async fn test_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path()).await;
    test_app_at(dir, url, adjust).await
}

/// A test app on this database, with `dir` as its folder.
pub async fn test_app_at(dir: tempfile::TempDir, database_url: String, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_database(database_url);
    adjust(&mut config);
    let state = portal_server::prepare(config).await.unwrap();
    TestApp { db: state.db.clone(), router: portal_server::app(state.clone()), state, dir }
}

/// A fresh database for one test: an SQLite file in `dir`, or a new database on the
/// PostgreSQL server the tests run on.
pub async fn database_url(dir: &std::path::Path) -> String {
    match postgres() {
        Some(server) => fresh_postgres_database(&server).await,
        None => format!("sqlite://{}/portal.db", dir.display()),
    }
}

/// The PostgreSQL server the tests run on (`postgres://user@host:port`), if any.
pub fn postgres() -> Option<String> {
    std::env::var("PORTAL_TEST_POSTGRES").ok().filter(|url| !url.is_empty())
}

/// A new, empty database on the PostgreSQL server; its URL. (The server is a throwaway one
/// started for the tests, so the databases are not dropped.)
pub async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("test_{}", hex::encode(rand::random::<[u8; 8]>()));
    let mut connection = sqlx::AnyConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await.unwrap();
    format!("{server}/{name}")
}

/// A test app that also listens on a loopback port (its `public_url`), for the flows in which
/// the server talks to the identity provider built into it over real HTTP.
pub async fn served_test_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = test_app_with(|config| {
        config.addr = addr;
        config.public_url = Some(format!("http://{addr}"));
        adjust(config);
    })
    .await;
    let router = app.router.clone();
    // With the client's address, as the real server gives it (sign-in is throttled by it).
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    app
}

/// A signed-in client: its cookie and CSRF token.
pub struct Client {
    pub cookie: String,
    pub session: SessionInfo,
}

impl TestApp {
    pub async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub async fn sign_in(&self, role: Role) -> Client {
        let email = DEMO_SIGN_INS.iter().find(|(r, _)| *r == role).unwrap().1;
        self.sign_in_as(email).await
    }

    /// Signs in with any demo email (the demo password).
    pub async fn sign_in_as(&self, email: &str) -> Client {
        let response =
            self.send(json_request(Method::POST, "/api/session", json!({"email": email, "password": DEMO_PASSWORD}))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let session: SessionInfo = body_json(response).await;
        Client { cookie, session }
    }

    pub async fn get_as(&self, client: &Client, uri: &str) -> Response {
        self.send(Request::get(uri).header(header::COOKIE, &client.cookie).body(Body::empty()).unwrap()).await
    }
}

/// The cookie a response sets under `name`, as a `Cookie` header value.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

pub fn json_request(method: Method, uri: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub async fn body_json<T: serde::de::DeserializeOwned>(response: Response) -> T {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

/// Asserts the response is problem+json with this status, whose `instance` is the request ID header.
pub async fn problem(response: Response, status: StatusCode) -> Problem {
    if response.status() != status {
        let got = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        panic!("expected {status}, got {got}: {}", String::from_utf8_lossy(&bytes));
    }
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Problem = body_json(response).await;
    assert_eq!(problem.status, status.as_u16());
    assert_eq!(problem.instance.as_deref(), Some(request_id.as_str()));
    assert!(problem.type_uri.starts_with("/problems/"), "a stable type: {}", problem.type_uri);
    problem
}

impl TestApp {
    /// A state-changing request as the portal sends it: session cookie and CSRF token.
    pub async fn send_as(&self, client: &Client, method: Method, uri: &str, body: Option<Value>) -> Response {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &client.cookie)
            .header("x-csrf-token", &client.session.csrf_token);
        let request = match body {
            Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }
}

impl TestApp {
    /// Continue, as a person does it on a served app: the provider's admin-consent page, signed
    /// in as `email` and approved, then the provider's redirect back to our callback. Returns
    /// where the callback sends the browser.
    pub async fn consent_at_provider(&self, client: &Client, organisation_id: i64, email: &str) -> String {
        let uri = format!("/api/organisations/{organisation_id}/credentials/main-app/consent");
        let response = self.send_as(client, Method::POST, &uri, None).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let start: portal_api::ConsentStart = body_json(response).await;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let page = browser.get(&start.authorize_url).send().await.unwrap().text().await.unwrap();
        let request = hidden_value(&page, "request");
        let form = [
            ("request", request.as_str()),
            ("email", email),
            ("password", portal_idp::DEMO_IDP_PASSWORD),
            ("decision", "approve"),
        ];
        let authorize = start.authorize_url.split('?').next().unwrap();
        let back = browser.post(authorize).form(&form).send().await.unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        let base = self.state.config.public_url();
        let callback = back.headers()[reqwest::header::LOCATION].to_str().unwrap().strip_prefix(&base).unwrap().to_owned();
        let landed = self.get_as(client, &callback).await;
        landed.headers()[header::LOCATION].to_str().unwrap().to_owned()
    }
}

/// The value of a hidden form field in an HTML page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The real server binary, started on `port` with this test's database and data folder (no
/// portal files), and killed when dropped.
pub struct ServerProcess(std::process::Child);

impl ServerProcess {
    pub fn start(dir: &std::path::Path, database_url: &str, port: u16, env: &[(&str, &str)]) -> ServerProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_portal-server"))
            .env("PORTAL_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("PORTAL_DATA_DIR", dir)
            .env("PORTAL_DIST", dir.join("no-portal"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .spawn()
            .expect("the server binary starts");
        let mut server = ServerProcess(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            // A server started to crash at a failpoint may get there before it listens (the
            // engine starts first): the caller sees it has ended.
            if server.try_wait().is_some() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the server did not start listening");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// The exit status, once the process has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `job` events from a stream until one satisfies `wanted`, or the time runs out.
pub async fn next_job_event(
    body: &mut Body,
    wanted: impl Fn(&portal_api::JobChanged) -> bool,
    within: std::time::Duration,
) -> Option<(String, portal_api::JobChanged)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = String::new();
    loop {
        use http_body_util::BodyExt;
        let frame = tokio::time::timeout_at(deadline, body.frame()).await.ok()??.ok()?;
        if let Some(data) = frame.data_ref() {
            buffer.push_str(&String::from_utf8_lossy(data));
        }
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            if field("event: ").as_deref() == Some("job") {
                let change: portal_api::JobChanged = serde_json::from_str(&field("data: ")?).ok()?;
                if wanted(&change) {
                    return Some((field("id: ")?, change));
                }
            }
        }
    }
}

pub fn events_request(client: &Client, last_event_id: Option<i64>) -> Request<Body> {
    let mut builder = Request::get("/api/events").header(header::COOKIE, &client.cookie);
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id.to_string());
    }
    builder.body(Body::empty()).unwrap()
}
