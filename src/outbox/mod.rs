//! The one way out for what the bot says after an HTTP answer. A message names its
//! [`Destination`] (a `response_url`, a post, an edit of a card, an ephemeral, a Home
//! tab) and is
//! queued in the store; the [`Delivery`] worker sends it, in order per lane, paced per
//! channel, retried, and told to the person it was for when Slack refuses it for good.
//! Should the store be down, [`Outbox::enqueue`] sends at once instead, best effort,
//! through the same [`send`].

mod delivery;

use std::sync::Arc;

use tokio::sync::Notify;

pub use crate::store::{Destination, OutboxBody, OutboxMessage, Place, Upload};
pub use delivery::{CHANNEL_GAP_MS, Delivery, TOKEN_REFUSED, next_wait};

use crate::clock::SharedClock;
use crate::domain::{ChannelId, UserId};
use crate::slack::api::{ResponseBody, SlackApi, SlackError};
use crate::slack::blocks::Message;
use crate::store::Store;

/// Queues Slack writes and wakes the delivery worker. Cheap to clone: every handler and
/// worker that says something holds one.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    slack: Arc<SlackApi>,
    clock: SharedClock,
    wake: Arc<Notify>,
    /// Answers posted to `response_url`s at once: bounded, the rest queued durably.
    answers: Arc<crate::http_limits::Places>,
}

/// Answers on their way to `response_url`s at once, and answers waiting for a place;
/// beyond, an answer goes through the outbox (durable, sent by its worker).
const ANSWERS_IN_FLIGHT: usize = 64;
const ANSWERS_WAITING: usize = 1_000;

impl Outbox {
    pub fn new(store: Store, slack: Arc<SlackApi>, clock: SharedClock) -> Outbox {
        let answers = Arc::new(crate::http_limits::Places::new(ANSWERS_IN_FLIGHT, ANSWERS_WAITING));
        Outbox { store, slack, clock, wake: Arc::new(Notify::new()), answers }
    }

    /// Queues messages durably, in one transaction, and wakes the delivery worker.
    /// Should the store be down, they are sent at once instead, best effort.
    pub async fn enqueue(&self, messages: Vec<OutboxMessage>) {
        if messages.is_empty() {
            return;
        }
        match self.store.enqueue(&messages, self.clock.now_ms()).await {
            Ok(()) => self.wake(),
            Err(error) => {
                tracing::error!(%error, "cannot queue Slack messages; sending them directly");
                // No thread can be looked up: a reply goes to the channel itself, and
                // an edit of a card (which needs its message) waits for the next one.
                for m in messages.iter().filter(|m| !matches!(m.to, Destination::Update { .. })) {
                    if let Err(error) = send(&self.slack, m, m.to.explicit_thread(), None).await {
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

    /// Whether Slack accepts answers at this `response_url` (the configured prefixes).
    pub fn response_url_allowed(&self, url: &str) -> bool {
        self.slack.response_url_allowed(url)
    }

    /// Posts to a `response_url` now, without queueing: an answer only its asker sees,
    /// queued by the caller if this fails.
    /// At most [`ANSWERS_IN_FLIGHT`] at once and [`ANSWERS_WAITING`] waiting: beyond,
    /// refused as busy (the caller queues it durably).
    pub async fn respond_now(&self, url: &str, body: &ResponseBody) -> Result<(), SlackError> {
        let Some(_place) = self.answers.enter().await else {
            metrics::counter!("tailerbot_busy_total", "upstream" => "response_url").increment(1);
            return Err(SlackError {
                method: "response_url",
                kind: crate::slack::api::SlackErrorKind::Busy,
                detail: format!("{ANSWERS_WAITING} answers are waiting already; queued instead"),
            });
        };
        self.slack.respond(url, body).await
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Slack(#[from] SlackError),
    /// Retrying cannot help: the message cannot be sent as it is.
    #[error("{0}")]
    Unsendable(&'static str),
}

/// Sends one message to Slack now: no pacing, no check for a copy in doubt. `thread` is
/// the `ts` of the lane's root, for a reply (absent: in the channel) or an edit, or the
/// thread the message names itself; a post carries `metadata` to be found again. Returns
/// the `ts` of a post.
pub async fn send(
    slack: &SlackApi,
    m: &OutboxMessage,
    thread: Option<&str>,
    metadata: Option<serde_json::Value>,
) -> Result<Option<String>, SendError> {
    let message = || Message { text: m.body.text.clone(), blocks: m.body.blocks.clone() };
    match &m.to {
        Destination::Respond { url, .. } => Ok(slack.respond(url, &ResponseBody::from(m.body.clone())).await.map(|()| None)?),
        Destination::Post { channel, place, .. } => {
            let broadcast = matches!(place, Place::Thread { broadcast: true });
            Ok(slack.post_message(channel, &message(), thread, broadcast, metadata).await.map(Some)?)
        }
        Destination::Update { channel } => match (thread, ChannelId::parse(channel)) {
            (Some(ts), Ok(channel)) => Ok(slack.update_message(&channel, ts, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("the message to edit was never posted")),
        },
        Destination::Ephemeral { channel, user, .. } => match (ChannelId::parse(channel), UserId::parse(user)) {
            (Ok(channel), Ok(user)) => Ok(slack.post_ephemeral(&channel, &user, thread, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("an ephemeral message without a valid user or channel")),
        },
        Destination::View { user, dm } => match UserId::parse(user) {
            Ok(user) => Ok(slack.publish_home(&user, dm.as_deref(), &m.body.blocks).await.map(|()| None)?),
            Err(_) => Err(SendError::Unsendable("a Home tab without a valid user")),
        },
        Destination::Upload { channel, .. } => match (ChannelId::parse(channel), &m.body.upload) {
            (Ok(channel), Some(file)) => Ok(slack.upload_file(&channel, thread, file, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("an upload without a valid channel or a file")),
        },
    }
}

impl From<ResponseBody> for OutboxBody {
    fn from(body: ResponseBody) -> OutboxBody {
        OutboxBody {
            text: body.text,
            blocks: body.blocks,
            response_type: Some(body.response_type),
            replace_original: body.replace_original,
            upload: None,
        }
    }
}

/// A queued answer back into what a `response_url` takes (ephemeral unless it says
/// otherwise).
impl From<OutboxBody> for ResponseBody {
    fn from(body: OutboxBody) -> ResponseBody {
        ResponseBody {
            response_type: body.response_type.unwrap_or(crate::domain::Visibility::Ephemeral),
            replace_original: body.replace_original,
            text: body.text,
            blocks: body.blocks,
        }
    }
}
