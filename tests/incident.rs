//! Answers that must be safe in an incident, against the real binary: each *Enable*
//! beside its own job, a relaunch from the card of a run that failed fast, the
//! double-submit guard without regard to case, WAITING runs among what is running, and
//! the small answers people read under stress (filters in titles, limits named as
//! limits, both forms of `status`, a far execution date asked first, people as mentions).

mod common;

use std::time::Duration;

use common::bot::{CHANNEL, ONCALL, as_event, text_of};
use common::life::World;
use common::process::{click, click_beside, command_answer};
use tailerbot::slack::standin::SlackEvent;

const ANALYST: &str = "U0ANALYST";

/// Three jobs off: each line carries its own *Enable*, and each click switches on the
/// job beside it, and only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_enable_button_of_the_disabled_list_sits_beside_its_job_and_enables_only_it() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("off3");
    let ask = |n: String, text: &'static str| {
        let (url, respond) = (life.url.clone(), respond.clone());
        async move { command_answer(&url, &respond, &format!("1.off3.{n}"), ANALYST, CHANNEL, text).await.1 }
    };
    let jobs = [
        ("iowa-prepare", "000099_iowa_liquor_prepare_pda_DEV"),
        ("stock-enrich", "000099_stock_enrich_failing_DEV"),
        ("iowa-load-workflow", "000099-iowa-liquor-load-pda"),
    ];
    for (n, text) in ["disable iowa-prepare", "disable stock-enrich", "disable iowa-load-workflow"].into_iter().enumerate() {
        ask(format!("d{n}"), text).await;
    }
    assert_eq!(world.tailer.sim.wait_for_count("set_configuration_status", 3, Duration::from_secs(10)).await, 3, "three switched off");
    let mut listed = serde_json::Value::Null;
    for n in 0..50 {
        listed = ask(format!("l{n}"), "disabled").await;
        if text_of(&listed).contains("3 data operations switched off") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = as_event(&listed);
    assert!(listed.visible_text().contains("3 data operations switched off"), "{}", listed.visible_text());
    // No row of look-alike buttons under the list: every button is beside a job's line.
    assert!(!listed.blocks.iter().any(|b| b["type"] == "actions"), "{:?}", listed.blocks);
    assert_eq!(listed.buttons(), ["Enable", "Enable", "Enable"]);

    // Clicked in the order opposite to the list, each switches on its own job only.
    for (n, (job, configuration)) in jobs.iter().enumerate().rev() {
        let status = click_beside(&life.url, &respond, &format!("1.off3.c{n}"), ANALYST, &listed, &format!("`{job}`")).await;
        assert_eq!(status, 200);
        let calls = 3 + jobs.len() - n;
        assert_eq!(world.tailer.sim.wait_for_count("set_configuration_status", calls, Duration::from_secs(10)).await, calls);
        assert_eq!(world.tailer.sim.is_activated(configuration), Some(true), "{job} switched on");
        for (other, other_configuration) in &jobs[..n] {
            assert_eq!(world.tailer.sim.is_activated(other_configuration), Some(false), "{other} still off after {job}'s button");
        }
    }
    world.drained().await;
    assert!(life.stop().await.success());
}

/// `stock-enrich` fails 2.5 s after its launch: *Launch again* on its card launches at
/// once (it is not the typed launch repeated), and a second click on that card within
/// the minute is the double click, done once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_again_on_a_run_that_failed_fast_launches_at_once_and_a_double_click_once() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("again");
    let (status, _) = command_answer(&life.url, &respond, "1.again.1", ANALYST, CHANNEL, "launch stock-enrich").await;
    assert_eq!(status, 200);
    let card = |e: &SlackEvent| e.button("Launch again").is_some() && e.visible_text().contains("FAILED");
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(card)).await;
    let failed = events.iter().rev().find(|e| card(e)).expect("the card of the failed run, with Launch again").clone();
    assert_eq!(world.tailer.sim.count("launch_job"), 1);

    let status = click(&life.url, &respond, "1.again.click1", ANALYST, &failed, "Launch again").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 2, Duration::from_secs(10)).await, 2, "relaunched from its card at once");
    let refused = |e: &SlackEvent| e.visible_text().contains("less than a minute ago");
    assert!(!world.slack.slack.events().iter().any(refused), "not taken for a repeat of the typed launch");

    // The same button again (a double click: another trigger): done once, and said.
    let status = click(&life.url, &respond, "1.again.click2", ANALYST, &failed, "Launch again").await;
    assert_eq!(status, 200);
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(refused)).await;
    assert!(events.iter().any(refused), "the double click is answered: {events:?}");
    world.drained().await;
    assert_eq!(world.tailer.sim.count("launch_job"), 2, "the double click launched nothing");
    assert!(life.stop().await.success());
}

/// `LAUNCH iowa-prepare` then `launch IOWA-PREPARE`: the catalog reads both as
/// `iowa-prepare`, and so does the double-submit guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_repeated_in_another_case_within_a_minute_is_done_once() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("case");
    let (_, first) = command_answer(&life.url, &respond, "1.case.1", ANALYST, CHANNEL, "LAUNCH iowa-prepare").await;
    assert!(text_of(&first).contains("On it: launch `iowa-prepare`"), "{}", text_of(&first));
    let (_, second) = command_answer(&life.url, &respond, "1.case.2", ANALYST, CHANNEL, "launch IOWA-PREPARE").await;
    let said = text_of(&second);
    assert!(said.contains("less than a minute ago") && said.contains("`iowa-prepare`"), "{said}");
    world.drained().await;
    assert_eq!(world.tailer.sim.count("launch_job"), 1, "one run");
    assert!(life.stop().await.success());
}

/// A run waiting for its turn is in progress: `running` lists it, and says it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_lists_a_waiting_run() {
    let long_wait = tailerbot::sim::SimOptions { waiting: (Duration::from_secs(600), Duration::from_secs(600)), ..World::quick() };
    let world = World::with_sim(long_wait).await;
    let life = world.life().await;
    let respond = world.slack.response_url("wait");
    command_answer(&life.url, &respond, "1.wait.1", ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    let (status, _) = command_answer(&life.url, &respond, "1.wait.2", ANALYST, CHANNEL, "running").await;
    assert_eq!(status, 200);
    let listed = |e: &SlackEvent| e.method == "response_url" && e.visible_text().contains("in progress");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(listed)).await;
    let said = events.iter().find(|e| listed(e)).expect("the answer to running").visible_text();
    assert!(said.contains("1 run in progress") && said.contains("(1 waiting)") && said.contains("iowa-prepare"), "{said}");
    assert!(said.contains("WAITING"), "{said}");
    world.drained().await;
    assert!(life.stop().await.success());
}

/// What people read under stress: a filter named in the title, a limit named as a
/// limit, `status` alone giving both forms, an execution date in 2099 asked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titles_name_their_filter_limits_are_named_and_a_far_execution_date_is_asked_first() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("small");
    let ask = |n: u32, text: String| {
        let (url, respond) = (life.url.clone(), respond.clone());
        async move { command_answer(&url, &respond, &format!("1.small.{n}"), ANALYST, CHANNEL, &text).await.1 }
    };
    let said = text_of(&ask(1, format!("status {}", "x".repeat(300))).await);
    assert!(said.contains("A job name is at most 64 characters; this one has 300."), "{said}");
    let said = text_of(&ask(2, "status".into()).await);
    assert!(said.contains("`status &lt;job&gt;` shows its latest run, `status [&lt;job&gt;] &lt;run_id&gt;` one run"), "{said}");
    let said = text_of(&ask(3, format!("disable tag:{}", "t".repeat(65))).await);
    assert!(said.contains("A tag is at most 64 characters; this one has 65."), "{said}");

    // The filter of `last`, in its title.
    ask(4, "last stock-enrich failed 3".into()).await;
    let titled = |e: &SlackEvent| e.method == "response_url" && e.visible_text().contains("runs of `stock-enrich`");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(titled)).await;
    let said = events.iter().find(|e| titled(e)).expect("the answer to last").visible_text();
    assert!(said.contains("FAILED runs of `stock-enrich`") || said.contains("has no run FAILED"), "{said}");

    // An execution date more than a year out: asked first, launched once confirmed.
    let asked = ask(5, "launch iowa-prepare 2099-01-01".into()).await;
    let said = text_of(&asked);
    assert!(said.contains("2099-01-01 is more than a year from today"), "{said}");
    assert_eq!(asked["response_type"], "in_channel");
    life.settle().await;
    assert_eq!(world.tailer.sim.count("launch_job"), 0, "not launched before the confirmation");
    let status = click(&life.url, &respond, "1.small.confirm", ANALYST, &as_event(&asked), "Confirm").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    let launched = world.tailer.sim.requests().into_iter().find(|r| r.action == "launch_job").unwrap();
    assert_eq!(launched.body["execution_date"], "2099-01-01");
    // A date within the year is launched as typed.
    let next_month = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let said = text_of(&ask(6, format!("launch stock-enrich {next_month}")).await);
    assert!(said.contains("On it: launch `stock-enrich`"), "{said}");
    world.drained().await;
    assert!(life.stop().await.success());
}

/// A PROD launch confirmed on a click: the audit trail and the audit channel name the
/// requester and the confirmer as people (mentions), never as raw ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_names_people_as_mentions_never_raw_ids() {
    let world = World::new().await;
    let text = std::fs::read_to_string(&world.config).unwrap().replace("# audit_channel = \"C0AUDIT\"", "audit_channel = \"C0AUDIT\"");
    assert!(text.contains("\naudit_channel = \"C0AUDIT\""), "the example names an audit channel to switch on");
    std::fs::write(&world.config, text).unwrap();
    let life = world.life().await;
    let respond = world.slack.response_url("who");
    let (_, asked) = command_answer(&life.url, &respond, "1.who.1", ONCALL, CHANNEL, "launch sales-daily").await;
    assert!(text_of(&asked).contains("Confirm"), "{}", text_of(&asked));
    let status = click(&life.url, &respond, "1.who.2", ONCALL, &as_event(&asked), "Confirm").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    world.drained().await;
    let mut trail = String::new();
    for n in 0..50 {
        let (_, answer) = command_answer(&life.url, &respond, &format!("1.who.a{n}"), ONCALL, CHANNEL, "audit sales-daily").await;
        trail = text_of(&answer);
        if trail.contains("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(trail.contains("succeeded") && trail.contains("(confirmed by <@U0ONCALL>)"), "{trail}");
    assert!(trail.contains("(asked by <@U0ONCALL>)"), "{trail}");
    assert!(!trail.contains("by U0ONCALL"), "a raw id: {trail}");
    let echoes: Vec<String> = world
        .slack
        .slack
        .events()
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some("C0AUDIT"))
        .map(SlackEvent::visible_text)
        .collect();
    assert!(echoes.iter().any(|t| t.contains("(asked by <@U0ONCALL>)")), "{echoes:?}");
    assert!(!echoes.iter().any(|t| t.contains("by U0ONCALL")), "a raw id in the audit channel: {echoes:?}");
    assert!(life.stop().await.success());
}
