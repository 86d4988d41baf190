//! The slash command `/tailer`, one family of verbs per file. Each family declares its
//! verbs once (usage, summary, example: what `help` and the usage errors show), reads
//! their words into the typed [`Command`], says what the rules must allow, and carries
//! the command out through the request machinery of [`crate::bot`]:
//!
//! - [`catalog`]: `help`, `jobs`
//! - [`runs`]: `status`, `last`, `running`
//! - [`follow`]: `watch`, `unwatch`, `subscribe`, `unsubscribe`, `subscriptions`
//! - [`writes`]: `launch`, `disable`, `enable`, `reset`, `mark`, their confirmations,
//!   the buttons that stand for them, and the recovery of interrupted ones
//! - [`operate`]: `disabled`, `audit`, `doctor`
//!
//! Parsing is one pure function, [`parse`]; every mistake comes back as a [`UsageError`]
//! that says what was wrong and shows the usage. Job names are only checked for shape
//! there; the catalog resolves them ([`targets`]).

mod args;
pub mod catalog;
pub mod digest;
pub mod expect;
pub mod follow;
pub mod form;
pub mod history;
pub mod operate;
mod parse;
pub mod runs;
pub mod targets;
mod verbs;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

pub(crate) use parse::shorten;
pub use parse::{UsageError, is_format_character, parse};
pub use verbs::{Verb, help_for, help_lines, verb, verbs};

use crate::bot::{Ack, Answer, Bot, BotError, Context, reference};
use crate::chat::TypedCommand;
use crate::domain::markup::plain;
use crate::domain::{Action, ConfigurationType, JobName, RunId};
use crate::tailer::RunStatus;

/// What a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Job(JobName),
    /// Every catalog job carrying the tag.
    Tag(String),
    /// Every job (subscriptions only).
    All,
}

impl Target {
    /// Reads the text [`Target`]'s `Display` writes.
    pub fn parse(text: &str) -> Option<Target> {
        if text == "all" {
            return Some(Target::All);
        }
        match text.strip_prefix("tag:") {
            Some(tag) if !tag.is_empty() => Some(Target::Tag(tag.to_owned())),
            Some(_) => None,
            None => JobName::parse(text).ok().map(Target::Job),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let text = String::deserialize(d)?;
        Target::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a target")))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Job(name) => write!(f, "{name}"),
            Target::Tag(tag) => write!(f, "tag:{tag}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// Which finished runs a subscription announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionFilter {
    All,
    Failures,
}

impl SubscriptionFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionFilter::All => "all",
            SubscriptionFilter::Failures => "failures",
        }
    }
}

/// The bot's slash command, as the app manifest declares it.
pub const SLASH_COMMAND: &str = "/tailer";

/// The default and the ceiling of `last`'s N.
pub const LAST_DEFAULT: u32 = 5;
pub const LAST_MAX: u32 = 50;
/// Bounds of `disable ... for <duration>`.
pub const DISABLE_FOR_MIN: Duration = Duration::from_secs(60);
pub const DISABLE_FOR_MAX: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest reason kept.
pub const REASON_MAX_CHARS: usize = 500;

/// A parsed command. A write has a type of its own, kept with its confirmation and in
/// the journal of writes ([`writes::Plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help(Option<Action>),
    Jobs {
        filter: Option<String>,
    },
    /// `launch`, `disable`, `enable`, `reset`, `mark`: a [`writes::Write`].
    Write(writes::Write),
    Status {
        job: Option<JobName>,
        run: RunId,
    },
    /// `status <job>`: the job's latest run.
    Latest {
        job: JobName,
    },
    Last {
        job: JobName,
        limit: u32,
        status: Option<RunStatus>,
        execution_date: Option<NaiveDate>,
    },
    Running {
        configuration_type: Option<ConfigurationType>,
    },
    /// `watch <job> <run>`, or `watch <run>` for a run whose job the bot knows.
    Watch {
        job: Option<JobName>,
        run: RunId,
    },
    Unwatch {
        run: RunId,
    },
    Subscribe {
        target: Target,
        filter: SubscriptionFilter,
    },
    Unsubscribe {
        target: Target,
    },
    Subscriptions,
    /// `expect <job> by HH:MM [zone]`.
    Expect {
        job: JobName,
        schedule: crate::domain::Schedule,
    },
    Unexpect {
        job: JobName,
    },
    Expectations,
    /// `digest at HH:MM [zone]`, `digest off`, `digest`.
    Digest(digest::DigestAsk),
    /// What is switched off now.
    Disabled,
    /// A chart of the job's last `limit` runs, with a summary.
    History {
        job: JobName,
        limit: u32,
    },
    Audit {
        job: Option<JobName>,
    },
    Doctor,
}

impl Command {
    /// The write it is, if it is one.
    pub fn into_write(self) -> Option<writes::Write> {
        match self {
            Command::Write(write) => Some(write),
            _ => None,
        }
    }

    /// The action rules are checked against.
    pub fn action(&self) -> Action {
        match self {
            Command::Help(_) => Action::Help,
            Command::Jobs { .. } => Action::Jobs,
            Command::Write(write) => write.action(),
            Command::Status { .. } | Command::Latest { .. } => Action::Status,
            Command::Last { .. } => Action::Last,
            Command::Running { .. } => Action::Running,
            Command::Watch { .. } => Action::Watch,
            Command::Unwatch { .. } => Action::Unwatch,
            Command::Subscribe { .. } => Action::Subscribe,
            Command::Unsubscribe { .. } => Action::Unsubscribe,
            Command::Subscriptions => Action::Subscriptions,
            Command::Expect { .. } => Action::Expect,
            Command::Unexpect { .. } => Action::Unexpect,
            Command::Expectations => Action::Expectations,
            Command::Digest(_) => Action::Digest,
            Command::Disabled => Action::Disabled,
            Command::History { .. } => Action::History,
            Command::Audit { .. } => Action::Audit,
            Command::Doctor => Action::Doctor,
        }
    }
}

/// The command as a person types it, which [`parse`] reads back into the same command:
/// what a confirmation, the audit trail and "type this instead" show.
impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut words: Vec<String> = vec![self.action().name().to_owned()];
        let mut push = |word: &dyn std::fmt::Display| words.push(word.to_string());
        match self {
            Command::Help(topic) => topic.iter().for_each(|t| push(t)),
            Command::Jobs { filter } => filter.iter().for_each(|t| push(t)),
            Command::Write(write) => write.words(&mut push),
            Command::Status { job, run } | Command::Watch { job, run } => {
                job.iter().for_each(|j| push(j));
                push(run);
            }
            Command::Latest { job } => push(job),
            Command::Last { job, limit, status, execution_date } => {
                push(job);
                push(limit);
                status.iter().for_each(|s| push(&s.as_str()));
                execution_date.iter().for_each(|d| push(d));
            }
            Command::Running { configuration_type } => configuration_type.iter().for_each(|t| push(t)),
            Command::Unwatch { run } => push(run),
            Command::Subscribe { target, filter } => {
                push(target);
                push(&filter.as_str());
            }
            Command::Unsubscribe { target } => push(target),
            Command::Expect { job, schedule } => {
                push(job);
                push(&"by");
                push(&schedule.at.format("%H:%M"));
                push(&schedule.tz.name());
            }
            Command::Unexpect { job } => push(job),
            Command::Digest(ask) => match ask {
                digest::DigestAsk::At(schedule) => {
                    push(&"at");
                    push(&schedule.at.format("%H:%M"));
                    push(&schedule.tz.name());
                }
                digest::DigestAsk::Off => push(&"off"),
                digest::DigestAsk::Show => {}
            },
            Command::History { job, limit } => {
                push(job);
                push(limit);
            }
            Command::Audit { job } => job.iter().for_each(|j| push(j)),
            Command::Subscriptions | Command::Expectations | Command::Disabled | Command::Doctor => {}
        }
        f.write_str(&words.join(" "))
    }
}

/// Answers a slash command: the immediate answer; whatever needs Tailer runs after it.
pub async fn slash(bot: &Arc<Bot>, command: TypedCommand) -> Ack {
    let ctx = Context {
        user: command.user_id.clone(),
        channel: command.channel_id.clone(),
        team: command.team_id.to_string(),
        response_url: Some(command.response_url.clone()),
        reference: reference(),
        thread: None,
        public: false,
        direct: command.direct,
    };
    let span = tracing::info_span!("command", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel);
    // Turned into the answer within the span: a failure's log line names who and where.
    async { bot.answer_to(receive(bot, ctx, command).await) }.instrument(span).await
}

async fn receive(bot: &Arc<Bot>, ctx: Context, command: TypedCommand) -> Answer {
    let trigger = format!("trigger:{}", command.trigger_id);
    if !bot.store().first_time(&trigger, bot.now_ms()).await.map_err(BotError::store(&ctx.reference, "cannot record the request"))? {
        tracing::info!("a replayed slash command (same trigger_id) was not acted on again");
        return Ok(Ack::Empty);
    }
    // Another app's command, or this one renamed in Slack without the manifest: its text
    // was written for something else, so nothing of it is acted on.
    if command.command != SLASH_COMMAND {
        tracing::warn!(command = ?command.command, "a slash command that is not the bot's");
        return Err(BotError::user(plain(&format!(
            "`{}` is not my command: I answer `{SLASH_COMMAND}`. (ref `{}`)",
            command.command, ctx.reference
        ))));
    }
    // `launch` alone: the launch form, opened with this request's trigger_id.
    if command.text.trim().eq_ignore_ascii_case("launch") {
        tracing::info!(action = "launch", "command: the launch form");
        return form::open_launch(bot, &ctx, &command.trigger_id, Some(&ctx.channel)).await;
    }
    // The explanation quotes what was typed: escaped like any foreign text.
    let parsed = parse(&command.text).map_err(|usage| BotError::user(plain(&usage.explain())))?;
    tracing::info!(action = %parsed.action(), "command");
    // Boxed: the largest command's state would otherwise be copied, whole, each time the
    // request's future is moved (into its task, among others), whatever the command.
    Box::pin(run(bot, ctx, parsed)).await
}

/// Carries a parsed command out, in its family.
pub async fn run(bot: &Arc<Bot>, ctx: Context, command: Command) -> Answer {
    match command {
        Command::Help(topic) => Ok(catalog::help(topic)),
        Command::Jobs { filter } => Ok(catalog::jobs(bot, &ctx, filter.as_deref()).await),
        Command::Status { job, run } => runs::status(bot, ctx, job.as_ref(), run).await,
        Command::Latest { job } => runs::latest(bot, ctx, &job).await,
        Command::Last { job, limit, status, execution_date } => runs::last(bot, ctx, &job, limit, status, execution_date).await,
        Command::Running { configuration_type } => runs::running(bot, ctx, configuration_type).await,
        Command::Watch { job, run } => follow::watch(bot, &ctx, job.as_ref(), &run).await,
        Command::Unwatch { run } => follow::unwatch(bot, &ctx, &run).await,
        Command::Subscribe { target, filter } => follow::subscribe(bot, ctx, &target, filter).await,
        Command::Unsubscribe { target } => follow::unsubscribe(bot, &ctx, &target).await,
        Command::Subscriptions => follow::list(bot, &ctx).await,
        Command::Expect { job, schedule } => expect::expect(bot, &ctx, &job, schedule).await,
        Command::Unexpect { job } => expect::unexpect(bot, &ctx, &job).await,
        Command::Expectations => expect::list(bot, &ctx).await,
        Command::Digest(ask) => digest::digest(bot, &ctx, ask).await,
        Command::History { job, limit } => history::history(bot, ctx, &job, limit).await,
        Command::Audit { job } => operate::audit(bot, &ctx, job.as_ref()).await,
        Command::Doctor => operate::doctor(bot, ctx).await,
        Command::Disabled => operate::disabled(bot, &ctx).await,
        Command::Write(write) => writes::write(bot, ctx, write).await,
    }
}

#[cfg(test)]
mod tests;
