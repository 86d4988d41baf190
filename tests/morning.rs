//! The morning, against the real binary: an expectation missed, then met, with a deploy
//! (SIGTERM) and a crash (`kill -9`) between, and with two replicas: one alert per job,
//! channel and day, and one late success in its thread. The daily digest likewise: one
//! post per channel and day, its chart once in its thread, through a crash just after
//! Slack took the post, a deploy, a `kill -9`, and with two replicas.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::life::World;
use common::process::command_answer;
use tailerbot::sim::SimOptions;
use tailerbot::slack::standin::SlackEvent;

const ANALYST: &str = "U0ANALYST";
const ROOM: &str = "C0MORNING";
const LAUNCHES: &str = "C0LAUNCH";
const LIMIT: Duration = Duration::from_secs(30);

const DIGESTS: &str = "C0DIGESTS";
const EXPECTATIONS_CHECKED: &str = "expectations_checked";
const DIGESTS_CHECKED: &str = "digests_checked";

/// `expect iowa-prepare by <this minute>` in a zone where it is about noon: its time
/// today has just passed, so the next look decides the day.
fn expect_now(now: DateTime<Utc>) -> String {
    let (at, zone) = common::paused::time_in(now, 0);
    format!("expect iowa-prepare by {at} {zone}")
}

fn alerts(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(ROOM) && e.thread_ts.is_none())
        .filter(|e| e.visible_text().contains("has not succeeded today"))
        .collect()
}

fn replies<'e>(events: &'e [SlackEvent], ts: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.as_deref() == Some(ts)).collect()
}

fn no_history() -> SimOptions {
    SimOptions { history: 0, ..World::quick() }
}

/// Waits until the bot has made `n` whole passes (over the expectations, or the digests:
/// the `marker`) that began after this call (the store's marker moved `n + 1` times).
async fn passes(world: &World, marker: &str, n: usize) {
    let deadline = std::time::Instant::now() + LIMIT;
    let sql = format!("SELECT COALESCE(MAX(value), 0) FROM markers WHERE key = '{marker}'");
    let sql = sql.as_str();
    let mut last = world.scalar(sql).await;
    for _ in 0..=n {
        loop {
            let now = world.scalar(sql).await;
            if now > last {
                last = now;
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the bot did not pass over `{marker}` again within {LIMIT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expectation_missed_then_met_lives_through_a_deploy_and_a_crash() {
    let world = World::with_sim(no_history()).await;
    let respond = world.slack.response_url("morning");
    let life = world.life().await;
    let (status, answer) = command_answer(&life.url, &respond, "1.m.1", ANALYST, ROOM, &expect_now(Utc::now())).await;
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("expects `iowa-prepare`"), "{answer}");
    let events = world.slack.slack.wait_for(LIMIT, |e| !alerts(e).is_empty()).await;
    assert_eq!(alerts(&events).len(), 1, "the day is alerted");
    let ts = alerts(&events)[0].ts.clone().unwrap();

    // A deploy: the next life looks again and says nothing more.
    assert!(life.stop().await.success());
    let life = world.life().await;
    passes(&world, EXPECTATIONS_CHECKED, 2).await;
    world.drained().await;
    assert_eq!(alerts(&world.slack.slack.events()).len(), 1, "one alert across a deploy");

    // The job runs, and the bot is killed before it can say so: the next life says it.
    let (status, _) = command_answer(&life.url, &respond, "1.m.2", ANALYST, LAUNCHES, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, LIMIT).await, 1);
    life.kill_hard();
    let life = world.life().await;
    let edited = |e: &SlackEvent| e.method == "chat.update" && e.ts.as_deref() == Some(ts.as_str());
    let events = world.slack.slack.wait_for(LIMIT, |e| !replies(e, &ts).is_empty() && e.iter().any(edited)).await;
    let said = replies(&events, &ts);
    assert_eq!(said.len(), 1, "the late success, in the alert's thread");
    assert!(said[0].visible_text().contains("succeeded") && said[0].visible_text().contains("late"), "{}", said[0].visible_text());
    let edited = events.iter().rev().find(|e| edited(e));
    assert!(edited.is_some_and(|e| e.visible_text().contains("succeeded")), "the alert is edited");

    // Another deploy: nothing is said twice.
    assert!(life.stop().await.success());
    let life = world.life().await;
    passes(&world, EXPECTATIONS_CHECKED, 2).await;
    world.drained().await;
    let events = world.slack.slack.events();
    assert_eq!((alerts(&events).len(), replies(&events, &ts).len()), (1, 1), "each said once");
    assert!(life.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_say_a_missed_expectation_once_and_its_late_success_once() {
    let world = World::postgres().await;
    let respond = world.slack.response_url("replicas");
    let (first, second) = (world.life().await, world.life().await);
    // iowa-prepare's only run in the simulator is the documented one of 2020 (no history
    // is made up for a data operation that has runs).
    let (status, _) = command_answer(&first.url, &respond, "1.r.1", ANALYST, ROOM, &expect_now(Utc::now())).await;
    assert_eq!(status, 200);
    let events = world.slack.slack.wait_for(LIMIT, |e| !alerts(e).is_empty()).await;
    let ts = alerts(&events)[0].ts.clone().unwrap();
    passes(&world, EXPECTATIONS_CHECKED, 3).await;
    world.drained().await;
    assert_eq!(alerts(&world.slack.slack.events()).len(), 1, "one alert from two replicas");

    let (status, _) = command_answer(&second.url, &respond, "1.r.2", ANALYST, LAUNCHES, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    first.kill_hard();
    let events = world.slack.slack.wait_for(LIMIT, |e| !replies(e, &ts).is_empty()).await;
    assert_eq!(replies(&events, &ts).len(), 1, "the late success, once");
    let third = world.life().await;
    passes(&world, EXPECTATIONS_CHECKED, 3).await;
    world.drained().await;
    let events = world.slack.slack.events();
    assert_eq!((alerts(&events).len(), replies(&events, &ts).len()), (1, 1), "each said once");
    assert!(second.stop().await.success());
    assert!(third.stop().await.success());
    world.finish().await;
}

fn digests(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(DIGESTS) && e.thread_ts.is_none())
        .filter(|e| e.visible_text().contains("Daily digest for"))
        .collect()
}

/// The charts under a digest.
fn charts(events: &[SlackEvent], ts: &str) -> usize {
    events.iter().filter(|e| e.method == "files.completeUploadExternal" && e.thread_ts.as_deref() == Some(ts)).count()
}

/// `digest at <this minute>` for a channel that follows the failing `stock-enrich`,
/// made as if it had been set yesterday: its time today has just passed, so the next
/// look posts today's.
async fn digest_due_now(world: &World, url: &str) {
    let respond = world.slack.response_url("digest");
    let (status, _) = command_answer(url, &respond, "1.d.1", ANALYST, DIGESTS, "subscribe stock-enrich").await;
    assert_eq!(status, 200);
    let (at, zone) = common::paused::time_in(Utc::now(), 0);
    let (status, answer) = command_answer(url, &respond, "1.d.2", ANALYST, DIGESTS, &format!("digest at {at} {zone}")).await;
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("gets a digest every day"), "{answer}");
    let backdated = world.scalar("UPDATE digests SET created_at = 0 RETURNING CAST(1 AS BIGINT)").await;
    assert_eq!(backdated, 1);
}

/// Once the digest and its chart are out: one of each, after `n` more passes.
async fn once(world: &World, n: usize) {
    passes(world, DIGESTS_CHECKED, n).await;
    world.drained().await;
    let events = world.slack.slack.events();
    let found = digests(&events);
    assert_eq!(found.len(), 1, "one digest: {:?}", found.iter().map(|e| e.visible_text()).collect::<Vec<_>>());
    assert!(found[0].visible_text().contains("`stock-enrich` (DEV)*\n:x: 3 of 3 runs failed"), "{}", found[0].visible_text());
    assert_eq!(charts(&events, found[0].ts.as_deref().unwrap()), 1, "its chart, once, in its thread");
    assert_eq!(world.scalar("SELECT COUNT(*) FROM digest_days").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_is_posted_once_through_a_crash_after_slack_took_it_a_deploy_and_a_kill() {
    let world = World::new().await;
    // Dies just after Slack took its first post (the digest), before recording it.
    let doomed = world.doomed(tailerbot::crash::AFTER_SLACK_POST).await;
    digest_due_now(&world, &doomed.url).await;
    assert!(!doomed.died(LIMIT).await.success(), "died after the post");
    assert_eq!(digests(&world.slack.slack.events()).len(), 1, "Slack took the digest before the crash");

    // The next life finds it in Slack (it does not post it again) and sends its chart.
    let life = world.life().await;
    world.slack.slack.wait_for(LIMIT, |e| digests(e).first().is_some_and(|d| charts(e, d.ts.as_deref().unwrap()) == 1)).await;
    once(&world, 2).await;
    // A deploy, then a crash: nothing is posted again.
    assert!(life.stop().await.success());
    let life = world.life().await;
    once(&world, 2).await;
    life.kill_hard();
    let life = world.life().await;
    once(&world, 2).await;
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_post_a_digest_once_and_a_third_after_a_crash_does_not_repeat_it() {
    let world = World::postgres().await;
    let (first, second) = (world.life().await, world.life().await);
    digest_due_now(&world, &first.url).await;
    world.slack.slack.wait_for(LIMIT, |e| digests(e).first().is_some_and(|d| charts(e, d.ts.as_deref().unwrap()) == 1)).await;
    once(&world, 3).await;
    first.kill_hard();
    let third = world.life().await;
    once(&world, 3).await;
    assert!(second.stop().await.success());
    assert!(third.stop().await.success());
    world.finish().await;
}
