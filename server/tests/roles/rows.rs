//! Every operation of the API, with who may call it and on what (`roles.rs` runs them all).

use super::*;

pub(super) fn rows() -> Vec<Row> {
    use Family as F;
    use Who as W;
    vec![
        row(Method::GET, "/api/health", W::Public, F::None, |_, _| ("/api/health".into(), None)),
        row(Method::GET, "/api/ready", W::Public, F::None, |_, _| ("/api/ready".into(), None)),
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
        // The second step of signing in answers its challenge cookie alone: without one, 401.
        Row {
            what: "no challenge cookie",
            inside: Expect::Status(StatusCode::UNAUTHORIZED),
            ..row(Method::POST, "/api/session/second-factor", W::Public, F::None, |_, _| {
                ("/api/session/second-factor".into(), Some(json!({"code": "123456"})))
            })
        },
        Row {
            what: "no challenge cookie",
            inside: Expect::Status(StatusCode::UNAUTHORIZED),
            ..row(Method::GET, "/api/session/second-factor", W::Public, F::None, |_, _| {
                ("/api/session/second-factor".into(), None)
            })
        },
        Row {
            what: "no challenge cookie",
            inside: Expect::Status(StatusCode::UNAUTHORIZED),
            ..row(Method::POST, "/api/session/second-factor/passkey/options", W::Public, F::None, |_, _| {
                ("/api/session/second-factor/passkey/options".into(), None)
            })
        },
        Row {
            what: "no challenge cookie",
            inside: Expect::Status(StatusCode::UNAUTHORIZED),
            ..row(Method::POST, "/api/session/second-factor/passkey", W::Public, F::None, |_, _| {
                ("/api/session/second-factor/passkey".into(), Some(json!({"ceremony": "x", "credential": {}})))
            })
        },
        // Signing in with a passkey alone (server/tests/passkeys.rs walks it through).
        row(Method::POST, "/api/session/passkey/options", W::Public, F::None, |_, _| {
            ("/api/session/passkey/options".into(), None)
        }),
        Row {
            what: "a ceremony that does not exist",
            inside: Expect::Status(StatusCode::UNPROCESSABLE_ENTITY),
            ..row(Method::POST, "/api/session/passkey", W::Public, F::None, |_, _| {
                ("/api/session/passkey".into(), Some(json!({"ceremony": "x", "credential": {}})))
            })
        },
        row(Method::GET, "/api/account/passkeys", W::Everyone, F::None, |_, _| ("/api/account/passkeys".into(), None)),
        row(Method::POST, "/api/account/passkeys/options", W::Everyone, F::None, |_, _| {
            ("/api/account/passkeys/options".into(), None)
        }),
        Row {
            what: "a ceremony that does not exist",
            inside: Expect::Status(StatusCode::UNPROCESSABLE_ENTITY),
            ..row(Method::POST, "/api/account/passkeys", W::Everyone, F::None, |_, _| {
                ("/api/account/passkeys".into(), Some(json!({"ceremony": "x", "name": "Key", "credential": {}})))
            })
        },
        Row {
            what: "a passkey that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::PATCH, "/api/account/passkeys/{id}", W::Everyone, F::None, |_, _| {
                ("/api/account/passkeys/pk_none".into(), Some(json!({"name": "Key"})))
            })
        },
        Row {
            what: "a passkey that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::DELETE, "/api/account/passkeys/{id}", W::Everyone, F::None, |_, _| {
                ("/api/account/passkeys/pk_none".into(), None)
            })
        },
        // One's own sign-in (server/tests/two_factor.rs walks each through).
        row(Method::GET, "/api/account/two-factor", W::Everyone, F::None, |_, _| ("/api/account/two-factor".into(), None)),
        row(Method::POST, "/api/account/two-factor/totp", W::Everyone, F::None, |_, _| {
            ("/api/account/two-factor/totp".into(), None)
        }),
        row(Method::POST, "/api/account/two-factor/totp/confirm", W::Everyone, F::None, |_, _| {
            ("/api/account/two-factor/totp/confirm".into(), Some(json!({"code": "000000"})))
        }),
        row(Method::POST, "/api/account/two-factor/totp/remove", W::Everyone, F::None, |_, _| {
            ("/api/account/two-factor/totp/remove".into(), Some(json!({"code": "000000"})))
        }),
        row(Method::POST, "/api/account/two-factor/recovery-codes", W::Everyone, F::None, |_, _| {
            ("/api/account/two-factor/recovery-codes".into(), Some(json!({"code": "000000"})))
        }),
        row(Method::GET, "/api/account/sessions", W::Everyone, F::None, |_, _| ("/api/account/sessions".into(), None)),
        Row {
            what: "a session that does not exist",
            inside: Expect::Status(StatusCode::NOT_FOUND),
            ..row(Method::DELETE, "/api/account/sessions/{id}", W::Everyone, F::None, |_, _| {
                ("/api/account/sessions/nosuchsession".into(), None)
            })
        },
        row(Method::POST, "/api/account/sessions/end-others", W::Everyone, F::None, |_, _| {
            ("/api/account/sessions/end-others".into(), None)
        }),
        row(Method::POST, "/api/account/password", W::Everyone, F::None, |_, _| {
            ("/api/account/password".into(), Some(json!({"current_password": "wrong", "new_password": "short"})))
        }),
        row(Method::GET, "/api/organisations/{id}/sign-in-policy", W::Admins, F::Organisation, |f, o| {
            (format!("/api/organisations/{}/sign-in-policy", f.organisations[o as usize]), None)
        }),
        row(Method::PUT, "/api/organisations/{id}/sign-in-policy", W::Admins, F::Organisation, |f, o| {
            (
                format!("/api/organisations/{}/sign-in-policy", f.organisations[o as usize]),
                Some(json!({"require_two_factor": false})),
            )
        }),
        row(Method::GET, "/api/reseller/sign-in-policy", W::Resellers, F::None, |_, _| {
            ("/api/reseller/sign-in-policy".into(), None)
        }),
        row(Method::PUT, "/api/reseller/sign-in-policy", W::Resellers, F::None, |_, _| {
            ("/api/reseller/sign-in-policy".into(), Some(json!({"require_two_factor": false})))
        }),
        // Last: signing out ends every session of the user, the ones above included.
        row(Method::DELETE, "/api/session", W::Everyone, F::None, |_, _| ("/api/session".into(), None)),
    ]
}
