//! Talking to an IMAP server: connect (TLS, or plain on loopback), sign in, and the few
//! commands the connector needs, with every failure sorted into what it means for a job.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{Response, Status};
use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;

use super::guard::{Guarded, Meter, Stopped};
use crate::secrets::SecretString;

/// One stream type for plain and TLS connections.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

/// A signed-in session, with the meter that bounds each of the server's answers.
pub struct ImapSession {
    session: Session<Box<dyn Io>>,
    meter: Arc<Meter>,
}

impl ImapSession {
    /// The meter of this connection's answers (kept while a command's answers stream in).
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }
}

impl std::ops::Deref for ImapSession {
    type Target = Session<Box<dyn Io>>;
    fn deref(&self) -> &Self::Target {
        &self.session
    }
}

impl std::ops::DerefMut for ImapSession {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.session
    }
}

/// Bytes read from the server at once.
const READ_BUFFER: usize = 256 * 1024;

/// Room for one answer that is not a message (a folder's name, a message's size or headers,
/// a search's UIDs); each answer of a long listing has it anew.
pub const DEFAULT_ANSWER: u64 = 16 << 20;

/// How mail servers are reached: where connections may go, how long any step may take, and
/// how large a message may be.
#[derive(Clone, Debug)]
pub struct Reach {
    pub tls: Arc<ClientConfig>,
    /// Private and loopback addresses allowed (`--allow-private-targets`).
    pub allow_private: bool,
    /// Nothing but this machine, refused before any lookup (`--loopback-only`).
    pub loopback_only: bool,
    /// Deadline of every step: connect, TLS, greeting, sign-in, each command, each message,
    /// and the silence between two bytes (`--imap-timeout-seconds`).
    pub timeout: Duration,
    /// The largest message taken; larger ones are skipped and listed (`--max-message-mb`).
    pub max_message: u64,
}

impl Reach {
    /// One step of a conversation with `account`'s server, within the deadline.
    pub async fn step<T>(
        &self,
        account: &Account,
        what: &str,
        step: impl std::future::Future<Output = Result<T, ImapError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, step).await {
            Err(_) => Err(self.late(account, what)),
            Ok(result) => result.map_err(|error| sort(account, error)),
        }
    }

    /// Reads a command's answers one by one into `each`, each within the deadline and with
    /// `room` bytes: a listing may be as long as the mailbox, one answer of it may not.
    pub async fn each<S, T>(
        &self,
        account: &Account,
        what: &str,
        meter: &Meter,
        room: u64,
        mut answers: S,
        mut each: impl FnMut(T),
    ) -> Result<(), Failure>
    where
        S: futures_util::Stream<Item = Result<T, ImapError>> + Unpin,
    {
        use futures_util::StreamExt;
        loop {
            meter.arm(room);
            match tokio::time::timeout(self.timeout, answers.next()).await {
                Err(_) => return Err(self.late(account, what)),
                Ok(None) => return Ok(()),
                Ok(Some(Err(error))) => return Err(sort(account, error)),
                Ok(Some(Ok(answer))) => each(answer),
            }
        }
    }

    /// How long one message of up to `declared` bytes may take to arrive: the step's deadline,
    /// plus what a slow but honest link needs for its size (256 KB/s). Silence ends it sooner.
    pub fn message_deadline(&self, declared: u64) -> Duration {
        self.timeout + Duration::from_secs(declared / (256 << 10))
    }

    /// A step past its deadline.
    pub fn late(&self, account: &Account, what: &str) -> Failure {
        Failure::Connection(format!(
            "{}:{} did not finish {what} within {} s; the connection was closed.",
            account.host,
            account.port,
            self.timeout.as_secs()
        ))
    }

    /// Room for one fetched message: the largest taken, its flags, dates and framing.
    pub fn message_answer(&self) -> u64 {
        self.max_message + (1 << 20)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// IMAP over TLS from the first byte (port 993).
    Tls,
    /// No encryption: allowed only for a server on this machine (tests, the local demo).
    Plain,
}

impl Security {
    pub fn parse(value: &str) -> Option<Security> {
        match value {
            "tls" => Some(Security::Tls),
            "plain" => Some(Security::Plain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Plain => "plain",
        }
    }
}

/// Where a mailbox is and how to sign in to it.
#[derive(Clone, Debug)]
pub struct Account {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: SecretString,
}

/// Whether a host name is this machine, the only place a plain connection may go.
pub fn is_loopback(host: &str) -> bool {
    crate::net_policy::is_loopback_host(host)
}

/// A failure, sorted by what it means for the job (design.md, "Connectors"). The text says
/// exactly what happened, in words a person can act on; it never holds the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Refused, reset, timed out, unreachable, closed, TLS failed: may pass by itself.
    Connection(String),
    /// The server refused the sign-in.
    Authentication(String),
    /// The mailbox (or the server's quota for it) is full.
    Quota(String),
    /// Anything else the server answered.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connection(text) | Failure::Authentication(text) | Failure::Quota(text) | Failure::Other(text) => {
                f.write_str(text)
            }
        }
    }
}

/// Sorts a failure of a command (not the sign-in) on `account`'s server. The server's own
/// words are never repeated (they may be anything a peer chose to send); a standard response
/// code it gave is named in ours.
pub fn sort(account: &Account, error: ImapError) -> Failure {
    let at = format!("{}:{}", account.host, account.port);
    match error {
        ImapError::Io(io) => Failure::Connection(describe_io(&at, &io)),
        ImapError::ConnectionLost => Failure::Connection(format!("The mail server at {at} closed the connection.")),
        ImapError::No(text) | ImapError::Bad(text) if is_over_quota(&text) => {
            Failure::Quota(format!("The mailbox is full: the mail server at {at} reported it over its quota."))
        }
        ImapError::No(text) => Failure::Other(format!("The mail server at {at} refused the command{}.", code_named(&text))),
        ImapError::Bad(text) => Failure::Other(format!("The mail server at {at} did not accept a command{}.", code_named(&text))),
        ImapError::Validate(error) => Failure::Other(format!("Not sent to {at}: {}.", super::command::refusal(&error))),
        _ => Failure::Other(format!("The mail server at {at} answered something that is not IMAP.")),
    }
}

/// The standard response code at the start of a server's text (RFC 5530), in our words.
fn code_named(text: &str) -> &'static str {
    let code = text.trim_start().strip_prefix('[').and_then(|t| t.split([']', ' ']).next()).unwrap_or("");
    match code.to_ascii_uppercase().as_str() {
        "AUTHENTICATIONFAILED" => " (wrong username or password)",
        "AUTHORIZATIONFAILED" => " (this user may not open that mailbox)",
        "EXPIRED" => " (the password has expired)",
        "PRIVACYREQUIRED" => " (it requires an encrypted connection)",
        "CONTACTADMIN" => " (its administrator must unlock the account)",
        "NOPERM" => " (no permission for that folder)",
        "INUSE" => " (the mailbox is in use elsewhere; try later)",
        "UNAVAILABLE" => " (the server is temporarily unavailable)",
        "SERVERBUG" => " (it reported an error of its own)",
        "NONEXISTENT" => " (no such folder)",
        "ALREADYEXISTS" => " (the folder exists already)",
        "LIMIT" => " (a limit of the server was reached)",
        "TOOBIG" => " (the message is too large for it)",
        "CANNOT" => " (it cannot do this)",
        "CORRUPTION" => " (its copy of the mailbox is damaged)",
        _ => "",
    }
}

fn is_over_quota(text: &str) -> bool {
    let text = text.to_ascii_uppercase();
    text.contains("OVERQUOTA") || text.contains("QUOTA EXCEEDED")
}

fn describe_io(at: &str, io: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match Stopped::of(io) {
        Some(Stopped::Silent(after)) => {
            return format!(
                "{at} went silent for {} s while we waited for its answer; the connection was closed.",
                after.as_secs()
            )
        }
        Some(Stopped::TooLarge) => {
            return format!("{at} sent an answer larger than any message taken; the connection was closed.")
        }
        None => {}
    }
    match io.kind() {
        ConnectionRefused => format!("Nothing answers at {at}: the connection was refused."),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            format!("The connection to {at} was cut while we were working.")
        }
        TimedOut => format!("{at} did not answer in time."),
        InvalidData => format!("The secure connection to {at} failed: {}.", tls_refusal(io)),
        HostUnreachable | NetworkUnreachable => format!("{at} cannot be reached from here (no route)."),
        _ => format!("{at} could not be reached ({:?}).", io.kind()),
    }
}

/// Why a TLS handshake failed, in our words (a certificate's own names are the peer's bytes).
fn tls_refusal(io: &std::io::Error) -> &'static str {
    use tokio_rustls::rustls::{CertificateError, Error};
    match io.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "its certificate is from an authority we do not trust (UnknownIssuer); for a company's own CA, start the server with --imap-ca-file"
        }
        Some(Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. })) => {
            "its certificate has expired (Expired)"
        }
        Some(Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
            "its certificate is for another name (NotValidForName)"
        }
        Some(Error::InvalidCertificate(_)) => "its certificate was not accepted",
        _ => "the encrypted connection could not be agreed",
    }
}

/// How TLS connections to mail servers are checked: against the Mozilla roots, and a CA of
/// one's own when given (a company's own mail server), as a PEM file.
pub fn tls_config(extra_ca: Option<&Path>) -> std::io::Result<Arc<ClientConfig>> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::CertificateDer;
        let bad =
            |e: &dyn std::fmt::Display| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()));
        for certificate in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
            roots.add(certificate.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Connects, reads the greeting and signs in, each step within the deadline.
pub async fn sign_in(account: &Account, reach: &Reach) -> Result<ImapSession, Failure> {
    let at = format!("{}:{}", account.host, account.port);
    let seconds = reach.timeout.as_secs();
    if account.security == Security::Plain && !is_loopback(&account.host) {
        return Err(Failure::Other(format!(
            "{at} is not on this machine, so the connection must use TLS; a password is never sent unencrypted."
        )));
    }
    if reach.loopback_only && !is_loopback(&account.host) {
        return Err(Failure::Other(crate::net_policy::loopback_only_refusal(&account.host)));
    }
    let io_failure = |io: std::io::Error| Failure::Connection(describe_io(&at, &io));
    // Resolved here and connected to exactly what was checked (a name cannot change its mind
    // between the check and the connection).
    let addresses: Vec<std::net::SocketAddr> =
        tokio::time::timeout(reach.timeout, tokio::net::lookup_host((account.host.as_str(), account.port)))
            .await
            .map_err(|_| Failure::Connection(format!("{} could not be looked up within {seconds} s.", account.host)))?
            .map_err(|_| Failure::Connection(format!("{} cannot be found: check the server's name.", account.host)))?
            .collect();
    if !reach.allow_private && addresses.iter().any(|a| crate::net_policy::is_private(a.ip())) {
        return Err(Failure::Other(format!(
            "{} is on this machine or a private network, where mail servers are not reached from here; enter the mail server's public name.",
            account.host
        )));
    }
    let tcp = tokio::time::timeout(reach.timeout, TcpStream::connect(addresses.as_slice()))
        .await
        .map_err(|_| Failure::Connection(format!("{at} did not answer within {seconds} s.")))?
        .map_err(io_failure)?;
    let _ = tcp.set_nodelay(true);
    // The IMAP reader asks for a few KB at a time; one large read serves many of those.
    let tcp = tokio::io::BufReader::with_capacity(READ_BUFFER, tcp);
    let meter = Meter::new(DEFAULT_ANSWER);
    // A second over the step's deadline: a step that names what was under way ends first,
    // and silence where no step is timed (the stream between two messages) still ends.
    let silence = reach.timeout + Duration::from_secs(1);
    let stream: Box<dyn Io> = match account.security {
        Security::Plain => Box::new(Guarded::new(tcp, silence, meter.clone())),
        Security::Tls => {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(account.host.clone())
                .map_err(|_| Failure::Other(format!("{} is not a valid host name.", account.host)))?;
            let tls = tokio::time::timeout(reach.timeout, tokio_rustls::TlsConnector::from(reach.tls.clone()).connect(name, tcp))
                .await
                .map_err(|_| Failure::Connection(format!("{at} did not complete the secure connection in time.")))?
                .map_err(io_failure)?;
            Box::new(Guarded::new(tls, silence, meter.clone()))
        }
    };
    let mut client = Client::new(stream);
    let greeting = tokio::time::timeout(reach.timeout, client.read_response())
        .await
        .map_err(|_| Failure::Connection(format!("{at} accepted the connection but did not greet within {seconds} s.")))?
        .map_err(io_failure)?;
    match greeting.as_ref().map(|g| g.parsed()) {
        None => return Err(Failure::Connection(format!("The mail server at {at} closed the connection at once."))),
        Some(Response::Data { status: Status::Bye, .. }) => {
            return Err(Failure::Connection(format!("The mail server at {at} turned us away (BYE) before the sign-in.")))
        }
        Some(_) => {}
    }
    // async-imap refuses CR and LF in LOGIN's strings, not NUL; neither is ever sent.
    if super::command::quoted(&account.username).is_err() || super::command::quoted(account.password.expose()).is_err() {
        return Err(Failure::Authentication(format!(
            "The username or password holds a line break or NUL character, which cannot be sent to {at}."
        )));
    }
    match tokio::time::timeout(reach.timeout, client.login(&account.username, account.password.expose())).await {
        Err(_) => Err(Failure::Connection(format!("{at} did not answer the sign-in within {seconds} s."))),
        Ok(Ok(session)) => Ok(ImapSession { session, meter }),
        // NO to LOGIN is a refused username or password (RFC 3501); the server's text is not repeated.
        Ok(Err((ImapError::No(_), _))) => Err(Failure::Authentication(format!(
            "The mail server at {at} refused the sign-in of {}: the username or password was not accepted.",
            account.username
        ))),
        Ok(Err((error, _))) => Err(sort(account, error)),
    }
}

/// Signs out, within the deadline; a server that does not answer is simply left.
pub async fn sign_out(mut session: ImapSession, reach: &Reach) {
    let _ = tokio::time::timeout(reach.timeout, session.logout()).await;
}

/// APPEND that keeps the server's answer (async-imap's own reports every refusal alike, and
/// a full mailbox must read as Space Full). `date` as IMAP's date-time; a folder name no
/// command can carry is refused before anything is sent.
pub async fn append(
    session: &mut ImapSession,
    timeout: Duration,
    folder: &str,
    flags: &[String],
    date: Option<&str>,
    content: &[u8],
) -> Result<(), ImapError> {
    let command = super::command::append(folder, flags, date, content.len())?;
    let tag = session.run_command(&command).await?;
    let mut sent = false;
    loop {
        let response = tokio::time::timeout(timeout, session.read_response())
            .await
            .map_err(|_| ImapError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer to APPEND")))??;
        let Some(response) = response else {
            return Err(ImapError::ConnectionLost);
        };
        match response.parsed() {
            Response::Continue { .. } if !sent => {
                let stream = session.get_mut();
                stream.write_all(content).await?;
                stream.write_all(b"\r\n").await?;
                stream.flush().await?;
                sent = true;
            }
            Response::Done { tag: done, status, outcome } if *done == tag => {
                // Codes the parser does not know (OVERQUOTA) stay in the text.
                let text = outcome.information.as_deref().unwrap_or_default().to_owned();
                return match status {
                    Status::Ok => Ok(()),
                    Status::No => Err(ImapError::No(text)),
                    _ => Err(ImapError::Bad(text)),
                };
            }
            _ => {}
        }
    }
}

/// A flag as IMAP writes it.
pub fn flag_text(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(custom) => custom.to_string(),
    }
}
