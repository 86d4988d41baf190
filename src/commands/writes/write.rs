//! A write, with its own type: what each verb that changes something in Tailer carries
//! (its words, read here), what it targets, and which jobs it applies to. The write
//! pipeline (plan, rules, confirmation, journal, execution, report, recovery) takes a
//! [`Write`] and matches on it where the verbs differ: here, and in `execute.rs`.

use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::super::args::{Args, date, not_a_date};
use super::super::{Command, DISABLE_FOR_MAX, DISABLE_FOR_MIN, REASON_MAX_CHARS, Target, UsageError, Verb, shorten};
use crate::config::Job;
use crate::domain::{Action, JobName, RunId};
use crate::tailer::RunStatus;

/// A write. Stored in this form with its confirmation and in the journal of writes
/// (`{"verb": "launch", "with": {...}}`, as the typed command was before it had a type of
/// its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verb", content = "with", rename_all = "snake_case")]
pub enum Write {
    Launch { job: JobName, execution_date: Option<NaiveDate> },
    Disable { target: Target, duration: Option<Duration>, reason: Option<String> },
    Enable { target: Target },
    Reset { job: JobName },
    Mark { job: JobName, run: RunId, status: RunStatus },
}

pub(crate) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Launch,
        usage: "launch <job> [YYYY-MM-DD]",
        summary: "launch a job (optionally for an execution date); its run is followed in a thread. `launch` alone opens a form",
        example: "launch iowa-prepare 2024-09-18",
        parse: parse_launch,
    },
    Verb {
        action: Action::Disable,
        usage: "disable <job>|tag:<tag> [for <duration>] [reason ...]",
        summary: "switch off; with `for`, switched on again when the time is up",
        example: "disable tag:daily for 2h source table is late",
        parse: parse_disable,
    },
    Verb {
        action: Action::Enable,
        usage: "enable <job>|tag:<tag>",
        summary: "switch on",
        example: "enable sales-daily",
        parse: |args| Ok(Command::Write(Write::Enable { target: args.target(false)? })),
    },
    Verb {
        action: Action::Reset,
        usage: "reset <workflow-job>",
        summary: "reset a workflow's triggers",
        example: "reset iowa-load-workflow",
        parse: |args| Ok(Command::Write(Write::Reset { job: args.job()? })),
    },
    Verb {
        action: Action::Mark,
        usage: "mark <job> <run_id> <STATUS>",
        summary: "set a run's status, e.g. a handled failure to CHECKED",
        example: "mark iowa-prepare 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179 CHECKED",
        parse: parse_mark,
    },
];

fn parse_launch(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let execution_date = match args.take() {
        None => None,
        Some(word) => Some(date(word).ok_or_else(|| args.error(not_a_date(word)))?),
    };
    Ok(Command::Write(Write::Launch { job, execution_date }))
}

fn parse_disable(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let target = args.target(false)?;
    let mut rest = args.rest();
    let duration = if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("for")) {
        let Some(word) = rest.get(1).copied() else {
            return Err(args.error("`for` needs a duration, like 30m, 2h or 1d."));
        };
        let duration = humantime::parse_duration(word)
            .map_err(|_| args.error(format!("`{}` is not a duration: write it like 30m, 2h, 1h30m or 1d.", shorten(word, 40))))?;
        if !(DISABLE_FOR_MIN..=DISABLE_FOR_MAX).contains(&duration) {
            return Err(args.error("The duration must be between 1 minute and 30 days."));
        }
        rest.drain(..2);
        Some(duration)
    } else {
        None
    };
    let reason = rest.join(" ");
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(args.error(format!("The reason is longer than {REASON_MAX_CHARS} characters.")));
    }
    Ok(Command::Write(Write::Disable { target, duration, reason: (!reason.is_empty()).then_some(reason) }))
}

fn parse_mark(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let run = args.run()?;
    let word = args.required("a status")?;
    let status = args
        .status(word)
        .filter(RunStatus::settable)
        .ok_or_else(|| args.error(format!("`{}` cannot be set: use SUCCESS, FAILED, RUNNING, NO_MATCH or CHECKED.", shorten(word, 40))))?;
    Ok(Command::Write(Write::Mark { job, run, status }))
}

impl Write {
    /// The action the rules are checked against.
    pub fn action(&self) -> Action {
        match self {
            Write::Launch { .. } => Action::Launch,
            Write::Disable { .. } => Action::Disable,
            Write::Enable { .. } => Action::Enable,
            Write::Reset { .. } => Action::Reset,
            Write::Mark { .. } => Action::Mark,
        }
    }

    /// The same write with its job as the catalog spells it and a tag in lower case
    /// (the catalog compares both without regard to case): `launch IOWA-PREPARE` is
    /// `launch iowa-prepare`, for the double-submit guard, the journal and the answers.
    pub fn as_catalog_names(&self, jobs: &[&Job]) -> Write {
        let mut write = self.clone();
        match (&mut write, jobs) {
            (Write::Launch { job, .. } | Write::Reset { job } | Write::Mark { job, .. }, [one]) => *job = one.name.clone(),
            (Write::Disable { target, .. } | Write::Enable { target }, jobs) => match target {
                Target::Job(job) if jobs.len() == 1 => *job = jobs[0].name.clone(),
                Target::Tag(tag) => *tag = tag.to_ascii_lowercase(),
                _ => {}
            },
            _ => {}
        }
        write
    }

    /// What it acts on: one job, or a job or a tag as typed.
    pub fn target(&self) -> Target {
        match self {
            Write::Launch { job, .. } | Write::Reset { job } | Write::Mark { job, .. } => Target::Job(job.clone()),
            Write::Disable { target, .. } | Write::Enable { target } => target.clone(),
        }
    }

    /// Whether Tailer launches a job of this kind through its API (the launch form
    /// lists only those).
    pub fn launches(job: &Job) -> bool {
        matches!(job.job.configuration_type.as_str(), "table-to-table" | "gbq-to-gbq" | "table-to-storage")
    }

    /// Whether it applies to a job of this kind; the error is for the user.
    pub fn applies_to(&self, job: &Job) -> Result<(), String> {
        let kind = job.job.configuration_type.as_str();
        match self {
            Write::Launch { .. } if !Write::launches(job) => Err(format!(
                "{} is a {kind} job: Tailer launches only table-to-table and table-to-storage jobs through its API.",
                crate::messages::job_label(job)
            )),
            Write::Reset { .. } if kind != "workflow" => {
                Err(format!("{} is a {kind} job: `reset` is for workflows.", crate::messages::job_label(job)))
            }
            _ => Ok(()),
        }
    }

    pub fn execution_date(&self) -> Option<NaiveDate> {
        match self {
            Write::Launch { execution_date, .. } => *execution_date,
            _ => None,
        }
    }

    /// How long a disable lasts before its re-enable.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Write::Disable { duration, .. } => *duration,
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Write::Disable { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// The words after the verb, as a person types them.
    pub(crate) fn words(&self, push: &mut dyn FnMut(&dyn std::fmt::Display)) {
        match self {
            Write::Launch { job, execution_date } => {
                push(job);
                execution_date.iter().for_each(|d| push(d));
            }
            Write::Reset { job } => push(job),
            Write::Enable { target } => push(target),
            Write::Disable { target, duration, reason } => {
                push(target);
                if let Some(d) = duration {
                    // One word (`1h30m`), as `for` takes it.
                    push(&"for");
                    push(&humantime::format_duration(*d).to_string().replace(' ', ""));
                }
                reason.iter().for_each(|r| push(r));
            }
            Write::Mark { job, run, status } => {
                push(job);
                push(run);
                push(&status.as_str());
            }
        }
    }
}

/// The write as a person types it (`disable sales-daily for 2h late`), which the parser
/// reads back into the same write.
impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Command::Write(self.clone()).fmt(f)
    }
}
