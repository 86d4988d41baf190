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
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

mod event;
mod handlers;
mod socket;
mod uploads;

pub use event::{SlackEvent, UploadedFile};
use handlers::{api, api_get, response_url, responses};
use socket::socket;
use uploads::upload;

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

    /// Waits until the events satisfy `done`, and returns them; when `limit` passes first,
    /// panics naming the caller's line (what it waited for) and the last events: a wait
    /// that times out is a failure, never a pass. `done` runs under the stand-in's lock:
    /// it must not call the stand-in.
    #[track_caller]
    pub fn wait_for<'a, F: Fn(&[SlackEvent]) -> bool + 'a>(
        &'a self,
        limit: Duration,
        done: F,
    ) -> impl Future<Output = Vec<SlackEvent>> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            match self.within(limit, done).await {
                Ok(events) => events,
                Err(events) => {
                    let last: Vec<String> = events
                        .iter()
                        .rev()
                        .take(8)
                        .rev()
                        .map(|e| {
                            format!(
                                "{} {}: {}",
                                e.method,
                                e.channel.as_deref().unwrap_or("-"),
                                e.text.chars().take(120).collect::<String>()
                            )
                        })
                        .collect();
                    panic!(
                        "{caller}: waited {limit:?} for the Slack events awaited there, and they did not come ({} events, the last: {last:#?})",
                        events.len()
                    )
                }
            }
        }
    }

    /// Waits until the events satisfy `done`, at most `limit`: `Ok` with them, or `Err`
    /// with those that came when time ran out (for a caller to whom both are news: the
    /// demo printing what arrives, a check that something did not happen).
    pub async fn within(&self, limit: Duration, done: impl Fn(&[SlackEvent]) -> bool) -> Result<Vec<SlackEvent>, Vec<SlackEvent>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            {
                let inner = lock(&self.inner);
                if done(&inner.events) {
                    return Ok(inner.events.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(self.events());
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
