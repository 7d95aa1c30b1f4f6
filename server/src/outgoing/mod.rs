//! The server's own HTTP requests to addresses an organisation admin typed (a HaloPSA, a
//! webhook): to public addresses only unless `--allow-private-targets` (checked on every address
//! a name resolves to, and on an address written as such), HTTPS only unless that flag too, no
//! redirects followed, a deadline on each request, and at most [`MAX_ANSWER`] of an answer read.

pub mod halo;
pub mod webhook;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net_policy::is_private;

/// The most of an answer read (the rest is left unread: a peer cannot fill our memory).
pub const MAX_ANSWER: usize = 64 * 1024;

/// How requests leave this server.
#[derive(Clone)]
pub struct Outgoing {
    client: reqwest::Client,
    allow_private: bool,
    loopback_only: bool,
}

/// Why an address is refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Outgoing {
    pub fn new(allow_private: bool, timeout: Duration) -> Outgoing {
        Outgoing::reaching(allow_private, false, timeout)
    }

    /// With `loopback_only` (`--loopback-only`), nothing but this machine, refused before any lookup.
    pub fn reaching(allow_private: bool, loopback_only: bool, timeout: Duration) -> Outgoing {
        let allow_private = allow_private || loopback_only;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly { allow_private, loopback_only }))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would resolve the name itself, past the check below.
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("BackupPortal/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Outgoing { client, allow_private, loopback_only }
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Whether `url` may be sent to: `https` (or `http` with private targets allowed), a host,
    /// and not a private address written as such. Names are checked when they resolve.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, Refused> {
        let parsed = reqwest::Url::parse(url).map_err(|_| Refused("Enter a full address, starting with https://.".into()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(Refused("Enter an https:// address.".into())),
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Refused("Leave the user name and password out of the address.".into()));
        }
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(Refused("The address has no host.".into())),
        };
        let host = parsed.host_str().unwrap_or("");
        if self.loopback_only && !crate::net_policy::is_loopback_host(host) {
            return Err(Refused(crate::net_policy::loopback_only_refusal(host)));
        }
        if let Some(ip) = literal {
            if !self.allow_private && is_private(ip) {
                return Err(Refused(PRIVATE_REFUSED.into()));
            }
        }
        Ok(parsed)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

const PRIVATE_REFUSED: &str =
    "That address is on a private network; this service sends only to public addresses (its operator can allow private ones).";

/// An answer as far as it was read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: String,
    pub duration_ms: u64,
}

/// A request that got no answer.
#[derive(Debug, Clone)]
pub struct NoAnswer {
    pub why: String,
    pub timed_out: bool,
    /// Refused here before anything was sent (a private address, a wrong address): trying
    /// again changes nothing.
    pub refused: bool,
    pub duration_ms: u64,
}

impl NoAnswer {
    pub fn refused(why: impl Into<String>) -> NoAnswer {
        NoAnswer { why: why.into(), timed_out: false, refused: true, duration_ms: 0 }
    }
}

/// Sends `request` and reads at most [`MAX_ANSWER`] of the answer.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, NoAnswer> {
    let started = Instant::now();
    let elapsed = |started: Instant| started.elapsed().as_millis() as u64;
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Err(no_answer(&error, elapsed(started))),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() >= MAX_ANSWER {
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => return Err(no_answer(&error, elapsed(started))),
        }
    }
    Ok(Answer { status, retry_after, body: String::from_utf8_lossy(&bytes).into_owned(), duration_ms: elapsed(started) })
}

fn no_answer(error: &reqwest::Error, duration_ms: u64) -> NoAnswer {
    let timed_out = error.is_timeout();
    // The resolver's refusal is ours to word; the rest says what the connection did.
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if e.to_string() == PRIVATE_REFUSED {
            return NoAnswer { duration_ms, ..NoAnswer::refused(PRIVATE_REFUSED) };
        }
        source = e.source();
    }
    let why = if timed_out {
        "No answer in time: the request timed out.".to_owned()
    } else if error.is_connect() {
        "Could not connect: the server refused or could not be reached.".to_owned()
    } else {
        "The connection broke before a full answer came.".to_owned()
    };
    NoAnswer { why, timed_out, refused: false, duration_ms }
}

/// Resolves names, and refuses any that leads to a private address unless allowed (a name that
/// resolves to 127.0.0.1 would otherwise reach this machine).
struct PublicOnly {
    allow_private: bool,
    loopback_only: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (allow_private, loopback_only) = (self.allow_private, self.loopback_only);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            if loopback_only && !crate::net_policy::is_loopback_host(&host) {
                let refused = crate::net_policy::loopback_only_refusal(&host);
                return Err(Box::new(std::io::Error::other(refused)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addresses.iter().any(|a| is_private(a.ip())) {
                return Err(Box::new(std::io::Error::other(PRIVATE_REFUSED)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The first lines of an answer, for the Deliveries page (a long line is cut, not dropped:
/// minified JSON and HTML are one line).
pub fn first_lines(body: &str) -> String {
    const MOST: usize = 1000;
    let mut out = String::new();
    for line in body.lines().take(8) {
        let room = MOST.saturating_sub(out.len());
        if room == 0 {
            break;
        }
        if line.len() > room {
            let mut end = room;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(&line[..end]);
            out.push('…');
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_plain_http_addresses_are_refused_unless_allowed() {
        let strict = Outgoing::new(false, Duration::from_secs(5));
        assert!(strict.check_url("https://halo.example.com").is_ok());
        assert!(strict.check_url("http://halo.example.com").is_err());
        assert!(strict.check_url("https://127.0.0.1:8080").is_err());
        assert!(strict.check_url("https://[::1]/").is_err());
        assert!(strict.check_url("https://169.254.169.254/latest").is_err());
        assert!(strict.check_url("https://user:pw@halo.example.com").is_err());
        assert!(strict.check_url("halo.example.com").is_err());
        let open = Outgoing::new(true, Duration::from_secs(5));
        assert!(open.check_url("http://127.0.0.1:8080/halo").is_ok());
    }

    #[tokio::test]
    async fn loopback_only_refuses_any_other_host_before_looking_it_up() {
        let local = Outgoing::reaching(false, true, Duration::from_secs(5));
        assert!(local.check_url("http://127.0.0.1:8080/halo").is_ok());
        assert!(local.check_url("http://localhost:8080/").is_ok());
        assert!(local.check_url("https://[::1]/").is_ok());
        let refused = local.check_url("https://halo.example.com").unwrap_err();
        assert!(refused.0.contains("--loopback-only"), "{refused:?}");
        // Past the check (a redirect, a stored address): the resolver refuses it too.
        let error = local.client().get("https://hooks.example.com/in").send().await.unwrap_err();
        assert!(format!("{error:?}").contains("--loopback-only"), "{error:?}");
    }

    #[test]
    fn a_long_line_is_cut_at_a_character_not_dropped() {
        let long = "é".repeat(2000);
        let cut = first_lines(&long);
        assert!(cut.ends_with('…') && cut.len() > 900 && cut.len() <= 1003, "{}", cut.len());
        assert_eq!(first_lines("a\nb\n\n"), "a\nb");
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_when_it_is_sent_to() {
        let strict = Outgoing::new(false, Duration::from_secs(5));
        let url = strict.check_url("https://localhost:9/").unwrap();
        let refused = send(strict.client().get(url)).await.unwrap_err();
        assert_eq!(refused.why, PRIVATE_REFUSED);
    }
}
