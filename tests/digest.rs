//! The daily digest with a paused clock: one post a day in the channel, at its time, on
//! the jobs the channel follows (failures linked, expectations, what is disabled), with the
//! failing jobs' charts in its thread; compact whatever the number of jobs; Tailer not
//! answering retried, then said; late when the bot was down at its time.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, example_config};
use common::paused::*;
use tailerbot::clock::Clock;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;

const STEP: Duration = Duration::from_secs(30);
const ROOM: &str = "C0DIGEST";
const UPLOADED: &str = "files.completeUploadExternal";

fn no_history() -> SimOptions {
    SimOptions { history: 0, ..slow_runs() }
}

fn digests(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(ROOM) && e.thread_ts.is_none())
        .filter(|e| e.visible_text().contains("Daily digest for"))
        .collect()
}

/// Nothing was cut: the footer, the last part, is the last block (the renderer drops
/// what does not fit in 50 blocks), and Slack's limits hold.
fn ends_with_its_footer(digest: &SlackEvent) {
    let last = digest.blocks.last().expect("blocks").to_string();
    assert!(last.contains("`/tailer digest off` stops it"), "the footer is cut off: {last}");
    let violations = tailerbot::slack::blocks::limit_violations(&serde_json::json!({"text": digest.text, "blocks": digest.blocks}));
    assert!(violations.is_empty(), "{violations:?}");
    raw_angles_are_tokens(&digest.visible_text());
}

/// Every `<` of the text sent starts a token the bot meant (a mention, a channel, a date,
/// a link): a `<job>` written raw would reach Slack as a broken link.
fn raw_angles_are_tokens(text: &str) {
    for (at, _) in text.match_indices('<') {
        let next = &text[at + 1..];
        assert!(["@", "#", "!date", "http"].iter().any(|t| next.starts_with(t)), "a raw `<` at {at}: {text}");
    }
}

fn charts<'e>(events: &'e [SlackEvent], ts: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == UPLOADED && e.thread_ts.as_deref() == Some(ts)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_digest_is_posted_once_a_day_with_the_failures_the_expectations_and_what_is_disabled() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    let now = bot.clock.now();
    for words in ["subscribe tag:iowa failures", "subscribe stock-enrich"] {
        assert_eq!(bot.command(ANALYST, ROOM, words).await.0, 200, "{words}");
    }
    // Tailer's own schedule runs it (it fails): the digest covers runs however started.
    let failed = bot.tailer.sim.start_scheduled_run("000099_stock_enrich_failing_DEV").expect("a scheduled run");
    let (expected_at, zone) = time_in(now, 1);
    bot.command(ANALYST, ROOM, &format!("expect iowa-prepare by {expected_at} {zone}")).await;
    bot.command(ANALYST, ROOM, "disable iowa-stores-files the files are late").await;
    let (at, _) = time_in(now, 5);
    let (_, answer) = bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    let answer = answer.to_string();
    assert!(answer.contains(&format!("gets a digest every day at *{at} {zone}*")), "{answer}");
    assert!(answer.contains("The first one is today") && answer.contains("covers the 4 jobs this channel follows"), "{answer}");

    // Nothing before its time.
    let events = bot.run_until(STEP, Duration::from_secs(180), |_| false).await;
    assert!(digests(&events).is_empty(), "nothing before the time");
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !digests(e).is_empty()).await;
    let found = digests(&events);
    assert_eq!(found.len(), 1, "one digest");
    let digest = found[0].clone();
    let text = digest.visible_text();
    let day = tailerbot::domain::Schedule::parse(&at, Some(&zone)).unwrap().day_of(now);
    assert!(text.contains(&format!("Daily digest for {}", day.format("%a %-d %b %Y"))), "{text}");
    assert!(text.contains("the last 24 h of the 4 jobs this channel follows"), "{text}");
    assert!(text.contains("*3 need a look*"), "{text}");
    assert!(text.contains(&format!(":x: 1 of 1 run failed: `{failed}`")), "the failure, named: {text}");
    assert!(text.contains(&format!("expected by {expected_at} {zone} on {day}: :alarm_clock: *missed*")), "the expectation missed: {text}");
    assert!(text.contains("`iowa-stores-files` (DEV) is disabled since") && text.contains("reason: the files are late"), "{text}");
    assert!(text.contains("`iowa-load-workflow` (DEV) — no run in the last 24 h"), "a quiet job: {text}");
    assert!(text.contains("The failing job's history chart is in the thread"), "{text}");
    ends_with_its_footer(&digest);
    let ts = digest.ts.clone().unwrap();
    let events = bot.run_until(STEP, Duration::from_secs(120), |e| !charts(e, &ts).is_empty()).await;
    let chart = charts(&events, &ts);
    assert_eq!(chart.len(), 1, "the failing job's chart, in the digest's thread");
    assert!(chart[0].visible_text().contains("`stock-enrich` (DEV): the last 1 run"), "{}", chart[0].visible_text());

    // Later passes that day say nothing more.
    let events = bot.run_until(STEP, Duration::from_secs(600), |_| false).await;
    assert_eq!(digests(&events).len(), 1, "one digest per channel and day");
    assert_eq!(charts(&events, &ts).len(), 1);

    // The next day, at its time: the next one, once.
    for _ in 0..23 {
        bot.step(Duration::from_secs(3600)).await;
    }
    let events = bot.run_until(STEP, Duration::from_secs(3600), |e| digests(e).len() > 1).await;
    let found = digests(&events);
    assert_eq!(found.len(), 2, "the next day's digest");
    let next = found[1].visible_text();
    assert!(next.contains(&format!("Daily digest for {}", day.succ_opt().unwrap().format("%a %-d %b %Y"))), "{next}");
    let events = bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    assert_eq!(digests(&events).len(), 2, "once that day too");
}

#[tokio::test(start_paused = true)]
async fn digest_refuses_bad_times_and_zones_and_shows_sets_and_stops() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    for (words, expected) in [
        ("digest at 25:00", "`25:00` is not a time: write it HH:MM on 24 hours"),
        ("digest at 9am", "`9am` is not a time"),
        ("digest at 09:00 Mars/Olympus", "`Mars/Olympus` is not a time zone I know: write an IANA name"),
        ("digest 09:00", "`digest` reads `digest at HH:MM [time zone]` or `digest off`, not `09:00`"),
        ("digest at", "a time (HH:MM)"),
        ("digest", "This channel has no digest. `/tailer digest at HH:MM [time zone]` sets one."),
        ("digest off", "This channel has no digest."),
    ] {
        let (status, answer) = bot.command(ANALYST, ROOM, words).await;
        assert_eq!(status, 200);
        assert!(answer.to_string().contains(expected), "{words}: {answer}");
    }
    bot.command(ANALYST, ROOM, "subscribe sales-daily").await;
    let (_, set) = bot.command(ANALYST, ROOM, "digest at 08:30 Europe/Paris").await;
    assert!(
        set.to_string().contains("every day at *08:30 Europe/Paris*") && set.to_string().contains(&format!("set by <@{ANALYST}>")),
        "{set}"
    );
    let (_, changed) = bot.command(ANALYST, ROOM, "digest at 09:00 Europe/Paris").await;
    assert!(changed.to_string().contains("changed by"), "{changed}");
    let (_, shown) = bot.command(ANALYST, ROOM, "digest").await;
    let shown = shown.to_string();
    assert!(shown.contains("every day at *09:00 Europe/Paris*") && shown.contains("It covers `sales-daily`"), "{shown}");
    let (_, off) = bot.command(ANALYST, ROOM, "digest off").await;
    assert!(off.to_string().contains(&format!("no longer gets a daily digest — stopped by <@{ANALYST}>")), "{off}");
    let (_, shown) = bot.command(ANALYST, ROOM, "digest").await;
    assert!(shown.to_string().contains("This channel has no digest"), "{shown}");
    // A channel that follows nothing is told how to follow a job, the placeholder escaped.
    let (_, empty) = bot.command(ANALYST, "C0EMPTY", "digest at 07:00").await;
    let empty = common::bot::text_of(&empty);
    assert!(empty.contains("`/tailer subscribe &lt;job&gt;` or `/tailer expect &lt;job&gt; by HH:MM` adds one"), "{empty}");
    raw_angles_are_tokens(&empty);
}

#[tokio::test(start_paused = true)]
async fn tailer_not_answering_is_retried_then_the_digest_says_which_jobs_are_unknown() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    bot.command(ANALYST, ROOM, "subscribe sales-daily").await;
    let (at, zone) = time_in(bot.clock.now(), 1);
    bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    bot.tailer.sim.inject(Fault::new(Some("get_last_status"), FaultKind::Status { status: 503, message: "down".into() }, 10_000));
    let events = bot.run_until(STEP, Duration::from_secs(300), |_| false).await;
    assert!(digests(&events).is_empty(), "retried first: nothing yet");
    let events = bot.run_until(STEP, Duration::from_secs(900), |e| !digests(e).is_empty()).await;
    let found = digests(&events);
    assert_eq!(found.len(), 1);
    let text = found[0].visible_text();
    assert!(text.contains("`sales-daily` (PROD)") && text.contains("Tailer did not answer for it: its runs are unknown"), "{text}");
    assert!(!text.contains("no run in the last 24 h") && !text.contains("All quiet"), "unknown is not quiet: {text}");
    assert!(text.contains(&format!(": Tailer did not answer at {at} {zone}.")), "why it is late: {text}");
}

#[tokio::test(start_paused = true)]
async fn a_digest_whose_time_passed_while_no_replica_looked_is_posted_at_the_next_look_marked_late() {
    let bot = PausedBot::start(example_config(), no_history()).await;
    bot.command(ANALYST, ROOM, "subscribe iowa-prepare").await;
    let (at, zone) = time_in(bot.clock.now(), 2);
    bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    bot.step(STEP).await;
    // Down across its time: nothing looks for ten minutes.
    tokio::time::advance(Duration::from_secs(600)).await;
    let events = bot.run_until(STEP, Duration::from_secs(120), |e| !digests(e).is_empty()).await;
    let found = digests(&events);
    assert_eq!(found.len(), 1);
    let text = found[0].visible_text();
    assert!(text.contains(&format!("I was not running at {at} {zone}")), "{text}");
    assert!(text.contains("All quiet: 0 runs, none failed"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_digest_whose_channel_is_closed_to_the_bot_is_paused_and_the_audit_says_why() {
    use tailerbot::slack::standin::{StandinFault, StandinFaultKind};
    let bot = PausedBot::start(example_config(), no_history()).await;
    let (at, zone) = time_in(bot.clock.now(), 1);
    bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    let refused =
        StandinFault { method: Some("chat.postMessage".into()), kind: StandinFaultKind::Error { code: "not_in_channel".into() }, times: 1 };
    bot.slack.slack.inject(refused);
    let paused = |shown: &serde_json::Value| shown.to_string().contains("*Paused*: I could not post it here (not_in_channel)");
    let mut shown = serde_json::Value::Null;
    for _ in 0..40 {
        bot.step(STEP).await;
        shown = bot.command(ANALYST, ROOM, "digest").await.1;
        if paused(&shown) {
            break;
        }
    }
    assert!(paused(&shown), "{shown}");
    let (_, audit) = bot.command(ANALYST, ROOM, "audit").await;
    let audit = audit.to_string();
    assert!(
        audit.contains("*digest*") && audit.contains("paused: the daily digest cannot be posted in this channel (not_in_channel)"),
        "{audit}"
    );
    // Set again (the bot invited back): it is no longer paused, and tomorrow's is posted.
    let (_, set) = bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    assert!(set.to_string().contains("The first one is tomorrow"), "today's time has passed: {set}");
    let (_, shown) = bot.command(ANALYST, ROOM, "digest").await;
    assert!(!paused(&shown), "{shown}");
    for _ in 0..23 {
        bot.step(Duration::from_secs(3600)).await;
    }
    let events = bot.run_until(STEP, Duration::from_secs(3600), |e| !digests(e).is_empty()).await;
    assert_eq!(digests(&events).len(), 1, "resumed: the next day's is posted");
}

#[tokio::test(start_paused = true)]
async fn a_digest_due_just_before_midnight_and_missed_is_still_posted_after_it_marked_late() {
    let evening = chrono::Utc::now().date_naive().and_hms_opt(23, 50, 0).unwrap().and_utc();
    let bot = PausedBot::start_at(example_config(), no_history(), evening).await;
    bot.command(ANALYST, ROOM, "subscribe iowa-prepare").await;
    let (_, set) = bot.command(ANALYST, ROOM, "digest at 23:58").await;
    assert!(set.to_string().contains("The first one is today"), "{set}");
    bot.step(STEP).await;
    // Down across its time and midnight: the next look is at 00:05.
    tokio::time::advance(Duration::from_secs(14 * 60)).await;
    let events = bot.run_until(STEP, Duration::from_secs(120), |e| !digests(e).is_empty()).await;
    let found = digests(&events);
    assert_eq!(found.len(), 1, "the day before's, after midnight");
    let text = found[0].visible_text();
    assert!(text.contains(&format!("Daily digest for {}", evening.date_naive().format("%a %-d %b %Y"))), "{text}");
    assert!(text.contains("I was not running at 23:58 UTC"), "{text}");
    // The new day's comes at its own time, not twice before it.
    let events = bot.run_until(STEP, Duration::from_secs(1800), |_| false).await;
    assert_eq!(digests(&events).len(), 1);
}

/// The embedded catalog and `extra` jobs that always fail in the simulator, each with
/// three failed runs in the last 24 h.
fn many_failing(extra: usize) -> tailerbot::config::Config {
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tailerbot.example.toml")).unwrap();
    for n in 0..extra {
        text.push_str(&format!(
            "\n[[jobs]]\nname = \"load-{n:03}\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"table-to-table\"\nconfiguration_id = \"000099_load_{n:03}_failing_DEV\"\n"
        ));
    }
    tailerbot::config::Config::parse(std::path::Path::new("many.toml"), &text).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_digest_of_many_failing_jobs_stays_within_50_blocks_folds_the_rest_with_a_count_and_draws_three_charts() {
    let bot = PausedBot::start(many_failing(80), SimOptions { history: 3, ..slow_runs() }).await;
    bot.command(ANALYST, ROOM, "subscribe all failures").await;
    let (at, zone) = time_in(bot.clock.now(), 1);
    bot.command(ANALYST, ROOM, &format!("digest at {at} {zone}")).await;
    let events = bot.run_until(STEP, Duration::from_secs(600), |e| !digests(e).is_empty()).await;
    let found = digests(&events);
    assert_eq!(found.len(), 1);
    let digest = found[0].clone();
    let text = digest.visible_text();
    ends_with_its_footer(&digest);
    assert!(text.contains("*81 need a look*"), "80 jobs and stock-enrich fail: {text}");
    assert!(text.contains(":x: 3 of 3 runs failed"), "{text}");
    // 15 paragraphs, 30 lines, the rest counted: 81 - 15 - 30 = 36 failing, and the 5 others.
    assert!(text.contains("…and 41 more jobs (36 needing a look): `/tailer last &lt;job&gt;` shows any."), "folded with a count: {text}");
    assert_eq!(text.matches("• `").count(), 30, "30 lines after the 15 paragraphs: {text}");
    assert_eq!(text.matches(":x: 3 of 3 runs failed").count(), 15 + 30, "{text}");
    assert!(
        text.contains("The history charts of 3 of the 81 failing jobs are in the thread (`/tailer history &lt;job&gt;` draws any)"),
        "{text}"
    );
    let ts = digest.ts.clone().unwrap();
    let events = bot.run_until(STEP, Duration::from_secs(300), |e| charts(e, &ts).len() >= 3).await;
    assert_eq!(charts(&events, &ts).len(), 3, "three charts");
}

#[tokio::test(start_paused = true)]
async fn a_digest_caught_up_after_midnight_covers_every_expectation_since_its_previous_time() {
    // From 23:50 the day before: the digest is due at 23:58, the expectation at 00:02.
    let start = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).and_hms_opt(23, 50, 0).unwrap().and_utc();
    let bot = PausedBot::start_at(example_config(), no_history(), start).await;
    bot.command(ANALYST, ROOM, "expect iowa-prepare by 00:02").await;
    bot.command(ANALYST, ROOM, "digest at 23:58").await;
    let events = bot.run_until(STEP, Duration::from_secs(900), |e| !digests(e).is_empty()).await;
    assert_eq!(digests(&events).len(), 1, "the first, at 23:58");
    // The expectation is missed at 00:02; the next day the bot is down from 23:55 across
    // the digest's time and midnight, and catches it up at 00:05: more than 24 h after
    // the miss, which it still covers (its window starts at the previous 23:58).
    let down_at = start + chrono::Duration::days(1) + chrono::Duration::minutes(5);
    while bot.clock.now() + chrono::Duration::minutes(10) <= down_at {
        bot.step(Duration::from_secs(600)).await;
    }
    let back_at = start + chrono::Duration::days(1) + chrono::Duration::minutes(15);
    tokio::time::advance((back_at - bot.clock.now()).to_std().unwrap()).await;
    let events = bot.run_until(STEP, Duration::from_secs(120), |e| digests(e).len() > 1).await;
    let found = digests(&events);
    assert_eq!(found.len(), 2, "the day's digest, caught up after midnight");
    let text = found[1].visible_text();
    let missed_on = (start + chrono::Duration::days(1)).date_naive();
    assert!(text.contains(&format!("expected by 00:02 UTC on {missed_on}: :alarm_clock: *missed*")), "{text}");
    assert!(text.contains("I was not running at 23:58 UTC"), "{text}");
}
