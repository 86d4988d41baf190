//! Daily digests: once a day, at its time, a channel gets one post on the jobs it follows
//! (its subscriptions' and its expectations'): their last 24 h of runs, their
//! expectations, what is disabled now; the history chart of each failing job (a few) in
//! its thread. Each day's digest is posted once, whichever replica composes it; one
//! whose time passed while the bot was down is posted at the next start, marked late.
//! Tailer not answering is retried for a while, then said job by job.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{FutureExt, StreamExt};

use crate::commands::targets;
use crate::config::{Config, Job};
use crate::domain::Schedule;
use crate::history::{self, Kind, Summary};
use crate::messages::Links;
use crate::messages::digest::{self as say, Digest, JobDay, Late, Runs};
use crate::outbox::{OutboxBody, OutboxMessage, Upload};
use crate::shared::Core;
use crate::store::{DigestDayRow, DigestRow, ExpectationDayRow, ExpectationRow, SwitchRow};
use crate::tailer::{LastStatusQuery, RunItem};

use super::Polling;
use super::expectations::UNKNOWN_AFTER;

/// The marker of the last pass over the digests (unix ms).
pub const DIGEST_MARKER: &str = "digests_checked";
/// Runs read per job: enough for a day of a job that runs often.
pub const RUNS_PER_DIGEST: u32 = 100;
/// History charts per digest (of its failing jobs), and the runs each draws.
pub const CHARTS: usize = 3;
pub const CHART_RUNS: usize = 30;
const DAY_MS: i64 = 86_400_000;

/// Posts the digests that are due.
pub struct DigestPoster {
    p: Polling,
    /// When this process started: Tailer's retry window of a digest caught up at a start
    /// runs from then.
    started_ms: i64,
}

/// A digest due now: its row, time and day.
struct Due<'a> {
    row: &'a DigestRow,
    schedule: Schedule,
    day: NaiveDate,
}

/// What a pass read once for every digest it composes.
struct Known {
    subscriptions: Vec<crate::store::SubscriptionRow>,
    expectations: Vec<ExpectationRow>,
    days: Vec<ExpectationDayRow>,
    off: Vec<SwitchRow>,
}

impl DigestPoster {
    pub fn new(core: &Core) -> DigestPoster {
        DigestPoster { p: Polling::new(core), started_ms: core.clock.now_ms() }
    }

    /// One pass: returns how many digests were queued.
    pub async fn run_once(&self) -> usize {
        let config = self.p.config.config();
        let now = self.p.clock.now();
        let now_ms = now.timestamp_millis();
        let (rows, posted) = match (self.p.store.digests().await, self.p.store.digest_days(None, now_ms - 2 * DAY_MS).await) {
            (Ok(rows), Ok(posted)) => (rows, posted),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot read the digests");
                return 0;
            }
        };
        let previous = self.p.store.marker(DIGEST_MARKER).await.ok().flatten();
        let done: HashSet<(&str, String)> = posted.iter().map(|d| (d.channel_id.as_str(), d.day.clone())).collect();
        let due: Vec<Due> = rows
            .iter()
            .filter(|r| r.paused.is_none())
            .filter_map(|row| {
                let schedule = Schedule::stored(row.at_minute, &row.tz)?;
                let channel = row.channel_id.as_str();
                let last = posted.iter().filter(|d| d.channel_id == channel).map(|d| d.posted_at).max();
                let day = schedule.owed(
                    now,
                    DateTime::from_timestamp_millis(row.created_at).unwrap_or(now),
                    |day| done.contains(&(channel, day.to_string())),
                    last.and_then(DateTime::from_timestamp_millis),
                )?;
                Some(Due { row, schedule, day })
            })
            .collect();
        let mut queued = 0;
        if !due.is_empty() {
            match self.known(now_ms).await {
                Ok(known) => {
                    let runs = self.read_runs(&config, &due, &known, now_ms).await;
                    let mut charts = HashMap::new();
                    for d in &due {
                        queued += self.post(&config, d, &known, &runs, &mut charts, now, previous).await;
                    }
                }
                Err(error) => tracing::error!(%error, "cannot read what the digests cover; trying again next pass"),
            }
        }
        if let Err(error) = self.p.store.set_marker(DIGEST_MARKER, now_ms).await {
            tracing::warn!(%error, "cannot record the digests' check");
        }
        if queued > 0 {
            self.p.outbox.wake();
        }
        queued
    }

    async fn known(&self, now_ms: i64) -> Result<Known, crate::store::StoreError> {
        let store = &self.p.store;
        Ok(Known {
            subscriptions: store.subscriptions(None).await?,
            expectations: store.expectations(None).await?,
            // A digest covers the days since its previous time, which may be a day and a
            // half ago for one caught up late (and 25 h on a day the clocks change).
            days: store.expectation_days(now_ms - 2 * DAY_MS).await?,
            off: store.switched_off().await?,
        })
    }

    /// The jobs a channel's digest covers.
    fn covered<'c>(config: &'c Config, known: &Known, channel: &str) -> Vec<&'c Job> {
        let subscribed: Vec<String> = known.subscriptions.iter().filter(|s| s.channel_id == channel).map(|s| s.target.clone()).collect();
        let expected: Vec<String> = known.expectations.iter().filter(|e| e.channel_id == channel).map(|e| e.job.clone()).collect();
        targets::followed(config, &subscribed, &expected)
    }

    /// Each covered job's runs, read once for all the digests due (`None`: Tailer failed).
    async fn read_runs(&self, config: &Config, due: &[Due<'_>], known: &Known, now_ms: i64) -> HashMap<String, Option<Vec<RunItem>>> {
        let mut jobs: Vec<&Job> = due.iter().flat_map(|d| Self::covered(config, known, &d.row.channel_id)).collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        jobs.dedup_by(|a, b| a.name == b.name);
        let query = LastStatusQuery { limit: Some(RUNS_PER_DIGEST), ..LastStatusQuery::default() };
        let query = &query;
        futures::stream::iter(jobs)
            .map(|job| async move {
                let runs = match self.p.tailer.get_last_status(&job.job, query).await {
                    Ok(runs) => {
                        self.p.stats.poll_ok(now_ms);
                        Some(runs)
                    }
                    Err(error) => {
                        self.p.stats.tailer_error(now_ms);
                        tracing::warn!(%error, job = %job.name, "cannot read the runs of a job for a digest");
                        None
                    }
                };
                (job.name.to_string(), runs)
            })
            .buffer_unordered(config.watch.max_concurrent_polls.max(1))
            .collect::<HashMap<_, _>>()
            .boxed()
            .await
    }

    /// Composes and posts one digest; returns the messages queued.
    #[allow(clippy::too_many_arguments)]
    async fn post(
        &self,
        config: &Config,
        d: &Due<'_>,
        known: &Known,
        runs: &HashMap<String, Option<Vec<RunItem>>>,
        charts: &mut HashMap<String, Option<Vec<u8>>>,
        now: DateTime<Utc>,
        previous: Option<i64>,
    ) -> usize {
        let channel = d.row.channel_id.as_str();
        let at = d.schedule.due(d.day);
        let now_ms = now.timestamp_millis();
        // From the previous day's time (23 or 25 hours on a day the clocks change).
        let since = d.schedule.due(d.day - Duration::days(1));
        let jobs = Self::covered(config, known, channel);
        let unanswered = jobs.iter().any(|j| runs.get(j.name.as_str()).is_none_or(Option::is_none));
        let tried_since = at.max(DateTime::from_timestamp_millis(self.started_ms).unwrap_or(at));
        if unanswered && now - tried_since < UNKNOWN_AFTER {
            return 0;
        }
        let by_of = |e: &ExpectationDayRow| {
            known
                .expectations
                .iter()
                .find(|x| x.channel_id == e.channel_id && x.job == e.job)
                .and_then(|x| Schedule::stored(x.at_minute, &x.tz))
                .map(|s| s.to_string())
                .unwrap_or_else(|| DateTime::from_timestamp_millis(e.deadline).unwrap_or_default().format("%H:%M UTC").to_string())
        };
        let job_days: Vec<JobDay> = jobs
            .iter()
            .map(|job| JobDay {
                job,
                runs: runs.get(job.name.as_str()).and_then(Option::as_ref).map(|items| of_day(items, since)),
                expected: known
                    .days
                    .iter()
                    .filter(|e| e.channel_id == channel && e.job == job.name.as_str())
                    .filter(|e| e.deadline > since.timestamp_millis() && e.deadline <= now_ms)
                    .map(|e| (e, by_of(e)))
                    .collect(),
                off: known.off.iter().find(|s| s.job == job.name.as_str()),
            })
            .collect();
        let lane = say::lane(channel, d.day);
        let links = Links::of(config);
        let failing: Vec<&Job> = job_days.iter().filter(|j| j.runs.as_ref().is_some_and(|r| !r.failed.is_empty())).map(|j| j.job).collect();
        let mut uploads = Vec::new();
        for job in failing.iter().take(CHARTS) {
            let items = runs.get(job.name.as_str()).and_then(Option::as_ref).map(Vec::as_slice).unwrap_or_default();
            if let Some(upload) = self.chart(links, job, items, d.day, &lane, channel, charts).await {
                uploads.push(upload);
            }
        }
        // Later than a pass or two after its time: why, as far as the bot knows.
        let poll = Duration::from_std(config.watch.subscription_poll).unwrap_or_default();
        let late = (now - at > poll * 2 + Duration::minutes(1)).then(|| {
            let unchecked = previous.is_some_and(|p| p < at.timestamp_millis());
            (
                now,
                if unchecked {
                    Late::Down
                } else if unanswered {
                    Late::Tailer
                } else {
                    Late::Other
                },
            )
        });
        let digest = Digest {
            channel,
            day: d.day,
            at: &d.schedule.to_string(),
            set_by: &d.row.created_by,
            jobs: job_days,
            late,
            charts: uploads.len(),
        };
        let mut messages = vec![say::digest(&self.p.outbox, links, &digest, &lane)];
        messages.extend(uploads);
        let attention = digest.jobs.iter().filter(|j| j.needs_a_look()).count();
        let row = DigestDayRow {
            channel_id: channel.to_owned(),
            day: d.day.to_string(),
            lane: lane.clone(),
            posted_at: now_ms,
            jobs: digest.jobs.len() as i32,
            attention: attention as i32,
        };
        match self.p.store.post_digest(&row, &messages, now_ms).await {
            Ok(true) => {
                tracing::info!(channel, day = %d.day, jobs = row.jobs, attention, "a daily digest was posted");
                messages.len()
            }
            Ok(false) => 0,
            Err(error) => {
                tracing::error!(%error, channel, "cannot record a digest; trying again next pass");
                0
            }
        }
    }

    /// The history chart of a failing job, under the digest (drawn once per pass).
    #[allow(clippy::too_many_arguments)]
    async fn chart(
        &self,
        links: Links<'_>,
        job: &Job,
        items: &[RunItem],
        day: NaiveDate,
        lane: &str,
        channel: &str,
        charts: &mut HashMap<String, Option<Vec<u8>>>,
    ) -> Option<OutboxMessage> {
        let items = &items[..items.len().min(CHART_RUNS)];
        let summary = Summary::of(items);
        let title = history::title(job, items.len());
        if !charts.contains_key(job.name.as_str()) {
            let (t, s, bars) = (title.clone(), summary.clone(), history::bars(items));
            let png = match tokio::task::spawn_blocking(move || history::chart::render(&t, &bars, &s)).await {
                Ok(Ok(png)) => Some(png),
                Ok(Err(error)) => {
                    tracing::error!(%error, job = %job.name, "cannot draw a digest's chart; the digest goes without it");
                    None
                }
                Err(panic) => {
                    tracing::error!(error = %panic, job = %job.name, "drawing a digest's chart failed; the digest goes without it");
                    None
                }
            };
            charts.insert(job.name.to_string(), png);
        }
        let png = charts.get(job.name.as_str())?.clone()?;
        let message = self.p.outbox.render(&history::summary_message(links, job, &summary, items));
        let file =
            Upload { filename: format!("history-{}-{day}.png", job.name), title, alt_text: history::alt_text(job, &summary), bytes: png };
        Some(OutboxMessage::upload_in_lane(lane, channel, OutboxBody::plain(message.text, message.blocks), file))
    }
}

/// The runs that started since `since`, newest first, counted.
fn of_day(items: &[RunItem], since: DateTime<Utc>) -> Runs<'_> {
    let mut runs = Runs::default();
    let recent: Vec<&RunItem> = items.iter().filter(|r| r.start_execution_date.is_some_and(|s| s >= since)).collect();
    // A full answer without a run older than the window: older ones of the day may not
    // have fitted (runs not started yet count for neither).
    runs.capped = items.len() >= RUNS_PER_DIGEST as usize && !items.iter().any(|r| r.start_execution_date.is_some_and(|s| s < since));
    for r in recent {
        match Kind::of(&r.status) {
            Kind::Success => runs.succeeded += 1,
            Kind::Failed => runs.failed.push(r),
            Kind::Other => runs.other += 1,
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as Tailer lists it, started at `started` (`None`: not yet).
    fn run(n: usize, status: &str, started: Option<DateTime<Utc>>) -> RunItem {
        serde_json::from_value(serde_json::json!({
            "run_id": format!("run-{n}"),
            "status": status,
            "start_execution_date": started.map(|t| t.to_rfc3339()),
        }))
        .unwrap()
    }

    #[test]
    fn a_day_is_counted_by_its_runs_start_and_an_answer_that_may_miss_some_says_so() {
        let now: DateTime<Utc> = "2026-12-06T09:00:00Z".parse().unwrap();
        let since = now - Duration::days(1);
        let hours = |h: i64| Some(now - Duration::hours(h));
        let mut items =
            vec![run(0, "RUNNING", None), run(1, "FAILED", hours(1)), run(2, "SUCCESS", hours(2)), run(3, "SUCCESS", hours(30))];
        let day = of_day(&items, since);
        assert_eq!((day.succeeded, day.failed.len(), day.other, day.capped), (1, 1, 0, false), "a run not started counts for neither");
        // A full answer whose oldest run is in the day: there may be older ones of the day.
        items = (0..RUNS_PER_DIGEST as usize).map(|n| run(n, "SUCCESS", Some(now - Duration::minutes(n as i64)))).collect();
        items.insert(0, run(999, "WAITING", None));
        assert!(of_day(&items, since).capped, "queued runs at the head do not hide that the answer is full");
        items.push(run(1000, "SUCCESS", hours(25)));
        assert!(!of_day(&items, since).capped, "a run older than the day: the answer reaches back far enough");
    }
}
