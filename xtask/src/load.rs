//! A small load generator for `cargo xtask bench`: plain HTTP/1.1 with keep-alive over
//! loopback, at a fixed rate, each latency measured from the moment the request was due (so
//! a slow server cannot hide its queue), bounded in count and time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Result;

/// One HTTP/1.1 request on an open connection; returns the status, the headers and the body.
pub fn request(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        text.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body.unwrap_or(""));
    stream.get_mut().write_all(text.as_bytes()).map_err(|e| format!("send: {e}"))?;

    let mut status_line = String::new();
    stream.read_line(&mut status_line).map_err(|e| format!("read: {e}"))?;
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status line")?;
    let mut response_headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            response_headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).map_err(|e| format!("read body: {e}"))?;
    Ok((status, response_headers, body))
}

pub fn connect(port: u16) -> Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    Ok(BufReader::new(stream))
}

/// Signs in and returns the session cookie (`name=value`).
pub fn sign_in(port: u16, email: &str, password: &str) -> Result<String> {
    sign_in_session(port, email, password).map(|(cookie, _)| cookie)
}

/// Signs in and returns the session cookie and the CSRF token that changes need.
pub fn sign_in_session(port: u16, email: &str, password: &str) -> Result<(String, String)> {
    let mut connection = connect(port)?;
    let body = format!("{{\"email\":\"{email}\",\"password\":\"{password}\"}}");
    let (status, headers, session) = request(&mut connection, "POST", "/api/session", &[], Some(&body))?;
    if status != 200 {
        return Err(format!("sign-in answered {status}"));
    }
    let cookie = headers
        .iter()
        .find(|(name, _)| name == "set-cookie")
        .and_then(|(_, value)| value.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| "no session cookie".to_owned())?;
    let session = String::from_utf8_lossy(&session).into_owned();
    let csrf = session
        .split("\"csrf_token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no CSRF token in the session")?
        .to_owned();
    Ok((cookie, csrf))
}

pub struct LoadReport {
    pub sent: usize,
    pub failed: usize,
    pub seconds: f64,
    /// Latencies in milliseconds, sorted.
    pub latencies: Vec<f64>,
}

impl LoadReport {
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[index]
    }
}

/// Sends `rate` requests a second for `duration` from `connections` keep-alive connections;
/// `path(i)` names the i-th request.
pub fn constant_rate(
    port: u16,
    cookie: &str,
    rate: u32,
    duration: Duration,
    connections: usize,
    path: impl Fn(usize) -> String + Send + Sync + 'static,
) -> Result<LoadReport> {
    let total = (f64::from(rate) * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let failed = Arc::new(AtomicUsize::new(0));
    let path = Arc::new(path);
    let start = Instant::now() + Duration::from_millis(50);
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (next, latencies, failed, path, cookie) =
            (next.clone(), latencies.clone(), failed.clone(), path.clone(), cookie.to_owned());
        let mut connection = connect(port)?;
        workers.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total {
                return;
            }
            let due = start + interval * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            match request(&mut connection, "GET", &path(i), &[("Cookie", &cookie)], None) {
                Ok((200, _, _)) => latencies.lock().unwrap().push(due.elapsed().as_secs_f64() * 1000.0),
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(fresh) = connect(port) {
                        connection = fresh;
                    }
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.join();
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies = Arc::try_unwrap(latencies).map_err(|_| "workers still running")?.into_inner().unwrap();
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(LoadReport { sent: total, failed: failed.load(Ordering::Relaxed), seconds, latencies })
}
