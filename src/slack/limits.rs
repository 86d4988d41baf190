//! Slack's limits on a message, checked on the JSON as sent: what the tests hold every
//! rendered message to.

use serde_json::Value;

use super::blocks::{
    MAX_ACTION_ID, MAX_BLOCKS, MAX_BUTTON_TEXT, MAX_BUTTON_URL, MAX_BUTTON_VALUE, MAX_CONFIRM_BUTTON, MAX_CONFIRM_TEXT, MAX_CONFIRM_TITLE,
    MAX_CONTEXT_ELEMENTS, MAX_FIELD_TEXT, MAX_FIELDS, MAX_MESSAGE_TEXT, MAX_SECTION_TEXT,
};

/// Whether every `<...>` token of a mrkdwn text is closed and none is nested.
fn tokens_whole(text: &str) -> bool {
    let mut open = false;
    for c in text.chars() {
        match (c, open) {
            ('<', false) => open = true,
            ('>', true) => open = false,
            ('<', true) | ('>', false) => return false,
            _ => {}
        }
    }
    !open
}

/// Checks a message against the limits of slack-platform.md; returns what breaks them.
pub fn limit_violations(message: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let count = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    if count(&message["text"]) > MAX_MESSAGE_TEXT {
        problems.push("message text over 4000".to_owned());
    }
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.len() > MAX_BLOCKS {
        problems.push(format!("{} blocks", blocks.len()));
    }
    for block in &blocks {
        // A link or mention cut in two shows as raw markup.
        let texts = std::iter::once(&block["text"]["text"])
            .chain(block["fields"].as_array().into_iter().flatten().map(|f| &f["text"]))
            .chain(block["elements"].as_array().into_iter().flatten().filter(|e| e["type"] == "mrkdwn").map(|e| &e["text"]));
        for text in texts.filter_map(Value::as_str) {
            if !tokens_whole(text) {
                problems.push(format!("a link or mention cut in two: {text:?}"));
            }
        }
        if count(&block["text"]["text"]) > MAX_SECTION_TEXT {
            problems.push("section text over 3000".to_owned());
        }
        if let Some(fields) = block["fields"].as_array() {
            if fields.len() > MAX_FIELDS || fields.iter().any(|f| count(&f["text"]) > MAX_FIELD_TEXT) {
                problems.push("fields over their limits".to_owned());
            }
        }
        let accessory: Vec<Value> = block.get("accessory").cloned().into_iter().collect();
        if let Some(elements) = block["elements"].as_array().or(Some(&accessory).filter(|a| !a.is_empty())) {
            let mut ids = std::collections::HashSet::new();
            for e in elements {
                if count(&e["text"]["text"]) > MAX_BUTTON_TEXT && e["type"] == "button" {
                    problems.push("button text over 75".to_owned());
                }
                if count(&e["action_id"]) > MAX_ACTION_ID || count(&e["value"]) > MAX_BUTTON_VALUE || count(&e["url"]) > MAX_BUTTON_URL {
                    problems.push("button id or value too long".to_owned());
                }
                if let Some(id) = e["action_id"].as_str() {
                    if !ids.insert(id.to_owned()) {
                        problems.push(format!("duplicate action_id {id}"));
                    }
                }
                let c = &e["confirm"];
                if count(&c["title"]["text"]) > MAX_CONFIRM_TITLE
                    || count(&c["text"]["text"]) > MAX_CONFIRM_TEXT
                    || count(&c["confirm"]["text"]) > MAX_CONFIRM_BUTTON
                    || count(&c["deny"]["text"]) > MAX_CONFIRM_BUTTON
                {
                    problems.push("confirm dialog over its limits".to_owned());
                }
                if e["type"] == "mrkdwn" && count(&e["text"]) > MAX_SECTION_TEXT {
                    problems.push("context text too long".to_owned());
                }
            }
            if block["type"] == "context" && elements.len() > MAX_CONTEXT_ELEMENTS {
                problems.push("context over 10 elements".to_owned());
            }
        }
    }
    problems
}
