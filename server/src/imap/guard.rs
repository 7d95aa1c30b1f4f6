//! The connection to a mail server, guarded: a peer that goes silent (nothing for the step's
//! deadline, at any point of a command, a literal or a greeting) or that sends more than one
//! answer may hold ends the connection with an error, so no run waits forever and no peer
//! can make the server hold more memory than the largest message it takes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Bytes the peer may still send before its current answer is too large. Shared between the
/// stream and the session, which sets it before each answer it reads.
#[derive(Debug)]
pub struct Meter {
    remaining: AtomicU64,
    /// What `arm_default` sets: room for any answer but a message's.
    default: u64,
}

impl Meter {
    pub fn new(default: u64) -> Arc<Meter> {
        Arc::new(Meter { remaining: AtomicU64::new(default), default })
    }

    /// The next answer may hold up to `bytes`.
    pub fn arm(&self, bytes: u64) {
        self.remaining.store(bytes, Ordering::Relaxed);
    }

    pub fn arm_default(&self) {
        self.arm(self.default);
    }

    /// Counts bytes received; false once the answer is over its size.
    fn take(&self, bytes: u64) -> bool {
        let before = self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| Some(r.saturating_sub(bytes)));
        before.is_ok_and(|r| r >= bytes)
    }
}

/// Why a guarded connection ended (kept in the `io::Error`, so the failure can be named).
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing arrived (or could be sent) for this long.
    Silent(Duration),
    /// One answer was larger than the room it had.
    TooLarge,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Silent(after) => write!(f, "nothing received for {} s", after.as_secs()),
            Stopped::TooLarge => f.write_str("an answer larger than allowed"),
        }
    }
}

impl std::error::Error for Stopped {}

impl Stopped {
    /// The reason a guarded connection stopped, if that is what `io` is.
    pub fn of(io: &std::io::Error) -> Option<&Stopped> {
        io.get_ref().and_then(|e| e.downcast_ref::<Stopped>())
    }
}

#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    silence: Duration,
    meter: Arc<Meter>,
    /// Runs while a read or write waits; reset by every byte that moves.
    timer: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, silence: Duration, meter: Arc<Meter>) -> Guarded<S> {
        Guarded { inner, silence, meter, timer: Box::pin(tokio::time::sleep(silence)), waiting: false }
    }

    /// After a `Pending` from the peer: starts the deadline if it is not running, and fails once it passed.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        if !self.waiting {
            self.waiting = true;
            let deadline = Instant::now() + self.silence;
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, Stopped::Silent(self.silence))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.waiting = false;
                let received = (buf.filled().len() - before) as u64;
                if !self.meter.take(received) {
                    return Poll::Ready(Err(std::io::Error::other(Stopped::TooLarge)));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => self.wait(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Pending => self.wait(cx).map(Err),
            ready => {
                self.waiting = false;
                // Something sent (a command, a literal): what answers it has a room of its own.
                if matches!(ready, Poll::Ready(Ok(n)) if n > 0) {
                    self.meter.arm_default();
                }
                ready
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.wait(cx).map(Err),
            ready => {
                self.waiting = false;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Short deadlines on real time: what is tested is which side of the deadline a read ends on.
    const SILENCE: Duration = Duration::from_millis(1000);

    #[tokio::test]
    async fn a_silent_peer_ends_the_read_after_the_deadline() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(ours, SILENCE, Meter::new(1 << 20));
        theirs.write_all(b"* OK").await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 4);
        let error = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(Stopped::of(&error), Some(&Stopped::Silent(SILENCE)));
    }

    #[tokio::test]
    async fn every_byte_restarts_the_deadline() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(ours, SILENCE, Meter::new(1 << 20));
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(SILENCE / 5).await;
                theirs.write_all(b"x").await.unwrap();
            }
        });
        let mut buf = [0u8; 1];
        for _ in 0..5 {
            guarded.read_exact(&mut buf).await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_answer_over_its_room_ends_the_read() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let meter = Meter::new(1 << 20);
        let mut guarded = Guarded::new(ours, Duration::from_secs(60), meter.clone());
        meter.arm(10);
        theirs.write_all(&[b'a'; 8]).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 8);
        theirs.write_all(&[b'a'; 8]).await.unwrap();
        let error = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(Stopped::of(&error), Some(&Stopped::TooLarge));
        // Armed again for the next answer, it reads on.
        meter.arm(100);
        theirs.write_all(&[b'a'; 8]).await.unwrap();
        assert!(guarded.read(&mut buf).await.is_ok());
    }

    #[tokio::test]
    async fn a_command_sent_gives_its_answer_the_default_room_again() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let meter = Meter::new(1 << 20);
        let mut guarded = Guarded::new(ours, Duration::from_secs(60), meter.clone());
        meter.arm(4);
        guarded.write_all(b"a NOOP\r\n").await.unwrap();
        theirs.write_all(&[b'a'; 64]).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 64, "the room of the answer before is not this one's");
    }
}
