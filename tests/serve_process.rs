//! The real binary: `serve` starts from its environment, refuses to start without its
//! secrets, and on SIGTERM stops taking requests but finishes the work in flight.

mod common;

use std::process::Command;
use std::time::Duration;

use common::bot::{SECRET, form};
use tailerbot::sim::{Fault, FaultKind, SimOptions};

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
    let db = common::process::database(dir.path());
    let serve = common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &tailer.url()).ready().await;
    let (url, http) = (serve.url.clone(), reqwest::Client::new());

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
    let stopped = tokio::spawn(serve.stop());

    // The launch finishes during shutdown, and its run card is flushed from the outbox.
    let events = slack.slack.wait_for(Duration::from_secs(15), |e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    let card = events.iter().find(|e| e.method == "chat.postMessage").expect("the card was delivered during shutdown");
    assert!(card.visible_text().contains("`iowa-prepare` (DEV) · run `20"), "{card:?}");
    let status = stopped.await.unwrap();
    assert!(status.success(), "{status:?}");
}

/// A first deploy with a wrong secret stops at once, naming the variable to fix, rather
/// than serving a bot whose every message would be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_checks_the_slack_token_and_the_tailer_credentials_at_start_and_says_which_is_wrong() {
    let (tailer, slack) = common::world(SimOptions { token: Some("the-tailer-token".into()), ..SimOptions::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = common::process::write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let start = |slack_token: &str, tailer_token: &str| {
        common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &tailer.url())
            .var("SLACK_BOT_TOKEN", slack_token)
            .var("TAILER_API_TOKEN", tailer_token)
            .spawn()
    };
    let limit = Duration::from_secs(20);

    let (status, stderr) = start("xoxb-not-this-one", "the-tailer-token").exits_within(limit).await;
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{stderr}");
    assert!(stderr.contains("SLACK_BOT_TOKEN: Slack refuses the bot token (invalid_auth)"), "{stderr}");
    assert!(!stderr.contains("TAILER_API_TOKEN:"), "Tailer accepted its token: {stderr}");
    assert!(!stderr.contains("xoxb-not-this-one"), "the token is not printed: {stderr}");

    let (status, stderr) = start(common::bot::BOT_TOKEN, "not-the-tailer-token").exits_within(limit).await;
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{stderr}");
    assert!(stderr.contains("TAILER_API_TOKEN: Tailer refuses the token"), "{stderr}");
    assert!(!stderr.contains("SLACK_BOT_TOKEN:"), "Slack accepted its token: {stderr}");
    assert!(!stderr.contains("not-the-tailer-token"), "the token is not printed: {stderr}");

    // Both right: it serves.
    let mut serve = start(common::bot::BOT_TOKEN, "the-tailer-token");
    assert!(serve.ready().await, "serves with the right credentials");
    assert!(serve.stop().await.success());
}

/// Slack out of reach at start is not a wrong token: the bot starts and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_when_slack_cannot_be_asked_and_warns() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = common::process::write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let nowhere = format!("http://{}/api", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let mut serve = common::process::ServeEnv::new(&config_path, &db, &nowhere, &tailer.url()).spawn();
    assert!(serve.ready().await, "a Slack out of reach does not stop the start");
    let logs = serve.logs.clone();
    assert!(serve.stop().await.success());
    let logs = logs.until_end();
    assert_eq!(logs.matches("cannot check the Slack bot token now").count(), 1, "said once: {logs}");
    assert!(logs.contains("starting anyway"), "{logs}");
}

/// A door to Tailer that can be shut: while shut it takes connections and closes them at
/// once (as a Tailer that is down or restarting), open it passes them to `to`.
async fn tailer_door(to: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let is_open = open.clone();
    let to = to.trim_start_matches("http://").trim_end_matches('/').to_owned();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !is_open.load(std::sync::atomic::Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (at, open)
}

/// Tailer down at start: the bot starts, says so once, answers a command with what went
/// wrong, and works once Tailer is back, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_when_tailer_is_unreachable_says_so_and_works_once_it_is_back() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let (door, open) = tailer_door(tailer.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = common::process::write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let mut serve = common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &door).spawn();
    assert!(serve.ready().await, "a Tailer out of reach does not stop the start");
    assert_eq!(serve.logs.count("cannot check the Tailer credentials now"), 1, "said once: {}", serve.logs.text());
    let ask = |trigger: &'static str| {
        let (url, respond) = (serve.url.clone(), slack.response_url(trigger));
        async move { common::process::command(&url, &respond, trigger, "U0ANALYST", "C0DATA", "last iowa-prepare").await }
    };
    assert_eq!(ask("1.down.1").await, 200);
    let answered = |key: &'static str| {
        move |e: &[tailerbot::slack::standin::SlackEvent]| e.iter().any(|e| e.method == "response_url" && e.ts.as_deref() == Some(key))
    };
    let events = slack.slack.wait_for(Duration::from_secs(20), answered("1.down.1")).await;
    let said = events.iter().find(|e| e.ts.as_deref() == Some("1.down.1")).unwrap().visible_text();
    assert!(said.contains("Tailer") && !said.contains("20201230-112837"), "what went wrong, not a run: {said}");

    // Tailer is back: the same bot answers, no restart.
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(ask("1.down.2").await, 200);
    let events = slack.slack.wait_for(Duration::from_secs(20), answered("1.down.2")).await;
    let said = events.iter().find(|e| e.ts.as_deref() == Some("1.down.2")).unwrap().visible_text();
    assert!(said.contains("20201230-112837"), "the runs, now that Tailer answers: {said}");
    assert!(serve.stop().await.success());
}

#[test]
fn serve_help_lists_the_environment_it_reads() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["serve", "--help"]).env_clear().output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for variable in [
        "SLACK_SIGNING_SECRET",
        "SLACK_SIGNING_SECRET_PREVIOUS",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "TAILER_API_URL",
        "TAILER_API_AUDIENCE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "TAILER_API_TOKEN",
        "TAILER_SERVICE_ACCOUNT",
        "GCE_METADATA_HOST",
        "GOOGLE_IAM_CREDENTIALS_URL",
        "GOOGLE_OAUTH_TOKEN_URL",
        "roles/iam.serviceAccountTokenCreator",
        "TAILERBOT_CONFIG",
        "DATABASE_URL",
        "PORT",
        "METRICS_PORT",
        "MAX_CONNECTIONS",
        "RUST_LOG",
        "LOG_FORMAT",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
}

/// A rotation of Slack's signing secret: while `SLACK_SIGNING_SECRET_PREVIOUS` holds the
/// old one, requests signed with either are taken; without it, only the new one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_secret_is_accepted_beside_the_new_one_while_it_is_set_and_only_then() {
    const NEW: &str = "the-rotated-signing-secret";
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = common::process::write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let http = reqwest::Client::new();
    let help = |trigger: &str| {
        form(&[
            ("team_id", "T0001"),
            ("channel_id", "C0DATA"),
            ("user_id", "U0ANALYST"),
            ("command", "/tailer"),
            ("text", "help"),
            ("response_url", &slack.response_url(trigger)),
            ("trigger_id", trigger),
        ])
    };
    let status = |url: String, secret: &'static str, trigger: &'static str| {
        let (http, body) = (http.clone(), help(trigger));
        async move {
            let url = format!("{url}/slack/commands");
            common::post_signed(&http, &url, secret, chrono::Utc::now().timestamp(), body).await.status().as_u16()
        }
    };
    let serve = common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &tailer.url())
        .var("SLACK_SIGNING_SECRET", NEW)
        .var("SLACK_SIGNING_SECRET_PREVIOUS", SECRET)
        .ready()
        .await;
    assert_eq!(status(serve.url.clone(), SECRET, "1.rot.1").await, 200, "signed with the previous secret");
    assert_eq!(status(serve.url.clone(), NEW, "1.rot.2").await, 200, "signed with the new one");
    assert_eq!(status(serve.url.clone(), "a-guess", "1.rot.3").await, 401, "signed with neither");
    assert!(serve.stop().await.success());

    // The rotation is over: the previous secret is no longer taken.
    let serve =
        common::process::ServeEnv::new(&config_path, &db, &slack.api_url(), &tailer.url()).var("SLACK_SIGNING_SECRET", NEW).ready().await;
    assert_eq!(status(serve.url.clone(), SECRET, "1.rot.4").await, 401, "the previous secret, once unset");
    assert_eq!(status(serve.url.clone(), NEW, "1.rot.5").await, 200);
    assert!(serve.stop().await.success());
}
