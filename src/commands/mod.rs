//! The text after `/tailer`, parsed by one pure function into a typed [`Command`]. Every
//! mistake comes back as a [`UsageError`] that says what was wrong and shows the usage.
//! Job names are only checked for shape here; the catalog resolves them later.

mod args;
mod grammar;

use std::time::Duration;

use chrono::NaiveDate;

use args::Args;
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
    Jobs {
        filter: Option<String>,
    },
    Launch {
        job: JobName,
        execution_date: Option<NaiveDate>,
    },
    Status {
        job: Option<JobName>,
        run: RunId,
    },
    /// `status <job>`: the job's latest run.
    Latest {
        job: JobName,
    },
    Last {
        job: JobName,
        limit: u32,
        status: Option<RunStatus>,
        execution_date: Option<NaiveDate>,
    },
    Running {
        configuration_type: Option<ConfigurationType>,
    },
    /// `watch <job> <run>`, or `watch <run>` for a run whose job the bot knows.
    Watch {
        job: Option<JobName>,
        run: RunId,
    },
    Unwatch {
        run: RunId,
    },
    Subscribe {
        target: Target,
        filter: SubscriptionFilter,
    },
    Unsubscribe {
        target: Target,
    },
    Subscriptions,
    Disable {
        target: Target,
        duration: Option<Duration>,
        reason: Option<String>,
    },
    Enable {
        target: Target,
    },
    Reset {
        job: JobName,
    },
    Mark {
        job: JobName,
        run: RunId,
        status: RunStatus,
    },
    Audit {
        job: Option<JobName>,
    },
    Doctor,
}

impl Command {
    /// The action rules are checked against.
    pub fn action(&self) -> Action {
        match self {
            Command::Help(_) => Action::Help,
            Command::Jobs { .. } => Action::Jobs,
            Command::Launch { .. } => Action::Launch,
            Command::Status { .. } | Command::Latest { .. } => Action::Status,
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

pub use crate::domain::is_format_character;

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
    if text.chars().count() > crate::domain::MAX_TEXT_CHARS {
        return Err(UsageError {
            verb: None,
            problem: format!("That is longer than the {} characters I read.", crate::domain::MAX_TEXT_CHARS),
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

#[cfg(test)]
mod tests;
