//! What every HTTP client of the bot shares: answers read in pieces up to a cap (a
//! 300 MB answer must not cost 300 MB), and no redirect followed (a redirect would take
//! a request, with its token or its answer, somewhere the bot never chose).

use bytes::{Bytes, BytesMut};

/// The default cap on an answer read from Tailer or Slack.
pub const DEFAULT_MAX_ANSWER: usize = 8 * 1024 * 1024;

/// Why an answer was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Larger than the cap (announced by `Content-Length`, or found while reading).
    TooLarge { limit: usize },
    /// The connection broke or timed out while reading.
    Transport(reqwest::Error),
}

/// Reads `response`'s body, giving up as soon as it passes `limit` bytes.
pub async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, ReadError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The first `limit` bytes of `response`'s body (fewer when it is shorter or breaks):
/// enough to say why a call failed, without reading the rest.
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = BytesMut::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    body.freeze()
}

/// A client builder that follows no redirect: a 3xx is an answer like any other.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

/// A size for people: `8 MiB`, `512 KiB`, `100 bytes`.
pub fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Places for calls to one upstream: at most `max_in_flight` on their way at once, at
/// most `max_waiting` more waiting for a place; beyond, none is given (the caller says
/// it is busy, or queues the work durably) instead of piling up connections and memory.
#[derive(Debug)]
pub struct Places {
    places: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiting call until it has its place (or is dropped).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Places {
    pub fn new(max_in_flight: usize, max_waiting: usize) -> Places {
        Places { places: tokio::sync::Semaphore::new(max_in_flight.max(1)), waiting: Default::default(), max_waiting }
    }

    /// A place, at once or after waiting in the queue; none when the queue is full.
    pub async fn enter(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.enter_or_wait(false).await
    }

    /// A place; with `always`, waited for however long the queue (for work that must
    /// not be refused, counted in the queue all the same).
    pub async fn enter_or_wait(&self, always: bool) -> Option<tokio::sync::SemaphorePermit<'_>> {
        use std::sync::atomic::Ordering;
        if let Ok(permit) = self.places.try_acquire() {
            return Some(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting && !always {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let _waiting = Waiting(&self.waiting);
        self.places.acquire().await.ok()
    }

    /// Calls waiting for a place now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }
}
