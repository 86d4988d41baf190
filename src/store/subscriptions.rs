//! Subscriptions and what they already announced, timed re-enables, and small markers
//! (the last successful poll) the doctor reads.

use super::Claim;
use super::enqueue::enqueue_in;
use super::{Store, StoreResult, SubscriptionRow, SwitchRow, TimerRow, claim, on_backend};
use crate::outbox::OutboxMessage;

/// Adds a pending timer through `$executor` (a pool or a caller's transaction).
macro_rules! add_timer_in {
    ($executor:expr, $t:expr, $now_ms:expr) => {{
        let t: &$crate::store::TimerRow = $t;
        sqlx::query(
            "INSERT INTO timers (id, job, due_at, channel_id, lane, requested_by, reason, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
        )
        .bind(&t.id)
        .bind(&t.job)
        .bind(t.due_at)
        .bind(&t.channel_id)
        .bind(&t.lane)
        .bind(&t.requested_by)
        .bind(&t.reason)
        .bind($now_ms)
        .execute($executor)
        .await?;
    }};
}
pub(super) use add_timer_in;

/// Pending timers that are due, earliest first.
const DUE_TIMERS: Claim =
    Claim { table: "timers", key: "id", ready: "state = 'pending' AND due_at <= $3", order: "due_at", again: true, returning: "*" };

impl Store {
    /// Adds or changes a channel's subscription; true when it is new.
    pub async fn subscribe(&self, s: &SubscriptionRow) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let existed = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM subscriptions WHERE channel_id = $1 AND target = $2")
                .bind(&s.channel_id)
                .bind(&s.target)
                .fetch_one(&mut *tx)
                .await?
                > 0;
            sqlx::query(
                "INSERT INTO subscriptions (channel_id, target, filter, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (channel_id, target) DO UPDATE SET filter = excluded.filter",
            )
            .bind(&s.channel_id)
            .bind(&s.target)
            .bind(&s.filter)
            .bind(&s.created_by)
            .bind(s.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(!existed)
        })
    }

    /// True when there was such a subscription.
    pub async fn unsubscribe(&self, channel_id: &str, target: &str) -> StoreResult<bool> {
        let done: u64 = on_backend!(self, pool => sqlx::query("DELETE FROM subscriptions WHERE channel_id = $1 AND target = $2")
            .bind(channel_id)
            .bind(target)
            .execute(pool)
            .await?.rows_affected());
        Ok(done > 0)
    }

    /// One channel's subscriptions, or all.
    pub async fn subscriptions(&self, channel_id: Option<&str>) -> StoreResult<Vec<SubscriptionRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, SubscriptionRow>(
            "SELECT * FROM subscriptions WHERE ($1 IS NULL OR channel_id = $1) ORDER BY channel_id, target",
        )
        .bind(channel_id)
        .fetch_all(pool)
        .await?))
    }

    /// Notes that a channel knows about a run (without telling it again).
    pub async fn mark_announced(&self, channel_id: &str, run_id: &str, now_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query("INSERT INTO announced (channel_id, run_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(channel_id)
            .bind(run_id)
            .bind(now_ms)
            .execute(pool)
            .await?.rows_affected());
        Ok(())
    }

    /// Announces a run in a channel once, whichever replica asks: queues the message
    /// only if it was not announced.
    pub async fn announce(&self, channel_id: &str, run_id: &str, message: &OutboxMessage, now_ms: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            // A channel that follows the run on a card hears about its end there.
            let done = sqlx::query(
                "INSERT INTO announced (channel_id, run_id, at) SELECT $1, $2, $3
                 WHERE NOT EXISTS (SELECT 1 FROM run_cards WHERE run_id = $2 AND channel_id = $1)
                 ON CONFLICT DO NOTHING",
            )
            .bind(channel_id)
            .bind(run_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?.rows_affected();
            if done == 0 {
                return Ok(false);
            }
            enqueue_in!(tx, std::slice::from_ref(message), now_ms);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Whether the end of `run_id` was announced in `channel_id` (a subscription alert).
    pub async fn announced_in(&self, channel_id: &str, run_id: &str) -> StoreResult<bool> {
        let n = on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM announced WHERE channel_id = $1 AND run_id = $2")
            .bind(channel_id)
            .bind(run_id)
            .fetch_one(pool)
            .await?);
        Ok(n > 0)
    }

    pub async fn add_timer(&self, t: &TimerRow, now_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => add_timer_in!(pool, t, now_ms));
        Ok(())
    }

    /// Claims pending timers that are due and that no live replica holds, earliest
    /// first; each stays this replica's until it is finished or retried.
    pub async fn claim_timers(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<TimerRow>> {
        let mut rows = claim!(self, TimerRow, |lock: &str| DUE_TIMERS.sql(lock), now_ms, limit);
        rows.sort_by_key(|t| t.due_at);
        Ok(rows)
    }

    pub async fn pending_timers(&self) -> StoreResult<Vec<TimerRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, TimerRow>("SELECT * FROM timers WHERE state = 'pending' ORDER BY due_at")
            .fetch_all(pool)
            .await?))
    }

    /// Finishes a timer (`done` or `failed`) and queues what it says, atomically, once:
    /// false (nothing queued) when it was no longer pending.
    pub async fn finish_timer(
        &self,
        id: &str,
        state: &str,
        switch: Option<&SwitchRow>,
        messages: &[OutboxMessage],
        now_ms: i64,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE timers SET state = $1, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL WHERE id = $2 AND state = 'pending'",
            )
            .bind(state)
            .bind(id)
            .execute(&mut *tx)
            .await?.rows_affected();
            if done == 0 {
                return Ok(false);
            }
            if let Some(switch) = switch {
                super::switches::switch_in!(&mut *tx, switch);
            }
            enqueue_in!(tx, messages, now_ms);
            tx.commit().await?;
        });
        Ok(true)
    }

    pub async fn retry_timer(&self, id: &str, due_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query("UPDATE timers SET attempts = attempts + 1, due_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2")
            .bind(due_ms)
            .bind(id)
            .execute(pool)
            .await?.rows_affected());
        Ok(())
    }

    pub async fn set_marker(&self, key: &str, value: i64) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query("INSERT INTO markers (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?.rows_affected());
        Ok(())
    }

    pub async fn marker(&self, key: &str) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT value FROM markers WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?))
    }
}
