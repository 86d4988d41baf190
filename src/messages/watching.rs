//! What the bot says in a run's thread when it stops following it, and in a timed
//! disable's thread when the re-enable cannot be done: what came from Tailer or a
//! person escaped here.

use crate::domain::markup::plain;

/// A status Tailer kept showing that the bot does not know: taken as final.
pub fn taken_as_final(status: &str) -> String {
    format!("Tailer has shown `{}` unchanged for a while: taken as final.", plain(status))
}

/// A followed run whose job left the catalog.
pub fn job_left_catalog_watch(job: &str) -> String {
    format!(":grey_question: `{}` is no longer in the catalog: I stopped watching this run.", plain(job))
}

/// A run Tailer never showed, given up after `minutes`.
pub fn never_known(run: &str, label: &str, minutes: i64) -> String {
    format!(
        ":grey_question: Tailer has not shown run `{}` of {label} for {minutes} minutes: it does not seem to exist. I stopped watching.",
        plain(run)
    )
}

/// A run still going after `hours`, no longer followed; `job` and `run` say how to
/// follow it again.
pub fn gave_up(status: &str, hours: i64, job: &str, run: &str) -> String {
    format!(":hourglass: Still {status} after {hours} h — I stopped watching. `/tailer watch {job} {}` follows it again.", plain(run))
}

/// A timed re-enable of a job that left the catalog.
pub fn job_left_catalog_timer(job: &str) -> String {
    format!(":grey_question: `{}` is no longer in the catalog: I did not re-enable it.", plain(job))
}

/// A timed re-enable Tailer refused for good.
pub fn could_not_reenable(label: &str, error: &str, job: &str) -> String {
    format!(":x: I could not re-enable {label}: {}. Enable it with `/tailer enable {job}`.", plain(error))
}
