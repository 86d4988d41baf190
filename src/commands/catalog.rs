//! `help` and `jobs`: what the bot can do, and which jobs this person may see. Both are
//! answered at once, from the declarations and the catalog.

use super::args::Args;
use super::{Command, UsageError, Verb, help_for, help_lines, shorten};
use crate::bot::{Ack, Bot, Context};
use crate::chat::Message;
use crate::config::Job;
use crate::domain::Action;
use crate::domain::markup::plain;
use crate::messages::{self as render, note};

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Help,
        usage: "help [verb]",
        summary: "this list, or the details of one verb",
        example: "help disable",
        parse: parse_help,
    },
    Verb {
        action: Action::Jobs,
        usage: "jobs [filter]",
        summary: "the jobs you may see, by name, tag, environment or description",
        example: "jobs iowa",
        parse: parse_jobs,
    },
];

fn parse_help(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let topic = match args.take() {
        None => None,
        Some(word) => Some(Action::from_name(&word.to_ascii_lowercase()).ok_or_else(|| {
            args.error(format!("`{}` is not a command. The commands: {}.", shorten(word, 40), Action::ALL.map(Action::name).join(", ")))
        })?),
    };
    Ok(Command::Help(topic))
}

fn parse_jobs(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let filter = args.rest().join(" ");
    Ok(Command::Jobs { filter: (!filter.is_empty()).then(|| shorten(&filter, 100)) })
}

/// `help` is for everyone: it names no job.
pub(super) fn help(topic: Option<Action>) -> Ack {
    Ack::ephemeral(help_message(topic))
}

/// The list of verbs, or one verb's details.
pub fn help_message(topic: Option<Action>) -> Message {
    if let Some(action) = topic {
        return note(&plain(&help_for(action)));
    }
    let mut m = Message::new("tailerbot commands");
    // Escaped like the lines below: Slack would take a bare `<job>` for a link.
    m.section(&plain("*Drive Tailer from Slack.* `<job>` is a name from `/tailer jobs`; `tag:<tag>` targets every job with that tag."));
    m.lines(&help_lines().iter().map(|l| plain(l)).collect::<Vec<_>>(), 1);
    m.context(&plain("`/tailer help <verb>` shows the details and an example."));
    m
}

/// The jobs this person may see here, matching the filter by name, environment, tag or
/// description.
pub(super) async fn jobs(bot: &Bot, ctx: &Context, filter: Option<&str>) -> Ack {
    let needle = filter.map(str::to_ascii_lowercase);
    let matching: Vec<&Job> = bot
        .config()
        .jobs
        .iter()
        .filter(|job| {
            needle.as_deref().is_none_or(|n| {
                job.name.as_str().to_ascii_lowercase().contains(n)
                    || job.job.environment.as_str().eq_ignore_ascii_case(n)
                    || job.tags.iter().any(|t| t.eq_ignore_ascii_case(n))
                    || job.description.as_deref().is_some_and(|d| d.to_ascii_lowercase().contains(n))
            })
        })
        .collect();
    let visible = bot.visible(ctx, Action::Jobs, matching).await;
    Ack::ephemeral(render::jobs(&visible, filter))
}
