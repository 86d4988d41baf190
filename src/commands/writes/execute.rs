//! Carrying a write out: job by job against Tailer, each job's outcome noted in the
//! write's journal with its audit entry, and the answer queued in the transaction that
//! settles the write. A write interrupted by a crash is *resumed* (by the next start, or
//! another replica): the jobs whose outcome was noted keep it; the others are done again
//! when that is still what was asked (every write but a launch is idempotent, and a
//! recent one cannot have been overtaken), or reported as unknown with what to check.
//! A launch is never made again: one that was under way is the launch recovery's
//! (`launch.rs` makes launches).

use std::sync::Arc;

use super::Plan;
use super::Write;
use super::launch::{Outcome, launch};
use super::plan::re_enable_at;
use super::resume::resume_job;
use crate::bot::{Bot, Context};
use crate::chat::Message;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::markup::plain;
use crate::domain::{Action, RunId, UserId};
use crate::messages::{self as render, Links};
use crate::outbox::OutboxMessage;
use crate::store::{AuditOutcome, SwitchRow, TimerRow, WriteRow, WriteStep};
use crate::tailer::{ConfigurationStatus, RunStatus, TailerError};

/// A step outcome that needs no words: a launch the launch recovery took over.
const TAKEN_OVER: &str = "taken_over";

/// The journal entry of a write about to be made.
pub(super) fn journal(bot: &Bot, ctx: &Context, plan: &Plan, confirmed_by: Option<&UserId>, question_ts: Option<String>) -> WriteRow {
    WriteRow {
        reference: ctx.reference.clone(),
        action: plan.action().name().to_owned(),
        plan: plan.to_json(),
        channel_id: ctx.channel.to_string(),
        user_id: ctx.user.to_string(),
        confirmed_by: confirmed_by.map(ToString::to_string),
        response_url: ctx.response_url.clone(),
        replace_question: confirmed_by.is_some(),
        question_ts,
        started_at: bot.now_ms(),
        steps: "[]".into(),
    }
}

/// The re-enables of a timed disable, one per job, due from the journal's start:
/// stored with the journal, before Tailer is asked (re-enabling a job that was not
/// disabled is harmless; a job left off is not).
pub(super) fn timers_for(journal: &WriteRow, plan: &Plan) -> Vec<TimerRow> {
    let Some(due) = re_enable_at(journal, plan) else { return Vec::new() };
    plan.jobs
        .iter()
        .map(|job| TimerRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            job: job.clone(),
            due_at: due.timestamp_millis(),
            channel_id: journal.channel_id.clone(),
            lane: format!("write:{}", journal.reference),
            requested_by: journal.user_id.clone(),
            reason: plan.reason().map(str::to_owned),
            attempts: 0,
        })
        .collect()
}

/// Carries a noted write out (or, `resumed`, finishes one that was interrupted), job
/// by job; the answer replaces the confirmation message when there was one.
pub(crate) async fn execute(bot: &Arc<Bot>, ctx: Context, plan: Plan, journal: WriteRow, resumed: bool) {
    let reference = journal.reference.clone();
    let action = plan.action();
    let confirmed_by = journal.confirmed_by.as_deref().and_then(|u| UserId::parse(u).ok());
    let replace = journal.replace_question;
    let jobs: Vec<Job> = plan.jobs.iter().filter_map(|name| bot.config().job(name).cloned()).collect();
    if jobs.len() != plan.jobs.len() {
        let body = Reply::in_channel(render::note(&format!(
            ":warning: The catalog changed since this was asked; nothing was done. (ref `{}`)",
            ctx.reference
        )));
        let answer = bot.reply(&ctx, if replace { body.replacing() } else { body });
        settle(bot, &reference, vec![answer]).await;
        return;
    }
    let lane = format!("write:{}", ctx.reference);
    let mut steps: Vec<WriteStep> = serde_json::from_str(&journal.steps).unwrap_or_default();
    let run = Steps { ctx: &ctx, journal: &journal, lane: &lane, resumed, confirmed_by: confirmed_by.as_ref() };
    run.each_job(bot, &plan, &jobs, "", &mut steps).await;
    // The second write (*Enable and launch*) once the first went through for every job;
    // its steps are told apart by their prefix.
    if let Some(next) = plan.next() {
        let first_done =
            jobs.iter().all(|j| steps.iter().any(|s| s.job == j.name.as_str() && s.outcome == AuditOutcome::Succeeded.as_str()));
        if first_done {
            run.each_job(bot, &next, &jobs, THEN, &mut steps).await;
        }
    }
    let quiet = steps.iter().all(|s| s.outcome == AuditOutcome::Succeeded.as_str() || s.outcome == TAKEN_OVER);
    // Tailer refused every job: nothing changed, and only the person who asked needs to
    // know (a typo in a run id is not the channel's business).
    let nothing_done = !steps.is_empty() && steps.iter().all(|s| s.outcome == AuditOutcome::Failed.as_str());
    let switched_off = action == Action::Disable && steps.iter().any(|s| s.outcome == AuditOutcome::Succeeded.as_str());
    let lines: Vec<String> = steps.into_iter().map(|s| s.line.replace(&format!(" (ref `{}`)", ctx.reference), "")).collect();
    let shape = Shape { quiet, nothing_done, switched_off, replace, resumed };
    let answer = outcome_message(bot, &ctx, action, &plan, &lines, shape, confirmed_by.as_ref());
    settle(bot, &reference, answer).await;
}

/// The prefix of the steps of a plan's second write.
const THEN: &str = "then:";

/// What every step of a write shares.
struct Steps<'a> {
    ctx: &'a Context,
    journal: &'a WriteRow,
    lane: &'a str,
    resumed: bool,
    confirmed_by: Option<&'a UserId>,
}

impl Steps<'_> {
    /// Each job of `plan` not yet in `steps` (under `prefix`), carried out (or, resumed,
    /// finished), its outcome noted with its audit entry and what it switched.
    async fn each_job(&self, bot: &Arc<Bot>, plan: &Plan, jobs: &[Job], prefix: &str, steps: &mut Vec<WriteStep>) {
        let (ctx, journal, lane) = (self.ctx, self.journal, self.lane);
        let action = plan.action();
        for job in jobs {
            let key = format!("{prefix}{}", job.name);
            if steps.iter().any(|s| s.job == key) {
                continue;
            }
            let settled = if self.resumed { resume_job(bot, ctx, action, job, plan, journal).await } else { None };
            let (outcome, audited) = match settled {
                Some(settled) => settled,
                None => (carry_out(bot, ctx, job, plan, journal, lane).await, true),
            };
            crate::crash::point(crate::crash::AFTER_TAILER_WRITE);
            let mut detail = plan.detail();
            if let Some(by) = self.confirmed_by {
                detail.push_str(&format!(" (confirmed by {by})"));
            }
            if self.resumed {
                detail.push_str(" (finished after the bot restarted)");
            }
            let outcome_name = if audited { outcome.audit.as_str() } else { TAKEN_OVER };
            steps.push(WriteStep { job: key, outcome: outcome_name.to_owned(), line: outcome.line });
            let entry = audited.then(|| bot.entry(ctx, action, Some(job), outcome.audit, detail, Some(outcome.answer)));
            let echo: Vec<OutboxMessage> = entry.iter().filter_map(|e| bot.audit_echo(e)).collect();
            // What is now off (or on again), noted with the outcome.
            let switched = (outcome.audit == AuditOutcome::Succeeded && matches!(action, Action::Disable | Action::Enable)).then(|| {
                let until = re_enable_at(journal, plan).map(|d| d.timestamp_millis());
                SwitchRow::by_bot(job.name.as_str(), action == Action::Disable, ctx.user.as_str(), plan.reason(), bot.now_ms(), until)
            });
            let noted = serde_json::to_string(&steps).unwrap_or_default();
            match bot.store().write_step(&journal.reference, &noted, entry.as_ref(), switched.as_ref(), &echo, bot.now_ms()).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("a write's step was noted after the write was settled elsewhere"),
                Err(error) => {
                    tracing::error!(%error, "cannot note a write's step; its audit entry is sent to the audit channel only");
                    bot.outbox().enqueue(echo).await;
                }
            }
        }
    }
}

/// What decides the form of a write's answer.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Every job went as asked.
    quiet: bool,
    /// Tailer refused every job: nothing changed.
    nothing_done: bool,
    /// A disable switched something off: the answer offers *Enable*.
    switched_off: bool,
    /// The answer replaces the confirmation message.
    replace: bool,
    /// Finished after the bot restarted.
    resumed: bool,
}

/// The answer to a write: none for launches that worked (their cards speak), only to
/// the person who asked when nothing changed, else the lines in the channel with who
/// asked, confirmed and why (the reference once, in the footer).
fn outcome_message(
    bot: &Bot,
    ctx: &Context,
    action: Action,
    plan: &Plan,
    lines: &[String],
    shape: Shape,
    confirmed_by: Option<&UserId>,
) -> Vec<OutboxMessage> {
    if action == Action::Launch && shape.quiet && !shape.replace {
        return Vec::new();
    }
    let mut by = format!(" — by {}", crate::domain::markup::mention(&ctx.user));
    if let Some(confirmer) = confirmed_by {
        by.push_str(&format!(", confirmed by {}", crate::domain::markup::mention(confirmer)));
    }
    if let Some(reason) = plan.reason() {
        by.push_str(&format!(" — reason: {}", plain(reason)));
    }
    let mut message = Message::new(&lines.join("\n"));
    message.lines(lines, 2);
    let mut footer = format!("{by} · ref `{}`", ctx.reference);
    if shape.resumed {
        footer.push_str(" · finished after the bot restarted");
    }
    message.context(footer.trim_start_matches(" — "));
    if shape.switched_off {
        message.actions("disabled", &[render::enable_button(&plan.target())]);
    }
    if shape.nothing_done && !shape.replace && !shape.resumed {
        return vec![bot.reply(ctx, Reply::ephemeral(message))];
    }
    let timed = action == Action::Disable && plan.duration().is_some();
    if timed && !shape.replace {
        // Posted, not sent to the response_url: its ts roots the re-enable's thread.
        let post = OutboxMessage::post(format!("write:{}", ctx.reference), ctx.channel.to_string(), bot.outbox().render(&message))
            .as_root()
            .asked_by(Some(ctx.user.to_string()));
        return vec![post];
    }
    let body = Reply::in_channel(message);
    vec![bot.reply(ctx, if shape.replace { body.replacing() } else { body })]
}

/// Settles a write with its answer. Should the store fail, the answer is sent
/// directly and the write given back, marked answered: the recovery settles it 30 s
/// later, without a second answer.
async fn settle(bot: &Bot, reference: &str, answer: Vec<OutboxMessage>) {
    match bot.store().finish_write(reference, &answer, bot.now_ms()).await {
        Ok(true) => bot.outbox().wake(),
        Ok(false) => tracing::warn!(%reference, "a write was settled elsewhere already; its answer is not sent twice"),
        Err(error) => {
            tracing::error!(%error, %reference, "cannot settle a write; sending its answer directly");
            bot.outbox().enqueue(answer).await;
            give_back(bot, reference, true).await;
        }
    }
}

/// Gives a write back, to be looked at again in 30 s (this replica's claim would
/// otherwise be renewed with the others); `answered`: its answer went out already.
pub(crate) async fn give_back(bot: &Bot, reference: &str, answered: bool) {
    if let Err(error) = bot.store().retry_write(reference, bot.now_ms() + 30_000, answered).await {
        tracing::error!(%error, "cannot give the write back either; it is looked at again at the next start");
    }
}

pub(super) async fn carry_out(bot: &Arc<Bot>, ctx: &Context, job: &Job, plan: &Plan, journal: &WriteRow, lane: &str) -> Outcome {
    let label = render::job_label(job);
    let failed = |verb: &str, error: &dyn std::fmt::Display| Outcome {
        line: render::outcomes::could_not(verb, &label, &error.to_string(), &ctx.reference),
        audit: AuditOutcome::Failed,
        answer: error.to_string(),
    };
    // Refused: Tailer did nothing. Otherwise (a 5xx, no answer in time, an answer that
    // cannot be read) it may have acted: the outcome is unknown, not failed.
    let tailer_failed = |verb: &str, done: &str, error: &TailerError| {
        if error.certainly_not_applied() {
            tracing::warn!(%error, job = %job.name, "a write failed: Tailer did nothing");
            return failed(verb, error);
        }
        tracing::warn!(%error, job = %job.name, "a write's outcome is unknown: Tailer may have done it");
        Outcome {
            line: render::outcomes::write_unknown(&label, done, &error.to_string(), &ctx.reference),
            audit: AuditOutcome::Unknown,
            answer: error.to_string(),
        }
    };
    let done = |line: String| Outcome { line, audit: AuditOutcome::Succeeded, answer: "ok".into() };
    match &plan.command {
        Write::Disable { .. } | Write::Enable { .. } => {
            let enable = matches!(plan.command, Write::Enable { .. });
            let to = if enable { ConfigurationStatus::Enable } else { ConfigurationStatus::Disable };
            let due = re_enable_at(journal, plan);
            match bot.tailer().set_configuration_status(&job.job, to).await {
                Ok(()) if enable => {
                    let mut line = format!(":large_green_circle: Enabled {label}");
                    match bot.store().cancel_timers_but(job.name.as_str(), None).await {
                        Ok(0) => {}
                        Ok(_) => line.push_str(" (its timed re-enable is cancelled)"),
                        Err(error) => tracing::error!(%error, "cannot cancel the timed re-enables of an enabled job"),
                    }
                    done(line)
                }
                Ok(()) => {
                    // A newer disable replaces an older timed one (this one's re-enable stays).
                    if let Err(error) = bot.store().cancel_timers_but(job.name.as_str(), Some(lane)).await {
                        tracing::error!(%error, "cannot cancel an older timed re-enable");
                    }
                    let mut line = format!(":red_circle: Disabled {label}");
                    if let Some(due) = due {
                        line.push_str(&format!(" until {} — it is re-enabled automatically then", render::when(due)));
                    }
                    done(line)
                }
                Err(error) => {
                    let (verb, done) = if enable { ("enable", "enabled") } else { ("disable", "disabled") };
                    let mut outcome = tailer_failed(verb, done, &error);
                    match due {
                        // Not disabled: nothing to re-enable.
                        Some(_) if outcome.audit == AuditOutcome::Failed => {
                            if let Err(error) = bot.store().cancel_write_timer(job.name.as_str(), lane).await {
                                tracing::error!(%error, "cannot cancel the re-enable of a refused disable (re-enabling is harmless)");
                            }
                        }
                        Some(due) => outcome.line.push_str(&format!(" Its re-enable stays scheduled for {}.", render::when(due))),
                        None => {}
                    }
                    outcome
                }
            }
        }
        Write::Reset { .. } => match bot.tailer().reset_workflow_status(&job.job).await {
            Ok(()) => done(format!(":arrows_counterclockwise: Reset the triggers of {label}")),
            Err(error) => tailer_failed("reset", "reset", &error),
        },
        Write::Mark { run, status, .. } => match bot.tailer().set_run_status(&job.job, run, status).await {
            Ok(()) => {
                cards_show_status(bot, job, run, status).await;
                done(format!("{} Marked run `{}` of {label} as *{status}*", render::emoji(status), plain(run.as_str())))
            }
            Err(error) => tailer_failed("mark", "marked", &error),
        },
        Write::Launch { execution_date, .. } => launch(bot, ctx, job, *execution_date).await,
    }
}

/// After a run's status was set by hand (a failure marked CHECKED): every card of the
/// run shows the new status, without the button that asked for it.
async fn cards_show_status(bot: &Bot, job: &Job, run: &RunId, status: &RunStatus) {
    let cards = match bot.store().all_cards(run.as_str()).await {
        Ok(cards) => cards,
        Err(error) => {
            tracing::warn!(%error, "cannot read the run's cards; they keep their last state");
            return;
        }
    };
    let item = match bot.store().watch(run.as_str()).await {
        Ok(Some(watch)) => watch.item.as_deref().and_then(|i| serde_json::from_str::<crate::tailer::RunItem>(i).ok()),
        _ => None,
    };
    let Some(mut item) = item else { return };
    item.status = status.clone();
    let edits = cards
        .iter()
        .map(|card| crate::messages::cards::update(bot.outbox(), Links::of(bot.config()), job, card, Some(&item), true, None))
        .collect();
    bot.outbox().enqueue(edits).await;
}
