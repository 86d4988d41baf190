//! What the store keeps, read back: a write's plan (with its jobs and the launch after
//! an *Enable and launch*), a run's last item, an outbox message (a file in it
//! included), a write's steps and a schedule each come back equal to what was stored;
//! and a stored text that is damaged reads as a value that stores and reads back as
//! itself, or as a named error, never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use tailerbot::commands::Command;
use tailerbot::commands::writes::{Plan, Write};
use tailerbot::domain::{Schedule, Visibility};
use tailerbot::outbox::{OutboxBody, Upload};
use tailerbot::store::WriteStep;
use tailerbot::tailer::RunItem;

use crate::roundtrip::{command, date, job, run, schedule, status};

fn write() -> impl Strategy<Value = Write> {
    command().prop_filter_map("a write", |c| match c {
        Command::Write(w) => Some(w),
        _ => None,
    })
}

fn plan() -> impl Strategy<Value = Plan> {
    let launch = (job(), prop::option::of(date())).prop_map(|(job, execution_date)| Write::Launch { job, execution_date });
    (write(), prop::collection::vec("[a-z][a-z0-9-]{0,20}", 0..6), prop::option::of(launch)).prop_map(|(command, jobs, then)| Plan {
        command,
        jobs,
        then,
    })
}

/// A time as Tailer writes it, to the microsecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800_000_000i64..4_102_444_800_000_000).prop_map(|us| DateTime::from_timestamp_micros(us).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    ".{0,30}"
}

fn item() -> impl Strategy<Value = RunItem> {
    let strings = (prop::option::of(text()), prop::option::of(text()), prop::option::of(text()), prop::option::of(text()));
    let times = (prop::option::of(0u64..10 * 86_400_000_000), prop::option::of(instant()), prop::option::of(instant()));
    (run(), status(), strings, prop::option::of(text()), times).prop_map(
        |(run_id, status, (account, environment, configuration_type, configuration_id), job_id, (micros, start, update))| RunItem {
            run_id,
            status,
            account,
            environment,
            configuration_type,
            configuration_id,
            job_id,
            duration: micros.map(Duration::from_micros),
            start_execution_date: start,
            last_update_date: update,
        },
    )
}

fn body() -> impl Strategy<Value = OutboxBody> {
    let block = (text(), text()).prop_map(|(kind, said)| serde_json::json!({"type": kind, "text": {"type": "mrkdwn", "text": said}}));
    let upload = (text(), text(), text(), prop::collection::vec(any::<u8>(), 0..200))
        .prop_map(|(filename, title, alt_text, bytes)| Upload { filename, title, alt_text, bytes });
    let visibility = prop::option::of(prop::sample::select(vec![Visibility::Ephemeral, Visibility::InChannel]));
    (text(), prop::collection::vec(block, 0..4), visibility, any::<bool>(), prop::option::of(upload)).prop_map(
        |(text, blocks, response_type, replace_original, upload)| OutboxBody { text, blocks, response_type, replace_original, upload },
    )
}

fn steps() -> impl Strategy<Value = Vec<WriteStep>> {
    let outcome = prop::sample::select(vec!["succeeded", "failed", "unknown"]).prop_map(str::to_owned);
    prop::collection::vec((text(), outcome, text()).prop_map(|(job, outcome, line)| WriteStep { job, outcome, line }), 0..5)
}

/// Stored text, damaged: cut short, or with a byte changed.
fn damaged(stored: String, cut: usize, at: usize, byte: u8) -> Vec<String> {
    let bytes = stored.as_bytes();
    let mut changed = bytes.to_vec();
    if !changed.is_empty() {
        let at = at % changed.len();
        changed[at] = byte;
    }
    vec![String::from_utf8_lossy(&bytes[..cut % (bytes.len() + 1)]).into_owned(), String::from_utf8_lossy(&changed).into_owned()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(200), ..ProptestConfig::default() })]

    #[test]
    fn a_stored_plan_comes_back_with_its_jobs_and_what_follows_it(plan in plan()) {
        prop_assert_eq!(Plan::from_json(&plan.to_json()), Ok(plan));
    }

    #[test]
    fn a_damaged_plan_reads_as_a_plan_that_stores_back_as_itself_or_a_named_error(
        plan in plan(), cut in any::<usize>(), at in any::<usize>(), byte in any::<u8>(),
    ) {
        for text in damaged(plan.to_json(), cut, at, byte) {
            match Plan::from_json(&text) {
                Ok(read) => prop_assert_eq!(Plan::from_json(&read.to_json()), Ok(read), "{}", text),
                Err(error) => prop_assert!(!error.is_empty(), "{}", text),
            }
        }
    }

    #[test]
    fn a_runs_stored_item_comes_back_equal(item in item()) {
        let read: RunItem = serde_json::from_value(item.to_json()).unwrap();
        prop_assert_eq!(read, item);
    }

    #[test]
    fn a_damaged_item_reads_as_an_item_that_stores_back_as_itself_or_an_error(
        item in item(), cut in any::<usize>(), at in any::<usize>(), byte in any::<u8>(),
    ) {
        for text in damaged(item.to_json().to_string(), cut, at, byte) {
            if let Ok(read) = serde_json::from_str::<RunItem>(&text) {
                let again: RunItem = serde_json::from_value(read.to_json()).unwrap();
                prop_assert_eq!(again, read, "{}", text);
            }
        }
    }

    #[test]
    fn an_outbox_message_comes_back_equal_with_its_file(body in body()) {
        let stored = serde_json::to_string(&body).unwrap();
        prop_assert_eq!(serde_json::from_str::<OutboxBody>(&stored).unwrap(), body);
    }

    #[test]
    fn a_writes_steps_come_back_equal(steps in steps()) {
        let stored = serde_json::to_string(&steps).unwrap();
        prop_assert_eq!(serde_json::from_str::<Vec<WriteStep>>(&stored).unwrap(), steps);
    }

    #[test]
    fn a_stored_schedule_comes_back_equal(schedule in schedule()) {
        prop_assert_eq!(Schedule::stored(schedule.minute(), schedule.tz.name()), Some(schedule));
    }

    /// A stored minute or zone that is not one reads as nothing (the row is skipped and
    /// said), never as another time.
    #[test]
    fn a_stored_schedule_out_of_range_is_nothing(minute in prop_oneof![i32::MIN..0, 1440..i32::MAX], zone in ".{0,20}") {
        prop_assert_eq!(Schedule::stored(minute, &zone), None);
        prop_assert_eq!(Schedule::stored(0, &format!("{zone}/Nowhere")), None);
    }
}
