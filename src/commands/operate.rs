//! `audit` and `doctor`: for the people who run the bot. The audit trail shows each entry
//! only to someone the rules let audit its job; the health check asks Tailer, Slack and
//! the store now, after the acknowledgement.

use std::sync::Arc;

use super::{Command, UsageError, Verb};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context};
use crate::chat::Message;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::{Action, JobName};
use crate::messages::{self as render, Links};
use crate::store::SwitchRow;
use crate::tailer::LastStatusQuery;

/// The newest audit entries `audit` shows.
const AUDIT_LINES: u32 = 20;

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Disabled,
        usage: "disabled",
        summary: "the data operations switched off now: by whom, why, until when",
        example: "disabled",
        parse: |_| Ok(Command::Disabled),
    },
    Verb {
        action: Action::Audit,
        usage: "audit [job]",
        summary: "who did what, latest first",
        example: "audit sales-daily",
        parse: parse_audit,
    },
    Verb {
        action: Action::Doctor,
        usage: "doctor",
        summary: "the bot's own health: APIs reachable, last poll, backlog, rate limits hit",
        example: "doctor",
        parse: |_| Ok(Command::Doctor),
    },
];

fn parse_audit(args: &mut super::args::Args<'_>) -> Result<Command, UsageError> {
    Ok(Command::Audit { job: if args.args.is_empty() { None } else { Some(args.job()?) } })
}

/// The newest entries of the audit trail (of one job when named) that this person may
/// audit here.
pub(super) async fn audit(bot: &Arc<Bot>, ctx: &Context, name: Option<&JobName>) -> Answer {
    let action = Action::Audit;
    if let Some(name) = name {
        super::runs::readable(bot, ctx, action, name).await?;
    }
    let entries = bot
        .store()
        .recent_audit(name.map(|n| n.as_str()), AUDIT_LINES * 5)
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read the audit trail"))?;
    let mut visible = Vec::new();
    for entry in entries {
        let job = entry.job.as_deref().and_then(|j| bot.config().job(j));
        let allowed = match (job, entry.job.is_some()) {
            (Some(job), _) => !bot.visible(ctx, action, [job]).await.is_empty(),
            (None, false) => true,
            // A job no longer in the catalog: its environment decides.
            (None, true) => {
                let env = entry.environment.as_deref().and_then(|e| crate::domain::Environment::parse(e).ok());
                bot.allowed_in(ctx, action, env.as_ref()).await
            }
        };
        if allowed && visible.len() < AUDIT_LINES as usize {
            visible.push(entry);
        }
    }
    Ok(Ack::ephemeral(render::audit(Links::of(bot.config()), |j| bot.config().job(j), &visible, name.map(|n| n.as_str()))))
}

/// Every data operation the bot knows to be off (it switched it off, or a run of it
/// ended DEACTIVATED), among the jobs this person may see here, each with *Enable*.
pub(super) async fn disabled(bot: &Arc<Bot>, ctx: &Context) -> Answer {
    Ok(Ack::ephemeral(render::disabled(&switched_off_visible(bot, ctx).await?)))
}

/// What is switched off now among the jobs this person may see.
pub(crate) async fn switched_off_visible<'a>(bot: &'a Bot, ctx: &Context) -> Result<Vec<(&'a Job, SwitchRow)>, BotError> {
    let off = bot.store().switched_off().await.map_err(BotError::store(&ctx.reference, "cannot read what is switched off"))?;
    let mut shown = Vec::new();
    for switch in off {
        let Some(job) = bot.config().job(&switch.job) else { continue };
        if !bot.visible(ctx, Action::Disabled, [job]).await.is_empty() {
            shown.push((job, switch));
        }
    }
    Ok(shown)
}

/// The bot's own health, after the acknowledgement.
pub(super) async fn doctor(bot: &Arc<Bot>, ctx: Context) -> Answer {
    bot.authorize(&ctx, Action::Doctor, &[], Audit::No).await?;
    let later = bot.clone();
    bot.after_ack(ctx, async move { Reply::ephemeral(health(&later).await) });
    Ok(Ack::Empty)
}

/// Tailer, Slack and the store, each checked now, and the figures of the background work.
async fn health(bot: &Bot) -> Message {
    let mut lines = Vec::new();
    match bot.store().ping().await {
        Ok(()) => lines.push(":white_check_mark: Store: reachable".to_owned()),
        Err(error) => lines.push(format!(":x: Store: {}", crate::domain::markup::plain(&error.to_string()))),
    }
    match bot.config().jobs.first() {
        Some(job) => {
            match bot.tailer().get_last_status_now(&job.job, &LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() }).await {
                Ok(_) => lines.push(format!(":white_check_mark: Tailer: reachable at {}", bot.tailer().base_url())),
                Err(error) => lines.push(format!(":x: Tailer: {}", crate::domain::markup::plain(&error.to_string()))),
            }
        }
        None => lines.push(":grey_question: Tailer: no job in the catalog to ask about".to_owned()),
    }
    match bot.surface().check().await {
        Ok(()) => lines.push(":white_check_mark: Slack: the bot token works".to_owned()),
        Err(error) => lines.push(format!(":x: Slack: {}", crate::domain::markup::plain(&error.to_string()))),
    }
    let now = bot.now_ms();
    let ago = |t: i64| crate::messages::when(chrono::DateTime::from_timestamp_millis(t).unwrap_or_default());
    match bot.stats().last_poll_ok().or(bot.store().marker(crate::store::POLLED_MARKER).await.ok().flatten()) {
        Some(t) => lines.push(format!(":white_check_mark: Last successful poll: {}", ago(t))),
        None => lines.push(":grey_question: No successful poll since the start (nothing to poll yet?)".to_owned()),
    }
    match bot.store().active_watch_count().await {
        Ok(n) => lines.push(format!(":eyes: Watched runs: {n}")),
        Err(error) => lines.push(format!(":x: Watched runs: {}", crate::domain::markup::plain(&error.to_string()))),
    }
    match bot.store().outbox_depth().await {
        Ok((0, _)) => lines.push(":outbox_tray: Outbox: empty".to_owned()),
        Ok((n, oldest)) => lines.push(format!(
            ":outbox_tray: Outbox: {n} message{} waiting, the oldest since {}",
            if n == 1 { "" } else { "s" },
            oldest.map(ago).unwrap_or_default()
        )),
        Err(error) => lines.push(format!(":x: Outbox: {}", crate::domain::markup::plain(&error.to_string()))),
    }
    let loaded = &bot.loaded();
    lines.push(format!(
        ":gear: Configuration: loaded {}, sha256 `{}` ({} job{}, {} rule{})",
        ago(loaded.loaded_at.timestamp_millis()),
        loaded.hash.as_deref().unwrap_or("-"),
        bot.config().jobs.len(),
        if bot.config().jobs.len() == 1 { "" } else { "s" },
        bot.config().rules.len(),
        if bot.config().rules.len() == 1 { "" } else { "s" },
    ));
    if let Ok(timers) = bot.store().pending_timers().await {
        lines.push(format!(":alarm_clock: Timed re-enables pending: {}", timers.len()));
    }
    let (limited, slack_errors, tailer_errors) = bot.stats().last_hour(now);
    lines.push(format!(
        ":bar_chart: Last hour: {limited} rate limit{} from Slack, {slack_errors} Slack error{}, {tailer_errors} Tailer error{}; {} message{} undeliverable since the start",
        if limited == 1 { "" } else { "s" },
        if slack_errors == 1 { "" } else { "s" },
        if tailer_errors == 1 { "" } else { "s" },
        bot.stats().undeliverable_count(),
        if bot.stats().undeliverable_count() == 1 { "" } else { "s" },
    ));
    let mut message = crate::chat::Message::new("tailerbot health");
    message.section("*tailerbot health*");
    message.lines(&lines, 0);
    message
}
