//! Runs being followed and the cards that show them. A run is polled by the replica that
//! claimed it; what a poll found is written by [`super::polls`].

use super::Claim;
use super::enqueue::enqueue_in;
use super::{CardRow, Store, StoreResult, WatchRow, claim, on_backend};
use crate::outbox::OutboxMessage;

/// Active watches whose next poll is due, earliest first.
pub(super) const DUE_WATCHES: Claim = Claim {
    table: "watches",
    key: "run_id",
    ready: "active = TRUE AND next_poll_at <= $3",
    order: "next_poll_at",
    again: true,
    returning: "*",
};

impl Store {
    /// Starts (or resumes) following a run, with a card in `card.channel_id`. The card's
    /// first post is queued with it. Returns false when that channel already had an
    /// active card for the run (nothing queued), even when two replicas race.
    pub async fn start_watch(&self, job: &str, card: &CardRow, post: &OutboxMessage, now_ms: i64, interval_ms: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            // One statement decides: a card already active in the channel is left alone.
            let card_done = sqlx::query(
                "INSERT INTO run_cards (run_id, channel_id, lane, launched_by, watched_by, created_at, active, execution_date) VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7)
                 ON CONFLICT (run_id, channel_id) DO UPDATE SET active = TRUE, lane = $3, watched_by = $5 WHERE NOT run_cards.active",
            )
            .bind(&card.run_id)
            .bind(&card.channel_id)
            .bind(&card.lane)
            .bind(&card.launched_by)
            .bind(&card.watched_by)
            .bind(now_ms)
            .bind(&card.execution_date)
            .execute(&mut *tx)
            .await?;
            if card_done.rows_affected() == 0 {
                return Ok(false);
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
            enqueue_in!(tx, std::slice::from_ref(post), now_ms);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Claims active watches whose next poll is due and that no live replica holds,
    /// earliest first. Each stays this replica's until [`Store::record_poll`].
    pub async fn claim_watches(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<WatchRow>> {
        let mut rows = claim!(self, WatchRow, |lock: &str| DUE_WATCHES.sql(lock), now_ms, limit);
        rows.sort_by_key(|w| w.next_poll_at);
        Ok(rows)
    }

    /// When this replica could next claim an active watch: when it is due, or when
    /// another replica's claim on it runs out.
    pub async fn next_watch_due(&self) -> StoreResult<Option<i64>> {
        // Read from two indexes, not by walking every watch: the first active watch in
        // order of its next poll that no other replica holds past it (the watches held
        // are ahead of it, few), and the end of the earliest claim another replica holds.
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(t) FROM (
               SELECT * FROM (SELECT next_poll_at AS t FROM watches
                 WHERE active = TRUE AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until IS NULL OR lease_until <= next_poll_at)
                 ORDER BY next_poll_at LIMIT 1) AS free
               UNION ALL
               SELECT MIN(lease_until) FROM watches
                 WHERE lease_owner IS NOT NULL AND lease_owner <> $1 AND active <> FALSE AND lease_until > next_poll_at
             ) AS due",
        )
        .bind(&*self.owner)
        .fetch_one(pool)
        .await?))
    }

    pub async fn active_watch_count(&self) -> StoreResult<i64> {
        Ok(
            on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM watches WHERE active = TRUE").fetch_one(pool).await?),
        )
    }

    pub async fn watch(&self, run_id: &str) -> StoreResult<Option<WatchRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, WatchRow>("SELECT * FROM watches WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?))
    }

    /// The job of a run whose card the bot posted in this channel (followed or not
    /// now); `None` when it posted none there.
    pub async fn card_posted_in(&self, run_id: &str, channel_id: &str) -> StoreResult<Option<String>> {
        Ok(on_backend!(self, pool => sqlx::query_scalar(
            "SELECT w.job FROM run_cards c JOIN watches w ON w.run_id = c.run_id WHERE c.run_id = $1 AND c.channel_id = $2",
        )
        .bind(run_id)
        .bind(channel_id)
        .fetch_optional(pool)
        .await?))
    }

    /// Every card of a run, followed or not now.
    pub async fn all_cards(&self, run_id: &str) -> StoreResult<Vec<CardRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, CardRow>("SELECT * FROM run_cards WHERE run_id = $1 ORDER BY created_at")
            .bind(run_id)
            .fetch_all(pool)
            .await?))
    }

    /// The runs followed now, newest first, each with a channel its card is in:
    /// `(run_id, job, last status seen, channel)`.
    pub async fn followed_runs(&self, limit: u32) -> StoreResult<Vec<(String, String, Option<String>, String)>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, (String, String, Option<String>, String)>(
            "SELECT w.run_id, w.job, w.status, c.channel_id FROM watches w JOIN run_cards c ON c.run_id = w.run_id
             WHERE w.active AND c.active ORDER BY w.started_at DESC, c.channel_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?))
    }

    /// The active cards of a run.
    pub async fn cards(&self, run_id: &str) -> StoreResult<Vec<CardRow>> {
        Ok(
            on_backend!(self, pool => sqlx::query_as::<_, CardRow>("SELECT * FROM run_cards WHERE run_id = $1 AND active ORDER BY created_at")
            .bind(run_id)
            .fetch_all(pool)
            .await?),
        )
    }

    /// Stops the card of a run in one channel; the watch stops with its last card.
    /// Returns false when there was no active card there.
    pub async fn unwatch(&self, run_id: &str, channel_id: &str) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE run_cards SET active = FALSE WHERE run_id = $1 AND channel_id = $2 AND active")
                .bind(run_id)
                .bind(channel_id)
                .execute(&mut *tx)
                .await?.rows_affected();
            if done == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE watches SET active = FALSE WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM run_cards WHERE run_id = $1 AND active)",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(true)
    }
}
