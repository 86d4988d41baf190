//! Finishing one job of a write that a crash interrupted: a launch is never made again
//! (its journal says what became of it, or the launch recovery takes it over); any other
//! write is done again while it is recent (every one of them is idempotent), and
//! reported as unknown, with what to check, once the world may have moved on.

use std::sync::Arc;

use super::Plan;
use super::launch::Outcome;
use super::plan::re_enable_at;
use crate::bot::{Bot, Context};
use crate::config::Job;
use crate::domain::Action;
use crate::messages as render;
use crate::store::{AuditOutcome, WriteRow};

/// An interrupted write is done again only this soon after it was asked: later, the
/// world may have moved on (someone enabled the job by hand), and it is reported instead.
pub const REDO_WINDOW_MS: i64 = 10 * 60_000;

/// One job of an interrupted write: its outcome, and false when its audit is left to the
/// launch recovery; `None` when it is recent enough to be carried out again.
pub(super) async fn resume_job(
    bot: &Arc<Bot>,
    ctx: &Context,
    action: Action,
    job: &Job,
    plan: &Plan,
    journal: &WriteRow,
) -> Option<(Outcome, bool)> {
    let label = render::job_label(job);
    let now = bot.now_ms();
    if action == Action::Launch {
        let key = format!("{}:{}", journal.reference, job.name);
        return Some(match bot.store().launch_state(&key).await {
            // Settled before the crash: its run is on its card.
            Ok(Some((state, Some(run)))) if state == "done" => {
                (Outcome { line: render::outcomes::launched(&label, &run), audit: AuditOutcome::Succeeded, answer: run }, true)
            }
            // Settled without a run: refused, or not known (the channel was told then).
            Ok(Some((state, None))) if state != "calling" => (
                Outcome {
                    line: format!(
                        ":warning: I could not tell whether {label} was launched. Check `/tailer last {}` before launching it again. (ref `{}`)",
                        job.name, ctx.reference
                    ),
                    audit: AuditOutcome::Unknown,
                    answer: "settled before the restart without a run".into(),
                },
                true,
            ),
            // Tailer may have been asked: the launch recovery finds the run and follows it.
            Ok(Some(_)) | Err(_) => (
                Outcome {
                    line: format!(
                        ":rocket: {label}: the launch was under way when the bot stopped; its run is followed on a card here once found (or this channel is told)"
                    ),
                    audit: AuditOutcome::Unknown,
                    answer: "taken over by the launch recovery".into(),
                },
                false,
            ),
            Ok(None) => (
                Outcome {
                    line: format!(
                        ":x: Did not launch {label}: the bot stopped before asking Tailer. Launch it again if it is still needed. (ref `{}`)",
                        ctx.reference
                    ),
                    audit: AuditOutcome::Failed,
                    answer: "interrupted before Tailer was asked".into(),
                },
                true,
            ),
        });
    }
    let due = re_enable_at(journal, plan);
    let recent = now - journal.started_at <= REDO_WINDOW_MS && due.is_none_or(|d| d.timestamp_millis() > now);
    if recent {
        tracing::warn!(job = %job.name, "finishing a write interrupted by a restart");
        return None;
    }
    tracing::warn!(job = %job.name, "a write was interrupted too long ago to be done again; reporting it as unknown");
    let mut line = render::outcomes::interrupted_unknown(action.name(), &label, &plan.command_text(), &ctx.reference);
    if let Some(due) = due.filter(|d| d.timestamp_millis() > now) {
        line.push_str(&format!(" Its re-enable stays scheduled for {}.", render::when(due)));
    }
    Some((Outcome { line, audit: AuditOutcome::Unknown, answer: "interrupted; outcome unknown".into() }, true))
}
