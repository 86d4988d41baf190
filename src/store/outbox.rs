//! The outbox: every Slack write, queued durably before it is sent, delivered in order per
//! lane. A lane's first pending message is claimed by one replica, sent, and marked sent
//! only after Slack accepted it. A message whose sender died after claiming it, or whose
//! try timed out on the wire, is *in doubt*: it may be in Slack already, and the sender
//! checks before sending it again.

use super::enqueue::enqueue_in;
use super::lists::{json_list, listed};
use super::{Backend, DestinationColumns, OUTBOX_METHODS, Store, StoreError, StoreResult, claim, on_backend};
use crate::outbox::{Delivered, Destination, OutboxBody, OutboxMessage, OutboxRow};

/// How soon a lane's messages go out, by its kind (stored with each message, the claim's
/// order; a lane's messages still go out in their order): 0 a run's card and thread
/// replies, what a write did and what a conversation was answered (`said:`, answers shown
/// to everyone: what people in an incident wait for); 1 a Home tab, the audit channel's
/// echo of a write or a confirmation; 2 the rest (answers only their asker sees, queued
/// after their `response_url` failed, subscription announcements, the audit channel's
/// sums of refused attempts, notices). Ahead of them all, [`FIRST`].
pub fn urgency(lane: &str) -> u8 {
    if lane.starts_with("card:") || lane.starts_with("write:") || lane.starts_with("said:") {
        0
    } else if lane.starts_with("home:") || lane.starts_with("audit:") {
        1
    } else {
        2
    }
}

/// The stored urgency of the news of a run's end ([`OutboxMessage::first`]): below every
/// lane's, so that versions before it (which store 0 to 2) sort the same way.
pub const FIRST: i64 = -1;

/// A claimed message and what became of it.
type Outcome<'a> = (&'a OutboxRow, Delivered);

/// A message Slack took, of the rows the statement names.
macro_rules! sent {
    () => {
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL, in_doubt = FALSE,
           lease_owner = NULL, lease_until = NULL"
    };
}

/// The statement that records it: `$1` the message's id, `$2` this replica, then its
/// fields in order. Only a message Slack took is recorded whoever holds it now; the
/// rest only while this replica still holds it (another may have taken it over).
fn statement(delivered: &Delivered) -> &'static str {
    match delivered {
        Delivered::Sent { .. } => concat!(sent!(), " WHERE id = $1 AND $2 = $2"),
        Delivered::Retry { .. } => {
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4, in_doubt = (in_doubt OR $5),
               lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2"
        }
        Delivered::Defer { .. } => {
            "UPDATE outbox SET next_attempt_at = $3, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2"
        }
        Delivered::Failed { .. } => {
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $3, lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2"
        }
    }
}

/// The ids of messages Slack took, and the threads the roots among them started (each
/// a JSON list, as query parameters; no roots: `None`).
fn sent_lists(sent: &[&Outcome]) -> StoreResult<(String, Option<String>)> {
    let ids: Vec<i64> = sent.iter().map(|(row, _)| row.id).collect();
    let roots: Vec<serde_json::Value> = sent
        .iter()
        .filter_map(|(row, outcome)| match (outcome, row.message.to.is_root(), row.message.to.channel()) {
            (Delivered::Sent { ts: Some(ts) }, true, Some(channel)) => {
                Some(serde_json::json!({ "lane": row.message.lane, "channel": channel, "ts": ts }))
            }
            _ => None,
        })
        .collect();
    let roots = if roots.is_empty() { None } else { Some(json_list(&roots)?) };
    Ok((json_list(&ids)?, roots))
}

/// How long an outbox row this version cannot read waits before it is tried again.
const UNREADABLE_RETRY_MS: i64 = 5 * 60_000;

/// The outbox's queue.
impl crate::outbox::Queue for Store {
    fn enqueue<'a>(
        &'a self,
        messages: &'a [OutboxMessage],
        now_ms: i64,
    ) -> futures::future::BoxFuture<'a, Result<(), crate::outbox::QueueError>> {
        Box::pin(async move { Store::enqueue(self, messages, now_ms).await.map_err(|e| crate::outbox::QueueError(e.to_string())) })
    }
}

impl Store {
    /// Queues messages in one transaction.
    pub async fn enqueue(&self, messages: &[OutboxMessage], now_ms: i64) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            enqueue_in!(tx, messages, now_ms);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims the first pending message of each lane that is due and that no live
    /// replica holds: the news of a run's end first, then a run's card and thread and a
    /// write's outcome, before anything else (see [`urgency`]), then oldest lanes first,
    /// so that a backlog of answers or announcements never holds up a run's status. A message taken over from a
    /// replica that died comes back `in_doubt`.
    pub async fn claim_outbox(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<OutboxRow>> {
        // The lane heads kept beside the outbox (PostgreSQL's migration 0010, SQLite's
        // 0016): one small row per lane, in the claim's order. On PostgreSQL `{lock}`
        // locks the rows of both tables, and skips those another transaction holds, so a
        // claim never waits (nor deadlocks with a batch giving its claims back).
        let rows = claim!(
            self,
            RawOutbox,
            |lock: &str| format!(
                "UPDATE outbox SET lease_owner = $1, lease_until = $2,
                   in_doubt = (in_doubt OR (lease_owner IS NOT NULL AND lease_owner <> $1))
                 WHERE id IN (
                   SELECT h.head_id FROM lane_heads h JOIN outbox o ON o.id = h.head_id
                   WHERE h.next_attempt_at <= $3
                     AND (h.lease_until IS NULL OR h.lease_until <= $3 OR h.lease_owner = $1)
                     AND o.state = 'pending'
                   ORDER BY h.urgency, h.head_id
                   LIMIT $4{lock})
                 RETURNING *"
            ),
            now_ms,
            limit
        );
        // A row this version cannot read (written by a newer one during a rolling
        // deploy, or damaged) is put back for later rather than holding up the other
        // lanes: a replica that reads it will send it.
        let mut readable = Vec::with_capacity(rows.len());
        for raw in rows {
            let id = raw.id;
            match OutboxRow::try_from(raw) {
                Ok(row) => readable.push(row),
                Err(error) => {
                    tracing::error!(%error, id, "an outbox message cannot be read by this version; leaving it for another try");
                    if let Err(error) = self.outbox_retry(id, now_ms + UNREADABLE_RETRY_MS, &error.to_string(), false).await {
                        tracing::error!(%error, id, "cannot put an unreadable outbox message back");
                    }
                }
            }
        }
        readable.sort_by_key(|r| (!r.message.first, urgency(&r.message.lane), r.id));
        Ok(readable)
    }

    /// The earliest time this replica could claim a pending message, if any: a lane's
    /// first message when it is due, or when another replica's claim on it runs out.
    pub async fn outbox_next_due(&self) -> StoreResult<Option<i64>> {
        // Only the first message of a lane can be due: those behind it wait for it.
        let sql = "SELECT MIN(CASE WHEN lease_owner <> $1 AND lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END)
                   FROM lane_heads";
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, Option<i64>>(sql).bind(&*self.owner).fetch_one(pool).await?))
    }

    /// Takes the next place for a post in `channel` among the replicas: `None` when this
    /// post may go now (the next one in the channel then waits `gap_ms`), else when it
    /// may. Each replica paces its own posts too; this shares the pace between them
    /// (PostgreSQL). An SQLite file has one replica: its own pace is the channel's.
    pub async fn take_channel_turn(&self, channel: &str, now_ms: i64, gap_ms: i64) -> StoreResult<Option<i64>> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let taken: Option<i64> = sqlx::query_scalar(
            "INSERT INTO channel_pace AS c (channel_id, next_post_at) VALUES ($1, $2)
             ON CONFLICT (channel_id) DO UPDATE SET next_post_at = excluded.next_post_at WHERE c.next_post_at <= $3
             RETURNING next_post_at",
        )
        .bind(channel)
        .bind(now_ms + gap_ms)
        .bind(now_ms)
        .fetch_optional(pool)
        .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_post_at FROM channel_pace WHERE channel_id = $1").bind(channel).fetch_optional(pool).await?;
        // Gone meanwhile (pruned): taken by nobody, try again at once.
        Ok(Some(next.unwrap_or(now_ms).max(now_ms)))
    }

    /// Records what became of claimed messages, in one transaction (a pass's worth:
    /// one commit for dozens of messages, the group commit that keeps one SQLite file
    /// fast enough for tens of thousands of runs). Each gives its claim back.
    pub async fn outbox_record(&self, outcomes: &[(&OutboxRow, Delivered)]) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        on_backend!(self, pool, lock => {
            let mut tx = pool.begin().await?;
            // On SQLite (one writer: no lock order to keep), the messages Slack took are
            // recorded by two statements in all (most outcomes are these): one statement
            // each was a round trip to the file's one connection, held meanwhile.
            let (sent, outcomes): (Vec<&Outcome>, Vec<&Outcome>) =
                outcomes.iter().partition(|(_, outcome)| lock.is_empty() && matches!(outcome, Delivered::Sent { .. }));
            if !sent.is_empty() {
                let (ids, roots) = sent_lists(&sent)?;
                sqlx::query(&format!("{} WHERE id IN ({})", sent!(), listed(lock, "$1"))).bind(ids).execute(&mut *tx).await?;
                if let Some(roots) = roots {
                    sqlx::query(
                        "INSERT INTO threads (lane, channel_id, ts)
                         SELECT json_extract(value, '$.lane'), json_extract(value, '$.channel'), json_extract(value, '$.ts') FROM json_each($1) WHERE TRUE
                         ON CONFLICT (lane) DO UPDATE SET ts = excluded.ts, channel_id = excluded.channel_id",
                    )
                    .bind(roots)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            // In lane order, then id order, as messages are queued: two transactions
            // locking the same rows (and, on PostgreSQL, the same lanes' heads) lock them
            // in one order.
            let mut outcomes = outcomes;
            outcomes.sort_by(|(a, _), (b, _)| (a.message.lane.as_str(), a.id).cmp(&(b.message.lane.as_str(), b.id)));
            for (row, outcome) in outcomes {
                let query = sqlx::query(statement(outcome)).bind(row.id).bind(&*self.owner);
                let query = match outcome {
                    Delivered::Sent { .. } => query,
                    Delivered::Retry { at, error, in_doubt } => query.bind(*at).bind(error.as_str()).bind(*in_doubt),
                    Delivered::Defer { at } => query.bind(*at),
                    Delivered::Failed { error } => query.bind(error.as_str()),
                };
                query.execute(&mut *tx).await?;
                if let (Delivered::Sent { ts: Some(ts) }, true, Some(channel)) = (outcome, row.message.to.is_root(), row.message.to.channel()) {
                    sqlx::query(
                        "INSERT INTO threads (lane, channel_id, ts) VALUES ($1, $2, $3)
                         ON CONFLICT (lane) DO UPDATE SET ts = excluded.ts, channel_id = excluded.channel_id",
                    )
                    .bind(&row.message.lane)
                    .bind(channel)
                    .bind(ts)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Slack accepted it; a root message's `ts` becomes its lane's thread.
    pub async fn outbox_sent(&self, row: &OutboxRow, ts: Option<&str>) -> StoreResult<()> {
        self.outbox_record(&[(row, Delivered::Sent { ts: ts.map(str::to_owned) })]).await
    }

    /// Try again at `next_ms` (a message known by its id alone: one this version cannot
    /// read); `in_doubt` when this try may have reached Slack.
    pub async fn outbox_retry(&self, id: i64, next_ms: i64, error: &str, in_doubt: bool) -> StoreResult<()> {
        let retry = Delivered::Retry { at: next_ms, error: error.to_owned(), in_doubt };
        on_backend!(self, pool => sqlx::query(statement(&retry))
            .bind(id)
            .bind(&*self.owner)
            .bind(next_ms)
            .bind(error)
            .bind(in_doubt)
            .execute(pool)
            .await?.rows_affected());
        Ok(())
    }

    /// Not now (pacing): later, without counting a try.
    pub async fn outbox_defer(&self, row: &OutboxRow, next_ms: i64) -> StoreResult<()> {
        self.outbox_record(&[(row, Delivered::Defer { at: next_ms })]).await
    }

    /// Pending messages and the creation time of the oldest.
    pub async fn outbox_depth(&self) -> StoreResult<(i64, Option<i64>)> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'",
        )
        .fetch_one(pool)
        .await?))
    }

    /// Forgets delivered messages older than `before_ms`.
    pub async fn prune_outbox(&self, before_ms: i64) -> StoreResult<u64> {
        let done: u64 = on_backend!(self, pool => sqlx::query("DELETE FROM outbox WHERE state = 'sent' AND created_at < $1")
            .bind(before_ms)
            .execute(pool)
            .await?.rows_affected());
        if let Backend::Postgres(pool) = &self.backend {
            sqlx::query("DELETE FROM channel_pace WHERE next_post_at < $1").bind(before_ms).execute(pool).await?;
        }
        Ok(done)
    }
}

/// An `outbox` row as stored.
#[derive(sqlx::FromRow)]
struct RawOutbox {
    id: i64,
    lane: String,
    method: String,
    channel_id: Option<String>,
    user_id: Option<String>,
    in_thread: bool,
    root: bool,
    broadcast: bool,
    collapse_key: Option<String>,
    response_url: Option<String>,
    thread_ts: Option<String>,
    body: String,
    created_at: i64,
    attempts: i64,
    in_doubt: bool,
    urgency: i64,
}

impl TryFrom<RawOutbox> for OutboxRow {
    type Error = StoreError;

    fn try_from(r: RawOutbox) -> StoreResult<OutboxRow> {
        Ok(OutboxRow {
            id: r.id,
            created_at: r.created_at,
            attempts: r.attempts,
            in_doubt: r.in_doubt,
            message: OutboxMessage {
                to: Destination::from_columns(DestinationColumns {
                    method: OUTBOX_METHODS
                        .into_iter()
                        .find(|m| *m == r.method)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox method `{}`", r.method)))?,
                    channel_id: r.channel_id,
                    user_id: r.user_id,
                    in_thread: r.in_thread,
                    root: r.root,
                    broadcast: r.broadcast,
                    response_url: r.response_url,
                    thread_ts: r.thread_ts,
                })
                .map_err(StoreError::Corrupt)?,
                body: serde_json::from_str::<OutboxBody>(&r.body).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                lane: r.lane,
                collapse_key: r.collapse_key,
                first: r.urgency == FIRST,
                not_before: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Backend;
    use super::*;
    use crate::outbox::Place;

    fn post(lane: &str, text: &str) -> OutboxMessage {
        let to = Destination::Post { channel: "C0DATA".into(), place: Place::Channel, asked_by: None };
        OutboxMessage::new(lane, to, OutboxBody::plain(text.into(), vec![]))
    }

    #[tokio::test]
    async fn an_unreadable_message_is_put_back_without_holding_up_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("bot.db").display())).await.unwrap();
        store.enqueue(&[post("a", "fine"), post("b", "damaged")], 0).await.unwrap();
        let Backend::Sqlite(pool) = &store.backend else { unreachable!("a SQLite store") };
        sqlx::query("UPDATE outbox SET method = 'carrier-pigeon' WHERE lane = 'b'").execute(pool).await.unwrap();

        let claimed = store.claim_outbox(0, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|r| r.message.body.text.as_str()).collect::<Vec<_>>(), vec!["fine"]);
        let (state, error, next): (String, Option<String>, i64) =
            sqlx::query_as("SELECT state, last_error, next_attempt_at FROM outbox WHERE lane = 'b'").fetch_one(pool).await.unwrap();
        assert_eq!(state, "pending", "kept for a version that reads it");
        assert_eq!(next, UNREADABLE_RETRY_MS, "and tried again later");
        assert!(error.unwrap_or_default().contains("carrier-pigeon"), "the reason names what could not be read");
        let again = store.claim_outbox(1, 10).await.unwrap();
        assert!(again.iter().all(|r| r.message.lane != "b"), "not before then");
    }
}
