//! Which job a run belongs to, where the bot knows it: it launched the run (`runs`), or a
//! channel follows it (`watches`). Every `status JOB RUN` asks, to refuse a run named
//! with another job's name; the questions that arrive together are answered with one
//! statement, as request keys are recorded ([`super::requests`]): under load one read
//! for dozens of commands, alone a command waits for its own read only.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, StoreResult, on_backend};

/// Runs looked up in one statement at most.
const BATCH: usize = 256;

/// A run whose job is asked, and who waits for the answer.
pub(super) type Pending = (String, oneshot::Sender<Result<Option<String>, String>>);

/// Answers the questions in batches: whatever arrived while the previous batch was read
/// goes in the next one.
pub(super) async fn look_up(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut runs: Vec<&str> = batch.iter().map(|(run, _)| run.as_str()).collect();
        runs.sort_unstable();
        runs.dedup();
        let owners = store.owners_of(&runs).await.map_err(|error| error.to_string());
        for (run, reply) in batch.drain(..) {
            let _ = reply.send(owners.as_ref().map(|owners| owners.get(&run).cloned()).map_err(Clone::clone));
        }
    }
}

impl Store {
    /// The job `run` belongs to, where the bot knows it: the job it was launched as, or
    /// else the job a channel follows it as; `None` when the bot knows neither.
    pub async fn job_of_run(&self, run: &str) -> StoreResult<Option<String>> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Corrupt("the run owner lookup stopped".into());
        self.owners.send((run.to_owned(), reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(StoreError::Batch)
    }

    /// The jobs of `runs`, in one statement; a launched run's own record wins over a
    /// watch of it.
    async fn owners_of(&self, runs: &[&str]) -> StoreResult<HashMap<String, String>> {
        let rows: Vec<(String, String, i32)> = on_backend!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT run_id, job, 0 FROM runs WHERE run_id IN (");
            let mut list = query.separated(", ");
            for run in runs {
                list.push_bind(*run);
            }
            query.push(") UNION ALL SELECT run_id, job, 1 FROM watches WHERE run_id IN (");
            let mut list = query.separated(", ");
            for run in runs {
                list.push_bind(*run);
            }
            query.push(")");
            query.build_query_as::<(String, String, i32)>().fetch_all(pool).await?
        });
        let mut owners = HashMap::with_capacity(rows.len());
        for (run, job, launched) in rows {
            if launched == 0 {
                owners.insert(run, job);
            } else {
                owners.entry(run).or_insert(job);
            }
        }
        Ok(owners)
    }
}
