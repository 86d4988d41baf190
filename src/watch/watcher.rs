//! The watcher: polls `check_run_status` for each watched run — once per run however many
//! channels follow it — at an interval that starts at `poll_interval_secs` and backs off
//! towards `max_poll_interval_secs` while nothing changes, with jitter, at most
//! `max_concurrent_polls` at once and under a global request rate. What a poll finds and
//! the messages it causes are stored together; the outbox sends them.

use futures::StreamExt;
use rand::Rng;

use crate::config::{Config, Job, WatchConfig};
use crate::domain::RunId;
use crate::messages::{Links, cards};
use crate::outbox::OutboxMessage;
use crate::shared::Core;
use crate::store::{WatchRow, WatchUpdate};
use crate::tailer::{ErrorKind, Finality, RunItem, TailerError};

use super::Polling;

/// How long a run may stay unknown to Tailer (empty answers, 404) before the bot says so.
pub const UNKNOWN_RUN_GRACE_MS: i64 = 5 * 60 * 1000;
/// Watches taken per pass, in multiples of `max_concurrent_polls`: a pass ends when its
/// slowest poll does, and what falls due meanwhile waits for the next, so passes are
/// kept short (a quarter of a second at 1,000 requests a second).
const BATCH_PER_POLL: usize = 4;
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
}

impl Watcher {
    pub fn new(core: &Core) -> Watcher {
        Watcher { p: Polling::new(core) }
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
        let polled = due.len();
        if polled > 0 {
            crate::crash::point(crate::crash::AFTER_CLAIM);
        }
        let concurrency = config.watch.max_concurrent_polls.max(1);
        futures::stream::iter(due).for_each_concurrent(concurrency, |w| self.poll(&config, w)).await;
        if polled > 0 {
            self.p.outbox.wake();
        }
        polled
    }

    async fn poll(&self, config: &Config, w: WatchRow) {
        let span = tracing::info_span!("poll", run = %w.run_id, job = %w.job);
        tracing::Instrument::instrument(self.poll_in_span(config, w), span).await
    }

    async fn poll_in_span(&self, config: &Config, w: WatchRow) {
        let Some(job) = config.job(&w.job).cloned() else {
            self.stop_orphan(&w).await;
            return;
        };
        let seen = match RunId::parse(&w.run_id) {
            Ok(run) => {
                // The client keeps to max_requests_per_second (shared with commands).
                match self.p.tailer.check_run_status(&job.job, &run).await {
                    Ok(Some(item)) => Observation::Item(item),
                    Ok(None) => Observation::NotYet,
                    Err(error) => Observation::Failed(error),
                }
            }
            Err(_) => Observation::NotYet,
        };
        let now = self.p.clock.now_ms();
        match &seen {
            Observation::Failed(error) if error.kind == ErrorKind::Busy => {
                tracing::debug!("a poll waited for the queue to Tailer; polling again soon");
            }
            Observation::Failed(error) if error.kind != ErrorKind::NotFound => {
                self.p.stats.tailer_error(now);
                tracing::warn!(%error, "a poll failed; polling again later");
            }
            _ => {
                self.p.stats.poll_ok(now);
            }
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
        let (messages, announced) =
            messages(Say { out: &self.p.outbox, links: Links::of(config) }, &job, &w, &cards, &change, &update, now);
        if let Change::Status { item, .. } = &change {
            seen_deactivated(&self.p.store, &job, item, now).await;
        }
        match self.p.store.record_poll(&w.run_id, &update, &messages, &announced, now).await {
            Ok(true) => {}
            Ok(false) => tracing::info!("the run is no longer this replica's to poll (stopped, or taken over); the poll is dropped"),
            Err(error) => tracing::error!(%error, "cannot record a poll; it will be done again"),
        }
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

/// Where the messages of a change go and how runs are named in them.
struct Say<'a> {
    out: &'a dyn crate::chat::Render,
    links: Links<'a>,
}

/// The messages a change causes on each card, and the channels now told of the end.
fn messages(
    Say { out, links }: Say,
    job: &Job,
    w: &WatchRow,
    cards: &[crate::store::CardRow],
    change: &Change,
    update: &WatchUpdate,
    now: i64,
) -> (Vec<OutboxMessage>, Vec<String>) {
    let mut messages = Vec::new();
    let mut announced = Vec::new();
    let last_item: Option<RunItem> = update.item.as_deref().and_then(|i| serde_json::from_str(i).ok());
    for card in cards {
        match change {
            Change::Nothing => {}
            Change::Status { item, is_final, note } => {
                let edit = cards::update(out, links, job, card, Some(item), *is_final, note.as_deref());
                let reply = cards::status_reply(out, links, card, item, job);
                if *is_final {
                    // The news people wait for goes ahead of everything else queued.
                    messages.extend([edit.first(), reply.first()]);
                    announced.push(card.channel_id.clone());
                } else {
                    messages.extend([edit, reply]);
                }
            }
            Change::NeverKnown => {
                let note = "Tailer does not know this run.";
                messages.push(cards::update(out, links, job, card, None, false, Some(note)));
                let text =
                    crate::messages::watching::never_known(&w.run_id, &crate::messages::job_label(job), UNKNOWN_RUN_GRACE_MS / 60_000);
                messages.push(cards::reply(out, card, &text, false));
            }
            Change::GaveUp => {
                let status = last_item.as_ref().map(|i| crate::messages::status(&i.status)).unwrap_or_else(|| "unknown".into());
                messages.push(cards::update(out, links, job, card, last_item.as_ref(), false, Some("No longer watched.")));
                let hours = (now - w.started_at).max(0) / 3_600_000;
                let text = crate::messages::watching::gave_up(&status, hours, job.name.as_str(), &w.run_id);
                messages.push(cards::reply(out, card, &text, false));
            }
        }
    }
    (messages, announced)
}

#[cfg(test)]
mod tests;
