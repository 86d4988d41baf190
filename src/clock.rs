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
        Arc::new(ManualClock {
            unix_millis: AtomicI64::new(seconds * 1000),
        })
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.unix_millis
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.unix_millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The shared handle most components take.
pub type SharedClock = Arc<dyn Clock>;
