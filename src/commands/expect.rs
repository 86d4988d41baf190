//! Expectations from a channel: `expect <job> by HH:MM [zone]`, `unexpect <job>`,
//! `expectations`, and the *Mute today* of an alert. The checking is
//! [`crate::watch::expectations`]'s; this is the conversation.

use std::sync::Arc;

use chrono::NaiveDate;

use super::args::Args;
use super::{Command, UsageError, Verb, shorten, targets};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context};
use crate::chat::{Message, Reply};
use crate::domain::markup::{mention, plain};
use crate::domain::{Action, JobName, Schedule};
use crate::messages::{self as render, expect::Day};
use crate::store::ExpectationRow;

const USAGE: &str = "expect <job> by HH:MM [time zone]";

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Expect,
        usage: USAGE,
        summary: "tell this channel when a job has not succeeded by a time of day (default zone: UTC)",
        example: "expect sales-daily by 07:00 Europe/Paris",
        parse: parse_expect,
    },
    Verb {
        action: Action::Unexpect,
        usage: "unexpect <job>",
        summary: "stop an expectation of this channel",
        example: "unexpect sales-daily",
        parse: |args| Ok(Command::Unexpect { job: args.job()? }),
    },
    Verb {
        action: Action::Expectations,
        usage: "expectations",
        summary: "this channel's expectations",
        example: "expectations",
        parse: |_| Ok(Command::Expectations),
    },
];

fn parse_expect(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    match args.take() {
        Some(word) if word.eq_ignore_ascii_case("by") => {}
        Some(other) => return Err(args.error(format!("`expect` reads `{job} by HH:MM`, not `{}`.", shorten(other, 40)))),
        None => {
            return Err(args.error(format!("`expect` needs a time: `expect {job} by HH:MM`, e.g. `expect {job} by 07:00 Europe/Paris`.")));
        }
    }
    let time = args.required("a time (HH:MM)")?;
    let zone = args.take();
    let schedule = Schedule::parse(time, zone).map_err(|e| args.error(e.to_string()))?;
    Ok(Command::Expect { job, schedule })
}

/// `expect`: the channel must be allowed to read the job.
pub(super) async fn expect(bot: &Arc<Bot>, ctx: &Context, name: &JobName, schedule: Schedule) -> Answer {
    let job = targets::job(bot.config(), name).map_err(BotError::User)?;
    bot.authorize(ctx, Action::Expect, &[job], Audit::No).await?;
    if let Some(resumed) = configured(bot, ctx, job, true).await? {
        return Ok(resumed);
    }
    let row = ExpectationRow {
        channel_id: ctx.channel.to_string(),
        job: job.name.to_string(),
        at_minute: schedule.minute(),
        tz: schedule.tz.name().to_owned(),
        created_by: ctx.user.to_string(),
        created_at: bot.now_ms(),
        paused: None,
    };
    let new = bot.store().expect(&row).await.map_err(BotError::store(&ctx.reference, "cannot store an expectation"))?;
    let now = bot.clock().now();
    let passed = schedule.due(schedule.day_of(now)) <= now;
    let text = format!(
        ":alarm_clock: This channel expects {} to succeed every day by *{}*: if it has not by then, I say so here — {} by {}.{}",
        render::job_label(job),
        plain(&schedule.to_string()),
        if new { "set" } else { "changed" },
        mention(&ctx.user),
        if passed { " Today's time has passed: I check today at my next look." } else { "" }
    );
    Ok(Ack::Message(Reply::in_channel(render::note(&text))))
}

pub(super) async fn unexpect(bot: &Arc<Bot>, ctx: &Context, name: &JobName) -> Answer {
    let job = targets::job(bot.config(), name).map_err(BotError::User)?;
    bot.authorize(ctx, Action::Unexpect, &[job], Audit::No).await?;
    configured(bot, ctx, job, false).await?;
    let removed = bot
        .store()
        .unexpect(ctx.channel.as_str(), job.name.as_str())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot remove an expectation"))?;
    Ok(match removed {
        true => Ack::Message(Reply::in_channel(render::note(&format!(
            ":no_bell: This channel no longer expects {} — removed by {}.",
            render::job_label(job),
            mention(&ctx.user)
        )))),
        false => {
            Ack::note(&format!("This channel has no expectation of {}. `/tailer expectations` lists what it has.", render::job_label(job)))
        }
    })
}

/// Refuses to change an expectation of the configuration file from the chat; with
/// `resume`, one paused (its channel was closed to the bot) is resumed instead: the answer.
async fn configured(bot: &Arc<Bot>, ctx: &Context, job: &crate::config::Job, resume: bool) -> Result<Option<Ack>, BotError> {
    let existing = bot
        .store()
        .expectation(ctx.channel.as_str(), job.name.as_str())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read an expectation"))?;
    match existing {
        Some(e) if e.created_by == crate::store::CONFIGURED && e.paused.is_some() && resume => {
            let resumed = ExpectationRow { paused: None, ..e };
            bot.store().expect(&resumed).await.map_err(BotError::store(&ctx.reference, "cannot resume an expectation"))?;
            let by = Schedule::stored(resumed.at_minute, &resumed.tz).map(|s| s.to_string()).unwrap_or_default();
            Ok(Some(Ack::Message(Reply::in_channel(render::note(&format!(
                ":alarm_clock: This channel expects {} by *{}* again (its time is the configuration file's) — resumed by {}.",
                render::job_label(job),
                plain(&by),
                mention(&ctx.user)
            ))))))
        }
        Some(e) if e.created_by == crate::store::CONFIGURED => Err(BotError::user(format!(
            "This channel's expectation of {} is set in the configuration file (`[[expectations]]`): change it there.",
            render::job_label(job)
        ))),
        _ => Ok(None),
    }
}

pub(super) async fn list(bot: &Arc<Bot>, ctx: &Context) -> Answer {
    bot.authorize(ctx, Action::Expectations, &[], Audit::No).await?;
    let rows =
        bot.store().expectations(Some(ctx.channel.as_str())).await.map_err(BotError::store(&ctx.reference, "cannot read expectations"))?;
    if rows.is_empty() {
        return Ok(Ack::note(&format!("This channel has no expectation. `/tailer {}` adds one.", plain(USAGE))));
    }
    let mut m = Message::new("Expectations of this channel");
    m.section("*Expectations of this channel*");
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let by = Schedule::stored(r.at_minute, &r.tz).map(|s| s.to_string()).unwrap_or_else(|| r.tz.clone());
            let since = chrono::DateTime::from_timestamp_millis(r.created_at).unwrap_or_default();
            let paused = match &r.paused {
                Some(why) => format!(
                    " — :double_vertical_bar: *paused*: I could not post its alert here ({}); invite me, then `expect` it again",
                    plain(&shorten(why, 80))
                ),
                None => String::new(),
            };
            format!(
                "• `{}` by *{}* — set by {} {}{paused}",
                plain(&r.job),
                plain(&by),
                render::expect::who_expects(&r.created_by),
                render::when(since)
            )
        })
        .collect();
    m.lines(&lines, 0);
    Ok(Ack::ephemeral(m))
}

/// *Mute today* on an alert: the day is closed, the alert edited to say who muted it.
pub(crate) async fn mute(bot: &Arc<Bot>, ctx: &Context, name: &JobName, day: NaiveDate) -> Answer {
    let job = targets::job(bot.config(), name).map_err(BotError::User)?;
    bot.authorize(ctx, Action::Expect, &[job], Audit::No).await?;
    let by = bot
        .store()
        .expectation(ctx.channel.as_str(), job.name.as_str())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read an expectation"))?
        .and_then(|e| Schedule::stored(e.at_minute, &e.tz))
        .map(|s| s.to_string())
        .unwrap_or_else(|| "its time".to_owned());
    let lane = render::expect::lane(ctx.channel.as_str(), job.name.as_str(), day);
    let d = Day { channel: ctx.channel.as_str(), job, day, by: &by, deadline: chrono::DateTime::default(), lane: &lane };
    let messages = render::expect::muted(bot.outbox(), &d, ctx.user.as_str());
    let closed = bot
        .store()
        .close_day((ctx.channel.as_str(), job.name.as_str(), &day.to_string()), "muted", None, &messages, bot.now_ms())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot mute an expectation"))?;
    if !closed {
        return Ok(Ack::note(&format!("{} on {day} is already met or muted: nothing to mute.", render::job_label(job))));
    }
    bot.outbox().wake();
    Ok(Ack::Empty)
}
