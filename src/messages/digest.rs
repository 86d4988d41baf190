//! What a channel's daily digest says: for each job it follows, the last 24 h of runs
//! (the failures linked), the expectations met or missed, and whether it is disabled now;
//! the jobs that need a look first, each in its own paragraph, the quiet ones in a list
//! the surface folds with a count.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::chat::{Message, Render};
use crate::config::Job;
use crate::domain::markup::{mention, plain};
use crate::messages::{self as render, Links};
use crate::outbox::OutboxMessage;
use crate::store::{ExpectationDayRow, SwitchRow};
use crate::tailer::RunItem;

/// The jobs that need a look shown each in its own paragraph; the others are lines.
pub const ATTENTION_SECTIONS: usize = 15;
/// The failed runs named (linked) per job in a paragraph, and in a line; the rest are
/// counted.
pub const FAILURES_NAMED: usize = 5;
pub const FAILURES_NAMED_IN_A_LINE: usize = 1;
/// The jobs listed one line each after the paragraphs; the rest are counted.
pub const LINES_SHOWN: usize = 30;

/// The outbox lane of a day's digest: the digest is its root, the charts are in its thread.
pub fn lane(channel: &str, day: NaiveDate) -> String {
    format!("digest:{channel}:{day}")
}

/// The channel of a digest's lane ([`lane`]), read back.
pub fn of_lane(lane: &str) -> Option<&str> {
    lane.strip_prefix("digest:")?.split(':').next()
}

/// A job's runs of the last 24 h.
#[derive(Debug, Clone, Default)]
pub struct Runs<'a> {
    pub succeeded: usize,
    /// Newest first.
    pub failed: Vec<&'a RunItem>,
    /// Not ended, or ended neither way (deactivated).
    pub other: usize,
    /// Tailer's answer held only the newest runs: there may be more.
    pub capped: bool,
}

impl Runs<'_> {
    fn total(&self) -> usize {
        self.succeeded + self.failed.len() + self.other
    }
}

/// One job of a digest.
#[derive(Debug, Clone)]
pub struct JobDay<'a> {
    pub job: &'a Job,
    /// `None`: Tailer did not answer.
    pub runs: Option<Runs<'a>>,
    /// Its expectations' days decided in the last 24 h, with their time (`07:00 UTC`).
    pub expected: Vec<(&'a ExpectationDayRow, String)>,
    /// Switched off now.
    pub off: Option<&'a SwitchRow>,
}

impl JobDay<'_> {
    /// A failure, an expectation not met on time, switched off, or unknown.
    pub fn needs_a_look(&self) -> bool {
        self.runs.as_ref().is_none_or(|r| !r.failed.is_empty()) || self.off.is_some() || self.expected.iter().any(|(d, _)| d.state != "met")
    }
}

impl JobDay<'_> {
    fn rank(&self) -> u8 {
        let failed = self.runs.as_ref().is_some_and(|r| !r.failed.is_empty());
        let missed = self.expected.iter().any(|(d, _)| d.state != "met");
        match (failed || missed, self.runs.is_none()) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        }
    }
}

/// Why a digest is posted long after its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    /// No replica looked at the time: the bot was not running.
    Down,
    /// Tailer did not answer at the time (retried, then said job by job).
    Tailer,
    /// Something else held it (the store).
    Other,
}

/// A day's digest of a channel.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    pub channel: &'a str,
    pub day: NaiveDate,
    /// Its time: `09:00 Europe/Paris`.
    pub at: &'a str,
    pub set_by: &'a str,
    pub jobs: Vec<JobDay<'a>>,
    /// Posted long after its time: when, and why.
    pub late: Option<(DateTime<Utc>, Late)>,
    /// Charts of failing jobs that follow in the thread.
    pub charts: usize,
}

/// `:x: 1 of 4 runs failed: <run>` and the rest of a job's runs.
fn runs_line(links: Links, job: &Job, runs: &Option<Runs>, named: usize) -> String {
    let Some(runs) = runs else {
        return ":grey_question: Tailer did not answer for it: its runs are unknown".to_owned();
    };
    let n = runs.total();
    let plus = if runs.capped { "+" } else { "" };
    if n == 0 {
        return "no run in the last 24 h".to_owned();
    }
    let s = if n == 1 { "" } else { "s" };
    if runs.failed.is_empty() {
        let not_ended = if runs.other > 0 { format!(", {} not ended or deactivated", runs.other) } else { String::new() };
        return format!("{n}{plus} run{s}: {} succeeded{not_ended}", runs.succeeded);
    }
    let more = runs.failed.len().saturating_sub(named);
    let named: Vec<String> = runs.failed.iter().take(named).map(|r| links.item(Some(job), r)).collect();
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!(
        ":x: {} of {n}{plus} run{s} failed: {}{more} · {} succeeded{}",
        runs.failed.len(),
        named.join(", "),
        runs.succeeded,
        if runs.other > 0 { format!(", {} other", runs.other) } else { String::new() }
    )
}

/// An expectation's day: met, missed, late, muted, unknown.
fn expected_line((d, by): &(&ExpectationDayRow, String)) -> String {
    let late = d.met_at.map(|at| Duration::milliseconds(at - d.deadline).to_std().unwrap_or_default());
    let state = match (d.state.as_str(), late) {
        ("met", _) => ":white_check_mark: met".to_owned(),
        ("late", Some(late)) => format!(":alarm_clock: missed, then succeeded {} late", render::duration(late)),
        ("muted", _) => ":no_bell: missed, muted".to_owned(),
        ("unknown", _) => ":grey_question: unknown: Tailer did not answer at the time, nor since".to_owned(),
        _ => ":alarm_clock: *missed*: it has not succeeded since".to_owned(),
    };
    format!("expected by {} on {}: {state}", plain(by), d.day)
}

/// All a job's lines: runs (`named` failures linked), expectations, switched off.
fn job_lines(links: Links, j: &JobDay, named: usize) -> Vec<String> {
    let mut lines = vec![runs_line(links, j.job, &j.runs, named)];
    lines.extend(j.expected.iter().map(expected_line));
    if let Some(off) = j.off {
        lines.push(format!(":red_circle: {}", render::switched_off(j.job, off)));
    }
    lines
}

/// The digest as one post, the root of its lane.
pub fn digest(out: &dyn Render, links: Links, d: &Digest, lane: &str) -> OutboxMessage {
    let (mut look, quiet): (Vec<&JobDay>, Vec<&JobDay>) = d.jobs.iter().partition(|j| j.needs_a_look());
    // Failures and misses first, then what is unknown, then what is only switched off.
    look.sort_by_key(|j| j.rank());
    let title = format!("Daily digest for {}", d.day.format("%a %-d %b %Y"));
    let mut m = Message::new(&format!("{title}: {} of {} jobs need a look", look.len(), d.jobs.len()));
    let n = d.jobs.len();
    m.section(&format!(":newspaper: *{title}* — the last 24 h of the {n} job{} this channel follows", if n == 1 { "" } else { "s" }));
    m.context(&tally(d));
    if d.jobs.is_empty() {
        m.section(&format!(
            "This channel follows no job: `/tailer subscribe {job}` or `/tailer expect {job} by HH:MM` adds one.",
            job = plain("<job>")
        ));
    }
    if !look.is_empty() {
        m.divider();
    }
    for j in look.iter().take(ATTENTION_SECTIONS) {
        m.section(&format!("*{}*\n{}", render::job_label(j.job), job_lines(links, j, FAILURES_NAMED).join("\n")));
    }
    // Beyond the paragraphs: one line each, those that need a look first, up to a count.
    let rest: Vec<&&JobDay> = look.iter().skip(ATTENTION_SECTIONS).chain(quiet.iter()).collect();
    let mut lines: Vec<String> = rest
        .iter()
        .take(LINES_SHOWN)
        .map(|j| format!("• {} — {}", render::job_label(j.job), job_lines(links, j, FAILURES_NAMED_IN_A_LINE).join(" · ")))
        .collect();
    if rest.len() > LINES_SHOWN {
        let folded = &rest[LINES_SHOWN..];
        let looks = folded.iter().filter(|j| j.needs_a_look()).count();
        lines.push(format!(
            "…and {} more job{} ({looks} needing a look): `/tailer last {}` shows any.",
            folded.len(),
            if folded.len() == 1 { "" } else { "s" },
            plain("<job>")
        ));
    }
    if !lines.is_empty() {
        m.divider();
        m.lines(&lines, 1);
    }
    let mut foot = Vec::new();
    if let Some((when, why)) = d.late {
        let why = match why {
            Late::Down => format!(": I was not running at {}", plain(d.at)),
            Late::Tailer => format!(": Tailer did not answer at {}", plain(d.at)),
            Late::Other => format!(" (its time: {})", plain(d.at)),
        };
        foot.push(format!("Posted late, {}{why}.", render::when(when)));
    }
    if d.charts > 0 {
        let failing = d.jobs.iter().filter(|j| j.runs.as_ref().is_some_and(|r| !r.failed.is_empty())).count();
        foot.push(match (d.charts, failing) {
            (1, 1) => "The failing job's history chart is in the thread.".to_owned(),
            (c, f) if c == f => "The failing jobs' history charts are in the thread.".to_owned(),
            (c, f) => format!(
                "The history charts of {c} of the {f} failing jobs are in the thread (`/tailer history {}` draws any).",
                plain("<job>")
            ),
        });
    }
    foot.push(format!(
        "Every day at {} · set by {} · `/tailer digest off` stops it",
        plain(d.at),
        if d.set_by.is_empty() { "someone".to_owned() } else { mention(d.set_by) }
    ));
    m.context(&foot.join(" "));
    OutboxMessage::post(lane, d.channel, out.render(&m)).as_root()
}

/// `2 need a look · 14 runs: 11 succeeded, 3 failed · 1 expectation missed · 1 disabled`.
fn tally(d: &Digest) -> String {
    let look = d.jobs.iter().filter(|j| j.needs_a_look()).count();
    let runs: Vec<&Runs> = d.jobs.iter().filter_map(|j| j.runs.as_ref()).collect();
    let total: usize = runs.iter().map(|r| r.total()).sum();
    let plus = if runs.iter().any(|r| r.capped) { "+" } else { "" };
    let failed: usize = runs.iter().map(|r| r.failed.len()).sum();
    let succeeded: usize = runs.iter().map(|r| r.succeeded).sum();
    let missed = d.jobs.iter().flat_map(|j| &j.expected).filter(|(e, _)| e.state != "met").count();
    let off = d.jobs.iter().filter(|j| j.off.is_some()).count();
    if look == 0 {
        return format!(
            ":large_green_circle: All quiet: {total}{plus} run{}, none failed; every expectation met; nothing disabled.",
            if total == 1 { "" } else { "s" }
        );
    }
    let mut parts = vec![format!("*{look} need{} a look*", if look == 1 { "s" } else { "" })];
    parts.push(format!("{total}{plus} run{}: {succeeded} succeeded, {failed} failed", if total == 1 { "" } else { "s" }));
    if missed > 0 {
        parts.push(format!("{missed} expectation{} not met on time", if missed == 1 { "" } else { "s" }));
    }
    if off > 0 {
        parts.push(format!("{off} disabled"));
    }
    parts.join(" · ")
}
