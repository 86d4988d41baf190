//! A local stand-in for Slack's Web API and `response_url`s, served over real HTTP: it
//! answers like Slack (`ok`, `ts`, error codes, 429 with `Retry-After`), keeps the
//! conversation it was told (messages, thread replies, edits, ephemeral answers) and can
//! be told to fail. The tests and the demo talk to it exactly as the bot talks to Slack.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

mod handlers;
use handlers::{api, api_get, response_url, responses, socket, upload};

/// What the stand-in was asked to do, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlackEvent {
    pub seq: u64,
    /// When it arrived (unix ms, by the stand-in's clock).
    pub at_ms: i64,
    /// `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.publish` (`user`'s
    /// Home tab), `files.completeUploadExternal` (a file shared, in `file`) or
    /// `response_url`.
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
    /// The file a `files.completeUploadExternal` shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<UploadedFile>,
    /// `views.open` and `views.publish`: the whole view (`callback_id`,
    /// `private_metadata`...), with the `id` the stand-in gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<Value>,
    /// `views.open`: the `trigger_id` it was opened with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// A file uploaded through the external flow and shared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UploadedFile {
    pub id: String,
    pub filename: String,
    pub title: Option<String>,
    pub alt_text: Option<String>,
    /// The length announced to `files.getUploadURLExternal`.
    pub length: usize,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl SlackEvent {
    /// A message a bot gave as the HTTP answer to a request in `channel` (Slack shows it
    /// like one sent to the `response_url`): clickable like the others.
    pub fn from_answer(channel: &str, ts: Option<String>, answer: &Value) -> SlackEvent {
        SlackEvent {
            seq: 0,
            at_ms: 0,
            method: "response_url".into(),
            channel: Some(channel.to_owned()),
            ts,
            thread_ts: None,
            broadcast: false,
            user: None,
            response_type: answer["response_type"].as_str().map(str::to_owned),
            replace_original: false,
            text: answer["text"].as_str().unwrap_or_default().to_owned(),
            blocks: answer["blocks"].as_array().cloned().unwrap_or_default(),
            file: None,
            view: None,
            trigger_id: None,
        }
    }

    /// The `block_actions` payload Slack sends when `user` clicks `action` (`(action_id,
    /// value)`) on this view (a Home tab): no channel, no `response_url`; the view's id,
    /// `callback_id` and `private_metadata` as the app set them.
    pub fn view_click(&self, team: &str, user: &str, action: (String, String), trigger: &str) -> Value {
        let shown = self.view.clone().unwrap_or_default();
        let id = shown["id"].as_str().unwrap_or("V0HOME").to_owned();
        json!({
            "type": "block_actions",
            "team": {"id": team, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": team},
            "api_app_id": "A0TAILER",
            "container": {"type": "view", "view_id": id},
            "trigger_id": trigger,
            "view": {
                "id": id, "type": shown["type"], "callback_id": shown["callback_id"],
                "private_metadata": shown["private_metadata"], "blocks": shown["blocks"], "hash": "1.abc",
            },
            "actions": [{"action_id": action.0, "block_id": "home", "value": action.1, "type": "button", "action_ts": "1.2"}],
        })
    }

    /// The `view_submission` payload Slack sends when `user` submits this modal with
    /// `values` (block_id → the option value, date or conversation chosen); an input not
    /// given keeps its initial value.
    pub fn submission(&self, team: &str, user: &str, values: &[(&str, &str)], trigger: &str) -> Value {
        let view = self.view.clone().unwrap_or_default();
        let mut state = serde_json::Map::new();
        for block in view["blocks"].as_array().into_iter().flatten().filter(|b| b["type"] == "input") {
            let id = block["block_id"].as_str().unwrap_or_default();
            let element = &block["element"];
            let given = values.iter().find(|(b, _)| *b == id).map(|(_, v)| (*v).to_owned());
            let kind = element["type"].as_str().unwrap_or_default();
            let value = match kind {
                "static_select" => {
                    json!({"type": kind, "selected_option": given.map(|v| json!({"text": {"type": "plain_text", "text": v}, "value": v}))})
                }
                "datepicker" => {
                    json!({"type": kind, "selected_date": given.or_else(|| element["initial_date"].as_str().map(str::to_owned))})
                }
                "conversations_select" => json!({
                    "type": kind,
                    "selected_conversation": given.or_else(|| element["initial_conversation"].as_str().map(str::to_owned)),
                }),
                _ => json!({"type": kind, "value": given}),
            };
            state.insert(id.to_owned(), json!({ element["action_id"].as_str().unwrap_or(id): value }));
        }
        json!({
            "type": "view_submission",
            "team": {"id": team, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": team},
            "api_app_id": "A0TAILER",
            "trigger_id": trigger,
            "view": {
                "id": view["id"], "type": "modal", "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"], "blocks": view["blocks"],
                "state": {"values": state}, "hash": "1.abc",
            },
        })
    }

    /// The option values of the select in the input block `block_id` (a modal's).
    pub fn options(&self, block_id: &str) -> Vec<String> {
        self.blocks
            .iter()
            .filter(|b| b["block_id"] == block_id)
            .flat_map(|b| b["element"]["options"].as_array().cloned().unwrap_or_default())
            .filter_map(|o| o["value"].as_str().map(str::to_owned))
            .collect()
    }

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

    /// The page a link button with that label opens.
    pub fn link_button(&self, label: &str) -> Option<String> {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["text"]["text"] == label)
            .and_then(|e| e["url"].as_str().map(str::to_owned))
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
    /// Posts accepted per `response_url` key, kept or not as events. Ordered: a prefix
    /// is a range, and growing it never stops the stand-in to rehash millions of keys
    /// (which, at thousands of answers a second, held every post behind it for a while).
    responses: std::collections::BTreeMap<String, u64>,
    /// Files asked for with `files.getUploadURLExternal`, by id, not yet shared.
    uploads: HashMap<String, UploadedFile>,
    /// How many uploads were asked for: the next file id.
    files_asked: u64,
}

/// The stand-in's state, shared with tests.
#[derive(Clone)]
pub struct SlackStandin {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    token: Arc<String>,
    usergroups: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// Channel → its members, for `users.conversations`.
    channel_members: Arc<Mutex<std::collections::BTreeMap<String, Vec<String>>>>,
    clock: tailerbot_clock::SharedClock,
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
            channel_members: Arc::default(),
            clock: Arc::new(tailerbot_clock::SystemClock),
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
    pub fn response_counts(&self) -> std::collections::BTreeMap<String, u64> {
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
    pub fn with_clock(mut self, clock: tailerbot_clock::SharedClock) -> SlackStandin {
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
            .route("/upload/{file}", post(upload))
            .route("/socket", axum::routing::get(socket))
            .route("/_standin/responses", axum::routing::get(responses))
            .with_state(self.clone())
    }

    /// Sets the members of a user group.
    pub fn set_usergroup(&self, group: &str, members: &[&str]) {
        lock(&self.usergroups).insert(group.to_owned(), members.iter().map(|m| (*m).to_owned()).collect());
    }

    /// Sets the members of a channel (what `users.conversations` answers from).
    pub fn set_channel_members(&self, channel: &str, members: &[&str]) {
        lock(&self.channel_members).insert(channel.to_owned(), members.iter().map(|m| (*m).to_owned()).collect());
    }

    /// The channels `user` is in, in order.
    fn channels_of(&self, user: &str) -> Vec<String> {
        lock(&self.channel_members).iter().filter(|(_, members)| members.iter().any(|m| m == user)).map(|(c, _)| c.clone()).collect()
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

    /// The events after the first `seen` (a harness following a long run copies only
    /// what is new, and holds the stand-in's lock that long only).
    pub fn events_since(&self, seen: usize) -> Vec<SlackEvent> {
        lock(&self.inner).events.get(seen..).map(<[SlackEvent]>::to_vec).unwrap_or_default()
    }

    /// How many calls a method received (failed ones included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).calls.get(method).copied().unwrap_or(0)
    }

    /// Waits until the events satisfy `done`, at most `limit`; returns them either way.
    /// `done` runs under the stand-in's lock: it must not call the stand-in.
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
