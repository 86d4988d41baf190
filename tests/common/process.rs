//! The real binary for process-level tests: `tailerbot serve` started on port 0 (the
//! port it got is read from its `serving` log line: no port is picked, freed and handed
//! over, which another process could take meanwhile) against the simulator and the
//! stand-in of the test, on a database that outlives it. Its stderr is always read as
//! it comes (a pipe nobody reads would fill and stop the process) and kept.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tailerbot::slack::standin::SlackEvent;

use super::bot::{SECRET, form};

pub struct Serve {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, once [`Serve::ready`] has read the port it got.
    pub url: String,
    /// What it wrote on stderr, as it comes.
    pub logs: Logs,
    /// The crash point it is to die at.
    doom: Option<String>,
}

/// The lines a process writes on stderr, gathered by a thread of their own.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<(std::sync::Mutex<LogState>, std::sync::Condvar)>);

#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    /// The stream ended: the process exited (or closed it).
    ended: bool,
}

impl Logs {
    fn follow(stderr: std::process::ChildStderr) -> Logs {
        use std::io::BufRead;
        let logs = Logs::default();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.0.0.lock().unwrap().lines.push(line);
            }
            sink.0.0.lock().unwrap().ended = true;
            sink.0.1.notify_all();
        });
        logs
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.0.lock().unwrap().lines.clone()
    }

    pub fn len(&self) -> usize {
        self.0.0.lock().unwrap().lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text so far.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// The lines so far that contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.0.0.lock().unwrap().lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// The whole text once the stream has ended (waiting at most 10 s for it, as after
    /// the process exited: the last lines may still be on their way).
    pub fn until_end(&self) -> String {
        let (state, ended) = &*self.0;
        let guard = state.lock().unwrap();
        let (guard, _) = ended.wait_timeout_while(guard, Duration::from_secs(10), |s| !s.ended).unwrap();
        guard.lines.join("\n")
    }

    /// The port the process said it serves on (its `serving` log line, text or JSON:
    /// `addr=0.0.0.0:41234`, `"addr":"0.0.0.0:41234"`), or with `metrics` the port of
    /// `/metrics` (`METRICS_PORT`).
    pub fn served_port(&self, metrics: bool) -> Option<u16> {
        let state = self.0.0.lock().unwrap();
        let said = |l: &&String| match metrics {
            true => l.contains("serving /metrics"),
            false => l.contains("serving addr=") || l.contains("\"message\":\"serving\""),
        };
        state.lines.iter().filter(said).find_map(|line| {
            let rest = &line[line.find("addr")? + 4..];
            let rest = rest.trim_start_matches(['=', '"', ':']);
            let addr: String = rest.chars().take_while(|c| c.is_ascii_hexdigit() || ".:[]".contains(*c)).collect();
            addr.rsplit(':').next()?.parse().ok()
        })
    }
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
    ServeEnv::new(config, database, slack_api, tailer).ready().await
}

/// How a test starts `serve`: the environment every test gives it (the configuration,
/// the secrets, the stand-ins, the database, a free port), with what a test changes.
pub struct ServeEnv {
    vars: std::collections::BTreeMap<&'static str, String>,
    /// Dies at this crash point (`FAILPOINTS`), which it must say it reached.
    crash_point: Option<String>,
    /// Runs the binary as this uid and gid (with `setpriv`), as the image does.
    user: Option<u32>,
}

impl ServeEnv {
    pub fn new(config: &Path, database: &str, slack_api: &str, tailer: &str) -> ServeEnv {
        let mut vars = super::bot::environment(slack_api, tailer, database);
        vars.insert("TAILERBOT_CONFIG", config.display().to_string());
        // Any free port, taken by the process itself.
        vars.insert("PORT", "0".to_owned());
        ServeEnv { vars, user: None, crash_point: None }
    }

    /// Dies at the crash point `point` (as `kill -9` would): [`Serve::died`] then requires
    /// the process to have said it reached that point.
    pub fn dies_at(mut self, point: &str) -> ServeEnv {
        self.vars.insert("FAILPOINTS", format!("{point}=return"));
        self.crash_point = Some(point.to_owned());
        self
    }

    /// Sets (or replaces) one variable.
    pub fn var(mut self, name: &'static str, value: impl Into<String>) -> ServeEnv {
        self.vars.insert(name, value.into());
        self
    }

    /// Leaves one variable unset.
    pub fn without(mut self, name: &'static str) -> ServeEnv {
        self.vars.remove(name);
        self
    }

    /// Runs as an unprivileged user (needs root and `setpriv`).
    pub fn run_as(mut self, id: u32) -> ServeEnv {
        self.user = Some(id);
        self
    }

    /// Starts the process without waiting for it.
    pub fn spawn(self) -> Serve {
        let binary = env!("CARGO_BIN_EXE_tailerbot");
        let mut command = match self.user {
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.args([format!("--reuid={id}"), format!("--regid={id}"), "--clear-groups".into(), binary.into()]);
                c
            }
            None => Command::new(binary),
        };
        let child = command
            .arg("serve")
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = child;
        let logs = Logs::follow(child.stderr.take().expect("stderr is piped"));
        let url = match self.vars["PORT"].as_str() {
            "0" => String::new(),
            port => format!("http://127.0.0.1:{port}"),
        };
        Serve { child, url, logs, doom: self.crash_point }
    }

    /// Starts the process and waits (bounded) until it is ready.
    pub async fn ready(self) -> Serve {
        let mut serve = self.spawn();
        assert!(serve.ready().await, "serve did not become ready");
        serve
    }
}

/// A signed `/tailer <text>` to a running `serve`.
pub async fn command(url: &str, response_url: &str, trigger: &str, user: &str, channel: &str, text: &str) -> u16 {
    command_answer(url, response_url, trigger, user, channel, text).await.0
}

/// A signed `/tailer <text>` to a running `serve`: the status (0 when nothing answered)
/// and the HTTP answer.
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
    let url = format!("{url}/slack/commands");
    match super::try_post_signed(&reqwest::Client::new(), &url, SECRET, chrono::Utc::now().timestamp(), body).await {
        Ok(response) => super::bot::read(response).await,
        // The process died (or was never there): Slack would show the user an error.
        Err(_) => (0, serde_json::Value::Null),
    }
}

/// `user` clicks the button `label` of `message` on a running `serve`: the HTTP status,
/// 0 when the process died before answering. The bot's answer to the clicker goes to
/// `response_url`.
pub async fn click(url: &str, response_url: &str, trigger: &str, user: &str, message: &SlackEvent, label: &str) -> u16 {
    let body = super::bot::click_form(user, message, label, trigger, response_url);
    super::try_post_signed(&reqwest::Client::new(), &format!("{url}/slack/interactions"), SECRET, chrono::Utc::now().timestamp(), body)
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// A click on the button beside the line of `message` that contains `beside`.
pub async fn click_beside(url: &str, response_url: &str, trigger: &str, user: &str, message: &SlackEvent, beside: &str) -> u16 {
    let button = message.button_beside(beside).unwrap_or_else(|| panic!("no button beside {beside:?} on {message:?}"));
    let body = super::bot::button_form(user, message, button, trigger, response_url);
    super::try_post_signed(&reqwest::Client::new(), &format!("{url}/slack/interactions"), SECRET, chrono::Utc::now().timestamp(), body)
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Fails unless a dead process said it reached its crash point `point`.
fn reached(logs: &Logs, point: &str, status: std::process::ExitStatus) {
    let logs = logs.until_end();
    let tail: String = logs.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(
        logs.contains(&format!("crash point {point}: dying here")),
        "the process died ({status}), but not at its crash point `{point}`; the end of its stderr:\n{tail}"
    );
}

/// A test that fails half-way leaves no process behind.
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// SIGTERM, then waits (bounded) for the exit, the process kept in its place.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..1_000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("serve did not stop within 20 s of SIGTERM");
    }

    /// `http://127.0.0.1:<port>` of `/metrics` on `METRICS_PORT` (once ready).
    pub fn metrics_url(&self) -> Option<String> {
        self.logs.served_port(true).map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// Waits until the bot has no work in flight after its answers (its
    /// `tailerbot_work_in_flight` gauge is 0): what an absence check waits for. Fails
    /// when it is still busy after 20 s.
    pub async fn settle(&self) {
        let url = format!("{}/metrics", self.metrics_url().unwrap_or_else(|| self.url.clone()));
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = match http.get(&url).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(error) => panic!("no /metrics to wait on: {error}"),
            };
            let busy = text.lines().find_map(|l| l.strip_prefix("tailerbot_work_in_flight ")).map(str::trim).map(str::to_owned);
            if busy.as_deref() == Some("0") {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "still busy after 20 s: tailerbot_work_in_flight {busy:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Whether the process still runs.
    pub fn child_alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// `kill -9` where the process is kept (a slot of replicas): no chance to flush.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits (bounded) until `/readyz` answers 200: false when it never does (the
    /// process died, or hangs).
    pub async fn ready(&mut self) -> bool {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if self.url.is_empty()
                && let Some(port) = self.logs.served_port(false)
            {
                self.url = format!("http://127.0.0.1:{port}");
            }
            if !self.url.is_empty() && http.get(format!("{}/readyz", self.url)).send().await.is_ok_and(|r| r.status() == 200) {
                return true;
            }
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// Waits (at most `limit`) for the process to end by itself, as at a crash point. A
    /// process still running then is killed and the test fails (it never hangs).
    /// A life started with [`ServeEnv::dies_at`] must have said it reached its point:
    /// dying of anything else fails the test.
    pub async fn died(mut self, limit: Duration) -> std::process::ExitStatus {
        let status = match self.exit_within(limit).await {
            Some(status) => status,
            None => panic!("the process did not die at its crash point within {limit:?} (was the binary built without `crash-points`?)"),
        };
        if let Some(point) = self.doom.take() {
            reached(&self.logs, &point, status);
        }
        status
    }

    /// Whether a life started with [`ServeEnv::dies_at`] has died at its crash point
    /// (`Some(point)`), or still runs (`None`). Dying without having said it reached the
    /// point fails the test.
    pub fn crashed_at(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        let point = self.doom.take().expect("a life that was not doomed");
        reached(&self.logs, &point, status);
        Some(point)
    }

    /// Waits (at most `limit`) for the process to end by itself: its status and what it
    /// wrote on stderr (when captured). A process still running then is killed.
    pub async fn exits_within(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let status = self.exit_within(limit).await;
        let logs = self.logs.clone();
        let text = tokio::task::spawn_blocking(move || logs.until_end()).await.unwrap_or_default();
        (status, text)
    }

    /// SIGTERM, then waits (at most 30 s) for the exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let id = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &id]).status().unwrap().success());
        self.exit_within(Duration::from_secs(30)).await.expect("serve did not stop within 30 s of SIGTERM")
    }

    /// The exit status once the process ends, or `None` (and the process killed) when it
    /// still runs after `limit`.
    async fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
