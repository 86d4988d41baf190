//! `tailerbot demo` plays its conversation offline and exits 0.

use std::process::Command;

#[test]
fn the_demo_plays_the_whole_conversation_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("history.png");
    let out =
        Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["demo", "--speed", "4", "--chart"]).arg(&chart).env_clear().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "no log line cuts into the transcript: {}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "(Morning in #data: the dashboards need iowa-prepare, which has not run today.)",
        "@ana: /tailer expect iowa-prepare by ",
        "`iowa-prepare` (DEV) has not succeeded today by",
        "[Launch] [Last runs] [Mute today]",
        "late (expected by",
        "@ana: /tailer launch iowa-prepare",
        "✎ edited:",
        "↳ tailerbot:",
        "SUCCESS `iowa-prepare` (DEV)",
        "[Launch again]",
        "↳ tailerbot (also sent to the channel):",
        "FAILED `stock-enrich` (DEV)",
        "[Launch again] [Mark as checked]",
        "(in the card's thread) @ana: @tailerbot status",
        "Status: ❌ FAILED · Environment: DEV",
        "@lead: /tailer disable sales-daily",
        "[Confirm] [Cancel]",
        "@oncall clicks [Confirm]",
        "Disabled `sales-daily` (PROD)",
        "confirmed by @oncall",
        "(@ana opens tailerbot's Home tab)",
        "🏠 the Home tab of @ana:",
        "Failed in the last 24 h (",
        "(@ana clicks [Launch…] on the Home tab)",
        "🗔 a form opens: Launch a job",
        "Job: one of iowa-prepare (DEV), ",
        "(@ana chooses job: iowa-prepare, date: 2026-11-30, channel: C0DATA and clicks [Launch])",
        "Launched by: @ana · Execution date: 2026-11-30",
        "@ana: /tailer disabled",
        "`sales-daily` (PROD) is disabled since",
        "@lead clicks [Enable]",
        "Enabled `sales-daily` (PROD)",
        "@ana: /tailer subscribe stock-enrich failures",
        "(Tailer's own schedule starts a run of stock-enrich.)",
        "FAILED `stock-enrich` (DEV) · run `",
        "@ana: /tailer history sales-daily 30",
        "tailerbot shared a picture: 🖼  sales-daily (PROD): the last 30 runs",
        "of 30 ended runs (",
        "Duration: median ",
        &format!("(the picture Slack received is saved as {})", chart.display()),
        "@ana: /tailer digest at ",
        "This channel gets a digest every day at",
        "(The demo moves the clock on by",
        "Daily digest for ",
        "the last 24 h of the 2 jobs this channel follows",
        "expected by ",
        "missed, then succeeded ",
        "❌ ",
        "The failing job's history chart is in the thread.",
        "↳ tailerbot shared a picture: 🖼  stock-enrich (DEV): the last ",
        &format!("(the picture Slack received is saved as {})", tailerbot::demo::picture_path(&chart, 1).display()),
        "The demo ran for",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }
    // The picture is the chart: a PNG of the announced size.
    let png = std::fs::read(&chart).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (1000, 500));
}

#[test]
fn the_demo_refuses_a_speed_that_is_not_positive() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["demo", "--speed", "0"]).env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_interactive_demo_refuses_a_person_it_does_not_know() {
    let (success, stdout, stderr) = interactive("as bob /tailer jobs\nclick Confirm as zed\nquit\n");
    assert!(success, "{stdout}\n{stderr}");
    assert!(stdout.contains("nobody here is called `bob`: the people are ana, lead, oncall"), "{stdout}");
    assert!(stdout.contains("nobody here is called `zed`"), "{stdout}");
    assert!(!stdout.contains("@lead: /tailer jobs"), "bob's command was not run as someone else: {stdout}");
}

/// A cancelled confirmation does not stand in the way of the next one, and what is on
/// its way when the person quits is still shown.
#[test]
fn the_interactive_demo_confirms_after_a_cancel_and_shows_the_outcome_before_it_quits() {
    let script = "/tailer disable sales-daily late\nclick Cancel\n/tailer enable sales-daily\nclick Confirm\nquit\n";
    let (success, stdout, stderr) = interactive(script);
    assert!(success, "{stdout}\n{stderr}");
    assert!(stdout.contains("Cancelled by @oncall: disable `sales-daily` (PROD)"), "{stdout}");
    assert!(stdout.contains("Enabled `sales-daily` (PROD)"), "{stdout}");
}

/// `/tailer launch` alone opens the form; `submit` fills it and the run is launched for
/// that date.
#[test]
fn the_interactive_demo_launches_through_the_form() {
    let (success, stdout, stderr) = interactive(
        "/tailer launch
submit stock-enrich 2026-11-29
quit
",
    );
    assert!(success, "{stdout}\n{stderr}");
    assert!(stdout.contains("🗔 a form opens: Launch a job"), "{stdout}");
    assert!(stdout.contains("Follow the run in: a channel (#C0DATA unless changed)"), "{stdout}");
    assert!(stdout.contains("`stock-enrich` (DEV) · run `") && stdout.contains("Execution date: 2026-11-29"), "{stdout}");
}

/// The demo's PROD rule wants a second person: the one who asked cannot confirm.
#[test]
fn the_interactive_demo_asks_a_second_person_to_confirm_prod() {
    let script = "/tailer disable sales-daily late\nclick Confirm as lead\nclick Confirm\nquit\n";
    let (success, stdout, stderr) = interactive(script);
    assert!(success, "{stdout}\n{stderr}");
    assert!(stdout.contains("This needs a second person"), "{stdout}");
    assert!(stdout.contains("Disabled `sales-daily` (PROD)"), "oncall confirms: {stdout}");
}

/// Runs `demo --interactive` with `script` on its input: the exit status's success and what
/// it printed.
fn interactive(script: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .args(["demo", "--interactive"])
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
