//! What a data team runs into in its first week, against the real binary.

mod common;

use std::time::Duration;

use common::bot::{CHANNEL, text_of};
use common::life::World;
use common::process::command_answer;
use tailerbot::sim::{Fault, FaultKind};

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
    life.settle().await;
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
    life.settle().await;
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
    // A run no channel follows any more: Tailer is asked after the answer, which then says so.
    let said = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.ts.as_deref() == Some("w"))).await;
    let said = said.iter().find(|e| e.ts.as_deref() == Some("w")).unwrap().visible_text();
    assert!(said.contains(&format!("Following run `{run}` of `iowa-prepare`")), "{said}");
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
    life.settle().await;
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

/// What is off is listed (through restarts, a deploy and a crash), a launch of it asks
/// first, *Launch anyway* launches, and *Enable* switches it on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_off_is_listed_a_launch_of_it_asks_first_and_enable_switches_it_on() {
    let world = World::new().await;
    let mut life = world.life().await;
    let respond = world.slack.response_url("off");
    let ask = |url: String, n: &str, text: &str| {
        let (respond, n, text) = (respond.clone(), n.to_owned(), text.to_owned());
        async move { command_answer(&url, &respond, &format!("1.off.{n}"), "U0ANALYST", CHANNEL, &text).await.1 }
    };
    let said = text_of(&ask(life.url.clone(), "0", "disabled").await);
    assert!(said.contains("Nothing you may see here is switched off"), "{said}");

    ask(life.url.clone(), "1", "disable iowa-prepare vendor late").await;
    assert_eq!(world.tailer.sim.wait_for_count("set_configuration_status", 1, Duration::from_secs(10)).await, 1);
    // The "Disabled" message offers Enable.
    let disabled = |e: &tailerbot::slack::standin::SlackEvent| e.visible_text().contains("Disabled `iowa-prepare`");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(disabled)).await;
    let outcome = events.iter().find(|e| disabled(e)).unwrap();
    assert_eq!(outcome.button("Enable").map(|(_, v)| v), Some("iowa-prepare".to_owned()), "{:?}", outcome.buttons());

    // Known through a deploy and a crash.
    assert!(life.stop().await.success());
    life = world.life().await;
    let said = text_of(&ask(life.url.clone(), "2", "disabled").await);
    assert!(said.contains("`iowa-prepare` (DEV) is disabled since") && said.contains("by <@U0ANALYST>"), "{said}");
    assert!(said.contains("reason: vendor late"), "{said}");
    life.kill_hard();
    life = world.life().await;
    let listed = ask(life.url.clone(), "3", "disabled").await;
    assert!(text_of(&listed).contains("`iowa-prepare` (DEV) is disabled since"), "{}", text_of(&listed));

    // A launch asks first, and launches nothing.
    let warning = ask(life.url.clone(), "4", "launch iowa-prepare 2026-11-30").await;
    let said = text_of(&warning);
    assert!(said.contains("`iowa-prepare` (DEV) is disabled since") && said.contains("would end DEACTIVATED"), "{said}");
    assert_eq!(warning["response_type"], "ephemeral");
    life.settle().await;
    assert_eq!(world.tailer.sim.count("launch_job"), 0, "not launched");
    // Launch anyway keeps the execution date, and is not taken for a repeat.
    let warning = common::bot::as_event(&warning);
    assert_eq!(warning.button("Launch anyway").map(|(_, v)| v), Some("iowa-prepare 2026-11-30".to_owned()));
    let status = common::process::click(&life.url, &respond, "1.off.click1", "U0ANALYST", &warning, "Launch anyway").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    let launched = world.tailer.sim.requests().into_iter().find(|r| r.action == "launch_job").unwrap();
    assert_eq!(launched.body["execution_date"], "2026-11-30", "{:?}", launched.body);

    // Enable, from the list.
    let status = common::process::click(&life.url, &respond, "1.off.click2", "U0ANALYST", &common::bot::as_event(&listed), "Enable").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("set_configuration_status", 2, Duration::from_secs(10)).await, 2);
    assert_eq!(world.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
    let mut listed_now = String::new();
    for n in 0..50 {
        listed_now = text_of(&ask(life.url.clone(), &format!("5.{n}"), "disabled").await);
        if listed_now.contains("Nothing you may see here is switched off") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed_now.contains("Nothing you may see here is switched off"), "{listed_now}");
    world.drained().await;
    assert!(life.stop().await.success());
}

/// A write Tailer refuses (a typo in a run id) changed nothing: only its author hears
/// it, once, and the reference shows once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_tailer_refuses_is_told_only_to_its_author_with_the_reference_once() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("typo");
    let (status, _) = command_answer(&life.url, &respond, "1.typo.1", "U0ANALYST", CHANNEL, "mark stock-enrich 20261201-xyz CHECKED").await;
    assert_eq!(status, 200);
    let refused = |e: &tailerbot::slack::standin::SlackEvent| e.visible_text().contains("Could not mark");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(refused)).await;
    let answers: Vec<_> = events.iter().filter(|e| refused(e)).collect();
    assert_eq!(answers.len(), 1, "once: {answers:?}");
    let answer = answers[0];
    assert_eq!((answer.method.as_str(), answer.response_type.as_deref()), ("response_url", Some("ephemeral")), "{answer:?}");
    assert_eq!(answer.visible_text().matches("ref `").count(), 1, "{}", answer.visible_text());
    world.drained().await;
    let events = world.slack.slack.events();
    assert!(!events.iter().any(|e| e.method == "chat.postMessage" && refused(e)), "the channel is not told");
    assert!(life.stop().await.success());
}

/// Watching a run that already ended posts its card in its final state, never "waiting".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_run_that_ended_posts_its_final_state() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("end");
    command_answer(&life.url, &respond, "1.end.1", "U0ANALYST", CHANNEL, "launch iowa-prepare").await;
    let ended = |e: &tailerbot::slack::standin::SlackEvent| e.thread_ts.is_some() && e.visible_text().contains("SUCCESS");
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(ended)).await;
    let card = events.iter().find(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL)).unwrap();
    let run = card.text.split("run ").nth(1).unwrap().trim_matches('`').split_whitespace().next().unwrap().trim_matches('`').to_owned();

    let (status, _) = command_answer(&life.url, &respond, "1.end.2", "U0ANALYST", "C0OTHER", &format!("watch iowa-prepare {run}")).await;
    assert_eq!(status, 200);
    let first_in_other = |e: &[tailerbot::slack::standin::SlackEvent]| {
        e.iter().find(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some("C0OTHER") && e.thread_ts.is_none()).cloned()
    };
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| first_in_other(e).is_some()).await;
    let card = first_in_other(&events).unwrap();
    let said = card.visible_text();
    assert!(said.contains("SUCCESS") && !said.contains("waiting"), "{said}");
    world.drained().await;
    assert!(life.stop().await.success());
}

/// `iowa-prepare` switched off by `disable`, then the question `launch iowa-prepare
/// 2026-11-29` gets while it is off (the one with *Enable and launch*); `n` tells this
/// test's requests apart.
async fn launch_question_while_off(
    world: &World,
    life: &common::process::Serve,
    respond: &str,
    n: &str,
) -> tailerbot::slack::standin::SlackEvent {
    let ask = |m: &str, text: &'static str| {
        let (url, respond) = (life.url.clone(), respond.to_owned());
        let id = format!("1.{n}.{m}");
        async move { command_answer(&url, &respond, &id, "U0ANALYST", CHANNEL, text).await.1 }
    };
    ask("1", "disable iowa-prepare").await;
    // Only once the disable is settled and told may the launch be asked: asked earlier,
    // it would launch the job (it is still on).
    let disabled = |e: &tailerbot::slack::standin::SlackEvent| e.visible_text().contains("Disabled `iowa-prepare`");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(disabled)).await;
    assert!(events.iter().any(disabled), "the disable was never told: {events:?}");
    let warning = ask("2", "launch iowa-prepare 2026-11-29").await;
    assert!(text_of(&warning).contains("is disabled since"), "{}", text_of(&warning));
    let warning = common::bot::as_event(&warning);
    assert_eq!(warning.button("Enable and launch").map(|(_, v)| v), Some("iowa-prepare 2026-11-29".to_owned()), "{:?}", warning.buttons());
    warning
}

/// *Enable and launch*: one click switches the job on, then launches it (with its date),
/// under the rules of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_and_launch_switches_the_job_on_then_launches_it() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("el");
    let warning = launch_question_while_off(&world, &life, &respond, "el").await;
    assert_eq!(world.tailer.sim.count("set_configuration_status"), 1);
    let status = common::process::click(&life.url, &respond, "1.el.click", "U0ANALYST", &warning, "Enable and launch").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1);
    let requests = world.tailer.sim.requests();
    let enable = requests.iter().rposition(|r| r.action == "set_configuration_status").unwrap();
    let launch = requests.iter().position(|r| r.action == "launch_job").unwrap();
    assert!(enable < launch, "enabled first, then launched");
    assert_eq!(requests[launch].body["execution_date"], "2026-11-29");
    assert_eq!(world.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
    // One answer tells both, and the run is followed on its card.
    let both = |e: &tailerbot::slack::standin::SlackEvent| {
        e.visible_text().contains("Enabled `iowa-prepare`") && e.visible_text().contains("Launched")
    };
    world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(both)).await;
    assert!(world.slack.slack.events().iter().any(both), "{:?}", world.slack.slack.events());
    let said = text_of(&command_answer(&life.url, &respond, "1.el.3", "U0ANALYST", CHANNEL, "disabled").await.1);
    assert!(said.contains("Nothing you may see here is switched off"), "{said}");
    world.drained().await;
    assert!(life.stop().await.success());
}

/// *Enable and launch* when Tailer refuses the enable: the job stays off and nothing is
/// launched (a run of a job that is off would end DEACTIVATED at once); the answer says
/// the enable failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_and_launch_launches_nothing_when_the_enable_is_refused() {
    let world = World::new().await;
    let life = world.life().await;
    let respond = world.slack.response_url("er");
    let warning = launch_question_while_off(&world, &life, &respond, "er").await;
    let refused = FaultKind::Status { status: 400, message: "configuration locked".into() };
    world.tailer.sim.inject(Fault::new(Some("set_configuration_status"), refused, 1));
    let status = common::process::click(&life.url, &respond, "1.er.click", "U0ANALYST", &warning, "Enable and launch").await;
    assert_eq!(status, 200);
    // The answer is settled after both steps were decided: once it is here, a launch
    // would have been asked already.
    let answered = |e: &tailerbot::slack::standin::SlackEvent| e.visible_text().contains("Could not enable `iowa-prepare`");
    let events = world.slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(answered)).await;
    assert!(events.iter().any(answered), "{events:?}");
    assert!(!events.iter().any(|e| e.visible_text().contains("Launched")), "{events:?}");
    assert_eq!(world.tailer.sim.count("launch_job"), 0, "launched a job Tailer kept off");
    assert_eq!(world.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
    world.drained().await;
    assert!(life.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_run_url_template_the_card_its_reply_and_the_alert_link_to_the_run() {
    let world = World::new().await;
    // A template using the job id, whose `|` must be encoded to keep Slack's link whole.
    let template = "https://studio.example.com/{account}/{environment}/runs/{job_id}/{run_id}?type={configuration_type}";
    let text = std::fs::read_to_string(&world.config).unwrap();
    let written = text.replace(
        "# run_url_template = \"https://studio.example.com/{account}/runs/{configuration_id}/{run_id}\"",
        &format!("run_url_template = \"{template}\""),
    );
    assert_ne!(written, text, "the example carries the commented template");
    std::fs::write(&world.config, written).unwrap();
    let life = world.life().await;
    let respond = world.slack.response_url("links");
    let subs = "C0SUBS";
    let (status, _) = command_answer(&life.url, &respond, "1.link.1", "U0ANALYST", subs, "subscribe stock-enrich failures").await;
    assert_eq!(status, 200);
    let (status, _) = command_answer(&life.url, &respond, "1.link.2", "U0ANALYST", CHANNEL, "launch stock-enrich").await;
    assert_eq!(status, 200);

    // stock-enrich fails in the simulator: its final card links to the run and opens it.
    let ended = |e: &tailerbot::slack::standin::SlackEvent| e.link_button("Open in Tailer").is_some();
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(ended)).await;
    let card = events.iter().rev().find(|e| ended(e)).unwrap().clone();
    let run = card.button("Mark as checked").unwrap().1.split_whitespace().nth(1).unwrap().to_owned();
    let url = format!("https://studio.example.com/000099/DEV/runs/gbq-to-gbq%7C000099_stock_enrich_failing_DEV/{run}?type=table-to-table");
    assert_eq!(card.link_button("Open in Tailer").as_deref(), Some(url.as_str()));
    let link = format!("<{url}|{run}>");
    let card_text = serde_json::to_string(&card.blocks).unwrap();
    assert!(card_text.contains(&link), "the card's run id is the link: {card_text}");
    // Only a finished run's card has the button; the first post had the link alone.
    let first = events.iter().find(|e| e.method == "chat.postMessage" && e.ts == card.ts).expect("the card's post");
    assert!(first.link_button("Open in Tailer").is_none() && serde_json::to_string(&first.blocks).unwrap().contains(&link));

    // The final reply in its thread, and the alert in the subscribed channel, link too.
    let alerted = |e: &tailerbot::slack::standin::SlackEvent| e.channel.as_deref() == Some(subs) && e.method == "chat.postMessage";
    let replied = |e: &tailerbot::slack::standin::SlackEvent| e.thread_ts == card.ts && e.visible_text().contains("FAILED");
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(alerted) && e.iter().any(replied)).await;
    let alert = events.iter().find(|e| alerted(e)).expect("an alert in the subscribed channel");
    assert!(alert.visible_text().contains(&link), "{}", alert.visible_text());
    let reply = events.iter().find(|e| replied(e)).expect("a final reply in the card's thread");
    assert!(reply.visible_text().contains(&link), "{}", reply.visible_text());
    for e in events.iter().filter(|e| e.method != "response_url") {
        let message = serde_json::json!({"text": e.text, "blocks": e.blocks});
        assert_eq!(tailerbot::slack::blocks::limit_violations(&message), Vec::<String>::new(), "{e:?}");
    }

    // A click on the link button is acknowledged and does nothing more.
    let launches = world.tailer.sim.count("launch_job");
    let opened = world.slack.response_url("open");
    let status = common::process::click(&life.url, &opened, "1.link.3", "U0ANALYST", &card, "Open in Tailer").await;
    assert_eq!(status, 200);
    world.drained().await;
    assert_eq!(world.tailer.sim.count("launch_job"), launches);
    let answered = world.slack.slack.events().iter().filter(|e| e.method == "response_url" && e.ts.as_deref() == Some("open")).count();
    assert_eq!(answered, 0, "the click is not answered");
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}
