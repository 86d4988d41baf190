//! Launches: noted before Tailer is asked (so that one interrupted by a crash is taken
//! over, never made again), then followed on a card; and how the run a launch made is
//! told apart from the job's other runs when Tailer's answer was lost.

use std::sync::Arc;

use chrono::NaiveDate;

use super::apart::{Looking, own_run};

use crate::bot::{Bot, Context, Follower};
use crate::config::Job;
use crate::messages as render;
use crate::store::{AuditOutcome, KnownRun};
use crate::tailer::LaunchError;

/// What happened to one job of a write.
pub(super) struct Outcome {
    pub line: String,
    pub audit: AuditOutcome,
    pub answer: String,
}

pub(super) async fn launch(bot: &Arc<Bot>, ctx: &Context, job: &Job, execution_date: Option<NaiveDate>) -> Outcome {
    // Noted first: if this replica dies before the run is followed, another one finds
    // the run and follows it (never launching again).
    let journal = crate::store::LaunchRow {
        key: format!("{}:{}", ctx.reference, job.name),
        job: job.name.to_string(),
        channel_id: ctx.channel.to_string(),
        user_id: ctx.user.to_string(),
        reference: ctx.reference.clone(),
        started_at: bot.now_ms(),
        run_id: None,
        execution_date: execution_date.map(|d| d.to_string()),
    };
    if let Err(error) = bot.store().begin_launch(&journal, bot.now_ms()).await {
        tracing::error!(%error, "cannot note the launch before making it; not launching");
        return Outcome {
            line: format!(
                ":x: Did not launch {}: I cannot reach my database, and a launch I cannot follow is not made. (ref `{}`)",
                render::job_label(job),
                ctx.reference
            ),
            audit: AuditOutcome::Failed,
            answer: error.to_string(),
        };
    }
    let (outcome, followed) = launch_now(bot, ctx, job, execution_date).await;
    let settled = if followed && outcome.audit == AuditOutcome::Unknown {
        // It may have started a run nobody can tell apart: other launches of the job
        // made about then must not take it for theirs.
        bot.store().end_launch_unknown(&journal.key).await
    } else if followed {
        let run = (outcome.audit == AuditOutcome::Succeeded).then_some(outcome.answer.as_str());
        bot.store().end_launch(&journal.key, run).await
    } else {
        // Launched but not on its card (the store failed): left for the recovery,
        // which follows the run once the store is back.
        let run = (outcome.audit == AuditOutcome::Succeeded).then_some(outcome.answer.as_str());
        bot.store().retry_launch(&journal.key, run, bot.now_ms() + 5_000).await
    };
    if let Err(error) = settled {
        tracing::error!(%error, "cannot note how the launch ended; it will be looked at again (never relaunched)");
    }
    outcome
}

/// Launches, and follows the run on a card; false when the run could not be followed.
async fn launch_now(bot: &Arc<Bot>, ctx: &Context, job: &Job, execution_date: Option<NaiveDate>) -> (Outcome, bool) {
    let label = render::job_label(job);
    let started = bot.clock().now();
    let run = match bot.tailer().launch_job(&job.job, execution_date).await {
        Ok(run) => run,
        Err(LaunchError::NotLaunched(error)) => {
            tracing::warn!(%error, job = %job.name, "a launch failed: nothing was launched");
            return (
                Outcome {
                    line: render::outcomes::not_launched(&label, &error.to_string(), &ctx.reference),
                    audit: AuditOutcome::Failed,
                    answer: error.to_string(),
                },
                true,
            );
        }
        Err(LaunchError::OutcomeUnknown(error)) => {
            tracing::warn!(%error, job = %job.name, "launch outcome unknown; looking for the run");
            let me = Looking { started_ms: started.timestamp_millis(), channel: ctx.channel.as_str(), user: ctx.user.as_str() };
            match own_run(bot, job, me, &[], &[]).await {
                Ok(Some(run)) => run,
                _ => {
                    return (
                        Outcome {
                            line: render::outcomes::launch_unknown(&label, job.name.as_str(), &error.to_string(), &ctx.reference),
                            audit: AuditOutcome::Unknown,
                            answer: error.to_string(),
                        },
                        true,
                    );
                }
            }
        }
    };
    crate::crash::point(crate::crash::AFTER_TAILER_LAUNCH);
    let known = KnownRun {
        run_id: run.to_string(),
        job: job.name.to_string(),
        channel_id: Some(ctx.channel.to_string()),
        launched_by: Some(ctx.user.to_string()),
        created_at: bot.now_ms(),
    };
    if let Err(error) = bot.store().remember_run(&known).await {
        tracing::error!(%error, run = %run, "cannot remember the launched run");
    }
    let followed = match bot.start_watching(job, run.as_str(), &ctx.channel, Follower::Launcher(&ctx.user), execution_date, None).await {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(%error, run = %run, "cannot start watching the launched run; it is followed once the store is back");
            false
        }
    };
    let outcome =
        Outcome { line: render::outcomes::launched(&label, run.as_str()), audit: AuditOutcome::Succeeded, answer: run.to_string() };
    (outcome, followed)
}
