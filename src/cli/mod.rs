//! The command line: one subcommand per process of product.md. `check-config` is
//! `check.rs`'s, `serve`, `healthcheck` and `sim` are `serve.rs`'s.

mod check;
mod serve;

use check::check_config;
pub use check::describe;
pub use serve::startup;
use serve::{healthcheck, serve_sim};

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, Settings};
use crate::sim::SimOptions;

/// What `serve --help` lists after the options: everything `serve` reads.
const SERVE_ENVIRONMENT: &str = "Environment:
  SLACK_SIGNING_SECRET            verifies Slack's requests (required over HTTP)
  SLACK_SIGNING_SECRET_PREVIOUS   during a rotation, the secret being replaced: accepted
                                  too while it is set (remove it once Slack uses the new one)
  SLACK_BOT_TOKEN                 xoxb-... for the Web API (required)
  SLACK_APP_TOKEN                 xapp-...: when set, Socket Mode (no public URL)
  SLACK_API_URL                   the Web API base [default: https://slack.com/api]
  TAILER_API_URL                  the Tailer API base
  TAILER_API_AUDIENCE             the `aud` of the signed token [default: TAILER_API_URL]
  GOOGLE_APPLICATION_CREDENTIALS  a service-account key file (JSON): the bot signs its tokens;
                                  or gcloud's authorized_user file, with TAILER_SERVICE_ACCOUNT
  TAILER_API_TOKEN                a bearer token, when no key file is given
  TAILER_SERVICE_ACCOUNT          keyless: the service account whose token IAM signJwt signs
                                  [default: the metadata server's default account]
  GCE_METADATA_HOST               keyless: host[:port] of the metadata server
                                  [default: metadata.google.internal]
  GOOGLE_IAM_CREDENTIALS_URL      keyless: the IAM Credentials API base
                                  [default: https://iamcredentials.googleapis.com]
  GOOGLE_OAUTH_TOKEN_URL          where an authorized_user file's refresh token is exchanged
                                  [default: https://oauth2.googleapis.com/token]
  TAILERBOT_CONFIG                the configuration file [default: tailerbot.toml]
  TAILERBOT_CONFIG_TOML           the whole configuration (TOML), instead of a file
  DATABASE_URL                    sqlite://PATH or postgres://... [default: sqlite://tailerbot.db]
  PORT                            the listen port [default: 8080]
  METRICS_PORT                    serve /metrics on this port instead of PORT
  MAX_CONNECTIONS                 HTTP connections served at once [default: 256]
  RUST_LOG, LOG_FORMAT            the log filter [default: info]; json or text [default: text]

With neither GOOGLE_APPLICATION_CREDENTIALS nor TAILER_API_TOKEN, serve is keyless: it
takes the access token of the machine's service account from the metadata server and
has IAM (signJwt) sign its Tailer token; the account needs
roles/iam.serviceAccountTokenCreator on the account it signs for (itself by default).

Before it serves, serve lists every mistake it finds in the configuration and the
environment at once, then asks Slack (auth.test) and Tailer (one read) whether they
accept the credentials, and stops with the variable to fix when they refuse them.";

/// A Slack chat-ops bot for Tailer.
#[derive(Debug, Parser)]
#[command(name = "tailerbot", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print the catalog and the rules (exit 2 when invalid).
    CheckConfig {
        /// The configuration file (default: the text of $TAILERBOT_CONFIG_TOML, else the file
        /// $TAILERBOT_CONFIG, else tailerbot.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Serve the bot: Slack's endpoints, and the work after each answer.
    #[command(after_help = SERVE_ENVIRONMENT)]
    Serve,
    /// Play a conversation with the bot, offline: the bot, a Tailer simulator and a Slack
    /// stand-in in one process, printed as Slack would show it.
    Demo {
        /// 2 runs the simulated jobs twice as fast, 0.5 half as fast.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Type the commands yourself: `/tailer ...`, `as ana /tailer ...`, `click <label>`.
        #[arg(long)]
        interactive: bool,
        /// Where the chart of `history` is saved, as Slack received it.
        #[arg(long, default_value = "tailerbot-demo-history.png")]
        chart: PathBuf,
    },
    /// Exit 0 when the bot on this machine answers its liveness check (for container
    /// health checks: no shell or curl needed).
    Healthcheck {
        /// What to ask (default: http://127.0.0.1:$PORT/healthz).
        #[arg(long)]
        url: Option<String>,
    },
    /// Print the Slack app manifest (YAML) for the bot's public URL.
    Manifest {
        /// The public base URL, e.g. https://tailerbot.example.com.
        #[arg(long, required_unless_present = "socket_mode")]
        url: Option<String>,
        /// The Socket Mode variant: no public URL needed.
        #[arg(long)]
        socket_mode: bool,
        /// Leave out the scope of a feature this workspace does without (repeatable).
        #[arg(long, value_enum, value_name = "FEATURE")]
        without: Vec<crate::manifest::Optional>,
    },
    /// Serve the Tailer API simulator alone.
    Sim {
        /// Port to listen on (0: any free port, printed at start).
        #[arg(long, default_value_t = 8081)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value_t = Ipv4Addr::LOCALHOST.into())]
        bind: std::net::IpAddr,
        /// Configuration whose catalog the simulator knows (default: the embedded example).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed for run ids and timings.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// 2 runs the jobs twice as fast, 0.5 half as fast (as for `demo`).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Accept only this bearer token (default: any well-formed one).
        #[arg(long, env = "TAILER_SIM_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Also serve a Slack stand-in on this port (0: any free port, printed at start):
        /// the Web API at `/api/<method>`, `response_url`s at `/response/<key>`, and how
        /// many posts each `response_url` received at `GET /_standin/responses`.
        #[arg(long)]
        slack_standin: Option<u16>,
        /// The bot token the Slack stand-in accepts.
        #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
        slack_token: Option<String>,
    },
}

/// Runs a parsed command line; returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    // The demo prints a conversation, which log lines would cut into: none unless
    // RUST_LOG asks (what goes wrong in it ends the demo with its error).
    let default_level = if matches!(cli.command, Command::Demo { .. }) { "off" } else { "info" };
    crate::telemetry::init(log_format(), default_level);
    match cli.command {
        Command::CheckConfig { config } => check_config(config),
        Command::Serve => runtime().block_on(serve::serve()),
        Command::Healthcheck { url } => {
            let port = Settings::port(&|name| std::env::var(name).ok()).unwrap_or(8080);
            let url = url.unwrap_or_else(|| format!("http://127.0.0.1:{port}/healthz"));
            runtime().block_on(healthcheck(&url))
        }
        Command::Manifest { url, socket_mode, without } => match crate::manifest::render(url.as_deref(), socket_mode, &without) {
            Ok(manifest) => {
                print!("{manifest}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Demo { speed, interactive, chart } => {
            if !(speed > 0.0 && speed.is_finite()) {
                eprintln!("error: --speed must be a positive number");
                return ExitCode::from(2);
            }
            match runtime().block_on(crate::demo::run(crate::demo::DemoOptions { speed, interactive, chart })) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sim { port, bind, config, seed, speed, token, slack_standin, slack_token } => {
            let config = match config {
                Some(path) => match Config::load(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => embedded_config(),
            };
            if !(speed > 0.0 && speed.is_finite()) {
                eprintln!("error: --speed must be a positive number");
                return ExitCode::from(2);
            }
            let standin = match (slack_standin, slack_token) {
                (Some(port), Some(token)) => Some((SocketAddr::new(bind, port), token)),
                (Some(_), None) => {
                    eprintln!("error: --slack-standin needs --slack-token (or SLACK_BOT_TOKEN): the bot token it accepts");
                    return ExitCode::from(2);
                }
                (None, _) => None,
            };
            let options = SimOptions { seed, speed: crate::demo::timing_factor(speed), token, ..SimOptions::default() }
                .with_catalog(crate::offline::configurations(&config.jobs));
            runtime().block_on(serve_sim(options, SocketAddr::new(bind, port), standin))
        }
    }
}

/// Logging starts before the rest is read: a wrong `LOG_FORMAT` logs as text, and
/// `serve` then refuses it with the rest of the environment.
fn log_format() -> LogFormat {
    Settings::log_format(&|name| std::env::var(name).ok()).unwrap_or(LogFormat::Text)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        // Without a runtime there is nothing to run; this only fails when the OS refuses threads.
        .expect("cannot start the async runtime")
}

pub use crate::config::embedded_config;
