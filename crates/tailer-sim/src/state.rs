//! The simulated Tailer: configurations (active, archived), runs that move from WAITING to
//! RUNNING to a final status on timings drawn from a seeded generator, and the documented
//! quirks of the real API in what it answers. Time is tokio's, so a test that pauses the
//! clock moves runs forward exactly as far as it advances time.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::SimOptions;
use tailerbot_clock::SharedClock;

use crate::api::{RunStatus, timedelta};

/// One data operation the simulator knows.
#[derive(Debug, Clone)]
pub struct SimConfiguration {
    pub account: String,
    pub environment: String,
    /// As configured (`table-to-table`); answers say `gbq-to-gbq` for it.
    pub configuration_type: String,
    pub configuration_id: String,
    pub activated: bool,
    pub archived: bool,
    /// As configured; derived like Tailer does when absent.
    pub job_id: Option<String>,
}

impl SimConfiguration {
    pub fn new(account: &str, environment: &str, configuration_type: &str, configuration_id: &str) -> Self {
        SimConfiguration {
            account: account.to_owned(),
            environment: environment.to_owned(),
            configuration_type: configuration_type.to_owned(),
            configuration_id: configuration_id.to_owned(),
            activated: true,
            archived: false,
            job_id: None,
        }
    }

    /// The type as Tailer's answers spell it.
    fn answered_type(&self) -> &str {
        match self.configuration_type.as_str() {
            "table-to-table" => "gbq-to-gbq",
            other => other,
        }
    }

    fn job_id(&self) -> String {
        if let Some(job_id) = &self.job_id {
            return job_id.clone();
        }
        match self.answered_type() {
            "gbq-to-gbq" => format!("gbq-to-gbq|{}", self.configuration_id),
            "storage-to-storage" => format!(
                "storage-to-storage|{}|{}|{}|{}-{{{{FD_DATE}}}}-{{{{FD_TIME}}}}.csv",
                self.account, self.configuration_id, self.environment, self.configuration_id
            ),
            other => format!("{other}|{}", self.configuration_id),
        }
    }

    /// Whether a request's `configuration_type` names this configuration's type.
    pub fn type_matches(&self, requested: &str) -> bool {
        requested == self.configuration_type || requested == self.answered_type()
    }
}

/// One run.
#[derive(Debug, Clone)]
struct SimRun {
    run_id: String,
    configuration: usize,
    /// Milliseconds since the simulator started (negative for history).
    created_ms: i64,
    execution_date: NaiveDate,
    waiting_ms: i64,
    running_ms: i64,
    outcome: RunStatus,
    /// Set by `set_run_status`: wins over the timeline.
    forced: Option<(RunStatus, i64)>,
}

/// Everything the simulator holds.
pub struct SimState {
    options: SimOptions,
    rng: StdRng,
    clock: SharedClock,
    started_wall: DateTime<Utc>,
    pub configurations: Vec<SimConfiguration>,
    runs: Vec<SimRun>,
    by_id: HashMap<String, usize>,
}

impl SimState {
    pub fn new(options: SimOptions) -> SimState {
        let mut configurations = options.configurations.clone();
        if options.documented_examples {
            for example in documented_configurations() {
                if !configurations.iter().any(|c| c.configuration_id == example.configuration_id) {
                    configurations.push(example);
                }
            }
        }
        let mut state = SimState {
            rng: StdRng::seed_from_u64(options.seed),
            clock: options.clock.clone(),
            started_wall: options.clock.now(),
            configurations,
            runs: Vec::new(),
            by_id: HashMap::new(),
            options,
        };
        if state.options.documented_examples {
            state.seed_documented_runs();
        }
        state.seed_history();
        state
    }

    /// The runs of the public docs' examples, with their ids, times and statuses.
    fn seed_documented_runs(&mut self) {
        for (configuration_id, run_id, start, seconds) in DOCUMENTED_RUNS {
            let Some(configuration) = self.configurations.iter().position(|c| c.configuration_id == *configuration_id) else {
                continue;
            };
            let start = DateTime::parse_from_rfc3339(start).map(|t| t.with_timezone(&Utc)).unwrap_or(self.started_wall);
            let created_ms = (start - self.started_wall).num_milliseconds();
            self.by_id.insert((*run_id).to_owned(), self.runs.len());
            self.runs.push(SimRun {
                run_id: (*run_id).to_owned(),
                configuration,
                created_ms,
                execution_date: start.date_naive(),
                waiting_ms: 0,
                running_ms: seconds * 1000,
                outcome: RunStatus::Success,
                forced: None,
            });
        }
    }

    /// A few finished runs per configuration, so that `last` has something to show.
    fn seed_history(&mut self) {
        for configuration in 0..self.configurations.len() {
            if self.runs.iter().any(|r| r.configuration == configuration) {
                continue;
            }
            for age in (1..=self.options.history as i64).rev() {
                let created_ms = -age * 6 * 3600 * 1000;
                self.add_run(configuration, created_ms, None, false);
                self.vary_past_run();
            }
        }
    }

    /// Gives the run just made up the past's own timing and, now and then, a failure.
    fn vary_past_run(&mut self) {
        let (running, failures) = (self.options.history_running, self.options.history_failures);
        let failed = failures > 0.0 && self.rng.random_bool(failures.clamp(0.0, 1.0));
        let running_ms = running.map(|(low, high)| {
            let (low, high) = (low.as_millis() as i64, high.as_millis() as i64);
            if high > low { self.rng.random_range(low..high) } else { low }
        });
        let Some(run) = self.runs.last_mut() else { return };
        if let Some(ms) = running_ms {
            run.running_ms = ms;
        }
        if failed && run.outcome == RunStatus::Success {
            run.outcome = RunStatus::Failed;
        }
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock.now() - self.started_wall).num_milliseconds()
    }

    fn wall(&self, ms: i64) -> DateTime<Utc> {
        self.started_wall + chrono::Duration::milliseconds(ms)
    }

    fn scaled(&mut self, range: (Duration, Duration)) -> i64 {
        let (low, high) = (range.0.as_millis() as f64, range.1.as_millis() as f64);
        let drawn = if high > low { self.rng.random_range(low..high) } else { low };
        (drawn * self.options.speed) as i64
    }

    fn add_run(&mut self, configuration: usize, created_ms: i64, execution_date: Option<NaiveDate>, launched: bool) -> String {
        let wall = self.wall(created_ms);
        let uuid = uuid::Builder::from_random_bytes(self.rng.random()).into_uuid();
        let run_id = if launched || self.configurations[configuration].configuration_type != "storage-to-storage" {
            format!("{}-{uuid}", wall.format("%Y%m%d-%H%M%S"))
        } else {
            format!("{}-{uuid}", wall.format("%Y%m%d"))
        };
        let c = &self.configurations[configuration];
        let (activated, failing) = (c.activated, c.configuration_id.to_ascii_lowercase().contains("fail"));
        let (waiting_ms, running_ms, outcome) = if !activated {
            (0, 0, RunStatus::Deactivated)
        } else {
            let outcome = if failing { RunStatus::Failed } else { RunStatus::Success };
            (self.scaled(self.options.waiting), self.scaled(self.options.running), outcome)
        };
        self.by_id.insert(run_id.clone(), self.runs.len());
        self.runs.push(SimRun {
            run_id: run_id.clone(),
            configuration,
            created_ms,
            execution_date: execution_date.unwrap_or_else(|| wall.date_naive()),
            waiting_ms,
            running_ms,
            outcome,
            forced: None,
        });
        run_id
    }

    /// Finds a configuration by the identity fields of a request.
    pub fn find(&self, account: &str, environment: Option<&str>, configuration_type: &str, configuration_id: &str) -> Option<usize> {
        self.configurations.iter().position(|c| {
            c.account == account
                && c.configuration_id == configuration_id
                && c.type_matches(configuration_type)
                && environment.is_none_or(|e| e == c.environment)
        })
    }

    /// Launches a run; it shows up in answers after the configured delay.
    pub fn launch(&mut self, configuration: usize, execution_date: Option<NaiveDate>) -> String {
        let now = self.now_ms();
        self.add_run(configuration, now, execution_date, true)
    }

    fn status_at(&self, run: &SimRun, now: i64) -> (RunStatus, i64) {
        if let Some((status, at)) = &run.forced {
            return (*status, *at);
        }
        let elapsed = now - run.created_ms;
        if elapsed < run.waiting_ms {
            (RunStatus::Waiting, run.created_ms)
        } else if elapsed < run.waiting_ms + run.running_ms {
            (RunStatus::Running, run.created_ms + run.waiting_ms)
        } else {
            (run.outcome, run.created_ms + run.waiting_ms + run.running_ms)
        }
    }

    fn visible(&self, run: &SimRun, now: i64) -> bool {
        now - run.created_ms >= (self.options.invisible_after_launch.as_millis() as i64)
    }

    /// The answer item for a run, with the documented quirks.
    fn item(&self, run: &SimRun, now: i64) -> Value {
        let c = &self.configurations[run.configuration];
        let (status, since) = self.status_at(run, now);
        let storage = c.configuration_type == "storage-to-storage";
        let stamp = |ms: i64| {
            let t = self.wall(ms);
            if storage { t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string() } else { t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string() }
        };
        let mut item = Map::new();
        item.insert("account".into(), json!(c.account));
        item.insert("configuration_id".into(), json!(c.configuration_id));
        item.insert("configuration_type".into(), json!(c.answered_type()));
        item.insert("environment".into(), json!(c.environment));
        item.insert("job_id".into(), json!(c.job_id()));
        item.insert("run_id".into(), json!(run.run_id));
        item.insert("start_execution_date".into(), json!(stamp(run.created_ms + 5)));
        item.insert("status".into(), json!(status.as_str()));
        if !storage {
            item.insert("last_update_date".into(), json!(stamp(since)));
        }
        if status.is_final() {
            let micros = (since - run.created_ms).max(0) * 1000 + 2519;
            item.insert("duration".into(), json!(timedelta(micros)));
        }
        Value::Object(item)
    }

    /// `check_run_status`: `None` for a run nobody launched.
    pub fn check(&self, run_id: &str) -> Option<Vec<Value>> {
        let run = &self.runs[*self.by_id.get(run_id)?];
        let now = self.now_ms();
        Some(if self.visible(run, now) { vec![self.item(run, now)] } else { Vec::new() })
    }

    /// `get_last_status`: newest first.
    pub fn last(&self, configuration: usize, execution_date: Option<NaiveDate>, status: Option<&str>, limit: usize) -> Vec<Value> {
        let now = self.now_ms();
        let runs = self
            .runs
            .iter()
            .filter(|r| r.configuration == configuration && self.visible(r, now))
            .filter(|r| execution_date.is_none_or(|d| d == r.execution_date))
            .filter(|r| status.is_none_or(|s| self.status_at(r, now).0.as_str() == s));
        self.newest_first(runs, limit, now)
    }

    /// `get_by_status`: runs of an account and type, newest first.
    pub fn by_status(
        &self,
        account: &str,
        configuration_type: &str,
        environment: Option<&str>,
        status: Option<&str>,
        execution_date: Option<NaiveDate>,
        limit: usize,
    ) -> Vec<Value> {
        let now = self.now_ms();
        let runs = self
            .runs
            .iter()
            .filter(|r| {
                let c = &self.configurations[r.configuration];
                c.account == account && c.type_matches(configuration_type) && environment.is_none_or(|e| e == c.environment)
            })
            .filter(|r| self.visible(r, now))
            .filter(|r| execution_date.is_none_or(|d| d == r.execution_date))
            .filter(|r| status.is_none_or(|s| self.status_at(r, now).0.as_str() == s));
        self.newest_first(runs, limit, now)
    }

    fn newest_first<'a>(&'a self, runs: impl Iterator<Item = &'a SimRun>, limit: usize, now: i64) -> Vec<Value> {
        // Created in order: of runs created in the same millisecond, the later is newer.
        let mut runs: Vec<&SimRun> = runs.collect();
        runs.reverse();
        runs.sort_by_key(|r| std::cmp::Reverse(r.created_ms));
        runs.into_iter().take(limit).map(|r| self.item(r, now)).collect()
    }

    /// `set_run_status`: false for an unknown run.
    pub fn set_status(&mut self, run_id: &str, status: RunStatus) -> bool {
        let now = self.now_ms();
        match self.by_id.get(run_id) {
            Some(&index) => {
                self.runs[index].forced = Some((status, now));
                true
            }
            None => false,
        }
    }

    /// The runs started since the simulator started (launched, or started as Tailer's
    /// schedule does), oldest first.
    pub fn started_runs(&self) -> Vec<String> {
        self.runs.iter().filter(|run| run.created_ms >= 0).map(|run| run.run_id.clone()).collect()
    }

    /// The status a run has now, whether or not it is visible yet.
    pub fn status_of(&self, run_id: &str) -> Option<RunStatus> {
        let run = &self.runs[*self.by_id.get(run_id)?];
        Some(self.status_at(run, self.now_ms()).0)
    }

    /// When a run reaches (or reached) its final status, in simulator milliseconds.
    pub fn final_at_ms(&self, run_id: &str) -> Option<i64> {
        let run = &self.runs[*self.by_id.get(run_id)?];
        Some(run.created_ms + run.waiting_ms + run.running_ms)
    }

    /// The wall-clock time of simulator millisecond `ms`, as unix milliseconds.
    pub fn unix_ms(&self, ms: i64) -> i64 {
        self.started_wall.timestamp_millis() + ms
    }
}

/// The data operations named in the public docs' examples.
fn documented_configurations() -> Vec<SimConfiguration> {
    let mut storage = SimConfiguration::new("000099", "DEV", "storage-to-storage", "000099-jarvis-demo-iowa-liquor-storage-to-storage");
    storage.job_id =
        Some("storage-to-storage|000099|000099-jarvis-demo-iowa-liquor-storage-to-storage|DEV|stores-{{FD_DATE}}-{{FD_TIME}}.csv".into());
    vec![
        SimConfiguration::new("000099", "DEV", "table-to-table", "000099_iowa_liquor_prepare_pda_DEV"),
        storage,
        SimConfiguration::new("000099", "DEV", "workflow", "000099-iowa-liquor-load-pda"),
        SimConfiguration::new("000099", "DEV", "table-to-table", "000099_Load_PDA_f_traffic_ma_DEV"),
        SimConfiguration::new("000110", "DEV", "table-to-table", "000110-tailer-TTT-POC-ETL-VTE_DEV"),
    ]
}

/// `(configuration_id, run_id, start, seconds)` of the runs the docs show.
const DOCUMENTED_RUNS: &[(&str, &str, &str, i64)] = &[
    ("000099_iowa_liquor_prepare_pda_DEV", "20201210-140612-19e547a1-de6a-47f0-b563-b8a3d5754118", "2020-12-10T14:06:17.415294+00:00", 99),
    ("000099_iowa_liquor_prepare_pda_DEV", "20201230-110907-47b31b2d-a54a-4a95-a3a6-b4fbc2168333", "2020-12-30T11:09:13.665798+00:00", 95),
    ("000099_iowa_liquor_prepare_pda_DEV", "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179", "2020-12-30T11:28:43.861340+00:00", 84),
    ("000099-jarvis-demo-iowa-liquor-storage-to-storage", "20201209-4d76a90a-b092-4c69-a87f-b0cd79305428", "2020-12-09T17:17:18+00:00", 4),
    ("000099-jarvis-demo-iowa-liquor-storage-to-storage", "20201209-7b7b7a66-1cc0-4f09-a893-ce4a35adf09b", "2020-12-09T17:17:18+00:00", 4),
    ("000099-jarvis-demo-iowa-liquor-storage-to-storage", "20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469", "2020-12-09T17:17:23+00:00", 3),
];
