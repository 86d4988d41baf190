//! The outbox worker: takes the first due message of each lane, paces posts to about one
//! per second per channel, honours `Retry-After`, retries 5xx and timeouts with back-off,
//! and gives up only on errors that retrying cannot fix — telling the person who asked
//! when the channel is the problem. A post in doubt (its sender died, or its last try
//! timed out on the wire) is looked for in the channel first and sent only if absent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::StreamExt;
use rand::Rng;

use super::{Destination, Outbox, OutboxBody, OutboxMessage, Place, SendError};
use crate::clock::SharedClock;
use crate::slack::api::{SlackApi, SlackError, SlackErrorKind};
use crate::stats::Stats;
use crate::store::{Delivered, OutboxRow, Store};

/// Tries of a message in doubt whose check in Slack fails before it is posted anyway.
const DOUBT_CHECKS: i64 = 5;

/// Why a message is dropped quietly: the first message of its thread was given up on.
const THREAD_NEVER_POSTED: &str = "its thread's first message could not be posted";

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
    pub fn new(outbox: Outbox, stats: Arc<Stats>) -> Delivery {
        Delivery {
            store: outbox.store.clone(),
            slack: outbox.slack.clone(),
            clock: outbox.clock.clone(),
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
        let rows = match self.store.noted(claimed, |rows| !rows.is_empty()) {
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

    /// A message given up on: dropped quietly when its thread never existed, else
    /// counted, logged, and told to the person it was for where possible.
    async fn gave_up(&self, row: &OutboxRow, reason: &str, quiet: bool) {
        if quiet {
            tracing::info!(id = row.id, lane = %row.message.lane, %reason, "dropping a message whose thread was never posted");
            return;
        }
        self.stats.undeliverable();
        tracing::error!(id = row.id, lane = %row.message.lane, %reason, "a Slack message cannot be delivered; giving up on it");
        self.tell_requester(row, reason).await;
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
        match super::send(&self.slack, m, thread.as_deref(), metadata).await {
            Ok(ts) => Sent::Done(ts),
            Err(SendError::Slack(error)) => self.failed_now(&error, row),
            Err(SendError::Unsendable(reason)) => Sent::Failed(reason.into()),
        }
    }

    fn failed_now(&self, error: &SlackError, row: &OutboxRow) -> Sent {
        let now = self.clock.now_ms();
        match &error.kind {
            SlackErrorKind::RateLimited(after) => {
                self.stats.slack_rate_limited(now);
                let wait = after.map(|d| d.as_millis() as i64).unwrap_or(1_000).max(1_000);
                if let Destination::Post { channel, .. } | Destination::Upload { channel, .. } = &row.message.to {
                    self.pacing.insert(channel.clone(), now + wait);
                }
                tracing::warn!(method = error.method, wait_ms = wait, "Slack asked to slow down");
                Sent::Later(now + wait, false)
            }
            SlackErrorKind::Api(code) if TOKEN_REFUSED.contains(&code.as_str()) => {
                self.stats.slack_error(now);
                let mut refused = self.token_refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let refusals = refused.map_or(0, |(_, n)| n) + 1;
                let wait = (1_000_i64 << refusals.clamp(0, 10)).min(MAX_BACKOFF_MS);
                *refused = Some((now + wait, refusals));
                tracing::error!(
                    method = error.method,
                    code = %code,
                    retry_in_secs = wait / 1000,
                    "Slack refuses the bot token ({code}): no message is sent until it works. Check SLACK_BOT_TOKEN (a reinstalled app has a new one) and restart; every message is kept and goes out then"
                );
                Sent::Later(now + wait, false)
            }
            _ if error.is_permanent() => {
                self.stats.slack_error(now);
                Sent::Failed(error.to_string())
            }
            _ => {
                self.stats.slack_error(now);
                let base = (1_000_i64 << row.attempts.clamp(0, 10)).min(MAX_BACKOFF_MS);
                let jitter = rand::rng().random_range(0..=base / 5);
                tracing::warn!(%error, attempts = row.attempts + 1, "Slack failed; will retry");
                let on_the_wire = matches!(error.kind, SlackErrorKind::Timeout | SlackErrorKind::Transport | SlackErrorKind::Http(500..));
                Sent::Later(now + base + jitter, on_the_wire && row.message.to.is_post())
            }
        }
    }

    /// When Slack refused for good, the person who asked hears why, where possible.
    async fn tell_requester(&self, row: &OutboxRow, reason: &str) {
        let m = &row.message;
        // A fallback for an expired or refused response_url: the channel itself, or
        // only its asker there when the answer was for them alone.
        if let Destination::Respond { channel: Some(channel), user, .. } = &m.to {
            let in_channel = m.body.response_type == Some(crate::domain::Visibility::InChannel);
            let to = match (in_channel, user) {
                (true, _) => Destination::Post { channel: channel.clone(), place: Place::Channel, asked_by: user.clone() },
                (false, Some(user)) => Destination::Ephemeral { channel: channel.clone(), user: user.clone(), thread_ts: None },
                (false, None) => return,
            };
            let body = OutboxBody { replace_original: false, response_type: None, ..m.body.clone() };
            self.outbox.enqueue(vec![OutboxMessage::new(format!("{}:fallback", m.lane), to, body)]).await;
            return;
        }
        // A file Slack will not take: the words go out alone, with what to grant.
        if let Destination::Upload { channel, asked_by, .. } = &m.to {
            // Blocks Slack refused would be refused again: then the note alone.
            let blocks_refused = ["invalid_blocks", "msg_too_long"].iter().any(|code| reason.contains(code));
            let mut blocks = if blocks_refused { Vec::new() } else { m.body.blocks.clone() };
            blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": upload_refused(reason)}]}));
            let to = Destination::Post { channel: channel.clone(), place: Place::Channel, asked_by: asked_by.clone() };
            let body = OutboxBody::plain(m.body.text.clone(), blocks);
            self.outbox.enqueue(vec![OutboxMessage::new(format!("{}:fallback", m.lane), to, body)]).await;
            return;
        }
        let channel_problem =
            ["not_in_channel", "channel_not_found", "is_archived", "restricted_action"].iter().any(|code| reason.contains(code));
        let (Some(user), Some(channel), true) = (m.to.person(), m.to.channel(), channel_problem) else {
            return;
        };
        if m.to.is_post() && channel.starts_with('U') {
            return;
        }
        let text = if reason.contains("not_in_channel") {
            format!(":wave: I could not post in <#{channel}>: I am not a member. Invite me with `/invite @tailerbot`, then try again.")
        } else if reason.contains("channel_not_found") {
            // What Slack says of a private channel the bot is not in (or of one deleted).
            format!(
                ":wave: I could not post in <#{channel}>: Slack does not show me that channel. If it is private, invite me with `/invite @tailerbot`, then try again."
            )
        } else {
            format!(":warning: I could not post in <#{channel}>: {}.", crate::slack::blocks::escape(reason))
        };
        self.outbox.enqueue(vec![OutboxMessage::post(format!("notice:{user}"), user, text, Vec::new())]).await;
    }
}

/// What to grant when Slack refuses a file, in words for the channel.
fn upload_refused(reason: &str) -> String {
    let why = if reason.contains("missing_scope") || reason.contains("no_permission") {
        "the app may not upload files: an admin adds the `files:write` scope (the app's manifest has it) and reinstalls the app".to_owned()
    } else if ["not_in_channel", "channel_not_found"].iter().any(|code| reason.contains(code)) {
        "I am not a member of this channel: invite me with `/invite @tailerbot`".to_owned()
    } else {
        format!("Slack refused it ({})", crate::slack::blocks::escape(reason))
    };
    format!(":warning: I could not upload the chart: {why}.")
}

/// Waits before the next pass: until the earliest due message, at most `cap`.
pub fn next_wait(now_ms: i64, next_due: Option<i64>, cap: Duration) -> Duration {
    match next_due {
        Some(due) if due <= now_ms => Duration::ZERO,
        Some(due) => Duration::from_millis((due - now_ms) as u64).min(cap),
        None => cap,
    }
}
