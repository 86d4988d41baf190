//! What a data team runs into in its first week, against the real binary.

mod common;

use std::time::Duration;

use common::bot::{CHANNEL, text_of};
use common::life::World;
use common::process::command_answer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_named_with_the_wrong_job_is_refused_and_the_right_job_named() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("r");
    let (status, _) = command_answer(&life.url, &respond, "1.fw.1", "U0ANALYST", CHANNEL, "launch stock-enrich").await;
    assert_eq!(status, 200);
    // stock-enrich fails in the simulator: its card offers Mark as checked, naming the run.
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(|e| e.button("Mark as checked").is_some())).await;
    let card = events.iter().rev().find(|e| e.button("Mark as checked").is_some()).unwrap().clone();
    let (_, value) = card.button("Mark as checked").unwrap();
    let run = value.split_whitespace().nth(1).unwrap().to_owned();

    for (i, text) in [format!("mark iowa-prepare {run} CHECKED"), format!("status iowa-prepare {run}"), format!("watch iowa-prepare {run}")]
        .iter()
        .enumerate()
    {
        let (status, answer) = command_answer(&life.url, &respond, &format!("1.fw.w{i}"), "U0ANALYST", CHANNEL, text).await;
        assert_eq!(status, 200);
        let said = text_of(&answer);
        assert!(said.contains("belongs to `stock-enrich`, not `iowa-prepare`"), "{text}: {said}");
        assert_eq!(answer["response_type"], "ephemeral", "only its author sees it");
    }
    assert_eq!(world.tailer.sim.count("set_run_status"), 0, "nothing marked under the wrong job");

    // Named with its own job, it is marked.
    let text = format!("mark stock-enrich {run} CHECKED");
    let (status, _) = command_answer(&life.url, &respond, "1.fw.2", "U0ANALYST", CHANNEL, &text).await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("set_run_status", 1, Duration::from_secs(10)).await, 1);
    // The card now says CHECKED and no longer offers to mark it.
    let checked =
        |e: &tailerbot::slack::standin::SlackEvent| e.method == "chat.update" && e.ts == card.ts && e.visible_text().contains("CHECKED");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(checked)).await;
    let edit = events.iter().rev().find(|e| checked(e)).expect("the card shows CHECKED");
    assert!(edit.button("Mark as checked").is_none() && edit.button("Launch again").is_some(), "{:?}", edit.buttons());
    world.drained().await;
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_things_read_right_one_job_real_dates_names_without_case_and_empty_tags() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("s");
    let ask = |n: u32, text: &'static str| {
        let (url, respond) = (life.url.clone(), respond.clone());
        async move { command_answer(&url, &respond, &format!("1.small.{n}"), "U0ANALYST", CHANNEL, text).await.1 }
    };
    let said = text_of(&ask(1, "jobs iowa-stores").await);
    assert!(said.contains("*1 job*") && !said.contains("1 jobs"), "{said}");
    let said = text_of(&ask(2, "launch iowa-prepare 2024-02-30").await);
    assert!(said.contains("`2024-02-30` is not a real date"), "{said}");
    let said = text_of(&ask(3, "disable tag:").await);
    assert!(said.contains("`tag:` needs a tag name"), "{said}");
    assert_eq!(world.tailer.sim.count("launch_job") + world.tailer.sim.count("set_configuration_status"), 0, "nothing ran");
    // A job typed in another case is the same job.
    let said = text_of(&ask(4, "launch IOWA-Prepare").await);
    assert!(said.contains("On it: launch `iowa-prepare`"), "{said}");
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    world.drained().await;
    assert!(life.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_job_shows_its_latest_run_and_watch_takes_a_known_run_alone() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = |key: &str| world.slack.response_url(key);
    let (status, _) = command_answer(&life.url, &respond("l"), "1.st.1", "U0ANALYST", CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(|e| e.button("Launch again").is_some())).await;
    let card = events.iter().rev().find(|e| e.button("Launch again").is_some()).unwrap();
    let run = card.button("Launch again").unwrap().1.split_whitespace().nth(1).unwrap().to_owned();

    // `status <job>`: the latest run, not "not a run id".
    command_answer(&life.url, &respond("st"), "1.st.2", "U0ANALYST", CHANNEL, "status iowa-prepare").await;
    let said = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.ts.as_deref() == Some("st"))).await;
    let said = said.iter().find(|e| e.ts.as_deref() == Some("st")).unwrap().visible_text();
    assert!(said.contains(&run) && said.contains("SUCCESS"), "{said}");

    // `watch <run>` alone, in another channel: the bot knows its job.
    let (_, answer) = command_answer(&life.url, &respond("w"), "1.st.3", "U0ANALYST", "C0OTHER", &format!("watch {run}")).await;
    assert!(!text_of(&answer).contains("needs"), "{answer}");
    world
        .slack
        .slack
        .wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.channel.as_deref() == Some("C0OTHER") && e.text.contains(&run)))
        .await;
    assert!(
        world.slack.slack.events().iter().any(|e| e.channel.as_deref() == Some("C0OTHER") && e.text.contains(&run)),
        "a card in C0OTHER"
    );

    // A run the bot does not know: it says what is missing.
    let unknown = "20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1";
    let (_, answer) = command_answer(&life.url, &respond("u"), "1.st.4", "U0ANALYST", CHANNEL, &format!("watch {unknown}")).await;
    let said = text_of(&answer);
    assert!(said.contains("don't know which job") && said.contains(&format!("/tailer watch &lt;job&gt; {unknown}")), "{said}");
    world.drained().await;
    assert!(life.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwatched_run_card_says_it_is_no_longer_followed() {
    let world = World::new().await;
    let life = world.life().await;
    let (status, _) =
        command_answer(&life.url, &world.slack.response_url("l"), "1.uw.1", "U0ANALYST", CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    let is_card =
        |e: &tailerbot::slack::standin::SlackEvent| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(is_card)).await;
    let card = events.iter().find(|e| is_card(e)).unwrap().clone();
    let run = card.text.split("· run ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();

    let (_, answer) =
        command_answer(&life.url, &world.slack.response_url("u"), "1.uw.2", "U0ANALYST", CHANNEL, &format!("unwatch {run}")).await;
    assert!(text_of(&answer).contains("no longer follows"), "{answer}");
    let edited = |e: &tailerbot::slack::standin::SlackEvent| {
        e.method == "chat.update" && e.ts == card.ts && e.visible_text().contains("No longer followed")
    };
    world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(edited)).await;
    world.drained().await;
    assert!(life.stop().await.success());
    let events = world.slack.slack.events();
    let last_edit = events.iter().rev().find(|e| e.method == "chat.update" && e.ts == card.ts).expect("the card was edited");
    assert!(last_edit.visible_text().contains("No longer followed in this channel"), "the card's last word: {}", last_edit.visible_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_with_a_type_no_job_has_says_so_and_lists_the_types() {
    let world = World::new().await;
    let life = world.life().await;
    let (status, answer) = command_answer(&life.url, &world.slack.response_url("r"), "1.run.1", "U0ANALYST", CHANNEL, "running foo").await;
    assert_eq!(status, 200);
    let said = text_of(&answer);
    assert!(
        said.contains("`foo` is not a configuration type") && said.contains("`table-to-table`") && said.contains("`workflow`"),
        "{said}"
    );
    assert_eq!(world.tailer.sim.count("get_by_status"), 0, "Tailer was not asked");
    assert!(life.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_lists_requests_waiting_for_a_confirmation_apart_from_outcomes() {
    let world = World::new().await;
    let life = world.life().await;
    let ask = |n: u32, user: &'static str, text: &'static str| {
        let (url, respond) = (life.url.clone(), world.slack.response_url(&format!("a{n}")));
        async move { command_answer(&url, &respond, &format!("1.audit.{n}"), user, CHANNEL, text).await.1 }
    };
    ask(1, "U0DATALEAD", "disable sales-daily for 1h vendor late").await;
    ask(2, "U0ANALYST", "launch iowa-prepare 2026-11-30").await;
    // The launch's outcome is audited once it is done: asked until it shows (bounded).
    let mut audit = String::new();
    for n in 3..60 {
        audit = text_of(&ask(n, "U0DATALEAD", "audit").await);
        if audit.contains("*launch*") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (outcomes, asked) = audit.split_once("Asked for a confirmation").unwrap_or_else(|| panic!("two sections: {audit}"));
    assert!(asked.contains("<@U0DATALEAD> *disable* `sales-daily` (PROD) → awaiting confirmation"), "{audit}");
    assert!(!outcomes.contains("awaiting confirmation"), "no pending request among the outcomes: {audit}");
    assert!(outcomes.contains("<@U0ANALYST> *launch* `iowa-prepare` (DEV)") && outcomes.contains("2026-11-30"), "{audit}");
    world.drained().await;
    assert!(life.stop().await.success());
}
