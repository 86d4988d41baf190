//! The background work of `serve`: the watcher, the subscription poller, the timers,
//! the recovery of interrupted writes and launches, the renewal of claims and the outbox worker.
//! [`Workers::spawn`] runs them as loops that stop on the shutdown signal, the outbox
//! last, after it has flushed what is queued (within a deadline); each loop's body is
//! one function, and [`Workers::run_once`] runs every body once: what tests drive with
//! a paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bot::Bot;
use crate::clock::SharedClock;
use crate::commands::writes::recovery::{Launches, Writes};
use crate::outbox::{Drain, Outbox};
use crate::shared::Core;
use crate::store::{Backoff, Store};
use crate::watch::{DigestPoster, ExpectationChecker, SubscriptionPoller, Timers, Watcher};

/// The longest sleep of a loop between two passes.
const TICK: Duration = Duration::from_secs(1);
/// Passes of the timer loop between two prunings of the store (about ten minutes).
const MAINTENANCE_EVERY: u64 = 600;
/// The named lease of the subscription poll: one replica polls at a time.
const SUBSCRIPTIONS_LEASE: &str = "subscriptions";

/// The workers of one bot.
pub struct Workers {
    pub watcher: Watcher,
    pub subscriptions: SubscriptionPoller,
    pub expectations: ExpectationChecker,
    pub digests: DigestPoster,
    pub timers: Timers,
    pub delivery: Arc<dyn Drain>,
    pub launches: Launches,
    pub writes: Writes,
    store: Store,
    clock: SharedClock,
    outbox: Outbox,
    watch_wake: Arc<tokio::sync::Notify>,
    /// The configuration in force: the subscription poll's period is read at each pass.
    config: Arc<crate::config::LiveConfig>,
    /// When the subscription poll is next due (ms since the epoch; 0: at once, which
    /// catches up at start on what ended while the bot was down).
    subscriptions_due: AtomicI64,
    /// Passes of the housekeeping loop, for its occasional pruning.
    passes: AtomicU64,
}

impl Workers {
    /// The workers over the shared parts; the recovery of interrupted writes and
    /// launches finishes them through the `bot`'s own write path.
    pub fn new(core: &Core, bot: Arc<Bot>, delivery: Arc<dyn Drain>) -> Arc<Workers> {
        Arc::new(Workers {
            watcher: Watcher::new(core),
            subscriptions: SubscriptionPoller::new(core),
            expectations: ExpectationChecker::new(core),
            digests: DigestPoster::new(core),
            timers: Timers::new(core),
            delivery,
            launches: Launches::new(bot.clone()),
            writes: Writes::new(bot),
            store: core.store.clone(),
            clock: core.clock.clone(),
            outbox: core.outbox.clone(),
            watch_wake: core.watch_wake.clone(),
            config: core.config.clone(),
            subscriptions_due: AtomicI64::new(0),
            passes: AtomicU64::new(0),
        })
    }

    /// One iteration of every loop that [`Workers::spawn`] runs, through the same
    /// functions, the outbox last (what the others queued goes out): what tests drive
    /// with a paused clock.
    pub async fn run_once(&self) {
        self.renew_claims().await;
        self.housekeeping_pass().await;
        self.subscriptions_pass().await;
        self.watcher.run_once().await;
        self.delivery.run_once().await;
    }

    /// Keeps this replica's claims alive.
    async fn renew_claims(&self) {
        let renewed = self.store.renew_leases(self.clock.now_ms()).await;
        if let Err(error) = self.store.noted(renewed, |renewed| *renewed > 0) {
            if let Some(repeats) = crate::telemetry::store_failure("claims", &error) {
                tracing::warn!(%error, repeats, "cannot renew this replica's claims; another replica may take the work over");
            }
        }
    }

    /// Interrupted writes and launches, due timers, and now and then the pruning of the
    /// store.
    async fn housekeeping_pass(&self) {
        self.writes.run_once().await;
        self.launches.run_once().await;
        self.timers.run_once().await;
        if self.passes.fetch_add(1, Ordering::Relaxed) % MAINTENANCE_EVERY == 0 {
            self.maintain().await;
        }
    }

    /// The subscription poll, the expectations' check and the digests when they are due, by
    /// whichever replica holds their lease; returns when they are next due (ms).
    async fn subscriptions_pass(&self) -> i64 {
        let now = self.clock.now_ms();
        let due = self.subscriptions_due.load(Ordering::Relaxed);
        if now < due {
            return due;
        }
        match self.store.hold_lease(SUBSCRIPTIONS_LEASE, now).await {
            Ok(true) => {
                self.subscriptions.run_once().await;
                self.expectations.run_once().await;
                self.digests.run_once().await;
            }
            Ok(false) => tracing::debug!("another replica polls the subscriptions"),
            Err(error) => tracing::warn!(%error, "cannot take the subscription poll; trying again later"),
        }
        let next = now + self.config.snapshot().config.watch.subscription_poll.as_millis() as i64;
        self.subscriptions_due.store(next, Ordering::Relaxed);
        next
    }

    /// Forgets what no longer matters: request ids older than a day (Slack never replays
    /// that late) and messages delivered more than a day ago.
    pub async fn maintain(&self) {
        let day_ago = self.clock.now_ms() - 24 * 3_600_000;
        match (self.store.forget_requests_before(day_ago).await, self.store.prune_outbox(day_ago).await) {
            (Ok(requests), Ok(messages)) => tracing::debug!(requests, messages, "pruned the store"),
            (Err(error), _) | (_, Err(error)) => tracing::warn!(%error, "pruning the store failed; trying again later"),
        }
    }

    /// Starts the loops, each a body of [`run_loop`]. `stop` ends the pollers at once;
    /// `drain` ends the outbox once it is empty (or at once, when it is cancelled too).
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: CancellationToken, drain: CancellationToken) {
        let w = self.clone();
        let each = Loop {
            name: "watcher",
            store: self.store.clone(),
            stop: stop.clone(),
            ends: Ends::AtStop,
            wake: Some(self.watch_wake.clone()),
        };
        tracker.spawn(run_loop(each, move |stopping| {
            let w = w.clone();
            async move {
                // A full pass leaves more due: the next one starts at once.
                if w.watcher.run_once().await >= w.watcher.batch() && !stopping {
                    return Next::Now;
                }
                Next::At(w.clock.now_ms(), w.store.next_watch_due().await.ok().flatten())
            }
        }));
        let w = self.clone();
        let each = Loop { name: "subscription poller", store: self.store.clone(), stop: stop.clone(), ends: Ends::AtStop, wake: None };
        tracker.spawn(run_loop(each, move |_| {
            let w = w.clone();
            async move {
                let due = w.subscriptions_pass().await;
                Next::After(Duration::from_millis(due.saturating_sub(w.clock.now_ms()).max(1) as u64))
            }
        }));
        let w = self.clone();
        let each = Loop { name: "timers", store: self.store.clone(), stop: stop.clone(), ends: Ends::AtStop, wake: None };
        tracker.spawn(run_loop(each, move |_| {
            let w = w.clone();
            async move {
                w.housekeeping_pass().await;
                Next::After(TICK)
            }
        }));
        let w = self.clone();
        let each = Loop { name: "claim renewal", store: self.store.clone(), stop, ends: Ends::AtStop, wake: None };
        tracker.spawn(run_loop(each, move |_| {
            let w = w.clone();
            async move {
                // Claims live while this replica does: renewed three times per lease.
                w.renew_claims().await;
                Next::After(w.store.lease() / 3)
            }
        }));
        let w = self.clone();
        let each =
            Loop { name: "outbox", store: self.store.clone(), stop: drain, ends: Ends::Drained, wake: Some(self.outbox.wake_signal()) };
        tracker.spawn(run_loop(each, move |draining| {
            let w = w.clone();
            async move {
                w.delivery.run_once().await;
                let next = w.store.outbox_next_due().await.ok().flatten();
                if draining && next.is_none() {
                    return Next::Done;
                }
                Next::At(w.clock.now_ms(), next)
            }
        }));
    }
}

/// What a pass of a loop says of the next one.
pub enum Next {
    /// More is due: the next pass at once (unless the loop is stopping).
    Now,
    /// At the time given (ms since the epoch, the first being now), at most a tick away;
    /// a tick when nothing is due.
    At(i64, Option<i64>),
    /// After this long.
    After(Duration),
    /// Nothing is left: the loop ends (the outbox, drained).
    Done,
}

/// How a loop ends.
enum Ends {
    /// As soon as its stop signal comes.
    AtStop,
    /// Once its stop signal has come and a pass finds nothing left (the outbox flushes
    /// what is queued), or at once while the store fails: what is left stays queued
    /// for the next start.
    Drained,
}

/// One background loop.
struct Loop {
    name: &'static str,
    store: Store,
    stop: CancellationToken,
    ends: Ends,
    /// Wakes it before its time (something was queued, a run started being watched).
    wake: Option<Arc<tokio::sync::Notify>>,
}

/// Runs `pass` until the loop ends; `pass` is told whether the loop is stopping. Between
/// passes: the pause the pass asks for, or, while the store fails the bot's writes, a
/// pause that grows (what is due stays due), cut short by the loop's wake signal.
async fn run_loop<F, Fut>(each: Loop, mut pass: F)
where
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = Next>,
{
    let mut backoff = Backoff::default();
    loop {
        let stopping = each.stop.is_cancelled();
        if stopping && matches!(each.ends, Ends::AtStop) {
            break;
        }
        let wait = match pass(stopping).await {
            Next::Done => break,
            Next::Now => continue,
            Next::At(now, due) => next_wait(now, due, TICK),
            Next::After(wait) => wait,
        };
        let wait = match backoff.after_pass(each.store.health()) {
            Some(_) if stopping => {
                tracing::warn!(worker = each.name, "the store fails: stopping without draining; what is queued goes out at the next start");
                break;
            }
            Some(pause) => pause,
            None => wait,
        };
        let woken = async {
            match &each.wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = each.stop.cancelled(), if !stopping => {}
            () = woken => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(worker = each.name, "stopped");
}

/// Waits before the next pass: until the earliest due message, at most `cap`.
pub fn next_wait(now_ms: i64, next_due: Option<i64>, cap: Duration) -> Duration {
    match next_due {
        Some(due) if due <= now_ms => Duration::ZERO,
        Some(due) => Duration::from_millis((due - now_ms) as u64).min(cap),
        None => cap,
    }
}
