//! The edge of `serve`: size, signature, workspace, replay, in that order, with nothing
//! acted on when a request is refused; and Slack's own signing example.

mod common;

use common::bot::*;
use secrecy::SecretString;
use tailerbot::clock::Clock;
use tailerbot::slack::verify::{SignatureError, Verifier};

#[tokio::test]
async fn a_forged_signature_is_rejected_before_anything_runs() {
    let bot = TestBot::start().await;
    let body = bot.command_form(ANALYST, CHANNEL, "launch iowa-prepare", "1.forged.1");
    let response = common::post_signed(&bot.http, &format!("{}/slack/commands", bot.url), "not-the-secret", bot.clock.unix(), body).await;
    assert_eq!(response.status(), 401);
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0);
    assert!(bot.slack.slack.events().is_empty());
}

#[tokio::test]
async fn a_missing_signature_is_rejected() {
    let bot = TestBot::start().await;
    let body = bot.command_form(ANALYST, CHANNEL, "launch iowa-prepare", "1.missing.1");
    let response = bot.http.post(format!("{}/slack/commands", bot.url)).body(body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = bot.http.post(format!("{}/slack/interactions", bot.url)).body("payload=%7B%7D").send().await.unwrap();
    assert_eq!(response.status(), 401);
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0);
}

#[tokio::test]
async fn a_stale_request_is_rejected() {
    let bot = TestBot::start().await;
    let body = bot.command_form(ANALYST, CHANNEL, "launch iowa-prepare", "1.stale.1");
    let response = common::post_signed(&bot.http, &format!("{}/slack/commands", bot.url), SECRET, bot.clock.unix() - 301, body).await;
    assert_eq!(response.status(), 401);
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_even_before_the_signature() {
    let bot = TestBot::start().await;
    let body = format!("text={}", "a".repeat(64 * 1024));
    let response = bot.http.post(format!("{}/slack/commands", bot.url)).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let response = bot.post_signed("/slack/interactions", &body).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn a_workspace_or_app_outside_the_allow_lists_is_403() {
    let mut config = example_config();
    config.slack.allowed_team_ids = vec![tailerbot::domain::TeamId::parse("T0OTHER").unwrap()];
    let bot = TestBot::start_with(config, Default::default()).await;
    let (status, _) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 403);

    let mut config = example_config();
    config.slack.allowed_app_ids = vec![tailerbot::domain::AppId::parse("A0SOMEONEELSE").unwrap()];
    let bot2 = TestBot::start_with(config, Default::default()).await;
    let (status, _) = bot2.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 403);
    bot.settle().await;
    bot2.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job") + bot2.tailer.sim.count("launch_job"), 0);
}

#[tokio::test]
async fn a_replayed_slash_command_is_not_acted_on_twice() {
    let bot = TestBot::start().await;
    let body = bot.command_form(ANALYST, CHANNEL, "launch iowa-prepare", "1.replay.1");
    let first = bot.post_signed("/slack/commands", &body).await;
    assert_eq!(first.status(), 200);
    bot.wait(|events| events.iter().any(|e| e.method == "chat.postMessage")).await;
    let again = bot.post_signed("/slack/commands", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap(), "", "a replay gets an empty 200");
    // A later, different command is still served: the replay left nothing pending.
    bot.command(ANALYST, CHANNEL, "help").await;
    // Once the work after the answers is done (a launch of the replay would be in it).
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 1);
}

#[tokio::test]
async fn ssl_check_is_answered_and_does_nothing() {
    let bot = TestBot::start().await;
    let response = bot.http.post(format!("{}/slack/commands", bot.url)).body("ssl_check=1&token=x").send().await.unwrap();
    assert_eq!(response.status(), 200);
    bot.settle().await;
    assert!(bot.slack.slack.events().is_empty());
}

#[tokio::test]
async fn a_signed_but_malformed_request_is_400_and_never_a_5xx() {
    let bot = TestBot::start().await;
    for (path, body) in [
        ("/slack/commands", "team_id=T0001&text=help".to_owned()),
        ("/slack/commands", "team_id=%ZZ&user_id=%FF%FE&channel_id=C0DATA&command=/tailer&trigger_id=1.2.3".to_owned()),
        ("/slack/interactions", "payload=not-json".to_owned()),
        ("/slack/interactions", "nothing=here".to_owned()),
        ("/slack/events", "{]".to_owned()),
    ] {
        let response = bot.post_signed(path, &body).await;
        assert_eq!(response.status(), 400, "{path} {body}");
    }
    bot.settle().await;
    assert_eq!(bot.tailer.sim.requests().len(), 0);
}

#[tokio::test]
async fn the_events_url_is_verified() {
    let bot = TestBot::start().await;
    let response = bot
        .post_signed(
            "/slack/events",
            r#"{"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#,
        )
        .await;
    let (status, body) = read(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let bot = TestBot::start().await;
    assert_eq!(bot.http.get(format!("{}/healthz", bot.url)).send().await.unwrap().status(), 200);
    assert_eq!(bot.http.get(format!("{}/readyz", bot.url)).send().await.unwrap().status(), 200);
}

#[test]
fn slacks_own_signing_example_verifies_at_its_time_only_and_only_unchanged() {
    let dir = common::fixtures();
    let vector = std::fs::read_to_string(dir.join("slack/signature-vector.txt")).unwrap();
    let field = |name: &str| vector.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap().to_owned();
    let body = std::fs::read(dir.join("slack/signature-vector.body")).unwrap();
    let verifier = Verifier::new(SecretString::from(field("signing_secret")));
    let (ts, signature) = (field("timestamp"), field("signature"));
    let at: i64 = ts.parse().unwrap();
    assert_eq!(verifier.verify(Some(&ts), Some(&signature), &body, at), Ok(()));
    assert_eq!(verifier.verify(Some(&ts), Some(&signature), &body, at + 301), Err(SignatureError::Stale));
    let mut changed = body.clone();
    changed[10] ^= 1;
    assert_eq!(verifier.verify(Some(&ts), Some(&signature), &changed, at), Err(SignatureError::Mismatch));
}
