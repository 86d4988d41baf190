//! The lines that say how a write went for one job: done, refused by Tailer, or unknown,
//! each with the reference that ties it to the logs. What came from Tailer or from a
//! person is escaped here.

use crate::domain::markup::plain;

/// A launch that made a run.
pub fn launched(label: &str, run: &str) -> String {
    format!(":rocket: Launched {label}: run `{}`", plain(run))
}

/// Tailer refused a launch: nothing was launched.
pub fn not_launched(label: &str, error: &str, reference: &str) -> String {
    format!(":x: Did not launch {label}: {} (ref `{reference}`)", plain(error))
}

/// A launch whose outcome cannot be told; `job` is what `/tailer last` takes.
pub fn launch_unknown(label: &str, job: &str, error: &str, reference: &str) -> String {
    format!(
        ":warning: I could not tell whether {label} was launched: {}. Check `/tailer last {job}` before launching it again. (ref `{reference}`)",
        plain(error)
    )
}

/// Tailer refused a write (`verb`): it did nothing.
pub fn could_not(verb: &str, label: &str, error: &str, reference: &str) -> String {
    format!(":x: Could not {verb} {label}: {} (ref `{reference}`)", plain(error))
}

/// A write that Tailer may have done (`done`: what it would have made of the job).
pub fn write_unknown(label: &str, done: &str, error: &str, reference: &str) -> String {
    format!(":warning: I could not tell whether {label} was {done}: {}. Doing it again is harmless. (ref `{reference}`)", plain(error))
}

/// A write the bot stopped in the middle of, too long ago to do again; `command` is what
/// to type to do it again.
pub fn interrupted_unknown(verb: &str, label: &str, command: &str, reference: &str) -> String {
    format!(
        ":warning: The bot stopped while asking Tailer to {verb} {label} and cannot tell whether it was done. Check it in Tailer; doing it again (`/tailer {}`) is harmless. (ref `{reference}`)",
        plain(command)
    )
}

/// A launch the bot stopped in the middle of, whose run cannot be told apart.
pub fn launch_interrupted(label: &str, user: &str, job: &str, reference: &str) -> String {
    format!(
        ":warning: The launch of {label} asked by {} was interrupted (the bot stopped while making it) and I cannot tell which run, if any, it started. Check `/tailer last {job}` before launching it again. (ref `{}`)",
        crate::domain::markup::mention(user),
        plain(reference)
    )
}

/// An interrupted write whose record cannot be read any more.
pub fn unreadable_write(reference: &str) -> String {
    format!(
        ":warning: A write asked here was interrupted (the bot stopped while making it) and its record cannot be read: check `/tailer audit` and Tailer. (ref `{}`)",
        plain(reference)
    )
}
