//! What the doctor reports about the background work: rate limits hit and errors in the
//! last hour, and the last successful poll. Counters only: losing them loses nothing.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

const HOUR_MS: i64 = 3_600_000;

/// Event times of one kind, kept for an hour.
#[derive(Debug, Default)]
struct Window(Mutex<VecDeque<i64>>);

impl Window {
    fn add(&self, at_ms: i64) {
        let mut times = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        times.push_back(at_ms);
        while times.front().is_some_and(|t| *t < at_ms - HOUR_MS) || times.len() > 100_000 {
            times.pop_front();
        }
    }

    fn count_since(&self, since_ms: i64) -> usize {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().filter(|t| **t >= since_ms).count()
    }
}

/// Counters shared by the workers.
#[derive(Debug, Default)]
pub struct Stats {
    slack_rate_limited: Window,
    slack_errors: Window,
    tailer_errors: Window,
    /// Unix ms of the last poll Tailer answered (0: none yet).
    last_poll_ok: AtomicI64,
    /// Messages Slack refused for good.
    undeliverable: AtomicI64,
}

impl Stats {
    pub fn slack_rate_limited(&self, at_ms: i64) {
        self.slack_rate_limited.add(at_ms);
    }

    pub fn slack_error(&self, at_ms: i64) {
        self.slack_errors.add(at_ms);
    }

    pub fn tailer_error(&self, at_ms: i64) {
        self.tailer_errors.add(at_ms);
    }

    pub fn poll_ok(&self, at_ms: i64) {
        self.last_poll_ok.fetch_max(at_ms, Ordering::Relaxed);
    }

    pub fn undeliverable(&self) {
        self.undeliverable.fetch_add(1, Ordering::Relaxed);
    }

    /// `(429s from Slack, Slack errors, Tailer errors)` in the hour before `now_ms`.
    pub fn last_hour(&self, now_ms: i64) -> (usize, usize, usize) {
        let since = now_ms - HOUR_MS;
        (self.slack_rate_limited.count_since(since), self.slack_errors.count_since(since), self.tailer_errors.count_since(since))
    }

    pub fn last_poll_ok(&self) -> Option<i64> {
        Some(self.last_poll_ok.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    pub fn undeliverable_count(&self) -> i64 {
        self.undeliverable.load(Ordering::Relaxed)
    }
}
