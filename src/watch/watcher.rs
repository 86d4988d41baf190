//! The watcher: polls each watched run — once per run however many channels follow it,
//! and with one call per job for the runs of a job due together ([`super::latest`]) — at
//! an interval that starts at `poll_interval_secs` and backs off towards
//! `max_poll_interval_secs` while nothing changes, with jitter, at most
//! `max_concurrent_polls` at once and under a global request rate. What a poll finds and
//! the messages it causes are stored together; the outbox sends them.

use std::collections::HashMap;

use futures::StreamExt;
use rand::Rng;

use crate::config::{Config, Job, WatchConfig};
use crate::domain::RunId;
use crate::messages::{Links, cards};
use crate::outbox::OutboxMessage;
use crate::shared::Core;
use crate::store::{WatchRow, WatchUpdate};
use crate::tailer::{ErrorKind, Finality, RunItem, TailerError};

use super::{Polling, latest};

/// How long a run may stay unknown to Tailer (empty answers, 404) before the bot says so.
pub const UNKNOWN_RUN_GRACE_MS: i64 = 5 * 60 * 1000;
/// Watches taken per pass, in multiples of `max_concurrent_polls`: a pass ends when its
/// slowest poll does, and what falls due meanwhile waits for the next, so passes are
/// kept short (a quarter of a second at 1,000 requests a second).
const BATCH_PER_POLL: usize = 4;
/// Runs a pass takes at most, with the other runs of the jobs due, in multiples of the
/// runs due it claims: the jobs that do not fit are given back whole, for the next pass.
const COMPANIONS_PER_DUE: usize = 16;
/// How far a poll moves from its interval, either way: enough that runs started together
/// drift apart, small enough that a run's end is seen within about one interval. (With
/// ±10%, the 99th percentile of the wait for the poll that sees an end was 1.04
/// intervals: gaps are long as often as short, and an end falls in a long gap more
/// often.)
pub const JITTER: f64 = 0.02;

/// A factor drawn within ±[`JITTER`], for the next poll.
pub fn jitter() -> f64 {
    rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER)
}

/// What a poll saw.
#[derive(Debug, Clone)]
pub enum Observation {
    Item(RunItem),
    /// Empty results or 404: not (yet) known to Tailer.
    NotYet,
    Failed(TailerError),
}

/// What a poll changes for the people following the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Nothing,
    /// A new status (or an unknown one now taken as final).
    Status {
        item: Box<RunItem>,
        is_final: bool,
        note: Option<String>,
    },
    /// Tailer never showed the run.
    NeverKnown,
    /// Followed for `give_up_after` without an end.
    GaveUp,
}

/// The pure part of a poll: the watch's next state and what changed.
pub fn decide(w: &WatchRow, seen: Observation, now: i64, cfg: &WatchConfig, jitter: f64) -> (WatchUpdate, Change) {
    let base = cfg.poll_interval.as_millis() as i64;
    let max = cfg.max_poll_interval.as_millis() as i64;
    let backed_off = ((w.interval_ms.max(base) * 3) / 2).min(max);
    let mut update = WatchUpdate {
        status: w.status.clone(),
        status_since: w.status_since,
        first_seen_at: w.first_seen_at,
        interval_ms: backed_off,
        next_poll_at: 0,
        item: w.item.clone(),
        active: true,
    };
    let mut change = Change::Nothing;
    match seen {
        Observation::Item(item) => {
            update.first_seen_at = w.first_seen_at.or(Some(now));
            update.item = Some(item.to_json().to_string());
            let status = item.status.as_str().to_owned();
            if w.status.as_deref() != Some(status.as_str()) {
                update.status = Some(status);
                update.status_since = Some(now);
                update.interval_ms = base;
                let is_final = item.status.is_final();
                update.active = !is_final;
                change = Change::Status { item: Box::new(item), is_final, note: None };
            } else if item.status.finality() == Finality::Unknown
                && now - w.status_since.unwrap_or(now) >= cfg.unknown_status_final_after.as_millis() as i64
            {
                update.active = false;
                let note = crate::messages::watching::taken_as_final(item.status.as_str());
                change = Change::Status { item: Box::new(item), is_final: true, note: Some(note) };
            }
        }
        Observation::NotYet | Observation::Failed(TailerError { kind: ErrorKind::NotFound, .. }) => {
            if w.first_seen_at.is_none() {
                update.interval_ms = base;
                if now - w.started_at >= UNKNOWN_RUN_GRACE_MS {
                    update.active = false;
                    change = Change::NeverKnown;
                }
            }
        }
        // The bot's own queue to Tailer was full: asked again soon, at the same pace.
        Observation::Failed(TailerError { kind: ErrorKind::Busy, .. }) => update.interval_ms = w.interval_ms.max(base),
        Observation::Failed(_) => {}
    }
    if update.active && now - w.started_at >= cfg.give_up_after.as_millis() as i64 {
        update.active = false;
        change = Change::GaveUp;
    }
    update.next_poll_at = now + (update.interval_ms as f64 * jitter) as i64;
    (update, change)
}

/// A run that ended DEACTIVATED: its job is switched off, whoever did it (what
/// `disabled` lists, and what a launch warns about).
pub(crate) async fn seen_deactivated(store: &crate::store::Store, job: &Job, item: &RunItem, now_ms: i64) {
    if item.status != crate::tailer::RunStatus::Deactivated {
        return;
    }
    let at = item.start_execution_date.map_or(now_ms, |t| t.timestamp_millis());
    if let Err(error) = store.seen_deactivated(job.name.as_str(), at).await {
        tracing::warn!(%error, "cannot note that a job is switched off");
    }
}

/// Polls watched runs.
pub struct Watcher {
    p: Polling,
    /// Job → how deep into its latest runs its last answer had to go to reach the oldest
    /// run followed ([`latest::depth`]). A cache: lost at a restart, learnt again at the
    /// job's next answer.
    depth: dashmap::DashMap<String, u32>,
}

impl Watcher {
    pub fn new(core: &Core) -> Watcher {
        Watcher { p: Polling::new(core), depth: dashmap::DashMap::new() }
    }

    /// The most runs one pass polls.
    pub fn batch(&self) -> usize {
        Self::batch_of(&self.p.config.config())
    }

    fn batch_of(config: &Config) -> usize {
        config.watch.max_concurrent_polls.max(1) * BATCH_PER_POLL
    }

    /// One pass: polls the runs due (at most [`Watcher::batch`]); returns how many
    /// were polled.
    pub async fn run_once(&self) -> usize {
        // One configuration for the whole pass.
        let config = self.p.config.config();
        let now = self.p.clock.now_ms();
        let claimed = self.p.store.claim_watches(now, u32::try_from(Self::batch_of(&config)).unwrap_or(u32::MAX)).await;
        let due = match self.p.store.claimed(claimed) {
            Ok(due) => due,
            Err(error) => {
                if let Some(repeats) = crate::telemetry::store_failure("watcher", &error) {
                    tracing::error!(%error, repeats, "cannot claim the watched runs; trying again after a pause");
                }
                return 0;
            }
        };
        let mut due = due;
        let mut followed = HashMap::new();
        if !due.is_empty() {
            crate::crash::point(crate::crash::AFTER_CLAIM);
            followed = self.followed(&due).await;
            let room = Self::batch_of(&config) * COMPANIONS_PER_DUE;
            let left;
            (due, left) = latest::whole_jobs(due, &followed, room);
            self.give_back(&left).await;
            due.extend(self.companions(&config, &due, &followed, now).await);
        }
        let polled = due.len();
        let concurrency = config.watch.max_concurrent_polls.max(1);
        futures::stream::iter(latest::by_job(due))
            .for_each_concurrent(concurrency, |group| {
                let watched = followed.get(group[0].job.as_str()).copied().unwrap_or(0).max(group.len());
                self.poll_job(&config, group, watched)
            })
            .await;
        if polled > 0 {
            self.p.outbox.wake();
        }
        polled
    }

    /// The runs due of the jobs left to the next pass, claimed and not polled: given back
    /// at once (else their claims run out).
    async fn give_back(&self, left: &[WatchRow]) {
        let runs: Vec<&str> = left.iter().map(|w| w.run_id.as_str()).collect();
        if let Err(error) = self.p.store.give_back_watches(&runs).await {
            tracing::warn!(%error, runs = runs.len(), "cannot give back the runs left to the next pass; they are polled when their claims run out");
        }
    }

    /// The other watches of the jobs due, due within half an interval: polled now, with
    /// them, by the job's one call (and from then on due together). Not for a job with
    /// more runs followed than one answer reaches ([`latest::takes_companions`]).
    async fn companions(&self, config: &Config, due: &[WatchRow], followed: &HashMap<String, usize>, now: i64) -> Vec<WatchRow> {
        let mut jobs: Vec<&str> =
            due.iter().map(|w| w.job.as_str()).filter(|job| followed.get(*job).is_some_and(|n| latest::takes_companions(*n))).collect();
        jobs.sort_unstable();
        jobs.dedup();
        let until = now + config.watch.poll_interval.as_millis() as i64 / 2;
        let limit = u32::try_from(Self::batch_of(config) * COMPANIONS_PER_DUE).unwrap_or(u32::MAX);
        match self.p.store.claim_watches_of_jobs(now, &jobs, until, limit).await {
            Ok(more) => more,
            Err(error) => {
                // Each is polled on its own when it falls due.
                tracing::warn!(%error, "cannot take the other watched runs of the jobs due; they are polled when due");
                Vec::new()
            }
        }
    }

    /// How many runs are followed now of each job due: its answer is asked for enough of
    /// its latest runs to cover them all, not only those due.
    async fn followed(&self, due: &[WatchRow]) -> HashMap<String, usize> {
        let mut jobs: Vec<&str> = due.iter().map(|w| w.job.as_str()).collect();
        jobs.sort_unstable();
        jobs.dedup();
        match self.p.store.watched_runs_of_jobs(&jobs).await {
            Ok(counts) => counts.into_iter().map(|(job, n)| (job, usize::try_from(n).unwrap_or(0))).collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot count the runs followed of the jobs due; asking for those due only");
                Default::default()
            }
        }
    }

    /// Polls the runs of one job (`watched` of its runs followed in all): with one call
    /// for its latest runs when there are several, then each run the answer did not
    /// reach with its own.
    async fn poll_job(&self, config: &Config, group: Vec<WatchRow>, watched: usize) {
        let Some(job) = group.first().and_then(|w| config.job(&w.job)).cloned() else {
            for w in &group {
                self.stop_orphan(w).await;
            }
            return;
        };
        let seen = if group.len() < 2 {
            own_calls("alone", group.len());
            vec![None; group.len()]
        } else {
            self.latest(&job, &group, watched).await
        };
        let concurrency = config.watch.max_concurrent_polls.max(1);
        let job = &job;
        futures::stream::iter(group.into_iter().zip(seen))
            .for_each_concurrent(concurrency, |(w, seen)| {
                let span = tracing::info_span!("poll", run = %w.run_id, job = %w.job);
                tracing::Instrument::instrument(self.poll(config, job, w, seen), span)
            })
            .await
    }

    /// One run: what its job's answer said of it, or else its own call; then its next
    /// state and its messages, written together.
    async fn poll(&self, config: &Config, job: &Job, w: WatchRow, seen: Option<Observation>) {
        let seen = match seen {
            Some(seen) => seen,
            None => self.check(job, &w).await,
        };
        let now = self.p.clock.now_ms();
        if !matches!(seen, Observation::Failed(_)) {
            self.p.stats.poll_ok(now);
        }
        let (update, change) = decide(&w, seen, now, &config.watch, jitter());
        // The cards are read only when there is something to tell them.
        let cards = match change {
            Change::Nothing => Vec::new(),
            _ => match self.p.store.cards(&w.run_id).await {
                Ok(cards) => cards,
                Err(error) => {
                    tracing::error!(%error, "cannot read the run's cards");
                    return;
                }
            },
        };
        let (messages, announced) = messages(Say { out: &self.p.outbox, links: Links::of(config) }, job, &w, &cards, &change, &update, now);
        if let Change::Status { item, .. } = &change {
            seen_deactivated(&self.p.store, job, item, now).await;
        }
        match self.p.store.record_poll(&w.run_id, &update, &messages, &announced, now).await {
            Ok(true) => {}
            Ok(false) => tracing::info!("the run is no longer this replica's to poll (stopped, or taken over); the poll is dropped"),
            Err(error) => tracing::error!(%error, "cannot record a poll; it will be done again"),
        }
    }

    /// A run asked about on its own (`check_run_status`).
    async fn check(&self, job: &Job, w: &WatchRow) -> Observation {
        let seen = match RunId::parse(&w.run_id) {
            // The client keeps to max_requests_per_second (shared with commands).
            Ok(run) => match self.p.tailer.check_run_status(&job.job, &run).await {
                Ok(Some(item)) => Observation::Item(item),
                Ok(None) => Observation::NotYet,
                Err(error) => Observation::Failed(error),
            },
            Err(_) => Observation::NotYet,
        };
        match &seen {
            Observation::Failed(error) if error.kind == ErrorKind::Busy => {
                tracing::debug!("a poll waited for the queue to Tailer; polling again soon");
            }
            Observation::Failed(error) if error.kind != ErrorKind::NotFound => {
                self.p.stats.tailer_error(self.p.clock.now_ms());
                tracing::warn!(%error, "a poll failed; polling again later");
            }
            Observation::Failed(_) => self.p.stats.poll_ok(self.p.clock.now_ms()),
            _ => {}
        }
        seen
    }

    async fn stop_orphan(&self, w: &WatchRow) {
        let now = self.p.clock.now_ms();
        let cards = self.p.store.cards(&w.run_id).await.unwrap_or_default();
        let text = crate::messages::watching::job_left_catalog_watch(&w.job);
        let messages: Vec<OutboxMessage> = cards.iter().map(|c| cards::reply(&self.p.outbox, c, &text, false)).collect();
        let update = WatchUpdate {
            status: w.status.clone(),
            status_since: w.status_since,
            first_seen_at: w.first_seen_at,
            interval_ms: w.interval_ms,
            next_poll_at: now,
            item: w.item.clone(),
            active: false,
        };
        if let Err(error) = self.p.store.record_poll(&w.run_id, &update, &messages, &[], now).await {
            tracing::error!(%error, "cannot stop an orphan watch");
        }
    }
}

mod answer;
mod tell;
use answer::own_calls;
use tell::{Say, messages};

#[cfg(test)]
mod tests;
