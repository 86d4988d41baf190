//! Helpers shared by the integration tests: the documented fixtures (`../shared`, beside
//! the project), a simulator on port 0, a client pointed at it, and a tiny server
//! that answers every request with a fixed body.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tailerbot::domain::{Account, ConfigurationId, ConfigurationType, Environment, JobId};
use tailerbot::sim::{RunningSimulator, SimOptions, Simulator};
use tailerbot::tailer::{ClientOptions, JobRef, TailerClient, TokenSource};

/// `../shared/fixtures`: Slack's and Tailer's documented examples, always beside the
/// project (CI has it too). A test that needs them fails, naming the folder, when it is
/// absent: a check that silently did not run would read as a pass.
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(
        dir.is_dir(),
        "{} is absent: this test checks the bot against the documented examples kept there; put the shared folder beside the project",
        dir.display()
    );
    dir
}

pub fn fixture_json(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("tailer").join(name)).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub fn job(account: &str, environment: &str, configuration_type: &str, configuration_id: &str, job_id: Option<&str>) -> JobRef {
    let configuration_type = ConfigurationType::parse(configuration_type).unwrap();
    let configuration_id = ConfigurationId::parse(configuration_id).unwrap();
    let job_id = job_id.map(|j| JobId::parse(j).unwrap()).or_else(|| JobRef::derived_job_id(&configuration_type, &configuration_id));
    JobRef {
        account: Account::parse(account).unwrap(),
        environment: Environment::parse(environment).unwrap(),
        configuration_type,
        configuration_id,
        job_id,
    }
}

/// The documented table-to-table job.
pub fn iowa() -> JobRef {
    job("000099", "DEV", "table-to-table", "000099_iowa_liquor_prepare_pda_DEV", None)
}

pub async fn sim(options: SimOptions) -> RunningSimulator {
    Simulator::start(options, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("simulator starts")
}

/// Fast back-off so that retry tests take milliseconds.
pub fn quick_options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        max_retries: 3,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_response_bytes: tailerbot::http_limits::DEFAULT_MAX_ANSWER,
        ..ClientOptions::default()
    }
}

pub fn client(url: &str, options: ClientOptions) -> TailerClient {
    tailerbot::tls::install_crypto_provider();
    let tokens = Arc::new(TokenSource::Static(SecretString::from("test-token")));
    TailerClient::new(url, tokens, options).expect("client builds")
}

/// Serves `body` with `status` to every POST; returns the base URL.
pub async fn fixed_answer(status: u16, body: String) -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
pub mod bot;
pub mod db;
pub mod google;
pub mod life;
pub mod logs;
pub mod paused;
pub mod process;

/// Posts `body` to `url` signed with `secret` at `ts`, as Slack signs.
pub async fn post_signed(http: &reqwest::Client, url: &str, secret: &str, ts: i64, body: String) -> reqwest::Response {
    try_post_signed(http, url, secret, ts, body).await.unwrap()
}

/// [`post_signed`], for a server that may die before it answers.
pub async fn try_post_signed(http: &reqwest::Client, url: &str, secret: &str, ts: i64, body: String) -> reqwest::Result<reqwest::Response> {
    let signature = tailerbot::slack::verify::Verifier::new(SecretString::from(secret)).sign(ts, body.as_bytes());
    // As Slack sends them: events as JSON, commands and clicks as forms.
    let content_type = if url.ends_with("/slack/events") { "application/json" } else { "application/x-www-form-urlencoded" };
    http.post(url)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
}

/// The Tailer simulator (knowing the example catalog) and the Slack stand-in, on port 0.
pub async fn world(options: SimOptions) -> (RunningSimulator, tailerbot::slack::standin::RunningStandin) {
    let mut config = tailerbot::config::embedded_config();
    let world = tailerbot::offline::start(&mut config, options, bot::BOT_TOKEN, &[bot::ONCALL], None).await.unwrap();
    (world.tailer, world.slack)
}

/// The execution dates Tailer was asked to launch with, in order.
#[allow(dead_code)]
pub fn launched_dates(sim: &Simulator) -> Vec<Option<String>> {
    sim.requests().iter().filter(|r| r.action == "launch_job").map(|r| r.body["execution_date"].as_str().map(str::to_owned)).collect()
}
