//! What the bot knows to be switched off (`switches`): written in the transaction that
//! records the outcome of a disable or an enable (and of a timed re-enable), and when a
//! run is seen ending DEACTIVATED. A fact only replaces an older one.

use super::{Store, StoreResult, on_backend};

/// Whether a job is off, since when, by whom and why.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SwitchRow {
    pub job: String,
    pub off: bool,
    /// Who switched it (a Slack user id); absent when Tailer showed it.
    pub by_user: Option<String>,
    pub reason: Option<String>,
    pub since_ms: i64,
    /// When a timed disable switches it on again.
    pub until_ms: Option<i64>,
    /// `bot` (the bot did it) or `tailer` (a run ended DEACTIVATED).
    pub source: String,
}

impl SwitchRow {
    /// Switched by the bot, for `user`.
    pub fn by_bot(job: &str, off: bool, user: &str, reason: Option<&str>, since_ms: i64, until_ms: Option<i64>) -> SwitchRow {
        SwitchRow {
            job: job.to_owned(),
            off,
            by_user: Some(user.to_owned()),
            reason: reason.map(str::to_owned),
            since_ms,
            until_ms,
            source: "bot".into(),
        }
    }
}

/// Records a switch inside a caller's transaction (`$tx`), unless a newer one is known.
macro_rules! switch_in {
    ($executor:expr, $s:expr) => {
        sqlx::query(
            "INSERT INTO switches (job, off, by_user, reason, since_ms, until_ms, source) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (job) DO UPDATE SET off = excluded.off, by_user = excluded.by_user, reason = excluded.reason,
               since_ms = excluded.since_ms, until_ms = excluded.until_ms, source = excluded.source
             WHERE excluded.since_ms >= switches.since_ms",
        )
        .bind(&$s.job)
        .bind($s.off)
        .bind(&$s.by_user)
        .bind(&$s.reason)
        .bind($s.since_ms)
        .bind($s.until_ms)
        .bind(&$s.source)
        .execute($executor)
        .await?
        .rows_affected()
    };
}
pub(super) use switch_in;

impl Store {
    /// Records a switch, unless a newer one is known.
    pub async fn set_switch(&self, switch: &SwitchRow) -> StoreResult<()> {
        on_backend!(self, pool => switch_in!(pool, switch));
        Ok(())
    }

    /// A run of `job` ended DEACTIVATED at `at_ms`: the job is off, by someone outside
    /// the bot, unless the bot knows better since.
    pub async fn seen_deactivated(&self, job: &str, at_ms: i64) -> StoreResult<()> {
        let known = self.switch(job).await?;
        if known.as_ref().is_some_and(|k| k.off || k.since_ms >= at_ms) {
            return Ok(());
        }
        let seen = SwitchRow {
            job: job.to_owned(),
            off: true,
            by_user: None,
            reason: None,
            since_ms: at_ms,
            until_ms: None,
            source: "tailer".into(),
        };
        self.set_switch(&seen).await
    }

    /// What is known of one job.
    pub async fn switch(&self, job: &str) -> StoreResult<Option<SwitchRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, SwitchRow>("SELECT * FROM switches WHERE job = $1")
            .bind(job)
            .fetch_optional(pool)
            .await?))
    }

    /// Every job known to be off, the longest off first.
    pub async fn switched_off(&self) -> StoreResult<Vec<SwitchRow>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, SwitchRow>("SELECT * FROM switches WHERE off ORDER BY since_ms, job")
            .fetch_all(pool)
            .await?))
    }
}
