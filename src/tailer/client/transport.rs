//! One call on the wire: the token, the timeout, the retries of what is harmless to
//! repeat, the answer read within its cap and decoded, every failure classified.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use super::TailerClient;
use crate::tailer::error::{ErrorKind, TailerError, excerpt};
use crate::tailer::request::{RequestBody, TailerAction};
use crate::tailer::types::RunItem;

#[derive(serde::Deserialize)]
struct AckAnswer {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

impl TailerClient {
    pub(super) async fn run_list(&self, body: &RequestBody) -> Result<Vec<RunItem>, TailerError> {
        let value: serde_json::Value = self.call(body).await?;
        parse_run_list(body.action, value)
    }

    pub(super) async fn ack(&self, body: &RequestBody) -> Result<(), TailerError> {
        // A write may change what reads answered: nothing kept survives it.
        self.reads.forget();
        let answer: Result<AckAnswer, TailerError> = self.call(body).await;
        self.reads.forget();
        let answer = answer?;
        match answer.code {
            Some(code) if !(200..300).contains(&code) => Err(TailerError::new(
                body.action,
                if code == 404 { ErrorKind::NotFound } else { ErrorKind::BadRequest },
                Some(u16::try_from(code).unwrap_or(0)),
                answer.message.unwrap_or_default(),
            )),
            _ => Ok(()),
        }
    }

    /// A call that may be repeated: retried on retryable errors, honouring `Retry-After`.
    pub(super) async fn call<T: DeserializeOwned>(&self, body: &RequestBody) -> Result<T, TailerError> {
        let attempt = || async {
            let bytes = self.send_once(body).await?;
            decode::<T>(body.action, &bytes)
        };
        attempt
            .retry(self.backoff())
            .when(TailerError::is_retryable)
            .adjust(|e: &TailerError, planned| match (e.retry_after, planned) {
                (Some(asked), Some(_)) => Some(asked.min(self.options.max_backoff * 4)),
                (_, planned) => planned,
            })
            .notify(|e: &TailerError, wait| {
                tracing::warn!(action = %e.action, error = %e, ?wait, "retrying a Tailer call");
            })
            .await
    }

    pub(super) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_max_times(self.options.max_retries)
            .with_jitter()
    }

    /// One HTTP exchange, counted and timed. Returns the body of a 2xx answer.
    pub(super) async fn send_once(&self, body: &RequestBody) -> Result<bytes::Bytes, TailerError> {
        // Timed from the place on the way to Tailer: the wait in the bot's own queue is
        // not Tailer's time.
        let mut started = std::time::Instant::now();
        let result = match self.gate.enter(body.action).await {
            Ok(_place) => {
                started = std::time::Instant::now();
                self.exchange(body).await
            }
            Err(busy) => Err(busy),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind.label(),
        };
        metrics::counter!("tailerbot_tailer_calls_total", "action" => body.action.name(), "outcome" => outcome).increment(1);
        metrics::histogram!("tailerbot_tailer_call_seconds", "action" => body.action.name()).record(started.elapsed().as_secs_f64());
        result
    }

    pub(super) async fn exchange(&self, body: &RequestBody) -> Result<bytes::Bytes, TailerError> {
        let action = body.action;
        let token = self.tokens.bearer().await.map_err(|e| {
            let kind = if e.transient { ErrorKind::AuthUnavailable } else { ErrorKind::Auth };
            TailerError::new(action, kind, None, e.message)
        })?;
        let url = format!("{}{}", self.base_url, action.path());
        let response =
            self.http.post(&url).bearer_auth(token.expose_secret()).json(body).send().await.map_err(|e| transport_error(action, &e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // A redirect is not followed (the token would go along): an error, its target
        // named without credentials or query, its body never read.
        if (300..400).contains(&status) {
            let to = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let to = crate::redact::redact_url(to.split(['?', '#']).next().unwrap_or_default());
            let to = excerpt(to.as_bytes());
            return Err(TailerError::new(action, ErrorKind::BadRequest, Some(status), format!("a redirect (to {to}), not followed")));
        }
        let bytes = match crate::http_limits::read_capped(response, self.options.max_response_bytes).await {
            Ok(bytes) => bytes,
            Err(crate::http_limits::ReadError::Transport(e)) => return Err(transport_error(action, &e)),
            Err(crate::http_limits::ReadError::TooLarge { limit }) => {
                let what = format!("an answer larger than {} (tailer.max_response_bytes), left unread", crate::http_limits::size(limit));
                return Err(TailerError::new(action, ErrorKind::Undecodable, Some(status), what));
            }
        };
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            let mut error = TailerError::from_status(action, status, &bytes);
            error.retry_after = retry_after;
            Err(error)
        }
    }
}

pub(super) fn transport_error(action: TailerAction, error: &reqwest::Error) -> TailerError {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        // The connection broke after the request may have been sent.
        ErrorKind::Timeout
    };
    // reqwest's message may name the URL: shown without credentials.
    let detail = std::error::Error::source(error).map(|s| s.to_string()).unwrap_or_else(|| error.to_string());
    let detail = crate::redact::redact_urls_in(&detail);
    TailerError::new(action, kind, None, detail)
}

pub(super) fn decode<T: DeserializeOwned>(action: TailerAction, bytes: &[u8]) -> Result<T, TailerError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let mut error = TailerError::new(action, ErrorKind::Undecodable, Some(200), excerpt(bytes));
        if error.excerpt.is_empty() {
            error.excerpt = format!("empty body ({e})");
        }
        error
    })
}

/// `{"results": [...]}`: items without a usable `run_id` or `status` are skipped (and
/// logged once for the whole answer, with their count and the first reason), a missing or
/// non-list `results` makes the answer undecodable.
pub(super) fn parse_run_list(action: TailerAction, value: serde_json::Value) -> Result<Vec<RunItem>, TailerError> {
    let Some(serde_json::Value::Array(items)) = value.get("results") else {
        return Err(TailerError::new(action, ErrorKind::Undecodable, Some(200), "the answer has no `results` list"));
    };
    let mut runs = Vec::with_capacity(items.len());
    let (mut skipped, mut first_reason) = (0usize, None);
    for item in items {
        match serde_json::from_value::<RunItem>(item.clone()) {
            Ok(run) => runs.push(run),
            Err(e) => {
                skipped += 1;
                first_reason.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Some(reason) = first_reason {
        tracing::warn!(%action, skipped, kept = runs.len(), first_reason = %reason, "skipped run items Tailer sent without a usable run_id or status");
    }
    Ok(runs)
}
