//! The store: everything the bot must not forget (requests already handled, pending
//! confirmations, the audit trail, launched and watched runs, cards, subscriptions,
//! timers, the outbox) in a real database. SQLite is the
//! embedded default; the types here are the same whatever the backend, so that the
//! PostgreSQL implementation for several replicas slots in behind them.

mod outbox;
mod records;
mod sqlite;
mod subscriptions;
mod watches;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use records::{
    AuditEntry, AuditOutcome, CardRow, Confirmation, ConfirmationState, Decision, KnownRun, NewConfirmation, OutboxBody, OutboxMessage,
    OutboxMethod, OutboxRow, SubscriptionRow, TimerRow, WatchRow, WatchUpdate,
};

/// A store operation that failed; the cause is logged, the user gets a reference.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the store holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL: {0}")]
    Unsupported(String),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database behind the bot. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: sqlx::SqlitePool,
}

impl Store {
    /// Opens (creating when missing) and migrates the database of `DATABASE_URL`.
    pub async fn connect(database_url: &str) -> StoreResult<Store> {
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            return Err(StoreError::Unsupported("PostgreSQL is not supported by this version yet; use sqlite://PATH".into()));
        }
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(5)).connect_with(options).await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Reachable and answering (readiness).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
