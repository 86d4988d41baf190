//! The text after `/tailer`, read by one pure function into a typed [`Command`]: the
//! checks every text gets (length, control and invisible formatting characters), the
//! verb, then the verb's own words, read by its family.

use super::args::Args;
use super::{Command, verb};
use crate::domain::Action;

/// What was wrong with a command, and the usage of the verb when one was recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct UsageError {
    pub verb: Option<Action>,
    pub problem: String,
}

impl UsageError {
    pub(crate) fn new(verb: Action, problem: impl Into<String>) -> Self {
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
    let words: Vec<&str> = words.collect();
    let mut args = Args::new(action, &words);
    let command = (verb(action).parse)(&mut args)?;
    args.done()?;
    Ok(command)
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max).collect();
        cut.push('…');
        cut
    }
}
