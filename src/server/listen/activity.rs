//! What a connection did (bytes read, requests, answers), for its header timer and for
//! the choice of the quietest connection to close when every slot is taken.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a connection did, for its header timer and for the choice of the quietest.
pub(super) struct Activity {
    /// When the server started: the origin of the times below.
    pub(super) origin: Instant,
    pub(super) bytes_read: AtomicU64,
    pub(super) requests: AtomicU64,
    /// Requests whose answer is not yet given.
    pub(super) in_flight: AtomicU64,
    /// Bytes read when the last answer was given (0 before any).
    pub(super) bytes_at_answer: AtomicU64,
    /// Milliseconds from `origin` to the opening or to the last answer.
    pub(super) quiet_from_ms: AtomicU64,
    /// Closed for staying quiet past [`KEEP_ALIVE_IDLE`] (not an attack).
    pub(super) idle_closed: AtomicBool,
}

impl Activity {
    pub(super) fn new(origin: Instant) -> Activity {
        Activity {
            origin,
            bytes_read: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            bytes_at_answer: AtomicU64::new(0),
            quiet_from_ms: AtomicU64::new(Instant::now().duration_since(origin).as_millis() as u64),
            idle_closed: AtomicBool::new(false),
        }
    }

    /// A request's answer is given.
    pub(super) fn answered(&self) {
        self.bytes_at_answer.store(self.bytes_read.load(Ordering::SeqCst), Ordering::SeqCst);
        self.quiet_from_ms.store(Instant::now().duration_since(self.origin).as_millis() as u64, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// No request on its way and nothing read since the last answer (or since the
    /// opening): closing it loses nothing.
    pub(super) fn is_quiet(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.bytes_read.load(Ordering::SeqCst) == self.bytes_at_answer.load(Ordering::SeqCst)
    }

    /// How long it has been quiet.
    pub(super) fn quiet_for(&self, now: Instant) -> Duration {
        now.duration_since(self.origin).saturating_sub(Duration::from_millis(self.quiet_from()))
    }

    /// Since when it has been quiet (the smallest is the quietest).
    pub(super) fn quiet_from(&self) -> u64 {
        self.quiet_from_ms.load(Ordering::SeqCst)
    }
}

/// The TCP stream, counting what it reads.
pub(super) struct Counted {
    pub(super) inner: TcpStream,
    pub(super) activity: Arc<Activity>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.activity.bytes_read.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
