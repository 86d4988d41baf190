//! The arguments of each verb, read word by word into the typed [`Command`].

use chrono::NaiveDate;

use super::*;

/// The words after the verb, consumed left to right.
pub(super) struct Args<'a> {
    pub(super) action: Action,
    pub(super) args: &'a [&'a str],
    pub(super) next: usize,
}

impl<'a> Args<'a> {
    fn error(&self, problem: impl Into<String>) -> UsageError {
        UsageError::new(self.action, problem)
    }

    fn take(&mut self) -> Option<&'a str> {
        let word = self.args.get(self.next).copied();
        self.next += 1;
        word
    }

    fn required(&mut self, what: &str) -> Result<&'a str, UsageError> {
        self.take().ok_or_else(|| self.error(format!("`{}` needs {what}.", self.action)))
    }

    fn rest(&mut self) -> Vec<&'a str> {
        let rest = self.args.get(self.next..).unwrap_or_default().to_vec();
        self.next = self.args.len();
        rest
    }

    fn done(&self) -> Result<(), UsageError> {
        match self.args.get(self.next..) {
            Some(extra) if !extra.is_empty() => Err(self.error(format!(
                "I did not expect `{}` after `{}`.",
                shorten(&extra.join(" "), 60),
                self.args[..self.next].iter().fold(self.action.name().to_owned(), |acc, w| format!("{acc} {w}"))
            ))),
            _ => Ok(()),
        }
    }

    fn job(&mut self) -> Result<JobName, UsageError> {
        let word = self.required("a job name")?;
        JobName::parse(word)
            .map_err(|_| self.error(format!("`{}` is not a job name: names are letters, digits, `-`, `_` and `.`.", shorten(word, 60))))
    }

    fn run(&mut self) -> Result<RunId, UsageError> {
        let word = self.required("a run id")?;
        run_id(word)
            .ok_or_else(|| self.error(format!("`{}` is not a run id (they look like 20201230-113940-1fb692b0-…).", shorten(word, 60))))
    }

    fn target(&mut self, all_allowed: bool) -> Result<Target, UsageError> {
        let word = self.required("a job name or `tag:<tag>`")?;
        if let Some(tag) = word.strip_prefix("tag:") {
            if tag.is_empty() {
                return Err(self.error("`tag:` needs a tag name after it, as in `tag:daily`."));
            }
            let ok = tag.len() <= 64 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            return if ok { Ok(Target::Tag(tag.to_owned())) } else { Err(self.error(format!("`{}` is not a tag.", shorten(tag, 60)))) };
        }
        if word == "all" {
            return if all_allowed { Ok(Target::All) } else { Err(self.error("`all` is not accepted here: name a job or `tag:<tag>`.")) };
        }
        JobName::parse(word).map(Target::Job).map_err(|_| self.error(format!("`{}` is not a job name or `tag:<tag>`.", shorten(word, 60))))
    }

    fn status(&self, word: &str) -> Option<RunStatus> {
        let status = RunStatus::parse(&word.to_ascii_uppercase());
        (!matches!(status, RunStatus::Other(_))).then_some(status)
    }

    pub(super) fn parse(mut self) -> Result<Command, UsageError> {
        let command = match self.action {
            Action::Help => {
                let topic = match self.take() {
                    None => None,
                    Some(word) => Some(Action::from_name(&word.to_ascii_lowercase()).ok_or_else(|| {
                        self.error(format!(
                            "`{}` is not a command. The commands: {}.",
                            shorten(word, 40),
                            Action::ALL.map(Action::name).join(", ")
                        ))
                    })?),
                };
                Command::Help(topic)
            }
            Action::Jobs => {
                let filter = self.rest().join(" ");
                Command::Jobs { filter: (!filter.is_empty()).then(|| shorten(&filter, 100)) }
            }
            Action::Launch => {
                let job = self.job()?;
                let execution_date = match self.take() {
                    None => None,
                    Some(word) => Some(date(word).ok_or_else(|| self.error(not_a_date(word)))?),
                };
                Command::Launch { job, execution_date }
            }
            Action::Status => match self.args.len() {
                0 => return Err(self.error("`status` needs a run id.")),
                // A run id alone; anything else is read as a job, whose latest run is shown.
                1 if run_shaped(self.args[0]) => Command::Status { job: None, run: self.run()? },
                1 => Command::Latest { job: self.job()? },
                _ => Command::Status { job: Some(self.job()?), run: self.run()? },
            },
            Action::Last => {
                let job = self.job()?;
                let (mut limit, mut status, mut execution_date) = (None, None, None);
                for word in self.rest() {
                    if let Ok(n) = word.parse::<u32>() {
                        if !(1..=LAST_MAX).contains(&n) {
                            return Err(self.error(format!("N must be between 1 and {LAST_MAX}.")));
                        }
                        if limit.replace(n).is_some() {
                            return Err(self.error("N is given twice."));
                        }
                    } else if let Some(d) = date(word) {
                        if execution_date.replace(d).is_some() {
                            return Err(self.error("The date is given twice."));
                        }
                    } else if date_shaped(word) {
                        return Err(self.error(not_a_date(word)));
                    } else if let Some(s) = self.status(word) {
                        if status.replace(s).is_some() {
                            return Err(self.error("The status is given twice."));
                        }
                    } else {
                        return Err(self.error(format!(
                            "`{}` is neither a number, a status (WAITING, RUNNING, SUCCESS, FAILED, CHECKED, NO_MATCH, DEACTIVATED) nor a date (YYYY-MM-DD).",
                            shorten(word, 40)
                        )));
                    }
                }
                Command::Last { job, limit: limit.unwrap_or(LAST_DEFAULT), status, execution_date }
            }
            Action::Running => {
                let configuration_type = match self.take() {
                    None => None,
                    Some(word) => Some(ConfigurationType::parse(word).map_err(|e| self.error(format!("{e}.")))?),
                };
                Command::Running { configuration_type }
            }
            Action::Watch => match self.args.len() {
                0 => return Err(self.error("`watch` needs a run id (and its job, unless the bot launched or follows the run).")),
                1 if run_shaped(self.args[0]) => Command::Watch { job: None, run: self.run()? },
                1 => {
                    return Err(
                        self.error(format!("`watch` needs a run id after the job: `watch {} <run_id>`.", shorten(self.args[0], 60)))
                    );
                }
                _ => Command::Watch { job: Some(self.job()?), run: self.run()? },
            },
            Action::Unwatch => Command::Unwatch { run: self.run()? },
            Action::Subscribe => {
                let target = self.target(true)?;
                let filter = match self.take().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("all") => SubscriptionFilter::All,
                    Some("failures") => SubscriptionFilter::Failures,
                    Some(other) => {
                        return Err(self.error(format!("`{}` is neither `failures` nor `all`.", shorten(other, 40))));
                    }
                };
                Command::Subscribe { target, filter }
            }
            Action::Unsubscribe => Command::Unsubscribe { target: self.target(true)? },
            Action::Subscriptions => Command::Subscriptions,
            Action::Disable => {
                let target = self.target(false)?;
                let mut rest = self.rest();
                let duration = if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("for")) {
                    let Some(word) = rest.get(1).copied() else {
                        return Err(self.error("`for` needs a duration, like 30m, 2h or 1d."));
                    };
                    let duration = humantime::parse_duration(word).map_err(|_| {
                        self.error(format!("`{}` is not a duration: write it like 30m, 2h, 1h30m or 1d.", shorten(word, 40)))
                    })?;
                    if !(DISABLE_FOR_MIN..=DISABLE_FOR_MAX).contains(&duration) {
                        return Err(self.error("The duration must be between 1 minute and 30 days."));
                    }
                    rest.drain(..2);
                    Some(duration)
                } else {
                    None
                };
                let reason = rest.join(" ");
                if reason.chars().count() > REASON_MAX_CHARS {
                    return Err(self.error(format!("The reason is longer than {REASON_MAX_CHARS} characters.")));
                }
                Command::Disable { target, duration, reason: (!reason.is_empty()).then_some(reason) }
            }
            Action::Enable => Command::Enable { target: self.target(false)? },
            Action::Reset => Command::Reset { job: self.job()? },
            Action::Mark => {
                let job = self.job()?;
                let run = self.run()?;
                let word = self.required("a status")?;
                let status = self.status(word).filter(RunStatus::settable).ok_or_else(|| {
                    self.error(format!("`{}` cannot be set: use SUCCESS, FAILED, RUNNING, NO_MATCH or CHECKED.", shorten(word, 40)))
                })?;
                Command::Mark { job, run, status }
            }
            Action::Audit => Command::Audit { job: if self.args.is_empty() { None } else { Some(self.job()?) } },
            Action::Doctor => Command::Doctor,
        };
        self.done()?;
        Ok(command)
    }
}

fn date(word: &str) -> Option<NaiveDate> {
    if word.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(word, "%Y-%m-%d").ok()
}

/// A word meant as a run id (it starts with a run id's date, `20201230-`), even when it
/// is not a valid one: it is read as a run, and refused as one, not as a job name.
fn run_shaped(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() > 9 && bytes[..8].iter().all(u8::is_ascii_digit) && bytes[8] == b'-'
}

/// `YYYY-MM-DD` in shape, whether or not such a day exists.
fn date_shaped(word: &str) -> bool {
    word.len() == 10 && word.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() })
}

/// Why `word` is not a date: a day that does not exist (`2024-02-30`), or not the shape.
fn not_a_date(word: &str) -> String {
    if date_shaped(word) {
        format!("`{word}` is not a real date: that month has no such day.")
    } else {
        format!("`{}` is not a date: write YYYY-MM-DD.", shorten(word, 40))
    }
}

/// A run id as people paste it: a documented shape, starting with its date.
fn run_id(word: &str) -> Option<RunId> {
    let dated = word.len() > 9 && word.as_bytes()[..8].iter().all(u8::is_ascii_digit) && word.as_bytes()[8] == b'-';
    if dated { RunId::parse(word).ok() } else { None }
}
