//! The read commands. Those answered from the catalog or the store (`help`, `jobs`,
//! `audit`) answer at once; those that ask Tailer answer after the acknowledgement.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Ack, Audit, Bot, Context, render, targets};
use crate::commands::Command;
use crate::config::Job;
use crate::domain::Action;
use crate::slack::api::ResponseBody;
use crate::tailer::{ByStatusQuery, JobRef, LastStatusQuery, RunItem, RunStatus, TailerError};

/// The newest audit entries `audit` shows.
const AUDIT_LINES: u32 = 20;

impl Bot {
    pub(super) async fn read(self: &Arc<Self>, ctx: Context, command: Command) -> Ack {
        let action = command.action();
        // Checked per job below where a job is named.
        let job = match &command {
            Command::Last { job, .. }
            | Command::Watch { job: Some(job), .. }
            | Command::Status { job: Some(job), .. }
            | Command::Latest { job } => match targets::job(&self.config, job) {
                Ok(job) => Some(job.clone()),
                Err(message) => return Ack::note(&message),
            },
            Command::Audit { job: Some(name) } => match targets::job(&self.config, name) {
                Ok(job) => Some(job.clone()),
                Err(message) => return Ack::note(&message),
            },
            // A run alone: its job, where the bot knows it.
            Command::Watch { job: None, run } => match self.job_of_run(run.as_str()).await {
                Ok(Some(name)) => match self.config.job(&name) {
                    Some(job) => Some(job.clone()),
                    None => return Ack::note(&format!("Run `{run}` belongs to `{name}`, which is no longer in the catalog.")),
                },
                Ok(None) => {
                    return Ack::note(&format!(
                        "I don't know which job run `{run}` belongs to (I did not launch it and no channel follows it). Name it: `/tailer watch &lt;job&gt; {run}`."
                    ));
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read which job a run belongs to");
                    return Ack::store_unavailable(&ctx.reference);
                }
            },
            _ => None,
        };
        // `help` is for everyone; `jobs`, `running`, `audit`, `status <run>` and the
        // subscription commands check each job they touch instead.
        let checked_per_job =
            matches!(action, Action::Help | Action::Jobs | Action::Running | Action::Audit | Action::Subscribe | Action::Unsubscribe)
                || (action == Action::Status && job.is_none());
        if !checked_per_job || job.is_some() {
            let jobs: Vec<&Job> = job.iter().collect();
            if let Err(denial) = self.authorize(&ctx, action, &jobs, Audit::No).await {
                return self.refuse(&denial);
            }
        }
        // A run named with the wrong job would show, or follow, another job's run under
        // this one's name.
        if let Command::Status { run, job: Some(named) } | Command::Watch { run, job: Some(named) } = &command {
            match self.other_job_of(&ctx, run.as_str(), named.as_str()).await {
                Err(ack) => return ack,
                Ok(Some(owner)) => {
                    let verb = action.name();
                    return Ack::note(&format!(
                        "Run `{run}` belongs to `{owner}`, not `{named}`. Did you mean `/tailer {verb} {owner} {run}`?"
                    ));
                }
                Ok(None) => {}
            }
        }
        match command {
            Command::Help(None) => Ack::ephemeral(render::help()),
            Command::Help(Some(verb)) => Ack::ephemeral(render::help_verb(verb)),
            Command::Jobs { filter } => self.jobs(&ctx, filter.as_deref()).await,
            Command::Status { run, .. } => {
                let job = match job {
                    Some(job) => job,
                    None => match self.store.known_run(run.as_str()).await {
                        Ok(Some(known)) => match self.config.job(&known.job) {
                            Some(job) => match self.authorize(&ctx, action, &[job], Audit::No).await {
                                Ok(_) => job.clone(),
                                Err(denial) => return self.refuse(&denial),
                            },
                            None => {
                                return Ack::note(&format!("Run `{run}` belongs to `{}`, which is no longer in the catalog.", known.job));
                            }
                        },
                        Ok(None) => {
                            return Ack::note(&format!(
                                "I don't know which job run `{run}` belongs to. Name it: `/tailer status &lt;job&gt; {run}`."
                            ));
                        }
                        Err(error) => {
                            tracing::error!(%error, "cannot read known runs");
                            return Ack::note(&format!(
                                ":warning: My database is unavailable; name the job: `/tailer status &lt;job&gt; {run}`. (ref `{}`)",
                                ctx.reference
                            ));
                        }
                    },
                };
                let bot = self.clone();
                let reference = ctx.reference.clone();
                self.after_ack(ctx, async move {
                    let message = match bot.tailer.check_run_status(&job.job, &run).await {
                        Ok(Some(item)) => render::run(Some(&job), &item),
                        Ok(None) => render::note(&format!(
                            "Tailer has no status for run `{run}` of {} yet: a run that was just launched can take a moment to show.",
                            render::job_label(&job)
                        )),
                        Err(error) => tailer_failed(&error, &reference),
                    };
                    ResponseBody::ephemeral(message)
                });
                Ack::Empty
            }
            Command::Latest { .. } => {
                let Some(job) = job else { return Ack::Empty };
                let bot = self.clone();
                let reference = ctx.reference.clone();
                self.after_ack(ctx, async move {
                    let query = LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() };
                    let message = match bot.tailer.get_last_status(&job.job, &query).await {
                        Ok(items) => match items.first() {
                            Some(item) => render::run(Some(&job), item),
                            None => render::note(&format!("{} has no runs yet.", render::job_label(&job))),
                        },
                        Err(error) => tailer_failed(&error, &reference),
                    };
                    ResponseBody::ephemeral(message)
                });
                Ack::Empty
            }
            Command::Last { limit, status, execution_date, .. } => {
                let Some(job) = job else { return Ack::Empty };
                let bot = self.clone();
                let reference = ctx.reference.clone();
                self.after_ack(ctx, async move {
                    let query = LastStatusQuery { execution_date, status, limit: Some(limit) };
                    let message = match bot.tailer.get_last_status(&job.job, &query).await {
                        Ok(items) => render::last_runs(&job, &items),
                        Err(error) => tailer_failed(&error, &reference),
                    };
                    ResponseBody::ephemeral(message)
                });
                Ack::Empty
            }
            Command::Running { configuration_type } => {
                let visible: Vec<Job> = self.visible(&ctx, action, &self.config.jobs).await.into_iter().cloned().collect();
                // A type none of these jobs has would always answer "nothing running".
                if let Some(wanted) = &configuration_type {
                    let types: BTreeSet<&str> = visible.iter().map(|j| j.job.configuration_type.as_str()).collect();
                    let known = types.contains(wanted.as_str()) || (wanted.as_str() == "gbq-to-gbq" && types.contains("table-to-table"));
                    if !known {
                        let list = types.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
                        return Ack::note(&format!(
                            "`{wanted}` is not a configuration type of any job you may see here; they are: {}.",
                            if list.is_empty() { "none".to_owned() } else { list }
                        ));
                    }
                }
                let bot = self.clone();
                let reference = ctx.reference.clone();
                self.after_ack(ctx, async move {
                    ResponseBody::ephemeral(bot.running(&visible, configuration_type.as_ref(), &reference).await)
                });
                Ack::Empty
            }
            Command::Audit { job: name } => match self.store.recent_audit(name.as_ref().map(|n| n.as_str()), AUDIT_LINES * 5).await {
                Ok(entries) => {
                    // Each entry is shown only to someone the rules let audit its job.
                    let mut visible = Vec::new();
                    for entry in entries {
                        let job = entry.job.as_deref().and_then(|j| self.config.job(j));
                        let allowed = match (job, entry.job.is_some()) {
                            (Some(job), _) => !self.visible(&ctx, action, [job]).await.is_empty(),
                            (None, false) => true,
                            // A job no longer in the catalog: its environment decides.
                            (None, true) => {
                                let env = entry.environment.as_deref().and_then(|e| crate::domain::Environment::parse(e).ok());
                                self.allowed_in(&ctx, action, env.as_ref()).await
                            }
                        };
                        if allowed && visible.len() < AUDIT_LINES as usize {
                            visible.push(entry);
                        }
                    }
                    Ack::ephemeral(render::audit(&visible, name.as_ref().map(|n| n.as_str())))
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read the audit trail");
                    Ack::store_unavailable(&ctx.reference)
                }
            },
            Command::Doctor => {
                let bot = self.clone();
                self.after_ack(ctx, async move { ResponseBody::ephemeral(bot.doctor().await) });
                Ack::Empty
            }
            Command::Watch { run, .. } => match job {
                Some(job) => self.watch_run(&ctx, &job, &run).await,
                None => Ack::Empty,
            },
            Command::Unwatch { run } => self.unwatch_run(&ctx, &run).await,
            Command::Subscribe { target, filter } => self.subscribe(ctx, &target, filter).await,
            Command::Unsubscribe { target } => self.unsubscribe(&ctx, &target).await,
            Command::Subscriptions => self.list_subscriptions(&ctx).await,
            // Writes never reach here.
            other => Ack::note(&format!("`{}` is not a read command.", other.action())),
        }
    }

    async fn jobs(&self, ctx: &Context, filter: Option<&str>) -> Ack {
        let needle = filter.map(str::to_ascii_lowercase);
        let matching: Vec<&Job> = self
            .config
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
        let visible = self.visible(ctx, Action::Jobs, matching).await;
        Ack::ephemeral(render::jobs(&visible, filter))
    }

    /// Runs in RUNNING for every account and type of the visible jobs.
    async fn running(
        &self,
        visible: &[Job],
        configuration_type: Option<&crate::domain::ConfigurationType>,
        reference: &str,
    ) -> crate::slack::blocks::Message {
        let pairs: BTreeSet<(String, String)> = visible
            .iter()
            .filter(|j| configuration_type.is_none_or(|t| &j.job.configuration_type == t))
            .map(|j| (j.job.account.to_string(), j.job.configuration_type.to_string()))
            .collect();
        let mut found: Vec<(Option<&Job>, RunItem)> = Vec::new();
        for (account, configuration_type) in pairs {
            let query = ByStatusQuery {
                account: crate::domain::Account::parse(&account).expect("taken from a parsed account"),
                configuration_type: crate::domain::ConfigurationType::parse(&configuration_type).expect("taken from a parsed type"),
                environment: None,
                status: Some(RunStatus::Running),
                execution_date: None,
                limit: Some(100),
            };
            match self.tailer.get_by_status(&query).await {
                Ok(items) => {
                    for item in items {
                        // Only runs of jobs this person may see.
                        if let Some(job) = visible.iter().find(|j| same_operation(&j.job, &item)) {
                            found.push((Some(job), item));
                        }
                    }
                }
                Err(error) => return tailer_failed(&error, reference),
            }
        }
        render::running(&found)
    }

    /// Tailer, Slack and the store, each checked now, and the figures of the background work.
    async fn doctor(&self) -> crate::slack::blocks::Message {
        let mut lines = Vec::new();
        match self.store.ping().await {
            Ok(()) => lines.push(":white_check_mark: Store: reachable".to_owned()),
            Err(error) => lines.push(format!(":x: Store: {}", crate::slack::blocks::escape(&error.to_string()))),
        }
        match self.config.jobs.first() {
            Some(job) => {
                match self.tailer.get_last_status(&job.job, &LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() }).await {
                    Ok(_) => lines.push(format!(":white_check_mark: Tailer: reachable at {}", self.tailer.base_url())),
                    Err(error) => lines.push(format!(":x: Tailer: {}", crate::slack::blocks::escape(&error.to_string()))),
                }
            }
            None => lines.push(":grey_question: Tailer: no job in the catalog to ask about".to_owned()),
        }
        match self.slack.auth_test().await {
            Ok(()) => lines.push(":white_check_mark: Slack: the bot token works".to_owned()),
            Err(error) => lines.push(format!(":x: Slack: {}", crate::slack::blocks::escape(&error.to_string()))),
        }
        let now = self.now_ms();
        let ago = |t: i64| crate::messages::when(chrono::DateTime::from_timestamp_millis(t).unwrap_or_default());
        match self.stats.last_poll_ok().or(self.store.marker(crate::store::POLLED_MARKER).await.ok().flatten()) {
            Some(t) => lines.push(format!(":white_check_mark: Last successful poll: {}", ago(t))),
            None => lines.push(":grey_question: No successful poll since the start (nothing to poll yet?)".to_owned()),
        }
        match self.store.active_watch_count().await {
            Ok(n) => lines.push(format!(":eyes: Watched runs: {n}")),
            Err(error) => lines.push(format!(":x: Watched runs: {}", crate::slack::blocks::escape(&error.to_string()))),
        }
        match self.store.outbox_depth().await {
            Ok((0, _)) => lines.push(":outbox_tray: Outbox: empty".to_owned()),
            Ok((n, oldest)) => lines.push(format!(
                ":outbox_tray: Outbox: {n} message{} waiting, the oldest since {}",
                if n == 1 { "" } else { "s" },
                oldest.map(ago).unwrap_or_default()
            )),
            Err(error) => lines.push(format!(":x: Outbox: {}", crate::slack::blocks::escape(&error.to_string()))),
        }
        if let Ok(timers) = self.store.pending_timers().await {
            lines.push(format!(":alarm_clock: Timed re-enables pending: {}", timers.len()));
        }
        let (limited, slack_errors, tailer_errors) = self.stats.last_hour(now);
        lines.push(format!(
            ":bar_chart: Last hour: {limited} rate limit{} from Slack, {slack_errors} Slack error{}, {tailer_errors} Tailer error{}; {} message{} undeliverable since the start",
            if limited == 1 { "" } else { "s" },
            if slack_errors == 1 { "" } else { "s" },
            if tailer_errors == 1 { "" } else { "s" },
            self.stats.undeliverable_count(),
            if self.stats.undeliverable_count() == 1 { "" } else { "s" },
        ));
        let mut message = crate::slack::blocks::Message::new("tailerbot health");
        message.section("*tailerbot health*");
        message.lines(&lines, 0);
        message
    }
}

/// Whether a run item belongs to a configured data operation.
fn same_operation(job: &JobRef, item: &RunItem) -> bool {
    item.configuration_id.as_deref() == Some(job.configuration_id.as_str())
        && item.account.as_deref().is_none_or(|a| a == job.account.as_str())
}

/// What the user reads when Tailer failed a read.
pub(super) fn tailer_failed(error: &TailerError, reference: &str) -> crate::slack::blocks::Message {
    tracing::warn!(%error, "a Tailer call failed");
    render::note(&format!(":warning: {} (ref `{reference}`)", crate::slack::blocks::escape(&error.to_string())))
}
