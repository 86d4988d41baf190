//! `status`, `last` and `running`: what Tailer says about runs. The rules are checked
//! for the job named (or, for a run alone, the job the bot knows it by) before Tailer is
//! asked, after the acknowledgement; `running` shows only the jobs this person may see.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;

use super::args::{Args, date, date_shaped, not_a_date, run_shaped};
use super::{Command, LAST_DEFAULT, LAST_MAX, UsageError, Verb, shorten, targets};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context};
use crate::chat::Message;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::markup::plain;
use crate::domain::{Action, ConfigurationType, JobName, RunId};
use crate::messages::{self as render, Links};
use crate::tailer::{ByStatusQuery, JobRef, LastStatusQuery, RunItem, RunStatus, TailerError};

pub(super) const VERBS: &[Verb] = &[
    Verb {
        action: Action::Status,
        usage: "status [<job>] <run_id> | status <job>",
        summary: "one run's status, or a job's latest run",
        example: "status iowa-prepare 20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179",
        parse: parse_status,
    },
    Verb {
        action: Action::Last,
        usage: "last <job> [N] [STATUS] [YYYY-MM-DD]",
        summary: "a job's last runs, newest first (N up to 50, default 5)",
        example: "last sales-daily 10 FAILED",
        parse: parse_last,
    },
    Verb {
        action: Action::Running,
        usage: "running [configuration_type]",
        summary: "runs in progress across the catalog's accounts",
        example: "running table-to-table",
        parse: parse_running,
    },
];

fn parse_status(args: &mut Args<'_>) -> Result<Command, UsageError> {
    Ok(match args.args.len() {
        0 => {
            return Err(
                args.error("`status` needs a job or a run: `status <job>` shows its latest run, `status [<job>] <run_id>` one run.")
            );
        }
        // A run id alone; anything else is read as a job, whose latest run is shown.
        1 if run_shaped(args.args[0]) => Command::Status { job: None, run: args.run()? },
        1 => Command::Latest { job: args.job()? },
        _ => Command::Status { job: Some(args.job()?), run: args.run()? },
    })
}

fn parse_last(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let job = args.job()?;
    let (mut limit, mut status, mut execution_date) = (None, None, None);
    for word in args.rest() {
        if let Ok(n) = word.parse::<u32>() {
            if !(1..=LAST_MAX).contains(&n) {
                return Err(args.error(format!("N must be between 1 and {LAST_MAX}.")));
            }
            if limit.replace(n).is_some() {
                return Err(args.error("N is given twice."));
            }
        } else if let Some(d) = date(word) {
            if execution_date.replace(d).is_some() {
                return Err(args.error("The date is given twice."));
            }
        } else if date_shaped(word) {
            return Err(args.error(not_a_date(word)));
        } else if let Some(s) = args.status(word) {
            if status.replace(s).is_some() {
                return Err(args.error("The status is given twice."));
            }
        } else {
            return Err(args.error(format!(
                "`{}` is neither a number, a status (WAITING, RUNNING, SUCCESS, FAILED, CHECKED, NO_MATCH, DEACTIVATED) nor a date (YYYY-MM-DD).",
                shorten(word, 40)
            )));
        }
    }
    Ok(Command::Last { job, limit: limit.unwrap_or(LAST_DEFAULT), status, execution_date })
}

fn parse_running(args: &mut Args<'_>) -> Result<Command, UsageError> {
    let configuration_type = match args.take() {
        None => None,
        Some(word) => Some(ConfigurationType::parse(word).map_err(|e| args.error(format!("{e}.")))?),
    };
    Ok(Command::Running { configuration_type })
}

/// A catalog job by the name typed, and whether this person may `action` it here.
pub(super) async fn readable(bot: &Arc<Bot>, ctx: &Context, action: Action, name: &JobName) -> Result<Job, BotError> {
    let job = targets::job(bot.config(), name).map_err(BotError::User)?.clone();
    bot.authorize(ctx, action, &[&job], Audit::No).await?;
    Ok(job)
}

/// A run named with the wrong job would show, or follow, another job's run under this
/// one's name: refused, naming the right job.
pub(super) async fn same_job(bot: &Bot, ctx: &Context, action: Action, run: &RunId, named: &JobName) -> Result<(), BotError> {
    match bot.other_job_of(ctx, run.as_str(), named.as_str()).await? {
        Some(owner) => {
            let verb = action.name();
            Err(BotError::user(format!("Run `{run}` belongs to `{owner}`, not `{named}`. Did you mean `/tailer {verb} {owner} {run}`?")))
        }
        None => Ok(()),
    }
}

/// `status [<job>] <run>`: a run alone is read as the job the bot knows it by.
pub(super) async fn status(bot: &Arc<Bot>, ctx: Context, named: Option<&JobName>, run: RunId) -> Answer {
    let job = match named {
        Some(name) => {
            let job = readable(bot, &ctx, Action::Status, name).await?;
            same_job(bot, &ctx, Action::Status, &run, name).await?;
            job
        }
        None => match bot.store().known_run(run.as_str()).await {
            Ok(Some(known)) => match bot.config().job(&known.job) {
                Some(job) => {
                    bot.authorize(&ctx, Action::Status, &[job], Audit::No).await?;
                    job.clone()
                }
                None => {
                    return Err(BotError::user(format!("Run `{run}` belongs to `{}`, which is no longer in the catalog.", known.job)));
                }
            },
            Ok(None) => {
                return Err(BotError::user(format!(
                    "I don't know which job run `{run}` belongs to. Name it: `/tailer status {} {run}`.",
                    plain("<job>")
                )));
            }
            // Tailer can still answer when the job is named: say so.
            Err(error) => {
                tracing::error!(%error, "cannot read known runs");
                return Err(BotError::user(format!(
                    ":warning: My database is unavailable; name the job: `/tailer status {} {run}`. (ref `{}`)",
                    plain("<job>"),
                    ctx.reference
                )));
            }
        },
    };
    let tailer = bot.tailer().clone();
    let config = bot.config().clone();
    let reference = ctx.reference.clone();
    bot.after_ack(ctx, async move {
        let message = match tailer.check_run_status(&job.job, &run).await {
            Ok(Some(item)) => render::run(Links::of(&config), Some(&job), &item),
            Ok(None) => render::note(&format!(
                "Tailer has no status for run `{run}` of {} yet: a run that was just launched can take a moment to show.",
                render::job_label(&job)
            )),
            Err(error) => tailer_failed(&error, &reference),
        };
        Reply::ephemeral(message)
    });
    Ok(Ack::Empty)
}

/// `status <job>`: the job's latest run.
pub(super) async fn latest(bot: &Arc<Bot>, ctx: Context, name: &JobName) -> Answer {
    let job = readable(bot, &ctx, Action::Status, name).await?;
    let tailer = bot.tailer().clone();
    let config = bot.config().clone();
    let reference = ctx.reference.clone();
    bot.after_ack(ctx, async move {
        let query = LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() };
        let message = match tailer.get_last_status(&job.job, &query).await {
            Ok(items) => match items.first() {
                Some(item) => render::run(Links::of(&config), Some(&job), item),
                None => render::note(&format!("{} has no runs yet.", render::job_label(&job))),
            },
            Err(error) => tailer_failed(&error, &reference),
        };
        Reply::ephemeral(message)
    });
    Ok(Ack::Empty)
}

pub(super) async fn last(
    bot: &Arc<Bot>,
    ctx: Context,
    name: &JobName,
    limit: u32,
    status: Option<RunStatus>,
    execution_date: Option<NaiveDate>,
) -> Answer {
    let job = readable(bot, &ctx, Action::Last, name).await?;
    let tailer = bot.tailer().clone();
    let config = bot.config().clone();
    let reference = ctx.reference.clone();
    bot.after_ack(ctx, async move {
        let query = LastStatusQuery { execution_date, status, limit: Some(limit) };
        let message = match tailer.get_last_status(&job.job, &query).await {
            Ok(items) => {
                let filter = render::RunFilter { status: query.status.as_ref(), execution_date };
                render::last_runs(Links::of(&config), &job, filter, &items)
            }
            Err(error) => tailer_failed(&error, &reference),
        };
        Reply::ephemeral(message)
    });
    Ok(Ack::Empty)
}

/// Runs in RUNNING or WAITING among the jobs this person may see.
pub(super) async fn running(bot: &Arc<Bot>, ctx: Context, configuration_type: Option<ConfigurationType>) -> Answer {
    let visible: Vec<Job> = bot.visible(&ctx, Action::Running, &bot.config().jobs).await.into_iter().cloned().collect();
    // A type none of these jobs has would always answer "nothing running".
    if let Some(wanted) = &configuration_type {
        let types: BTreeSet<&str> = visible.iter().map(|j| j.job.configuration_type.as_str()).collect();
        let known = types.contains(wanted.as_str()) || (wanted.as_str() == "gbq-to-gbq" && types.contains("table-to-table"));
        if !known {
            let list = types.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
            return Err(BotError::user(format!(
                "`{wanted}` is not a configuration type of any job you may see here; they are: {}.",
                if list.is_empty() { "none".to_owned() } else { list }
            )));
        }
    }
    let bot2 = bot.clone();
    let reference = ctx.reference.clone();
    bot.after_ack(ctx, async move { Reply::ephemeral(running_now(&bot2, &visible, configuration_type.as_ref(), &reference).await) });
    Ok(Ack::Empty)
}

/// Runs in RUNNING or WAITING (started, waiting for their turn or a dependency) for every
/// account and type of the visible jobs.
async fn running_now(bot: &Bot, visible: &[Job], configuration_type: Option<&ConfigurationType>, reference: &str) -> Message {
    let mut found: Vec<(Option<&Job>, RunItem)> = Vec::new();
    for status in [RunStatus::Running, RunStatus::Waiting] {
        match runs_in(bot, visible, configuration_type, status).await {
            Ok(runs) => found.extend(runs.into_iter().map(|(job, item)| (Some(job), item))),
            Err(error) => return tailer_failed(&error, reference),
        }
    }
    render::running(Links::of(bot.config()), &found)
}

/// The runs in `status` (Tailer's latest 100 per account and type) of the `visible` jobs,
/// each with its job: one read per account and configuration type.
pub(crate) async fn runs_in<'a>(
    bot: &Bot,
    visible: &'a [Job],
    configuration_type: Option<&ConfigurationType>,
    status: RunStatus,
) -> Result<Vec<(&'a Job, RunItem)>, TailerError> {
    let pairs: BTreeSet<(String, String)> = visible
        .iter()
        .filter(|j| configuration_type.is_none_or(|t| &j.job.configuration_type == t))
        .map(|j| (j.job.account.to_string(), j.job.configuration_type.to_string()))
        .collect();
    let mut found = Vec::new();
    for (account, configuration_type) in pairs {
        let query = ByStatusQuery {
            account: crate::domain::Account::parse(&account).expect("taken from a parsed account"),
            configuration_type: ConfigurationType::parse(&configuration_type).expect("taken from a parsed type"),
            environment: None,
            status: Some(status.clone()),
            execution_date: None,
            limit: Some(100),
        };
        for item in bot.tailer().get_by_status(&query).await? {
            // Only runs of jobs this person may see.
            if let Some(job) = visible.iter().find(|j| same_operation(&j.job, &item)) {
                found.push((job, item));
            }
        }
    }
    Ok(found)
}

/// Whether a run item belongs to a configured data operation.
fn same_operation(job: &JobRef, item: &RunItem) -> bool {
    item.configuration_id.as_deref() == Some(job.configuration_id.as_str())
        && item.account.as_deref().is_none_or(|a| a == job.account.as_str())
}

/// What the user reads when Tailer failed a read.
pub(super) fn tailer_failed(error: &TailerError, reference: &str) -> Message {
    tracing::warn!(%error, "a Tailer call failed");
    render::note(&format!(":warning: {} (ref `{reference}`)", plain(&error.to_string())))
}
