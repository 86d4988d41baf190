//! The records the store keeps, as the rest of the bot sees them.

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

#[cfg(test)]
impl WatchRow {
    /// A run of `job` just followed, never polled, due at 0, polled every 15 s.
    pub(crate) fn fresh(run_id: &str, job: &str) -> WatchRow {
        WatchRow {
            run_id: run_id.into(),
            job: job.into(),
            status: None,
            status_since: None,
            first_seen_at: None,
            started_at: 0,
            interval_ms: 15_000,
            next_poll_at: 0,
            polls: 0,
            item: None,
            active: true,
        }
    }
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

/// A launch whose run is not known, as another launch of its job sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NearLaunch {
    pub key: String,
    pub channel_id: String,
    pub user_id: String,
    pub started_at: i64,
    /// The run, once Tailer named it.
    pub run_id: Option<String>,
    /// `calling` (not settled) or `unknown` (settled without its run told apart).
    pub state: String,
    /// The replica holding it (making it, or settling it) and until when; none while it
    /// waits for its next look.
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
}

impl NearLaunch {
    /// Whether a replica holds it at `now_ms`: one making it (its run may not be noted
    /// yet), or one that died with it (until its claim runs out).
    pub fn held(&self, now_ms: i64) -> bool {
        self.state == "calling" && self.lease_owner.is_some() && self.lease_until.is_some_and(|until| until > now_ms)
    }
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
