//! The environment of product.md, read once through a lookup function (so tests need not
//! touch the process environment). Secrets are held in `SecretString`, whose `Debug`
//! prints `[REDACTED]`.

use std::path::PathBuf;

pub use crate::redact::{redact_url, redact_urls_in};
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
/// HTTP connections served at once, unless `MAX_CONNECTIONS` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line with Cloud Logging's field names.
    Json,
}

/// What the environment says. `Debug` shows no secret and no URL's credentials.
#[derive(Clone)]
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
    /// `METRICS_PORT`: `/metrics` is served there instead of on `port`.
    pub metrics_port: Option<u16>,
    /// `MAX_CONNECTIONS`: HTTP connections served at once.
    pub max_connections: usize,
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |secret: &Option<SecretString>| if secret.is_some() { "[redacted]" } else { "unset" };
        f.debug_struct("Settings")
            .field("config_path", &self.config_path)
            .field("slack_signing_secret", &set(&self.slack_signing_secret))
            .field("slack_bot_token", &set(&self.slack_bot_token))
            .field("slack_app_token", &set(&self.slack_app_token))
            .field("slack_api_url", &redact_url(&self.slack_api_url))
            .field("tailer_api_url", &redact_url(&self.tailer_api_url))
            .field("tailer_api_audience", &redact_url(&self.tailer_api_audience))
            .field("google_application_credentials", &self.google_application_credentials)
            .field("tailer_api_token", &set(&self.tailer_api_token))
            .field("database_url", &redact_url(&self.database_url))
            .field("port", &self.port)
            .field("metrics_port", &self.metrics_port)
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// A problem that stops the bot from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{variable}: {message}")]
    BadVariable { variable: &'static str, message: String },
    #[error("GOOGLE_APPLICATION_CREDENTIALS: {0}")]
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

    /// `PORT` (default 8080): read before the rest by `healthcheck`, which has no
    /// configuration.
    pub fn port(lookup: &dyn Fn(&str) -> Option<String>) -> Result<u16, StartupError> {
        match non_empty(lookup, "PORT") {
            None => Ok(8080),
            Some(p) => p
                .parse()
                .map_err(|_| StartupError::BadVariable { variable: "PORT", message: format!("`{p}` is not a port number (1-65535)") }),
        }
    }

    /// `LOG_FORMAT` (default text): read before the rest, since logging starts first.
    pub fn log_format(lookup: &dyn Fn(&str) -> Option<String>) -> Result<LogFormat, StartupError> {
        match non_empty(lookup, "LOG_FORMAT").as_deref() {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => {
                Err(StartupError::BadVariable { variable: "LOG_FORMAT", message: format!("`{other}` is neither `json` nor `text`") })
            }
        }
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
        let port = Settings::port(lookup)?;
        let log_format = Settings::log_format(lookup)?;
        let database_url = non_empty(lookup, "DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(StartupError::BadVariable { variable: "DATABASE_URL", message: "must start with sqlite:// or postgres://".into() });
        }
        let metrics_port = match non_empty(lookup, "METRICS_PORT") {
            None => None,
            // 0, as for PORT, takes any free port (the log says which).
            Some(p) => Some(p.parse::<u16>().map_err(|_| StartupError::BadVariable {
                variable: "METRICS_PORT",
                message: format!("`{p}` is not a port number (1-65535)"),
            })?),
        };
        let max_connections = match non_empty(lookup, "MAX_CONNECTIONS") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(n) => n.parse::<usize>().ok().filter(|n| (1..=100_000).contains(n)).ok_or_else(|| StartupError::BadVariable {
                variable: "MAX_CONNECTIONS",
                message: format!("`{n}` is not a number of connections (1-100000)"),
            })?,
        };
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
            metrics_port,
            max_connections,
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
            Err(StartupError::BadVariable { variable: name, message: format!("`{}` is not an http(s) URL", redact_url(&v)) })
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_never_show() {
        assert_eq!(redact_url("postgres://bot:hunter2@db:5432/bot"), "postgres://[redacted]@db:5432/bot");
        assert_eq!(redact_url("sqlite://tailerbot.db"), "sqlite://tailerbot.db");
        assert_eq!(redact_url("https://user:p%40ss@tailer.example.com/api?x=1"), "https://[redacted]@tailer.example.com/api?x=1");
        assert_eq!(redact_url("postgres://bot:pa/ss?x#y@db/bot"), "postgres://[redacted]@db/bot", "a password with a / is hidden too");
        assert_eq!(
            redact_urls_in("error sending request for url (http://u:hunter2@127.0.0.1:9/x) and ftp://a:b/c@d end"),
            "error sending request for url (http://[redacted]@127.0.0.1:9/x) and ftp://[redacted]@d end"
        );
    }

    /// Each setting that carries a secret, set to a value the test can look for.
    const SECRETS: [(&str, &str, &str); 7] = [
        ("SLACK_SIGNING_SECRET", "signing-hunter2", "signing-hunter2"),
        ("SLACK_BOT_TOKEN", "xoxb-bot-hunter2", "bot-hunter2"),
        ("SLACK_APP_TOKEN", "xapp-app-hunter2", "app-hunter2"),
        ("TAILER_API_TOKEN", "tailer-hunter2", "tailer-hunter2"),
        ("DATABASE_URL", "postgres://bot:db-hunter2@db/bot", "db-hunter2"),
        ("TAILER_API_URL", "https://bot:api-hunter2@tailer.example.com", "api-hunter2"),
        ("SLACK_API_URL", "https://bot:slack-hunter2@slack.example.com/api", "slack-hunter2"),
    ];

    #[test]
    fn no_secret_bearing_setting_shows_in_debug() {
        let lookup = |name: &str| SECRETS.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| (*v).to_owned());
        let settings = Settings::from_lookup(&lookup, &TailerConfig::default()).unwrap();
        let shown = format!("{settings:?}");
        for (name, _, secret) in SECRETS {
            assert!(!shown.contains(secret), "{name} shows in Debug: {shown}");
        }
        assert!(shown.contains("tailer.example.com"), "what is not secret still shows: {shown}");
    }

    #[test]
    fn a_refused_url_is_echoed_without_its_credentials() {
        for name in ["TAILER_API_URL", "SLACK_API_URL"] {
            let lookup = |n: &str| (n == name).then(|| "ftp://bot:hunter2@host/x".to_owned());
            let error = Settings::from_lookup(&lookup, &TailerConfig::default()).unwrap_err().to_string();
            assert!(error.contains(name) && !error.contains("hunter2"), "{error}");
        }
    }
}
