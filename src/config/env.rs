//! The environment of product.md, read once through a lookup function (so tests need not
//! touch the process environment). Secrets are held in `SecretString`, whose `Debug`
//! prints `[REDACTED]`.

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use super::{Config, TailerConfig};
use crate::clock::SharedClock;
use crate::tailer::{KeyFileError, ServiceAccountKey, ServiceAccountSigner, TokenSource};

/// The production Tailer API.
pub const DEFAULT_TAILER_API_URL: &str = "https://tailer-api-nqonovswsq-ew.a.run.app";
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tailerbot.db";
pub const DEFAULT_CONFIG_PATH: &str = "tailerbot.toml";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line with Cloud Logging's field names.
    Json,
}

/// What the environment says.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    pub slack_signing_secret: Option<SecretString>,
    pub slack_bot_token: Option<SecretString>,
    pub slack_app_token: Option<SecretString>,
    pub slack_api_url: String,
    /// `TAILER_API_URL`, else `[tailer] api_url`, else production.
    pub tailer_api_url: String,
    /// `TAILER_API_AUDIENCE`, else `[tailer] audience`, else the API URL.
    pub tailer_api_audience: String,
    pub google_application_credentials: Option<PathBuf>,
    pub tailer_api_token: Option<SecretString>,
    pub database_url: String,
    pub port: u16,
    pub log_format: LogFormat,
}

/// A problem that stops the bot from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{variable}: {message}")]
    BadVariable { variable: &'static str, message: String },
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "no Tailer credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or TAILER_API_TOKEN to a bearer token"
    )]
    NoTailerCredentials,
}

impl Settings {
    /// The variables that choose the configuration file, before it is read.
    pub fn config_path(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
        PathBuf::from(non_empty(lookup, "TAILERBOT_CONFIG").unwrap_or_else(|| DEFAULT_CONFIG_PATH.to_owned()))
    }

    /// Reads every variable; `tailer` gives the file's values for what both carry.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>, tailer: &TailerConfig) -> Result<Settings, StartupError> {
        let tailer_api_url = url(lookup, "TAILER_API_URL")?
            .or_else(|| tailer.api_url.clone())
            .unwrap_or_else(|| DEFAULT_TAILER_API_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let tailer_api_audience =
            non_empty(lookup, "TAILER_API_AUDIENCE").or_else(|| tailer.audience.clone()).unwrap_or_else(|| tailer_api_url.clone());
        let port = match non_empty(lookup, "PORT") {
            None => 8080,
            Some(p) => p
                .parse()
                .map_err(|_| StartupError::BadVariable { variable: "PORT", message: format!("`{p}` is not a port number (1-65535)") })?,
        };
        let log_format = match non_empty(lookup, "LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(StartupError::BadVariable {
                    variable: "LOG_FORMAT",
                    message: format!("`{other}` is neither `json` nor `text`"),
                });
            }
        };
        let database_url = non_empty(lookup, "DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(StartupError::BadVariable { variable: "DATABASE_URL", message: "must start with sqlite:// or postgres://".into() });
        }
        let secret = |name: &str| non_empty(lookup, name).map(SecretString::from);
        Ok(Settings {
            config_path: Settings::config_path(lookup),
            slack_signing_secret: secret("SLACK_SIGNING_SECRET"),
            slack_bot_token: secret("SLACK_BOT_TOKEN"),
            slack_app_token: secret("SLACK_APP_TOKEN"),
            slack_api_url: url(lookup, "SLACK_API_URL")?
                .unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            tailer_api_url,
            tailer_api_audience,
            google_application_credentials: non_empty(lookup, "GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            tailer_api_token: secret("TAILER_API_TOKEN"),
            database_url,
            port,
            log_format,
        })
    }

    /// Reads the process environment.
    pub fn from_env(config: &Config) -> Result<Settings, StartupError> {
        Settings::from_lookup(&|name| std::env::var(name).ok(), &config.tailer)
    }

    /// The key file when one is named (it wins), else the static token.
    pub fn token_source(&self, clock: SharedClock) -> Result<Arc<TokenSource>, StartupError> {
        if let Some(path) = &self.google_application_credentials {
            let key = ServiceAccountKey::from_file(path)?;
            return Ok(Arc::new(TokenSource::ServiceAccount(ServiceAccountSigner::new(key, self.tailer_api_audience.clone(), clock))));
        }
        match &self.tailer_api_token {
            Some(token) => Ok(Arc::new(TokenSource::Static(token.clone()))),
            None => Err(StartupError::NoTailerCredentials),
        }
    }
}

fn non_empty(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn url(lookup: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<String>, StartupError> {
    match non_empty(lookup, name) {
        Some(v) if !(v.starts_with("https://") || v.starts_with("http://")) => {
            Err(StartupError::BadVariable { variable: name, message: format!("`{v}` is not an http(s) URL") })
        }
        other => Ok(other),
    }
}
