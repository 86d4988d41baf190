//! The offline world the demo and the tests run the bot in: the Tailer simulator knowing
//! the configuration's catalog, and the Slack stand-in with the on-call user group, both
//! on local ports and reading one clock; the configuration pointed at the stand-in's
//! `response_url`s. One function builds it, so the demo shows what the tests check.

use std::net::SocketAddr;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::config::Job;
use crate::sim::{RunningSimulator, SimConfiguration, SimOptions, Simulator};
use crate::slack::standin::{RunningStandin, SlackStandin};

/// The on-call user group of the example configuration, and its one member.
pub const ONCALL_GROUP: &str = "S0ONCALL";

/// A running simulator and stand-in.
pub struct OfflineWorld {
    pub tailer: RunningSimulator,
    pub slack: RunningStandin,
}

/// Starts both on `127.0.0.1` (free ports), on `clock` when given (a test's paused clock),
/// and points `config` at the stand-in's `response_url`s. `oncall` are the members of
/// [`ONCALL_GROUP`]; `bot_token` is the token the stand-in accepts.
pub async fn start(
    config: &mut Config,
    sim: SimOptions,
    bot_token: &str,
    oncall: &[&str],
    clock: Option<SharedClock>,
) -> std::io::Result<OfflineWorld> {
    crate::tls::install_crypto_provider();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = match &clock {
        Some(clock) => SimOptions { clock: clock.clone(), ..sim },
        None => sim,
    };
    let tailer = Simulator::start(sim.with_catalog(configurations(&config.jobs)), local).await?;
    let mut standin = SlackStandin::new(bot_token);
    if let Some(clock) = clock {
        standin = standin.with_clock(clock);
    }
    standin.set_usergroup(ONCALL_GROUP, oncall);
    let slack = standin.start(local).await?;
    config.slack.response_url_prefixes = vec![slack.response_url_prefix()];
    Ok(OfflineWorld { tailer, slack })
}

/// The data operations of a catalog, as the simulator knows them.
pub fn configurations(jobs: &[Job]) -> Vec<SimConfiguration> {
    jobs.iter()
        .map(|j| {
            let mut c = SimConfiguration::new(
                j.job.account.as_str(),
                j.job.environment.as_str(),
                j.job.configuration_type.as_str(),
                j.job.configuration_id.as_str(),
            );
            c.job_id = j.job.job_id.as_ref().map(|id| id.as_str().to_owned());
            c
        })
        .collect()
}
