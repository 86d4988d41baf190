//! The real binary reloads its configuration while it serves: on SIGHUP, and when the
//! file changes under it (a ConfigMap update swapping the `..data` symlink included). A
//! valid file applies to every request after it; an invalid one is refused, each mistake
//! logged once at its line, and the configuration in force keeps serving; under load,
//! every answer comes whole from one configuration or the other.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::bot::text_of;
use common::process::{Serve, ServeEnv, command_answer};
use tailerbot::sim::{RunningSimulator, SimOptions};
use tailerbot::slack::standin::RunningStandin;

/// How long anything a test waits for may take before the test fails.
const LIMIT: Duration = Duration::from_secs(15);

const ANALYST: &str = "U0ANALYST";
const CHANNEL: &str = "C0DATA";

/// A job the example does not have, on a configuration the simulator knows.
const ADDED_JOB: &str = r#"
[[jobs]]
name = "iowa-prepare-again"
account = "000099"
environment = "DEV"
configuration_type = "table-to-table"
configuration_id = "000099_iowa_liquor_prepare_pda_DEV"
description = "Added while the bot runs"
"#;

/// The bot's world: the simulator, the stand-in, and the example configuration with fast
/// polls, as its text.
struct World {
    tailer: RunningSimulator,
    slack: RunningStandin,
    dir: tempfile::TempDir,
    example: String,
    triggers: AtomicU64,
}

impl World {
    async fn new() -> World {
        let (tailer, slack) = common::world(SimOptions::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let path = common::process::write_config(dir.path(), &slack.response_url_prefix());
        let example = std::fs::read_to_string(path).unwrap();
        World { tailer, slack, dir, example, triggers: AtomicU64::new(1) }
    }

    /// `serve` on the configuration at `config`, its log kept.
    async fn serve(&self, config: &Path) -> (Serve, Log) {
        let env = ServeEnv::new(config, &common::process::database(self.dir.path()), &self.slack.api_url(), &self.tailer.url());
        self.start(env).await
    }

    async fn start(&self, env: ServeEnv) -> (Serve, Log) {
        let mut serve = env.spawn();
        let log = Log(serve.logs.clone());
        assert!(serve.ready().await, "serve did not become ready:\n{}", log.text());
        (serve, log)
    }

    /// `/tailer <text>` from the analyst: the status and the text of the answer.
    async fn ask(&self, serve: &Serve, text: &str) -> (u16, String) {
        let n = self.triggers.fetch_add(1, Ordering::Relaxed);
        let (status, body) =
            command_answer(&serve.url, &self.slack.response_url(&format!("r{n}")), &format!("1.reload.{n}"), ANALYST, CHANNEL, text).await;
        (status, text_of(&body))
    }
}

/// The lines `serve` logs, read as they come.
#[derive(Clone)]
struct Log(common::process::Logs);

impl Log {
    fn text(&self) -> String {
        self.0.text()
    }

    fn count(&self, needle: &str) -> usize {
        self.0.count(needle)
    }

    /// Waits (at most [`LIMIT`]) for `n` lines containing `needle` after the first line
    /// containing `after`.
    async fn wait_for_after(&self, after: &str, needle: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let seen = {
                let lines = self.0.lines();
                let start = lines.iter().position(|l| l.contains(after));
                start.map_or(0, |s| lines[s..].iter().filter(|l| l.contains(needle)).count())
            };
            if seen >= n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not {n} lines with {needle:?} after {after:?} within {LIMIT:?}:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most [`LIMIT`]) for a line containing every needle.
    async fn wait_for(&self, needles: &[&str]) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !self.0.lines().iter().any(|l| needles.iter().all(|n| l.contains(n))) {
            assert!(tokio::time::Instant::now() < deadline, "no line with {needles:?} within {LIMIT:?}:\n{}", self.text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn hangup(serve: &Serve) {
    assert!(Command::new("kill").args(["-HUP", &serve.child.id().to_string()]).status().unwrap().success());
}

/// Replaces the file whole, as an editor that saves safely does.
fn replace(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(next, path).unwrap();
}

/// `tailerbot_config_reloads_total{outcome}` as `/metrics` shows it now.
async fn reloads(serve: &Serve, outcome: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", serve.url)).await.unwrap().text().await.unwrap();
    let series = format!("tailerbot_config_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(series.as_str())).map_or(0, |n| n.trim().parse().unwrap())
}

/// Waits (at most [`LIMIT`]) until the reloads of `outcome` reach `n`.
async fn wait_for_reloads(serve: &Serve, log: &Log, outcome: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while reloads(serve, outcome).await < n {
        assert!(tokio::time::Instant::now() < deadline, "{outcome} reloads did not reach {n} within {LIMIT:?}:\n{}", log.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sha256_prefix(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))[..12].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_added_to_the_file_is_launchable_after_sighup_and_the_doctor_shows_the_new_hash() {
    let world = World::new().await;
    let path = world.dir.path().join("tailerbot.toml");
    let (serve, log) = world.serve(&path).await;

    let (status, answer) = world.ask(&serve, "launch iowa-prepare-again").await;
    assert_eq!(status, 200);
    assert!(answer.contains("I don't know a job called `iowa-prepare-again`"), "{answer}");

    let added = format!("{}{ADDED_JOB}", world.example);
    replace(&path, &added);
    hangup(&serve);
    wait_for_reloads(&serve, &log, "applied", 1).await;

    let (status, answer) = world.ask(&serve, "launch iowa-prepare-again").await;
    assert_eq!(status, 200);
    assert!(!answer.contains("I don't know"), "{answer}");
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 1, LIMIT).await, 1, "the added job was launched");

    let (status, _) = world.ask(&serve, "doctor").await;
    assert_eq!(status, 200);
    let hash = sha256_prefix(added.as_bytes());
    let events = world.slack.slack.wait_for(LIMIT, |e| e.iter().any(|e| e.visible_text().contains(&hash))).await;
    assert!(
        events.iter().any(|e| e.visible_text().contains("Configuration: loaded") && e.visible_text().contains(&hash)),
        "the doctor names the configuration's hash {hash}: {events:?}"
    );
}

/// The kubelet's update of a ConfigMap volume: a new directory, a new symlink renamed over
/// `..data`; the file the bot reads is a symlink through `..data`.
#[cfg(unix)]
fn configmap_update(mount: &Path, generation: u32, text: &str) {
    let data = format!("..2024_01_01_00_00_{generation:02}.{generation}");
    std::fs::create_dir(mount.join(&data)).unwrap();
    std::fs::write(mount.join(&data).join("tailerbot.toml"), text).unwrap();
    std::os::unix::fs::symlink(&data, mount.join("..data_tmp")).unwrap();
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_changed_by_a_configmap_symlink_swap_applies_without_a_signal() {
    let world = World::new().await;
    let mount = world.dir.path().join("config");
    std::fs::create_dir(&mount).unwrap();
    configmap_update(&mount, 1, &world.example);
    std::os::unix::fs::symlink("..data/tailerbot.toml", mount.join("tailerbot.toml")).unwrap();
    let (serve, log) = world.serve(&mount.join("tailerbot.toml")).await;

    let (status, answer) = world.ask(&serve, "disable iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(!answer.contains("Confirm"), "DEV writes need no confirmation yet: {answer}");

    // The new rule: DEV writes need a confirmation click.
    let rule = "environments = [\"DEV\", \"STAGING\"]\n";
    assert!(world.example.contains(rule));
    configmap_update(&mount, 2, &world.example.replace(rule, &format!("{rule}confirm = true\n")));
    wait_for_reloads(&serve, &log, "applied", 1).await;

    let (status, answer) = world.ask(&serve, "enable iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(answer.contains("Confirm"), "the changed rule asks for a confirmation: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_is_refused_every_mistake_logged_once_at_its_line_and_the_old_configuration_serves() {
    let world = World::new().await;
    let path = world.dir.path().join("tailerbot.toml");
    // The polls logged, to know when the file has been read again after the refusal.
    let env = ServeEnv::new(&path, &common::process::database(world.dir.path()), &world.slack.api_url(), &world.tailer.url())
        .var("RUST_LOG", "info,tailerbot::config::reload=debug");
    let (serve, log) = world.start(env).await;

    // Three mistakes: an unknown section (which once hid the rest), a malformed account
    // (a job) and an unknown action (a rule).
    let invalid = format!(
        "[slak]\naudit_channel = \"C0AUDIT\"\n{}{}",
        world.example.replacen("account = \"000099\"", "account = \"99\"", 1),
        ADDED_JOB
    )
    .replacen("actions = [\"read\"]", "actions = [\"reed\"]", 1);
    let line_of = |needle: &str| invalid[..invalid.find(needle).unwrap()].matches('\n').count() + 1;
    let file = path.display().to_string();
    let account = format!("{file}:{}: jobs #1 (iowa-prepare).account: ", line_of("account = \"99\""));
    let action = format!("{file}:{}: rules #1.actions: ", line_of("actions = [\"reed\"]"));
    let section = format!("{file}:1: slak: unknown section (did you mean `slack`?)");
    replace(&path, &invalid);
    wait_for_reloads(&serve, &log, "refused", 1).await;
    log.wait_for(&[&account]).await;
    log.wait_for(&[&action]).await;
    log.wait_for(&[&section]).await;

    let (status, answer) = world.ask(&serve, "launch iowa-prepare-again").await;
    assert_eq!(status, 200);
    assert!(answer.contains("I don't know a job called"), "the job of the refused file is not there: {answer}");
    let (status, answer) = world.ask(&serve, "jobs").await;
    assert_eq!(status, 200);
    assert!(answer.contains("Prepare the Iowa liquor sales tables"), "the old catalog serves: {answer}");

    // Two more polls read the refused file: it is not refused (nor logged) again.
    log.wait_for_after("the configuration was refused", "polled the configuration file", 2).await;
    // A valid file after it: applied, and by then the refused one has been logged once.
    replace(&path, &format!("{}{ADDED_JOB}", world.example));
    wait_for_reloads(&serve, &log, "applied", 1).await;
    assert_eq!(log.count(&account), 1, "{}", log.text());
    assert_eq!(log.count(&action), 1, "{}", log.text());
    assert_eq!(log.count(&section), 1, "{}", log.text());
    assert_eq!(reloads(&serve, "refused").await, 1);
}

/// The two configurations of the load test: every job's description says which one it
/// is, and the second has one more job.
fn tagged(example: &str, tag: &str) -> String {
    let text = example.replace("description = \"", &format!("description = \"{tag} "));
    if tag == "[B]" { format!("{text}{}", ADDED_JOB.replace("Added while the bot runs", "[B] only in B")) } else { text }
}

/// Which configuration a `jobs` answer came from: `Some("A")`, `Some("B")`, or `None`
/// for an answer that mixes them or matches neither.
fn answered_from(answer: &str) -> Option<&'static str> {
    let (a, b, extra) = (answer.matches("[A] ").count(), answer.matches("[B] ").count(), answer.contains("iowa-prepare-again"));
    match (a, b, extra) {
        (6, 0, false) => Some("A"),
        (0, 7, true) => Some("B"),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_while_the_file_flips_every_answer_comes_whole_from_one_configuration_and_none_fails() {
    let world = Arc::new(World::new().await);
    let path = world.dir.path().join("tailerbot.toml");
    let (a, b) = (tagged(&world.example, "[A]"), tagged(&world.example, "[B]"));
    replace(&path, &a);
    let (serve, log) = world.serve(&path).await;
    let serve = Arc::new(serve);

    let stop = Arc::new(AtomicBool::new(false));
    let from_a = Arc::new(AtomicU64::new(0));
    let from_b = Arc::new(AtomicU64::new(0));
    let wrong: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
    let mut load = Vec::new();
    for _ in 0..6 {
        let (world, serve, stop, from_a, from_b, wrong) =
            (world.clone(), serve.clone(), stop.clone(), from_a.clone(), from_b.clone(), wrong.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match world.ask(&serve, "jobs").await {
                    (200, answer) => match answered_from(&answer) {
                        Some("A") => from_a.fetch_add(1, Ordering::Relaxed),
                        Some(_) => from_b.fetch_add(1, Ordering::Relaxed),
                        None => {
                            wrong.lock().unwrap().push((200, answer));
                            0
                        }
                    },
                    (status, answer) => {
                        wrong.lock().unwrap().push((status, answer));
                        0
                    }
                };
            }
        }));
    }

    // Twenty flips, each in force once an answer from it has been seen.
    for flip in 1..=20u64 {
        let (text, seen) = if flip % 2 == 1 { (&b, &from_b) } else { (&a, &from_a) };
        let before = seen.load(Ordering::Relaxed);
        replace(&path, text);
        hangup(&serve);
        wait_for_reloads(&serve, &log, "applied", flip).await;
        let deadline = tokio::time::Instant::now() + LIMIT;
        while seen.load(Ordering::Relaxed) == before {
            assert!(tokio::time::Instant::now() < deadline, "no answer from flip {flip} within {LIMIT:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let wrong = wrong.lock().unwrap();
    assert!(wrong.is_empty(), "{} answers failed or mixed the configurations, the first: {:?}", wrong.len(), wrong.first());
    let (a, b) = (from_a.load(Ordering::Relaxed), from_b.load(Ordering::Relaxed));
    assert!(a > 0 && b > 0, "answers from both configurations ({a} and {b})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_setting_bound_at_start_is_named_in_a_warning_and_the_rest_applies() {
    let world = World::new().await;
    let path = world.dir.path().join("tailerbot.toml");
    let (serve, log) = world.serve(&path).await;

    let changed = world
        .example
        .replace("timeout_secs = 10 ", "timeout_secs = 30 ")
        .replace("Prepare the Iowa liquor sales tables", "Prepared again, with a longer timeout");
    assert_ne!(changed, world.example);
    replace(&path, &changed);
    hangup(&serve);
    wait_for_reloads(&serve, &log, "applied", 1).await;
    log.wait_for(&["WARN", "tailer.timeout_secs", "next start"]).await;
    assert_eq!(log.count("watch.lease_secs"), 0, "only what changed is named: {}", log.text());

    let (status, answer) = world.ask(&serve, "jobs").await;
    assert_eq!(status, 200);
    assert!(answer.contains("Prepared again, with a longer timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_configuration_in_a_variable_sighup_says_there_is_nothing_to_reload() {
    let world = World::new().await;
    let nowhere: PathBuf = world.dir.path().join("absent.toml");
    let env = ServeEnv::new(&nowhere, &common::process::database(world.dir.path()), &world.slack.api_url(), &world.tailer.url())
        .var("TAILERBOT_CONFIG_TOML", world.example.clone());
    let (mut serve, log) = world.start(env).await;
    hangup(&serve);
    log.wait_for(&["TAILERBOT_CONFIG_TOML", "nothing to reload"]).await;
    assert!(serve.child_alive(), "SIGHUP does not end the process");
    let (status, answer) = world.ask(&serve, "jobs").await;
    assert_eq!(status, 200);
    assert!(answer.contains("iowa-prepare"), "{answer}");
}
