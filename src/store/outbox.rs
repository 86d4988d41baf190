//! The outbox: every Slack write, queued durably before it is sent, delivered in order per
//! lane. A message is marked sent only after Slack accepted it, so a crash can repeat at
//! most the one message per lane that was on the wire.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{OutboxBody, OutboxMessage, OutboxMethod, OutboxRow, Store, StoreError, StoreResult};

impl Store {
    /// Queues messages in one transaction.
    pub async fn enqueue(&self, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        enqueue_in(&mut tx, messages, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The first pending message of each lane that is due, oldest lanes first.
    pub async fn outbox_heads(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT o.* FROM outbox o
             WHERE o.state = 'pending' AND o.next_attempt_at <= $1
               AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane AND p.state = 'pending')
             ORDER BY o.id LIMIT $2",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// The earliest time a pending message is due, if any.
    pub async fn outbox_next_due(&self) -> StoreResult<Option<i64>> {
        // Only the first message of a lane can be due: those behind it wait for it.
        let row = sqlx::query(
            "SELECT MIN(o.next_attempt_at) AS due FROM outbox o
             WHERE o.state = 'pending' AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane AND p.state = 'pending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("due")?)
    }

    /// Slack accepted it; a root message's `ts` becomes its lane's thread.
    pub async fn outbox_sent(&self, row: &OutboxRow, ts: Option<&str>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL WHERE id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        if let (true, Some(ts), Some(channel)) = (row.message.root, ts, row.message.channel_id.as_deref()) {
            sqlx::query("INSERT INTO threads (lane, channel_id, ts) VALUES ($1, $2, $3) ON CONFLICT (lane) DO UPDATE SET ts = excluded.ts, channel_id = excluded.channel_id")
                .bind(&row.message.lane)
                .bind(channel)
                .bind(ts)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Try again at `next_ms`.
    pub async fn outbox_retry(&self, id: i64, next_ms: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3")
            .bind(next_ms)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Not now (pacing): later, without counting a try.
    pub async fn outbox_defer(&self, id: i64, next_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2").bind(next_ms).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Given up: Slack will never take it.
    pub async fn outbox_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The root message of a lane: `(channel, ts)`.
    pub async fn thread(&self, lane: &str) -> StoreResult<Option<(String, String)>> {
        let row = sqlx::query("SELECT channel_id, ts FROM threads WHERE lane = $1").bind(lane).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((r.try_get("channel_id")?, r.try_get("ts")?))).transpose()
    }

    /// Whether the first message of a lane was given up on (its thread will never exist).
    pub async fn lane_root_failed(&self, lane: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS x FROM outbox WHERE lane = $1 AND root AND state = 'failed' LIMIT 1")
            .bind(lane)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records a lane's root that was posted some other way (a confirmation message).
    pub async fn set_thread(&self, lane: &str, channel: &str, ts: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO threads (lane, channel_id, ts) VALUES ($1, $2, $3) ON CONFLICT (lane) DO NOTHING")
            .bind(lane)
            .bind(channel)
            .bind(ts)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Pending messages and the creation time of the oldest.
    pub async fn outbox_depth(&self) -> StoreResult<(i64, Option<i64>)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("n")?, row.try_get("oldest")?))
    }

    /// Forgets delivered messages older than `before_ms`.
    pub async fn prune_outbox(&self, before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM outbox WHERE state = 'sent' AND created_at < $1").bind(before_ms).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

/// Queues messages inside a caller's transaction; a collapsing message replaces the
/// pending ones with its key.
pub(super) async fn enqueue_in(tx: &mut Transaction<'_, Sqlite>, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
    for m in messages {
        if let Some(key) = &m.collapse_key {
            sqlx::query("DELETE FROM outbox WHERE collapse_key = $1 AND state = 'pending'").bind(key).execute(&mut **tx).await?;
        }
        let body = serde_json::to_string(&m.body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO outbox (lane, method, channel_id, user_id, in_thread, root, broadcast, collapse_key, response_url, body, created_at, next_attempt_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 'pending')",
        )
        .bind(&m.lane)
        .bind(m.method.as_str())
        .bind(&m.channel_id)
        .bind(&m.user_id)
        .bind(m.in_thread)
        .bind(m.root)
        .bind(m.broadcast)
        .bind(&m.collapse_key)
        .bind(&m.response_url)
        .bind(body)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn outbox_row(r: &SqliteRow) -> StoreResult<OutboxRow> {
    let method: String = r.try_get("method")?;
    let body: String = r.try_get("body")?;
    Ok(OutboxRow {
        id: r.try_get("id")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        message: OutboxMessage {
            lane: r.try_get("lane")?,
            method: OutboxMethod::parse(&method).ok_or_else(|| StoreError::Corrupt(format!("unknown outbox method `{method}`")))?,
            channel_id: r.try_get("channel_id")?,
            user_id: r.try_get("user_id")?,
            in_thread: r.try_get("in_thread")?,
            root: r.try_get("root")?,
            broadcast: r.try_get("broadcast")?,
            collapse_key: r.try_get("collapse_key")?,
            response_url: r.try_get("response_url")?,
            body: serde_json::from_str::<OutboxBody>(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        },
    })
}
