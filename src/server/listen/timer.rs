//! hyper's header-read timer, which also closes a kept-alive connection that stays quiet.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Instant;

use super::activity::Activity;
use super::{IDLE_CHECK, KEEP_ALIVE_IDLE};

/// hyper's header-read timer, taught to tell a kept-alive connection that is merely
/// quiet (nothing read since the timer was set, after at least one request) from one
/// that started a request and stalls. hyper sets the timer each time it waits for a
/// request's head; that is the only timer of an HTTP/1 server.
pub(super) struct HeaderTimer {
    pub(super) activity: Arc<Activity>,
    pub(super) timeout: Duration,
}

impl hyper::rt::Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = Instant::from_std(deadline);
        Box::pin(HeaderSleep {
            activity: self.activity.clone(),
            armed_bytes: self.activity.bytes_read.load(Ordering::Relaxed),
            quiet_until: None,
            timeout: self.timeout,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            armed_at: deadline.checked_sub(self.timeout).unwrap_or(deadline),
        })
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

struct HeaderSleep {
    activity: Arc<Activity>,
    /// Bytes read when the timer was set.
    armed_bytes: u64,
    armed_at: Instant,
    /// Set while a kept-alive connection is quiet: when it is closed for that.
    quiet_until: Option<Instant>,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::rt::Sleep for HeaderSleep {}

impl Future for HeaderSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            let now = Instant::now();
            let quiet = self.activity.bytes_read.load(Ordering::Relaxed) == self.armed_bytes;
            let served = self.activity.requests.load(Ordering::Relaxed) > 0;
            let next = match self.quiet_until {
                // The head did not come in time: a new connection that sent nothing or
                // part of a request, or a later request begun and stalled.
                None if !(quiet && served) => return Poll::Ready(()),
                None => {
                    let until = self.armed_at + KEEP_ALIVE_IDLE;
                    self.quiet_until = Some(until);
                    until.min(now + IDLE_CHECK)
                }
                Some(until) if quiet => {
                    if now >= until {
                        self.activity.idle_closed.store(true, Ordering::Relaxed);
                        return Poll::Ready(());
                    }
                    until.min(now + IDLE_CHECK)
                }
                // A request began while the connection was quiet: its head has the
                // timeout from now (give or take one check).
                Some(_) => {
                    self.quiet_until = None;
                    self.armed_bytes = u64::MAX;
                    now + self.timeout
                }
            };
            self.sleep.as_mut().reset(next);
        }
    }
}
