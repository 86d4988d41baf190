//! Serving HTTP/1.1 with limits a public endpoint needs: a connection whose request
//! headers do not arrive within [`HEADER_READ_TIMEOUT`] of its first byte (or of its
//! opening) is closed (hyper's timer; the body's own limit is the edge's); a kept-alive
//! connection that sends nothing after a request is kept [`KEEP_ALIVE_IDLE`]; and at most
//! `max_connections` are served at once. Slots are for work, not for idle sockets: when
//! every slot is taken, the connection that has been quiet the longest (kept alive after
//! a request, or opened and silent) is closed to make room, so that idle connections,
//! however many, never keep a signed command from Slack waiting. Only when every slot is
//! busy with a request do new connections wait in the kernel's queue. What happens is
//! logged once per cause (see [`crate::telemetry::first_or_summary`]), never once per
//! connection, and counted at `/metrics`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod activity;
mod timer;

use activity::{Activity, Counted};
use hyper_util::rt::TokioIo;
use timer::HeaderTimer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a connection may take to send a request's headers, from its opening or from
/// the first byte of a later request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may stay quiet after a request before it is closed.
/// Short: a quiet connection holds a slot, and Slack opens new ones as it needs them.
/// (When the slots run out, the quietest is closed before that anyway.)
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);
/// How often a quiet kept-alive connection is looked at, to start the header clock when
/// a request begins.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// A connection quiet for less than this is not closed to make room: it may have just
/// been opened by a client about to send its request.
const MIN_QUIET: Duration = Duration::from_millis(250);
pub use crate::config::DEFAULT_MAX_CONNECTIONS;

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { header_read_timeout: HEADER_READ_TIMEOUT, max_connections: DEFAULT_MAX_CONNECTIONS }
    }
}

/// The open connections, for finding the quietest when the slots run out.
#[derive(Default)]
struct Open {
    next: AtomicU64,
    connections: Mutex<HashMap<u64, (Arc<Activity>, CancellationToken)>>,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Arc<Activity>, CancellationToken)>> {
        // The map holds no invariant a panic could break half-way.
        self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, activity: Arc<Activity>, close: CancellationToken) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (activity, close));
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Asks the connection that has been quiet the longest (none of its requests on its
    /// way, nothing read since its last answer) to close; false when every connection
    /// is busy with a request.
    fn close_quietest(&self, now: Instant) -> bool {
        let connections = self.lock();
        let quietest = connections
            .values()
            .filter(|(activity, close)| !close.is_cancelled() && activity.is_quiet() && activity.quiet_for(now) >= MIN_QUIET)
            .min_by_key(|(activity, _)| activity.quiet_from());
        match quietest {
            Some((_, close)) => {
                close.cancel();
                true
            }
            None => false,
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled; then accepts no more, lets the
/// requests in flight finish and closes idle connections, and returns when every
/// connection is closed (the caller bounds that wait).
pub async fn serve(listener: TcpListener, app: axum::Router, limits: Limits, stop: CancellationToken) {
    let connections = TaskTracker::new();
    let open = Arc::new(Open::default());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let started = Instant::now();
    'accepting: loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was taken:
                    // wait a little rather than spin.
                    if let Some(repeats) = crate::telemetry::first_or_summary("accept_failed") {
                        tracing::warn!(cause = "accept_failed", %error, repeats, "cannot accept a connection");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break 'accepting,
        };
        let permit = loop {
            if let Ok(permit) = permits.clone().try_acquire_owned() {
                break permit;
            }
            // Every slot is taken: the quietest connection makes room for the one just
            // accepted; when all are working (or just opened), it waits for the first
            // to finish, and the quiet ones are looked at again.
            let made_room = open.close_quietest(Instant::now());
            let cause = if made_room { "idle_connection_closed_for_room" } else { "connection_cap" };
            if let Some(repeats) = crate::telemetry::first_or_summary(cause) {
                if made_room {
                    tracing::info!(
                        cause,
                        max_connections = limits.max_connections,
                        repeats,
                        "every connection slot is taken (MAX_CONNECTIONS): closed the quietest connection to make room"
                    );
                } else {
                    tracing::warn!(
                        cause,
                        max_connections = limits.max_connections,
                        repeats,
                        "every connection slot is taken (MAX_CONNECTIONS): new connections wait until one closes"
                    );
                }
            }
            tokio::select! {
                permit = permits.clone().acquire_owned() => break permit.expect("the semaphore is never closed"),
                () = tokio::time::sleep(MIN_QUIET), if !made_room => {}
                () = stop.cancelled() => break 'accepting,
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new(started));
        let close = stop.child_token();
        let id = open.add(activity.clone(), close.clone());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(HeaderTimer { activity: activity.clone(), timeout: limits.header_read_timeout })
            .header_read_timeout(limits.header_read_timeout);
        let service = {
            let (app, activity) = (app.clone(), activity.clone());
            hyper::service::service_fn(move |request| {
                let activity = activity.clone();
                activity.requests.fetch_add(1, Ordering::Relaxed);
                activity.in_flight.fetch_add(1, Ordering::SeqCst);
                let answered = tower::ServiceExt::oneshot(app.clone(), request);
                async move {
                    let response = answered.await;
                    activity.answered();
                    response
                }
            })
        };
        let open = open.clone();
        connections.spawn(async move {
            let _open = OpenConnection::new(permit);
            let connection = http.serve_connection(TokioIo::new(Counted { inner: stream, activity: activity.clone() }), service);
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                // Shutdown, or room needed: a request on its way is finished first.
                () = close.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            open.remove(id);
            if let Err(error) = result {
                closed_with(&error, activity.idle_closed.load(Ordering::Relaxed));
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// A connection being served: counted in the gauge, its slot given back when it ends,
/// however it ends.
struct OpenConnection {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(permit: tokio::sync::OwnedSemaphorePermit) -> OpenConnection {
        metrics::gauge!("tailerbot_http_connections").increment(1.0);
        OpenConnection { _permit: permit }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("tailerbot_http_connections").decrement(1.0);
    }
}

/// Logs why a connection ended in error, once per cause.
fn closed_with(error: &hyper::Error, idle: bool) {
    if idle && error.is_timeout() {
        tracing::debug!("closed a kept-alive connection that stayed quiet");
        return;
    }
    let cause = if error.is_timeout() {
        "headers_too_slow"
    } else if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        // The client went away: nothing to tell.
        return;
    } else if error.is_parse() || error.is_parse_status() {
        "unparsable_request"
    } else {
        "connection_error"
    };
    if let Some(repeats) = crate::telemetry::first_or_summary(cause) {
        match cause {
            "headers_too_slow" => tracing::warn!(
                cause,
                repeats,
                timeout_secs = HEADER_READ_TIMEOUT.as_secs(),
                "closed a connection whose request headers did not arrive in time"
            ),
            _ => tracing::info!(cause, %error, repeats, "a connection ended in error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// A server on a free port with the default limits; the connection to it.
    async fn server() -> (TcpStream, CancellationToken) {
        let (addr, stop) = server_of(Limits::default(), Arc::new(tokio::sync::Notify::new())).await;
        (TcpStream::connect(addr).await.unwrap(), stop)
    }

    /// A server with these limits: `/` answers "ok" at once, `/slow` answers "ok" when
    /// `release` is notified.
    async fn server_of(limits: Limits, release: Arc<tokio::sync::Notify>) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" })).route(
            "/slow",
            axum::routing::get(move || {
                let release = release.clone();
                async move {
                    release.notified().await;
                    "ok"
                }
            }),
        );
        tokio::spawn(serve(listener, app, limits, stop.clone()));
        (addr, stop)
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_slot_is_taken_the_quietest_connection_makes_room() {
        let limits = Limits { max_connections: 2, ..Limits::default() };
        let (addr, _stop) = server_of(limits, Arc::new(tokio::sync::Notify::new())).await;
        let mut oldest = TcpStream::connect(addr).await.unwrap();
        one_request(&mut oldest).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut newer = TcpStream::connect(addr).await.unwrap();
        one_request(&mut newer).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), one_request(&mut third))
            .await
            .expect("a new request is answered at once while the slots are held by quiet connections");
        assert!(closed_within(&mut oldest, Duration::from_secs(1)).await, "the quietest connection made room");
        assert!(!closed_within(&mut newer, Duration::from_secs(1)).await, "only one connection is closed for one new one");
        one_request(&mut newer).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_whose_request_is_on_its_way_is_never_closed_to_make_room() {
        let release = Arc::new(tokio::sync::Notify::new());
        let limits = Limits { max_connections: 1, ..Limits::default() };
        let (addr, _stop) = server_of(limits, release.clone()).await;
        let mut working = TcpStream::connect(addr).await.unwrap();
        working.write_all(b"GET /slow HTTP/1.1\r\nHost: bot\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        waiting.write_all(b"GET / HTTP/1.1\r\nHost: bot\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(
            tokio::time::timeout(Duration::from_secs(5), waiting.read(&mut buf)).await.is_err(),
            "the one slot is working: the new connection waits"
        );
        release.notify_one();
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok") {
            let n = working.read(&mut buf).await.unwrap();
            assert!(n > 0, "the working connection was closed before its answer");
            answer.extend_from_slice(&buf[..n]);
        }
        // Quiet now: it makes room for the one waiting, which is answered.
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok") {
            let n =
                tokio::time::timeout(Duration::from_secs(2), waiting.read(&mut buf)).await.expect("answered once room was made").unwrap();
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_opened_and_silent_makes_room_too() {
        let limits = Limits { max_connections: 1, ..Limits::default() };
        let (addr, _stop) = server_of(limits, Arc::new(tokio::sync::Notify::new())).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut real = TcpStream::connect(addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), one_request(&mut real)).await.expect("answered at once");
        assert!(closed_within(&mut silent, Duration::from_secs(1)).await, "the silent connection made room");
    }

    /// Sends one GET and reads its whole answer (the body is "ok").
    async fn one_request(stream: &mut TcpStream) {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: bot\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok") {
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&buf[..n]);
        }
    }

    /// Whether the server closes the connection within `limit` (reads until EOF).
    async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
        let mut buf = [0u8; 512];
        tokio::time::timeout(limit, async { while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {} }).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
        let (mut stream, _stop) = server().await;
        assert!(!closed_within(&mut stream, HEADER_READ_TIMEOUT - Duration::from_secs(1)).await);
        assert!(closed_within(&mut stream, Duration::from_secs(2)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_kept_alive_connection_stays_open_as_proxies_expect_then_is_closed() {
        let (mut stream, _stop) = server().await;
        one_request(&mut stream).await;
        assert!(!closed_within(&mut stream, KEEP_ALIVE_IDLE - Duration::from_secs(5)).await, "kept while quiet");
        one_request(&mut stream).await;
        assert!(closed_within(&mut stream, KEEP_ALIVE_IDLE + IDLE_CHECK + Duration::from_secs(1)).await, "closed once idle too long");
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_request_that_stalls_is_closed_after_the_header_timeout() {
        let (mut stream, _stop) = server().await;
        one_request(&mut stream).await;
        stream.write_all(b"GET / HTTP/1.1\r\nHost: b").await.unwrap();
        assert!(
            closed_within(&mut stream, HEADER_READ_TIMEOUT + IDLE_CHECK + Duration::from_secs(1)).await,
            "a stalled head on a kept-alive connection gets the header timeout, not the idle allowance"
        );
    }
}
