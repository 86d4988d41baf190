//! The Tailer simulator behaves like the documented API: runs progress on their own
//! (driven here by a manual clock), the quirks show, tokens are checked, disabled
//! configurations launch into DEACTIVATED, and the same seed gives the same runs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tailerbot::clock::ManualClock;
use tailerbot::domain::RunId;
use tailerbot::sim::SimOptions;
use tailerbot::tailer::{ConfigurationStatus, ErrorKind, LastStatusQuery, RunStatus};

fn timed(clock: Arc<ManualClock>) -> SimOptions {
    SimOptions {
        clock,
        waiting: (Duration::from_secs(10), Duration::from_secs(10)),
        running: (Duration::from_secs(20), Duration::from_secs(20)),
        invisible_after_launch: Duration::from_secs(2),
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn a_run_shows_nothing_then_waits_runs_and_succeeds_with_a_duration_only_at_the_end() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let sim = sim(timed(clock.clone())).await;
    let c = client(&sim.url(), quick_options());
    let run = c.launch_job(&iowa(), None).await.unwrap();
    assert!(run.launched_at().is_some(), "a launched run id carries its launch time: {run}");

    assert_eq!(c.check_run_status(&iowa(), &run).await.unwrap(), None, "empty results right after a launch");
    clock.advance(Duration::from_secs(2));
    let item = c.check_run_status(&iowa(), &run).await.unwrap().unwrap();
    assert_eq!(item.status, RunStatus::Waiting);
    assert_eq!(item.duration, None);
    assert_eq!(item.configuration_type.as_deref(), Some("gbq-to-gbq"));
    clock.advance(Duration::from_secs(8));
    let item = c.check_run_status(&iowa(), &run).await.unwrap().unwrap();
    assert_eq!(item.status, RunStatus::Running);
    assert_eq!(item.duration, None);
    clock.advance(Duration::from_secs(20));
    let item = c.check_run_status(&iowa(), &run).await.unwrap().unwrap();
    assert_eq!(item.status, RunStatus::Success);
    let duration = item.duration.expect("a final run has a duration");
    assert_eq!(duration.as_secs(), 30);
}

#[tokio::test]
async fn a_configuration_whose_id_says_fail_fails() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let failing = job("000099", "DEV", "table-to-table", "000099_stock_failing_DEV", None);
    let options = SimOptions {
        configurations: vec![tailerbot::sim::SimConfiguration::new("000099", "DEV", "table-to-table", "000099_stock_failing_DEV")],
        ..timed(clock.clone())
    };
    let sim = sim(options).await;
    let c = client(&sim.url(), quick_options());
    let run = c.launch_job(&failing, None).await.unwrap();
    clock.advance(Duration::from_secs(60));
    assert_eq!(c.check_run_status(&failing, &run).await.unwrap().unwrap().status, RunStatus::Failed);
}

#[tokio::test]
async fn a_disabled_configuration_launches_into_deactivated_until_enabled() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let sim = sim(timed(clock.clone())).await;
    let c = client(&sim.url(), quick_options());
    c.set_configuration_status(&iowa(), ConfigurationStatus::Disable).await.unwrap();
    assert_eq!(sim.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
    let run = c.launch_job(&iowa(), None).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(c.check_run_status(&iowa(), &run).await.unwrap().unwrap().status, RunStatus::Deactivated);
    c.set_configuration_status(&iowa(), ConfigurationStatus::Enable).await.unwrap();
    let run = c.launch_job(&iowa(), None).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(c.check_run_status(&iowa(), &run).await.unwrap().unwrap().status, RunStatus::Waiting);
}

#[tokio::test]
async fn storage_to_storage_items_have_no_last_update_date() {
    let sim = sim(SimOptions::default()).await;
    let c = client(&sim.url(), quick_options());
    let storage = job("000099", "DEV", "storage-to-storage", "000099-jarvis-demo-iowa-liquor-storage-to-storage", None);
    let runs = c.get_last_status(&storage, &LastStatusQuery::default()).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.last_update_date.is_none() && r.start_execution_date.is_some()));
    let raw = sim.sim.requests();
    assert_eq!(raw.len(), 1);
}

#[tokio::test]
async fn marking_a_run_changes_its_status_and_an_unknown_run_is_not_found() {
    let sim = sim(SimOptions::default()).await;
    let c = client(&sim.url(), quick_options());
    let documented = RunId::parse("20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179").unwrap();
    c.set_run_status(&iowa(), &documented, &RunStatus::Checked).await.unwrap();
    assert_eq!(c.check_run_status(&iowa(), &documented).await.unwrap().unwrap().status, RunStatus::Checked);
    let unknown = RunId::parse("20201230-000000-00000000-0000-0000-0000-000000000000").unwrap();
    assert_eq!(c.check_run_status(&iowa(), &unknown).await.unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(c.set_run_status(&iowa(), &unknown, &RunStatus::Checked).await.unwrap_err().kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn an_unknown_run_can_be_answered_with_empty_results_instead() {
    let sim = sim(SimOptions { unknown_run_is_404: false, ..SimOptions::default() }).await;
    let unknown = RunId::parse("20201230-000000-00000000-0000-0000-0000-000000000000").unwrap();
    assert_eq!(client(&sim.url(), quick_options()).check_run_status(&iowa(), &unknown).await.unwrap(), None);
}

#[tokio::test]
async fn running_runs_are_listed_by_status() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let sim = sim(timed(clock.clone())).await;
    let c = client(&sim.url(), quick_options());
    let run = c.launch_job(&iowa(), None).await.unwrap();
    clock.advance(Duration::from_secs(15));
    let query = tailerbot::tailer::ByStatusQuery {
        account: tailerbot::domain::Account::parse("000099").unwrap(),
        configuration_type: tailerbot::domain::ConfigurationType::parse("table-to-table").unwrap(),
        environment: None,
        status: Some(RunStatus::Running),
        execution_date: None,
        limit: None,
    };
    let running = c.get_by_status(&query).await.unwrap();
    assert_eq!(running.iter().map(|r| &r.run_id).collect::<Vec<_>>(), vec![&run]);
}

async fn post(url: &str, authorization: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(format!("{url}/v1/dag/status")).json(&body);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_missing_or_malformed_bearer_token_gets_401() {
    tailerbot::tls::install_crypto_provider();
    let sim = sim(SimOptions::default()).await;
    let body = json!({"action": "get_last_status", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"});
    for header in [None, Some("Bearer "), Some("Basic dXNlcjpwYXNz"), Some("Bearer two words"), Some("bearer lower")] {
        assert_eq!(post(&sim.url(), header, body.clone()).await.status(), 401, "{header:?}");
    }
    assert_eq!(post(&sim.url(), Some("Bearer abc.def.ghi"), body).await.status(), 200);
}

#[tokio::test]
async fn requests_that_break_the_contract_get_400_with_a_message() {
    tailerbot::tls::install_crypto_provider();
    let sim = sim(SimOptions::default()).await;
    let auth = Some("Bearer t");
    let cases = [
        (json!({"action": "get_last_status"}), "missing field `account`"),
        (json!({"action": "fly", "account": "000099"}), "unknown action `fly`"),
        (
            json!({"action": "set_configuration_status", "account": "000099", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "activated": true, "archived": false}),
            "not served at /v1/dag/status",
        ),
        (
            json!({"action": "get_last_status", "account": "000099", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV", "limit": "3"}),
            "limit must be an integer",
        ),
        (json!([1, 2]), "must be a JSON object"),
    ];
    for (body, expected) in cases {
        let response = post(&sim.url(), auth, body).await;
        assert_eq!(response.status(), 400);
        let message = response.json::<Value>().await.unwrap()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_runs() {
    let ids = |options: SimOptions| async move {
        let sim = sim(options).await;
        let c = client(&sim.url(), quick_options());
        c.get_last_status(&iowa(), &LastStatusQuery { limit: Some(10), ..LastStatusQuery::default() })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect::<Vec<_>>()
    };
    let at = |seed| SimOptions {
        seed,
        clock: ManualClock::at_unix(1_800_000_000),
        documented_examples: false,
        configurations: vec![tailerbot::sim::SimConfiguration::new(
            "000099",
            "DEV",
            "table-to-table",
            "000099_iowa_liquor_prepare_pda_DEV",
        )],
        ..SimOptions::default()
    };
    let first = ids(at(1)).await;
    assert_eq!(first.len(), 3);
    assert_eq!(first, ids(at(1)).await);
    assert_ne!(first, ids(at(2)).await);
}

#[tokio::test]
async fn faults_can_be_armed_over_http() {
    tailerbot::tls::install_crypto_provider();
    let sim = sim(SimOptions::default()).await;
    let armed = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.url()))
        .json(&json!({"action": "get_last_status", "kind": "status", "status": 500, "message": "injected", "times": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 204);
    let error = client(&sim.url(), quick_options()).get_last_status(&iowa(), &LastStatusQuery::default()).await.unwrap_err();
    assert_eq!(error.excerpt, "injected");
}

/// The simulator writes durations from the documentation, the client reads them from
/// its own reading of it: the two agree, from seconds to days.
#[test]
fn the_clients_reading_of_a_duration_agrees_with_the_simulators_writing() {
    for micros in [0_i64, 3_000_000, 84_002_519, 3_599_999_999, 90_061_000_001, 2 * 86_400_000_000 + 5_000_000] {
        let text = tailerbot::sim::timedelta(micros);
        assert_eq!(tailerbot::tailer::parse_duration(&text), Some(Duration::from_micros(micros as u64)), "{text}");
    }
}

/// Every status the simulator can report is one the client knows by name.
#[test]
fn every_status_the_simulator_reports_is_one_the_client_knows() {
    for status in tailerbot::sim::RunStatus::ALL {
        assert!(!matches!(RunStatus::parse(status.as_str()), RunStatus::Other(_)), "{status}");
    }
}

/// Every run id in the examples of `help` is one the simulator knows (a documented run of
/// that very job), so that a person trying `help`'s examples in the demo or against
/// `tailerbot sim` gets an answer, not "not found".
#[tokio::test]
async fn the_run_ids_of_the_help_examples_are_runs_the_simulator_knows_for_that_job() {
    let config = tailerbot::config::embedded_config();
    let sim = sim(SimOptions::default().with_catalog(tailerbot::offline::configurations(&config.jobs))).await;
    let client = client(&sim.url(), quick_options());
    let mut checked = 0;
    for verb in tailerbot::commands::verbs() {
        let command = tailerbot::commands::parse(verb.example).unwrap();
        let (job, run) = match &command {
            tailerbot::commands::Command::Status { job: Some(job), run }
            | tailerbot::commands::Command::Watch { job: Some(job), run }
            | tailerbot::commands::Command::Write(tailerbot::commands::writes::Write::Mark { job, run, .. }) => (job.clone(), run.clone()),
            tailerbot::commands::Command::Unwatch { run } => (tailerbot::domain::JobName::parse("iowa-prepare").unwrap(), run.clone()),
            _ => continue,
        };
        let job = config.job(job.as_str()).unwrap_or_else(|| panic!("{}: no job {job}", verb.example));
        let item = client.check_run_status(&job.job, &run).await.unwrap_or_else(|e| panic!("{}: {e}", verb.example));
        assert!(item.is_some(), "{}: the simulator does not know the run", verb.example);
        checked += 1;
    }
    assert!(checked >= 4, "status, watch, unwatch and mark were checked");
}

/// `sim --speed 1000` runs jobs a thousand times faster, as `demo --speed` does: a launch
/// ends within seconds (read the other way, it would take about a day).
#[tokio::test]
async fn sim_speed_means_times_faster_as_for_the_demo() {
    // Port 0: the simulator takes a free port and says which.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tailerbot"))
        .args(["sim", "--port", "0", "--speed", "1000"])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Its output is read to the end (a closed pipe would end it at its next line).
    let stdout = child.stdout.take().unwrap();
    let (said, first) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok);
        let _ = said.send(lines.next().unwrap_or_default());
        lines.for_each(drop);
    });
    let first = tokio::time::timeout(Duration::from_secs(10), first).await.expect("the simulator says where it listens").unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {first:?}"));
    let c = client(url, quick_options());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let run = loop {
        if let Ok(run) = c.launch_job(&iowa(), None).await {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "the simulator did not start within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = loop {
        if let Ok(Some(item)) = c.check_run_status(&iowa(), &run).await {
            if item.status.is_final() {
                break item.status;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end within 10 s at --speed 1000");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, RunStatus::Success);
}
