//! The decisions of a poll, one observation at a time.

use std::time::Duration;

use super::*;
use crate::tailer::RunStatus;

fn cfg() -> WatchConfig {
    WatchConfig {
        poll_interval: Duration::from_secs(15),
        max_poll_interval: Duration::from_secs(120),
        give_up_after: Duration::from_secs(24 * 3600),
        subscription_poll: Duration::from_secs(60),
        max_concurrent_polls: 8,
        unknown_status_final_after: Duration::from_secs(600),
        lease: Duration::from_secs(30),
    }
}

fn watch() -> WatchRow {
    WatchRow::fresh("20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1", "iowa-prepare")
}

fn item(status: &str) -> Observation {
    Observation::Item(serde_json::from_value(serde_json::json!({"run_id": watch().run_id, "status": status})).unwrap())
}

fn after(w: &WatchRow, update: &WatchUpdate) -> WatchRow {
    WatchRow {
        status: update.status.clone(),
        status_since: update.status_since,
        first_seen_at: update.first_seen_at,
        interval_ms: update.interval_ms,
        next_poll_at: update.next_poll_at,
        item: update.item.clone(),
        ..w.clone()
    }
}

#[test]
fn a_new_status_is_a_change_and_resets_the_interval() {
    let mut w = watch();
    w.interval_ms = 60_000;
    let (update, change) = decide(&w, item("WAITING"), 1_000, &cfg(), 1.0);
    assert!(matches!(change, Change::Status { is_final: false, .. }));
    assert_eq!(update.status.as_deref(), Some("WAITING"));
    assert_eq!(update.interval_ms, 15_000);
    assert_eq!(update.next_poll_at, 16_000);
    assert!(update.active);
}

#[test]
fn an_unchanged_status_backs_off_towards_the_ceiling() {
    let (update, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0);
    let mut w = after(&watch(), &update);
    let mut intervals = Vec::new();
    for i in 1..8 {
        let (update, change) = decide(&w, item("RUNNING"), i * 1000, &cfg(), 1.0);
        assert_eq!(change, Change::Nothing);
        intervals.push(update.interval_ms);
        w = after(&w, &update);
    }
    assert_eq!(intervals, vec![22_500, 33_750, 50_625, 75_937, 113_905, 120_000, 120_000]);
}

#[test]
fn jitter_moves_the_next_poll_by_at_most_two_percent() {
    let draws: Vec<f64> = (0..10_000).map(|_| super::jitter()).collect();
    assert!(draws.iter().all(|j| (0.98..=1.02).contains(j)), "every draw within ±2%");
    assert!(draws.iter().any(|j| *j < 0.99) && draws.iter().any(|j| *j > 1.01), "and spread across it");
    let (early, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0 - super::JITTER);
    let (late, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0 + super::JITTER);
    assert_eq!((early.next_poll_at, late.next_poll_at), (14_700, 15_300));
}

#[test]
fn a_final_status_ends_the_watch() {
    let (update, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0);
    let (update, change) = decide(&after(&watch(), &update), item("FAILED"), 30_000, &cfg(), 1.0);
    assert!(matches!(change, Change::Status { is_final: true, .. }));
    assert!(!update.active);
}

#[test]
fn an_empty_answer_right_after_a_launch_is_tolerated_then_reported() {
    let (update, change) = decide(&watch(), Observation::NotYet, 60_000, &cfg(), 1.0);
    assert_eq!(change, Change::Nothing);
    assert!(update.active);
    assert_eq!(update.interval_ms, 15_000);
    let not_found = Observation::Failed(TailerError::new(crate::tailer::TailerAction::CheckRunStatus, ErrorKind::NotFound, Some(404), ""));
    let (update, change) = decide(&watch(), not_found, UNKNOWN_RUN_GRACE_MS, &cfg(), 1.0);
    assert_eq!(change, Change::NeverKnown);
    assert!(!update.active);
}

#[test]
fn a_run_seen_once_is_not_declared_unknown_when_it_vanishes_for_a_while() {
    let (update, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0);
    let (update, change) = decide(&after(&watch(), &update), Observation::NotYet, UNKNOWN_RUN_GRACE_MS * 2, &cfg(), 1.0);
    assert_eq!(change, Change::Nothing);
    assert!(update.active);
}

#[test]
fn a_tailer_error_changes_nothing_but_backs_off() {
    let error = TailerError::new(crate::tailer::TailerAction::CheckRunStatus, ErrorKind::Server, Some(500), "boom");
    let (update, change) = decide(&watch(), Observation::Failed(error), 1_000, &cfg(), 1.0);
    assert_eq!(change, Change::Nothing);
    assert!(update.active);
    assert_eq!(update.interval_ms, 22_500);
}

#[test]
fn an_unknown_status_unchanged_long_enough_is_taken_as_final() {
    let (update, change) = decide(&watch(), item("PAUSED"), 0, &cfg(), 1.0);
    assert!(matches!(change, Change::Status { is_final: false, .. }));
    let w = after(&watch(), &update);
    let (_, change) = decide(&w, item("PAUSED"), 599_000, &cfg(), 1.0);
    assert_eq!(change, Change::Nothing);
    let (update, change) = decide(&w, item("PAUSED"), 600_000, &cfg(), 1.0);
    assert!(matches!(&change, Change::Status { is_final: true, item, .. } if matches!(item.status, RunStatus::Other(_))));
    assert!(!update.active);
}

#[test]
fn a_watch_gives_up_after_the_configured_hours() {
    let (update, _) = decide(&watch(), item("RUNNING"), 0, &cfg(), 1.0);
    let (update, change) = decide(&after(&watch(), &update), item("RUNNING"), 24 * 3_600_000, &cfg(), 1.0);
    assert_eq!(change, Change::GaveUp);
    assert!(!update.active);
}

/// A run's life as Tailer shows it, and how often a poll fails.
#[derive(Debug, Clone)]
struct Life {
    invisible_ms: i64,
    waiting_ms: i64,
    running_ms: i64,
    last: &'static str,
    /// Per mille of polls that fail with a 5xx or a timeout.
    failures: u32,
}

impl Life {
    fn at(&self, t: i64) -> Option<&'static str> {
        if t < self.invisible_ms {
            None
        } else if t < self.invisible_ms + self.waiting_ms {
            Some("WAITING")
        } else if t < self.invisible_ms + self.waiting_ms + self.running_ms {
            Some("RUNNING")
        } else {
            Some(self.last)
        }
    }
}

fn life() -> impl proptest::strategy::Strategy<Value = Life> {
    use proptest::prelude::*;
    (
        0i64..120_000,
        0i64..900_000,
        0i64..4 * 3_600_000,
        prop::sample::select(vec!["SUCCESS", "FAILED", "CHECKED", "NO_MATCH", "DEACTIVATED"]),
        0u32..400,
    )
        .prop_map(|(invisible_ms, waiting_ms, running_ms, last, failures)| Life {
            invisible_ms,
            waiting_ms,
            running_ms,
            last,
            failures,
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Polled as the watcher polls (at each `next_poll_at`), through failures: every status
    /// is told once, in the order of the run's life, the final one last; polling stops
    /// there; the interval stays between the first interval and the ceiling.
    #[test]
    fn a_run_is_told_each_status_once_in_order_and_polling_stops_at_its_end(life in life(), seed in 0u64..u64::MAX) {
        use rand::{Rng, SeedableRng};
        let cfg = cfg();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut w = watch();
        let mut told: Vec<String> = Vec::new();
        let mut now = 0;
        for _ in 0..10_000 {
            let seen = if rng.random_range(0..1000) < life.failures {
                Observation::Failed(TailerError::new(crate::tailer::TailerAction::CheckRunStatus, ErrorKind::Server, Some(503), "down"))
            } else {
                match life.at(now) {
                    None => Observation::NotYet,
                    Some(status) => item(status),
                }
            };
            let jitter = rng.random_range(1.0 - super::JITTER..=1.0 + super::JITTER);
            let (update, change) = decide(&w, seen, now, &cfg, jitter);
            if let Change::Status { item, is_final, .. } = &change {
                proptest::prop_assert_eq!(*is_final, item.status.is_final());
                told.push(item.status.as_str().to_owned());
            }
            proptest::prop_assert!(!matches!(change, Change::NeverKnown | Change::GaveUp), "{:?} for {:?}", change, life);
            proptest::prop_assert!((15_000..=120_000).contains(&update.interval_ms), "interval {}", update.interval_ms);
            proptest::prop_assert!(update.next_poll_at > now);
            if !update.active {
                break;
            }
            w = after(&w, &update);
            now = update.next_poll_at;
        }
        // The statuses the run went through, in order, each once, ending with its last.
        let order = ["WAITING", "RUNNING", life.last];
        let positions: Vec<usize> = told.iter().map(|s| order.iter().position(|o| o == s).expect("a status of the run's life")).collect();
        proptest::prop_assert!(positions.windows(2).all(|p| p[0] < p[1]), "told in order, each once: {:?}", told);
        proptest::prop_assert_eq!(told.last().map(String::as_str), Some(life.last), "the final status is told: {:?}", told);
    }
}

#[test]
fn a_poll_the_bots_own_queue_refused_is_asked_again_at_the_same_pace() {
    let mut w = watch();
    w.interval_ms = 20_000;
    let busy = Observation::Failed(TailerError::new(crate::tailer::TailerAction::CheckRunStatus, ErrorKind::Busy, None, "full"));
    let (update, change) = decide(&w, busy, 0, &cfg(), 1.0);
    assert_eq!(update.interval_ms, 20_000, "not backed off: Tailer did not fail");
    assert!(update.active && change == Change::Nothing, "{change:?}");
    let server = Observation::Failed(TailerError::new(crate::tailer::TailerAction::CheckRunStatus, ErrorKind::Server, Some(500), "x"));
    let (update, _) = decide(&w, server, 0, &cfg(), 1.0);
    assert!(update.interval_ms > 20_000, "a Tailer failure backs off");
}

#[test]
fn the_news_of_a_runs_end_goes_ahead_of_the_rest_and_progress_does_not() {
    let config = crate::config::embedded_config();
    let job = config.job("iowa-prepare").expect("the example's job").clone();
    let card = crate::store::CardRow {
        run_id: watch().run_id,
        channel_id: "C0DATA".into(),
        lane: "card:run:C0DATA".into(),
        launched_by: None,
        watched_by: None,
        execution_date: None,
    };
    let told = |status: &str| {
        let (update, change) = decide(&watch(), item(status), 1_000, &cfg(), 1.0);
        struct Words;
        impl crate::chat::Render for Words {
            fn render(&self, m: &crate::chat::Message) -> crate::chat::Rendered {
                crate::chat::Rendered { text: m.text.clone(), blocks: Vec::new() }
            }
        }
        let say = Say { out: &Words, links: Links::none() };
        let (messages, _) = messages(say, &job, &watch(), std::slice::from_ref(&card), &change, &update, 1_000);
        assert_eq!(messages.len(), 2, "the card's edit and a reply in its thread");
        messages.iter().map(|m| m.first).collect::<Vec<_>>()
    };
    assert_eq!(told("SUCCESS"), [true, true]);
    assert_eq!(told("RUNNING"), [false, false]);
}
