//! `tailerbot demo` plays its conversation offline and exits 0.

use std::process::Command;

#[test]
fn the_demo_plays_the_whole_conversation_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["demo", "--speed", "4"]).env_clear().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "@ana: /tailer launch iowa-prepare",
        "✎ edited:",
        "↳ tailerbot:",
        "SUCCESS `iowa-prepare` (DEV)",
        "[Launch again]",
        "↳ tailerbot (also sent to the channel):",
        "FAILED `stock-enrich` (DEV)",
        "[Launch again] [Mark as checked]",
        "@lead: /tailer disable sales-daily",
        "[Confirm] [Cancel]",
        "@oncall clicks [Confirm]",
        "Disabled `sales-daily` (PROD)",
        "confirmed by @oncall",
        "The demo ran for",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }
}

#[test]
fn the_demo_refuses_a_speed_that_is_not_positive() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).args(["demo", "--speed", "0"]).env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
