//! `serve` (the configuration and the environment read at once, every mistake said;
//! the store, the clients and the workers started), `healthcheck` and `sim`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use crate::config::{Config, Settings};
use crate::sim::{SimOptions, Simulator};

pub(super) async fn serve() -> ExitCode {
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

pub(super) async fn healthcheck(url: &str) -> ExitCode {
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
pub(super) async fn serve_sim(options: SimOptions, addr: SocketAddr, standin: Option<(SocketAddr, String)>) -> ExitCode {
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
