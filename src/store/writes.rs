//! Writes in progress: noted (with a timed disable's re-enable timers) before Tailer is
//! asked, each job's outcome added as it is known, settled in the transaction that
//! queues the answer. One left `calling` by a replica that died is claimed by another
//! when its lease runs out, or by the next start on SQLite; see `commands::writes::recovery`.

use super::Claim;
use super::audit::audit_in;
use super::enqueue::enqueue_in;
use super::switches::switch_in;
use super::{AuditEntry, Store, StoreResult, SwitchRow, TimerRow, WriteRow, claim, on_backend};
use crate::outbox::OutboxMessage;

/// Notes a write, claimed by `$owner` until `$until`, with its timers and, when it
/// replaces a confirmation message, that message as the root of its lane's thread,
/// inside a caller's transaction.
macro_rules! begin_write_in {
    ($tx:ident, $owner:expr, $until:expr, $w:expr, $timers:expr, $now_ms:expr) => {{
        let w: &$crate::store::WriteRow = $w;
        sqlx::query(
            "INSERT INTO writes (reference, action, plan, channel_id, user_id, confirmed_by, response_url, replace_question,
                                 question_ts, started_at, steps, state, lease_owner, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'calling', $12, $13)",
        )
        .bind(&w.reference)
        .bind(&w.action)
        .bind(&w.plan)
        .bind(&w.channel_id)
        .bind(&w.user_id)
        .bind(&w.confirmed_by)
        .bind(&w.response_url)
        .bind(w.replace_question)
        .bind(&w.question_ts)
        .bind(w.started_at)
        .bind(&w.steps)
        .bind($owner)
        .bind($until)
        .execute(&mut *$tx)
        .await?;
        for t in $timers {
            $crate::store::subscriptions::add_timer_in!(&mut *$tx, t, $now_ms);
        }
        if let (true, Some(ts)) = (w.replace_question, w.question_ts.as_deref()) {
            sqlx::query("INSERT INTO threads (lane, channel_id, ts) VALUES ($1, $2, $3) ON CONFLICT (lane) DO NOTHING")
                .bind(format!("write:{}", w.reference))
                .bind(&w.channel_id)
                .bind(ts)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(super) use begin_write_in;

/// Writes left `calling` by a replica that died, oldest first.
const INTERRUPTED: Claim = Claim {
    table: "writes",
    key: "reference",
    ready: "state = 'calling'",
    order: "started_at",
    again: false,
    returning: "reference, action, plan, channel_id, user_id, confirmed_by, response_url, replace_question, question_ts, started_at, steps",
};

impl Store {
    /// Notes a write about to be asked of Tailer, claimed by this replica, with the
    /// re-enable timers of a timed disable.
    pub async fn begin_write(&self, w: &WriteRow, timers: &[TimerRow], now_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            begin_write_in!(tx, &*self.owner, now_ms + self.lease_ms, w, timers, now_ms);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records what is known so far of a write (its steps), the audit entry of the step
    /// and what echoes it, at once. False when the write is no longer in progress.
    pub async fn write_step(
        &self,
        reference: &str,
        steps: &str,
        audit: Option<&AuditEntry>,
        switch: Option<&SwitchRow>,
        messages: &[OutboxMessage],
        now_ms: i64,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE writes SET steps = $1 WHERE reference = $2 AND state = 'calling'")
                .bind(steps)
                .bind(reference)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            if let Some(audit) = audit {
                audit_in!(&mut *tx, audit);
            }
            if let Some(switch) = switch {
                switch_in!(&mut *tx, switch);
            }
            enqueue_in!(tx, messages, now_ms);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Settles a write and queues its answer, atomically, once: false (nothing queued)
    /// when it was settled already.
    pub async fn finish_write(&self, reference: &str, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE writes SET state = 'done', lease_owner = NULL, lease_until = NULL WHERE reference = $1 AND state = 'calling'",
            )
            .bind(reference)
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

    /// Claims writes left `calling` by a replica that died (or given back to be looked
    /// at again): to be finished by this one.
    pub async fn claim_interrupted_writes(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<WriteRow>> {
        Ok(claim!(self, WriteRow, |lock: &str| INTERRUPTED.sql(lock), now_ms, limit))
    }

    /// Gives a write back, to be looked at again from `at_ms` (the store failed while
    /// this replica settled it); `answered`: its answer went out all the same, so it is
    /// settled then without another.
    pub async fn retry_write(&self, reference: &str, at_ms: i64, answered: bool) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "UPDATE writes SET lease_owner = NULL, lease_until = $1, answered = (answered OR $3) WHERE reference = $2 AND state = 'calling'",
        )
        .bind(at_ms)
        .bind(reference)
        .bind(answered)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Whether a write's answer went out already (see [`Store::retry_write`]).
    pub async fn write_answered(&self, reference: &str) -> StoreResult<bool> {
        let answered = on_backend!(self, pool => sqlx::query_scalar::<_, bool>("SELECT answered FROM writes WHERE reference = $1")
            .bind(reference)
            .fetch_optional(pool)
            .await?);
        Ok(answered.unwrap_or(false))
    }

    /// Writes not yet settled (for the doctor and the tests).
    pub async fn writes_in_progress(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM writes WHERE state = 'calling'")
            .fetch_one(pool)
            .await?))
    }

    /// Cancels the pending re-enables of a job, but those of the write on `keep_lane`;
    /// returns how many.
    pub async fn cancel_timers_but(&self, job: &str, keep_lane: Option<&str>) -> StoreResult<u64> {
        let done: u64 = on_backend!(self, pool => sqlx::query(
            "UPDATE timers SET state = 'cancelled' WHERE job = $1 AND state = 'pending' AND ($2 IS NULL OR lane <> $2)",
        )
        .bind(job)
        .bind(keep_lane)
        .execute(pool)
        .await?.rows_affected());
        Ok(done)
    }

    /// Cancels the re-enable of one write's job (Tailer refused the disable).
    pub async fn cancel_write_timer(&self, job: &str, lane: &str) -> StoreResult<u64> {
        let done: u64 = on_backend!(self, pool => sqlx::query("UPDATE timers SET state = 'cancelled' WHERE job = $1 AND lane = $2 AND state = 'pending'")
            .bind(job)
            .bind(lane)
            .execute(pool)
            .await?.rows_affected());
        Ok(done)
    }
}
