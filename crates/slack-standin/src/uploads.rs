//! Files, as Slack's external upload flow takes them: an upload URL, the bytes posted
//! there, then the file shared into a channel.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::handlers::{fault_response, text_of};
use super::*;

/// `files.getUploadURLExternal`: a file id and where to post its bytes.
pub(super) fn upload_url(slack: &SlackStandin, body: &Value) -> Response {
    let filename = text_of(body, "filename").unwrap_or_default();
    let length = text_of(body, "length").and_then(|l| l.parse::<usize>().ok()).unwrap_or(0);
    let addr = *lock(&slack.socket.addr);
    let (false, 1.., Some(addr)) = (filename.is_empty(), length, addr) else {
        return Json(json!({"ok": false, "error": "invalid_arguments"})).into_response();
    };
    let mut inner = lock(&slack.inner);
    inner.files_asked += 1;
    let id = format!("F{:08}", inner.files_asked);
    let file = UploadedFile { id: id.clone(), filename, alt_text: text_of(body, "alt_txt"), length, ..UploadedFile::default() };
    inner.uploads.insert(id.clone(), file);
    Json(json!({"ok": true, "upload_url": format!("http://{addr}/upload/{id}"), "file_id": id})).into_response()
}

/// The upload itself: the bytes of a file asked for, as Slack's upload URL takes them.
pub(super) async fn upload(State(slack): State<SlackStandin>, Path(file): Path<String>, body: Bytes) -> Response {
    if let Some(kind) = slack.take_fault("files.upload") {
        return fault_response(kind);
    }
    let mut inner = lock(&slack.inner);
    match inner.uploads.get_mut(&file) {
        Some(pending) => {
            pending.bytes = body.to_vec();
            (StatusCode::OK, format!("OK - {}", body.len())).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such upload").into_response(),
    }
}

/// `files.completeUploadExternal`: shares an uploaded file into a channel (under a
/// thread), with blocks; a file whose bytes are missing or not the length announced is
/// refused, as Slack does.
pub(super) fn complete_upload(slack: &SlackStandin, body: &Value) -> Response {
    let refuse = |code: &str| Json(json!({"ok": false, "error": code})).into_response();
    let Some(first) = body["files"].as_array().and_then(|f| f.first()) else {
        return refuse("invalid_arguments");
    };
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    let Some(channel) = text_of(body, "channel_id") else {
        return refuse("invalid_arguments");
    };
    let Some(mut file) = lock(&slack.inner).uploads.remove(&id) else {
        return refuse("file_not_found");
    };
    if file.bytes.len() != file.length {
        return refuse("file_upload_size_mismatch");
    }
    file.title = first["title"].as_str().map(str::to_owned);
    let event = SlackEvent {
        method: "files.completeUploadExternal".into(),
        channel: Some(channel),
        thread_ts: text_of(body, "thread_ts"),
        text: text_of(body, "initial_comment").unwrap_or_default(),
        blocks: body.get("blocks").and_then(Value::as_array).cloned().unwrap_or_default(),
        file: Some(file),
        ..SlackEvent::default()
    };
    slack.record(event);
    Json(json!({"ok": true, "files": [{"id": id, "title": first["title"]}]})).into_response()
}
