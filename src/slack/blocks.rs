//! The bot's messages in Block Kit, within Slack's limits by construction: the bot's
//! markup written as mrkdwn with what came from outside escaped, text cut where it would
//! be too long, and no 51st block, so that lists end with "and N more" instead of an
//! `invalid_blocks` error.

use serde::Serialize;
use serde_json::{Value, json};

use crate::chat::{self, Part, Rendered, Style};
use crate::domain::markup::{Piece, pieces};

pub use super::limits::limit_violations;

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

/// The bot's markup as mrkdwn: its own words as they are, foreign text escaped, links,
/// mentions, channels and dates as Slack writes them.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for piece in pieces(text) {
        match piece {
            Piece::Markup(s) => out.push_str(s),
            Piece::Plain(s) => out.push_str(&escape(s)),
            // A URL that would end the token early is shown as text; `&`, `<`, `>` in one
            // are written as entities, as Slack reads them in a link.
            Piece::Link { url, label } if url.contains('|') || url.is_empty() => out.push_str(&escape(label)),
            Piece::Link { url, label } => out.push_str(&format!("<{}|{}>", escape(url), escape(label))),
            Piece::User(id) if is_id(id) => out.push_str(&format!("<@{id}>")),
            Piece::Channel(id) if is_id(id) => out.push_str(&format!("<#{id}>")),
            Piece::User(id) | Piece::Channel(id) => out.push_str(&escape(id)),
            Piece::Date { unix, fallback } => {
                out.push_str(&format!("<!date^{unix}^{{date_short_pretty}} {{time_secs}}|{}>", escape(fallback)))
            }
        }
    }
    out
}

fn is_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The bot's markup as Slack's `plain_text`: every piece as it reads.
pub fn plain_text(text: &str) -> String {
    crate::domain::markup::as_text(text)
}

/// Block Kit as a [`chat::Render`]: what tests and tools render with, without a client.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockKit;

impl chat::Render for BlockKit {
    fn render(&self, message: &chat::Message) -> Rendered {
        render(message)
    }
}

/// A message in Block Kit.
pub fn render(message: &chat::Message) -> Rendered {
    let mut blocks = Blocks::default();
    for part in &message.parts {
        match part {
            Part::Section { text } => blocks.section(&mrkdwn(text)),
            Part::Fields { fields } => blocks.fields(&fields.iter().map(|f| mrkdwn(f)).collect::<Vec<_>>()),
            Part::Context { text } => blocks.context(&mrkdwn(text)),
            Part::Divider => blocks.push(json!({"type": "divider"})),
            Part::Item { text, button: b } => blocks.item(&mrkdwn(text), b),
            Part::Actions { id, buttons } => blocks.actions(id, buttons),
            Part::Lines { lines, keep_free } => blocks.lines(&lines.iter().map(|l| mrkdwn(l)).collect::<Vec<_>>(), *keep_free),
        }
    }
    Rendered { text: truncate(&mrkdwn(&message.text), MAX_MESSAGE_TEXT), blocks: blocks.0 }
}

fn button(b: &chat::Button) -> Option<Value> {
    let (action_id, value) = b.press.encode();
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(&plain_text(&b.label), MAX_BUTTON_TEXT), "emoji": true},
        "action_id": truncate(&action_id, MAX_ACTION_ID),
    });
    match &b.url {
        // A link longer than a button takes is left out.
        Some(url) if url.chars().count() > MAX_BUTTON_URL => return None,
        Some(url) => button["url"] = json!(url),
        None => button["value"] = json!(truncate(&value, MAX_BUTTON_VALUE)),
    }
    if let Some(style) = b.style {
        button["style"] = json!(match style {
            Style::Primary => "primary",
            Style::Danger => "danger",
        });
    }
    if let Some(d) = &b.confirm {
        button["confirm"] = json!({
            "title": {"type": "plain_text", "text": truncate(&plain_text(&d.title), MAX_CONFIRM_TITLE)},
            "text": {"type": "mrkdwn", "text": truncate(&mrkdwn(&d.text), MAX_CONFIRM_TEXT)},
            "confirm": {"type": "plain_text", "text": truncate(&plain_text(&d.confirm), MAX_CONFIRM_BUTTON)},
            "deny": {"type": "plain_text", "text": truncate(&plain_text(&d.deny), MAX_CONFIRM_BUTTON)},
            "style": "danger",
        });
    }
    Some(button)
}

/// Blocks, refusing a 51st.
#[derive(Debug, Default, Serialize)]
struct Blocks(Vec<Value>);

impl Blocks {
    fn room(&self) -> usize {
        MAX_BLOCKS - self.0.len()
    }

    fn push(&mut self, block: Value) {
        if self.0.len() < MAX_BLOCKS {
            self.0.push(block);
        }
    }

    fn section(&mut self, mrkdwn: &str) {
        self.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}}))
    }

    /// A section with its button as the accessory (a button that cannot be written,
    /// a link too long, is left out and the text stays).
    fn item(&mut self, mrkdwn: &str, b: &chat::Button) {
        let mut section = json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}});
        if let Some(button) = button(b) {
            section["accessory"] = button;
        }
        self.push(section)
    }

    fn fields(&mut self, fields: &[String]) {
        let fields: Vec<Value> =
            fields.iter().take(MAX_FIELDS).map(|f| json!({"type": "mrkdwn", "text": truncate(f, MAX_FIELD_TEXT)})).collect();
        self.push(json!({"type": "section", "fields": fields}))
    }

    fn context(&mut self, mrkdwn: &str) {
        self.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}]}))
    }

    /// A row of buttons (at most 25 per block; the bot never needs more than a few).
    fn actions(&mut self, block_id: &str, buttons: &[chat::Button]) {
        let elements: Vec<Value> = buttons.iter().filter_map(button).take(25).collect();
        // A row whose only button was left out is no row: Slack refuses an empty one.
        if elements.is_empty() {
            return;
        }
        self.push(json!({"type": "actions", "block_id": truncate(block_id, 255), "elements": elements}))
    }

    /// Lines in as few sections as the limits need, keeping room for the blocks that
    /// follow, ending with "and N more" when they do not all fit.
    fn lines(&mut self, lines: &[String], keep_free: usize) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markup::{date, link, mention, plain};
    use crate::domain::{Press, UserId};

    fn json(message: &chat::Message) -> Value {
        let rendered = render(message);
        json!({"text": rendered.text, "blocks": rendered.blocks})
    }

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(escape("<!channel> & <https://evil|click>"), "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;");
    }

    #[test]
    fn foreign_format_characters_show_as_replacement_characters() {
        assert_eq!(escape("job \u{202E}deliaf\u{200B} ok"), "job \u{FFFD}deliaf\u{FFFD} ok");
    }

    #[test]
    fn the_bots_markup_becomes_mrkdwn_with_foreign_text_escaped() {
        let user = UserId::parse("U0ANALYST").unwrap();
        let text = format!(
            "*{}* by {} at {} {} {}",
            plain("<!here>"),
            mention(&user),
            date(1_700_000_000, "then & now"),
            link("https://x.test/r?a=1&b=2", "run <1>"),
            link("https://x.test/a|b", "spoofed")
        );
        assert_eq!(
            mrkdwn(&text),
            "*&lt;!here&gt;* by <@U0ANALYST> at <!date^1700000000^{date_short_pretty} {time_secs}|then &amp; now> <https://x.test/r?a=1&amp;b=2|run &lt;1&gt;> spoofed"
        );
        assert_eq!(mrkdwn("already &lt;escaped&gt; stays"), "already &lt;escaped&gt; stays");
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
        let lines: Vec<String> = (0..5000).map(|i| format!("line {i} {}", plain(&"<".repeat(100)))).collect();
        let mut message = chat::Message::new("list");
        message.section("header");
        message.lines(&lines, 1);
        message.context("footer");
        let json = json(&message);
        assert!(limit_violations(&json).is_empty(), "{:?}", limit_violations(&json));
        let blocks = json["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(blocks[MAX_BLOCKS - 1]["elements"][0]["text"], "footer", "room was kept for the footer");
        assert!(json.to_string().contains("more_"), "the cut is said");
    }

    #[test]
    fn a_51st_block_is_left_out() {
        let mut message = chat::Message::new("x");
        for _ in 0..chat::MAX_PARTS {
            assert!(message.divider());
        }
        assert!(!message.divider());
        assert_eq!(render(&message).blocks.len(), MAX_BLOCKS);
    }

    #[test]
    fn buttons_carry_their_press_and_a_link_too_long_is_left_out() {
        let mut message = chat::Message::new("x");
        let long = format!("https://x.test/{}", "a".repeat(MAX_BUTTON_URL));
        message.actions(
            "row",
            &[
                chat::Button::press("Refresh", &Press::HomeLaunch).primary(),
                chat::Button::link("Open", &Press::OpenInTailer, &long),
                chat::Button::link("Open", &Press::OpenInTailer, "https://x.test/run"),
            ],
        );
        let json = json(&message);
        let elements = json["blocks"][0]["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(
            (elements[0]["action_id"].as_str(), elements[0]["style"].as_str()),
            (Some(Press::HomeLaunch.encode().0.as_str()), Some("primary"))
        );
        assert_eq!(elements[1]["url"], "https://x.test/run");
        let mut alone = chat::Message::new("x");
        alone.actions("row", &[chat::Button::link("Open", &Press::OpenInTailer, &long)]);
        assert!(render(&alone).blocks.is_empty(), "a row left without buttons is left out");
    }
}
