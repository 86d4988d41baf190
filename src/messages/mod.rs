//! What the bot's answers look like: Block Kit for each read, the confirmation, the
//! outcomes. Every text that came from a person or from Tailer is escaped here; every
//! list is cut to Slack's limits by [`Message::lines`].

pub mod cards;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Job;
use crate::slack::blocks::{Button, ConfirmDialog, Message, date, escape, truncate};
use crate::store::{AuditEntry, SwitchRow};
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
            Some(f) => format!("No job you may see matches `{}`.", escape(f)),
            None => "There is no job you may see here.".to_owned(),
        });
        return m;
    }
    m.section(&format!(
        "*{} job{}*{}",
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        filter.map(|f| format!(" matching `{}`", escape(f))).unwrap_or_default()
    ));
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            let mut line = format!("• {} · {}", job_label(j), escape(j.job.configuration_type.as_str()));
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
    let mut line = format!("{} `{}`", status(&item.status), escape(item.run_id.as_str()));
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
        .or_else(|| item.configuration_id.as_deref().map(|c| format!("`{}`", escape(c))))
        .unwrap_or_else(|| "a run".into());
    let mut m = Message::new(&format!("{} {}: {}", name, escape(item.run_id.as_str()), escape(item.status.as_str())));
    m.section(&format!("{} · run `{}`", name, escape(item.run_id.as_str())));
    let mut fields = vec![format!("*Status*\n{}", status(&item.status))];
    if let Some(env) = item.environment.as_deref().or(job.map(|j| j.job.environment.as_str())) {
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
    m.section(&format!("*Last {} run{} of {}*, newest first", items.len(), if items.len() == 1 { "" } else { "s" }, job_label(job)));
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
    m.section(&format!("*{} run{} in progress*", items.len(), if items.len() == 1 { "" } else { "s" }));
    let lines: Vec<String> = items
        .iter()
        .map(|(job, item)| {
            let name = job.map(job_label).unwrap_or_else(|| format!("`{}`", escape(item.configuration_id.as_deref().unwrap_or("?"))));
            format!("{name} · {}", run_line(item))
        })
        .collect();
    m.lines(&lines, 0);
    m
}

pub fn audit(entries: &[AuditEntry], job: Option<&str>) -> Message {
    let mut m = Message::new("Audit trail");
    let scope = job.map(|j| format!(" of `{}`", escape(j))).unwrap_or_default();
    if entries.is_empty() {
        m.section(&format!("No write action{scope} is on record."));
        return m;
    }
    let line = |e: &AuditEntry| {
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
    };
    // Requests that asked for a confirmation are not outcomes: they are listed apart, and
    // what became of them (confirmed, cancelled, expired, done) is among the outcomes.
    let (asked, outcomes): (Vec<&AuditEntry>, Vec<&AuditEntry>) =
        entries.iter().partition(|e| e.outcome == crate::store::AuditOutcome::AwaitingConfirmation);
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

/// The question before a write that a rule wants confirmed.
/// How many *Enable* buttons a message carries; past them, the command to type.
pub const ENABLE_BUTTONS: usize = 10;

/// The *Enable* button of a job or a tag (its value: what `enable` takes).
pub fn enable_button(target: &str) -> Button {
    Button::new("Enable", &format!("enable:{target}"), target)
}

/// Why a job is off, in one line: since when, by whom, until when, why.
pub fn switched_off(job: &Job, switch: &SwitchRow) -> String {
    let since = chrono::DateTime::from_timestamp_millis(switch.since_ms).unwrap_or_default();
    let by = match (&switch.by_user, switch.source.as_str()) {
        (Some(user), _) => format!(" by <@{}>", escape(user)),
        (None, "tailer") => " (a run of it ended DEACTIVATED: switched off outside the bot)".to_owned(),
        (None, _) => String::new(),
    };
    let mut line = format!("{} is disabled since {}{by}", job_label(job), when(since));
    if let Some(until) = switch.until_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        line.push_str(&format!(", until {}", when(until)));
    }
    if let Some(reason) = switch.reason.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(&format!(" — reason: {}", escape(reason)));
    }
    line
}

/// `disabled`: what is switched off, each with *Enable*.
pub fn disabled(off: &[(&Job, SwitchRow)]) -> Message {
    if off.is_empty() {
        let mut m = Message::new("Nothing is switched off");
        m.section(":large_green_circle: Nothing you may see here is switched off, as far as I know.");
        m.context("I know what I switched off, and what Tailer showed me: runs that ended DEACTIVATED.");
        return m;
    }
    let title =
        if off.len() == 1 { "1 data operation switched off".to_owned() } else { format!("{} data operations switched off", off.len()) };
    let mut m = Message::new(&title);
    m.section(&format!(":red_circle: *{title}*"));
    let lines: Vec<String> = off.iter().map(|(job, switch)| format!("• {}", switched_off(job, switch))).collect();
    m.lines(&lines, 2);
    let buttons: Vec<Button> = off.iter().take(ENABLE_BUTTONS).map(|(job, _)| enable_button(job.name.as_str())).collect();
    m.actions("disabled", &buttons);
    if off.len() > ENABLE_BUTTONS {
        m.context(&format!("The buttons switch on the first {ENABLE_BUTTONS}; for the others: `/tailer enable &lt;job&gt;`."));
    }
    m
}

pub fn confirmation(summary: &str, jobs: &[&Job], requester: &str, second_person: bool, confirmation_id: &str) -> Message {
    let mut m = Message::new(&format!("Confirm: {summary}"));
    let who =
        if second_person { "someone other than the requester, whom the rules allow," } else { "the requester or someone the rules allow" };
    m.section(&format!(":warning: <@{requester}> asks to *{summary}*. This needs a confirmation by {who} within 10 minutes."));
    let lines: Vec<String> = jobs.iter().map(|j| format!("• {} · `{}`", job_label(j), escape(j.job.configuration_id.as_str()))).collect();
    m.lines(&lines, 1);
    let dialog = ConfirmDialog {
        title: "Are you sure?".into(),
        text: truncate(&format!("This will {summary} ({} job{}).", jobs.len(), if jobs.len() == 1 { "" } else { "s" }), 300),
        confirm: "Yes, do it".into(),
        deny: "No".into(),
    };
    m.actions(
        "confirmation",
        &[Button::new("Confirm", "confirm", confirmation_id).danger(dialog), Button::new("Cancel", "cancel", confirmation_id)],
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Account, ConfigurationId, ConfigurationType, Environment, JobName, RunId};
    use crate::slack::blocks::limit_violations;
    use crate::store::AuditOutcome;
    use crate::tailer::JobRef;

    fn job(i: usize) -> Job {
        Job {
            name: JobName::parse(&format!("job-{i:04}-{}", "x".repeat(50))).unwrap(),
            job: JobRef {
                account: Account::parse("000099").unwrap(),
                environment: Environment::parse("PROD").unwrap(),
                configuration_type: ConfigurationType::parse("table-to-table").unwrap(),
                configuration_id: ConfigurationId::parse(&format!("000099_{}_{i}_PROD", "y".repeat(150))).unwrap(),
                job_id: None,
            },
            description: Some(format!("<!channel> {}", "d".repeat(2000))),
            tags: vec!["t".repeat(64); 5],
        }
    }

    fn item(i: usize) -> RunItem {
        RunItem {
            run_id: RunId::parse(&format!("20201230-113940-{i:08}-3531-4578-9919-acf6fdb0a5b1")).unwrap(),
            status: RunStatus::Other(format!("<!here> {}", "S".repeat(500))),
            account: Some("000099".into()),
            environment: Some("P".repeat(300)),
            configuration_type: Some("gbq-to-gbq".into()),
            configuration_id: Some("c".repeat(300)),
            job_id: None,
            duration: Some(Duration::from_secs(90_000)),
            start_execution_date: Some(Utc::now()),
            last_update_date: Some(Utc::now()),
        }
    }

    fn check(message: &Message) -> String {
        let json = serde_json::to_value(message).unwrap();
        let problems = limit_violations(&json);
        assert!(problems.is_empty(), "{problems:?}");
        let raw = json.to_string();
        assert!(!raw.contains("<!channel>") && !raw.contains("<!here>"), "foreign text is escaped");
        raw
    }

    #[test]
    fn the_largest_realistic_outputs_stay_within_slacks_limits_and_are_escaped() {
        let jobs: Vec<Job> = (0..2000).map(job).collect();
        let refs: Vec<&Job> = jobs.iter().collect();
        assert!(check(&self::jobs(&refs, Some("<b>"))).contains("more_"));
        let items: Vec<RunItem> = (0..50).map(item).collect();
        check(&last_runs(&jobs[0], &items));
        check(&run(Some(&jobs[0]), &items[0]));
        check(&run(None, &items[0]));
        let running_items: Vec<(Option<&Job>, RunItem)> =
            (0..500).map(|i| (if i % 2 == 0 { Some(&jobs[i]) } else { None }, item(i))).collect();
        assert!(check(&running(&running_items)).contains("more_"));
        let entries: Vec<AuditEntry> = (0..20)
            .map(|i| AuditEntry {
                id: i,
                at: 1_700_000_000_000,
                reference: "abcd1234".into(),
                user_id: "U0ANALYST".into(),
                channel_id: "C0DATA".into(),
                action: crate::domain::Action::Disable,
                job: Some(format!("<!channel>{}", "j".repeat(64))),
                environment: Some("PROD".into()),
                outcome: AuditOutcome::Failed,
                detail: format!("<!channel> {}", "r".repeat(600)),
                tailer_answer: None,
            })
            .collect();
        check(&audit(&entries, Some("<!channel>")));
        let summary = format!("disable `tag:daily` (2000 jobs) — reason: {}", escape(&format!("<!channel> {}", "w".repeat(500))));
        assert!(check(&confirmation(&summary, &refs, "U0DATALEAD", true, &"c".repeat(32))).contains("more_"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(3)), "3 s");
        assert_eq!(duration(Duration::from_secs(84)), "1 min 24 s");
        assert_eq!(duration(Duration::from_secs(7320)), "2 h 2 min");
    }
}
