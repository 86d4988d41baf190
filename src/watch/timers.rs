//! Timed re-enables: `disable ... for <duration>` leaves a timer in the store; when it is
//! due the job is enabled again and the thread of the disable message hears about it.
//! Timers survive restarts; a failing re-enable is retried, then reported.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{Config, LiveConfig};
use crate::domain::{Action, ChannelId, UserId};
use crate::messages as render;
use crate::outbox::Outbox;
use crate::outbox::OutboxMessage;
use crate::shared::Core;
use crate::stats::Stats;
use crate::store::{AuditEntry, AuditOutcome, Store, SwitchRow, TimerRow};
use crate::tailer::ConfigurationStatus;
use crate::tailer::TailerClient;

/// Tries before a re-enable is reported as failed.
const MAX_ATTEMPTS: i64 = 8;

/// A reply in the thread of the disable message.
pub fn thread_reply(out: &dyn crate::chat::Render, lane: &str, channel: &str, text: &str) -> OutboxMessage {
    OutboxMessage::post(lane, channel, out.render(&crate::messages::note(text))).in_thread(false)
}

/// Carries out due timers.
pub struct Timers {
    /// The configuration in force: one snapshot per pass.
    config: Arc<LiveConfig>,
    store: Store,
    tailer: TailerClient,
    outbox: Outbox,
    clock: SharedClock,
    stats: Arc<Stats>,
}

impl Timers {
    pub fn new(core: &Core) -> Timers {
        Timers {
            config: core.config.clone(),
            store: core.store.clone(),
            tailer: core.tailer.clone(),
            outbox: core.outbox.clone(),
            clock: core.clock.clone(),
            stats: core.stats.clone(),
        }
    }

    /// One pass; returns how many timers were handled.
    pub async fn run_once(&self) -> usize {
        let config = self.config.config();
        let claimed = self.store.claim_timers(self.clock.now_ms(), 100).await;
        let due = match self.store.claimed(claimed) {
            Ok(due) => due,
            Err(error) => {
                if let Some(repeats) = crate::telemetry::store_failure("timers", &error) {
                    tracing::error!(%error, repeats, "cannot claim the timers; trying again after a pause");
                }
                return 0;
            }
        };
        for timer in &due {
            let span = tracing::info_span!("timer", job = %timer.job, channel = %timer.channel_id);
            tracing::Instrument::instrument(self.fire(&config, timer), span).await;
        }
        if !due.is_empty() {
            self.outbox.wake();
        }
        due.len()
    }

    async fn fire(&self, config: &Config, t: &TimerRow) {
        let now = self.clock.now_ms();
        let Some(job) = config.job(&t.job).cloned() else {
            let text = crate::messages::watching::job_left_catalog_timer(&t.job);
            self.finish(t, "failed", &text).await;
            return;
        };
        let label = render::job_label(&job);
        match self.tailer.set_configuration_status(&job.job, ConfigurationStatus::Enable).await {
            Ok(()) => {
                crate::crash::point(crate::crash::AFTER_TIMER_FIRED);
                self.audit(t, &job, AuditOutcome::Succeeded, "ok".into()).await;
                let text = format!(
                    ":large_green_circle: Re-enabled {label}: the disable asked by {} is over.",
                    crate::domain::markup::mention(&t.requested_by)
                );
                let on = SwitchRow::by_bot(job.name.as_str(), false, &t.requested_by, None, now, None);
                self.finish_switching(t, "done", &text, Some(&on)).await;
            }
            Err(error) if error.is_retryable() && t.attempts + 1 < MAX_ATTEMPTS => {
                self.stats.tailer_error(now);
                let wait = (30_000_i64 << t.attempts.clamp(0, 5)).min(600_000);
                tracing::warn!(%error, job = %job.name, "re-enabling failed; trying again");
                if let Err(error) = self.store.retry_timer(&t.id, now + wait).await {
                    tracing::error!(%error, "cannot reschedule a timer");
                }
            }
            Err(error) => {
                self.audit(t, &job, AuditOutcome::Failed, error.to_string()).await;
                let text = crate::messages::watching::could_not_reenable(&label, &error.to_string(), job.name.as_str());
                self.finish(t, "failed", &text).await;
            }
        }
    }

    async fn finish(&self, t: &TimerRow, state: &str, text: &str) {
        self.finish_switching(t, state, text, None).await;
    }

    /// Finishes a timer; a re-enable records that the job is on, in the same transaction.
    async fn finish_switching(&self, t: &TimerRow, state: &str, text: &str, switch: Option<&SwitchRow>) {
        let reply = thread_reply(&self.outbox, &t.lane, &t.channel_id, text);
        if let Err(error) = self.store.finish_timer(&t.id, state, switch, &[reply], self.clock.now_ms()).await {
            tracing::error!(%error, "cannot finish a timer; it will fire again");
        }
    }

    async fn audit(&self, t: &TimerRow, job: &crate::config::Job, outcome: AuditOutcome, answer: String) {
        let entry = AuditEntry {
            id: 0,
            at: self.clock.now_ms(),
            reference: t.id.chars().take(8).collect(),
            user_id: UserId::parse(&t.requested_by).map(|u| u.to_string()).unwrap_or_default(),
            channel_id: ChannelId::parse(&t.channel_id).map(|c| c.to_string()).unwrap_or_default(),
            action: Action::Enable,
            job: Some(job.name.to_string()),
            environment: Some(job.job.environment.to_string()),
            outcome,
            detail: format!("automatic re-enable{}", t.reason.as_deref().map(|r| format!(" (disabled: {r})")).unwrap_or_default()),
            tailer_answer: Some(answer),
        };
        if let Err(error) = self.store.audit(&entry).await {
            tracing::error!(%error, "cannot audit a re-enable");
        }
    }
}
