//! Configuration: the TOML file (catalog, rules, Slack and watcher settings) and the
//! environment (secrets, URLs, ports). The environment is read once at start; the file
//! too, and again on SIGHUP or when it changes (`reload`), each request using the one in
//! force when it started (`live`). A mistake is reported with the file, line and key it
//! is at, and with what would be right.

mod env;
mod file;
mod live;
mod read;
pub mod reload;
mod rules;
mod run_url;
mod sections;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use env::{DEFAULT_MAX_CONNECTIONS, LogFormat, Settings, StartupError, redact_url, redact_urls_in};
pub use live::{LiveConfig, Loaded, keep_restart_only, restart_only_changes, short_hash};
pub use rules::{Effect, Matcher, Rule, Who};
pub use run_url::{MAX_URL_CHARS, RunUrlTemplate};

use crate::domain::{AppId, ChannelId, JobName, TeamId};
use crate::tailer::JobRef;

/// The configuration embedded in the binary: the commented example, used by `demo` and
/// `sim` when no file is given.
pub const EXAMPLE_TOML: &str = include_str!("../../tailerbot.example.toml");

/// The example configuration, as the simulator and the demo use it.
pub fn embedded_config() -> Config {
    // Tested: the example file is valid (tests/config.rs).
    Config::parse(Path::new("tailerbot.example.toml"), EXAMPLE_TOML).expect("the embedded example configuration is valid")
}

/// A validated configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    pub slack: SlackConfig,
    pub watch: WatchConfig,
    pub tailer: TailerConfig,
    /// The catalog, in file order; names are unique.
    pub jobs: Vec<Job>,
    /// In file order: the first that matches decides.
    pub rules: Vec<Rule>,
    /// `[[expectations]]`: one per channel and job.
    pub expectations: Vec<Expectation>,
    /// Things that work but are probably not what was meant.
    pub warnings: Vec<String>,
}

/// `[slack]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    /// Empty: any workspace.
    pub allowed_team_ids: Vec<TeamId>,
    /// Empty: any app.
    pub allowed_app_ids: Vec<AppId>,
    pub audit_channel: Option<ChannelId>,
    /// A `response_url` is used only when it starts with one of these.
    pub response_url_prefixes: Vec<String>,
}

/// `[watch]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    pub poll_interval: Duration,
    pub max_poll_interval: Duration,
    pub give_up_after: Duration,
    pub subscription_poll: Duration,
    pub max_concurrent_polls: usize,
    /// An unknown status that stays unchanged this long is taken as final.
    pub unknown_status_final_after: Duration,
    /// How long a replica's claim on a piece of work (a run to poll, a message to send,
    /// a timer) lasts without renewal: how soon another replica takes over from a dead one.
    pub lease: Duration,
}

/// `[tailer]`: the parts of the Tailer connection that are not secret. `Debug` shows
/// the URLs without any credentials written into them.
#[derive(Clone, PartialEq, Eq)]
pub struct TailerConfig {
    /// Overridden by `TAILER_API_URL`.
    pub api_url: Option<String>,
    /// Overridden by `TAILER_API_AUDIENCE`.
    pub audience: Option<String>,
    pub timeout: Duration,
    pub max_retries: usize,
    /// Ceiling on the bot's request rate towards Tailer.
    pub max_requests_per_second: u32,
    /// The largest answer read from Tailer; a larger one is refused as undecodable.
    pub max_response_bytes: usize,
    /// Calls to Tailer on their way at once, and calls waiting for a place; beyond,
    /// a call is refused as busy ("try again in a moment").
    pub max_calls_in_flight: usize,
    pub max_calls_waiting: usize,
    /// Where a person opens a run; without it, run ids are not links.
    pub run_url_template: Option<RunUrlTemplate>,
}

impl std::fmt::Debug for TailerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailerConfig")
            .field("api_url", &self.api_url.as_deref().map(redact_url))
            .field("audience", &self.audience.as_deref().map(redact_url))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("max_requests_per_second", &self.max_requests_per_second)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_calls_in_flight", &self.max_calls_in_flight)
            .field("max_calls_waiting", &self.max_calls_waiting)
            .field("run_url_template", &self.run_url_template)
            .finish()
    }
}

impl Default for TailerConfig {
    /// What a file without `[tailer]` gives.
    fn default() -> Self {
        TailerConfig {
            api_url: None,
            audience: None,
            timeout: Duration::from_secs(10),
            max_retries: 3,
            max_requests_per_second: 20,
            max_response_bytes: crate::http_limits::DEFAULT_MAX_ANSWER,
            max_calls_in_flight: 64,
            max_calls_waiting: 1_000,
            run_url_template: None,
        }
    }
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: JobName,
    pub job: JobRef,
    pub description: Option<String>,
    pub tags: Vec<String>,
}

/// An expectation of the file: `channel` expects `job` to have succeeded by `schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub job: JobName,
    pub channel: ChannelId,
    pub schedule: crate::domain::Schedule,
}

/// The variable naming the configuration file.
pub const CONFIG_PATH_VARIABLE: &str = "TAILERBOT_CONFIG";
/// The variable holding the whole configuration (TOML), which wins over the file.
pub const CONFIG_TEXT_VARIABLE: &str = "TAILERBOT_CONFIG_TOML";

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    ". Write one (the example: `tailerbot.example.toml`) and mount it there, set {CONFIG_PATH_VARIABLE} to where it is, or give it whole in {CONFIG_TEXT_VARIABLE}"
                )
            } else {
                String::new()
            };
            ConfigError { path: path.to_owned(), line: None, key: None, message: format!("cannot read the configuration file: {e}{hint}"), also: Vec::new() }
        })?;
        Config::parse(path, &text)
    }

    /// The configuration `serve` and `check-config` use: the whole text from
    /// `TAILERBOT_CONFIG_TOML` when it is set (a secret, on Cloud Run), else the file of
    /// `TAILERBOT_CONFIG` (or `--config`), else `tailerbot.toml`.
    pub fn from_environment(lookup: &dyn Fn(&str) -> Option<String>, file: Option<&Path>) -> Result<Config, ConfigError> {
        match lookup(CONFIG_TEXT_VARIABLE).filter(|t| !t.trim().is_empty()) {
            Some(text) if file.is_none() => Config::parse(Path::new(CONFIG_TEXT_VARIABLE), &text),
            _ => Config::load(&file.map(Path::to_owned).unwrap_or_else(|| crate::config::Settings::config_path(lookup))),
        }
    }

    /// Validates the text of a file; `path` is used in messages only.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        validate::parse(path, text)
    }

    /// The catalog entry of that name.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name.as_str() == name)
    }

    /// The catalog entries carrying that tag.
    pub fn jobs_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.jobs.iter().filter(move |j| j.tags.iter().any(|t| t == tag))
    }
}

/// An invalid configuration, located: the first mistake of the file, and the others
/// found with it (each section, job and rule is checked, so that one run of
/// `check-config` lists every mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    /// The dotted key, e.g. `jobs #2 (sales-daily).account`.
    pub key: Option<String>,
    pub message: String,
    /// The other mistakes, in the order of the file.
    pub also: Vec<ConfigError>,
}

impl ConfigError {
    /// Every mistake, the first one first.
    pub fn all(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(self).chain(self.also.iter())
    }

    /// One error from several, in the order of the file (`None` when there are none).
    pub fn of(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        let mut errors = errors.into_iter();
        let mut first = errors.next()?;
        first.also.extend(errors);
        Some(first)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)?;
        for other in &self.also {
            write!(f, "\n{other}")?;
        }
        Ok(())
    }
}
