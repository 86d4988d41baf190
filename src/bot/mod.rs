//! The bot: from a verified, parsed Slack request to its answer. The immediate answer
//! (the [`Ack`]) is decided from the store and the rules alone; whatever needs Tailer runs
//! after it, on the task tracker that shutdown drains, and comes back through the
//! `response_url` or the Web API.

mod authorize;
mod execute;
mod follow;
mod interactions;
mod launch;
mod reads;
pub mod render;
pub mod targets;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use authorize::{Audit, Authorized, Denial};
pub use writes::Plan;

use crate::access::GroupCache;
use crate::clock::SharedClock;
use crate::commands;
use crate::config::{Config, Job};
use crate::domain::{ChannelId, UserId};
use crate::slack::api::{ResponseBody, SlackApi};
use crate::slack::blocks::Message;
use crate::slack::payload::SlashCommand;
use crate::store::{AuditEntry, OutboxBody, OutboxMessage, OutboxMethod, Store};
use crate::tailer::TailerClient;

/// The bot's own deadline for an answer, well inside Slack's 3 s.
pub const ACK_DEADLINE: Duration = Duration::from_millis(2500);
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
    /// The background work's ceiling on requests to Tailer (`max_requests_per_second`),
    /// shared by the watcher and the subscription poller.
    pub tailer_limiter: Arc<governor::DefaultDirectRateLimiter>,
    /// What the doctor reports about the background work.
    pub stats: Arc<crate::watch::Stats>,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Wakes the watcher when a run starts being watched.
    pub watch_wake: Arc<tokio::sync::Notify>,
    /// Lanes of answers whose direct send failed and that were queued instead: later
    /// answers of the same request queue behind them, in order. With when each was
    /// noted: a lane is forgotten once its `response_url` has expired (30 minutes).
    queued_answers: dashmap::DashMap<String, i64>,
}

/// How long Slack accepts answers at a `response_url`.
const RESPONSE_URL_LIFETIME_MS: i64 = 30 * 60 * 1000;

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

    /// The one answer when the store cannot be reached: nothing was done (a write, a
    /// click) or nothing can be said (a read), and the reference to find the log line.
    fn store_unavailable(reference: &str) -> Ack {
        Ack::note(&render::store_unavailable(reference))
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

impl From<ResponseBody> for OutboxBody {
    fn from(body: ResponseBody) -> OutboxBody {
        OutboxBody {
            text: body.text,
            blocks: body.blocks,
            response_type: Some(body.response_type.to_owned()),
            replace_original: body.replace_original,
        }
    }
}

/// A short random reference for messages and logs.
pub fn reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

impl Bot {
    pub fn new(config: Arc<Config>, tailer: TailerClient, slack: Arc<SlackApi>, store: Store, clock: SharedClock) -> Bot {
        let rate = std::num::NonZeroU32::new(config.tailer.max_requests_per_second).unwrap_or(std::num::NonZeroU32::MIN);
        Bot {
            groups: GroupCache::new(slack.clone(), GROUP_TTL),
            config,
            tailer,
            slack,
            store,
            clock,
            tasks: TaskTracker::new(),
            // Evenly spaced, no burst on top: never more than the ceiling in any second.
            tailer_limiter: Arc::new(governor::RateLimiter::direct(
                governor::Quota::per_second(rate).allow_burst(std::num::NonZeroU32::MIN),
            )),
            stats: Arc::default(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            watch_wake: Arc::new(tokio::sync::Notify::new()),
            queued_answers: dashmap::DashMap::new(),
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
            response_url: Some(command.response_url.clone()),
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
                    return Ack::store_unavailable(&ctx.reference);
                }
            }
            // Another app's command, or this one renamed in Slack without the manifest:
            // its text was written for something else, so nothing of it is acted on.
            if command.command != commands::SLASH_COMMAND {
                tracing::warn!(command = ?command.command, "a slash command that is not the bot's");
                return Ack::note(&crate::slack::blocks::escape(&format!(
                    "`{}` is not my command: I answer `{}`. (ref `{}`)",
                    command.command,
                    commands::SLASH_COMMAND,
                    ctx.reference
                )));
            }
            let parsed = match commands::parse(&command.text) {
                Ok(parsed) => parsed,
                // The explanation quotes what was typed: escaped like any foreign text.
                Err(usage) => return Ack::note(&crate::slack::blocks::escape(&usage.explain())),
            };
            tracing::info!(action = %parsed.action(), "command");
            if parsed.action().is_write() { self.write(ctx, parsed).await } else { self.read(ctx, parsed).await }
        }
        .instrument(span)
        .await
    }

    /// Follows a run in a channel: a card now, a thread reply at each change. False when
    /// the channel already follows it.
    pub async fn start_watching(
        &self,
        job: &Job,
        run_id: &str,
        channel: &ChannelId,
        launched_by: Option<&UserId>,
        watched_by: Option<&UserId>,
    ) -> Result<bool, crate::store::StoreError> {
        let card = crate::store::CardRow {
            run_id: run_id.to_owned(),
            channel_id: channel.to_string(),
            lane: crate::watch::cards::lane(run_id, channel.as_str()),
            launched_by: launched_by.map(ToString::to_string),
            watched_by: watched_by.map(ToString::to_string),
        };
        // A run already followed elsewhere shows its current state on the new card.
        let current = match self.store.watch(run_id).await? {
            Some(w) if w.active => w.item.and_then(|i| serde_json::from_str::<crate::tailer::RunItem>(&i).ok()),
            _ => None,
        };
        let post = crate::watch::cards::post(job, &card, current.as_ref());
        let interval = self.config.watch.poll_interval.as_millis() as i64;
        let started = self.store.start_watch(job.name.as_str(), &card, &post, self.now_ms(), interval).await?;
        self.outbox_wake.notify_one();
        self.watch_wake.notify_one();
        Ok(started)
    }

    /// The answer to a [`Denial`], with where to ask for access.
    fn refuse(&self, denial: &Denial) -> Ack {
        let ask = match &self.config.slack.audit_channel {
            Some(channel) => format!("ask in <#{channel}> or the people who run this bot"),
            None => "ask the people who run this bot".to_owned(),
        };
        denial.answer(&ask)
    }

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
                    let message = Message { text: m.body.text, blocks: m.body.blocks };
                    let sent = match (m.method, m.channel_id.as_deref(), m.response_url.as_deref()) {
                        (OutboxMethod::Respond, _, Some(url)) => {
                            let body = ResponseBody {
                                response_type: if m.body.response_type.as_deref() == Some("in_channel") {
                                    "in_channel"
                                } else {
                                    "ephemeral"
                                },
                                replace_original: m.body.replace_original,
                                text: message.text,
                                blocks: message.blocks,
                            };
                            self.slack.respond(url, &body).await
                        }
                        (OutboxMethod::Post, Some(channel), _) => {
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
        let in_channel = body.response_type == "in_channel";
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
    async fn deliver(&self, ctx: &Context, body: ResponseBody) {
        let message = self.reply(ctx, body);
        let direct = message.method == OutboxMethod::Respond
            && message.body.response_type.as_deref() != Some("in_channel")
            && !self.queued_answers.contains_key(&message.lane);
        if let (true, Some(url)) = (direct, message.response_url.as_deref()) {
            let body = ResponseBody {
                response_type: "ephemeral",
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
        if let Some(echo) = self.audit_echo(&entry) {
            self.enqueue(vec![echo]).await;
        }
    }

    /// The line of the audit channel for an entry, when there is an audit channel.
    fn audit_echo(&self, entry: &AuditEntry) -> Option<OutboxMessage> {
        let channel = self.config.slack.audit_channel.clone()?;
        let target = entry.job.as_ref().map(|j| format!(" `{}` ({})", j, entry.environment.as_deref().unwrap_or("?"))).unwrap_or_default();
        let text = format!(
            ":memo: <@{}> *{}*{target} in <#{}> → {} — {} (ref `{}`)",
            entry.user_id,
            entry.action,
            entry.channel_id,
            entry.outcome.as_str().replace('_', " "),
            crate::slack::blocks::escape(&entry.detail),
            entry.reference
        );
        Some(OutboxMessage::post(format!("audit:{channel}"), channel.to_string(), text, Vec::new()))
    }
}
