//! The lifecycle soak: a seeded, repeatable script of launches, disables and enables
//! (confirmed ones too) and a subscription, against the simulator and the Slack
//! stand-in, with the bot restarted at random moments (SIGTERM, `kill -9`, or a life
//! armed to die at a crash point, the points taken in turn): one process on SQLite, or
//! three replicas on PostgreSQL. A point the steps did not reach is visited after them
//! (every life armed at it, and what reaches it asked until one dies there), so that each
//! soak dies at every point, a launch cut off after Tailer started its run included. At
//! the end every launch was made once (every run Tailer started is named by one launch
//! the bot noted) with one card and one final status in its thread, every run was
//! announced once in the subscribed channel, every write has an audit outcome, and
//! nothing is left in the outbox or the journals. One exception, counted as `ambiguous`:
//! launches of the job cut off together (the soak launches it often, a second apart)
//! may leave runs that two of them or more could each have started; nothing Tailer
//! returns tells them apart, so each of their channels is told to check instead.
//!
//! A soak is a number of steps (`SOAK_STEPS`), each drawn from the seed (`SOAK_SEED`):
//! the same seed replays the same script. `cargo test` runs both soaks for 100 steps
//! with seed 7 (about a minute each: the visit of the timer's point waits for a timed
//! re-enable to come due); `bench/soak.sh` runs them longer with a drawn seed. Each fails
//! when an activity falls below its floor (launches, confirmations, timed re-enables,
//! restarts, kills, crashes during the steps, announcements): a soak that did nothing
//! proves nothing. A failure prints its seed and how to replay it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::bot::{LEAD, ONCALL, as_event};
use common::life::{World, announced};
use common::process::*;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tailerbot::crash;
use tailerbot::slack::standin::SlackEvent;

const SUBS: &str = "C0SOAKSUBS";

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The run of each card (`iowa-prepare · run <id>`) and its thread's root.
fn cards(events: &[SlackEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.starts_with("iowa-prepare "))
        .filter_map(|e| {
            let run = e.text.split(" · run ").nth(1)?.split_whitespace().next()?.to_owned();
            Some((run, e.ts.clone()?))
        })
        .collect()
}

/// The runs no launch names that two launches or more, each settled as "cannot tell
/// which run", could each have started (a launch can own a run stamped from its second,
/// less two, to a minute after it): nothing Tailer returns tells them apart, and each of
/// their channels was told to check. One launch alone that gave up on a run it could own
/// explains nothing: that run is lost.
async fn ambiguous_runs(world: &World, started: &[String]) -> BTreeSet<String> {
    let named: BTreeSet<String> =
        world.rows::<(String,)>("SELECT run_id FROM launches WHERE run_id IS NOT NULL").await.into_iter().map(|(run,)| run).collect();
    let unknown: Vec<i64> = world
        .rows::<(i64,)>("SELECT started_at FROM launches WHERE state = 'unknown'")
        .await
        .into_iter()
        .map(|(at,)| at.div_euclid(1_000))
        .collect();
    let stamp = |run: &str| {
        let stamp = run.get(..15)?;
        Some(chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").ok()?.and_utc().timestamp())
    };
    started
        .iter()
        .filter(|run| !named.contains(*run))
        .filter(|run| stamp(run).is_some_and(|second| unknown.iter().filter(|&&at| at - 2 <= second && second <= at + 60).count() >= 2))
        .cloned()
        .collect()
}

const FINALS: [&str; 3] = ["SUCCESS", "FAILED", "DEACTIVATED"];

/// The statuses told in a card's thread, in order.
fn statuses_in(events: &[SlackEvent], root: &str) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.thread_ts.as_deref() == Some(root))
        .map(SlackEvent::visible_text)
        .filter_map(|t| ["WAITING", "RUNNING"].into_iter().chain(FINALS).find(|s| t.contains(&format!("*{s}*"))))
        .collect()
}

fn finals_in(events: &[SlackEvent], root: &str) -> Vec<&'static str> {
    statuses_in(events, root).into_iter().filter(|s| FINALS.contains(s)).collect()
}

/// How a soak ends its lives, and what it counted.
#[derive(Default)]
struct Counts {
    steps: u64,
    restarts: u64,
    kills: u64,
    /// Lives armed at a crash point.
    armed: usize,
    /// Deaths at each crash point (the process said it reached it).
    crashes: BTreeMap<String, u64>,
    /// Of those, the deaths during the seeded steps (the rest: visits at the end).
    in_steps: u64,
}

impl Counts {
    /// Counts the lives that died at their crash point, and starts each again.
    async fn crashed(&mut self, world: &World, lives: &mut [Serve], doomed: &mut [bool]) {
        for (life, doomed) in lives.iter_mut().zip(doomed.iter_mut()) {
            if *doomed && let Some(point) = life.crashed_at() {
                *self.crashes.entry(point).or_default() += 1;
                *life = world.life().await;
                *doomed = false;
            }
        }
    }
}

/// A PROD write that a rule wants confirmed, asked on `url` and confirmed on `clicker`.
async fn confirmed_write(world: &World, url: &str, clicker: &str, trigger: &str, channel: &str, disable: bool) {
    let verb = if disable { "disable sales-daily incident" } else { "enable sales-daily" };
    let (status, question) = command_answer(url, &world.slack.response_url(trigger), trigger, LEAD, channel, verb).await;
    let mut question = as_event(&question);
    // A question with its buttons (not a refusal of a double submit).
    if status == 200 && question.button("Confirm").is_some() {
        question.channel = Some(channel.to_owned());
        let click_trigger = format!("{trigger}.click");
        click(clicker, &world.slack.response_url(&click_trigger), &click_trigger, ONCALL, &question, "Confirm").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_bot_lives_through_random_restarts_and_crashes_without_losing_or_repeating_anything() {
    soak(World::new().await, 1, "on_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_postgres_replicas_live_through_random_restarts_and_crashes_without_losing_or_repeating_anything() {
    soak(World::postgres().await, 3, "three_postgres").await;
}

async fn soak(world: World, replicas: usize, name: &str) {
    // `cargo test` runs a short soak with a fixed seed; a longer one draws its seed.
    let planned = env_u64("SOAK_STEPS").unwrap_or(100);
    let seed = env_u64("SOAK_SEED").unwrap_or_else(|| if env_u64("SOAK_STEPS").is_some() { rand::rng().random() } else { 7 });
    let replay = format!("replay: SOAK_SEED={seed} SOAK_STEPS={planned} cargo test --test soak {name} -- --nocapture");
    let mut rng = SmallRng::seed_from_u64(seed);
    // The crash points are armed in turn, in an order drawn from the seed.
    let mut points = crash::ALL.to_vec();
    points.shuffle(&mut rng);

    let mut lives = Vec::new();
    for _ in 0..replicas {
        lives.push(world.life().await);
    }
    let mut doomed = vec![false; replicas];
    let first = &lives[0].url;
    assert_eq!(command(first, &world.slack.response_url("sub"), "0.sub.0", "U0ANALYST", SUBS, "subscribe iowa-prepare").await, 200);
    let mut counts = Counts::default();
    while counts.steps < planned {
        counts.steps += 1;
        let steps = counts.steps;
        let trigger = format!("{steps}.soak.{seed}");
        let channel = format!("C0SOAK{}", rng.random_range(0..3));
        // A person per step: the same write twice within a minute is a double submit.
        let user = format!("U0SOAK{steps}");
        let i = rng.random_range(0..replicas);
        let url = lives[i].url.clone();
        match rng.random_range(0..22) {
            0..=9 => {
                command(&url, &world.slack.response_url(&trigger), &trigger, &user, &channel, "launch iowa-prepare").await;
            }
            10..=12 => {
                // Never the launched job (a launch of a job switched off waits for a click);
                // timed disables on a job nobody enables by hand, so that their re-enables
                // come due.
                let verb =
                    ["disable iowa-stores-files", "enable iowa-stores-files", "disable stock-enrich for 1m soak"][rng.random_range(0..3)];
                command(&url, &world.slack.response_url(&trigger), &trigger, &user, &channel, verb).await;
            }
            13..=14 => {
                let disable = rng.random_bool(0.5);
                let clicker = lives[rng.random_range(0..replicas)].url.clone();
                confirmed_write(&world, &url, &clicker, &trigger, &channel, disable).await;
            }
            15..=16 => {
                counts.restarts += 1;
                // One SQLite process at a time; replicas roll: the new one first.
                let status = if replicas == 1 {
                    let status = lives[i].terminate().await;
                    lives[i] = world.life().await;
                    status
                } else {
                    let next = world.life().await;
                    std::mem::replace(&mut lives[i], next).terminate().await
                };
                assert!(status.success() || doomed[i], "a clean stop: {status:?} ({replay})");
                doomed[i] = false;
            }
            17..=18 => {
                counts.kills += 1;
                lives[i].kill_now();
                lives[i] = world.life().await;
                doomed[i] = false;
            }
            _ => {
                // A life that dies when it first reaches its crash point (if it does).
                let point = points[counts.armed % points.len()];
                counts.armed += 1;
                lives[i].kill_now();
                lives[i] = world.doomed(point).await;
                doomed[i] = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        counts.crashed(&world, &mut lives, &mut doomed).await;
    }
    counts.in_steps = counts.crashes.values().sum();
    // Each point the steps did not reach is visited now: every life is armed at it, and
    // what reaches it is asked until one dies there.
    for point in points {
        if counts.crashes.get(point).is_some_and(|n| *n > 0) {
            continue;
        }
        for (life, doomed) in lives.iter_mut().zip(doomed.iter_mut()) {
            life.kill_now();
            *life = world.doomed(point).await;
            *doomed = true;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        let mut tries = 0u64;
        while counts.crashes.get(point).is_none_or(|n| *n == 0) {
            assert!(std::time::Instant::now() < deadline, "no life died at `{point}` within 90 s of being armed at it ({replay})");
            tries += 1;
            let trigger = format!("{tries}.visit.{seed}");
            let user = format!("U0VISIT{tries}");
            let url = lives[0].url.clone();
            let response_url = world.slack.response_url(&trigger);
            let say = |text: &'static str| command(&url, &response_url, &trigger, &user, "C0SOAK0", text);
            match point {
                crash::AFTER_TIMER_FIRED => {
                    if world.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await == 0 {
                        say("disable stock-enrich for 1m soak").await;
                    }
                }
                crash::AFTER_TAILER_WRITE => {
                    say(if tries % 2 == 1 { "disable iowa-stores-files" } else { "enable iowa-stores-files" }).await;
                }
                crash::AFTER_CONFIRMATION => confirmed_write(&world, &url, &url, &trigger, "C0SOAK0", tries % 2 == 1).await,
                _ => {
                    say("launch iowa-prepare").await;
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            counts.crashed(&world, &mut lives, &mut doomed).await;
        }
        println!("soak: visited {point} after {tries} tries");
    }
    for (life, doomed) in lives.iter_mut().zip(doomed.iter()) {
        if *doomed {
            life.kill_now();
            *life = world.life().await;
        }
    }

    // The last life finishes everything. Interrupted launches first: each follows its
    // run, or tells its channel that it cannot tell which run it started.
    world.journals_settled(Duration::from_secs(60)).await;
    let launched = world.tailer.sim.count("launch_job");
    let started = world.tailer.sim.started_runs();
    let ambiguous = ambiguous_runs(&world, &started).await;
    // Then every other run is on a card, ends and is told.
    let settled = |e: &[SlackEvent]| {
        let cards = cards(e);
        started.iter().filter(|run| !ambiguous.contains(*run)).all(|run| cards.iter().any(|(card, _)| card == run))
            && cards.iter().all(|(run, root)| !finals_in(e, root).is_empty() && announced(e, SUBS, run) >= 1)
    };
    if let Err(events) = world.slack.slack.within(Duration::from_secs(60), settled).await {
        let cards = cards(&events);
        let untold: Vec<String> = cards
            .iter()
            .filter(|(run, root)| finals_in(&events, root).is_empty() || announced(&events, SUBS, run) == 0)
            .map(|(run, root)| format!("{run}: finals {:?}, announced {}", finals_in(&events, root), announced(&events, SUBS, run)))
            .collect();
        let notes: Vec<String> = events.iter().map(SlackEvent::visible_text).filter(|t| t.contains("interrupted")).collect();
        panic!(
            "after 60 s, {} cards for {launched} runs launched; runs not told to their end: {untold:#?}; notes: {notes:#?}; the recoveries: {:#?}; errors: {:#?} ({replay})",
            cards.len(),
            world.logged("recover_launch"),
            world.logged(" ERROR ").iter().filter(|l| l.contains("launch") || l.contains("run")).collect::<Vec<_>>()
        );
    }
    // Timed disables made in the last minute come due; their re-enables are told.
    world.timers_fired(Duration::from_secs(90)).await;
    world.journals_settled(Duration::from_secs(60)).await;
    world.drained().await;
    for mut life in lives {
        assert!(life.terminate().await.success(), "the last lives stop cleanly ({replay})");
    }

    let events = world.slack.slack.events();
    let cards = cards(&events);
    let mut per_run: BTreeMap<&str, usize> = BTreeMap::new();
    for (run, _) in &cards {
        *per_run.entry(run).or_default() += 1;
    }
    let uncarded: Vec<&String> = started.iter().filter(|run| !per_run.contains_key(run.as_str()) && !ambiguous.contains(*run)).collect();
    let mut lost = uncarded.len();
    let mut duplicated = per_run.values().map(|n| n - 1).sum::<usize>() + per_run.len().saturating_sub(launched);
    // What went wrong, each with the posts involved, for the failure message.
    let mut findings: Vec<String> =
        uncarded.iter().map(|run| format!("run {run}: no card, and no two launches that could have started it told to check")).collect();
    findings.extend(per_run.iter().filter(|(_, n)| **n > 1).map(|(run, n)| {
        let posts: Vec<String> = events
            .iter()
            .filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains(run))
            .map(|e| format!("{:?} at {} ts {:?}", e.channel, e.at_ms, e.ts))
            .collect();
        format!("run {run}: {n} cards: {posts:?}")
    }));
    for (run, root) in &cards {
        let finals = finals_in(&events, root);
        let announced = announced(&events, SUBS, run);
        lost += usize::from(finals.is_empty()) + usize::from(announced == 0);
        duplicated += finals.len().saturating_sub(1) + announced.saturating_sub(1);
        if finals.len() != 1 {
            findings.push(format!("run {run}: final status posted {} times in its thread: {finals:?}", finals.len()));
        }
        if announced != 1 {
            findings.push(format!("run {run}: announced {announced} times in {SUBS}"));
        }
        let told = statuses_in(&events, root);
        for status in ["WAITING", "RUNNING"] {
            let n = told.iter().filter(|s| **s == status).count();
            duplicated += n.saturating_sub(1);
            if n > 1 {
                findings.push(format!("run {run}: {status} told {n} times: {told:?}"));
            }
        }
    }
    // Each timed disable that came due was re-enabled, said once in its thread, on time.
    let timers = world.timers_done().await;
    let mut late_ms = 0;
    for (due, root) in &timers {
        let said: Vec<&SlackEvent> =
            events.iter().filter(|e| e.thread_ts.is_some() && e.thread_ts == *root && e.visible_text().contains("Re-enabled `")).collect();
        lost += usize::from(said.is_empty());
        duplicated += said.len().saturating_sub(1);
        if said.len() != 1 {
            findings.push(format!("the re-enable due at {due} was said {} times in its thread {root:?}", said.len()));
        }
        late_ms = said.iter().map(|e| e.at_ms - due).fold(late_ms, i64::max);
    }
    // No confirmation acted twice, none lost.
    let confirmed = world.scalar("SELECT COUNT(*) FROM confirmations WHERE state = 'confirmed'").await;
    let confirmed_writes = world.scalar("SELECT COUNT(*) FROM writes WHERE confirmed_by IS NOT NULL").await;
    if confirmed != confirmed_writes {
        findings.push(format!("{confirmed} confirmations confirmed, {confirmed_writes} writes made of them"));
        duplicated += usize::try_from(confirmed_writes - confirmed).unwrap_or(0);
        lost += usize::try_from(confirmed - confirmed_writes).unwrap_or(0);
    }
    let stuck = world.scalar("SELECT COUNT(*) FROM writes WHERE state = 'calling'").await
        + world.scalar("SELECT COUNT(*) FROM launches WHERE state = 'calling'").await
        + world.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await
        + world.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await;
    // Every run Tailer started is the run of one launch the bot noted, or one that
    // launches cut off together could each have started: a launch made again after a
    // crash would start a run that no launch names.
    let noted = world.scalar("SELECT COUNT(DISTINCT run_id) FROM launches WHERE run_id IS NOT NULL").await;
    let explained = usize::try_from(noted).unwrap_or(0) + ambiguous.len();
    if explained != launched || started.len() != launched {
        findings.push(format!(
            "Tailer started {launched} runs ({} listed); the bot's launches name {noted}, and {} are told ambiguous",
            started.len(),
            ambiguous.len()
        ));
        duplicated += launched.saturating_sub(explained);
    }
    let Counts { steps, restarts, kills, crashes, in_steps, .. } = counts;
    println!(
        "soak: {name} seed={seed} steps={steps} restarts={restarts} kills={kills} crashes={crashes:?} crashes_in_steps={in_steps} launches={launched} ambiguous={} confirmed={confirmed} re_enabled={} re_enable_late_ms_max={late_ms} lost={lost} duplicated={duplicated} stuck={stuck}",
        ambiguous.len(),
        timers.len()
    );
    assert_eq!((lost, duplicated, stuck), (0, 0, 0), "{findings:#?}\n{replay}");
    // Floors: a soak that did not do these things proved nothing about them.
    let floors = [
        ("launches", launched as u64, planned / 5),
        ("confirmed writes", confirmed as u64, 1),
        ("timed re-enables", timers.len() as u64, 1),
        ("restarts", restarts, 1),
        ("kills", kills, 1),
        ("crashes at a crash point during the steps", in_steps, planned / 25),
        ("runs announced", cards.len() as u64, planned / 5),
    ];
    let below: Vec<String> =
        floors.iter().filter(|(_, n, floor)| n < floor).map(|(what, n, floor)| format!("{what}: {n}, below {floor}")).collect();
    assert!(below.is_empty(), "too little happened: {below:?} ({replay})");
    // A timer is polled every second; a restart or a takeover (2 s leases) may come between.
    assert!(late_ms <= 10_000, "a re-enable came {late_ms} ms after its time ({replay})");
    world.invariants_hold().await;
    world.finish().await;
}
