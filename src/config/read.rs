//! The file as TOML, read past its mistakes: every syntax error (the parser recovers),
//! every unknown key (with the closest known one), and every value of the wrong type,
//! each located, so that one run of `check-config` says them all. What can be read is
//! handed to the checks of [`super::validate`], which go on past mistakes too.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::file::{RawConfig, RawExpectation, RawJob, RawRule};

/// The sections of the file, and the keys of each.
const SECTIONS: &[&str] = &["slack", "watch", "tailer", "jobs", "rules", "expectations"];
pub(super) const SLACK_KEYS: &[&str] = &["allowed_team_ids", "allowed_app_ids", "audit_channel", "response_url_prefixes"];
pub(super) const WATCH_KEYS: &[&str] = &[
    "poll_interval_secs",
    "max_poll_interval_secs",
    "give_up_after_hours",
    "subscription_poll_secs",
    "max_concurrent_polls",
    "unknown_status_final_after_secs",
    "lease_secs",
];
pub(super) const TAILER_KEYS: &[&str] = &[
    "api_url",
    "audience",
    "timeout_secs",
    "max_retries",
    "max_requests_per_second",
    "max_response_bytes",
    "max_calls_in_flight",
    "max_calls_waiting",
    "run_url_template",
];
pub(super) const JOB_KEYS: &[&str] =
    &["name", "account", "environment", "configuration_type", "configuration_id", "job_id", "description", "tags"];
pub(super) const EXPECTATION_KEYS: &[&str] = &["job", "channel", "by", "time_zone"];
pub(super) const RULE_KEYS: &[&str] = &["effect", "actions", "environments", "users", "usergroups", "channels", "confirm", "second_person"];

/// A mistake of the file: where (a byte offset), under which key, what.
#[derive(Debug)]
pub(super) struct Mistake {
    pub offset: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

/// What could be read, with each job and rule numbered as in the file (a job that could
/// not be read leaves its number out), and every mistake found on the way.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub raw: RawConfig,
    pub jobs: Vec<(usize, RawJob)>,
    pub rules: Vec<(usize, Spanned<RawRule>)>,
    pub expectations: Vec<(usize, RawExpectation)>,
    pub mistakes: Vec<Mistake>,
}

pub(super) fn read(text: &str) -> Read {
    let (document, syntax) = DeTable::parse_recoverable(text);
    let mut read = Read::default();
    for error in syntax {
        read.mistakes.push(Mistake { offset: error.span().map(|s| s.start), key: None, message: error.message().trim().to_owned() });
    }
    for (key, value) in document.into_inner() {
        let mistakes = &mut read.mistakes;
        match key.get_ref().as_ref() {
            "slack" => read.raw.slack = section(value, "slack", SLACK_KEYS, mistakes).unwrap_or_default(),
            "watch" => read.raw.watch = section(value, "watch", WATCH_KEYS, mistakes).unwrap_or_default(),
            "tailer" => read.raw.tailer = section(value, "tailer", TAILER_KEYS, mistakes).unwrap_or_default(),
            "jobs" => {
                for (i, job) in entries(value, "jobs", mistakes).into_iter().enumerate() {
                    if let Some(job) = section(job, &format!("jobs #{}", i + 1), JOB_KEYS, mistakes) {
                        read.jobs.push((i, job));
                    }
                }
            }
            "rules" => {
                for (i, rule) in entries(value, "rules", mistakes).into_iter().enumerate() {
                    if let Some(rule) = section(rule, &format!("rules #{}", i + 1), RULE_KEYS, mistakes) {
                        read.rules.push((i + 1, rule));
                    }
                }
            }
            "expectations" => {
                for (i, e) in entries(value, "expectations", mistakes).into_iter().enumerate() {
                    if let Some(e) = section(e, &format!("expectations #{}", i + 1), EXPECTATION_KEYS, mistakes) {
                        read.expectations.push((i + 1, e));
                    }
                }
            }
            other => mistakes.push(unknown(&key, other, None, SECTIONS)),
        }
    }
    read
}

/// The tables of an array of tables (`[[jobs]]`).
fn entries<'i>(value: Spanned<DeValue<'i>>, name: &str, mistakes: &mut Vec<Mistake>) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        _ => {
            mistakes.push(Mistake {
                offset: Some(span.start),
                key: Some(name.to_owned()),
                message: format!("must be a list of tables, written [[{name}]]"),
            });
            Vec::new()
        }
    }
}

/// A table read as `T`: its unknown keys said and left out, and each value of the wrong
/// type said and left out in turn, until the rest reads (or a required key is missing).
fn section<T: DeserializeOwned>(value: Spanned<DeValue<'_>>, name: &str, known: &[&str], mistakes: &mut Vec<Mistake>) -> Option<T> {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        mistakes.push(Mistake { offset: Some(span.start), key: Some(name.to_owned()), message: "must be a table".to_owned() });
        return None;
    };
    let mut table: DeTable<'_> = table
        .into_iter()
        .filter(|(key, _)| {
            let known_key = known.contains(&key.get_ref().as_ref());
            if !known_key {
                mistakes.push(unknown(key, key.get_ref(), Some(name), known));
            }
            known_key
        })
        .collect();
    let mut left_out: Vec<String> = Vec::new();
    for _ in 0..=known.len() {
        let attempt = Spanned::new(span.clone(), DeValue::Table(table.clone()));
        let error = match T::deserialize(ValueDeserializer::from(attempt)) {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        // A key left out for its type, and now missing: said once already.
        if left_out.iter().any(|key| error.message().contains(&format!("missing field `{key}`"))) {
            return None;
        }
        let at = error.span().map(|s| s.start);
        let culprit = at.and_then(|at| {
            table
                .iter()
                .find(|(k, v)| k.span().contains(&at) || v.span().contains(&at) || v.span().start == at)
                .map(|(k, _)| k.get_ref().to_string())
        });
        let key = match &culprit {
            Some(field) => format!("{name}.{field}"),
            None => name.to_owned(),
        };
        mistakes.push(Mistake { offset: at.or(Some(span.start)), key: Some(key), message: error.message().trim().to_owned() });
        let culprit = culprit?;
        table = std::mem::take(&mut table).into_iter().filter(|(k, _)| k.get_ref().as_ref() != culprit.as_str()).collect();
        left_out.push(culprit);
    }
    None
}

/// An unknown key, with the closest known one when one is close.
fn unknown(at: &Spanned<impl Sized>, key: &str, section: Option<&str>, known: &[&str]) -> Mistake {
    let closest = known
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    let shown: String = key.chars().take(60).collect();
    let (key, message) = match section {
        Some(section) => (format!("{section}.{shown}"), format!("unknown key{closest}; the keys of {section} are: {}", known.join(", "))),
        None => (shown, format!("unknown section{closest}; the sections are: {}", known.join(", "))),
    };
    Mistake { offset: Some(at.span().start), key: Some(key), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the lists name is one the file's types read (a key in a list that the
    /// types refuse would be reported as a mistake of the type).
    #[test]
    fn every_listed_key_is_read_by_the_files_types() {
        for (section, keys) in [("slack", SLACK_KEYS), ("watch", WATCH_KEYS), ("tailer", TAILER_KEYS)] {
            for key in keys {
                let read = read(&format!("[{section}]\n{key} = 7\n"));
                assert!(read.mistakes.iter().all(|m| !m.message.contains("unknown")), "{section}.{key}: {:?}", read.mistakes);
            }
        }
        for (section, keys) in [("jobs", JOB_KEYS), ("rules", RULE_KEYS), ("expectations", EXPECTATION_KEYS)] {
            for key in keys {
                let read = read(&format!("[[{section}]]\n{key} = 7\n"));
                assert!(read.mistakes.iter().all(|m| !m.message.contains("unknown")), "{section}.{key}: {:?}", read.mistakes);
            }
        }
    }

    #[test]
    fn an_unknown_key_is_said_with_the_closest_known_one_and_hides_nothing() {
        let read = read("[watch]\npoll_intervall_secs = 5\nlease_secs = 0\n[[jobs]]\nname = \"a\"\nacount = \"000099\"\n");
        let said: Vec<String> = read.mistakes.iter().map(|m| format!("{:?} {}", m.key, m.message)).collect();
        assert!(
            said.iter().any(|s| s.contains("watch.poll_intervall_secs") && s.contains("did you mean `poll_interval_secs`")),
            "{said:?}"
        );
        assert!(said.iter().any(|s| s.contains("jobs #1.acount") && s.contains("did you mean `account`")), "{said:?}");
        assert_eq!(read.raw.watch.lease_secs.as_ref().map(|v| *v.get_ref()), Some(0), "the rest of the section is read");
    }

    #[test]
    fn each_value_of_the_wrong_type_is_said_once() {
        let read = read("[watch]\npoll_interval_secs = \"5\"\nlease_secs = \"x\"\nmax_concurrent_polls = 4\n");
        let keys: Vec<Option<String>> = read.mistakes.iter().map(|m| m.key.clone()).collect();
        assert_eq!(keys, [Some("watch.lease_secs".to_owned()), Some("watch.poll_interval_secs".to_owned())], "{:?}", read.mistakes);
        assert_eq!(read.raw.watch.max_concurrent_polls.as_ref().map(|v| *v.get_ref()), Some(4));
    }
}
