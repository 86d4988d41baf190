//! The audit trail: every write action and refusal, appended; the refusals of a person
//! summed; the latest entries.

use super::{AuditEntry, AuditOutcome, Store, StoreError, StoreResult, on_backend};
use crate::domain::Action;

/// Appends an audit entry through `$executor` (a pool or a caller's transaction);
/// evaluates to the entry's id.
macro_rules! audit_in {
    ($executor:expr, $e:expr) => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO audit (at, reference, user_id, channel_id, action, job, environment, outcome, detail, tailer_answer)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind($e.at)
        .bind(&$e.reference)
        .bind(&$e.user_id)
        .bind(&$e.channel_id)
        .bind($e.action.name())
        .bind(&$e.job)
        .bind(&$e.environment)
        .bind($e.outcome.as_str())
        .bind(&$e.detail)
        .bind(&$e.tailer_answer)
        .fetch_one($executor)
        .await?
    };
}
pub(super) use audit_in;

impl Store {
    /// Appends to the audit trail; returns the entry's id.
    pub async fn audit(&self, e: &AuditEntry) -> StoreResult<i64> {
        let id = on_backend!(self, pool => audit_in!(pool, e));
        Ok(id)
    }

    /// What `user` was refused from `from_ms` until before `to_ms`: each action and job,
    /// with how many times, most often first (at most `limit`), and the total.
    pub async fn refusals(
        &self,
        user: &str,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> StoreResult<(Vec<(String, Option<String>, i64)>, i64)> {
        let rows: Vec<(String, Option<String>, i64)> = on_backend!(self, pool => sqlx::query_as(
            "SELECT action, job, COUNT(*) AS times FROM audit
             WHERE user_id = $1 AND at >= $2 AND at < $3 AND outcome = 'denied'
             GROUP BY action, job ORDER BY times DESC, action, job",
        )
        .bind(user)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(pool)
        .await?);
        let total = rows.iter().map(|(_, _, times)| times).sum();
        Ok((rows.into_iter().take(limit as usize).collect(), total))
    }

    /// The latest entries, newest first, for one job or all.
    pub async fn recent_audit(&self, job: Option<&str>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = on_backend!(self, pool => sqlx::query_as::<_, RawAudit>(
            "SELECT * FROM audit WHERE ($1 IS NULL OR job = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(job)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}

/// An action's stored name, read back.
pub(super) fn action(text: &str) -> StoreResult<Action> {
    Action::from_name(text).ok_or_else(|| StoreError::Corrupt(format!("unknown action `{text}`")))
}

/// An `audit` row as stored.
#[derive(sqlx::FromRow)]
struct RawAudit {
    id: i64,
    at: i64,
    reference: String,
    user_id: String,
    channel_id: String,
    action: String,
    job: Option<String>,
    environment: Option<String>,
    outcome: String,
    detail: String,
    tailer_answer: Option<String>,
}

impl TryFrom<RawAudit> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: RawAudit) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            outcome: AuditOutcome::parse(&r.outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown audit outcome `{}`", r.outcome)))?,
            action: action(&r.action)?,
            id: r.id,
            at: r.at,
            reference: r.reference,
            user_id: r.user_id,
            channel_id: r.channel_id,
            job: r.job,
            environment: r.environment,
            detail: r.detail,
            tailer_answer: r.tailer_answer,
        })
    }
}
