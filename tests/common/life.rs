//! Lives of the bot for process-level tests: the simulator (quick runs), the Slack
//! stand-in and one SQLite file that outlive each `serve` process, lives that end at a
//! crash point, and the invariants that must hold whatever ended them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use tailerbot::sim::{RunningSimulator, SimOptions};
use tailerbot::slack::standin::{RunningStandin, SlackEvent};

use super::bot::ONCALL;
use super::process::*;

/// The simulator, the stand-in and a database that outlive the bot's lives.
pub struct World {
    pub tailer: RunningSimulator,
    pub slack: RunningStandin,
    pub config: PathBuf,
    pub db: String,
    /// The PostgreSQL schema of a world of replicas (dropped by [`World::finish`]).
    postgres: Option<super::db::TestDb>,
    /// What every life wrote on stderr, in the order they were started.
    logs: std::sync::Mutex<Vec<Logs>>,
    _dir: tempfile::TempDir,
}

impl World {
    /// A world on one SQLite file.
    pub async fn new() -> World {
        Self::on(None).await
    }

    /// A world on a fresh PostgreSQL schema, for several replicas whose claims run out
    /// 2 s after one dies.
    pub async fn postgres() -> World {
        Self::on(Some(super::db::TestDb::postgres().await)).await
    }

    /// The simulator's quick runs: 0.5 s waiting, 2 s running.
    pub fn quick() -> SimOptions {
        SimOptions {
            waiting: (Duration::from_millis(500), Duration::from_millis(500)),
            running: (Duration::from_secs(2), Duration::from_secs(2)),
            invisible_after_launch: Duration::from_millis(200),
            ..SimOptions::default()
        }
    }

    /// A world on one SQLite file whose simulator runs as `options` say.
    pub async fn with_sim(options: SimOptions) -> World {
        Self::with(None, options).await
    }

    async fn on(postgres: Option<super::db::TestDb>) -> World {
        Self::with(postgres, Self::quick()).await
    }

    async fn with(postgres: Option<super::db::TestDb>, options: SimOptions) -> World {
        let (tailer, slack) = super::world(options).await;
        slack.slack.set_usergroup("S0ONCALL", &[ONCALL]);
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &slack.response_url_prefix());
        let db = match &postgres {
            Some(pg) => {
                let text = std::fs::read_to_string(&config).unwrap().replace("[watch]\n", "[watch]\nlease_secs = 2\n");
                std::fs::write(&config, text).unwrap();
                pg.url.clone()
            }
            None => database(dir.path()),
        };
        World { tailer, slack, config, db, postgres, logs: Default::default(), _dir: dir }
    }

    /// Drops a PostgreSQL world's schema.
    pub async fn finish(self) {
        if let Some(pg) = self.postgres {
            pg.finish().await;
        }
    }

    pub async fn life(&self) -> Serve {
        let serve = ServeEnv::new(&self.config, &self.db, &self.slack.api_url(), &self.tailer.url()).ready().await;
        self.logs.lock().unwrap().push(serve.logs.clone());
        serve
    }

    /// The lines of every life so far that contain `needle`.
    pub fn logged(&self, needle: &str) -> Vec<String> {
        self.logs.lock().unwrap().iter().flat_map(|l| l.lines()).filter(|l| l.contains(needle)).collect()
    }

    /// A life that dies at the crash point `point`; ready, unless it died first.
    pub async fn doomed(&self, point: &str) -> Serve {
        let mut serve = ServeEnv::new(&self.config, &self.db, &self.slack.api_url(), &self.tailer.url()).dies_at(point).spawn();
        self.logs.lock().unwrap().push(serve.logs.clone());
        serve.ready().await;
        serve
    }

    /// The re-enables made (due time, and the root of the thread they answer in).
    pub async fn timers_done(&self) -> Vec<(i64, Option<String>)> {
        self.rows("SELECT t.due_at, th.ts FROM timers t LEFT JOIN threads th ON th.lane = t.lane WHERE t.state = 'done'").await
    }

    /// Waits until no re-enable is pending; fails, with what is still pending, when one
    /// still is after `limit`.
    pub async fn timers_fired(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.scalar("SELECT COUNT(*) FROM timers WHERE state = 'pending'").await > 0 {
            if std::time::Instant::now() >= deadline {
                let now = chrono::Utc::now().timestamp_millis();
                let pending = |what: &str| format!("SELECT COUNT(*) FROM timers WHERE state = 'pending' AND {what}");
                panic!(
                    "re-enables still pending after {limit:?}: {} not due yet, {} held by a claim, {} tried before",
                    self.scalar(&pending(&format!("due_at > {now}"))).await,
                    self.scalar(&pending(&format!("lease_until > {now}"))).await,
                    self.scalar(&pending("attempts > 0")).await,
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no write or launch is left under way (an interrupted one is settled
    /// by the recovery, which may look for its run for half a minute); fails when one
    /// still is after `limit`.
    pub async fn journals_settled(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let writes = self.scalar("SELECT COUNT(*) FROM writes WHERE state = 'calling'").await;
            let launches = self.scalar("SELECT COUNT(*) FROM launches WHERE state = 'calling'").await;
            if writes + launches == 0 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "after {limit:?}, {writes} writes and {launches} launches still under way");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The one number a query answers, on either backend.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let rows = self.rows::<(i64,)>(sql).await;
        assert_eq!(rows.len(), 1, "one row from {sql}");
        rows[0].0
    }

    /// The rows of a query, on either backend.
    pub async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        if self.postgres.is_some() {
            let pool = sqlx::PgPool::connect(&self.db).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            return rows;
        }
        let pool = sqlx::SqlitePool::connect(&self.db).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }

    /// Waits (bounded) until the outbox has nothing left to send.
    pub async fn drained(&self) {
        for _ in 0..400 {
            if self.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the outbox never drained");
    }

    /// What must hold once the bot has lived on after any crash.
    pub async fn invariants_hold(&self) {
        assert_eq!(self.scalar("SELECT COUNT(*) FROM writes WHERE state = 'calling'").await, 0, "a write left unfinished");
        assert_eq!(self.scalar("SELECT COUNT(*) FROM launches WHERE state = 'calling'").await, 0, "a launch left unsettled");
        assert_eq!(self.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await, 0, "a message left unsent");
        let unaudited = self
            .scalar(
                "SELECT COUNT(*) FROM writes w WHERE NOT EXISTS (
                     SELECT 1 FROM audit a WHERE a.reference = w.reference
                     AND a.outcome IN ('succeeded', 'failed', 'unknown'))",
            )
            .await;
        assert_eq!(unaudited, 0, "every write has an audit entry with an outcome");
    }
}

/// How many times `run` was announced as ended in `channel` (a subscription's message).
pub fn announced(events: &[SlackEvent], channel: &str, run: &str) -> usize {
    events
        .iter()
        .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel) && e.thread_ts.is_none())
        .filter(|e| e.visible_text().contains(run) && e.visible_text().contains(" · ended "))
        .count()
}
