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
use crate::outbox::{Delivery, Outbox, next_wait};
use crate::shared::Core;
use crate::store::{Backoff, Store};
use crate::watch::{SubscriptionPoller, Timers, Watcher};

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
    pub timers: Timers,
    pub delivery: Delivery,
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
    pub fn new(core: &Core, bot: Arc<Bot>) -> Arc<Workers> {
        Arc::new(Workers {
            watcher: Watcher::new(core),
            subscriptions: SubscriptionPoller::new(core),
            timers: Timers::new(core),
            delivery: Delivery::new(core.outbox.clone(), core.stats.clone()),
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

    /// The subscription poll when it is due, by whichever replica holds its lease;
    /// returns when it is next due (ms).
    async fn subscriptions_pass(&self) -> i64 {
        let now = self.clock.now_ms();
        let due = self.subscriptions_due.load(Ordering::Relaxed);
        if now < due {
            return due;
        }
        match self.store.hold_lease(SUBSCRIPTIONS_LEASE, now).await {
            Ok(true) => {
                self.subscriptions.run_once().await;
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

    /// Starts the loops. `stop` ends the pollers at once; `drain` ends the outbox once it
    /// is empty (or at once, when it is cancelled too).
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: CancellationToken, drain: CancellationToken) {
        let w = self.clone();
        let s = stop.clone();
        tracker.spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                // A full pass leaves more due: the next one starts at once.
                if !s.is_cancelled() && w.watcher.run_once().await >= w.watcher.batch() {
                    continue;
                }
                // While the store fails, a pause that grows: what is due stays due.
                let wait = match backoff.after_pass(w.store.health()) {
                    Some(pause) => pause,
                    None => next_wait(w.clock.now_ms(), w.store.next_watch_due().await.ok().flatten(), TICK),
                };
                tokio::select! {
                    () = s.cancelled() => break,
                    () = w.watch_wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            tracing::info!("watcher stopped");
        });
        let w = self.clone();
        let s = stop.clone();
        tracker.spawn(async move {
            loop {
                let due = w.subscriptions_pass().await;
                let wait = Duration::from_millis(due.saturating_sub(w.clock.now_ms()).max(1) as u64);
                tokio::select! {
                    () = s.cancelled() => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            tracing::info!("subscription poller stopped");
        });
        let w = self.clone();
        let s = stop.clone();
        tracker.spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                w.housekeeping_pass().await;
                let wait = backoff.after_pass(w.store.health()).unwrap_or(TICK);
                tokio::select! {
                    () = s.cancelled() => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            tracing::info!("timers stopped");
        });
        let w = self.clone();
        let s = stop.clone();
        tracker.spawn(async move {
            // Claims live while this replica does: renewed three times per lease.
            let every = w.store.lease() / 3;
            loop {
                tokio::select! {
                    () = s.cancelled() => break,
                    () = tokio::time::sleep(every) => {}
                }
                w.renew_claims().await;
            }
        });
        let w = self.clone();
        tracker.spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                w.delivery.run_once().await;
                let next = w.store.outbox_next_due().await.ok().flatten();
                if drain.is_cancelled() && next.is_none() {
                    break;
                }
                let pause = backoff.after_pass(w.store.health());
                if drain.is_cancelled() && pause.is_some() {
                    // Draining, and the store cannot record what is sent: what is left
                    // stays queued for the next start.
                    tracing::warn!("the store fails: the outbox stops without draining; what is queued goes out at the next start");
                    break;
                }
                let wait = pause.unwrap_or_else(|| next_wait(w.clock.now_ms(), next, TICK));
                tokio::select! {
                    () = drain.cancelled(), if !drain.is_cancelled() => {}
                    () = w.outbox.woken() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            tracing::info!("outbox flushed and stopped");
        });
    }
}
