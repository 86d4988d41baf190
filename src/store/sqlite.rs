//! The operations of the store, in SQL that PostgreSQL also speaks (`$n` parameters).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{
    AuditEntry, AuditOutcome, Confirmation, ConfirmationState, Decision, KnownRun, NewConfirmation, Store, StoreError, StoreResult,
};
use crate::domain::Action;

impl Store {
    /// Records a request key (e.g. `trigger:<trigger_id>`). `true` the first time, `false`
    /// when it was already handled, here or by another replica.
    pub async fn first_time(&self, key: &str, now_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query("INSERT INTO handled_requests (key, handled_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Like [`Store::first_time`], for a key that may come back after `window_ms`: true
    /// unless the same key was seen within the window (a double submit).
    pub async fn first_within(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO handled_requests (key, handled_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET handled_at = excluded.handled_at WHERE handled_requests.handled_at <= $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets request keys older than `before_ms` (Slack never replays them that late).
    pub async fn forget_requests_before(&self, before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM handled_requests WHERE handled_at < $1").bind(before_ms).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    pub async fn create_confirmation(&self, c: &NewConfirmation) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO confirmations (id, created_at, expires_at, team_id, channel_id, requester, action, plan, second_person, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
        )
        .bind(&c.id)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(&c.team_id)
        .bind(&c.channel_id)
        .bind(&c.requester)
        .bind(c.action.name())
        .bind(&c.plan)
        .bind(c.second_person)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn confirmation(&self, id: &str) -> StoreResult<Option<Confirmation>> {
        let row = sqlx::query("SELECT * FROM confirmations WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| confirmation(&r)).transpose()
    }

    /// Confirms or cancels a pending confirmation, once: of two clicks racing, one decides.
    pub async fn decide(&self, id: &str, to: ConfirmationState, by: &str, now_ms: i64) -> StoreResult<Decision> {
        let done = sqlx::query(
            "UPDATE confirmations SET state = $1, decided_by = $2, decided_at = $3
             WHERE id = $4 AND state = 'pending' AND expires_at > $3",
        )
        .bind(to.as_str())
        .bind(by)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        let Some(current) = self.confirmation(id).await? else {
            return Ok(Decision::NotFound);
        };
        if done.rows_affected() == 1 {
            return Ok(Decision::Decided(current));
        }
        if current.state == ConfirmationState::Pending {
            // Pending but not decided: it expired. Only the click that marks it says so.
            let marked = sqlx::query("UPDATE confirmations SET state = 'expired' WHERE id = $1 AND state = 'pending'")
                .bind(id)
                .execute(&self.pool)
                .await?;
            let expired = Confirmation { state: ConfirmationState::Expired, ..current };
            return Ok(if marked.rows_affected() == 1 { Decision::Expired(expired) } else { Decision::AlreadyDecided(expired) });
        }
        Ok(Decision::AlreadyDecided(current))
    }

    /// Appends to the audit trail; returns the entry's id.
    pub async fn audit(&self, e: &AuditEntry) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO audit (at, reference, user_id, channel_id, action, job, environment, outcome, detail, tailer_answer)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(e.at)
        .bind(&e.reference)
        .bind(&e.user_id)
        .bind(&e.channel_id)
        .bind(e.action.name())
        .bind(&e.job)
        .bind(&e.environment)
        .bind(e.outcome.as_str())
        .bind(&e.detail)
        .bind(&e.tailer_answer)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The latest entries, newest first, for one job or all.
    pub async fn recent_audit(&self, job: Option<&str>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = match job {
            Some(job) => {
                sqlx::query("SELECT * FROM audit WHERE job = $1 ORDER BY id DESC LIMIT $2")
                    .bind(job)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query("SELECT * FROM audit ORDER BY id DESC LIMIT $1").bind(i64::from(limit)).fetch_all(&self.pool).await?,
        };
        rows.iter().map(audit_entry).collect()
    }

    /// Remembers which job a launched run belongs to.
    pub async fn remember_run(&self, run: &KnownRun) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO runs (run_id, job, channel_id, launched_by, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(&run.run_id)
        .bind(&run.job)
        .bind(&run.channel_id)
        .bind(&run.launched_by)
        .bind(run.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn known_run(&self, run_id: &str) -> StoreResult<Option<KnownRun>> {
        let row = sqlx::query("SELECT * FROM runs WHERE run_id = $1").bind(run_id).fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(KnownRun {
                run_id: r.try_get("run_id")?,
                job: r.try_get("job")?,
                channel_id: r.try_get("channel_id")?,
                launched_by: r.try_get("launched_by")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }
}

fn action(text: &str) -> StoreResult<Action> {
    Action::from_name(text).ok_or_else(|| StoreError::Corrupt(format!("unknown action `{text}`")))
}

fn confirmation(r: &SqliteRow) -> StoreResult<Confirmation> {
    let state: String = r.try_get("state")?;
    Ok(Confirmation {
        request: NewConfirmation {
            id: r.try_get("id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            team_id: r.try_get("team_id")?,
            channel_id: r.try_get("channel_id")?,
            requester: r.try_get("requester")?,
            action: action(&r.try_get::<String, _>("action")?)?,
            plan: r.try_get("plan")?,
            second_person: r.try_get("second_person")?,
        },
        state: ConfirmationState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown confirmation state `{state}`")))?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

fn audit_entry(r: &SqliteRow) -> StoreResult<AuditEntry> {
    let outcome: String = r.try_get("outcome")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        reference: r.try_get("reference")?,
        user_id: r.try_get("user_id")?,
        channel_id: r.try_get("channel_id")?,
        action: action(&r.try_get::<String, _>("action")?)?,
        job: r.try_get("job")?,
        environment: r.try_get("environment")?,
        outcome: AuditOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt(format!("unknown audit outcome `{outcome}`")))?,
        detail: r.try_get("detail")?,
        tailer_answer: r.try_get("tailer_answer")?,
    })
}
