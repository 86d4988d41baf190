//! What the bot's answers look like: Block Kit for each read, the confirmation, the
//! outcomes. Every text that came from a person or from Tailer is escaped here; every
//! list is cut to Slack's limits by [`Message::lines`].

pub mod cards;
pub mod names;
pub mod outcomes;
mod runs;
mod switches;
pub mod watching;

pub use runs::{last_runs, run, running};
pub use switches::{ENABLE_BUTTONS, disabled, enable_button, switched_off};

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, Job, RunUrlTemplate};
use crate::domain::{Action, Press};
use crate::slack::blocks::{Button, ConfirmDialog, Message, date, escape, truncate};
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
        Some(url) if !run_id.contains('|') => format!("<{}|{}>", escape(&url), escape(run_id)),
        _ => format!("`{}`", escape(run_id)),
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

/// The audit trail; `catalog` finds a job by name, for the links to runs.
pub fn audit<'a>(links: Links, catalog: impl Fn(&str) -> Option<&'a Job>, entries: &[AuditEntry], job: Option<&str>) -> Message {
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
        let mut detail = escape(&truncate(&e.detail, 300));
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
                let words: Vec<&str> = e.detail.split(' ').collect();
                if let Some(url) = words.get(2).and_then(|run| links.url(job, run)) {
                    let word = |(i, w): (usize, &&str)| if i == 2 { named(Some(url.clone()), w) } else { escape(w) };
                    detail = words.iter().enumerate().map(word).collect::<Vec<_>>().join(" ");
                }
            }
            _ => {}
        }
        format!("{} <@{}> *{}*{target} → {} — {detail}", when(at), e.user_id, e.action, e.outcome.as_str().replace('_', " "))
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

/// The question before a write that a rule wants confirmed.
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
        &[
            Button::press("Confirm", &Press::Confirm { confirmation: confirmation_id.to_owned() }).danger(dialog),
            Button::press("Cancel", &Press::Cancel { confirmation: confirmation_id.to_owned() }),
        ],
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
        largest_outputs(Links::none());
        // The longest template, with long values: links as long as a message takes.
        let template = RunUrlTemplate::parse(&format!(
            "https://studio.example.com/{}/{{account}}/{{environment}}/{{configuration_id}}/{{run_id}}",
            "p".repeat(crate::config::MAX_URL_CHARS / 2)
        ))
        .unwrap();
        largest_outputs(Links(Some(&template)));
    }

    fn largest_outputs(links: Links) {
        let jobs: Vec<Job> = (0..2000).map(job).collect();
        let refs: Vec<&Job> = jobs.iter().collect();
        assert!(check(&self::jobs(&refs, Some("<b>"))).contains("more_"));
        let items: Vec<RunItem> = (0..50).map(item).collect();
        let linked = check(&last_runs(links, &jobs[0], &items));
        assert_eq!(linked.contains("|20201230-113940-"), links.0.is_some(), "run ids are links exactly when a template is set");
        check(&run(links, Some(&jobs[0]), &items[0]));
        check(&run(links, None, &items[0]));
        let running_items: Vec<(Option<&Job>, RunItem)> =
            (0..500).map(|i| (if i % 2 == 0 { Some(&jobs[i]) } else { None }, item(i))).collect();
        assert!(check(&running(links, &running_items)).contains("more_"));
        let mut entries: Vec<AuditEntry> = (0..20)
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
        for (i, e) in entries.iter_mut().enumerate().take(10) {
            e.job = Some(jobs[i].name.to_string());
            e.outcome = AuditOutcome::Succeeded;
            e.action = if i % 2 == 0 { Action::Launch } else { Action::Mark };
            e.tailer_answer = Some(item(i).run_id.to_string());
            e.detail = format!("mark {} {} CHECKED", jobs[i].name, item(i).run_id);
        }
        check(&audit(links, |name| jobs.iter().find(|j| j.name.as_str() == name), &entries, Some("<!channel>")));
        let summary = format!("disable `tag:daily` (2000 jobs) — reason: {}", escape(&format!("<!channel> {}", "w".repeat(500))));
        assert!(check(&confirmation(&summary, &refs, "U0DATALEAD", true, &"c".repeat(32))).contains("more_"));
    }

    #[test]
    fn the_audit_links_the_run_a_launch_made_and_the_run_a_mark_names() {
        let template = RunUrlTemplate::parse("https://studio.example.com/{configuration_id}/{run_id}").unwrap();
        let jobs = [job(1)];
        let catalog = |name: &str| jobs.iter().find(|j| j.name.as_str() == name);
        let entry = |action, detail: &str, answer: &str| AuditEntry {
            id: 1,
            at: 1_700_000_000_000,
            reference: "abcd1234".into(),
            user_id: "U0ANALYST".into(),
            channel_id: "C0DATA".into(),
            action,
            job: Some(jobs[0].name.to_string()),
            environment: Some("PROD".into()),
            outcome: AuditOutcome::Succeeded,
            detail: detail.into(),
            tailer_answer: Some(answer.into()),
        };
        let url = |run: &str| format!("https://studio.example.com/{}/{run}", jobs[0].job.configuration_id);
        let name = jobs[0].name.to_string();
        let entries = [
            entry(Action::Launch, &format!("launch {name}"), "20201230-1"),
            entry(Action::Mark, &format!("mark {name} 20201230-2 CHECKED"), "ok"),
        ];
        let shown = serde_json::to_string(&audit(Links(Some(&template)), catalog, &entries, None)).unwrap();
        assert!(shown.contains(&format!("launch {name} · run <{}|20201230-1>", url("20201230-1"))), "{shown}");
        assert!(shown.contains(&format!("mark {name} <{}|20201230-2> CHECKED", url("20201230-2"))), "{shown}");
        // Without a template, nothing changes.
        let plain = serde_json::to_string(&audit(Links::none(), catalog, &entries, None)).unwrap();
        assert!(!plain.contains("https://") && plain.contains(&format!("mark {name} 20201230-2 CHECKED")), "{plain}");
    }

    #[test]
    fn only_a_finished_card_has_open_in_tailer_and_only_with_a_template() {
        let template = RunUrlTemplate::parse("https://studio.example.com/{run_id}").unwrap();
        let (job, mut running, card) = (
            job(1),
            item(1),
            crate::store::CardRow {
                run_id: item(1).run_id.to_string(),
                channel_id: "C0DATA".into(),
                lane: "card".into(),
                launched_by: Some("U0ANALYST".into()),
                watched_by: None,
                execution_date: None,
            },
        );
        running.status = RunStatus::Running;
        let open = |m: &Message| serde_json::to_string(m).unwrap().contains("\"url\":\"https://studio.example.com/");
        let links = Links(Some(&template));
        assert!(!open(&cards::render_card(links, &job, &card, Some(&running), false, None)));
        assert!(open(&cards::render_card(links, &job, &card, Some(&running), true, None)));
        assert!(!open(&cards::render_card(Links::none(), &job, &card, Some(&running), true, None)));
        let linked = format!("<https://studio.example.com/{0}|{0}>", card.run_id);
        assert!(serde_json::to_string(&cards::render_card(links, &job, &card, None, false, None)).unwrap().contains(&linked));
        // A thread reply names the run only once it ended.
        let reply = |item: &RunItem| serde_json::to_string(&cards::status_reply(links, &card, item, &job).body).unwrap();
        assert!(!reply(&running).contains(&linked));
        running.status = RunStatus::Failed;
        assert!(reply(&running).contains(&linked), "{}", reply(&running));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(3)), "3 s");
        assert_eq!(duration(Duration::from_secs(84)), "1 min 24 s");
        assert_eq!(duration(Duration::from_secs(7320)), "2 h 2 min");
    }
}
