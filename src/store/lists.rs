//! Lists of rows or names passed to a statement as one query parameter: a JSON array,
//! read back in SQL by each backend's own way (`json_each` on SQLite, `jsonb` functions on
//! PostgreSQL). One statement then serves a whole batch.

use super::{StoreError, StoreResult};

/// `items` as one query parameter: a JSON array.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A subquery listing the text values of the [`json_list`] bound at `param`, on the
/// backend whose row-locking clause is `lock` (empty: SQLite).
pub(super) fn listed(lock: &str, param: &str) -> String {
    if lock.is_empty() {
        format!("SELECT value FROM json_each({param})")
    } else {
        format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))")
    }
}
