//! `/metrics` in Prometheus format, and `LOG_FORMAT=json` lines as Cloud Logging reads
//! them, with the request's ids on them and no secret anywhere.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bot::*;
use tailerbot::sim::{SimOptions, Simulator};
use tailerbot::slack::standin::SlackStandin;

#[tokio::test]
async fn metrics_count_requests_tailer_and_slack_calls_and_show_the_backlog() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    bot.http.post(format!("{}/slack/commands", bot.url)).body("x=1").send().await.unwrap();
    let text = bot.http.get(format!("{}/metrics", bot.url)).send().await.unwrap().text().await.unwrap();
    for expected in [
        "tailerbot_requests_total{endpoint=\"/slack/commands\",outcome=\"ok\"}",
        "tailerbot_requests_total{endpoint=\"/slack/commands\",outcome=\"unauthorized\"}",
        "tailerbot_ack_seconds_bucket{endpoint=\"/slack/commands\"",
        "tailerbot_tailer_calls_total{action=\"launch_job\",outcome=\"ok\"}",
        "tailerbot_tailer_call_seconds_bucket{action=\"launch_job\"",
        "tailerbot_slack_calls_total{method=\"chat.postMessage\",outcome=\"ok\"}",
        "tailerbot_outbox_depth",
        "tailerbot_outbox_oldest_seconds",
        "tailerbot_watched_runs",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_cloud_logging_fields_and_request_ids_and_no_secret() {
    tailerbot::tls::install_crypto_provider();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = tailerbot::cli::embedded_config();
    let secrets = ["SIGNING-SECRET-do-not-log", "xoxb-VERY-SECRET-bot-token", "tailer-TOKEN-do-not-log"];
    // The simulator accepts the bot's token at start, then refuses the launch with a 401.
    let tailer = Simulator::start(
        SimOptions { token: Some(secrets[2].into()), ..SimOptions::default() }
            .with_catalog(tailerbot::offline::configurations(&config.jobs)),
        local,
    )
    .await
    .unwrap();
    tailer.sim.inject(tailerbot::sim::Fault::new(
        Some("launch_job"),
        tailerbot::sim::FaultKind::Status { status: 401, message: "token refused".into() },
        1,
    ));
    let slack = SlackStandin::new("xoxb-VERY-SECRET-bot-token").start(local).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = common::process::write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let serve = common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &tailer.url())
        .var("SLACK_SIGNING_SECRET", secrets[0])
        .var("SLACK_BOT_TOKEN", secrets[1])
        .var("TAILER_API_TOKEN", secrets[2])
        .var("LOG_FORMAT", "json")
        .var("RUST_LOG", "debug,hyper=info,h2=info,sqlx=info,reqwest=info,rustls=info")
        .ready()
        .await;
    let (url, http) = (serve.url.clone(), reqwest::Client::new());
    let logs = serve.logs.clone();
    // A forged request, then a launch that Tailer refuses.
    http.post(format!("{url}/slack/commands"))
        .header("x-slack-signature", "v0=00")
        .header("x-slack-request-timestamp", "1")
        .body("a=b")
        .send()
        .await
        .unwrap();
    let body = form(&[
        ("team_id", "T0001"),
        ("channel_id", CHANNEL),
        ("user_id", ANALYST),
        ("command", "/tailer"),
        ("text", "launch iowa-prepare"),
        ("response_url", &slack.response_url("logs")),
        ("trigger_id", "1.logs.1"),
    ]);
    common::post_signed(&http, &format!("{url}/slack/commands"), secrets[0], chrono::Utc::now().timestamp(), body).await;
    slack.slack.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "response_url")).await;
    assert!(serve.stop().await.success());
    let output = tokio::task::spawn_blocking(move || logs.until_end()).await.unwrap();
    let lines: Vec<serde_json::Value> =
        output.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    assert!(lines.len() > 5, "{output}");
    for line in &lines {
        assert!(line["severity"].is_string() && line["message"].is_string() && line["timestamp"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l["severity"] == "WARNING" && l["message"].as_str().unwrap().contains("signed")),
        "the forged request is logged"
    );
    assert!(
        lines.iter().any(|l| l["reference"].is_string() && l["user"] == ANALYST),
        "the command's lines carry its reference and user: {output}"
    );
    for secret in secrets {
        assert!(!output.contains(secret), "a secret reached the logs");
    }
}
