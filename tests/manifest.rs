//! The Slack app manifest: valid against Slack's published JSON Schema (read from
//! `../shared/fixtures/slack/manifest-schema/`), and within the limits of
//! slack-platform.md, for the HTTP and the Socket Mode variants; only the scopes the code
//! uses, each explained in the README, and an optional feature's scope left out on demand.

mod common;

use std::process::Command;

use serde_json::Value;

fn manifest(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).arg("manifest").args(args).env_clear().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::from_slice(&out.stdout).expect("the manifest is YAML")
}

/// What Slack's schema finds wrong with a manifest (nothing: an empty list).
fn schema_errors(manifest: &Value) -> Vec<String> {
    let dir = common::fixtures();
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("slack/manifest-schema").join(name)).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json",
            read("manifest.schema.1.0.0.json"),
        )
        .unwrap()
        .add(
            "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.2.0.0.json",
            read("manifest.schema.2.0.0.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options().with_registry(&registry).build(&read("manifest.schema.json")).expect("Slack's schema compiles");
    validator.iter_errors(manifest).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

fn validate_against_slacks_schema(manifest: &Value) {
    let errors = schema_errors(manifest);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The limits slack-platform.md lists for manifests.
fn within_slack_limits(m: &Value) {
    assert!(m["display_information"]["name"].as_str().unwrap().chars().count() <= 35);
    let commands = m["features"]["slash_commands"].as_array().unwrap();
    for c in commands {
        assert!(c["command"].as_str().unwrap().starts_with('/') && c["command"].as_str().unwrap().chars().count() <= 32);
    }
    let scopes: Vec<&str> = m["oauth_config"]["scopes"]["bot"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for needed in ["commands", "chat:write", "chat:write.public", "app_mentions:read", "im:history"] {
        assert!(scopes.contains(&needed), "scope {needed}");
    }
    // No code calls a `users.*` method: a Slack admin would ask why.
    assert!(!scopes.contains(&"users:read"), "users:read is asked for and used by nothing");
}

fn scopes(m: &Value) -> Vec<String> {
    m["oauth_config"]["scopes"]["bot"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_http_manifest_points_every_endpoint_at_the_url_and_passes_slacks_schema() {
    let m = manifest(&["--url", "https://tailerbot.example.com"]);
    assert_eq!(m["features"]["slash_commands"][0]["command"], "/tailer");
    assert_eq!(m["features"]["slash_commands"][0]["url"], "https://tailerbot.example.com/slack/commands");
    assert!(m["features"]["slash_commands"][0]["usage_hint"].as_str().unwrap().contains("launch <job>"));
    assert_eq!(m["settings"]["interactivity"]["request_url"], "https://tailerbot.example.com/slack/interactions");
    assert_eq!(m["settings"]["event_subscriptions"]["request_url"], "https://tailerbot.example.com/slack/events");
    assert_eq!(m["settings"]["socket_mode_enabled"], false);
    let scopes = m["oauth_config"]["scopes"]["bot"].as_array().unwrap();
    for scope in ["app_mentions:read", "im:history", "files:write", "commands", "chat:write"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    assert_eq!(m["features"]["app_home"]["home_tab_enabled"], true);
    assert_eq!(m["settings"]["event_subscriptions"]["bot_events"], serde_json::json!(["app_mention", "app_home_opened", "message.im"]));
    within_slack_limits(&m);
    validate_against_slacks_schema(&m);
}

#[test]
fn the_socket_mode_manifest_needs_no_url_and_passes_slacks_schema() {
    let m = manifest(&["--socket-mode"]);
    assert_eq!(m["settings"]["socket_mode_enabled"], true);
    // Events come over the socket too: mentions, the Home tab, direct messages.
    assert_eq!(m["settings"]["event_subscriptions"]["bot_events"], serde_json::json!(["app_mention", "app_home_opened", "message.im"]));
    assert!(m["settings"]["interactivity"]["request_url"].is_null());
    assert!(m["features"]["slash_commands"][0]["url"].is_null());
    within_slack_limits(&m);
    validate_against_slacks_schema(&m);
}

#[test]
fn a_manifest_without_a_usable_url_is_refused() {
    for args in [vec![], vec!["--url", "http://insecure.example.com"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_tailerbot")).arg("manifest").args(&args).env_clear().output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_schema_check_rejects_a_broken_manifest() {
    let mut m = manifest(&["--url", "https://tailerbot.example.com"]);
    assert!(schema_errors(&m).is_empty(), "the manifest as made passes");
    m["display_information"]["unknown_field"] = Value::Bool(true);
    let errors = schema_errors(&m);
    assert!(errors.iter().any(|e| e.contains("unknown_field")), "the validator is not a rubber stamp: {errors:#?}");
}

#[test]
fn a_feature_left_out_takes_its_scope_out_of_the_manifest_and_the_rest_still_passes_slacks_schema() {
    let full = scopes(&manifest(&["--url", "https://tailerbot.example.com"]));
    for scope in ["files:write", "usergroups:read"] {
        assert!(full.contains(&scope.to_owned()), "{scope} by default");
    }
    let m = manifest(&["--url", "https://tailerbot.example.com", "--without", "history", "--without", "usergroups"]);
    let lean = scopes(&m);
    assert!(!lean.contains(&"files:write".to_owned()) && !lean.contains(&"usergroups:read".to_owned()), "{lean:?}");
    let expected: Vec<String> = full.iter().filter(|s| !["files:write", "usergroups:read"].contains(&s.as_str())).cloned().collect();
    assert_eq!(lean, expected, "only those two go");
    within_slack_limits(&m);
    validate_against_slacks_schema(&m);
    let only_history = scopes(&manifest(&["--socket-mode", "--without", "history"]));
    assert!(!only_history.contains(&"files:write".to_owned()) && only_history.contains(&"usergroups:read".to_owned()));
    // The Home tab's channels: both of its scopes go, nothing else.
    let home = ["channels:read", "groups:read"];
    assert!(home.iter().all(|s| full.contains(&(*s).to_owned())), "{full:?}");
    let m = manifest(&["--url", "https://tailerbot.example.com", "--without", "home-channels"]);
    let expected: Vec<String> = full.iter().filter(|s| !home.contains(&s.as_str())).cloned().collect();
    assert_eq!(scopes(&m), expected);
    validate_against_slacks_schema(&m);
}

#[test]
fn a_feature_the_manifest_does_not_know_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .args(["manifest", "--url", "https://tailerbot.example.com", "--without", "chat"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("history"), "the error lists the features that can go");
}
#[test]
fn every_scope_the_manifest_asks_for_is_explained_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let section = readme.split_once("| scope |").expect("the README has a table of the scopes (`| scope | ...`)").1;
    let table: Vec<&str> = section.lines().skip(1).take_while(|line| line.starts_with('|')).collect();
    for scope in scopes(&manifest(&["--url", "https://tailerbot.example.com"])) {
        let row = table
            .iter()
            .find(|row| row.contains(&format!("`{scope}`")))
            .unwrap_or_else(|| panic!("the README's scope table does not explain `{scope}`"));
        assert!(row.split('|').filter(|cell| !cell.trim().is_empty()).count() >= 2, "{scope}: the row says what needs it: {row}");
    }
}
