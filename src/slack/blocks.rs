//! Block Kit messages that stay within Slack's limits by construction: text is escaped
//! where it comes from outside, cut where it would be too long, and a message refuses a
//! 51st block so that lists end with "and N more" instead of an `invalid_blocks` error.

use serde::Serialize;
use serde_json::{Value, json};

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Text of a section block.
pub const MAX_SECTION_TEXT: usize = 3000;
/// Fields of a section block, and the text of each.
pub const MAX_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
/// A message's top-level `text`.
pub const MAX_MESSAGE_TEXT: usize = 4000;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_ACTION_ID: usize = 255;
pub const MAX_BUTTON_VALUE: usize = 2000;
/// A link button's `url`.
pub const MAX_BUTTON_URL: usize = 3000;
pub const MAX_CONFIRM_TITLE: usize = 100;
pub const MAX_CONFIRM_TEXT: usize = 300;
pub const MAX_CONFIRM_BUTTON: usize = 30;
/// Elements of a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;

/// Escapes text from a user or an API so it can neither ping nor fake a link.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Foreign text (Tailer's answers, names) cannot reorder or hide what
            // follows: a format character shows as the replacement character.
            c if crate::domain::is_format_character(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut, never inside an
/// escape sequence (`&amp;`) or a Slack token (`<...>`).
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(1);
    let mut cut = 0;
    let mut open_token: Option<usize> = None;
    let mut open_entity: Option<usize> = None;
    for (count, (index, c)) in text.char_indices().enumerate() {
        if count >= budget {
            break;
        }
        match c {
            '<' => open_token = Some(index),
            '>' => open_token = None,
            '&' => open_entity = Some(index),
            ';' => open_entity = None,
            _ => {}
        }
        cut = index + c.len_utf8();
    }
    let mut end = cut;
    if let Some(start) = open_token {
        end = end.min(start);
    }
    if let Some(start) = open_entity.filter(|s| cut - s < 6) {
        end = end.min(start);
    }
    format!("{}…", &text[..end])
}

/// Slack's date formatting: each reader sees the time in their own zone.
pub fn date(unix: i64, fallback: &str) -> String {
    format!("<!date^{unix}^{{date_short_pretty}} {{time_secs}}|{}>", escape(fallback))
}

/// A mention that Slack renders as the user's name.
pub fn user(id: &crate::domain::UserId) -> String {
    format!("<@{id}>")
}

/// A button.
#[derive(Debug, Clone)]
pub struct Button {
    pub label: String,
    pub action_id: String,
    pub value: String,
    pub style: Option<&'static str>,
    pub confirm: Option<ConfirmDialog>,
    /// A link button: Slack opens this page (and still tells the app of the click).
    pub url: Option<String>,
}

/// The dialog Slack shows before a dangerous button acts.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    pub title: String,
    pub text: String,
    pub confirm: String,
    pub deny: String,
}

impl Button {
    pub fn new(label: &str, action_id: &str, value: &str) -> Button {
        Button { label: label.to_owned(), action_id: action_id.to_owned(), value: value.to_owned(), style: None, confirm: None, url: None }
    }

    /// The button of what a click asks for: its action id and value as [`Press`] writes them.
    ///
    /// [`Press`]: crate::domain::Press
    pub fn press(label: &str, press: &crate::domain::Press) -> Button {
        let (action_id, value) = press.encode();
        Button::new(label, &action_id, &value)
    }

    /// A button that opens `url` (none when it is longer than a button takes).
    pub fn link(label: &str, action_id: &str, url: &str) -> Option<Button> {
        (url.chars().count() <= MAX_BUTTON_URL).then(|| Button { url: Some(url.to_owned()), ..Button::new(label, action_id, "") })
    }

    pub fn danger(mut self, dialog: ConfirmDialog) -> Button {
        self.style = Some("danger");
        self.confirm = Some(dialog);
        self
    }

    pub fn primary(mut self) -> Button {
        self.style = Some("primary");
        self
    }

    fn to_json(&self) -> Value {
        let mut button = json!({
            "type": "button",
            "text": {"type": "plain_text", "text": truncate(&self.label, MAX_BUTTON_TEXT), "emoji": true},
            "action_id": truncate(&self.action_id, MAX_ACTION_ID),
        });
        match &self.url {
            Some(url) => button["url"] = json!(url),
            None => button["value"] = json!(truncate(&self.value, MAX_BUTTON_VALUE)),
        }
        if let Some(style) = self.style {
            button["style"] = json!(style);
        }
        if let Some(d) = &self.confirm {
            button["confirm"] = json!({
                "title": {"type": "plain_text", "text": truncate(&d.title, MAX_CONFIRM_TITLE)},
                "text": {"type": "mrkdwn", "text": truncate(&d.text, MAX_CONFIRM_TEXT)},
                "confirm": {"type": "plain_text", "text": truncate(&d.confirm, MAX_CONFIRM_BUTTON)},
                "deny": {"type": "plain_text", "text": truncate(&d.deny, MAX_CONFIRM_BUTTON)},
                "style": "danger",
            });
        }
        button
    }
}

/// A message: fallback text and blocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Message {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
}

impl Message {
    /// A message with only a fallback text (notifications, screen readers).
    pub fn new(text: &str) -> Message {
        Message { text: truncate(text, MAX_MESSAGE_TEXT), blocks: Vec::new() }
    }

    /// Room for more blocks.
    pub fn room(&self) -> usize {
        MAX_BLOCKS - self.blocks.len()
    }

    fn push(&mut self, block: Value) -> bool {
        if self.blocks.len() >= MAX_BLOCKS {
            return false;
        }
        self.blocks.push(block);
        true
    }

    /// A section of mrkdwn (already escaped where it needs to be).
    pub fn section(&mut self, mrkdwn: &str) -> bool {
        self.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}}))
    }

    /// A section of up to ten short fields (two columns).
    pub fn fields(&mut self, fields: &[String]) -> bool {
        let fields: Vec<Value> =
            fields.iter().take(MAX_FIELDS).map(|f| json!({"type": "mrkdwn", "text": truncate(f, MAX_FIELD_TEXT)})).collect();
        self.push(json!({"type": "section", "fields": fields}))
    }

    /// Small grey text.
    pub fn context(&mut self, mrkdwn: &str) -> bool {
        self.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}]}))
    }

    pub fn divider(&mut self) -> bool {
        self.push(json!({"type": "divider"}))
    }

    /// A row of buttons (at most 25 per block; the bot never needs more than a few).
    pub fn actions(&mut self, block_id: &str, buttons: &[Button]) -> bool {
        let elements: Vec<Value> = buttons.iter().take(25).map(Button::to_json).collect();
        self.push(json!({"type": "actions", "block_id": truncate(block_id, 255), "elements": elements}))
    }

    /// Lines (each already escaped) in as few sections as the limits need, keeping room
    /// for the blocks that follow, ending with "and N more" when they do not all fit.
    pub fn lines(&mut self, lines: &[String], keep_free: usize) {
        let available = self.room().saturating_sub(keep_free);
        if available == 0 || lines.is_empty() {
            return;
        }
        let mut sections: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut shown = 0;
        for line in lines {
            let line = truncate(line, MAX_SECTION_TEXT - 40);
            if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > MAX_SECTION_TEXT - 40 {
                if sections.len() + 1 >= available {
                    break;
                }
                sections.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&line);
            shown += 1;
        }
        let rest = lines.len() - shown;
        if rest > 0 {
            current.push_str(&format!("\n_…and {rest} more_"));
        }
        sections.push(current);
        for section in sections {
            self.section(&section);
        }
    }
}

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
        if let Some(elements) = block["elements"].as_array() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(escape("<!channel> & <https://evil|click>"), "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;");
    }

    #[test]
    fn foreign_format_characters_show_as_replacement_characters() {
        assert_eq!(escape("job \u{202E}deliaf\u{200B} ok"), "job \u{FFFD}deliaf\u{FFFD} ok");
    }

    #[test]
    fn truncation_never_splits_an_entity_or_a_token() {
        let text = format!("{}&amp;tail", "a".repeat(8));
        assert_eq!(truncate(&text, 11), "aaaaaaaa…");
        let text = format!("{}<@U123> end", "a".repeat(8));
        assert_eq!(truncate(&text, 12), "aaaaaaaa…");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate(&"é".repeat(10), 5).chars().count(), 5);
    }

    #[test]
    fn a_long_list_ends_with_and_n_more_within_the_limits() {
        let lines: Vec<String> = (0..5000).map(|i| format!("line {i} {}", "x".repeat(100))).collect();
        let mut message = Message::new("list");
        message.section("header");
        message.lines(&lines, 1);
        message.context("footer");
        let json = serde_json::to_value(&message).unwrap();
        assert!(limit_violations(&json).is_empty(), "{:?}", limit_violations(&json));
        assert_eq!(message.blocks.len(), MAX_BLOCKS);
        let all = serde_json::to_string(&message).unwrap();
        assert!(all.contains("more_"), "the cut is said");
    }

    #[test]
    fn a_51st_block_is_refused() {
        let mut message = Message::new("x");
        for _ in 0..MAX_BLOCKS {
            assert!(message.divider());
        }
        assert!(!message.divider());
    }
}
