//! What the stand-in was asked to do, kept in order, and what a test reads of it: the
//! text a person would see, the buttons, and the clicks and submissions Slack would send.

use serde::Serialize;
use serde_json::{Value, json};

/// What the stand-in was asked to do, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlackEvent {
    pub seq: u64,
    /// When it arrived (unix ms, by the stand-in's clock).
    pub at_ms: i64,
    /// `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.publish` (`user`'s
    /// Home tab), `files.completeUploadExternal` (a file shared, in `file`) or
    /// `response_url`.
    pub method: String,
    pub channel: Option<String>,
    /// The message's ts (new for a post, the edited one for an update).
    pub ts: Option<String>,
    pub thread_ts: Option<String>,
    pub broadcast: bool,
    /// For ephemeral messages: who sees it.
    pub user: Option<String>,
    /// For `response_url` posts.
    pub response_type: Option<String>,
    pub replace_original: bool,
    pub text: String,
    pub blocks: Vec<Value>,
    /// The file a `files.completeUploadExternal` shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<UploadedFile>,
    /// `views.open` and `views.publish`: the whole view (`callback_id`,
    /// `private_metadata`...), with the `id` the stand-in gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<Value>,
    /// `views.open`: the `trigger_id` it was opened with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// A file uploaded through the external flow and shared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UploadedFile {
    pub id: String,
    pub filename: String,
    pub title: Option<String>,
    pub alt_text: Option<String>,
    /// The length announced to `files.getUploadURLExternal`.
    pub length: usize,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl SlackEvent {
    /// A message a bot gave as the HTTP answer to a request in `channel` (Slack shows it
    /// like one sent to the `response_url`): clickable like the others.
    pub fn from_answer(channel: &str, ts: Option<String>, answer: &Value) -> SlackEvent {
        SlackEvent {
            seq: 0,
            at_ms: 0,
            method: "response_url".into(),
            channel: Some(channel.to_owned()),
            ts,
            thread_ts: None,
            broadcast: false,
            user: None,
            response_type: answer["response_type"].as_str().map(str::to_owned),
            replace_original: false,
            text: answer["text"].as_str().unwrap_or_default().to_owned(),
            blocks: answer["blocks"].as_array().cloned().unwrap_or_default(),
            file: None,
            view: None,
            trigger_id: None,
        }
    }

    /// The `block_actions` payload Slack sends when `user` clicks `action` (`(action_id,
    /// value)`) on this view (a Home tab): no channel, no `response_url`; the view's id,
    /// `callback_id` and `private_metadata` as the app set them.
    pub fn view_click(&self, team: &str, user: &str, action: (String, String), trigger: &str) -> Value {
        let shown = self.view.clone().unwrap_or_default();
        let id = shown["id"].as_str().unwrap_or("V0HOME").to_owned();
        json!({
            "type": "block_actions",
            "team": {"id": team, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": team},
            "api_app_id": "A0TAILER",
            "container": {"type": "view", "view_id": id},
            "trigger_id": trigger,
            "view": {
                "id": id, "type": shown["type"], "callback_id": shown["callback_id"],
                "private_metadata": shown["private_metadata"], "blocks": shown["blocks"], "hash": "1.abc",
            },
            "actions": [{"action_id": action.0, "block_id": "home", "value": action.1, "type": "button", "action_ts": "1.2"}],
        })
    }

    /// The `view_submission` payload Slack sends when `user` submits this modal with
    /// `values` (block_id → the option value, date or conversation chosen); an input not
    /// given keeps its initial value.
    pub fn submission(&self, team: &str, user: &str, values: &[(&str, &str)], trigger: &str) -> Value {
        let view = self.view.clone().unwrap_or_default();
        let mut state = serde_json::Map::new();
        for block in view["blocks"].as_array().into_iter().flatten().filter(|b| b["type"] == "input") {
            let id = block["block_id"].as_str().unwrap_or_default();
            let element = &block["element"];
            let given = values.iter().find(|(b, _)| *b == id).map(|(_, v)| (*v).to_owned());
            let kind = element["type"].as_str().unwrap_or_default();
            let value = match kind {
                "static_select" => {
                    json!({"type": kind, "selected_option": given.map(|v| json!({"text": {"type": "plain_text", "text": v}, "value": v}))})
                }
                "datepicker" => {
                    json!({"type": kind, "selected_date": given.or_else(|| element["initial_date"].as_str().map(str::to_owned))})
                }
                "conversations_select" => json!({
                    "type": kind,
                    "selected_conversation": given.or_else(|| element["initial_conversation"].as_str().map(str::to_owned)),
                }),
                _ => json!({"type": kind, "value": given}),
            };
            state.insert(id.to_owned(), json!({ element["action_id"].as_str().unwrap_or(id): value }));
        }
        json!({
            "type": "view_submission",
            "team": {"id": team, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": team},
            "api_app_id": "A0TAILER",
            "trigger_id": trigger,
            "view": {
                "id": view["id"], "type": "modal", "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"], "blocks": view["blocks"],
                "state": {"values": state}, "hash": "1.abc",
            },
        })
    }

    /// The option values of the select in the input block `block_id` (a modal's).
    pub fn options(&self, block_id: &str) -> Vec<String> {
        self.blocks
            .iter()
            .filter(|b| b["block_id"] == block_id)
            .flat_map(|b| b["element"]["options"].as_array().cloned().unwrap_or_default())
            .filter_map(|o| o["value"].as_str().map(str::to_owned))
            .collect()
    }

    /// Every button it carries: in rows of buttons, and beside a section's text.
    fn button_elements(&self) -> impl Iterator<Item = Value> + '_ {
        self.blocks.iter().flat_map(|b| {
            let row = if b["type"] == "actions" { b["elements"].as_array().cloned().unwrap_or_default() } else { Vec::new() };
            let beside = b.get("accessory").filter(|a| a["type"] == "button").cloned();
            row.into_iter().chain(beside)
        })
    }

    /// The labels of the buttons it carries.
    pub fn buttons(&self) -> Vec<String> {
        self.button_elements().filter_map(|e| e["text"]["text"].as_str().map(str::to_owned)).collect()
    }

    /// The button with that label: `(action_id, value)`.
    pub fn button(&self, label: &str) -> Option<(String, String)> {
        self.button_elements().find(|e| e["text"]["text"] == label).map(|e| action(&e))
    }

    /// The button beside the section whose text contains `text`: `(action_id, value)`.
    pub fn button_beside(&self, text: &str) -> Option<(String, String)> {
        self.blocks
            .iter()
            .filter(|b| b["type"] == "section" && b["text"]["text"].as_str().is_some_and(|t| t.contains(text)))
            .find_map(|b| b.get("accessory").filter(|a| a["type"] == "button").map(action))
    }

    /// The page a link button with that label opens.
    pub fn link_button(&self, label: &str) -> Option<String> {
        self.button_elements().find(|e| e["text"]["text"] == label).and_then(|e| e["url"].as_str().map(str::to_owned))
    }

    /// All the text a person would read: fallback text and every text in the blocks.
    pub fn visible_text(&self) -> String {
        let mut out = Vec::new();
        collect_text(&Value::Array(self.blocks.clone()), &mut out);
        if out.is_empty() {
            out.push(self.text.clone());
        }
        out.join("\n")
    }
}

fn collect_text(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(kind)), Some(Value::String(text))) = (map.get("type"), map.get("text")) {
                if kind == "mrkdwn" || kind == "plain_text" {
                    out.push(text.clone());
                    return;
                }
            }
            for (key, v) in map {
                if key != "confirm" {
                    collect_text(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_text(v, out)),
        _ => {}
    }
}

/// A button's `(action_id, value)`.
fn action(button: &Value) -> (String, String) {
    (button["action_id"].as_str().unwrap_or_default().to_owned(), button["value"].as_str().unwrap_or_default().to_owned())
}
