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

fn rows() -> Vec<Row> {
    use Family as F;
    use Who as W;
    vec![
        row(Method::GET, "/api/health", W::Public, F::None, |_, _| ("/api/health".into(), None)),
        row(Method::POST, "/api/session", W::Public, F::None, |_, _| {
            ("/api/session".into(), Some(json!({"email": "alice.archer@acme-legal.example", "password": "demo-portal"})))
        }),
        row(Method::GET, "/api/session", W::Everyone, F::None, |_, _| ("/api/session".into(), None)),
        row(Method::GET, "/api/backups", W::Everyone, F::None, |_, _| ("/api/backups".into(), None)),
        row(Method::GET, "/api/backups/{mailbox_id}", W::Everyone, F::Mailbox, |f, o| {
            (format!("/api/backups/{}", f.mailbox(o)), None)
        }),
        row(Method::POST, "/api/backups/{mailbox_id}/force", W::Admins, F::Mailbox, |f, o| {
            (format!("/api/backups/{}/force", f.mailbox(o)), None)
        }),
        row(Method::POST, "/api/backups/force", W::Admins, F::None, |f, _| {
            ("/api/backups/force".into(), Some(json!({"q": f.mailboxes[0].1})))
        }),
        row(Method::GET, "/api/backups/{mailbox_id}/history", W::Everyone, F::Mailbox, |f, o| {
            (format!("/api/backups/{}/history", f.mailbox(o)), None)
        }),
        row(Method::GET, "/api/backups/{mailbox_id}/folders", W::Everyone, F::Mailbox, |f, o| {
            (format!("/api/backups/{}/folders", f.mailbox(o)), None)
        }),
        row(Method::GET, "/api/jobs", W::Everyone, F::None, |_, _| ("/api/jobs?kind=restore".into(), None)),
        row(Method::GET, "/api/jobs/counts", W::Everyone, F::None, |_, _| ("/api/jobs/counts?kind=download".into(), None)),
        Row {
            what: "a restore into the mailbox itself",
            outside: StatusCode::UNPROCESSABLE_ENTITY,
            ..row(Method::POST, "/api/jobs", W::Everyone, F::Mailbox, |f, o| {
                ("/api/jobs".into(), Some(json!({"kind": "restore", "mailbox_id": f.mailbox(o)})))
            })
        },
        Row {
            what: "a restore into a colleague's mailbox",
            outside: StatusCode::UNPROCESSABLE_ENTITY,
            ..row(Method::POST, "/api/jobs", W::OwnMailboxOnly, F::Mailbox, |f, o| {
                let body = json!({"kind": "restore", "mailbox_id": f.mailbox(o), "destination": f.neighbours[o as usize]});
                ("/api/jobs".into(), Some(body))
            })
        },
        Row {
            what: "a migration",
            outside: StatusCode::UNPROCESSABLE_ENTITY,
            ..row(Method::POST, "/api/jobs", W::Admins, F::Mailbox, |f, o| {
                let body = json!({"kind": "migrate", "mailbox_id": f.mailbox(o), "destination": f.neighbours[o as usize]});
                ("/api/jobs".into(), Some(body))
            })
        },
        // Into another organisation's mailbox: refused on the field, the same whether that
        // mailbox exists there or nowhere.
        Row {
            what: "a migration into another organisation's mailbox",
            outside: StatusCode::UNPROCESSABLE_ENTITY,
            inside: Expect::Status(StatusCode::UNPROCESSABLE_ENTITY),
            ..row(Method::POST, "/api/jobs", W::Admins, F::Mailbox, |f, o| {
                let elsewhere = if o == Object::Stranger { &f.mailboxes[0].1 } else { &f.mailboxes[2].1 };
                ("/api/jobs".into(), Some(json!({"kind": "migrate", "mailbox_id": f.mailbox(o), "destination": elsewhere})))
            })
        },
        Row {
            what: "a download",
            outside: StatusCode::UNPROCESSABLE_ENTITY,
            ..row(Method::POST, "/api/jobs", W::Everyone, F::Mailbox, |f, o| {
                ("/api/jobs".into(), Some(json!({"kind": "download", "mailbox_id": f.mailbox(o)})))
            })
        },
        row(Method::GET, "/api/jobs/{id}", W::Everyone, F::Job, |f, o| (format!("/api/jobs/{}", f.jobs[o as usize]), None)),
        row(Method::GET, "/api/jobs/{id}/skipped", W::Everyone, F::Job, |f, o| {
            (format!("/api/jobs/{}/skipped", f.jobs[o as usize]), None)
        }),
        row(Method::POST, "/api/jobs/{id}/retry", W::Everyone, F::Job, |f, o| {
            (format!("/api/jobs/{}/retry", f.jobs[o as usize]), None)
        }),
        row(Method::DELETE, "/api/jobs/{id}", W::Everyone, F::Job, |f, o| (format!("/api/jobs/{}", f.jobs[o as usize]), None)),
        row(Method::PUT, "/api/jobs/{id}/destination-password", W::Everyone, F::Job, |f, o| {
            (format!("/api/jobs/{}/destination-password", f.jobs[o as usize]), Some(json!({"password": "x"})))
        }),
        // The same actions on a migration of the end user's own mailbox: it writes elsewhere.
        Row {
            what: "on a migration out of the mailbox",
            ..row(Method::POST, "/api/jobs/{id}/retry", W::OwnMailboxOnly, F::Mailbox, |f, o| match o {
                Object::Own => (format!("/api/jobs/{}/retry", f.migration), None),
                _ => (format!("/api/jobs/{}/retry", f.jobs[o as usize]), None),
            })
        },
        Row {
            what: "on a migration out of the mailbox",
            ..row(Method::PUT, "/api/jobs/{id}/destination-password", W::OwnMailboxOnly, F::Mailbox, |f, o| match o {
                Object::Own => (format!("/api/jobs/{}/destination-password", f.migration), Some(json!({"password": "x"}))),
                _ => (format!("/api/jobs/{}/destination-password", f.jobs[o as usize]), Some(json!({"password": "x"}))),
            })
        },
        Row {
            what: "on a restore into a colleague's mailbox",
            ..row(Method::POST, "/api/jobs/{id}/retry", W::OwnMailboxOnly, F::Mailbox, |f, o| match o {
                Object::Own => (format!("/api/jobs/{}/retry", f.restore_elsewhere), None),
                _ => (format!("/api/jobs/{}/retry", f.jobs[o as usize]), None),
            })
        },
        Row {
            what: "on a migration out of the mailbox",
            ..row(Method::DELETE, "/api/jobs/{id}", W::OwnMailboxOnly, F::Mailbox, |f, o| match o {
                Object::Own => (format!("/api/jobs/{}", f.migration), None),
                _ => (format!("/api/jobs/{}", f.jobs[o as usize]), None),
            })
        },
        // The signed link is the permission: the same for everyone, with or without a session.
        row(Method::GET, "/api/downloads/{id}/file", W::Public, F::None, |f, _| (f.download_url.clone(), None)),
        row(Method::GET, "/api/events", W::Everyone, F::None, |_, _| ("/api/events".into(), None)),
        row(Method::GET, "/api/dashboard", W::Everyone, F::None, |_, _| ("/api/dashboard".into(), None)),
        row(Method::GET, "/api/organisations", W::Everyone, F::None, |_, _| ("/api/organisations".into(), None)),
        row(Method::GET, "/api/organisations/{id}/credentials", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/credentials", f.organisations[o as usize]), None)
        }),
        row(Method::POST, "/api/organisations/{id}/credentials/main-app/consent", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/credentials/main-app/consent", f.organisations[o as usize]), None)
        }),
        row(Method::PUT, "/api/organisations/{id}/credentials/backup-admin", W::Admins, F::Organisation, |f, o| {
            let body = json!({"username": "", "password": ""});
            (format!("/api/organisations/{}/credentials/backup-admin", f.organisations[o as usize]), Some(body))
        }),
        row(Method::POST, "/api/organisations/{id}/credentials/device", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/credentials/device", f.organisations[o as usize]), None)
        }),
        Row {
            what: "a device flow that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(
                Method::POST,
                "/api/organisations/{id}/credentials/device/{flow}/complete",
                W::Admins,
                F::Organisation,
                |f, o| (format!("/api/organisations/{}/credentials/device/999999/complete", f.organisations[o as usize]), None),
            )
        },
        row(Method::POST, "/api/organisations/{id}/credentials/verify", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/credentials/verify", f.organisations[o as usize]), None)
        }),
        row(Method::GET, "/api/organisations/{id}/mailboxes", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/mailboxes", f.organisations[o as usize]), None)
        }),
        row(Method::POST, "/api/organisations/{id}/mailboxes", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/mailboxes", f.organisations[o as usize]), Some(imap_settings()))
        }),
        row(Method::POST, "/api/organisations/{id}/mailboxes/test", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/mailboxes/test", f.organisations[o as usize]), Some(imap_settings()))
        }),
        // The fixture makes the three mailboxes IMAP ones, on a port where nothing answers: within
        // the scope the new password is tried (422, the server named on its field).
        Row {
            what: "an IMAP mailbox",
            ..row(Method::PUT, "/api/mailboxes/{id}/imap-password", W::Admins, F::Mailbox, |f, o| {
                (format!("/api/mailboxes/{}/imap-password", f.mailbox(o)), Some(json!({"password": "x"})))
            })
        },
        row(Method::GET, "/api/organisations/{id}/integrations/halo", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/integrations/halo", f.organisations[o as usize]), None)
        }),
        // Wrong settings (422) are checked only once the organisation is known to be the user's.
        row(Method::PUT, "/api/organisations/{id}/integrations/halo", W::Admins, F::Organisation, |f, o| {
            (
                format!("/api/organisations/{}/integrations/halo", f.organisations[o as usize]),
                Some(json!({"url": "", "client_id": "", "halo_client_id": ""})),
            )
        }),
        row(Method::PUT, "/api/integrations/halo", W::Admins, F::None, |_, _| {
            ("/api/integrations/halo".into(), Some(json!({"url": "", "client_id": "", "halo_client_id": ""})))
        }),
        row(Method::POST, "/api/organisations/{id}/integrations/halo/test", W::Admins, F::Organisation, |f, o| {
            (
                format!("/api/organisations/{}/integrations/halo/test", f.organisations[o as usize]),
                Some(json!({"url": "", "client_id": "", "halo_client_id": ""})),
            )
        }),
        row(Method::DELETE, "/api/organisations/{id}/integrations/halo", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/integrations/halo", f.organisations[o as usize]), None)
        }),
        row(Method::GET, "/api/organisations/{id}/webhooks", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/webhooks", f.organisations[o as usize]), None)
        }),
        row(Method::POST, "/api/organisations/{id}/webhooks", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/webhooks", f.organisations[o as usize]), Some(json!({"url": "not an address"})))
        }),
        row(Method::POST, "/api/organisations/{id}/webhooks/{webhook_id}/test", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/webhooks/{}/test", f.organisations[o as usize], f.webhooks[o as usize]), None)
        }),
        Row {
            what: "a webhook that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::DELETE, "/api/organisations/{id}/webhooks/{webhook_id}", W::Admins, F::Organisation, |f, o| {
                (format!("/api/organisations/{}/webhooks/wh_none", f.organisations[o as usize]), None)
            })
        },
        row(Method::GET, "/api/organisations/{id}/deliveries", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/deliveries", f.organisations[o as usize]), None)
        }),
        // A delivery is its organisation's: the same rule.
        row(Method::POST, "/api/deliveries/{id}/send-again", W::Admins, F::Organisation, |f, o| {
            (format!("/api/deliveries/{}/send-again", f.deliveries[o as usize]), None)
        }),
        row(Method::GET, "/api/tokens", W::Admins, F::None, |_, _| ("/api/tokens".into(), None)),
        row(Method::POST, "/api/tokens", W::Admins, F::None, |_, _| {
            ("/api/tokens".into(), Some(json!({"name": "", "access": "read", "expires_in_days": 1})))
        }),
        Row {
            what: "a token that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::DELETE, "/api/tokens/{id}", W::Admins, F::None, |_, _| ("/api/tokens/tok_none".into(), None))
        },
        row(Method::GET, "/api/activity", W::Admins, F::None, |_, _| ("/api/activity".into(), None)),
        row(Method::GET, "/api/activity.csv", W::Admins, F::None, |_, _| ("/api/activity.csv".into(), None)),
        row(Method::GET, "/api/organisations/{id}/retention", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/retention", f.organisations[o as usize]), None)
        }),
        row(Method::PUT, "/api/organisations/{id}/retention", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/retention", f.organisations[o as usize]), Some(json!({"keep_deleted_days": null})))
        }),
        row(Method::PUT, "/api/mailboxes/{id}/legal-hold", W::Admins, F::Mailbox, |f, o| {
            (format!("/api/mailboxes/{}/legal-hold", f.mailbox(o)), Some(json!({"on_hold": false})))
        }),
        // Everyone searches, within their scope (server/tests/messages.rs reads real messages
        // of one mailbox as each role); the fixture's mailboxes hold none, so a message is 404.
        row(Method::GET, "/api/messages", W::Everyone, F::None, |_, _| ("/api/messages".into(), None)),
        Row {
            what: "a message that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::GET, "/api/messages/{id}", W::Everyone, F::None, |_, _| ("/api/messages/999".into(), None))
        },
        Row {
            what: "a message that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::GET, "/api/messages/{id}/html", W::Everyone, F::None, |_, _| ("/api/messages/999/html".into(), None))
        },
        Row {
            what: "a message that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::GET, "/api/messages/{id}/attachments/{index}", W::Everyone, F::None, |_, _| {
                ("/api/messages/999/attachments/0".into(), None)
            })
        },
        // Last: signing out ends every session of the user, the ones above included.
        row(Method::DELETE, "/api/session", W::Everyone, F::None, |_, _| ("/api/session".into(), None)),
    ]
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
    let person_only = ["/api/tokens", "/credentials", "/integrations", "/webhooks", "/deliveries", "/retention", "/legal-hold"];
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
        return Expect::Allowed;
    }
    if actor == Actor::SignedOut {
        return Expect::Status(StatusCode::UNAUTHORIZED);
    }
    if row.who == Who::Admins && actor == Actor::EndUser {
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
    let rows = rows();

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
