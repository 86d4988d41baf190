//! The write commands: a plan (what will happen to which jobs), checked against the rules
//! for every job, confirmed first when a rule says so, then carried out against Tailer
//! after the acknowledgement, each attempt audited.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Ack, Bot, CONFIRMATION_TTL, Context, render, targets};
use crate::access::Verdict;
use crate::commands::Command;
use crate::config::Job;
use crate::domain::{Action, RunId, UserId};
use crate::slack::api::ResponseBody;
use crate::slack::blocks::{Message, escape};
use crate::store::{AuditEntry, AuditOutcome, KnownRun, NewConfirmation};
use crate::tailer::{ConfigurationStatus, LaunchError, RunStatus, TailerError};

/// A write to carry out, kept as JSON with its confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The verb (`launch`, `disable`...).
    pub action: String,
    /// Catalog names.
    pub jobs: Vec<String>,
    /// What was typed as the target (`sales-daily`, `tag:daily`).
    pub target: String,
    #[serde(default)]
    pub execution_date: Option<NaiveDate>,
    #[serde(default)]
    pub duration_secs: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

impl Plan {
    fn from_command(command: &Command, jobs: &[&Job]) -> Plan {
        let names = jobs.iter().map(|j| j.name.to_string()).collect();
        let mut plan = Plan {
            action: command.action().name().to_owned(),
            jobs: names,
            target: String::new(),
            execution_date: None,
            duration_secs: None,
            reason: None,
            run_id: None,
            status: None,
        };
        match command {
            Command::Launch { job, execution_date } => {
                plan.target = job.to_string();
                plan.execution_date = *execution_date;
            }
            Command::Disable { target, duration, reason } => {
                plan.target = target.to_string();
                plan.duration_secs = duration.map(|d| d.as_secs());
                plan.reason = reason.clone();
            }
            Command::Enable { target } => plan.target = target.to_string(),
            Command::Reset { job } => plan.target = job.to_string(),
            Command::Mark { job, run, status } => {
                plan.target = job.to_string();
                plan.run_id = Some(run.to_string());
                plan.status = Some(status.as_str().to_owned());
            }
            _ => {}
        }
        plan
    }

    pub fn action(&self) -> Option<Action> {
        Action::from_name(&self.action).filter(|a| a.is_write())
    }

    /// "disable `sales-daily` (PROD) for 2h — reason: late source", escaped.
    pub fn summary(&self, jobs: &[&Job]) -> String {
        let what = if jobs.len() == 1 { render::job_label(jobs[0]) } else { format!("`{}` ({} jobs)", escape(&self.target), jobs.len()) };
        let mut text = format!("{} {what}", self.action);
        if let Some(date) = self.execution_date {
            text.push_str(&format!(" for {date}"));
        }
        if let (Some(run), Some(status)) = (&self.run_id, &self.status) {
            text = format!("mark run `{}` of {what} as {}", escape(run), escape(status));
        }
        if let Some(secs) = self.duration_secs {
            text.push_str(&format!(" for {}", humantime::format_duration(Duration::from_secs(secs))));
        }
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" — reason: {}", escape(reason)));
        }
        text
    }

    fn detail(&self) -> String {
        let mut detail = format!("{} {}", self.action, self.target);
        if let Some(d) = self.execution_date {
            detail.push_str(&format!(" {d}"));
        }
        if let (Some(run), Some(status)) = (&self.run_id, &self.status) {
            detail.push_str(&format!(" {run} {status}"));
        }
        if let Some(secs) = self.duration_secs {
            detail.push_str(&format!(" for {}", humantime::format_duration(Duration::from_secs(secs))));
        }
        if let Some(reason) = &self.reason {
            detail.push_str(&format!(" — {reason}"));
        }
        detail
    }
}

/// A write repeated by the same person in the same channel within this window is a
/// double submit, done once.
pub const DOUBLE_SUBMIT_WINDOW_MS: i64 = 60_000;

/// What happened to one job.
struct Outcome {
    line: String,
    audit: AuditOutcome,
    answer: String,
}

impl Bot {
    pub(super) fn resolve<'c>(&'c self, command: &Command) -> Result<Vec<&'c Job>, String> {
        let config = &self.config;
        let jobs = match command {
            Command::Launch { job, .. } | Command::Reset { job } | Command::Mark { job, .. } => {
                vec![targets::job(config, job)?]
            }
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

    pub(super) async fn write(self: &Arc<Self>, ctx: Context, command: Command) -> Ack {
        let action = command.action();
        let jobs = match self.resolve(&command) {
            Ok(jobs) => jobs,
            Err(message) => return Ack::note(&message),
        };
        let plan = Plan::from_command(&command, &jobs);
        let mut denied = Vec::new();
        let (mut confirm, mut second_person) = (false, false);
        for job in &jobs {
            match self.decide(&ctx.user, &ctx.channel, action, Some(job)).await {
                Verdict::Allow { confirm: c, second_person: s, .. } => {
                    confirm |= c;
                    second_person |= s;
                }
                Verdict::Deny { .. } => denied.push(*job),
            }
        }
        if !denied.is_empty() {
            for job in &denied {
                self.audit(self.entry(&ctx, action, Some(job), AuditOutcome::Denied, plan.detail(), None)).await;
            }
            let names: Vec<String> = denied.iter().map(|j| render::job_label(j)).collect();
            return self.denial(action, &names.join(", "));
        }
        // The same write twice within a minute (Enter pressed twice) is done once.
        let key = format!("write:{}:{}:{}", ctx.user, ctx.channel, plan.detail());
        match self.store.first_within(&key, self.now_ms(), DOUBLE_SUBMIT_WINDOW_MS).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("a repeated write within a minute was not acted on again");
                return Ack::note(&format!(
                    ":repeat: You asked for exactly this ({}) less than a minute ago; it is done once. Ask again in a minute if you really mean twice.",
                    plan.summary(&jobs)
                ));
            }
            Err(error) => {
                tracing::error!(%error, "cannot check for a double submit");
                return Ack::note(&format!(":warning: I cannot reach my database right now, so I did nothing. (ref `{}`)", ctx.reference));
            }
        }
        if confirm {
            return self.ask_confirmation(ctx, &plan, &jobs, second_person).await;
        }
        let summary = plan.summary(&jobs);
        let bot = self.clone();
        let work_ctx = ctx.clone();
        let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel, action = %plan.action, target = %plan.target);
        self.tasks.spawn(tracing::Instrument::instrument(async move { bot.execute(work_ctx, plan, None, false, None).await }, span));
        Ack::note(&format!(":hourglass_flowing_sand: On it: {summary}"))
    }

    async fn ask_confirmation(self: &Arc<Self>, ctx: Context, plan: &Plan, jobs: &[&Job], second_person: bool) -> Ack {
        let action = plan.action().unwrap_or(Action::Launch);
        let now = self.now_ms();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stored = NewConfirmation {
            id: id.clone(),
            created_at: now,
            expires_at: now + CONFIRMATION_TTL.as_millis() as i64,
            team_id: ctx.team.clone(),
            channel_id: ctx.channel.to_string(),
            requester: ctx.user.to_string(),
            action,
            plan: serde_json::to_string(plan).unwrap_or_default(),
            second_person,
        };
        if let Err(error) = self.store.create_confirmation(&stored).await {
            tracing::error!(%error, "cannot store the confirmation");
            return Ack::note(&format!(":warning: I cannot reach my database right now, so I did nothing. (ref `{}`)", ctx.reference));
        }
        for job in jobs {
            self.audit(self.entry(&ctx, action, Some(job), AuditOutcome::AwaitingConfirmation, plan.detail(), None)).await;
        }
        let message = render::confirmation(&plan.summary(jobs), jobs, ctx.user.as_str(), second_person, &id);
        Ack::Message(ResponseBody::in_channel(message))
    }

    pub(super) fn entry(
        &self,
        ctx: &Context,
        action: Action,
        job: Option<&Job>,
        outcome: AuditOutcome,
        detail: String,
        answer: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.now_ms(),
            reference: ctx.reference.clone(),
            user_id: ctx.user.to_string(),
            channel_id: ctx.channel.to_string(),
            action,
            job: job.map(|j| j.name.to_string()),
            environment: job.map(|j| j.job.environment.to_string()),
            outcome,
            detail,
            tailer_answer: answer,
        }
    }

    /// Carries a plan out, job by job; the outcome replaces the confirmation message when
    /// there was one. `ctx.user` is who asked; `confirmed_by` who confirmed.
    /// `question_ts` is the confirmation message being replaced, when there is one.
    pub(super) async fn execute(
        self: &Arc<Self>,
        ctx: Context,
        plan: Plan,
        confirmed_by: Option<UserId>,
        replace: bool,
        question_ts: Option<String>,
    ) {
        let Some(action) = plan.action() else {
            tracing::error!(action = %plan.action, "a stored plan names no write action");
            return;
        };
        let jobs: Vec<Job> = plan.jobs.iter().filter_map(|name| self.config.job(name).cloned()).collect();
        if jobs.len() != plan.jobs.len() {
            let body = ResponseBody::in_channel(render::note(&format!(
                ":warning: The catalog changed since this was asked; nothing was done. (ref `{}`)",
                ctx.reference
            )));
            self.deliver(&ctx, if replace { body.replacing() } else { body }).await;
            return;
        }
        // A timed disable gets a thread: the re-enable is told there when the time is up.
        let lane = format!("write:{}", ctx.reference);
        let timed = action == Action::Disable && plan.duration_secs.is_some();
        if let (true, true, Some(ts)) = (timed, replace, question_ts.as_deref()) {
            if let Err(error) = self.store.set_thread(&lane, ctx.channel.as_str(), ts).await {
                tracing::error!(%error, "cannot record the thread of a timed disable");
            }
        }
        let mut lines = Vec::new();
        let mut all_succeeded = true;
        for job in &jobs {
            let outcome = self.carry_out(&ctx, action, job, &plan, &lane).await;
            all_succeeded &= outcome.audit == AuditOutcome::Succeeded;
            let mut detail = plan.detail();
            if let Some(by) = &confirmed_by {
                detail.push_str(&format!(" (confirmed by {by})"));
            }
            self.audit(self.entry(&ctx, action, Some(job), outcome.audit, detail, Some(outcome.answer))).await;
            lines.push(outcome.line);
        }
        // A launch that worked is shown by its run card; only a replaced question needs words.
        if action == Action::Launch && all_succeeded && !replace {
            return;
        }
        let mut by = format!(" — by <@{}>", ctx.user);
        if let Some(confirmer) = &confirmed_by {
            by.push_str(&format!(", confirmed by <@{confirmer}>"));
        }
        if let Some(reason) = &plan.reason {
            by.push_str(&format!(" — reason: {}", escape(reason)));
        }
        let mut message = Message::new(&lines.join("\n"));
        message.lines(&lines, 1);
        let footer = format!("{by} · ref `{}`", ctx.reference);
        message.context(footer.trim_start_matches(" — "));
        if timed && !replace {
            // Posted, not sent to the response_url: its ts roots the re-enable's thread.
            let post = crate::store::OutboxMessage::post(lane, ctx.channel.to_string(), message.text, message.blocks)
                .as_root()
                .asked_by(Some(ctx.user.to_string()));
            self.enqueue(vec![post]).await;
            return;
        }
        let body = ResponseBody::in_channel(message);
        self.deliver(&ctx, if replace { body.replacing() } else { body }).await;
    }

    async fn carry_out(self: &Arc<Self>, ctx: &Context, action: Action, job: &Job, plan: &Plan, lane: &str) -> Outcome {
        let label = render::job_label(job);
        let failed = |verb: &str, error: &dyn std::fmt::Display| Outcome {
            line: format!(":x: Could not {verb} {label}: {} (ref `{}`)", escape(&error.to_string()), ctx.reference),
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
                line: format!(
                    ":warning: I could not tell whether {label} was {done}: {}. Doing it again is harmless. (ref `{}`)",
                    escape(&error.to_string()),
                    ctx.reference
                ),
                audit: AuditOutcome::Unknown,
                answer: error.to_string(),
            }
        };
        let done = |line: String| Outcome { line, audit: AuditOutcome::Succeeded, answer: "ok".into() };
        match action {
            Action::Disable | Action::Enable => {
                let to = if action == Action::Disable { ConfigurationStatus::Disable } else { ConfigurationStatus::Enable };
                match self.tailer.set_configuration_status(&job.job, to).await {
                    Ok(()) if action == Action::Enable => {
                        let mut line = format!(":large_green_circle: Enabled {label}");
                        match self.store.cancel_timers(job.name.as_str()).await {
                            Ok(0) => {}
                            Ok(_) => line.push_str(" (its timed re-enable is cancelled)"),
                            Err(error) => tracing::error!(%error, "cannot cancel the timed re-enables of an enabled job"),
                        }
                        done(line)
                    }
                    Ok(()) => {
                        // A newer disable replaces an older timed one.
                        if let Err(error) = self.store.cancel_timers(job.name.as_str()).await {
                            tracing::error!(%error, "cannot cancel an older timed re-enable");
                        }
                        let mut line = format!(":red_circle: Disabled {label}");
                        if let Some(secs) = plan.duration_secs {
                            let due = self.clock.now() + chrono::Duration::seconds(secs as i64);
                            let timer = crate::store::TimerRow {
                                id: uuid::Uuid::new_v4().simple().to_string(),
                                job: job.name.to_string(),
                                due_at: due.timestamp_millis(),
                                channel_id: ctx.channel.to_string(),
                                lane: lane.to_owned(),
                                requested_by: ctx.user.to_string(),
                                reason: plan.reason.clone(),
                                attempts: 0,
                            };
                            match self.store.add_timer(&timer, self.now_ms()).await {
                                Ok(()) => line.push_str(&format!(" until {} — it is re-enabled automatically then", render::when(due))),
                                Err(error) => {
                                    tracing::error!(%error, "cannot store a timed re-enable");
                                    line.push_str(&format!(
                                        " — :warning: I could not schedule its re-enable: `/tailer enable {}` when the time is up (ref `{}`)",
                                        job.name, ctx.reference
                                    ));
                                }
                            }
                        }
                        done(line)
                    }
                    Err(error) => tailer_failed(action.name(), if action == Action::Disable { "disabled" } else { "enabled" }, &error),
                }
            }
            Action::Reset => match self.tailer.reset_workflow_status(&job.job).await {
                Ok(()) => done(format!(":arrows_counterclockwise: Reset the triggers of {label}")),
                Err(error) => tailer_failed("reset", "reset", &error),
            },
            Action::Mark => {
                let (Some(run), Some(status)) = (plan.run_id.as_deref().and_then(|r| RunId::parse(r).ok()), plan.status.as_deref()) else {
                    return failed("mark", &"the stored plan lost its run or status");
                };
                let status = RunStatus::parse(status);
                match self.tailer.set_run_status(&job.job, &run, &status).await {
                    Ok(()) => done(format!("{} Marked run `{}` of {label} as *{status}*", render::emoji(&status), escape(run.as_str()))),
                    Err(error) => tailer_failed("mark", "marked", &error),
                }
            }
            Action::Launch => self.launch(ctx, job, plan.execution_date).await,
            _ => failed(action.name(), &"not a write action"),
        }
    }

    async fn launch(self: &Arc<Self>, ctx: &Context, job: &Job, execution_date: Option<NaiveDate>) -> Outcome {
        // Noted first: if this replica dies before the run is followed, another one finds
        // the run and follows it (never launching again).
        let journal = crate::store::LaunchRow {
            key: format!("{}:{}", ctx.reference, job.name),
            job: job.name.to_string(),
            channel_id: ctx.channel.to_string(),
            user_id: ctx.user.to_string(),
            reference: ctx.reference.clone(),
            started_at: self.now_ms(),
            run_id: None,
        };
        if let Err(error) = self.store.begin_launch(&journal, self.now_ms()).await {
            tracing::error!(%error, "cannot note the launch before making it; a crash now would leave its run unfollowed");
        }
        let (outcome, followed) = self.launch_now(ctx, job, execution_date).await;
        let settled = if followed {
            self.store.end_launch(&journal.key).await
        } else {
            // Launched but not on its card (the store failed): left for the recovery,
            // which follows the run once the store is back.
            let run = (outcome.audit == AuditOutcome::Succeeded).then_some(outcome.answer.as_str());
            self.store.retry_launch(&journal.key, run, self.now_ms() + 5_000).await
        };
        if let Err(error) = settled {
            tracing::error!(%error, "cannot note how the launch ended; it will be looked at again (never relaunched)");
        }
        outcome
    }

    /// Launches, and follows the run on a card; false when the run could not be followed.
    async fn launch_now(self: &Arc<Self>, ctx: &Context, job: &Job, execution_date: Option<NaiveDate>) -> (Outcome, bool) {
        let label = render::job_label(job);
        let started = self.clock.now();
        let run = match self.tailer.launch_job(&job.job, execution_date).await {
            Ok(run) => run,
            Err(LaunchError::NotLaunched(error)) => {
                tracing::warn!(%error, job = %job.name, "a launch failed: nothing was launched");
                return (
                    Outcome {
                        line: format!(":x: Did not launch {label}: {} (ref `{}`)", escape(&error.to_string()), ctx.reference),
                        audit: AuditOutcome::Failed,
                        answer: error.to_string(),
                    },
                    true,
                );
            }
            Err(LaunchError::OutcomeUnknown(error)) => {
                tracing::warn!(%error, job = %job.name, "launch outcome unknown; looking for the run");
                match self.tailer.find_launched_run(&job.job, started).await {
                    Ok(Some(item)) => item.run_id,
                    _ => {
                        return (
                            Outcome {
                                line: format!(
                                    ":warning: I could not tell whether {label} was launched: {}. Check `/tailer last {}` before launching it again. (ref `{}`)",
                                    escape(&error.to_string()),
                                    job.name,
                                    ctx.reference
                                ),
                                audit: AuditOutcome::Unknown,
                                answer: error.to_string(),
                            },
                            true,
                        );
                    }
                }
            }
        };
        let known = KnownRun {
            run_id: run.to_string(),
            job: job.name.to_string(),
            channel_id: Some(ctx.channel.to_string()),
            launched_by: Some(ctx.user.to_string()),
            created_at: self.now_ms(),
        };
        if let Err(error) = self.store.remember_run(&known).await {
            tracing::error!(%error, run = %run, "cannot remember the launched run");
        }
        let followed = match self.start_watching(job, run.as_str(), &ctx.channel, Some(&ctx.user), None).await {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(%error, run = %run, "cannot start watching the launched run; it is followed once the store is back");
                false
            }
        };
        let outcome = Outcome {
            line: format!(":rocket: Launched {label}: run `{}`", escape(run.as_str())),
            audit: AuditOutcome::Succeeded,
            answer: run.to_string(),
        };
        (outcome, followed)
    }
}
