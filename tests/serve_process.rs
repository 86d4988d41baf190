//! The real binary: `serve` starts from its environment, refuses to start without its
//! secrets, and on SIGTERM stops taking requests but finishes the work in flight.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::bot::{BOT_TOKEN, SECRET, form};
use tailerbot::sim::{Fault, FaultKind, SimOptions};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serve_refuses_to_start_without_its_secrets_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tailerbot.toml");
    std::fs::write(&config, tailerbot::config::EXAMPLE_TOML).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .arg("serve")
        .env_clear()
        .env("TAILERBOT_CONFIG", &config)
        .env("SLACK_BOT_TOKEN", "xoxb-secret-value")
        .env("TAILER_API_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLACK_SIGNING_SECRET"), "{stderr}");
    assert!(!stderr.contains("xoxb-secret-value"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_work_in_flight_finish() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("tailerbot.toml");
    let example = tailerbot::config::EXAMPLE_TOML.replace("https://hooks.slack.com/", &slack.response_url_prefix());
    std::fs::write(&config_path, example).unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .arg("serve")
        .env_clear()
        .env("TAILERBOT_CONFIG", &config_path)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", slack.api_url())
        .env("TAILER_API_URL", tailer.url())
        .env("TAILER_API_TOKEN", "t")
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("bot.db").display()))
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Ready once /readyz answers (the process needs a moment to open the port).
    let mut ready = false;
    for _ in 0..200 {
        if http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "serve became ready");

    // Tailer takes two seconds to answer this launch: the work is in flight at SIGTERM.
    tailer.sim.inject(Fault::new(Some("launch_job"), FaultKind::Delay { millis: 2_000 }, 1));
    let body = form(&[
        ("team_id", "T0001"),
        ("channel_id", "C0DATA"),
        ("user_id", "U0ANALYST"),
        ("command", "/tailer"),
        ("text", "launch iowa-prepare"),
        ("response_url", &slack.response_url("inflight")),
        ("trigger_id", "1.inflight.1"),
    ]);
    let response = common::post_signed(&http, &format!("{url}/slack/commands"), SECRET, chrono::Utc::now().timestamp(), body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(tailer.sim.wait_for_count("launch_job", 1, Duration::from_secs(5)).await, 1);
    assert!(slack.slack.events().is_empty(), "the launch is still in flight");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());

    // The launch finishes during shutdown, and its run card is flushed from the outbox.
    let events = slack.slack.wait_for(Duration::from_secs(15), |e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    let card = events.iter().find(|e| e.method == "chat.postMessage").expect("the card was delivered during shutdown");
    assert!(card.visible_text().contains("`iowa-prepare` (DEV) · run `20"), "{card:?}");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}
