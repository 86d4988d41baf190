//! What a button asks for, as one type. A button carries an action id and a value; both
//! are written by [`Press::encode`] and read back by [`Press::decode`], here and nowhere
//! else, so that a new button is one variant and its two lines.

use chrono::NaiveDate;

use super::{JobName, RunId};

/// What a click on one of the bot's buttons asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Press {
    /// *Confirm* a stored confirmation.
    Confirm {
        confirmation: String,
    },
    /// *Cancel* a stored confirmation.
    Cancel {
        confirmation: String,
    },
    /// The buttons of a failed or finished run (its card, its thread reply, an alert),
    /// each bound to the run: *Launch again* keeps the run's execution date.
    LaunchAgain {
        job: JobName,
        run: RunId,
        execution_date: Option<NaiveDate>,
    },
    MarkChecked {
        job: JobName,
        run: RunId,
    },
    DisableHour {
        job: JobName,
        run: RunId,
    },
    /// A run button of a card posted before buttons named their run: what it was, and
    /// its job when that can be read.
    OlderCard {
        card: CardButton,
        job: Option<JobName>,
    },
    /// The Home tab's *Launch…*: opens the launch form.
    HomeLaunch,
    /// The question before a launch of a job that is switched off: switch it on, then
    /// launch; or launch anyway. With the launch's execution date.
    EnableAndLaunch {
        job: JobName,
        execution_date: Option<NaiveDate>,
    },
    LaunchAnyway {
        job: JobName,
        execution_date: Option<NaiveDate>,
    },
    /// *Enable* a job or a tag (`target` is what `enable` takes, read as typed).
    Enable {
        target: String,
    },
    /// The *Open in Tailer* link: the page opens, the bot has nothing to do.
    OpenInTailer,
    /// An expectation's alert: *Launch* (as `launch <job>` typed there), *Last runs*,
    /// *Mute today* (the day of the alert).
    ExpectLaunch {
        job: JobName,
    },
    ExpectLast {
        job: JobName,
    },
    ExpectMute {
        job: JobName,
        day: NaiveDate,
    },
}

/// The three buttons of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardButton {
    LaunchAgain,
    MarkChecked,
    DisableHour,
}

/// A button the bot did not make, or a value it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PressError {
    #[error("a button the bot does not know: `{0}`")]
    Unknown(String),
    #[error("a button whose value cannot be read: `{0}`")]
    Value(String),
}

const CONFIRM: &str = "confirm";
const CANCEL: &str = "cancel";
const LAUNCH_AGAIN: &str = "launch_again";
const MARK_CHECKED: &str = "mark_checked";
const DISABLE_HOUR: &str = "disable_hour";
const HOME_LAUNCH: &str = "home_launch";
const ENABLE_AND_LAUNCH: &str = "enable_and_launch";
const LAUNCH_ANYWAY: &str = "launch_anyway";
const ENABLE: &str = "enable";
const OPEN_IN_TAILER: &str = "open_in_tailer";
const EXPECT_LAUNCH: &str = "expect_launch";
const EXPECT_LAST: &str = "expect_last";
const EXPECT_MUTE: &str = "expect_mute";

/// `job [date]`, the value of a launch's buttons.
fn launch_value(job: &JobName, execution_date: Option<NaiveDate>) -> String {
    match execution_date {
        Some(date) => format!("{job} {date}"),
        None => job.to_string(),
    }
}

/// Reads `job [date]`.
fn read_launch(value: &str) -> Option<(JobName, Option<NaiveDate>)> {
    let mut words = value.split_whitespace();
    let job = JobName::parse(words.next()?).ok()?;
    let execution_date = match words.next() {
        Some(date) => Some(date.parse::<NaiveDate>().ok()?),
        None => None,
    };
    words.next().is_none().then_some((job, execution_date))
}

impl Press {
    /// The button's action id and value. Slack wants the action ids of one block
    /// different: an *Enable* button's names its target.
    pub fn encode(&self) -> (String, String) {
        match self {
            Press::Confirm { confirmation } => (CONFIRM.into(), confirmation.clone()),
            Press::Cancel { confirmation } => (CANCEL.into(), confirmation.clone()),
            Press::LaunchAgain { job, run, execution_date } => {
                let date = execution_date.map(|d| format!(" {d}")).unwrap_or_default();
                (LAUNCH_AGAIN.into(), format!("{job} {run}{date}"))
            }
            Press::MarkChecked { job, run } => (MARK_CHECKED.into(), format!("{job} {run}")),
            Press::DisableHour { job, run } => (DISABLE_HOUR.into(), format!("{job} {run}")),
            Press::OlderCard { card, job } => {
                let id = match card {
                    CardButton::LaunchAgain => LAUNCH_AGAIN,
                    CardButton::MarkChecked => MARK_CHECKED,
                    CardButton::DisableHour => DISABLE_HOUR,
                };
                (id.into(), job.as_ref().map(JobName::to_string).unwrap_or_default())
            }
            Press::HomeLaunch => (HOME_LAUNCH.into(), String::new()),
            Press::EnableAndLaunch { job, execution_date } => (ENABLE_AND_LAUNCH.into(), launch_value(job, *execution_date)),
            Press::LaunchAnyway { job, execution_date } => (LAUNCH_ANYWAY.into(), launch_value(job, *execution_date)),
            Press::Enable { target } => (format!("{ENABLE}:{target}"), target.clone()),
            Press::OpenInTailer => (OPEN_IN_TAILER.into(), String::new()),
            Press::ExpectLaunch { job } => (EXPECT_LAUNCH.into(), job.to_string()),
            Press::ExpectLast { job } => (EXPECT_LAST.into(), job.to_string()),
            Press::ExpectMute { job, day } => (EXPECT_MUTE.into(), format!("{job} {day}")),
        }
    }

    /// What a click asks for, from its action id and value.
    pub fn decode(action_id: &str, value: &str) -> Result<Press, PressError> {
        let bad_value = || PressError::Value(value.chars().take(100).collect());
        let card = match action_id {
            LAUNCH_AGAIN => Some(CardButton::LaunchAgain),
            MARK_CHECKED => Some(CardButton::MarkChecked),
            DISABLE_HOUR => Some(CardButton::DisableHour),
            _ => None,
        };
        if let Some(card) = card {
            let mut words = value.split_whitespace();
            let job = words.next().and_then(|j| JobName::parse(j).ok());
            let run = words.next().and_then(|r| RunId::parse(r).ok());
            let (Some(job), Some(run)) = (job.clone(), run) else {
                return Ok(Press::OlderCard { card, job });
            };
            return Ok(match card {
                CardButton::LaunchAgain => {
                    Press::LaunchAgain { job, run, execution_date: words.next().and_then(|d| d.parse::<NaiveDate>().ok()) }
                }
                CardButton::MarkChecked => Press::MarkChecked { job, run },
                CardButton::DisableHour => Press::DisableHour { job, run },
            });
        }
        match action_id {
            CONFIRM => Ok(Press::Confirm { confirmation: value.to_owned() }),
            CANCEL => Ok(Press::Cancel { confirmation: value.to_owned() }),
            HOME_LAUNCH => Ok(Press::HomeLaunch),
            OPEN_IN_TAILER => Ok(Press::OpenInTailer),
            ENABLE_AND_LAUNCH => {
                read_launch(value).map(|(job, execution_date)| Press::EnableAndLaunch { job, execution_date }).ok_or_else(bad_value)
            }
            LAUNCH_ANYWAY => {
                read_launch(value).map(|(job, execution_date)| Press::LaunchAnyway { job, execution_date }).ok_or_else(bad_value)
            }
            EXPECT_LAUNCH => JobName::parse(value).map(|job| Press::ExpectLaunch { job }).map_err(|_| bad_value()),
            EXPECT_LAST => JobName::parse(value).map(|job| Press::ExpectLast { job }).map_err(|_| bad_value()),
            EXPECT_MUTE => read_launch(value).and_then(|(job, day)| Some(Press::ExpectMute { job, day: day? })).ok_or_else(bad_value),
            enable if enable == ENABLE || enable.starts_with("enable:") => Ok(Press::Enable { target: value.to_owned() }),
            other => Err(PressError::Unknown(other.chars().take(100).collect())),
        }
    }

    /// The action id alone, for logs and the audit.
    pub fn name(&self) -> String {
        let (id, _) = self.encode();
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> JobName {
        JobName::parse(name).unwrap()
    }

    #[test]
    fn every_button_reads_back_as_itself() {
        let run = RunId::parse("20261130-081500-abc").unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 30);
        for press in [
            Press::Confirm { confirmation: "c-1".into() },
            Press::Cancel { confirmation: "c-1".into() },
            Press::LaunchAgain { job: job("sales-daily"), run: run.clone(), execution_date: date },
            Press::LaunchAgain { job: job("sales-daily"), run: run.clone(), execution_date: None },
            Press::MarkChecked { job: job("sales-daily"), run: run.clone() },
            Press::DisableHour { job: job("sales-daily"), run },
            Press::OlderCard { card: CardButton::LaunchAgain, job: Some(job("sales-daily")) },
            Press::OlderCard { card: CardButton::MarkChecked, job: None },
            Press::HomeLaunch,
            Press::EnableAndLaunch { job: job("sales-daily"), execution_date: date },
            Press::LaunchAnyway { job: job("sales-daily"), execution_date: None },
            Press::Enable { target: "tag:finance".into() },
            Press::OpenInTailer,
            Press::ExpectLaunch { job: job("sales-daily") },
            Press::ExpectLast { job: job("sales-daily") },
            Press::ExpectMute { job: job("sales-daily"), day: date.unwrap() },
        ] {
            let (id, value) = press.encode();
            assert_eq!(Press::decode(&id, &value), Ok(press.clone()), "{id} {value}");
        }
    }

    #[test]
    fn what_the_bot_did_not_make_is_refused() {
        assert_eq!(Press::decode("delete_everything", "x"), Err(PressError::Unknown("delete_everything".into())));
        for forged in ["", "sales-daily yesterday", "sales-daily 2026-11-30 more", "two words here"] {
            assert!(matches!(Press::decode("launch_anyway", forged), Err(PressError::Value(_))), "{forged:?}");
        }
        for forged in ["", "sales-daily", "sales-daily tomorrow", "sales-daily 2026-11-30 more"] {
            assert!(matches!(Press::decode("expect_mute", forged), Err(PressError::Value(_))), "{forged:?}");
        }
    }
}
