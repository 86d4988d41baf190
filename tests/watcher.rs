//! The watcher's loops driven with a paused clock: a run's whole life on its card and in
//! its thread, one poll per run however many channels follow it, Slack's rate limits and
//! outages, Tailer failing underneath, and subscriptions catching up after downtime.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, CHANNEL, example_config};
use common::paused::*;
use tailerbot::sim::{Fault, FaultKind};
use tailerbot::slack::standin::{StandinFault, StandinFaultKind};

const STEP: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(900);

fn ended(events: &[tailerbot::slack::standin::SlackEvent], status: &str) -> bool {
    events.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains(&format!("*{status}*")))
}

#[tokio::test(start_paused = true)]
async fn a_successful_run_gets_one_card_one_reply_per_change_and_a_launch_again_button() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, LONG, |e| ended(e, "SUCCESS")).await;
    let card = card(&events, CHANNEL);
    let cards = events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).count();
    assert_eq!(cards, 1, "one card");
    let ts = card.ts.clone().unwrap();
    assert_eq!(reply_statuses(&events, &ts), vec!["WAITING", "RUNNING", "SUCCESS"]);
    assert!(replies(&events, &ts).iter().all(|r| !r.broadcast), "a success is not broadcast");
    let last = last_edit(&events, &ts).expect("the card was edited");
    assert!(last.visible_text().contains("*SUCCESS*") && last.visible_text().contains("*Duration*"), "{last:?}");
    assert_eq!(last.buttons(), vec!["Launch again"]);
    assert_eq!(bot.bot.store().active_watch_count().await.unwrap(), 0, "the watch ended");
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_broadcast_and_offers_what_to_do_about_it() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch stock-enrich").await;
    let events = bot.run_until(STEP, LONG, |e| ended(e, "FAILED")).await;
    let ts = card(&events, CHANNEL).ts.clone().unwrap();
    assert_eq!(reply_statuses(&events, &ts), vec!["WAITING", "RUNNING", "FAILED"]);
    let failed = replies(&events, &ts).into_iter().find(|r| r.visible_text().contains("*FAILED*")).unwrap();
    assert!(failed.broadcast, "a failure is also shown in the channel");
    let last = last_edit(&events, &ts).unwrap();
    assert_eq!(last.buttons(), vec!["Launch again", "Mark as checked", "Disable for 1h"]);
}

#[tokio::test(start_paused = true)]
async fn two_channels_following_one_run_cause_one_poll_per_interval() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, LONG, |e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    let run = card(&events, CHANNEL).text.split("run ").nth(1).unwrap().to_owned();
    bot.command(ANALYST, "C0OTHER", &format!("watch iowa-prepare {run}")).await;
    let events = bot
        .run_until(STEP, LONG, |e| e.iter().filter(|e| e.thread_ts.is_some() && e.visible_text().contains("*SUCCESS*")).count() == 2)
        .await;
    for channel in [CHANNEL, "C0OTHER"] {
        let ts = card(&events, channel).ts.clone().unwrap();
        assert!(reply_statuses(&events, &ts).ends_with(&["SUCCESS".to_owned()]), "{channel}");
    }
    let polls: Vec<i64> = bot.tailer.sim.requests().iter().filter(|r| r.action == "check_run_status").map(|r| r.at_ms).collect();
    assert!(polls.len() >= 3);
    for pair in polls.windows(2) {
        assert!(pair[1] - pair[0] >= 13_500, "two polls {} ms apart: {polls:?}", pair[1] - pair[0]);
    }
}

#[tokio::test(start_paused = true)]
async fn slack_rate_limits_and_outages_delay_messages_but_deliver_each_once_in_order() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    slack.inject(StandinFault {
        method: Some("chat.postMessage".into()),
        kind: StandinFaultKind::RateLimited { retry_after_secs: 3 },
        times: 4,
    });
    slack.inject(StandinFault { method: Some("chat.postMessage".into()), kind: StandinFaultKind::Status { status: 503 }, times: 3 });
    slack.inject(StandinFault { method: Some("chat.update".into()), kind: StandinFaultKind::Status { status: 500 }, times: 2 });
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, LONG, |e| ended(e, "SUCCESS")).await;
    let ts = card(&events, CHANNEL).ts.clone().unwrap();
    assert_eq!(reply_statuses(&events, &ts), vec!["WAITING", "RUNNING", "SUCCESS"], "each once, in order");
    assert!(slack.calls("chat.postMessage") > 4, "the failures happened");
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0, "nothing left behind");
    let (limited, errors, _) = bot.bot.stats().last_hour(bot.bot.now_ms());
    assert_eq!((limited, errors), (4, 5));
}

#[tokio::test(start_paused = true)]
async fn a_post_slack_kept_but_whose_answer_was_lost_is_found_in_the_channel_and_not_posted_again() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    // The card and the first thread reply reach Slack, but the bot hears a 502 for each.
    slack.inject(StandinFault { method: Some("chat.postMessage".into()), kind: StandinFaultKind::LostAnswer { status: 502 }, times: 2 });
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, LONG, |e| ended(e, "SUCCESS")).await;
    let cards: Vec<_> =
        events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).collect();
    assert_eq!(cards.len(), 1, "the card is in the channel once: {cards:?}");
    let ts = cards[0].ts.clone().unwrap();
    assert_eq!(reply_statuses(&events, &ts), vec!["WAITING", "RUNNING", "SUCCESS"], "each reply once, in its thread");
    assert!(slack.calls("conversations.history") >= 1 && slack.calls("conversations.replies") >= 1, "the bot looked before posting again");
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0);
}

#[tokio::test(start_paused = true)]
async fn a_post_in_doubt_whose_check_fails_for_a_while_is_checked_again_not_posted_twice() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    // The card reaches Slack but its answer is lost; then looking for it fails twice.
    slack.inject(StandinFault { method: Some("chat.postMessage".into()), kind: StandinFaultKind::LostAnswer { status: 502 }, times: 1 });
    slack.inject(StandinFault { method: Some("conversations.history".into()), kind: StandinFaultKind::Status { status: 503 }, times: 2 });
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, LONG, |e| ended(e, "SUCCESS")).await;
    let cards = events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).count();
    assert_eq!(cards, 1, "the card is in the channel once");
    assert_eq!(slack.calls("conversations.history"), 3, "looked for three times: two failures, then found");
}

#[tokio::test(start_paused = true)]
async fn posts_in_one_channel_are_paced_to_one_per_second() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    for job in ["iowa-prepare", "stock-enrich"] {
        bot.command(ANALYST, CHANNEL, &format!("launch {job}")).await;
    }
    bot.run_until(Duration::from_millis(250), LONG, |e| {
        e.iter()
            .filter(|e| e.thread_ts.is_some() && (e.visible_text().contains("*SUCCESS*") || e.visible_text().contains("*FAILED*")))
            .count()
            == 2
    })
    .await;
    let posts: Vec<i64> = bot
        .slack
        .slack
        .events()
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL))
        .map(|e| e.at_ms)
        .collect();
    assert!(posts.len() >= 8, "two cards and their replies: {posts:?}");
    for pair in posts.windows(2) {
        assert!(pair[1] - pair[0] >= 1_000, "two posts {} ms apart in one channel: {posts:?}", pair[1] - pair[0]);
    }
}

#[tokio::test(start_paused = true)]
async fn tailer_failing_during_a_watch_delays_the_final_status_but_never_loses_it() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.tailer.sim.inject(Fault::new(Some("check_run_status"), FaultKind::Status { status: 500, message: "down".into() }, 4));
    bot.tailer.sim.inject(Fault::new(Some("check_run_status"), FaultKind::Html { status: 502 }, 2));
    let events = bot.run_until(STEP, LONG, |e| ended(e, "SUCCESS")).await;
    let ts = card(&events, CHANNEL).ts.clone().unwrap();
    let statuses = reply_statuses(&events, &ts);
    assert_eq!(statuses.last().map(String::as_str), Some("SUCCESS"), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "SUCCESS").count(), 1);
    let (_, _, tailer_errors) = bot.bot.stats().last_hour(bot.bot.now_ms());
    assert_eq!(tailer_errors, 6);
}

#[tokio::test(start_paused = true)]
async fn a_run_tailer_never_knew_is_reported_and_no_longer_polled() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "watch iowa-prepare 20301230-000000-00000000-0000-0000-0000-000000000000").await;
    let events = bot.run_until(STEP, LONG, |e| e.iter().any(|e| e.visible_text().contains("does not seem to exist"))).await;
    assert!(events.iter().any(|e| e.visible_text().contains("does not seem to exist")));
    let polls = bot.tailer.sim.count("check_run_status");
    bot.step(Duration::from_secs(600)).await;
    assert_eq!(bot.tailer.sim.count("check_run_status"), polls, "no longer polled");
}

#[tokio::test(start_paused = true)]
async fn a_channel_the_bot_is_not_in_is_given_up_and_the_requester_told_how_to_fix_it() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.slack.slack.inject(StandinFault {
        method: Some("chat.postMessage".into()),
        kind: StandinFaultKind::Error { code: "not_in_channel".into() },
        times: 1,
    });
    bot.command(ANALYST, "C0ELSEWHERE", "launch iowa-prepare").await;
    let events = bot.run_until(STEP, Duration::from_secs(60), |e| e.iter().any(|e| e.channel.as_deref() == Some(ANALYST))).await;
    let notice = events.iter().find(|e| e.channel.as_deref() == Some(ANALYST)).expect("the requester hears about it");
    assert!(notice.visible_text().contains("/invite @tailerbot") && notice.visible_text().contains("<#C0ELSEWHERE>"), "{notice:?}");
    assert_eq!(bot.bot.stats().undeliverable_count(), 1);
    let calls = bot.slack.slack.calls("chat.postMessage");
    bot.step(Duration::from_secs(60)).await;
    assert_eq!(
        bot.slack.slack.calls("chat.postMessage"),
        calls,
        "given up: not tried again, and the replies of a card never posted are dropped without a call"
    );
}
