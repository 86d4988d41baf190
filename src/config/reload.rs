//! Reloading the configuration while `serve` runs: on SIGHUP, and when the file changes.
//! A new file is validated whole, as `check-config` does; valid, it goes into force for
//! every request and pass that starts after it ([`super::LiveConfig`]); invalid, each
//! mistake is logged once as `FILE:LINE: key: what is wrong` and the configuration in
//! force stays. So does it when the file is missing or cannot be read.
//!
//! How a change is noticed: by reading the file every [`POLL_EVERY`] through its path
//! and comparing the SHA-256 of its bytes. A Kubernetes ConfigMap is mounted as a
//! symlink into a `..data` directory that the kubelet swaps by renaming a new symlink
//! over it; an inotify watch on the file would stay on the old, unlinked target, and
//! watching the directory needs care for each editor and mount. A read through the path
//! follows every symlink as it is now, whatever happened on the way; a configuration is
//! a few kilobytes, so reading and hashing it once a second costs nothing worth a
//! dependency (`notify`) and its platform differences. The content hash, not the
//! modification time, decides: a rewrite within the same second is seen, a `touch`
//! is not a change. A change is acted on once two polls in a row read the same bytes, so
//! that a file caught half-written (an editor, a copy in progress) is not taken for a
//! new configuration; SIGHUP acts at once on what it reads.
//!
//! With the configuration in `TAILERBOT_CONFIG_TOML` there is no file: nothing is
//! polled, and SIGHUP logs that there is nothing to reload.
//!
//! Each outcome is counted in `tailerbot_config_reloads_total{outcome}` (`applied`,
//! `refused`, `unchanged`). [`Reloader::poll_once`] and [`Reloader::reload_now`] are
//! the two iterations [`Reloader::run`] loops over; tests drive them directly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::live::{Loaded, keep_restart_only, restart_only_changes, short_hash};
use super::{CONFIG_TEXT_VARIABLE, Config, ConfigError, LiveConfig};
use crate::clock::SharedClock;

/// How often the file is read to see whether it changed.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Where the configuration of `serve` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file (`TAILERBOT_CONFIG`, default `tailerbot.toml`): watched and reloaded.
    File(PathBuf),
    /// `TAILERBOT_CONFIG_TOML`, whose text is fixed for the life of the process.
    Variable(String),
}

impl Origin {
    /// The origin [`Config::from_environment`] reads, by the same rule.
    pub fn of_environment(lookup: &dyn Fn(&str) -> Option<String>, file: Option<&Path>) -> Origin {
        match lookup(CONFIG_TEXT_VARIABLE).filter(|t| !t.trim().is_empty()) {
            Some(text) if file.is_none() => Origin::Variable(text),
            _ => Origin::File(file.map(Path::to_owned).unwrap_or_else(|| super::Settings::config_path(lookup))),
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new configuration is in force.
    Applied,
    /// The file is invalid, missing or unreadable: the configuration in force stays.
    Refused,
    /// The file holds the configuration in force.
    Unchanged,
}

impl Outcome {
    /// The metric's label: a closed set.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Refused => "refused",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// What one read of the file found: the hash of its bytes, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Bytes(String),
    Unreadable(String),
}

/// One read of the file.
enum Read {
    Bytes { hash: String, bytes: Vec<u8> },
    Unreadable(String),
}

impl Read {
    fn seen(&self) -> Seen {
        match self {
            Read::Bytes { hash, .. } => Seen::Bytes(hash.clone()),
            Read::Unreadable(error) => Seen::Unreadable(error.clone()),
        }
    }
}

/// The polls' memory: what the last one read, and what was last acted on.
#[derive(Debug, Default)]
struct Polls {
    last_read: Option<Seen>,
    acted_on: Option<Seen>,
}

/// Reloads the configuration in force from its origin.
pub struct Reloader {
    live: Arc<LiveConfig>,
    origin: Origin,
    clock: SharedClock,
    polls: Mutex<Polls>,
}

impl Reloader {
    /// A reloader over `live`, whose configuration was read from `origin` at start. What
    /// the origin holds now is read at once: its hash is what the doctor shows and what
    /// later polls compare with (and should the file have changed since the start, the
    /// change is taken in, or refused, as any other).
    pub fn new(live: Arc<LiveConfig>, origin: Origin, clock: SharedClock) -> Reloader {
        let reloader = Reloader { live, origin, clock, polls: Mutex::new(Polls::default()) };
        let read = reloader.read();
        let valid = match &read {
            Read::Bytes { hash, bytes } => Config::parse(reloader.path(), &String::from_utf8_lossy(bytes)).ok().map(|c| (c, hash.clone())),
            Read::Unreadable(_) => None,
        };
        if let Some((config, hash)) = valid {
            let config = keep_restart_only(config, &reloader.live.config());
            reloader.live.replace(Loaded::new(config, Some(hash), reloader.clock.now()));
            *reloader.lock() = Polls { last_read: Some(read.seen()), acted_on: Some(read.seen()) };
        }
        reloader
    }

    /// Where the configuration comes from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The path mistakes are reported at.
    fn path(&self) -> &Path {
        match &self.origin {
            Origin::File(path) => path,
            Origin::Variable(_) => Path::new(CONFIG_TEXT_VARIABLE),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Polls> {
        self.polls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the origin through its path as it is now (following symlinks).
    fn read(&self) -> Read {
        let read = match &self.origin {
            Origin::File(path) => std::fs::read(path),
            Origin::Variable(text) => Ok(text.clone().into_bytes()),
        };
        match read {
            Ok(bytes) => Read::Bytes { hash: short_hash(&bytes), bytes },
            Err(error) => Read::Unreadable(error.to_string()),
        }
    }

    /// One poll: reads the file, and acts on a change once two polls in a row have read
    /// it the same. `None` when there was nothing to act on.
    pub fn poll_once(&self) -> Option<Outcome> {
        if !matches!(self.origin, Origin::File(_)) {
            return None;
        }
        let read = self.read();
        let seen = read.seen();
        tracing::debug!(seen = ?seen, "polled the configuration file");
        {
            let mut polls = self.lock();
            let settled = polls.last_read.as_ref() == Some(&seen);
            polls.last_read = Some(seen.clone());
            if !settled || polls.acted_on.as_ref() == Some(&seen) {
                return None;
            }
            polls.acted_on = Some(seen);
        }
        Some(self.act(read))
    }

    /// A reload asked for (SIGHUP): reads and acts at once. `None` when the
    /// configuration is not in a file.
    pub fn reload_now(&self) -> Option<Outcome> {
        if let Origin::Variable(_) = self.origin {
            tracing::warn!(
                "SIGHUP: the configuration comes from {CONFIG_TEXT_VARIABLE}, which cannot change while the bot runs: nothing to reload (restart to change it)"
            );
            return None;
        }
        let read = self.read();
        *self.lock() = Polls { last_read: Some(read.seen()), acted_on: Some(read.seen()) };
        Some(self.act(read))
    }

    /// Validates what was read and puts it in force, or refuses it; counts the outcome.
    fn act(&self, read: Read) -> Outcome {
        let running = self.live.snapshot();
        let outcome = match read {
            Read::Bytes { hash, .. } if running.hash.as_deref() == Some(hash.as_str()) => {
                tracing::info!(hash = %hash, "the configuration file holds the configuration in force: nothing to change");
                Outcome::Unchanged
            }
            Read::Bytes { hash, bytes } => match std::str::from_utf8(&bytes) {
                Ok(text) => match Config::parse(self.path(), text) {
                    Ok(config) => self.apply(config, hash, &running),
                    Err(error) => self.refuse(&error, &running),
                },
                Err(error) => self.refuse(&self.unreadable(format!("the file is not UTF-8 text: {error}")), &running),
            },
            Read::Unreadable(error) => self.refuse(&self.unreadable(format!("cannot read the configuration file: {error}")), &running),
        };
        metrics::counter!("tailerbot_config_reloads_total", "outcome" => outcome.as_str()).increment(1);
        outcome
    }

    fn unreadable(&self, message: String) -> ConfigError {
        ConfigError { path: self.path().to_owned(), line: None, key: None, message, also: Vec::new() }
    }

    fn apply(&self, config: Config, hash: String, running: &Loaded) -> Outcome {
        let bound = restart_only_changes(&running.config, &config);
        if !bound.is_empty() {
            tracing::warn!(
                settings = %bound.join(", "),
                "the configuration changes settings that take effect only at the next start: {}; the running values stay until then",
                bound.join(", ")
            );
        }
        for warning in &config.warnings {
            tracing::warn!(%warning, "configuration");
        }
        let config = keep_restart_only(config, &running.config);
        let (jobs, rules) = (config.jobs.len(), config.rules.len());
        self.live.replace(Loaded::new(config, Some(hash.clone()), self.clock.now()));
        tracing::info!(hash = %hash, jobs, rules, "configuration reloaded: in force for every request from now on");
        Outcome::Applied
    }

    fn refuse(&self, error: &ConfigError, running: &Loaded) -> Outcome {
        for mistake in error.all() {
            let alone = ConfigError { also: Vec::new(), ..mistake.clone() };
            tracing::error!("{alone}");
        }
        tracing::warn!(
            mistakes = error.all().count(),
            hash = running.hash.as_deref().unwrap_or("-"),
            "the configuration was refused; the one loaded at {} stays in force",
            running.loaded_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        Outcome::Refused
    }

    /// Polls every [`POLL_EVERY`] and reloads at each `hangup`, until `stop`.
    pub async fn run(self: Arc<Self>, hangup: Arc<Notify>, stop: CancellationToken) {
        let mut every = tokio::time::interval(POLL_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = hangup.notified() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    self.reload_now();
                }
                _ = every.tick() => {
                    self.poll_once();
                }
            }
        }
        tracing::info!("configuration watcher stopped");
    }
}

/// The process's SIGHUPs: installing the handler means a SIGHUP from then on no longer
/// ends the process.
#[cfg(unix)]
pub type Hangups = tokio::signal::unix::Signal;
#[cfg(not(unix))]
pub type Hangups = ();

/// Listens for SIGHUP (`None`, logged, when the handler cannot be installed).
pub fn listen_for_hangups() -> Option<Hangups> {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .inspect_err(|error| tracing::error!(%error, "cannot listen for SIGHUP; the configuration reloads only when the file changes"))
            .ok()
    }
    #[cfg(not(unix))]
    None
}

/// Passes each SIGHUP on to `hangup` until `stop`.
pub async fn forward_hangups(mut hangups: Hangups, hangup: Arc<Notify>, stop: CancellationToken) {
    #[cfg(unix)]
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            received = hangups.recv() => match received {
                Some(()) => hangup.notify_one(),
                None => break,
            },
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (&mut hangups, hangup);
        stop.cancelled().await;
    }
}

#[cfg(test)]
mod tests;
