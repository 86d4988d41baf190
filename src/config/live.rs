//! The configuration in force, and the one way it is replaced. A request, a click or a
//! background pass takes one [`Loaded`] snapshot when it starts ([`LiveConfig::snapshot`])
//! and uses only that one to its end: a reload that lands meanwhile is seen by whatever
//! starts after it, never half-way through. The snapshot is an `Arc` held in a
//! `tokio::sync::watch` channel: taking it is a short read lock and a reference count,
//! replacing it is one store, and tests (or the doctor) can wait for a change.
//!
//! Some settings are bound when `serve` starts (the Tailer client's limits and address,
//! the Slack client's `response_url` prefixes, the store's lease): a reload cannot change
//! them. [`restart_only_changes`] names those that differ, and [`keep_restart_only`] puts
//! the running values back, so that the configuration in force says what is in force.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Config;

/// A configuration as loaded: what it says, which bytes it came from, and when.
#[derive(Debug)]
pub struct Loaded {
    pub config: Arc<Config>,
    /// The first 12 hex digits of the SHA-256 of the bytes it was read from; `None` when
    /// it was built in memory (tests, the demo).
    pub hash: Option<String>,
    pub loaded_at: DateTime<Utc>,
}

impl Loaded {
    pub fn new(config: Config, hash: Option<String>, loaded_at: DateTime<Utc>) -> Loaded {
        Loaded { config: Arc::new(config), hash, loaded_at }
    }
}

/// The short hash by which logs and the doctor name a configuration's bytes.
pub fn short_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))[..12].to_owned()
}

/// The configuration in force, shared by the request handlers and the workers.
#[derive(Debug)]
pub struct LiveConfig {
    current: tokio::sync::watch::Sender<Arc<Loaded>>,
}

impl LiveConfig {
    pub fn new(loaded: Loaded) -> LiveConfig {
        LiveConfig { current: tokio::sync::watch::Sender::new(Arc::new(loaded)) }
    }

    /// The configuration in force now: take it once, at the start of a request or a pass.
    pub fn snapshot(&self) -> Arc<Loaded> {
        self.current.borrow().clone()
    }

    /// The configuration's settings, for what is built once at start.
    pub fn config(&self) -> Arc<Config> {
        self.snapshot().config.clone()
    }

    /// Puts `loaded` in force for everything that starts from now on; returns what was.
    pub fn replace(&self, loaded: Loaded) -> Arc<Loaded> {
        self.current.send_replace(Arc::new(loaded))
    }

    /// Resolves at each replacement (for tests and waiters).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Loaded>> {
        self.current.subscribe()
    }
}

/// A setting bound at start: its key in the file, and how to compare and put back the
/// field it fills.
struct Bound {
    key: &'static str,
    same: fn(&Config, &Config) -> bool,
    put_back: fn(&mut Config, &Config),
}

macro_rules! bound {
    ($key:literal, $($field:ident).+) => {
        Bound { key: $key, same: |a, b| a.$($field).+ == b.$($field).+, put_back: |new, old| new.$($field).+ = old.$($field).+.clone() }
    };
}

/// What is built from the configuration once, in `server::Application::build`: the
/// Slack client, the store, the Tailer client and its pace.
const RESTART_ONLY: [Bound; 10] = [
    bound!("slack.response_url_prefixes", slack.response_url_prefixes),
    bound!("watch.lease_secs", watch.lease),
    bound!("tailer.api_url", tailer.api_url),
    bound!("tailer.audience", tailer.audience),
    bound!("tailer.timeout_secs", tailer.timeout),
    bound!("tailer.max_retries", tailer.max_retries),
    bound!("tailer.max_requests_per_second", tailer.max_requests_per_second),
    bound!("tailer.max_response_bytes", tailer.max_response_bytes),
    bound!("tailer.max_calls_in_flight", tailer.max_calls_in_flight),
    bound!("tailer.max_calls_waiting", tailer.max_calls_waiting),
];

/// The settings bound at start that `new` would change, by their keys in the file.
pub fn restart_only_changes(running: &Config, new: &Config) -> Vec<&'static str> {
    RESTART_ONLY.iter().filter(|b| !(b.same)(running, new)).map(|b| b.key).collect()
}

/// `new` with the running values of the settings bound at start.
pub fn keep_restart_only(mut new: Config, running: &Config) -> Config {
    for bound in RESTART_ONLY {
        (bound.put_back)(&mut new, running);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::embedded_config;

    fn loaded(config: Config, hash: &str) -> Loaded {
        Loaded::new(config, Some(hash.into()), Utc::now())
    }

    #[test]
    fn a_snapshot_taken_before_a_replacement_keeps_the_old_configuration_whole() {
        let live = LiveConfig::new(loaded(embedded_config(), "aaaaaaaaaaaa"));
        let before = live.snapshot();
        let mut next = embedded_config();
        next.jobs.truncate(1);
        live.replace(loaded(next, "bbbbbbbbbbbb"));
        let after = live.snapshot();
        assert_eq!(before.hash.as_deref(), Some("aaaaaaaaaaaa"));
        assert_eq!(before.config.jobs.len(), embedded_config().jobs.len(), "the request in flight still sees the whole old catalog");
        assert_eq!(after.hash.as_deref(), Some("bbbbbbbbbbbb"));
        assert_eq!(after.config.jobs.len(), 1, "what starts after the replacement sees the new one");
    }

    #[test]
    fn every_setting_bound_at_start_is_named_when_it_differs_and_put_back() {
        let running = embedded_config();
        let mut new = embedded_config();
        new.tailer.timeout = std::time::Duration::from_secs(99);
        new.watch.lease = std::time::Duration::from_secs(999);
        new.watch.poll_interval = std::time::Duration::from_secs(7);
        new.jobs.truncate(1);
        assert_eq!(restart_only_changes(&running, &new), ["watch.lease_secs", "tailer.timeout_secs"]);
        let kept = keep_restart_only(new, &running);
        assert!(restart_only_changes(&running, &kept).is_empty());
        assert_eq!(kept.watch.poll_interval, std::time::Duration::from_secs(7), "what a reload can change is changed");
        assert_eq!(kept.jobs.len(), 1);
    }

    #[test]
    fn the_short_hash_is_the_start_of_the_sha256_of_the_bytes() {
        assert_eq!(short_hash(b""), "e3b0c44298fc");
    }
}
