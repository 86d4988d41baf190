//! The HTTP face of `serve`. Every Slack request passes [`super::edge`] first (size,
//! time, signature, type, fields, workspace and app, in that order); then the bot
//! decides, within Slack's three seconds. A `response_url` outside the allowed prefixes
//! is never posted to (answers take the Web API instead).

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::edge::{Admitted, SlackRequest};
use crate::bot::{Ack, Bot};
use crate::clock::SharedClock;
use crate::slack::verify::Verifier;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The bot itself.
    pub bot: Arc<Bot>,
    /// The Slack Web API, for what only the front door asks of it (the start-up check).
    pub slack: Arc<crate::slack::api::SlackApi>,
    /// Checks Slack's signatures.
    pub verifier: Verifier,
    /// "Now" for the signature window.
    pub clock: SharedClock,
}

/// The HTTP endpoints; in Socket Mode (`slack_over_http` false) only health and metrics,
/// and `/metrics` only when it is not served on its own port (`with_metrics`).
pub fn router(state: AppState, slack_over_http: bool, with_metrics: bool) -> axum::Router {
    crate::telemetry::metrics();
    let slack = if slack_over_http {
        axum::Router::new()
            .route("/slack/commands", post(slack))
            .route("/slack/interactions", post(slack))
            .route("/slack/events", post(slack))
            // The edge reads the body itself, within its own limit.
            .layer(DefaultBodyLimit::disable())
            .layer(axum::middleware::from_fn(observe))
    } else {
        axum::Router::new()
    };
    let app = slack.route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready));
    let app = if with_metrics { app.route("/metrics", get(metrics)) } else { app };
    app.with_state(state)
}

/// `/metrics` alone, for `METRICS_PORT` (with `/healthz`, so that a probe can use it).
pub fn metrics_router(state: AppState) -> axum::Router {
    crate::telemetry::metrics();
    axum::Router::new().route("/metrics", get(metrics)).route("/healthz", get(|| async { "ok" })).with_state(state)
}

/// The `endpoint` label of a request: its route's template, or `other` for a path no
/// route matches. A label never carries what a client chose (a raw path would make a
/// series, and memory, per path: anyone could grow `/metrics` without limit).
fn endpoint_label(request: &axum::extract::Request) -> &'static str {
    match request.extensions().get::<axum::extract::MatchedPath>().map(axum::extract::MatchedPath::as_str) {
        Some("/slack/commands") => "/slack/commands",
        Some("/slack/interactions") => "/slack/interactions",
        Some("/slack/events") => "/slack/events",
        _ => "other",
    }
}

/// Counts each Slack request by endpoint and answer, and times the answer.
async fn observe(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let endpoint = endpoint_label(&request);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let outcome = match response.status().as_u16() {
        200..=299 => "ok",
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        408 => "too_slow",
        413 => "too_large",
        404 => "not_found",
        405 => "wrong_method",
        415 => "not_a_form",
        _ => "error",
    };
    metrics::counter!("tailerbot_requests_total", "endpoint" => endpoint, "outcome" => outcome).increment(1);
    metrics::histogram!("tailerbot_ack_seconds", "endpoint" => endpoint).record(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text: the counters kept as things happen, and gauges read from the store now.
async fn metrics(State(state): State<AppState>) -> Response {
    let bot = &state.bot;
    let now = bot.now_ms();
    if let Ok((depth, oldest)) = bot.store().outbox_depth().await {
        metrics::gauge!("tailerbot_outbox_depth").set(depth as f64);
        metrics::gauge!("tailerbot_outbox_oldest_seconds").set(oldest.map(|t| (now - t).max(0) as f64 / 1000.0).unwrap_or(0.0));
    }
    metrics::gauge!("tailerbot_waiting_calls", "upstream" => "tailer").set(bot.tailer().waiting() as f64);
    metrics::gauge!("tailerbot_waiting_calls", "upstream" => "response_url").set(bot.outbox().answers_waiting() as f64);
    metrics::gauge!("tailerbot_work_in_flight").set(bot.tasks().len() as f64);
    if let Ok(watched) = bot.store().active_watch_count().await {
        metrics::gauge!("tailerbot_watched_runs").set(watched as f64);
    }
    if let Ok(Some(polled)) = bot.store().marker(crate::store::POLLED_MARKER).await {
        metrics::gauge!("tailerbot_subscription_lag_seconds").set((now - polled).max(0) as f64 / 1000.0);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::telemetry::metrics().render()).into_response()
}

fn answer(ack: Ack) -> Response {
    match ack {
        Ack::Empty => StatusCode::OK.into_response(),
        Ack::Message(reply) => Json(crate::slack::api::ResponseBody::of(&reply)).into_response(),
        Ack::FieldErrors(errors) => Json(view_errors(&errors)).into_response(),
    }
}

/// The answer that keeps a modal open with a message under each field.
pub(crate) fn view_errors(errors: &[(String, String)]) -> serde_json::Value {
    let errors: serde_json::Map<String, serde_json::Value> = errors.iter().map(|(block, text)| (block.clone(), json!(text))).collect();
    json!({"response_action": "errors", "errors": errors})
}

/// Every Slack endpoint: what [`SlackRequest`] admitted, handed to the bot, which answers
/// within the deadline (see [`Bot::in_time`]).
/// The request is handled by the bot of the configuration it was admitted under.
async fn slack(SlackRequest(admitted, current): SlackRequest) -> Response {
    let bot = current.clone();
    match admitted {
        Admitted::SslCheck => StatusCode::OK.into_response(),
        Admitted::Command(command) => {
            let response_url = Some(command.response_url.clone());
            answer(current.in_time(response_url, async move { crate::commands::slash(&bot, command).await }).await)
        }
        // Slack shows nothing of the HTTP answer to a click: the bot answers through the
        // click's response_url, and this is always an empty 200.
        Admitted::Interaction(interaction) => {
            answer(current.in_time(None, async move { crate::commands::writes::clicks::interaction(&bot, interaction).await }).await)
        }
        Admitted::UrlVerification(challenge) => Json(json!({ "challenge": challenge })).into_response(),
        // Acknowledged at once (so that Slack does not retry), handled after.
        Admitted::Event(event) => answer(crate::conversation::event(&bot, event.into())),
    }
}

/// How long readiness waits for the store to take a write.
const READY_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready when the store answers and takes writes ([`crate::store::Store::ping`]), and
/// the bot's own work finds its writes taken ([`crate::store::WriteHealth`]: a probe of
/// one row can pass on a full disk while the work fails).
async fn ready(State(state): State<AppState>) -> Response {
    if state.bot.store().health().failing().is_some() {
        // A write like the work's (a new row, not one rewritten in place): when it goes
        // through, the store is well again, with or without traffic to prove it.
        let probe = format!("ready:{}", uuid::Uuid::new_v4().simple());
        let _ = tokio::time::timeout(READY_PROBE, state.bot.store().first_time(&probe, state.bot.now_ms())).await;
    }
    if let Some(cause) = state.bot.store().health().failing() {
        if let Some(repeats) = crate::telemetry::first_or_summary("not_ready_store_failing") {
            tracing::warn!(%cause, repeats, "not ready: the store fails the bot's writes");
        }
        return (StatusCode::SERVICE_UNAVAILABLE, format!("store fails writes: {}", crate::redact::redact_urls_in(&cause))).into_response();
    }
    match tokio::time::timeout(READY_PROBE, state.bot.store().ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the store does not take writes");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!(
                waited_secs = READY_PROBE.as_secs(),
                "not ready: the store did not take a write in time (locked by another connection?)"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "store busy").into_response()
        }
    }
}
