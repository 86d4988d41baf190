//! slack-morphism's Web API calls over the bot's own HTTP client: the same typed session
//! API, on a connection that follows no redirect and reads an answer only up to a cap
//! (slack-morphism's hyper connector follows none either, but reads answers whole). The
//! answer is read as slack-morphism reads it: `ok`/`error`, 429 with `Retry-After`.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::Url;
use slack_morphism::errors::{
    SlackClientApiError, SlackClientError, SlackClientHttpError, SlackClientHttpProtocolError, SlackRateLimitError, map_serde_error,
};
use slack_morphism::prelude::{SlackClientId, SlackClientSecret};
use slack_morphism::{ClientResult, SlackClientApiCallContext, SlackClientHttpConnector, SlackEnvelopeMessage};

use crate::http_limits::{ReadError, read_capped, size};

/// The Web API over reqwest, capped.
#[derive(Debug, Clone)]
pub struct CappedConnector {
    http: reqwest::Client,
    api_url: String,
    max_answer: usize,
}

fn protocol_error(message: String) -> SlackClientError {
    SlackClientError::HttpProtocolError(SlackClientHttpProtocolError::new().with_cause(message.into()))
}

impl CappedConnector {
    pub fn new(http: reqwest::Client, api_url: &str, max_answer: usize) -> CappedConnector {
        CappedConnector { http, api_url: api_url.trim_end_matches('/').to_owned(), max_answer }
    }

    async fn send<RS>(&self, request: reqwest::RequestBuilder, context: &SlackClientApiCallContext<'_>) -> ClientResult<RS>
    where
        RS: for<'de> serde::de::Deserialize<'de>,
    {
        let request = match context.token {
            Some(token) => request.bearer_auth(&token.token_value.0),
            None => request,
        };
        let response = request.send().await.map_err(|e| protocol_error(transport(&e)))?;
        let status = response.status();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
        let body = match read_capped(response, self.max_answer).await {
            Ok(body) => body,
            Err(ReadError::TooLarge { limit }) => {
                return Err(protocol_error(format!("an answer larger than {}, left unread", size(limit))));
            }
            Err(ReadError::Transport(e)) => return Err(protocol_error(transport(&e))),
        };
        let text = String::from_utf8_lossy(&body);
        match status.as_u16() {
            200 if is_json => {
                let envelope: SlackEnvelopeMessage = serde_json::from_str(&text).map_err(|e| map_serde_error(e, None))?;
                match envelope.error {
                    None => serde_json::from_str(&text).map_err(|e| map_serde_error(e, None)),
                    Some(code) => Err(SlackClientError::ApiError(SlackClientApiError::new(code).opt_warnings(envelope.warnings))),
                }
            }
            200 | 204 => serde_json::from_str("{}").map_err(|e| map_serde_error(e, None)),
            429 => Err(SlackClientError::RateLimitError(SlackRateLimitError::new().opt_retry_after(retry_after.map(Duration::from_secs)))),
            _ => Err(SlackClientError::HttpError(SlackClientHttpError::new(status))),
        }
    }
}

/// A transport failure in a few words (the token travels in a header; a URL's
/// credentials are taken out).
fn transport(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() { "timed out" } else { "connection failed" };
    match std::error::Error::source(error) {
        Some(source) => crate::redact::redact_urls_in(&format!("{what}: {source}")),
        None => what.to_owned(),
    }
}

fn unused<'a, RS: Send + 'a>(what: &'static str) -> BoxFuture<'a, ClientResult<RS>> {
    std::future::ready(Err(protocol_error(format!("{what} is not used by the bot")))).boxed()
}

impl SlackClientHttpConnector for CappedConnector {
    fn create_method_uri_path(&self, method_relative_uri: &str) -> ClientResult<Url> {
        Ok(format!("{}/{method_relative_uri}", self.api_url).parse()?)
    }

    fn http_get_uri<'a, RS>(&'a self, full_uri: Url, context: SlackClientApiCallContext<'a>) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        async move { self.send(self.http.get(full_uri), &context).await }.boxed()
    }

    fn http_get_with_client_secret<'a, RS>(
        &'a self,
        _full_uri: Url,
        _client_id: &'a SlackClientId,
        _client_secret: &'a SlackClientSecret,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        unused("OAuth")
    }

    fn http_post_uri<'a, RQ, RS>(
        &'a self,
        full_uri: Url,
        request_body: &'a RQ,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RQ: serde::ser::Serialize + Send + Sync,
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        async move {
            let json = serde_json::to_vec(request_body).map_err(|e| map_serde_error(e, None))?;
            let request = self.http.post(full_uri).header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8").body(json);
            self.send(request, &context).await
        }
        .boxed()
    }

    fn http_post_uri_multipart_form<'a, 'p, RS, PT, TS>(
        &'a self,
        _full_uri: Url,
        _file: Option<slack_morphism::multipart_form::FileMultipartData<'p>>,
        _params: &'p PT,
        _context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
        PT: std::iter::IntoIterator<Item = (&'p str, Option<TS>)> + Clone,
        TS: AsRef<str> + 'p + Send,
    {
        unused("a multipart upload")
    }

    fn http_post_uri_binary<'a, 'p, RS>(
        &'a self,
        _full_uri: Url,
        _content_type: String,
        _data: &'a [u8],
        _context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        unused("a binary upload")
    }
}
