//! From the file as written to a [`Config`]: every id parsed, every cross-reference
//! checked, every mistake located by line and key.

use std::collections::HashMap;
use std::path::Path;

use toml::Spanned;

use super::file::{RawExpectation, RawJob, RawRule};
use super::rules::{Effect, Matcher, Rule, Who};
use super::sections::{slack, tailer, watch};
use super::{Config, ConfigError, Expectation, Job};
use crate::domain::{
    Account, ActionSet, ChannelId, ConfigurationId, ConfigurationType, Environment, IdError, JobId, JobName, UserGroupId, UserId,
};
use crate::tailer::JobRef;

/// Where the text of the file is, to turn byte offsets into line numbers.
pub(super) struct Source<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Source<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    pub(super) fn error(&self, offset: Option<usize>, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            line: offset.map(|o| self.line_of(o)),
            key: Some(key.into()),
            message: message.into(),
            also: Vec::new(),
        }
    }

    /// A warning, as `FILE:LINE: what`.
    fn warning(&self, offset: usize, text: String) -> String {
        format!("{}:{}: {text}", self.path.display(), self.line_of(offset))
    }

    pub(super) fn id<T>(
        &self,
        value: &Spanned<String>,
        key: impl Into<String>,
        parse: fn(&str) -> Result<T, IdError>,
    ) -> Result<T, ConfigError> {
        parse(value.get_ref()).map_err(|e| self.error(Some(value.span().start), key, e.to_string()))
    }

    pub(super) fn ids<T>(
        &self,
        values: &[Spanned<String>],
        key: &str,
        parse: fn(&str) -> Result<T, IdError>,
    ) -> Result<Vec<T>, ConfigError> {
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
    // Every section, job and rule is checked even after a mistake (an unknown key, a
    // value of the wrong type, one bad rule), so that all of them are reported at once.
    let read = super::read::read(text);
    let mut errors: Vec<ConfigError> = read
        .mistakes
        .into_iter()
        .map(|m| ConfigError {
            path: path.to_owned(),
            line: m.offset.map(|o| source.line_of(o)),
            key: m.key,
            message: m.message,
            also: Vec::new(),
        })
        .collect();
    let raw = read.raw;
    let mut warnings = Vec::new();
    let slack = keep(&mut errors, slack(&source, &raw));
    let watch = keep(&mut errors, watch(&source, &raw));
    let tailer = keep(&mut errors, tailer(&source, &raw));
    let mut seen = HashMap::new();
    let jobs: Vec<Option<Job>> = read.jobs.iter().map(|(i, j)| job(&source, *i, j, &mut seen, &mut errors, &mut warnings)).collect();
    let rules: Vec<Option<Rule>> = read.rules.iter().map(|(n, r)| rule(&source, *n, r, &mut errors, &mut warnings)).collect();
    let mut expected = std::collections::HashSet::new();
    let expectations: Vec<Expectation> =
        read.expectations.iter().filter_map(|(n, e)| expectation(&source, *n, e, &seen, &mut expected, &mut errors)).collect();
    if let Some(error) = ConfigError::of(errors) {
        return Err(error);
    }
    let (Some(slack), Some(watch), Some(tailer)) = (slack, watch, tailer) else {
        unreachable!("a section that failed left an error");
    };
    let jobs: Vec<Job> = jobs.into_iter().flatten().collect();
    let rules: Vec<Rule> = rules.into_iter().flatten().collect();
    reachability(&source, &jobs, &rules, &seen, &mut warnings);
    Ok(Config { slack, watch, tailer, jobs, rules, expectations, warnings })
}

/// The value, or `None` with its mistake noted.
fn keep<T>(errors: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result
        .map_err(|mut e| {
            let also = std::mem::take(&mut e.also);
            errors.push(e);
            errors.extend(also);
        })
        .ok()
}

/// One job of the catalog, every mistake of it noted; `seen` holds the names before it
/// (with their lines).
fn job(
    source: &Source,
    i: usize,
    j: &RawJob,
    seen: &mut HashMap<String, usize>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Option<Job> {
    // Named by its number, and by its name when it has a valid one.
    let label = match JobName::parse(j.name.get_ref()) {
        Ok(name) => format!("jobs #{} ({name})", i + 1),
        Err(_) => format!("jobs #{}", i + 1),
    };
    let key = |field: &str| format!("{label}.{field}");
    let name = keep(errors, source.id(&j.name, key("name"), JobName::parse));
    if let Some(name) = &name {
        let line = source.line_of(j.name.span().start);
        if let Some(first) = seen.insert(name.as_str().to_owned(), line) {
            errors.push(source.error(
                Some(j.name.span().start),
                key("name"),
                format!("duplicate job name `{name}` (first defined at line {first}): names must be unique"),
            ));
        }
    }
    let configuration_type = keep(errors, source.id(&j.configuration_type, key("configuration_type"), ConfigurationType::parse));
    let configuration_id = keep(errors, source.id(&j.configuration_id, key("configuration_id"), ConfigurationId::parse));
    let given = j.job_id.as_ref().and_then(|v| keep(errors, source.id(v, key("job_id"), JobId::parse)));
    let mut tags = Vec::new();
    for t in j.tags.as_deref().unwrap_or_default() {
        let tag = t.get_ref();
        if !tag.is_empty() && tag.len() <= 64 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            tags.push(tag.clone());
        } else {
            errors.push(source.error(
                Some(t.span().start),
                key("tags"),
                format!("`{tag}` is not a valid tag: letters, digits, `-`, `_` or `.`"),
            ));
        }
    }
    let account = keep(errors, source.id(&j.account, key("account"), Account::parse));
    let environment = keep(errors, source.id(&j.environment, key("environment"), Environment::parse));
    let (name, configuration_type, configuration_id, account, environment) =
        (name?, configuration_type?, configuration_id?, account?, environment?);
    if j.job_id.is_some() && given.is_none() {
        return None;
    }
    let derived = JobRef::derived_job_id(&configuration_type, &configuration_id);
    let job_id = match (given, &j.job_id) {
        (Some(given), Some(v)) => {
            if let Some(derived) = derived.as_ref().filter(|d| **d != given) {
                warnings.push(source.warning(
                    v.span().start,
                    format!("job `{name}`: job_id `{given}` differs from the usual `{derived}` for {configuration_type}"),
                ));
            }
            Some(given)
        }
        _ => {
            // Runs are looked up by job id: without one, `status`, `watch` and run
            // cards cannot follow this job's runs.
            if derived.is_none() && configuration_type.as_str() == "storage-to-storage" {
                warnings.push(source.warning(
                    j.name.span().start,
                    format!("job `{name}`: a storage-to-storage job needs `job_id` (`storage-to-storage|<account>|<configuration_id>|<ENV>|<file name template>`) for its runs to be followed"),
                ));
            }
            derived
        }
    };
    Some(Job {
        job: JobRef { account, environment, configuration_type, configuration_id, job_id },
        name,
        description: j.description.clone(),
        tags,
    })
}

/// One rule, every mistake of it noted.
fn rule(source: &Source, number: usize, raw: &Spanned<RawRule>, errors: &mut Vec<ConfigError>, warnings: &mut Vec<String>) -> Option<Rule> {
    let line = source.line_of(raw.span().start);
    let r = raw.get_ref();
    let key = |field: &str| format!("rules #{number}.{field}");
    let effect = match &r.effect {
        None => Some(Effect::Allow),
        Some(e) => match e.get_ref().as_str() {
            "allow" => Some(Effect::Allow),
            "deny" => Some(Effect::Deny),
            other => {
                errors.push(source.error(Some(e.span().start), key("effect"), format!("`{other}` is neither `allow` nor `deny`")));
                None
            }
        },
    };
    let actions = match &r.actions {
        None => Some(ActionSet::any()),
        Some(list) if list.len() > 1 && list.iter().any(|a| a.get_ref() == "*") => {
            errors.push(source.error(
                Some(list[0].span().start),
                key("actions"),
                "`*` already means every action: list either `*` alone or the actions",
            ));
            None
        }
        Some(list) => {
            let mut set = Some(ActionSet::default());
            for entry in list {
                let added = set.as_mut().map(|s| s.add(entry.get_ref()));
                if let Some(Err(e)) = added {
                    errors.push(source.error(Some(entry.span().start), key("actions"), e.to_string()));
                    set = None;
                }
            }
            set
        }
    };
    let who = match (&r.users, &r.usergroups) {
        (None, None) => Some(Who::Anyone),
        (users, groups) => {
            let users = users.as_deref().unwrap_or_default();
            if users.len() > 1 && users.iter().any(|u| u.get_ref() == "*") {
                errors.push(source.error(
                    Some(users[0].span().start),
                    key("users"),
                    "`*` already means anyone: list either `*` alone or the user ids",
                ));
                None
            } else if users.iter().any(|u| u.get_ref() == "*") {
                Some(Who::Anyone)
            } else {
                let users = keep(errors, source.ids(users, &key("users"), UserId::parse));
                let usergroups = keep(errors, source.ids(groups.as_deref().unwrap_or_default(), &key("usergroups"), UserGroupId::parse));
                // Both lists are checked before either mistake ends the rule.
                users.zip(usergroups).map(|(users, usergroups)| Who::Only { users, usergroups })
            }
        }
    };
    let confirm = r.confirm.unwrap_or(false);
    let second_person = r.second_person.unwrap_or(false);
    if second_person && !confirm {
        errors.push(source.error(
            Some(raw.span().start),
            key("second_person"),
            "second_person = true needs confirm = true: the second person confirms",
        ));
    }
    let environments = keep(errors, source.matcher(r.environments.as_ref(), &key("environments"), Environment::parse));
    let channels = keep(errors, source.matcher(r.channels.as_ref(), &key("channels"), ChannelId::parse));
    let (effect, actions, who, environments, channels) = (effect?, actions?, who?, environments?, channels?);
    if second_person && !confirm {
        return None;
    }
    if effect == Effect::Deny && confirm {
        warnings.push(source.warning(raw.span().start, format!("rule #{number} denies, so its `confirm` has no effect")));
    }
    if matches!(&who, Who::Only { users, usergroups } if users.is_empty() && usergroups.is_empty()) {
        warnings.push(source.warning(raw.span().start, format!("rule #{number} lists no user and no user group: it matches nobody")));
    }
    Some(Rule { number, line, effect, actions, environments, who, channels, confirm, second_person })
}

/// One expectation, every mistake of it noted: a job of the catalog (`jobs`: the names
/// read so far), a channel id, a time and a zone; one per channel and job (`expected`).
fn expectation(
    source: &Source,
    n: usize,
    e: &RawExpectation,
    jobs: &HashMap<String, usize>,
    expected: &mut std::collections::HashSet<(String, String)>,
    errors: &mut Vec<ConfigError>,
) -> Option<Expectation> {
    let key = |field: &str| format!("expectations #{n}.{field}");
    let job = keep(errors, source.id(&e.job, key("job"), JobName::parse)).filter(|job| {
        let known = jobs.contains_key(job.as_str());
        if !known {
            errors.push(source.error(Some(e.job.span().start), key("job"), format!("`{job}` is not a job of the catalog")));
        }
        known
    });
    let channel = keep(errors, source.id(&e.channel, key("channel"), ChannelId::parse));
    let zone = e.time_zone.as_ref();
    let schedule = match crate::domain::Schedule::parse(e.by.get_ref(), zone.map(|z| z.get_ref().as_str())) {
        Ok(schedule) => Some(schedule),
        Err(error @ crate::domain::ScheduleError::Time(_)) => {
            errors.push(source.error(Some(e.by.span().start), key("by"), error.to_string()));
            None
        }
        Err(error) => {
            let at = zone.map(|z| z.span().start);
            errors.push(source.error(at, key("time_zone"), error.to_string()));
            None
        }
    };
    let (job, channel, schedule) = (job?, channel?, schedule?);
    if !expected.insert((channel.to_string(), job.to_string())) {
        errors.push(source.error(
            Some(e.job.span().start),
            key("job"),
            format!("`{job}` is already expected in {channel}: one expectation per channel and job"),
        ));
        return None;
    }
    Some(Expectation { job, channel, schedule })
}

/// Warns about PROD jobs no allow rule can reach (at their line, from `lines`), and
/// about a file without rules.
fn reachability(source: &Source, jobs: &[Job], rules: &[Rule], lines: &HashMap<String, usize>, warnings: &mut Vec<String>) {
    if rules.is_empty() {
        warnings.push(format!("{}: no [[rules]]: every command will be denied", source.path.display()));
        return;
    }
    for job in jobs.iter().filter(|j| j.job.environment.as_str() == "PROD") {
        let reachable = rules.iter().any(|r| r.effect == Effect::Allow && r.environments.matches(&job.job.environment));
        if !reachable {
            let line = lines.get(job.name.as_str()).map(|l| format!(":{l}")).unwrap_or_default();
            warnings.push(format!(
                "{}{line}: job `{}` is in PROD but no allow rule covers PROD: nobody can act on it",
                source.path.display(),
                job.name
            ));
        }
    }
}
