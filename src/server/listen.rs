//! Serving HTTP/1.1 with limits a public endpoint needs: a connection whose request
//! headers do not arrive within [`HEADER_READ_TIMEOUT`] is closed (hyper's timer; the
//! body's own limit is the edge's), and at most `max_connections` are served at once:
//! past it, new connections wait in the kernel's queue until one closes. What happens is
//! logged once per cause (see [`crate::telemetry::first_or_summary`]), never once per
//! connection, and counted at `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a connection may take to send a request's headers (the first, or the next
/// on a kept-alive connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, unless `MAX_CONNECTIONS` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

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

/// Serves `app` on `listener` until `stop` is cancelled; then accepts no more, lets the
/// requests in flight finish and closes idle connections, and returns when every
/// connection is closed (the caller bounds that wait).
pub async fn serve(listener: TcpListener, app: axum::Router, limits: Limits, stop: CancellationToken) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(repeats) = crate::telemetry::first_or_summary("connection_cap") {
                    tracing::warn!(
                        cause = "connection_cap",
                        max_connections = limits.max_connections,
                        repeats,
                        "every connection slot is taken (MAX_CONNECTIONS): new connections wait until one closes"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    () = stop.cancelled() => break,
                }
            }
        };
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
            () = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let http = http.clone();
        let service = TowerToHyperService::new(app.clone());
        metrics::gauge!("tailerbot_http_connections").increment(1.0);
        tokio::spawn(async move {
            let connection = http.serve_connection(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                closed_with(&error);
            }
            metrics::gauge!("tailerbot_http_connections").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Logs why a connection ended in error, once per cause.
fn closed_with(error: &hyper::Error) {
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
