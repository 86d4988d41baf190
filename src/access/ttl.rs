//! Sets read from Slack and kept for a while: user-group members, the channels a person
//! is in. Only a successful read is kept; a failed one is the caller's to report, so that
//! it never grants anything.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

/// Past this many entries, the expired ones are dropped before a new one is kept.
const PRUNE_ABOVE: usize = 10_000;

/// Sets by key, each kept for `ttl`.
pub struct TtlSets<K, V> {
    ttl: Duration,
    /// Key → when it was read, and the set.
    entries: DashMap<K, (Instant, Arc<HashSet<V>>)>,
}

impl<K: Eq + Hash + Clone, V: Eq + Hash> TtlSets<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlSets { ttl, entries: DashMap::new() }
    }

    /// The set of `key`: the one kept while it lives, else `read` now (kept if it works).
    pub async fn get<E>(&self, key: &K, read: impl Future<Output = Result<Vec<V>, E>>) -> Result<Arc<HashSet<V>>, E> {
        if let Some(entry) = self.entries.get(key) {
            if entry.0.elapsed() < self.ttl {
                return Ok(entry.1.clone());
            }
        }
        let set: Arc<HashSet<V>> = Arc::new(read.await?.into_iter().collect());
        if self.entries.len() >= PRUNE_ABOVE {
            self.entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        self.entries.insert(key.clone(), (Instant::now(), set.clone()));
        Ok(set)
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_set_is_read_once_while_it_lives_and_a_failed_read_is_not_kept() {
        let sets: TtlSets<&str, u32> = TtlSets::new(Duration::from_secs(60));
        let failed: Result<_, &str> = sets.get(&"a", async { Err("down") }).await;
        assert_eq!(failed.unwrap_err(), "down");
        assert_eq!(sets.kept(), 0, "a failure is not kept");
        let first = sets.get(&"a", async { Ok::<_, ()>(vec![1, 2]) }).await.unwrap();
        let kept = sets.get(&"a", async { Ok::<_, ()>(vec![3]) }).await.unwrap();
        assert_eq!(first, kept, "read once while it lives");
        tokio::time::advance(Duration::from_secs(61)).await;
        let again = sets.get(&"a", async { Ok::<_, ()>(vec![3]) }).await.unwrap();
        assert_eq!(*again, HashSet::from([3]), "read again once expired");
    }

    /// Kept for its TTL and not an instant more: a member taken out of a group loses what
    /// the group gave once the TTL is over.
    #[tokio::test(start_paused = true)]
    async fn a_set_is_read_again_the_moment_its_ttl_is_over() {
        let sets: TtlSets<&str, u32> = TtlSets::new(Duration::from_secs(60));
        sets.get(&"a", async { Ok::<_, ()>(vec![1]) }).await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        let again = sets.get(&"a", async { Ok::<_, ()>(vec![2]) }).await.unwrap();
        assert_eq!(*again, HashSet::from([2]));
    }

    /// Pruning drops the expired sets only: the living ones stay kept.
    #[tokio::test(start_paused = true)]
    async fn pruning_keeps_the_sets_still_alive() {
        let sets: TtlSets<usize, u32> = TtlSets::new(Duration::from_secs(60));
        for key in 0..PRUNE_ABOVE / 2 {
            sets.get(&key, async { Ok::<_, ()>(vec![]) }).await.unwrap();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        for key in PRUNE_ABOVE / 2..PRUNE_ABOVE {
            sets.get(&key, async { Ok::<_, ()>(vec![]) }).await.unwrap();
        }
        tokio::time::advance(Duration::from_secs(31)).await;
        sets.get(&PRUNE_ABOVE, async { Ok::<_, ()>(vec![]) }).await.unwrap();
        assert_eq!(sets.kept(), PRUNE_ABOVE / 2 + 1, "the later half and the new one");
    }

    #[tokio::test(start_paused = true)]
    async fn expired_sets_are_dropped_when_many_are_kept() {
        let sets: TtlSets<usize, u32> = TtlSets::new(Duration::from_secs(60));
        for key in 0..PRUNE_ABOVE {
            sets.get(&key, async { Ok::<_, ()>(vec![]) }).await.unwrap();
        }
        tokio::time::advance(Duration::from_secs(61)).await;
        sets.get(&PRUNE_ABOVE, async { Ok::<_, ()>(vec![]) }).await.unwrap();
        assert_eq!(sets.kept(), 1, "the expired ones went");
    }
}
