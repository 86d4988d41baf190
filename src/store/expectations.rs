//! Expectations (a channel expects a job to have succeeded by a time of day) and the
//! days decided for them: each day is decided once, whichever replica checks first, with
//! what it says queued in the same transaction.

use super::enqueue::enqueue_in;
use super::{Store, StoreResult, on_backend};
use crate::outbox::OutboxMessage;

/// A channel's expectation of a job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpectationRow {
    pub channel_id: String,
    pub job: String,
    /// Minutes after midnight, wall-clock time of `tz`.
    pub at_minute: i32,
    /// An IANA time zone name.
    pub tz: String,
    pub created_by: String,
    pub created_at: i64,
    /// Why it is paused (the bot cannot post in the channel): not checked until it is set
    /// again.
    pub paused: Option<String>,
}

/// One day of an expectation, once decided.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpectationDayRow {
    pub channel_id: String,
    pub job: String,
    /// `YYYY-MM-DD` in the expectation's zone.
    pub day: String,
    /// `met`, `missed`, `unknown`, `late` or `muted`.
    pub state: String,
    pub deadline: i64,
    /// The outbox lane of its alert (the alert is the lane's root; what follows is in
    /// its thread).
    pub lane: String,
    pub decided_at: i64,
    pub met_run: Option<String>,
    pub met_at: Option<i64>,
}

/// `created_by` of the expectations of the configuration file (`[[expectations]]`).
pub const CONFIGURED: &str = "configuration";

/// The states of a day whose alert was posted and that may still be met or muted.
pub const OPEN_STATES: [&str; 2] = ["missed", "unknown"];

impl Store {
    /// Adds or changes a channel's expectation of a job; true when it is new.
    pub async fn expect(&self, e: &ExpectationRow) -> StoreResult<bool> {
        let existed = self.expectation(&e.channel_id, &e.job).await?.is_some();
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO expectations (channel_id, job, at_minute, tz, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (channel_id, job) DO UPDATE SET at_minute = excluded.at_minute, tz = excluded.tz,
                created_by = excluded.created_by, created_at = excluded.created_at, paused = NULL",
        )
        .bind(&e.channel_id)
        .bind(&e.job)
        .bind(e.at_minute)
        .bind(&e.tz)
        .bind(&e.created_by)
        .bind(e.created_at)
        .execute(pool)
        .await?.rows_affected());
        Ok(!existed)
    }

    /// Makes the store's configured expectations those of the file (`wanted`): new ones
    /// added (counted from `now_ms`: no day before is caught up), changed ones changed,
    /// removed ones removed. The file wins over an expectation a person set on the same
    /// channel and job.
    pub async fn sync_configured(&self, wanted: &[ExpectationRow], now_ms: i64) -> StoreResult<()> {
        let have = self.expectations(None).await?;
        let same = |a: &ExpectationRow, b: &ExpectationRow| a.channel_id == b.channel_id && a.job == b.job;
        for w in wanted {
            let created_at = match have.iter().find(|h| same(h, w)) {
                // Paused or not, an unchanged entry stays as it is.
                Some(h) if h.created_by == CONFIGURED && h.at_minute == w.at_minute && h.tz == w.tz => continue,
                Some(h) => h.created_at,
                None => now_ms,
            };
            self.expect(&ExpectationRow { created_by: CONFIGURED.to_owned(), created_at, ..w.clone() }).await?;
            // A person's expectation taken over by the file: the audit says so (removed
            // from the file later, it is gone).
            if let Some(person) = have.iter().find(|h| same(h, w) && h.created_by != CONFIGURED) {
                let entry = super::AuditEntry {
                    id: 0,
                    at: now_ms,
                    reference: "expectation".to_owned(),
                    user_id: CONFIGURED.to_owned(),
                    channel_id: w.channel_id.clone(),
                    action: crate::domain::Action::Expect,
                    job: Some(w.job.clone()),
                    environment: None,
                    outcome: super::AuditOutcome::Succeeded,
                    detail: format!(
                        "the file's [[expectations]] took over the expectation set in this channel (asked by {})",
                        person.created_by
                    ),
                    tailer_answer: None,
                };
                self.audit(&entry).await?;
            }
        }
        for h in have.iter().filter(|h| h.created_by == CONFIGURED && !wanted.iter().any(|w| same(h, w))) {
            self.unexpect(&h.channel_id, &h.job).await?;
        }
        Ok(())
    }

    /// Pauses an expectation whose channel the bot cannot post in: the expectation, when
    /// this paused it (`None`: gone, or paused already).
    pub async fn pause_expectation(&self, channel_id: &str, job: &str, reason: &str) -> StoreResult<Option<ExpectationRow>> {
        let done: u64 = on_backend!(self, pool => sqlx::query("UPDATE expectations SET paused = $1 WHERE channel_id = $2 AND job = $3 AND paused IS NULL")
            .bind(reason)
            .bind(channel_id)
            .bind(job)
            .execute(pool)
            .await?.rows_affected());
        if done == 0 {
            return Ok(None);
        }
        self.expectation(channel_id, job).await
    }

    /// True when there was such an expectation.
    pub async fn unexpect(&self, channel_id: &str, job: &str) -> StoreResult<bool> {
        let done: u64 = on_backend!(self, pool => sqlx::query("DELETE FROM expectations WHERE channel_id = $1 AND job = $2")
            .bind(channel_id)
            .bind(job)
            .execute(pool)
            .await?.rows_affected());
        Ok(done > 0)
    }

    pub async fn expectation(&self, channel_id: &str, job: &str) -> StoreResult<Option<ExpectationRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, ExpectationRow>(
            "SELECT * FROM expectations WHERE channel_id = $1 AND job = $2",
        )
        .bind(channel_id)
        .bind(job)
        .fetch_optional(pool)
        .await?))
    }

    /// One channel's expectations, or all.
    pub async fn expectations(&self, channel_id: Option<&str>) -> StoreResult<Vec<ExpectationRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, ExpectationRow>(
            "SELECT * FROM expectations WHERE ($1 IS NULL OR channel_id = $1) ORDER BY channel_id, at_minute, job",
        )
        .bind(channel_id)
        .fetch_all(pool)
        .await?))
    }

    /// The days decided since `since_ms` (by deadline), oldest first.
    pub async fn expectation_days(&self, since_ms: i64) -> StoreResult<Vec<ExpectationDayRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, ExpectationDayRow>(
            "SELECT * FROM expectation_days WHERE deadline >= $1 ORDER BY deadline, channel_id, job",
        )
        .bind(since_ms)
        .fetch_all(pool)
        .await?))
    }

    /// Decides a day once: inserts it and queues `messages` (its alert) in one
    /// transaction; false (nothing queued) when it was decided already.
    pub async fn decide_day(&self, d: &ExpectationDayRow, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO expectation_days (channel_id, job, day, state, deadline, lane, decided_at, met_run, met_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(&d.channel_id)
            .bind(&d.job)
            .bind(&d.day)
            .bind(&d.state)
            .bind(d.deadline)
            .bind(&d.lane)
            .bind(d.decided_at)
            .bind(&d.met_run)
            .bind(d.met_at)
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

    /// Closes an open day (alerted, not yet met or muted), given as (channel, job, day),
    /// as `state` (`late` or `muted`) and queues `messages` with it, once: false when it
    /// was not open.
    pub async fn close_day(
        &self,
        (channel_id, job, day): (&str, &str, &str),
        state: &str,
        met: Option<(&str, i64)>,
        messages: &[OutboxMessage],
        now_ms: i64,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE expectation_days SET state = $1, met_run = $2, met_at = $3
                 WHERE channel_id = $4 AND job = $5 AND day = $6 AND state IN ($7, $8)",
            )
            .bind(state)
            .bind(met.map(|(run, _)| run))
            .bind(met.map(|(_, at)| at))
            .bind(channel_id)
            .bind(job)
            .bind(day)
            .bind(OPEN_STATES[0])
            .bind(OPEN_STATES[1])
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
