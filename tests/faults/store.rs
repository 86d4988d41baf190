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
        if bot.bot.store().active_watch_count().await.unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bot.bot.store().active_watch_count().await.unwrap(), 1, "the launch was followed");
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
    let mut depth = bot.bot.store().outbox_depth().await.unwrap().0;
    for _ in 0..400 {
        if depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        depth = bot.bot.store().outbox_depth().await.unwrap().0;
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
    bot.settle().await;
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

/// A small disk of the test's own (a tmpfs mounted in a temporary folder; needs root,
/// as CI is), to be filled while the bot's SQLite file is on it.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tailerbot-test", &dir.path().display().to_string()])
            .output()
            .expect("`mount` runs");
        assert!(
            out.status.success(),
            "this test fills a 16 MB tmpfs it mounts, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills every byte left.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path().join("filler")).unwrap();
        for size in [1 << 20, 4096, 1] {
            let chunk = vec![0u8; size];
            while filler.write_all(&chunk).and_then(|()| filler.flush()).is_ok() {}
        }
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").args(["-l", &self.dir.path().display().to_string()]).status();
    }
}

/// CPU time the process used so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `/readyz` of a running process: its status and body.
async fn readyz(url: &str) -> (u16, String) {
    let response = reqwest::get(format!("{url}/readyz")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls `/readyz` (every 100 ms, at most `limit`) until it answers `status`.
async fn readyz_becomes(url: &str, status: u16, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (now, body) = readyz(url).await;
        if now == status {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz still answers {now} ({body}) after {limit:?}, not {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_bot_not_ready_and_quiet_and_it_recovers_by_itself() {
    use crate::common::process::{ServeEnv, command_answer, write_config};
    let disk = SmallDisk::mount();
    let dir = tempfile::tempdir().unwrap();
    let (tailer, slack) = crate::common::world(SimOptions::default()).await;
    let config = write_config(dir.path(), &slack.response_url_prefix());
    let database = format!("sqlite://{}", disk.path().join("bot.db").display());
    let serve = ServeEnv::new(&config, &database, &slack.api_url(), &tailer.url()).ready().await;
    let logs = serve.logs.clone();
    let ask = |trigger: &'static str, text: &'static str| {
        let (url, response_url) = (serve.url.clone(), slack.response_url(trigger));
        async move { command_answer(&url, &response_url, trigger, ANALYST, CHANNEL, text).await }
    };
    // A run being followed: the watcher has work to claim every second.
    assert_eq!(ask("1.disk.1", "launch iowa-prepare").await.0, 200);
    slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "chat.postMessage")).await;

    // The journal emptied into the file, then not a byte left: every write must grow it.
    let mut file = SqliteConnection::connect_with(&SqliteConnectOptions::from_str(&database).unwrap()).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut file).await.unwrap();
    file.close().await.unwrap();
    disk.fill();

    let (status, body) = tokio::time::timeout(SLACK_DEADLINE, ask("1.disk.2", "launch iowa-prepare")).await.expect("answered in time");
    assert_eq!(status, 200, "{body}");
    assert!(as_event(&body).visible_text().contains("did nothing"), "the user is told: {body}");
    let cause = readyz_becomes(&serve.url, 503, Duration::from_secs(10)).await;
    assert!(cause.contains("full"), "/readyz names the cause: {cause}");

    // Failing, the bot is quiet: a few lines, not one a pass; a sliver of a core.
    let (lines_before, ticks_before) = (logs.len(), cpu_ticks(serve.child.id()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (lines, ticks) = (logs.lines()[lines_before..].to_vec(), cpu_ticks(serve.child.id()) - ticks_before);
    assert!(lines.len() <= 4, "{} log lines in 3 s while the disk is full:\n{}", lines.len(), lines.join("\n"));
    assert!(ticks <= 60, "{ticks} ticks of CPU in 3 s while the disk is full");
    assert_eq!(readyz(&serve.url).await.0, 503, "still not ready while full");

    // Room again: ready by itself, and serving.
    disk.free();
    readyz_becomes(&serve.url, 200, Duration::from_secs(30)).await;
    let (status, body) = ask("1.disk.3", "jobs").await;
    assert_eq!(status, 200);
    assert!(as_event(&body).visible_text().contains("iowa-prepare"), "{body}");
    assert_eq!(tailer.sim.count("launch_job"), 1, "the launch refused while full was never made");
    let all = logs.text();
    let claims = all.lines().filter(|l| l.contains("cannot claim the watched runs")).count();
    assert!((1..=2).contains(&claims), "the watcher's failure said once (then once a minute): {claims}\n{all}");
    drop(serve);
}

/// A TCP relay to PostgreSQL that the test can turn into a black hole: after `cut`,
/// every connection, open or new, is held and nothing more goes through either way (a
/// database that stopped answering, the worst kind of unreachable).
async fn relay_to_postgres() -> (u16, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut = tokio_util::sync::CancellationToken::new();
    let cut_here = cut.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            if cut_here.is_cancelled() {
                held.push(inbound);
                continue;
            }
            let cut = cut_here.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect("127.0.0.1:5432").await.unwrap();
                let silenced = tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                    () = cut.cancelled() => true,
                };
                // The database's side is closed (its session ends, its locks go); the
                // bot's side is held open, silent, until the test ends.
                drop(outbound);
                if silenced {
                    std::future::pending::<()>().await;
                }
                drop(inbound);
            });
        }
    });
    (port, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_keeps_its_deadline_when_the_database_stops_answering() {
    use crate::common::process::{ServeEnv, command_answer, write_config};
    let db = crate::common::db::TestDb::postgres().await;
    let (port, cut) = relay_to_postgres().await;
    let through_relay = db.url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{port}"), 1);
    assert_ne!(through_relay, db.url, "the test database is the local server");
    let dir = tempfile::tempdir().unwrap();
    let (tailer, slack) = crate::common::world(SimOptions::default()).await;
    let config = write_config(dir.path(), &slack.response_url_prefix());
    let mut serve = ServeEnv::new(&config, &through_relay, &slack.api_url(), &tailer.url()).ready().await;
    // Work in flight: a run followed, its card queued or sent.
    let trigger = "1.deadline.1";
    assert_eq!(command_answer(&serve.url, &slack.response_url(trigger), trigger, ANALYST, CHANNEL, "launch iowa-prepare").await.0, 200);
    slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    cut.cancel();
    let signalled = tokio::time::Instant::now();
    let status = serve.terminate().await;
    let took = signalled.elapsed();
    // Documented: 8 s for the work in flight, then a second at most for the last words
    // with the store; Cloud Run kills at 10 s.
    assert!(took < Duration::from_secs(10), "stopped {took:?} after SIGTERM with the database silent");
    assert!(status.success(), "{status:?}");
    drop(serve);
    db.finish().await;
}
