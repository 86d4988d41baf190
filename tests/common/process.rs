//! The real binary for process-level tests: `tailerbot serve` started on a free port
//! against the simulator and the stand-in of the test, on a database that outlives it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tailerbot::slack::standin::SlackEvent;

use super::bot::{BOT_TOKEN, SECRET, form};

pub struct Serve {
    pub child: Child,
    pub url: String,
}

/// Writes the example configuration with fast polls (runs and subscriptions every
/// second) and the stand-in's response URLs.
pub fn write_config(dir: &Path, response_prefix: &str) -> PathBuf {
    let path = dir.join("tailerbot.toml");
    let text = tailerbot::config::EXAMPLE_TOML
        .replace("https://hooks.slack.com/", response_prefix)
        .replace("poll_interval_secs = 15 ", "poll_interval_secs = 1 ")
        .replace("max_poll_interval_secs = 120", "max_poll_interval_secs = 2")
        .replace("subscription_poll_secs = 60 ", "subscription_poll_secs = 1 ");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn database(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("bot.db").display())
}

/// Starts `serve` and waits (bounded) until `/readyz` answers 200.
pub async fn serve(config: &Path, database: &str, slack_api: &str, tailer: &str) -> Serve {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .arg("serve")
        .env_clear()
        .env("TAILERBOT_CONFIG", config)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", slack_api)
        .env("TAILER_API_URL", tailer)
        .env("TAILER_API_TOKEN", "t")
        .env("DATABASE_URL", database)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            return Serve { child, url };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not become ready");
}

/// A signed `/tailer <text>` to a running `serve`.
pub async fn command(url: &str, response_url: &str, trigger: &str, user: &str, channel: &str, text: &str) -> u16 {
    command_answer(url, response_url, trigger, user, channel, text).await.0
}

/// A signed `/tailer <text>` to a running `serve`: the status and the HTTP answer.
pub async fn command_answer(
    url: &str,
    response_url: &str,
    trigger: &str,
    user: &str,
    channel: &str,
    text: &str,
) -> (u16, serde_json::Value) {
    let body = form(&[
        ("team_id", "T0001"),
        ("channel_id", channel),
        ("user_id", user),
        ("command", "/tailer"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", trigger),
    ]);
    let response =
        super::post_signed(&reqwest::Client::new(), &format!("{url}/slack/commands"), SECRET, chrono::Utc::now().timestamp(), body).await;
    super::bot::read(response).await
}

/// `user` clicks the button `label` of `message` on a running `serve`; the bot's answer
/// to the clicker goes to the stand-in's `response_url` of `key`.
pub async fn click(url: &str, response_url: &str, trigger: &str, user: &str, message: &SlackEvent, label: &str) -> u16 {
    let body = super::bot::click_form(user, message, label, trigger, response_url);
    super::post_signed(&reqwest::Client::new(), &format!("{url}/slack/interactions"), SECRET, chrono::Utc::now().timestamp(), body)
        .await
        .status()
        .as_u16()
}

/// A test that fails half-way leaves no process behind.
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// `kill -9`: no chance to flush anything.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let id = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &id]).status().unwrap().success());
        tokio::task::spawn_blocking(move || self.child.wait().unwrap()).await.unwrap()
    }
}
