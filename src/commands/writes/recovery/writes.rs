//! Writes interrupted by the death of the replica making them: noted `calling` before
//! Tailer was asked, never settled. Another replica (or this one after a restart) takes
//! each over once its claim runs out and finishes it through the same code that makes
//! writes (`writes::execute`, resumed): the answer says what is known, the audit trail
//! gets an outcome for every job, a confirmation message loses its hourglass.

use std::sync::Arc;

use crate::bot::{Bot, Context};
use crate::commands::writes::Plan;
use crate::commands::writes::execute::{execute, give_back};
use crate::domain::{ChannelId, UserId};
use crate::messages as render;
use crate::outbox::OutboxMessage;
use crate::store::WriteRow;

/// A `response_url` is usable this long after it was issued (Slack: 30 minutes).
const RESPONSE_URL_MS: i64 = 25 * 60_000;

/// Finishes interrupted writes.
pub struct Writes {
    bot: Arc<Bot>,
}

impl Writes {
    pub fn new(bot: Arc<Bot>) -> Writes {
        Writes { bot }
    }

    /// One pass.
    pub async fn run_once(&self) {
        // One configuration for the whole pass.
        Writes { bot: self.bot.current() }.pass().await
    }

    async fn pass(&self) {
        let claimed = self.bot.store().claim_interrupted_writes(self.bot.now_ms(), 20).await;
        let interrupted = match self.bot.store().claimed(claimed) {
            Ok(rows) => rows,
            Err(error) => {
                if let Some(repeats) = crate::telemetry::store_failure("write_recovery", &error) {
                    tracing::error!(%error, repeats, "cannot claim the writes in progress; trying again after a pause");
                }
                return;
            }
        };
        for write in &interrupted {
            let span = tracing::info_span!("recover_write", reference = %write.reference, action = %write.action);
            tracing::Instrument::instrument(self.finish(write.clone()), span).await;
        }
    }

    async fn finish(&self, w: WriteRow) {
        match self.bot.store().write_answered(&w.reference).await {
            // Answered while the store refused to settle it: settled now, quietly.
            Ok(true) => {
                tracing::info!("settling a write answered while the store failed");
                if let Err(error) = self.bot.store().finish_write(&w.reference, &[], self.bot.now_ms()).await {
                    tracing::error!(%error, "cannot settle an answered write; looking at it again in 30 s");
                    give_back(&self.bot, &w.reference, true).await;
                }
                return;
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "cannot read whether a write was answered; looking at it again in 30 s");
                give_back(&self.bot, &w.reference, false).await;
                return;
            }
        }
        let (Ok(plan), Ok(channel), Ok(user)) = (
            Plan::from_json(&w.plan).inspect_err(|error| tracing::error!(%error, "a stored plan cannot be read")),
            ChannelId::parse(&w.channel_id),
            UserId::parse(&w.user_id),
        ) else {
            tracing::error!("an interrupted write cannot be read any more; telling its channel");
            let text = render::outcomes::unreadable_write(&w.reference);
            let note = render::note(&text);
            let post = OutboxMessage::post(format!("write:{}", w.reference), w.channel_id.clone(), self.bot.outbox().render(&note));
            if let Err(error) = self.bot.store().finish_write(&w.reference, &[post], self.bot.now_ms()).await {
                tracing::error!(%error, "cannot settle an unreadable write");
            }
            return;
        };
        tracing::warn!(steps = %w.steps, "finishing a write interrupted by the death of the replica making it");
        // An old response_url is refused by Slack: the answer is posted in the channel.
        let fresh = self.bot.now_ms() - w.started_at <= RESPONSE_URL_MS;
        let ctx = Context {
            user,
            channel,
            team: String::new(),
            response_url: w.response_url.clone().filter(|_| fresh),
            reference: w.reference.clone(),
            thread: None,
            public: false,
            // Nothing is asked of anyone when a write is finished.
            direct: false,
        };
        execute(&self.bot, ctx, plan, w, true).await;
    }
}
