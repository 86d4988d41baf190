//! The client sends exactly the documented request bodies and reads every documented
//! answer, quirks included.

mod common;

use chrono::NaiveDate;
use common::*;
use serde_json::json;
use tailerbot::domain::{Account, ConfigurationType, RunId};
use tailerbot::sim::SimOptions;
use tailerbot::tailer::{ByStatusQuery, ConfigurationStatus, LastStatusQuery, RunStatus};

fn documented_run() -> RunId {
    RunId::parse("20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179").unwrap()
}

fn storage_job() -> tailerbot::tailer::JobRef {
    job("000099", "DEV", "storage-to-storage", "000099-jarvis-demo-iowa-liquor-storage-to-storage", None)
}

#[tokio::test]
async fn every_request_body_equals_the_documented_example() {
    let dir = fixtures();
    let sim = sim(SimOptions::default()).await;
    let client = client(&sim.url(), quick_options());
    let traffic = job("000099", "DEV", "table-to-table", "000099_Load_PDA_f_traffic_ma_DEV", None);
    let workflow = job("000099", "DEV", "workflow", "000099-iowa-liquor-load-pda", None);
    let poc = job("000110", "DEV", "gbq-to-gbq", "000110-tailer-TTT-POC-ETL-VTE_DEV", None);

    client.launch_job(&iowa(), None).await.unwrap();
    client.launch_job(&poc, Some(NaiveDate::from_ymd_opt(2020, 11, 9).unwrap())).await.unwrap();
    client.check_run_status(&iowa(), &documented_run()).await.unwrap();
    client.get_last_status(&iowa(), &LastStatusQuery::default()).await.unwrap();
    client.get_last_status(&storage_job(), &LastStatusQuery::default()).await.unwrap();
    let filtered = LastStatusQuery {
        execution_date: Some(NaiveDate::from_ymd_opt(2020, 12, 9).unwrap()),
        status: Some(RunStatus::Success),
        limit: Some(2),
    };
    client.get_last_status(&storage_job(), &filtered).await.unwrap();
    let by_status = ByStatusQuery {
        account: Account::parse("000099").unwrap(),
        configuration_type: ConfigurationType::parse("table-to-table").unwrap(),
        environment: None,
        status: Some(RunStatus::Running),
        execution_date: Some(NaiveDate::from_ymd_opt(2024, 9, 18).unwrap()),
        limit: Some(15),
    };
    client.get_by_status(&by_status).await.unwrap();
    client.set_run_status(&iowa(), &documented_run(), &RunStatus::Checked).await.unwrap();
    client.reset_workflow_status(&workflow).await.unwrap();
    client.set_configuration_status(&traffic, ConfigurationStatus::Disable).await.unwrap();
    client.set_configuration_status(&traffic, ConfigurationStatus::Enable).await.unwrap();

    // set_run_status: the docs' text says to send `environment` although their example
    // leaves it out; it is the only field added.
    let mut set_run_status = fixture_json(&dir, "set_run_status.request.json");
    set_run_status["environment"] = json!("DEV");
    let expected = [
        ("/v1/dag/launch", fixture_json(&dir, "launch_job.request.json")),
        ("/v1/dag/launch", fixture_json(&dir, "launch_job.request.2020.json")),
        ("/v1/dag/status", fixture_json(&dir, "check_run_status.request.json")),
        ("/v1/dag/status", fixture_json(&dir, "get_last_status.job.request.json")),
        ("/v1/dag/status", fixture_json(&dir, "get_last_status.dataop.request.json")),
        ("/v1/dag/status", fixture_json(&dir, "get_last_status.filtered.request.json")),
        ("/v1/dag/status", fixture_json(&dir, "get_by_status.request.json")),
        ("/v1/dag/status", set_run_status),
        ("/v1/workflow/status", fixture_json(&dir, "reset_workflow_status.request.json")),
        ("/v1/configuration/status", fixture_json(&dir, "set_configuration_status.disable.request.json")),
        ("/v1/configuration/status", fixture_json(&dir, "set_configuration_status.enable.request.json")),
    ];
    let sent = sim.sim.requests();
    assert_eq!(sent.len(), expected.len());
    for (request, (path, body)) in sent.iter().zip(expected) {
        assert_eq!(request.path, path, "{}", request.action);
        assert_eq!(request.body, body, "{}", request.action);
    }
}

#[tokio::test]
async fn the_documented_run_lists_parse_with_their_quirks() {
    let dir = fixtures();
    let answer = std::fs::read_to_string(dir.join("tailer/get_last_status.job.response.json")).unwrap();
    let client = client(&fixed_answer(200, answer).await, quick_options());
    let runs = client.get_last_status(&iowa(), &LastStatusQuery::default()).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].configuration_type.as_deref(), Some("gbq-to-gbq"), "table-to-table answers as gbq-to-gbq");
    assert_eq!(runs[0].duration, Some(std::time::Duration::from_micros(84_002_519)));
    assert_eq!(runs[0].status, RunStatus::Success);
    assert!(runs[0].last_update_date.is_some());

    let answer = std::fs::read_to_string(dir.join("tailer/get_last_status.dataop.response.json")).unwrap();
    let client = common::client(&fixed_answer(200, answer).await, quick_options());
    let runs = client.get_last_status(&storage_job(), &LastStatusQuery::default()).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.last_update_date.is_none()), "storage-to-storage has no last_update_date");
    assert_eq!(runs[0].start_execution_date.unwrap().to_rfc3339(), "2020-12-09T17:17:23+00:00");
    assert!(runs[0].run_id.launched_at().is_none(), "event-driven run ids carry no launch time");
}

#[tokio::test]
async fn the_documented_single_answers_parse() {
    let dir = fixtures();
    let read = |name: &str| std::fs::read_to_string(dir.join("tailer").join(name)).unwrap();

    let client = common::client(&fixed_answer(200, read("check_run_status.response.json")).await, quick_options());
    let run = client.check_run_status(&iowa(), &documented_run()).await.unwrap().unwrap();
    assert_eq!(run.run_id, documented_run());
    assert_eq!(run.start_execution_date.unwrap().timestamp_subsec_micros(), 861_340);

    let client = common::client(&fixed_answer(200, read("launch_job.response.json")).await, quick_options());
    let run_id = client.launch_job(&iowa(), None).await.unwrap();
    assert_eq!(run_id.as_str(), "20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1");

    let client = common::client(&fixed_answer(200, read("reset_workflow_status.response.json")).await, quick_options());
    client.reset_workflow_status(&iowa()).await.unwrap();

    let client = common::client(&fixed_answer(200, read("set_configuration_status.response.json")).await, quick_options());
    client.set_configuration_status(&iowa(), ConfigurationStatus::Archive).await.unwrap();
}

#[tokio::test]
async fn an_empty_result_right_after_a_launch_is_no_run_yet() {
    let client = client(&fixed_answer(200, r#"{"results": []}"#.into()).await, quick_options());
    assert_eq!(client.check_run_status(&iowa(), &documented_run()).await.unwrap(), None);
}

#[tokio::test]
async fn items_without_run_id_are_skipped_and_unknown_statuses_kept() {
    let body = r#"{"results": [{"status": "RUNNING"}, {"run_id": "20201209-x", "status": "PAUSED", "new_field": 1}]}"#;
    let client = client(&fixed_answer(200, body.into()).await, quick_options());
    let runs = client.get_last_status(&iowa(), &LastStatusQuery::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Other("PAUSED".into()));
}

#[tokio::test]
async fn a_reset_answered_with_an_error_code_in_the_body_is_an_error() {
    let client = client(&fixed_answer(200, r#"{"code": 400, "data": {}, "message": "not a workflow"}"#.into()).await, quick_options());
    let error = client.reset_workflow_status(&iowa()).await.unwrap_err();
    assert_eq!(error.kind, tailerbot::tailer::ErrorKind::BadRequest);
    assert_eq!(error.excerpt, "not a workflow");
}
