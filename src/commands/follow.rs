//! Following runs and jobs from a channel: `watch` / `unwatch` a run (a card and its
//! thread), `subscribe` / `unsubscribe` / `subscriptions` for finished runs however they
//! were started. The machinery is the watcher's; this is the conversation.

use std::sync::Arc;

use super::args::{Args, run_shaped};
use super::runs::{readable, same_job};
use super::{Command, SubscriptionFilter, Target, UsageError, Verb, shorten, targets};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context, Follower};
use crate::chat::Message;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::markup::plain;
use crate::domain::{Action, JobName, RunId};
use crate::messages::{self as render, Links};
use crate::store::SubscriptionRow;
use crate::tailer::LastStatusQuery;

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Watch,
        usage: "watch [<job>] <run_id>",
        summary: "follow an existing run in this channel",
        example: "watch iowa-prepare 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179",
        parse: parse_watch,
    },
    Verb {
        action: Action::Unwatch,
        usage: "unwatch <run_id>",
        summary: "stop following a run in this channel",
        example: "unwatch 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179",
        parse: |args| Ok(Command::Unwatch { run: args.run()? }),
    },
    Verb {
        action: Action::Subscribe,
        usage: "subscribe <job>|tag:<tag>|all [failures|all]",
        summary: "tell this channel about finished runs, however they were started (default: all)",
        example: "subscribe tag:daily failures",
        parse: parse_subscribe,
    },
    Verb {
        action: Action::Unsubscribe,
        usage: "unsubscribe <job>|tag:<tag>|all",
        summary: "stop a subscription of this channel",
        example: "unsubscribe tag:daily",
        parse: |args| Ok(Command::Unsubscribe { target: args.target(true)? }),
    },
    Verb {
        action: Action::Subscriptions,
        usage: "subscriptions",
        summary: "this channel's subscriptions",
        example: "subscriptions",
        parse: |_| Ok(Command::Subscriptions),
    },
];

fn parse_watch(args: &mut Args<'_>) -> Result<Command, UsageError> {
    Ok(match args.args.len() {
        0 => return Err(args.error("`watch` needs a run id (and its job, unless the bot launched or follows the run).")),
        1 if run_shaped(args.args[0]) => Command::Watch { job: None, run: args.run()? },
        1 => return Err(args.error(format!("`watch` needs a run id after the job: `watch {} <run_id>`.", shorten(args.args[0], 60)))),
        _ => Command::Watch { job: Some(args.job()?), run: args.run()? },
    })
}

fn parse_subscribe(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let target = args.target(true)?;
    let filter = match args.take().map(str::to_ascii_lowercase).as_deref() {
        None | Some("all") => SubscriptionFilter::All,
        Some("failures") => SubscriptionFilter::Failures,
        Some(other) => return Err(args.error(format!("`{}` is neither `failures` nor `all`.", shorten(other, 40)))),
    };
    Ok(Command::Subscribe { target, filter })
}

/// `watch [<job>] <run>`: a run alone is read as the job the bot knows it by.
pub(super) async fn watch(bot: &Arc<Bot>, ctx: &Context, named: Option<&JobName>, run: &RunId) -> Answer {
    let job = match named {
        Some(name) => {
            let job = readable(bot, ctx, Action::Watch, name).await?;
            same_job(bot, ctx, Action::Watch, run, name).await?;
            job
        }
        None => {
            let owner = bot
                .store()
                .job_of_run(run.as_str())
                .await
                .map_err(BotError::store(&ctx.reference, "cannot read which job a run belongs to"))?;
            let Some(name) = owner else {
                return Err(BotError::user(format!(
                    "I don't know which job run `{run}` belongs to (I did not launch it and no channel follows it). Name it: `/tailer watch {} {run}`.",
                    plain("<job>")
                )));
            };
            let Some(job) = bot.config().job(&name).cloned() else {
                return Err(BotError::user(format!("Run `{run}` belongs to `{name}`, which is no longer in the catalog.")));
            };
            bot.authorize(ctx, Action::Watch, &[&job], Audit::No).await?;
            job
        }
    };
    watch_job_run(bot, ctx, &job, run).await
}

async fn watch_job_run(bot: &Arc<Bot>, ctx: &Context, job: &Job, run: &RunId) -> Answer {
    let followed = bot.store().watch(run.as_str()).await.map_err(BotError::store(&ctx.reference, "cannot read the run"))?;
    if followed.is_some_and(|w| w.active) {
        // Followed elsewhere: the new card starts from what the watcher last saw.
        return Ok(Ack::Message(start_card(bot, ctx, job, run, None).await?));
    }
    // A run no channel follows now (one that ended, maybe) is asked for once, after the
    // answer, so that its card starts where the run is, not at "waiting".
    let (later, job, run, asked) = (bot.clone(), job.clone(), run.clone(), ctx.clone());
    bot.after_ack(ctx.clone(), async move {
        let seen = later.tailer().check_run_status(&job.job, &run).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the run before posting its card; the watcher will");
            None
        });
        match start_card(&later, &asked, &job, &run, seen).await {
            Ok(body) => body,
            Err(error) => match later.answer_to(Err(error)) {
                Ack::Message(body) => body,
                Ack::Empty | Ack::FieldErrors(_) => Reply::ephemeral(render::note("Nothing was done.")),
            },
        }
    });
    Ok(Ack::Empty)
}

/// Posts the run's card here (from `seen`, when Tailer was just asked); what to tell the
/// person who asked.
async fn start_card(bot: &Bot, ctx: &Context, job: &Job, run: &RunId, seen: Option<crate::tailer::RunItem>) -> Result<Reply, BotError> {
    let started = bot
        .start_watching(job, run.as_str(), &ctx.channel, Follower::Watcher(&ctx.user), None, seen)
        .await
        .map_err(BotError::store(&ctx.reference, "cannot start a watch"))?;
    let text = match started {
        true => {
            format!(":eyes: Following run `{}` of {} here: its card follows it to the end.", plain(run.as_str()), render::job_label(job))
        }
        false => format!("This channel already follows run `{}`.", plain(run.as_str())),
    };
    Ok(Reply::ephemeral(render::note(&text)))
}

pub(super) async fn unwatch(bot: &Arc<Bot>, ctx: &Context, run: &RunId) -> Answer {
    bot.authorize(ctx, Action::Unwatch, &[], Audit::No).await?;
    // The card as it was, to say on it that it is no longer followed.
    let card =
        bot.store().cards(run.as_str()).await.ok().and_then(|cards| cards.into_iter().find(|c| c.channel_id == ctx.channel.as_str()));
    let stopped =
        bot.store().unwatch(run.as_str(), ctx.channel.as_str()).await.map_err(BotError::store(&ctx.reference, "cannot stop a watch"))?;
    Ok(match stopped {
        true => {
            if let Some(card) = card {
                card_no_longer_followed(bot, ctx, &card).await;
            }
            Ack::note(&format!(":see_no_evil: This channel no longer follows run `{}`.", plain(run.as_str())))
        }
        false => Ack::note(&format!("This channel does not follow run `{}`.", plain(run.as_str()))),
    })
}

/// Edits an unwatched run's card: its last known state, and that it is no longer
/// followed here (rather than a status frozen as if it were).
async fn card_no_longer_followed(bot: &Bot, ctx: &Context, card: &crate::store::CardRow) {
    let watch = match bot.store().watch(&card.run_id).await {
        Ok(Some(watch)) => watch,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot read the run to edit its card; the card keeps its last state");
            return;
        }
    };
    let Some(job) = bot.config().job(&watch.job) else { return };
    let item = watch.item.as_deref().and_then(|i| serde_json::from_str::<crate::tailer::RunItem>(i).ok());
    let note = format!("No longer followed in this channel (unwatched by {}).", crate::domain::markup::mention(&ctx.user));
    bot.outbox()
        .enqueue(vec![crate::messages::cards::update(bot.outbox(), Links::of(bot.config()), job, card, item.as_ref(), false, Some(&note))])
        .await;
}

/// The jobs of a target this person may (un)subscribe to; the error is for the user.
async fn subscribable(bot: &Arc<Bot>, ctx: &Context, target: &Target, action: Action) -> Result<Vec<Job>, BotError> {
    let jobs = targets::jobs(bot.config(), target).map_err(BotError::User)?;
    bot.authorize(ctx, action, &jobs, Audit::No).await?;
    Ok(jobs.into_iter().cloned().collect())
}

pub(super) async fn subscribe(bot: &Arc<Bot>, ctx: Context, target: &Target, filter: SubscriptionFilter) -> Answer {
    let jobs = subscribable(bot, &ctx, target, Action::Subscribe).await?;
    let row = SubscriptionRow {
        channel_id: ctx.channel.to_string(),
        target: target.to_string(),
        filter: filter.as_str().to_owned(),
        created_by: ctx.user.to_string(),
        created_at: bot.now_ms(),
    };
    let new = bot.store().subscribe(&row).await.map_err(BotError::store(&ctx.reference, "cannot store a subscription"))?;
    let what = match filter {
        SubscriptionFilter::All => "every finished run",
        SubscriptionFilter::Failures => "every failed run",
    };
    let text = format!(
        ":bell: This channel will hear about {what} of `{}` ({} job{}) — {} by {}.",
        plain(&target.to_string()),
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        if new { "subscribed" } else { "subscription changed" },
        crate::domain::markup::mention(&ctx.user)
    );
    // Runs already finished are not news: mark them known, after the answer.
    let later = bot.clone();
    let channel = ctx.channel.to_string();
    bot.tasks().spawn(async move { mark_history_known(&later, &channel, &jobs).await });
    Ok(Ack::Message(Reply::in_channel(render::note(&text))))
}

/// Marks the runs already final as known in a channel, so that a new subscription
/// does not replay history. Should Tailer fail now, runs whose end time is known are
/// still filtered by the subscription's creation time.
async fn mark_history_known(bot: &Bot, channel: &str, jobs: &[Job]) {
    let query = LastStatusQuery { limit: Some(crate::tailer::RUNS_PER_READ), ..LastStatusQuery::default() };
    for job in jobs {
        match bot.tailer().get_last_status(&job.job, &query).await {
            Ok(items) => {
                for item in items.iter().filter(|i| i.status.is_final()) {
                    if let Err(error) = bot.store().mark_announced(channel, item.run_id.as_str(), bot.now_ms()).await {
                        tracing::warn!(%error, "cannot record a subscription's starting point");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, job = %job.name, "cannot read the runs before a subscription; relying on end times"),
        }
    }
}

pub(super) async fn unsubscribe(bot: &Arc<Bot>, ctx: &Context, target: &Target) -> Answer {
    subscribable(bot, ctx, target, Action::Unsubscribe).await?;
    let removed = bot
        .store()
        .unsubscribe(ctx.channel.as_str(), &target.to_string())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot remove a subscription"))?;
    Ok(match removed {
        true => Ack::Message(Reply::in_channel(render::note(&format!(
            ":no_bell: This channel no longer hears about `{}` — unsubscribed by {}.",
            plain(&target.to_string()),
            crate::domain::markup::mention(&ctx.user)
        )))),
        false => Ack::note(&format!(
            "This channel has no subscription to `{}`. `/tailer subscriptions` lists what it has.",
            plain(&target.to_string())
        )),
    })
}

pub(super) async fn list(bot: &Arc<Bot>, ctx: &Context) -> Answer {
    bot.authorize(ctx, Action::Subscriptions, &[], Audit::No).await?;
    let rows = bot
        .store()
        .subscriptions(Some(ctx.channel.as_str()))
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read subscriptions"))?;
    Ok(match rows {
        rows if rows.is_empty() => Ack::note(&format!(
            "This channel has no subscription. `/tailer subscribe {}` adds one.",
            plain("<job>|tag:<tag>|all [failures]")
        )),
        rows => {
            let mut m = Message::new("Subscriptions of this channel");
            m.section("*Subscriptions of this channel*");
            let lines: Vec<String> = rows
                .iter()
                .map(|r| {
                    let since = chrono::DateTime::from_timestamp_millis(r.created_at).unwrap_or_default();
                    format!(
                        "• `{}` — {} — by {} since {}",
                        plain(&r.target),
                        plain(&r.filter),
                        crate::domain::markup::mention(&r.created_by),
                        render::when(since)
                    )
                })
                .collect();
            m.lines(&lines, 0);
            Ack::ephemeral(m)
        }
    })
}
