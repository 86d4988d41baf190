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
mod reply;
pub use crate::messages as render;
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
use crate::store::{AuditEntry, OutboxMessage, Store};
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
    pub stats: Arc<crate::stats::Stats>,
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

/// Who a run card is for: the person who launched the run, or who asked to watch it.
#[derive(Debug, Clone, Copy)]
pub enum Follower<'a> {
    Launcher(&'a UserId),
    Watcher(&'a UserId),
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
    /// the channel already follows it. `execution_date` is the one the bot launched the
    /// run for, if any: the card shows it and *Launch again* keeps it.
    pub async fn start_watching(
        &self,
        job: &Job,
        run_id: &str,
        channel: &ChannelId,
        by: Follower<'_>,
        execution_date: Option<chrono::NaiveDate>,
    ) -> Result<bool, crate::store::StoreError> {
        let (launched_by, watched_by) = match by {
            Follower::Launcher(user) => (Some(user.to_string()), None),
            Follower::Watcher(user) => (None, Some(user.to_string())),
        };
        let card = crate::store::CardRow {
            run_id: run_id.to_owned(),
            channel_id: channel.to_string(),
            lane: crate::messages::cards::lane(run_id, channel.as_str()),
            launched_by,
            watched_by,
            execution_date: execution_date.map(|d| d.to_string()),
        };
        // A run already followed elsewhere shows its current state on the new card.
        let current = match self.store.watch(run_id).await? {
            Some(w) if w.active => w.item.and_then(|i| serde_json::from_str::<crate::tailer::RunItem>(&i).ok()),
            _ => None,
        };
        let post = crate::messages::cards::post(job, &card, current.as_ref());
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
