//! Queueing into the outbox inside a caller's transaction, so that what the bot will say
//! is recorded with what it did (a poll's outcome, a write's end), and the lane locks
//! that keep two such transactions from deadlocking.

/// Queues messages inside a caller's transaction (`$tx`); a collapsing message replaces
/// the pending ones with its key.
macro_rules! enqueue_in {
    ($tx:ident, $messages:expr, $now_ms:expr) => {
        let lanes: Vec<&str> = $messages.iter().map(|m: &$crate::outbox::OutboxMessage| m.lane.as_str()).collect();
        $crate::store::enqueue::LockLanes::lock_lanes(&mut *$tx, &lanes).await?;
        // A lane is raised once, after the last of its messages marked `first`: the
        // earlier ones are pending then too (a run's end queues its card's edit and a
        // reply together).
        let raise_after: std::collections::HashMap<&str, usize> =
            $messages.iter().enumerate().filter(|(_, m)| m.first).map(|(i, m)| (m.lane.as_str(), i)).collect();
        for (i, m) in $messages.iter().enumerate() {
            if let Some(key) = &m.collapse_key {
                sqlx::query("DELETE FROM outbox WHERE collapse_key = $1 AND state = 'pending' AND lease_owner IS NULL")
                    .bind(key)
                    .execute(&mut *$tx)
                    .await?;
            }
            let body = serde_json::to_string(&m.body).map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
            let to = m.to.to_columns();
            sqlx::query(
                "INSERT INTO outbox (lane, method, channel_id, user_id, in_thread, root, broadcast, collapse_key, response_url, body, created_at, next_attempt_at, state, thread_ts, urgency)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14)",
            )
            .bind(&m.lane)
            .bind(to.method)
            .bind(&to.channel_id)
            .bind(&to.user_id)
            .bind(to.in_thread)
            .bind(to.root)
            .bind(to.broadcast)
            .bind(&m.collapse_key)
            .bind(&to.response_url)
            .bind(body)
            .bind($now_ms)
            .bind(m.not_before.map_or($now_ms, |at: i64| at.max($now_ms)))
            .bind(&to.thread_ts)
            .bind(if m.first { $crate::store::FIRST } else { i64::from($crate::store::urgency(&m.lane)) })
            .execute(&mut *$tx)
            .await?;
            if raise_after.get(m.lane.as_str()) == Some(&i) {
                // What must go before it in its lane (the card, earlier replies) goes
                // ahead of everything else with it.
                sqlx::query($crate::store::enqueue::PROMOTE)
                    .bind($crate::store::FIRST)
                    .bind(&m.lane)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    };
}
pub(super) use enqueue_in;

/// Raises the pending messages of lane `$2` to urgency `$1`. Found by lane: the urgency's
/// own index (`urgency + 0` keeps SQLite off it) would walk every pending message.
pub(crate) const PROMOTE: &str = "UPDATE outbox SET urgency = $1 WHERE lane = $2 AND state = 'pending' AND urgency + 0 > $1";

/// Takes the locks on the heads of the lanes a transaction is about to queue into, in
/// lane order, before it queues in its own order. On PostgreSQL a trigger keeps each
/// lane's head in `lane_heads` and locks it as messages come and go; without this, two
/// transactions touching the same lanes in different orders (a batch of polls queueing
/// for many runs, a batch of deliveries recorded in lane order) could deadlock. An SQLite
/// file has one writer: nothing to take.
pub(crate) trait LockLanes {
    async fn lock_lanes(&mut self, lanes: &[&str]) -> Result<(), sqlx::Error>;
}

impl LockLanes for sqlx::SqliteConnection {
    async fn lock_lanes(&mut self, _: &[&str]) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl LockLanes for sqlx::PgConnection {
    async fn lock_lanes(&mut self, lanes: &[&str]) -> Result<(), sqlx::Error> {
        let mut lanes: Vec<String> = lanes.iter().map(|lane| (*lane).to_owned()).collect();
        lanes.sort();
        lanes.dedup();
        if lanes.len() > 1 {
            // Bytewise, as Rust sorts: a database's collation may order lanes otherwise.
            sqlx::query(r#"SELECT 1 FROM lane_heads WHERE lane = ANY($1) ORDER BY lane COLLATE "C" FOR UPDATE"#)
                .bind(lanes)
                .execute(self)
                .await?;
        }
        Ok(())
    }
}
