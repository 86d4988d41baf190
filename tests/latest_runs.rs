//! The watched runs of one job followed with one call for its latest runs: the calls per
//! interval, a run older than the answer reaches (asked about on its own, never dropped),
//! and an answer that fails (only that job's runs wait, counted as one failure).

mod common;

use std::time::Duration;

use common::bot::{ANALYST, example_config};
use common::paused::*;
use tailerbot::sim::{Fault, FaultKind};
use tailerbot::slack::standin::SlackEvent;

const STEP: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(900);
const IOWA: &str = "000099_iowa_liquor_prepare_pda_DEV";
const STOCK: &str = "000099_stock_enrich_failing_DEV";

fn channel(i: usize) -> String {
    format!("C0RUN{i:03}")
}

/// Whether the card in `channel` got its final status in its thread.
fn ended_in(events: &[SlackEvent], channel: &str) -> bool {
    let Some(card) = events.iter().find(|e| {
        e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel) && e.thread_ts.is_none() && e.text.contains("· run")
    }) else {
        return false;
    };
    let ts = card.ts.clone().unwrap_or_default();
    reply_statuses(events, &ts).iter().any(|s| s == "SUCCESS" || s == "FAILED")
}

/// `n` runs of `iowa-prepare` started as Tailer's schedule does, oldest first.
fn scheduled(bot: &PausedBot, n: usize) -> Vec<String> {
    (0..n).map(|_| bot.tailer.sim.start_scheduled_run(IOWA).expect("the simulator knows iowa-prepare")).collect()
}

/// Each run followed in a channel of its own.
async fn watch_each(bot: &PausedBot, runs: &[(usize, &String)]) {
    for (i, run) in runs {
        let (status, _) = bot.command(ANALYST, &channel(*i), &format!("watch iowa-prepare {run}")).await;
        assert_eq!(status, 200);
    }
}

/// The watcher's requests for these runs since `from` (the requests log's index).
fn polls(bot: &PausedBot, from: usize, runs: &[String]) -> (usize, usize) {
    let requests = bot.tailer.sim.requests();
    let later = &requests[from..];
    let own = later
        .iter()
        .filter(|r| r.action == "check_run_status")
        .filter(|r| r.body.get("run_id").and_then(|v| v.as_str()).is_some_and(|id| runs.iter().any(|run| run == id)))
        .count();
    let by_job = later.iter().filter(|r| r.action == "get_last_status").count();
    (own, by_job)
}

/// How many latest runs each of the jobs' calls since `from` asked for, in order.
fn limits(bot: &PausedBot, from: usize) -> Vec<u64> {
    bot.tailer.sim.requests()[from..]
        .iter()
        .filter(|r| r.action == "get_last_status")
        .map(|r| r.body.get("limit").and_then(|v| v.as_u64()).unwrap_or(0))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_runs_of_one_job_are_followed_with_one_call_a_pass_not_one_per_run() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let runs = scheduled(&bot, 5);
    watch_each(&bot, &runs.iter().enumerate().collect::<Vec<_>>()).await;
    let from = bot.tailer.sim.requests().len();
    let events = bot.run_until(STEP, LONG, |e| (0..5).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..5).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (own, by_job) = polls(&bot, from, &runs);
    assert_eq!(own, 0, "no run was asked about on its own");
    // 50 s of life at a 15 s interval: four or five passes, one call each.
    assert!((3..=6).contains(&by_job), "{by_job} calls for the job's latest runs");
}

#[tokio::test(start_paused = true)]
async fn a_run_followed_later_joins_its_jobs_call_at_its_next_pass() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let runs = scheduled(&bot, 5);
    watch_each(&bot, &runs[..4].iter().enumerate().collect::<Vec<_>>()).await;
    bot.step(STEP).await;
    let from = bot.tailer.sim.requests().len();
    watch_each(&bot, &[(4, &runs[4])]).await;
    let events = bot.run_until(STEP, LONG, |e| (0..5).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..5).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (own, _) = polls(&bot, from, &runs[4..]);
    // `watch` asking about it once, and its first poll (the others were polled 5 s
    // before); then with them.
    assert!(own <= 2, "the late run was asked about on its own {own} times");
}

#[tokio::test(start_paused = true)]
async fn a_jobs_answer_reaches_all_its_followed_runs_even_when_only_old_ones_are_due() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let runs = scheduled(&bot, 25);
    // The 23 newest followed first and polled; then the two oldest, due on their own.
    watch_each(&bot, &runs.iter().enumerate().skip(2).collect::<Vec<_>>()).await;
    bot.step(Duration::from_secs(10)).await;
    watch_each(&bot, &runs.iter().enumerate().take(2).collect::<Vec<_>>()).await;
    // (`watch` itself asks about the run once.)
    let from = bot.tailer.sim.requests().len();
    let events = bot.run_until(STEP, LONG, |e| (0..25).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..25).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (own, by_job) = polls(&bot, from, &runs[..2]);
    assert!(by_job >= 3);
    assert_eq!(own, 0, "the job's answer was asked for all 25 runs followed, not the 2 due");
}

#[tokio::test(start_paused = true)]
async fn a_watched_run_older_than_its_jobs_answer_reaches_still_gets_its_final_message() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    // 230 runs: an answer for two followed runs holds the newest 20, and asked again as
    // deep as an answer goes, the newest 200.
    let runs = scheduled(&bot, 230);
    let (oldest, newest) = (&runs[0], &runs[229]);
    watch_each(&bot, &[(0, oldest), (1, newest)]).await;
    let from = bot.tailer.sim.requests().len();
    let events = bot.run_until(STEP, LONG, |e| ended_in(e, &channel(0)) && ended_in(e, &channel(1))).await;
    assert!(ended_in(&events, &channel(0)), "the run beyond the answer reached its final message");
    assert!(ended_in(&events, &channel(1)), "the run in the answer reached its final message");
    let (own_oldest, by_job) = polls(&bot, from, std::slice::from_ref(oldest));
    let (own_newest, _) = polls(&bot, from, std::slice::from_ref(newest));
    assert!(by_job >= 2, "followed by the job's latest runs");
    assert!(own_oldest >= 2, "the old run was asked about on its own at each pass");
    assert_eq!(own_newest, 0, "the run the answer holds was not");
    let limits = limits(&bot, from);
    assert_eq!(limits[..2], [20, 200], "asked again as deep as an answer goes: {limits:?}");
    assert!(limits[2..].iter().all(|l| *l == 200), "then that deep at once, in one call a pass: {limits:?}");
}

#[tokio::test(start_paused = true)]
async fn runs_launched_since_the_runs_followed_make_the_jobs_answer_go_deeper_not_each_run_ask_alone() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    // 10 runs followed, then 30 more of the job that nobody follows: an answer for 10
    // runs (twice as many, 20) holds none of the 10.
    let runs = scheduled(&bot, 10);
    watch_each(&bot, &runs.iter().enumerate().collect::<Vec<_>>()).await;
    scheduled(&bot, 30);
    let from = bot.tailer.sim.requests().len();
    let events = bot.run_until(STEP, LONG, |e| (0..10).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..10).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (own, _) = polls(&bot, from, &runs);
    assert_eq!(own, 0, "no run was asked about on its own: the job's answer was asked again, deeper");
    let limits = limits(&bot, from);
    let deepest = limits.iter().position(|l| *l == 200).unwrap_or_else(|| panic!("asked again as deep as an answer goes: {limits:?}"));
    assert_eq!(limits.iter().filter(|l| **l == 200).count(), 1, "once: {limits:?}");
    assert!(limits.len() > deepest + 1, "polled again after: {limits:?}");
    assert!(
        limits[deepest + 1..].iter().all(|l| *l == 60),
        "then as deep as the oldest run followed was (40), and half again, in one call: {limits:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_jobs_failing_answer_holds_back_only_its_runs_and_counts_as_one_failure() {
    let bot = PausedBot::start(example_config(), slow_runs()).await;
    let runs = scheduled(&bot, 2);
    watch_each(&bot, &runs.iter().enumerate().collect::<Vec<_>>()).await;
    // Another job's run, alone: asked about on its own, untouched by the fault.
    bot.command(ANALYST, &channel(2), "launch stock-enrich").await;
    bot.tailer.sim.inject(Fault::new(Some("get_last_status"), FaultKind::Status { status: 500, message: "down".into() }, 3));
    let from = bot.tailer.sim.requests().len();
    let events = bot.run_until(STEP, LONG, |e| (0..3).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..3).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (_, _, tailer_errors) = bot.bot.stats().last_hour(bot.bot.now_ms());
    assert_eq!(tailer_errors, 3, "one failure per failed answer, not one per run");
    let failed: Vec<i64> =
        bot.tailer.sim.requests()[from..].iter().filter(|r| r.action == "get_last_status").take(3).map(|r| r.at_ms).collect();
    assert_eq!(failed.len(), 3);
    let (own, _) = polls(&bot, from, &runs);
    assert_eq!(own, 0, "its runs wait for the job's next answer, not asked about one by one");
    for pair in failed.windows(2) {
        assert!(pair[1] - pair[0] >= 15_000, "a failing job is asked again after a pause, not at once: {failed:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn jobs_due_together_that_a_pass_cannot_take_all_of_are_left_whole_to_the_next_not_split() {
    let mut config = example_config();
    // One poll at a time: a pass claims 4 runs due and takes 64 runs at most.
    config.watch.max_concurrent_polls = 1;
    let bot = PausedBot::start(config, slow_runs()).await;
    // 40 runs of each of two jobs, followed in turns: the first runs due are of both.
    let stock = (0..40).map(|_| bot.tailer.sim.start_scheduled_run(STOCK).expect("the simulator knows stock-enrich"));
    let iowa = scheduled(&bot, 40);
    let runs: Vec<(String, &str)> = iowa.into_iter().zip(stock).flat_map(|(a, b)| [(a, "iowa-prepare"), (b, "stock-enrich")]).collect();
    for (i, (run, job)) in runs.iter().enumerate() {
        let (status, _) = bot.command(ANALYST, &channel(i), &format!("watch {job} {run}")).await;
        assert_eq!(status, 200);
    }
    let from = bot.tailer.sim.requests().len();
    let all: Vec<String> = runs.iter().map(|(run, _)| run.clone()).collect();
    // Two passes: one job whole in each, 80 runs in two calls.
    bot.step(Duration::from_millis(10)).await;
    bot.step(Duration::from_millis(10)).await;
    let (own, by_job) = polls(&bot, from, &all);
    let jobs: Vec<String> = bot.tailer.sim.requests()[from..]
        .iter()
        .filter(|r| r.action == "get_last_status")
        .filter_map(|r| r.body.get("configuration_id").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    assert_eq!((own, by_job), (0, 2), "each job asked about once, whole, in its own pass: {jobs:?}");
    assert_ne!(jobs[0], jobs[1], "a call for each job");
    let events = bot.run_until(STEP, LONG, |e| (0..80).all(|i| ended_in(e, &channel(i)))).await;
    assert!((0..80).all(|i| ended_in(&events, &channel(i))), "every run reached its final message");
    let (own, _) = polls(&bot, from, &all);
    assert_eq!(own, 0, "no run was asked about on its own");
}
