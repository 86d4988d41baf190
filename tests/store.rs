//! The store's contract: what every backend must do, run on SQLite and on PostgreSQL
//! (each case is generated twice, in `sqlite::` and `postgres::`), then what several
//! replicas sharing a PostgreSQL database must get: each piece of work claimed by one of
//! them at a time, and taken over when its claimant dies.

mod common;

use std::time::Duration;

use common::db::TestDb;
use tailerbot::domain::Action;
use tailerbot::outbox::{Delivered, Destination, OutboxBody, OutboxMessage, Place, Upload};
use tailerbot::store::{CardRow, ConfirmationState, Decision, NewConfirmation, Store, SwitchRow, TimerRow, WatchUpdate};

fn message(lane: &str, text: &str, collapse: Option<&str>) -> OutboxMessage {
    let channel = "C0DATA".to_owned();
    OutboxMessage {
        lane: lane.into(),
        to: match collapse {
            Some(_) => Destination::Update { channel },
            None => Destination::Post { channel, place: Place::Channel, asked_by: None },
        },
        collapse_key: collapse.map(str::to_owned),
        body: OutboxBody::plain(text.into(), vec![]),
        first: false,
        not_before: None,
    }
}

fn card(run: &str, channel: &str) -> CardRow {
    CardRow {
        run_id: run.into(),
        channel_id: channel.into(),
        lane: format!("card:{run}:{channel}"),
        launched_by: None,
        watched_by: None,
        execution_date: None,
    }
}

fn confirmation(id: &str, action: Action) -> NewConfirmation {
    NewConfirmation {
        id: id.into(),
        created_at: 0,
        expires_at: 600_000,
        team_id: "T0001".into(),
        channel_id: "C0DATA".into(),
        requester: "U0A".into(),
        action,
        plan: "{}".into(),
        second_person: false,
    }
}

fn write(reference: &str, at: i64) -> tailerbot::store::WriteRow {
    tailerbot::store::WriteRow {
        reference: reference.into(),
        action: "disable".into(),
        plan: "{}".into(),
        channel_id: "C0DATA".into(),
        user_id: "U0A".into(),
        confirmed_by: Some("U0B".into()),
        response_url: None,
        replace_question: true,
        question_ts: Some("1.0001".into()),
        started_at: at,
        steps: "[]".into(),
    }
}

fn timer(id: &str, job: &str, lane: &str) -> TimerRow {
    TimerRow {
        id: id.into(),
        job: job.into(),
        due_at: 7_200_000,
        channel_id: "C0DATA".into(),
        lane: lane.into(),
        requested_by: "U0A".into(),
        reason: None,
        attempts: 0,
    }
}

fn audit_entry(reference: &str) -> tailerbot::store::AuditEntry {
    tailerbot::store::AuditEntry {
        id: 0,
        at: 1,
        reference: reference.into(),
        user_id: "U0A".into(),
        channel_id: "C0DATA".into(),
        action: Action::Disable,
        job: Some("sales-daily".into()),
        environment: Some("PROD".into()),
        outcome: tailerbot::store::AuditOutcome::Succeeded,
        detail: "disable sales-daily".into(),
        tailer_answer: Some("ok".into()),
    }
}

fn running(now: i64) -> WatchUpdate {
    WatchUpdate {
        status: Some("RUNNING".into()),
        status_since: Some(now),
        first_seen_at: Some(now),
        interval_ms: 15_000,
        next_poll_at: now + 15_000,
        item: None,
        active: true,
    }
}

/// `runs` followed in C0DATA from 0 (a card each), every 15 s, and all claimed at 0.
async fn watched_and_claimed(store: &Store, runs: &[&str]) {
    for run in runs {
        let lane = format!("card:{run}:C0DATA");
        store.start_watch("iowa-prepare", &card(run, "C0DATA"), &message(&lane, "card", None), 0, 15_000).await.unwrap();
    }
    assert_eq!(store.claim_watches(0, 10).await.unwrap().len(), runs.len());
}

async fn texts(store: &Store, now: i64) -> Vec<String> {
    store.claim_outbox(now, 10).await.unwrap().into_iter().map(|r| r.message.body.text).collect()
}

/// Each case runs against a fresh database of each backend.
macro_rules! contract {
    ($(async fn $name:ident($store:ident) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = TestDb::sqlite();
                    let $store = db.open().await;
                    $body
                    $store.close().await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = TestDb::postgres().await;
                    let $store = db.open().await;
                    $body
                    $store.close().await;
                    db.finish().await;
                }
            )*
        }
    };
}

contract! {
    async fn a_request_key_is_new_once(store) {
        assert!(store.first_time("trigger:1", 0).await.unwrap());
        assert!(!store.first_time("trigger:1", 10).await.unwrap());
        assert!(store.first_within("write:x", 0, 60_000).await.unwrap());
        assert!(!store.first_within("write:x", 59_999, 60_000).await.unwrap());
        assert!(store.first_within("write:x", 120_000, 60_000).await.unwrap());
        assert_eq!(store.forget_requests_before(60_000).await.unwrap(), 1, "trigger:1 is a day old, write:x is not");
    }

    async fn racing_requests_with_one_key_are_handled_once(store) {
        let racers: Vec<_> = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.first_time("trigger:race", 5).await.unwrap() })
        }).collect();
        let mut first = 0;
        for racer in racers {
            first += usize::from(racer.await.unwrap());
        }
        assert_eq!(first, 1);
    }

    async fn a_runs_job_is_the_one_it_was_launched_as_else_the_one_followed_even_among_many_asked_together(store) {
        let launched = |run: &str, job: &str| tailerbot::store::KnownRun {
            run_id: run.into(),
            job: job.into(),
            channel_id: None,
            launched_by: None,
            created_at: 0,
        };
        store.remember_run(&launched("run-launched", "iowa-prepare")).await.unwrap();
        store.remember_run(&launched("run-both", "sales-load")).await.unwrap();
        store.start_watch("iowa-prepare", &card("run-followed", "C0DATA"), &message("card:run-followed:C0DATA", "card", None), 0, 15_000).await.unwrap();
        // Followed under another name than it was launched as: the launch is the truth.
        store.start_watch("iowa-prepare", &card("run-both", "C0DATA"), &message("card:run-both:C0DATA", "card", None), 0, 15_000).await.unwrap();
        let expected = [
            ("run-launched", Some("iowa-prepare")),
            ("run-followed", Some("iowa-prepare")),
            ("run-both", Some("sales-load")),
            ("run-unknown", None),
        ];
        // Asked together, many times over (a batch holds several questions, some the
        // same): each question gets its own run's answer.
        let asked: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                let (run, _) = expected[i % expected.len()];
                tokio::spawn(async move { (run, store.job_of_run(run).await.unwrap()) })
            })
            .collect();
        for question in asked {
            let (run, job) = question.await.unwrap();
            let want = expected.iter().find(|(r, _)| *r == run).unwrap().1;
            assert_eq!(job.as_deref(), want, "the job of {run}");
        }
    }

    async fn a_confirmation_is_decided_once_among_racing_clicks(store) {
        store.create_confirmation(&confirmation("c1", Action::Disable)).await.unwrap();
        let clicks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.decide("c1", ConfirmationState::Confirmed, &format!("U{i}"), 1_000).await.unwrap() })
            })
            .collect();
        let mut decided = 0;
        for click in clicks {
            if matches!(click.await.unwrap(), Decision::Decided(_)) {
                decided += 1;
            }
        }
        assert_eq!(decided, 1);
        let stored = store.confirmation("c1").await.unwrap().unwrap();
        assert_eq!((stored.state, stored.request.action), (ConfirmationState::Confirmed, Action::Disable));
    }

    async fn an_expired_confirmation_is_reported_expired_once(store) {
        store.create_confirmation(&confirmation("c2", Action::Launch)).await.unwrap();
        assert!(matches!(store.decide("c2", ConfirmationState::Confirmed, "U0A", 600_001).await.unwrap(), Decision::Expired(_)));
        assert!(matches!(store.decide("c2", ConfirmationState::Confirmed, "U0A", 600_002).await.unwrap(), Decision::AlreadyDecided(_)));
        assert_eq!(store.decide("nope", ConfirmationState::Confirmed, "U0A", 1).await.unwrap(), Decision::NotFound);
    }

    async fn the_audit_trail_keeps_entries_newest_first_per_job(store) {
        for (i, job) in ["iowa", "sales", "iowa"].into_iter().enumerate() {
            let entry = tailerbot::store::AuditEntry {
                id: 0,
                at: i as i64,
                reference: format!("ref{i}"),
                user_id: "U0A".into(),
                channel_id: "C0DATA".into(),
                action: Action::Launch,
                job: Some(job.into()),
                environment: Some("DEV".into()),
                outcome: tailerbot::store::AuditOutcome::Succeeded,
                detail: "launch".into(),
                tailer_answer: None,
            };
            store.audit(&entry).await.unwrap();
        }
        let iowa: Vec<String> = store.recent_audit(Some("iowa"), 10).await.unwrap().into_iter().map(|e| e.reference).collect();
        assert_eq!(iowa, vec!["ref2", "ref0"]);
        assert_eq!(store.recent_audit(None, 2).await.unwrap().len(), 2);
    }

    async fn successive_edits_of_one_card_collapse_to_the_latest(store) {
        store.enqueue(&[message("card:r:C", "edit 1", Some("edit:card:r:C"))], 0).await.unwrap();
        store.enqueue(&[message("card:r:C", "edit 2", Some("edit:card:r:C"))], 1).await.unwrap();
        store.enqueue(&[message("card:r:C", "edit 3", Some("edit:card:r:C"))], 2).await.unwrap();
        assert_eq!(store.outbox_depth().await.unwrap().0, 1);
        assert_eq!(texts(&store, 10).await, vec!["edit 3"]);
    }

    async fn only_the_first_pending_message_of_a_lane_is_due(store) {
        store.enqueue(&[message("a", "a1", None), message("a", "a2", None), message("b", "b1", None)], 0).await.unwrap();
        assert_eq!(texts(&store, 0).await, vec!["a1", "b1"]);
        let first = store.claim_outbox(0, 10).await.unwrap().remove(0);
        assert!(!first.in_doubt, "claimed by this replica only");
        store.outbox_sent(&first, Some("1.1")).await.unwrap();
        assert_eq!(texts(&store, 0).await, vec!["a2", "b1"]);
    }

    async fn a_runs_status_is_claimed_before_a_backlog_of_answers_and_announcements(store) {
        // Thousands of answers and announcements queued first, each in its own lane, all due.
        let backlog: Vec<OutboxMessage> = (0..3_000)
            .map(|i| message(&if i % 2 == 0 { format!("reply:{i}") } else { format!("subscription:C0SUB{i}") }, &format!("bulk {i}"), None))
            .collect();
        store.enqueue(&backlog, 0).await.unwrap();
        store.enqueue(&[message("card:20261201-060000-abc:C0DATA", "final status", None), message("said:ref1", "disabled", None)], 1).await.unwrap();
        store.enqueue(&[message("home:U0A", "home", None)], 2).await.unwrap();
        let claimed = texts(&store, 10).await;
        assert_eq!(claimed[..3], ["final status", "disabled", "home"], "{claimed:?}");
        assert_eq!(claimed[3..], ["bulk 0", "bulk 1", "bulk 2", "bulk 3", "bulk 4", "bulk 5", "bulk 6"], "then the oldest lanes");
    }

    async fn a_runs_end_is_claimed_before_a_backlog_of_other_runs_cards(store) {
        // Thousands of new cards and progress replies queued first, each run in its lane.
        let backlog: Vec<OutboxMessage> = (0..3_000).map(|i| message(&format!("card:run{i}:C0DATA"), &format!("progress {i}"), None)).collect();
        store.enqueue(&backlog, 0).await.unwrap();
        // A run's end, then a progress reply of another run, queued after them.
        store.enqueue(&[message("card:ended:C0DATA", "SUCCESS", None).first(), message("card:late:C0DATA", "RUNNING", None)], 1).await.unwrap();
        let claimed = texts(&store, 10).await;
        assert_eq!(claimed[0], "SUCCESS", "the end goes first: {claimed:?}");
        assert_eq!(claimed[1..4], ["progress 0", "progress 1", "progress 2"], "then the other runs' cards, oldest first");
        // A lane keeps its order: an end behind its own card waits for the card.
        store.enqueue(&[message("card:new:C0DATA", "card", None), message("card:new:C0DATA", "FAILED", None).first()], 2).await.unwrap();
        let lane: Vec<String> = store.claim_outbox(20, 5_000).await.unwrap().into_iter().filter(|r| r.message.lane == "card:new:C0DATA").map(|r| r.message.body.text).collect();
        assert_eq!(lane, ["card"], "the card first, its end at the next claim");
    }

    async fn a_runs_end_takes_what_goes_before_it_in_its_lane_ahead_of_a_backlog(store) {
        let backlog: Vec<OutboxMessage> = (0..3_000).map(|i| message(&format!("card:run{i}:C0DATA"), &format!("progress {i}"), None)).collect();
        store.enqueue(&backlog, 0).await.unwrap();
        // A card and its first reply queued behind the backlog, then the run's end.
        store.enqueue(&[message("card:new:C0DATA", "card", None), message("card:new:C0DATA", "RUNNING", None)], 1).await.unwrap();
        store.enqueue(&[message("card:new:C0DATA", "FAILED", None).first()], 2).await.unwrap();
        let claimed = texts(&store, 10).await;
        assert_eq!(claimed[..2], ["card", "progress 0"], "the card first, then the oldest lanes: {claimed:?}");
    }

    async fn outcomes_recorded_together_are_each_kept_as_it_was_and_only_a_roots_ts_makes_a_thread(store) {
        let root = OutboxMessage::new("card:a", Destination::Post { channel: "C0DATA".into(), place: Place::Root, asked_by: None }, OutboxBody::plain("a1".into(), vec![]));
        let mut queued = vec![root];
        queued.extend(["b", "c", "d", "e"].map(|l| message(&format!("card:{l}"), &format!("{l}1"), None)));
        queued.extend(["a", "b", "c", "d", "e"].map(|l| message(&format!("card:{l}"), &format!("{l}2"), None)));
        store.enqueue(&queued, 0).await.unwrap();
        let heads = store.claim_outbox(0, 10).await.unwrap();
        assert_eq!(heads.len(), 5);
        let outcomes: Vec<(&tailerbot::outbox::OutboxRow, Delivered)> = heads
            .iter()
            .map(|row| {
                let outcome = match row.message.body.text.as_str() {
                    "a1" => Delivered::Sent { ts: Some("100.1".into()) },
                    "b1" => Delivered::Sent { ts: Some("100.2".into()) },
                    "c1" => Delivered::Retry { at: 5_000, error: "slow".into(), in_doubt: true },
                    "d1" => Delivered::Defer { at: 1_000 },
                    _ => Delivered::Failed { error: "channel_not_found".into() },
                };
                (row, outcome)
            })
            .collect();
        store.outbox_record(&outcomes).await.unwrap();
        assert_eq!(store.thread("card:a").await.unwrap(), Some(("C0DATA".into(), "100.1".into())), "a root's ts is its lane's thread");
        assert_eq!(store.thread("card:b").await.unwrap(), None, "a message in the channel starts no thread");
        let mut next = texts(&store, 1).await;
        next.sort();
        assert_eq!(next, ["a2", "b2", "e2"], "the lanes whose head was sent or given up on go on; the others wait");
        let later: Vec<(String, bool)> =
            store.claim_outbox(6_000, 10).await.unwrap().into_iter().filter(|r| r.message.body.text.ends_with('1')).map(|r| (r.message.body.text, r.in_doubt)).collect();
        assert_eq!(later, [("c1".to_owned(), true), ("d1".to_owned(), false)], "the retried and the deferred, when due");
    }

    async fn what_goes_before_a_runs_last_end_news_of_a_batch_goes_ahead_and_what_follows_it_does_not(store) {
        let backlog: Vec<OutboxMessage> = (0..3_000).map(|i| message(&format!("card:run{i}:C0DATA"), &format!("progress {i}"), None)).collect();
        store.enqueue(&backlog, 0).await.unwrap();
        let lane = "card:new:C0DATA";
        // In one batch: the news of the end in two messages with a reply between them,
        // then a note that is no news of the end.
        let batch = [
            message(lane, "edit", None).first(),
            message(lane, "between", None),
            message(lane, "reply", None).first(),
            message(lane, "after", None),
        ];
        store.enqueue(&batch, 1).await.unwrap();
        let mut order = Vec::new();
        for now in 2..6 {
            let claimed = store.claim_outbox(now, 1).await.unwrap();
            order.push(claimed[0].message.body.text.clone());
            store.outbox_sent(&claimed[0], None).await.unwrap();
        }
        assert_eq!(order, ["edit", "between", "reply", "progress 0"], "the lane up to its last end news, then the backlog");
    }

    async fn every_destination_comes_back_as_it_was_queued(store) {
        let (channel, user) = ("C0DATA".to_owned(), "U0A".to_owned());
        let destinations = vec![
            Destination::Respond { url: "https://hooks.slack.com/commands/T/1/x".into(), channel: Some(channel.clone()), user: Some(user.clone()) },
            Destination::Respond { url: "https://hooks.slack.com/commands/T/2/y".into(), channel: None, user: None },
            Destination::Post { channel: channel.clone(), place: Place::Channel, asked_by: Some(user.clone()) },
            Destination::Post { channel: channel.clone(), place: Place::Root, asked_by: None },
            Destination::Post { channel: channel.clone(), place: Place::Thread { broadcast: true }, asked_by: None },
            Destination::Post { channel: channel.clone(), place: Place::Thread { broadcast: false }, asked_by: None },
            Destination::Update { channel: channel.clone() },
            Destination::Ephemeral { channel: channel.clone(), user: user.clone(), thread_ts: None },
            Destination::Ephemeral { channel: channel.clone(), user: user.clone(), thread_ts: Some("1700000000.000002".into()) },
            Destination::Post { channel: channel.clone(), place: Place::Reply { ts: "1700000000.000003".into() }, asked_by: Some(user.clone()) },
            Destination::View { user: user.clone(), dm: Some("D0ANALYST".into()) },
            Destination::View { user: user.clone(), dm: None },
            Destination::Upload { channel: channel.clone(), thread_ts: Some("1700000000.000001".into()), asked_by: Some(user.clone()), in_lane: false },
            Destination::Upload { channel: channel.clone(), thread_ts: None, asked_by: None, in_lane: false },
            Destination::Upload { channel: channel.clone(), thread_ts: None, asked_by: None, in_lane: true },
        ];
        let messages: Vec<OutboxMessage> = destinations
            .iter()
            .enumerate()
            .map(|(i, to)| OutboxMessage::new(format!("lane{i}"), to.clone(), OutboxBody::plain(format!("m{i}"), vec![])))
            .collect();
        store.enqueue(&messages, 0).await.unwrap();
        let back: Vec<Destination> = store.claim_outbox(0, 20).await.unwrap().into_iter().map(|r| r.message.to).collect();
        assert_eq!(back, destinations);
    }

    async fn a_file_to_upload_comes_back_byte_for_byte(store) {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let file = Upload { filename: "chart.png".into(), title: "t".into(), alt_text: "a".into(), bytes: bytes.clone() };
        let upload = OutboxMessage::upload("history:r", "C0DATA", None, OutboxBody::plain("words".into(), vec![]), file.clone());
        store.enqueue(&[upload], 0).await.unwrap();
        let back = store.claim_outbox(0, 10).await.unwrap().remove(0).message;
        assert_eq!(back.body.upload, Some(file));
        assert_eq!(back.body.text, "words");
    }

    async fn a_root_message_becomes_its_lane_thread(store) {
        store.enqueue(&[message("card:r1:C0DATA", "card", None).as_root()], 0).await.unwrap();
        let root = store.claim_outbox(0, 10).await.unwrap().remove(0);
        store.outbox_sent(&root, Some("1700000000.000001")).await.unwrap();
        assert_eq!(store.thread("card:r1:C0DATA").await.unwrap(), Some(("C0DATA".into(), "1700000000.000001".into())));
        assert!(!store.lane_root_failed("card:r1:C0DATA").await.unwrap());
    }

    async fn a_message_that_timed_out_on_the_wire_comes_back_in_doubt(store) {
        store.enqueue(&[message("a", "a1", None)], 0).await.unwrap();
        let row = store.claim_outbox(0, 10).await.unwrap().remove(0);
        store.outbox_retry(row.id, 1_000, "timed out", true).await.unwrap();
        let again = store.claim_outbox(1_000, 10).await.unwrap().remove(0);
        assert!(again.in_doubt);
        assert_eq!(again.attempts, 1);
    }

    async fn a_run_is_announced_in_a_channel_once(store) {
        assert!(store.announce("C0S", "run1", &message("s", "x", None), 0).await.unwrap());
        assert!(!store.announce("C0S", "run1", &message("s", "x", None), 1).await.unwrap());
        store.mark_announced("C0S", "run2", 2).await.unwrap();
        assert!(!store.announce("C0S", "run2", &message("s", "y", None), 3).await.unwrap());
        assert_eq!(store.outbox_depth().await.unwrap().0, 1);
    }

    async fn the_next_due_time_ignores_messages_waiting_behind_their_lane_head(store) {
        store.enqueue(&[message("a", "a1", None), message("a", "a2", None)], 0).await.unwrap();
        let head = store.claim_outbox(0, 10).await.unwrap().remove(0);
        store.outbox_defer(&head, 5_000).await.unwrap();
        assert_eq!(store.outbox_next_due().await.unwrap(), Some(5_000), "a2 waits for a1, so nothing is due before 5 s");
        assert!(store.claim_outbox(4_999, 10).await.unwrap().is_empty());
    }

    async fn a_channel_that_follows_a_run_on_a_card_is_not_announced_its_end(store) {
        assert!(store.start_watch("iowa-prepare", &card("run9", "C0DATA"), &message("card:run9:C0DATA", "card", None), 0, 15_000).await.unwrap());
        assert!(!store.announce("C0DATA", "run9", &message("s", "ended", None), 1).await.unwrap());
        assert!(store.announce("C0OTHER", "run9", &message("s", "ended", None), 1).await.unwrap());
    }

    async fn a_card_keeps_its_execution_date_and_says_where_it_was_posted_after_its_run_ended(store) {
        let dated = CardRow { execution_date: Some("2026-11-30".into()), ..card("run7", "C0DATA") };
        assert!(store.start_watch("iowa-prepare", &dated, &message("card:run7:C0DATA", "card", None), 0, 15_000).await.unwrap());
        assert!(store.unwatch("run7", "C0DATA").await.unwrap());
        assert!(store.cards("run7").await.unwrap().is_empty(), "no longer followed");
        assert_eq!(store.all_cards("run7").await.unwrap(), vec![dated], "still on record, with its date");
        assert_eq!(store.card_posted_in("run7", "C0DATA").await.unwrap().as_deref(), Some("iowa-prepare"));
        assert_eq!(store.card_posted_in("run7", "C0OTHER").await.unwrap(), None);
    }

    async fn racing_watches_of_one_run_in_one_channel_make_one_card(store) {
        let racers: Vec<_> = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store.start_watch("iowa-prepare", &card("run5", "C0DATA"), &message("card:run5:C0DATA", "card", None), 0, 15_000).await.unwrap()
            })
        }).collect();
        let mut started = 0;
        for racer in racers {
            started += usize::from(racer.await.unwrap());
        }
        assert_eq!(started, 1);
        assert_eq!(store.outbox_depth().await.unwrap().0, 1, "one card posted");
        assert_eq!(store.cards("run5").await.unwrap().len(), 1);
    }

    async fn a_claimed_poll_is_recorded_with_its_messages_and_released(store) {
        store.start_watch("iowa-prepare", &card("run3", "C0DATA"), &message("card:run3:C0DATA", "card", None), 0, 15_000).await.unwrap();
        let due = store.claim_watches(0, 10).await.unwrap();
        assert_eq!(due.iter().map(|w| w.run_id.as_str()).collect::<Vec<_>>(), vec!["run3"]);
        assert!(store.record_poll("run3", &running(1), &[message("card:run3:C0DATA", "RUNNING", None)], &[], 1).await.unwrap());
        let w = store.watch("run3").await.unwrap().unwrap();
        assert_eq!((w.status.as_deref(), w.polls, w.next_poll_at), (Some("RUNNING"), 1, 15_001));
        assert_eq!(store.outbox_depth().await.unwrap().0, 2, "the card and the poll's reply");
        assert!(store.claim_watches(15_000, 10).await.unwrap().is_empty(), "not due again before its next poll");
        assert_eq!(store.next_watch_due().await.unwrap(), Some(15_001));
    }

    async fn the_other_watches_of_a_job_due_soon_are_claimed_with_it_once(store) {
        for (run, job, at) in [("run31", "iowa-prepare", 0), ("run32", "iowa-prepare", 5_000), ("run33", "iowa-prepare", 20_000), ("run34", "stock-enrich", 5_000)] {
            store.start_watch(job, &card(run, "C0DATA"), &message(&format!("card:{run}:C0DATA"), "card", None), at, 15_000).await.unwrap();
        }
        assert_eq!(store.claim_watches(0, 10).await.unwrap().iter().map(|w| w.run_id.as_str()).collect::<Vec<_>>(), vec!["run31"]);
        let with = store.claim_watches_of_jobs(0, &["iowa-prepare"], 7_500, 10).await.unwrap();
        assert_eq!(with.iter().map(|w| w.run_id.as_str()).collect::<Vec<_>>(), vec!["run32"], "not a later one, not another job's, not one held");
        assert!(store.claim_watches_of_jobs(0, &["iowa-prepare"], 7_500, 10).await.unwrap().is_empty(), "held now");
        assert!(store.claim_watches_of_jobs(0, &["iowa-prepare"], 30_000, 0).await.unwrap().is_empty(), "the limit holds");
        assert!(store.claim_watches_of_jobs(0, &[], 30_000, 10).await.unwrap().is_empty());
        assert!(store.record_poll("run32", &running(1), &[], &[], 1).await.unwrap(), "claimed for this replica");
        let mut counts = store.watched_runs_of_jobs(&["iowa-prepare", "stock-enrich", "sales-daily"]).await.unwrap();
        counts.sort();
        assert_eq!(counts, vec![("iowa-prepare".to_owned(), 3), ("stock-enrich".to_owned(), 1)]);
        assert!(store.unwatch("run33", "C0DATA").await.unwrap());
        assert_eq!(store.watched_runs_of_jobs(&["iowa-prepare"]).await.unwrap(), vec![("iowa-prepare".to_owned(), 2)], "followed now only");
    }

    async fn a_poll_does_not_revive_a_watch_stopped_meanwhile(store) {
        store.start_watch("iowa-prepare", &card("run7", "C0DATA"), &message("card:run7:C0DATA", "card", None), 0, 15_000).await.unwrap();
        assert_eq!(store.claim_watches(0, 10).await.unwrap().len(), 1);
        assert!(store.unwatch("run7", "C0DATA").await.unwrap());
        assert!(!store.record_poll("run7", &running(1), &[message("card:run7:C0DATA", "late", None)], &[], 1).await.unwrap());
        assert_eq!(store.active_watch_count().await.unwrap(), 0);
        assert_eq!(store.outbox_depth().await.unwrap().0, 1, "only the card: the late poll's message is dropped with it");
    }

    async fn polls_recorded_at_once_are_each_written_on_their_own_terms(store) {
        for run in ["run21", "run22", "run23"] {
            let lane = format!("card:{run}:C0DATA");
            store.start_watch("iowa-prepare", &card(run, "C0DATA"), &message(&lane, "card", None), 0, 15_000).await.unwrap();
        }
        assert_eq!(store.claim_watches(0, 10).await.unwrap().len(), 3);
        assert!(store.unwatch("run22", "C0DATA").await.unwrap());
        // Sent together (written by one transaction when they meet in the recorder), the
        // stopped run's poll is dropped without taking the others with it.
        let update = running(1);
        let replies: Vec<[OutboxMessage; 1]> =
            ["run21", "run22", "run23"].iter().map(|run| [message(&format!("card:{run}:C0DATA"), "RUNNING", None)]).collect();
        let (a, b, c) = tokio::join!(
            store.record_poll("run21", &update, &replies[0], &[], 1),
            store.record_poll("run22", &update, &replies[1], &[], 1),
            store.record_poll("run23", &update, &replies[2], &[], 1),
        );
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (true, false, true));
        for run in ["run21", "run23"] {
            let w = store.watch(run).await.unwrap().unwrap();
            assert_eq!((w.status.as_deref(), w.polls, w.next_poll_at), (Some("RUNNING"), 1, 15_001), "{run}");
        }
        assert_eq!(store.watch("run22").await.unwrap().unwrap().polls, 0);
        assert_eq!(store.outbox_depth().await.unwrap().0, 5, "three cards and the two written polls' replies");
    }

    async fn quiet_polls_recorded_at_once_are_written_together_each_on_its_own_terms(store) {
        watched_and_claimed(&store, &["run51", "run52", "run53", "run54"]).await;
        assert!(store.unwatch("run52", "C0DATA").await.unwrap());
        // Nothing to tell (no message): run51 with what Tailer showed, run53 not shown
        // yet, run52 stopped meanwhile; run54 told, beside them.
        let shown = WatchUpdate { item: Some(r#"{"run_id":"run51","status":"RUNNING"}"#.into()), ..running(1) };
        let unseen = WatchUpdate { status: None, status_since: None, first_seen_at: None, item: None, ..running(1) };
        let (told, update) = ([message("card:run54:C0DATA", "RUNNING", None)], running(1));
        let (a, b, c, d) = tokio::join!(
            store.record_poll("run51", &shown, &[], &[], 1),
            store.record_poll("run52", &shown, &[], &[], 1),
            store.record_poll("run53", &unseen, &[], &[], 1),
            store.record_poll("run54", &update, &told, &[], 1),
        );
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()), (true, false, true, true));
        let w = store.watch("run51").await.unwrap().unwrap();
        assert_eq!((w.status.as_deref(), w.status_since, w.first_seen_at, w.polls), (Some("RUNNING"), Some(1), Some(1), 1));
        assert_eq!((w.interval_ms, w.next_poll_at, w.item.as_deref(), w.active), (15_000, 15_001, shown.item.as_deref(), true));
        let w = store.watch("run53").await.unwrap().unwrap();
        assert_eq!((w.status, w.status_since, w.first_seen_at, w.item, w.polls, w.active), (None, None, None, None, 1, true));
        let w = store.watch("run52").await.unwrap().unwrap();
        assert_eq!((w.polls, w.active), (0, false), "a stopped watch is not revived");
        assert_eq!(store.outbox_depth().await.unwrap().0, 5, "four cards and run54's reply");
        // Each gave its claim back: due again at its next poll, not before.
        assert!(store.claim_watches(15_000, 10).await.unwrap().is_empty());
        assert_eq!(store.claim_watches(15_001, 10).await.unwrap().len(), 3);
    }

    async fn polls_that_tell_are_written_with_the_quiet_ones_and_one_not_held_queues_nothing(store) {
        watched_and_claimed(&store, &["run61", "run62", "run63", "run64"]).await;
        assert!(store.unwatch("run62", "C0DATA").await.unwrap());
        // run61 ends, told; run62, stopped meanwhile, would tell; run63 told it runs;
        // run64 quiet. One batch.
        let ended = WatchUpdate { status: Some("SUCCESS".into()), active: false, ..running(1) };
        let (end, late, news) =
            ([message("card:run61:C0DATA", "SUCCESS", None)], [message("card:run62:C0DATA", "SUCCESS", None)], [message("card:run63:C0DATA", "RUNNING", None)]);
        let (runs, told) = (running(1), ["C0DATA".to_owned()]);
        let (a, b, c, d) = tokio::join!(
            store.record_poll("run61", &ended, &end, &told, 1),
            store.record_poll("run62", &ended, &late, &[], 1),
            store.record_poll("run63", &runs, &news, &[], 1),
            store.record_poll("run64", &runs, &[], &[], 1),
        );
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()), (true, false, true, true));
        let w = store.watch("run61").await.unwrap().unwrap();
        assert_eq!((w.status.as_deref(), w.active, w.polls), (Some("SUCCESS"), false, 1), "the end stops the watch");
        assert!(store.cards("run61").await.unwrap().is_empty(), "and its cards");
        let w = store.watch("run63").await.unwrap().unwrap();
        assert_eq!((w.status.as_deref(), w.active, w.polls), (Some("RUNNING"), true, 1));
        assert_eq!(store.watch("run62").await.unwrap().unwrap().polls, 0, "the watch not held is left as it was");
        assert_eq!(store.outbox_depth().await.unwrap().0, 6, "four cards, run61's end and run63's news; nothing of run62");
    }

    async fn a_timer_fires_once(store) {
        let timer = TimerRow {
            id: "t1".into(),
            job: "iowa".into(),
            due_at: 1_000,
            channel_id: "C0DATA".into(),
            lane: "write:1".into(),
            requested_by: "U0A".into(),
            reason: None,
            attempts: 0,
        };
        store.add_timer(&timer, 0).await.unwrap();
        assert!(store.claim_timers(999, 10).await.unwrap().is_empty());
        assert_eq!(store.claim_timers(1_000, 10).await.unwrap().len(), 1);
        let on = SwitchRow::by_bot("sales-daily", false, "U0A", None, 1_000, None);
        assert!(store.finish_timer("t1", "done", Some(&on), &[message("write:1", "re-enabled", None)], 1_000).await.unwrap());
        assert!(!store.finish_timer("t1", "done", None, &[message("write:1", "re-enabled", None)], 1_001).await.unwrap());
        assert_eq!(store.outbox_depth().await.unwrap().0, 1);
        assert!(store.pending_timers().await.unwrap().is_empty());
        assert_eq!(store.switch("sales-daily").await.unwrap(), Some(on), "the re-enable is noted with the timer");
    }

    async fn what_is_switched_off_keeps_the_newest_fact(store) {
        let off = SwitchRow::by_bot("sales-daily", true, "U0A", Some("vendor late"), 1_000, Some(9_000));
        store.set_switch(&off).await.unwrap();
        // An older fact (a run that ended DEACTIVATED before) changes nothing.
        store.seen_deactivated("sales-daily", 500).await.unwrap();
        assert_eq!(store.switch("sales-daily").await.unwrap(), Some(off.clone()));
        store.set_switch(&SwitchRow::by_bot("sales-daily", false, "U0B", None, 900, None)).await.unwrap();
        assert_eq!(store.switch("sales-daily").await.unwrap(), Some(off), "an older enable does not undo a newer disable");
        let on = SwitchRow::by_bot("sales-daily", false, "U0B", None, 2_000, None);
        store.set_switch(&on).await.unwrap();
        assert!(store.switched_off().await.unwrap().is_empty(), "enabled again");
        // A run that ended DEACTIVATED after the bot enabled it: someone switched it off.
        store.seen_deactivated("sales-daily", 3_000).await.unwrap();
        let seen = store.switched_off().await.unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].by_user.as_deref(), seen[0].source.as_str(), seen[0].since_ms), (None, "tailer", 3_000));
        store.seen_deactivated("stock-enrich", 10).await.unwrap();
        assert_eq!(store.switched_off().await.unwrap().iter().map(|s| s.job.as_str()).collect::<Vec<_>>(), vec!["stock-enrich", "sales-daily"]);
    }

    async fn a_launch_left_calling_is_taken_over_once_its_claim_runs_out_and_settled_once(store) {
        let launch = tailerbot::store::LaunchRow {
            key: "ref1:iowa".into(),
            job: "iowa".into(),
            channel_id: "C0DATA".into(),
            user_id: "U0A".into(),
            reference: "ref1".into(),
            started_at: 0,
            run_id: None,
            // Kept, so that a launch taken over keeps its execution date.
            execution_date: Some("2026-11-30".into()),
        };
        store.begin_launch(&launch, 0).await.unwrap();
        // Unsettled, as the job's other launches made about then see it (not another
        // job's, not outside the window), held by its replica while its claim lasts.
        let near = store.launches_near("iowa", -60_000, 60_000).await.unwrap();
        let seen: Vec<_> = near.iter().map(|u| (u.key.as_str(), u.channel_id.as_str(), u.user_id.as_str(), u.started_at)).collect();
        assert_eq!(seen, vec![("ref1:iowa", "C0DATA", "U0A", 0)]);
        assert!(near[0].held(29_999) && !near[0].held(30_000), "held while its claim lasts: {near:?}");
        assert!(store.launches_near("sales", -60_000, 60_000).await.unwrap().is_empty(), "another job's");
        assert!(store.launches_near("iowa", 1, 60_000).await.unwrap().is_empty(), "outside the window");
        assert!(store.claim_interrupted_launches(29_999, 10).await.unwrap().is_empty(), "its replica is still making it");
        let taken = store.claim_interrupted_launches(30_000, 10).await.unwrap();
        assert_eq!(taken, vec![launch.clone()]);
        store.retry_launch("ref1:iowa", Some("run42"), 40_000).await.unwrap();
        assert!(store.claim_interrupted_launches(39_999, 10).await.unwrap().is_empty());
        let waiting = store.launches_near("iowa", 0, 0).await.unwrap();
        assert_eq!(waiting[0].run_id.as_deref(), Some("run42"));
        assert!(!waiting[0].held(0), "put off: nobody holds it ({waiting:?})");
        let again = store.claim_interrupted_launches(40_000, 10).await.unwrap();
        assert_eq!(again[0].run_id.as_deref(), Some("run42"));
        assert!(store.launches_near("iowa", 0, 0).await.unwrap()[0].held(40_000), "claimed again");
        store.end_launch("ref1:iowa", Some("run42")).await.unwrap();
        assert!(store.launches_near("iowa", 0, 0).await.unwrap().is_empty(), "settled with its run");
        assert_eq!(store.launch_state("ref1:iowa").await.unwrap(), Some(("done".to_owned(), Some("run42".to_owned()))));
        assert!(store.claim_interrupted_launches(1_000_000, 10).await.unwrap().is_empty(), "settled");
        // Settled without its run told apart: still seen by the launches made about then
        // (it may have started a run), never taken over again, and not made known by
        // settling it again.
        let unknown = tailerbot::store::LaunchRow { key: "ref3:iowa".into(), started_at: 5_000, execution_date: None, ..launch };
        store.begin_launch(&unknown, 5_000).await.unwrap();
        store.end_launch_unknown("ref3:iowa").await.unwrap();
        let near = store.launches_near("iowa", 0, 10_000).await.unwrap();
        assert_eq!(near.iter().map(|u| (u.key.as_str(), u.state.as_str(), u.held(5_000))).collect::<Vec<_>>(), vec![("ref3:iowa", "unknown", false)]);
        assert!(store.claim_interrupted_launches(1_000_000, 10).await.unwrap().is_empty(), "not taken over");
        assert_eq!(store.launch_state("ref3:iowa").await.unwrap(), Some(("unknown".to_owned(), None)));
    }

    async fn a_write_is_noted_with_its_timers_claimed_once_its_lease_ends_and_settled_once(store) {
        let w = write("ref1", 0);
        store.begin_write(&w, &[timer("t1", "sales-daily", "write:ref1")], 0).await.unwrap();
        assert_eq!(store.pending_timers().await.unwrap().len(), 1, "the re-enable exists with the note");
        assert_eq!(store.writes_in_progress().await.unwrap(), 1);
        assert!(store.claim_interrupted_writes(1_000, 10).await.unwrap().is_empty(), "its replica holds it");
        let entry = audit_entry("ref1");
        let off = SwitchRow::by_bot("sales-daily", true, "U0A", Some("vendor late"), 1, Some(7_200_001));
        let step = r#"[{"job":"sales-daily","outcome":"succeeded","line":"done"}]"#;
        assert!(store.write_step("ref1", step, Some(&entry), Some(&off), &[], 1).await.unwrap());
        assert_eq!(store.switched_off().await.unwrap(), vec![off], "what is off is noted with the step");
        let taken = store.claim_interrupted_writes(60_000, 10).await.unwrap();
        assert_eq!(taken.len(), 1, "taken over once the lease ran out");
        assert!(taken[0].steps.contains("succeeded"), "with what was known");
        // Given back (the store failed while it was settled): looked at again from the
        // time named, not at once.
        store.retry_write("ref1", 1_000_000, false).await.unwrap();
        assert!(store.claim_interrupted_writes(60_000, 10).await.unwrap().is_empty(), "given back for later");
        assert_eq!(store.claim_interrupted_writes(1_000_001, 10).await.unwrap().len(), 1, "taken again then");
        // Given back after its answer went out: marked so, for good.
        assert!(!store.write_answered("ref1").await.unwrap(), "not answered yet");
        store.retry_write("ref1", 1_000_002, true).await.unwrap();
        store.retry_write("ref1", 1_000_002, false).await.unwrap();
        assert!(store.write_answered("ref1").await.unwrap(), "answered stays answered");
        assert!(!store.write_answered("no-such-write").await.unwrap());
        assert!(store.finish_write("ref1", &[message("write:ref1", "answer", None)], 60_001).await.unwrap());
        assert!(!store.finish_write("ref1", &[message("write:ref1", "again", None)], 60_002).await.unwrap(), "settled once");
        // Settled, it is no longer held: the renewal of claims does not carry every
        // settled write along for ever.
        assert_eq!(store.renew_leases(60_002).await.unwrap(), 0, "a settled write keeps no claim");
        assert!(store.claim_interrupted_writes(i64::MAX / 2, 10).await.unwrap().is_empty(), "nor is it ever taken over");
        assert!(!store.write_step("ref1", "[]", Some(&entry), None, &[], 60_003).await.unwrap(), "nothing is noted after");
        assert_eq!(texts(&store, 60_004).await, vec!["answer"]);
        assert_eq!(store.writes_in_progress().await.unwrap(), 0);
        assert_eq!(store.recent_audit(Some("sales-daily"), 10).await.unwrap().len(), 1);
    }

    async fn an_empty_claim_does_not_make_a_failing_store_look_ready_and_a_claim_that_took_work_does(store) {
        store.health().failed(&"database or disk is full");
        assert!(store.claimed(store.claim_interrupted_writes(0, 10).await).unwrap().is_empty());
        assert_eq!(store.health().failing().as_deref(), Some("database or disk is full"), "nothing was written");
        store.begin_write(&write("ref9", 0), &[], 0).await.unwrap();
        assert_eq!(store.claimed(store.claim_interrupted_writes(60_000, 10).await).unwrap().len(), 1);
        assert_eq!(store.health().failing(), None, "taking work is a write that worked");
    }

    async fn a_confirmed_write_is_noted_with_the_decision_and_only_by_the_click_that_decides(store) {
        store.create_confirmation(&confirmation("c1", Action::Disable)).await.unwrap();
        let decided = store.confirm_and_begin("c1", "U0B", 1_000, &write("ref2", 1_000), &[timer("t2", "sales-daily", "write:ref2")]).await.unwrap();
        assert!(matches!(decided, Decision::Decided(_)));
        assert_eq!(store.writes_in_progress().await.unwrap(), 1);
        let again = store.confirm_and_begin("c1", "U0C", 1_001, &write("ref3", 1_001), &[timer("t3", "sales-daily", "write:ref3")]).await.unwrap();
        assert!(matches!(again, Decision::AlreadyDecided(_)));
        assert_eq!(store.writes_in_progress().await.unwrap(), 1, "the losing click notes nothing");
        assert_eq!(store.pending_timers().await.unwrap().len(), 1);
        assert_eq!(store.thread("write:ref2").await.unwrap(), Some(("C0DATA".to_owned(), "1.0001".to_owned())), "the question roots the thread");
    }

    async fn a_disable_keeps_its_own_re_enable_and_cancels_older_ones(store) {
        store.add_timer(&timer("old", "sales-daily", "write:a"), 0).await.unwrap();
        store.add_timer(&timer("new", "sales-daily", "write:b"), 0).await.unwrap();
        assert_eq!(store.cancel_timers_but("sales-daily", Some("write:b")).await.unwrap(), 1);
        assert_eq!(store.pending_timers().await.unwrap().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["new"]);
        assert_eq!(store.cancel_timers_but("sales-daily", Some("write:b")).await.unwrap(), 0, "a cancelled one is not counted again");
        // A refused disable cancels its own re-enable, never another write's.
        store.add_timer(&timer("other", "sales-daily", "write:c"), 0).await.unwrap();
        assert_eq!(store.cancel_write_timer("sales-daily", "write:b").await.unwrap(), 1);
        assert_eq!(store.pending_timers().await.unwrap().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["other"]);
    }

    async fn subscriptions_and_markers_round_trip(store) {
        let sub = tailerbot::store::SubscriptionRow {
            channel_id: "C0DATA".into(),
            target: "iowa".into(),
            filter: "failures".into(),
            created_by: "U0A".into(),
            created_at: 0,
        };
        assert!(store.subscribe(&sub).await.unwrap());
        assert!(!store.subscribe(&tailerbot::store::SubscriptionRow { filter: "all".into(), ..sub.clone() }).await.unwrap());
        assert_eq!(store.subscriptions(Some("C0DATA")).await.unwrap()[0].filter, "all");
        assert_eq!(store.subscriptions(None).await.unwrap().len(), 1);
        assert!(store.unsubscribe("C0DATA", "iowa").await.unwrap());
        assert!(!store.unsubscribe("C0DATA", "iowa").await.unwrap());
        store.set_marker("polled", 5).await.unwrap();
        store.set_marker("polled", 6).await.unwrap();
        assert_eq!(store.marker("polled").await.unwrap(), Some(6));
    }

    async fn an_expectations_day_is_decided_once_closed_once_and_the_files_are_kept_in_step(store) {
        use tailerbot::store::{CONFIGURED, ExpectationDayRow, ExpectationRow};
        let row = |channel: &str, job: &str, by: &str, minute: i32| ExpectationRow {
            channel_id: channel.into(),
            job: job.into(),
            at_minute: minute,
            tz: "Europe/Paris".into(),
            created_by: by.into(),
            created_at: 100,
            paused: None,
        };
        assert!(store.expect(&row("C0DATA", "sales-daily", "U0A", 420)).await.unwrap());
        assert!(!store.expect(&row("C0DATA", "sales-daily", "U0A", 450)).await.unwrap(), "changed, not new");
        let day = ExpectationDayRow {
            channel_id: "C0DATA".into(),
            job: "sales-daily".into(),
            day: "2026-12-06".into(),
            state: "missed".into(),
            deadline: 1_000,
            lane: "expect:C0DATA:sales-daily:2026-12-06".into(),
            decided_at: 2_000,
            met_run: None,
            met_at: None,
        };
        let alert = [message(&day.lane, "alert", None)];
        assert!(store.decide_day(&day, &alert, 2_000).await.unwrap());
        assert!(!store.decide_day(&day, &alert, 3_000).await.unwrap(), "decided once: nothing queued again");
        assert_eq!(texts(&store, 10_000).await, ["alert"]);
        let key = ("C0DATA", "sales-daily", "2026-12-06");
        let met = [message(&day.lane, "met", None)];
        assert!(store.close_day(key, "late", Some(("run-1", 4_000)), &met, 4_000).await.unwrap());
        assert!(!store.close_day(key, "muted", None, &met, 5_000).await.unwrap(), "closed once");
        let days = store.expectation_days(0).await.unwrap();
        assert_eq!((days[0].state.as_str(), days[0].met_run.as_deref()), ("late", Some("run-1")));

        // The file's: added from now, the file winning over a person's, removed with it.
        let file = [row("C0DATA", "sales-daily", CONFIGURED, 480), row("C0OPS", "iowa-prepare", CONFIGURED, 360)];
        store.sync_configured(&file, 7_000).await.unwrap();
        let all = store.expectations(None).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|e| e.created_by == CONFIGURED), "{all:?}");
        let ops = all.iter().find(|e| e.channel_id == "C0OPS").unwrap();
        assert_eq!((ops.at_minute, ops.created_at), (360, 7_000), "a new one counts from the sync");
        let audit = store.recent_audit(Some("sales-daily"), 5).await.unwrap();
        assert_eq!(audit.len(), 1, "the person's expectation taken over, said once: {audit:?}");
        assert!(audit[0].detail.contains("took over the expectation set in this channel (asked by U0A)"), "{audit:?}");
        store.sync_configured(&file[..1], 8_000).await.unwrap();
        let all = store.expectations(None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.channel_id.as_str()).collect::<Vec<_>>(), ["C0DATA"], "removed from the file, removed");
        store.expect(&row("C0OPS", "iowa-prepare", "U0A", 300)).await.unwrap();
        store.sync_configured(&[], 9_000).await.unwrap();
        let all = store.expectations(None).await.unwrap();
        assert_eq!(all.iter().map(|e| (e.channel_id.as_str(), e.created_by.as_str())).collect::<Vec<_>>(), [("C0OPS", "U0A")], "a person's stays");
    }

    async fn a_digest_is_set_changed_paused_and_each_day_posted_once(store) {
        use tailerbot::store::{DigestDayRow, DigestRow};
        let row = DigestRow {
            channel_id: "C0DATA".into(),
            at_minute: 540,
            tz: "Europe/Paris".into(),
            created_by: "U0A".into(),
            created_at: 100,
            paused: None,
        };
        assert!(store.set_digest(&row).await.unwrap());
        assert!(!store.set_digest(&DigestRow { at_minute: 600, ..row.clone() }).await.unwrap(), "changed, not new");
        assert_eq!(store.digest("C0DATA").await.unwrap().unwrap().at_minute, 600);
        let paused = store.pause_digest("C0DATA", "not_in_channel").await.unwrap();
        assert_eq!(paused.and_then(|p| p.paused).as_deref(), Some("not_in_channel"));
        assert!(store.pause_digest("C0DATA", "not_in_channel").await.unwrap().is_none(), "paused once");
        store.set_digest(&row).await.unwrap();
        assert_eq!(store.digests().await.unwrap()[0].paused, None, "set again: resumed");

        let day = DigestDayRow {
            channel_id: "C0DATA".into(),
            day: "2026-12-06".into(),
            lane: "digest:C0DATA:2026-12-06".into(),
            posted_at: 2_000,
            jobs: 4,
            attention: 1,
        };
        let post = [message(&day.lane, "digest", None)];
        assert!(store.post_digest(&day, &post, 2_000).await.unwrap());
        assert!(!store.post_digest(&DigestDayRow { posted_at: 3_000, ..day.clone() }, &post, 3_000).await.unwrap(), "posted once");
        assert_eq!(texts(&store, 10_000).await, ["digest"], "queued once");
        let next = DigestDayRow { day: "2026-12-07".into(), posted_at: 90_000_000, ..day.clone() };
        assert!(store.post_digest(&next, &post, 90_000_000).await.unwrap(), "the next day's");
        assert_eq!(store.digest_days(Some("C0DATA"), 0).await.unwrap().len(), 2);
        assert_eq!(store.digest_days(None, 50_000_000).await.unwrap(), [next]);
        assert!(store.digest_off("C0DATA").await.unwrap().is_some());
        assert!(store.digest_off("C0DATA").await.unwrap().is_none());
    }
}

/// The SQLite store has one replica: a new process frees what the last one claimed, and
/// a message it claimed is in doubt.
#[tokio::test]
async fn reopening_an_sqlite_store_frees_claims_and_puts_claimed_messages_in_doubt() {
    let db = TestDb::sqlite();
    let before = db.open().await;
    before.enqueue(&[message("a", "a1", None)], 0).await.unwrap();
    before.start_watch("iowa", &card("run1", "C0DATA"), &message("card:run1:C0DATA", "card", None), 0, 15_000).await.unwrap();
    assert_eq!(before.claim_outbox(0, 10).await.unwrap().len(), 2);
    assert_eq!(before.claim_watches(0, 10).await.unwrap().len(), 1);
    drop(before);
    let after = db.open().await;
    let rows = after.claim_outbox(0, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.in_doubt));
    assert_eq!(after.claim_watches(0, 10).await.unwrap().len(), 1, "at once, not after the lease");
}

/// A named lease held by a process that stopped, cleanly or with `kill -9`, is free for
/// the next one at once.
#[tokio::test]
async fn reopening_an_sqlite_store_frees_its_named_leases_after_a_clean_stop_or_a_kill() {
    let db = TestDb::sqlite();
    let before = db.open().await;
    assert!(before.hold_lease("subscriptions", 0).await.unwrap());
    before.release_leases().await.unwrap();
    drop(before);
    let after = db.open().await;
    assert!(after.hold_lease("subscriptions", 1).await.unwrap(), "given back at a clean stop: free at once");
    drop(after);
    let before = db.open().await;
    assert!(before.hold_lease("subscriptions", 2).await.unwrap());
    drop(before);
    let after = db.open().await;
    assert!(after.hold_lease("subscriptions", 1).await.unwrap(), "at once, not after the lease");
    assert!(after.hold_lease("subscriptions", 2).await.unwrap(), "and kept by its new holder");
}

/// Several replicas on one PostgreSQL database.
mod replicas {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    async fn replicas(n: usize) -> (TestDb, Vec<Store>) {
        let db = TestDb::postgres().await;
        let mut stores = Vec::new();
        for _ in 0..n {
            stores.push(db.open().await.with_lease(LEASE));
        }
        (db, stores)
    }

    #[tokio::test]
    async fn a_jobs_other_runs_held_by_one_replica_are_not_taken_with_it_by_another_until_the_lease_runs_out() {
        let (_db, r) = replicas(2).await;
        for (run, at) in [("run41", 0), ("run42", 5_000)] {
            r[0].start_watch("iowa", &card(run, "C0DATA"), &message(&format!("card:{run}:C0DATA"), "card", None), at, 15_000)
                .await
                .unwrap();
        }
        assert_eq!(r[0].claim_watches(0, 10).await.unwrap().len(), 1);
        assert_eq!(r[0].claim_watches_of_jobs(0, &["iowa"], 7_500, 10).await.unwrap().len(), 1, "run42, with run41");
        assert!(r[1].claim_watches_of_jobs(1, &["iowa"], 30_000, 10).await.unwrap().is_empty(), "the other replica holds both");
        // The first replica dies; its lease runs out and the other takes them over.
        assert_eq!(r[1].claim_watches_of_jobs(30_000, &["iowa"], 60_000, 10).await.unwrap().len(), 2);
        assert!(!r[0].record_poll("run42", &running(30_001), &[], &[], 30_001).await.unwrap(), "the first replica's late poll is dropped");
    }

    #[tokio::test]
    async fn watches_given_back_are_free_for_another_replica_at_once() {
        let (_db, r) = replicas(2).await;
        for run in ["run61", "run62"] {
            r[0].start_watch("iowa", &card(run, "C0DATA"), &message(&format!("card:{run}:C0DATA"), "card", None), 0, 15_000).await.unwrap();
        }
        assert_eq!(r[0].claim_watches(0, 10).await.unwrap().len(), 2);
        r[1].give_back_watches(&["run61"]).await.unwrap();
        assert!(r[1].claim_watches(1, 10).await.unwrap().is_empty(), "only the replica holding a watch gives it back");
        r[0].give_back_watches(&["run61"]).await.unwrap();
        let taken = r[1].claim_watches(1, 10).await.unwrap();
        assert_eq!(taken.iter().map(|w| w.run_id.as_str()).collect::<Vec<_>>(), vec!["run61"], "given back, due as it was");
        assert!(!r[0].record_poll("run61", &running(2), &[], &[], 2).await.unwrap(), "no longer the first replica's to poll");
    }

    #[tokio::test]
    async fn a_watched_run_is_claimed_by_one_replica_until_its_lease_expires() {
        let (db, r) = replicas(2).await;
        r[0].start_watch("iowa", &card("run1", "C0DATA"), &message("card:run1:C0DATA", "card", None), 0, 15_000).await.unwrap();
        assert_eq!(r[0].claim_watches(0, 10).await.unwrap().len(), 1);
        assert!(r[1].claim_watches(1, 10).await.unwrap().is_empty(), "the other replica holds it");
        assert_eq!(r[1].next_watch_due().await.unwrap(), Some(30_000), "the other replica waits for the lease, not the poll");
        // The first replica dies: no renewal, no record. Its lease runs out.
        let taken = r[1].claim_watches(30_000, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert!(r[1].record_poll("run1", &running(30_001), &[message("card:run1:C0DATA", "RUNNING", None)], &[], 30_001).await.unwrap());
        // The first replica wakes up late with its own result: nothing of it is written.
        assert!(!r[0].record_poll("run1", &running(30_002), &[message("card:run1:C0DATA", "RUNNING", None)], &[], 30_002).await.unwrap());
        assert_eq!(r[0].outbox_depth().await.unwrap().0, 2, "the card and one RUNNING reply");
        db.finish().await;
    }

    #[tokio::test]
    async fn a_renewed_lease_keeps_the_work_with_its_replica() {
        let (db, r) = replicas(2).await;
        r[0].enqueue(&[message("a", "a1", None)], 0).await.unwrap();
        assert_eq!(r[0].claim_outbox(0, 10).await.unwrap().len(), 1);
        assert!(r[0].renew_leases(29_000).await.unwrap() >= 1);
        assert!(r[1].claim_outbox(30_000, 10).await.unwrap().is_empty(), "renewed until 59 s");
        assert!(r[0].hold_lease("subscriptions", 0).await.unwrap());
        assert!(!r[1].hold_lease("subscriptions", 10_000).await.unwrap());
        assert!(r[0].hold_lease("subscriptions", 10_000).await.unwrap(), "its holder keeps it");
        assert!(r[1].hold_lease("subscriptions", 40_000).await.unwrap(), "taken over once it runs out");
        db.finish().await;
    }

    #[tokio::test]
    async fn a_stalled_replicas_late_deferral_leaves_the_message_to_the_replica_that_took_it_over() {
        let (db, r) = replicas(2).await;
        r[0].enqueue(&[message("a", "a1", None)], 0).await.unwrap();
        let stale = r[0].claim_outbox(0, 10).await.unwrap().remove(0);
        let taken = r[1].claim_outbox(30_000, 10).await.unwrap();
        assert_eq!(taken.len(), 1, "taken over once the lease ran out");
        // The first replica wakes up and records its old decision: it no longer holds it.
        r[0].outbox_defer(&stale, 31_000).await.unwrap();
        assert!(r[0].claim_outbox(31_000, 10).await.unwrap().is_empty(), "still the second replica's");
        r[1].outbox_sent(&taken[0], Some("1.1")).await.unwrap();
        assert_eq!(r[1].outbox_depth().await.unwrap().0, 0, "sent once, by the replica that held it");
        db.finish().await;
    }

    #[tokio::test]
    async fn a_message_taken_over_from_a_dead_replica_is_in_doubt_and_its_lane_stays_in_order() {
        let (db, r) = replicas(2).await;
        r[0].enqueue(&[message("a", "a1", None), message("a", "a2", None)], 0).await.unwrap();
        let claimed = r[0].claim_outbox(0, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|m| m.message.body.text.as_str()).collect::<Vec<_>>(), vec!["a1"]);
        assert!(r[1].claim_outbox(0, 10).await.unwrap().is_empty(), "a2 waits behind a1, a1 is claimed");
        let taken = r[1].claim_outbox(30_000, 10).await.unwrap();
        assert_eq!(taken.iter().map(|m| (m.message.body.text.as_str(), m.in_doubt)).collect::<Vec<_>>(), vec![("a1", true)]);
        r[1].outbox_sent(&taken[0], Some("1.1")).await.unwrap();
        let next = r[1].claim_outbox(30_001, 10).await.unwrap();
        assert_eq!(next.iter().map(|m| (m.message.body.text.as_str(), m.in_doubt)).collect::<Vec<_>>(), vec![("a2", false)]);
        db.finish().await;
    }

    #[tokio::test]
    async fn replicas_claiming_at_once_share_the_work_without_overlap() {
        let (db, r) = replicas(3).await;
        for i in 0..120 {
            let run = format!("run{i}");
            r[0].start_watch("iowa", &card(&run, "C0DATA"), &message(&format!("card:{run}:C0DATA"), "card", None), 0, 15_000)
                .await
                .unwrap();
        }
        let claimers: Vec<_> = r
            .iter()
            .cloned()
            .map(|store| {
                tokio::spawn(async move { store.claim_watches(0, 50).await.unwrap().into_iter().map(|w| w.run_id).collect::<Vec<_>>() })
            })
            .collect();
        let mut all = Vec::new();
        for claimer in claimers {
            all.extend(claimer.await.unwrap());
        }
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!((claimed, all.len()), (120, 120), "three claims of up to 50 at once: every run claimed exactly once");
        db.finish().await;
    }

    #[tokio::test]
    async fn a_named_lease_given_back_at_a_clean_stop_is_taken_by_another_replica_at_once() {
        let (db, r) = replicas(3).await;
        assert!(r[0].hold_lease("subscriptions", 0).await.unwrap());
        assert!(!r[1].hold_lease("subscriptions", 1).await.unwrap());
        r[0].release_leases().await.unwrap();
        assert!(r[1].hold_lease("subscriptions", 2).await.unwrap(), "free at once, long before it would have run out");
        assert!(!r[2].hold_lease("subscriptions", 3).await.unwrap(), "then it is the new holder's");
        // A rolling deploy: every replica in turn stops cleanly; the last one's lease is free too.
        r[1].release_leases().await.unwrap();
        assert!(r[2].hold_lease("subscriptions", 4).await.unwrap());
        r[2].release_leases().await.unwrap();
        let fresh = db.open().await.with_lease(LEASE);
        assert!(fresh.hold_lease("subscriptions", 5).await.unwrap(), "a replica of the new version takes it at once");
        db.finish().await;
    }

    #[tokio::test]
    async fn a_claim_is_known_to_hold_for_a_lease_from_the_claim_or_the_last_renewal() {
        let (db, r) = replicas(1).await;
        assert_eq!(r[0].claim_holds_until(1_000), 31_000);
        r[0].renew_leases(20_000).await.unwrap();
        assert_eq!(r[0].claim_holds_until(1_000), 50_000, "renewed");
        assert_eq!(r[0].claim_holds_until(25_000), 55_000, "a later claim");
        db.finish().await;
    }

    #[tokio::test]
    async fn replicas_share_a_channels_pace() {
        let (db, r) = replicas(2).await;
        assert_eq!(r[0].take_channel_turn("C0DATA", 10_000, 1_000).await.unwrap(), None, "the first post goes");
        assert_eq!(r[1].take_channel_turn("C0DATA", 10_400, 1_000).await.unwrap(), Some(11_000), "the other replica posted 400 ms ago");
        assert_eq!(r[1].take_channel_turn("C0OTHER", 10_400, 1_000).await.unwrap(), None, "another channel has its own pace");
        assert_eq!(r[1].take_channel_turn("C0DATA", 11_000, 1_000).await.unwrap(), None, "its turn");
        assert_eq!(r[0].take_channel_turn("C0DATA", 11_500, 1_000).await.unwrap(), Some(12_000));
        // Replicas asking at the same moment: one post goes.
        let asks: Vec<_> = (0..12)
            .map(|i| {
                let store = r[i % 2].clone();
                tokio::spawn(async move { store.take_channel_turn("C0BUSY", 20_000, 1_000).await.unwrap() })
            })
            .collect();
        let mut turns = Vec::new();
        for ask in asks {
            turns.push(ask.await.unwrap());
        }
        assert_eq!(turns.iter().filter(|t| t.is_none()).count(), 1, "{turns:?}");
        assert!(turns.iter().flatten().all(|next| *next == 21_000), "the others wait for the next turn: {turns:?}");
        db.finish().await;
    }

    /// Each lane's first pending message, as the outbox itself says.
    async fn heads_from_the_outbox(pool: &sqlx::PgPool) -> Vec<(String, i64, i64, i64, Option<String>, Option<i64>)> {
        sqlx::query_as(
            "SELECT DISTINCT ON (lane) lane, id, urgency, next_attempt_at, lease_owner, lease_until
             FROM outbox WHERE state = 'pending' ORDER BY lane, id",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    async fn heads_kept(pool: &sqlx::PgPool) -> Vec<(String, i64, i64, i64, Option<String>, Option<i64>)> {
        sqlx::query_as("SELECT lane, head_id, urgency, next_attempt_at, lease_owner, lease_until FROM lane_heads ORDER BY lane")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_lane_heads_follow_the_outbox_through_claims_deliveries_collapses_and_stops() {
        let (db, r) = replicas(2).await;
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        // A fixed pseudo-random walk over what replicas do to the outbox.
        let mut seed: u64 = 0x5eed;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let mut now = 0;
        let mut held: Vec<Vec<tailerbot::outbox::OutboxRow>> = vec![Vec::new(), Vec::new()];
        for step in 0..300 {
            now += 700;
            let replica = next(2) as usize;
            match next(6) {
                0 | 1 => {
                    let lanes: Vec<OutboxMessage> = (0..1 + next(4))
                        .map(|i| {
                            let lane = format!("card:run{}:C0DATA", next(8));
                            let collapse = (next(3) == 0).then(|| format!("{lane}:edit"));
                            message(&lane, &format!("m{step}.{i}"), collapse.as_deref())
                        })
                        .collect();
                    r[replica].enqueue(&lanes, now).await.unwrap();
                }
                2 | 3 => held[replica].extend(r[replica].claim_outbox(now, 1 + next(5) as u32).await.unwrap()),
                4 => {
                    let rows = std::mem::take(&mut held[replica]);
                    let outcomes: Vec<(&tailerbot::outbox::OutboxRow, Delivered)> = rows
                        .iter()
                        .map(|row| {
                            let outcome = match next(4) {
                                0 => Delivered::Sent { ts: Some(format!("{now}.1")) },
                                1 => Delivered::Retry { at: now + 5_000, error: "slow".into(), in_doubt: false },
                                2 => Delivered::Defer { at: now + 1_000 },
                                _ => Delivered::Failed { error: "channel_not_found".into() },
                            };
                            (row, outcome)
                        })
                        .collect();
                    r[replica].outbox_record(&outcomes).await.unwrap();
                }
                _ => {
                    if next(4) == 0 {
                        // A clean stop: claims given back, what was held is in doubt.
                        r[replica].release_leases().await.unwrap();
                        held[replica].clear();
                    } else {
                        r[replica].renew_leases(now).await.unwrap();
                    }
                }
            }
            assert_eq!(heads_kept(&pool).await, heads_from_the_outbox(&pool).await, "after step {step}");
        }
        assert!(r[0].outbox_depth().await.unwrap().0 > 0, "the walk left work pending");
        pool.close().await;
        db.finish().await;
    }

    #[tokio::test]
    async fn a_clean_shutdown_gives_claims_back_at_once() {
        let (db, r) = replicas(2).await;
        r[0].enqueue(&[message("a", "a1", None)], 0).await.unwrap();
        assert_eq!(r[0].claim_outbox(0, 10).await.unwrap().len(), 1);
        r[0].release_leases().await.unwrap();
        let taken = r[1].claim_outbox(1, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].in_doubt, "claimed and not recorded: it may have been sent");
        db.finish().await;
    }
}

/// The outbox under any interleaving of queueing, sending, failures, lost answers and
/// crashes (the store reopened, as at the next start): each lane's messages reach Slack
/// in the order they were queued, each once, provided a message in doubt is looked for
/// before it is sent again (as delivery does).
mod outbox_property {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Queue(u8),
        /// A delivery pass whose sends go as the list says, in turn.
        Pass(u8),
    }

    #[derive(Debug, Clone, Copy)]
    enum Send {
        Accepted,
        Refused,
        AnswerLost,
        Crash,
    }

    fn send(n: u8) -> Send {
        match n % 4 {
            0 => Send::Accepted,
            1 => Send::Refused,
            2 => Send::AnswerLost,
            _ => Send::Crash,
        }
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(prop_oneof![(0u8..3).prop_map(Step::Queue), any::<u8>().prop_map(Step::Pass)], 1..40)
    }

    async fn run(steps: &[Step]) -> Result<(), TestCaseError> {
        let db = TestDb::sqlite();
        let mut store = db.open().await;
        let mut queued: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // What Slack shows, in order, and by outbox id (to find a message in doubt).
        let mut slack: Vec<(String, String)> = Vec::new();
        let mut posted: BTreeSet<i64> = BTreeSet::new();
        let mut now = 0;
        let mut n = 0;
        let passes = steps.iter().copied().chain((0..200).map(|_| Step::Pass(0)));
        for step in passes {
            now += 10;
            match step {
                Step::Queue(lane) => {
                    n += 1;
                    let (lane, text) = (format!("lane{lane}"), format!("m{n}"));
                    store.enqueue(&[message(&lane, &text, None)], now).await.unwrap();
                    queued.entry(lane).or_default().push(text);
                }
                Step::Pass(seed) => {
                    let rows = store.claim_outbox(now, 64).await.unwrap();
                    let lanes: BTreeSet<&str> = rows.iter().map(|r| r.message.lane.as_str()).collect();
                    prop_assert_eq!(lanes.len(), rows.len(), "one message per lane at a time");
                    for (i, row) in rows.iter().enumerate() {
                        let how = send(seed.wrapping_add(i as u8));
                        let already = row.in_doubt && posted.contains(&row.id);
                        if !already && !matches!(how, Send::Refused) {
                            posted.insert(row.id);
                            slack.push((row.message.lane.clone(), row.message.body.text.clone()));
                        }
                        match how {
                            Send::Accepted => store.outbox_sent(row, Some("1.1")).await.unwrap(),
                            Send::Refused => store.outbox_retry(row.id, now + 1, "503", false).await.unwrap(),
                            Send::AnswerLost => store.outbox_retry(row.id, now + 1, "timeout", true).await.unwrap(),
                            Send::Crash => {
                                store.close().await;
                                store = db.open().await;
                                break;
                            }
                        }
                    }
                }
            }
        }
        prop_assert_eq!(store.outbox_depth().await.unwrap().0, 0, "everything delivered");
        for (lane, texts) in &queued {
            let shown: Vec<&String> = slack.iter().filter(|(l, _)| l == lane).map(|(_, t)| t).collect();
            prop_assert_eq!(shown, texts.iter().collect::<Vec<_>>(), "lane {} in order, each once", lane);
        }
        store.close().await;
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
            ..ProptestConfig::default()
        })]

        #[test]
        fn each_lane_reaches_slack_in_order_once_through_failures_and_crashes(steps in steps()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(run(&steps))?;
        }
    }
}
