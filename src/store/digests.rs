//! Digests (a channel hears once a day what the jobs it follows did) and the days posted:
//! each day's digest is posted once, whichever replica composes it first, with the post
//! queued in the same transaction as the day's row.

use super::enqueue::enqueue_in;
use super::{Store, StoreResult, on_backend};
use crate::outbox::OutboxMessage;

/// A channel's daily digest.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DigestRow {
    pub channel_id: String,
    /// Minutes after midnight, wall-clock time of `tz`.
    pub at_minute: i32,
    /// An IANA time zone name.
    pub tz: String,
    pub created_by: String,
    pub created_at: i64,
    /// Why it is paused (the bot cannot post in the channel): not posted until it is set
    /// again.
    pub paused: Option<String>,
}

/// One day's digest of a channel, once posted (queued).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DigestDayRow {
    pub channel_id: String,
    /// `YYYY-MM-DD` in the digest's zone.
    pub day: String,
    /// The outbox lane of its post (the charts go in its thread).
    pub lane: String,
    pub posted_at: i64,
    /// The jobs it covered, and those among them that needed a look.
    pub jobs: i32,
    pub attention: i32,
}

impl Store {
    /// Sets or changes a channel's digest (resuming it when paused); true when it is new.
    pub async fn set_digest(&self, d: &DigestRow) -> StoreResult<bool> {
        let existed = self.digest(&d.channel_id).await?.is_some();
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO digests (channel_id, at_minute, tz, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (channel_id) DO UPDATE SET at_minute = excluded.at_minute, tz = excluded.tz,
                created_by = excluded.created_by, created_at = excluded.created_at, paused = NULL",
        )
        .bind(&d.channel_id)
        .bind(d.at_minute)
        .bind(&d.tz)
        .bind(&d.created_by)
        .bind(d.created_at)
        .execute(pool)
        .await?.rows_affected());
        Ok(!existed)
    }

    /// Stops a channel's digest: the digest it had, if any.
    pub async fn digest_off(&self, channel_id: &str) -> StoreResult<Option<DigestRow>> {
        let had = self.digest(channel_id).await?;
        on_backend!(self, pool => sqlx::query("DELETE FROM digests WHERE channel_id = $1")
            .bind(channel_id)
            .execute(pool)
            .await?.rows_affected());
        Ok(had)
    }

    pub async fn digest(&self, channel_id: &str) -> StoreResult<Option<DigestRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, DigestRow>("SELECT * FROM digests WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Every channel's digest.
    pub async fn digests(&self) -> StoreResult<Vec<DigestRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, DigestRow>("SELECT * FROM digests ORDER BY channel_id")
            .fetch_all(pool)
            .await?))
    }

    /// Pauses the digest of a channel the bot cannot post in: the digest, when this paused
    /// it (`None`: gone, or paused already).
    pub async fn pause_digest(&self, channel_id: &str, reason: &str) -> StoreResult<Option<DigestRow>> {
        let done: u64 = on_backend!(self, pool => sqlx::query("UPDATE digests SET paused = $1 WHERE channel_id = $2 AND paused IS NULL")
            .bind(reason)
            .bind(channel_id)
            .execute(pool)
            .await?.rows_affected());
        if done == 0 {
            return Ok(None);
        }
        self.digest(channel_id).await
    }

    /// The days posted since `since_ms` (one channel's, or all), oldest first.
    pub async fn digest_days(&self, channel_id: Option<&str>, since_ms: i64) -> StoreResult<Vec<DigestDayRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, DigestDayRow>(
            "SELECT * FROM digest_days WHERE ($1 IS NULL OR channel_id = $1) AND posted_at >= $2 ORDER BY posted_at, channel_id",
        )
        .bind(channel_id)
        .bind(since_ms)
        .fetch_all(pool)
        .await?))
    }

    /// Posts a day's digest once: inserts its row and queues `messages` in one
    /// transaction; false (nothing queued) when that day's was posted already.
    pub async fn post_digest(&self, d: &DigestDayRow, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO digest_days (channel_id, day, lane, posted_at, jobs, attention)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&d.channel_id)
            .bind(&d.day)
            .bind(&d.lane)
            .bind(d.posted_at)
            .bind(d.jobs)
            .bind(d.attention)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            enqueue_in!(tx, messages, now_ms);
            tx.commit().await?;
        });
        Ok(true)
    }
}
