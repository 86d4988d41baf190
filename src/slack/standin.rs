//! A local stand-in for Slack's Web API and `response_url`s, served over real HTTP: it
//! answers like Slack (`ok`, `ts`, error codes, 429 with `Retry-After`), keeps the
//! conversation it was told (messages, thread replies, edits, ephemeral answers) and can
//! be told to fail. The tests and the demo talk to it exactly as the bot talks to Slack.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// What the stand-in was asked to do, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackEvent {
    pub seq: u64,
    /// When it arrived (unix ms, by the stand-in's clock).
    pub at_ms: i64,
    /// `chat.postMessage`, `chat.update`, `chat.postEphemeral` or `response_url`.
    pub method: String,
    pub channel: Option<String>,
    /// The message's ts (new for a post, the edited one for an update).
    pub ts: Option<String>,
    pub thread_ts: Option<String>,
    pub broadcast: bool,
    /// For ephemeral messages: who sees it.
    pub user: Option<String>,
    /// For `response_url` posts.
    pub response_type: Option<String>,
    pub replace_original: bool,
    pub text: String,
    pub blocks: Vec<Value>,
}

impl SlackEvent {
    /// The labels of the buttons it carries.
    pub fn buttons(&self) -> Vec<String> {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["text"]["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// The button with that label: `(action_id, value)`.
    pub fn button(&self, label: &str) -> Option<(String, String)> {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["text"]["text"] == label)
            .map(|e| (e["action_id"].as_str().unwrap_or_default().to_owned(), e["value"].as_str().unwrap_or_default().to_owned()))
    }

    /// All the text a person would read: fallback text and every text in the blocks.
    pub fn visible_text(&self) -> String {
        let mut out = Vec::new();
        collect_text(&Value::Array(self.blocks.clone()), &mut out);
        if out.is_empty() {
            out.push(self.text.clone());
        }
        out.join("\n")
    }
}

fn collect_text(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(kind)), Some(Value::String(text))) = (map.get("type"), map.get("text")) {
                if kind == "mrkdwn" || kind == "plain_text" {
                    out.push(text.clone());
                    return;
                }
            }
            for (key, v) in map {
                if key != "confirm" {
                    collect_text(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_text(v, out)),
        _ => {}
    }
}

/// A failure to answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StandinFaultKind {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `{"ok": false, "error": code}`.
    Error { code: String },
    /// An HTTP status (500, 503...).
    Status { status: u16 },
    /// The call is carried out (a post is kept) but its answer is lost: the caller gets
    /// this HTTP status instead, as when a connection breaks after Slack acted.
    LostAnswer { status: u16 },
    /// A slow answer: the call takes effect at once (as Slack acts before a slow network
    /// delivers its answer), the answer comes this late.
    Delay { millis: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandinFault {
    /// A method (`chat.postMessage`...), or none for any.
    pub method: Option<String>,
    #[serde(flatten)]
    pub kind: StandinFaultKind,
    pub times: u32,
}

#[derive(Default)]
struct Inner {
    events: Vec<SlackEvent>,
    next_ts: u64,
    faults: Vec<StandinFault>,
    /// Calls per method, successful or not.
    calls: HashMap<String, u64>,
    /// The `metadata` posted with a message, by its ts.
    metadata: HashMap<String, Value>,
    /// Posts accepted per `response_url` key, kept or not as events.
    responses: HashMap<String, u64>,
}

/// The stand-in's state, shared with tests.
#[derive(Clone)]
pub struct SlackStandin {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    token: Arc<String>,
    usergroups: Arc<Mutex<HashMap<String, Vec<String>>>>,
    clock: crate::clock::SharedClock,
    socket: Arc<Socket>,
    /// Whether `response_url` posts are kept as events (else only counted).
    keep_responses: bool,
}

/// The Socket Mode side: the app token, the envelopes to push, the acknowledgements.
struct Socket {
    app_token: Mutex<Option<String>>,
    addr: Mutex<Option<SocketAddr>>,
    outgoing: tokio::sync::broadcast::Sender<String>,
    acks: Mutex<Vec<Value>>,
    connections: std::sync::atomic::AtomicUsize,
    changed: Notify,
}

/// A stand-in serving on a local port; dropping it stops the server.
pub struct RunningStandin {
    pub addr: SocketAddr,
    pub slack: SlackStandin,
    _stop: oneshot::Sender<()>,
}

impl RunningStandin {
    /// The Web API base, for `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A `response_url` the stand-in serves.
    pub fn response_url(&self, key: &str) -> String {
        format!("http://{}/response/{key}", self.addr)
    }

    /// The prefix of those `response_url`s, for `response_url_prefixes`.
    pub fn response_url_prefix(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SlackStandin {
    /// A stand-in that accepts only `bot_token`.
    pub fn new(bot_token: &str) -> SlackStandin {
        SlackStandin {
            inner: Arc::new(Mutex::new(Inner { next_ts: 1, ..Inner::default() })),
            changed: Arc::new(Notify::new()),
            token: Arc::new(bot_token.to_owned()),
            usergroups: Arc::new(Mutex::new(HashMap::new())),
            clock: Arc::new(crate::clock::SystemClock),
            socket: Arc::new(Socket {
                app_token: Mutex::new(None),
                addr: Mutex::new(None),
                outgoing: tokio::sync::broadcast::channel(64).0,
                acks: Mutex::new(Vec::new()),
                connections: std::sync::atomic::AtomicUsize::new(0),
                changed: Notify::new(),
            }),
            keep_responses: true,
        }
    }

    /// Counts `response_url` posts per key without keeping them: memory stays flat under
    /// a load of many thousands of commands (`tailerbot sim --slack-standin`).
    pub fn counting_responses(mut self) -> SlackStandin {
        self.keep_responses = false;
        self
    }

    /// Posts accepted per `response_url` key (`/response/<key>`).
    pub fn response_counts(&self) -> HashMap<String, u64> {
        lock(&self.inner).responses.clone()
    }

    /// Accepts Socket Mode connections opened with this app token (`xapp-...`).
    pub fn with_app_token(self, token: &str) -> SlackStandin {
        *lock(&self.socket.app_token) = Some(token.to_owned());
        self
    }

    /// Pushes an envelope to every connected Socket Mode client.
    pub fn socket_send(&self, envelope: &Value) {
        let _ = self.socket.outgoing.send(envelope.to_string());
    }

    /// Waits for a Socket Mode connection, at most `limit`.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.socket.changed.notified();
            if self.socket.connections.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Waits for the acknowledgement of an envelope, at most `limit`.
    pub async fn wait_ack(&self, envelope_id: &str, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.socket.changed.notified();
            if let Some(ack) = lock(&self.socket.acks).iter().find(|a| a["envelope_id"] == envelope_id) {
                return Some(ack.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Stamps events with this clock (a test's paused one).
    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> SlackStandin {
        self.clock = clock;
        self
    }

    /// Serves on `addr` (port 0: any free port).
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<RunningStandin> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        *lock(&self.socket.addr) = Some(addr);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RunningStandin { addr, slack: self, _stop: stop })
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/{method}", post(api).get(api_get))
            .route("/response/{key}", post(response_url))
            .route("/socket", axum::routing::get(socket))
            .route("/_standin/responses", axum::routing::get(responses))
            .with_state(self.clone())
    }

    /// Sets the members of a user group.
    pub fn set_usergroup(&self, group: &str, members: &[&str]) {
        lock(&self.usergroups).insert(group.to_owned(), members.iter().map(|m| (*m).to_owned()).collect());
    }

    pub fn inject(&self, fault: StandinFault) {
        lock(&self.inner).faults.push(fault);
    }

    /// Disarms every fault: Slack works again.
    pub fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    pub fn events(&self) -> Vec<SlackEvent> {
        lock(&self.inner).events.clone()
    }

    /// How many calls a method received (failed ones included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).calls.get(method).copied().unwrap_or(0)
    }

    /// Waits until the events satisfy `done`, at most `limit`; returns them either way.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[SlackEvent]) -> bool) -> Vec<SlackEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            {
                let inner = lock(&self.inner);
                if done(&inner.events) {
                    return inner.events.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.events();
            }
        }
    }

    fn take_fault(&self, method: &str) -> Option<StandinFaultKind> {
        let mut inner = lock(&self.inner);
        *inner.calls.entry(method.to_owned()).or_default() += 1;
        let index = inner.faults.iter().position(|f| f.method.as_deref().is_none_or(|m| m == method))?;
        let fault = &mut inner.faults[index];
        fault.times = fault.times.saturating_sub(1);
        let kind = fault.kind.clone();
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, mut event: SlackEvent) -> SlackEvent {
        let mut inner = lock(&self.inner);
        event.seq = inner.events.len() as u64 + 1;
        event.at_ms = self.clock.now().timestamp_millis();
        if event.method == "chat.postMessage" {
            let n = inner.next_ts;
            inner.next_ts += 1;
            event.ts = Some(format!("1700000000.{n:06}"));
        }
        inner.events.push(event.clone());
        drop(inner);
        self.changed.notify_waiters();
        event
    }
}

fn fault_response(kind: StandinFaultKind) -> Response {
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
async fn late(delay: Option<Duration>, response: Response) -> Response {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Splits a fault into a delay (the call still happens) and a failure (it does not).
fn delay_or_failure(fault: Option<StandinFaultKind>) -> (Option<Duration>, Option<StandinFaultKind>) {
    match fault {
        Some(StandinFaultKind::Delay { millis }) => (Some(Duration::from_millis(millis)), None),
        other => (None, other),
    }
}

fn text_of(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

async fn api_get(
    State(slack): State<SlackStandin>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let body = serde_json::to_value(query).unwrap_or(Value::Null);
    let (delay, failure) = delay_or_failure(slack.take_fault(&method));
    late(delay, handle(&slack, &method, &headers, body, failure)).await
}

async fn api(State(slack): State<SlackStandin>, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
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

fn handle(slack: &SlackStandin, method: &str, headers: &HeaderMap, body: Value, failure: Option<StandinFaultKind>) -> Response {
    match failure {
        Some(kind @ StandinFaultKind::LostAnswer { .. }) => {
            let _ = answer(slack, method, headers, body);
            fault_response(kind)
        }
        Some(kind) => fault_response(kind),
        None => answer(slack, method, headers, body),
    }
}

fn answer(slack: &SlackStandin, method: &str, headers: &HeaderMap, body: Value) -> Response {
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
            slack.record(SlackEvent { user: text_of(&body, "user"), ..base });
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

async fn socket(State(slack): State<SlackStandin>, upgrade: axum::extract::ws::WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |mut ws| async move {
        use axum::extract::ws::Message as Frame;
        let mut outgoing = slack.socket.outgoing.subscribe();
        let hello = json!({
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "standin", "started": "2026-01-01 00:00:00.000", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0TAILERBOT"},
        });
        if ws.send(Frame::Text(hello.to_string().into())).await.is_err() {
            return;
        }
        slack.socket.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        slack.socket.changed.notify_waiters();
        loop {
            tokio::select! {
                envelope = outgoing.recv() => match envelope {
                    Ok(text) => {
                        if ws.send(Frame::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                frame = ws.recv() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                            lock(&slack.socket.acks).push(ack);
                            slack.socket.changed.notify_waiters();
                        }
                    }
                    Some(Ok(Frame::Ping(data))) => {
                        let _ = ws.send(Frame::Pong(data)).await;
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
        slack.socket.connections.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    })
}

async fn response_url(State(slack): State<SlackStandin>, Path(key): Path<String>, body: Bytes) -> Response {
    let (delay, failure) = delay_or_failure(slack.take_fault("response_url"));
    late(delay, respond(&slack, key, &body, failure)).await
}

fn respond(slack: &SlackStandin, key: String, body: &[u8], failure: Option<StandinFaultKind>) -> Response {
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
    });
    (StatusCode::OK, "ok").into_response()
}

/// `GET /_standin/responses?prefix=P[&summary=true]`.
#[derive(Debug, Deserialize)]
struct ResponsesQuery {
    /// Only keys starting with this.
    #[serde(default)]
    prefix: String,
    /// Totals only, without the keys.
    #[serde(default)]
    summary: bool,
}

/// How many posts each `response_url` key received: `{"total", "distinct", "keys"}`.
async fn responses(State(slack): State<SlackStandin>, Query(query): Query<ResponsesQuery>) -> Json<Value> {
    let inner = lock(&slack.inner);
    let matching = inner.responses.iter().filter(|(key, _)| key.starts_with(&query.prefix));
    if query.summary {
        let (total, distinct) = matching.fold((0, 0), |(total, distinct), (_, n)| (total + n, distinct + 1));
        return Json(json!({"total": total, "distinct": distinct}));
    }
    let keys: serde_json::Map<String, Value> = matching.map(|(key, n)| (key.clone(), json!(n))).collect();
    let total: u64 = keys.values().filter_map(Value::as_u64).sum();
    Json(json!({"total": total, "distinct": keys.len(), "keys": keys}))
}
