//! Launches being made: noted before Tailer is asked, settled once the run is followed
//! (or the launch failed). One left `calling` by a replica that died is claimed by
//! another when its lease runs out; see `commands::writes::recovery`.

use super::Claim;
use super::{LaunchRow, NearLaunch, Store, StoreResult, claim, on_backend};

/// Launches left `calling` by a replica that died, oldest first.
const INTERRUPTED: Claim =
    Claim { table: "launches", key: "key", ready: "state = 'calling'", order: "started_at", again: false, returning: "*" };

impl Store {
    /// Notes a launch about to be asked of Tailer, claimed by this replica.
    pub async fn begin_launch(&self, l: &LaunchRow, now_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO launches (key, job, channel_id, user_id, reference, started_at, state, lease_owner, lease_until, execution_date)
             VALUES ($1, $2, $3, $4, $5, $6, 'calling', $7, $8, $9) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&l.key)
        .bind(&l.job)
        .bind(&l.channel_id)
        .bind(&l.user_id)
        .bind(&l.reference)
        .bind(l.started_at)
        .bind(&*self.owner)
        .bind(now_ms + self.lease_ms)
        .bind(&l.execution_date)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The launch is settled: its run (when it started one) is followed, or its failure
    /// told.
    pub async fn end_launch(&self, key: &str, run_id: Option<&str>) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "UPDATE launches SET state = 'done', run_id = COALESCE($2, run_id), lease_owner = NULL, lease_until = NULL WHERE key = $1",
        )
            .bind(key)
            .bind(run_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The launch is settled without its run being told apart (the channel was told to
    /// check): it may have started one, which other launches of the job made about then
    /// must not take for theirs.
    pub async fn end_launch_unknown(&self, key: &str) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "UPDATE launches SET state = 'unknown', lease_owner = NULL, lease_until = NULL WHERE key = $1 AND state = 'calling'",
        )
            .bind(key)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Claims launches left `calling` by a replica that died (or whose recovery is due
    /// again): to be settled by this one.
    pub async fn claim_interrupted_launches(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<LaunchRow>> {
        Ok(claim!(self, LaunchRow, |lock: &str| INTERRUPTED.sql(lock), now_ms, limit))
    }

    /// A noted launch's state (`calling`, `done` or `unknown`) and its run, if any: absent when
    /// Tailer was never asked.
    pub async fn launch_state(&self, key: &str) -> StoreResult<Option<(String, Option<String>)>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, (String, Option<String>)>("SELECT state, run_id FROM launches WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?))
    }

    /// The launches of `job` started between `from_ms` and `to_ms` whose runs are not
    /// known: not settled yet (`calling`), or settled without telling their run apart
    /// (`unknown`), oldest first, with who holds each and until when. The runs nobody
    /// noted are told apart between them.
    pub async fn launches_near(&self, job: &str, from_ms: i64, to_ms: i64) -> StoreResult<Vec<NearLaunch>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, NearLaunch>(
            "SELECT key, channel_id, user_id, started_at, run_id, state, lease_owner, lease_until FROM launches
             WHERE job = $1 AND started_at BETWEEN $2 AND $3 AND (state = 'calling' OR (state = 'unknown' AND run_id IS NULL))
             ORDER BY started_at, key",
        )
        .bind(job)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(pool)
        .await?))
    }

    /// Gives an unsettled launch back, to be looked at again from `at_ms`, with its run
    /// when Tailer named it.
    pub async fn retry_launch(&self, key: &str, run_id: Option<&str>, at_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "UPDATE launches SET lease_owner = NULL, lease_until = $1, run_id = COALESCE($2, run_id) WHERE key = $3 AND state = 'calling'",
        )
        .bind(at_ms)
        .bind(run_id)
        .bind(key)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }
}
