//! The writes: `launch`, `disable`, `enable`, `reset`, `mark`. A write is resolved to its
//! jobs, checked against the rules for every job (denials audited), confirmed first when
//! a rule says so, noted in the store's journal, then carried out against Tailer after
//! the acknowledgement ([`execute`]). The buttons that stand for writes ([`clicks`]) take
//! the same path; what a crash interrupts is finished by the next start ([`recovery`]).

pub mod clicks;
mod confirm;
mod execute;
mod launch;
mod plan;
pub mod recovery;
mod resume;

use std::sync::Arc;

pub use plan::Plan;
pub use resume::REDO_WINDOW_MS;

use super::args::{Args, date, not_a_date};
use super::{Command, DISABLE_FOR_MAX, DISABLE_FOR_MIN, REASON_MAX_CHARS, RunStatus, UsageError, Verb, shorten, targets};
use crate::bot::{Ack, Answer, Audit, Authorized, Bot, BotError, CONFIRMATION_TTL, Context};
use crate::chat::Button;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::{Action, Press};
use crate::messages as render;
use crate::store::{AuditOutcome, NewConfirmation};

/// A write repeated by the same person in the same channel within this window is a
/// double submit, done once.
pub const DOUBLE_SUBMIT_WINDOW_MS: i64 = 60_000;

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Launch,
        usage: "launch <job> [YYYY-MM-DD]",
        summary: "launch a job (optionally for an execution date); its run is followed in a thread. `launch` alone opens a form",
        example: "launch iowa-prepare 2024-09-18",
        parse: parse_launch,
    },
    Verb {
        action: Action::Disable,
        usage: "disable <job>|tag:<tag> [for <duration>] [reason ...]",
        summary: "switch off; with `for`, switched on again when the time is up",
        example: "disable tag:daily for 2h source table is late",
        parse: parse_disable,
    },
    Verb {
        action: Action::Enable,
        usage: "enable <job>|tag:<tag>",
        summary: "switch on",
        example: "enable sales-daily",
        parse: |args| Ok(Command::Enable { target: args.target(false)? }),
    },
    Verb {
        action: Action::Reset,
        usage: "reset <workflow-job>",
        summary: "reset a workflow's triggers",
        example: "reset iowa-load-workflow",
        parse: |args| Ok(Command::Reset { job: args.job()? }),
    },
    Verb {
        action: Action::Mark,
        usage: "mark <job> <run_id> <STATUS>",
        summary: "set a run's status, e.g. a handled failure to CHECKED",
        example: "mark iowa-prepare 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179 CHECKED",
        parse: parse_mark,
    },
];

fn parse_launch(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let execution_date = match args.take() {
        None => None,
        Some(word) => Some(date(word).ok_or_else(|| args.error(not_a_date(word)))?),
    };
    Ok(Command::Launch { job, execution_date })
}

fn parse_disable(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let target = args.target(false)?;
    let mut rest = args.rest();
    let duration = if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("for")) {
        let Some(word) = rest.get(1).copied() else {
            return Err(args.error("`for` needs a duration, like 30m, 2h or 1d."));
        };
        let duration = humantime::parse_duration(word)
            .map_err(|_| args.error(format!("`{}` is not a duration: write it like 30m, 2h, 1h30m or 1d.", shorten(word, 40))))?;
        if !(DISABLE_FOR_MIN..=DISABLE_FOR_MAX).contains(&duration) {
            return Err(args.error("The duration must be between 1 minute and 30 days."));
        }
        rest.drain(..2);
        Some(duration)
    } else {
        None
    };
    let reason = rest.join(" ");
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(args.error(format!("The reason is longer than {REASON_MAX_CHARS} characters.")));
    }
    Ok(Command::Disable { target, duration, reason: (!reason.is_empty()).then_some(reason) })
}

fn parse_mark(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let run = args.run()?;
    let word = args.required("a status")?;
    let status = args
        .status(word)
        .filter(RunStatus::settable)
        .ok_or_else(|| args.error(format!("`{}` cannot be set: use SUCCESS, FAILED, RUNNING, NO_MATCH or CHECKED.", shorten(word, 40))))?;
    Ok(Command::Mark { job, run, status })
}

/// The jobs a write acts on, each of a kind the write applies to; the error is for the
/// user.
pub(crate) fn resolve<'c>(bot: &'c Bot, command: &Command) -> Result<Vec<&'c Job>, String> {
    let config = &bot.config;
    let jobs = match command {
        Command::Launch { job, .. } | Command::Reset { job } | Command::Mark { job, .. } => vec![targets::job(config, job)?],
        Command::Disable { target, .. } | Command::Enable { target } => targets::jobs(config, target)?,
        _ => return Err("not a write command".into()),
    };
    for job in &jobs {
        let kind = job.job.configuration_type.as_str();
        match command {
            Command::Launch { .. } if !matches!(kind, "table-to-table" | "gbq-to-gbq" | "table-to-storage") => {
                return Err(format!(
                    "{} is a {kind} job: Tailer launches only table-to-table and table-to-storage jobs through its API.",
                    render::job_label(job)
                ));
            }
            Command::Reset { .. } if kind != "workflow" => {
                return Err(format!("{} is a {kind} job: `reset` is for workflows.", render::job_label(job)));
            }
            _ => {}
        }
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
pub(crate) async fn write(bot: &Arc<Bot>, ctx: Context, command: Command) -> Answer {
    write_if_off(bot, ctx, command, IfOff::Ask).await
}

/// [`write`], saying what a launch of a job that is off does.
pub(crate) async fn write_if_off(bot: &Arc<Bot>, ctx: Context, command: Command, if_off: IfOff) -> Answer {
    write_then(bot, ctx, command, None, if_off).await
}

/// [`write`], followed by a second write on the same jobs once the first went through
/// (*Enable and launch*): both under the rules, confirmed first when either asks it.
pub(crate) async fn write_then(bot: &Arc<Bot>, ctx: Context, command: Command, then: Option<Command>, if_off: IfOff) -> Answer {
    let action = command.action();
    let jobs = resolve(bot, &command).map_err(BotError::User)?;
    if let Command::Mark { job, run, status } = &command {
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
    if let (Command::Launch { execution_date, .. }, IfOff::Ask, [job]) = (&plan.command, if_off, jobs.as_slice()) {
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
    let key = format!("write:{}:{}:{}", ctx.user, ctx.channel, plan.detail());
    let first = bot
        .store
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
    if confirm {
        return ask_confirmation(bot, ctx, &plan, &jobs, second_person).await;
    }
    let summary = plan.summary(&jobs);
    // Noted before the answer: from here on, a crash is finished by the next start.
    let journal = execute::journal(bot, &ctx, &plan, None, None);
    bot.store
        .begin_write(&journal, &execute::timers_for(&journal, &plan), bot.now_ms())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot note the write before making it"))?;
    let later = bot.clone();
    let work_ctx = ctx.clone();
    let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel, action = %action, target = %plan.target());
    bot.tasks.spawn(tracing::Instrument::instrument(async move { execute::execute(&later, work_ctx, plan, journal, false).await }, span));
    Ok(Ack::note(&format!(":hourglass_flowing_sand: On it: {summary}")))
}

async fn ask_confirmation(bot: &Arc<Bot>, ctx: Context, plan: &Plan, jobs: &[&Job], second_person: bool) -> Answer {
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
    bot.store.create_confirmation(&stored).await.map_err(BotError::store(&ctx.reference, "cannot store the confirmation"))?;
    for job in jobs {
        bot.audit(bot.entry(&ctx, action, Some(job), AuditOutcome::AwaitingConfirmation, plan.detail(), None)).await;
    }
    let message = render::confirmation(&plan.summary(jobs), jobs, ctx.user.as_str(), second_person, &id);
    Ok(Ack::Message(Reply::in_channel(message)))
}

/// The answer to a launch of a job the bot knows to be off: why it is off, with
/// *Launch anyway* and *Enable*; `None` when it is on (or the store cannot say: the
/// launch goes ahead, as it would without the bot's knowledge).
async fn switched_off_first(bot: &Bot, job: &Job, execution_date: Option<chrono::NaiveDate>) -> Option<Ack> {
    let switch = match bot.store.switch(job.name.as_str()).await {
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
