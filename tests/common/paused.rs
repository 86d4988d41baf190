//! A bot whose time stands still until the test moves it: tokio's clock is paused, the
//! bot, the Tailer simulator and the signatures all read it (through `TokioClock`), and a
//! busy task keeps the runtime from skipping ahead on its own, so time moves only by
//! `step`. The HTTP server runs; the background workers do not: `step` drives one pass.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use tailerbot::bot::Bot;
use tailerbot::clock::{Clock, TokioClock};
use tailerbot::config::Config;
use tailerbot::offline::OfflineWorld;
use tailerbot::server::Application;
use tailerbot::sim::{RunningSimulator, SimOptions};
use tailerbot::slack::standin::{RunningStandin, SlackEvent};
use tailerbot::slack::verify::Verifier;
use tailerbot::workers::Workers;

use super::bot::{BOT_TOKEN, ONCALL, SECRET, TEAM, form, read};

pub struct PausedBot {
    pub url: String,
    pub tailer: RunningSimulator,
    pub slack: RunningStandin,
    pub bot: Arc<Bot>,
    pub workers: Arc<Workers>,
    pub clock: Arc<TokioClock>,
    http: reqwest::Client,
    verifier: Verifier,
    triggers: std::sync::atomic::AtomicU64,
    /// The store's `DATABASE_URL` (an SQLite file), for a test that reaches into it.
    pub database: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Timings that make a run's life easy to follow: 20 s WAITING, 30 s RUNNING.
pub fn slow_runs() -> SimOptions {
    SimOptions {
        waiting: (Duration::from_secs(20), Duration::from_secs(20)),
        running: (Duration::from_secs(30), Duration::from_secs(30)),
        invisible_after_launch: Duration::from_secs(2),
        ..SimOptions::default()
    }
}

impl PausedBot {
    /// Call from a `#[tokio::test(start_paused = true)]`.
    pub async fn start(config: Config, sim: SimOptions) -> PausedBot {
        Self::start_at(config, sim, chrono::Utc::now()).await
    }

    /// With the clock of the bot, the simulator and the stand-in at `wall` (a time of
    /// day a test needs, such as just before midnight).
    pub async fn start_at(mut config: Config, sim: SimOptions, wall: chrono::DateTime<chrono::Utc>) -> PausedBot {
        tailerbot::tls::install_crypto_provider();
        // Keeps the runtime busy, so that a paused clock never jumps by itself.
        tokio::spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        let clock = TokioClock::starting_at(wall);
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let OfflineWorld { tailer, slack } =
            tailerbot::offline::start(&mut config, sim, BOT_TOKEN, &[ONCALL], Some(clock.clone())).await.unwrap();
        config.tailer.max_requests_per_second = 1000;
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("bot.db").display());
        let settings = super::bot::settings(&config, &super::bot::environment(&slack.api_url(), &tailer.url(), &database));
        let app = Application::build(&settings, config, clock.clone(), local).await.unwrap();
        let url = format!("http://{}", app.local_addr().unwrap());
        let (bot, workers) = (app.bot(), app.workers());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve_only(async {
            let _ = stopped.await;
        }));
        PausedBot {
            url,
            tailer,
            slack,
            bot,
            workers,
            clock,
            // A new connection per request: when the test moves time on, the bot closes
            // idle connections (after 75 s quiet, as any server), and a pooled one would be stale.
            http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
            verifier: Verifier::new(SecretString::from(SECRET)),
            triggers: std::sync::atomic::AtomicU64::new(1),
            database,
            _dir: dir,
            _stop: stop,
        }
    }

    /// `/tailer <text>`, then waits for the work after the answer to finish.
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> (u16, Value) {
        let n = self.triggers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let trigger = format!("2000.{n}.paused");
        let body = form(&[
            ("team_id", TEAM),
            ("channel_id", channel),
            ("user_id", user),
            ("command", "/tailer"),
            ("text", text),
            ("response_url", &self.slack.response_url(&trigger)),
            ("trigger_id", &trigger),
        ]);
        let response = super::post_signed(&self.http, &format!("{}/slack/commands", self.url), SECRET, self.clock.unix(), body).await;
        let answer = read(response).await;
        self.settle().await;
        answer
    }

    /// Waits for the work started after answers (launches, replies) to finish.
    pub async fn settle(&self) {
        self.bot.tasks().close();
        self.bot.tasks().wait().await;
        self.bot.tasks().reopen();
    }

    /// Moves time forward, then runs one pass of every worker, the outbox last.
    pub async fn step(&self, by: Duration) {
        tokio::time::advance(by).await;
        self.workers.run_once().await;
    }

    /// Steps `by` at a time until `done` holds for the Slack events, at most `limit`.
    pub async fn run_until(&self, by: Duration, limit: Duration, done: impl Fn(&[SlackEvent]) -> bool) -> Vec<SlackEvent> {
        let mut elapsed = Duration::ZERO;
        while elapsed < limit {
            if done(&self.slack.slack.events()) {
                break;
            }
            self.step(by).await;
            elapsed += by;
        }
        self.slack.slack.events()
    }
}

/// The card of a run in a channel: its first post.
pub fn card<'e>(events: &'e [SlackEvent], channel: &str) -> &'e SlackEvent {
    events
        .iter()
        .find(|e| {
            e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel) && e.thread_ts.is_none() && e.text.contains("· run")
        })
        .expect("a card")
}

/// Thread replies under a message, in order.
pub fn replies<'e>(events: &'e [SlackEvent], root_ts: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.as_deref() == Some(root_ts)).collect()
}

/// The statuses named by thread replies, in order.
pub fn reply_statuses(events: &[SlackEvent], root_ts: &str) -> Vec<String> {
    replies(events, root_ts)
        .iter()
        .filter_map(|e| {
            let text = e.visible_text();
            ["WAITING", "RUNNING", "SUCCESS", "FAILED", "CHECKED", "NO_MATCH", "DEACTIVATED"]
                .iter()
                .find(|s| text.contains(&format!("*{s}*")))
                .map(|s| (*s).to_owned())
        })
        .collect()
}

/// The last edit of a message.
pub fn last_edit<'e>(events: &'e [SlackEvent], ts: &str) -> Option<&'e SlackEvent> {
    events.iter().rev().find(|e| e.method == "chat.update" && e.ts.as_deref() == Some(ts))
}

/// Clicks a button of a message; returns the HTTP status (the answer goes to the
/// click's response_url).
pub async fn click(bot: &PausedBot, user: &str, message: &SlackEvent, label: &str) -> u16 {
    let (action_id, value) = message.button(label).unwrap_or_else(|| panic!("no button {label}"));
    let n = bot.triggers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let trigger = format!("3000.{n}.click");
    let payload = serde_json::json!({
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user},
        "container": {"type": "message", "message_ts": message.ts.clone().unwrap_or_default()},
        "trigger_id": trigger,
        "channel": {"id": message.channel.clone().unwrap_or_default()},
        "response_url": bot.slack.response_url(&format!("click-{trigger}")),
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    });
    let body = form(&[("payload", &payload.to_string())]);
    super::post_signed(&bot.http, &format!("{}/slack/interactions", bot.url), SECRET, bot.clock.unix(), body).await.status().as_u16()
}

/// A zone where it is about noon now (an `Etc/GMT` zone), so that a time a few minutes
/// ahead or behind is still today there, whenever the test runs.
pub fn noon_zone(now: chrono::DateTime<chrono::Utc>) -> (String, chrono::FixedOffset) {
    let hour = i32::try_from(chrono::Timelike::hour(&now)).unwrap();
    let offset = 12 - hour;
    let name = match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name, chrono::FixedOffset::east_opt(offset * 3600).unwrap())
}

/// The wall-clock time `minutes` from now in a zone where it is about noon (`HH:MM`), and
/// that zone.
pub fn time_in(now: chrono::DateTime<chrono::Utc>, minutes: i64) -> (String, String) {
    let (zone, offset) = noon_zone(now);
    ((now + chrono::Duration::minutes(minutes)).with_timezone(&offset).format("%H:%M").to_string(), zone)
}
