//! The Slack stand-in served beside the simulator (`tailerbot sim --slack-standin`): it
//! counts `response_url` posts per key, so that a load can check each command was
//! answered exactly once.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use serde_json::{Value, json};
use tailerbot::slack::standin::SlackStandin;

async fn post(http: &reqwest::Client, url: &str) -> u16 {
    http.post(url).json(&json!({"text": "hi"})).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn response_url_posts_are_counted_per_key_and_filtered_by_prefix() {
    tailerbot::tls::install_crypto_provider();
    let slack = SlackStandin::new("xoxb-t").counting_responses().start(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let http = reqwest::Client::new();
    for key in ["run1.0.1", "run1.0.1", "run1.0.2", "other.0.1"] {
        assert_eq!(post(&http, &slack.response_url(key)).await, 200);
    }
    let base = format!("http://{}", slack.addr);
    let full: Value = http.get(format!("{base}/_standin/responses?prefix=run1.")).send().await.unwrap().json().await.unwrap();
    assert_eq!(full, json!({"total": 3, "distinct": 2, "keys": {"run1.0.1": 2, "run1.0.2": 1}}));
    let summary: Value =
        http.get(format!("{base}/_standin/responses?prefix=run1.&summary=true")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary, json!({"total": 3, "distinct": 2}));
    // Counted, not kept: memory stays flat under load.
    assert!(slack.slack.events().is_empty());
    assert_eq!(slack.slack.response_counts().get("other.0.1"), Some(&1));
}

#[tokio::test]
async fn a_stand_in_that_keeps_events_counts_them_too() {
    tailerbot::tls::install_crypto_provider();
    let slack = SlackStandin::new("xoxb-t").start(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    assert_eq!(post(&reqwest::Client::new(), &slack.response_url("k")).await, 200);
    assert_eq!(slack.slack.events().len(), 1);
    assert_eq!(slack.slack.response_counts().get("k"), Some(&1));
}

#[test]
fn the_sim_refuses_a_slack_stand_in_without_a_bot_token() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["sim", "--port", "0", "--slack-standin", "0"]).env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--slack-standin needs --slack-token"));
}

/// A wait that times out is a failure: `wait_for` panics naming the line that waited;
/// `within` says it ran out, with what came.
#[tokio::test(start_paused = true)]
async fn a_wait_for_events_that_never_come_fails_naming_where_it_waited() {
    tailerbot::tls::install_crypto_provider();
    let slack = SlackStandin::new("xoxb-t").start(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    assert_eq!(post(&reqwest::Client::new(), &slack.response_url("k")).await, 200);
    let came = slack.slack.within(std::time::Duration::from_secs(5), |e| e.len() >= 2).await;
    assert_eq!(came.map_err(|events| events.len()), Err(1), "ran out, with the one event that came");
    assert_eq!(slack.slack.within(std::time::Duration::from_secs(5), |e| e.len() == 1).await.map(|e| e.len()), Ok(1));
    let waited = tokio::spawn(async move { slack.slack.wait_for(std::time::Duration::from_secs(5), |e| e.len() >= 2).await });
    let panic = waited.await.expect_err("the wait fails").into_panic();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("tests/standin.rs:") && message.contains("did not come"), "{message}");
}
