//! Slack failing under the outbox, on a paused clock: a storm of 429s, a token Slack
//! refuses, a channel it does not know, slow answers and `response_url`s that fail.
//! (`tests/watcher.rs` has short 429 and 5xx bursts and `not_in_channel`.)

use std::time::Duration;

use tailerbot::slack::standin::{SlackEvent, StandinFault, StandinFaultKind};

use crate::common::bot::{ANALYST, CHANNEL, example_config};
use crate::common::logs;
use crate::common::paused::*;

const STEP: Duration = Duration::from_secs(5);

fn fault(method: Option<&str>, kind: StandinFaultKind, times: u32) -> StandinFault {
    StandinFault { method: method.map(str::to_owned), kind, times }
}

fn ended(events: &[SlackEvent]) -> bool {
    events.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains("*SUCCESS*"))
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_is_waited_out_per_retry_after_and_everything_goes_out_once_in_order() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    slack.inject(fault(Some("chat.postMessage"), StandinFaultKind::RateLimited { retry_after_secs: 30 }, 12));
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.command(ANALYST, CHANNEL, "launch stock-enrich").await;

    // The first refusal asks for 30 s: nothing is tried before they are up.
    bot.step(Duration::from_millis(10)).await;
    let calls = slack.calls("chat.postMessage");
    assert!(calls >= 1, "a post was tried");
    for _ in 0..29 {
        bot.step(Duration::from_secs(1)).await;
    }
    assert_eq!(slack.calls("chat.postMessage"), calls, "no post before Retry-After is over");

    let events = bot
        .run_until(STEP, Duration::from_secs(1800), |e| {
            e.iter()
                .filter(|e| e.thread_ts.is_some() && (e.visible_text().contains("*SUCCESS*") || e.visible_text().contains("*FAILED*")))
                .count()
                == 2
        })
        .await;
    for job in ["iowa-prepare", "stock-enrich"] {
        let cards: Vec<&SlackEvent> = events
            .iter()
            .filter(|e| {
                e.method == "chat.postMessage"
                    && e.thread_ts.is_none()
                    && e.text.contains("· run")
                    && e.visible_text().contains(&format!("`{job}`"))
            })
            .collect();
        assert_eq!(cards.len(), 1, "{job}: one card");
        let statuses = reply_statuses(&events, cards[0].ts.as_deref().unwrap());
        let last = if job == "iowa-prepare" { "SUCCESS" } else { "FAILED" };
        assert_eq!(statuses, vec!["WAITING", "RUNNING", last], "{job}: each status once, in order");
    }
    assert_eq!(slack.calls("chat.postMessage") as usize, events.iter().filter(|e| e.method == "chat.postMessage").count() + 12);
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0, "nothing left behind");
    let (limited, _, _) = bot.bot.stats().last_hour(bot.bot.now_ms());
    assert_eq!(limited, 12, "each 429 counted for the doctor");
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_holds_every_message_without_hammering_slack_and_delivers_them_once_it_works() {
    let (_guard, logs) = logs::capture();
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    slack.inject(fault(None, StandinFaultKind::Error { code: "invalid_auth".into() }, 10_000));
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    // The run lives and ends while Slack refuses the token.
    bot.run_until(STEP, Duration::from_secs(1800), |_| false).await;
    assert!(slack.events().is_empty(), "nothing got through");
    let tries: u64 = ["chat.postMessage", "chat.update", "response_url", "chat.postEphemeral"].iter().map(|m| slack.calls(m)).sum();
    assert!(tries <= 20, "{tries} calls in 30 minutes: Slack is not hammered");
    let (held, _) = bot.bot.store().outbox_depth().await.unwrap();
    assert!(held >= 4, "the card and its replies are kept: {held}");
    logs.assert_line("a refused token", "ERROR", &["Slack refuses the bot token (invalid_auth)", "SLACK_BOT_TOKEN"]);
    assert!(logs.lines("ERROR", &["giving up"]).is_empty(), "no message is given up:\n{}", logs.text());
    assert_eq!(bot.bot.stats().undeliverable_count(), 0);

    // The token works again: everything held goes out, once, in order.
    slack.clear_faults();
    let events = bot.run_until(STEP, Duration::from_secs(900), ended).await;
    let card = card(&events, CHANNEL);
    assert_eq!(reply_statuses(&events, card.ts.as_deref().unwrap()), vec!["WAITING", "RUNNING", "SUCCESS"]);
    let last = last_edit(&events, card.ts.as_deref().unwrap()).expect("the card shows the end");
    assert!(last.visible_text().contains("*SUCCESS*"), "{last:?}");
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0);
    logs.assert_line("the token works again", "INFO", &["Slack accepts the bot token again"]);
}

#[tokio::test(start_paused = true)]
async fn a_channel_slack_does_not_know_is_given_up_and_the_requester_asked_to_invite_the_bot() {
    let (_guard, logs) = logs::capture();
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.slack.slack.inject(fault(Some("chat.postMessage"), StandinFaultKind::Error { code: "channel_not_found".into() }, 1));
    bot.command(ANALYST, "C0PRIVATE", "launch iowa-prepare").await;
    let events = bot.run_until(STEP, Duration::from_secs(60), |e| e.iter().any(|e| e.channel.as_deref() == Some(ANALYST))).await;
    let notice = events.iter().find(|e| e.channel.as_deref() == Some(ANALYST)).expect("the requester hears about it");
    let text = notice.visible_text();
    assert!(text.contains("<#C0PRIVATE>") && text.contains("/invite @tailerbot"), "{text}");
    logs.assert_line("channel_not_found", "ERROR", &["cannot be delivered", "channel_not_found"]);
    assert_eq!(bot.bot.stats().undeliverable_count(), 1);
    // The run's other messages are dropped with their card, not tried one by one.
    let calls = bot.slack.slack.calls("chat.postMessage");
    bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    assert_eq!(bot.slack.slack.calls("chat.postMessage"), calls, "nothing more tried in that channel");
    // The bot still serves that person elsewhere.
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let events = bot.run_until(STEP, Duration::from_secs(60), |e| e.iter().any(|e| e.channel.as_deref() == Some(CHANNEL))).await;
    assert!(events.iter().any(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL)));
}

#[tokio::test(start_paused = true)]
async fn failing_and_slow_response_urls_deliver_the_answer_once() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let slack = &bot.slack.slack;
    slack.inject(fault(Some("response_url"), StandinFaultKind::Status { status: 500 }, 2));
    slack.inject(fault(Some("response_url"), StandinFaultKind::Delay { millis: 4_000 }, 1));
    bot.command(ANALYST, CHANNEL, "last iowa-prepare").await;
    let answered = |e: &[SlackEvent]| e.iter().any(|e| e.method == "response_url");
    // Each step's pass waits for the slow answer: time must move while it does.
    let mut events = Vec::new();
    for _ in 0..60 {
        let pass = tokio::spawn({
            let workers = bot.workers.clone();
            async move { workers.run_once().await }
        });
        while !pass.is_finished() {
            tokio::time::advance(Duration::from_millis(500)).await;
            tokio::task::yield_now().await;
        }
        events = slack.events();
        if answered(&events) {
            break;
        }
        tokio::time::advance(STEP).await;
    }
    let answers: Vec<&SlackEvent> = events.iter().filter(|e| e.method == "response_url").collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].visible_text().contains("iowa-prepare"), "{:?}", answers[0]);
    assert_eq!(slack.calls("response_url"), 3, "two failures, then the slow success");
    // The stand-in records the answer before the bot has marked it sent: passes run
    // until the outbox is empty, and the answer still counts once.
    for _ in 0..10 {
        if bot.bot.store().outbox_depth().await.unwrap().0 == 0 {
            break;
        }
        bot.step(STEP).await;
    }
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0);
    assert_eq!(slack.events().iter().filter(|e| e.method == "response_url").count(), 1, "still answered once");
}
