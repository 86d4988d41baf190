//! What the container relies on, tested without a Docker engine: the health check the
//! image runs, and the binary serving as an unprivileged user.

mod common;

use std::process::Command;

use common::bot::BOT_TOKEN;
use common::process::{database, serve, write_config};
use tailerbot::sim::SimOptions;

fn healthcheck(url: &str) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["healthcheck", "--url", url]).env_clear().status().unwrap().code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_passes_against_a_live_bot_and_fails_against_nothing() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let bot = serve(&config_path, &database(dir.path()), &slack.api_url(), &tailer.url()).await;
    let url = format!("{}/healthz", bot.url);
    assert_eq!(tokio::task::spawn_blocking(move || healthcheck(&url)).await.unwrap(), Some(0));
    assert!(bot.stop().await.success());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert_eq!(healthcheck(&format!("http://{closed}/healthz")), Some(1));
}

#[test]
fn the_healthcheck_reads_port_by_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).arg("healthcheck").env_clear().env("PORT", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1/healthz"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_serves_as_an_unprivileged_user() {
    let is_root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    if !is_root || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: switching to an unprivileged user needs root and setpriv");
        return;
    }
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // The image's data volume belongs to the unprivileged user, nothing else does.
    Command::new("chmod").args(["0777"]).arg(dir.path()).status().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new("setpriv")
        .args(["--reuid=65532", "--regid=65532", "--clear-groups", env!("CARGO_BIN_EXE_tailerbot"), "serve"])
        .env_clear()
        .env("TAILERBOT_CONFIG", &config_path)
        .env("SLACK_SIGNING_SECRET", "s")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", slack.api_url())
        .env("TAILER_API_URL", tailer.url())
        .env("TAILER_API_TOKEN", "t")
        .env("DATABASE_URL", database(dir.path()))
        .env("PORT", port.to_string())
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let mut status = None;
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(&ready).await {
            status = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let owner = Command::new("stat").args(["-c", "%u"]).arg(dir.path().join("bot.db")).output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, Some(200), "ready as uid 65532, its database writable");
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), "65532", "the database belongs to the unprivileged user");
}
