//! The role matrix: every operation of the OpenAPI document, as every kind of user, on their
//! own object, a colleague's (same organisation; for organisations, another one of the same
//! reseller) and a stranger's (another reseller's), with the answer each must get; and the
//! same with each admin's `read` and `act` API tokens. An
//! operation added to the document without its row here fails the test, and so does a row
//! whose operation is gone.
//!
//! The rules are written here from the design's table of roles, not read from the server's
//! own table, so that a change to either shows.

mod common;
// The table of operations, one row each (the document must list no other).
#[path = "roles/rows.rs"]
mod rows;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::{BackupRow, JobRow, OrganisationSummary, Page, Role};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    EndUser,
    OrgAdmin,
    Reseller,
    /// The other reseller's user, who serves only Delta Foods.
    OtherReseller,
    SignedOut,
}

const ACTORS: [Actor; 5] = [Actor::EndUser, Actor::OrgAdmin, Actor::Reseller, Actor::OtherReseller, Actor::SignedOut];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Object {
    /// The end user's own mailbox (Acme Legal), a job of it; for organisations, Acme Legal.
    Own,
    /// Another Acme Legal mailbox or its job; for organisations, Bluebird Clinics (same reseller).
    Colleague,
    /// A Delta Foods mailbox or job; Delta Foods itself (the other reseller's).
    Stranger,
}

const OBJECTS: [Object; 3] = [Object::Own, Object::Colleague, Object::Stranger];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// No object: lists and the session, each answering within the user's scope.
    None,
    Mailbox,
    Job,
    Organisation,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No session needed; the same answer for everyone.
    Public,
    /// Any signed-in role.
    Everyone,
    /// Organisation admins and resellers; an end user gets 403.
    Admins,
    /// Resellers only; an end user and an organisation admin get 403.
    Resellers,
    /// Everyone, but an end user only where it writes into their own mailbox: 403 otherwise.
    OwnMailboxOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Through the permission gate: 2xx, or a 409/422 about the object's state or the input.
    Allowed,
    Status(StatusCode),
}

struct Fixture {
    mailboxes: [(i64, String); 3],
    /// A second mailbox of each object's organisation (to write into).
    neighbours: [String; 3],
    organisations: [i64; 3],
    jobs: [String; 3],
    migration: String,
    /// A webhook of each object's organisation, and a delivery to it.
    webhooks: [String; 3],
    deliveries: [String; 3],
    /// A restore of the end user's mailbox into a colleague's, started by their admin.
    restore_elsewhere: String,
    download_url: String,
}

impl Fixture {
    fn mailbox(&self, object: Object) -> i64 {
        self.mailboxes[object as usize].0
    }
}

struct Row {
    method: Method,
    /// As the OpenAPI document names it.
    path: &'static str,
    what: &'static str,
    who: Who,
    family: Family,
    /// What an object outside the scope answers (404, or 422 where the body names it).
    outside: StatusCode,
    /// What an object within the scope answers once the role may act.
    inside: Expect,
    request: fn(&Fixture, Object) -> (String, Option<Value>),
}

fn row(
    method: Method,
    path: &'static str,
    who: Who,
    family: Family,
    request: fn(&Fixture, Object) -> (String, Option<Value>),
) -> Row {
    Row { method, path, what: "", who, family, outside: StatusCode::NOT_FOUND, inside: Expect::Allowed, request }
}


/// Settings that fail validation (port 0) before anything is contacted.
fn imap_settings() -> Value {
    json!({"email": "new@acme-legal.example", "host": "127.0.0.1", "port": 0, "security": "none", "username": "u", "password": "p"})
}

/// What an API token needs for an operation: the rules of `portal_api::Action::allowed_for_token`,
/// written again here from the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenNeeds {
    Read,
    Act,
    /// Only a person signed in: tokens, credentials, mailboxes, integrations, sign-out.
    Person,
}

fn token_needs(row: &Row) -> TokenNeeds {
    let person_only = [
        "/api/tokens",
        "/credentials",
        "/integrations",
        "/webhooks",
        "/deliveries",
        "/retention",
        "/legal-hold",
        "/api/account/",
        "/sign-in-policy",
    ];
    if person_only.iter().any(|part| row.path.contains(part)) || row.path == "/api/session" && row.method == Method::DELETE {
        return TokenNeeds::Person;
    }
    match row.method {
        Method::GET => TokenNeeds::Read,
        _ if row.path.starts_with("/api/backups") || row.path.starts_with("/api/jobs") => TokenNeeds::Act,
        _ => TokenNeeds::Person,
    }
}

fn in_scope(actor: Actor, family: Family, object: Object) -> bool {
    match family {
        Family::None => true,
        Family::Mailbox | Family::Job => match actor {
            Actor::EndUser => object == Object::Own,
            Actor::OrgAdmin | Actor::Reseller => object != Object::Stranger,
            Actor::OtherReseller => object == Object::Stranger,
            Actor::SignedOut => false,
        },
        Family::Organisation => match actor {
            Actor::EndUser | Actor::SignedOut => false,
            Actor::OrgAdmin => object == Object::Own,
            Actor::Reseller => object != Object::Stranger,
            Actor::OtherReseller => object == Object::Stranger,
        },
    }
}

fn expected(row: &Row, actor: Actor, object: Object) -> Expect {
    if row.who == Who::Public {
        return row.inside;
    }
    if actor == Actor::SignedOut {
        return Expect::Status(StatusCode::UNAUTHORIZED);
    }
    if row.who == Who::Admins && actor == Actor::EndUser
        || row.who == Who::Resellers && matches!(actor, Actor::EndUser | Actor::OrgAdmin)
    {
        return Expect::Status(StatusCode::FORBIDDEN);
    }
    if !in_scope(actor, row.family, object) {
        // Outside the scope reads as not there at all, whatever the job would have done.
        return Expect::Status(row.outside);
    }
    if row.who == Who::OwnMailboxOnly && actor == Actor::EndUser {
        return Expect::Status(StatusCode::FORBIDDEN);
    }
    row.inside
}

async fn fixture(app: &TestApp, clients: &[Option<Client>; 5]) -> Fixture {
    let client = |actor: Actor| clients[actor as usize].as_ref().unwrap();
    let backups = |actor: Actor| async move {
        let page: Page<BackupRow> = body_json(app.get_as(client(actor), "/api/backups?per_page=50").await).await;
        page.items.into_iter().map(|b| (b.mailbox_id, b.mailbox_email)).collect::<Vec<_>>()
    };
    let own = backups(Actor::EndUser).await.remove(0);
    let acme: Vec<_> = backups(Actor::OrgAdmin).await.into_iter().filter(|m| m.0 != own.0).collect();
    let delta = backups(Actor::OtherReseller).await;
    let organisations = |actor: Actor| async move {
        let list: Vec<OrganisationSummary> = body_json(app.get_as(client(actor), "/api/organisations").await).await;
        list
    };
    let served = organisations(Actor::Reseller).await;
    let id_of = |name: &str| served.iter().find(|o| o.name == name).unwrap().id;
    let organisations = [id_of("Acme Legal"), id_of("Bluebird Clinics"), organisations(Actor::OtherReseller).await[0].id];

    let start = |actor: Actor, body: Value| async move {
        let response = app.send_as(client(actor), Method::POST, "/api/jobs", Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body_json::<JobRow>(response).await.id
    };
    let jobs = [
        start(Actor::OrgAdmin, json!({"kind": "restore", "mailbox_id": own.0})).await,
        start(Actor::OrgAdmin, json!({"kind": "restore", "mailbox_id": acme[0].0})).await,
        start(Actor::OtherReseller, json!({"kind": "restore", "mailbox_id": delta[0].0})).await,
    ];
    let migration = start(Actor::OrgAdmin, json!({"kind": "migrate", "mailbox_id": own.0, "destination": acme[1].1})).await;
    let restore_elsewhere =
        start(Actor::OrgAdmin, json!({"kind": "restore", "mailbox_id": own.0, "destination": acme[0].1})).await;
    for mailbox in [own.0, acme[0].0, delta[0].0] {
        sqlx::query(
            "INSERT INTO imap_accounts (mailbox_id, host, port, security, username, password_sealed, updated_at) \
             VALUES ($1, '127.0.0.1', 9, 'none', 'someone', 'not-sealed', 0)",
        )
        .bind(mailbox)
        .execute(&app.db)
        .await
        .unwrap();
    }
    // A webhook in each organisation, and a test delivery to it (never sent: nothing runs the notifier).
    let mut webhooks = Vec::new();
    let mut deliveries = Vec::new();
    for (actor, organisation) in
        [(Actor::OrgAdmin, organisations[0]), (Actor::Reseller, organisations[1]), (Actor::OtherReseller, organisations[2])]
    {
        let uri = format!("/api/organisations/{organisation}/webhooks");
        let created = app.send_as(client(actor), Method::POST, &uri, Some(json!({"url": "https://hooks.example.com/in"}))).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let webhook: portal_api::CreatedWebhook = body_json(created).await;
        let test = app.send_as(client(actor), Method::POST, &format!("{uri}/{}/test", webhook.webhook.id), None).await;
        deliveries.push(body_json::<portal_api::Delivery>(test).await.id);
        webhooks.push(webhook.webhook.id);
    }
    let downloads: Page<JobRow> =
        body_json(app.get_as(client(Actor::Reseller), "/api/jobs?kind=download&status=completed").await).await;
    let download_url = downloads.items.iter().find_map(|d| d.download_url.clone()).expect("a seeded download is ready");
    Fixture {
        neighbours: [acme[0].1.clone(), acme[1].1.clone(), delta[1].1.clone()],
        mailboxes: [own, acme[0].clone(), delta[0].clone()],
        organisations,
        jobs,
        migration,
        restore_elsewhere,
        download_url,
        webhooks: webhooks.try_into().unwrap(),
        deliveries: deliveries.try_into().unwrap(),
    }
}

async fn send(app: &TestApp, client: Option<&Client>, method: Method, uri: &str, body: Option<Value>) -> StatusCode {
    match client {
        Some(client) => app.send_as(client, method, uri, body).await.status(),
        None => {
            let builder = Request::builder().method(method).uri(uri);
            let request = match body {
                Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
                None => builder.body(Body::empty()),
            };
            app.send(request.unwrap()).await.status()
        }
    }
}

async fn send_with_token(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> StatusCode {
    let builder = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let request = match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    };
    app.send(request.unwrap()).await.status()
}

#[tokio::test]
async fn every_operation_answers_each_role_as_the_design_says() {
    // Served: the credential flows talk to the identity provider built into the server over HTTP.
    let app = served_test_app(|_| {}).await;
    let clients = [
        Some(app.sign_in(Role::EndUser).await),
        Some(app.sign_in(Role::OrgAdmin).await),
        Some(app.sign_in(Role::Reseller).await),
        Some(app.sign_in_as("reseller@harbour.example").await),
        None,
    ];
    let fixture = fixture(&app, &clients).await;
    let rows = rows::rows();

    // Every operation of the document has a row, and every row an operation.
    let document: Value = body_json(app.send(Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await).await;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let covered: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_string(), r.path.to_owned())).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "operations without a row in the role matrix: {missing:?}");
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(stale.is_empty(), "rows for operations the document no longer has: {stale:?}");

    // A read and an act token of each admin: each must answer as its owner does, where its
    // access level lets it; else 403 (or, outside the owner's scope, what a stranger gets).
    let mut tokens = Vec::new();
    for actor in [Actor::OrgAdmin, Actor::Reseller, Actor::OtherReseller] {
        for access in ["read", "act"] {
            let body = json!({"name": format!("{actor:?} {access}"), "access": access, "expires_in_days": 1});
            let response = app.send_as(clients[actor as usize].as_ref().unwrap(), Method::POST, "/api/tokens", Some(body)).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            tokens.push((actor, access, body_json::<portal_api::CreatedApiToken>(response).await.token));
        }
    }

    // The document offers the token scheme exactly where a token may act.
    for row in rows.iter().filter(|row| row.who != Who::Public) {
        let security = &document["paths"][row.path][row.method.as_str().to_lowercase()]["security"];
        let offers_token = security.as_array().unwrap().iter().any(|alternative| alternative.get("token").is_some());
        assert_eq!(offers_token, token_needs(row) != TokenNeeds::Person, "{} {}: {security}", row.method, row.path);
    }

    let mut wrong = Vec::new();
    let mut cells = 0;
    for row in &rows {
        let objects: &[Object] = if row.family == Family::None { &OBJECTS[..1] } else { &OBJECTS };
        for actor in ACTORS {
            for &object in objects {
                let (uri, body) = (row.request)(&fixture, object);
                let status = send(&app, clients[actor as usize].as_ref(), row.method.clone(), &uri, body).await;
                let want = expected(row, actor, object);
                let fine = match want {
                    Expect::Status(code) => status == code,
                    Expect::Allowed => !matches!(status.as_u16(), 401 | 403 | 404 | 405) && !status.is_server_error(),
                };
                cells += 1;
                if !fine {
                    wrong.push(format!(
                        "{} {} ({}) as {actor:?} on {object:?}: {status}, expected {want:?}",
                        row.method, uri, row.what
                    ));
                }
            }
        }
        if row.who == Who::Public {
            continue;
        }
        for (actor, access, token) in &tokens {
            for &object in objects {
                let (uri, body) = (row.request)(&fixture, object);
                let status = send_with_token(&app, token, row.method.clone(), &uri, body).await;
                let permitted = match token_needs(row) {
                    TokenNeeds::Read => true,
                    TokenNeeds::Act => *access == "act",
                    TokenNeeds::Person => false,
                };
                let fine = if permitted {
                    match expected(row, *actor, object) {
                        Expect::Status(code) => status == code,
                        Expect::Allowed => !matches!(status.as_u16(), 401 | 403 | 404 | 405) && !status.is_server_error(),
                    }
                } else {
                    status == StatusCode::FORBIDDEN || !in_scope(*actor, row.family, object) && status == row.outside
                };
                cells += 1;
                if !fine {
                    wrong.push(format!(
                        "{} {} ({}) with {actor:?}'s {access} token on {object:?}: {status}, expected {}",
                        row.method,
                        uri,
                        row.what,
                        if permitted { format!("{:?}", expected(row, *actor, object)) } else { "403".into() }
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} answers differ from the design:\n{}", wrong.len(), wrong.join("\n"));
}
