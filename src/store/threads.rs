//! The threads of lanes: where the replies of a lane go (the `ts` of its root message,
//! a run's card), and the lane a thread belongs to.

use super::{Store, StoreResult, on_backend};

impl Store {
    /// The threads of lanes, in one read: lane → `ts` of its root message.
    pub async fn threads(&self, lanes: &[&str]) -> StoreResult<std::collections::HashMap<String, String>> {
        if lanes.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let found: Vec<(String, String)> = on_backend!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT lane, ts FROM threads WHERE lane IN (");
            let mut list = query.separated(", ");
            for lane in lanes {
                list.push_bind(*lane);
            }
            query.push(")");
            query.build_query_as::<(String, String)>().fetch_all(pool).await?
        });
        Ok(found.into_iter().collect())
    }

    /// The root message of a lane: `(channel, ts)`.
    pub async fn thread(&self, lane: &str) -> StoreResult<Option<(String, String)>> {
        Ok(on_backend!(self, pool => sqlx::query_as::<_, (String, String)>("SELECT channel_id, ts FROM threads WHERE lane = $1")
            .bind(lane)
            .fetch_optional(pool)
            .await?))
    }

    /// The lane whose root message is `ts` in `channel` (a card's, for a reply in its
    /// thread).
    pub async fn lane_of_thread(&self, channel: &str, ts: &str) -> StoreResult<Option<String>> {
        Ok(on_backend!(self, pool => sqlx::query_scalar::<_, String>("SELECT lane FROM threads WHERE channel_id = $1 AND ts = $2")
            .bind(channel)
            .bind(ts)
            .fetch_optional(pool)
            .await?))
    }

    /// Whether the first message of a lane was given up on (its thread will never exist).
    pub async fn lane_root_failed(&self, lane: &str) -> StoreResult<bool> {
        Ok(
            on_backend!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE lane = $1 AND root AND state = 'failed'")
            .bind(lane)
            .fetch_one(pool)
            .await?)
                > 0,
        )
    }

    /// Records a lane's root that was posted some other way (a confirmation message).
    pub async fn set_thread(&self, lane: &str, channel: &str, ts: &str) -> StoreResult<()> {
        on_backend!(self, pool => sqlx::query("INSERT INTO threads (lane, channel_id, ts) VALUES ($1, $2, $3) ON CONFLICT (lane) DO NOTHING")
            .bind(lane)
            .bind(channel)
            .bind(ts)
            .execute(pool)
            .await?.rows_affected());
        Ok(())
    }
}
