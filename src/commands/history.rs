//! `history <job> [N]`: the job's last runs as a chart uploaded into the channel, with a
//! summary. Read after the acknowledgement; drawn off the async workers; uploaded
//! through the outbox, so that a 429 or a restart loses nothing.

use std::sync::Arc;

use super::args::Args;
use super::runs::{readable, tailer_failed};
use super::{Command, UsageError, Verb, shorten};
use crate::bot::{Answer, Bot, Context};
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::{Action, JobName};
use crate::history::{self, HISTORY_DEFAULT, HISTORY_MAX, Summary};
use crate::messages::{self as render, Links};
use crate::outbox::{OutboxBody, OutboxMessage, Upload};
use crate::tailer::LastStatusQuery;

pub(super) const VERBS: &[Verb] = &[Verb {
    action: Action::History,
    usage: "history <job> [N]",
    summary: "a chart of a job's last runs (N up to 100, default 30), with a summary",
    example: "history sales-daily 30",
    parse: parse_history,
}];

fn parse_history(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let limit = match args.take() {
        None => HISTORY_DEFAULT,
        Some(word) => match word.parse::<u32>() {
            Ok(n) if (1..=HISTORY_MAX).contains(&n) => n,
            Ok(_) => return Err(args.error(format!("N must be between 1 and {HISTORY_MAX}."))),
            Err(_) => return Err(args.error(format!("`{}` is not a number of runs.", shorten(word, 40)))),
        },
    };
    Ok(Command::History { job, limit })
}

pub(super) async fn history(bot: &Arc<Bot>, ctx: Context, name: &JobName, limit: u32) -> Answer {
    let job = readable(bot, &ctx, Action::History, name).await?;
    let bot2 = bot.clone();
    let asker = ctx.clone();
    bot.after_ack_maybe(ctx, async move { chart(&bot2, &asker, &job, limit).await });
    Ok(crate::bot::Ack::Empty)
}

/// Reads the runs, draws them and queues the upload; what the asker alone is told.
async fn chart(bot: &Bot, ctx: &Context, job: &Job, limit: u32) -> Option<Reply> {
    let query = LastStatusQuery { limit: Some(limit), ..LastStatusQuery::default() };
    let items = match bot.tailer().get_last_status(&job.job, &query).await {
        Ok(items) => items,
        Err(error) => return Some(Reply::ephemeral(tailer_failed(&error, &ctx.reference))),
    };
    if items.is_empty() {
        return Some(Reply::ephemeral(render::note(&format!("{} has no runs yet: there is nothing to draw.", render::job_label(job)))));
    }
    let summary = Summary::of(&items);
    let mut message = history::summary_message(Links::of(bot.config()), job, &summary, &items);
    message.context(&format!("Asked by {}: `history {} {limit}`", crate::domain::markup::mention(&ctx.user), job.name));
    let title = history::title(job, items.len());
    let bars = history::bars(&items);
    let drawn = {
        let (title, summary) = (title.clone(), summary.clone());
        tokio::task::spawn_blocking(move || history::chart::render(&title, &bars, &summary)).await
    };
    let failed = match drawn {
        Ok(Ok(png)) => Ok(png),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(panic.to_string()),
    };
    let png = match failed {
        Ok(png) => png,
        Err(error) => {
            tracing::error!(%error, job = %job.name, "cannot draw a history chart; sending the summary alone");
            message.context(&format!(":warning: I could not draw the chart (ref `{}`).", ctx.reference));
            return Some(Reply::in_channel(message));
        }
    };
    let file = Upload {
        filename: format!("history-{}-{}.png", job.name, bot.clock().now().format("%Y-%m-%d")),
        title,
        alt_text: history::alt_text(job, &summary),
        bytes: png,
    };
    let message = bot.outbox().render(&message);
    let body = OutboxBody::plain(message.text, message.blocks);
    // Under the thread it was asked in (a mention), else in the channel.
    let upload = OutboxMessage::upload(format!("history:{}", ctx.reference), ctx.channel.to_string(), ctx.thread.clone(), body, file);
    bot.outbox().enqueue(vec![upload.asked_by(Some(ctx.user.to_string()))]).await;
    None
}
