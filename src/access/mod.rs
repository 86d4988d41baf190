//! Who may do what: the first rule that matches a request decides, no match denies. A rule
//! matches on the action, the job's environment, the channel and the person (by id, or by
//! membership of a user group, looked up and cached). A group that cannot be looked up
//! never lets anyone in: an allow rule that needs it does not match, a deny rule does.

mod groups;
mod ttl;

use std::future::Future;

pub use groups::{GroupCache, GroupLookupError, GroupSource};
pub use ttl::TtlSets;

use crate::config::{Effect, Rule, Who};
use crate::domain::{Action, ChannelId, Environment, UserId};

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub user: &'a UserId,
    pub channel: &'a ChannelId,
    pub action: Action,
    /// The job's environment; `None` for actions on no job (`doctor`, `subscriptions`...),
    /// which only rules without an `environments` restriction match.
    pub environment: Option<&'a Environment>,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow {
        rule: usize,
        confirm: bool,
        second_person: bool,
    },
    /// By a deny rule, or (`rule: None`) because no rule matched.
    Deny {
        rule: Option<usize>,
    },
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Allow { .. })
    }
}

/// Whether a person is in a user group; `Err` when that cannot be known now.
pub trait Membership {
    fn is_member(&self, user: &UserId, group: &crate::domain::UserGroupId) -> impl Future<Output = Result<bool, GroupLookupError>> + Send;
}

/// Decides a request against the rules, in order.
pub async fn decide(rules: &[Rule], request: Request<'_>, membership: &impl Membership) -> Verdict {
    for rule in rules {
        if !rule.actions.contains(request.action)
            || !request.environment.map_or(rule.environments == crate::config::Matcher::Any, |e| rule.environments.matches(e))
            || !rule.channels.matches(request.channel)
        {
            continue;
        }
        let person = match &rule.who {
            Who::Anyone => Some(true),
            Who::Only { users, usergroups } => {
                if users.contains(request.user) {
                    Some(true)
                } else {
                    let mut known = Some(false);
                    for group in usergroups {
                        match membership.is_member(request.user, group).await {
                            Ok(true) => {
                                known = Some(true);
                                break;
                            }
                            Ok(false) => {}
                            Err(error) => {
                                tracing::warn!(%group, %error, rule = rule.number, "user group lookup failed; the rule cannot grant");
                                known = None;
                            }
                        }
                    }
                    known
                }
            }
        };
        let matches = match (person, rule.effect) {
            (Some(m), _) => m,
            // Unknown membership: never grants, always refuses.
            (None, Effect::Allow) => false,
            (None, Effect::Deny) => true,
        };
        if matches {
            return match rule.effect {
                Effect::Allow => Verdict::Allow { rule: rule.number, confirm: rule.confirm, second_person: rule.second_person },
                Effect::Deny => Verdict::Deny { rule: Some(rule.number) },
            };
        }
    }
    Verdict::Deny { rule: None }
}

#[cfg(test)]
mod tests;
