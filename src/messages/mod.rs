//! What the bot's answers look like: Block Kit for each read, the confirmation, the
//! outcomes. Every text that came from a person or from Tailer is escaped here; every
//! list is cut to Slack's limits by [`Message::lines`].

pub mod cards;
pub mod digest;
pub mod expect;
pub mod names;
pub mod outcomes;
mod runs;
mod switches;
pub mod watching;

pub use runs::{RunFilter, last_runs, run, running};
pub use switches::{ENABLE_BUTTONS, disabled, enable_button, switched_off};

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::chat::{Button, Confirm, Message};
use crate::config::{Config, Job, RunUrlTemplate};
use crate::domain::markup::{date, plain, shorten};
use crate::domain::{Action, Press};
use crate::store::{AuditEntry, AuditOutcome};
use crate::tailer::{RunItem, RunStatus};

/// The emoji shown with a status.
pub fn emoji(status: &RunStatus) -> &'static str {
    match status {
        RunStatus::Waiting => ":hourglass_flowing_sand:",
        RunStatus::Running => ":arrows_counterclockwise:",
        RunStatus::Success => ":white_check_mark:",
        RunStatus::Failed => ":x:",
        RunStatus::Checked => ":ballot_box_with_check:",
        RunStatus::NoMatch => ":grey_question:",
        RunStatus::Deactivated => ":no_entry_sign:",
        RunStatus::Other(_) => ":grey_exclamation:",
    }
}

/// `:x: *FAILED*`, with an unknown status escaped.
pub fn status(status: &RunStatus) -> String {
    // A status Tailer made up is shown short: it cannot push the run and its link out of
    // the line.
    format!("{} *{}*", emoji(status), plain(&shorten(status.as_str(), 40)))
}

/// `1 h 2 min`, `1 min 24 s`, `3 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

/// A time each reader sees in their own zone.
pub fn when(t: DateTime<Utc>) -> String {
    date(t.timestamp(), &t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// How a run is named in a message: a link to its page when `[tailer]
/// run_url_template` is set, its id in code otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Links<'a>(Option<&'a RunUrlTemplate>);

impl<'a> Links<'a> {
    pub fn of(config: &'a Config) -> Links<'a> {
        Links(config.tailer.run_url_template.as_ref())
    }

    pub fn new(template: Option<&'a RunUrlTemplate>) -> Links<'a> {
        Links(template)
    }

    /// No links: run ids in code.
    pub fn none() -> Links<'static> {
        Links(None)
    }

    /// The page of a run of a catalog job.
    pub fn url(&self, job: &Job, run_id: &str) -> Option<String> {
        self.0?.for_job(job, run_id)
    }

    /// `<url|run id>`, or `` `run id` `` without a template.
    pub fn run(&self, job: &Job, run_id: &str) -> String {
        named(self.url(job, run_id), run_id)
    }

    /// A run as Tailer described it, through its catalog job when the bot knows it.
    pub fn item(&self, job: Option<&Job>, item: &RunItem) -> String {
        let url = match job {
            Some(job) => self.url(job, item.run_id.as_str()),
            None => self.0.and_then(|t| t.for_item(item)),
        };
        named(url, item.run_id.as_str())
    }
}

fn named(url: Option<String>, run_id: &str) -> String {
    match url {
        // A `|` would end the link's text early; Tailer's run ids have none.
        Some(url) if !run_id.contains('|') => crate::domain::markup::link(&url, run_id),
        _ => format!("`{}`", plain(run_id)),
    }
}

/// `` `sales-daily` (PROD) ``.
pub fn job_label(job: &Job) -> String {
    format!("`{}` ({})", job.name, job.job.environment)
}

/// An ephemeral-style message of one section.
/// The one text for a store that cannot be reached.
pub fn store_unavailable(reference: &str) -> String {
    format!(":warning: My database is unavailable right now, so I did nothing. Please try again in a minute. (ref `{reference}`)")
}

pub fn note(text: &str) -> Message {
    let mut m = Message::new(text);
    m.section(text);
    m
}

pub fn jobs(jobs: &[&Job], filter: Option<&str>) -> Message {
    let mut m = Message::new(&if jobs.len() == 1 { "1 job".to_owned() } else { format!("{} jobs", jobs.len()) });
    if jobs.is_empty() {
        m.section(&match filter {
            Some(f) => format!("No job you may see matches `{}`.", plain(f)),
            None => "There is no job you may see here.".to_owned(),
        });
        return m;
    }
    m.section(&format!(
        "*{} job{}*{}",
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        filter.map(|f| format!(" matching `{}`", plain(f))).unwrap_or_default()
    ));
    let mut lines: Vec<String> = jobs
        .iter()
        .take(JOBS_LISTED)
        .map(|j| {
            let mut line = format!("• {} · {}", job_label(j), plain(j.job.configuration_type.as_str()));
            if let Some(d) = &j.description {
                line.push_str(&format!(" — {}", plain(&shorten(d, 200))));
            }
            if !j.tags.is_empty() {
                line.push_str(&format!(" _[{}]_", plain(&j.tags.join(", "))));
            }
            line
        })
        .collect();
    if jobs.len() > JOBS_LISTED {
        lines.push(format!(
            "…and {} more: `/tailer jobs {}` narrows the list (a name, a tag, an environment, words of the description).",
            jobs.len() - JOBS_LISTED,
            plain("<filter>")
        ));
    }
    m.lines(&lines, 0);
    m
}

/// The jobs `jobs` lists one line each; the rest are counted.
pub const JOBS_LISTED: usize = 100;

/// An audit entry's detail in the bot's markup: what the bot wrote there about people
/// (`(asked by U…)`, `(confirmed by U…)`) names them as mentions, the rest is plain text.
pub fn audit_detail(detail: &str) -> String {
    const BY: [&str; 2] = ["(asked by ", "(confirmed by "];
    let mut out = String::new();
    let mut rest = detail;
    while let Some((at, phrase)) = BY.iter().filter_map(|p| rest.find(p).map(|at| (at, *p))).min_by_key(|(at, _)| *at) {
        let after = &rest[at + phrase.len()..];
        let person = after.split_once(')').and_then(|(id, _)| crate::domain::UserId::parse(id).ok());
        match person {
            Some(user) => {
                out.push_str(&plain(&rest[..at + phrase.len()]));
                out.push_str(&crate::domain::markup::mention(&user));
                out.push_str(&plain(")"));
                rest = &after[user.as_str().len() + 1..];
            }
            None => {
                out.push_str(&plain(&rest[..at + phrase.len()]));
                rest = after;
            }
        }
    }
    out.push_str(&plain(rest));
    out
}

/// The audit trail; `catalog` finds a job by name, for the links to runs.
pub fn audit<'a>(links: Links, catalog: impl Fn(&str) -> Option<&'a Job>, entries: &[AuditEntry], job: Option<&str>) -> Message {
    let mut m = Message::new("Audit trail");
    let scope = job.map(|j| format!(" of `{}`", plain(j))).unwrap_or_default();
    if entries.is_empty() {
        m.section(&format!("No write action{scope} is on record."));
        return m;
    }
    let line = |e: &AuditEntry| {
        let at = DateTime::from_timestamp_millis(e.at).unwrap_or_default();
        let target = match (&e.job, &e.environment) {
            (Some(j), Some(env)) => format!(" `{}` ({})", plain(j), plain(env)),
            (Some(j), None) => format!(" `{}`", plain(j)),
            _ => String::new(),
        };
        let mut detail = audit_detail(&shorten(&e.detail, 300));
        // The run a launch made, or the one a mark names (`mark <job> <run> <STATUS>`),
        // links to its page.
        let known = e.job.as_deref().and_then(&catalog);
        match (e.action, e.outcome, known) {
            (Action::Launch, AuditOutcome::Succeeded, Some(job)) => {
                if let Some(url) = e.tailer_answer.as_deref().and_then(|run| links.url(job, run).map(|url| (run, url))) {
                    detail.push_str(&format!(" · run {}", named(Some(url.1), url.0)));
                }
            }
            (Action::Mark, AuditOutcome::Succeeded, Some(job)) if e.detail.chars().count() <= 300 => {
                let words: Vec<&str> = e.detail.splitn(4, ' ').collect();
                if let Some(url) = words.get(2).and_then(|run| links.url(job, run)) {
                    let rest = words.get(3).map(|rest| format!(" {}", audit_detail(rest))).unwrap_or_default();
                    detail = format!("{} {}{rest}", plain(&words[..2].join(" ")), named(Some(url), words[2]));
                }
            }
            _ => {}
        }
        format!(
            "{} {} *{}*{target} → {} — {detail}",
            when(at),
            expect::who_expects(&e.user_id),
            e.action,
            e.outcome.as_str().replace('_', " ")
        )
    };
    // Requests that asked for a confirmation are not outcomes: they are listed apart, and
    // what became of them (confirmed, cancelled, expired, done) is among the outcomes.
    let (asked, outcomes): (Vec<&AuditEntry>, Vec<&AuditEntry>) =
        entries.iter().partition(|e| e.outcome == AuditOutcome::AwaitingConfirmation);
    if !outcomes.is_empty() {
        m.section(&format!("*Latest write actions{scope}*, newest first"));
        m.lines(&outcomes.iter().map(|e| line(e)).collect::<Vec<_>>(), 0);
    }
    if !asked.is_empty() {
        m.section("*Asked for a confirmation*, newest first (what became of each is above)");
        m.lines(&asked.iter().map(|e| line(e)).collect::<Vec<_>>(), 0);
    }
    m
}

/// Why a launch whose execution date is far off is asked first.
pub fn far_execution_date(date: chrono::NaiveDate) -> String {
    format!(":calendar: The execution date {date} is more than a year from today: is it the one you meant?")
}

/// The question before a write that a rule wants confirmed.
pub fn confirmation(summary: &str, jobs: &[&Job], requester: &str, second_person: bool, confirmation_id: &str) -> Message {
    let mut m = Message::new(&format!("Confirm: {summary}"));
    let who =
        if second_person { "someone other than the requester, whom the rules allow," } else { "the requester or someone the rules allow" };
    m.section(&format!(
        ":warning: {} asks to *{summary}*. This needs a confirmation by {who} within 10 minutes.",
        crate::domain::markup::mention(requester)
    ));
    let lines: Vec<String> = jobs.iter().map(|j| format!("• {} · `{}`", job_label(j), plain(j.job.configuration_id.as_str()))).collect();
    m.lines(&lines, 1);
    let dialog = Confirm {
        title: "Are you sure?".into(),
        text: format!("This will {summary} ({} job{}).", jobs.len(), if jobs.len() == 1 { "" } else { "s" }),
        confirm: "Yes, do it".into(),
        deny: "No".into(),
    };
    m.actions(
        "confirmation",
        &[
            Button::press("Confirm", &Press::Confirm { confirmation: confirmation_id.to_owned() }).danger(dialog),
            Button::press("Cancel", &Press::Cancel { confirmation: confirmation_id.to_owned() }),
        ],
    );
    m
}
