//! Expectations: each day, a channel that expects a job to have succeeded by a time hears
//! once when it has not (with the job's last run and the buttons to act), and then, in
//! the alert's thread, when it does. Each day is decided once, whichever replica checks,
//! and a day whose time passed while the bot was down is caught up at the next start,
//! marked late. Tailer not answering is retried, then said as unknown, never as a miss.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::config::Job;
use crate::domain::Schedule;
use crate::messages::Links;
use crate::messages::expect::{self as say, Day, Miss};
use crate::shared::Core;
use crate::store::{CONFIGURED, ExpectationDayRow, ExpectationRow, OPEN_STATES};
use crate::tailer::{LastStatusQuery, RunItem, RunStatus};

use super::Polling;

/// How long after the time Tailer may fail before the day is said as unknown.
pub const UNKNOWN_AFTER: Duration = Duration::minutes(10);
/// Runs read per job when a day is due: enough for a job that runs many times a day.
pub const RUNS_PER_CHECK: u32 = 100;
/// The marker of the last pass over the expectations (unix ms), which the doctor and
/// tests read.
pub const CHECKED_MARKER: &str = "expectations_checked";

/// Checks the expectations that are due and follows the days alerted.
pub struct ExpectationChecker {
    p: Polling,
    /// When this process started checking (ms): Tailer's retry window of a day caught up
    /// at a start runs from then, not from the day's time.
    started_ms: i64,
}

/// The run that met the day: a success that started that day and ended by the time.
pub fn met_by(runs: &[RunItem], day_start: DateTime<Utc>, due: DateTime<Utc>) -> Option<&RunItem> {
    runs.iter().find(|r| {
        let Some(start) = r.start_execution_date else { return false };
        r.status == RunStatus::Success && start >= day_start && r.ended_at().unwrap_or(start) <= due
    })
}

/// A success that started between `from` and `until`, with when it ended (its last
/// update, or its start, when Tailer gives no duration): the earliest.
pub fn succeeded(runs: &[RunItem], from: DateTime<Utc>, until: DateTime<Utc>) -> Option<(&RunItem, DateTime<Utc>)> {
    runs.iter()
        .filter(|r| r.status == RunStatus::Success)
        .filter_map(|r| {
            let start = r.start_execution_date?;
            (start >= from && start < until).then(|| (r, r.ended_at().or(r.last_update_date).unwrap_or(start)))
        })
        .min_by_key(|(_, ended)| *ended)
}

/// A day of one expectation to decide or to follow.
struct Due<'a> {
    e: &'a ExpectationRow,
    schedule: Schedule,
    day: NaiveDate,
    /// Already alerted (open): follow it; `None`: decide it.
    open: Option<&'a ExpectationDayRow>,
    /// Set after the day's time passed: a success that started that day at any time
    /// meets it (nobody expected it before it was set).
    set_late: bool,
}

impl ExpectationChecker {
    pub fn new(core: &Core) -> ExpectationChecker {
        ExpectationChecker { p: Polling::new(core), started_ms: core.clock.now_ms() }
    }

    /// One pass: returns how many messages were queued (alerts and late successes).
    pub async fn run_once(&self) -> usize {
        let config = self.p.config.config();
        let now = self.p.clock.now();
        let now_ms = now.timestamp_millis();
        // The file's expectations (`[[expectations]]`), as the configuration in force says.
        let wanted: Vec<ExpectationRow> = config
            .expectations
            .iter()
            .map(|e| ExpectationRow {
                channel_id: e.channel.to_string(),
                job: e.job.to_string(),
                at_minute: e.schedule.minute(),
                tz: e.schedule.tz.name().to_owned(),
                created_by: CONFIGURED.to_owned(),
                created_at: now_ms,
                paused: None,
            })
            .collect();
        if let Err(error) = self.p.store.sync_configured(&wanted, now_ms).await {
            tracing::warn!(%error, "cannot record the expectations of the configuration file; trying again next pass");
        }
        let (rows, days) = match (self.p.store.expectations(None).await, self.p.store.expectation_days(now_ms - 3 * 86_400_000).await) {
            (Ok(rows), Ok(days)) => (rows, days),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot read the expectations");
                return 0;
            }
        };
        // The last pass before this one: a time between it and now, long ago, passed while
        // no replica checked (the bot was down).
        let previous = self.p.store.marker(CHECKED_MARKER).await.ok().flatten();
        let decided: HashMap<(&str, &str, &str), &ExpectationDayRow> =
            days.iter().map(|d| ((d.channel_id.as_str(), d.job.as_str(), d.day.as_str()), d)).collect();
        let mut by_job: BTreeMap<&str, Vec<Due>> = BTreeMap::new();
        for e in rows.iter().filter(|e| e.paused.is_none()) {
            let Some(schedule) = Schedule::stored(e.at_minute, &e.tz) else {
                tracing::warn!(channel = %e.channel_id, job = %e.job, "an expectation whose time cannot be read is skipped");
                continue;
            };
            let created = schedule.day_of(DateTime::from_timestamp_millis(e.created_at).unwrap_or(now));
            let today = schedule.day_of(now);
            for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
                if schedule.due(day) > now {
                    continue;
                }
                // An alerted day is followed, even once the expectation is set again; a
                // day before the expectation was set is not decided.
                let open = match decided.get(&(e.channel_id.as_str(), e.job.as_str(), day.to_string().as_str())) {
                    None if day < created => continue,
                    None => None,
                    Some(d) if OPEN_STATES.contains(&d.state.as_str()) => Some(*d),
                    Some(_) => continue,
                };
                let set_late = day == created && e.created_at > schedule.due(day).timestamp_millis();
                by_job.entry(e.job.as_str()).or_default().push(Due { e, schedule, day, open, set_late });
            }
        }
        let mut queued = 0;
        for (name, dues) in by_job {
            let Some(job) = config.job(name) else {
                tracing::debug!(job = name, "an expectation of a job no longer in the catalog is skipped");
                continue;
            };
            let query = LastStatusQuery { limit: Some(RUNS_PER_CHECK), ..LastStatusQuery::default() };
            let runs = match self.p.tailer.get_last_status(&job.job, &query).await {
                Ok(runs) => {
                    self.p.stats.poll_ok(now_ms);
                    Some(runs)
                }
                Err(error) => {
                    self.p.stats.tailer_error(now_ms);
                    tracing::warn!(%error, job = name, "cannot read the runs of an expected job; trying again next pass");
                    None
                }
            };
            for due in &dues {
                queued += self.check(&config, job, due, runs.as_deref(), now, previous).await;
            }
        }
        if let Err(error) = self.p.store.set_marker(CHECKED_MARKER, now_ms).await {
            tracing::warn!(%error, "cannot record the expectations' check");
        }
        if queued > 0 {
            self.p.outbox.wake();
        }
        queued
    }

    /// Decides or follows one day; returns the messages queued.
    async fn check(
        &self,
        config: &crate::config::Config,
        job: &Job,
        due: &Due<'_>,
        runs: Option<&[RunItem]>,
        now: DateTime<Utc>,
        previous: Option<i64>,
    ) -> usize {
        let (e, schedule, day) = (due.e, due.schedule, due.day);
        let deadline = schedule.due(day);
        let start = schedule.day_start(day);
        let lane = say::lane(&e.channel_id, &e.job, day);
        let by = schedule.to_string();
        let d = Day { channel: &e.channel_id, job, day, by: &by, deadline, lane: &lane };
        let links = Links::of(config);
        let now_ms = now.timestamp_millis();
        let out = &self.p.outbox;
        let next_day = schedule.day_start(day + Duration::days(1));
        if let Some(open) = due.open {
            // Alerted: say it once it succeeds (an unknown day may turn out met on time).
            let Some((run, ended)) = runs.and_then(|runs| succeeded(runs, start, next_day)) else {
                return 0;
            };
            let messages = say::met(out, links, &d, run, ended);
            let state = if ended > deadline { "late" } else { "met" };
            let closed = self
                .p
                .store
                .close_day(
                    (&open.channel_id, &open.job, &open.day),
                    state,
                    Some((run.run_id.as_str(), ended.timestamp_millis())),
                    &messages,
                    now_ms,
                )
                .await;
            return match closed {
                Ok(true) => messages.len(),
                Ok(false) => 0,
                Err(error) => {
                    tracing::error!(%error, "cannot record an expectation met late; trying again next pass");
                    0
                }
            };
        }
        // Set after its time: any success of that day meets it.
        let by_then = if due.set_late { next_day } else { deadline };
        let tried_since = deadline.max(DateTime::from_timestamp_millis(self.started_ms).unwrap_or(deadline));
        let (state, miss) = match runs {
            Some(runs) => match met_by(runs, start, by_then) {
                Some(_) => ("met", None),
                None => ("missed", Some(Miss::Missed { last: runs.first() })),
            },
            None if now - tried_since < UNKNOWN_AFTER => return 0,
            None => ("unknown", Some(Miss::Unknown)),
        };
        // Said long after its time because no replica checked then (the bot was down):
        // marked late. A miss only: an unknown day is said late on purpose.
        let poll = Duration::from_std(config.watch.subscription_poll).unwrap_or_default();
        let unchecked =
            previous.is_some_and(|p| p < deadline.timestamp_millis() && now_ms - p > (poll * 2 + Duration::minutes(1)).num_milliseconds());
        let late_check =
            (matches!(miss, Some(Miss::Missed { .. })) && e.created_at < deadline.timestamp_millis() && unchecked).then_some(now);
        let today = schedule.day_of(now) == day;
        let messages: Vec<_> = miss.iter().map(|miss| say::alert(out, links, &d, today, miss, &e.created_by, late_check)).collect();
        let row = ExpectationDayRow {
            channel_id: e.channel_id.clone(),
            job: e.job.clone(),
            day: day.to_string(),
            state: state.to_owned(),
            deadline: deadline.timestamp_millis(),
            lane: lane.clone(),
            decided_at: now_ms,
            met_run: None,
            met_at: None,
        };
        match self.p.store.decide_day(&row, &messages, now_ms).await {
            Ok(true) => {
                if state != "met" {
                    tracing::info!(channel = %e.channel_id, job = %e.job, %day, state, "an expectation was not met: alerted");
                }
                messages.len()
            }
            Ok(false) => 0,
            Err(error) => {
                tracing::error!(%error, "cannot record an expectation's day; trying again next pass");
                0
            }
        }
    }
}
