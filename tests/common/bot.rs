//! A whole bot for tests: the real router on port 0, the Tailer simulator, the Slack
//! stand-in, a SQLite file in a temporary folder, and a manual clock that signs requests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tailerbot::bot::Bot;
use tailerbot::clock::{AdjustableClock, Clock};
use tailerbot::config::{Config, Settings};
use tailerbot::offline::OfflineWorld;
use tailerbot::server::Application;
use tailerbot::sim::{RunningSimulator, SimOptions};
use tailerbot::slack::standin::{RunningStandin, SlackEvent};
use tailerbot::slack::verify::Verifier;

pub const SECRET: &str = "test-signing-secret";
pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const TEAM: &str = "T0001";
pub const CHANNEL: &str = "C0DATA";
/// In the example's PROD rule by name.
pub const LEAD: &str = "U0DATALEAD";
/// In the example's PROD rule through the S0ONCALL group.
pub const ONCALL: &str = "U0ONCALL";
/// Only the general rules apply.
pub const ANALYST: &str = "U0ANALYST";

pub struct TestBot {
    pub url: String,
    pub tailer: RunningSimulator,
    pub slack: RunningStandin,
    pub bot: Arc<Bot>,
    pub clock: Arc<AdjustableClock>,
    pub http: reqwest::Client,
    verifier: Verifier,
    next_trigger: std::sync::atomic::AtomicU64,
    /// Holds the database file (`bot.db`).
    pub dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The example configuration, pointed at the stand-in's response URLs.
/// The environment every test bot gets (what `serve` reads), as variables a test may
/// change before use: the secrets, the Slack stand-in, the simulator, the database.
pub fn environment(slack_api: &str, tailer: &str, database: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("SLACK_API_URL", slack_api.to_owned()),
        ("TAILER_API_URL", tailer.to_owned()),
        ("TAILER_API_TOKEN", "tailer-test-token".to_owned()),
        ("DATABASE_URL", database.to_owned()),
    ])
}

/// The settings of an in-process bot, read from `vars` as `serve` reads its environment.
pub fn settings(config: &Config, vars: &BTreeMap<&'static str, String>) -> Settings {
    Settings::from_lookup(&|name| vars.get(name).cloned(), &config.tailer).unwrap()
}

pub fn example_config() -> Config {
    tailerbot::cli::embedded_config()
}

impl TestBot {
    pub async fn start() -> TestBot {
        Self::start_with(example_config(), SimOptions::default()).await
    }

    pub async fn start_with(config: Config, sim: SimOptions) -> TestBot {
        Self::start_on(config, sim, None).await
    }

    /// On this database (`DATABASE_URL`); `None`: an SQLite file in `dir`.
    pub async fn start_on(mut config: Config, sim: SimOptions, database: Option<String>) -> TestBot {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let OfflineWorld { tailer, slack } = tailerbot::offline::start(&mut config, sim, BOT_TOKEN, &[ONCALL], None).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bot.db").display()));
        let settings = settings(&config, &environment(&slack.api_url(), &tailer.url(), &database));
        let clock = AdjustableClock::new();
        let app = Application::build(&settings, config, clock.clone(), local).await.unwrap();
        let url = format!("http://{}", app.local_addr().unwrap());
        let bot = app.bot();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestBot {
            url,
            tailer,
            slack,
            bot,
            clock,
            http: reqwest::Client::new(),
            verifier: Verifier::new(SecretString::from(SECRET)),
            next_trigger: std::sync::atomic::AtomicU64::new(1),
            dir,
            _stop: stop,
        }
    }

    pub fn trigger(&self) -> String {
        format!("1000.{}.abc", self.next_trigger.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }

    /// Posts a body signed now.
    pub async fn post_signed(&self, path: &str, body: &str) -> reqwest::Response {
        super::post_signed(&self.http, &format!("{}{path}", self.url), SECRET, self.clock.unix(), body.to_owned()).await
    }

    pub fn command_form(&self, user: &str, channel: &str, text: &str, trigger: &str) -> String {
        // As Slack names the place: a direct conversation is `directmessage`.
        let name = if channel.starts_with('D') { "directmessage" } else { "data" };
        form(&[
            ("token", "deprecated"),
            ("team_id", TEAM),
            ("channel_id", channel),
            ("channel_name", name),
            ("user_id", user),
            ("user_name", "someone"),
            ("command", "/tailer"),
            ("text", text),
            ("response_url", &self.slack.response_url(trigger)),
            ("trigger_id", trigger),
            ("api_app_id", "A0TAILER"),
        ])
    }

    /// `/tailer <text>` from `user` in `channel`: status and JSON body (Null when empty).
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> (u16, Value) {
        let trigger = self.trigger();
        let response = self.post_signed("/slack/commands", &self.command_form(user, channel, text, &trigger)).await;
        read(response).await
    }

    /// Clicks the button labelled `label` on a message: the HTTP status and the key of
    /// the click's `response_url` (where the bot's answer to the click goes).
    pub async fn click(&self, user: &str, message: &SlackEvent, label: &str) -> (u16, String) {
        let trigger = self.trigger();
        let body = click_form(user, message, label, &trigger, &self.slack.response_url(&format!("click-{trigger}")));
        let response = self.post_signed("/slack/interactions", &body).await;
        let (status, body) = read(response).await;
        assert_eq!(body, Value::Null, "the HTTP answer to a click is empty: Slack would not show it");
        (status, format!("click-{trigger}"))
    }

    /// Clicks and returns what the bot answered to the clicker.
    pub async fn click_note(&self, user: &str, message: &SlackEvent, label: &str) -> String {
        let (_, key) = self.click(user, message, label).await;
        self.reply_to(&key).await.visible_text()
    }

    /// Waits (up to 10 s, woken by each new event) until `done` holds for the events.
    /// Waits until the work started after the answers (launches, replies) has finished:
    /// what an absence check waits for, rather than a sleep.
    pub async fn settle(&self) {
        self.bot.tasks().close();
        self.bot.tasks().wait().await;
        self.bot.tasks().reopen();
    }

    pub async fn wait(&self, done: impl Fn(&[SlackEvent]) -> bool) -> Vec<SlackEvent> {
        self.slack.slack.wait_for(Duration::from_secs(10), done).await
    }

    /// Waits for the `response_url` post of a command's trigger (`n`-th trigger issued).
    pub async fn reply_to(&self, key: &str) -> SlackEvent {
        let events = self.wait(|events| events.iter().any(|e| e.method == "response_url" && e.ts.as_deref() == Some(key))).await;
        events
            .into_iter()
            .find(|e| e.method == "response_url" && e.ts.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no reply to {key}"))
    }

    /// Clicks `action` (`(action_id, value)`, as [`SlackEvent::button`] gives it) on a view
    /// the bot made (a Home tab), as Slack sends it: no channel, no `response_url`.
    pub async fn click_in_view(&self, user: &str, view: &SlackEvent, action: (String, String)) -> (u16, Value) {
        let payload = view.view_click(TEAM, user, action, &self.trigger());
        read(self.post_signed("/slack/interactions", &form(&[("payload", &payload.to_string())])).await).await
    }

    /// Submits the modal `opened` (a `views.open` the stand-in saw) as `user`, with
    /// `values` (block_id → the option value, date or conversation chosen): the HTTP
    /// status and answer (`response_action`).
    pub async fn submit(&self, user: &str, opened: &SlackEvent, values: &[(&str, &str)]) -> (u16, Value) {
        let payload = opened.submission(TEAM, user, values, &self.trigger());
        read(self.post_signed("/slack/interactions", &form(&[("payload", &payload.to_string())])).await).await
    }

    /// The last trigger id issued.
    pub fn last_trigger(&self) -> String {
        format!("1000.{}.abc", self.next_trigger.load(std::sync::atomic::Ordering::SeqCst) - 1)
    }
}

pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// All the text of a JSON answer (fallback text and block texts).
pub fn text_of(body: &Value) -> String {
    as_event(body).visible_text()
}

/// An HTTP answer seen as the message Slack would show in `CHANNEL`.
pub fn as_event(body: &Value) -> SlackEvent {
    SlackEvent::from_answer(CHANNEL, Some("1700000000.000001".into()), body)
}

/// The form Slack posts when `user` clicks the button labelled `label` on `message`.
pub fn click_form(user: &str, message: &SlackEvent, label: &str, trigger: &str, response_url: &str) -> String {
    let button = message.button(label).unwrap_or_else(|| panic!("no button {label} on {message:?}"));
    button_form(user, message, button, trigger, response_url)
}

/// The form of a click on that button `(action_id, value)` of `message`.
pub fn button_form(user: &str, message: &SlackEvent, (action_id, value): (String, String), trigger: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user, "username": "someone", "team_id": TEAM},
        "api_app_id": "A0TAILER",
        "container": {"type": "message", "message_ts": message.ts.clone().unwrap_or_default(), "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": trigger,
        "channel": {"id": message.channel.clone().unwrap_or_else(|| CHANNEL.to_owned()), "name": "data"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "confirmation", "value": value, "type": "button", "action_ts": "1.2"}],
    });
    form(&[("payload", &payload.to_string())])
}
