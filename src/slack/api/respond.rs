//! Posts to a `response_url`: the answers only the asker sees, and replacements of the
//! message a button was on. Only within the allowed prefixes; no redirect is followed.

use std::time::Duration;

use serde::Serialize;

use super::{SlackApi, SlackError, SlackErrorKind, count};
use crate::chat::{Rendered, Reply};
use crate::domain::Visibility;
use crate::outbox::OutboxBody;

/// Where replies go after the HTTP answer, and which `response_url`s may be used.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResponseBody {
    pub response_type: Visibility,
    pub replace_original: bool,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<serde_json::Value>,
}

impl ResponseBody {
    /// A reply, rendered in Block Kit.
    pub fn of(reply: &Reply) -> Self {
        let message = crate::slack::blocks::render(&reply.message);
        ResponseBody {
            response_type: reply.visibility,
            replace_original: reply.replace_original,
            text: message.text,
            blocks: message.blocks,
        }
    }

    pub fn ephemeral(message: Rendered) -> Self {
        ResponseBody { response_type: Visibility::Ephemeral, replace_original: false, text: message.text, blocks: message.blocks }
    }

    pub fn in_channel(message: Rendered) -> Self {
        ResponseBody { response_type: Visibility::InChannel, replace_original: false, text: message.text, blocks: message.blocks }
    }

    pub fn replacing(mut self) -> Self {
        self.replace_original = true;
        self
    }
}

/// What a `response_url` takes, read from a queued answer (ephemeral unless it says
/// otherwise) without copying it: the same JSON as a [`ResponseBody`].
#[derive(Serialize)]
pub struct ResponseView<'a> {
    response_type: Visibility,
    replace_original: bool,
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [serde_json::Value],
}

impl<'a> From<&'a OutboxBody> for ResponseView<'a> {
    fn from(body: &'a OutboxBody) -> ResponseView<'a> {
        ResponseView {
            response_type: body.response_type.unwrap_or(Visibility::Ephemeral),
            replace_original: body.replace_original,
            text: &body.text,
            blocks: &body.blocks,
        }
    }
}

impl SlackApi {
    /// Whether a `response_url` may be posted to.
    pub fn response_url_allowed(&self, url: &str) -> bool {
        self.response_url_prefixes.iter().any(|p| url.starts_with(p.as_str()))
    }

    /// Posts to a `response_url` (only within the allowed prefixes).
    pub async fn respond(&self, response_url: &str, body: &(impl Serialize + Sync)) -> Result<(), SlackError> {
        let result = self.respond_once(response_url, body).await;
        count("response_url", &result);
        result
    }

    async fn respond_once(&self, response_url: &str, body: &(impl Serialize + Sync)) -> Result<(), SlackError> {
        const METHOD: &str = "response_url";
        if !self.response_url_allowed(response_url) {
            return Err(SlackError { method: METHOD, kind: SlackErrorKind::Disallowed, detail: String::new() });
        }
        let response = self.http.post(response_url).json(body).send().await.map_err(|e| SlackError {
            method: METHOD,
            kind: if e.is_timeout() { SlackErrorKind::Timeout } else { SlackErrorKind::Transport },
            detail: String::new(),
        })?;
        let status = response.status().as_u16();
        if status == 429 {
            let retry_after =
                response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).map(Duration::from_secs);
            return Err(SlackError { method: METHOD, kind: SlackErrorKind::RateLimited(retry_after), detail: String::new() });
        }
        if (300..400).contains(&status) {
            return Err(SlackError { method: METHOD, kind: SlackErrorKind::Http(status), detail: "a redirect, not followed".into() });
        }
        if !(200..300).contains(&status) {
            // The start of the answer is enough to say why; the rest is never read.
            let text = String::from_utf8_lossy(&crate::http_limits::read_prefix(response, 4096).await).into_owned();
            return Err(SlackError { method: METHOD, kind: SlackErrorKind::Http(status), detail: text.chars().take(100).collect() });
        }
        Ok(())
    }
}
