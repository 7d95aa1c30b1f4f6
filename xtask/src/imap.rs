//! A local Dovecot with a few mailboxes, registered with a running server through its own
//! API (Account Settings › Mailboxes): for `cargo xtask run --imap`, the end-to-end specs and
//! the backup benchmark.

use std::time::{Duration, SystemTime};

use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::Role;
use testkit::{Dovecot, Seed, User};

use crate::{load, Result};

/// The demo IMAP mailboxes' password.
pub const IMAP_PASSWORD: &str = "imap-demo";
/// Bluebird Clinics: its subscription has room (the demo fills Acme's on purpose).
pub const ORGANISATION: i64 = 2;

/// Where `run --imap` serves IMAP: fixed, since the kept database remembers the mailboxes.
pub const RUN_PORT: u16 = 10143;

/// Dovecot with `ann` (mail in several folders, one message malformed), `ben` (empty), `cara`
/// (empty, a 64 KiB quota: a restore into it ends in Space Full) and `dora` (a few messages as
/// people get them: HTML, an attachment, remote images; the server's `--seed-imap-demo` makes
/// her mailbox and her end user's sign-in); on `port`, or any.
pub fn demo_dovecot(port: Option<u16>) -> Result<Dovecot> {
    let users = [
        User::new("ann", IMAP_PASSWORD),
        User::new("ben", IMAP_PASSWORD),
        User::new("cara", IMAP_PASSWORD).with_quota_kib(64),
        User::new("dora", IMAP_PASSWORD),
    ];
    let dovecot = match port {
        Some(port) => Dovecot::start_on(&users, port)?,
        None => Dovecot::start(&users)?,
    };
    dovecot.seed("ann", &testkit::sample_mail(&address("ann")))?;
    dovecot.seed("ann", &testkit::bulk_mail(&address("ann"), 200, 4000))?;
    dovecot.seed("dora", &dora_mail())?;
    Ok(dovecot)
}

/// `--seed-imap-demo` for a server that should have dora's mailbox and sign-in (`HOST:PORT`).
pub fn seed_address(dovecot: &Dovecot) -> String {
    format!("127.0.0.1:{}", dovecot.port)
}

/// Dora's mail: a word found in one message only ("pelican"), a newsletter in HTML, a rota with
/// a CSV attachment, a message whose HTML loads an image from another site, a folder of her own
/// and her sent mail.
pub fn dora_mail() -> Vec<Seed> {
    let dora = address("dora");
    let headers = |from: &str, to: &str, subject: &str, id: &str, date: &str| {
        format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@bluebird-imap.example>\r\nDate: {date}\r\nMIME-Version: 1.0\r\n")
    };
    let plain = |from: &str, subject: &str, id: &str, date: &str, body: &str| {
        format!("{}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n", headers(from, &dora, subject, id, date))
            .into_bytes()
    };
    let html = |from: &str, subject: &str, id: &str, date: &str, text: &str, html: &str| {
        format!(
            "{}Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--ALT--\r\n",
            headers(from, &dora, subject, id, date)
        )
        .into_bytes()
    };
    let rota = format!(
        "{}Content-Type: multipart/mixed; boundary=\"MIX\"\r\n\r\n--MIX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The rota for January is attached. Swap shifts with Ben if you need to.\r\n--MIX\r\n\
         Content-Type: text/csv; name=\"rota-january.csv\"\r\nContent-Disposition: attachment; filename=\"rota-january.csv\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--MIX--\r\n",
        headers("Ben Okafor <ben@bluebird-imap.example>", &dora, "Rota for January", "rota", "Tue, 24 Nov 2026 08:30:00 +0000"),
        "ZGF5LG5hbWUsc2hpZnQKTW9uLERvcmEsZWFybHkKVHVlLEJlbixsYXRlCldlZCxDYXJhLGVhcmx5Cg=="
    )
    .into_bytes();
    let sent = format!(
        "{}Content-Type: text/plain; charset=utf-8\r\n\r\nThanks Ben, Tuesday works for me.\r\n",
        headers(
            &dora,
            "Ben Okafor <ben@bluebird-imap.example>",
            "Re: Rota for January",
            "rota-re",
            "Tue, 24 Nov 2026 09:02:00 +0000"
        )
    )
    .into_bytes();
    let at = |folder: &str, raw: Vec<u8>, flags: &str, days_ago: u64| Seed {
        folder: folder.into(),
        raw,
        flags: flags.into(),
        arrived: SystemTime::now() - Duration::from_secs(days_ago * 86_400),
    };
    vec![
        at(
            "INBOX",
            plain(
                "Harbour Council Roads <roads@harbour-council.example>",
                "Crossing permit approved",
                "permit",
                "Mon, 30 Nov 2026 10:15:00 +0000",
                "Dear Dora,\r\n\r\nYour permit for the pelican crossing outside the clinic on Harbour Street is approved.\r\n\
                 Work starts on 7 December. Reference PC-2291.\r\n\r\nHarbour Council, Roads team",
            ),
            "S",
            2,
        ),
        at(
            "INBOX",
            html(
                "Bluebird Clinics <news@bluebird-clinics.example>",
                "Clinic newsletter, December",
                "newsletter",
                "Tue, 01 Dec 2026 07:00:00 +0000",
                "Clinic newsletter, December\r\n\r\nThe new waiting room opens on Monday. Flu clinics run every Thursday.",
                "<html><body><h1>Clinic newsletter, December</h1><p>The <strong>new waiting room</strong> opens on Monday.</p>\
                 <p>Flu clinics run every Thursday. <a href=\"https://bluebird-clinics.example/flu\">Book a slot</a>.</p></body></html>",
            ),
            "",
            1,
        ),
        at("INBOX", rota, "S", 8),
        at(
            "INBOX",
            html(
                "Parcel Post <tracking@parcel-post.example>",
                "Your parcel is on its way",
                "parcel",
                "Fri, 27 Nov 2026 16:40:00 +0000",
                "Your parcel is on its way. It arrives on Monday.",
                "<html><body><p>Your parcel is on its way. It arrives on Monday.</p>\
                 <img src=\"https://images.parcel-post.example/van.png\" alt=\"A delivery van\"></body></html>",
            ),
            "S",
            5,
        ),
        at(
            "Projects",
            plain(
                "Cara Lund <cara@bluebird-imap.example>",
                "Lab results pipeline",
                "pipeline",
                "Wed, 18 Nov 2026 14:00:00 +0000",
                "The lab results now arrive as files every night. Can you check the import on Friday?",
            ),
            "S",
            14,
        ),
        at("Sent", sent, "S", 8),
    ]
}

/// The portal address of a demo IMAP user.
pub fn address(user: &str) -> String {
    format!("{user}@bluebird-imap.example")
}

/// Signs in as the demo reseller and adds each user's mailbox to Bluebird Clinics; returns
/// the session cookie.
pub fn register(server_port: u16, imap_port: u16, users: &[&str]) -> Result<String> {
    let session = sign_in_reseller(server_port)?;
    add_mailboxes(server_port, imap_port, &session, users)?;
    Ok(session.0)
}

/// The demo reseller's session: its cookie and CSRF token.
pub fn sign_in_reseller(server_port: u16) -> Result<(String, String)> {
    let reseller =
        DEMO_SIGN_INS.iter().find(|(role, _)| *role == Role::Reseller).map(|(_, email)| *email).ok_or("no demo reseller")?;
    load::sign_in_session(server_port, reseller, DEMO_PASSWORD)
}

/// Adds each user's mailbox to Bluebird Clinics (its first backup starts at once).
pub fn add_mailboxes(server_port: u16, imap_port: u16, (cookie, csrf): &(String, String), users: &[&str]) -> Result {
    let mut connection = load::connect(server_port)?;
    for user in users {
        let body = format!(
            "{{\"email\":\"{}\",\"host\":\"127.0.0.1\",\"port\":{imap_port},\"security\":\"plain\",\"username\":\"{user}\",\"password\":\"{IMAP_PASSWORD}\"}}",
            address(user)
        );
        let (status, _, answer) = load::request(
            &mut connection,
            "POST",
            &format!("/api/organisations/{ORGANISATION}/mailboxes"),
            &[("Cookie", cookie), ("x-csrf-token", csrf)],
            Some(&body),
        )?;
        // 422 on the address: registered on an earlier run (the database is kept).
        if status != 201 && !(status == 422 && String::from_utf8_lossy(&answer).contains("\"field\":\"email\"")) {
            return Err(format!("adding {} answered {status}: {}", address(user), String::from_utf8_lossy(&answer)));
        }
    }
    Ok(())
}

/// A plain IMAP client that fetches every message of INBOX and only counts them: how fast
/// Dovecot itself serves them, the yardstick of the backup's speed. Returns messages and bytes.
pub fn raw_fetch(port: u16, user: &str, password: &str) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let mut line = Vec::new();
    let read_line = |reader: &mut BufReader<std::net::TcpStream>, line: &mut Vec<u8>| -> Result {
        line.clear();
        reader.read_until(b'\n', line).map_err(|e| format!("read: {e}"))?;
        if line.is_empty() {
            return Err("the server closed the connection".into());
        }
        Ok(())
    };
    read_line(&mut reader, &mut line)?; // greeting
    let commands = [format!("a LOGIN {user} {password}"), "b EXAMINE INBOX".to_owned(), "c UID FETCH 1:* BODY.PEEK[]".to_owned()];
    let (mut messages, mut bytes) = (0_u64, 0_u64);
    for command in commands {
        let tag = command[..1].to_owned();
        writer.write_all(format!("{command}\r\n").as_bytes()).map_err(|e| e.to_string())?;
        loop {
            read_line(&mut reader, &mut line)?;
            // A literal: `{N}` at the end of the line, then N bytes, then the rest of the line.
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if let Some(size) = text.rsplit_once('{').and_then(|(_, n)| n.strip_suffix('}')).and_then(|n| n.parse::<u64>().ok()) {
                let mut literal = vec![0; size as usize];
                reader.read_exact(&mut literal).map_err(|e| format!("read: {e}"))?;
                messages += 1;
                bytes += size;
                read_line(&mut reader, &mut line)?;
                continue;
            }
            if text.starts_with(&format!("{tag} ")) {
                if !text.starts_with(&format!("{tag} OK")) {
                    return Err(format!("the server answered: {text}"));
                }
                break;
            }
        }
    }
    Ok((messages, bytes))
}
