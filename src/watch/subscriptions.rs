//! Subscriptions: every `subscription_poll_secs`, the last runs of each subscribed job are
//! read once (however many channels subscribe to it), and each run that ended after the
//! subscription was made is announced once per channel. After downtime the runs that
//! ended meanwhile are announced, up to a bound; older ones are not.

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::commands::Target;
use crate::config::{Config, Job};
use crate::messages::{self as render, Links};
use crate::shared::Core;
use crate::store::SubscriptionRow;
use crate::tailer::{LastStatusQuery, RunItem};

use super::Polling;

pub use crate::tailer::RUNS_PER_READ as RUNS_PER_POLL;
/// Runs read when the first read may have missed runs that ended since the last one
/// (pushed out of it by newer runs).
pub const RUNS_PER_DEEP_POLL: u32 = 100;
/// Runs that ended longer ago than this are never announced, whatever the downtime.
pub const CATCH_UP_MS: i64 = 24 * 3_600_000;
pub use crate::store::POLLED_MARKER;

/// Reads subscribed jobs and announces what ended.
pub struct SubscriptionPoller {
    p: Polling,
    /// What each job's last read in this process saw. Missing (a new process): read
    /// further back once.
    last_read: dashmap::DashMap<String, LastRead>,
}

impl SubscriptionPoller {
    pub fn new(core: &Core) -> SubscriptionPoller {
        SubscriptionPoller { p: Polling::new(core), last_read: dashmap::DashMap::new() }
    }

    /// The subscriptions of each job (resolved now: tags and `all` follow the catalog).
    fn by_job(config: &Config, subscriptions: Vec<SubscriptionRow>) -> BTreeMap<String, Vec<SubscriptionRow>> {
        let mut by_job: BTreeMap<String, Vec<SubscriptionRow>> = BTreeMap::new();
        for s in subscriptions {
            let Some(t) = Target::parse(&s.target) else { continue };
            let Ok(jobs) = crate::commands::targets::jobs(config, &t) else { continue };
            for job in jobs {
                let entry = by_job.entry(job.name.to_string()).or_default();
                if !entry.iter().any(|e| e.channel_id == s.channel_id && (e.filter == "all" || s.filter == "failures")) {
                    entry.retain(|e| e.channel_id != s.channel_id);
                    entry.push(s.clone());
                }
            }
        }
        by_job
    }

    /// One pass over every subscribed job; returns how many announcements were queued.
    pub async fn run_once(&self) -> usize {
        // One configuration for the whole pass.
        let config = self.p.config.config();
        let subscriptions = match self.p.store.subscriptions(None).await {
            Ok(s) => s,
            Err(error) => {
                tracing::error!(%error, "cannot read the subscriptions");
                return 0;
            }
        };
        let by_job = Self::by_job(&config, subscriptions);
        let concurrency = config.watch.max_concurrent_polls.max(1);
        let config = &*config;
        let counts: Vec<usize> = futures::stream::iter(by_job)
            .map(|(job, subs)| async move {
                let Some(job) = config.job(&job) else { return 0 };
                self.poll_job(config, job, &subs).await
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let announced: usize = counts.iter().sum();
        if let Err(error) = self.p.store.set_marker(POLLED_MARKER, self.p.clock.now_ms()).await {
            tracing::warn!(%error, "cannot record the subscription poll");
        }
        if announced > 0 {
            self.p.outbox.wake();
        }
        announced
    }

    /// Reads a job's last runs and announces those that ended.
    async fn poll_job(&self, config: &Config, job: &Job, subs: &[SubscriptionRow]) -> usize {
        let mut items = match self.read(job, RUNS_PER_POLL).await {
            Some(items) => items,
            None => return 0,
        };
        let last = self.last_read.get(job.name.as_str()).map(|l| l.clone());
        if needs_deeper_read(&items, last.as_ref()) {
            tracing::debug!(job = %job.name, "runs may have ended out of the last runs read; reading further back");
            items = match self.read(job, RUNS_PER_DEEP_POLL).await {
                Some(items) => items,
                None => return 0,
            };
        }
        self.last_read.insert(job.name.to_string(), LastRead::of(&items));
        let now = self.p.clock.now_ms();
        self.p.stats.poll_ok(now);
        let mut announced = 0;
        if let Some(newest) = items.first() {
            super::watcher::seen_deactivated(&self.p.store, job, newest, now).await;
        }
        for item in items.iter().filter(|i| i.status.is_final()) {
            // Without an end time, its start stands in; without either, it is not news.
            let Some(ended) = item.ended_at().or(item.start_execution_date).map(|t| t.timestamp_millis()) else {
                continue;
            };
            for sub in subs {
                if sub.filter == "failures" && !item.status.is_failure() {
                    continue;
                }
                if ended < sub.created_at || ended < now - CATCH_UP_MS {
                    continue;
                }
                match self
                    .p
                    .store
                    .announce(
                        &sub.channel_id,
                        item.run_id.as_str(),
                        &render::cards::announcement(&self.p.outbox, Links::of(config), &sub.channel_id, job, item),
                        now,
                    )
                    .await
                {
                    Ok(true) => announced += 1,
                    Ok(false) => {}
                    Err(error) => tracing::error!(%error, "cannot queue an announcement; it will be tried next poll"),
                }
            }
        }
        announced
    }

    /// A job's last `limit` runs, newest first; `None` (logged) when Tailer failed.
    async fn read(&self, job: &Job, limit: u32) -> Option<Vec<RunItem>> {
        let query = LastStatusQuery { limit: Some(limit), ..LastStatusQuery::default() };
        match self.p.tailer.get_last_status(&job.job, &query).await {
            Ok(items) => Some(items),
            Err(error) => {
                self.p.stats.tailer_error(self.p.clock.now_ms());
                tracing::warn!(%error, job = %job.name, "a subscription poll failed; trying again next time");
                None
            }
        }
    }
}

/// The runs a read saw, and those of them not final yet.
#[derive(Debug, Clone, Default)]
pub struct LastRead {
    pub runs: Vec<String>,
    pub unfinished: Vec<String>,
}

impl LastRead {
    pub fn of(items: &[RunItem]) -> LastRead {
        LastRead {
            runs: items.iter().map(|i| i.run_id.to_string()).collect(),
            unfinished: items.iter().filter(|i| !i.status.is_final()).map(|i| i.run_id.to_string()).collect(),
        }
    }
}

/// Whether a full read of a job's newest runs may have missed a run that ended since the
/// last read: none of its runs was seen then (newer runs may fill it entirely), or a run
/// not final then is not in it; or this process never read the job (after downtime,
/// anything may have ended).
pub fn needs_deeper_read(items: &[RunItem], last: Option<&LastRead>) -> bool {
    if items.len() < RUNS_PER_POLL as usize {
        return false;
    }
    let Some(last) = last else { return true };
    let has = |run: &String| items.iter().any(|i| i.run_id.as_str() == run);
    !last.runs.iter().any(has) || last.unfinished.iter().any(|run| !has(run))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::RunId;
    use crate::tailer::RunStatus;

    #[test]
    fn a_start_and_a_duration_past_the_end_of_the_calendar_give_no_end_instead_of_a_panic() {
        let item = RunItem {
            run_id: RunId::parse("20201230-1").unwrap(),
            status: RunStatus::Failed,
            account: None,
            environment: None,
            configuration_type: None,
            configuration_id: None,
            job_id: None,
            duration: Some(Duration::from_secs(1 << 40)),
            start_execution_date: Some(DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1)),
            last_update_date: None,
        };
        assert_eq!(item.ended_at(), None);
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let item = RunItem { start_execution_date: Some(start), duration: Some(Duration::from_secs(60)), ..item };
        assert_eq!(item.ended_at(), Some(start + chrono::Duration::seconds(60)));
    }

    fn items(runs: std::ops::Range<u32>, running: &[u32]) -> Vec<RunItem> {
        runs.rev()
            .map(|n| RunItem {
                run_id: RunId::parse(&format!("20261201-{n:06}")).unwrap(),
                status: if running.contains(&n) { RunStatus::Running } else { RunStatus::Success },
                account: None,
                environment: None,
                configuration_type: None,
                configuration_id: None,
                job_id: None,
                duration: None,
                start_execution_date: None,
                last_update_date: None,
            })
            .collect()
    }

    #[test]
    fn a_deeper_read_is_made_only_when_the_first_may_have_missed_an_end() {
        let last = LastRead::of(&items(0..10, &[3]));
        assert!(!needs_deeper_read(&items(5..9, &[]), None), "a read that is not full has everything");
        assert!(needs_deeper_read(&items(20..30, &[]), None), "never read in this process: after downtime");
        assert!(!needs_deeper_read(&items(2..12, &[]), Some(&last)), "overlaps the last read and still holds run 3");
        assert!(needs_deeper_read(&items(5..15, &[]), Some(&last)), "run 3, running last time, fell out");
        assert!(needs_deeper_read(&items(10..20, &[]), Some(&last)), "ten new runs: more may have come and gone");
    }
}
