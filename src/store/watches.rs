//! Runs being followed and the cards that show them. A poll's outcome (the run's new state
//! and the messages it causes) is written in one transaction, so a crash either loses the
//! poll (it is done again) or keeps both.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::outbox::enqueue_in;
use super::{CardRow, OutboxMessage, Store, StoreResult, WatchRow, WatchUpdate};

impl Store {
    /// Starts (or resumes) following a run, with a card in `card.channel_id`. The card's
    /// first post is queued with it. Returns false when that channel already had an
    /// active card for the run (nothing queued).
    pub async fn start_watch(&self, job: &str, card: &CardRow, post: &OutboxMessage, now_ms: i64, interval_ms: i64) -> StoreResult<bool> {
        // It reads then writes: take the write lock first, so a concurrent commit cannot
        // make the upgrade fail (SQLITE_BUSY_SNAPSHOT) past the busy timeout.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query("SELECT active FROM run_cards WHERE run_id = $1 AND channel_id = $2")
            .bind(&card.run_id)
            .bind(&card.channel_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            if row.try_get::<bool, _>("active")? {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO watches (run_id, job, started_at, interval_ms, next_poll_at, active) VALUES ($1, $2, $3, $4, $3, TRUE)
             ON CONFLICT (run_id) DO UPDATE SET active = TRUE,
               next_poll_at = CASE WHEN watches.active THEN watches.next_poll_at ELSE $3 END,
               status = CASE WHEN watches.active THEN watches.status ELSE NULL END,
               started_at = CASE WHEN watches.active THEN watches.started_at ELSE $3 END",
        )
        .bind(&card.run_id)
        .bind(job)
        .bind(now_ms)
        .bind(interval_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO run_cards (run_id, channel_id, lane, launched_by, watched_by, created_at, active) VALUES ($1, $2, $3, $4, $5, $6, TRUE)
             ON CONFLICT (run_id, channel_id) DO UPDATE SET active = TRUE, lane = $3, watched_by = $5",
        )
        .bind(&card.run_id)
        .bind(&card.channel_id)
        .bind(&card.lane)
        .bind(&card.launched_by)
        .bind(&card.watched_by)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        enqueue_in(&mut tx, std::slice::from_ref(post), now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Active watches whose next poll is due, earliest first.
    pub async fn due_watches(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<WatchRow>> {
        let rows = sqlx::query("SELECT * FROM watches WHERE active = TRUE AND next_poll_at <= $1 ORDER BY next_poll_at LIMIT $2")
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(watch_row).collect()
    }

    /// When the next active watch is due.
    pub async fn next_watch_due(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT MIN(next_poll_at) AS due FROM watches WHERE active = TRUE").fetch_one(&self.pool).await?;
        Ok(row.try_get("due")?)
    }

    pub async fn active_watch_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM watches WHERE active = TRUE").fetch_one(&self.pool).await?.try_get("n")?)
    }

    pub async fn watch(&self, run_id: &str) -> StoreResult<Option<WatchRow>> {
        let row = sqlx::query("SELECT * FROM watches WHERE run_id = $1").bind(run_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(watch_row).transpose()
    }

    /// The active cards of a run.
    pub async fn cards(&self, run_id: &str) -> StoreResult<Vec<CardRow>> {
        let rows = sqlx::query("SELECT * FROM run_cards WHERE run_id = $1 AND active ORDER BY created_at")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CardRow {
                    run_id: r.try_get("run_id")?,
                    channel_id: r.try_get("channel_id")?,
                    lane: r.try_get("lane")?,
                    launched_by: r.try_get("launched_by")?,
                    watched_by: r.try_get("watched_by")?,
                })
            })
            .collect()
    }

    /// Writes a poll's outcome, its messages, and the channels now told about the final
    /// status (so subscriptions do not announce it there again), atomically.
    pub async fn record_poll(
        &self,
        run_id: &str,
        update: &WatchUpdate,
        messages: &[OutboxMessage],
        announced: &[String],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE watches SET status = $1, status_since = $2, first_seen_at = $3, interval_ms = $4, next_poll_at = $5, item = $6,
               active = ($7 AND EXISTS (SELECT 1 FROM run_cards WHERE run_id = $8 AND active)), polls = polls + 1
             WHERE run_id = $8 AND active",
        )
        .bind(&update.status)
        .bind(update.status_since)
        .bind(update.first_seen_at)
        .bind(update.interval_ms)
        .bind(update.next_poll_at)
        .bind(&update.item)
        .bind(update.active)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        if !update.active {
            sqlx::query("UPDATE run_cards SET active = FALSE WHERE run_id = $1").bind(run_id).execute(&mut *tx).await?;
        }
        for channel in announced {
            sqlx::query("INSERT INTO announced (channel_id, run_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(channel)
                .bind(run_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        enqueue_in(&mut tx, messages, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stops the card of a run in one channel; the watch stops with its last card.
    /// Returns false when there was no active card there.
    pub async fn unwatch(&self, run_id: &str, channel_id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE run_cards SET active = FALSE WHERE run_id = $1 AND channel_id = $2 AND active")
            .bind(run_id)
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE watches SET active = FALSE WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM run_cards WHERE run_id = $1 AND active)",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn watch_row(r: &SqliteRow) -> StoreResult<WatchRow> {
    Ok(WatchRow {
        run_id: r.try_get("run_id")?,
        job: r.try_get("job")?,
        status: r.try_get("status")?,
        status_since: r.try_get("status_since")?,
        first_seen_at: r.try_get("first_seen_at")?,
        started_at: r.try_get("started_at")?,
        interval_ms: r.try_get("interval_ms")?,
        next_poll_at: r.try_get("next_poll_at")?,
        polls: r.try_get("polls")?,
        item: r.try_get("item")?,
        active: r.try_get("active")?,
    })
}
