//! The environment of product.md, read once through a lookup function (so tests need not
//! touch the process environment). Secrets are held in `SecretString`, whose `Debug`
//! prints `[REDACTED]`.

use std::path::PathBuf;

pub use crate::redact::{redact_url, redact_urls_in};
use std::sync::Arc;

use secrecy::SecretString;

use super::{Config, TailerConfig};
use crate::clock::SharedClock;
use crate::tailer::google::GoogleEndpoints;
use crate::tailer::{CredentialsFile, Identity, KeyFileError, KeylessSigner, ServiceAccountSigner, TokenSource};

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
    /// The signing secret being rotated out: accepted too while it is set.
    pub slack_signing_secret_previous: Option<SecretString>,
    pub slack_bot_token: Option<SecretString>,
    pub slack_app_token: Option<SecretString>,
    pub slack_api_url: String,
    /// `TAILER_API_URL`, else `[tailer] api_url`, else production.
    pub tailer_api_url: String,
    /// `TAILER_API_AUDIENCE`, else `[tailer] audience`, else the API URL.
    pub tailer_api_audience: String,
    pub google_application_credentials: Option<PathBuf>,
    pub tailer_api_token: Option<SecretString>,
    /// `TAILER_SERVICE_ACCOUNT`: keyless, the account IAM signs for.
    pub tailer_service_account: Option<String>,
    /// `GCE_METADATA_HOST`, `GOOGLE_IAM_CREDENTIALS_URL`, `GOOGLE_OAUTH_TOKEN_URL`.
    pub google: GoogleEndpoints,
    /// `K_SERVICE`: set by Cloud Run.
    pub cloud_run_service: Option<String>,
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
            .field("slack_signing_secret_previous", &set(&self.slack_signing_secret_previous))
            .field("slack_bot_token", &set(&self.slack_bot_token))
            .field("slack_app_token", &set(&self.slack_app_token))
            .field("slack_api_url", &redact_url(&self.slack_api_url))
            .field("tailer_api_url", &redact_url(&self.tailer_api_url))
            .field("tailer_api_audience", &redact_url(&self.tailer_api_audience))
            .field("google_application_credentials", &self.google_application_credentials)
            .field("tailer_api_token", &set(&self.tailer_api_token))
            .field("tailer_service_account", &self.tailer_service_account)
            .field("google", &self.google)
            .field("cloud_run_service", &self.cloud_run_service)
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
    // Not `#[from]`: that would make the key file's error the cause too, and a message
    // printed with its causes would say it twice.
    #[error("GOOGLE_APPLICATION_CREDENTIALS: {0}")]
    KeyFile(KeyFileError),
    /// Keyless, and no identity to be had here (not on Google Cloud, no service account).
    #[error("no Tailer credentials: {0}")]
    NoTailerCredentials(String),
    #[error("cannot build the HTTP client for Google: {0}")]
    GoogleClient(String),
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

    /// Reads every variable; `tailer` gives the file's values for what both carry. Stops
    /// at the first mistake; [`Settings::read`] finds them all.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>, tailer: &TailerConfig) -> Result<Settings, StartupError> {
        let (settings, mut mistakes) = Settings::read(lookup, tailer);
        if mistakes.is_empty() { Ok(settings) } else { Err(mistakes.remove(0)) }
    }

    /// Reads every variable, and every mistake among them, each once; a variable with
    /// a mistake reads as its default.
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>, tailer: &TailerConfig) -> (Settings, Vec<StartupError>) {
        let mut mistakes = Vec::new();
        let mut keep = |result: Result<Option<String>, StartupError>| {
            result.unwrap_or_else(|e| {
                mistakes.push(e);
                None
            })
        };
        let tailer_api_url = keep(url(lookup, "TAILER_API_URL"))
            .or_else(|| tailer.api_url.clone())
            .unwrap_or_else(|| DEFAULT_TAILER_API_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let slack_api_url =
            keep(url(lookup, "SLACK_API_URL")).unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_owned()).trim_end_matches('/').to_owned();
        let google = GoogleEndpoints {
            metadata_host: keep(metadata_host(lookup)).unwrap_or_else(|| crate::tailer::google::DEFAULT_METADATA_HOST.to_owned()),
            iam_credentials_url: keep(url(lookup, "GOOGLE_IAM_CREDENTIALS_URL"))
                .unwrap_or_else(|| crate::tailer::google::DEFAULT_IAM_CREDENTIALS_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            oauth_token_url: keep(url(lookup, "GOOGLE_OAUTH_TOKEN_URL"))
                .unwrap_or_else(|| crate::tailer::google::DEFAULT_OAUTH_TOKEN_URL.to_owned()),
        };
        let tailer_service_account = keep(match non_empty(lookup, "TAILER_SERVICE_ACCOUNT") {
            Some(email) if !email.contains('@') || email.chars().any(char::is_whitespace) => Err(StartupError::BadVariable {
                variable: "TAILER_SERVICE_ACCOUNT",
                message: format!("`{email}` is not a service account's e-mail (NAME@PROJECT.iam.gserviceaccount.com)"),
            }),
            other => Ok(other),
        });
        let tailer_api_audience =
            non_empty(lookup, "TAILER_API_AUDIENCE").or_else(|| tailer.audience.clone()).unwrap_or_else(|| tailer_api_url.clone());
        let port = Settings::port(lookup).unwrap_or_else(|e| {
            mistakes.push(e);
            8080
        });
        let log_format = Settings::log_format(lookup).unwrap_or_else(|e| {
            mistakes.push(e);
            LogFormat::Text
        });
        let mut database_url = non_empty(lookup, "DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            mistakes
                .push(StartupError::BadVariable { variable: "DATABASE_URL", message: "must start with sqlite:// or postgres://".into() });
            database_url = DEFAULT_DATABASE_URL.to_owned();
        }
        let metrics_port = match non_empty(lookup, "METRICS_PORT") {
            None => None,
            // 0, as for PORT, takes any free port (the log says which).
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| {
                    mistakes.push(StartupError::BadVariable {
                        variable: "METRICS_PORT",
                        message: format!("`{p}` is not a port number (1-65535)"),
                    })
                })
                .ok(),
        };
        let max_connections = match non_empty(lookup, "MAX_CONNECTIONS") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(n) => n.parse::<usize>().ok().filter(|n| (1..=100_000).contains(n)).unwrap_or_else(|| {
                mistakes.push(StartupError::BadVariable {
                    variable: "MAX_CONNECTIONS",
                    message: format!("`{n}` is not a number of connections (1-100000)"),
                });
                DEFAULT_MAX_CONNECTIONS
            }),
        };
        let secret = |name: &str| non_empty(lookup, name).map(SecretString::from);
        let settings = Settings {
            config_path: Settings::config_path(lookup),
            slack_signing_secret: secret("SLACK_SIGNING_SECRET"),
            slack_signing_secret_previous: secret("SLACK_SIGNING_SECRET_PREVIOUS"),
            slack_bot_token: secret("SLACK_BOT_TOKEN"),
            slack_app_token: secret("SLACK_APP_TOKEN"),
            slack_api_url,
            tailer_api_url,
            tailer_api_audience,
            google_application_credentials: non_empty(lookup, "GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            tailer_api_token: secret("TAILER_API_TOKEN"),
            tailer_service_account,
            google,
            cloud_run_service: non_empty(lookup, "K_SERVICE"),
            database_url,
            port,
            metrics_port,
            max_connections,
            log_format,
        };
        (settings, mistakes)
    }

    /// What `serve` cannot do without: the Slack secrets (the signing secret only over
    /// HTTP: in Socket Mode nothing arrives to verify).
    pub fn serve_mistakes(&self) -> Vec<StartupError> {
        let mut mistakes = Vec::new();
        if self.slack_signing_secret.is_none() && self.slack_app_token.is_none() {
            mistakes.push(StartupError::BadVariable {
                variable: "SLACK_SIGNING_SECRET",
                message: "required to verify Slack's requests (or SLACK_APP_TOKEN, for Socket Mode)".into(),
            });
        }
        if self.slack_bot_token.is_none() {
            mistakes
                .push(StartupError::BadVariable { variable: "SLACK_BOT_TOKEN", message: "required to post to Slack (xoxb-...)".into() });
        }
        mistakes
    }

    /// What `serve` should warn about, though it can run.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(service) = &self.cloud_run_service
            && self.database_url.starts_with("sqlite:")
        {
            warnings.push(format!(
                "DATABASE_URL: running on Cloud Run (K_SERVICE={service}) with SQLite: the database file goes with the instance (watched runs, subscriptions, confirmations and undelivered messages are lost when it is replaced); use PostgreSQL (DATABASE_URL=postgres://...)"
            ));
        }
        warnings
    }

    /// Reads the process environment.
    pub fn from_env(config: &Config) -> Result<Settings, StartupError> {
        Settings::from_lookup(&|name| std::env::var(name).ok(), &config.tailer)
    }

    /// The credentials file when one is named (it wins), else the static token, else
    /// keyless (IAM `signJwt` with the machine's identity). Reads the file; asks nothing
    /// of the network ([`TokenSource::probe`] does, before serving).
    pub fn token_source(&self, clock: SharedClock) -> Result<Arc<TokenSource>, StartupError> {
        let audience = self.tailer_api_audience.clone();
        let keyless = |identity: Identity| {
            KeylessSigner::new(identity, self.tailer_service_account.clone(), audience.clone(), self.google.clone(), clock.clone())
                .map(|signer| Arc::new(TokenSource::Keyless(signer)))
                .map_err(|e| StartupError::GoogleClient(e.to_string()))
        };
        if let Some(path) = &self.google_application_credentials {
            return match CredentialsFile::from_file(path).map_err(StartupError::KeyFile)? {
                CredentialsFile::ServiceAccount(key) => {
                    Ok(Arc::new(TokenSource::ServiceAccount(ServiceAccountSigner::new(key, audience, clock))))
                }
                CredentialsFile::AuthorizedUser(_) if self.tailer_service_account.is_none() => Err(StartupError::BadVariable {
                    variable: "TAILER_SERVICE_ACCOUNT",
                    message: format!(
                        "required with the authorized_user file of GOOGLE_APPLICATION_CREDENTIALS ({}): the service account whose Tailer token IAM signs",
                        path.display()
                    ),
                }),
                CredentialsFile::AuthorizedUser(user) => keyless(Identity::AuthorizedUser(user)),
            };
        }
        match &self.tailer_api_token {
            Some(token) => Ok(Arc::new(TokenSource::Static(token.clone()))),
            None => keyless(Identity::Metadata),
        }
    }
}

/// `GCE_METADATA_HOST`: `host` or `host:port`, as Google's libraries take it.
fn metadata_host(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, StartupError> {
    match non_empty(lookup, "GCE_METADATA_HOST") {
        Some(host) if host.contains(['/', '@', ' ']) => Err(StartupError::BadVariable {
            variable: "GCE_METADATA_HOST",
            message: format!("`{}` is not host or host:port (no scheme, no path)", redact_url(&host)),
        }),
        other => Ok(other),
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
    const SECRETS: [(&str, &str, &str); 8] = [
        ("SLACK_SIGNING_SECRET", "signing-hunter2", "signing-hunter2"),
        ("SLACK_SIGNING_SECRET_PREVIOUS", "previous-hunter2", "previous-hunter2"),
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
