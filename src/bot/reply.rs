//! The ways a reply leaves the bot after the HTTP answer: through the outbox (durable,
//! in order per lane) or, for an answer only its asker sees, straight to the
//! `response_url` first. Should the store be down, messages go out directly, best effort.

use std::sync::Arc;

use tracing::Instrument;

use super::{ACK_DEADLINE, Ack, Bot, Context, RESPONSE_URL_LIFETIME_MS, reference, render};
use crate::domain::Visibility;
use crate::slack::api::ResponseBody;
use crate::slack::blocks::Message;
use crate::store::{OutboxBody, OutboxMessage, OutboxMethod};

impl Bot {
    /// Queues Slack writes durably and wakes the delivery worker. Should the store be
    /// down, they are sent at once instead, best effort.
    pub async fn enqueue(&self, messages: Vec<OutboxMessage>) {
        if messages.is_empty() {
            return;
        }
        match self.store.enqueue(&messages, self.now_ms()).await {
            Ok(()) => self.outbox_wake.notify_one(),
            Err(error) => {
                tracing::error!(%error, "cannot queue Slack messages; sending them directly");
                for m in messages {
                    let sent = match (m.method, m.channel_id.as_deref(), m.response_url.as_deref()) {
                        (OutboxMethod::Respond, _, Some(url)) => self.slack.respond(url, &ResponseBody::from(m.body)).await,
                        (OutboxMethod::Post, Some(channel), _) => {
                            let message = Message { text: m.body.text, blocks: m.body.blocks };
                            self.slack.post_message(channel, &message, None, false, None).await.map(|_| ())
                        }
                        _ => Ok(()),
                    };
                    if let Err(error) = sent {
                        tracing::error!(%error, "a direct send failed too");
                    }
                }
            }
        }
    }

    /// A later answer to a person: through the `response_url` when allowed, else the
    /// Web API; queued in the lane of the request so its answers stay in order.
    pub fn reply(&self, ctx: &Context, body: ResponseBody) -> OutboxMessage {
        let in_channel = body.response_type == Visibility::InChannel;
        let allowed_url = ctx.response_url.clone().filter(|u| self.slack.response_url_allowed(u));
        let method = match (&allowed_url, in_channel) {
            (Some(_), _) => OutboxMethod::Respond,
            (None, true) => OutboxMethod::Post,
            (None, false) => OutboxMethod::Ephemeral,
        };
        OutboxMessage {
            lane: format!("reply:{}", ctx.reference),
            method,
            channel_id: Some(ctx.channel.to_string()),
            user_id: Some(ctx.user.to_string()),
            in_thread: false,
            root: false,
            broadcast: false,
            collapse_key: None,
            response_url: allowed_url,
            body: body.into(),
        }
    }

    /// Sends a later answer. One only its asker sees (a read's) goes straight to the
    /// `response_url` and is queued durably only if that fails; others (a write's
    /// outcome, shown to the channel) are queued first, so a crash cannot lose them.
    pub(super) async fn deliver(&self, ctx: &Context, body: ResponseBody) {
        let message = self.reply(ctx, body);
        let direct = message.method == OutboxMethod::Respond
            && message.body.response_type != Some(Visibility::InChannel)
            && !self.queued_answers.contains_key(&message.lane);
        if let (true, Some(url)) = (direct, message.response_url.as_deref()) {
            let body = ResponseBody {
                response_type: Visibility::Ephemeral,
                replace_original: message.body.replace_original,
                text: message.body.text.clone(),
                blocks: message.body.blocks.clone(),
            };
            match self.slack.respond(url, &body).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "an answer could not be sent at once; queueing it");
                    self.note_queued_answer(&message.lane);
                }
            }
        }
        self.enqueue(vec![message]).await;
    }

    /// Notes that a lane's answers now go through the outbox, and forgets lanes whose
    /// `response_url` has expired, so that the set stays as small as the last half hour.
    fn note_queued_answer(&self, lane: &str) {
        let now = self.now_ms();
        self.queued_answers.retain(|_, noted| now - *noted < RESPONSE_URL_LIFETIME_MS);
        self.queued_answers.insert(lane.to_owned(), now);
    }

    /// How many lanes are noted as queued (for tests).
    pub fn queued_answer_lanes(&self) -> usize {
        self.queued_answers.len()
    }

    /// Runs the answering part of a request within [`ACK_DEADLINE`]. Past it, Slack gets
    /// an empty answer now, and the message goes to the `response_url` when ready.
    pub async fn in_time<F>(self: &Arc<Self>, response_url: Option<String>, work: F) -> Ack
    where
        F: Future<Output = Ack> + Send + 'static,
    {
        let mut task = self.tasks.spawn(work);
        match tokio::time::timeout(ACK_DEADLINE, &mut task).await {
            Ok(Ok(ack)) => ack,
            Ok(Err(error)) => {
                tracing::error!(%error, "a request handler failed");
                Ack::ephemeral(render::note(":warning: Something went wrong on my side; nothing was done."))
            }
            Err(_) => {
                tracing::warn!("the answer took longer than the deadline; acknowledging now");
                let bot = self.clone();
                self.tasks.spawn(async move {
                    if let (Ok(Ack::Message(body)), Some(url)) = (task.await, response_url) {
                        bot.respond_later(&url, body).await;
                    }
                });
                Ack::Empty
            }
        }
    }

    /// Posts an answer that missed the HTTP deadline to its `response_url`.
    pub async fn respond_later(&self, response_url: &str, body: ResponseBody) {
        if !self.slack.response_url_allowed(response_url) {
            tracing::warn!("a late answer has a response_url outside the allowed prefixes; dropped");
            return;
        }
        // Only the response_url is known: no channel to fall back to.
        let message = OutboxMessage {
            lane: format!("reply:{}", reference()),
            method: OutboxMethod::Respond,
            channel_id: None,
            user_id: None,
            in_thread: false,
            root: false,
            broadcast: false,
            collapse_key: None,
            response_url: Some(response_url.to_owned()),
            body: body.into(),
        };
        self.enqueue(vec![message]).await;
    }

    /// Runs `work` after the answer; its message goes back to the person.
    pub(super) fn after_ack<F>(self: &Arc<Self>, ctx: Context, work: F)
    where
        F: Future<Output = ResponseBody> + Send + 'static,
    {
        let bot = self.clone();
        let span = tracing::info_span!("after_ack", reference = %ctx.reference, user = %ctx.user);
        self.tasks.spawn(
            async move {
                let body = work.await;
                bot.deliver(&ctx, body).await;
            }
            .instrument(span),
        );
    }
}

impl From<ResponseBody> for OutboxBody {
    fn from(body: ResponseBody) -> OutboxBody {
        OutboxBody {
            text: body.text,
            blocks: body.blocks,
            response_type: Some(body.response_type),
            replace_original: body.replace_original,
        }
    }
}

/// A queued answer back into what a `response_url` takes (ephemeral unless it says
/// otherwise).
impl From<OutboxBody> for ResponseBody {
    fn from(body: OutboxBody) -> ResponseBody {
        ResponseBody {
            response_type: body.response_type.unwrap_or(Visibility::Ephemeral),
            replace_original: body.replace_original,
            text: body.text,
            blocks: body.blocks,
        }
    }
}
