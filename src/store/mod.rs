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
mod digests;
mod enqueue;
mod expectations;
mod health;
mod launches;
mod leases;
mod lists;
mod outbox;
mod owners;
mod polls;
mod records;
mod requests;
mod subscriptions;
mod switches;
mod threads;
mod watch_jobs;
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

pub use destination::{DestinationColumns, OUTBOX_METHODS};
pub use digests::{DigestDayRow, DigestRow};
pub use expectations::{CONFIGURED, ExpectationDayRow, ExpectationRow, OPEN_STATES};
pub use health::{BACKOFF_CAP, Backoff, FAILING_FOR, WriteHealth};
pub(crate) use leases::{Claim, claim};
pub use outbox::{FIRST, urgency};
pub use records::{
    AuditEntry, AuditOutcome, CardRow, Confirmation, ConfirmationState, Decision, KnownRun, LaunchRow, NearLaunch, NewConfirmation,
    SubscriptionRow, TimerRow, WatchRow, WatchUpdate, WriteRow, WriteStep,
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

/// The database behind the bot. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// This replica's name on the rows it claims.
    owner: Arc<str>,
    lease_ms: i64,
    /// Request keys to record, in batches ([`requests::record_keys`]).
    keys: mpsc::Sender<requests::Pending>,
    /// Runs whose job is asked, answered in batches ([`owners::look_up`]).
    owners: mpsc::Sender<owners::Pending>,
    /// Poll outcomes to write, in batches ([`polls::record_polls`]).
    polls: mpsc::Sender<polls::PendingPoll>,
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
                .foreign_keys(true)
                // 32 MiB of pages kept in the process (SQLite's default is 2 MiB): with
                // tens of thousands of runs followed, the indexes the watcher and the
                // outbox walk no longer come from the file at every statement.
                .pragma("cache_size", "-32768");
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
        let (owners, owner_queue) = mpsc::channel(4096);
        let store = Store {
            backend,
            owner: owner.into(),
            lease_ms: DEFAULT_LEASE.as_millis() as i64,
            keys,
            owners,
            polls,
            renewed_at: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN / 2)),
            health: Arc::default(),
        };
        tokio::spawn(requests::record_keys(store.clone(), queue));
        tokio::spawn(polls::record_polls(store.clone(), poll_queue));
        tokio::spawn(owners::look_up(store.clone(), owner_queue));
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

    /// Notes the outcome of a claim of work: taking rows is a write that changed
    /// something; an empty claim is not (on a full disk it can succeed while every
    /// write that needs room fails, and must not make the store look ready again).
    pub fn claimed<T>(&self, result: StoreResult<Vec<T>>) -> StoreResult<Vec<T>> {
        self.noted(result, |rows| !rows.is_empty())
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

    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await);
    }
}
