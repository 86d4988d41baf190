//! The outbox worker: takes the first due message of each lane, paces posts to about one
//! per second per channel, honours `Retry-After`, retries 5xx and timeouts with back-off,
//! and gives up only on errors that retrying cannot fix — telling the person who asked
//! when the channel is the problem. A post in doubt (its sender died, or its last try
//! timed out on the wire) is looked for in the channel first and sent only if absent.

use std::collections::HashMap;
use std::sync::Arc;

mod failures;
mod send;

pub use send::{SendError, send};

use dashmap::DashMap;
use futures::StreamExt;

use crate::clock::SharedClock;
use crate::outbox::{Delivered, OutboxRow};
use crate::outbox::{Destination, Drain, Outbox};
use crate::slack::api::{SlackApi, SlackError, SlackErrorKind};
use crate::stats::Stats;
use crate::store::Store;

/// Tries of a message in doubt whose check in Slack fails before it is posted anyway.
const DOUBT_CHECKS: i64 = 5;

/// Why a message is dropped quietly: the first message of its thread was given up on.
const THREAD_NEVER_POSTED: &str = "its thread's first message could not be posted";

impl Drain for Delivery {
    fn run_once(&self) -> futures::future::BoxFuture<'_, usize> {
        Box::pin(Delivery::run_once(self))
    }

    fn pass(&self) -> futures::future::BoxFuture<'_, usize> {
        Box::pin(Delivery::pass(self))
    }
}

/// Gap between two posts in one channel.
pub const CHANNEL_GAP_MS: i64 = 1_000;
/// Messages sent at once (each in its own lane).
const IN_FLIGHT: usize = 32;
/// Messages claimed by one pass (the first due one of as many lanes), whose outcomes are
/// then recorded in one transaction.
const PER_PASS: u32 = 128;
/// Passes of one `run_once` at most (the loop comes back soon anyway).
const MAX_PASSES: usize = 50;
/// The longest wait between two tries of a message.
const MAX_BACKOFF_MS: i64 = 300_000;
/// Slack refusing the bot token: no message is at fault, and none is given up. Delivery
/// holds everything, tries one message now and then (backing off up to
/// [`MAX_BACKOFF_MS`]), and resumes when the token works again (or at the next start,
/// with a new token).
pub const TOKEN_REFUSED: &[&str] = &["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"];

/// Delivers the outbox.
pub struct Delivery {
    store: Store,
    slack: Arc<SlackApi>,
    outbox: Outbox,
    clock: SharedClock,
    stats: Arc<Stats>,
    /// Channel → earliest time of its next post (ms). A cache: losing it only risks a
    /// burst that Slack tolerates.
    pacing: DashMap<String, i64>,
    /// Messages Slack accepted whose delivery could not be recorded (the store failed):
    /// the record is retried, never the send.
    unrecorded: DashMap<i64, Option<String>>,
    /// While Slack refuses the token: until when nothing is sent, and how many refusals
    /// in a row (for the back-off). A cache: after a restart one message finds out again.
    token_refused: std::sync::Mutex<Option<(i64, u32)>>,
}

enum Sent {
    Done(Option<String>),
    /// Try again then; `true` when this try may have reached Slack.
    Later(i64, bool),
    /// Not now (the channel's pace, a refused token): then, without counting a try.
    Deferred(i64),
    Failed(String),
    /// Not sent because the message it belongs under could not be: no use trying.
    Dropped,
    /// Not tried: the claim may have run out; the next claim takes it.
    Left,
}

impl Delivery {
    pub fn new(outbox: Outbox, store: Store, slack: Arc<SlackApi>, stats: Arc<Stats>) -> Delivery {
        Delivery {
            store,
            slack,
            clock: outbox.clock().clone(),
            outbox,
            stats,
            pacing: DashMap::new(),
            unrecorded: DashMap::new(),
            token_refused: std::sync::Mutex::new(None),
        }
    }

    /// Sends what is due, lane after lane, until nothing due is left (a lane's next
    /// message becomes due once the one before it is sent); returns how many messages
    /// were handled.
    pub async fn run_once(&self) -> usize {
        let mut handled = 0;
        for _ in 0..MAX_PASSES {
            let pass = self.pass().await;
            if pass == 0 {
                break;
            }
            handled += pass;
        }
        handled
    }

    /// One pass: the first due message of each lane (at most [`PER_PASS`]), the most
    /// urgent lanes first ([`crate::store::urgency`]), sent [`IN_FLIGHT`] at once, and
    /// what became of them recorded together; returns how many were handled.
    pub async fn pass(&self) -> usize {
        let now = self.clock.now_ms();
        let claimed = self.store.claim_outbox(now, PER_PASS).await;
        let rows = match self.store.claimed(claimed) {
            Ok(rows) => rows,
            Err(error) => {
                if let Some(repeats) = crate::telemetry::store_failure("outbox", &error) {
                    tracing::error!(%error, repeats, "cannot claim the outbox; trying again after a pause");
                }
                return 0;
            }
        };
        let handled = rows.len();
        // The threads the replies go under, in one read (`None`: each looks its own up).
        let lanes: Vec<&str> = rows.iter().filter(|r| r.message.to.needs_thread()).map(|r| r.message.lane.as_str()).collect();
        let threads = self.store.threads(&lanes).await.ok();
        // Recorded as they come, whatever is done at once in one transaction: a message
        // Slack took waits for its record no longer than the sends beside it. The sends
        // go on while a record is written (both are driven together): a send waiting
        // for its turn on the store's one SQLite connection must not be left unpolled
        // while holding it.
        let (finished, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
        let sending = async move {
            futures::stream::iter(rows)
                .map(|row| async {
                    let sent = self.deliver(&row, now, threads.as_ref()).await;
                    (row, sent)
                })
                .buffer_unordered(IN_FLIGHT)
                .for_each(|outcome| {
                    // The receiver lives until every outcome is recorded.
                    let _ = finished.send(outcome);
                    std::future::ready(())
                })
                .await;
        };
        let recording = async {
            let mut done = Vec::with_capacity(IN_FLIGHT);
            while outcomes.recv_many(&mut done, IN_FLIGHT).await > 0 {
                self.record(&done).await;
                done.clear();
            }
        };
        tokio::join!(sending, recording);
        handled
    }

    /// Whether a claim may have run out (this replica stalled past a third of its lease
    /// before sending): the message may be another replica's now, and sending it too
    /// could post it twice.
    fn claim_ran_out(&self, row: &OutboxRow, claimed_at: i64) -> bool {
        let store = &self.store;
        let ran_out = self.clock.now_ms() > store.claim_holds_until(claimed_at) - store.lease().as_millis() as i64 / 3;
        if ran_out {
            tracing::warn!(id = row.id, lane = %row.message.lane, "a claimed message waited too long to be sent; leaving it to the next claim");
        }
        ran_out
    }

    async fn deliver(&self, row: &OutboxRow, claimed_at: i64, threads: Option<&HashMap<String, String>>) -> Sent {
        // Slack took it already; only its record failed.
        if let Some(ts) = self.unrecorded.get(&row.id).map(|t| t.clone()) {
            return Sent::Done(ts);
        }
        let now = self.clock.now_ms();
        if let Some(until) = self.token_held_until().filter(|until| *until > now) {
            return Sent::Deferred(until);
        }
        if self.claim_ran_out(row, claimed_at) {
            return Sent::Left;
        }
        if let Destination::Post { channel, .. } | Destination::Upload { channel, .. } = &row.message.to {
            if let Some(next) = self.pacing.get(channel).map(|t| *t) {
                if next > now {
                    return Sent::Deferred(next);
                }
            }
            self.pacing.insert(channel.clone(), now + CHANNEL_GAP_MS);
            // The other replicas' posts in this channel count too.
            match self.store.take_channel_turn(channel, now, CHANNEL_GAP_MS).await {
                Ok(None) => {}
                Ok(Some(next)) => {
                    self.pacing.insert(channel.clone(), next);
                    return Sent::Deferred(next);
                }
                Err(error) => {
                    tracing::warn!(%error, id = row.id, "cannot read the channel's pace; trying again in a moment");
                    return Sent::Deferred(now + CHANNEL_GAP_MS);
                }
            }
        }
        // Checked again: taking the channel's turn went to the database.
        if self.claim_ran_out(row, claimed_at) {
            return Sent::Left;
        }
        let sent = self.send(row, threads).await;
        if let Sent::Done(_) = sent {
            crate::crash::point(crate::crash::AFTER_SLACK_POST);
            if self.token_refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().is_some() {
                tracing::info!("Slack accepts the bot token again; delivering the messages held meanwhile");
            }
        }
        sent
    }

    /// Records what became of messages in one transaction. Should that fail, each is
    /// recorded alone; a message Slack took whose record still fails is remembered, so
    /// that its next claim records it instead of sending it again; the others are simply
    /// tried again.
    async fn record(&self, outcomes: &[(OutboxRow, Sent)]) {
        // What each became, and whether a message given up on is dropped quietly (its
        // thread never existed).
        let (records, quiet): (Vec<(&OutboxRow, Delivered)>, Vec<bool>) = outcomes
            .iter()
            .filter_map(|(row, sent)| {
                let outcome = match sent {
                    Sent::Done(ts) => Delivered::Sent { ts: ts.clone() },
                    Sent::Later(at, in_doubt) => Delivered::Retry { at: *at, error: "retrying".into(), in_doubt: *in_doubt },
                    Sent::Deferred(at) => Delivered::Defer { at: *at },
                    Sent::Failed(reason) => Delivered::Failed { error: reason.clone() },
                    Sent::Dropped => Delivered::Failed { error: THREAD_NEVER_POSTED.into() },
                    Sent::Left => return None,
                };
                Some(((row, outcome), matches!(sent, Sent::Dropped)))
            })
            .unzip();
        let recorded = self.store.outbox_record(&records).await;
        let recorded: Vec<bool> = match self.store.noted(recorded, |()| !records.is_empty()) {
            Ok(()) => vec![true; records.len()],
            Err(error) => {
                tracing::error!(%error, messages = records.len(), "cannot record deliveries together; recording them one by one");
                let mut recorded = Vec::with_capacity(records.len());
                for (row, outcome) in &records {
                    let alone = self.store.outbox_record(&[(*row, outcome.clone())]).await;
                    if let Err(error) = &alone {
                        tracing::error!(%error, id = row.id, "cannot record a delivery; recording it again later");
                    }
                    recorded.push(alone.is_ok());
                }
                recorded
            }
        };
        for (((row, outcome), recorded), quiet) in records.iter().zip(recorded).zip(quiet) {
            match (outcome, recorded) {
                (Delivered::Sent { .. }, true) => {
                    self.unrecorded.remove(&row.id);
                }
                (Delivered::Sent { ts }, false) => {
                    self.unrecorded.insert(row.id, ts.clone());
                }
                // Given up, and recorded so: said once.
                (Delivered::Failed { error }, true) => self.gave_up(row, error, quiet).await,
                _ => {}
            }
        }
    }

    fn token_held_until(&self) -> Option<i64> {
        self.token_refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).map(|(until, _)| until)
    }

    async fn send(&self, row: &OutboxRow, threads: Option<&HashMap<String, String>>) -> Sent {
        let m = &row.message;
        let thread = if m.to.needs_thread() {
            let store_failed = |error: crate::store::StoreError| SlackError {
                method: "outbox",
                kind: SlackErrorKind::Transport,
                detail: error.to_string(),
            };
            // Read again when the pass's read has none: the root may have been recorded
            // since (a confirmation posted meanwhile).
            let found = match threads.and_then(|threads| threads.get(&m.lane)) {
                Some(ts) => Ok(Some(ts.clone())),
                None => self.store.thread(&m.lane).await.map(|t| t.map(|(_, ts)| ts)),
            };
            match found {
                Ok(Some(ts)) => Some(ts),
                Ok(None) => match self.store.lane_root_failed(&m.lane).await {
                    Ok(true) => return Sent::Dropped,
                    // No root in this lane: a reply goes to the channel itself.
                    Ok(false) => None,
                    Err(error) => return self.failed_now(&store_failed(error), row),
                },
                Err(error) => return self.failed_now(&store_failed(error), row),
            }
        } else {
            m.to.explicit_thread().map(str::to_owned)
        };
        if let (Destination::Post { channel, .. }, true) = (&m.to, row.in_doubt) {
            match self.slack.find_posted(channel, thread.as_deref(), row.id, row.created_at).await {
                Ok(Some(ts)) => {
                    tracing::info!(id = row.id, lane = %m.lane, "a message in doubt is already in Slack; not posting it again");
                    return Sent::Done(Some(ts));
                }
                Ok(None) => tracing::info!(id = row.id, lane = %m.lane, "a message in doubt is not in Slack; posting it"),
                // Slack could not say: ask again later rather than risk a repeat, a few
                // times (the message stays in doubt).
                Err(error) if !error.is_permanent() && row.attempts < DOUBT_CHECKS => {
                    tracing::warn!(%error, id = row.id, "cannot check whether a message in doubt reached Slack; checking again later");
                    return self.failed_now(&error, row);
                }
                Err(error) => tracing::warn!(
                    %error,
                    id = row.id,
                    "cannot check whether a message in doubt reached Slack, again; posting it (it may show twice)"
                ),
            }
        }
        let metadata = m.to.is_post().then(|| crate::slack::api::outbox_metadata(row.id));
        match send(&self.slack, m, thread.as_deref(), metadata).await {
            Ok(ts) => Sent::Done(ts),
            Err(SendError::Slack(error)) => self.failed_now(&error, row),
            Err(SendError::Unsendable(reason)) => Sent::Failed(reason.into()),
        }
    }
}
