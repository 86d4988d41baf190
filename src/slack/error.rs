//! How a Slack call fails, classified so that callers know whether to retry, and
//! counted by method and outcome.

use std::time::Duration;

use slack_morphism::errors::SlackClientError;

/// Slack error codes that will not go away by retrying.
const PERMANENT: &[&str] = &[
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "invalid_blocks",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "no_permission",
    "restricted_action",
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
    "no_such_subteam",
    "user_not_in_channel",
    "invalid_arguments",
    "no_text",
    "too_many_attachments",
];

/// How a Slack call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackErrorKind {
    /// 429: wait this long.
    RateLimited(Option<Duration>),
    /// `{"ok": false, "error": code}`.
    Api(String),
    /// A non-200 HTTP status.
    Http(u16),
    /// The connection failed or broke.
    Transport,
    Timeout,
    /// A `response_url` outside the configured prefixes: never posted to.
    Disallowed,
    /// Not sent: too many calls of this kind were waiting already (queued instead).
    Busy,
}

/// A failed Slack call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Slack {method} failed: {}", describe(.kind, .detail))]
pub struct SlackError {
    pub method: &'static str,
    pub kind: SlackErrorKind,
    pub detail: String,
}

fn describe(kind: &SlackErrorKind, detail: &str) -> String {
    let head = match kind {
        SlackErrorKind::RateLimited(Some(d)) => {
            format!("rate limited, retry after {} s", d.as_secs())
        }
        SlackErrorKind::RateLimited(None) => "rate limited".to_owned(),
        SlackErrorKind::Api(code) => code.clone(),
        SlackErrorKind::Http(status) => format!("HTTP {status}"),
        SlackErrorKind::Transport => "connection failed".to_owned(),
        SlackErrorKind::Timeout => "timed out".to_owned(),
        SlackErrorKind::Disallowed => "response_url outside the allowed prefixes".to_owned(),
        SlackErrorKind::Busy => "not sent: busy".to_owned(),
    };
    if detail.is_empty() { head } else { format!("{head} ({detail})") }
}

impl SlackError {
    /// Retrying will not help: the message must be dropped (and someone told).
    pub fn is_permanent(&self) -> bool {
        match &self.kind {
            SlackErrorKind::Api(code) => PERMANENT.contains(&code.as_str()),
            // A redirect is never followed, so asking again cannot help either.
            SlackErrorKind::Http(status) => (300..500).contains(status) && *status != 429 && *status != 408,
            SlackErrorKind::Disallowed => true,
            SlackErrorKind::RateLimited(_) | SlackErrorKind::Transport | SlackErrorKind::Timeout | SlackErrorKind::Busy => false,
        }
    }

    pub(super) fn from_client(method: &'static str, error: SlackClientError) -> SlackError {
        let (kind, detail) = match error {
            SlackClientError::RateLimitError(e) => (SlackErrorKind::RateLimited(e.retry_after), String::new()),
            SlackClientError::ApiError(e) => (SlackErrorKind::Api(e.code.chars().take(60).collect()), String::new()),
            SlackClientError::HttpError(e) => (SlackErrorKind::Http(e.status_code.as_u16()), String::new()),
            SlackClientError::ProtocolError(e) => (SlackErrorKind::Api("unreadable_answer".into()), e.json_error.to_string()),
            other => (SlackErrorKind::Transport, other.to_string().chars().take(200).collect()),
        };
        SlackError { method, kind, detail }
    }
}

/// Counts a Slack call by method and outcome (and 429s on their own).
pub(super) fn count<T>(method: &'static str, result: &Result<T, SlackError>) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(SlackError { kind: SlackErrorKind::RateLimited(_), .. }) => {
            metrics::counter!("tailerbot_slack_rate_limited_total", "method" => method).increment(1);
            "rate_limited".to_owned()
        }
        Err(SlackError { kind: SlackErrorKind::Api(code), .. }) => code.clone(),
        Err(SlackError { kind: SlackErrorKind::Http(status), .. }) => format!("http_{status}"),
        Err(SlackError { kind: SlackErrorKind::Timeout, .. }) => "timeout".to_owned(),
        Err(SlackError { kind: SlackErrorKind::Transport, .. }) => "transport".to_owned(),
        Err(SlackError { kind: SlackErrorKind::Disallowed, .. }) => "disallowed".to_owned(),
        Err(SlackError { kind: SlackErrorKind::Busy, .. }) => "busy".to_owned(),
    };
    metrics::counter!("tailerbot_slack_calls_total", "method" => method, "outcome" => outcome).increment(1);
}
