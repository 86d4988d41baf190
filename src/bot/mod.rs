//! The bot: from a verified, parsed Slack request to its answer. The immediate answer
//! (the [`Ack`]) is decided from the store and the rules alone; whatever needs Tailer runs
//! after it, on the task tracker that shutdown drains, and comes back through the
//! `response_url` or the Web API.

mod interactions;
mod reads;
pub mod render;
mod targets;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use writes::Plan;

use crate::access::{self, GroupCache, Verdict};
use crate::clock::SharedClock;
use crate::commands;
use crate::config::{Config, Job};
use crate::domain::{Action, ChannelId, UserId};
use crate::slack::api::{ResponseBody, SlackApi};
use crate::slack::blocks::Message;
use crate::slack::payload::SlashCommand;
use crate::store::{AuditEntry, Store};
use crate::tailer::TailerClient;

/// How long a confirmation stays valid.
pub const CONFIRMATION_TTL: Duration = Duration::from_secs(600);
/// How long user-group members are cached.
pub const GROUP_TTL: Duration = Duration::from_secs(300);

/// Everything the handlers share.
pub struct Bot {
    /// The validated configuration: catalog, rules, settings.
    pub config: Arc<Config>,
    /// The Tailer API.
    pub tailer: TailerClient,
    /// The Slack Web API and `response_url`s.
    pub slack: Arc<SlackApi>,
    /// User-group members, cached from Slack.
    pub groups: GroupCache<SlackApi>,
    /// What must survive a restart.
    pub store: Store,
    /// The wall clock (injected in tests).
    pub clock: SharedClock,
    /// Work started after an answer; shutdown waits for it.
    pub tasks: TaskTracker,
}

/// The immediate HTTP answer to Slack.
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// 200 with no body: nothing to show now.
    Empty,
    /// 200 with a message.
    Message(ResponseBody),
}

impl Ack {
    pub fn ephemeral(message: Message) -> Ack {
        Ack::Message(ResponseBody::ephemeral(message))
    }

    fn note(text: &str) -> Ack {
        Ack::ephemeral(render::note(text))
    }
}

/// Who asked, where, and where later answers go.
#[derive(Debug, Clone)]
pub struct Context {
    pub user: UserId,
    pub channel: ChannelId,
    pub team: String,
    pub response_url: Option<String>,
    /// A short id tying the user's message, the logs and the audit entry together.
    pub reference: String,
}

/// A short random reference for messages and logs.
pub fn reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

impl Bot {
    pub fn new(
        config: Arc<Config>,
        tailer: TailerClient,
        slack: Arc<SlackApi>,
        store: Store,
        clock: SharedClock,
    ) -> Bot {
        Bot {
            groups: GroupCache::new(slack.clone(), GROUP_TTL),
            config,
            tailer,
            slack,
            store,
            clock,
            tasks: TaskTracker::new(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Answers a slash command.
    pub async fn slash_command(self: &Arc<Self>, command: SlashCommand) -> Ack {
        let ctx = Context {
            user: command.user_id.clone(),
            channel: command.channel_id.clone(),
            team: command.team_id.to_string(),
            response_url: command.response_url.clone(),
            reference: reference(),
        };
        let span = tracing::info_span!("command", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel);
        async {
            match self.store.first_time(&format!("trigger:{}", command.trigger_id), self.now_ms()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!("a replayed slash command (same trigger_id) was not acted on again");
                    return Ack::Empty;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot record the request");
                    return Ack::note(&format!(":warning: I cannot reach my database right now, so I did nothing. Please try again in a minute. (ref `{}`)", ctx.reference));
                }
            }
            let parsed = match commands::parse(&command.text) {
                Ok(parsed) => parsed,
                Err(usage) => return Ack::note(&usage.explain()),
            };
            tracing::info!(action = %parsed.action(), "command");
            if parsed.action().is_write() {
                self.write(ctx, parsed).await
            } else {
                self.read(ctx, parsed).await
            }
        }
        .instrument(span)
        .await
    }

    /// The rules' answer for one person, action and job (or no job).
    pub async fn decide(
        &self,
        user: &UserId,
        channel: &ChannelId,
        action: Action,
        job: Option<&Job>,
    ) -> Verdict {
        let request = access::Request {
            user,
            channel,
            action,
            environment: job.map(|j| &j.job.environment),
        };
        access::decide(&self.config.rules, request, &self.groups).await
    }

    /// "You may not ..." without showing the rules.
    fn denial(&self, action: Action, what: &str) -> Ack {
        let ask = match &self.config.slack.audit_channel {
            Some(channel) => format!("ask in <#{channel}> or the people who run this bot"),
            None => "ask the people who run this bot".to_owned(),
        };
        Ack::note(&format!(
            ":no_entry: You may not *{action}* {what} here. Access is decided by the bot's rules; if you need it, {ask}."
        ))
    }

    /// Sends a later answer: through the `response_url` when allowed, else the Web API.
    async fn deliver(&self, ctx: &Context, body: ResponseBody) {
        if let Some(url) = ctx
            .response_url
            .as_deref()
            .filter(|u| self.slack.response_url_allowed(u))
        {
            match self.slack.respond(url, &body).await {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, "response_url failed; using the Web API"),
            }
        }
        let message = Message {
            text: body.text,
            blocks: body.blocks,
        };
        let sent = if body.response_type == "in_channel" {
            self.slack
                .post_message(&ctx.channel, &message, None, false)
                .await
                .map(|_| ())
        } else {
            self.slack
                .post_ephemeral(&ctx.channel, &ctx.user, &message)
                .await
        };
        if let Err(error) = sent {
            tracing::error!(%error, "the answer could not be delivered to Slack");
        }
    }

    /// Posts an answer that missed the HTTP deadline to its `response_url`.
    pub async fn respond_later(&self, response_url: &str, body: ResponseBody) {
        if let Err(error) = self.slack.respond(response_url, &body).await {
            tracing::error!(%error, "a late answer could not be delivered");
        }
    }

    /// Runs `work` after the answer; its message goes back to the person.
    fn after_ack<F>(self: &Arc<Self>, ctx: Context, work: F)
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

    /// Records a write attempt and echoes it to the audit channel.
    async fn audit(self: &Arc<Self>, entry: AuditEntry) {
        if let Err(error) = self.store.audit(&entry).await {
            tracing::error!(%error, reference = %entry.reference, action = %entry.action, outcome = entry.outcome.as_str(), "the audit entry could not be stored");
        }
        if let Some(channel) = self.config.slack.audit_channel.clone() {
            let target = entry
                .job
                .as_ref()
                .map(|j| format!(" `{}` ({})", j, entry.environment.as_deref().unwrap_or("?")))
                .unwrap_or_default();
            let text = format!(
                ":memo: <@{}> *{}*{target} in <#{}> → {} — {} (ref `{}`)",
                entry.user_id,
                entry.action,
                entry.channel_id,
                entry.outcome.as_str().replace('_', " "),
                crate::slack::blocks::escape(&entry.detail),
                entry.reference
            );
            let bot = self.clone();
            self.tasks.spawn(async move {
                if let Err(error) = bot
                    .slack
                    .post_message(&channel, &Message::new(&text), None, false)
                    .await
                {
                    tracing::warn!(%error, "the audit echo could not be posted");
                }
            });
        }
    }
}
