//! The HTTP face of `serve`. Handlers are glue: body size (413), signature (401), a form
//! body (415), its fields (400), workspace and app (403) are checked in that order
//! before anything else; then the bot decides, within Slack's three seconds. A
//! `response_url` outside the allowed prefixes is never posted to (answers take the Web
//! API instead).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::bot::{Ack, Bot};
use crate::clock::SharedClock;
use crate::config::SlackConfig;
use crate::domain::{AppId, TeamId};
use crate::slack::payload::{Interaction, SlashCommand, form_fields, is_ssl_check};
use crate::slack::verify::Verifier;

/// Whether a workspace and app are inside the configured allow-lists.
pub fn allowed_origin(slack: &SlackConfig, team: Option<&TeamId>, app: Option<&AppId>) -> bool {
    let team_ok = slack.allowed_team_ids.is_empty() || team.is_some_and(|t| slack.allowed_team_ids.contains(t));
    let app_ok = slack.allowed_app_ids.is_empty() || app.is_some_and(|a| slack.allowed_app_ids.contains(a));
    team_ok && app_ok
}

/// Whether a workspace is inside the allow-list (Socket Mode: the app token already
/// proves which app it is, and command envelopes do not name it).
pub fn allowed_team(slack: &SlackConfig, team: Option<&TeamId>) -> bool {
    slack.allowed_team_ids.is_empty() || team.is_some_and(|t| slack.allowed_team_ids.contains(t))
}

/// The largest body accepted from Slack.
pub const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The bot itself.
    pub bot: Arc<Bot>,
    /// Checks Slack's signatures.
    pub verifier: Verifier,
    /// "Now" for the signature window.
    pub clock: SharedClock,
}

/// The HTTP endpoints; in Socket Mode (`slack_over_http` false) only health and metrics.
pub fn router(state: AppState, slack_over_http: bool) -> axum::Router {
    crate::telemetry::metrics();
    let slack = if slack_over_http {
        axum::Router::new()
            .route("/slack/commands", post(commands))
            .route("/slack/interactions", post(interactions))
            .route("/slack/events", post(events))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(axum::middleware::from_fn(observe))
    } else {
        axum::Router::new()
    };
    slack.route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready)).route("/metrics", get(metrics)).with_state(state)
}

/// Counts each Slack request by endpoint and answer, and times the answer.
async fn observe(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let endpoint = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let outcome = match response.status().as_u16() {
        200..=299 => "ok",
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        413 => "too_large",
        415 => "not_a_form",
        _ => "error",
    };
    metrics::counter!("tailerbot_requests_total", "endpoint" => endpoint.clone(), "outcome" => outcome).increment(1);
    metrics::histogram!("tailerbot_ack_seconds", "endpoint" => endpoint).record(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text: the counters kept as things happen, and gauges read from the store now.
async fn metrics(State(state): State<AppState>) -> Response {
    let bot = &state.bot;
    let now = bot.now_ms();
    if let Ok((depth, oldest)) = bot.store.outbox_depth().await {
        metrics::gauge!("tailerbot_outbox_depth").set(depth as f64);
        metrics::gauge!("tailerbot_outbox_oldest_seconds").set(oldest.map(|t| (now - t).max(0) as f64 / 1000.0).unwrap_or(0.0));
    }
    if let Ok(watched) = bot.store.active_watch_count().await {
        metrics::gauge!("tailerbot_watched_runs").set(watched as f64);
    }
    if let Ok(Some(polled)) = bot.store.marker(crate::watch::subscriptions::POLLED_MARKER).await {
        metrics::gauge!("tailerbot_subscription_lag_seconds").set((now - polled).max(0) as f64 / 1000.0);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::telemetry::metrics().render()).into_response()
}

/// A refusal at the edge: a status and a word on why.
type Refusal = (StatusCode, &'static str);

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// 401 unless the request is signed by Slack, now.
fn verified(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    state
        .verifier
        .verify(header(headers, "x-slack-request-timestamp"), header(headers, "x-slack-signature"), body, state.clock.unix())
        .map_err(|error| {
            tracing::warn!(%error, "refused an unsigned or badly signed request");
            (StatusCode::UNAUTHORIZED, "invalid signature")
        })
}

/// 415 when the body is declared something other than a form (Slack always declares a
/// form; a body sent without any Content-Type is read as one).
fn form_content(headers: &HeaderMap) -> Result<(), Refusal> {
    let declared = header(headers, "content-type").and_then(|v| v.split(';').next()).map(str::trim);
    if declared.is_none_or(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
        Ok(())
    } else {
        tracing::warn!(content_type = ?declared, "refused a signed request that is not a form");
        Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected application/x-www-form-urlencoded"))
    }
}

/// 403 for a workspace or app outside the allow-lists.
fn admitted(slack: &SlackConfig, team: Option<&TeamId>, app: Option<&AppId>) -> Result<(), Refusal> {
    if allowed_origin(slack, team, app) {
        Ok(())
    } else {
        tracing::warn!(team = ?team.map(|t| t.to_string()), app = ?app.map(|a| a.to_string()), "refused a request from a workspace or app that is not allowed");
        Err((StatusCode::FORBIDDEN, "workspace or app not allowed"))
    }
}

fn bad_request(error: impl std::fmt::Display) -> Response {
    tracing::warn!(%error, "refused a signed request that cannot be read");
    (StatusCode::BAD_REQUEST, "malformed request").into_response()
}

fn answer(ack: Ack) -> Response {
    match ack {
        Ack::Empty => StatusCode::OK.into_response(),
        Ack::Message(body) => Json(body).into_response(),
    }
}

/// The bot's answer within the deadline (see [`Bot::in_time`]), as HTTP.
async fn in_time<F>(state: &AppState, response_url: Option<String>, work: F) -> Response
where
    F: Future<Output = Ack> + Send + 'static,
{
    answer(state.bot.in_time(response_url, work).await)
}

async fn commands(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form_fields(&body);
    // The probe does nothing, so it needs no signature.
    if fields.as_deref().is_ok_and(is_ssl_check) {
        return StatusCode::OK.into_response();
    }
    if let Err(refused) = verified(&state, &headers, &body) {
        return refused.into_response();
    }
    if let Err(refused) = form_content(&headers) {
        return refused.into_response();
    }
    let command = match fields.and_then(|fields| SlashCommand::from_form(&fields)) {
        Ok(command) => command,
        Err(error) => return bad_request(error),
    };
    if let Err(refused) = admitted(&state.bot.config.slack, Some(&command.team_id), command.api_app_id.as_ref()) {
        return refused.into_response();
    }
    let bot = state.bot.clone();
    let response_url = Some(command.response_url.clone());
    in_time(&state, response_url, async move { bot.slash_command(command).await }).await
}

async fn interactions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&state, &headers, &body) {
        return refused.into_response();
    }
    if let Err(refused) = form_content(&headers) {
        return refused.into_response();
    }
    let interaction = match form_fields(&body).and_then(|fields| Interaction::from_form(&fields)) {
        Ok(interaction) => interaction,
        Err(error) => return bad_request(error),
    };
    let (team, app) = interaction.origin();
    if let Err(refused) = admitted(&state.bot.config.slack, team, app) {
        return refused.into_response();
    }
    let bot = state.bot.clone();
    // Slack shows nothing of the HTTP answer to a click: the bot answers through the
    // click's response_url, and this is always an empty 200.
    in_time(&state, None, async move { bot.interaction(interaction).await }).await
}

async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&state, &headers, &body) {
        return refused.into_response();
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the event is not JSON");
    };
    match event.get("type").and_then(Value::as_str) {
        Some("url_verification") => match event.get("challenge").and_then(Value::as_str) {
            Some(challenge) if challenge.len() <= 200 => Json(json!({ "challenge": challenge })).into_response(),
            _ => bad_request("url_verification without a usable challenge"),
        },
        _ => {
            let team = event.get("team_id").and_then(Value::as_str).and_then(|t| TeamId::parse(t).ok());
            let app = event.get("api_app_id").and_then(Value::as_str).and_then(|a| AppId::parse(a).ok());
            if let Err(refused) = admitted(&state.bot.config.slack, team.as_ref(), app.as_ref()) {
                return refused.into_response();
            }
            // Events (mentions, the Home tab) arrive with a later version; acknowledged so
            // that Slack does not retry them.
            StatusCode::OK.into_response()
        }
    }
}

/// How long readiness waits for the store to take a write.
const READY_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready when the store answers and takes writes ([`crate::store::Store::ping`]).
async fn ready(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_PROBE, state.bot.store.ping()).await {
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
