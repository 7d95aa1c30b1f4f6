//! Honest outcomes against a mail server that is not what it should be: a listing without
//! INBOX (every IMAP mailbox has one) is never a Completed backup of nothing.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{BackupRow, JobStatus, OrganisationMailbox, OrganisationSummary, Role};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A small IMAP server on loopback that signs anyone in and lists only an `Archive` folder,
/// empty: what a broken or hostile server may answer.
async fn server_without_inbox() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"* OK ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut words = line.split_whitespace();
                    let (tag, command) = (words.next().unwrap_or("*"), words.next().unwrap_or("").to_ascii_uppercase());
                    let answer = match command.as_str() {
                        "LIST" => format!("* LIST (\\HasNoChildren) \"/\" Archive\r\n{tag} OK LIST done\r\n"),
                        "EXAMINE" | "SELECT" => format!("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-ONLY] done\r\n"),
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() || command == "LOGOUT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_mailbox_listed_without_inbox_is_never_completed() {
    let port = server_without_inbox().await;
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisations: Vec<OrganisationSummary> = body_json(app.get_as(&admin, "/api/organisations").await).await;
    let uri = format!("/api/organisations/{}/mailboxes", organisations[0].id);
    let settings = json!({"email": "odd@acme-legal.example", "host": "127.0.0.1", "port": port, "security": "plain", "username": "u", "password": "p"});
    let response = app.send_as(&admin, Method::POST, &uri, Some(settings)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mailbox: OrganisationMailbox = body_json(response).await;

    app.state.engine.run_due().await.unwrap();
    let backup: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{}", mailbox.id)).await).await;
    assert_ne!(backup.status, JobStatus::Completed, "nothing was read: {backup:?}");
    assert_eq!(backup.status, JobStatus::Retrying);
    assert!(backup.run.detail.as_deref().is_some_and(|d| d.contains("INBOX")), "{:?}", backup.run.detail);
}
