//! Runs the bot cannot follow to their end, with a paused clock: one Tailer never shows,
//! one that never ends, one that vanishes from Tailer once seen. Each is let go once, said
//! once in its thread with how to follow it again, and no longer polled.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, example_config};
use common::paused::*;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;

const ROOM: &str = "C0LOST";

fn said<'e>(events: &'e [SlackEvent], needle: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.visible_text().contains(needle)).collect()
}

/// Steps `by` at a time for `total`, the workers running after each step.
async fn live(bot: &PausedBot, by: Duration, total: Duration) {
    let mut elapsed = Duration::ZERO;
    while elapsed < total {
        bot.step(by).await;
        elapsed += by;
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_tailer_never_shows_is_let_go_after_five_minutes_said_once_and_no_longer_polled() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let run = "20261201-101010-0fa4a088-6373-4f28-be06-8843d83c0f14";
    let (status, _) = bot.command(ANALYST, ROOM, &format!("watch iowa-prepare {run}")).await;
    assert_eq!(status, 200);
    live(&bot, Duration::from_secs(30), Duration::from_secs(4 * 60)).await;
    assert!(said(&bot.slack.slack.events(), "does not seem to exist").is_empty(), "not before five minutes");
    let events = bot.run_until(Duration::from_secs(30), Duration::from_secs(180), |e| !said(e, "does not seem to exist").is_empty()).await;
    let gone = said(&events, "does not seem to exist");
    assert_eq!(gone.len(), 1, "said once");
    assert!(
        gone[0].visible_text().contains(&format!("Tailer has not shown run `{run}` of `iowa-prepare` (DEV) for 5 minutes")),
        "{}",
        gone[0].visible_text()
    );
    let polls = bot.tailer.sim.count("check_run_status");
    live(&bot, Duration::from_secs(60), Duration::from_secs(3600)).await;
    assert_eq!(bot.tailer.sim.count("check_run_status"), polls, "no longer polled");
    assert_eq!(said(&bot.slack.slack.events(), "does not seem to exist").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_never_ends_is_given_up_after_24_hours_with_how_to_follow_it_again() {
    let endless = SimOptions { running: (Duration::from_secs(3 * 86_400), Duration::from_secs(3 * 86_400)), ..slow_runs() };
    let bot = PausedBot::start(example_config(), endless).await;
    bot.command(ANALYST, ROOM, "launch iowa-prepare").await;
    let events = bot.run_until(Duration::from_secs(15), Duration::from_secs(300), |e| !said(e, "*RUNNING*").is_empty()).await;
    let card = card(&events, ROOM).clone();
    let ts = card.ts.clone().unwrap();
    // A day, in ten-minute steps: still running, nothing more said until then.
    live(&bot, Duration::from_secs(600), Duration::from_secs(23 * 3600)).await;
    assert!(said(&bot.slack.slack.events(), "I stopped watching").is_empty(), "not before 24 h");
    let events =
        bot.run_until(Duration::from_secs(600), Duration::from_secs(2 * 3600), |e| !said(e, "I stopped watching").is_empty()).await;
    let gave_up = said(&events, "I stopped watching");
    assert_eq!(gave_up.len(), 1, "said once");
    let text = gave_up[0].visible_text();
    assert_eq!(gave_up[0].thread_ts.as_deref(), Some(ts.as_str()), "in the card's thread");
    assert!(
        text.contains("Still :arrows_counterclockwise: *RUNNING* after 24 h") && text.contains("`/tailer watch iowa-prepare 20"),
        "how to follow it again: {text}"
    );
    let polls = bot.tailer.sim.count("check_run_status");
    live(&bot, Duration::from_secs(600), Duration::from_secs(6 * 3600)).await;
    assert_eq!(bot.tailer.sim.count("check_run_status"), polls, "no longer polled");
    assert_eq!(said(&bot.slack.slack.events(), "I stopped watching").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_vanishes_from_tailer_once_seen_is_followed_quietly_until_the_give_up() {
    let long = SimOptions { running: (Duration::from_secs(3 * 86_400), Duration::from_secs(3 * 86_400)), ..slow_runs() };
    let bot = PausedBot::start(example_config(), long).await;
    bot.command(ANALYST, ROOM, "launch iowa-prepare").await;
    let events = bot.run_until(Duration::from_secs(15), Duration::from_secs(300), |e| !said(e, "*RUNNING*").is_empty()).await;
    let before = events.len();
    // Tailer no longer knows the run: every status read is a 404.
    bot.tailer.sim.inject(Fault::new(Some("check_run_status"), FaultKind::Status { status: 404, message: "not found".into() }, 1_000_000));
    let events =
        bot.run_until(Duration::from_secs(600), Duration::from_secs(25 * 3600), |e| !said(e, "I stopped watching").is_empty()).await;
    let posted: Vec<String> = events[before..].iter().filter(|e| e.method == "chat.postMessage").map(|e| e.visible_text()).collect();
    assert_eq!(posted.len(), 1, "nothing said until the give-up, then once: {posted:?}");
    assert!(posted[0].contains("*RUNNING* after 24 h — I stopped watching"), "{posted:?}");
}
