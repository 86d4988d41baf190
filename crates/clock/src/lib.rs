//! The wall clock, injected wherever time decides an outcome (signature windows, token
//! lifetimes, confirmation expiry) so that tests can set it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;

    fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// Milliseconds since the epoch: how the store keeps time.
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    unix_millis: AtomicI64,
}

impl ManualClock {
    pub fn at_unix(seconds: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { unix_millis: AtomicI64::new(seconds * 1000) })
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.unix_millis.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.unix_millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The shared handle most components take.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, moved forward on demand: real time passes, and a test can jump
/// ahead (to expire a confirmation) without waiting.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset_millis: AtomicI64,
}

impl AdjustableClock {
    pub fn new() -> Arc<AdjustableClock> {
        Arc::new(AdjustableClock::default())
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.offset_millis.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for AdjustableClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_millis.load(Ordering::SeqCst))
    }
}

/// Wall time that follows tokio's clock: with the clock paused in a test,
/// `tokio::time::advance` moves this one too, so stored times and sleeps agree.
#[derive(Debug)]
pub struct TokioClock {
    wall_at_start: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(wall: DateTime<Utc>) -> Arc<TokioClock> {
        Arc::new(TokioClock { wall_at_start: wall, start: tokio::time::Instant::now() })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().duration_since(self.start);
        self.wall_at_start + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}
