//! Access rules as configured: who may do which action, on which environment, in which
//! channel, and whether a confirmation click is needed. Evaluation (first match decides)
//! lives with the Slack front door; this module holds the parsed shape.

use crate::domain::{ActionSet, ChannelId, Environment, UserGroupId, UserId};

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `["*"]` or an explicit list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher<T> {
    Any,
    Only(Vec<T>),
}

impl<T: PartialEq> Matcher<T> {
    pub fn matches(&self, value: &T) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Only(list) => list.contains(value),
        }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Matcher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Any => f.write_str("*"),
            Matcher::Only(list) => {
                let names: Vec<String> = list.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

/// Whom a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Anyone,
    /// These users, and the members of these user groups.
    Only {
        users: Vec<UserId>,
        usergroups: Vec<UserGroupId>,
    },
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based position in the file, for messages and the audit trail.
    pub number: usize,
    /// Line of the `[[rules]]` header.
    pub line: usize,
    pub effect: Effect,
    pub actions: ActionSet,
    pub environments: Matcher<Environment>,
    pub who: Who,
    pub channels: Matcher<ChannelId>,
    pub confirm: bool,
    pub second_person: bool,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let effect = match self.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        };
        let who = match &self.who {
            Who::Anyone => "anyone".to_owned(),
            Who::Only { users, usergroups } => {
                let mut names: Vec<String> = users.iter().map(ToString::to_string).collect();
                names.extend(usergroups.iter().map(|g| format!("group {g}")));
                names.join(", ")
            }
        };
        write!(
            f,
            "#{} (line {}): {effect} [{}] on env [{}] for {who} in channels [{}]",
            self.number, self.line, self.actions, self.environments, self.channels
        )?;
        if self.confirm {
            f.write_str(if self.second_person { ", confirmed by a second person" } else { ", with confirmation" })?;
        }
        Ok(())
    }
}
