//! Following runs and jobs from a channel: `watch` / `unwatch` a run (a card and its
//! thread), `subscribe` / `unsubscribe` / `subscriptions` for finished runs however they
//! were started. The machinery is the watcher's; this is the conversation.

use std::sync::Arc;

use super::{Ack, Audit, Bot, Context, Follower, render, targets};
use crate::commands::{SubscriptionFilter, Target};
use crate::config::Job;
use crate::domain::{Action, RunId};
use crate::slack::api::ResponseBody;
use crate::slack::blocks::{Message, escape};
use crate::store::SubscriptionRow;
use crate::tailer::LastStatusQuery;

impl Bot {
    pub(super) async fn watch_run(&self, ctx: &Context, job: &Job, run: &RunId) -> Ack {
        match self.start_watching(job, run.as_str(), &ctx.channel, Follower::Watcher(&ctx.user), None).await {
            Ok(true) => Ack::note(&format!(
                ":eyes: Following run `{}` of {} here: its card follows it to the end.",
                escape(run.as_str()),
                render::job_label(job)
            )),
            Ok(false) => Ack::note(&format!("This channel already follows run `{}`.", escape(run.as_str()))),
            Err(error) => {
                tracing::error!(%error, "cannot start a watch");
                Ack::store_unavailable(&ctx.reference)
            }
        }
    }

    pub(super) async fn unwatch_run(&self, ctx: &Context, run: &RunId) -> Ack {
        // The card as it was, to say on it that it is no longer followed.
        let card =
            self.store.cards(run.as_str()).await.ok().and_then(|cards| cards.into_iter().find(|c| c.channel_id == ctx.channel.as_str()));
        match self.store.unwatch(run.as_str(), ctx.channel.as_str()).await {
            Ok(true) => {
                if let Some(card) = card {
                    self.card_no_longer_followed(ctx, &card).await;
                }
                Ack::note(&format!(":see_no_evil: This channel no longer follows run `{}`.", escape(run.as_str())))
            }
            Ok(false) => Ack::note(&format!("This channel does not follow run `{}`.", escape(run.as_str()))),
            Err(error) => {
                tracing::error!(%error, "cannot stop a watch");
                Ack::store_unavailable(&ctx.reference)
            }
        }
    }

    /// Edits an unwatched run's card: its last known state, and that it is no longer
    /// followed here (rather than a status frozen as if it were).
    async fn card_no_longer_followed(&self, ctx: &Context, card: &crate::store::CardRow) {
        let watch = match self.store.watch(&card.run_id).await {
            Ok(Some(watch)) => watch,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the run to edit its card; the card keeps its last state");
                return;
            }
        };
        let Some(job) = self.config.job(&watch.job) else { return };
        let item = watch.item.as_deref().and_then(|i| serde_json::from_str::<crate::tailer::RunItem>(i).ok());
        let note = format!("No longer followed in this channel (unwatched by <@{}>).", ctx.user);
        self.enqueue(vec![crate::messages::cards::update(job, card, item.as_ref(), false, Some(&note))]).await;
    }

    /// The jobs of a target this person may (un)subscribe to; the error is for the user.
    async fn subscribable(self: &Arc<Self>, ctx: &Context, target: &Target, action: Action) -> Result<Vec<Job>, Ack> {
        let jobs = targets::jobs(&self.config, target).map_err(|m| Ack::note(&m))?;
        match self.authorize(ctx, action, &jobs, Audit::No).await {
            Ok(_) => Ok(jobs.into_iter().cloned().collect()),
            Err(denial) => Err(self.refuse(&denial)),
        }
    }

    pub(super) async fn subscribe(self: &Arc<Self>, ctx: Context, target: &Target, filter: SubscriptionFilter) -> Ack {
        let jobs = match self.subscribable(&ctx, target, Action::Subscribe).await {
            Ok(jobs) => jobs,
            Err(ack) => return ack,
        };
        let row = SubscriptionRow {
            channel_id: ctx.channel.to_string(),
            target: target.to_string(),
            filter: filter.as_str().to_owned(),
            created_by: ctx.user.to_string(),
            created_at: self.now_ms(),
        };
        let new = match self.store.subscribe(&row).await {
            Ok(new) => new,
            Err(error) => {
                tracing::error!(%error, "cannot store a subscription");
                return Ack::store_unavailable(&ctx.reference);
            }
        };
        let what = match filter {
            SubscriptionFilter::All => "every finished run",
            SubscriptionFilter::Failures => "every failed run",
        };
        let text = format!(
            ":bell: This channel will hear about {what} of `{}` ({} job{}) — {} by <@{}>.",
            escape(&target.to_string()),
            jobs.len(),
            if jobs.len() == 1 { "" } else { "s" },
            if new { "subscribed" } else { "subscription changed" },
            ctx.user
        );
        // Runs already finished are not news: mark them known, after the answer.
        let bot = self.clone();
        let channel = ctx.channel.to_string();
        self.tasks.spawn(async move { bot.mark_history_known(&channel, &jobs).await });
        Ack::Message(ResponseBody::in_channel(render::note(&text)))
    }

    /// Marks the runs already final as known in a channel, so that a new subscription
    /// does not replay history. Should Tailer fail now, runs whose end time is known are
    /// still filtered by the subscription's creation time.
    async fn mark_history_known(&self, channel: &str, jobs: &[Job]) {
        let query = LastStatusQuery { limit: Some(crate::tailer::RUNS_PER_READ), ..LastStatusQuery::default() };
        for job in jobs {
            match self.tailer.get_last_status(&job.job, &query).await {
                Ok(items) => {
                    for item in items.iter().filter(|i| i.status.is_final()) {
                        if let Err(error) = self.store.mark_announced(channel, item.run_id.as_str(), self.now_ms()).await {
                            tracing::warn!(%error, "cannot record a subscription's starting point");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, job = %job.name, "cannot read the runs before a subscription; relying on end times"),
            }
        }
    }

    pub(super) async fn unsubscribe(self: &Arc<Self>, ctx: &Context, target: &Target) -> Ack {
        if let Err(ack) = self.subscribable(ctx, target, Action::Unsubscribe).await {
            return ack;
        }
        match self.store.unsubscribe(ctx.channel.as_str(), &target.to_string()).await {
            Ok(true) => Ack::Message(ResponseBody::in_channel(render::note(&format!(
                ":no_bell: This channel no longer hears about `{}` — unsubscribed by <@{}>.",
                escape(&target.to_string()),
                ctx.user
            )))),
            Ok(false) => Ack::note(&format!(
                "This channel has no subscription to `{}`. `/tailer subscriptions` lists what it has.",
                escape(&target.to_string())
            )),
            Err(error) => {
                tracing::error!(%error, "cannot remove a subscription");
                Ack::store_unavailable(&ctx.reference)
            }
        }
    }

    pub(super) async fn list_subscriptions(&self, ctx: &Context) -> Ack {
        match self.store.subscriptions(Some(ctx.channel.as_str())).await {
            Ok(rows) if rows.is_empty() => {
                Ack::note("This channel has no subscription. `/tailer subscribe &lt;job&gt;|tag:&lt;tag&gt;|all [failures]` adds one.")
            }
            Ok(rows) => {
                let mut m = Message::new("Subscriptions of this channel");
                m.section("*Subscriptions of this channel*");
                let lines: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        let since = chrono::DateTime::from_timestamp_millis(r.created_at).unwrap_or_default();
                        format!("• `{}` — {} — by <@{}> since {}", escape(&r.target), escape(&r.filter), r.created_by, render::when(since))
                    })
                    .collect();
                m.lines(&lines, 0);
                Ack::ephemeral(m)
            }
            Err(error) => {
                tracing::error!(%error, "cannot read subscriptions");
                Ack::store_unavailable(&ctx.reference)
            }
        }
    }
}
