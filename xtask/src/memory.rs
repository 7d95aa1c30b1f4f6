//! `cargo xtask bench memory`: the release server's peak memory (VmHWM of its process) while
//! it backs up a mailbox of about 1 GB from Dovecot on loopback through the real IMAP path,
//! and while it makes and sends downloads of it. The downloads run in a restarted process,
//! and each phase starts from a reset high-water mark (`/proc/PID/clear_refs`), so that each
//! is measured on its own. Minutes long, so only
//! when named: `cargo xtask bench` alone leaves it out, and `cargo xtask test` never runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant, SystemTime};

use crate::measure::{verdict, wait_until_idle};
use crate::{imap, load, run_command, tools, Result, TestServer};

/// The server's peak resident memory while it backs up or downloads a 1 GB mailbox.
const PEAK_RSS_BUDGET_MB: f64 = 200.0;
/// About 1 GB of mail, in messages of varied sizes (`message_size`).
const MAILBOX_BYTES: u64 = 1_000_000_000;
/// Messages seeded into Dovecot's Maildir at a time (the generator's own memory).
const SEED_BATCH_BYTES: u64 = 64 << 20;
const FOLDERS: [&str; 3] = ["INBOX", "Sent", "Archive/2024"];
/// How long a phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(1800);

pub fn memory(over: &mut Vec<String>) -> Result {
    tools::ensure_dovecot()?;
    run_command(tools::cargo().args(["build", "--release", "-p", "portal-server"]))?;
    let user = testkit::User::new("memory", imap::IMAP_PASSWORD).with_quota_kib(4 << 20);
    let dovecot = testkit::Dovecot::start(&[user])?;
    let started = Instant::now();
    let (messages, bytes, largest) = seed_mailbox(&dovecot)?;
    println!(
        "Peak memory (VmHWM) of the release server, a mailbox of {:.2} GB ({messages} messages of 1 KB to {:.0} MB, \
         in {} folders; written into Dovecot's Maildir in {:.0} s), Dovecot on loopback:",
        bytes as f64 / 1e9,
        largest as f64 / 1e6,
        FOLDERS.len(),
        started.elapsed().as_secs_f64()
    );

    // A quiet server: the demo's scripted jobs run at once and no scheduled backup falls due.
    let mut server = TestServer::start("release", &[("PORTAL_DEMO_STEP_MS", "0"), ("PORTAL_BACKUP_INTERVAL_HOURS", "100000")])?;
    wait_until_idle(server.port)?;
    let pid = server.pid();
    let at_rest = status_kb(pid, "VmRSS")?;
    println!("  at rest, after the demo's jobs: {}", mb(at_rest));
    let session = imap::sign_in_reseller(server.port)?;

    let backup = phase(pid, || {
        imap::add_mailboxes(server.port, dovecot.port, &session, &["memory"])?;
        wait_for_backup(server.port, &session.0)
    })?;
    println!("  backup (from adding the mailbox to Completed): {}", backup.line());

    // The downloads in a fresh process: what the backup's allocations left resident is not theirs.
    server.restart()?;
    let pid = server.pid();
    println!("  at rest, after a restart: {}", mb(status_kb(pid, "VmRSS")?));
    let session = imap::sign_in_reseller(server.port)?;
    let mailbox_id = mailbox_id(server.port, &session.0)?;
    let (mbox, url) = phase_with(pid, || download(server.port, &session, mailbox_id, "mbox"))?;
    println!("  download, the mbox file made: {}", mbox.line());
    let (zip, _) = phase_with(pid, || download(server.port, &session, mailbox_id, "eml_zip"))?;
    println!("  download, the EML zip made: {}", zip.line());
    let (sent, length) = phase_with(pid, || fetch(server.port, &url))?;
    println!("  download, the mbox file sent over HTTP ({:.2} GB): {}", length as f64 / 1e9, sent.line());

    let download_peak = mbox.peak_kb.max(zip.peak_kb).max(sent.peak_kb);
    let name = |what: &str| format!("peak RSS, {what} of a {:.1} GB mailbox", bytes as f64 / 1e9);
    println!("{}", verdict(&name("backup"), backup.peak_kb as f64 / 1024.0, PEAK_RSS_BUDGET_MB, "MB", over));
    println!("{}", verdict(&name("download"), download_peak as f64 / 1024.0, PEAK_RSS_BUDGET_MB, "MB", over));
    Ok(())
}

/// What a phase cost: its time, the process's peak memory during it, and what it kept after.
struct Phase {
    seconds: f64,
    peak_kb: u64,
    after_kb: u64,
}

impl Phase {
    fn line(&self) -> String {
        format!("{:.0} s, peak {} (resident after: {})", self.seconds, mb(self.peak_kb), mb(self.after_kb))
    }
}

fn phase(pid: u32, work: impl FnOnce() -> Result) -> Result<Phase> {
    phase_with(pid, work).map(|(phase, ())| phase)
}

/// Runs `work` with the server's high-water mark reset first (to what is resident now).
fn phase_with<T>(pid: u32, work: impl FnOnce() -> Result<T>) -> Result<(Phase, T)> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .map_err(|e| format!("could not reset the server's peak memory (/proc/{pid}/clear_refs, Linux 4.0+): {e}"))?;
    let started = Instant::now();
    let value = work()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((Phase { seconds, peak_kb: status_kb(pid, "VmHWM")?, after_kb: status_kb(pid, "VmRSS")? }, value))
}

/// A line of `/proc/PID/status` in kB (VmHWM: the peak resident set; VmRSS: resident now).
fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("the server's status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Writes the mailbox as Maildir files, a batch at a time; returns messages, bytes, largest.
fn seed_mailbox(dovecot: &testkit::Dovecot) -> Result<(usize, u64, usize)> {
    let to = imap::address("memory");
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut count, mut total, mut largest, mut batch_number) = (0, 0_u64, 0, 0_u64);
    while total < MAILBOX_BYTES {
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        while batch_bytes < SEED_BATCH_BYTES && total + batch_bytes < MAILBOX_BYTES {
            let raw = bench_message(&to, count, message_size(&mut random), &mut random);
            batch_bytes += raw.len() as u64;
            largest = largest.max(raw.len());
            let folder = FOLDERS[count % FOLDERS.len()];
            // Each batch a day apart: Maildir names are made of the arrival time and the
            // message's number in its batch, so batches must not share a second.
            let arrived = SystemTime::now() - Duration::from_secs((batch_number + 1) * 86_400);
            batch.push(testkit::Seed { folder: folder.into(), raw, flags: "S".into(), arrived });
            count += 1;
        }
        dovecot.seed("memory", &batch)?;
        total += batch_bytes;
        batch_number += 1;
    }
    Ok((count, total, largest))
}

/// Sizes as in a mailbox: mostly small, some attachments, a few of several MB.
fn message_size(random: &mut XorShift) -> usize {
    let roll = random.below(1000);
    if roll < 900 {
        1_000 + random.below(40_000) as usize
    } else if roll < 990 {
        100_000 + random.below(900_000) as usize
    } else {
        2_000_000 + random.below(10_000_000) as usize
    }
}

/// A message with an attachment of about `size` bytes of base64 text (random, so that
/// neither the store's deduplication nor the zip's compression makes it smaller).
fn bench_message(to: &str, number: usize, size: usize, random: &mut XorShift) -> Vec<u8> {
    const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut raw = format!(
        "From: Sender {} <sender{}@partner.example>\r\nTo: {to}\r\nSubject: Memory bench {number}\r\n\
         Message-ID: <memory-{number}@bench.example>\r\nDate: Mon, 02 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b{number}\"\r\n\r\n--b{number}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         From the bench, with an attachment.\r\n--b{number}\r\nContent-Type: application/octet-stream; name=\"file{number}.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        number % 97,
        number % 97
    )
    .into_bytes();
    raw.reserve(size + size / 38 + 64);
    let (mut bits, mut left) = (0_u64, 0);
    while raw.len() < size {
        for _ in 0..76 {
            if left < 6 {
                (bits, left) = (random.next(), 64);
            }
            raw.push(BASE64[(bits & 63) as usize]);
            (bits, left) = (bits >> 6, left - 6);
        }
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(format!("--b{number}--\r\n").as_bytes());
    raw
}

/// A small, fast, deterministic generator (xorshift64*): the same mailbox every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, limit: u64) -> u64 {
        self.next() % limit
    }
}

/// Polls the backups list until the bench mailbox's backup completed.
fn wait_for_backup(port: u16, cookie: &str) -> Result {
    let query = format!("/api/backups?q={}", imap::address("memory"));
    until_done(port, cookie, &query, "the backup").map(|_| ())
}

/// Polls `path` until it shows `completed`; returns the answer. Any status that ends a run
/// otherwise fails the bench.
fn until_done(port: u16, cookie: &str, path: &str, what: &str) -> Result<String> {
    let mut connection = load::connect(port)?;
    let started = Instant::now();
    loop {
        let (status, _, body) = load::request(&mut connection, "GET", path, &[("Cookie", cookie)], None)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != 200 {
            return Err(format!("{path} answered {status}"));
        }
        if body.contains("\"status\":\"completed\"") {
            return Ok(body);
        }
        let failed =
            ["partially_complete", "connection_error", "authentication_error", "space_full", "retrying", "failed", "cancelled"];
        if failed.iter().any(|s| body.contains(&format!("\"status\":\"{s}\""))) {
            return Err(format!("{what} did not complete: {body}"));
        }
        if started.elapsed() > PHASE_LIMIT {
            return Err(format!("{what} took longer than {} minutes", PHASE_LIMIT.as_secs() / 60));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mailbox_id(port: u16, cookie: &str) -> Result<i64> {
    let mut connection = load::connect(port)?;
    let query = format!("/api/backups?q={}", imap::address("memory"));
    let (_, _, body) = load::request(&mut connection, "GET", &query, &[("Cookie", cookie)], None)?;
    let body = String::from_utf8_lossy(&body);
    json_value(&body, "mailbox_id").and_then(|id| id.parse().ok()).ok_or_else(|| format!("no mailbox_id in {body}"))
}

/// Asks for a download in this format and waits until its file is made; returns its link.
fn download(port: u16, (cookie, csrf): &(String, String), mailbox_id: i64, format: &str) -> Result<String> {
    let mut connection = load::connect(port)?;
    let body = format!("{{\"kind\":\"download\",\"mailbox_id\":{mailbox_id},\"format\":\"{format}\"}}");
    let (status, _, answer) =
        load::request(&mut connection, "POST", "/api/jobs", &[("Cookie", cookie), ("x-csrf-token", csrf)], Some(&body))?;
    let answer = String::from_utf8_lossy(&answer);
    if status != 201 {
        return Err(format!("asking for a download answered {status}: {answer}"));
    }
    let id = json_value(&answer, "id").ok_or_else(|| format!("no id in {answer}"))?;
    let done = until_done(port, cookie, &format!("/api/jobs/{id}"), "the download")?;
    json_value(&done, "download_url").ok_or_else(|| format!("no download_url in {done}"))
}

/// Fetches a link's file, reading it as it comes and keeping none of it; returns its length
/// (checked against Content-Length).
fn fetch(port: u16, url: &str) -> Result<u64> {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone().map_err(|e| e.to_string())?);
    (&stream)
        .write_all(format!("GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(format!("the link answered {}", line.trim()));
    }
    let mut declared = None;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                declared = value.trim().parse::<u64>().ok();
            }
        }
    }
    let declared = declared.ok_or("the file came without Content-Length")?;
    let mut buffer = vec![0; 1 << 20];
    let mut received = 0_u64;
    loop {
        match reader.read(&mut buffer).map_err(|e| format!("read: {e}"))? {
            0 => break,
            n => received += n as u64,
        }
    }
    if received != declared {
        return Err(format!("the file was {received} bytes, its Content-Length {declared}"));
    }
    Ok(received)
}

/// The value of the first `"key":` in a JSON text, a string unquoted (enough for our answers).
fn json_value(json: &str, key: &str) -> Option<String> {
    let rest = &json[json.find(&format!("\"{key}\":"))? + key.len() + 3..];
    match rest.strip_prefix('"') {
        Some(string) => Some(string[..string.find('"')?].to_owned()),
        None => Some(rest[..rest.find([',', '}'])?].trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailbox_is_varied_and_the_same_every_run() {
        let mut random = XorShift(1);
        let sizes: Vec<usize> = (0..10_000).map(|_| message_size(&mut random)).collect();
        assert!(sizes.iter().any(|s| *s < 10_000) && sizes.iter().any(|s| *s > 5_000_000));
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((60_000..250_000).contains(&mean), "{mean}");
        let one = bench_message("a@b", 7, 5_000, &mut XorShift(3));
        assert_eq!(one, bench_message("a@b", 7, 5_000, &mut XorShift(3)));
        assert!(one.len() >= 5_000 && one.len() < 5_200, "{}", one.len());
        assert!(one.ends_with(b"--b7--\r\n"));
    }

    #[test]
    fn values_are_read_from_answers() {
        let answer = r#"{"id":"D-1","mailbox_id":42,"download_url":"/api/downloads/D-1/file?expires=1&signature=ab"}"#;
        assert_eq!(json_value(answer, "id").as_deref(), Some("D-1"));
        assert_eq!(json_value(answer, "mailbox_id").as_deref(), Some("42"));
        assert_eq!(json_value(answer, "download_url").as_deref(), Some("/api/downloads/D-1/file?expires=1&signature=ab"));
        assert_eq!(json_value(answer, "nothing"), None);
        assert!(status_kb(std::process::id(), "VmHWM").unwrap() > 0);
    }
}
