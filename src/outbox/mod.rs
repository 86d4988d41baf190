//! The one way out for what the bot says after an HTTP answer. A message names its
//! [`Destination`] (a `response_url`, a post, an edit of a card, an ephemeral, a Home
//! tab), is rendered by the chat surface and queued in the store; the surface's
//! [`Drain`] worker sends it, in order per lane, paced per channel, retried, and told to
//! the person it was for when the surface refuses it for good. Should the store be down,
//! [`Outbox::enqueue`] sends at once instead, best effort.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::Notify;

mod destination;
mod message;

pub use destination::{Destination, Place};
pub use message::{Delivered, OutboxBody, OutboxMessage, OutboxRow, Upload};

use crate::chat::{Message, Render, Rendered, Reply, SurfaceError};
use crate::clock::SharedClock;

/// Where the outbox keeps what it queues: the store implements it. A queue takes its
/// messages in one go (all or none), each in its lane's order.
pub trait Queue: Send + Sync + 'static {
    fn enqueue<'a>(&'a self, messages: &'a [OutboxMessage], now_ms: i64) -> BoxFuture<'a, Result<(), QueueError>>;
}

/// Why messages could not be queued (the store's error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueueError(pub String);

/// What the outbox needs of the chat surface: its form of a message, and a way to send
/// one now (an answer to a `response_url`; anything when the store is down).
pub trait Sender: Render + 'static {
    /// Whether a later answer may be posted to `url` (the configured prefixes).
    fn response_url_allowed(&self, url: &str) -> bool;
    /// Posts an answer to a `response_url` now.
    fn respond<'a>(&'a self, url: &'a str, body: &'a OutboxBody) -> BoxFuture<'a, Result<(), SurfaceError>>;
    /// Sends one queued message now, without the queue; `thread` as the delivery worker
    /// would find it.
    fn send_now<'a>(&'a self, message: &'a OutboxMessage, thread: Option<&'a str>) -> BoxFuture<'a, Result<(), SurfaceError>>;
}

/// The worker that sends what is queued: its body, run by the worker loop.
pub trait Drain: Send + Sync {
    /// Sends what is due until nothing due is left; how many messages were handled.
    fn run_once(&self) -> BoxFuture<'_, usize>;
    /// One pass over the lanes whose head is due; how many messages were handled.
    fn pass(&self) -> BoxFuture<'_, usize>;
}

/// Queues chat writes and wakes the delivery worker. Cheap to clone: every handler and
/// worker that says something holds one.
#[derive(Clone)]
pub struct Outbox {
    queue: Arc<dyn Queue>,
    surface: Arc<dyn Sender>,
    clock: SharedClock,
    wake: Arc<Notify>,
    /// Answers posted to `response_url`s at once: bounded, the rest queued durably.
    answers: Arc<crate::http_limits::Places>,
}

/// Messages as they are queued: in the surface's own form.
impl Render for Outbox {
    fn render(&self, message: &Message) -> Rendered {
        self.surface.render(message)
    }
}

/// Answers on their way to `response_url`s at once, and answers waiting for a place;
/// beyond, an answer goes through the outbox (durable, sent by its worker).
const ANSWERS_IN_FLIGHT: usize = 64;
const ANSWERS_WAITING: usize = 1_000;

impl Outbox {
    pub fn new(queue: Arc<dyn Queue>, surface: Arc<dyn Sender>, clock: SharedClock) -> Outbox {
        let answers = Arc::new(crate::http_limits::Places::new(ANSWERS_IN_FLIGHT, ANSWERS_WAITING));
        Outbox { queue, surface, clock, wake: Arc::new(Notify::new()), answers }
    }

    /// The clock of the queue's times.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// A message in the surface's own form, as it is queued.
    pub fn render(&self, message: &Message) -> Rendered {
        self.surface.render(message)
    }

    /// A reply as it is queued.
    pub fn body(&self, reply: &Reply) -> OutboxBody {
        let rendered = self.render(&reply.message);
        OutboxBody {
            text: rendered.text,
            blocks: rendered.blocks,
            response_type: Some(reply.visibility),
            replace_original: reply.replace_original,
            upload: None,
        }
    }

    /// Queues messages durably, in one transaction, and wakes the delivery worker.
    /// Should the store be down, they are sent at once instead, best effort.
    pub async fn enqueue(&self, messages: Vec<OutboxMessage>) {
        if messages.is_empty() {
            return;
        }
        match self.queue.enqueue(&messages, self.clock.now_ms()).await {
            Ok(()) => self.wake(),
            Err(error) => {
                tracing::error!(%error, "cannot queue messages; sending them directly");
                // No thread can be looked up: a reply goes to the channel itself, and
                // an edit of a card (which needs its message) waits for the next one.
                for m in messages.iter().filter(|m| !matches!(m.to, Destination::Update { .. })) {
                    if let Err(error) = self.surface.send_now(m, m.to.explicit_thread()).await {
                        tracing::error!(%error, lane = %m.lane, "a direct send failed too");
                    }
                }
            }
        }
    }

    /// Wakes the delivery worker: something was queued some other way (in a caller's
    /// transaction).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`Outbox::wake`] signals, for the delivery loop to wait on.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Answers waiting for a place on the way to their `response_url` now.
    pub fn answers_waiting(&self) -> usize {
        self.answers.waiting()
    }

    /// Whether answers may go to this `response_url` (the configured prefixes).
    pub fn response_url_allowed(&self, url: &str) -> bool {
        self.surface.response_url_allowed(url)
    }

    /// Posts to a `response_url` now, without queueing: an answer only its asker sees,
    /// queued by the caller if this fails.
    /// At most [`ANSWERS_IN_FLIGHT`] at once and [`ANSWERS_WAITING`] waiting: beyond,
    /// refused as busy (the caller queues it durably).
    pub async fn respond_now(&self, url: &str, body: &OutboxBody) -> Result<(), SurfaceError> {
        let Some(_place) = self.answers.enter().await else {
            metrics::counter!("tailerbot_busy_total", "upstream" => "response_url").increment(1);
            return Err(SurfaceError(format!("{ANSWERS_WAITING} answers are waiting already; queued instead")));
        };
        self.surface.respond(url, body).await
    }
}
