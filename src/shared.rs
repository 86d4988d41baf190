//! The parts the request handlers and the background workers share, built once at start
//! from the configuration: each handler and worker takes from [`Core`] what it needs, and
//! nothing holds the whole of it.

use std::num::NonZeroU32;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::chat::Surface;
use crate::clock::SharedClock;
use crate::config::LiveConfig;
use crate::outbox::{Outbox, Sender};
use crate::stats::Stats;
use crate::store::Store;
use crate::tailer::TailerClient;

/// The background work's ceiling on requests to Tailer (`max_requests_per_second`).
pub type TailerPace = crate::tailer::Pace;

/// What is built once and shared.
#[derive(Clone)]
pub struct Core {
    /// The configuration in force (catalog, rules, settings), replaced whole by a reload:
    /// each request and each background pass takes one snapshot of it and keeps to it.
    pub config: Arc<LiveConfig>,
    /// What must survive a restart.
    pub store: Store,
    /// The Tailer API.
    pub tailer: TailerClient,
    /// The chat surface: what the bot asks of it beyond queued messages.
    pub surface: Arc<dyn Surface>,
    /// The wall clock (injected in tests).
    pub clock: SharedClock,
    /// What the doctor reports about the background work.
    pub stats: Arc<Stats>,
    /// The one way out for what the bot says later.
    pub outbox: Outbox,
    /// The ceiling on requests to Tailer, kept by the client for every call (commands,
    /// Home tabs, the watcher, the subscription poller): evenly spaced, no burst on top,
    /// so never more than the ceiling in any second.
    pub tailer_pace: Arc<TailerPace>,
    /// Wakes the watcher when a run starts being watched.
    pub watch_wake: Arc<Notify>,
}

impl Core {
    pub fn new<S: Surface + Sender>(config: Arc<LiveConfig>, tailer: TailerClient, chat: Arc<S>, store: Store, clock: SharedClock) -> Core {
        // Bound at start: a reload names a change of it and keeps this one.
        let rate = NonZeroU32::new(config.config().tailer.max_requests_per_second).unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::per_second(rate).allow_burst(NonZeroU32::MIN);
        let tailer_pace = Arc::new(governor::RateLimiter::direct(quota));
        Core {
            outbox: Outbox::new(Arc::new(store.clone()), chat.clone(), clock.clone()),
            config,
            store,
            tailer: tailer.with_clock(clock.clone()).with_pace(tailer_pace.clone()),
            surface: chat,
            clock,
            stats: Arc::default(),
            tailer_pace,
            watch_wake: Arc::new(Notify::new()),
        }
    }
}
