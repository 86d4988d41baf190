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
        [
            ConfirmationState::Pending,
            ConfirmationState::Confirmed,
            ConfirmationState::Cancelled,
            ConfirmationState::Expired,
        ]
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
    /// Too late.
    Expired(Confirmation),
    NotFound,
}

/// A run the bot launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRun {
    pub run_id: String,
    pub job: String,
    pub channel_id: Option<String>,
    pub launched_by: Option<String>,
    pub created_at: i64,
}
