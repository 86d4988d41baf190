//! What the bot's answers look like: Block Kit for each read, the confirmation, the
//! outcomes. Every text that came from a person or from Tailer is escaped here; every
//! list is cut to Slack's limits by [`Message::lines`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::commands::{help_for, help_lines};
use crate::config::Job;
use crate::domain::Action;
use crate::slack::blocks::{Button, ConfirmDialog, Message, date, escape, truncate};
use crate::store::AuditEntry;
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
    format!("{} *{}*", emoji(status), escape(status.as_str()))
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

/// `` `sales-daily` (PROD) ``.
pub fn job_label(job: &Job) -> String {
    format!("`{}` ({})", job.name, job.job.environment)
}

/// An ephemeral-style message of one section.
pub fn note(text: &str) -> Message {
    let mut m = Message::new(text);
    m.section(text);
    m
}

pub fn help() -> Message {
    let mut m = Message::new("tailerbot commands");
    m.section("*Drive Tailer from Slack.* `<job>` is a name from `/tailer jobs`; `tag:<tag>` targets every job with that tag.");
    m.lines(&help_lines(), 1);
    m.context("`/tailer help <verb>` shows the details and an example.");
    m
}

pub fn help_verb(action: Action) -> Message {
    note(&help_for(action))
}

pub fn jobs(jobs: &[&Job], filter: Option<&str>) -> Message {
    let mut m = Message::new(&format!("{} jobs", jobs.len()));
    if jobs.is_empty() {
        m.section(&match filter {
            Some(f) => format!("No job you may see matches `{}`.", escape(f)),
            None => "There is no job you may see here.".to_owned(),
        });
        return m;
    }
    m.section(&format!(
        "*{} job{}*{}",
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        filter
            .map(|f| format!(" matching `{}`", escape(f)))
            .unwrap_or_default()
    ));
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            let mut line = format!(
                "• {} · {}",
                job_label(j),
                escape(j.job.configuration_type.as_str())
            );
            if let Some(d) = &j.description {
                line.push_str(&format!(" — {}", escape(&truncate(d, 200))));
            }
            if !j.tags.is_empty() {
                line.push_str(&format!(" _[{}]_", escape(&j.tags.join(", "))));
            }
            line
        })
        .collect();
    m.lines(&lines, 0);
    m
}

fn run_line(item: &RunItem) -> String {
    let mut line = format!(
        "{} `{}`",
        status(&item.status),
        escape(item.run_id.as_str())
    );
    if let Some(start) = item.start_execution_date {
        line.push_str(&format!(" · started {}", when(start)));
    }
    if let Some(d) = item.duration {
        line.push_str(&format!(" · {}", duration(d)));
    }
    line
}

/// One run, in fields.
pub fn run(job: Option<&Job>, item: &RunItem) -> Message {
    let name = job
        .map(job_label)
        .or_else(|| {
            item.configuration_id
                .as_deref()
                .map(|c| format!("`{}`", escape(c)))
        })
        .unwrap_or_else(|| "a run".into());
    let mut m = Message::new(&format!("{} {}: {}", name, item.run_id, item.status));
    m.section(&format!(
        "{} · run `{}`",
        name,
        escape(item.run_id.as_str())
    ));
    let mut fields = vec![format!("*Status*\n{}", status(&item.status))];
    if let Some(env) = item
        .environment
        .as_deref()
        .or(job.map(|j| j.job.environment.as_str()))
    {
        fields.push(format!("*Environment*\n{}", escape(env)));
    }
    if let Some(start) = item.start_execution_date {
        fields.push(format!("*Started*\n{}", when(start)));
    }
    if let Some(d) = item.duration {
        fields.push(format!("*Duration*\n{}", duration(d)));
    }
    if let Some(update) = item.last_update_date {
        fields.push(format!("*Last update*\n{}", when(update)));
    }
    m.fields(&fields);
    m
}

pub fn last_runs(job: &Job, items: &[RunItem]) -> Message {
    let mut m = Message::new(&format!("Last runs of {}", job.name));
    if items.is_empty() {
        m.section(&format!("{} has no run matching that.", job_label(job)));
        return m;
    }
    m.section(&format!(
        "*Last {} run{} of {}*, newest first",
        items.len(),
        if items.len() == 1 { "" } else { "s" },
        job_label(job)
    ));
    m.lines(&items.iter().map(run_line).collect::<Vec<_>>(), 0);
    m
}

/// Runs in progress, each with the catalog name when the bot knows it.
pub fn running(items: &[(Option<&Job>, RunItem)]) -> Message {
    let mut m = Message::new(&format!("{} runs in progress", items.len()));
    if items.is_empty() {
        m.section("Nothing is running right now.");
        return m;
    }
    m.section(&format!(
        "*{} run{} in progress*",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    ));
    let lines: Vec<String> = items
        .iter()
        .map(|(job, item)| {
            let name = job.map(job_label).unwrap_or_else(|| {
                format!(
                    "`{}`",
                    escape(item.configuration_id.as_deref().unwrap_or("?"))
                )
            });
            format!("{name} · {}", run_line(item))
        })
        .collect();
    m.lines(&lines, 0);
    m
}

pub fn audit(entries: &[AuditEntry], job: Option<&str>) -> Message {
    let mut m = Message::new("Audit trail");
    let scope = job
        .map(|j| format!(" of `{}`", escape(j)))
        .unwrap_or_default();
    if entries.is_empty() {
        m.section(&format!("No write action{scope} is on record."));
        return m;
    }
    m.section(&format!("*Latest write actions{scope}*, newest first"));
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let at = DateTime::from_timestamp_millis(e.at).unwrap_or_default();
            let target = match (&e.job, &e.environment) {
                (Some(j), Some(env)) => format!(" `{}` ({})", escape(j), escape(env)),
                (Some(j), None) => format!(" `{}`", escape(j)),
                _ => String::new(),
            };
            format!(
                "{} <@{}> *{}*{target} → {} — {}",
                when(at),
                e.user_id,
                e.action,
                e.outcome.as_str().replace('_', " "),
                escape(&truncate(&e.detail, 300))
            )
        })
        .collect();
    m.lines(&lines, 0);
    m
}

/// The question before a write that a rule wants confirmed.
pub fn confirmation(
    summary: &str,
    jobs: &[&Job],
    requester: &str,
    second_person: bool,
    confirmation_id: &str,
) -> Message {
    let mut m = Message::new(&format!("Confirm: {summary}"));
    let who = if second_person {
        "someone other than the requester, whom the rules allow,"
    } else {
        "the requester or someone the rules allow"
    };
    m.section(&format!(":warning: <@{requester}> asks to *{summary}*. This needs a confirmation by {who} within 10 minutes."));
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "• {} · `{}`",
                job_label(j),
                escape(j.job.configuration_id.as_str())
            )
        })
        .collect();
    m.lines(&lines, 1);
    let dialog = ConfirmDialog {
        title: "Are you sure?".into(),
        text: truncate(
            &format!(
                "This will {summary} ({} job{}).",
                jobs.len(),
                if jobs.len() == 1 { "" } else { "s" }
            ),
            300,
        ),
        confirm: "Yes, do it".into(),
        deny: "No".into(),
    };
    m.actions(
        "confirmation",
        &[
            Button::new("Confirm", "confirm", confirmation_id).danger(dialog),
            Button::new("Cancel", "cancel", confirmation_id),
        ],
    );
    m
}
