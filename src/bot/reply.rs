//! How an answer reaches the person after the HTTP answer: as an outbox message to the
//! request's `response_url` (or, without one, to the channel), in the request's lane;
//! an answer only its asker sees is tried at the `response_url` at once and queued only
//! if that fails.

use std::sync::Arc;

use tracing::Instrument;

use super::{ACK_DEADLINE, Ack, Bot, Context, RESPONSE_URL_LIFETIME_MS, reference, render};
use crate::chat::Reply;
use crate::domain::Visibility;
use crate::outbox::{Destination, OutboxMessage, Place};

impl Bot {
    /// A later answer to a person: through the `response_url` when allowed, else the
    /// Web API; queued in the lane of the request so its answers stay in order.
    pub fn reply(&self, ctx: &Context, body: Reply) -> OutboxMessage {
        // In a conversation, an answer is for everyone in its thread.
        let in_channel = body.visibility == Visibility::InChannel || ctx.public;
        let (channel, user) = (ctx.channel.to_string(), ctx.user.to_string());
        let place = match &ctx.thread {
            Some(ts) => Place::Reply { ts: ts.clone() },
            None => Place::Channel,
        };
        let to = match ctx.response_url.clone().filter(|u| self.outbox.response_url_allowed(u)) {
            Some(url) => Destination::Respond { url, channel: Some(channel), user: Some(user) },
            None if in_channel => Destination::Post { channel, place, asked_by: Some(user) },
            None => Destination::Ephemeral { channel, user, thread_ts: ctx.thread.clone() },
        };
        let mut body = self.outbox.body(&body);
        if in_channel && ctx.response_url.is_none() {
            body.response_type = Some(Visibility::InChannel);
        }
        // Shown to everyone (a write's outcome, an answer in a conversation): among the
        // first things sent; only to its asker: after them.
        let kind = if in_channel { "said" } else { "reply" };
        OutboxMessage::new(format!("{kind}:{}", ctx.reference), to, body)
    }

    /// Sends a later answer. One only its asker sees (a read's) goes straight to the
    /// `response_url` and is queued durably only if that fails; others (a write's
    /// outcome, shown to the channel) are queued first, so a crash cannot lose them.
    pub(crate) async fn deliver(&self, ctx: &Context, body: Reply) {
        let message = self.reply(ctx, body);
        let direct = message.body.response_type != Some(Visibility::InChannel) && !self.queued_answers.contains_key(&message.lane);
        if let (true, Destination::Respond { url, .. }) = (direct, &message.to) {
            let body = crate::outbox::OutboxBody { response_type: Some(Visibility::Ephemeral), ..message.body.clone() };
            match self.outbox.respond_now(url, &body).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "an answer could not be sent at once; queueing it");
                    self.note_queued_answer(&message.lane);
                }
            }
        }
        self.outbox.enqueue(vec![message]).await;
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
    pub async fn respond_later(&self, response_url: &str, body: Reply) {
        if !self.outbox.response_url_allowed(response_url) {
            tracing::warn!("a late answer has a response_url outside the allowed prefixes; dropped");
            return;
        }
        // Only the response_url is known: no channel to fall back to.
        let to = Destination::Respond { url: response_url.to_owned(), channel: None, user: None };
        self.outbox.enqueue(vec![OutboxMessage::new(format!("reply:{}", reference()), to, self.outbox.body(&body))]).await;
    }

    /// Runs `work` after the answer; its message goes back to the person.
    pub(crate) fn after_ack<F>(self: &Arc<Self>, ctx: Context, work: F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        self.after_ack_maybe(ctx, async move { Some(work.await) });
    }

    /// Runs `work` after the answer; the message it may return goes back to the person
    /// (none: the work said what it had to say some other way).
    pub(crate) fn after_ack_maybe<F>(self: &Arc<Self>, ctx: Context, work: F)
    where
        F: Future<Output = Option<Reply>> + Send + 'static,
    {
        let bot = self.clone();
        let span = tracing::info_span!("after_ack", reference = %ctx.reference, user = %ctx.user);
        self.tasks.spawn(
            async move {
                if let Some(body) = work.await {
                    // Boxed, as a command is ([`crate::commands::slash`]): the HTTP
                    // client's state is large, and the task is moved as it starts.
                    Box::pin(bot.deliver(&ctx, body)).await;
                }
            }
            .instrument(span),
        );
    }
}
