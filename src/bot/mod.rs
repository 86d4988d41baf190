//! The request machinery every command and click goes through: who asked and where
//! ([`Context`]), the one authorization step ([`Bot::authorize`]), the audit trail, the
//! answer now ([`Ack`]) or later (through the outbox, `reply.rs`), and the one place
//! where a failure becomes what the person reads ([`BotError`]). The commands
//! themselves live in [`crate::commands`]. The immediate answer is decided from the
//! store and the rules alone; whatever needs Tailer runs after it, on the task tracker
//! that shutdown drains.

mod authorize;
mod error;
mod reply;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;

pub use authorize::{Audit, Authorized, Denial};
pub use error::{Answer, BotError, Internal};

use crate::access::{GroupCache, TtlSets};
use crate::chat::Message;
use crate::chat::{Reply, Surface, SurfaceGroups};
use crate::clock::SharedClock;
use crate::config::{Config, Job, LiveConfig, Loaded};
use crate::domain::Action;
use crate::domain::{ChannelId, UserId};
use crate::messages::{self as render, Links};
use crate::outbox::Outbox;
use crate::outbox::OutboxMessage;
use crate::shared::Core;
use crate::store::{AuditEntry, AuditOutcome, Store};
use crate::tailer::TailerClient;

/// The bot's own deadline for an answer, well inside Slack's 3 s.
pub const ACK_DEADLINE: Duration = Duration::from_millis(2500);
/// How long a confirmation stays valid.
pub const CONFIRMATION_TTL: Duration = Duration::from_secs(600);
/// How long user-group members are cached.
pub const GROUP_TTL: Duration = Duration::from_secs(300);
/// How long the channels a person is in are cached (for their Home tab): someone who
/// joins a channel sees its followed runs within a minute.
pub const CHANNELS_TTL: Duration = Duration::from_secs(60);

/// What the request handlers share: the parts of the [`Core`] they use, the user-group
/// cache, and the work started after an answer. A request is handled by the bot of one
/// configuration: [`Bot::current`], taken once where the request comes in; everything
/// else in it is shared by every request.
#[derive(Clone)]
pub struct Bot {
    /// The configuration of this request: catalog, rules, settings. Never re-read from
    /// the [`LiveConfig`] mid-request.
    config: Arc<Config>,
    /// How `config` was loaded: its hash and when.
    loaded: Arc<Loaded>,
    /// The configuration in force, which a reload replaces.
    live: Arc<LiveConfig>,
    /// The Tailer API.
    tailer: TailerClient,
    /// The chat surface, for what is not a queued message (forms, reads).
    surface: Arc<dyn Surface>,
    /// User-group members, cached from the surface.
    groups: Arc<GroupCache<SurfaceGroups>>,
    /// The channels each person is in, cached from the surface.
    channels_of: Arc<TtlSets<UserId, ChannelId>>,
    /// What must survive a restart.
    store: Store,
    /// The wall clock (injected in tests).
    clock: SharedClock,
    /// Work started after an answer; shutdown waits for it.
    tasks: TaskTracker,
    /// What the doctor reports about the background work.
    stats: Arc<crate::stats::Stats>,
    /// The one way out for what the bot says after its HTTP answer.
    outbox: Outbox,
    /// Wakes the watcher when a run starts being watched.
    watch_wake: Arc<tokio::sync::Notify>,
    /// Lanes of answers whose direct send failed and that were queued instead: later
    /// answers of the same request queue behind them, in order. With when each was
    /// noted: a lane is forgotten once its `response_url` has expired (30 minutes).
    queued_answers: Arc<dashmap::DashMap<String, i64>>,
}

/// What a command needs of the bot, each part read through its method.
impl Bot {
    /// The configuration of this request: catalog, rules, settings.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// How the configuration was loaded: its hash and when.
    pub fn loaded(&self) -> &Arc<Loaded> {
        &self.loaded
    }

    /// The Tailer API.
    pub fn tailer(&self) -> &TailerClient {
        &self.tailer
    }

    /// The chat surface, for what is not a queued message (forms, reads).
    pub fn surface(&self) -> &Arc<dyn Surface> {
        &self.surface
    }

    /// User-group members, cached from the surface.
    pub fn groups(&self) -> &Arc<GroupCache<SurfaceGroups>> {
        &self.groups
    }

    /// The channels each person is in, cached from the surface.
    pub fn channels_of(&self) -> &Arc<TtlSets<UserId, ChannelId>> {
        &self.channels_of
    }

    /// What must survive a restart.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The wall clock (injected in tests).
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Work started after an answer; shutdown waits for it.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// What the doctor reports about the background work.
    pub fn stats(&self) -> &Arc<crate::stats::Stats> {
        &self.stats
    }

    /// The one way out for what the bot says after its HTTP answer.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Wakes the watcher when a run starts being watched.
    pub fn watch_wake(&self) -> &Arc<tokio::sync::Notify> {
        &self.watch_wake
    }
}

/// How long Slack accepts answers at a `response_url`.
const RESPONSE_URL_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// The immediate HTTP answer to Slack.
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// 200 with no body: nothing to show now.
    Empty,
    /// 200 with a message.
    Message(Reply),
    /// 200 with `response_action: errors`: a submitted modal stays open, each message
    /// under its field (`block_id`, message).
    FieldErrors(Vec<(String, String)>),
}

impl Ack {
    pub fn ephemeral(message: Message) -> Ack {
        Ack::Message(Reply::ephemeral(message))
    }

    pub fn note(text: &str) -> Ack {
        Ack::ephemeral(render::note(text))
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
    /// The thread later answers go under (a conversation: a mention, a direct message).
    pub thread: Option<String>,
    /// Answers are for everyone in the thread, not only the asker (a conversation); a
    /// refusal still goes to the asker alone.
    pub public: bool,
    /// The place is a direct conversation with the bot, as Slack said (a slash command's
    /// `channel_name`, an event's `channel_type`, a button's channel): no one else sees it.
    pub direct: bool,
}

/// A short random reference for messages and logs.
pub fn reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

impl Bot {
    pub fn new(core: &Core) -> Bot {
        let loaded = core.config.snapshot();
        Bot {
            groups: Arc::new(GroupCache::new(Arc::new(SurfaceGroups(core.surface.clone())), GROUP_TTL)),
            channels_of: Arc::new(TtlSets::new(CHANNELS_TTL)),
            config: loaded.config.clone(),
            loaded,
            live: core.config.clone(),
            tailer: core.tailer.clone(),
            surface: core.surface.clone(),
            store: core.store.clone(),
            clock: core.clock.clone(),
            tasks: TaskTracker::new(),
            stats: core.stats.clone(),
            outbox: core.outbox.clone(),
            watch_wake: core.watch_wake.clone(),
            queued_answers: Arc::default(),
        }
    }

    /// This bot with the configuration in force now: what a request (or a background
    /// pass) takes once when it starts and uses to its end.
    pub fn current(&self) -> Arc<Bot> {
        let loaded = self.live.snapshot();
        Arc::new(Bot { config: loaded.config.clone(), loaded, ..self.clone() })
    }

    /// The configuration in force, which a reload replaces.
    pub fn live(&self) -> &Arc<LiveConfig> {
        &self.live
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Follows a run in a channel: a card now, a thread reply at each change. False when
    /// the channel already follows it. `execution_date` is the one the bot launched the
    /// run for, if any: the card shows it and *Launch again* keeps it. `seen` is the run
    /// as Tailer just showed it, when the caller asked: the card starts from there.
    pub async fn start_watching(
        &self,
        job: &Job,
        run_id: &str,
        channel: &ChannelId,
        by: Follower<'_>,
        execution_date: Option<chrono::NaiveDate>,
        seen: Option<crate::tailer::RunItem>,
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
            _ => seen,
        };
        let post = crate::messages::cards::post(&self.outbox, Links::of(&self.config), job, &card, current.as_ref());
        let interval = self.config.watch.poll_interval.as_millis() as i64;
        let started = self.store.start_watch(job.name.as_str(), &card, &post, self.now_ms(), interval).await?;
        self.outbox.wake();
        self.watch_wake.notify_one();
        Ok(started)
    }

    /// The answer to a [`Denial`], with where to ask for access.
    pub(crate) fn refuse(&self, denial: &Denial) -> Ack {
        let ask = match &self.config.slack.audit_channel {
            Some(channel) => format!("ask in {} or the people who run this bot", crate::domain::markup::channel(channel)),
            None => "ask the people who run this bot".to_owned(),
        };
        denial.answer(&ask)
    }

    /// Records a write attempt and echoes it to the audit channel: a write or a
    /// confirmation at once (its own lane, ahead of the rest); a refusal in the sum of
    /// that person's refusals of the minute, posted when the minute ends (anyone in
    /// the workspace can be refused a hundred times; the audit channel hears it once,
    /// and `/tailer audit` keeps every entry).
    pub(crate) async fn audit(&self, entry: AuditEntry) {
        if let Err(error) = self.store.audit(&entry).await {
            tracing::error!(%error, reference = %entry.reference, action = %entry.action, outcome = entry.outcome.as_str(), "the audit entry could not be stored");
        }
        let echo = if entry.outcome == AuditOutcome::Denied { self.refusals_echo(&entry).await } else { self.audit_echo(&entry) };
        if let Some(echo) = echo {
            self.outbox.enqueue(vec![echo]).await;
        }
    }

    /// The audit channel's post of what `entry`'s person was refused in its minute,
    /// `entry` included, to be sent when the minute ends and replaced meanwhile by a
    /// newer count.
    async fn refusals_echo(&self, entry: &AuditEntry) -> Option<OutboxMessage> {
        const MINUTE_MS: i64 = 60_000;
        const LISTED: u32 = 5;
        let channel = self.config.slack.audit_channel.clone()?;
        let from = entry.at - entry.at.rem_euclid(MINUTE_MS);
        let (kinds, total) = match self.store.refusals(&entry.user_id, from, from + MINUTE_MS, LISTED).await {
            Ok(found) if found.1 > 0 => found,
            // Not readable (or not stored): this refusal alone.
            Ok(_) | Err(_) => (vec![(entry.action.name().to_owned(), entry.job.clone(), 1)], 1),
        };
        let listed: Vec<String> = kinds
            .iter()
            .map(|(action, job, times)| {
                let what = match job {
                    Some(job) => format!("`{} {}`", crate::domain::markup::plain(action), crate::domain::markup::plain(job)),
                    None => format!("`{}`", crate::domain::markup::plain(action)),
                };
                if *times > 1 { format!("{what} ×{times}") } else { what }
            })
            .collect();
        let shown: i64 = kinds.iter().map(|(_, _, times)| times).sum();
        let more = if total > shown { format!(", and {} more", total - shown) } else { String::new() };
        let minute = chrono::DateTime::from_timestamp_millis(from).map(|t| t.format("%H:%M UTC").to_string()).unwrap_or_default();
        let times = if total == 1 { "once".to_owned() } else { format!("{total} times") };
        let text = format!(
            ":no_entry: {} was refused {times} in the minute from {minute}: {}{more} (every attempt: `/tailer audit`)",
            crate::domain::markup::mention(&entry.user_id),
            listed.join(", ")
        );
        let key = format!("refused:{}:{from}", entry.user_id);
        let text = self.outbox.render(&Message::new(&text));
        Some(OutboxMessage::post(format!("refused:{channel}"), channel.to_string(), text).summing(key, from + MINUTE_MS))
    }

    /// The line of the audit channel for an entry, when there is an audit channel.
    pub(crate) fn audit_echo(&self, entry: &AuditEntry) -> Option<OutboxMessage> {
        let channel = self.config.slack.audit_channel.clone()?;
        let target = entry.job.as_ref().map(|j| format!(" `{}` ({})", j, entry.environment.as_deref().unwrap_or("?"))).unwrap_or_default();
        let text = format!(
            ":memo: {} *{}*{target} in {} → {} — {} (ref `{}`)",
            crate::domain::markup::mention(&entry.user_id),
            entry.action,
            crate::domain::markup::channel(&entry.channel_id),
            entry.outcome.as_str().replace('_', " "),
            crate::messages::audit_detail(&entry.detail),
            entry.reference
        );
        Some(OutboxMessage::post(format!("audit:{channel}"), channel.to_string(), self.outbox.render(&Message::new(&text))))
    }

    /// The job a run belongs to when it is not `named` (where the bot knows the run's
    /// job).
    pub(crate) async fn other_job_of(&self, ctx: &Context, run: &str, named: &str) -> Result<Option<String>, BotError> {
        let owner = self.store.job_of_run(run).await.map_err(BotError::store(&ctx.reference, "cannot read which job a run belongs to"))?;
        Ok(owner.filter(|owner| !owner.eq_ignore_ascii_case(named)))
    }

    pub(crate) fn entry(
        &self,
        ctx: &Context,
        action: Action,
        job: Option<&Job>,
        outcome: AuditOutcome,
        detail: String,
        answer: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.now_ms(),
            reference: ctx.reference.clone(),
            user_id: ctx.user.to_string(),
            channel_id: ctx.channel.to_string(),
            action,
            job: job.map(|j| j.name.to_string()),
            environment: job.map(|j| j.job.environment.to_string()),
            outcome,
            detail,
            tailer_answer: answer,
        }
    }
}
