//! Subscriptions, timed re-enables and the buttons of a finished card, with a paused clock.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, CHANNEL, example_config};
use common::paused::*;

const STEP: Duration = Duration::from_secs(5);
const SUBS: &str = "C0SUBS";

fn announcements(bot: &PausedBot, channel: &str) -> Vec<String> {
    bot.slack
        .slack
        .events()
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel))
        .map(|e| e.visible_text())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_subscription_announces_each_finished_run_once_and_none_that_ended_before_it() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let (_, body) = bot.command(ANALYST, SUBS, "subscribe iowa-prepare").await;
    assert!(common::bot::text_of(&body).contains("This channel will hear about every finished run of `iowa-prepare`"), "{body}");
    // The first pass of the workers polls the subscriptions (the poll is due at start).
    bot.step(STEP).await;
    assert!(bot.tailer.sim.count("get_last_status") >= 1, "the subscribed job was read");
    assert!(announcements(&bot, SUBS).is_empty(), "runs finished before the subscription are not news");

    // Two runs start and finish while the bot is not polling subscriptions (downtime).
    let client = bot.bot.tailer().clone();
    let job = bot.bot.config().job("iowa-prepare").unwrap().job.clone();
    let first = client.launch_job(&job, None).await.unwrap();
    let second = client.launch_job(&job, None).await.unwrap();
    // The next poll is due a minute after the first; posts in one channel go out a
    // second apart.
    bot.step(Duration::from_secs(120)).await;
    bot.step(STEP).await;
    let said = announcements(&bot, SUBS);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said.iter().any(|t| t.contains(first.as_str())) && said.iter().any(|t| t.contains(second.as_str())));
    assert!(said.iter().all(|t| t.contains("*SUCCESS*") && t.contains("`iowa-prepare` (DEV)")));

    // Polling again repeats nothing.
    let polls = bot.tailer.sim.count("get_last_status");
    for _ in 0..3 {
        bot.step(Duration::from_secs(61)).await;
    }
    assert!(bot.tailer.sim.count("get_last_status") >= polls + 3, "polled again every minute");
    assert_eq!(announcements(&bot, SUBS).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn more_runs_ending_between_two_polls_than_one_read_holds_are_all_announced() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, SUBS, "subscribe iowa-prepare").await;
    bot.step(STEP).await;
    let client = bot.bot.tailer().clone();
    let job = bot.bot.config().job("iowa-prepare").unwrap().job.clone();
    let mut runs = Vec::new();
    for _ in 0..15 {
        runs.push(client.launch_job(&job, None).await.unwrap().to_string());
    }
    // All fifteen start and end before the next poll; then a second apart per post.
    bot.step(Duration::from_secs(120)).await;
    for _ in 0..20 {
        bot.step(Duration::from_secs(1)).await;
    }
    let said = announcements(&bot, SUBS);
    let missing: Vec<&String> = runs.iter().filter(|r| !said.iter().any(|t| t.contains(r.as_str()))).collect();
    assert!(missing.is_empty(), "not announced: {missing:?}");
    assert_eq!(said.len(), 15, "each once");
}

#[tokio::test(start_paused = true)]
async fn a_failures_subscription_hears_only_failures_and_a_watched_run_is_not_announced_twice() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "subscribe all failures").await;
    bot.step(STEP).await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.command(ANALYST, CHANNEL, "launch stock-enrich").await;
    let client = bot.bot.tailer().clone();
    let failing = bot.bot.config().job("stock-enrich").unwrap().job.clone();
    let unwatched = client.launch_job(&failing, None).await.unwrap();
    bot.run_until(STEP, Duration::from_secs(300), |e| {
        e.iter()
            .filter(|e| e.thread_ts.is_some() && (e.visible_text().contains("*SUCCESS*") || e.visible_text().contains("*FAILED*")))
            .count()
            == 2
    })
    .await;
    bot.step(Duration::from_secs(61)).await;
    bot.step(STEP).await;
    let announced: Vec<String> = bot
        .slack
        .slack
        .events()
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.visible_text().contains(" · ended "))
        .map(|e| e.visible_text())
        .collect();
    assert_eq!(announced.len(), 1, "only the failed run nobody watched here: {announced:?}");
    assert!(announced[0].contains(unwatched.as_str()) && announced[0].contains("*FAILED*"));
}

#[tokio::test(start_paused = true)]
async fn subscriptions_are_listed_and_removed() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, SUBS, "subscribe tag:daily failures").await;
    let (_, body) = bot.command(ANALYST, SUBS, "subscriptions").await;
    assert!(common::bot::text_of(&body).contains("`tag:daily` — failures"), "{body}");
    let (_, body) = bot.command(ANALYST, SUBS, "unsubscribe tag:daily").await;
    assert!(common::bot::text_of(&body).contains("no longer hears about `tag:daily`"), "{body}");
    let (_, body) = bot.command(ANALYST, SUBS, "subscriptions").await;
    assert!(common::bot::text_of(&body).contains("no subscription"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_disable_is_re_enabled_when_the_time_is_up_and_says_so_in_its_thread() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 30m vendor late").await;
    bot.workers.delivery.run_once().await;
    let events = bot.slack.slack.events();
    let outcome =
        events.iter().find(|e| e.method == "chat.postMessage" && e.visible_text().contains("Disabled")).expect("the outcome is posted");
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
    bot.step(Duration::from_secs(29 * 60)).await;
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false), "not before its time");
    bot.step(Duration::from_secs(61)).await;
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
    let events = bot.slack.slack.events();
    let thread = replies(&events, outcome.ts.as_deref().unwrap());
    assert_eq!(thread.len(), 1);
    assert!(thread[0].visible_text().contains("Re-enabled `iowa-prepare` (DEV)"), "{:?}", thread[0]);
    bot.step(Duration::from_secs(3600)).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2, "once");
}

#[tokio::test(start_paused = true)]
async fn enabling_by_hand_cancels_the_timed_re_enable() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 30m").await;
    tokio::time::advance(Duration::from_secs(61)).await;
    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    bot.step(Duration::from_secs(3600)).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2, "disable and enable, no timer");
}

#[tokio::test(start_paused = true)]
async fn the_buttons_of_a_failed_card_launch_again_and_mark_as_checked_under_the_rules() {
    // The example's rules, with one person who may not write anything.
    let text = tailerbot::config::EXAMPLE_TOML.replacen(
        "[[rules]]",
        "[[rules]]\neffect = \"deny\"\nactions = [\"write\"]\nusers = [\"U0INTRUDER\"]\n\n[[rules]]",
        1,
    );
    let config = tailerbot::config::Config::parse(std::path::Path::new("rules.toml"), &text).unwrap();
    let bot = PausedBot::start(config, slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch stock-enrich").await;
    let events = bot
        .run_until(STEP, Duration::from_secs(300), |e| e.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains("*FAILED*")))
        .await;
    let ts = card(&events, CHANNEL).ts.clone().unwrap();
    let finished = last_edit(&events, &ts).unwrap().clone();
    let run = finished.button("Mark as checked").unwrap().1.split(' ').nth(1).unwrap().to_owned();

    // Someone the rules refuse: neither button acts, and each click is audited as denied.
    for label in ["Mark as checked", "Launch again"] {
        assert_eq!(common::paused::click(&bot, "U0INTRUDER", &finished, label).await, 200);
        bot.settle().await;
    }
    assert_eq!(bot.tailer.sim.status_of(&run), Some(tailerbot::sim::RunStatus::Failed), "not marked");
    assert_eq!(bot.tailer.sim.count("launch_job"), 1, "not launched again");
    let denied = bot.bot.store().recent_audit(Some("stock-enrich"), 20).await.unwrap();
    let denied = denied.iter().filter(|a| a.user_id == "U0INTRUDER" && a.outcome == tailerbot::store::AuditOutcome::Denied).count();
    assert_eq!(denied, 2, "both refusals audited");

    let http = common::paused::click(&bot, ANALYST, &finished, "Mark as checked").await;
    assert_eq!(http, 200);
    bot.settle().await;
    assert_eq!(bot.tailer.sim.status_of(&run), Some(tailerbot::sim::RunStatus::Checked));

    common::paused::click(&bot, ANALYST, &finished, "Launch again").await;
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 2, "launched again");
}

/// A timed disable Tailer may have done (its answer cut off) keeps its re-enable, and says
/// so: the job may be off, and only the timer brings it back. One Tailer refused (400)
/// switched nothing off: its re-enable is dropped, and nothing is switched on later.
#[tokio::test(start_paused = true)]
async fn a_timed_disable_tailer_may_have_done_keeps_its_re_enable_and_one_it_refused_drops_it() {
    use tailerbot::sim::{Fault, FaultKind};
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let fail = |status: u16| Fault::new(Some("set_configuration_status"), FaultKind::Status { status, message: "no".into() }, 1);
    // Tailer's answer is cut off half-way: it may have switched the job off.
    bot.tailer.sim.inject(Fault::new(Some("set_configuration_status"), FaultKind::Truncated, 1));
    let (_, body) = bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 30m vendor late").await;
    bot.workers.delivery.run_once().await;
    let said: Vec<String> = bot.slack.slack.events().iter().map(|e| e.visible_text()).filter(|t| t.contains("iowa-prepare")).collect();
    assert!(said.iter().any(|t| t.contains("Its re-enable stays scheduled for")), "{said:?} {body}");
    assert_eq!(bot.bot.store().pending_timers().await.unwrap().len(), 1, "the re-enable is kept");
    let asked = bot.tailer.sim.count("set_configuration_status");
    bot.step(Duration::from_secs(31 * 60)).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), asked + 1, "switched on by its timer");
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));

    bot.tailer.sim.inject(fail(400));
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 30m vendor late").await;
    assert!(bot.bot.store().pending_timers().await.unwrap().is_empty(), "a refused disable keeps no re-enable");
    let asked = bot.tailer.sim.count("set_configuration_status");
    bot.step(Duration::from_secs(31 * 60)).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), asked, "nothing to switch back on");
}

#[tokio::test(start_paused = true)]
async fn a_newer_disable_replaces_an_older_timed_re_enable() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 30m").await;
    tokio::time::advance(Duration::from_secs(61)).await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare for 4h").await;
    assert_eq!(bot.bot.store().pending_timers().await.unwrap().len(), 1);
    bot.step(Duration::from_secs(3600)).await;
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false), "the 30 minutes no longer count");
    bot.step(Duration::from_secs(3 * 3600)).await;
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
}

/// A Home tab leaves through the outbox like any message: published for its user, and a
/// newer one queued before it went out replaces the older.
#[tokio::test(start_paused = true)]
async fn a_home_tab_is_published_for_its_user_through_the_outbox_the_newest_only() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let section = |text: &str| serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
    let home = |text: &str| {
        tailerbot::outbox::OutboxMessage::home(
            ANALYST,
            Some("D0ANALYST".into()),
            tailerbot::chat::Rendered { text: text.to_owned(), blocks: vec![section(text)] },
        )
    };
    bot.bot.outbox().enqueue(vec![home("older")]).await;
    bot.bot.outbox().enqueue(vec![home("newer")]).await;
    bot.workers.delivery.run_once().await;
    let published: Vec<_> = bot.slack.slack.events().into_iter().filter(|e| e.method == "views.publish").collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].user.as_deref(), Some(ANALYST));
    assert!(published[0].visible_text().contains("newer"), "{:?}", published[0]);
}

/// A backlog of thousands of answers and announcements (queued after their
/// `response_url` failed, or while Slack was away) does not hold up a run's status: once
/// the run has ended, its card and final thread reply are the first things the outbox
/// sends, ahead of the backlog queued before them.
#[tokio::test(start_paused = true)]
async fn a_runs_final_reply_overtakes_a_backlog_of_thousands_of_answers() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.run_until(STEP, Duration::from_secs(120), |e| e.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains("*RUNNING*")))
        .await;
    let backlog: Vec<tailerbot::outbox::OutboxMessage> = (0..3_000)
        .map(|i| {
            let to = tailerbot::outbox::Destination::Ephemeral { channel: format!("C0BULK{i}"), user: ANALYST.into(), thread_ts: None };
            tailerbot::outbox::OutboxMessage::new(
                format!("reply:bulk{i}"),
                to,
                tailerbot::outbox::OutboxBody::plain(format!("answer {i}"), vec![]),
            )
        })
        .collect();
    let now = tailerbot::clock::Clock::now_ms(&*bot.clock);
    bot.bot.store().enqueue(&backlog, now).await.unwrap();
    // The watcher alone, until it has seen the run end (its final messages queued behind
    // the backlog).
    for _ in 0..60 {
        if bot.bot.store().active_watch_count().await.unwrap() == 0 {
            break;
        }
        tokio::time::advance(STEP).await;
        bot.workers.watcher.run_once().await;
    }
    assert_eq!(bot.bot.store().active_watch_count().await.unwrap(), 0, "the run ended");
    // Two passes of the outbox (a lane sends one message per pass: the card's edit, then
    // the thread reply): the run's status goes out, the backlog waits.
    bot.workers.delivery.pass().await;
    bot.workers.delivery.pass().await;
    let events = bot.slack.slack.events();
    assert!(events.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains("*SUCCESS*")), "the final reply was sent");
    let (waiting, _) = bot.bot.store().outbox_depth().await.unwrap();
    // Each pass takes at most 128 messages: at least 3,000 - 2 × 127 still wait.
    assert!(waiting >= 2_746, "the backlog waits behind the run's status ({waiting} still queued)");
}

/// Slack took a message but the store could not record it (the database refused the
/// write): it is not sent again; the next pass records it.
#[tokio::test(start_paused = true)]
async fn a_message_slack_took_whose_record_failed_is_recorded_later_not_sent_again() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let db = sqlx::SqlitePool::connect(&bot.database).await.unwrap();
    for statement in [
        "CREATE TABLE refuse (x INTEGER)",
        "INSERT INTO refuse VALUES (1)",
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox WHEN NEW.state = 'sent' AND EXISTS (SELECT 1 FROM refuse)
         BEGIN SELECT RAISE(ABORT, 'refused'); END",
    ] {
        sqlx::query(statement).execute(&db).await.unwrap();
    }
    let posted = |bot: &PausedBot| bot.slack.slack.events().iter().filter(|e| e.visible_text().contains("kept once")).count();
    bot.bot
        .outbox()
        .enqueue(vec![tailerbot::outbox::OutboxMessage::post(
            "notice:once",
            CHANNEL,
            tailerbot::chat::Rendered { text: "kept once".into(), blocks: vec![] },
        )])
        .await;
    bot.workers.delivery.pass().await;
    assert_eq!(posted(&bot), 1, "Slack took it");
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 1, "but it could not be recorded as sent");

    sqlx::query("DELETE FROM refuse").execute(&db).await.unwrap();
    bot.workers.delivery.pass().await;
    assert_eq!(posted(&bot), 1, "not sent again");
    assert_eq!(bot.bot.store().outbox_depth().await.unwrap().0, 0, "recorded as sent at the next pass");
}
