//! A catalog of 500 jobs through every command and the launch form: each is answered,
//! and every message the bot sends stays within Slack's limits, long lists folded with a
//! count rather than cut or refused.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, TestBot};
use tailerbot::sim::SimOptions;
use tailerbot::slack::blocks::limit_violations;

const JOBS: usize = 500;
const ROOM: &str = "C0BIG";

/// The embedded catalog and `JOBS` more DEV jobs over ten tags.
fn catalog() -> tailerbot::config::Config {
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tailerbot.example.toml")).unwrap();
    for n in 0..JOBS {
        text.push_str(&format!(
            "\n[[jobs]]\nname = \"load-{n:03}\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"table-to-table\"\nconfiguration_id = \"000099_load_{n:03}_DEV\"\ndescription = \"Load number {n} of the nightly batch\"\ntags = [\"t{}\"]\n",
            n % 10
        ));
    }
    tailerbot::config::Config::parse(std::path::Path::new("large.toml"), &text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_jobs_go_through_every_command_and_the_launch_form_within_slacks_limits() {
    let sim = SimOptions {
        waiting: (Duration::from_millis(100), Duration::from_millis(100)),
        running: (Duration::from_millis(300), Duration::from_millis(300)),
        invisible_after_launch: Duration::from_millis(50),
        history: 1,
        ..SimOptions::default()
    };
    let bot = TestBot::start_with(catalog(), sim).await;
    for text in [
        "help",
        "jobs",
        "jobs nightly",
        "status load-001",
        "last load-001 50",
        "running",
        "subscribe all",
        "subscribe tag:t3 failures",
        "subscriptions",
        "expect load-002 by 07:00 Europe/Paris",
        "expectations",
        "digest at 09:00 Europe/Paris",
        "digest",
        "disable tag:t1 for 1h nightly batch paused",
        "disabled",
        "enable tag:t1",
        "history load-003 30",
        "launch load-004",
        "audit",
        "doctor",
        "launch",
    ] {
        let (status, answer) = bot.command(ANALYST, ROOM, text).await;
        assert_eq!(status, 200, "{text}: {answer}");
        if answer.is_object() {
            let problems = limit_violations(&answer);
            assert!(problems.is_empty(), "{text}: {problems:?}");
        }
    }
    // What came after the answers: the replies, the cards, the form.
    let events =
        bot.wait(|e| e.iter().any(|e| e.method == "views.open") && e.iter().any(|e| e.method == "files.completeUploadExternal")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap();
    let offered = form.options("job");
    assert!(!offered.is_empty() && offered.len() <= 100, "the launch form lists at most 100 jobs: {}", offered.len());
    assert!(form.visible_text().contains("more"), "and says how many more: {}", form.visible_text());
    for event in &events {
        let message = serde_json::json!({"text": event.text, "blocks": event.blocks});
        let problems = limit_violations(&message);
        assert!(problems.is_empty(), "{} {:?}: {problems:?}", event.method, event.text.chars().take(80).collect::<String>());
    }
    let answered = |key: &str| events.iter().any(|e| e.method == "response_url" && e.visible_text().contains(key));
    assert!(answered("load-001"), "status and last are answered");
    // `jobs` folds 506 entries with a count; `disable tag:t1` switched off its 50 jobs.
    let (_, jobs) = bot.command(ANALYST, ROOM, "jobs").await;
    assert!(jobs.to_string().contains("…and 406 more: `/tailer jobs &lt;filter&gt;` narrows the list"), "folded with a count: {jobs}");
    // At the pace the configuration sets towards Tailer (20 calls a second).
    let switched = bot.tailer.sim.wait_for_count("set_configuration_status", 100, Duration::from_secs(30)).await;
    assert_eq!(switched, 100, "50 off, then 50 on");
}
