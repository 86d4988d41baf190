//! Each class of Tailer failure, produced by the simulator's fault injection (or a closed
//! port), is classified, retried or not as it should be, and described precisely.

mod common;

use std::time::Duration;

use common::*;
use tailerbot::domain::RunId;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::tailer::{ClientOptions, ErrorKind, LastStatusQuery, LaunchError};

fn last() -> LastStatusQuery {
    LastStatusQuery::default()
}

fn fault(action: &str, kind: FaultKind, times: u32) -> Fault {
    Fault::new(Some(action), kind, times)
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let sim = sim(SimOptions { token: Some("the-right-one".into()), ..SimOptions::default() }).await;
    let error = client(&sim.url(), quick_options()).get_last_status(&iowa(), &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert_eq!(error.status, Some(401));
    assert_eq!(sim.sim.count("get_last_status"), 1);
    assert!(!error.to_string().contains("test-token"), "the token never appears in an error");
}

#[tokio::test]
async fn an_unknown_configuration_is_not_found() {
    let sim = sim(SimOptions::default()).await;
    let unknown = job("000099", "DEV", "table-to-table", "000099_nobody_DEV", None);
    let error = client(&sim.url(), quick_options()).get_last_status(&unknown, &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound);
    assert!(error.excerpt.contains("000099_nobody_DEV"), "{error}");
    assert_eq!(sim.sim.count("get_last_status"), 1);
}

#[tokio::test]
async fn a_refused_request_is_a_bad_request_with_tailers_message() {
    let sim = sim(SimOptions::default()).await;
    let error = client(&sim.url(), quick_options()).reset_workflow_status(&iowa()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::BadRequest);
    assert_eq!(error.to_string(), "Tailer refused the request (reset_workflow_status, HTTP 400): configuration_type must be `workflow`");
}

#[tokio::test]
async fn a_passing_server_error_is_retried_until_it_succeeds() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("get_last_status", FaultKind::Status { status: 500, message: "boom".into() }, 1));
    sim.sim.inject(fault("get_last_status", FaultKind::Status { status: 503, message: "busy".into() }, 1));
    let runs = client(&sim.url(), quick_options()).get_last_status(&iowa(), &last()).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(sim.sim.count("get_last_status"), 3);
}

#[tokio::test]
async fn a_lasting_server_error_gives_up_after_the_retries() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("check_run_status", FaultKind::Status { status: 503, message: "down".into() }, 100));
    let run = RunId::parse("20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179").unwrap();
    let error = client(&sim.url(), quick_options()).check_run_status(&iowa(), &run).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert_eq!(error.status, Some(503));
    assert_eq!(sim.sim.count("check_run_status"), 4, "one try and three retries");
}

#[tokio::test]
async fn a_rate_limit_is_retried_and_then_reported() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("get_last_status", FaultKind::RateLimited { retry_after_secs: 0 }, 1));
    let c = client(&sim.url(), quick_options());
    c.get_last_status(&iowa(), &last()).await.unwrap();
    assert_eq!(sim.sim.count("get_last_status"), 2);

    sim.sim.inject(fault("get_last_status", FaultKind::RateLimited { retry_after_secs: 0 }, 100));
    // Another client: this one keeps the answer it just had for a few seconds.
    let error = client(&sim.url(), quick_options()).get_last_status(&iowa(), &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::ZERO));
}

#[tokio::test]
async fn an_html_error_page_is_a_server_error_with_a_short_excerpt() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("get_last_status", FaultKind::Html { status: 502 }, 100));
    let error = client(&sim.url(), quick_options()).get_last_status(&iowa(), &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert!(error.excerpt.starts_with("<html>"), "{}", error.excerpt);
    assert!(!error.excerpt.contains('\n'));
}

#[tokio::test]
async fn empty_truncated_and_text_bodies_are_undecodable_and_not_retried() {
    for kind in [FaultKind::Empty, FaultKind::Truncated, FaultKind::NotJson] {
        let sim = sim(SimOptions::default()).await;
        sim.sim.inject(fault("get_last_status", kind.clone(), 1));
        let error = client(&sim.url(), quick_options()).get_last_status(&iowa(), &last()).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Undecodable, "{kind:?}");
        assert!(!error.excerpt.is_empty(), "{kind:?}: the error says what came back");
        assert_eq!(sim.sim.count("get_last_status"), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("get_last_status", FaultKind::Delay { millis: 5_000 }, 100));
    let options = ClientOptions { timeout: Duration::from_millis(100), max_retries: 1, ..quick_options() };
    let error = client(&sim.url(), options).get_last_status(&iowa(), &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(sim.sim.count("get_last_status"), 2);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client(&url, quick_options()).get_last_status(&iowa(), &last()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connect);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_launch_that_fails_on_the_server_is_not_retried_and_its_outcome_unknown() {
    let sim = sim(SimOptions::default()).await;
    sim.sim.inject(fault("launch_job", FaultKind::Status { status: 500, message: "boom".into() }, 1));
    let error = client(&sim.url(), quick_options()).launch_job(&iowa(), None).await.unwrap_err();
    assert!(matches!(error, LaunchError::OutcomeUnknown(_)), "{error:?}");
    assert_eq!(sim.sim.count("launch_job"), 1, "a launch is never retried blindly");
}

#[tokio::test]
async fn a_launch_refused_or_rate_limited_launched_nothing() {
    let sim = sim(SimOptions::default()).await;
    let c = client(&sim.url(), quick_options());
    sim.sim.inject(fault("launch_job", FaultKind::RateLimited { retry_after_secs: 1 }, 1));
    assert!(matches!(c.launch_job(&iowa(), None).await, Err(LaunchError::NotLaunched(_))));
    let workflow = job("000099", "DEV", "workflow", "000099-iowa-liquor-load-pda", None);
    let error = c.launch_job(&workflow, None).await.unwrap_err();
    assert!(matches!(error, LaunchError::NotLaunched(_)));
    assert!(error.to_string().contains("cannot be launched"), "{error}");
    assert_eq!(sim.sim.count("launch_job"), 2);
}

#[tokio::test]
async fn a_launch_that_timed_out_can_be_found_afterwards() {
    // The simulator acts before its slow answer, and shows new runs at once here.
    let sim = sim(SimOptions { invisible_after_launch: Duration::ZERO, ..SimOptions::default() }).await;
    sim.sim.inject(fault("launch_job", FaultKind::Delay { millis: 5_000 }, 1));
    let options = ClientOptions { timeout: Duration::from_millis(200), ..quick_options() };
    let c = client(&sim.url(), options);
    let before = chrono::Utc::now();
    let error = c.launch_job(&iowa(), None).await.unwrap_err();
    assert!(matches!(error, LaunchError::OutcomeUnknown(ref e) if e.kind == ErrorKind::Timeout), "{error:?}");
    assert_eq!(sim.sim.count("launch_job"), 1);
    let found = c.runs_launched_since(&iowa(), before.timestamp()).await.unwrap().expect("the answer reaches back");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(sim.sim.status_of(found[0].run_id.as_str()).is_some());
    let later = c.runs_launched_since(&iowa(), before.timestamp() + 3_600).await.unwrap();
    assert_eq!(later, Some(Vec::new()), "older runs are not taken for it");
}

/// A busy job: others launched it many times since. The launch's own run is found
/// past the first 20 of its latest runs; when even the longest answer does not reach
/// back to the launch, Tailer's answer is no answer (the one not noted may be someone
/// else's).
#[tokio::test]
async fn a_launch_followed_by_many_others_of_its_job_is_found_or_said_unknown_never_mistaken() {
    let sim = sim(SimOptions { invisible_after_launch: Duration::ZERO, ..SimOptions::default() }).await;
    let c = client(&sim.url(), quick_options());
    let before = chrono::Utc::now();
    let own = c.launch_job(&iowa(), None).await.unwrap().to_string();
    let mut others = Vec::new();
    for _ in 0..30 {
        others.push(c.launch_job(&iowa(), None).await.unwrap().to_string());
    }
    let since = before.timestamp() - 2;
    let unnoted = |runs: Vec<tailerbot::tailer::RunItem>| {
        runs.into_iter().map(|r| r.run_id.to_string()).filter(|r| !others.contains(r)).collect::<Vec<_>>()
    };
    let found = c.runs_launched_since(&iowa(), since).await.unwrap().map(unnoted);
    assert_eq!(found, Some(vec![own]), "its run, 31st newest");
    for _ in 0..70 {
        others.push(c.launch_job(&iowa(), None).await.unwrap().to_string());
    }
    // 101 runs since: an answer of 100 does not reach back; one of them is not noted.
    let found = c.runs_launched_since(&iowa(), since).await.unwrap();
    assert!(found.is_none(), "101 runs since: an answer of 100 does not reach back");
}

#[tokio::test]
async fn a_launch_to_a_closed_port_launched_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client(&url, quick_options()).launch_job(&iowa(), None).await.unwrap_err();
    assert!(matches!(error, LaunchError::NotLaunched(ref e) if e.kind == ErrorKind::Connect), "{error:?}");
}
