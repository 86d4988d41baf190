//! The actions a rule can name. Their names are the command verbs of product.md; `read` and
//! `write` stand for the two groups and `*` for all.

use std::fmt;

/// One thing a person can ask the bot to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Help,
    Jobs,
    Status,
    Last,
    Running,
    Watch,
    Unwatch,
    Subscribe,
    Unsubscribe,
    Subscriptions,
    Expect,
    Unexpect,
    Expectations,
    Digest,
    Disabled,
    History,
    Audit,
    Doctor,
    Launch,
    Disable,
    Enable,
    Reset,
    Mark,
}

impl Action {
    /// Every action, reads first, in the order of product.md.
    pub const ALL: [Action; 23] = [
        Action::Help,
        Action::Jobs,
        Action::Status,
        Action::Last,
        Action::Running,
        Action::Watch,
        Action::Unwatch,
        Action::Subscribe,
        Action::Unsubscribe,
        Action::Subscriptions,
        Action::Expect,
        Action::Unexpect,
        Action::Expectations,
        Action::Digest,
        Action::Disabled,
        Action::History,
        Action::Audit,
        Action::Doctor,
        Action::Launch,
        Action::Disable,
        Action::Enable,
        Action::Reset,
        Action::Mark,
    ];

    /// The verb as people type it and as rules name it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Help => "help",
            Action::Jobs => "jobs",
            Action::Status => "status",
            Action::Last => "last",
            Action::Running => "running",
            Action::Watch => "watch",
            Action::Unwatch => "unwatch",
            Action::Subscribe => "subscribe",
            Action::Unsubscribe => "unsubscribe",
            Action::Subscriptions => "subscriptions",
            Action::Expect => "expect",
            Action::Unexpect => "unexpect",
            Action::Expectations => "expectations",
            Action::Digest => "digest",
            Action::Disabled => "disabled",
            Action::History => "history",
            Action::Audit => "audit",
            Action::Doctor => "doctor",
            Action::Launch => "launch",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Reset => "reset",
            Action::Mark => "mark",
        }
    }

    /// Writes change something in Tailer and are audited; everything else only reads.
    pub fn is_write(self) -> bool {
        matches!(self, Action::Launch | Action::Disable | Action::Enable | Action::Reset | Action::Mark)
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name in a rule's `actions` list that is neither a verb nor `read`, `write`, `*`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{0}` (expected one of: read, write, *, {list})", list = Action::ALL.map(Action::name).join(", "))]
pub struct UnknownAction(pub String);

/// What a rule's `actions` list covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionSet {
    all_reads: bool,
    all_writes: bool,
    listed: Vec<Action>,
}

impl ActionSet {
    /// Every action (`*`, or an omitted `actions` key).
    pub fn any() -> Self {
        ActionSet { all_reads: true, all_writes: true, listed: Vec::new() }
    }

    /// Adds one entry of a rule's `actions` list.
    pub fn add(&mut self, entry: &str) -> Result<(), UnknownAction> {
        match entry {
            "*" => {
                self.all_reads = true;
                self.all_writes = true;
            }
            "read" => self.all_reads = true,
            "write" => self.all_writes = true,
            verb => match Action::from_name(verb) {
                Some(action) => self.listed.push(action),
                None => return Err(UnknownAction(verb.to_owned())),
            },
        }
        Ok(())
    }

    pub fn contains(&self, action: Action) -> bool {
        if action.is_write() { self.all_writes || self.listed.contains(&action) } else { self.all_reads || self.listed.contains(&action) }
    }

    /// True when at least one write action is covered.
    pub fn any_write(&self) -> bool {
        self.all_writes || self.listed.iter().any(|a| a.is_write())
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<&str> = Vec::new();
        match (self.all_reads, self.all_writes) {
            (true, true) => parts.push("*"),
            (true, false) => parts.push("read"),
            (false, true) => parts.push("write"),
            (false, false) => {}
        }
        parts.extend(self.listed.iter().map(|a| a.name()));
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_round_trips() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
    }

    #[test]
    fn read_covers_reads_and_not_writes() {
        let mut set = ActionSet::default();
        set.add("read").unwrap();
        assert!(set.contains(Action::Status));
        assert!(!set.contains(Action::Launch));
        assert!(!set.any_write());
    }

    #[test]
    fn a_listed_verb_covers_only_itself() {
        let mut set = ActionSet::default();
        set.add("launch").unwrap();
        assert!(set.contains(Action::Launch));
        assert!(!set.contains(Action::Disable));
        assert!(!set.contains(Action::Status));
        assert!(set.any_write());
    }

    #[test]
    fn an_unknown_verb_is_refused_with_the_known_ones() {
        let err = ActionSet::default().add("lanch").unwrap_err();
        assert_eq!(err, UnknownAction("lanch".into()));
        assert!(err.to_string().contains("launch"));
    }
}
