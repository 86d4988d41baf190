//! Several replicas on one PostgreSQL database, with the real binary: three `serve`
//! processes share 50 launches; one is killed with `kill -9` half-way. Every run is
//! launched once, gets one card, and each of its statuses (the final one included) is
//! posted once in its thread, by whichever replica holds the run at the time. And a
//! replica killed in the middle of a launch: another one follows the run it started.
//! And the subscription poll: after a rolling deploy of every replica, and after the
//! replica holding it is killed, runs that end are announced once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::bot::BOT_TOKEN;
use common::db::TestDb;
use common::life::announced;
use common::process::*;
use tailerbot::sim::{Fault, FaultKind, SimOptions, Simulator};
use tailerbot::slack::standin::{SlackEvent, SlackStandin};

const RUNS: usize = 50;
const CHANNELS: usize = 25;

fn is_card(e: &SlackEvent) -> bool {
    e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.starts_with("iowa-prepare · run ")
}

/// Thread root ts → the statuses posted in it, in order.
fn threads(events: &[SlackEvent]) -> BTreeMap<String, Vec<String>> {
    let mut threads: BTreeMap<String, Vec<String>> =
        events.iter().filter(|e| is_card(e)).map(|e| (e.ts.clone().unwrap_or_default(), Vec::new())).collect();
    for e in events.iter().filter(|e| e.method == "chat.postMessage") {
        let Some(root) = &e.thread_ts else { continue };
        let text = e.visible_text();
        if let Some(status) = ["WAITING", "RUNNING", "SUCCESS", "FAILED"].into_iter().find(|s| text.contains(&format!("*{s}*"))) {
            threads.entry(root.clone()).or_default().push(status.to_owned());
        }
    }
    threads
}

fn successes(events: &[SlackEvent]) -> usize {
    threads(events).values().filter(|statuses| statuses.iter().any(|s| s == "SUCCESS")).count()
}

async fn pending_messages(db: &TestDb) -> i64 {
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

/// A PostgreSQL schema, the simulator and the stand-in, and a configuration whose
/// leases run out 2 s after a replica dies: what the replicas of a test share.
struct Shared {
    db: TestDb,
    tailer: tailerbot::sim::RunningSimulator,
    slack: tailerbot::slack::standin::RunningStandin,
    config_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Shared {
    /// Runs wait and run for these
    /// many seconds (drawn between the two).
    async fn start(waiting: (u64, u64), running: (u64, u64)) -> Shared {
        tailerbot::tls::install_crypto_provider();
        let db = TestDb::postgres().await;
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = tailerbot::cli::embedded_config();
        let sim_options = SimOptions {
            waiting: (Duration::from_secs(waiting.0), Duration::from_secs(waiting.1)),
            running: (Duration::from_secs(running.0), Duration::from_secs(running.1)),
            invisible_after_launch: Duration::from_millis(300),
            ..SimOptions::default()
        };
        let tailer = Simulator::start(sim_options.with_catalog(tailerbot::offline::configurations(&config.jobs)), local).await.unwrap();
        let slack = SlackStandin::new(BOT_TOKEN).start(local).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config_path = write_config(dir.path(), &slack.response_url_prefix());
        let text = std::fs::read_to_string(&config_path).unwrap().replace("[watch]\n", "[watch]\nlease_secs = 2\n");
        std::fs::write(&config_path, text).unwrap();
        Shared { db, tailer, slack, config_path, _dir: dir }
    }

    async fn replica(&self) -> Serve {
        serve(&self.config_path, &self.db.url, &self.slack.api_url(), &self.tailer.url()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_post_every_final_status_once_when_one_is_killed_half_way() {
    let shared = Shared::start((1, 3), (3, 8)).await;
    let Shared { db, tailer, slack, .. } = &shared;
    // Started together: they migrate the new database one at a time.
    let (a, b, c) = tokio::join!(shared.replica(), shared.replica(), shared.replica());
    let launch = |url: String, i: usize| {
        let response_url = slack.response_url(&format!("launch{i}"));
        async move {
            let user = format!("U0USER{i:02}");
            let channel = format!("C0CHAN{:02}", i % CHANNELS);
            let status = command(&url, &response_url, &format!("{i}.replica.{i}"), &user, &channel, "launch iowa-prepare").await;
            assert_eq!(status, 200, "launch {i} acknowledged");
        }
    };
    let all = [a.url.clone(), b.url.clone(), c.url.clone()];
    for i in 0..RUNS / 2 {
        launch(all[i % 3].clone(), i).await;
    }
    // Half-way: every launch so far is done and on its card; runs are being followed.
    let events = slack.slack.wait_for(Duration::from_secs(60), |e| e.iter().filter(|e| is_card(e)).count() == RUNS / 2).await;
    assert_eq!(events.iter().filter(|e| is_card(e)).count(), RUNS / 2, "the first half's cards");
    // Killed while it holds work (a run it is polling, a message it is sending).
    let owner = format!("{}-%", b.child.id());
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut held = 0;
    for _ in 0..2_000 {
        held = sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT COUNT(*) FROM watches WHERE lease_owner LIKE $1) + (SELECT COUNT(*) FROM outbox WHERE lease_owner LIKE $1)",
        )
        .bind(&owner)
        .fetch_one(&pool)
        .await
        .unwrap();
        if held > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pool.close().await;
    assert!(held > 0, "the replica to kill never held any work");
    b.kill_hard();
    let survivors = [a.url.clone(), c.url.clone()];
    for i in RUNS / 2..RUNS {
        launch(survivors[i % 2].clone(), i).await;
    }

    slack.slack.wait_for(Duration::from_secs(120), |e| successes(e) == RUNS).await;
    // Whatever is still queued (an edit, a last reply) goes out before the count.
    for _ in 0..400 {
        if pending_messages(db).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending_messages(db).await, 0, "the outbox never drained within 20 s");
    assert!(a.stop().await.success());
    assert!(c.stop().await.success());

    let events = slack.slack.events();
    let threads = threads(&events);
    assert_eq!(tailer.sim.count("launch_job"), RUNS, "no double launch");
    let cards: Vec<_> = events.iter().filter(|e| is_card(e)).collect();
    let runs: BTreeSet<&str> = cards.iter().map(|e| e.text.as_str()).collect();
    assert_eq!((cards.len(), runs.len()), (RUNS, RUNS), "one card per run");
    for (root, statuses) in &threads {
        let finals = statuses.iter().filter(|s| *s == "SUCCESS").count();
        assert_eq!(finals, 1, "thread {root}: the final status once: {statuses:?}");
        let distinct: BTreeSet<&String> = statuses.iter().collect();
        assert_eq!(distinct.len(), statuses.len(), "thread {root}: no status posted twice: {statuses:?}");
        assert_eq!(statuses.last().map(String::as_str), Some("SUCCESS"), "thread {root}: ends with the final status: {statuses:?}");
    }
    assert_eq!(pending_messages(db).await, 0, "nothing left behind");
    shared.db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_whose_replica_dies_while_tailer_answers_is_followed_by_another_replica() {
    let shared = Shared::start((1, 1), (2, 2)).await;
    let Shared { tailer, slack, .. } = &shared;
    // Tailer starts the run at once but answers only after 20 s: the replica dies waiting.
    tailer.sim.inject(Fault::new(Some("launch_job"), FaultKind::Delay { millis: 20_000 }, 1));
    let a = shared.replica().await;
    let b = shared.replica().await;

    let status = command(&a.url, &slack.response_url("mid"), "1.mid.1", "U0ANALYST", "C0DATA", "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert_eq!(tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(10)).await, 1, "Tailer was asked");
    a.kill_hard();

    let events = slack.slack.wait_for(Duration::from_secs(30), |e| successes(e) == 1).await;
    assert_eq!(successes(&events), 1, "the run was followed to its end by the other replica: {events:#?}");
    assert!(b.stop().await.success());
    let events = slack.slack.events();
    let cards: Vec<_> = events.iter().filter(|e| is_card(e)).collect();
    assert_eq!(cards.len(), 1, "one card");
    assert!(cards[0].visible_text().contains("<@U0ANALYST>"), "launched by the person who asked: {:?}", cards[0]);
    assert_eq!(tailer.sim.count("launch_job"), 1, "never launched again");
    let threads = threads(&events);
    assert_eq!(threads.values().next().map(|s| s.last().cloned()), Some(Some("SUCCESS".to_owned())));
    shared.db.finish().await;
}

impl Shared {
    /// Launches `iowa-prepare` on Tailer directly (a scheduled run, not the bot's).
    async fn scheduled_run(&self) -> String {
        let client = common::client(&self.tailer.url(), common::quick_options());
        let job = tailerbot::cli::embedded_config().job("iowa-prepare").unwrap().job.clone();
        client.launch_job(&job, None).await.unwrap().to_string()
    }

    /// The pid of the replica holding the subscription poll, if any holds it now.
    async fn subscription_holder(&self) -> Option<u32> {
        let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
        let owner: Option<Option<String>> =
            sqlx::query_scalar("SELECT lease_owner FROM leases WHERE name = 'subscriptions'").fetch_optional(&pool).await.unwrap();
        pool.close().await;
        owner.flatten().and_then(|o| o.split('-').next()?.parse().ok())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_keep_announcing_after_a_rolling_deploy_of_every_replica() {
    let shared = Shared::start((1, 1), (1, 1)).await;
    let Shared { tailer, slack, .. } = &shared;
    let subs = "C0SUBS";
    let (a, b) = tokio::join!(shared.replica(), shared.replica());
    assert_eq!(command(&a.url, &slack.response_url("s"), "1.roll.1", "U0ANALYST", subs, "subscribe iowa-prepare").await, 200);
    assert!(tailer.sim.wait_for_count("get_last_status", 1, Duration::from_secs(20)).await >= 1, "polled before the deploy");
    // Each old replica stops cleanly once a new one is ready, as a rolling deploy does.
    let c = shared.replica().await;
    assert!(a.stop().await.success());
    let d = shared.replica().await;
    assert!(b.stop().await.success());

    let run = shared.scheduled_run().await;
    let events = slack.slack.wait_for(Duration::from_secs(30), |e| announced(e, subs, &run) >= 1).await;
    assert_eq!(announced(&events, subs, &run), 1, "announced by the new replicas");
    let polls = tailer.sim.count("get_last_status");
    tailer.sim.wait_for_count("get_last_status", polls + 2, Duration::from_secs(20)).await;
    assert!(c.stop().await.success());
    assert!(d.stop().await.success());
    assert_eq!(announced(&slack.slack.events(), subs, &run), 1, "once");
    shared.db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_taken_over_within_a_lease_when_their_replica_is_killed() {
    let shared = Shared::start((1, 1), (1, 1)).await;
    let Shared { tailer, slack, .. } = &shared;
    let subs = "C0SUBS";
    let a = shared.replica().await;
    let b = shared.replica().await;
    assert_eq!(command(&a.url, &slack.response_url("s"), "1.subkill.1", "U0ANALYST", subs, "subscribe iowa-prepare").await, 200);
    assert!(tailer.sim.wait_for_count("get_last_status", 1, Duration::from_secs(20)).await >= 1, "polled");
    let holder = shared.subscription_holder().await.expect("a replica holds the subscription poll");
    let (dead, survivor) = if holder == a.child.id() { (a, b) } else { (b, a) };
    assert_eq!(holder, dead.child.id(), "the holder is one of the two replicas");
    dead.kill_hard();

    let run = shared.scheduled_run().await;
    // The lease is 2 s; the run takes about 2 s, polls come every second.
    let events = slack.slack.wait_for(Duration::from_secs(15), |e| announced(e, subs, &run) >= 1).await;
    assert_eq!(announced(&events, subs, &run), 1, "announced by the surviving replica");
    assert_eq!(shared.subscription_holder().await, Some(survivor.child.id()), "the survivor holds the poll now");
    assert!(survivor.stop().await.success());
    shared.db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_replica_dies_while_tailer_answers_is_finished_by_another_replica() {
    let shared = Shared::start((1, 1), (1, 1)).await;
    let Shared { tailer, slack, db, .. } = &shared;
    // Tailer disables at once but answers only after a minute: the replica dies waiting.
    tailer.sim.inject(Fault::new(Some("set_configuration_status"), FaultKind::Delay { millis: 60_000 }, 1));
    let a = shared.replica().await;
    let b = shared.replica().await;
    assert_eq!(command(&a.url, &slack.response_url("w"), "1.w.1", "U0ANALYST", "C0DATA", "disable iowa-prepare").await, 200);
    assert_eq!(tailer.sim.wait_for_count("set_configuration_status", 1, Duration::from_secs(10)).await, 1, "Tailer was asked");
    a.kill_hard();

    let finished =
        |e: &[SlackEvent]| e.iter().filter(|e| e.method == "response_url" && e.visible_text().contains("Disabled `iowa-prepare`")).count();
    let events = slack.slack.wait_for(Duration::from_secs(20), |e| finished(e) >= 1).await;
    assert_eq!(finished(&events), 1, "finished once, by the other replica: {events:#?}");
    assert!(events.iter().any(|e| e.visible_text().contains("finished after the bot restarted")));
    assert!(b.stop().await.success());
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let calling: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM writes WHERE state = 'calling'").fetch_one(&pool).await.unwrap();
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'disable' AND outcome = 'succeeded'").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!((calling, audited), (0, 1), "settled, with its outcome in the audit trail");
    assert_eq!(tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
    shared.db.finish().await;
}
