//! The text after `/tailer`, parsed by one pure function into a typed [`Command`]. Every
//! mistake comes back as a [`UsageError`] that says what was wrong and shows the usage.
//! Job names are only checked for shape here; the catalog resolves them later.

mod grammar;

use std::time::Duration;

use chrono::NaiveDate;

pub use grammar::{VERBS, Verb, help_for, help_lines, verb};

use crate::domain::{Action, ConfigurationType, JobName, RunId};
use crate::tailer::RunStatus;

/// What a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Job(JobName),
    /// Every catalog job carrying the tag.
    Tag(String),
    /// Every job (subscriptions only).
    All,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Job(name) => write!(f, "{name}"),
            Target::Tag(tag) => write!(f, "tag:{tag}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// Which finished runs a subscription announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionFilter {
    All,
    Failures,
}

impl SubscriptionFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionFilter::All => "all",
            SubscriptionFilter::Failures => "failures",
        }
    }
}

/// The bot's slash command, as the app manifest declares it.
pub const SLASH_COMMAND: &str = "/tailer";

/// The default and the ceiling of `last`'s N.
pub const LAST_DEFAULT: u32 = 5;
pub const LAST_MAX: u32 = 50;
/// Bounds of `disable ... for <duration>`.
pub const DISABLE_FOR_MIN: Duration = Duration::from_secs(60);
pub const DISABLE_FOR_MAX: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest reason kept.
pub const REASON_MAX_CHARS: usize = 500;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help(Option<Action>),
    Jobs { filter: Option<String> },
    Launch { job: JobName, execution_date: Option<NaiveDate> },
    Status { job: Option<JobName>, run: RunId },
    Last { job: JobName, limit: u32, status: Option<RunStatus>, execution_date: Option<NaiveDate> },
    Running { configuration_type: Option<ConfigurationType> },
    Watch { job: JobName, run: RunId },
    Unwatch { run: RunId },
    Subscribe { target: Target, filter: SubscriptionFilter },
    Unsubscribe { target: Target },
    Subscriptions,
    Disable { target: Target, duration: Option<Duration>, reason: Option<String> },
    Enable { target: Target },
    Reset { job: JobName },
    Mark { job: JobName, run: RunId, status: RunStatus },
    Audit { job: Option<JobName> },
    Doctor,
}

impl Command {
    /// The action rules are checked against.
    pub fn action(&self) -> Action {
        match self {
            Command::Help(_) => Action::Help,
            Command::Jobs { .. } => Action::Jobs,
            Command::Launch { .. } => Action::Launch,
            Command::Status { .. } => Action::Status,
            Command::Last { .. } => Action::Last,
            Command::Running { .. } => Action::Running,
            Command::Watch { .. } => Action::Watch,
            Command::Unwatch { .. } => Action::Unwatch,
            Command::Subscribe { .. } => Action::Subscribe,
            Command::Unsubscribe { .. } => Action::Unsubscribe,
            Command::Subscriptions => Action::Subscriptions,
            Command::Disable { .. } => Action::Disable,
            Command::Enable { .. } => Action::Enable,
            Command::Reset { .. } => Action::Reset,
            Command::Mark { .. } => Action::Mark,
            Command::Audit { .. } => Action::Audit,
            Command::Doctor => Action::Doctor,
        }
    }
}

/// What was wrong with a command, and the usage of the verb when one was recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct UsageError {
    pub verb: Option<Action>,
    pub problem: String,
}

impl UsageError {
    fn new(verb: Action, problem: impl Into<String>) -> Self {
        UsageError { verb: Some(verb), problem: problem.into() }
    }

    /// The problem, then the usage and an example (or the list of verbs).
    pub fn explain(&self) -> String {
        match self.verb {
            Some(action) => {
                let v = verb(action);
                format!("{}\nUsage: `/tailer {}`\nExample: `/tailer {}`", self.problem, v.usage, v.example)
            }
            None => format!("{}\nType `/tailer help` for the list of commands.", self.problem),
        }
    }
}

/// Whether `c` is a Unicode format character (general category Cf): bidirectional
/// controls (U+202A–U+202E, U+2066–U+2069), zero-width characters (U+200B–U+200F),
/// the byte-order mark (U+FEFF), soft hyphens, tags and the rest of the category. The
/// zero-width joiner of composed emoji is one of them: such an emoji is refused too.
pub fn is_format_character(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

/// `U+202E (right-to-left override)`: the code point, and a name for the common ones.
fn format_character_name(c: char) -> String {
    let name = match u32::from(c) {
        0x202A => " (left-to-right embedding)",
        0x202B => " (right-to-left embedding)",
        0x202C => " (pop directional formatting)",
        0x202D => " (left-to-right override)",
        0x202E => " (right-to-left override)",
        0x2066 => " (left-to-right isolate)",
        0x2067 => " (right-to-left isolate)",
        0x2068 => " (first strong isolate)",
        0x2069 => " (pop directional isolate)",
        0x200B => " (zero-width space)",
        0x200C => " (zero-width non-joiner)",
        0x200D => " (zero-width joiner)",
        0x200E => " (left-to-right mark)",
        0x200F => " (right-to-left mark)",
        0xFEFF => " (zero-width no-break space)",
        0x00AD => " (soft hyphen)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

/// Slack sends `&`, `<` and `>` as HTML entities; the bot works on the typed text.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Parses the text of a slash command.
pub fn parse(text: &str) -> Result<Command, UsageError> {
    if text.chars().count() > crate::slack::payload::MAX_TEXT_CHARS {
        return Err(UsageError {
            verb: None,
            problem: format!("That is longer than the {} characters I read.", crate::slack::payload::MAX_TEXT_CHARS),
        });
    }
    // Slack's clients cannot type these; kept, they would reach reasons, the audit trail
    // and the logs (an escape sequence rewrites a terminal).
    if let Some(c) = text.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(UsageError {
            verb: None,
            problem: format!("Your text contains a control character (U+{:04X}) that I do not read: please type it again.", u32::from(c)),
        });
    }
    // Format characters (category Cf) are invisible, and some reorder what follows: a
    // right-to-left override makes the audit channel show a line partly reversed.
    if let Some(c) = text.chars().find(|c| is_format_character(*c)) {
        return Err(UsageError {
            verb: None,
            problem: format!(
                "Your text contains an invisible formatting character, {}, that I do not accept, because it changes how the text reads in the channel and the audit trail: please type it again without it.",
                format_character_name(c)
            ),
        });
    }
    let text = unescape(text);
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else {
        return Ok(Command::Help(None));
    };
    let verb_name = first.to_ascii_lowercase();
    let Some(action) = Action::from_name(&verb_name) else {
        let closest = Action::ALL
            .iter()
            .map(|a| (strsim::levenshtein(a.name(), &verb_name), a.name()))
            .min()
            .filter(|(distance, _)| *distance <= 2)
            .map(|(_, name)| format!(" Did you mean `{name}`?"))
            .unwrap_or_default();
        return Err(UsageError { verb: None, problem: format!("`{}` is not a command I know.{closest}", shorten(first, 40)) });
    };
    let args: Vec<&str> = words.collect();
    Args { action, args: &args, next: 0 }.parse()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// The words after the verb, consumed left to right.
struct Args<'a> {
    action: Action,
    args: &'a [&'a str],
    next: usize,
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
            let ok = !tag.is_empty() && tag.len() <= 64 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
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

    fn parse(mut self) -> Result<Command, UsageError> {
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
                    Some(word) => {
                        Some(date(word).ok_or_else(|| self.error(format!("`{}` is not a date: write YYYY-MM-DD.", shorten(word, 40))))?)
                    }
                };
                Command::Launch { job, execution_date }
            }
            Action::Status => match self.args.len() {
                0 => return Err(self.error("`status` needs a run id.")),
                1 => Command::Status { job: None, run: self.run()? },
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
            Action::Watch => Command::Watch { job: self.job()?, run: self.run()? },
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

/// A run id as people paste it: a documented shape, starting with its date.
fn run_id(word: &str) -> Option<RunId> {
    let dated = word.len() > 9 && word.as_bytes()[..8].iter().all(u8::is_ascii_digit) && word.as_bytes()[8] == b'-';
    if dated { RunId::parse(word).ok() } else { None }
}

#[cfg(test)]
mod tests;
