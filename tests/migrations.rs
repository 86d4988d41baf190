//! The two sets of migrations describe one store: the same versions in the same order,
//! and, once applied, the same tables with the same columns on SQLite and PostgreSQL,
//! but for the few that only several replicas need.

mod common;

use std::collections::BTreeMap;

use common::db::TestDb;

/// The versions and names of a folder's migrations (`0003_replicas.sql` → `0003_replicas`).
fn versions(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".sql").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let (sqlite, postgres) = (versions("sqlite"), versions("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "a migration written for one backend only");
}

/// Table → its columns, sorted, without the migrator's own table.
type Shape = BTreeMap<String, Vec<String>>;

/// What only several replicas need (migration 10): each lane's first pending message,
/// kept by a trigger for their claims, and a channel's pace, shared between them. An
/// SQLite file has one replica.
const POSTGRES_ONLY: [&str; 2] = ["channel_pace", "lane_heads"];

async fn sqlite_shape(url: &str) -> Shape {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut shape = Shape::new();
    for table in tables {
        let mut columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')")).fetch_all(&pool).await.unwrap();
        columns.sort();
        shape.insert(table, columns);
    }
    pool.close().await;
    shape
}

async fn postgres_shape(db: &TestDb) -> Shape {
    let pool = sqlx::PgPool::connect(&common::db::postgres_url()).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name NOT LIKE '_sqlx%'",
    )
    .bind(db.schema.as_deref().unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut shape = Shape::new();
    for (table, column) in rows {
        shape.entry(table).or_default().push(column);
    }
    shape.values_mut().for_each(|columns| columns.sort());
    shape
}

#[tokio::test]
async fn both_backends_build_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite();
    sqlite.open().await.close().await;
    let sqlite_tables = sqlite_shape(&sqlite.url).await;
    assert!(sqlite_tables.contains_key("outbox") && sqlite_tables.contains_key("writes"), "{sqlite_tables:?}");
    let postgres = TestDb::postgres().await;
    postgres.open().await.close().await;
    let mut postgres_tables = postgres_shape(&postgres).await;
    for table in POSTGRES_ONLY {
        assert!(postgres_tables.remove(table).is_some(), "{table} on PostgreSQL");
        assert!(!sqlite_tables.contains_key(table), "{table} is PostgreSQL's only");
    }
    assert_eq!(sqlite_tables, postgres_tables, "the backends' stores differ");
    postgres.finish().await;
}
