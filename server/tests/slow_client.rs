//! The real server process against clients that send their request's headers too slowly
//! (slowloris): each connection is closed once the header read timeout has passed, however
//! the bytes trickle in, while a whole request is still answered.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn start(dir: &std::path::Path, database_url: &str, port: u16) -> common::ServerProcess {
    common::ServerProcess::start(dir, database_url, port, &[("PORTAL_HEADER_READ_TIMEOUT_MS", "500")])
}

/// Sends `start`, then the bytes of `drip` one at a time, 100 ms apart, over and over, until
/// the server closes the connection. Panics if it is still open after `limit`.
fn trickle_until_closed(port: u16, start: &[u8], drip: &[u8], limit: Duration) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    stream.write_all(start).unwrap();
    let mut next = drip.iter().cycle();
    loop {
        assert!(started.elapsed() < limit, "the connection was still open after {limit:?}");
        if !drip.is_empty() && stream.write_all(&[*next.next().unwrap()]).is_err() {
            return;
        }
        let mut buffer = [0_u8; 1024];
        match stream.read(&mut buffer) {
            Ok(0) => return,
            // An answer (408) before the close is fine too; the close must follow.
            Ok(_) => continue,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
    }
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = common::database_url(dir.path()).await;
    let mut server = start(dir.path(), &url, port);

    // A whole request is answered as before.
    let mut whole = TcpStream::connect(("127.0.0.1", port)).unwrap();
    whole.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    whole.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    whole.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));

    let limit = Duration::from_secs(8);
    // Nothing at all after connecting.
    trickle_until_closed(port, b"", b"", limit);
    // Part of a request line, then nothing.
    trickle_until_closed(port, b"GET /api/health HT", b"", limit);
    // Header lines a byte every 100 ms, each well within the timeout: it is for all of them.
    trickle_until_closed(port, b"GET /api/health HTTP/1.1\r\n", b"X-Slow: 1\r\n", limit);

    // A connection left open after an answer does not hold up a graceful shutdown.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut buffer = [0_u8; 1024];
    assert!(idle.read(&mut buffer).unwrap() > 0);
    // SAFETY: kill(2) with the child's own process ID and SIGTERM has no memory effects.
    assert_eq!(unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean stop: {status:?}");
}
