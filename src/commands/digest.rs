//! A channel's daily digest: `digest at HH:MM [zone]`, `digest off`, and `digest` alone
//! to see it. Composing and posting it is [`crate::watch::digest`]'s; this is the
//! conversation.

use std::sync::Arc;

use super::args::Args;
use super::{Command, UsageError, Verb, shorten, targets};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context};
use crate::chat::Reply;
use crate::domain::markup::{mention, plain};
use crate::domain::{Action, Schedule};
use crate::messages as render;
use crate::store::DigestRow;

const USAGE: &str = "digest at HH:MM [time zone]";

pub(super) const VERBS: &[Verb] = &[Verb {
    action: Action::Digest,
    usage: "digest at HH:MM [time zone] | digest off | digest",
    summary: "one post a day in this channel: its followed jobs' last 24 h, expectations, what is disabled (default zone: UTC)",
    example: "digest at 09:00 Europe/Paris",
    parse: parse_digest,
}];

/// What `digest` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAsk {
    /// `digest at HH:MM [zone]`.
    At(Schedule),
    /// `digest off`.
    Off,
    /// `digest`: the channel's digest, as it is.
    Show,
}

fn parse_digest(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let ask = match args.take() {
        None => DigestAsk::Show,
        Some(word) if word.eq_ignore_ascii_case("off") => DigestAsk::Off,
        Some(word) if word.eq_ignore_ascii_case("at") => {
            let time = args.required("a time (HH:MM)")?;
            let zone = args.take();
            DigestAsk::At(Schedule::parse(time, zone).map_err(|e| args.error(e.to_string()))?)
        }
        Some(other) => {
            return Err(args.error(format!(
                "`digest` reads `digest at HH:MM [time zone]` or `digest off`, not `{}`: e.g. `digest at 09:00 Europe/Paris`.",
                shorten(other, 40)
            )));
        }
    };
    Ok(Command::Digest(ask))
}

pub(super) async fn digest(bot: &Arc<Bot>, ctx: &Context, ask: DigestAsk) -> Answer {
    bot.authorize(ctx, Action::Digest, &[], Audit::No).await?;
    match ask {
        DigestAsk::At(schedule) => set(bot, ctx, schedule).await,
        DigestAsk::Off => off(bot, ctx).await,
        DigestAsk::Show => show(bot, ctx).await,
    }
}

async fn set(bot: &Arc<Bot>, ctx: &Context, schedule: Schedule) -> Answer {
    let row = DigestRow {
        channel_id: ctx.channel.to_string(),
        at_minute: schedule.minute(),
        tz: schedule.tz.name().to_owned(),
        created_by: ctx.user.to_string(),
        created_at: bot.now_ms(),
        paused: None,
    };
    let new = bot.store().set_digest(&row).await.map_err(BotError::store(&ctx.reference, "cannot store a digest"))?;
    let now = bot.clock().now();
    let posted = bot
        .store()
        .digest_days(Some(ctx.channel.as_str()), bot.now_ms() - 2 * 86_400_000)
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read the digests posted"))?;
    // The poster's own rule (`Schedule::owed`), asked at today's time: today's is posted
    // unless that time has passed, today's was posted, or the last one is too recent.
    let (today, at) = (schedule.day_of(now), schedule.due(schedule.day_of(now)));
    let last = posted.iter().filter_map(|d| chrono::DateTime::from_timestamp_millis(d.posted_at)).max();
    let owed_today = at > now && schedule.owed(at, now, |day| posted.iter().any(|d| d.day == day.to_string()), last) == Some(today);
    let first = match owed_today {
        true => "The first one is today.",
        false => "The first one is tomorrow.",
    };
    let covered = covered(bot, ctx).await?;
    let follows = match covered.len() {
        0 => format!(
            " This channel follows no job yet: `/tailer subscribe {job}` or `/tailer expect {job} by HH:MM` adds one.",
            job = plain("<job>")
        ),
        n => format!(" It covers the {n} job{} this channel follows.", if n == 1 { "" } else { "s" }),
    };
    let text = format!(
        ":newspaper: This channel gets a digest every day at *{}*: the last 24 h of its jobs, its expectations, what is disabled — {} by {}. {first}{follows}",
        plain(&schedule.to_string()),
        if new { "set" } else { "changed" },
        mention(&ctx.user),
    );
    Ok(Ack::Message(Reply::in_channel(render::note(&text))))
}

async fn off(bot: &Arc<Bot>, ctx: &Context) -> Answer {
    let had = bot.store().digest_off(ctx.channel.as_str()).await.map_err(BotError::store(&ctx.reference, "cannot stop a digest"))?;
    Ok(match had {
        Some(_) => Ack::Message(Reply::in_channel(render::note(&format!(
            ":no_bell: This channel no longer gets a daily digest — stopped by {}.",
            mention(&ctx.user)
        )))),
        None => Ack::note(&format!("This channel has no digest. `/tailer {}` sets one.", plain(USAGE))),
    })
}

async fn show(bot: &Arc<Bot>, ctx: &Context) -> Answer {
    let read = BotError::store(&ctx.reference, "cannot read the digest");
    let Some(row) = bot.store().digest(ctx.channel.as_str()).await.map_err(read)? else {
        return Ok(Ack::note(&format!("This channel has no digest. `/tailer {}` sets one.", plain(USAGE))));
    };
    let at = Schedule::stored(row.at_minute, &row.tz).map(|s| s.to_string()).unwrap_or_else(|| row.tz.clone());
    let since = chrono::DateTime::from_timestamp_millis(row.created_at).unwrap_or_default();
    let jobs = covered(bot, ctx).await?;
    let names: Vec<String> = jobs.iter().take(20).map(|j| format!("`{}`", j.name)).collect();
    let more = if jobs.len() > names.len() { format!(" and {} more", jobs.len() - names.len()) } else { String::new() };
    let mut text = format!(
        ":newspaper: This channel's digest: every day at *{}* — set by {} {}.\nIt covers {}.",
        plain(&at),
        mention(&row.created_by),
        render::when(since),
        if jobs.is_empty() { "no job: this channel follows none".to_owned() } else { format!("{}{more}", names.join(", ")) }
    );
    let last =
        bot.store().digest_days(Some(ctx.channel.as_str()), 0).await.map_err(BotError::store(&ctx.reference, "cannot read the digest"))?;
    if let Some(day) = last.last() {
        text.push_str(&format!("\nLast posted for {}.", day.day));
    }
    if let Some(why) = &row.paused {
        text.push_str(&format!(
            "\n:double_vertical_bar: *Paused*: I could not post it here ({}); invite me, then `/tailer digest at ...` again.",
            plain(&shorten(why, 80))
        ));
    }
    Ok(Ack::note(&text))
}

/// The jobs this channel's digest covers now.
async fn covered<'a>(bot: &'a Bot, ctx: &Context) -> Result<Vec<&'a crate::config::Job>, BotError> {
    let channel = Some(ctx.channel.as_str());
    let subscriptions =
        bot.store().subscriptions(channel).await.map_err(BotError::store(&ctx.reference, "cannot read the subscriptions"))?;
    let expectations = bot.store().expectations(channel).await.map_err(BotError::store(&ctx.reference, "cannot read the expectations"))?;
    let targets: Vec<String> = subscriptions.into_iter().map(|s| s.target).collect();
    let expected: Vec<String> = expectations.into_iter().map(|e| e.job).collect();
    Ok(targets::followed(bot.config(), &targets, &expected))
}
