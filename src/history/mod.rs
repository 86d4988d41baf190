//! `history <job> [N]`: is this normal? A job's last runs as a chart (see [`chart`]) and
//! a summary in words: success rate, median and 95th-percentile duration, the last
//! failure, the longest run.

pub mod chart;

use chrono::{DateTime, Utc};

use crate::chat::Message;
use crate::config::Job;
use crate::messages::{self as render, Links};
use crate::tailer::{RunItem, RunStatus};

/// The default and the ceiling of `history`'s N.
pub const HISTORY_DEFAULT: u32 = 30;
pub const HISTORY_MAX: u32 = 100;

/// How a run's bar is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Success,
    /// Failed, or failed and marked CHECKED since: a failure someone looked at is still one.
    Failed,
    /// Still going, deactivated, unknown.
    Other,
}

impl Kind {
    pub fn of(status: &RunStatus) -> Kind {
        match status {
            RunStatus::Success => Kind::Success,
            s if failed(s) => Kind::Failed,
            _ => Kind::Other,
        }
    }
}

/// A failure, handled (CHECKED) or not.
fn failed(status: &RunStatus) -> bool {
    status.is_failure() || *status == RunStatus::Checked
}

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub kind: Kind,
    pub started: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
}

/// Tailer's runs (newest first) as bars, oldest first.
pub fn bars(items: &[RunItem]) -> Vec<Run> {
    oldest_first(items)
        .into_iter()
        .map(|i| Run { kind: Kind::of(&i.status), started: i.start_execution_date, duration_secs: i.duration.map(|d| d.as_secs_f64()) })
        .collect()
}

/// Oldest first: by start; a run without one has not started yet, so it is the newest
/// (among those, Tailer's order is kept: the sort is stable).
fn oldest_first(items: &[RunItem]) -> Vec<&RunItem> {
    let mut runs: Vec<&RunItem> = items.iter().rev().collect();
    runs.sort_by_key(|i| i.start_execution_date.map(|t| t.timestamp_millis()).unwrap_or(i64::MAX));
    runs
}

/// The figures under the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub runs: usize,
    /// Runs with a final status.
    pub ended: usize,
    pub successes: usize,
    pub failures: usize,
    /// Of the ended runs with a duration.
    pub median_secs: Option<f64>,
    pub p95_secs: Option<f64>,
    /// The newest failed run: its id and start.
    pub last_failure: Option<(String, Option<DateTime<Utc>>)>,
    /// The longest ended run: its id and duration.
    pub longest: Option<(String, f64)>,
}

impl Summary {
    pub fn of(items: &[RunItem]) -> Summary {
        let ended: Vec<&RunItem> = items.iter().filter(|i| i.status.is_final()).collect();
        let mut durations: Vec<f64> = ended.iter().filter_map(|i| i.duration.map(|d| d.as_secs_f64())).collect();
        durations.sort_by(f64::total_cmp);
        let last_failure =
            oldest_first(items).into_iter().rev().find(|i| failed(&i.status)).map(|i| (i.run_id.to_string(), i.start_execution_date));
        let longest =
            ended.iter().filter_map(|i| i.duration.map(|d| (i.run_id.to_string(), d.as_secs_f64()))).max_by(|a, b| a.1.total_cmp(&b.1));
        Summary {
            runs: items.len(),
            ended: ended.len(),
            successes: ended.iter().filter(|i| i.status == RunStatus::Success).count(),
            failures: ended.iter().filter(|i| failed(&i.status)).count(),
            median_secs: median(&durations),
            p95_secs: nearest_rank(&durations, 0.95),
            last_failure,
            longest,
        }
    }

    /// Successes among ended runs, in whole percent.
    pub fn success_percent(&self) -> Option<u32> {
        (self.ended > 0).then(|| (self.successes as f64 * 100.0 / self.ended as f64).round() as u32)
    }
}

/// The middle value of sorted numbers (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The nearest-rank percentile of sorted numbers: the smallest value with at least `p` of
/// them at or below it.
fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

/// Seconds in words; a figure past what a duration holds (Tailer's answer) is the largest.
pub fn secs(s: f64) -> String {
    render::duration(std::time::Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(std::time::Duration::MAX))
}

/// The chart's title: the job, its environment, how many runs.
pub fn title(job: &Job, runs: usize) -> String {
    format!("{} ({}): the last {runs} run{}", job.name, job.job.environment, if runs == 1 { "" } else { "s" })
}

/// What a screen reader says of the picture.
pub fn alt_text(job: &Job, summary: &Summary) -> String {
    format!(
        "Bar chart of the durations of the last {} runs of {} ({}): {} succeeded, {} failed.",
        summary.runs, job.name, job.job.environment, summary.successes, summary.failures
    )
}

/// The summary in words, posted with the chart (or alone when it cannot be).
pub fn summary_message(links: Links, job: &Job, summary: &Summary, items: &[RunItem]) -> Message {
    let mut m = Message::new(&format!("History of {}: the last {} runs", job.name, summary.runs));
    let mut lines = vec![format!(":bar_chart: *{}: the last {} run{}*", render::job_label(job), summary.runs, plural(summary.runs))];
    let still = summary.runs - summary.ended;
    let mut success = match summary.success_percent() {
        Some(p) => format!("• Success: {} of {} ended run{} ({p} %)", summary.successes, summary.ended, plural(summary.ended)),
        None => "• No run has ended yet".to_owned(),
    };
    if still > 0 {
        success.push_str(&format!("; {still} not ended"));
    }
    lines.push(success);
    if let (Some(median), Some(p95)) = (summary.median_secs, summary.p95_secs) {
        lines.push(format!("• Duration: median {} · 95th percentile {}", secs(median), secs(p95)));
    }
    let item = |run: &str| items.iter().find(|i| i.run_id.as_str() == run);
    match &summary.last_failure {
        Some((run, started)) => {
            let mut line = format!("• Last failure: run {}", item(run).map(|i| links.item(Some(job), i)).unwrap_or_default());
            if let Some(t) = started {
                line.push_str(&format!(", started {}", render::when(*t)));
            }
            lines.push(line);
        }
        None => lines.push("• No failure among them".to_owned()),
    }
    if let Some((run, longest)) = &summary.longest {
        lines.push(format!("• Longest: run {} · {}", item(run).map(|i| links.item(Some(job), i)).unwrap_or_default(), secs(*longest)));
    }
    m.lines(&lines, 1);
    m
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;
