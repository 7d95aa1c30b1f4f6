//! `cargo xtask bench search`: a mailbox of 100,000 messages backed up (and so indexed) from
//! Dovecot on loopback by a release server, then searched over HTTP as a reseller: p95 of
//! word queries and of word queries with filters, against their budgets.

use std::time::{Duration, Instant, SystemTime};

use testkit::{Dovecot, Seed, User};

use crate::measure::{verdict, wait_until_idle};
use crate::{imap, load, tools, Result, TestServer};

const MESSAGES: usize = 100_000;
const WORD_P95_BUDGET_MS: f64 = 100.0;
const FILTERED_P95_BUDGET_MS: f64 = 200.0;
/// Queries of each kind timed (after a few untimed ones).
const QUERIES: usize = 200;

/// A small deterministic generator: the same mailbox every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 0..n, skewed to small numbers as word use is (the square of a uniform draw).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((u * u) * n as f64) as usize
    }
}

/// A vocabulary of made-up words of two to four syllables.
fn vocabulary() -> Vec<String> {
    let syllables = ["ta", "po", "mi", "ke", "lu", "ra", "so", "ni", "be", "da", "fu", "go", "ve", "zi", "ha", "jo"];
    let mut words = Vec::new();
    for a in syllables {
        for b in syllables {
            words.push(format!("{a}{b}"));
            for c in ["n", "r", "s", "l"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

fn mailbox(to: &str, words: &[String]) -> Vec<Seed> {
    let mut random = Random(0x5eed_1234_abcd_ef01);
    let folders = ["INBOX", "INBOX", "INBOX", "Projects", "Archive"];
    (0..MESSAGES)
        .map(|i| {
            let mut pick = |n: usize| -> String { (0..n).map(|_| words[random.skewed(words.len())].as_str()).collect::<Vec<_>>().join(" ") };
            let subject = pick(4);
            let body = pick(80);
            let sender = format!("sender{}@partner{}.example", i % 50, i % 7);
            let days_ago = (i % 730) as u64;
            let date = httpdate(SystemTime::now() - Duration::from_secs(days_ago * 86_400));
            let raw = format!(
                "From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <search-{i}@bench>\r\nDate: {date}\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
            );
            Seed { folder: folders[i % folders.len()].into(), raw: raw.into_bytes(), flags: "S".into(), arrived: SystemTime::now() }
        })
        .collect()
}

/// An RFC 5322 date.
fn httpdate(at: SystemTime) -> String {
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let days = seconds.div_euclid(86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{day} {} {year} 12:00:00 +0000", months[(month - 1) as usize])
}

pub fn search(over: &mut Vec<String>) -> Result {
    tools::ensure_dovecot()?;
    crate::run_command(tools::cargo().args(["build", "--release", "-p", "portal-server"]))?;
    let dovecot = Dovecot::start(&[User::new("search", imap::IMAP_PASSWORD)])?;
    let words = vocabulary();
    let seeding = Instant::now();
    dovecot.seed("search", &mailbox(&imap::address("search"), &words))?;
    println!("Search in backups: a mailbox of {MESSAGES} messages (seeded into Dovecot in {:.0} s)", seeding.elapsed().as_secs_f64());

    let server = TestServer::start("release", &[("PORTAL_DEMO_STEP_MS", "0"), ("PORTAL_BACKUP_INTERVAL_HOURS", "100000")])?;
    wait_until_idle(server.port)?;
    let session = imap::sign_in_reseller(server.port)?;
    let mut connection = load::connect(server.port)?;
    let cookie = [("Cookie", session.0.as_str())];
    let started = Instant::now();
    imap::add_mailboxes(server.port, dovecot.port, &session, &["search"])?;
    let backups = format!("/api/backups?q={}", imap::address("search"));
    loop {
        let (_, _, body) = load::request(&mut connection, "GET", &backups, &cookie, None)?;
        let body = String::from_utf8_lossy(&body);
        if body.contains("\"status\":\"completed\"") {
            break;
        }
        if started.elapsed() > Duration::from_secs(1200) {
            return Err(format!("the backup of {MESSAGES} messages did not complete in 20 minutes: {body}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let backed_up = started.elapsed().as_secs_f64();
    // The indexer reads what the backup saved right after it: wait until every message is found.
    let total = |connection: &mut _| -> Result<Option<u64>> {
        let (status, _, body) = load::request(connection, "GET", "/api/messages?per_page=1", &cookie, None)?;
        if status != 200 {
            return Err(format!("the search answered {status}"));
        }
        Ok(String::from_utf8_lossy(&body).split("\"total\":").nth(1).and_then(|t| t.split(',').next()?.parse::<u64>().ok()))
    };
    while total(&mut connection)? < Some(MESSAGES as u64) {
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("{MESSAGES} messages were not all indexed in 30 minutes: {:?}", total(&mut connection)?));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let indexed = started.elapsed().as_secs_f64();
    println!(
        "  backed up in {backed_up:.1} s ({:.0} messages/s; its budget is `bench imap`'s); all searchable {:.1} s later ({:.0} messages/s indexed)",
        MESSAGES as f64 / backed_up,
        indexed - backed_up,
        MESSAGES as f64 / (indexed - backed_up)
    );

    let mut random = Random(42);
    let mut word = || words[random.skewed(words.len())].clone();
    let word_queries: Vec<String> = (0..QUERIES + 10).map(|_| format!("/api/messages?q={}", word())).collect();
    let filtered: Vec<String> = (0..QUERIES + 10)
        .map(|i| {
            let extra = match i % 4 {
                0 => "&from=sender1".to_owned(),
                1 => "&after=2026-01-01&before=2026-06-30".to_owned(),
                2 => "&folder=Projects&sort=oldest".to_owned(),
                _ => "&has_attachment=false&deleted=false&sort=relevance".to_owned(),
            };
            format!("/api/messages?q={}{extra}", word())
        })
        .collect();
    for (name, queries, budget) in [
        ("search p95, one word over 100,000 messages (page of 50, total counted)", &word_queries, WORD_P95_BUDGET_MS),
        ("search p95, a word with a filter (sender, dates, folder or flags)", &filtered, FILTERED_P95_BUDGET_MS),
    ] {
        let mut latencies = Vec::with_capacity(QUERIES);
        for (i, path) in queries.iter().enumerate() {
            let sent = Instant::now();
            let (status, _, _) = load::request(&mut connection, "GET", path, &cookie, None)?;
            if status != 200 {
                return Err(format!("{path} answered {status}"));
            }
            if i >= 10 {
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
        }
        latencies.sort_by(f64::total_cmp);
        let p95 = latencies[(latencies.len() * 95 / 100).min(latencies.len() - 1)];
        println!("{}", verdict(name, p95, budget, "ms", over));
    }
    drop(server);
    drop(dovecot);
    Ok(())
}
