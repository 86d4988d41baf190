//! Poll outcomes written to the store: a poll's outcome (the run's new state and the
//! messages it causes) is written in one transaction, so a crash either loses the poll (it
//! is done again) or keeps both; outcomes arriving together share a transaction.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::enqueue::enqueue_in;
use super::lists::json_list;
use super::{Store, StoreError, StoreResult, WatchUpdate, on_backend};
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

/// The watches' new states of a batch of polls as one query parameter (a JSON array of
/// their updates), if any: written by one statement ([`updates_sql`]), each poll's
/// messages after.
fn poll_updates(polls: &[&Poll]) -> StoreResult<Option<String>> {
    let updates: Vec<serde_json::Value> = polls
        .iter()
        .map(|Poll { run_id, update, .. }| {
            serde_json::json!({
                "run_id": run_id, "status": update.status, "status_since": update.status_since,
                "first_seen_at": update.first_seen_at, "interval_ms": update.interval_ms,
                "next_poll_at": update.next_poll_at, "item": update.item, "active": update.active,
            })
        })
        .collect();
    if updates.is_empty() {
        return Ok(None);
    }
    json_list(&updates).map(Some)
}

/// Writes the polls of `$1` ([`poll_updates`]) held by `$2`, each watch staying active
/// while its poll says so and one of its cards is, returning the runs written; `lock`
/// tells the backend (empty: SQLite).
fn updates_sql(lock: &str) -> String {
    let updates = if lock.is_empty() {
        "SELECT json_extract(value, '$.run_id') AS run_id, json_extract(value, '$.status') AS status,
            json_extract(value, '$.status_since') AS status_since, json_extract(value, '$.first_seen_at') AS first_seen_at,
            json_extract(value, '$.interval_ms') AS interval_ms, json_extract(value, '$.next_poll_at') AS next_poll_at,
            json_extract(value, '$.item') AS item, json_extract(value, '$.active') AS active FROM json_each($1)"
    } else {
        "SELECT * FROM jsonb_to_recordset(CAST($1 AS jsonb)) AS u(run_id text, status text, status_since bigint, first_seen_at bigint,
            interval_ms bigint, next_poll_at bigint, item text, active boolean)"
    };
    // SQLite's RETURNING sees the table updated alone, by its name.
    let returned = if lock.is_empty() { "run_id" } else { "w.run_id" };
    // The updates read once, then each watch found by its key: left to itself, SQLite
    // walked the watches this replica holds and read the whole list for each.
    format!(
        "WITH u AS MATERIALIZED ({updates})
         UPDATE watches AS w SET status = u.status, status_since = u.status_since, first_seen_at = u.first_seen_at,
           interval_ms = u.interval_ms, next_poll_at = u.next_poll_at, item = u.item,
           active = (u.active AND EXISTS (SELECT 1 FROM run_cards c WHERE c.run_id = w.run_id AND c.active)), polls = w.polls + 1,
           lease_owner = NULL, lease_until = NULL
         FROM u
         WHERE w.run_id = u.run_id AND w.active AND w.lease_owner = $2
         RETURNING {returned}"
    )
}

impl Store {
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
        let updates = poll_updates(polls)?;
        on_backend!(self, pool, lock => {
            let mut tx = pool.begin().await?;
            // The lanes of the whole batch, locked in one order first (see `LockLanes`).
            let lanes: Vec<&str> = polls.iter().flat_map(|p| p.messages.iter().map(|m| m.lane.as_str())).collect();
            super::enqueue::LockLanes::lock_lanes(&mut *tx, &lanes).await?;
            let updated: HashSet<String> = match &updates {
                Some(updates) => sqlx::query_scalar::<_, String>(&updates_sql(lock))
                    .bind(updates)
                    .bind(&*self.owner)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect(),
                None => HashSet::new(),
            };
            for Poll { run_id, update, messages, announced, now_ms } in polls.iter().copied() {
                let done = updated.contains(run_id);
                written.push(done);
                if !done {
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
}

#[cfg(test)]
mod tests {
    use super::super::{Backend, CardRow};
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

#[cfg(test)]
mod plans {
    use super::super::{Backend, Store};

    /// What SQLite does with a statement, one step a line.
    async fn plan(store: &Store, sql: &str, binds: usize) -> String {
        let Backend::Sqlite(pool) = &store.backend else { unreachable!("a SQLite store") };
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for _ in 0..binds {
            query = query.bind("[]");
        }
        query.fetch_all(pool).await.unwrap().into_iter().map(|(.., step)| step).collect::<Vec<_>>().join("\n")
    }

    #[tokio::test]
    async fn the_watcher_finds_watches_and_messages_by_index_never_by_walking_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("bot.db").display())).await.unwrap();
        let polls = plan(&store, &super::updates_sql(""), 2).await;
        assert!(polls.contains("SEARCH w USING INDEX sqlite_autoindex_watches_1 (run_id=?)"), "each watch by its key:\n{polls}");
        let due = plan(&store, &super::super::watches::DUE_WATCHES.sql(""), 4).await;
        assert!(due.contains("USING INDEX watches_due (active=? AND next_poll_at<?)"), "the watches due from their index:\n{due}");
        let promote = plan(&store, super::super::enqueue::PROMOTE, 2).await;
        assert!(promote.contains("USING INDEX outbox_pending (state=? AND lane=?)"), "a lane's messages by lane:\n{promote}");
        for steps in [&polls, &due] {
            assert!(!steps.lines().any(|s| s.starts_with("SCAN w") || s.starts_with("SCAN watches")), "no walk of every watch:\n{steps}");
        }
    }
}
