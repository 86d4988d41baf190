//! From the file as written to a [`Config`]: every id parsed, every cross-reference
//! checked, every mistake located by line and key.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::file::{RawConfig, RawJob, RawRule};
use super::rules::{Effect, Matcher, Rule, Who};
use super::{Config, ConfigError, Job, RunUrlTemplate, SlackConfig, TailerConfig, WatchConfig};
use crate::domain::{
    Account, ActionSet, AppId, ChannelId, ConfigurationId, ConfigurationType, Environment, IdError, JobId, JobName, TeamId, UserGroupId,
    UserId,
};
use crate::tailer::JobRef;

/// Where the text of the file is, to turn byte offsets into line numbers.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    fn error(&self, offset: Option<usize>, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            line: offset.map(|o| self.line_of(o)),
            key: Some(key.into()),
            message: message.into(),
            also: Vec::new(),
        }
    }

    fn id<T>(&self, value: &Spanned<String>, key: impl Into<String>, parse: fn(&str) -> Result<T, IdError>) -> Result<T, ConfigError> {
        parse(value.get_ref()).map_err(|e| self.error(Some(value.span().start), key, e.to_string()))
    }

    fn ids<T>(&self, values: &[Spanned<String>], key: &str, parse: fn(&str) -> Result<T, IdError>) -> Result<Vec<T>, ConfigError> {
        values.iter().map(|v| self.id(v, key, parse)).collect()
    }

    /// `["*"]` (or nothing) is any; a list with `*` among other values is a mistake.
    fn matcher<T>(
        &self,
        values: Option<&Vec<Spanned<String>>>,
        key: &str,
        parse: fn(&str) -> Result<T, IdError>,
    ) -> Result<Matcher<T>, ConfigError> {
        let Some(values) = values else {
            return Ok(Matcher::Any);
        };
        if values.iter().any(|v| v.get_ref() == "*") {
            if values.len() > 1 {
                return Err(self.error(Some(values[0].span().start), key, "`*` already means any: list either `*` alone or the values"));
            }
            return Ok(Matcher::Any);
        }
        if values.is_empty() {
            return Err(self.error(None, key, "an empty list matches nothing: leave the key out to mean any, or write [\"*\"]"));
        }
        Ok(Matcher::Only(self.ids(values, key, parse)?))
    }
}

pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let source = Source { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        path: path.to_owned(),
        line: e.span().map(|s| source.line_of(s.start)),
        key: None,
        message: e.message().trim().to_owned(),
        also: Vec::new(),
    })?;
    // Every section, job and rule is checked even after a mistake, so that all of them
    // are reported at once.
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let slack = keep(&mut errors, slack(&source, &raw));
    let watch = keep(&mut errors, watch(&source, &raw));
    let tailer = keep(&mut errors, tailer(&source, &raw));
    let mut seen = HashMap::new();
    let jobs: Vec<Option<Job>> =
        raw.jobs.iter().enumerate().map(|(i, j)| keep(&mut errors, job(&source, i, j, &mut seen, &mut warnings))).collect();
    let rules: Vec<Option<Rule>> =
        raw.rules.iter().enumerate().map(|(i, r)| keep(&mut errors, rule(&source, i + 1, r, &mut warnings))).collect();
    if let Some(error) = ConfigError::of(errors) {
        return Err(error);
    }
    let (Some(slack), Some(watch), Some(tailer)) = (slack, watch, tailer) else {
        unreachable!("a section that failed left an error");
    };
    let jobs: Vec<Job> = jobs.into_iter().flatten().collect();
    let rules: Vec<Rule> = rules.into_iter().flatten().collect();
    reachability(&jobs, &rules, &mut warnings);
    Ok(Config { slack, watch, tailer, jobs, rules, warnings })
}

/// The value, or `None` with its mistake noted.
fn keep<T>(errors: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn slack(source: &Source, raw: &RawConfig) -> Result<SlackConfig, ConfigError> {
    let s = &raw.slack;
    let prefixes = match &s.response_url_prefixes {
        None => vec!["https://hooks.slack.com/".to_owned()],
        Some(list) => {
            for prefix in list {
                let p = prefix.get_ref();
                let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|l| p.starts_with(l));
                let https_host = p.strip_prefix("https://").is_some_and(|rest| rest.contains('/') && !rest.starts_with('/'));
                if !(https_host || (local && p.ends_with('/'))) {
                    return Err(source.error(
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
    Ok(SlackConfig {
        allowed_team_ids: source.ids(s.allowed_team_ids.as_deref().unwrap_or_default(), "slack.allowed_team_ids", TeamId::parse)?,
        allowed_app_ids: source.ids(s.allowed_app_ids.as_deref().unwrap_or_default(), "slack.allowed_app_ids", AppId::parse)?,
        audit_channel: s.audit_channel.as_ref().map(|c| source.id(c, "slack.audit_channel", ChannelId::parse)).transpose()?,
        response_url_prefixes: prefixes,
    })
}

fn positive(source: &Source, value: &Option<Spanned<u64>>, key: &str, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if *v.get_ref() == 0 => Err(source.error(Some(v.span().start), key, "must be at least 1")),
        Some(v) => Ok(*v.get_ref()),
    }
}

fn watch(source: &Source, raw: &RawConfig) -> Result<WatchConfig, ConfigError> {
    let w = &raw.watch;
    let poll = positive(source, &w.poll_interval_secs, "watch.poll_interval_secs", 15)?;
    let max = positive(source, &w.max_poll_interval_secs, "watch.max_poll_interval_secs", 120.max(poll))?;
    if max < poll {
        return Err(source.error(
            w.max_poll_interval_secs.as_ref().map(|v| v.span().start),
            "watch.max_poll_interval_secs",
            format!("{max} is below poll_interval_secs ({poll}): the ceiling must be at least the first interval"),
        ));
    }
    let concurrent = positive(source, &w.max_concurrent_polls, "watch.max_concurrent_polls", 8)?;
    Ok(WatchConfig {
        poll_interval: Duration::from_secs(poll),
        max_poll_interval: Duration::from_secs(max),
        give_up_after: Duration::from_secs(3600 * positive(source, &w.give_up_after_hours, "watch.give_up_after_hours", 24)?),
        subscription_poll: Duration::from_secs(positive(source, &w.subscription_poll_secs, "watch.subscription_poll_secs", 60)?),
        max_concurrent_polls: usize::try_from(concurrent).unwrap_or(usize::MAX),
        unknown_status_final_after: Duration::from_secs(positive(
            source,
            &w.unknown_status_final_after_secs,
            "watch.unknown_status_final_after_secs",
            600,
        )?),
        lease: Duration::from_secs(positive(source, &w.lease_secs, "watch.lease_secs", 30)?),
    })
}

fn tailer(source: &Source, raw: &RawConfig) -> Result<TailerConfig, ConfigError> {
    let t = &raw.tailer;
    for (value, key) in [(&t.api_url, "tailer.api_url"), (&t.audience, "tailer.audience")] {
        if let Some(v) = value {
            if !(v.get_ref().starts_with("https://") || v.get_ref().starts_with("http://")) {
                return Err(source.error(Some(v.span().start), key, format!("`{}` is not an http(s) URL", v.get_ref())));
            }
        }
    }
    Ok(TailerConfig {
        api_url: t.api_url.as_ref().map(|v| v.get_ref().clone()),
        audience: t.audience.as_ref().map(|v| v.get_ref().clone()),
        timeout: Duration::from_secs(positive(source, &t.timeout_secs, "tailer.timeout_secs", 10)?),
        max_retries: match &t.max_retries {
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => 3,
        },
        max_requests_per_second: u32::try_from(positive(source, &t.max_requests_per_second, "tailer.max_requests_per_second", 20)?)
            .unwrap_or(u32::MAX),
        max_response_bytes: match &t.max_response_bytes {
            Some(v) if *v.get_ref() < 1024 => {
                return Err(source.error(Some(v.span().start), "tailer.max_response_bytes", "must be at least 1024 (1 KiB)"));
            }
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => crate::http_limits::DEFAULT_MAX_ANSWER,
        },
        max_calls_in_flight: usize::try_from(positive(source, &t.max_calls_in_flight, "tailer.max_calls_in_flight", 64)?)
            .unwrap_or(usize::MAX),
        max_calls_waiting: match &t.max_calls_waiting {
            Some(v) => usize::try_from(*v.get_ref()).unwrap_or(usize::MAX),
            None => 1_000,
        },
        run_url_template: match &t.run_url_template {
            Some(v) => {
                Some(RunUrlTemplate::parse(v.get_ref()).map_err(|e| source.error(Some(v.span().start), "tailer.run_url_template", e))?)
            }
            None => None,
        },
    })
}

/// One job of the catalog; `seen` holds the names before it (with their lines).
fn job(source: &Source, i: usize, j: &RawJob, seen: &mut HashMap<String, usize>, warnings: &mut Vec<String>) -> Result<Job, ConfigError> {
    // Named by its number, and by its name when it has a valid one.
    let label = match JobName::parse(j.name.get_ref()) {
        Ok(name) => format!("jobs #{} ({name})", i + 1),
        Err(_) => format!("jobs #{}", i + 1),
    };
    let key = |field: &str| format!("{label}.{field}");
    let name = source.id(&j.name, key("name"), JobName::parse)?;
    let line = source.line_of(j.name.span().start);
    if let Some(first) = seen.insert(name.as_str().to_owned(), line) {
        return Err(source.error(
            Some(j.name.span().start),
            key("name"),
            format!("duplicate job name `{name}` (first defined at line {first}): names must be unique"),
        ));
    }
    let configuration_type = source.id(&j.configuration_type, key("configuration_type"), ConfigurationType::parse)?;
    let configuration_id = source.id(&j.configuration_id, key("configuration_id"), ConfigurationId::parse)?;
    let derived = JobRef::derived_job_id(&configuration_type, &configuration_id);
    let job_id = match &j.job_id {
        Some(v) => {
            let given = source.id(v, key("job_id"), JobId::parse)?;
            if let Some(derived) = derived.as_ref().filter(|d| **d != given) {
                warnings.push(format!(
                    "line {}: job `{name}`: job_id `{given}` differs from the usual `{derived}` for {configuration_type}",
                    source.line_of(v.span().start)
                ));
            }
            Some(given)
        }
        None => {
            // Runs are looked up by job id: without one, `status`, `watch` and run
            // cards cannot follow this job's runs.
            if derived.is_none() && configuration_type.as_str() == "storage-to-storage" {
                warnings.push(format!(
                    "line {}: job `{name}`: a storage-to-storage job needs `job_id` (`storage-to-storage|<account>|<configuration_id>|<ENV>|<file name template>`) for its runs to be followed",
                    source.line_of(j.name.span().start)
                ));
            }
            derived
        }
    };
    let tags = j
        .tags
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let tag = t.get_ref();
            let ok = !tag.is_empty() && tag.len() <= 64 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if ok {
                Ok(tag.clone())
            } else {
                Err(source.error(
                    Some(t.span().start),
                    key("tags"),
                    format!("`{tag}` is not a valid tag: letters, digits, `-`, `_` or `.`"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Job {
        job: JobRef {
            account: source.id(&j.account, key("account"), Account::parse)?,
            environment: source.id(&j.environment, key("environment"), Environment::parse)?,
            configuration_type,
            configuration_id,
            job_id,
        },
        name,
        description: j.description.clone(),
        tags,
    })
}

fn rule(source: &Source, number: usize, raw: &Spanned<RawRule>, warnings: &mut Vec<String>) -> Result<Rule, ConfigError> {
    let line = source.line_of(raw.span().start);
    let r = raw.get_ref();
    let key = |field: &str| format!("rules #{number}.{field}");
    let effect = match &r.effect {
        None => Effect::Allow,
        Some(e) => match e.get_ref().as_str() {
            "allow" => Effect::Allow,
            "deny" => Effect::Deny,
            other => {
                return Err(source.error(Some(e.span().start), key("effect"), format!("`{other}` is neither `allow` nor `deny`")));
            }
        },
    };
    let actions = match &r.actions {
        None => ActionSet::any(),
        Some(list) => {
            if list.len() > 1 && list.iter().any(|a| a.get_ref() == "*") {
                return Err(source.error(
                    Some(list[0].span().start),
                    key("actions"),
                    "`*` already means every action: list either `*` alone or the actions",
                ));
            }
            let mut set = ActionSet::default();
            for entry in list {
                set.add(entry.get_ref()).map_err(|e| source.error(Some(entry.span().start), key("actions"), e.to_string()))?;
            }
            set
        }
    };
    let who = match (&r.users, &r.usergroups) {
        (None, None) => Who::Anyone,
        (users, groups) => {
            let users = users.as_deref().unwrap_or_default();
            if users.len() > 1 && users.iter().any(|u| u.get_ref() == "*") {
                return Err(source.error(
                    Some(users[0].span().start),
                    key("users"),
                    "`*` already means anyone: list either `*` alone or the user ids",
                ));
            }
            if users.iter().any(|u| u.get_ref() == "*") {
                Who::Anyone
            } else {
                Who::Only {
                    users: source.ids(users, &key("users"), UserId::parse)?,
                    usergroups: source.ids(groups.as_deref().unwrap_or_default(), &key("usergroups"), UserGroupId::parse)?,
                }
            }
        }
    };
    let confirm = r.confirm.unwrap_or(false);
    let second_person = r.second_person.unwrap_or(false);
    if second_person && !confirm {
        return Err(source.error(
            Some(raw.span().start),
            key("second_person"),
            "second_person = true needs confirm = true: the second person confirms",
        ));
    }
    if effect == Effect::Deny && confirm {
        warnings.push(format!("line {line}: rule #{number} denies, so its `confirm` has no effect"));
    }
    if matches!(&who, Who::Only { users, usergroups } if users.is_empty() && usergroups.is_empty()) {
        warnings.push(format!("line {line}: rule #{number} lists no user and no user group: it matches nobody"));
    }
    Ok(Rule {
        number,
        line,
        effect,
        actions,
        environments: source.matcher(r.environments.as_ref(), &key("environments"), Environment::parse)?,
        who,
        channels: source.matcher(r.channels.as_ref(), &key("channels"), ChannelId::parse)?,
        confirm,
        second_person,
    })
}

/// Warns about PROD jobs no allow rule can reach, and about a file without rules.
fn reachability(jobs: &[Job], rules: &[Rule], warnings: &mut Vec<String>) {
    if rules.is_empty() {
        warnings.push("no [[rules]]: every command will be denied".to_owned());
        return;
    }
    for job in jobs.iter().filter(|j| j.job.environment.as_str() == "PROD") {
        let reachable = rules.iter().any(|r| r.effect == Effect::Allow && r.environments.matches(&job.job.environment));
        if !reachable {
            warnings.push(format!("job `{}` is in PROD but no allow rule covers PROD: nobody can act on it", job.name));
        }
    }
}
