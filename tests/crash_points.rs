//! The crash points (`tailerbot::crash`), each visited by the real binary on one SQLite
//! file: the process dies there (as `kill -9` would), the next start runs on the same
//! database, and then what the bot promises still holds: every launch made once with one
//! card and each status once in its thread, every write finished with one answer and
//! an audit outcome, a re-enable made, nothing left in the journal or the outbox.

mod common;

use std::time::Duration;

use common::bot::{CHANNEL, LEAD, ONCALL, as_event};
use common::life::World;
use common::process::*;
use tailerbot::crash;
use tailerbot::slack::standin::SlackEvent;

const SALES: &str = "000099_sales_daily_PROD";
const IOWA: &str = "000099_iowa_liquor_prepare_pda_DEV";

fn card_count(events: &[SlackEvent]) -> usize {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).count()
}

fn statuses(events: &[SlackEvent], status: &str) -> usize {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_some() && e.visible_text().contains(status)).count()
}

/// A launch from chat, followed to its end, with a crash at `point` on the way.
async fn a_launch_survives(point: &str) {
    let world = World::new().await;
    let doomed = world.doomed(point).await;
    let status = command(&doomed.url, &world.slack.response_url("l"), "1.l.1", "U0ANALYST", CHANNEL, "launch iowa-prepare").await;
    // A launch that Tailer answers at once is answered in the acknowledgement: dying
    // right after Tailer's answer, the process may take that answer with it (Slack would
    // show an error; the run is still followed).
    assert!(status == 200 || (point == crash::AFTER_TAILER_LAUNCH && status == 0), "answered: {status} ({point})");
    assert!(!doomed.died(Duration::from_secs(20)).await.success(), "died at {point}");

    let life = world.life().await;
    world.slack.slack.wait_for(Duration::from_secs(30), |e| statuses(e, "*SUCCESS*") >= 1).await;
    world.drained().await;
    assert!(life.stop().await.success());
    let events = world.slack.slack.events();
    assert_eq!(world.tailer.sim.count("launch_job"), 1, "launched once ({point})");
    assert_eq!(card_count(&events), 1, "one card ({point}): {events:#?}");
    assert_eq!(statuses(&events, "*SUCCESS*"), 1, "the final status once ({point})");
    assert!(statuses(&events, "*RUNNING*") <= 1 && statuses(&events, "*WAITING*") <= 1, "no status twice ({point})");
    world.invariants_hold().await;
}

/// A confirmed timed disable in PROD, with a crash at `point` after the click.
async fn a_confirmed_disable_survives(point: &str) {
    let world = World::new().await;
    let doomed = world.doomed(point).await;
    let (_, question) =
        command_answer(&doomed.url, &world.slack.response_url("ask"), "1.ask.1", LEAD, CHANNEL, "disable sales-daily for 2h late").await;
    let question = as_event(&question);
    // The click's answer may be lost with the process: Slack would show an error.
    click(&doomed.url, &world.slack.response_url("click"), "1.click.1", ONCALL, &question, "Confirm").await;
    assert!(!doomed.died(Duration::from_secs(20)).await.success(), "died at {point}");
    assert_eq!(world.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await, 1, "the re-enable exists ({point})");

    let life = world.life().await;
    let answered = |e: &[SlackEvent]| {
        e.iter().filter(|e| e.method == "response_url" && e.visible_text().contains("Disabled `sales-daily` (PROD) until")).count()
    };
    world.slack.slack.wait_for(Duration::from_secs(20), |e| answered(e) >= 1).await;
    world.drained().await;
    assert!(life.stop().await.success());
    let events = world.slack.slack.events();
    assert_eq!(answered(&events), 1, "one answer ({point}): {events:#?}");
    assert_eq!(world.tailer.sim.is_activated(SALES), Some(false), "disabled ({point})");
    // Cut off after Tailer's answer, the next start cannot know it was done: the write,
    // repeatable, is sent once more (never more); at any other point, once.
    let calls = if point == crash::AFTER_TAILER_WRITE { 2 } else { 1 };
    assert_eq!(world.tailer.sim.count("set_configuration_status"), calls, "Tailer's calls across the crash ({point})");
    assert_eq!(world.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await, 1, "its re-enable still pending ({point})");
    world.invariants_hold().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_a_claim_loses_no_status_and_repeats_none() {
    a_launch_survives(crash::AFTER_CLAIM).await;
}

/// Tailer started the run and the bot died before noting it: the next start finds the
/// run once the dead process's claim on the launch runs out, and follows it; Tailer is
/// never asked to launch again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_tailer_started_a_launched_run_follows_that_run_and_never_launches_again() {
    a_launch_survives(crash::AFTER_TAILER_LAUNCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_a_slack_post_before_it_is_marked_sent_posts_it_once() {
    a_launch_survives(crash::AFTER_SLACK_POST).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_a_confirmation_is_marked_finishes_the_write() {
    a_confirmed_disable_survives(crash::AFTER_CONFIRMATION).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_tailer_answered_a_write_finishes_it_and_answers_once() {
    a_confirmed_disable_survives(crash::AFTER_TAILER_WRITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_after_a_timer_fired_re_enables_and_says_so_once() {
    let world = World::new().await;
    let first = world.life().await;
    assert_eq!(
        command(&first.url, &world.slack.response_url("d"), "1.d.1", "U0ANALYST", CHANNEL, "disable iowa-prepare for 1m x").await,
        200
    );
    world.slack.slack.wait_for(Duration::from_secs(20), |e| e.iter().any(|e| e.visible_text().contains("Disabled `iowa-prepare`"))).await;
    world.drained().await;
    assert!(first.stop().await.success());
    let pool = sqlx::SqlitePool::connect(&world.db).await.unwrap();
    sqlx::query("UPDATE timers SET due_at = 0 WHERE state = 'pending'").execute(&pool).await.unwrap();
    pool.close().await;

    let doomed = world.doomed(crash::AFTER_TIMER_FIRED).await;
    assert!(!doomed.died(Duration::from_secs(20)).await.success(), "died after the re-enable");
    assert_eq!(world.tailer.sim.is_activated(IOWA), Some(true), "re-enabled before the crash");

    let life = world.life().await;
    let said = |e: &[SlackEvent]| e.iter().filter(|e| e.visible_text().contains("Re-enabled `iowa-prepare`")).count();
    world.slack.slack.wait_for(Duration::from_secs(20), |e| said(e) >= 1).await;
    world.drained().await;
    assert!(life.stop().await.success());
    assert_eq!(said(&world.slack.slack.events()), 1, "said once in the thread");
    assert_eq!(world.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await, 0);
    assert_eq!(world.tailer.sim.is_activated(IOWA), Some(true));
    world.invariants_hold().await;
}

#[test]
fn every_crash_point_has_a_test_here() {
    let source = include_str!("crash_points.rs");
    for point in crash::ALL {
        let constant = match point {
            crash::AFTER_CLAIM => "crash::AFTER_CLAIM)",
            crash::AFTER_TAILER_LAUNCH => "crash::AFTER_TAILER_LAUNCH)",
            crash::AFTER_TAILER_WRITE => "crash::AFTER_TAILER_WRITE)",
            crash::AFTER_SLACK_POST => "crash::AFTER_SLACK_POST)",
            crash::AFTER_TIMER_FIRED => "crash::AFTER_TIMER_FIRED)",
            crash::AFTER_CONFIRMATION => "crash::AFTER_CONFIRMATION)",
            other => panic!("a crash point without a test: {other}"),
        };
        assert!(source.contains(constant), "{point} is visited");
    }
}
