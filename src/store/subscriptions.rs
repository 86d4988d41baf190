//! Subscriptions and what they already announced, timed re-enables, and small markers
//! (the last successful poll) the doctor reads.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::outbox::enqueue_in;
use super::{OutboxMessage, Store, StoreResult, SubscriptionRow, TimerRow};

impl Store {
    /// Adds or changes a channel's subscription; true when it is new.
    pub async fn subscribe(&self, s: &SubscriptionRow) -> StoreResult<bool> {
        let existed = sqlx::query("SELECT 1 FROM subscriptions WHERE channel_id = $1 AND target = $2")
            .bind(&s.channel_id)
            .bind(&s.target)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        sqlx::query(
            "INSERT INTO subscriptions (channel_id, target, filter, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (channel_id, target) DO UPDATE SET filter = excluded.filter",
        )
        .bind(&s.channel_id)
        .bind(&s.target)
        .bind(&s.filter)
        .bind(&s.created_by)
        .bind(s.created_at)
        .execute(&self.pool)
        .await?;
        Ok(!existed)
    }

    /// True when there was such a subscription.
    pub async fn unsubscribe(&self, channel_id: &str, target: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM subscriptions WHERE channel_id = $1 AND target = $2")
            .bind(channel_id)
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// One channel's subscriptions, or all.
    pub async fn subscriptions(&self, channel_id: Option<&str>) -> StoreResult<Vec<SubscriptionRow>> {
        let rows = match channel_id {
            Some(c) => {
                sqlx::query("SELECT * FROM subscriptions WHERE channel_id = $1 ORDER BY target").bind(c).fetch_all(&self.pool).await?
            }
            None => sqlx::query("SELECT * FROM subscriptions ORDER BY channel_id, target").fetch_all(&self.pool).await?,
        };
        rows.iter().map(subscription_row).collect()
    }

    /// Notes that a channel knows about a run (without telling it again).
    pub async fn mark_announced(&self, channel_id: &str, run_id: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO announced (channel_id, run_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(channel_id)
            .bind(run_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Announces a run in a channel once: queues the message only if it was not announced.
    pub async fn announce(&self, channel_id: &str, run_id: &str, message: &OutboxMessage, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
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
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        enqueue_in(&mut tx, std::slice::from_ref(message), now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn add_timer(&self, t: &TimerRow, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO timers (id, job, due_at, channel_id, lane, requested_by, reason, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
        )
        .bind(&t.id)
        .bind(&t.job)
        .bind(t.due_at)
        .bind(&t.channel_id)
        .bind(&t.lane)
        .bind(&t.requested_by)
        .bind(&t.reason)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn due_timers(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<TimerRow>> {
        let rows = sqlx::query("SELECT * FROM timers WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2")
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(timer_row).collect()
    }

    pub async fn pending_timers(&self) -> StoreResult<Vec<TimerRow>> {
        let rows = sqlx::query("SELECT * FROM timers WHERE state = 'pending' ORDER BY due_at").fetch_all(&self.pool).await?;
        rows.iter().map(timer_row).collect()
    }

    /// Finishes a timer (`done` or `failed`) and queues what it says, atomically.
    pub async fn finish_timer(&self, id: &str, state: &str, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE timers SET state = $1, attempts = attempts + 1 WHERE id = $2").bind(state).bind(id).execute(&mut *tx).await?;
        enqueue_in(&mut tx, messages, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn retry_timer(&self, id: &str, due_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE timers SET attempts = attempts + 1, due_at = $1 WHERE id = $2")
            .bind(due_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Cancels pending re-enables of a job (it was enabled by hand); returns how many.
    pub async fn cancel_timers(&self, job: &str) -> StoreResult<u64> {
        let done =
            sqlx::query("UPDATE timers SET state = 'cancelled' WHERE job = $1 AND state = 'pending'").bind(job).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    pub async fn set_marker(&self, key: &str, value: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO markers (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn marker(&self, key: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT value FROM markers WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(r.try_get("value")?)).transpose()
    }
}

fn subscription_row(r: &SqliteRow) -> StoreResult<SubscriptionRow> {
    Ok(SubscriptionRow {
        channel_id: r.try_get("channel_id")?,
        target: r.try_get("target")?,
        filter: r.try_get("filter")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn timer_row(r: &SqliteRow) -> StoreResult<TimerRow> {
    Ok(TimerRow {
        id: r.try_get("id")?,
        job: r.try_get("job")?,
        due_at: r.try_get("due_at")?,
        channel_id: r.try_get("channel_id")?,
        lane: r.try_get("lane")?,
        requested_by: r.try_get("requested_by")?,
        reason: r.try_get("reason")?,
        attempts: r.try_get("attempts")?,
    })
}
