//! Expectations with a paused clock: a job that has not succeeded by its time is said once
//! in the channel, with its buttons; its late success is said in the alert's thread and
//! the alert edited; Tailer not answering is said as unknown, never as a miss.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::bot::{ANALYST, example_config};
use common::paused::*;
use tailerbot::clock::Clock;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;

const STEP: Duration = Duration::from_secs(30);
const ROOM: &str = "C0EXPECT";

/// `expect <job> by <now + minutes> <zone>`: the words, and the time as the alert shows it.
fn in_minutes(now: DateTime<Utc>, job: &str, minutes: i64) -> (String, String) {
    let (at, zone) = time_in(now, minutes);
    (format!("expect {job} by {at} {zone}"), format!("{at} {zone}"))
}

fn no_history() -> SimOptions {
    SimOptions { history: 0, ..slow_runs() }
}

fn alerts(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(ROOM) && e.thread_ts.is_none())
        .filter(|e| e.visible_text().contains("succeeded today"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_missed_expectation_is_said_once_with_its_buttons_and_its_late_success_in_its_thread() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, by) = in_minutes(bot.clock.now(), "iowa-prepare", 3);
    let (status, answer) = bot.command(ANALYST, ROOM, &words).await;
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("expects `iowa-prepare`"), "{answer}");
    let (_, list) = bot.command(ANALYST, ROOM, "expectations").await;
    assert!(list.to_string().contains(&by), "{list}");

    // Before the time: nothing.
    bot.step(Duration::from_secs(60)).await;
    assert!(alerts(&bot.slack.slack.events()).is_empty(), "nothing before the time");
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !alerts(e).is_empty()).await;
    let found = alerts(&events);
    assert_eq!(found.len(), 1, "one alert");
    let alert = found[0].clone();
    let text = alert.visible_text();
    assert!(text.contains(&format!("`iowa-prepare` (DEV) has not succeeded today by *{by}*")), "{text}");
    assert!(text.contains("Its last run: `20201230-112837") && text.contains("SUCCESS"), "the last run, whenever it was: {text}");
    assert!(text.contains(&format!("<@{ANALYST}>")), "who expects it, as a mention: {text}");
    for label in ["Launch", "Last runs", "Mute today"] {
        assert!(alert.button(label).is_some(), "{label} on {text}");
    }

    // Later passes say nothing more.
    for _ in 0..5 {
        bot.step(STEP).await;
    }
    assert_eq!(alerts(&bot.slack.slack.events()).len(), 1, "one alert per job, channel and day");

    // *Launch* on the alert launches it; its success is said in the alert's thread.
    assert_eq!(click(&bot, ANALYST, &alert, "Launch").await, 200);
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 1, "launched from the alert");
    let ts = alert.ts.clone().unwrap();
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !replies(e, &ts).is_empty()).await;
    let said = replies(&events, &ts);
    assert_eq!(said.len(), 1, "one reply");
    let reply = said[0].visible_text();
    assert!(reply.contains("`iowa-prepare` (DEV) succeeded") && reply.contains("late (expected by"), "{reply}");
    let edit = last_edit(&events, &ts).expect("the alert is edited").visible_text();
    assert!(edit.contains("succeeded") && !edit.contains("Mute today"), "{edit}");
    for _ in 0..5 {
        bot.step(STEP).await;
    }
    assert_eq!(replies(&bot.slack.slack.events(), &ts).len(), 1, "said once");
}

#[tokio::test(start_paused = true)]
async fn a_success_before_the_time_says_nothing() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", 10);
    bot.command(ANALYST, ROOM, &words).await;
    bot.command(ANALYST, ROOM, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, Duration::from_secs(1200), |_| false).await;
    assert!(alerts(&events).is_empty(), "met on time: no alert");
    assert!(
        events.iter().any(|e| e.visible_text().contains("SUCCESS")),
        "the run did succeed before the time: {:?}",
        events.iter().map(|e| e.visible_text()).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn tailer_not_answering_is_retried_then_said_as_unknown_never_as_a_miss() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", 1);
    bot.command(ANALYST, ROOM, &words).await;
    bot.tailer.sim.inject(Fault::new(Some("get_last_status"), FaultKind::Status { status: 503, message: "down".into() }, 10_000));
    // Within the first minutes after the time: retried, nothing said.
    bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    let said = |events: &[SlackEvent]| {
        events
            .iter()
            .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(ROOM))
            .map(|e| e.visible_text())
            .collect::<Vec<_>>()
    };
    assert!(said(&bot.slack.slack.events()).is_empty(), "not yet: {:?}", said(&bot.slack.slack.events()));
    let events = bot.run_until(STEP, Duration::from_secs(900), |e| !said(e).is_empty()).await;
    let texts = said(&events);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("I cannot tell whether `iowa-prepare` (DEV) succeeded today"), "{texts:?}");
    assert!(texts[0].contains("not a confirmed miss"), "{texts:?}");
    assert!(!texts[0].contains("has not succeeded"), "{texts:?}");
    assert!(!texts[0].contains("Checked late"), "the bot was running: not a late check: {texts:?}");
}

#[tokio::test(start_paused = true)]
async fn mute_today_edits_the_alert_and_stops_the_days_follow_up() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", 1);
    bot.command(ANALYST, ROOM, &words).await;
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !alerts(e).is_empty()).await;
    let alert = alerts(&events)[0].clone();
    let ts = alert.ts.clone().unwrap();
    assert_eq!(click(&bot, ANALYST, &alert, "Mute today").await, 200);
    bot.settle().await;
    bot.step(STEP).await;
    let edit = last_edit(&bot.slack.slack.events(), &ts).expect("the alert is edited").visible_text();
    assert!(edit.contains(&format!("muted for that day by <@{ANALYST}>")), "{edit}");
    // A success after the mute is not said.
    bot.command(ANALYST, ROOM, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    assert!(replies(&events, &ts).is_empty(), "muted: {:?}", replies(&events, &ts).iter().map(|e| e.visible_text()).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn expect_refuses_bad_times_unknown_zones_and_unknown_jobs_with_the_accepted_forms() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    for (words, expected) in [
        ("expect iowa-prepare by 25:00", "`25:00` is not a time: write it HH:MM on 24 hours"),
        ("expect iowa-prepare by 7am", "`7am` is not a time"),
        ("expect iowa-prepare by 07:00 Europe/Pariss", "`Europe/Pariss` is not a time zone I know: write an IANA name"),
        ("expect iowa-prepare 07:00", "`expect` reads `iowa-prepare by HH:MM`"),
        ("expect iowa-prepare", "`expect` needs a time"),
        ("expect no-such-job by 07:00", "I don't know a job called"),
    ] {
        let (status, answer) = bot.command(ANALYST, ROOM, words).await;
        assert_eq!(status, 200);
        assert!(answer.to_string().contains(expected), "{words}: {answer}");
    }
    let (_, list) = bot.command(ANALYST, ROOM, "expectations").await;
    assert!(list.to_string().contains("This channel has no expectation"), "{list}");
}

#[tokio::test(start_paused = true)]
async fn an_expectation_of_the_file_is_checked_and_the_chat_cannot_change_it() {
    let now = Utc::now();
    let (zone, offset) = noon_zone(now);
    let at = (now + chrono::Duration::minutes(2)).with_timezone(&offset).format("%H:%M").to_string();
    let mut config = example_config();
    config.expectations.push(tailerbot::config::Expectation {
        job: tailerbot::domain::JobName::parse("iowa-prepare").unwrap(),
        channel: tailerbot::domain::ChannelId::parse(ROOM).unwrap(),
        schedule: tailerbot::domain::Schedule::parse(&at, Some(&zone)).unwrap(),
    });
    let bot = PausedBot::start(config, no_history()).await;
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !alerts(e).is_empty()).await;
    let found = alerts(&events);
    assert_eq!(found.len(), 1);
    let text = found[0].visible_text();
    assert!(text.contains(&format!("by *{at} {zone}*")) && text.contains("Expected by the configuration file"), "{text}");
    let (_, list) = bot.command(ANALYST, ROOM, "expectations").await;
    assert!(list.to_string().contains("set by the configuration file"), "{list}");
    for words in ["unexpect iowa-prepare", "expect iowa-prepare by 09:00"] {
        let (_, answer) = bot.command(ANALYST, ROOM, words).await;
        assert!(answer.to_string().contains("is set in the configuration file (`[[expectations]]`): change it there"), "{words}: {answer}");
    }
    let (_, list) = bot.command(ANALYST, ROOM, "expectations").await;
    assert!(list.to_string().contains(&format!("by *{at} {zone}*")), "unchanged: {list}");
}

#[tokio::test(start_paused = true)]
async fn an_expectation_whose_channel_is_closed_to_the_bot_is_paused_and_the_audit_says_why() {
    use tailerbot::slack::standin::{StandinFault, StandinFaultKind};
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", 1);
    bot.command(ANALYST, ROOM, &words).await;
    // The bot was removed from the channel: its alert is refused.
    let refused =
        StandinFault { method: Some("chat.postMessage".into()), kind: StandinFaultKind::Error { code: "not_in_channel".into() }, times: 1 };
    bot.slack.slack.inject(refused);
    let paused = |list: &serde_json::Value| list.to_string().contains("*paused*: I could not post its alert here (not_in_channel)");
    let mut list = serde_json::Value::Null;
    for _ in 0..40 {
        bot.step(STEP).await;
        list = bot.command(ANALYST, ROOM, "expectations").await.1;
        if paused(&list) {
            break;
        }
    }
    assert!(paused(&list), "{list}");
    let (_, audit) = bot.command(ANALYST, ROOM, "audit iowa-prepare").await;
    let audit = audit.to_string();
    assert!(audit.contains(&format!("<@{ANALYST}> *expect* `iowa-prepare` → failed — paused: its alert cannot be posted")), "{audit}");
    // Set again (the bot invited back): it runs again.
    bot.command(ANALYST, ROOM, &words).await;
    let (_, list) = bot.command(ANALYST, ROOM, "expectations").await;
    assert!(!paused(&list), "{list}");
}

#[tokio::test(start_paused = true)]
async fn a_time_that_passed_while_no_replica_checked_is_said_at_the_next_look_marked_late() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", 2);
    bot.command(ANALYST, ROOM, &words).await;
    bot.step(STEP).await;
    // The bot is down across the time: nothing checks for ten minutes.
    tokio::time::advance(Duration::from_secs(600)).await;
    let events = bot.run_until(STEP, Duration::from_secs(120), |e| !alerts(e).is_empty()).await;
    let found = alerts(&events);
    assert_eq!(found.len(), 1);
    assert!(found[0].visible_text().contains("Checked late"), "{}", found[0].visible_text());
}

#[tokio::test(start_paused = true)]
async fn an_expectation_set_after_its_time_counts_a_success_earlier_that_day() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    bot.command(ANALYST, ROOM, "launch iowa-prepare").await;
    bot.run_until(STEP, Duration::from_secs(300), |e| e.iter().any(|e| e.visible_text().contains("SUCCESS"))).await;
    // Set now, for a time a minute ago: the run of this morning meets it.
    let (words, _) = in_minutes(bot.clock.now(), "iowa-prepare", -1);
    bot.command(ANALYST, ROOM, &words).await;
    let events = bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    assert!(alerts(&events).is_empty(), "{:?}", alerts(&events).iter().map(|e| e.visible_text()).collect::<Vec<_>>());
}
