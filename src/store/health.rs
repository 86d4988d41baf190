//! Whether the store takes writes, as the bot's own work finds it. A probe that writes
//! one row can succeed on a full disk (SQLite reuses the room its journal already has)
//! while the work that needs room fails; so readiness also asks what the work found.
//! Every failed write of the work (a request's record, a claim, an outcome) is noted
//! here, and so is every write that changed something. The store is *failing* while
//! its last such write failed, for at most [`FAILING_FOR`] after that failure: the
//! loops that back off keep trying, and refresh it while the failure lasts; once they
//! succeed, or no work has failed for that long, it is ready again.
//!
//! The loops read it too: while it fails, they wait with a growing pause (see
//! [`Backoff`]) instead of trying again at once, and say so once per cause.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long a failed write keeps the store *failing* without a newer one.
pub const FAILING_FOR: Duration = Duration::from_secs(30);

/// The first pause of a loop after a store failure; it doubles up to [`BACKOFF_CAP`].
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest pause of a loop while the store fails: short enough that the bot
/// recovers by itself soon after the store does.
pub const BACKOFF_CAP: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct State {
    /// When the last write that changed something succeeded.
    wrote: Option<Instant>,
    /// When the last write failed, and why.
    failed: Option<(Instant, String)>,
}

/// The outcome of the bot's own writes. Shared by every clone of the store.
#[derive(Debug, Default)]
pub struct WriteHealth {
    state: Mutex<State>,
}

impl WriteHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Two instants and a text: nothing a panic could leave half-written.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A write of the work changed something.
    pub fn wrote(&self) {
        self.lock().wrote = Some(Instant::now());
    }

    /// A write of the work failed for `cause`.
    pub fn failed(&self, cause: &impl std::fmt::Display) {
        self.lock().failed = Some((Instant::now(), cause.to_string()));
    }

    /// Why the store is failing now, or `None` while it takes writes.
    pub fn failing(&self) -> Option<String> {
        let state = self.lock();
        let (at, cause) = state.failed.as_ref()?;
        let newer_write = state.wrote.is_some_and(|wrote| wrote > *at);
        (!newer_write && at.elapsed() < FAILING_FOR).then(|| cause.clone())
    }
}

/// A loop's pause while the store fails: [`BACKOFF_FIRST`], doubled each pass that
/// finds it failing, at most [`BACKOFF_CAP`]; back to nothing at the first pass that
/// finds it well.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The pause after a pass: `None` when the store is well (the loop keeps its own
    /// pace), else how long to wait.
    pub fn after_pass(&mut self, health: &WriteHealth) -> Option<Duration> {
        if health.failing().is_none() {
            self.failures = 0;
            return None;
        }
        let pause = BACKOFF_FIRST.saturating_mul(1 << self.failures.min(16)).min(BACKOFF_CAP);
        self.failures = self.failures.saturating_add(1);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failed_write_makes_the_store_failing_until_a_write_succeeds() {
        let health = WriteHealth::default();
        assert_eq!(health.failing(), None);
        health.failed(&"database or disk is full");
        assert_eq!(health.failing().as_deref(), Some("database or disk is full"));
        tokio::time::advance(Duration::from_millis(10)).await;
        health.wrote();
        assert_eq!(health.failing(), None, "a newer write that changed something");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_no_newer_one_refreshes_stops_counting_after_a_while() {
        let health = WriteHealth::default();
        health.failed(&"disk I/O error");
        tokio::time::advance(FAILING_FOR - Duration::from_secs(1)).await;
        assert!(health.failing().is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(health.failing(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_doubles_up_to_its_cap_and_ends_when_the_store_is_well() {
        let (health, mut backoff) = (WriteHealth::default(), Backoff::default());
        assert_eq!(backoff.after_pass(&health), None);
        health.failed(&"full");
        let pauses: Vec<u64> = (0..6).map(|_| backoff.after_pass(&health).unwrap().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 10, 10]);
        tokio::time::advance(Duration::from_millis(1)).await;
        health.wrote();
        assert_eq!(backoff.after_pass(&health), None);
        health.failed(&"full");
        assert_eq!(backoff.after_pass(&health), Some(BACKOFF_FIRST), "a new failure starts from the first pause");
    }
}
