//! Claims: work rows (watches, timers, interrupted writes and launches, outbox lane
//! heads) and named leases (the subscription poll) held by one replica at a time, for a
//! lease it renews while it lives, gives back at a clean stop, and that another replica
//! takes over once it runs out.

use super::{Store, StoreResult, on_backend};

/// A table of work claimed with a lease: its rows that are `ready`, held by no live
/// replica (or, with `again`, by this one), first by `order`. One statement for every
/// such table: [`Claim::sql`].
pub(crate) struct Claim {
    pub table: &'static str,
    pub key: &'static str,
    pub ready: &'static str,
    pub order: &'static str,
    /// Rows this replica holds are claimed again (their lease renewed).
    pub again: bool,
    pub returning: &'static str,
}

impl Claim {
    /// The claim, with `lock` as the row-locking clause of its `SELECT` (PostgreSQL).
    pub fn sql(&self, lock: &str) -> String {
        let Claim { table, key, ready, order, again, returning } = self;
        let again = if *again { " OR lease_owner = $1" } else { "" };
        format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE {key} IN (
               SELECT {key} FROM {table} WHERE {ready} AND (lease_until IS NULL OR lease_until <= $3{again})
               ORDER BY {order} LIMIT $4{lock})
             RETURNING {returning}"
        )
    }
}

/// Claims rows for this replica and returns them. `$sql` makes, from the row-locking
/// clause of its `SELECT`, an `UPDATE ... RETURNING` taking `$1` this replica's name,
/// `$2` the lease's expiry, `$3` now and `$4` how many rows at most ([`Claim::sql`], or
/// the outbox's own).
macro_rules! claim {
    ($store:expr, $row:ty, $sql:expr, $now_ms:expr, $limit:expr) => {
        on_backend!($store, pool, lock => {
            let sql = ($sql)(lock);
            sqlx::query_as::<_, $row>(&sql)
                .bind(&*$store.owner)
                .bind($now_ms + $store.lease_ms)
                .bind($now_ms)
                .bind(i64::from($limit))
                .fetch_all(pool)
                .await?
        })
    };
}
pub(crate) use claim;

impl Store {
    /// Keeps this replica's claims alive: called every third of the lease while it runs.
    pub async fn renew_leases(&self, now_ms: i64) -> StoreResult<u64> {
        let until = now_ms + self.lease_ms;
        let mut renewed = 0;
        on_backend!(self, pool, lock => {
            let mut tx = pool.begin().await?;
            for table in ["watches", "outbox", "timers", "leases", "launches", "writes"] {
                // PostgreSQL: rows being recorded right now (a batch of polls or of
                // deliveries, which gives their claims back) are skipped, not waited
                // for: renewing them in another order than the batch could deadlock.
                let sql = if table == "outbox" {
                    // Only a lane's head is ever claimed: read the heads, not the outbox.
                    let lock = if lock.is_empty() { "" } else { " FOR UPDATE OF h, o SKIP LOCKED" };
                    format!(
                        "UPDATE outbox SET lease_until = $1 WHERE id IN (
                           SELECT o.id FROM lane_heads h JOIN outbox o ON o.id = h.head_id
                           WHERE h.lease_owner = $2 AND o.lease_owner = $2 AND o.state = 'pending'{lock})"
                    )
                } else if lock.is_empty() {
                    format!("UPDATE {table} SET lease_until = $1 WHERE lease_owner = $2")
                } else {
                    format!("UPDATE {table} SET lease_until = $1 WHERE ctid IN (SELECT ctid FROM {table} WHERE lease_owner = $2{lock})")
                };
                renewed += sqlx::query(&sql).bind(until).bind(&*self.owner).execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        });
        self.renewed_at.fetch_max(now_ms, std::sync::atomic::Ordering::Relaxed);
        Ok(renewed)
    }

    /// Until when a claim this replica made at `claimed_at` is surely still its own: its
    /// lease from the claim or from the last renewal, whichever is later. Work whose
    /// claim may have run out (the replica stalled) is left to whoever claims it next.
    pub fn claim_holds_until(&self, claimed_at: i64) -> i64 {
        claimed_at.max(self.renewed_at.load(std::sync::atomic::Ordering::Relaxed)) + self.lease_ms
    }

    /// Takes (or keeps) a named lease, such as the subscription poller's: true while this
    /// replica holds it. A lease nobody holds (given back at a clean stop, freed at an
    /// SQLite start: owner and expiry NULL) or whose holder stopped renewing it is free.
    pub async fn hold_lease(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        let done: u64 = on_backend!(self, pool => sqlx::query(
            "INSERT INTO leases (name, lease_owner, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
             WHERE leases.lease_owner IS NULL OR leases.lease_until IS NULL OR leases.lease_until <= $4
                OR leases.lease_owner = $2",
        )
        .bind(name)
        .bind(&*self.owner)
        .bind(now_ms + self.lease_ms)
        .bind(now_ms)
        .execute(pool)
        .await?.rows_affected());
        Ok(done == 1)
    }

    /// Gives this replica's claims back (a clean shutdown), so that another replica need
    /// not wait for them to expire. A message claimed but not recorded is in doubt.
    pub async fn release_leases(&self) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE outbox SET in_doubt = TRUE WHERE lease_owner = $1").bind(&*self.owner).execute(&mut *tx).await?;
            for table in ["watches", "outbox", "timers", "leases", "launches", "writes"] {
                let sql = format!("UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1");
                sqlx::query(&sql).bind(&*self.owner).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Frees every claim (SQLite at start: the process that made them is gone). A
    /// message that was being sent is in doubt: it may have reached Slack.
    pub(super) async fn release_dead_claims(&self) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE outbox SET in_doubt = TRUE WHERE lease_owner IS NOT NULL").execute(&mut *tx).await?;
            for table in ["watches", "outbox", "timers", "leases", "launches", "writes"] {
                let sql = format!("UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL");
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
