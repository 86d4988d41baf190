//! From the names people type to catalog entries: a job name, or every job of a tag. An
//! unknown name is answered with the closest names of the catalog.

use super::Target;
use crate::config::{Config, Job};
use crate::domain::JobName;

/// Looks a job up, its exact name first, then without regard to case (`Sales-Daily` is
/// `sales-daily`); the error is the message for the user.
pub fn job<'c>(config: &'c Config, name: &JobName) -> Result<&'c Job, String> {
    config
        .job(name.as_str())
        .or_else(|| config.jobs.iter().find(|j| j.name.as_str().eq_ignore_ascii_case(name.as_str())))
        .ok_or_else(|| unknown_job(config, name.as_str()))
}

/// The jobs a target names (never empty).
pub fn jobs<'c>(config: &'c Config, target: &Target) -> Result<Vec<&'c Job>, String> {
    match target {
        Target::Job(name) => Ok(vec![job(config, name)?]),
        Target::Tag(tag) => {
            let jobs: Vec<&Job> = config.jobs.iter().filter(|j| j.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))).collect();
            if jobs.is_empty() {
                let mut tags: Vec<&str> = config.jobs.iter().flat_map(|j| j.tags.iter().map(String::as_str)).collect();
                tags.sort_unstable();
                tags.dedup();
                Err(crate::messages::names::unknown_tag(tag, &tags))
            } else {
                Ok(jobs)
            }
        }
        Target::All => Ok(config.jobs.iter().collect()),
    }
}

/// The jobs a channel follows, resolved now (tags and `all` follow the catalog): those of
/// its subscriptions and of its expectations, each once, in the catalog's order.
pub fn followed<'c>(config: &'c Config, subscriptions: &[String], expected: &[String]) -> Vec<&'c Job> {
    let mut names: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for target in subscriptions.iter().filter_map(|t| Target::parse(t)) {
        names.extend(jobs(config, &target).unwrap_or_default().into_iter().map(|j| j.name.as_str()));
    }
    names.extend(expected.iter().filter_map(|name| config.job(name)).map(|j| j.name.as_str()));
    config.jobs.iter().filter(|j| names.contains(j.name.as_str())).collect()
}

/// "I don't know a job called ..." with up to three suggestions.
pub fn unknown_job(config: &Config, name: &str) -> String {
    let lowered = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = config
        .jobs
        .iter()
        .map(|j| {
            let candidate = j.name.as_str();
            let mut score = strsim::jaro_winkler(&lowered, &candidate.to_ascii_lowercase());
            if candidate.contains(lowered.as_str()) || lowered.contains(candidate) {
                score = score.max(0.9);
            }
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let closest: Vec<&str> = scored.iter().take(3).map(|(_, n)| *n).collect();
    crate::messages::names::unknown_job(name, &closest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::embedded_config()
    }

    #[test]
    fn an_unknown_job_gets_the_closest_names() {
        let message = crate::domain::markup::as_text(&unknown_job(&config(), "iowa-prep"));
        assert!(message.starts_with("I don't know a job called `iowa-prep`. Did you mean `iowa-prepare`"), "{message}");
    }

    #[test]
    fn a_name_far_from_everything_gets_the_jobs_command() {
        let message = unknown_job(&config(), "zzzzzz");
        assert!(message.contains("/tailer jobs"), "{message}");
    }

    #[test]
    fn a_tag_names_all_its_jobs_and_an_unknown_tag_lists_the_tags() {
        let config = config();
        assert_eq!(jobs(&config, &Target::Tag("daily".into())).unwrap().len(), 2);
        let message = crate::domain::markup::as_text(&jobs(&config, &Target::Tag("nightly".into())).unwrap_err());
        assert!(message.contains("`tag:daily`"), "{message}");
    }

    #[test]
    fn an_unknown_name_is_shown_as_plain_text_in_the_answer() {
        use crate::domain::markup::{Piece, pieces};
        let message = unknown_job(&config(), "a<b");
        assert!(pieces(&message).contains(&Piece::Plain("a<b")), "{message:?}");
        assert!(!pieces(&message).iter().any(|p| matches!(p, Piece::Markup(m) if m.contains("a<b"))));
    }
}
