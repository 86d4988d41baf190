//! Crash points: named places where a test can make the process die at once, as
//! `kill -9` would, to check that the next start finishes what was cut short. They
//! exist only in a build with the `crash-points` feature (the tests' build), set with
//! `FAILPOINTS=<name>=return` (the `fail` crate); elsewhere [`point`] is nothing.

/// After a claim of due runs to poll, before any is polled.
pub const AFTER_CLAIM: &str = "after-claim";
/// After Tailer started a launched run, before the bot noted the run.
pub const AFTER_TAILER_LAUNCH: &str = "after-tailer-launch";
/// After Tailer answered a write, before its outcome is noted.
pub const AFTER_TAILER_WRITE: &str = "after-tailer-write";
/// After Slack accepted a post, before it is marked sent.
pub const AFTER_SLACK_POST: &str = "after-slack-post";
/// After a timer's re-enable was made, before the timer is recorded as done.
pub const AFTER_TIMER_FIRED: &str = "after-timer-fired";
/// After a confirmation was marked confirmed, before its write starts.
pub const AFTER_CONFIRMATION: &str = "after-confirmation";

/// Every crash point, for the tests that visit each.
pub const ALL: [&str; 6] = [AFTER_CLAIM, AFTER_TAILER_LAUNCH, AFTER_TAILER_WRITE, AFTER_SLACK_POST, AFTER_TIMER_FIRED, AFTER_CONFIRMATION];

/// Dies here when the crash point `name` is set.
#[cfg(feature = "crash-points")]
pub fn point(name: &'static str) {
    fail::fail_point!(name, |_| {
        eprintln!("crash point {name}: dying here");
        std::process::abort()
    });
}

/// Dies here when the crash point `name` is set (never, in this build).
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_name: &'static str) {}

/// Reads `FAILPOINTS` once, at start (tests' build only).
pub fn setup() {
    #[cfg(feature = "crash-points")]
    std::mem::forget(fail::FailScenario::setup());
}
