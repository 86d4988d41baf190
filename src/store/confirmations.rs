//! Confirmations: asked, listed, decided once (of two racing clicks, one decides), and
//! confirmed together with the write they start.

use super::audit::action;
use super::writes::begin_write_in;
use super::{Confirmation, ConfirmationState, Decision, NewConfirmation, Store, StoreError, StoreResult, TimerRow, WriteRow, on_backend};

impl Store {
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
