//! The store's contract: what every backend must do. Runs on SQLite here.

use tailerbot::domain::Action;
use tailerbot::store::{ConfirmationState, Decision, NewConfirmation, OutboxBody, OutboxMessage, OutboxMethod, Store};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("s.db").display())).await.unwrap();
    (dir, store)
}

fn message(lane: &str, text: &str, collapse: Option<&str>) -> OutboxMessage {
    OutboxMessage {
        lane: lane.into(),
        method: if collapse.is_some() { OutboxMethod::Update } else { OutboxMethod::Post },
        channel_id: Some("C0DATA".into()),
        user_id: None,
        in_thread: false,
        root: false,
        broadcast: false,
        collapse_key: collapse.map(str::to_owned),
        response_url: None,
        body: OutboxBody { text: text.into(), blocks: vec![], response_type: None, replace_original: false },
    }
}

#[tokio::test]
async fn a_request_key_is_new_once() {
    let (_dir, store) = store().await;
    assert!(store.first_time("trigger:1", 0).await.unwrap());
    assert!(!store.first_time("trigger:1", 10).await.unwrap());
    assert!(store.first_within("write:x", 0, 60_000).await.unwrap());
    assert!(!store.first_within("write:x", 59_999, 60_000).await.unwrap());
    assert!(store.first_within("write:x", 120_000, 60_000).await.unwrap());
}

#[tokio::test]
async fn a_confirmation_is_decided_once_among_racing_clicks() {
    let (_dir, store) = store().await;
    let c = NewConfirmation {
        id: "c1".into(),
        created_at: 0,
        expires_at: 600_000,
        team_id: "T0001".into(),
        channel_id: "C0DATA".into(),
        requester: "U0A".into(),
        action: Action::Disable,
        plan: "{}".into(),
        second_person: false,
    };
    store.create_confirmation(&c).await.unwrap();
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
}

#[tokio::test]
async fn an_expired_confirmation_is_reported_expired_once() {
    let (_dir, store) = store().await;
    let c = NewConfirmation {
        id: "c2".into(),
        created_at: 0,
        expires_at: 600_000,
        team_id: "T0001".into(),
        channel_id: "C0DATA".into(),
        requester: "U0A".into(),
        action: Action::Launch,
        plan: "{}".into(),
        second_person: false,
    };
    store.create_confirmation(&c).await.unwrap();
    assert!(matches!(store.decide("c2", ConfirmationState::Confirmed, "U0A", 600_001).await.unwrap(), Decision::Expired(_)));
    assert!(matches!(store.decide("c2", ConfirmationState::Confirmed, "U0A", 600_002).await.unwrap(), Decision::AlreadyDecided(_)));
}

#[tokio::test]
async fn successive_edits_of_one_card_collapse_to_the_latest() {
    let (_dir, store) = store().await;
    store.enqueue(&[message("card:r:C", "edit 1", Some("edit:card:r:C"))], 0).await.unwrap();
    store.enqueue(&[message("card:r:C", "edit 2", Some("edit:card:r:C"))], 1).await.unwrap();
    store.enqueue(&[message("card:r:C", "edit 3", Some("edit:card:r:C"))], 2).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap().0, 1);
    let heads = store.outbox_heads(10, 10).await.unwrap();
    assert_eq!(heads[0].message.body.text, "edit 3");
}

#[tokio::test]
async fn only_the_first_pending_message_of_a_lane_is_due() {
    let (_dir, store) = store().await;
    store.enqueue(&[message("a", "a1", None), message("a", "a2", None), message("b", "b1", None)], 0).await.unwrap();
    let heads: Vec<String> = store.outbox_heads(0, 10).await.unwrap().into_iter().map(|r| r.message.body.text).collect();
    assert_eq!(heads, vec!["a1", "b1"]);
    let first = store.outbox_heads(0, 10).await.unwrap().remove(0);
    store.outbox_sent(&first, Some("1.1")).await.unwrap();
    let heads: Vec<String> = store.outbox_heads(0, 10).await.unwrap().into_iter().map(|r| r.message.body.text).collect();
    assert_eq!(heads, vec!["a2", "b1"]);
}

#[tokio::test]
async fn a_run_is_announced_in_a_channel_once() {
    let (_dir, store) = store().await;
    assert!(store.announce("C0S", "run1", &message("s", "x", None), 0).await.unwrap());
    assert!(!store.announce("C0S", "run1", &message("s", "x", None), 1).await.unwrap());
    store.mark_announced("C0S", "run2", 2).await.unwrap();
    assert!(!store.announce("C0S", "run2", &message("s", "y", None), 3).await.unwrap());
    assert_eq!(store.outbox_depth().await.unwrap().0, 1);
}

#[tokio::test]
async fn the_next_due_time_ignores_messages_waiting_behind_their_lane_head() {
    let (_dir, store) = store().await;
    store.enqueue(&[message("a", "a1", None), message("a", "a2", None)], 0).await.unwrap();
    let head = store.outbox_heads(0, 10).await.unwrap().remove(0);
    store.outbox_defer(head.id, 5_000).await.unwrap();
    assert_eq!(store.outbox_next_due().await.unwrap(), Some(5_000), "a2 waits for a1, so nothing is due before 5 s");
    assert!(store.outbox_heads(4_999, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_channel_that_follows_a_run_on_a_card_is_not_announced_its_end() {
    let (_dir, store) = store().await;
    let card = tailerbot::store::CardRow {
        run_id: "run9".into(),
        channel_id: "C0DATA".into(),
        lane: "card:run9:C0DATA".into(),
        launched_by: None,
        watched_by: None,
    };
    assert!(store.start_watch("iowa-prepare", &card, &message("card:run9:C0DATA", "card", None), 0, 15_000).await.unwrap());
    assert!(!store.announce("C0DATA", "run9", &message("s", "ended", None), 1).await.unwrap());
    assert!(store.announce("C0OTHER", "run9", &message("s", "ended", None), 1).await.unwrap());
}

#[tokio::test]
async fn a_poll_does_not_revive_a_watch_stopped_meanwhile() {
    let (_dir, store) = store().await;
    let card = tailerbot::store::CardRow {
        run_id: "run7".into(),
        channel_id: "C0DATA".into(),
        lane: "card:run7:C0DATA".into(),
        launched_by: None,
        watched_by: None,
    };
    store.start_watch("iowa-prepare", &card, &message("card:run7:C0DATA", "card", None), 0, 15_000).await.unwrap();
    assert!(store.unwatch("run7", "C0DATA").await.unwrap());
    let update = tailerbot::store::WatchUpdate {
        status: Some("RUNNING".into()),
        status_since: Some(1),
        first_seen_at: Some(1),
        interval_ms: 15_000,
        next_poll_at: 15_001,
        item: None,
        active: true,
    };
    store.record_poll("run7", &update, &[], &[], 1).await.unwrap();
    assert_eq!(store.active_watch_count().await.unwrap(), 0);
}
