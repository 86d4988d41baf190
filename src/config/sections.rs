//! The tables of one section each (`[slack]`, `[watch]`, `[tailer]`): each value
//! checked, every mistake of a section gathered.

use std::time::Duration;

use toml::Spanned;

use super::file::RawConfig;
use super::validate::Source;
use super::{ConfigError, RunUrlTemplate, SlackConfig, TailerConfig, WatchConfig};
use crate::domain::{AppId, ChannelId, TeamId};

/// The mistakes of a section, gathered while its values are read: each value that is
/// wrong gives way to a stand-in, so that the next ones are still checked.
#[derive(Default)]
pub(super) struct Gather(Vec<ConfigError>);

impl Gather {
    pub(super) fn or<T>(&mut self, result: Result<T, ConfigError>, stand_in: T) -> T {
        result.unwrap_or_else(|e| {
            self.0.push(e);
            stand_in
        })
    }

    pub(super) fn done<T>(self, value: T) -> Result<T, ConfigError> {
        ConfigError::of(self.0).map_or(Ok(value), Err)
    }
}

pub(super) fn slack(source: &Source, raw: &RawConfig) -> Result<SlackConfig, ConfigError> {
    let s = &raw.slack;
    let mut gather = Gather::default();
    let prefixes = match &s.response_url_prefixes {
        None => vec!["https://hooks.slack.com/".to_owned()],
        Some(list) => {
            for prefix in list {
                let p = prefix.get_ref();
                let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|l| p.starts_with(l));
                let https_host = p.strip_prefix("https://").is_some_and(|rest| rest.contains('/') && !rest.starts_with('/'));
                if !(https_host || (local && p.ends_with('/'))) {
                    gather.0.push(source.error(
                        Some(prefix.span().start),
                        "slack.response_url_prefixes",
                        format!(
                            "`{p}` must be an https:// URL with a host and a `/` after it (or http://127.0.0.1:PORT/ for local testing)"
                        ),
                    ));
                }
            }
            list.iter().map(|p| p.get_ref().clone()).collect()
        }
    };
    let config = SlackConfig {
        allowed_team_ids: gather
            .or(source.ids(s.allowed_team_ids.as_deref().unwrap_or_default(), "slack.allowed_team_ids", TeamId::parse), Vec::new()),
        allowed_app_ids: gather
            .or(source.ids(s.allowed_app_ids.as_deref().unwrap_or_default(), "slack.allowed_app_ids", AppId::parse), Vec::new()),
        audit_channel: gather.or(s.audit_channel.as_ref().map(|c| source.id(c, "slack.audit_channel", ChannelId::parse)).transpose(), None),
        response_url_prefixes: prefixes,
    };
    gather.done(config)
}

fn positive(source: &Source, value: &Option<Spanned<u64>>, key: &str, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if *v.get_ref() == 0 => Err(source.error(Some(v.span().start), key, "must be at least 1")),
        Some(v) => Ok(*v.get_ref()),
    }
}

pub(super) fn watch(source: &Source, raw: &RawConfig) -> Result<WatchConfig, ConfigError> {
    let w = &raw.watch;
    let mut gather = Gather::default();
    let poll = gather.or(positive(source, &w.poll_interval_secs, "watch.poll_interval_secs", 15), 1);
    let max = gather.or(positive(source, &w.max_poll_interval_secs, "watch.max_poll_interval_secs", 120.max(poll)), 1);
    if max < poll {
        gather.0.push(source.error(
            w.max_poll_interval_secs.as_ref().map(|v| v.span().start),
            "watch.max_poll_interval_secs",
            format!("{max} is below poll_interval_secs ({poll}): the ceiling must be at least the first interval"),
        ));
    }
    let concurrent = gather.or(positive(source, &w.max_concurrent_polls, "watch.max_concurrent_polls", 8), 1);
    let config = WatchConfig {
        poll_interval: Duration::from_secs(poll),
        max_poll_interval: Duration::from_secs(max),
        give_up_after: Duration::from_secs(3600 * gather.or(positive(source, &w.give_up_after_hours, "watch.give_up_after_hours", 24), 1)),
        subscription_poll: Duration::from_secs(
            gather.or(positive(source, &w.subscription_poll_secs, "watch.subscription_poll_secs", 60), 1),
        ),
        max_concurrent_polls: usize::try_from(concurrent).unwrap_or(usize::MAX),
        unknown_status_final_after: Duration::from_secs(positive(
            source,
            &w.unknown_status_final_after_secs,
            "watch.unknown_status_final_after_secs",
            600,
        )?),
        lease: Duration::from_secs(gather.or(positive(source, &w.lease_secs, "watch.lease_secs", 30), 1)),
    };
    gather.done(config)
}

pub(super) fn tailer(source: &Source, raw: &RawConfig) -> Result<TailerConfig, ConfigError> {
    let t = &raw.tailer;
    let mut gather = Gather::default();
    for (value, key) in [(&t.api_url, "tailer.api_url"), (&t.audience, "tailer.audience")] {
        if let Some(v) = value {
            if !(v.get_ref().starts_with("https://") || v.get_ref().starts_with("http://")) {
                gather.0.push(source.error(Some(v.span().start), key, format!("`{}` is not an http(s) URL", v.get_ref())));
            }
        }
    }
    let config = TailerConfig {
        api_url: t.api_url.as_ref().map(|v| v.get_ref().clone()),
        audience: t.audience.as_ref().map(|v| v.get_ref().clone()),
        timeout: Duration::from_secs(gather.or(positive(source, &t.timeout_secs, "tailer.timeout_secs", 10), 1)),
        max_retries: match &t.max_retries {
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => 3,
        },
        max_requests_per_second: u32::try_from(
            gather.or(positive(source, &t.max_requests_per_second, "tailer.max_requests_per_second", 20), 1),
        )
        .unwrap_or(u32::MAX),
        max_response_bytes: match &t.max_response_bytes {
            Some(v) if *v.get_ref() < 1024 => {
                gather.0.push(source.error(Some(v.span().start), "tailer.max_response_bytes", "must be at least 1024 (1 KiB)"));
                1024
            }
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => crate::http_limits::DEFAULT_MAX_ANSWER,
        },
        max_calls_in_flight: usize::try_from(gather.or(positive(source, &t.max_calls_in_flight, "tailer.max_calls_in_flight", 64), 1))
            .unwrap_or(usize::MAX),
        max_calls_waiting: match &t.max_calls_waiting {
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => 1_000,
        },
        run_url_template: match &t.run_url_template {
            Some(v) => gather.or(
                RunUrlTemplate::parse(v.get_ref()).map(Some).map_err(|e| source.error(Some(v.span().start), "tailer.run_url_template", e)),
                None,
            ),
            None => None,
        },
    };
    gather.done(config)
}
