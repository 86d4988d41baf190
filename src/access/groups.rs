//! User-group members, looked up from Slack (`usergroups.users.list`) and cached with a
//! time to live. The cache is only a cache: a failed lookup is never cached, and is
//! reported so that it never grants anything.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Membership;
use super::ttl::TtlSets;
use crate::domain::{UserGroupId, UserId};

/// Why members could not be known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GroupLookupError(pub String);

/// Where members come from (Slack: `slack/api`).
pub trait GroupSource: Send + Sync + 'static {
    fn members(&self, group: &UserGroupId) -> impl Future<Output = Result<Vec<UserId>, GroupLookupError>> + Send;
}

/// Members per group, each entry kept for `ttl`.
pub struct GroupCache<S> {
    pub(super) source: Arc<S>,
    /// Members by group.
    members: TtlSets<UserGroupId, UserId>,
}

impl<S: GroupSource> GroupCache<S> {
    pub fn new(source: Arc<S>, ttl: Duration) -> Self {
        GroupCache { source, members: TtlSets::new(ttl) }
    }

    pub async fn members(&self, group: &UserGroupId) -> Result<Arc<HashSet<UserId>>, GroupLookupError> {
        self.members.get(group, self.source.members(group)).await
    }
}

impl<S: GroupSource> Membership for GroupCache<S> {
    async fn is_member(&self, user: &UserId, group: &UserGroupId) -> Result<bool, GroupLookupError> {
        Ok(self.members(group).await?.contains(user))
    }
}
