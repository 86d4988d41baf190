//! The command line: one subcommand per process of product.md, each arriving with the
//! issue that builds it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, Settings};
use crate::sim::{SimOptions, Simulator};

/// What `serve --help` lists after the options: everything `serve` reads.
const SERVE_ENVIRONMENT: &str = "Environment:
  SLACK_SIGNING_SECRET            verifies Slack's requests (required over HTTP)
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
        /// Timing factor: 0.1 makes runs ten times faster.
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
        Command::Serve => runtime().block_on(serve()),
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
            let options =
                SimOptions { seed, speed, token, ..SimOptions::default() }.with_catalog(crate::offline::configurations(&config.jobs));
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

fn check_config(path: Option<PathBuf>) -> ExitCode {
    let lookup = |name: &str| std::env::var(name).ok();
    let shown = match (&path, lookup(crate::config::CONFIG_TEXT_VARIABLE).filter(|t| !t.trim().is_empty())) {
        (None, Some(_)) => PathBuf::from(crate::config::CONFIG_TEXT_VARIABLE),
        _ => path.clone().unwrap_or_else(|| Settings::config_path(&lookup)),
    };
    let config = match Config::from_environment(&lookup, path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            print_config_errors(&e);
            return ExitCode::from(2);
        }
    };
    let (_, mistakes) = Settings::read(&lookup, &config.tailer);
    if !mistakes.is_empty() {
        for mistake in mistakes {
            eprintln!("error: {mistake}");
        }
        return ExitCode::from(2);
    }
    print!("{}", describe(&shown, &config));
    ExitCode::SUCCESS
}

/// Every mistake of a configuration, one `error:` line each, in the order of the file.
fn print_config_errors(e: &crate::config::ConfigError) {
    for mistake in e.all() {
        let alone = crate::config::ConfigError { also: Vec::new(), ..mistake.clone() };
        eprintln!("error: {alone}");
    }
}

/// What `check-config` prints for a valid file.
pub fn describe(path: &Path, config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    let _ = writeln!(out, "{}: valid ({}, {})", path.display(), plural(config.jobs.len(), "job"), plural(config.rules.len(), "rule"));
    let _ = writeln!(out, "\nCatalog:");
    for job in &config.jobs {
        let tags = if job.tags.is_empty() { String::new() } else { format!(" [tags: {}]", job.tags.join(", ")) };
        let _ = writeln!(
            out,
            "  {:<24} {:<8} {} {} ({}){tags}",
            job.name.as_str(),
            job.job.environment.as_str(),
            job.job.account.as_str(),
            job.job.configuration_id.as_str(),
            job.job.configuration_type.as_str(),
        );
    }
    let _ = writeln!(out, "\nRules (first match decides, no match denies):");
    for rule in &config.rules {
        let _ = writeln!(out, "  {rule}");
    }
    for warning in &config.warnings {
        let _ = writeln!(out, "\nwarning: {warning}");
    }
    out
}

async fn serve() -> ExitCode {
    let lookup = |name: &str| std::env::var(name).ok();
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let (config, settings, tokens) = match startup(&lookup, clock.clone()).await {
        Ok(ready) => ready,
        Err(mistakes) => {
            for mistake in mistakes {
                eprintln!("error: {mistake}");
            }
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), settings.port);
    // What a library's error says is not ours to vouch for: any URL credentials in it
    // are taken out before it is printed.
    let app = match crate::server::Application::build_with_tokens(&settings, config, clock, addr, tokens).await {
        Ok(app) => app.reloading_from(crate::config::reload::Origin::of_environment(&|name| std::env::var(name).ok(), None)),
        Err(e) => {
            eprintln!("error: {}", crate::config::redact_urls_in(&format!("{e:#}")));
            return ExitCode::from(2);
        }
    };
    let preflight = app.preflight(&settings).await;
    for warning in &preflight.warnings {
        tracing::warn!(%warning, "start-up check");
    }
    if !preflight.refused.is_empty() {
        // Once each, on stderr with the other start-up mistakes (a log line as well
        // would say it twice on the same stream).
        for refusal in &preflight.refused {
            eprintln!("error: {refusal}");
        }
        return ExitCode::from(2);
    }
    match app.run_until(crate::server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::config::redact_urls_in(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Everything `serve` needs before it opens its port, with every mistake found on the
/// way, each once and in one go: the configuration's (`FILE:LINE`), the variables', the
/// missing secrets, and the Tailer credentials (reading the key file, or asking the
/// metadata server whether there is a machine identity to be keyless with).
pub async fn startup(
    lookup: &dyn Fn(&str) -> Option<String>,
    clock: crate::clock::SharedClock,
) -> Result<(Config, Settings, std::sync::Arc<crate::tailer::TokenSource>), Vec<String>> {
    let mut mistakes = Vec::new();
    let config = match Config::from_environment(lookup, None) {
        Ok(config) => Some(config),
        Err(e) => {
            mistakes.extend(e.all().map(|mistake| crate::config::ConfigError { also: Vec::new(), ..mistake.clone() }.to_string()));
            None
        }
    };
    for warning in config.iter().flat_map(|c| &c.warnings) {
        tracing::warn!(%warning, "configuration");
    }
    let (settings, bad) = Settings::read(lookup, &config.as_ref().map(|c| c.tailer.clone()).unwrap_or_default());
    mistakes.extend(bad.iter().chain(&settings.serve_mistakes()).map(ToString::to_string));
    for warning in settings.warnings() {
        tracing::warn!(%warning, "start-up check");
    }
    let tokens = match settings.token_source(clock) {
        Ok(tokens) => match tokens.probe().await {
            Ok(()) => Some(tokens),
            Err(e) if e.transient => {
                tracing::warn!(error = %e, "cannot check the Tailer credentials now; starting anyway");
                Some(tokens)
            }
            Err(e) => {
                mistakes.push(crate::config::StartupError::NoTailerCredentials(e.message).to_string());
                None
            }
        },
        Err(e) => {
            mistakes.push(e.to_string());
            None
        }
    };
    match (config, tokens) {
        (Some(config), Some(tokens)) if mistakes.is_empty() => Ok((config, settings, tokens)),
        _ => Err(mistakes),
    }
}

async fn healthcheck(url: &str) -> ExitCode {
    let client = match crate::http_limits::client_builder().timeout(std::time::Duration::from_secs(3)).build() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(url).send().await {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("unhealthy: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The simulator, and with `standin` (address, bot token) a Slack stand-in beside it,
/// until Ctrl-C or SIGTERM.
async fn serve_sim(options: SimOptions, addr: SocketAddr, standin: Option<(SocketAddr, String)>) -> ExitCode {
    let jobs = options.configurations.len();
    let running = match Simulator::start(options, addr).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Tailer simulator listening on {} ({jobs} configurations)", running.url());
    println!("point the bot at it: TAILER_API_URL={} TAILER_API_TOKEN=anything", running.url());
    // Kept until the end: dropping it stops the stand-in.
    let _slack = match standin {
        Some((addr, token)) => match crate::slack::standin::SlackStandin::new(&token).counting_responses().start(addr).await {
            Ok(slack) => {
                println!("Slack stand-in listening on http://{}", slack.addr);
                println!(
                    "point the bot at it: SLACK_API_URL={} and response_url_prefixes = [\"{}\"]",
                    slack.api_url(),
                    slack.response_url_prefix()
                );
                Some(slack)
            }
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    crate::server::shutdown_signal().await;
    ExitCode::SUCCESS
}
