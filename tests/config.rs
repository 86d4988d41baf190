//! The configuration file and the environment: the example is accepted, and each kind of
//! mistake is refused with its line, its key and what would be right; `check-config`
//! exits 2 on them.

use std::path::Path;
use std::process::Command;

use tailerbot::config::{Config, ConfigError, Effect, Settings, StartupError, Who};
use tailerbot::domain::Action;

const JOB: &str = r#"
[[jobs]]
name = "iowa-prepare"
account = "000099"
environment = "DEV"
configuration_type = "table-to-table"
configuration_id = "000099_iowa_liquor_prepare_pda_DEV"
"#;

const READ_RULE: &str = "\n[[rules]]\nactions = [\"read\"]\n";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("t.toml"), text)
}

fn example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tailerbot.example.toml")).unwrap()
}

fn check_config(file: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .args(["check-config", "--config"])
        .arg(file)
        .env_clear()
        .output()
        .expect("the binary runs")
}

#[test]
fn check_config_accepts_the_example_and_prints_catalog_and_rules() {
    let out = check_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tailerbot.example.toml"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("valid (6 jobs, 3 rules)"), "{stdout}");
    assert!(stdout.contains("sales-daily"));
    assert!(stdout.contains("with confirmation"));
}

#[test]
fn check_config_reports_every_mistake_at_once_each_with_its_job_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let second = JOB.replace("iowa-prepare", "stock-enrich").replace("\"DEV\"", "\"dev\"");
    let third = JOB.replace("iowa-prepare", "sales-daily").replace("\"000099\"", "\"99\"");
    let text = format!("[watch]\npoll_interval_secs = 0\n{JOB}{second}{third}\n[[rules]]\nactions = [\"lanch\"]\n");
    std::fs::write(&path, &text).unwrap();
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 4, "one line per mistake:\n{stderr}");
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (expected, at) in [
        ("watch.poll_interval_secs: must be at least 1".to_owned(), line_of("poll_interval_secs = 0")),
        ("jobs #2 (stock-enrich).environment".to_owned(), line_of("\"dev\"")),
        ("jobs #3 (sales-daily).account".to_owned(), line_of("\"99\"")),
        ("rules #1.actions: unknown action `lanch`".to_owned(), line_of("lanch")),
    ] {
        let with_line = format!("bad.toml:{at}: {expected}");
        assert!(errors.iter().any(|e| e.contains(&with_line)), "missing `{with_line}` in:\n{stderr}");
    }
    // In the order of the file.
    let lines: Vec<usize> = errors.iter().map(|e| e.split(':').nth(2).unwrap().parse().unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
}

#[test]
fn check_config_rejects_an_unknown_key_with_exit_2_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, format!("{JOB}\n[watch]\npoll_interval_secs = 15\npoll_intervall_secs = 20\n")).unwrap();
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml:11"), "{stderr}");
    assert!(stderr.contains("watch.poll_intervall_secs: unknown key (did you mean `poll_interval_secs`?)"), "{stderr}");
}

/// One bad rule with six mistakes, an unknown key, values of the wrong type, a job
/// missing a key, a syntax error: all said in one run, each at its line.
#[test]
fn check_config_says_every_mistake_at_once_whatever_else_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let rule = "[[rules]]\neffect = \"alow\"\nactions = [\"lanch\"]\nenvironments = [\"prod\"]\nusers = [\"bob\"]\nusergroups = [\"oncall\"]\nchannels = [\"#data\"]\n";
    let unknown = JOB.replace("iowa-prepare", "stock-enrich").replace("account = ", "acount = \"000099\"\naccount = ");
    let missing = JOB.replace("iowa-prepare", "sales-daily").replace("environment = \"DEV\"\n", "");
    let text = format!(
        "[watch]\npoll_interval_secs = \"15\"\nlease_secs = -1\n\n[slak]\naudit_channel = \"C0AUDIT\"\n{JOB}{unknown}{missing}\n{rule}\n[[rules]]\nconfirm = \"yes\"\n"
    );
    std::fs::write(&path, &text).unwrap();
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let expected = [
        (line_of("poll_interval_secs"), "watch.poll_interval_secs: invalid type"),
        (line_of("lease_secs"), "watch.lease_secs: invalid value"),
        (line_of("[slak]"), "slak: unknown section (did you mean `slack`?)"),
        (line_of("acount"), "jobs #2.acount: unknown key (did you mean `account`?)"),
        (line_of("name = \"sales-daily\"") - 1, "jobs #3: missing field `environment`"),
        (line_of("alow"), "rules #1.effect: `alow` is neither `allow` nor `deny`"),
        (line_of("lanch"), "rules #1.actions: unknown action `lanch`"),
        (line_of("\"prod\""), "rules #1.environments"),
        (line_of("\"bob\""), "rules #1.users"),
        (line_of("\"oncall\""), "rules #1.usergroups"),
        (line_of("#data"), "rules #1.channels"),
        (line_of("\"yes\""), "rules #2.confirm: invalid type"),
    ];
    for (at, what) in expected {
        let with_line = format!("bad.toml:{at}: {what}");
        assert!(errors.iter().any(|e| e.contains(&with_line)), "missing `{with_line}` in:\n{stderr}");
    }
    assert_eq!(errors.len(), expected.len(), "one line per mistake, each once:\n{stderr}");
}

/// Warnings say where, as mistakes do: `FILE:LINE: what`.
#[test]
fn warnings_are_located_as_file_and_line() {
    let text = format!("{}\n[[rules]]\neffect = \"deny\"\nconfirm = true\n", JOB.replace("\"DEV\"", "\"PROD\""));
    let config = parse(&text).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let deny = format!("t.toml:{}: rule #1 denies", line_of("[[rules]]"));
    assert!(config.warnings.iter().any(|w| w.starts_with(&deny)), "{:?}", config.warnings);
    let prod = format!("t.toml:{}: job `iowa-prepare` is in PROD", line_of("name = "));
    assert!(config.warnings.iter().any(|w| w.starts_with(&prod)), "{:?}", config.warnings);
}

#[test]
fn check_config_refuses_a_run_url_template_that_cannot_make_a_link() {
    let dir = tempfile::tempdir().unwrap();
    for (template, says) in [
        ("https://studio.example.com/{account}/{run}", "unknown placeholder `{run}`; the placeholders are {account}"),
        ("ftp://studio.example.com/{run_id}", "is not an http(s) URL"),
        ("https://studio.example.com/{run_id", "a `{` without its `}`"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, format!("[tailer]\nrun_url_template = \"{template}\"\n{JOB}{READ_RULE}")).unwrap();
        let out = check_config(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{template}: {stderr}");
        assert!(stderr.contains("bad.toml:2: tailer.run_url_template") && stderr.contains(says), "{template}: {stderr}");
    }
    // The example's own (commented) template is accepted once written in.
    let path = dir.path().join("good.toml");
    let example = example().replace("# run_url_template = ", "run_url_template = ");
    std::fs::write(&path, &example).unwrap();
    let out = check_config(&path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = parse(&example).unwrap();
    let job = config.job("sales-daily").unwrap();
    let url = config.tailer.run_url_template.as_ref().unwrap().for_job(job, "20201230-113940-abc");
    assert_eq!(url.as_deref(), Some("https://studio.example.com/000099/runs/000099_sales_daily_PROD/20201230-113940-abc"));
}

#[test]
fn check_config_names_a_missing_file() {
    let out = check_config(Path::new("/nonexistent/tailerbot.toml"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tailerbot.toml"));
}

#[test]
fn the_example_parses_into_the_catalog_and_rules_it_describes() {
    let config = parse(&example()).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let iowa = config.job("iowa-prepare").unwrap();
    assert_eq!(iowa.job.job_id.as_ref().unwrap().as_str(), "gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV", "derived for table-to-table");
    assert_eq!(config.jobs_tagged("daily").count(), 2);
    let prod = &config.rules[2];
    assert!(prod.confirm && !prod.second_person);
    assert!(prod.actions.contains(Action::Disable) && !prod.actions.contains(Action::Status));
    assert!(matches!(&prod.who, Who::Only { users, usergroups } if users.len() == 1 && usergroups.len() == 1));
    assert_eq!(config.watch.poll_interval.as_secs(), 15);
    assert_eq!(config.slack.response_url_prefixes, vec!["https://hooks.slack.com/".to_owned()]);
}

#[test]
fn omitted_rule_keys_mean_any_and_allow() {
    let config = parse(&format!("{JOB}\n[[rules]]\n")).unwrap();
    let rule = &config.rules[0];
    assert_eq!(rule.effect, Effect::Allow);
    assert_eq!(rule.who, Who::Anyone);
    assert!(rule.actions.contains(Action::Launch));
    assert!(!rule.confirm);
}

#[test]
fn a_duplicate_job_name_is_refused_with_both_lines() {
    let error = parse(&format!("{JOB}{JOB}{READ_RULE}")).unwrap_err();
    assert_eq!(error.line, Some(10));
    assert_eq!(error.key.as_deref(), Some("jobs #2 (iowa-prepare).name"));
    assert!(error.message.contains("duplicate job name `iowa-prepare` (first defined at line 3)"), "{error}");
}

#[test]
fn an_unknown_action_is_refused_with_the_known_ones() {
    let error = parse(&format!("{JOB}\n[[rules]]\nactions = [\"read\", \"lanch\"]\n")).unwrap_err();
    assert_eq!(error.key.as_deref(), Some("rules #1.actions"));
    assert_eq!(error.line, Some(10));
    assert!(error.message.contains("unknown action `lanch`") && error.message.contains("launch"), "{error}");
}

#[test]
fn malformed_ids_are_refused_with_the_expected_shape() {
    let cases = [
        (JOB.replace("\"000099\"", "\"99\""), "jobs #1 (iowa-prepare).account", "six digits"),
        (JOB.replace("\"DEV\"", "\"dev\""), "jobs #1 (iowa-prepare).environment", "upper-case"),
        (format!("{JOB}\n[[rules]]\nusers = [\"bob\"]\n"), "rules #1.users", "`U` or `W`"),
        (format!("{JOB}\n[[rules]]\nchannels = [\"#general\"]\n"), "rules #1.channels", "channel id"),
        (format!("{JOB}\n[[rules]]\nusergroups = [\"U123\"]\n"), "rules #1.usergroups", "`S`"),
        (format!("[slack]\naudit_channel = \"general\"\n{JOB}"), "slack.audit_channel", "channel id"),
        (format!("[slack]\nallowed_team_ids = [\"x\"]\n{JOB}"), "slack.allowed_team_ids", "team id"),
        (format!("[tailer]\nmax_response_bytes = 100\n{JOB}"), "tailer.max_response_bytes", "at least 1024"),
        (format!("{JOB}\n[[rules]]\nusers = [\"*\", \"U0ANA\"]\n"), "rules #1.users", "`*` already means anyone"),
        (format!("{JOB}\n[[rules]]\nactions = [\"read\", \"*\"]\n"), "rules #1.actions", "`*` already means every action"),
        (JOB.replace("name = \"iowa-prepare\"", "name = \"iowa prepare\""), "jobs #1.name", "job name"),
    ];
    for (text, key, expected) in cases {
        let error = parse(&text).unwrap_err();
        assert_eq!(error.key.as_deref(), Some(key), "{error}");
        assert!(error.line.is_some(), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn inconsistent_rules_and_settings_are_refused() {
    let cases = [
        (format!("{JOB}\n[[rules]]\nsecond_person = true\n"), "needs confirm = true"),
        (format!("{JOB}\n[[rules]]\neffect = \"maybe\"\n"), "neither `allow` nor `deny`"),
        (format!("{JOB}\n[[rules]]\nenvironments = [\"*\", \"PROD\"]\n"), "`*` already means any"),
        (format!("[watch]\npoll_interval_secs = 60\nmax_poll_interval_secs = 30\n{JOB}"), "below poll_interval_secs"),
        (format!("[watch]\npoll_interval_secs = 0\n{JOB}"), "at least 1"),
        (format!("[slack]\nresponse_url_prefixes = [\"http://evil.example/\"]\n{JOB}"), "https://"),
    ];
    for (text, expected) in cases {
        let error = parse(&text).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn a_prod_job_no_rule_can_reach_is_a_warning() {
    let prod = JOB.replace("\"DEV\"", "\"PROD\"").replace("_DEV\"", "_PROD\"");
    let config = parse(&format!("{prod}\n[[rules]]\nenvironments = [\"DEV\"]\n")).unwrap();
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].contains("`iowa-prepare` is in PROD"), "{:?}", config.warnings);
    assert!(parse(&format!("{prod}{READ_RULE}")).unwrap().warnings.is_empty());
}

#[test]
fn a_file_without_rules_warns_that_everything_is_denied() {
    let config = parse(JOB).unwrap();
    assert!(config.warnings.iter().any(|w| w.contains("every command will be denied")));
}

#[test]
fn a_storage_job_without_a_job_id_is_a_warning_naming_it() {
    let text = JOB.replace("\"table-to-table\"", "\"storage-to-storage\"");
    let config = parse(&format!("{text}{READ_RULE}")).unwrap();
    let warning = config.warnings.iter().find(|w| w.contains("needs `job_id`")).expect("a warning");
    assert!(warning.starts_with("t.toml:3: ") && warning.contains("job `iowa-prepare`"), "{warning}");
    // The example's storage job has its job_id: no such warning.
    assert!(!tailerbot::config::embedded_config().warnings.iter().any(|w| w.contains("needs `job_id`")));
}

#[test]
fn a_job_id_unlike_the_derived_one_is_a_warning() {
    let text = JOB.replace(
        "configuration_id = \"000099_iowa_liquor_prepare_pda_DEV\"",
        "configuration_id = \"000099_iowa_liquor_prepare_pda_DEV\"\njob_id = \"gbq-to-gbq|other\"",
    );
    let config = parse(&format!("{text}{READ_RULE}")).unwrap();
    assert_eq!(config.jobs[0].job.job_id.as_ref().unwrap().as_str(), "gbq-to-gbq|other");
    assert!(config.warnings[0].contains("differs"), "{:?}", config.warnings);
}

fn settings(vars: &[(&str, &str)], config: &Config) -> Result<Settings, StartupError> {
    let vars: std::collections::HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_lookup(&|name| vars.get(name).cloned(), &config.tailer)
}

#[test]
fn the_environment_wins_over_the_file_and_defaults_fill_the_rest() {
    let config = parse(&format!("[tailer]\napi_url = \"https://file.example\"\n{JOB}")).unwrap();
    let from_file = settings(&[], &config).unwrap();
    assert_eq!(from_file.tailer_api_url, "https://file.example");
    assert_eq!(from_file.tailer_api_audience, "https://file.example", "the audience defaults to the API URL");
    assert_eq!(from_file.port, 8080);
    assert_eq!(from_file.database_url, "sqlite://tailerbot.db");
    let from_env = settings(&[("TAILER_API_URL", "http://127.0.0.1:9/"), ("PORT", "9000")], &config).unwrap();
    assert_eq!(from_env.tailer_api_url, "http://127.0.0.1:9");
    assert_eq!(from_env.port, 9000);
    let default = settings(&[], &parse(JOB).unwrap()).unwrap();
    assert_eq!(default.tailer_api_url, "https://tailer-api-nqonovswsq-ew.a.run.app");
}

#[test]
fn bad_variables_are_named() {
    let config = parse(JOB).unwrap();
    let error = settings(&[("PORT", "eighty")], &config).unwrap_err();
    assert!(error.to_string().starts_with("PORT:"), "{error}");
    let error = settings(&[("DATABASE_URL", "mysql://x")], &config).unwrap_err();
    assert!(error.to_string().starts_with("DATABASE_URL:"), "{error}");
    let error = settings(&[("LOG_FORMAT", "xml")], &config).unwrap_err();
    assert!(error.to_string().starts_with("LOG_FORMAT:"), "{error}");
}

#[test]
fn without_a_key_file_or_a_token_the_credentials_are_keyless_and_never_printed() {
    let config = parse(JOB).unwrap();
    let clock = std::sync::Arc::new(tailerbot::clock::SystemClock);
    let none = settings(&[], &config).unwrap();
    let keyless = none.token_source(clock.clone()).unwrap();
    assert!(matches!(keyless.kind(), tailerbot::tailer::CredentialsKind::Keyless { email: None, authorized_user: false }));
    let with_token = settings(&[("TAILER_API_TOKEN", "tok-secret-123"), ("SLACK_BOT_TOKEN", "xoxb-secret-456")], &config).unwrap();
    assert!(with_token.token_source(clock.clone()).is_ok());
    let shown = format!("{with_token:?}");
    assert!(!shown.contains("tok-secret-123") && !shown.contains("xoxb-secret-456"), "{shown}");
    let missing_key = settings(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json"), ("TAILER_API_TOKEN", "t")], &config).unwrap();
    let error = missing_key.token_source(clock).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/sa.json"), "the key file wins and is named: {error}");
    assert!(error.to_string().starts_with("GOOGLE_APPLICATION_CREDENTIALS: "), "with the variable that names it: {error}");
}

#[test]
fn the_whole_configuration_can_come_from_tailerbot_config_toml_and_wins_over_the_file() {
    let run = |toml: &str| {
        Command::new(env!("CARGO_BIN_EXE_tailerbot"))
            .arg("check-config")
            .env_clear()
            .env("TAILERBOT_CONFIG", "/nonexistent/tailerbot.toml")
            .env("TAILERBOT_CONFIG_TOML", toml)
            .output()
            .unwrap()
    };
    let out = run(&format!("{JOB}{READ_RULE}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("TAILERBOT_CONFIG_TOML: valid (1 job, 1 rule)"), "{stdout}");
    let out = run(&format!("{JOB}\n[[rules]]\nactions = [\"lanch\"]\n"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: TAILERBOT_CONFIG_TOML:10: rules #1.actions"), "its mistakes are located in it: {stderr}");
}

#[test]
fn a_missing_configuration_file_says_where_a_configuration_can_come_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .arg("check-config")
        .env_clear()
        .env("TAILERBOT_CONFIG", "/nonexistent/tailerbot.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in ["/nonexistent/tailerbot.toml", "tailerbot.example.toml", "TAILERBOT_CONFIG", "TAILERBOT_CONFIG_TOML"] {
        assert!(stderr.contains(expected), "missing {expected} in {stderr}");
    }
}

#[test]
fn check_config_refuses_a_run_url_template_with_a_user_and_password_without_printing_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("userinfo.toml");
    let text = example().replace(
        "# run_url_template = \"https://studio.example.com/{account}/runs/{configuration_id}/{run_id}\"",
        "run_url_template = \"https://viewer:hunter2@studio.example.com/{account}/runs/{run_id}\"",
    );
    assert!(text.contains("hunter2"), "the example still has its commented template");
    std::fs::write(&path, &text).unwrap();
    let out = check_config(&path);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("run_url_template") && stderr.contains("user name or password"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"), "the password is never printed: {stderr}");
}

/// `[[expectations]]`: read with the catalog, each mistake said at its line.
#[test]
fn expectations_of_the_file_are_read_and_each_mistake_located() {
    let good = "\n[[expectations]]\njob = \"iowa-prepare\"\nchannel = \"C0DATA\"\nby = \"07:30\"\ntime_zone = \"Europe/Paris\"\n";
    let config = parse(&format!("{JOB}{READ_RULE}{good}")).unwrap();
    assert_eq!(config.expectations.len(), 1);
    assert_eq!(config.expectations[0].schedule.to_string(), "07:30 Europe/Paris");
    assert_eq!(config.expectations[0].channel.as_str(), "C0DATA");

    let bad = [
        "\n[[expectations]]\njob = \"no-such-job\"\nchannel = \"C0DATA\"\nby = \"07:00\"\n",
        "\n[[expectations]]\njob = \"iowa-prepare\"\nchannel = \"#data\"\nby = \"7am\"\n",
        "\n[[expectations]]\njob = \"iowa-prepare\"\nchannel = \"C0OPS\"\nby = \"07:00\"\ntime_zone = \"Mars/Olympus\"\n",
        "\n[[expectations]]\njob = \"iowa-prepare\"\nchannel = \"C0DATA\"\nby = \"08:00\"\nwhen = \"daily\"\n",
    ];
    let text = format!("{JOB}{READ_RULE}{good}{}", bad.concat());
    let error = parse(&text).unwrap_err();
    let said: Vec<String> =
        error.all().map(|e| format!("{}: {}: {}", e.line.unwrap_or(0), e.key.clone().unwrap_or_default(), e.message)).collect();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for expected in [
        format!("{}: expectations #2.job: `no-such-job` is not a job of the catalog", line_of("no-such-job")),
        format!("{}: expectations #3.channel: `#data` is not a valid Slack channel id", line_of("#data")),
        format!("{}: expectations #3.by: `7am` is not a time", line_of("7am")),
        format!("{}: expectations #4.time_zone: `Mars/Olympus` is not a time zone I know", line_of("Mars/Olympus")),
        format!("{}: expectations #5.when: unknown key", line_of("when =")),
    ] {
        assert!(said.iter().any(|s| s.starts_with(&expected)), "missing `{expected}` in {said:#?}");
    }
    // The fifth, its unknown key left out, is the first one again: one per channel and job.
    assert!(said.iter().any(|s| s.contains("expectations #5.job: `iowa-prepare` is already expected in C0DATA")), "{said:#?}");
    assert_eq!(said.len(), 6, "{said:#?}");
}
