//! Requests already handled, and the runs the bot launched.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::{KnownRun, Store, StoreError, StoreResult, on_backend};

/// Keys recorded in one statement at most.
const BATCH: usize = 256;

/// A key waiting to be recorded, and who waits for the answer.
pub(super) type Pending = (String, i64, oneshot::Sender<Result<bool, String>>);

/// Records request keys in batches: whatever arrived while the previous batch was
/// being written goes in the next one, in one statement and one commit. Under load
/// that is one write for dozens of requests; alone, a request waits for its own write
/// only.
pub(super) async fn record_keys(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut seen = HashSet::new();
        // A key twice in one batch: the first asks the database, the others lose.
        let unique: Vec<(&str, i64)> =
            batch.iter().filter(|(k, _, _)| seen.insert(k.as_str())).map(|(k, at, _)| (k.as_str(), *at)).collect();
        let inserted = store.insert_keys(&unique).await;
        let inserted = store.noted(inserted, |new| !new.is_empty());
        let mut answered = HashSet::new();
        for (key, _, reply) in batch.drain(..) {
            let answer = match &inserted {
                Ok(new) => Ok(new.contains(&key) && answered.insert(key)),
                Err(error) => Err(error.to_string()),
            };
            let _ = reply.send(answer);
        }
    }
}

impl Store {
    /// Records a request key (e.g. `trigger:<trigger_id>`). `true` the first time, `false`
    /// when it was already handled, here or by another replica.
    pub async fn first_time(&self, key: &str, now_ms: i64) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Corrupt("the request recorder stopped".into());
        self.keys.send((key.to_owned(), now_ms, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(StoreError::Batch)
    }

    /// Inserts keys in one statement; returns those that were new.
    async fn insert_keys(&self, keys: &[(&str, i64)]) -> StoreResult<HashSet<String>> {
        let new: Vec<String> = on_backend!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("INSERT INTO handled_requests (key, handled_at) ");
            query.push_values(keys, |mut row, (key, at)| {
                row.push_bind(*key).push_bind(*at);
            });
            query.push(" ON CONFLICT (key) DO NOTHING RETURNING key");
            query.build_query_scalar::<String>().fetch_all(pool).await?
        });
        Ok(new.into_iter().collect())
    }

    /// Like [`Store::first_time`], for a key that may come back after `window_ms`: true
    /// unless the same key was seen within the window (a double submit).
    pub async fn first_within(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<bool> {
        let done: u64 = on_backend!(self, pool => sqlx::query(
            "INSERT INTO handled_requests (key, handled_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET handled_at = excluded.handled_at WHERE handled_requests.handled_at <= $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .execute(pool)
        .await?.rows_affected());
        Ok(done == 1)
    }

    /// Forgets request keys older than `before_ms` (Slack never replays them that late).
    pub async fn forget_requests_before(&self, before_ms: i64) -> StoreResult<u64> {
        let done = on_backend!(self, pool => sqlx::query("DELETE FROM handled_requests WHERE handled_at < $1").bind(before_ms).execute(pool).await?.rows_affected());
        Ok(done)
    }

    /// Remembers which job a launched run belongs to.
    pub async fn remember_run(&self, run: &KnownRun) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO runs (run_id, job, channel_id, launched_by, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(&run.run_id)
        .bind(&run.job)
        .bind(&run.channel_id)
        .bind(&run.launched_by)
        .bind(run.created_at)
        .execute(pool)
        .await?.rows_affected());
        Ok(())
    }

    /// The runs of a job the bot launched (and noted) since `since_ms`.
    pub async fn runs_launched_since(&self, job: &str, since_ms: i64) -> StoreResult<Vec<KnownRun>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, KnownRun>("SELECT * FROM runs WHERE job = $1 AND created_at >= $2")
            .bind(job)
            .bind(since_ms)
            .fetch_all(pool)
            .await?))
    }

    pub async fn known_run(&self, run_id: &str) -> StoreResult<Option<KnownRun>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, KnownRun>("SELECT * FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?))
    }
}
