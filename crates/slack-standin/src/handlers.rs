//! The stand-in's HTTP side: the Web API methods, `response_url`s and the test's view of
//! what was answered, each failing when told to (Socket Mode is `socket.rs`'s, files
//! `uploads.rs`'s).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

pub(super) fn fault_response(kind: StandinFaultKind) -> Response {
    match kind {
        StandinFaultKind::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response(),
        StandinFaultKind::Error { code } => Json(json!({"ok": false, "error": code})).into_response(),
        StandinFaultKind::Status { status } | StandinFaultKind::LostAnswer { status } => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "upstream error").into_response()
        }
        StandinFaultKind::Delay { .. } => unreachable!("a delay is an answer, not a failure"),
    }
}

/// Answers after `delay` (by tokio's clock, so a paused test decides when).
pub(super) async fn late(delay: Option<Duration>, response: Response) -> Response {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Splits a fault into a delay (the call still happens) and a failure (it does not).
pub(super) fn delay_or_failure(fault: Option<StandinFaultKind>) -> (Option<Duration>, Option<StandinFaultKind>) {
    match fault {
        Some(StandinFaultKind::Delay { millis }) => (Some(Duration::from_millis(millis)), None),
        other => (None, other),
    }
}

pub(super) fn text_of(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(super) async fn api_get(
    State(slack): State<SlackStandin>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let body = serde_json::to_value(query).unwrap_or(Value::Null);
    let (delay, failure) = delay_or_failure(slack.take_fault(&method));
    late(delay, handle(&slack, &method, &headers, body, failure)).await
}

pub(super) async fn api(State(slack): State<SlackStandin>, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body)
        .ok()
        .or_else(|| {
            let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
            serde_json::to_value(fields).ok()
        })
        .unwrap_or(Value::Null);
    let (delay, failure) = delay_or_failure(slack.take_fault(&method));
    late(delay, handle(&slack, &method, &headers, body, failure)).await
}

pub(super) fn handle(slack: &SlackStandin, method: &str, headers: &HeaderMap, body: Value, failure: Option<StandinFaultKind>) -> Response {
    match failure {
        Some(kind @ StandinFaultKind::LostAnswer { .. }) => {
            let _ = answer(slack, method, headers, body);
            fault_response(kind)
        }
        Some(kind) => fault_response(kind),
        None => answer(slack, method, headers, body),
    }
}

pub(super) fn answer(slack: &SlackStandin, method: &str, headers: &HeaderMap, body: Value) -> Response {
    if method == "apps.connections.open" {
        let expected = lock(&slack.socket.app_token).clone();
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        return match (expected, given, *lock(&slack.socket.addr)) {
            (Some(expected), Some(given), Some(addr)) if expected == given => {
                Json(json!({"ok": true, "url": format!("ws://{addr}/socket")})).into_response()
            }
            _ => Json(json!({"ok": false, "error": "invalid_auth"})).into_response(),
        };
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == slack.token.as_str());
    if !authorized {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let blocks = body.get("blocks").and_then(Value::as_array).cloned().unwrap_or_default();
    let text = text_of(&body, "text").unwrap_or_default();
    if method == "auth.test" {
        return Json(json!({"ok": true, "user_id": "U0TAILERBOT", "team_id": "T0001"})).into_response();
    }
    if method == "files.getUploadURLExternal" {
        return super::uploads::upload_url(slack, &body);
    }
    if method == "files.completeUploadExternal" {
        return super::uploads::complete_upload(slack, &body);
    }
    if method == "views.open" {
        return open_view(slack, &body);
    }
    if method == "users.conversations" {
        return user_conversations(slack, &body);
    }
    if method == "views.publish" {
        let Some(user) = text_of(&body, "user_id") else {
            return Json(json!({"ok": false, "error": "invalid_arguments"})).into_response();
        };
        let view = body.get("view").cloned().unwrap_or_default();
        slack.record(SlackEvent {
            seq: 0,
            at_ms: 0,
            method: method.to_owned(),
            channel: None,
            ts: None,
            thread_ts: None,
            broadcast: false,
            user: Some(user),
            response_type: None,
            replace_original: false,
            text: String::new(),
            blocks: view["blocks"].as_array().cloned().unwrap_or_default(),
            file: None,
            view: Some(view.clone()),
            trigger_id: None,
        });
        return Json(json!({"ok": true, "view": view})).into_response();
    }
    let Some(channel) = text_of(&body, "channel").or_else(|| (method == "usergroups.users.list").then(String::new)) else {
        return Json(json!({"ok": false, "error": "channel_not_found"})).into_response();
    };
    let base = SlackEvent {
        seq: 0,
        at_ms: 0,
        method: method.to_owned(),
        channel: Some(channel.clone()),
        ts: None,
        thread_ts: None,
        broadcast: false,
        user: None,
        response_type: None,
        replace_original: false,
        text: text.clone(),
        blocks,
        file: None,
        view: None,
        trigger_id: None,
    };
    match method {
        "chat.postMessage" => {
            if text.is_empty() && base.blocks.is_empty() {
                return Json(json!({"ok": false, "error": "no_text"})).into_response();
            }
            let event = slack.record(SlackEvent {
                thread_ts: text_of(&body, "thread_ts"),
                broadcast: body.get("reply_broadcast").and_then(Value::as_bool).unwrap_or(false),
                ..base
            });
            let ts = event.ts.unwrap_or_default();
            if let Some(metadata) = body.get("metadata").filter(|m| m.is_object()) {
                lock(&slack.inner).metadata.insert(ts.clone(), metadata.clone());
            }
            Json(json!({"ok": true, "channel": channel, "ts": ts, "message": {"type": "message", "text": text, "ts": ts}})).into_response()
        }
        "chat.update" => {
            let ts = text_of(&body, "ts").unwrap_or_default();
            let known = lock(&slack.inner).events.iter().any(|e| e.method == "chat.postMessage" && e.ts.as_deref() == Some(ts.as_str()));
            if !known {
                return Json(json!({"ok": false, "error": "message_not_found"})).into_response();
            }
            slack.record(SlackEvent { ts: Some(ts.clone()), ..base });
            Json(json!({"ok": true, "channel": channel, "ts": ts, "text": text})).into_response()
        }
        "chat.postEphemeral" => {
            slack.record(SlackEvent { user: text_of(&body, "user"), thread_ts: text_of(&body, "thread_ts"), ..base });
            Json(json!({"ok": true, "message_ts": "1700000000.999999"})).into_response()
        }
        "conversations.history" | "conversations.replies" => {
            let with_metadata = text_of(&body, "include_all_metadata").is_some_and(|v| v == "true");
            let thread = text_of(&body, "ts");
            let inner = lock(&slack.inner);
            let messages: Vec<Value> = inner
                .events
                .iter()
                .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel.as_str()))
                .filter(|e| match (method, &thread) {
                    ("conversations.replies", Some(root)) => e.ts.as_ref() == Some(root) || e.thread_ts.as_ref() == Some(root),
                    ("conversations.replies", None) => false,
                    _ => e.thread_ts.is_none() || e.broadcast,
                })
                .map(|e| {
                    let ts = e.ts.clone().unwrap_or_default();
                    let mut m = json!({"type": "message", "ts": ts, "text": e.text, "thread_ts": e.thread_ts});
                    if let (true, Some(metadata)) = (with_metadata, inner.metadata.get(&ts)) {
                        m["metadata"] = metadata.clone();
                    }
                    m
                })
                .collect();
            Json(json!({"ok": true, "messages": messages, "has_more": false})).into_response()
        }
        "usergroups.users.list" => {
            let group = text_of(&body, "usergroup").unwrap_or_default();
            match lock(&slack.usergroups).get(&group) {
                Some(users) => Json(json!({"ok": true, "users": users})).into_response(),
                None => Json(json!({"ok": false, "error": "no_such_subteam"})).into_response(),
            }
        }
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// `users.conversations` for `user`: a page of `limit` channels from `cursor` (an offset).
fn user_conversations(slack: &SlackStandin, body: &Value) -> Response {
    let Some(user) = text_of(body, "user") else {
        return Json(json!({"ok": false, "error": "user_not_found"})).into_response();
    };
    let limit = text_of(body, "limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).clamp(1, 1000);
    let from = text_of(body, "cursor").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
    let all = slack.channels_of(&user);
    let page: Vec<Value> = all.iter().skip(from).take(limit).map(|id| json!({"id": id, "is_member": true})).collect();
    let next = if from + limit < all.len() { (from + limit).to_string() } else { String::new() };
    Json(json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next}})).into_response()
}

pub(super) async fn response_url(State(slack): State<SlackStandin>, Path(key): Path<String>, body: Bytes) -> Response {
    let (delay, failure) = delay_or_failure(slack.take_fault("response_url"));
    late(delay, respond(&slack, key, &body, failure)).await
}

pub(super) fn respond(slack: &SlackStandin, key: String, body: &[u8], failure: Option<StandinFaultKind>) -> Response {
    if let Some(kind) = failure {
        return fault_response(kind);
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    *lock(&slack.inner).responses.entry(key.clone()).or_default() += 1;
    if !slack.keep_responses {
        slack.changed.notify_waiters();
        return (StatusCode::OK, "ok").into_response();
    }
    slack.record(SlackEvent {
        seq: 0,
        at_ms: 0,
        method: "response_url".into(),
        channel: None,
        ts: Some(key),
        thread_ts: None,
        broadcast: false,
        user: None,
        response_type: Some(text_of(&body, "response_type").unwrap_or_else(|| "ephemeral".into())),
        replace_original: body.get("replace_original").and_then(Value::as_bool).unwrap_or(false),
        text: text_of(&body, "text").unwrap_or_default(),
        blocks: body.get("blocks").and_then(Value::as_array).cloned().unwrap_or_default(),
        file: None,
        view: None,
        trigger_id: None,
    });
    (StatusCode::OK, "ok").into_response()
}

/// `GET /_standin/responses?prefix=P[&summary=true]`.
#[derive(Debug, Deserialize)]
pub(super) struct ResponsesQuery {
    /// Only keys starting with this.
    #[serde(default)]
    prefix: String,
    /// Totals only, without the keys.
    #[serde(default)]
    summary: bool,
}

/// How many posts each `response_url` key received: `{"total", "distinct", "keys"}`.
pub(super) async fn responses(State(slack): State<SlackStandin>, Query(query): Query<ResponsesQuery>) -> Json<Value> {
    let inner = lock(&slack.inner);
    let matching = inner.responses.range(query.prefix.clone()..).take_while(|(key, _)| key.starts_with(&query.prefix));
    if query.summary {
        let (total, distinct) = matching.fold((0, 0), |(total, distinct), (_, n)| (total + n, distinct + 1));
        return Json(json!({"total": total, "distinct": distinct}));
    }
    let keys: serde_json::Map<String, Value> = matching.map(|(key, n)| (key.clone(), json!(n))).collect();
    let total: u64 = keys.values().filter_map(Value::as_u64).sum();
    Json(json!({"total": total, "distinct": keys.len(), "keys": keys}))
}

/// `views.open`: a modal, opened with a `trigger_id` that Slack takes once.
fn open_view(slack: &SlackStandin, body: &Value) -> Response {
    let (Some(trigger), Some(view)) = (text_of(body, "trigger_id"), body.get("view").filter(|v| v.is_object())) else {
        return Json(json!({"ok": false, "error": "invalid_arguments"})).into_response();
    };
    if view["type"] != "modal" || view["blocks"].as_array().is_none_or(|b| b.len() > 100) {
        return Json(json!({"ok": false, "error": "invalid_arguments"})).into_response();
    }
    let inner = lock(&slack.inner);
    if inner.events.iter().any(|e| e.trigger_id.as_deref() == Some(trigger.as_str())) {
        return Json(json!({"ok": false, "error": "exchanged_trigger_id"})).into_response();
    }
    let opened = inner.events.iter().filter(|e| e.method == "views.open").count();
    drop(inner);
    let mut view = view.clone();
    view["id"] = json!(format!("V{:08}", opened + 1));
    slack.record(SlackEvent {
        method: "views.open".into(),
        blocks: view["blocks"].as_array().cloned().unwrap_or_default(),
        view: Some(view.clone()),
        trigger_id: Some(trigger),
        ..SlackEvent::default()
    });
    Json(json!({"ok": true, "view": view})).into_response()
}
