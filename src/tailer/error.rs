//! How a Tailer call can fail, classified so that callers decide on retries and on what to
//! tell people without reading status codes. Every error carries the action, the HTTP
//! status when there was one and a short excerpt of the body; never a token.

use std::fmt;
use std::time::Duration;

use super::request::TailerAction;

/// The class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401 or 403: the token is missing, expired or not allowed.
    Unauthorized,
    /// 404: unknown configuration or run.
    NotFound,
    /// 400 and other 4xx: Tailer refused the request as such.
    BadRequest,
    /// 429: slow down.
    RateLimited,
    /// 5xx.
    Server,
    /// The connection could not be made: the request never reached Tailer.
    Connect,
    /// No complete answer in time.
    Timeout,
    /// Not sent: too many calls to Tailer were waiting already (the bot is overloaded).
    Busy,
    /// A success status with a body that is not what the action answers.
    Undecodable,
    /// The token could not be produced: someone must fix the credentials.
    Auth,
    /// The token could not be produced now (its signer out of reach or failing); the
    /// bot tries again after a back-off.
    AuthUnavailable,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server_error",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Undecodable => "undecodable",
            ErrorKind::Auth => "auth",
            ErrorKind::AuthUnavailable => "auth_unavailable",
            ErrorKind::Busy => "busy",
        }
    }
}

/// A failed Tailer call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TailerError {
    pub action: TailerAction,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    /// The `message` of a JSON error body, or the start of any other body, on one line.
    pub excerpt: String,
    /// What a 429 asked for.
    pub retry_after: Option<Duration>,
}

/// The longest body excerpt kept in an error.
pub const EXCERPT_CHARS: usize = 200;

impl TailerError {
    pub fn new(action: TailerAction, kind: ErrorKind, status: Option<u16>, excerpt: impl Into<String>) -> Self {
        TailerError { action, kind, status, excerpt: excerpt.into(), retry_after: None }
    }

    /// Classifies a non-success HTTP answer.
    pub fn from_status(action: TailerAction, status: u16, body: &[u8]) -> Self {
        let kind = match status {
            401 | 403 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::BadRequest,
        };
        TailerError::new(action, kind, Some(status), excerpt(body))
    }

    /// Worth trying again: the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Connect | ErrorKind::Timeout)
    }

    /// Tailer certainly did not act on the request: it was refused, or never sent.
    pub fn certainly_not_applied(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unauthorized
                | ErrorKind::NotFound
                | ErrorKind::BadRequest
                | ErrorKind::RateLimited
                | ErrorKind::Connect
                | ErrorKind::Auth
                | ErrorKind::AuthUnavailable
                | ErrorKind::Busy
        )
    }
}

impl fmt::Display for TailerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Unauthorized => "refused the bot's credentials",
            ErrorKind::NotFound => "does not know this configuration or run",
            ErrorKind::BadRequest => "refused the request",
            ErrorKind::RateLimited => "asked the bot to slow down",
            ErrorKind::Server => "had an internal error",
            ErrorKind::Connect => "could not be reached",
            ErrorKind::Timeout => "did not answer in time",
            ErrorKind::Undecodable => "gave an answer the bot cannot read",
            ErrorKind::Auth => "could not be called: the bot has no token for it",
            ErrorKind::AuthUnavailable => "could not be called: the bot's token cannot be had now",
            ErrorKind::Busy => "was not asked: the bot is busy, try again in a moment",
        };
        write!(f, "Tailer {what} ({}", self.action)?;
        if let Some(status) = self.status {
            write!(f, ", HTTP {status}")?;
        }
        f.write_str(")")?;
        if !self.excerpt.is_empty() {
            write!(f, ": {}", self.excerpt)?;
        }
        Ok(())
    }
}

/// The part of a body worth showing: the `message` of a JSON object when there is one,
/// otherwise the start of the text, whitespace collapsed, at most [`EXCERPT_CHARS`].
pub fn excerpt(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "detail"] {
            if let Some(serde_json::Value::String(message)) = map.get(key) {
                return shorten(message);
            }
        }
    }
    shorten(&String::from_utf8_lossy(body))
}

fn shorten(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        collapsed
    } else {
        let mut cut: String = collapsed.chars().take(EXCERPT_CHARS).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let a = TailerAction::CheckRunStatus;
        assert_eq!(TailerError::from_status(a, 401, b"").kind, ErrorKind::Unauthorized);
        assert_eq!(TailerError::from_status(a, 403, b"").kind, ErrorKind::Unauthorized);
        assert_eq!(TailerError::from_status(a, 404, b"").kind, ErrorKind::NotFound);
        assert_eq!(TailerError::from_status(a, 400, b"").kind, ErrorKind::BadRequest);
        assert_eq!(TailerError::from_status(a, 429, b"").kind, ErrorKind::RateLimited);
        assert_eq!(TailerError::from_status(a, 503, b"").kind, ErrorKind::Server);
        assert!(TailerError::from_status(a, 502, b"").is_retryable());
        assert!(!TailerError::from_status(a, 404, b"").is_retryable());
    }

    #[test]
    fn a_json_message_is_the_excerpt() {
        assert_eq!(excerpt(br#"{"message": "unknown   run"}"#), "unknown run");
    }

    #[test]
    fn an_html_page_is_cut_short_on_one_line() {
        let page = format!("<html>\n<body>{}</body></html>", "x".repeat(1000));
        let e = excerpt(page.as_bytes());
        assert!(!e.contains('\n'));
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn the_message_names_action_status_and_excerpt() {
        let e = TailerError::from_status(TailerAction::LaunchJob, 500, br#"{"message":"boom"}"#);
        assert_eq!(e.to_string(), "Tailer had an internal error (launch_job, HTTP 500): boom");
    }
}
