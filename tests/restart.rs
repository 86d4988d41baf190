//! Restart safety with the real binary: `kill -9` while a run is RUNNING, or while a
//! timed re-enable is pending, then a restart on the same database: each status change
//! and the re-enable are posted, once. And subscriptions across lives of the bot, ended
//! by a deploy (SIGTERM) or by `kill -9`: each run that ends is announced once.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bot::BOT_TOKEN;
use common::life::announced;
use common::process::*;
use tailerbot::sim::{SimOptions, Simulator};
use tailerbot::slack::standin::{SlackEvent, SlackStandin};

const USER: &str = "U0ANALYST";
const CHANNEL: &str = "C0DATA";

/// Waits (bounded) until the bot has recorded every queued message as sent.
async fn outbox_drained(db: &str) {
    let pool = sqlx::SqlitePool::connect(db).await.unwrap();
    for _ in 0..400 {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetch_one(&pool).await.unwrap();
        if pending == 0 {
            pool.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the outbox never drained");
}

fn count(events: &[SlackEvent], needle: &str) -> usize {
    events.iter().filter(|e| e.thread_ts.is_some() && e.visible_text().contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_while_running_the_final_status_is_posted_exactly_once() {
    tailerbot::tls::install_crypto_provider();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = tailerbot::cli::embedded_config();
    let sim_options = SimOptions {
        waiting: (Duration::from_secs(2), Duration::from_secs(2)),
        running: (Duration::from_secs(8), Duration::from_secs(8)),
        invisible_after_launch: Duration::from_millis(500),
        ..SimOptions::default()
    };
    let tailer = Simulator::start(sim_options.with_catalog(tailerbot::offline::configurations(&config.jobs)), local).await.unwrap();
    let slack = SlackStandin::new(BOT_TOKEN).start(local).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());

    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    assert_eq!(command(&first.url, &slack.response_url("k1"), "1.kill.1", USER, CHANNEL, "launch iowa-prepare").await, 200);
    let events = slack.slack.wait_for(Duration::from_secs(20), |e| count(e, "*RUNNING*") == 1).await;
    assert_eq!(count(&events, "*RUNNING*"), 1, "the run was RUNNING when killed");
    // Killed while the work is in flight (the card's edit and the next polls): a post
    // whose sending was cut short is looked for in Slack before it is sent again.
    first.kill_hard();

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let events = slack.slack.wait_for(Duration::from_secs(30), |e| count(e, "*SUCCESS*") >= 1).await;
    let status = second.stop().await;
    assert!(status.success());
    assert!(count(&events, "*SUCCESS*") >= 1);
    let events = slack.slack.events();
    assert_eq!(count(&events, "*SUCCESS*"), 1, "the final status, once");
    assert_eq!(count(&events, "*RUNNING*"), 1, "no status repeated");
    assert_eq!(count(&events, "*WAITING*"), 1);
    let cards = events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none()).count();
    assert_eq!(cards, 1, "one card");
    assert_eq!(tailer.sim.count("launch_job"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_a_pending_timed_re_enable_still_happens_once() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());

    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    command(&first.url, &slack.response_url("k2"), "1.timer.1", USER, CHANNEL, "disable iowa-prepare for 1m vendor late").await;
    let events =
        slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(|e| e.visible_text().contains("Disabled `iowa-prepare`"))).await;
    let outcome = events.iter().find(|e| e.visible_text().contains("Disabled `iowa-prepare`")).expect("the disable is posted").clone();
    assert_eq!(tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
    // Killed at once: the write's note may still be settling, its audit being written.
    first.kill_hard();

    // While the bot is down, the minute passes (the timer is made due in its database).
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let moved = sqlx::query("UPDATE timers SET due_at = 0 WHERE state = 'pending'").execute(&pool).await.unwrap();
    assert_eq!(moved.rows_affected(), 1, "the timer survived the kill");
    pool.close().await;

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let root = outcome.ts.clone().unwrap();
    let events = slack
        .slack
        .wait_for(Duration::from_secs(20), |e| {
            e.iter().any(|e| e.thread_ts.as_deref() == Some(root.as_str()) && e.visible_text().contains("Re-enabled"))
        })
        .await;
    assert!(second.stop().await.success());
    let reenabled =
        events.iter().filter(|e| e.thread_ts.as_deref() == Some(root.as_str()) && e.visible_text().contains("Re-enabled")).count();
    assert_eq!(reenabled, 1);
    assert_eq!(tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
    assert_eq!(tailer.sim.count("set_configuration_status"), 2);
}

/// How a life of the bot ends.
#[derive(Clone, Copy, Debug)]
enum End {
    Deploy,
    Kill,
}

impl End {
    async fn end(self, serve: Serve) {
        match self {
            End::Deploy => assert!(serve.stop().await.success(), "a clean stop"),
            End::Kill => serve.kill_hard(),
        }
    }
}

/// Subscribes, lets the bot poll, ends its life as `end` says, and checks that the next
/// life announces a run that ends then, once, and that a third life repeats nothing.
async fn a_subscription_outlives(end: End) {
    let quick = SimOptions {
        waiting: (Duration::from_millis(500), Duration::from_millis(500)),
        running: (Duration::from_secs(1), Duration::from_secs(1)),
        invisible_after_launch: Duration::from_millis(200),
        history: 0,
        ..SimOptions::default()
    };
    let (tailer, slack) = common::world(quick).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());
    let subs = "C0SUBS";

    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    assert_eq!(command(&first.url, &slack.response_url("s1"), "1.sub.1", USER, subs, "subscribe iowa-prepare").await, 200);
    // The first life polls the subscription (and holds the poller's lease) before it ends.
    assert!(tailer.sim.wait_for_count("get_last_status", 1, Duration::from_secs(20)).await >= 1, "the first life polled");
    end.end(first).await;

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let client = common::client(&tailer.url(), common::quick_options());
    let job = tailerbot::cli::embedded_config().job("iowa-prepare").unwrap().job.clone();
    let run = client.launch_job(&job, None).await.unwrap().to_string();
    let events = slack.slack.wait_for(Duration::from_secs(30), |e| announced(e, subs, &run) >= 1).await;
    assert_eq!(announced(&events, subs, &run), 1, "the run that ended in the second life is announced ({end:?})");
    end.end(second).await;

    // A third life catches up on what ended while the bot was down, and repeats nothing.
    let third = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let polls = tailer.sim.count("get_last_status");
    assert!(
        tailer.sim.wait_for_count("get_last_status", polls + 2, Duration::from_secs(20)).await >= polls + 2,
        "the third life polls the subscription ({end:?})"
    );
    outbox_drained(&db).await;
    assert!(third.stop().await.success());
    assert_eq!(announced(&slack.slack.events(), subs, &run), 1, "announced once over three lives ({end:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_keeps_announcing_after_a_deploy() {
    a_subscription_outlives(End::Deploy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_keeps_announcing_after_kill_9() {
    a_subscription_outlives(End::Kill).await;
}
