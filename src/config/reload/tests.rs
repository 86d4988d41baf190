//! The reloader's iterations, driven one at a time against files in a temporary folder,
//! and its loop under a paused clock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Origin, Outcome, POLL_EVERY, Reloader};
use crate::clock::SystemClock;
use crate::config::{Config, EXAMPLE_TOML, LiveConfig, Loaded};

/// The example with the first job's description changed: a configuration every answer
/// about that job tells apart.
fn described(description: &str) -> String {
    EXAMPLE_TOML.replace("Prepare the Iowa liquor sales tables", description)
}

/// A bot's configuration as `serve` starts it from `path`, and a reloader over it.
fn started(path: &Path) -> (Arc<LiveConfig>, Reloader) {
    let text = std::fs::read_to_string(path).unwrap();
    let config = Config::parse(path, &text).unwrap();
    let live = Arc::new(LiveConfig::new(Loaded::new(config, None, chrono::Utc::now())));
    let reloader = Reloader::new(live.clone(), Origin::File(path.to_owned()), Arc::new(SystemClock));
    (live, reloader)
}

fn description(live: &LiveConfig) -> String {
    live.config().job("iowa-prepare").and_then(|j| j.description.clone()).unwrap_or_default()
}

#[test]
fn the_start_takes_the_hash_of_the_file_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, _reloader) = started(&path);
    assert_eq!(live.snapshot().hash.as_deref(), Some(crate::config::short_hash(described("first").as_bytes()).as_str()));
}

#[test]
fn a_change_is_applied_once_two_polls_in_a_row_read_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    assert_eq!(reloader.poll_once(), None, "nothing changed");

    std::fs::write(&path, described("second")).unwrap();
    assert_eq!(reloader.poll_once(), None, "read once: perhaps half-written, not acted on yet");
    assert_eq!(description(&live), "first");
    assert_eq!(reloader.poll_once(), Some(Outcome::Applied));
    assert_eq!(description(&live), "second");
    assert_eq!(reloader.poll_once(), None, "a change is acted on once");
}

#[test]
fn a_file_caught_half_written_is_not_taken_when_the_next_poll_reads_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    let whole = described("second");
    // Cut after the first job: valid TOML, a catalog of one.
    let cut = &whole[..whole.find("[[jobs]]\nname = \"iowa-stores-files\"").unwrap()];
    std::fs::write(&path, cut).unwrap();
    assert_eq!(reloader.poll_once(), None);
    std::fs::write(&path, &whole).unwrap();
    assert_eq!(reloader.poll_once(), None, "the bytes changed between the two reads");
    assert_eq!(reloader.poll_once(), Some(Outcome::Applied));
    assert_eq!(live.config().jobs.len(), 6, "the whole file, never the cut one");
}

#[test]
fn an_invalid_file_is_refused_once_and_the_configuration_in_force_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    let before = live.snapshot();
    std::fs::write(&path, described("second").replace("[watch]", "[watch]\nbogus = 1")).unwrap();
    assert_eq!(reloader.poll_once(), None);
    assert_eq!(reloader.poll_once(), Some(Outcome::Refused));
    assert_eq!(reloader.poll_once(), None, "refused once, not at every poll");
    assert!(Arc::ptr_eq(&before, &live.snapshot()), "the configuration in force is the one before");
}

#[test]
fn a_deleted_file_is_refused_and_the_same_file_put_back_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    let before = live.snapshot();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(reloader.poll_once(), None);
    assert_eq!(reloader.poll_once(), Some(Outcome::Refused));
    assert_eq!(reloader.reload_now(), Some(Outcome::Refused), "SIGHUP on a missing file: refused too");
    std::fs::write(&path, described("first")).unwrap();
    assert_eq!(reloader.poll_once(), None);
    assert_eq!(reloader.poll_once(), Some(Outcome::Unchanged));
    assert!(Arc::ptr_eq(&before, &live.snapshot()));
}

#[test]
fn sighup_reads_at_once_and_says_when_nothing_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    assert_eq!(reloader.reload_now(), Some(Outcome::Unchanged));
    std::fs::write(&path, described("second")).unwrap();
    assert_eq!(reloader.reload_now(), Some(Outcome::Applied));
    assert_eq!(description(&live), "second");
    assert_eq!(reloader.poll_once(), None, "the polls do not act again on what SIGHUP took");
    assert_eq!(reloader.poll_once(), None);
}

#[cfg(unix)]
#[test]
fn a_configmap_update_that_swaps_the_data_symlink_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path();
    // As the kubelet lays out a ConfigMap volume.
    std::fs::create_dir(mount.join("..2024_01_01_00_00_00.1")).unwrap();
    std::fs::write(mount.join("..2024_01_01_00_00_00.1/tailerbot.toml"), described("first")).unwrap();
    std::os::unix::fs::symlink("..2024_01_01_00_00_00.1", mount.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/tailerbot.toml", mount.join("tailerbot.toml")).unwrap();
    let (live, reloader) = started(&mount.join("tailerbot.toml"));

    // The update: a new directory, a new symlink renamed over `..data`, the old one gone.
    std::fs::create_dir(mount.join("..2024_01_01_00_01_00.2")).unwrap();
    std::fs::write(mount.join("..2024_01_01_00_01_00.2/tailerbot.toml"), described("second")).unwrap();
    std::os::unix::fs::symlink("..2024_01_01_00_01_00.2", mount.join("..data_tmp")).unwrap();
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    std::fs::remove_dir_all(mount.join("..2024_01_01_00_00_00.1")).unwrap();

    assert_eq!(reloader.poll_once(), None);
    assert_eq!(reloader.poll_once(), Some(Outcome::Applied));
    assert_eq!(description(&live), "second");
}

#[test]
fn a_setting_bound_at_start_keeps_its_running_value_and_the_rest_applies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    std::fs::write(&path, described("second").replace("timeout_secs = 10 ", "timeout_secs = 30 ")).unwrap();
    assert_eq!(reloader.reload_now(), Some(Outcome::Applied));
    assert_eq!(live.config().tailer.timeout, Duration::from_secs(10), "the client was built with 10 s: the configuration says so");
    assert_eq!(description(&live), "second");
}

#[test]
fn the_configuration_from_the_variable_has_nothing_to_reload() {
    let config = Config::parse(Path::new("TAILERBOT_CONFIG_TOML"), EXAMPLE_TOML).unwrap();
    let live = Arc::new(LiveConfig::new(Loaded::new(config, None, chrono::Utc::now())));
    let reloader = Reloader::new(live.clone(), Origin::Variable(EXAMPLE_TOML.to_owned()), Arc::new(SystemClock));
    assert_eq!(live.snapshot().hash.as_deref(), Some(crate::config::short_hash(EXAMPLE_TOML.as_bytes()).as_str()));
    assert_eq!(reloader.reload_now(), None);
    assert_eq!(reloader.poll_once(), None);
}

#[test]
fn the_origin_is_the_one_the_configuration_is_read_from() {
    let lookup = |name: &str| match name {
        "TAILERBOT_CONFIG_TOML" => Some("[slack]".to_owned()),
        "TAILERBOT_CONFIG" => Some("/etc/tailerbot/tailerbot.toml".to_owned()),
        _ => None,
    };
    assert_eq!(Origin::of_environment(&lookup, None), Origin::Variable("[slack]".into()));
    assert_eq!(Origin::of_environment(&lookup, Some(Path::new("x.toml"))), Origin::File("x.toml".into()));
    let lookup = |name: &str| (name == "TAILERBOT_CONFIG").then(|| "/etc/tailerbot/tailerbot.toml".to_owned());
    assert_eq!(Origin::of_environment(&lookup, None), Origin::File("/etc/tailerbot/tailerbot.toml".into()));
}

#[tokio::test(start_paused = true)]
async fn the_loop_applies_a_change_within_two_polls_a_hangup_at_once_and_stops_on_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tailerbot.toml");
    std::fs::write(&path, described("first")).unwrap();
    let (live, reloader) = started(&path);
    let (hangup, stop) = (Arc::new(Notify::new()), CancellationToken::new());
    let mut changes = live.subscribe();
    let running = tokio::spawn(Arc::new(reloader).run(hangup.clone(), stop.clone()));

    let start = tokio::time::Instant::now();
    std::fs::write(&path, described("second")).unwrap();
    tokio::time::timeout(Duration::from_secs(60), changes.changed()).await.expect("the change is seen").unwrap();
    assert!(start.elapsed() <= 2 * POLL_EVERY, "seen after {:?}", start.elapsed());
    assert_eq!(description(&live), "second");

    let start = tokio::time::Instant::now();
    std::fs::write(&path, described("third")).unwrap();
    hangup.notify_one();
    tokio::time::timeout(Duration::from_secs(60), changes.changed()).await.expect("the hangup reloads").unwrap();
    assert!(start.elapsed() < POLL_EVERY, "a hangup does not wait for the polls: {:?}", start.elapsed());
    assert_eq!(description(&live), "third");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), running).await.expect("the loop ends on the signal").unwrap();
}
