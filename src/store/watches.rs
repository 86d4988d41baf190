//! Runs being followed and the cards that show them. A poll's outcome (the run's new state
//! and the messages it causes) is written in one transaction, so a crash either loses the
//! poll (it is done again) or keeps both. A run is polled by the replica that claimed it.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::Claim;
use super::enqueue::enqueue_in;
use super::{CardRow, Store, StoreError, StoreResult, WatchRow, WatchUpdate, claim, on_backend};
use crate::outbox::OutboxMessage;

/// Poll outcomes written in one transaction at most.
const POLLS_AT_ONCE: usize = 128;

/// A poll's outcome waiting to be written.
pub(super) struct Poll {
    run_id: String,
    update: WatchUpdate,
    messages: Vec<OutboxMessage>,
    announced: Vec<String>,
    now_ms: i64,
}

/// A poll's outcome and who waits for it to be written: whether it was.
pub(super) type PendingPoll = (Poll, oneshot::Sender<Result<bool, String>>);

/// Writes poll outcomes in batches: whatever arrived while the previous batch was being
/// written goes in the next one, in one transaction (group commit). Alone, a poll waits
/// for its own write only; with tens of thousands of runs, one commit serves a hundred
/// polls. Should a batch fail, its polls are written one by one, so that one outcome the
/// database refuses does not lose the others.
pub(super) async fn record_polls(store: Store, mut queue: mpsc::Receiver<PendingPoll>) {
    let mut batch: Vec<PendingPoll> = Vec::with_capacity(POLLS_AT_ONCE);
    loop {
        // Waits for polls only when none is left over from the last batch.
        if batch.is_empty() && queue.recv_many(&mut batch, POLLS_AT_ONCE).await == 0 {
            return;
        }
        // A run twice in one batch cannot happen (a run is polled by one claim at a
        // time); should it, the later one waits for the next batch.
        let mut runs = HashSet::new();
        let (now, later): (Vec<PendingPoll>, Vec<PendingPoll>) = batch.drain(..).partition(|(p, _)| runs.insert(p.run_id.clone()));
        let polls: Vec<&Poll> = now.iter().map(|(p, _)| p).collect();
        match store.write_polls(&polls).await {
            Ok(written) => {
                for ((_, reply), done) in now.into_iter().zip(written) {
                    let _ = reply.send(Ok(done));
                }
            }
            // The database refused a statement (not: could not be reached, which one by
            // one would only take longer to find out).
            Err(error @ StoreError::Database(sqlx::Error::Database(_))) if polls.len() > 1 => {
                tracing::warn!(%error, polls = polls.len(), "cannot write a batch of polls; writing them one by one");
                for (poll, reply) in now {
                    let _ = reply.send(store.write_polls(&[&poll]).await.map(|w| w[0]).map_err(|e| e.to_string()));
                }
            }
            Err(error) => {
                for (_, reply) in now {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
        batch.extend(later);
    }
}

/// Job names as one query parameter: a JSON array, read back by [`of_jobs`].
fn job_list(jobs: &[&str]) -> StoreResult<String> {
    serde_json::to_string(jobs).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A subquery listing the job names of the [`job_list`] bound at `param`, on the backend
/// whose row-locking clause is `lock` (empty: SQLite).
fn of_jobs(lock: &str, param: &str) -> String {
    if lock.is_empty() {
        format!("SELECT value FROM json_each({param})")
    } else {
        format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))")
    }
}

/// Active watches whose next poll is due, earliest first.
const DUE_WATCHES: Claim =
    Claim { table: "watches", key: "run_id", ready: "active AND next_poll_at <= $3", order: "next_poll_at", again: true, returning: "*" };

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

    /// Claims the other active watches of `jobs` due by `until_ms` that no live replica
    /// holds, earliest first: taken with a job's due watch, they are polled with it, by
    /// one call to Tailer for the job. Each stays this replica's until
    /// [`Store::record_poll`].
    pub async fn claim_watches_of_jobs(&self, now_ms: i64, jobs: &[&str], until_ms: i64, limit: u32) -> StoreResult<Vec<WatchRow>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = job_list(jobs)?;
        let mut rows = on_backend!(self, pool, lock => {
            let of_jobs = of_jobs(lock, "$5");
            let sql = format!(
                "UPDATE watches SET lease_owner = $1, lease_until = $2 WHERE run_id IN (
                   SELECT run_id FROM watches WHERE job IN ({of_jobs}) AND active AND next_poll_at <= $6
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
        let jobs = job_list(jobs)?;
        Ok(on_backend!(self, pool, lock => {
            let of_jobs = of_jobs(lock, "$1");
            sqlx::query_as::<_, (String, i64)>(&format!("SELECT job, COUNT(*) FROM watches WHERE job IN ({of_jobs}) AND active GROUP BY job"))
                .bind(&jobs)
                .fetch_all(pool)
                .await?
        }))
    }

    /// When this replica could next claim an active watch: when it is due, or when
    /// another replica's claim on it runs out.
    pub async fn next_watch_due(&self) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(CASE WHEN lease_owner <> $1 AND lease_until > next_poll_at THEN lease_until ELSE next_poll_at END)
             FROM watches WHERE active",
        )
        .bind(&*self.owner)
        .fetch_one(pool)
        .await?))
    }

    pub async fn active_watch_count(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM watches WHERE active").fetch_one(pool).await?))
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

    /// Writes a poll's outcome, its messages, and the channels now told about the final
    /// status (so subscriptions do not announce it there again), atomically, and gives
    /// the claim back. Nothing is written (false) when the run is no longer this
    /// replica's to poll: its claim expired and another replica took it, or every card
    /// was stopped meanwhile.
    pub async fn record_poll(
        &self,
        run_id: &str,
        update: &WatchUpdate,
        messages: &[OutboxMessage],
        announced: &[String],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let poll =
            Poll { run_id: run_id.to_owned(), update: update.clone(), messages: messages.to_vec(), announced: announced.to_vec(), now_ms };
        let gone = || StoreError::Corrupt("the poll recorder stopped".into());
        self.polls.send((poll, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(StoreError::Batch)
    }

    /// Writes polls' outcomes in one transaction; for each, whether it was written.
    async fn write_polls(&self, polls: &[&Poll]) -> StoreResult<Vec<bool>> {
        let mut written = Vec::with_capacity(polls.len());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            // The lanes of the whole batch, locked in one order first (see `LockLanes`).
            let lanes: Vec<&str> = polls.iter().flat_map(|p| p.messages.iter().map(|m| m.lane.as_str())).collect();
            super::enqueue::LockLanes::lock_lanes(&mut *tx, &lanes).await?;
            for Poll { run_id, update, messages, announced, now_ms } in polls.iter().copied() {
                let done = sqlx::query(
                    "UPDATE watches SET status = $1, status_since = $2, first_seen_at = $3, interval_ms = $4, next_poll_at = $5, item = $6,
                       active = ($7 AND EXISTS (SELECT 1 FROM run_cards WHERE run_id = $8 AND active)), polls = polls + 1,
                       lease_owner = NULL, lease_until = NULL
                     WHERE run_id = $8 AND active AND lease_owner = $9",
                )
                .bind(&update.status)
                .bind(update.status_since)
                .bind(update.first_seen_at)
                .bind(update.interval_ms)
                .bind(update.next_poll_at)
                .bind(&update.item)
                .bind(update.active)
                .bind(run_id)
                .bind(&*self.owner)
                .execute(&mut *tx)
                .await?.rows_affected();
                written.push(done > 0);
                if done == 0 {
                    continue;
                }
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
                enqueue_in!(tx, messages, *now_ms);
            }
            tx.commit().await?;
        });
        Ok(written)
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

#[cfg(test)]
mod tests {
    use super::super::Backend;
    use super::*;
    use crate::outbox::{Destination, OutboxBody, Place};

    fn update() -> WatchUpdate {
        WatchUpdate {
            status: Some("RUNNING".into()),
            status_since: Some(1),
            first_seen_at: Some(1),
            interval_ms: 15_000,
            next_poll_at: 15_001,
            item: None,
            active: true,
        }
    }

    fn post(lane: &str) -> OutboxMessage {
        let to = Destination::Post { channel: "C0DATA".into(), place: Place::Channel, asked_by: None };
        OutboxMessage::new(lane, to, OutboxBody::plain(lane.into(), vec![]))
    }

    #[tokio::test]
    async fn a_batch_of_polls_the_database_refuses_is_written_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("bot.db").display())).await.unwrap();
        for run in ["good", "bad"] {
            let card = CardRow {
                run_id: run.into(),
                channel_id: "C0DATA".into(),
                lane: format!("card:{run}"),
                launched_by: None,
                watched_by: None,
                execution_date: None,
            };
            assert!(store.start_watch("iowa-prepare", &card, &post(&format!("card:{run}")), 0, 15_000).await.unwrap());
        }
        assert_eq!(store.claim_watches(0, 10).await.unwrap().len(), 2);
        let Backend::Sqlite(pool) = &store.backend else { unreachable!("a SQLite store") };
        sqlx::query("CREATE TRIGGER refuse BEFORE UPDATE ON watches WHEN NEW.run_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END")
            .execute(pool)
            .await
            .unwrap();
        // Both are queued before the recorder runs (one thread): they share a batch.
        let (update, good_reply, bad_reply) = (update(), [post("card:good")], [post("card:bad")]);
        let (good, bad) =
            tokio::join!(store.record_poll("good", &update, &good_reply, &[], 1), store.record_poll("bad", &update, &bad_reply, &[], 1),);
        assert!(good.unwrap(), "the other poll of the batch is written");
        assert!(bad.unwrap_err().to_string().contains("refused"), "the refused one fails alone");
        assert_eq!(store.watch("good").await.unwrap().unwrap().polls, 1);
        assert_eq!(store.watch("bad").await.unwrap().unwrap().polls, 0);
        assert_eq!(store.outbox_depth().await.unwrap().0, 3, "two cards and the good poll's reply");
    }
}
