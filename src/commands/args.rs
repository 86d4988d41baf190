//! The words after a verb, read left to right by the families' parsers, with what every
//! verb shares: job names, run ids, targets, statuses, dates.

use chrono::NaiveDate;

use super::{Target, UsageError, shorten};
use crate::domain::{Action, JobName, RunId};
use crate::tailer::RunStatus;

/// The words after the verb, consumed left to right.
pub struct Args<'a> {
    action: Action,
    pub(super) args: &'a [&'a str],
    next: usize,
}

impl<'a> Args<'a> {
    pub(super) fn new(action: Action, args: &'a [&'a str]) -> Args<'a> {
        Args { action, args, next: 0 }
    }

    pub(super) fn error(&self, problem: impl Into<String>) -> UsageError {
        UsageError::new(self.action, problem)
    }

    pub(super) fn take(&mut self) -> Option<&'a str> {
        let word = self.args.get(self.next).copied();
        self.next += 1;
        word
    }

    pub(super) fn required(&mut self, what: &str) -> Result<&'a str, UsageError> {
        self.take().ok_or_else(|| self.error(format!("`{}` needs {what}.", self.action)))
    }

    pub(super) fn rest(&mut self) -> Vec<&'a str> {
        let rest = self.args.get(self.next..).unwrap_or_default().to_vec();
        self.next = self.args.len();
        rest
    }

    pub(super) fn done(&self) -> Result<(), UsageError> {
        match self.args.get(self.next..) {
            Some(extra) if !extra.is_empty() => Err(self.error(format!(
                "I did not expect `{}` after `{}`.",
                shorten(&extra.join(" "), 60),
                self.args[..self.next].iter().fold(self.action.name().to_owned(), |acc, w| format!("{acc} {w}"))
            ))),
            _ => Ok(()),
        }
    }

    pub(super) fn job(&mut self) -> Result<JobName, UsageError> {
        let word = self.required("a job name")?;
        JobName::parse(word).map_err(|_| self.error(not_a_job_name(word, "")))
    }

    pub(super) fn run(&mut self) -> Result<RunId, UsageError> {
        let word = self.required("a run id")?;
        run_id(word).ok_or_else(|| {
            let chars = word.chars().count();
            self.error(if chars > RUN_ID_MAX {
                format!("A run id is at most {RUN_ID_MAX} characters; this one has {chars}.")
            } else {
                format!("`{}` is not a run id (they look like 20201230-113940-1fb692b0-…).", shorten(word, 60))
            })
        })
    }

    pub(super) fn target(&mut self, all_allowed: bool) -> Result<Target, UsageError> {
        let word = self.required("a job name or `tag:<tag>`")?;
        if let Some(tag) = word.strip_prefix("tag:") {
            if tag.is_empty() {
                return Err(self.error("`tag:` needs a tag name after it, as in `tag:daily`."));
            }
            let chars = tag.chars().count();
            if chars > TAG_MAX {
                return Err(self.error(format!("A tag is at most {TAG_MAX} characters; this one has {chars}.")));
            }
            let ok = tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            return if ok {
                Ok(Target::Tag(tag.to_owned()))
            } else {
                Err(self.error(format!("`{}` is not a tag: tags are letters, digits, `-`, `_` and `.`.", shorten(tag, 60))))
            };
        }
        if word == "all" {
            return if all_allowed { Ok(Target::All) } else { Err(self.error("`all` is not accepted here: name a job or `tag:<tag>`.")) };
        }
        JobName::parse(word).map(Target::Job).map_err(|_| self.error(not_a_job_name(word, " or `tag:<tag>`")))
    }

    pub(super) fn status(&self, word: &str) -> Option<RunStatus> {
        let status = RunStatus::parse(&word.to_ascii_uppercase());
        (!matches!(status, RunStatus::Other(_))).then_some(status)
    }
}

/// The longest job name, tag and run id.
pub(super) const JOB_NAME_MAX: usize = 64;
pub(super) const TAG_MAX: usize = 64;
pub(super) const RUN_ID_MAX: usize = 128;

/// Why `word` is not a job name: too long (the limit, named), or a character a name
/// does not have. `or` is what else was accepted there.
fn not_a_job_name(word: &str, or: &str) -> String {
    let chars = word.chars().count();
    if chars > JOB_NAME_MAX {
        format!("A job name is at most {JOB_NAME_MAX} characters; this one has {chars}.")
    } else {
        format!(
            "`{}` is not a job name{or}: names are letters, digits, `-`, `_` and `.`, starting with a letter or digit.",
            shorten(word, 60)
        )
    }
}

pub(super) fn date(word: &str) -> Option<NaiveDate> {
    if word.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(word, "%Y-%m-%d").ok()
}

/// A word meant as a run id (it starts with a run id's date, `20201230-`), even when it
/// is not a valid one: it is read as a run, and refused as one, not as a job name.
pub(super) fn run_shaped(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() > 9 && bytes[..8].iter().all(u8::is_ascii_digit) && bytes[8] == b'-'
}

/// `YYYY-MM-DD` in shape, whether or not such a day exists.
pub(super) fn date_shaped(word: &str) -> bool {
    word.len() == 10 && word.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() })
}

/// Why `word` is not a date: a day that does not exist (`2024-02-30`), or not the shape.
pub(super) fn not_a_date(word: &str) -> String {
    if date_shaped(word) {
        format!("`{word}` is not a real date: that month has no such day.")
    } else {
        format!("`{}` is not a date: write YYYY-MM-DD.", shorten(word, 40))
    }
}

/// A run id as people paste it: a documented shape, starting with its date.
pub(super) fn run_id(word: &str) -> Option<RunId> {
    let dated = word.len() > 9 && word.as_bytes()[..8].iter().all(u8::is_ascii_digit) && word.as_bytes()[8] == b'-';
    if dated { RunId::parse(word).ok() } else { None }
}
