//! The writes: `launch`, `disable`, `enable`, `reset`, `mark`. A write is resolved to its
//! jobs, checked against the rules for every job (denials audited), confirmed first when
//! a rule says so, noted in the store's journal, then carried out against Tailer after
//! the acknowledgement ([`execute`]). The buttons that stand for writes ([`clicks`]) take
//! the same path; what a crash interrupts is finished by the next start ([`recovery`]).

mod apart;
pub mod clicks;
mod confirm;
mod execute;
mod launch;
mod plan;
pub mod recovery;
mod resume;
mod write;

use std::sync::Arc;

pub use plan::Plan;
pub use resume::REDO_WINDOW_MS;
pub(crate) use write::VERBS;
pub use write::Write;

use super::targets;
use crate::bot::{Ack, Answer, Audit, Authorized, Bot, BotError, CONFIRMATION_TTL, Context};
use crate::chat::Button;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::Press;
use crate::domain::RunId;
use crate::messages as render;
use crate::store::{AuditOutcome, NewConfirmation};

/// A write repeated by the same person in the same channel within this window is a
/// double submit, done once.
pub const DOUBLE_SUBMIT_WINDOW_MS: i64 = 60_000;

/// The jobs a write acts on, each of a kind the write applies to; the error is for the
/// user.
pub(crate) fn resolve<'c>(bot: &'c Bot, write: &Write) -> Result<Vec<&'c Job>, String> {
    let jobs = targets::jobs(bot.config(), &write.target())?;
    for job in &jobs {
        write.applies_to(job)?;
    }
    Ok(jobs)
}

/// What a launch of a job known to be switched off does: ask first (the command as
/// typed), or go ahead (*Launch anyway*: the run ends DEACTIVATED, as Tailer does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfOff {
    Ask,
    LaunchAnyway,
}

/// A write command: refused, asked for confirmation, or noted and carried out after the
/// acknowledgement.
pub(crate) async fn write(bot: &Arc<Bot>, ctx: Context, command: Write) -> Answer {
    write_if_off(bot, ctx, command, IfOff::Ask).await
}

/// [`write`], saying what a launch of a job that is off does.
pub(crate) async fn write_if_off(bot: &Arc<Bot>, ctx: Context, command: Write, if_off: IfOff) -> Answer {
    write_then(bot, ctx, command, None, if_off).await
}

/// [`write`], followed by a second write on the same jobs once the first went through
/// (*Enable and launch*): both under the rules, confirmed first when either asks it.
pub(crate) async fn write_then(bot: &Arc<Bot>, ctx: Context, command: Write, then: Option<Write>, if_off: IfOff) -> Answer {
    guarded(bot, ctx, command, then, if_off, Repeat::AsTyped).await
}

/// A write asked from a button on the card of an ended run (*Launch again*, *Disable
/// 1h*, *Mark checked*): a second click on that card within a minute is the repeat, not
/// the command typed before the run (a job that failed after 4 s can be relaunched from
/// its card at once).
pub(crate) async fn write_from_card(bot: &Arc<Bot>, ctx: Context, command: Write, run: &RunId) -> Answer {
    guarded(bot, ctx, command, None, IfOff::Ask, Repeat::FromCardOf(run)).await
}

/// What makes a write the repeat of one asked less than a minute before.
enum Repeat<'r> {
    /// The same write by the same person in the same place.
    AsTyped,
    /// The same button of the same run's card, by the same person.
    FromCardOf(&'r RunId),
}

async fn guarded(bot: &Arc<Bot>, ctx: Context, command: Write, then: Option<Write>, if_off: IfOff, repeat: Repeat<'_>) -> Answer {
    let action = command.action();
    let jobs = resolve(bot, &command).map_err(BotError::User)?;
    let command = command.as_catalog_names(&jobs);
    let then = then.map(|next| next.as_catalog_names(&jobs));
    if let Write::Mark { job, run, status } = &command {
        if let Some(owner) = bot.other_job_of(&ctx, run.as_str(), job.as_str()).await? {
            return Err(BotError::user(format!(
                "Run `{run}` belongs to `{owner}`, not `{job}`, so nothing was done. To mark it: `/tailer mark {owner} {run} {status}`."
            )));
        }
    }
    let mut plan = Plan::new(command, &jobs);
    if let Some(next) = then {
        plan = plan.then(next);
    }
    let Authorized { mut confirm, mut second_person } =
        bot.authorize(&ctx, action, &jobs, Audit::Denials { detail: &plan.detail() }).await?;
    if let Some(next) = plan.next() {
        let second = bot.authorize(&ctx, next.action(), &jobs, Audit::Denials { detail: &plan.detail() }).await?;
        confirm |= second.confirm;
        second_person |= second.second_person;
    }
    // A job known to be off would launch into a run that ends DEACTIVATED at once: said
    // first, before the launch counts as asked (so that *Launch anyway* is not a repeat).
    if let (Write::Launch { execution_date, .. }, IfOff::Ask, [job]) = (&plan.command, if_off, jobs.as_slice()) {
        if let Some(answer) = switched_off_first(bot, job, *execution_date).await {
            return Ok(answer);
        }
    }
    // In a direct message with the bot no one else sees the question: a write that needs
    // a second person is asked where one can answer.
    if confirm && second_person && ctx.direct {
        return Err(BotError::user(format!(
            ":busts_in_silhouette: To {} someone else must confirm, and no one else sees this conversation: ask in your team's channel.",
            plan.summary(&jobs)
        )));
    }
    // The same write twice within a minute (Enter pressed twice) is done once.
    let key = match repeat {
        Repeat::AsTyped => format!("write:{}:{}:{}", ctx.user, ctx.channel, plan.detail()),
        Repeat::FromCardOf(run) => format!("write:{}:{}:card {run}:{}", ctx.user, ctx.channel, plan.detail()),
    };
    let first = bot
        .store()
        .first_within(&key, bot.now_ms(), DOUBLE_SUBMIT_WINDOW_MS)
        .await
        .map_err(BotError::store(&ctx.reference, "cannot check for a double submit"))?;
    if !first {
        tracing::info!("a repeated write within a minute was not acted on again");
        return Err(BotError::user(format!(
            ":repeat: You asked for exactly this ({}) less than a minute ago; it is done once. Ask again in a minute if you really mean twice.",
            plan.summary(&jobs)
        )));
    }
    // A date more than a year out is most likely a typo (2099 for 2029): asked first.
    let far = plan.execution_date().filter(|date| far_off(*date, bot.now_ms()));
    if confirm || far.is_some() {
        return ask_confirmation(bot, ctx, &plan, &jobs, second_person, far).await;
    }
    let summary = plan.summary(&jobs);
    // Noted before the answer: from here on, a crash is finished by the next start.
    let journal = execute::journal(bot, &ctx, &plan, None, None);
    bot.store()
        .begin_write(&journal, &execute::timers_for(&journal, &plan), bot.now_ms())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot note the write before making it"))?;
    let later = bot.clone();
    let work_ctx = ctx.clone();
    let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel, action = %action, target = %plan.target());
    bot.tasks().spawn(tracing::Instrument::instrument(async move { execute::execute(&later, work_ctx, plan, journal, false).await }, span));
    Ok(Ack::note(&format!(":hourglass_flowing_sand: On it: {summary}")))
}

/// An execution date further than a year from today (UTC) asks for a confirmation.
pub const FAR_EXECUTION_DATE_DAYS: i64 = 366;

fn far_off(date: chrono::NaiveDate, now_ms: i64) -> bool {
    let today = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default().date_naive();
    (date - today).num_days() > FAR_EXECUTION_DATE_DAYS
}

async fn ask_confirmation(
    bot: &Arc<Bot>,
    ctx: Context,
    plan: &Plan,
    jobs: &[&Job],
    second_person: bool,
    far: Option<chrono::NaiveDate>,
) -> Answer {
    let action = plan.action();
    let now = bot.now_ms();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let stored = NewConfirmation {
        id: id.clone(),
        created_at: now,
        expires_at: now + CONFIRMATION_TTL.as_millis() as i64,
        team_id: ctx.team.clone(),
        channel_id: ctx.channel.to_string(),
        requester: ctx.user.to_string(),
        action,
        plan: plan.to_json(),
        second_person,
    };
    bot.store().create_confirmation(&stored).await.map_err(BotError::store(&ctx.reference, "cannot store the confirmation"))?;
    for job in jobs {
        bot.audit(bot.entry(&ctx, action, Some(job), AuditOutcome::AwaitingConfirmation, plan.detail(), None)).await;
    }
    let mut message = render::confirmation(&plan.summary(jobs), jobs, ctx.user.as_str(), second_person, &id);
    if let Some(date) = far {
        message.context(&render::far_execution_date(date));
    }
    Ok(Ack::Message(Reply::in_channel(message)))
}

/// The answer to a launch of a job the bot knows to be off: why it is off, with
/// *Launch anyway* and *Enable*; `None` when it is on (or the store cannot say: the
/// launch goes ahead, as it would without the bot's knowledge).
async fn switched_off_first(bot: &Bot, job: &Job, execution_date: Option<chrono::NaiveDate>) -> Option<Ack> {
    let switch = match bot.store().switch(job.name.as_str()).await {
        Ok(switch) => switch.filter(|s| s.off)?,
        Err(error) => {
            tracing::warn!(%error, "cannot tell whether the job is switched off; launching");
            return None;
        }
    };
    let mut m = crate::chat::Message::new(&format!("{} is disabled", job.name));
    m.section(&format!(
        ":double_vertical_bar: {}. Launched now, its run would end DEACTIVATED without running. Enable it and launch, or launch it anyway?",
        render::switched_off(job, &switch)
    ));
    let job = job.name.clone();
    m.actions(
        "switched_off",
        &[
            Button::press("Enable and launch", &Press::EnableAndLaunch { job: job.clone(), execution_date }).primary(),
            Button::press("Launch anyway", &Press::LaunchAnyway { job, execution_date }),
        ],
    );
    Some(Ack::ephemeral(m))
}
