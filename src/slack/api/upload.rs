//! File uploads with Slack's external flow, the bytes sent only to an upload URL Slack
//! would give.

use super::{Acknowledged, SlackApi, SlackError, SlackErrorKind, count, origin};
use crate::chat::Rendered;
use crate::domain::ChannelId;
use crate::outbox::Upload;

impl SlackApi {
    /// Uploads a file with Slack's external flow: an upload URL
    /// (`files.getUploadURLExternal`), the bytes posted there, then
    /// `files.completeUploadExternal` sharing it into `channel` (under `thread_ts`) with
    /// the message's blocks. Should it fail half-way, the next try starts over: a file
    /// never completed is never shown.
    pub async fn upload_file(
        &self,
        channel: &ChannelId,
        thread_ts: Option<&str>,
        file: &Upload,
        message: &Rendered,
    ) -> Result<(), SlackError> {
        let request = slack_morphism::api::SlackApiFilesGetUploadUrlExternalRequest {
            filename: file.filename.clone(),
            length: file.bytes.len(),
            alt_txt: Some(file.alt_text.chars().take(1000).collect()),
            snippet_type: None,
        };
        let target = self.timed("files.getUploadURLExternal", self.session().get_upload_url_external(&request)).await?;
        let url = target.upload_url.0.to_string();
        let result = self.send_bytes(&url, &file.bytes).await;
        count("files.upload", &result);
        result?;
        let mut body = serde_json::json!({
            "files": [{"id": target.file_id.to_string(), "title": file.title}],
            "channel_id": channel.as_str(),
            "blocks": message.blocks,
        });
        if let Some(ts) = thread_ts {
            body["thread_ts"] = serde_json::json!(ts);
        }
        let _: Acknowledged = self
            .timed("files.completeUploadExternal", self.session().http_session_api.http_post("files.completeUploadExternal", &body, None))
            .await?;
        Ok(())
    }

    /// Posts a file's bytes to the upload URL Slack gave: https on Slack's own domain, or
    /// on the Web API's own origin (a local stand-in); anything else is refused unsent.
    async fn send_bytes(&self, url: &str, bytes: &[u8]) -> Result<(), SlackError> {
        const METHOD: &str = "files.upload";
        if !upload_url_trusted(url, &self.api_origin) {
            return Err(SlackError {
                method: METHOD,
                kind: SlackErrorKind::Disallowed,
                detail: "an upload URL Slack would not give".into(),
            });
        }
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(|e| SlackError {
                method: METHOD,
                kind: if e.is_timeout() { SlackErrorKind::Timeout } else { SlackErrorKind::Transport },
                detail: String::new(),
            })?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            429 => Err(SlackError { method: METHOD, kind: SlackErrorKind::RateLimited(None), detail: String::new() }),
            status => Err(SlackError { method: METHOD, kind: SlackErrorKind::Http(status), detail: String::new() }),
        }
    }
}

/// Whether bytes may be posted to an upload URL: https on Slack's own domain, or on the
/// Web API's own origin (a local stand-in's).
fn upload_url_trusted(url: &str, api_origin: &str) -> bool {
    let slacks = reqwest::Url::parse(url)
        .ok()
        .is_some_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| h == "slack.com" || h.ends_with(".slack.com")));
    slacks || origin(url).is_some_and(|o| o == api_origin)
}

#[cfg(test)]
mod upload_tests {
    use super::upload_url_trusted;

    #[test]
    fn bytes_go_only_to_slacks_upload_hosts_or_the_apis_own_origin() {
        let api = "http://127.0.0.1:4000";
        assert!(upload_url_trusted("https://files.slack.com/upload/v1/abc", api));
        assert!(upload_url_trusted("http://127.0.0.1:4000/upload/F1", api));
        for refused in [
            "http://files.slack.com/upload/v1/abc",
            "https://files.slack.com.evil.example/upload",
            "https://notslack.com/upload",
            "https://metadata.google.internal/computeMetadata/v1/",
            "http://127.0.0.1:4001/upload/F1",
            "not a url",
        ] {
            assert!(!upload_url_trusted(refused, api), "{refused}");
        }
    }
}
