//! Posts to a `response_url`: the answers only the asker sees, and replacements of the
//! message a button was on. Only within the allowed prefixes; no redirect is followed.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

use super::{SlackApi, SlackError, SlackErrorKind, count};
use crate::chat::Reply;
use crate::domain::Visibility;
use crate::outbox::OutboxBody;

/// What a `response_url` (or the HTTP answer to a command) takes. Built from a reply it
/// owns its text and blocks; read from a queued answer it borrows them, so that posting
/// one copies nothing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResponseBody<'a> {
    pub response_type: Visibility,
    pub replace_original: bool,
    pub text: Cow<'a, str>,
    #[serde(skip_serializing_if = "<[serde_json::Value]>::is_empty")]
    pub blocks: Cow<'a, [serde_json::Value]>,
}

impl ResponseBody<'static> {
    /// A reply, rendered in Block Kit.
    pub fn of(reply: &Reply) -> Self {
        let message = crate::slack::blocks::render(&reply.message);
        ResponseBody {
            response_type: reply.visibility,
            replace_original: reply.replace_original,
            text: Cow::Owned(message.text),
            blocks: Cow::Owned(message.blocks),
        }
    }
}

/// A queued answer, read as what a `response_url` takes (ephemeral unless it says
/// otherwise).
impl<'a> From<&'a OutboxBody> for ResponseBody<'a> {
    fn from(body: &'a OutboxBody) -> ResponseBody<'a> {
        ResponseBody {
            response_type: body.response_type.unwrap_or(Visibility::Ephemeral),
            replace_original: body.replace_original,
            text: Cow::Borrowed(&body.text),
            blocks: Cow::Borrowed(&body.blocks),
        }
    }
}

impl SlackApi {
    /// Whether a `response_url` may be posted to.
    pub fn response_url_allowed(&self, url: &str) -> bool {
        self.response_url_prefixes.iter().any(|p| url.starts_with(p.as_str()))
    }

    /// Posts to a `response_url` (only within the allowed prefixes).
    pub async fn respond(&self, response_url: &str, body: &ResponseBody<'_>) -> Result<(), SlackError> {
        let result = self.respond_once(response_url, body).await;
        count("response_url", &result);
        result
    }

    async fn respond_once(&self, response_url: &str, body: &ResponseBody<'_>) -> Result<(), SlackError> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_queued_answer_is_posted_ephemeral_unless_it_says_otherwise_and_without_empty_blocks() {
        let quiet = OutboxBody::plain("done".into(), vec![]);
        assert_eq!(
            serde_json::to_value(ResponseBody::from(&quiet)).unwrap(),
            json!({"response_type": "ephemeral", "replace_original": false, "text": "done"})
        );
        let loud =
            OutboxBody { response_type: Some(Visibility::InChannel), ..OutboxBody::plain("done".into(), vec![json!({"type": "divider"})]) };
        assert_eq!(
            serde_json::to_value(ResponseBody::from(&loud)).unwrap(),
            json!({"response_type": "in_channel", "replace_original": false, "text": "done", "blocks": [{"type": "divider"}]})
        );
    }
}
