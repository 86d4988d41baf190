//! A write to carry out: the typed command and the catalog jobs it was resolved to when
//! it was asked. Kept as JSON with its confirmation and in the journal of writes, so that
//! a confirmation clicked later, or a write finished by the next start, does exactly
//! what was asked (a tag that gained a job meanwhile does not widen it).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::Write;
use crate::commands::Target;
use crate::config::Job;
use crate::domain::Action;
use crate::domain::markup::plain;
use crate::domain::{JobName, RunId};
use crate::messages as render;
use crate::store::WriteRow;
use crate::tailer::RunStatus;

/// A write and its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The write.
    pub command: Write,
    /// Catalog names.
    pub jobs: Vec<String>,
    /// A second write, made once the first one went through for every job: the launch
    /// of *Enable and launch*.
    pub then: Option<Write>,
}

impl Plan {
    pub fn new(command: Write, jobs: &[&Job]) -> Plan {
        Plan { command, jobs: jobs.iter().map(|j| j.name.to_string()).collect(), then: None }
    }

    /// This plan, then `next` once it went through.
    pub fn then(self, next: Write) -> Plan {
        Plan { then: Some(next), ..self }
    }

    /// The second write alone, as a plan of its own (for its execution and its words).
    pub fn next(&self) -> Option<Plan> {
        self.then.clone().map(|command| Plan { command, jobs: self.jobs.clone(), then: None })
    }

    /// The write's action.
    pub fn action(&self) -> Action {
        self.command.action()
    }

    /// What was typed as the target (`sales-daily`, `tag:daily`).
    pub fn target(&self) -> String {
        self.command.target().to_string()
    }

    pub fn execution_date(&self) -> Option<NaiveDate> {
        self.command.execution_date()
    }

    /// How long a disable lasts before its re-enable.
    pub fn duration(&self) -> Option<Duration> {
        self.command.duration()
    }

    pub fn reason(&self) -> Option<&str> {
        self.command.reason()
    }

    /// "disable `sales-daily` (PROD) for 2h — reason: late source", escaped.
    pub fn summary(&self, jobs: &[&Job]) -> String {
        let what = if jobs.len() == 1 { render::job_label(jobs[0]) } else { format!("`{}` ({} jobs)", plain(&self.target()), jobs.len()) };
        let mut text = match &self.command {
            Write::Mark { run, status, .. } => format!("mark run `{}` of {what} as {}", plain(run.as_str()), plain(status.as_str())),
            _ => format!("{} {what}", self.action()),
        };
        if let Some(date) = self.execution_date() {
            text.push_str(&format!(" for {date}"));
        }
        if let Some(duration) = self.duration() {
            text.push_str(&format!(" for {}", humantime::format_duration(duration)));
        }
        if let Some(reason) = self.reason() {
            text.push_str(&format!(" — reason: {}", plain(reason)));
        }
        if let Some(next) = self.next() {
            text.push_str(&format!(", then {}", next.summary(jobs)));
        }
        text
    }

    /// The command that asks for this plan again (`disable sales-daily for 2h late`).
    pub fn command_text(&self) -> String {
        self.command.to_string()
    }

    /// The plan in words for the audit trail (`disable sales-daily for 2h — late`).
    pub fn detail(&self) -> String {
        let detail = match &self.command {
            Write::Disable { target, duration, reason: Some(reason) } => {
                format!("{} — {reason}", Write::Disable { target: target.clone(), duration: *duration, reason: None })
            }
            other => other.to_string(),
        };
        match &self.then {
            Some(next) => format!("{detail}, then {next}"),
            None => detail,
        }
    }

    /// The plan as the store keeps it: the typed command, and beside it the fields the
    /// previous version reads, so that during a rolling deploy (or after a rollback) a
    /// replica of either version can confirm or finish what the other one noted.
    pub fn to_json(&self) -> String {
        let (run_id, status) = match &self.command {
            Write::Mark { run, status, .. } => (Some(run.to_string()), Some(status.as_str().to_owned())),
            _ => (None, None),
        };
        let stored = serde_json::json!({
            "command": self.command,
            "jobs": self.jobs,
            "then": self.then,
            "action": self.action().name(),
            "target": self.target(),
            "execution_date": self.execution_date(),
            "duration_secs": self.duration().map(|d| d.as_secs()),
            "reason": self.reason(),
            "run_id": run_id,
            "status": status,
        });
        stored.to_string()
    }

    /// A stored plan, in this version's form or in the form before plans kept the typed
    /// command (a confirmation pending, or a write under way, across the upgrade).
    pub fn from_json(text: &str) -> Result<Plan, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Typed {
                command: Write,
                jobs: Vec<String>,
                #[serde(default)]
                then: Option<Write>,
            },
            Fields(Legacy),
        }
        // Only a write reads as one: a stored command of another verb is refused here.
        Ok(match serde_json::from_str::<Stored>(text).map_err(|e| e.to_string())? {
            Stored::Typed { command, jobs, then } => Plan { command, jobs, then },
            Stored::Fields(legacy) => Plan { command: legacy.command()?, jobs: legacy.jobs, then: None },
        })
    }
}

/// A plan as versions before this one stored it: the command in fields.
#[derive(Deserialize)]
struct Legacy {
    action: String,
    jobs: Vec<String>,
    target: String,
    #[serde(default)]
    execution_date: Option<NaiveDate>,
    #[serde(default)]
    duration_secs: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

impl Legacy {
    /// The command the fields describe, built from them (not re-parsed as text, which
    /// would read Slack's entities in a reason twice).
    fn command(&self) -> Result<Write, String> {
        let job = || JobName::parse(&self.target).map_err(|e| e.to_string());
        let target = || Target::parse(&self.target).ok_or_else(|| format!("`{}` is not a target", self.target));
        Ok(match self.action.as_str() {
            "launch" => Write::Launch { job: job()?, execution_date: self.execution_date },
            "disable" => {
                Write::Disable { target: target()?, duration: self.duration_secs.map(Duration::from_secs), reason: self.reason.clone() }
            }
            "enable" => Write::Enable { target: target()? },
            "reset" => Write::Reset { job: job()? },
            "mark" => {
                let (Some(run), Some(status)) = (&self.run_id, &self.status) else {
                    return Err("a stored mark without its run or status".into());
                };
                Write::Mark { job: job()?, run: RunId::parse(run).map_err(|e| e.to_string())?, status: RunStatus::parse(status) }
            }
            other => return Err(format!("`{other}` is not a write")),
        })
    }
}

/// When a timed disable's re-enable is due: from the moment the write began.
pub(super) fn re_enable_at(journal: &WriteRow, plan: &Plan) -> Option<DateTime<Utc>> {
    let duration = plan.duration().filter(|_| plan.action() == Action::Disable)?;
    let start = DateTime::<Utc>::from_timestamp_millis(journal.started_at)?;
    start.checked_add_signed(chrono::Duration::from_std(duration).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One write of each kind, as typed.
    const WRITES: [&str; 4] = [
        "launch sales-daily 2026-11-30",
        "disable tag:daily for 2h late",
        "enable sales-daily",
        "mark sales-daily 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1 CHECKED",
    ];

    /// The write a text asks for.
    fn write(text: &str) -> Write {
        match crate::commands::parse(text).unwrap() {
            crate::commands::Command::Write(write) => write,
            other => panic!("{text}: not a write but {other:?}"),
        }
    }

    fn plan(text: &str) -> Plan {
        let config = crate::config::embedded_config();
        let jobs = vec![config.job("sales-daily").unwrap()];
        Plan::new(write(text), &jobs)
    }

    #[test]
    fn the_command_text_of_a_plan_asks_for_the_same_command_again() {
        let plan = plan("disable sales-daily for 1h30m source table late");
        assert_eq!(plan.command_text(), "disable sales-daily for 1h30m source table late");
        assert_eq!(write(&plan.command_text()), plan.command);
        assert_eq!(plan.detail(), "disable sales-daily for 1h30m — source table late");
    }

    #[test]
    fn a_stored_plan_comes_back_as_the_same_typed_command() {
        for text in WRITES {
            let plan = plan(text);
            assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan, "{text}");
        }
    }

    #[test]
    fn a_plan_stored_by_the_previous_version_is_read_as_the_same_command() {
        let legacy = r#"{"action":"disable","jobs":["sales-daily"],"target":"tag:daily","execution_date":null,"duration_secs":5400,"reason":"late source","run_id":null,"status":null}"#;
        let read = Plan::from_json(legacy).unwrap();
        assert_eq!(read.command, write("disable tag:daily for 1h30m late source"));
        assert_eq!(read.jobs, vec!["sales-daily".to_owned()]);
        let launch = r#"{"action":"launch","jobs":["sales-daily"],"target":"sales-daily","execution_date":"2026-11-30"}"#;
        assert_eq!(Plan::from_json(launch).unwrap().execution_date(), NaiveDate::from_ymd_opt(2026, 11, 30));
    }

    #[test]
    fn a_plan_stored_by_this_version_is_read_by_the_previous_one_as_the_same_write() {
        for text in WRITES {
            let plan = plan(text);
            // The previous version's reader: the fields alone.
            let legacy: Legacy = serde_json::from_str(&plan.to_json()).unwrap();
            assert_eq!(legacy.command().unwrap(), plan.command, "{text}");
            assert_eq!(legacy.jobs, plan.jobs);
        }
    }

    #[test]
    fn a_reason_with_slacks_entities_keeps_them_across_the_upgrade() {
        let legacy = r#"{"action":"disable","jobs":["sales-daily"],"target":"sales-daily","reason":"a &lt; b"}"#;
        assert_eq!(Plan::from_json(legacy).unwrap().reason(), Some("a &lt; b"));
    }

    #[test]
    fn a_plan_with_a_second_write_keeps_it_in_words_and_in_the_store() {
        let config = crate::config::embedded_config();
        let jobs = vec![config.job("iowa-prepare").unwrap()];
        let launch = write("launch iowa-prepare 2026-11-30");
        let plan = Plan::new(write("enable iowa-prepare"), &jobs).then(launch.clone());
        assert_eq!(plan.summary(&jobs), "enable `iowa-prepare` (DEV), then launch `iowa-prepare` (DEV) for 2026-11-30");
        assert_eq!(plan.detail(), "enable iowa-prepare, then launch iowa-prepare 2026-11-30");
        let back = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.next().map(|p| p.command), Some(launch));
    }

    #[test]
    fn a_write_is_stored_in_the_form_of_the_typed_command_before_it_had_its_own_type() {
        let stored: serde_json::Value = serde_json::from_str(&plan("disable tag:daily for 1h30m late source").to_json()).unwrap();
        assert_eq!(
            stored["command"],
            serde_json::json!({"verb": "disable", "with": {"target": "tag:daily", "duration": {"secs": 5400, "nanos": 0}, "reason": "late source"}})
        );
        // As the previous version wrote it.
        let previous =
            r#"{"command":{"verb":"mark","with":{"job":"sales-daily","run":"20201230-1","status":"CHECKED"}},"jobs":["sales-daily"]}"#;
        assert_eq!(Plan::from_json(previous).unwrap().command, write("mark sales-daily 20201230-1 CHECKED"));
    }

    #[test]
    fn a_stored_read_command_is_not_a_plan() {
        let stored = serde_json::json!({"command": {"verb": "doctor"}, "jobs": []}).to_string();
        assert!(Plan::from_json(&stored).is_err());
    }
}
