//! The store: everything the bot must not forget (requests already handled, pending
//! confirmations, the audit trail, launched and watched runs, cards, subscriptions,
//! timers, the outbox) in a real database: SQLite embedded by default, PostgreSQL for
//! several replicas. Every operation is written once, in SQL both speak (`$n`
//! parameters, `ON CONFLICT`, `RETURNING`), and compiled for each backend by
//! [`on_backend!`].
//!
//! Work that one replica must do alone (polling a run, sending a lane's next message,
//! firing a timer, polling subscriptions, finishing a write) is *claimed*: the claim writes this replica's
//! id and a lease expiry on the row (PostgreSQL skips rows another replica is claiming,
//! `FOR UPDATE SKIP LOCKED`), the lease is renewed while the replica lives
//! ([`Store::renew_leases`]) and released when the work is recorded. A replica that dies
//! stops renewing; when its leases expire another one takes the work over.

mod audit;
mod confirmations;
mod destination;
mod health;
mod launches;
mod outbox;
mod records;
mod requests;
mod subscriptions;
mod switches;
mod watches;
mod writes;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::mpsc;

/// The marker of the last complete subscription poll.
pub const POLLED_MARKER: &str = "subscriptions_polled";

pub use destination::{Destination, DestinationColumns, OUTBOX_METHODS, Place};
pub use health::{BACKOFF_CAP, Backoff, FAILING_FOR, WriteHealth};
pub use outbox::{Delivered, FIRST, urgency};
pub use records::{
    AuditEntry, AuditOutcome, CardRow, Confirmation, ConfirmationState, Decision, KnownRun, LaunchRow, NewConfirmation, OutboxBody,
    OutboxMessage, OutboxRow, SubscriptionRow, TimerRow, Upload, WatchRow, WatchUpdate, WriteRow, WriteStep,
};
pub use switches::SwitchRow;

/// How long a claim lasts without renewal, unless the configuration says otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// A store operation that failed; the cause is logged, the user gets a reference.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Database(sqlx::Error),
    /// Nothing answered in time: the database is locked by another process, or overloaded.
    #[error("the store is unavailable: the database did not answer within 5 s (locked by another process, or overloaded)")]
    Busy,
    #[error("the store holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL: {0}")]
    Unsupported(String),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A batched write failed (the database error, as text: it is shared by the batch).
    #[error("the store is unavailable: {0}")]
    Batch(String),
}

impl StoreError {
    /// The kind of failure, as logs group it: a closed set of names.
    pub fn kind(&self) -> &'static str {
        let text = match self {
            StoreError::Busy => return "busy",
            StoreError::Corrupt(_) => return "unreadable_record",
            StoreError::Unsupported(_) | StoreError::Migrate(_) => return "setup",
            StoreError::Database(error) => error.to_string(),
            StoreError::Batch(text) => text.clone(),
        }
        .to_ascii_lowercase();
        if text.contains("full") || text.contains("no space") {
            "full"
        } else if text.contains("readonly") || text.contains("read-only") || text.contains("read only") {
            "read_only"
        } else if text.contains("locked") || text.contains("busy") {
            "locked"
        } else if text.contains("i/o") {
            "io"
        } else if text.contains("permission denied") {
            "permission_denied"
        } else {
            "database"
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            other => StoreError::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database, with its pool.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool and `$lock` to the row-locking
/// clause of a claim (PostgreSQL: skip rows another replica is claiming; SQLite has one
/// writer). The body is compiled once per backend.
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        on_backend!($store, $pool, _lock => $body)
    };
    ($store:expr, $pool:ident, $lock:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => {
                let $lock: &str = "";
                $body
            }
            $crate::store::Backend::Postgres($pool) => {
                let $lock: &str = " FOR UPDATE SKIP LOCKED";
                $body
            }
        }
    };
}
pub(crate) use on_backend;

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

/// The database behind the bot. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// This replica's name on the rows it claims.
    owner: Arc<str>,
    lease_ms: i64,
    /// Request keys to record, in batches ([`requests::record_keys`]).
    keys: mpsc::Sender<requests::Pending>,
    /// Poll outcomes to write, in batches ([`watches::record_polls`]).
    polls: mpsc::Sender<watches::PendingPoll>,
    /// When this replica last renewed its claims (unix ms).
    renewed_at: Arc<std::sync::atomic::AtomicI64>,
    /// Whether the work's writes succeed ([`WriteHealth`]).
    health: Arc<WriteHealth>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend_name()).field("owner", &self.owner).finish()
    }
}

impl Store {
    /// Opens and migrates the database of `DATABASE_URL`: `sqlite://PATH` (created when
    /// missing) or `postgres://...`.
    pub async fn connect(database_url: &str) -> StoreResult<Store> {
        let backend = if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(database_url)?.application_name("tailerbot");
            let pool = PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(5)).connect_with(options).await?;
            // Replicas starting together migrate one at a time (sqlx takes an advisory lock).
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else if database_url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(database_url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            // One connection: SQLite has one writer, and writers sharing a file wait for
            // its lock by sleeping; queueing for the connection in the process is fairer
            // and cheaper. Each statement takes microseconds.
            // In the process, the connection cannot be lost as a socket can: no ping to
            // its worker thread (and back) before each use.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Backend::Sqlite(pool)
        } else {
            return Err(StoreError::Unsupported("expected sqlite://PATH or postgres://...".into()));
        };
        let owner = format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (keys, queue) = mpsc::channel(4096);
        let (polls, poll_queue) = mpsc::channel(4096);
        let store = Store {
            backend,
            owner: owner.into(),
            lease_ms: DEFAULT_LEASE.as_millis() as i64,
            keys,
            polls,
            renewed_at: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN / 2)),
            health: Arc::default(),
        };
        tokio::spawn(requests::record_keys(store.clone(), queue));
        tokio::spawn(watches::record_polls(store.clone(), poll_queue));
        if let Backend::Sqlite(_) = store.backend {
            // An SQLite file has one replica: whatever an earlier process claimed, it
            // claimed before this one started, and it is gone.
            store.release_dead_claims().await?;
        }
        Ok(store)
    }

    /// The same store with claims lasting `lease` between renewals.
    pub fn with_lease(mut self, lease: Duration) -> Store {
        self.lease_ms = lease.as_millis().max(1) as i64;
        self
    }

    /// How long a claim lasts between renewals.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms as u64)
    }

    /// Whether the work's writes succeed: what readiness and the loops' pauses read.
    pub fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Notes the outcome of a write of the work (`changed`: whether it changed
    /// something, when it succeeded) and gives it back.
    pub fn noted<T>(&self, result: StoreResult<T>, changed: impl FnOnce(&T) -> bool) -> StoreResult<T> {
        match &result {
            Ok(value) if changed(value) => self.health.wrote(),
            Ok(_) => {}
            Err(StoreError::Busy) => {}
            Err(error) => self.health.failed(error),
        }
        result
    }

    /// This replica's name on the rows it claims.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Reachable and taking writes (readiness): every request is recorded before it is
    /// acted on, so a locked or read-only database cannot serve. The probe is a write
    /// that changes nothing but needs what a write needs (SQLite's write lock, a
    /// PostgreSQL primary).
    pub async fn ping(&self) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query("DELETE FROM handled_requests WHERE handled_at < $1")
            .bind(i64::MIN)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

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
                let sql = if lock.is_empty() {
                    format!("UPDATE {table} SET lease_until = $1 WHERE lease_owner = $2")
                } else if table == "outbox" {
                    // Only a lane's head is ever claimed: read the heads, not the outbox.
                    "UPDATE outbox SET lease_until = $1 WHERE id IN (
                       SELECT o.id FROM lane_heads h JOIN outbox o ON o.id = h.head_id
                       WHERE h.lease_owner = $2 AND o.lease_owner = $2 AND o.state = 'pending'
                       FOR UPDATE OF h, o SKIP LOCKED)"
                        .to_owned()
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
    async fn release_dead_claims(&self) -> StoreResult<()> {
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

    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await);
    }
}
