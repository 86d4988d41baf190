//! The simulator's HTTP face: the four documented paths, checked as the real API would
//! (bearer token, action at the right path, required fields), faults applied first, and
//! the `/_sim/*` controls for tests and people.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value, json};

use super::faults::{Fault, FaultKind};
use super::{Simulator, lock};
use crate::api::{Action as TailerAction, RunStatus};

/// One request as received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub path: String,
    /// The `action` field, or empty when there was none.
    pub action: String,
    pub body: Value,
    /// Milliseconds since the simulator started.
    pub at_ms: i64,
    /// The bearer token it carried, for tests that check what a client sent; never
    /// served by `GET /_sim/requests` (a real token must not be listed anywhere).
    #[serde(skip)]
    pub bearer: Option<String>,
}

pub fn router(sim: Simulator) -> Router {
    let mut router = Router::new();
    for path in ["/v1/dag/launch", "/v1/dag/status", "/v1/workflow/status", "/v1/configuration/status"] {
        router = router.route(path, post(api));
    }
    router
        .route("/_sim/faults", post(arm_fault).delete(clear_faults))
        .route("/_sim/requests", get(list_requests))
        .route("/_sim/runs/{run_id}", get(run_status))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(sim)
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({ "message": message.into() }))
}

/// A well-formed bearer token: `Bearer ` and one visible word.
fn token_ok(sim: &Simulator, headers: &HeaderMap) -> bool {
    let Some(token) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    let well_formed = !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic());
    well_formed && sim.inner.options.token.as_deref().is_none_or(|expected| expected == token)
}

async fn api(State(sim): State<Simulator>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let action = parsed.as_ref().and_then(|v| v.get("action")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let at_ms = lock(&sim.inner.state).now_ms();
    // Recorded once what it does is done: a test that saw it counted sees its effect.
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::to_owned);
    let recorded =
        RecordedRequest { path: path.clone(), action: action.clone(), body: parsed.clone().unwrap_or(Value::Null), at_ms, bearer };
    if !token_ok(&sim, &headers) {
        sim.record(recorded);
        return refuse(StatusCode::UNAUTHORIZED, "missing or malformed bearer token");
    }
    let fault = lock(&sim.inner.faults).take(&action);
    let delay = match fault {
        Some(fault) => match fault.delay() {
            Some(delay) => Some(delay),
            None => {
                sim.record(recorded);
                return faulty(fault);
            }
        },
        None => None,
    };
    let response = act(&sim, &path, &action, parsed);
    sim.record(recorded);
    // A slow answer still acts first, as a real server that is slow to reply does: a client
    // that gives up cannot tell whether the action happened.
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn act(sim: &Simulator, path: &str, action: &str, parsed: Option<Value>) -> Response {
    let Some(Value::Object(fields)) = parsed else {
        return refuse(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let Some(known) = TailerAction::from_name(action) else {
        return refuse(StatusCode::BAD_REQUEST, format!("unknown action `{action}`"));
    };
    if known.path() != path {
        return refuse(StatusCode::BAD_REQUEST, format!("action `{action}` is not served at {path}"));
    }
    match handle(sim, known, &fields) {
        Ok(body) => answer(StatusCode::OK, body),
        Err((status, message)) => refuse(status, message),
    }
}

fn faulty(fault: FaultKind) -> Response {
    match fault {
        FaultKind::Status { status, message } => {
            refuse(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), message)
        }
        FaultKind::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            Json(json!({"message": "rate limit exceeded"})),
        )
            .into_response(),
        FaultKind::Html { status } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
            "<html><head><title>502 Server Error</title></head><body><h1>Error: Server Error</h1>\n<p>The server encountered a temporary error.</p></body></html>",
        )
            .into_response(),
        FaultKind::Empty => StatusCode::OK.into_response(),
        FaultKind::Truncated => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"results": [{"run_id": "20201230-1139"#,
        )
            .into_response(),
        FaultKind::NotJson => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "OK").into_response(),
        FaultKind::Delay { .. } => StatusCode::OK.into_response(),
    }
}

type Fields = serde_json::Map<String, Value>;
type Outcome = Result<Value, (StatusCode, String)>;

fn text<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, (StatusCode, String)> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err((StatusCode::BAD_REQUEST, format!("`{name}` must be a non-empty string"))),
        None => Err((StatusCode::BAD_REQUEST, format!("missing field `{name}`"))),
    }
}

fn optional_text<'a>(fields: &'a Fields, name: &str) -> Result<Option<&'a str>, (StatusCode, String)> {
    if fields.contains_key(name) { text(fields, name).map(Some) } else { Ok(None) }
}

fn date(fields: &Fields) -> Result<Option<NaiveDate>, (StatusCode, String)> {
    optional_text(fields, "execution_date")?
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| (StatusCode::BAD_REQUEST, format!("execution_date `{d}` is not YYYY-MM-DD")))
        })
        .transpose()
}

fn limit(fields: &Fields, default: usize) -> Result<usize, (StatusCode, String)> {
    match fields.get("limit") {
        None => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| n.min(1000) as usize)
            .ok_or((StatusCode::BAD_REQUEST, "limit must be a positive integer".into())),
        Some(_) => Err((StatusCode::BAD_REQUEST, "limit must be an integer".into())),
    }
}

fn flag(fields: &Fields, name: &str) -> Result<bool, (StatusCode, String)> {
    match fields.get(name) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err((StatusCode::BAD_REQUEST, format!("`{name}` must be true or false"))),
        None => Err((StatusCode::BAD_REQUEST, format!("missing field `{name}`"))),
    }
}

fn handle(sim: &Simulator, action: TailerAction, fields: &Fields) -> Outcome {
    let mut state = lock(&sim.inner.state);
    let account = text(fields, "account")?;
    let configuration_type = text(fields, "configuration_type")?;
    if action == TailerAction::GetByStatus {
        let status = optional_text(fields, "status")?;
        let environment = optional_text(fields, "environment")?;
        let results = state.by_status(account, configuration_type, environment, status, date(fields)?, limit(fields, 100)?);
        return Ok(json!({ "results": results }));
    }
    let configuration_id = text(fields, "configuration_id")?;
    let environment = optional_text(fields, "environment")?;
    let not_found = || (StatusCode::NOT_FOUND, format!("configuration `{configuration_id}` not found for account {account}"));
    let configuration = state.find(account, environment, configuration_type, configuration_id).ok_or_else(not_found)?;
    match action {
        TailerAction::LaunchJob => {
            if !matches!(configuration_type, "table-to-table" | "gbq-to-gbq" | "table-to-storage") {
                return Err((StatusCode::BAD_REQUEST, format!("a {configuration_type} configuration cannot be launched through the API")));
            }
            let run_id = state.launch(configuration, date(fields)?);
            Ok(json!({ "run_id": run_id }))
        }
        TailerAction::CheckRunStatus => {
            let run_id = text(fields, "run_id")?;
            match state.check(run_id) {
                Some(results) => Ok(json!({ "results": results })),
                None if sim.inner.options.unknown_run_is_404 => Err((StatusCode::NOT_FOUND, format!("run `{run_id}` not found"))),
                None => Ok(json!({ "results": [] })),
            }
        }
        TailerAction::GetLastStatus => {
            let status = optional_text(fields, "status")?;
            Ok(json!({ "results": state.last(configuration, date(fields)?, status, limit(fields, 3)?) }))
        }
        TailerAction::SetRunStatus => {
            let run_id = text(fields, "run_id")?;
            let asked = text(fields, "status")?;
            let Some(status) = RunStatus::parse(asked).filter(|s| s.settable()) else {
                return Err((StatusCode::BAD_REQUEST, format!("status `{asked}` cannot be set")));
            };
            if state.set_status(run_id, status) {
                Ok(json!({ "message": "ok" }))
            } else {
                Err((StatusCode::NOT_FOUND, format!("run `{run_id}` not found")))
            }
        }
        TailerAction::ResetWorkflowStatus => {
            if configuration_type != "workflow" {
                return Err((StatusCode::BAD_REQUEST, "configuration_type must be `workflow`".into()));
            }
            Ok(json!({ "code": 200, "data": {}, "message": "ok" }))
        }
        TailerAction::SetConfigurationStatus => {
            let activated = flag(fields, "activated")?;
            let archived = flag(fields, "archived")?;
            let c = &mut state.configurations[configuration];
            c.activated = activated;
            c.archived = archived;
            Ok(json!({ "message": "ok" }))
        }
        TailerAction::GetByStatus => unreachable!("answered above"),
    }
}

async fn arm_fault(State(sim): State<Simulator>, Json(fault): Json<Fault>) -> StatusCode {
    sim.inject(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(sim): State<Simulator>) -> StatusCode {
    lock(&sim.inner.faults).clear();
    StatusCode::NO_CONTENT
}

async fn list_requests(State(sim): State<Simulator>) -> Json<Vec<RecordedRequest>> {
    Json(sim.requests())
}

async fn run_status(State(sim): State<Simulator>, Path(run_id): Path<String>) -> Response {
    let state = lock(&sim.inner.state);
    match (state.status_of(&run_id), state.final_at_ms(&run_id)) {
        (Some(status), Some(final_at_ms)) => answer(
            StatusCode::OK,
            json!({ "run_id": run_id, "status": status.as_str(), "final_at_ms": final_at_ms, "now_ms": state.now_ms() }),
        ),
        _ => refuse(StatusCode::NOT_FOUND, format!("run `{run_id}` not found")),
    }
}
