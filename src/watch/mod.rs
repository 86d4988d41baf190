//! Following runs and schedules: the watcher polls each watched run and updates its
//! cards, the subscription poller announces the ends of scheduled runs, and the timers
//! re-enable what a timed disable switched off. Each takes from the [`Core`] only what
//! it needs; [`crate::workers`] runs them.
//!
//! [`Core`]: crate::shared::Core

pub mod digest;
pub mod expectations;
mod latest;
pub mod subscriptions;
mod timers;
mod watcher;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::LiveConfig;
use crate::outbox::Outbox;
use crate::shared::Core;
pub use crate::stats::Stats;
use crate::store::Store;
use crate::tailer::TailerClient;
pub use digest::DigestPoster;
pub use expectations::ExpectationChecker;
pub use subscriptions::SubscriptionPoller;
pub use timers::{Timers, thread_reply};
pub use watcher::{Change, Observation, UNKNOWN_RUN_GRACE_MS, Watcher, decide};

/// What the watcher and the subscription poller take from the [`Core`]: both read
/// Tailer under the shared pace, record in the store and queue messages.
pub(crate) struct Polling {
    /// The configuration in force: a pass takes one snapshot when it starts and keeps to
    /// it.
    pub config: Arc<LiveConfig>,
    pub store: Store,
    /// Without retries: the next poll is the retry.
    /// It keeps to the shared ceiling on requests per second.
    pub tailer: TailerClient,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub stats: Arc<Stats>,
}

impl Polling {
    pub fn new(core: &Core) -> Polling {
        Polling {
            config: core.config.clone(),
            store: core.store.clone(),
            tailer: core.tailer.without_retries(),
            outbox: core.outbox.clone(),
            clock: core.clock.clone(),
            stats: core.stats.clone(),
        }
    }
}
