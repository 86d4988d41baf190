//! The bot's messages as Slack receives them: within its limits, foreign text escaped,
//! runs linked where a template is set.

use std::time::Duration;

use chrono::Utc;

use crate::chat::Message;
use crate::config::{Job, RunUrlTemplate};
use crate::domain::Action;
use crate::domain::markup::plain;
use crate::domain::{Account, ConfigurationId, ConfigurationType, Environment, JobName, RunId};
use crate::messages::*;
use crate::slack::blocks::{limit_violations, render};
use crate::store::AuditEntry;
use crate::store::AuditOutcome;
use crate::tailer::JobRef;
use crate::tailer::{RunItem, RunStatus};

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

/// A message as Slack receives it.
fn json(message: &Message) -> serde_json::Value {
    let rendered = render(message);
    serde_json::json!({"text": rendered.text, "blocks": rendered.blocks})
}

fn check(message: &Message) -> String {
    let json = json(message);
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
    largest_outputs(Links::new(Some(&template)));
}

fn largest_outputs(links: Links) {
    let jobs: Vec<Job> = (0..2000).map(job).collect();
    let refs: Vec<&Job> = jobs.iter().collect();
    assert!(check(&crate::messages::jobs(&refs, Some("<b>"))).contains("…and 1900 more"));
    let items: Vec<RunItem> = (0..50).map(item).collect();
    let linked = check(&last_runs(links, &jobs[0], Default::default(), &items));
    assert_eq!(
        linked.contains("|20201230-113940-"),
        links.url(&jobs[0], "r").is_some(),
        "run ids are links exactly when a template is set"
    );
    check(&run(links, Some(&jobs[0]), &items[0]));
    check(&run(links, None, &items[0]));
    let running_items: Vec<(Option<&Job>, RunItem)> = (0..500).map(|i| (if i % 2 == 0 { Some(&jobs[i]) } else { None }, item(i))).collect();
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
    let summary = format!("disable `tag:daily` (2000 jobs) — reason: {}", plain(&format!("<!channel> {}", "w".repeat(500))));
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
    let shown = json(&audit(Links::new(Some(&template)), catalog, &entries, None)).to_string();
    assert!(shown.contains(&format!("launch {name} · run <{}|20201230-1>", url("20201230-1"))), "{shown}");
    assert!(shown.contains(&format!("mark {name} <{}|20201230-2> CHECKED", url("20201230-2"))), "{shown}");
    // Without a template, nothing changes.
    let plain = json(&audit(Links::none(), catalog, &entries, None)).to_string();
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
    let open = |m: &Message| json(m).to_string().contains("\"url\":\"https://studio.example.com/");
    let links = Links::new(Some(&template));
    assert!(!open(&cards::render_card(links, &job, &card, Some(&running), false, None)));
    assert!(open(&cards::render_card(links, &job, &card, Some(&running), true, None)));
    assert!(!open(&cards::render_card(Links::none(), &job, &card, Some(&running), true, None)));
    let linked = format!("<https://studio.example.com/{0}|{0}>", card.run_id);
    assert!(json(&cards::render_card(links, &job, &card, None, false, None)).to_string().contains(&linked));
    // A thread reply names the run only once it ended.
    let reply =
        |item: &RunItem| serde_json::to_string(&cards::status_reply(&super::blocks::BlockKit, links, &card, item, &job).body).unwrap();
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

#[test]
fn the_help_shows_its_placeholders_instead_of_sending_them_as_links() {
    let raw = json(&crate::commands::catalog::help_message(None)).to_string();
    assert!(raw.contains("`&lt;job&gt;`") && raw.contains("`tag:&lt;tag&gt;`") && raw.contains("help &lt;verb&gt;"), "{raw}");
    assert!(!raw.contains("<job>") && !raw.contains("<tag>") && !raw.contains("<verb>"), "{raw}");
}

#[test]
fn the_help_and_each_verbs_details_stay_within_slacks_limits() {
    let check = |m: &Message| {
        let violations = limit_violations(&json(m));
        assert!(violations.is_empty(), "{violations:?}");
    };
    check(&crate::commands::catalog::help_message(None));
    for action in Action::ALL {
        check(&crate::commands::catalog::help_message(Some(action)));
    }
}

/// A status Tailer made up, thousands of `&` long (each written `&amp;`), does not push
/// the run's link out of its line (found by the renderers' property test).
#[test]
fn a_made_up_status_however_long_leaves_the_run_linked() {
    let template = RunUrlTemplate::parse("https://studio.example.com/{account}/{run_id}").unwrap();
    let links = Links::new(Some(&template));
    let mut long = item(0);
    long.status = crate::tailer::RunStatus::Other("&".repeat(3_000));
    let listed = check(&last_runs(links, &job(0), Default::default(), &[long]));
    assert!(listed.contains("|20201230-113940-"), "{listed}");
}
