//! Requests already handled, confirmations, the audit trail and the runs the bot launched.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::writes::begin_write_in;
use super::{
    AuditEntry, AuditOutcome, Confirmation, ConfirmationState, Decision, KnownRun, NewConfirmation, Store, StoreError, StoreResult,
    TimerRow, WriteRow, on_backend,
};
use crate::domain::Action;

/// Keys recorded in one statement at most.
const BATCH: usize = 256;

/// A key waiting to be recorded, and who waits for the answer.
pub(super) type Pending = (String, i64, oneshot::Sender<Result<bool, String>>);

/// Records request keys in batches: whatever arrived while the previous batch was
/// being written goes in the next one, in one statement and one commit. Under load
/// that is one write for dozens of requests; alone, a request waits for its own write
/// only.
pub(super) async fn record_keys(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut seen = HashSet::new();
        // A key twice in one batch: the first asks the database, the others lose.
        let unique: Vec<(&str, i64)> =
            batch.iter().filter(|(k, _, _)| seen.insert(k.as_str())).map(|(k, at, _)| (k.as_str(), *at)).collect();
        let inserted = store.insert_keys(&unique).await;
        let inserted = store.noted(inserted, |new| !new.is_empty());
        let mut answered = HashSet::new();
        for (key, _, reply) in batch.drain(..) {
            let answer = match &inserted {
                Ok(new) => Ok(new.contains(&key) && answered.insert(key)),
                Err(error) => Err(error.to_string()),
            };
            let _ = reply.send(answer);
        }
    }
}

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
    /// Records a request key (e.g. `trigger:<trigger_id>`). `true` the first time, `false`
    /// when it was already handled, here or by another replica.
    pub async fn first_time(&self, key: &str, now_ms: i64) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Corrupt("the request recorder stopped".into());
        self.keys.send((key.to_owned(), now_ms, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(StoreError::Batch)
    }

    /// Inserts keys in one statement; returns those that were new.
    async fn insert_keys(&self, keys: &[(&str, i64)]) -> StoreResult<HashSet<String>> {
        let new: Vec<String> = on_backend!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("INSERT INTO handled_requests (key, handled_at) ");
            query.push_values(keys, |mut row, (key, at)| {
                row.push_bind(*key).push_bind(*at);
            });
            query.push(" ON CONFLICT (key) DO NOTHING RETURNING key");
            query.build_query_scalar::<String>().fetch_all(pool).await?
        });
        Ok(new.into_iter().collect())
    }

    /// Like [`Store::first_time`], for a key that may come back after `window_ms`: true
    /// unless the same key was seen within the window (a double submit).
    pub async fn first_within(&self, key: &str, now_ms: i64, window_ms: i64) -> StoreResult<bool> {
        let done: u64 = on_backend!(self, pool => sqlx::query(
            "INSERT INTO handled_requests (key, handled_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET handled_at = excluded.handled_at WHERE handled_requests.handled_at <= $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .execute(pool)
        .await?.rows_affected());
        Ok(done == 1)
    }

    /// Forgets request keys older than `before_ms` (Slack never replays them that late).
    pub async fn forget_requests_before(&self, before_ms: i64) -> StoreResult<u64> {
        let done = on_backend!(self, pool => sqlx::query("DELETE FROM handled_requests WHERE handled_at < $1").bind(before_ms).execute(pool).await?.rows_affected());
        Ok(done)
    }

    pub async fn create_confirmation(&self, c: &NewConfirmation) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
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
        .execute(pool)
        .await?.rows_affected());
        Ok(())
    }

    /// What `user` asked that still waits for a confirmation, newest first.
    pub async fn pending_confirmations_of(&self, user: &str, now_ms: i64, limit: u32) -> StoreResult<Vec<Confirmation>> {
        let rows = on_backend!(self, pool => sqlx::query_as::<_, RawConfirmation>(
            "SELECT * FROM confirmations WHERE requester = $1 AND state = 'pending' AND expires_at > $2 ORDER BY created_at DESC LIMIT $3",
        )
        .bind(user)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(Confirmation::try_from).collect()
    }

    pub async fn confirmation(&self, id: &str) -> StoreResult<Option<Confirmation>> {
        let row = on_backend!(self, pool => sqlx::query_as::<_, RawConfirmation>("SELECT * FROM confirmations WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(Confirmation::try_from).transpose()
    }

    /// Confirms or cancels a pending confirmation, once: of two clicks racing (on this
    /// replica or another), one decides.
    pub async fn decide(&self, id: &str, to: ConfirmationState, by: &str, now_ms: i64) -> StoreResult<Decision> {
        self.decide_then(id, to, by, now_ms, None).await
    }

    /// Confirms a pending confirmation and, in the same transaction, notes the write it
    /// starts (with its timers): a crash cannot leave a confirmed write unrecorded.
    pub async fn confirm_and_begin(&self, id: &str, by: &str, now_ms: i64, write: &WriteRow, timers: &[TimerRow]) -> StoreResult<Decision> {
        self.decide_then(id, ConfirmationState::Confirmed, by, now_ms, Some((write, timers))).await
    }

    async fn decide_then(
        &self,
        id: &str,
        to: ConfirmationState,
        by: &str,
        now_ms: i64,
        then: Option<(&WriteRow, &[TimerRow])>,
    ) -> StoreResult<Decision> {
        let done: u64 = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE confirmations SET state = $1, decided_by = $2, decided_at = $3
                 WHERE id = $4 AND state = 'pending' AND expires_at > $3",
            )
            .bind(to.as_str())
            .bind(by)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?.rows_affected();
            if let (1, Some((write, timers))) = (done, then) {
                begin_write_in!(tx, &*self.owner, now_ms + self.lease_ms, write, timers, now_ms);
            }
            tx.commit().await?;
            done
        });
        let Some(current) = self.confirmation(id).await? else {
            return Ok(Decision::NotFound);
        };
        if done == 1 {
            return Ok(Decision::Decided(current));
        }
        if current.state == ConfirmationState::Pending {
            // Pending but not decided: it expired. Only the click that marks it says so.
            let marked: u64 = on_backend!(self, pool => sqlx::query("UPDATE confirmations SET state = 'expired' WHERE id = $1 AND state = 'pending'")
                .bind(id)
                .execute(pool)
                .await?.rows_affected());
            let expired = Confirmation { state: ConfirmationState::Expired, ..current };
            return Ok(if marked == 1 { Decision::Expired(expired) } else { Decision::AlreadyDecided(expired) });
        }
        Ok(Decision::AlreadyDecided(current))
    }

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

    /// Remembers which job a launched run belongs to.
    pub async fn remember_run(&self, run: &KnownRun) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO runs (run_id, job, channel_id, launched_by, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(&run.run_id)
        .bind(&run.job)
        .bind(&run.channel_id)
        .bind(&run.launched_by)
        .bind(run.created_at)
        .execute(pool)
        .await?.rows_affected());
        Ok(())
    }

    /// The runs of a job the bot launched (and noted) since `since_ms`.
    pub async fn runs_launched_since(&self, job: &str, since_ms: i64) -> StoreResult<Vec<KnownRun>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, KnownRun>("SELECT * FROM runs WHERE job = $1 AND created_at >= $2")
            .bind(job)
            .bind(since_ms)
            .fetch_all(pool)
            .await?))
    }

    pub async fn known_run(&self, run_id: &str) -> StoreResult<Option<KnownRun>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, KnownRun>("SELECT * FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?))
    }
}

fn action(text: &str) -> StoreResult<Action> {
    Action::from_name(text).ok_or_else(|| StoreError::Corrupt(format!("unknown action `{text}`")))
}

/// A `confirmations` row as stored.
#[derive(sqlx::FromRow)]
struct RawConfirmation {
    id: String,
    created_at: i64,
    expires_at: i64,
    team_id: String,
    channel_id: String,
    requester: String,
    action: String,
    plan: String,
    second_person: bool,
    state: String,
    decided_by: Option<String>,
    decided_at: Option<i64>,
}

impl TryFrom<RawConfirmation> for Confirmation {
    type Error = StoreError;

    fn try_from(r: RawConfirmation) -> StoreResult<Confirmation> {
        Ok(Confirmation {
            state: ConfirmationState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown confirmation state `{}`", r.state)))?,
            request: NewConfirmation {
                id: r.id,
                created_at: r.created_at,
                expires_at: r.expires_at,
                team_id: r.team_id,
                channel_id: r.channel_id,
                requester: r.requester,
                action: action(&r.action)?,
                plan: r.plan,
                second_person: r.second_person,
            },
            decided_by: r.decided_by,
            decided_at: r.decided_at,
        })
    }
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
