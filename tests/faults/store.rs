//! The store unusable while the bot runs: SQLite locked by another connection holding a
//! write transaction past the busy timeout, PostgreSQL refusing the bot's writes. A command is still
//! answered in time, with an error and a reference the log carries too; `/readyz` says
//! not ready; nothing Slack accepted is sent twice; and once the store is back the bot
//! serves again and delivers what was queued before.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tailerbot::sim::SimOptions;
use tailerbot::slack::standin::{SlackEvent, StandinFault, StandinFaultKind};

use crate::common::bot::*;
use crate::common::logs;

/// Slack's own limit for the HTTP answer to a command.
const SLACK_DEADLINE: Duration = Duration::from_secs(3);

async fn ready(bot: &TestBot) -> u16 {
    bot.http.get(format!("{}/readyz", bot.url)).send().await.unwrap().status().as_u16()
}

/// Another connection to the bot's database that holds a write transaction.
async fn lock_store(bot: &TestBot) -> SqliteConnection {
    let path = bot.dir.path().join("bot.db");
    let mut other =
        SqliteConnection::connect_with(&SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display())).unwrap()).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO handled_requests (key, handled_at) VALUES ('held-by-another-process', 0)").execute(&mut other).await.unwrap();
    other
}

fn reference_in(text: &str) -> Option<String> {
    let start = text.find("ref `")? + 5;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_owned())
}

fn cards(events: &[SlackEvent]) -> usize {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).count()
}

#[tokio::test]
async fn a_store_locked_by_another_writer_is_answered_in_time_reported_not_ready_and_recovered_from() {
    let (_guard, logs) = logs::capture();
    let bot = TestBot::start_with(example_config(), SimOptions::default()).await;
    assert_eq!(ready(&bot).await, 200);

    // A card is queued while Slack is down; then the store is locked, then Slack is back.
    bot.slack.slack.inject(StandinFault {
        method: Some("chat.postMessage".into()),
        kind: StandinFaultKind::Status { status: 503 },
        times: 100,
    });
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    // The run is watched: its card is queued (in the same transaction).
    for _ in 0..400 {
        if bot.bot.store.active_watch_count().await.unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bot.bot.store.active_watch_count().await.unwrap(), 1, "the launch was followed");
    let mut other = lock_store(&bot).await;
    bot.slack.slack.clear_faults();

    assert_eq!(ready(&bot).await, 503, "a store that takes no writes is not ready");
    let (status, body) = tokio::time::timeout(SLACK_DEADLINE, bot.command(ANALYST, CHANNEL, "last iowa-prepare"))
        .await
        .expect("answered within Slack's three seconds");
    assert_eq!(status, 200, "not a 5xx: {body}");
    let trigger = bot.last_trigger();
    let said = bot
        .slack
        .slack
        .wait_for(Duration::from_secs(30), |e| e.iter().any(|e| e.method == "response_url" && e.ts.as_deref() == Some(trigger.as_str())))
        .await;
    let note = said
        .iter()
        .chain(std::iter::once(&as_event(&body)))
        .map(SlackEvent::visible_text)
        .find(|t| t.contains("database"))
        .unwrap_or_else(|| panic!("the user is told: {body} {said:?}"));
    assert!(note.contains("did nothing"), "{note}");
    let reference = reference_in(&note).expect("a reference");
    logs.assert_line("a locked store", "ERROR", &[&format!("reference={reference}"), "the store is unavailable", "locked"]);
    // The card goes out once: during the lock if it was claimed before, else after it.

    // The other writer is done: the bot serves again.
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(ready(&bot).await, 200);
    bot.command(ANALYST, CHANNEL, "last iowa-prepare").await;
    let again = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(again.contains("iowa-prepare") && !again.contains(":warning:"), "{again}");
    let events = bot.wait(|e| e.iter().any(|e| e.thread_ts.is_some())).await;
    assert_eq!(cards(&events), 1, "the card was not sent again");
    // The queue drains: everything queued before and during the lock is delivered.
    let mut depth = bot.bot.store.outbox_depth().await.unwrap().0;
    for _ in 0..400 {
        if depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        depth = bot.bot.store.outbox_depth().await.unwrap().0;
    }
    assert_eq!(depth, 0, "the queue drains");
}

/// The rights of a PostgreSQL role of the test's own, on the test's schema.
async fn grant(schema: &str, role: &str, write: bool) {
    let admin = sqlx::PgPool::connect(&crate::common::db::postgres_url()).await.unwrap();
    let sql = if write {
        format!("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
    } else {
        format!("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} FROM {role}")
    };
    sqlx::query(&sql).execute(&admin).await.unwrap();
    admin.close().await;
}

#[tokio::test]
async fn a_postgres_store_refusing_writes_is_answered_in_time_reported_not_ready_and_recovered_from() {
    if crate::common::db::postgres_skipped() {
        return;
    }
    let (_guard, logs) = logs::capture();
    let db = crate::common::db::TestDb::postgres().await;
    let schema = db.schema.clone().unwrap();
    // The tables are made (migrated) by the test; the bot logs in as a role that may only
    // read and write them, so that its writes can be taken away while it runs.
    db.open().await.close().await;
    let role = format!("bot_{}", &schema[2..14]);
    let admin = sqlx::PgPool::connect(&crate::common::db::postgres_url()).await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    grant(&schema, &role, true).await;
    let url = db.url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(url, db.url, "the test database URL names the postgres user");
    let bot = TestBot::start_on(example_config(), SimOptions::default(), Some(url)).await;
    assert_eq!(ready(&bot).await, 200);

    grant(&schema, &role, false).await;
    assert_eq!(ready(&bot).await, 503, "a store that refuses writes is not ready");
    let (status, body) = tokio::time::timeout(SLACK_DEADLINE, bot.command(ANALYST, CHANNEL, "last iowa-prepare"))
        .await
        .expect("answered within Slack's three seconds");
    assert_eq!(status, 200, "not a 5xx: {body}");
    let note = as_event(&body).visible_text();
    assert!(note.contains("did nothing"), "the user is told: {note}");
    let reference = reference_in(&note).expect("a reference");
    logs.assert_line("a store refusing writes", "ERROR", &[&format!("reference={reference}"), "permission denied"]);
    assert_eq!(bot.tailer.sim.count("get_last_status"), 0, "nothing done");

    grant(&schema, &role, true).await;
    assert_eq!(ready(&bot).await, 200);
    bot.command(ANALYST, CHANNEL, "last iowa-prepare").await;
    let again = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(again.contains("iowa-prepare") && !again.contains(":warning:"), "{again}");
    // The bot stops in the background: end its sessions (and keep it from opening new
    // ones) before the schema is dropped, or the drop and its last writes can deadlock.
    drop(bot);
    sqlx::query(&format!("ALTER ROLE {role} NOLOGIN")).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1").bind(&role).execute(&admin).await.unwrap();
    db.finish().await;
    let _ = sqlx::query(&format!("DROP ROLE {role}")).execute(&admin).await;
    admin.close().await;
}

/// PostgreSQL: a replica takes a channel's turn in the database before it posts there
/// (the pace shared between replicas). When the store cannot give the turn, the post
/// waits, without counting a try, and goes out once it can: never past the pace, never
/// twice.
#[tokio::test]
async fn a_post_whose_channel_turn_the_store_cannot_give_waits_and_goes_out_once_it_can() {
    if crate::common::db::postgres_skipped() {
        return;
    }
    let (_guard, logs) = logs::capture();
    let db = crate::common::db::TestDb::postgres().await;
    let schema = db.schema.clone().unwrap();
    db.open().await.close().await;
    let role = format!("pace_{}", &schema[2..14]);
    let admin = sqlx::PgPool::connect(&crate::common::db::postgres_url()).await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    grant(&schema, &role, true).await;
    // Everything but the channels' pace may be written.
    sqlx::query(&format!("REVOKE INSERT, UPDATE, DELETE ON {schema}.channel_pace FROM {role}")).execute(&admin).await.unwrap();
    let url = db.url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let bot = TestBot::start_on(example_config(), SimOptions::default(), Some(url)).await;

    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let mut refused = Vec::new();
    for _ in 0..400 {
        refused = logs.lines("WARN", &["cannot read the channel's pace", "permission denied"]);
        if !refused.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!refused.is_empty(), "the refused turn is logged: {}", logs.text());
    assert_eq!(cards(&bot.slack.slack.events()), 0, "no post without the channel's turn");
    let (pending, attempts): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*), COALESCE(MAX(attempts), 0) FROM {schema}.outbox WHERE state = 'pending' AND method = 'post'"
    ))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(pending >= 1 && attempts == 0, "the card waits, without a try counted: {pending} pending, {attempts} tries");

    sqlx::query(&format!("GRANT INSERT, UPDATE, DELETE ON {schema}.channel_pace TO {role}")).execute(&admin).await.unwrap();
    let events = bot.wait(|e| cards(e) == 1).await;
    assert_eq!(cards(&events), 1, "posted once the turn is given");
    let turns: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {schema}.channel_pace")).fetch_one(&admin).await.unwrap();
    assert_eq!(turns, 1, "the channel's turn is recorded");

    drop(bot);
    sqlx::query(&format!("ALTER ROLE {role} NOLOGIN")).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1").bind(&role).execute(&admin).await.unwrap();
    db.finish().await;
    let _ = sqlx::query(&format!("DROP ROLE {role}")).execute(&admin).await;
    admin.close().await;
}
