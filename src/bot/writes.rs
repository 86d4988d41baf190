//! The write commands: a plan (what will happen to which jobs), checked against the rules
//! for every job, confirmed first when a rule says so, noted in the store's journal, then
//! carried out against Tailer after the acknowledgement (`execute`).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Ack, Audit, Authorized, Bot, CONFIRMATION_TTL, Context, render, targets};

use crate::commands::Command;
use crate::config::Job;
use crate::domain::Action;
use crate::slack::api::ResponseBody;
use crate::slack::blocks::escape;
use crate::store::{AuditEntry, AuditOutcome, NewConfirmation};

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

    /// The command that asks for this plan again (`disable sales-daily for 2h late`).
    pub(super) fn command_text(&self) -> String {
        self.words(" ")
    }

    /// The plan in words for the audit trail (`disable sales-daily for 2h — late`).
    pub(super) fn detail(&self) -> String {
        self.words(" — ")
    }

    fn words(&self, before_reason: &str) -> String {
        let mut text = format!("{} {}", self.action, self.target);
        if let Some(d) = self.execution_date {
            text.push_str(&format!(" {d}"));
        }
        if let (Some(run), Some(status)) = (&self.run_id, &self.status) {
            text.push_str(&format!(" {run} {status}"));
        }
        if let Some(secs) = self.duration_secs {
            // One word (`1h30m`), as the command takes it.
            text.push_str(&format!(" for {}", humantime::format_duration(Duration::from_secs(secs)).to_string().replace(' ', "")));
        }
        if let Some(reason) = &self.reason {
            text.push_str(&format!("{before_reason}{reason}"));
        }
        text
    }
}

/// A write repeated by the same person in the same channel within this window is a
/// double submit, done once.
pub const DOUBLE_SUBMIT_WINDOW_MS: i64 = 60_000;

impl Bot {
    /// The job a run belongs to, where the bot knows it: it launched the run, or a
    /// channel watches it.
    pub(super) async fn job_of_run(&self, run: &str) -> Result<Option<String>, crate::store::StoreError> {
        if let Some(known) = self.store.known_run(run).await? {
            return Ok(Some(known.job));
        }
        Ok(self.store.watch(run).await?.map(|w| w.job))
    }

    /// The job a run belongs to when it is not `named` (where the bot knows the run's
    /// job); the answer to give when the store cannot say.
    pub(super) async fn other_job_of(&self, ctx: &Context, run: &str, named: &str) -> Result<Option<String>, Ack> {
        match self.job_of_run(run).await {
            Ok(Some(owner)) if !owner.eq_ignore_ascii_case(named) => Ok(Some(owner)),
            Ok(_) => Ok(None),
            Err(error) => {
                tracing::error!(%error, "cannot read which job a run belongs to");
                Err(Ack::store_unavailable(&ctx.reference))
            }
        }
    }

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
        if let Command::Mark { job, run, status } = &command {
            match self.other_job_of(&ctx, run.as_str(), job.as_str()).await {
                Err(ack) => return ack,
                Ok(Some(owner)) => {
                    return Ack::note(&format!(
                        "Run `{run}` belongs to `{owner}`, not `{job}`, so nothing was done. To mark it: `/tailer mark {owner} {run} {status}`."
                    ));
                }
                Ok(None) => {}
            }
        }
        let plan = Plan::from_command(&command, &jobs);
        let Authorized { confirm, second_person } =
            match self.authorize(&ctx, action, &jobs, Audit::Denials { detail: &plan.detail() }).await {
                Ok(authorized) => authorized,
                Err(denial) => return self.refuse(&denial),
            };
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
                return Ack::store_unavailable(&ctx.reference);
            }
        }
        if confirm {
            return self.ask_confirmation(ctx, &plan, &jobs, second_person).await;
        }
        let summary = plan.summary(&jobs);
        // Noted before the answer: from here on, a crash is finished by the next start.
        let journal = self.journal(&ctx, &plan, None, None);
        if let Err(error) = self.store.begin_write(&journal, &self.timers_for(&journal, &plan), self.now_ms()).await {
            tracing::error!(%error, "cannot note the write before making it");
            return Ack::store_unavailable(&ctx.reference);
        }
        let bot = self.clone();
        let work_ctx = ctx.clone();
        let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel, action = %plan.action, target = %plan.target);
        self.tasks.spawn(tracing::Instrument::instrument(async move { bot.execute(work_ctx, plan, journal, false).await }, span));
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
            return Ack::store_unavailable(&ctx.reference);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_text_of_a_plan_asks_for_the_same_command_again() {
        let command = crate::commands::parse("disable sales-daily for 1h30m source table late").unwrap();
        let config = crate::config::embedded_config();
        let jobs = vec![config.job("sales-daily").unwrap()];
        let plan = Plan::from_command(&command, &jobs);
        assert_eq!(plan.command_text(), "disable sales-daily for 1h30m source table late");
        assert_eq!(crate::commands::parse(&plan.command_text()).unwrap(), command);
    }
}
