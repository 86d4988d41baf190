//! The records the store keeps, as the rest of the bot sees them.

use super::destination::{Destination, Place};
use crate::domain::Action;

/// What happened to a write attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// No rule allowed it.
    Denied,
    /// Allowed under a rule that asks for a confirmation click first.
    AwaitingConfirmation,
    Confirmed,
    Cancelled,
    /// Nobody confirmed within 10 minutes.
    Expired,
    /// Tailer did it.
    Succeeded,
    /// Tailer refused or could not be reached: nothing happened.
    Failed,
    /// The answer never came: it may or may not have happened.
    Unknown,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 8] = [
        AuditOutcome::Denied,
        AuditOutcome::AwaitingConfirmation,
        AuditOutcome::Confirmed,
        AuditOutcome::Cancelled,
        AuditOutcome::Expired,
        AuditOutcome::Succeeded,
        AuditOutcome::Failed,
        AuditOutcome::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Denied => "denied",
            AuditOutcome::AwaitingConfirmation => "awaiting_confirmation",
            AuditOutcome::Confirmed => "confirmed",
            AuditOutcome::Cancelled => "cancelled",
            AuditOutcome::Expired => "expired",
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<AuditOutcome> {
        AuditOutcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Set by the store.
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// Shown to the user with errors, to find the entry and the logs.
    pub reference: String,
    pub user_id: String,
    pub channel_id: String,
    pub action: Action,
    pub job: Option<String>,
    pub environment: Option<String>,
    pub outcome: AuditOutcome,
    /// What was asked, in words (target, duration, reason...).
    pub detail: String,
    /// What Tailer answered, when it was called.
    pub tailer_answer: Option<String>,
}

/// The state of a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationState {
    Pending,
    Confirmed,
    Cancelled,
    Expired,
}

impl ConfirmationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmationState::Pending => "pending",
            ConfirmationState::Confirmed => "confirmed",
            ConfirmationState::Cancelled => "cancelled",
            ConfirmationState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<ConfirmationState> {
        [ConfirmationState::Pending, ConfirmationState::Confirmed, ConfirmationState::Cancelled, ConfirmationState::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A write waiting for its confirmation click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConfirmation {
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub team_id: String,
    pub channel_id: String,
    pub requester: String,
    pub action: Action,
    /// The write to perform, as JSON.
    pub plan: String,
    pub second_person: bool,
}

/// A stored confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub request: NewConfirmation,
    pub state: ConfirmationState,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// What pressing Confirm or Cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// This click decided it.
    Decided(Confirmation),
    /// Someone decided it before.
    AlreadyDecided(Confirmation),
    /// Too late: this click found it expired (a later click gets `AlreadyDecided`).
    Expired(Confirmation),
    NotFound,
}

/// A run the bot launched.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KnownRun {
    pub run_id: String,
    pub job: String,
    pub channel_id: Option<String>,
    pub launched_by: Option<String>,
    pub created_at: i64,
}

/// What an outbox message says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxBody {
    pub text: String,
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
    /// For `response_url` posts: `ephemeral` or `in_channel`.
    #[serde(default)]
    pub response_type: Option<crate::domain::Visibility>,
    #[serde(default)]
    pub replace_original: bool,
    /// A file to upload with the blocks (`Destination::Upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

/// A file uploaded with a message: a PNG, kept in the outbox until Slack has it.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    pub filename: String,
    pub title: String,
    /// What a screen reader says of it.
    pub alt_text: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("filename", &self.filename).field("bytes", &self.bytes.len()).finish_non_exhaustive()
    }
}

/// Bytes as base64 text in the stored JSON.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A Slack write, queued.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Messages of one lane (a thread, or a reply stream) go out in order.
    pub lane: String,
    pub to: Destination,
    /// A newer pending message with the same key replaces this one (card edits).
    pub collapse_key: Option<String>,
    pub body: OutboxBody,
    /// The news of a run's end: sent ahead of everything else queued
    /// ([`crate::store::urgency`]).
    pub first: bool,
    /// Not sent before this time (unix ms): a summary that gathers what happens until
    /// then (a newer one with the same collapse key replaces it meanwhile).
    pub not_before: Option<i64>,
}

impl OutboxMessage {
    pub fn new(lane: impl Into<String>, to: Destination, body: OutboxBody) -> OutboxMessage {
        OutboxMessage { lane: lane.into(), to, collapse_key: None, body, first: false, not_before: None }
    }

    /// Sent ahead of everything else queued (what people wait for: a run's end), once it
    /// heads its lane.
    pub fn first(self) -> OutboxMessage {
        OutboxMessage { first: true, ..self }
    }

    /// Sent no sooner than `at_ms`, replacing the pending message of the same `key`: one
    /// post that sums what happened until then.
    pub fn summing(self, key: String, at_ms: i64) -> OutboxMessage {
        OutboxMessage { collapse_key: Some(key), not_before: Some(at_ms), ..self }
    }

    /// A `chat.postMessage` of text and blocks to a channel (or a user id: their DM), in a
    /// lane; the builder methods below make it a reply, a broadcast, a root.
    pub fn post(lane: impl Into<String>, channel: impl Into<String>, text: String, blocks: Vec<serde_json::Value>) -> OutboxMessage {
        let to = Destination::Post { channel: channel.into(), place: Place::Channel, asked_by: None };
        OutboxMessage::new(lane, to, OutboxBody::plain(text, blocks))
    }

    /// A `chat.update` of the lane's root message; a newer pending edit with the same key
    /// replaces this one.
    pub fn update(lane: impl Into<String>, channel: impl Into<String>, text: String, blocks: Vec<serde_json::Value>) -> OutboxMessage {
        let lane = lane.into();
        let key = format!("edit:{lane}");
        OutboxMessage {
            collapse_key: Some(key),
            ..OutboxMessage::new(lane, Destination::Update { channel: channel.into() }, OutboxBody::plain(text, blocks))
        }
    }

    /// `user`'s Home tab, made of these blocks, its buttons acting in `dm` (the person's
    /// direct conversation with the bot); a newer pending one replaces this one.
    pub fn home(user: impl Into<String>, dm: Option<String>, text: String, blocks: Vec<serde_json::Value>) -> OutboxMessage {
        let user = user.into();
        let lane = format!("home:{user}");
        let message = OutboxMessage::new(lane.clone(), Destination::View { user, dm }, OutboxBody::plain(text, blocks));
        OutboxMessage { collapse_key: Some(lane), ..message }
    }

    /// A file uploaded into `channel` (under `thread_ts` when given), with the message's
    /// blocks beside it.
    pub fn upload(
        lane: impl Into<String>,
        channel: impl Into<String>,
        thread_ts: Option<String>,
        message: OutboxBody,
        file: Upload,
    ) -> OutboxMessage {
        let to = Destination::Upload { channel: channel.into(), thread_ts, asked_by: None };
        OutboxMessage::new(lane, to, OutboxBody { upload: Some(file), ..message })
    }

    /// Under the lane's root message.
    pub fn in_thread(self, broadcast: bool) -> OutboxMessage {
        self.placed(Place::Thread { broadcast })
    }

    /// Its `ts` becomes the lane's thread.
    pub fn as_root(self) -> OutboxMessage {
        self.placed(Place::Root)
    }

    fn placed(mut self, at: Place) -> OutboxMessage {
        if let Destination::Post { place, .. } = &mut self.to {
            *place = at;
        }
        self
    }

    /// Who asked: told when it cannot be delivered.
    pub fn asked_by(mut self, user: Option<String>) -> OutboxMessage {
        if let Destination::Post { asked_by, .. } | Destination::Upload { asked_by, .. } = &mut self.to {
            *asked_by = user;
        }
        self
    }
}

impl OutboxBody {
    /// Text and blocks, for the Web API.
    pub fn plain(text: String, blocks: Vec<serde_json::Value>) -> OutboxBody {
        OutboxBody { text, blocks, response_type: None, replace_original: false, upload: None }
    }
}

/// A queued message with its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    /// Claimed before by a replica that died, or its last try timed out on the wire: it
    /// may already be in Slack, which is asked before it is sent again.
    pub in_doubt: bool,
    pub message: OutboxMessage,
    pub created_at: i64,
    pub attempts: i64,
}

/// A run being followed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WatchRow {
    pub run_id: String,
    pub job: String,
    /// The last status seen; `None` before Tailer first showed the run.
    pub status: Option<String>,
    pub status_since: Option<i64>,
    pub first_seen_at: Option<i64>,
    pub started_at: i64,
    pub interval_ms: i64,
    pub next_poll_at: i64,
    pub polls: i64,
    /// The last run item, as JSON.
    pub item: Option<String>,
    /// Still being polled.
    pub active: bool,
}

/// What a poll changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchUpdate {
    pub status: Option<String>,
    pub status_since: Option<i64>,
    pub first_seen_at: Option<i64>,
    pub interval_ms: i64,
    pub next_poll_at: i64,
    pub item: Option<String>,
    /// False once the run is final, unknown to Tailer, or given up on.
    pub active: bool,
}

/// A card showing a run in one channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CardRow {
    pub run_id: String,
    pub channel_id: String,
    pub lane: String,
    pub launched_by: Option<String>,
    pub watched_by: Option<String>,
    /// The execution date (YYYY-MM-DD) the bot launched the run for, when it gave one.
    pub execution_date: Option<String>,
}

/// A channel's subscription.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub channel_id: String,
    /// `job-name`, `tag:t` or `all`.
    pub target: String,
    /// `all` or `failures`.
    pub filter: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A timed re-enable.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimerRow {
    pub id: String,
    pub job: String,
    pub due_at: i64,
    pub channel_id: String,
    pub lane: String,
    pub requested_by: String,
    pub reason: Option<String>,
    pub attempts: i64,
}

/// A launch in progress (or interrupted).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LaunchRow {
    /// The request's reference and the job: one launch of one job.
    pub key: String,
    pub job: String,
    pub channel_id: String,
    pub user_id: String,
    pub reference: String,
    /// When Tailer was asked (unix ms): the run is looked for from then on.
    pub started_at: i64,
    /// The run, once Tailer named it.
    pub run_id: Option<String>,
    /// The execution date (YYYY-MM-DD) asked for, if any.
    pub execution_date: Option<String>,
}

/// A write in progress (or interrupted): noted before Tailer is asked, with what is
/// needed to finish it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WriteRow {
    /// The request's reference: one write, of one or more jobs.
    pub reference: String,
    pub action: String,
    /// The plan (JSON), as confirmed.
    pub plan: String,
    pub channel_id: String,
    /// Who asked.
    pub user_id: String,
    pub confirmed_by: Option<String>,
    /// Where the answer goes, while Slack accepts it.
    pub response_url: Option<String>,
    /// The answer replaces the confirmation message.
    pub replace_question: bool,
    /// The confirmation message, when there was one.
    pub question_ts: Option<String>,
    /// When the write began (unix ms); a timed disable's re-enable is due from then.
    pub started_at: i64,
    /// What is known so far, job by job (JSON list of [`WriteStep`]).
    pub steps: String,
}

/// The outcome of a write for one job, as it was told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteStep {
    pub job: String,
    /// An [`AuditOutcome`] name.
    pub outcome: String,
    /// The line of the answer.
    pub line: String,
}
