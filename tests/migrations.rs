//! The two sets of migrations describe one store: the same versions in the same order,
//! and, once applied, the same tables with the same columns on SQLite and PostgreSQL,
//! but for the few that only several replicas need; a populated store of every earlier
//! version upgrades with nothing lost.

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

/// What only several replicas need (migration 10): a channel's pace, shared between
/// them. An SQLite file has one replica. (Each lane's first pending message, kept beside
/// the outbox from the same migration, SQLite keeps too since migration 16.)
const POSTGRES_ONLY: [&str; 1] = ["channel_pace"];

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

/// Columns a start changes on purpose: the claims of the replicas that were running are
/// freed (on SQLite, the one that stopped), whatever the version.
const FREED_AT_START: [&str; 2] = ["lease_owner", "lease_until"];

/// Reads every expected value back; the differences, all of them.
fn lost(k: usize, expected: &[(String, String, String)], read: impl Fn(&str, &str) -> Vec<Option<String>>) -> Vec<String> {
    expected
        .iter()
        .filter(|(_, column, _)| !FREED_AT_START.contains(&column.as_str()))
        .filter_map(|(table, column, value)| {
            let got = read(table, column);
            (got != [Some(value.clone())]).then(|| format!("version {k}: {table}.{column} reads {got:?}, was {value:?}"))
        })
        .collect()
}

/// One row in every table of a database, made of values that name the version, table and
/// column they were written under (an integer column gets the column's position), as
/// SQL literals; and what each column must read back as (its value as text).
fn a_row_each(k: usize, columns: &[(String, String, String)], boolean_true: &str) -> (Vec<String>, Vec<(String, String, String)>) {
    let mut by_table: BTreeMap<&str, Vec<(&str, String, String)>> = BTreeMap::new();
    for (n, (table, column, kind)) in columns.iter().enumerate() {
        let kind = kind.to_ascii_uppercase();
        let (literal, text) = if kind.contains("INT") {
            (n.to_string(), n.to_string())
        } else if kind.contains("BOOL") {
            ("TRUE".to_owned(), boolean_true.to_owned())
        } else {
            let v = format!("v{k}.{table}.{column}");
            (format!("'{v}'"), v)
        };
        by_table.entry(table).or_default().push((column, literal, text));
    }
    let mut inserts = Vec::new();
    let mut expected = Vec::new();
    for (table, cols) in by_table {
        let names: Vec<&str> = cols.iter().map(|(c, _, _)| *c).collect();
        let values: Vec<&str> = cols.iter().map(|(_, l, _)| l.as_str()).collect();
        inserts.push(format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), values.join(", ")));
        expected.extend(cols.into_iter().map(|(c, _, t)| (table.to_owned(), c.to_owned(), t)));
    }
    (inserts, expected)
}

/// A new SQLite store with only its first `k` migrations applied, open.
async fn sqlite_store_of_version(k: usize) -> (TestDb, sqlx::SqlitePool) {
    use std::str::FromStr;
    let db = TestDb::sqlite();
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url).unwrap().create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let mut earlier = sqlx::migrate!("migrations/sqlite");
    earlier.migrations = std::borrow::Cow::Owned(earlier.migrations[..k].to_vec());
    earlier.run(&pool).await.unwrap();
    (db, pool)
}

/// A store of every earlier version (its first `k` migrations applied), a row in each
/// of its tables, upgraded by this version's `Store::connect`: every row and every value
/// is still there.
#[tokio::test]
async fn a_populated_sqlite_store_of_every_earlier_version_upgrades_with_nothing_lost() {
    let all = sqlx::migrate!("migrations/sqlite");
    assert!(all.migrations.len() >= 13);
    for k in 1..all.migrations.len() {
        let (db, pool) = sqlite_store_of_version(k).await;
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' ORDER BY m.name, p.cid",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let (inserts, expected) = a_row_each(k, &columns, "1");
        for insert in &inserts {
            sqlx::query(insert).execute(&pool).await.unwrap_or_else(|e| panic!("version {k}: {insert}: {e}"));
        }
        pool.close().await;

        db.open().await.close().await;
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let mut read = BTreeMap::new();
        for (table, column, _) in &expected {
            let values: Vec<Option<String>> =
                sqlx::query_scalar(&format!("SELECT CAST({column} AS TEXT) FROM {table}")).fetch_all(&pool).await.unwrap();
            read.insert((table.clone(), column.clone()), values);
        }
        let lost = lost(k, &expected, |t, c| read[&(t.to_owned(), c.to_owned())].clone());
        assert!(lost.is_empty(), "{lost:#?}");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
        assert_eq!(applied as usize, all.migrations.len(), "version {k}: upgraded to the last");
        pool.close().await;
    }
}

#[tokio::test]
async fn a_populated_postgres_store_of_every_earlier_version_upgrades_with_nothing_lost() {
    let all = sqlx::migrate!("migrations/postgres");
    for k in 1..all.migrations.len() {
        let db = TestDb::postgres().await;
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut earlier = sqlx::migrate!("migrations/postgres");
        earlier.migrations = std::borrow::Cow::Owned(all.migrations[..k].to_vec());
        earlier.run(&pool).await.unwrap();
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name NOT LIKE '_sqlx%' AND is_identity = 'NO' ORDER BY table_name, ordinal_position",
        )
        .bind(db.schema.as_deref().unwrap())
        .fetch_all(&pool)
        .await
        .unwrap();
        let (inserts, expected) = a_row_each(k, &columns, "true");
        for insert in &inserts {
            sqlx::query(insert).execute(&pool).await.unwrap_or_else(|e| panic!("version {k}: {insert}: {e}"));
        }
        pool.close().await;

        db.open().await.close().await;
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut read = BTreeMap::new();
        for (table, column, _) in &expected {
            let values: Vec<Option<String>> =
                sqlx::query_scalar(&format!("SELECT {column}::text FROM {table}")).fetch_all(&pool).await.unwrap();
            read.insert((table.clone(), column.clone()), values);
        }
        let lost = lost(k, &expected, |t, c| read[&(t.to_owned(), c.to_owned())].clone());
        assert!(lost.is_empty(), "{lost:#?}");
        pool.close().await;
        db.finish().await;
    }
}

/// Messages still waiting when a store of version 15 is upgraded: SQLite keeps each lane's
/// first pending message beside the outbox from migration 16 on, filled from the outbox
/// by the migration. Each lane's first pending message is claimed, then the next once it
/// is sent; a lane with none left waits for nothing.
#[tokio::test]
async fn messages_pending_in_an_sqlite_store_of_version_15_are_all_sent_after_the_upgrade() {
    let all = sqlx::migrate!("migrations/sqlite");
    let k = all.migrations.iter().position(|m| m.version == 16).expect("migration 16");
    let (db, pool) = sqlite_store_of_version(k).await;
    // Lane a: one sent, two waiting; lane b: one waiting; lane c: only a message given up.
    for (id, lane, text, state) in [
        (1, "card:a", "a1", "sent"),
        (2, "card:a", "a2", "pending"),
        (3, "card:b", "b3", "pending"),
        (4, "card:a", "a4", "pending"),
        (5, "notice:c", "c5", "failed"),
    ] {
        let body = serde_json::json!({ "text": text, "blocks": [] }).to_string();
        sqlx::query(
            "INSERT INTO outbox (id, lane, method, channel_id, in_thread, root, broadcast, body, created_at, next_attempt_at, state, urgency)
             VALUES ($1, $2, 'post', 'C0DATA', FALSE, FALSE, FALSE, $3, 0, 0, $4, 0)",
        )
        .bind(id)
        .bind(lane)
        .bind(body)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = db.open().await;
    let texts = |rows: &[tailerbot::outbox::OutboxRow]| rows.iter().map(|r| r.message.body.text.clone()).collect::<Vec<_>>();
    let first = store.claim_outbox(1, 10).await.unwrap();
    assert_eq!(texts(&first), ["a2", "b3"], "each lane's first message waiting, and no other");
    for row in &first {
        store.outbox_sent(row, None).await.unwrap();
    }
    let next = store.claim_outbox(2, 10).await.unwrap();
    assert_eq!(texts(&next), ["a4"], "then the next of its lane");
    store.outbox_sent(&next[0], None).await.unwrap();
    assert!(store.claim_outbox(3, 10).await.unwrap().is_empty(), "then nothing");
    assert_eq!(store.outbox_next_due().await.unwrap(), None, "and nothing is due later");
    store.close().await;
}
