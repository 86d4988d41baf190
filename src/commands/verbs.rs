//! The verbs of `/tailer`, each declared once by its family: usage, summary, example and
//! how its words are read. `help` and the usage errors are made from these declarations.

use super::args::Args;
use super::{Command, UsageError, catalog, digest, expect, follow, history, operate, runs, writes};
use crate::domain::Action;

/// One verb of `/tailer`, declared by its family: what `help` and the usage errors show,
/// and how its words are read.
#[derive(Clone, Copy)]
pub struct Verb {
    pub action: Action,
    /// After `/tailer `.
    pub usage: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
    /// Reads the words after the verb (the caller checks that none is left over).
    pub(super) parse: fn(&mut Args<'_>) -> Result<Command, UsageError>,
}

impl std::fmt::Debug for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verb").field("action", &self.action).field("usage", &self.usage).finish_non_exhaustive()
    }
}

/// The families, in the order `help` lists their verbs.
const FAMILIES: [&[Verb]; 8] =
    [catalog::VERBS, writes::VERBS, runs::VERBS, history::VERBS, follow::VERBS, expect::VERBS, digest::VERBS, operate::VERBS];

/// Every verb, in the order `help` lists them.
pub fn verbs() -> impl Iterator<Item = &'static Verb> {
    FAMILIES.into_iter().flatten()
}

/// The declaration of an action's verb, from its family.
pub fn verb(action: Action) -> &'static Verb {
    verbs()
        .find(|v| v.action == action)
        // Every action is declared by a family; a test checks it.
        .expect("every action has a verb")
}

/// `help`: one line per verb.
pub fn help_lines() -> Vec<String> {
    verbs().map(|v| format!("`/tailer {}` — {}", v.usage, v.summary)).collect()
}

/// `help <verb>`.
pub fn help_for(action: Action) -> String {
    let v = verb(action);
    format!("`/tailer {}`\n{}\nExample: `/tailer {}`", v.usage, v.summary, v.example)
}
