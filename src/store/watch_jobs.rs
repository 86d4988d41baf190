//! The watches of whole jobs: a job's runs are followed with one call to Tailer for its
//! latest runs, so a pass takes a job's runs together ([`crate::watch`]).

use super::lists::{json_list, listed};
use super::{Store, StoreResult, WatchRow, on_backend};

impl Store {
    /// Claims the other active watches of `jobs` due by `until_ms` that no live replica
    /// holds, earliest first: taken with a job's due watch, they are polled with it, by
    /// one call to Tailer for the job. Each stays this replica's until
    /// [`Store::record_poll`].
    pub async fn claim_watches_of_jobs(&self, now_ms: i64, jobs: &[&str], until_ms: i64, limit: u32) -> StoreResult<Vec<WatchRow>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = json_list(jobs)?;
        let mut rows = on_backend!(self, pool, lock => {
            let of_jobs = listed(lock, "$5");
            // By job, not by time: SQLite, without statistics, would take the index of
            // every watch due.
            let by_job = if lock.is_empty() { " INDEXED BY watches_by_job" } else { "" };
            let sql = format!(
                "UPDATE watches SET lease_owner = $1, lease_until = $2 WHERE run_id IN (
                   SELECT run_id FROM watches{by_job} WHERE job IN ({of_jobs}) AND active = TRUE AND next_poll_at <= $6
                     AND (lease_until IS NULL OR lease_until <= $3)
                   ORDER BY next_poll_at LIMIT $4{lock})
                 RETURNING *"
            );
            sqlx::query_as::<_, WatchRow>(&sql)
                .bind(&*self.owner)
                .bind(now_ms + self.lease_ms)
                .bind(now_ms)
                .bind(i64::from(limit))
                .bind(&jobs)
                .bind(until_ms)
                .fetch_all(pool)
                .await?
        });
        rows.sort_by_key(|w| w.next_poll_at);
        Ok(rows)
    }

    /// How many runs of each of `jobs` are followed now (a job none of whose runs is
    /// followed is left out).
    pub async fn watched_runs_of_jobs(&self, jobs: &[&str]) -> StoreResult<Vec<(String, i64)>> {
        let jobs = json_list(jobs)?;
        Ok(on_backend!(self, pool, lock => {
            let of_jobs = listed(lock, "$1");
            sqlx::query_as::<_, (String, i64)>(&format!("SELECT job, COUNT(*) FROM watches WHERE job IN ({of_jobs}) AND active = TRUE GROUP BY job"))
                .bind(&jobs)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Gives back claims on watches not polled after all (their jobs are left to the next
    /// pass, whole): they are due as they were, for any replica.
    pub async fn give_back_watches(&self, run_ids: &[&str]) -> StoreResult<()> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let runs = json_list(run_ids)?;
        on_backend!(self, pool, lock => {
            let runs_listed = listed(lock, "$2");
            sqlx::query(&format!("UPDATE watches SET lease_owner = NULL, lease_until = NULL WHERE run_id IN ({runs_listed}) AND lease_owner = $1"))
                .bind(&*self.owner)
                .bind(&runs)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
