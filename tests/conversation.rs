//! Mentions and direct messages (Events API): the slash grammar where the conversation
//! is, the run implied in a run card's thread, answers in the thread, refusals to the
//! asker alone, each delivery handled once however often Slack sends it.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, CHANNEL, TestBot, example_config};
use serde_json::{Value, json};
use tailerbot::clock::Clock;
use tailerbot::sim::SimOptions;
use tailerbot::slack::standin::{SlackEvent, StandinFault, StandinFaultKind};

const BOT_USER: &str = "U0TAILERBOT";

/// An `event_callback` as Slack delivers it.
fn delivery(event_id: &str, event: Value) -> String {
    json!({
        "token": "deprecated",
        "team_id": "T0001",
        "api_app_id": "A0TAILER",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": event,
    })
    .to_string()
}

fn mention(user: &str, text: &str, ts: &str, thread_ts: Option<&str>) -> Value {
    let mut event =
        json!({"type": "app_mention", "user": user, "text": format!("<@{BOT_USER}> {text}"), "channel": CHANNEL, "ts": ts, "event_ts": ts});
    if let Some(thread) = thread_ts {
        event["thread_ts"] = json!(thread);
    }
    event
}

async fn send(bot: &TestBot, body: &str) -> (u16, Value) {
    common::bot::read(bot.post_signed("/slack/events", body).await).await
}

/// A launched run's card, once its run has ended.
async fn ended_card(bot: &TestBot) -> SlackEvent {
    let (status, _) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    let events = bot.slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(|e| e.button("Launch again").is_some())).await;
    let edit = events.iter().find(|e| e.button("Launch again").is_some()).expect("the run ended").clone();
    events.iter().find(|e| e.method == "chat.postMessage" && e.ts == edit.ts).expect("the card's post").clone()
}

/// The example catalog and rules, polled every second.
fn fast_config() -> tailerbot::config::Config {
    let mut config = example_config();
    config.watch.poll_interval = Duration::from_secs(1);
    config.watch.max_poll_interval = Duration::from_secs(2);
    config.watch.subscription_poll = Duration::from_secs(1);
    config
}

fn quick() -> SimOptions {
    SimOptions {
        waiting: (Duration::from_millis(100), Duration::from_millis(100)),
        running: (Duration::from_millis(300), Duration::from_millis(300)),
        invisible_after_launch: Duration::from_millis(50),
        ..SimOptions::default()
    }
}

/// Every event handled and everything it queued sent.
async fn settled(bot: &TestBot) {
    bot.bot.tasks().close();
    bot.bot.tasks().wait().await;
    for _ in 0..400 {
        if bot.bot.store().outbox_depth().await.unwrap().0 == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the outbox never drained");
}

fn in_thread<'e>(events: &'e [SlackEvent], root: &str, method: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == method && e.thread_ts.as_deref() == Some(root)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_in_a_run_cards_thread_is_answered_there_with_the_runs_status() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    let card = ended_card(&bot).await;
    let root = card.ts.clone().unwrap();
    let before = bot.slack.slack.events().len();
    let (status, body) = send(&bot, &delivery("Ev01", mention(ANALYST, "status", "1700000100.000001", Some(&root)))).await;
    assert_eq!((status, body), (200, Value::Null), "acknowledged at once, empty");
    let answered = |e: &[SlackEvent]| {
        e.iter().skip(before).any(|e| {
            e.method == "chat.postMessage" && e.thread_ts.as_deref() == Some(root.as_str()) && e.visible_text().contains("SUCCESS")
        })
    };
    let events = bot.wait(answered).await;
    let answer =
        events.iter().skip(before).find(|e| e.method == "chat.postMessage" && e.thread_ts.as_deref() == Some(root.as_str())).unwrap();
    let text = answer.visible_text();
    assert!(text.contains("`iowa-prepare` (DEV)") && text.contains("SUCCESS"), "the run's status: {text}");
    assert_eq!(answer.channel.as_deref(), Some(CHANNEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_slack_retries_is_answered_once() {
    let bot = TestBot::start().await;
    let event = mention(ANALYST, "jobs iowa", "1700000200.000001", None);
    let (status, _) = send(&bot, &delivery("Ev02", event.clone())).await;
    assert_eq!(status, 200);
    let answered = |e: &[SlackEvent]| !in_thread(e, "1700000200.000001", "chat.postMessage").is_empty();
    bot.wait(answered).await;
    // Slack retries the same event (it did not see the first acknowledgement in time).
    for _ in 0..2 {
        let (status, _) = send(&bot, &delivery("Ev02", event.clone())).await;
        assert_eq!(status, 200);
    }
    // A different event afterwards is answered: the retries were handled (dropped) before it.
    send(&bot, &delivery("Ev03", mention(ANALYST, "jobs sales", "1700000300.000001", None))).await;
    bot.wait(|e| !in_thread(e, "1700000300.000001", "chat.postMessage").is_empty()).await;
    settled(&bot).await;
    let all = bot.slack.slack.events();
    assert_eq!(in_thread(&all, "1700000200.000001", "chat.postMessage").len(), 1, "answered once");
    let said = in_thread(&all, "1700000200.000001", "chat.postMessage")[0].visible_text();
    assert!(said.contains("iowa-prepare"), "under the mention, for everyone: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_goes_to_the_asker_alone_in_the_thread() {
    let bot = TestBot::start().await;
    send(&bot, &delivery("Ev04", mention(ANALYST, "launch sales-daly", "1700000400.000001", None))).await;
    let refused = |e: &[SlackEvent]| !in_thread(e, "1700000400.000001", "chat.postEphemeral").is_empty();
    let events = bot.wait(refused).await;
    let note = in_thread(&events, "1700000400.000001", "chat.postEphemeral")[0];
    assert_eq!(note.user.as_deref(), Some(ANALYST));
    assert!(note.visible_text().contains("Did you mean `sales-daily`"), "{}", note.visible_text());
    assert!(in_thread(&events, "1700000400.000001", "chat.postMessage").is_empty(), "nothing for the channel");
    // `again` outside a card's thread says where it works.
    send(&bot, &delivery("Ev05", mention(ANALYST, "again", "1700000500.000001", None))).await;
    let events = bot.wait(|e| !in_thread(e, "1700000500.000001", "chat.postEphemeral").is_empty()).await;
    assert!(in_thread(&events, "1700000500.000001", "chat.postEphemeral")[0].visible_text().contains("thread of a run card"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn again_in_a_run_cards_thread_launches_the_same_job_and_date() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    let (status, _) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare 2026-11-30").await;
    assert_eq!(status, 200);
    let events = bot.slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(|e| e.button("Launch again").is_some())).await;
    let root = events.iter().find(|e| e.button("Launch again").is_some()).unwrap().ts.clone().unwrap();
    // A minute later (sooner, the same request twice is taken for a double send).
    bot.clock.advance(Duration::from_secs(61));
    send(&bot, &delivery("Ev06", mention(ANALYST, "again", "1700000600.000001", Some(&root)))).await;
    let launched = bot.tailer.sim.wait_for_count("launch_job", 2, Duration::from_secs(10)).await;
    let said: Vec<String> = bot
        .slack
        .slack
        .events()
        .iter()
        .filter(|e| e.thread_ts.as_deref() == Some(root.as_str()) || e.method == "chat.postEphemeral")
        .map(|e| e.visible_text())
        .collect();
    assert_eq!(launched, 2, "{said:?}");
    let launches: Vec<Value> = bot.tailer.sim.requests().into_iter().filter(|r| r.action == "launch_job").map(|r| r.body).collect();
    assert_eq!(launches[1]["execution_date"], launches[0]["execution_date"], "the same execution date: {launches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_reads_like_a_mention_and_the_bots_own_messages_are_ignored() {
    let bot = TestBot::start().await;
    let dm = json!({"type": "message", "channel_type": "im", "user": ANALYST, "channel": "D0ANALYST", "ts": "1700000700.000001", "text": "jobs iowa"});
    send(&bot, &delivery("Ev07", dm)).await;
    let events = bot.wait(|e| e.iter().any(|e| e.channel.as_deref() == Some("D0ANALYST"))).await;
    let answer = events.iter().find(|e| e.channel.as_deref() == Some("D0ANALYST")).unwrap();
    assert!(answer.visible_text().contains("iowa-prepare"), "{}", answer.visible_text());
    assert_eq!((answer.method.as_str(), answer.thread_ts.as_deref()), ("chat.postMessage", None), "in the conversation, not a thread");
    // The bot's own message in that conversation (its answer, echoed by Slack) is not read.
    let own = json!({"type": "message", "channel_type": "im", "user": BOT_USER, "bot_id": "B0TAILERBOT", "channel": "D0ANALYST", "ts": "1700000800.000001", "text": "jobs"});
    send(&bot, &delivery("Ev08", own)).await;
    settled(&bot).await;
    let answers = bot.slack.slack.events().iter().filter(|e| e.channel.as_deref() == Some("D0ANALYST")).count();
    assert_eq!(answers, 1, "only the person's message was answered");
}

/// Posts an event to a running `serve`, signed now.
async fn send_to(url: &str, body: &str) -> u16 {
    let http = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    common::post_signed(&http, &format!("{url}/slack/events"), common::bot::SECRET, now, body.to_owned()).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_retried_to_another_replica_or_after_a_restart_is_answered_once() {
    let world = common::life::World::postgres().await;
    let (first, second) = (world.life().await, world.life().await);
    let event = delivery("EvREPLICAS", mention(ANALYST, "jobs iowa", "1700001000.000001", None));
    assert_eq!(send_to(&first.url, &event).await, 200);
    let answered = |e: &[SlackEvent]| !in_thread(e, "1700001000.000001", "chat.postMessage").is_empty();
    world.slack.slack.wait_for(Duration::from_secs(20), answered).await;
    // Slack retries it on another replica, then on a replica started since (a deploy).
    assert_eq!(send_to(&second.url, &event).await, 200);
    let mut first = first;
    assert!(first.terminate().await.success());
    let third = world.life().await;
    assert_eq!(send_to(&third.url, &event).await, 200);
    // A later event goes through the third replica: the retries before it were handled.
    send_to(&third.url, &delivery("EvAFTER", mention(ANALYST, "jobs sales", "1700001100.000001", None))).await;
    world.slack.slack.wait_for(Duration::from_secs(20), |e| !in_thread(e, "1700001100.000001", "chat.postMessage").is_empty()).await;
    world.drained().await;
    assert!(second.stop().await.success() && third.stop().await.success());
    // Nothing was queued besides (a second answer left unsent would show here).
    world.invariants_hold().await;
    let events = world.slack.slack.events();
    assert_eq!(in_thread(&events, "1700001000.000001", "chat.postMessage").len(), 1, "answered once");
    world.finish().await;
}

fn home_opened(user: &str) -> Value {
    json!({"type": "app_home_opened", "user": user, "channel": format!("D{}", &user[1..]), "tab": "home", "event_ts": "1700002000.000001"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tab_shows_what_is_off_followed_failed_and_waiting_within_slacks_limits() {
    let bot = TestBot::start().await;
    // The analyst and the on-call person are in the channel; the lead is not.
    bot.slack.slack.set_channel_members(CHANNEL, &[ANALYST, common::bot::ONCALL]);
    bot.slack.slack.set_channel_members("C0ELSEWHERE", &[common::bot::LEAD]);
    // Nothing followed yet: the tab asks Slack nothing of anyone's channels, and warns of nothing.
    let first = |e: &[SlackEvent]| e.iter().any(|e| e.method == "views.publish");
    send(&bot, &delivery("EvHOME0", home_opened("U0VISITOR"))).await;
    let events = bot.wait(first).await;
    let empty = events.iter().find(|e| e.method == "views.publish").unwrap().visible_text();
    assert!(empty.contains("*Runs being followed* (0)") && !empty.contains(":warning:"), "{empty}");
    assert_eq!(bot.slack.slack.calls("users.conversations"), 0, "no run followed elsewhere: Slack is not asked");
    // A run still going (the simulator's runs take 10 s or more), then its job switched off.
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage" && e.visible_text().contains("iowa-prepare"))).await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 1h testing the Home tab").await;
    bot.wait(|e| e.iter().any(|e| e.visible_text().contains("Disabled `iowa-prepare` (DEV)"))).await;
    bot.command(common::bot::LEAD, CHANNEL, "disable sales-daily for 2h").await;

    let published =
        |user: &'static str| move |e: &[SlackEvent]| e.iter().any(|e| e.method == "views.publish" && e.user.as_deref() == Some(user));
    send(&bot, &delivery("EvHOME1", home_opened(ANALYST))).await;
    let events = bot.wait(published(ANALYST)).await;
    let home = events.iter().rev().find(|e| e.method == "views.publish").unwrap().clone();
    let text = home.visible_text();
    for expected in [
        "`iowa-prepare` (DEV) is disabled since",
        "reason: testing the Home tab",
        "*Runs being followed* (1)\n• `iowa-prepare` (DEV) · run `",
        "*Failed in the last 24 h*",
        "`stock-enrich` (DEV)",
        "*Waiting for a confirmation* (0)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in the Home tab:\n{text}");
    }
    let view = json!({"text": "home", "blocks": home.blocks});
    assert_eq!(tailerbot::slack::blocks::limit_violations(&view), Vec::<String>::new());
    assert_eq!(home.buttons(), ["Launch…", "Enable iowa-prepare"], "what the rules let the analyst do from here");
    let metadata = home.view.as_ref().unwrap()["private_metadata"].as_str().unwrap().to_owned();
    assert!(metadata.contains("D0ANALYST"), "the tab's clicks act in the analyst's conversation with the bot: {metadata}");

    // The lead's own tab shows what waits for someone's confirmation.
    send(&bot, &delivery("EvHOME2", home_opened(common::bot::LEAD))).await;
    let events = bot.wait(published(common::bot::LEAD)).await;
    let lead = events.iter().rev().find(|e| e.method == "views.publish" && e.user.as_deref() == Some(common::bot::LEAD)).unwrap();
    assert!(
        lead.visible_text().contains("*Waiting for a confirmation* (1)") && lead.visible_text().contains("disable sales-daily"),
        "{}",
        lead.visible_text()
    );
    // The lead is not in the channel where the run is followed: the tab does not show it.
    assert!(lead.visible_text().contains("*Runs being followed* (0)"), "{}", lead.visible_text());
    assert!(!lead.visible_text().contains("`iowa-prepare` (DEV) · run `"), "{}", lead.visible_text());

    // When Slack cannot say which channels someone is in (a scope not granted), the tab
    // shows no run followed in a channel, and says why.
    bot.slack.slack.inject(StandinFault {
        method: Some("users.conversations".into()),
        kind: StandinFaultKind::Error { code: "missing_scope".into() },
        times: 1,
    });
    send(&bot, &delivery("EvHOME3", home_opened(common::bot::ONCALL))).await;
    let events = bot.wait(published(common::bot::ONCALL)).await;
    let oncall = events.iter().rev().find(|e| e.method == "views.publish" && e.user.as_deref() == Some(common::bot::ONCALL)).unwrap();
    let text = oncall.visible_text();
    assert!(text.contains("*Runs being followed* (0)") && text.contains("missing_scope") && text.contains("`channels:read`"), "{text}");

    // Read once a minute per person: the analyst's second look asks Slack nothing.
    let asked = bot.slack.slack.calls("users.conversations");
    send(&bot, &delivery("EvHOME4", home_opened(ANALYST))).await;
    bot.wait(|e| e.iter().filter(|e| e.method == "views.publish" && e.user.as_deref() == Some(ANALYST)).count() == 2).await;
    assert_eq!(bot.slack.slack.calls("users.conversations"), asked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_alert_carries_its_actions_each_checked_against_the_rules_at_the_click() {
    // The analyst may not act on anything; the lead may act on DEV.
    let text = tailerbot::config::EXAMPLE_TOML.replacen(
        "[[rules]]",
        "[[rules]]\neffect = \"deny\"\nactions = [\"write\"]\nusers = [\"U0ANALYST\"]\n\n[[rules]]",
        1,
    );
    let mut config = tailerbot::config::Config::parse(std::path::Path::new("t.toml"), &text).unwrap();
    config.watch.poll_interval = Duration::from_secs(1);
    config.watch.subscription_poll = Duration::from_secs(1);
    let bot = TestBot::start_with(config, quick()).await;
    let subs = "C0SUBS";
    bot.command(ANALYST, subs, "subscribe stock-enrich failures").await;
    // A run Tailer's schedule starts after the subscription, and fails.
    bot.tailer.sim.start_scheduled_run("000099_stock_enrich_failing_DEV").unwrap();
    let alerted =
        |e: &SlackEvent| e.channel.as_deref() == Some(subs) && e.method == "chat.postMessage" && e.button("Disable for 1h").is_some();
    let events = bot.slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(alerted)).await;
    let alert = events.iter().find(|e| alerted(e)).expect("a failure alert with its actions").clone();
    assert_eq!(alert.buttons(), vec!["Launch again", "Mark as checked", "Disable for 1h"]);

    // Refused for the analyst, at the click: nothing switched off.
    let note = bot.click_note(ANALYST, &alert, "Disable for 1h").await;
    assert!(note.contains("You may not *disable*"), "{note}");
    assert_eq!(bot.tailer.sim.is_activated("000099_stock_enrich_failing_DEV"), Some(true));
    // Done for the lead: switched off for an hour, with the run as the reason.
    bot.click(common::bot::LEAD, &alert, "Disable for 1h").await;
    let done = |e: &SlackEvent| e.visible_text().contains("Disabled `stock-enrich` (DEV)");
    let events = bot.wait(|e| e.iter().any(done)).await;
    let outcome = events.iter().find(|e| done(e)).unwrap().visible_text();
    assert!(outcome.contains("after run ") && outcome.contains("failed"), "{outcome}");
    assert_eq!(bot.tailer.sim.is_activated("000099_stock_enrich_failing_DEV"), Some(false));
    // Marked as checked from the alert.
    bot.click(common::bot::LEAD, &alert, "Mark as checked").await;
    assert_eq!(bot.tailer.sim.wait_for_count("set_run_status", 1, Duration::from_secs(10)).await, 1);

    // The same button clicked where the bot said nothing of that run is refused.
    let mut elsewhere = alert.clone();
    elsewhere.channel = Some(CHANNEL.into());
    let note = bot.click_note(common::bot::LEAD, &elsewhere, "Launch again").await;
    assert!(note.contains("only works there"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_runs_thread_reply_carries_the_same_actions() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    bot.command(ANALYST, CHANNEL, "launch stock-enrich 2026-11-30").await;
    let failed = |e: &SlackEvent| e.thread_ts.is_some() && e.visible_text().contains("FAILED") && e.button("Disable for 1h").is_some();
    let events = bot.slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(failed)).await;
    let reply = events.iter().find(|e| failed(e)).expect("the failure's thread reply with its actions");
    assert!(reply.broadcast, "also shown in the channel");
    assert_eq!(reply.buttons(), vec!["Launch again", "Mark as checked", "Disable for 1h"]);
    let (_, again) = reply.button("Launch again").unwrap();
    assert!(again.ends_with(" 2026-11-30"), "the same execution date: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_eyes_write_asked_in_a_direct_message_is_sent_to_a_channel_where_someone_else_can_confirm() {
    let mut config = example_config();
    for rule in config.rules.iter_mut().filter(|r| r.confirm) {
        rule.second_person = true;
    }
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    let lead = common::bot::LEAD;
    let dm = json!({"type": "message", "channel_type": "im", "user": lead, "channel": "D0DATALEAD", "ts": "1700003000.000001", "text": "disable sales-daily for 1h"});
    send(&bot, &delivery("EvDM4EYES", dm)).await;
    let told = |e: &SlackEvent| e.method == "chat.postEphemeral" && e.channel.as_deref() == Some("D0DATALEAD");
    let events = bot.wait(|e| e.iter().any(told)).await;
    let note = events.iter().find(|e| told(e)).expect("told in the conversation").visible_text();
    assert!(note.contains("someone else must confirm") && note.contains("ask in your team's channel"), "{note}");
    settled(&bot).await;
    assert!(!bot.slack.slack.events().iter().any(|e| e.button("Confirm").is_some()), "no question nobody else could answer");
    assert_eq!(bot.tailer.sim.is_activated("000099_sales_daily_PROD"), Some(true));

    // The same typed as a slash command there: Slack names the place `directmessage`.
    let (status, answer) = bot.command(lead, "D0DATALEAD", "disable sales-daily for 1h").await;
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("someone else must confirm"), "{answer}");
    settled(&bot).await;
    assert!(!bot.slack.slack.events().iter().any(|e| e.button("Confirm").is_some()), "no question nobody else could answer");
}

/// The example's rules with `first` (TOML `[[rules]]` entries) before them.
fn rules_first(first: &str) -> tailerbot::config::Config {
    let text = tailerbot::config::EXAMPLE_TOML.replacen("[[rules]]", &format!("{first}\n[[rules]]"), 1);
    let mut config = tailerbot::config::Config::parse(std::path::Path::new("t.toml"), &text).unwrap();
    config.watch.poll_interval = Duration::from_secs(1);
    config.watch.max_poll_interval = Duration::from_secs(2);
    config
}

/// The last Home tab published for `user`.
fn tab_of(events: &[SlackEvent], user: &str) -> SlackEvent {
    events.iter().rev().find(|e| e.method == "views.publish" && e.user.as_deref() == Some(user)).expect("a Home tab").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tabs_buttons_switch_on_and_launch_under_the_rules_answered_in_the_persons_conversation() {
    // The analyst may not write; the lead may act on DEV.
    let bot =
        TestBot::start_with(rules_first("[[rules]]\neffect = \"deny\"\nactions = [\"write\"]\nusers = [\"U0ANALYST\"]\n"), quick()).await;
    let lead = common::bot::LEAD;
    bot.command(lead, CHANNEL, "disable iowa-prepare for 1h incident 42").await;
    bot.wait(|e| e.iter().any(|e| e.visible_text().contains("Disabled `iowa-prepare` (DEV)"))).await;

    send(&bot, &delivery("EvTAB1", home_opened(ANALYST))).await;
    send(&bot, &delivery("EvTAB2", home_opened(lead))).await;
    let events =
        bot.wait(|e| [ANALYST, lead].iter().all(|u| e.iter().any(|e| e.method == "views.publish" && e.user.as_deref() == Some(*u)))).await;
    let (analyst_tab, lead_tab) = (tab_of(&events, ANALYST), tab_of(&events, lead));
    assert!(analyst_tab.visible_text().contains("reason: incident 42"), "{}", analyst_tab.visible_text());
    assert_eq!(analyst_tab.buttons(), Vec::<String>::new(), "the rules let the analyst neither switch on nor launch");
    assert_eq!(lead_tab.buttons(), ["Launch…", "Enable iowa-prepare"]);
    let enable = lead_tab.button("Enable iowa-prepare").unwrap();

    // The button clicked by someone the rules refuse (a tab published before the rules
    // changed): nothing switched on, the refusal in their conversation with the bot.
    let (status, body) = bot.click_in_view(ANALYST, &analyst_tab, enable.clone()).await;
    assert_eq!((status, body), (200, Value::Null));
    let events = bot.wait(|e| e.iter().any(|e| e.channel.as_deref() == Some("D0ANALYST"))).await;
    let refusal = events.iter().find(|e| e.channel.as_deref() == Some("D0ANALYST")).unwrap();
    assert!(refusal.visible_text().contains("You may not *enable*"), "{}", refusal.visible_text());
    let off = |bot: &TestBot| {
        let store = bot.bot.store().clone();
        async move { store.switched_off().await.unwrap().iter().any(|s| s.job == "iowa-prepare") }
    };
    assert!(off(&bot).await, "still switched off");

    // The lead's click: switched on, said in the lead's conversation with the bot.
    bot.click_in_view(lead, &lead_tab, enable).await;
    let events = bot.wait(|e| e.iter().any(|e| e.channel.as_deref() == Some("D0DATALEAD") && e.visible_text().contains("Enabled"))).await;
    let done = events.iter().find(|e| e.channel.as_deref() == Some("D0DATALEAD") && e.visible_text().contains("Enabled")).unwrap();
    assert_eq!(done.method, "chat.postMessage", "a message the lead keeps, not an ephemeral one");
    assert!(!off(&bot).await, "switched on");

    // *Launch…* opens the launch form with the click's trigger, no channel chosen for them.
    let launch = lead_tab.button("Launch…").unwrap();
    bot.click_in_view(lead, &lead_tab, launch.clone()).await;
    let trigger = bot.last_trigger();
    let events = bot.wait(|e| e.iter().any(|e| e.method == "views.open")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap();
    assert_eq!(form.trigger_id.as_deref(), Some(trigger.as_str()));
    assert!(form.view.as_ref().unwrap()["blocks"][2]["element"].get("initial_conversation").is_none());
    // Someone else's tab acts for no one: a click on it from another person (one the
    // rules let launch) opens nothing and says nothing in the tab owner's conversation.
    settled(&bot).await;
    let in_lead_dm = |bot: &TestBot| bot.slack.slack.events().iter().filter(|e| e.channel.as_deref() == Some("D0DATALEAD")).count();
    let before = in_lead_dm(&bot);
    bot.click_in_view(common::bot::ONCALL, &lead_tab, launch).await;
    bot.click_in_view(common::bot::ONCALL, &lead_tab, lead_tab.button("Enable iowa-prepare").unwrap()).await;
    settled(&bot).await;
    assert_eq!(bot.slack.slack.calls("views.open"), 1);
    assert_eq!(in_lead_dm(&bot), before, "nothing more in the lead's conversation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_alone_opens_a_form_of_what_the_rules_allow_whose_submission_launches_with_the_date() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "launch").await;
    assert_eq!((status, body), (200, Value::Null), "nothing shown in the channel: the form opens");
    let trigger = bot.last_trigger();
    let events = bot.wait(|e| e.iter().any(|e| e.method == "views.open")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap().clone();
    assert_eq!(form.trigger_id.as_deref(), Some(trigger.as_str()), "opened with the command's trigger_id");
    // The analyst may launch the DEV jobs; PROD ones are for the lead and on-call. The
    // storage-to-storage and workflow jobs are not listed: Tailer cannot launch them.
    assert_eq!(form.options("job"), ["iowa-prepare", "stock-enrich"]);
    let view = form.view.clone().unwrap();
    assert_eq!(view["blocks"][2]["element"]["initial_conversation"], CHANNEL, "the card goes where the command was typed");
    assert!(view["blocks"].as_array().unwrap().len() <= 100);

    let (status, answer) = bot.submit(ANALYST, &form, &[("job", "iowa-prepare"), ("date", "2026-11-30")]).await;
    assert_eq!((status, answer), (200, Value::Null), "the form closes");
    let card = |e: &SlackEvent| {
        e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL) && e.visible_text().contains("`iowa-prepare` (DEV)")
    };
    bot.wait(|e| e.iter().any(card)).await;
    // Submitted again (Slack's answer lost, the form still open): launched once, and the
    // form says why.
    let (status, answer) = bot.submit(ANALYST, &form, &[("job", "iowa-prepare"), ("date", "2026-11-30")]).await;
    assert_eq!((status, answer["response_action"].as_str()), (200, Some("errors")));
    assert!(answer["errors"]["job"].as_str().is_some_and(|e| e.contains("less than a minute ago")), "{answer}");
    settled(&bot).await;
    assert_eq!(common::launched_dates(&bot.tailer.sim), [Some("2026-11-30".to_owned())]);
    assert_eq!(bot.slack.slack.events().iter().filter(|e| card(e) && e.thread_ts.is_none()).count(), 1, "one card");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_form_the_rules_refuse_is_answered_under_its_field_and_launches_nothing() {
    // DEV jobs are launched in C0OPS only.
    let bot = TestBot::start_with(
        rules_first(
            "[[rules]]\nactions = [\"launch\"]\nenvironments = [\"DEV\"]\nchannels = [\"C0OPS\"]\n\n[[rules]]\neffect = \"deny\"\nactions = [\"launch\"]\nenvironments = [\"DEV\"]\n",
        ),
        quick(),
    )
    .await;
    bot.command(ANALYST, CHANNEL, "launch").await;
    let events = bot.wait(|e| e.iter().any(|e| e.method == "views.open")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap().clone();
    assert_eq!(form.options("job"), ["iowa-prepare", "stock-enrich"], "launchable in C0OPS");
    let errors = |answer: &Value| {
        assert_eq!(answer["response_action"], "errors", "{answer}");
        answer["errors"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect::<Vec<_>>()
    };

    // Here (the default channel) the rules refuse: said under the channel.
    let (status, answer) = bot.submit(ANALYST, &form, &[("job", "iowa-prepare")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        errors(&answer),
        [("channel".to_owned(), "The rules do not let you launch iowa-prepare in that channel. Choose another one.".to_owned())]
    );
    // A job not offered (a forged choice): under the job.
    let (_, answer) = bot.submit(ANALYST, &form, &[("job", "sales-daily"), ("channel", "C0OPS")]).await;
    assert_eq!(errors(&answer), [("job".to_owned(), "The rules do not let you launch sales-daily (PROD). Choose another job.".to_owned())]);
    // A job no longer in the catalog (the form opened before a deploy):
    let (_, answer) = bot.submit(ANALYST, &form, &[("job", "old-job"), ("channel", "C0OPS")]).await;
    assert_eq!(errors(&answer), [("job".to_owned(), "Choose a job from the list: that one is not in the catalog (any more).".to_owned())]);
    // Not a date, and nothing chosen: under each.
    let (_, answer) = bot.submit(ANALYST, &form, &[("date", "2026-02-30"), ("channel", "C0OPS")]).await;
    let mut fields: Vec<String> = errors(&answer).into_iter().map(|(field, _)| field).collect();
    fields.sort();
    assert_eq!(fields, ["date", "job"]);
    settled(&bot).await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0, "nothing launched");
    let denied = bot.bot.store().recent_audit(None, 50).await.unwrap();
    assert!(denied.iter().any(|e| e.outcome.as_str() == "denied" && e.detail.contains("from the launch form")), "the refusal is audited");

    // Where the rules allow it: launched, the card there.
    let (_, answer) = bot.submit(ANALYST, &form, &[("job", "iowa-prepare"), ("channel", "C0OPS")]).await;
    assert_eq!(answer, Value::Null);
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some("C0OPS"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_from_the_bots_own_user_is_ignored_even_without_a_bot_id() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    let mention = |user: &str, ts: &str, id: &str| {
        json!({
            "type": "event_callback",
            "team_id": common::bot::TEAM,
            "api_app_id": "A0TAILER",
            "event_id": id,
            "event": {"type": "app_mention", "user": user, "channel": CHANNEL, "ts": ts, "text": "<@U0TAILERBOT> jobs"},
        })
        .to_string()
    };
    // The stand-in's auth.test names the bot U0TAILERBOT.
    assert_eq!(bot.post_signed("/slack/events", &mention("U0TAILERBOT", "1700000200.000100", "Ev0SELF")).await.status(), 200);
    assert_eq!(bot.post_signed("/slack/events", &mention(ANALYST, "1700000200.000200", "Ev0PERSON")).await.status(), 200);
    settled(&bot).await;
    let in_thread = |ts: &str| bot.slack.slack.events().iter().filter(|e| e.thread_ts.as_deref() == Some(ts)).count();
    assert_eq!(in_thread("1700000200.000200"), 1, "a person's mention is answered");
    assert_eq!(in_thread("1700000200.000100"), 0, "the bot's own is not");
}

/// The launch form submitted, then the same signed bytes sent again 64 s later (inside
/// Slack's 300 s signature window, past the one-minute double-submit guard): one run.
async fn a_replayed_submission(database: Option<String>) {
    let bot = TestBot::start_on(fast_config(), quick(), database).await;
    bot.command(ANALYST, CHANNEL, "launch").await;
    let events = bot.wait(|e| e.iter().any(|e| e.method == "views.open")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap().clone();
    let payload = form.submission(common::bot::TEAM, ANALYST, &[("job", "iowa-prepare")], &bot.trigger());
    let body = common::bot::form(&[("payload", &payload.to_string())]);
    let (url, signed_at) = (format!("{}/slack/interactions", bot.url), bot.clock.unix());
    let first = common::post_signed(&bot.http, &url, common::bot::SECRET, signed_at, body.clone()).await;
    assert_eq!(common::bot::read(first).await, (200, Value::Null), "the form closes");
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage" && e.visible_text().contains("`iowa-prepare` (DEV)"))).await;
    bot.clock.advance(Duration::from_secs(64));
    let replay = common::post_signed(&bot.http, &url, common::bot::SECRET, signed_at, body).await;
    assert_eq!(common::bot::read(replay).await, (200, Value::Null), "a replay is acknowledged, and nothing is said");
    settled(&bot).await;
    assert_eq!(common::launched_dates(&bot.tailer.sim).len(), 1, "the replayed submission launched nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_launch_form_submission_launches_nothing_on_sqlite() {
    a_replayed_submission(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_launch_form_submission_launches_nothing_on_postgres() {
    let db = common::db::TestDb::postgres().await;
    a_replayed_submission(Some(db.url.clone())).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_an_event_id_delivered_twice_is_handled_once() {
    let bot = TestBot::start_with(fast_config(), quick()).await;
    let event = json!({
        "type": "event_callback",
        "team_id": common::bot::TEAM,
        "api_app_id": "A0TAILER",
        "event": {"type": "app_mention", "user": ANALYST, "channel": CHANNEL, "ts": "1700000100.000200", "text": "<@U0TAILERBOT> jobs"},
    });
    for _ in 0..2 {
        let response = bot.post_signed("/slack/events", &event.to_string()).await;
        assert_eq!(response.status(), 200);
    }
    settled(&bot).await;
    let answers = bot.slack.slack.events().iter().filter(|e| e.thread_ts.as_deref() == Some("1700000100.000200")).count();
    assert_eq!(answers, 1, "one answer in the mention's thread");
}
