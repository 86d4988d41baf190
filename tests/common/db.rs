//! Databases for the store's contract tests: a fresh SQLite file, or a fresh schema in
//! the PostgreSQL of `TAILERBOT_TEST_DATABASE_URL` (default: the local server's `test`
//! database, which CI starts).

use tailerbot::store::Store;

/// The PostgreSQL server the tests use.
pub fn postgres_url() -> String {
    std::env::var("TAILERBOT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One test's database; several [`Store`]s (replicas) can open it.
pub struct TestDb {
    pub url: String,
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb { url: format!("sqlite://{}", dir.path().join("store.db").display()), schema: None, _dir: Some(dir) }
    }

    /// A new, empty schema; panics with how to fix it when the server is unreachable.
    pub async fn postgres() -> TestDb {
        let base = postgres_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {base} ({e}). Start it (`.ci/run` does, and creates its `test` database) \
                 or point TAILERBOT_TEST_DATABASE_URL at one: these tests check the PostgreSQL backend and cannot pass without it"
            )
        });
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        TestDb { url: format!("{base}{separator}options=-c%20search_path%3D{schema}"), schema: Some(schema), _dir: None }
    }

    /// A replica's store on this database.
    pub async fn open(&self) -> Store {
        Store::connect(&self.url).await.expect("the store opens")
    }

    /// Drops the schema (PostgreSQL); a failed test leaves it behind for a look. A bot
    /// of the test may still be writing (its workers end with the runtime): when
    /// PostgreSQL picks the drop as a deadlock's victim, it is asked again (a few times).
    pub async fn finish(self) {
        if let Some(schema) = &self.schema {
            let admin = sqlx::PgPool::connect(&postgres_url()).await.unwrap();
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            for attempt in 1.. {
                match sqlx::query(&drop).execute(&admin).await {
                    Ok(_) => break,
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40P01") && attempt < 5 => continue,
                    Err(e) => panic!("cannot drop the test schema {schema}: {e}"),
                }
            }
            admin.close().await;
        }
    }
}
