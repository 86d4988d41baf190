//! What the container relies on, tested without a Docker engine: the health check the
//! image runs, and the binary serving as an unprivileged user.

mod common;

use std::process::Command;

use common::process::{ServeEnv, database, serve, write_config};
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
    // Cannot run here: a failure that says why, not a pass that hides the gap.
    assert!(is_root, "this test switches to an unprivileged user (as the image does), which needs root: run the tests as root (CI does)");
    assert!(
        Command::new("setpriv").arg("--version").output().is_ok(),
        "this test switches users with `setpriv` (util-linux), which is missing: install util-linux"
    );
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // The image's data volume belongs to the unprivileged user, nothing else does.
    Command::new("chmod").args(["0777"]).arg(dir.path()).status().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let mut serve = ServeEnv::new(&config_path, &database(dir.path()), &slack.api_url(), &tailer.url()).run_as(65532).spawn();
    let ready = serve.ready().await;
    let owner = Command::new("stat").args(["-c", "%u"]).arg(dir.path().join("bot.db")).output().unwrap();
    drop(serve);
    assert!(ready, "ready as uid 65532, its database writable");
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), "65532", "the database belongs to the unprivileged user");
}

/// The image builds the workspace from what the Dockerfile copies: every member the
/// manifest names is copied before the first build (cargo refuses a workspace with a
/// member missing).
#[test]
fn the_image_build_copies_every_member_of_the_workspace() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml")).unwrap().parse().unwrap();
    let members: Vec<String> =
        manifest["workspace"]["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).filter(|m| m != ".").collect();
    assert!(!members.is_empty());
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let before_first_build = dockerfile.split("cargo build").next().unwrap();
    let copied: Vec<&str> =
        before_first_build.lines().filter_map(|l| l.strip_prefix("COPY ")).filter_map(|l| l.split_whitespace().next()).collect();
    for member in &members {
        assert!(
            copied.iter().any(|c| member == c || member.starts_with(&format!("{}/", c.trim_end_matches('/')))),
            "the Dockerfile does not copy {member} before building: {copied:?}"
        );
    }
}

/// The image carries no configuration of its own: a first deploy without one stops and
/// says what to give it, rather than running the example's jobs.
#[test]
fn the_image_runs_no_configuration_but_the_one_it_is_given() {
    let dockerfile = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("TAILERBOT_CONFIG=/etc/tailerbot/tailerbot.toml"), "it looks where a mounted file goes");
    assert!(!dockerfile.contains("/out/etc/tailerbot/tailerbot.toml"), "and puts nothing there itself");
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .arg("serve")
        .env_clear()
        .env("TAILERBOT_CONFIG", "/nonexistent/etc/tailerbot/tailerbot.toml")
        .env("SLACK_SIGNING_SECRET", "s")
        .env("SLACK_BOT_TOKEN", "xoxb-t")
        .env("TAILER_API_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TAILERBOT_CONFIG_TOML"), "{}", String::from_utf8_lossy(&out.stderr));
}
