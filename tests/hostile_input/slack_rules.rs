//! Slack's documented rules for a message, checked here independently of the product's own
//! `limit_violations` (a checker that shares the renderers' blind spots would prove
//! nothing): the limits of each block type, and well-formed mrkdwn, where every `<...>`
//! is a token the bot meant to write and every `&` starts an escape.

use std::collections::HashSet;

use serde_json::Value;

/// Blocks per message; text of a section, of a field, of a header, of a context element.
const MAX_BLOCKS: usize = 50;
const MAX_MESSAGE_TEXT: usize = 4000;
const MAX_SECTION_TEXT: usize = 3000;
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2000;
const MAX_HEADER_TEXT: usize = 150;
const MAX_CONTEXT_ELEMENTS: usize = 10;
const MAX_ACTIONS_ELEMENTS: usize = 25;
const MAX_BLOCK_ID: usize = 255;
const MAX_BUTTON_TEXT: usize = 75;
const MAX_ACTION_ID: usize = 255;
const MAX_BUTTON_VALUE: usize = 2000;
const MAX_BUTTON_URL: usize = 3000;
const MAX_CONFIRM_TITLE: usize = 100;
const MAX_CONFIRM_TEXT: usize = 300;
const MAX_CONFIRM_BUTTON: usize = 30;

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// A text object: present, a string, not empty, not over `max`.
fn text_object(problems: &mut Vec<String>, at: &str, object: &Value, max: usize) {
    match object["text"].as_str() {
        None => problems.push(format!("{at}: no text")),
        Some("") => problems.push(format!("{at}: empty text (Slack refuses it)")),
        Some(text) if text.chars().count() > max => problems.push(format!("{at}: {} chars, over {max}", text.chars().count())),
        Some(_) => {}
    }
}

fn button(problems: &mut Vec<String>, at: &str, e: &Value) {
    text_object(problems, &format!("{at}.text"), &e["text"], MAX_BUTTON_TEXT);
    if chars(&e["action_id"]) > MAX_ACTION_ID {
        problems.push(format!("{at}: action_id over {MAX_ACTION_ID}"));
    }
    if chars(&e["value"]) > MAX_BUTTON_VALUE {
        problems.push(format!("{at}: value over {MAX_BUTTON_VALUE}"));
    }
    if chars(&e["url"]) > MAX_BUTTON_URL {
        problems.push(format!("{at}: url over {MAX_BUTTON_URL}"));
    }
    let c = &e["confirm"];
    if !c.is_null() {
        text_object(problems, &format!("{at}.confirm.title"), &c["title"], MAX_CONFIRM_TITLE);
        text_object(problems, &format!("{at}.confirm.text"), &c["text"], MAX_CONFIRM_TEXT);
        text_object(problems, &format!("{at}.confirm.confirm"), &c["confirm"], MAX_CONFIRM_BUTTON);
        text_object(problems, &format!("{at}.confirm.deny"), &c["deny"], MAX_CONFIRM_BUTTON);
    }
}

/// Every limit a message (`text` and `blocks`) breaks, each named with where it is.
pub fn limit_problems(message: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    if chars(&message["text"]) > MAX_MESSAGE_TEXT {
        problems.push(format!("text: over {MAX_MESSAGE_TEXT}"));
    }
    if chars(&message["text"]) == 0 && blocks.is_empty() {
        problems.push("neither text nor blocks".to_owned());
    }
    if blocks.len() > MAX_BLOCKS {
        problems.push(format!("{} blocks, over {MAX_BLOCKS}", blocks.len()));
    }
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("blocks[{i}]");
        if chars(&block["block_id"]) > MAX_BLOCK_ID {
            problems.push(format!("{at}: block_id over {MAX_BLOCK_ID}"));
        }
        match block["type"].as_str().unwrap_or_default() {
            "section" => {
                if !block["text"].is_null() {
                    text_object(&mut problems, &format!("{at}.text"), &block["text"], MAX_SECTION_TEXT);
                }
                match block["fields"].as_array() {
                    Some(fields) => {
                        if fields.is_empty() || fields.len() > MAX_FIELDS {
                            problems.push(format!("{at}: {} fields", fields.len()));
                        }
                        for (j, f) in fields.iter().enumerate() {
                            text_object(&mut problems, &format!("{at}.fields[{j}]"), f, MAX_FIELD_TEXT);
                        }
                    }
                    None if block["text"].is_null() => problems.push(format!("{at}: a section with neither text nor fields")),
                    None => {}
                }
            }
            "header" => text_object(&mut problems, &format!("{at}.text"), &block["text"], MAX_HEADER_TEXT),
            "context" => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > MAX_CONTEXT_ELEMENTS {
                    problems.push(format!("{at}: {} context elements", elements.len()));
                }
                for (j, e) in elements.iter().enumerate() {
                    if e["type"] != "image" {
                        text_object(&mut problems, &format!("{at}.elements[{j}]"), e, MAX_SECTION_TEXT);
                    }
                }
            }
            "actions" => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > MAX_ACTIONS_ELEMENTS {
                    problems.push(format!("{at}: {} action elements", elements.len()));
                }
                let mut ids = HashSet::new();
                for (j, e) in elements.iter().enumerate() {
                    button(&mut problems, &format!("{at}.elements[{j}]"), e);
                    if let Some(id) = e["action_id"].as_str() {
                        if !ids.insert(id.to_owned()) {
                            problems.push(format!("{at}: action_id {id:?} twice in one block"));
                        }
                    }
                }
            }
            "divider" => {}
            other => problems.push(format!("{at}: unexpected block type {other:?}")),
        }
    }
    problems
}

/// Every text Slack parses as markup in a message: the fallback `text` and every text
/// object of every block, with where it is.
pub fn texts(message: &Value) -> Vec<(String, String)> {
    fn walk(at: String, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                if let (Some(Value::String(kind)), Some(Value::String(text))) = (map.get("type"), map.get("text")) {
                    if kind == "mrkdwn" || kind == "plain_text" {
                        out.push((at.clone(), text.clone()));
                    }
                }
                for (k, child) in map {
                    walk(format!("{at}.{k}"), child, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(format!("{at}[{i}]"), child, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(text) = message["text"].as_str() {
        out.push(("text".to_owned(), text.to_owned()));
    }
    walk("blocks".to_owned(), &message["blocks"], &mut out);
    out
}

/// Whether `inside` (what is between `<` and `>`) is a token the bot writes itself: a
/// mention of one of `users`, or a date with its escaped fallback.
/// Where the runs' pages are in these tests (`[tailer] run_url_template`): the bot's own
/// links start there, and hold only what percent-encoding leaves.
pub const RUN_PAGES: &str = "https://studio.example.com/";

fn own_token(inside: &str, users: &[String]) -> bool {
    if let Some(link) = inside.strip_prefix(RUN_PAGES) {
        let Some((path, text)) = link.split_once('|') else { return false };
        let encoded = path.replace("&amp;", "");
        return encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%/?=".contains(&b))
            && !text.is_empty()
            && !text.contains('|')
            && entities_ok(text).is_ok();
    }
    if let Some(id) = inside.strip_prefix('@') {
        return users.iter().any(|u| u == id);
    }
    if let Some(rest) = inside.strip_prefix("!date^") {
        let Some((unix, rest)) = rest.split_once('^') else { return false };
        let Some((_format, fallback)) = rest.split_once('|') else { return false };
        let unix = unix.strip_prefix('-').unwrap_or(unix);
        return !unix.is_empty() && unix.bytes().all(|b| b.is_ascii_digit()) && entities_ok(fallback).is_ok();
    }
    false
}

/// Every `&` starts `&amp;`, `&lt;` or `&gt;`.
fn entities_ok(text: &str) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let rest = &text[i..];
        if !(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;")) {
            return Err(format!("a raw `&` at byte {i}: {:?}", rest.chars().take(12).collect::<String>()));
        }
    }
    Ok(())
}

/// Why `text` is not well-formed mrkdwn from the bot: a `<...>` that is not one of its
/// own tokens (an injected `<!channel>`, `<@U...>`, `<https://...|link>`), a stray `>`,
/// an `&` that is not an escape.
pub fn markup_problem(text: &str, users: &[String]) -> Option<String> {
    let mut rest = text;
    let mut outside = String::new();
    while let Some(open) = rest.find('<') {
        outside.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            return Some(format!("a raw `<`: {:?}", after.chars().take(30).collect::<String>()));
        };
        let inside = &after[..close];
        if inside.contains('<') || !own_token(inside, users) {
            return Some(format!("a foreign token <{}>", inside.chars().take(60).collect::<String>()));
        }
        rest = &after[close + 1..];
    }
    outside.push_str(rest);
    if outside.contains('>') {
        return Some("a raw `>`".to_owned());
    }
    entities_ok(&outside).err()
}

/// Both checks over a whole message; the first problem found, with where it is.
pub fn check_message(message: &Value, users: &[String]) -> Result<(), String> {
    let problems = limit_problems(message);
    if !problems.is_empty() {
        return Err(format!("over Slack's limits: {problems:?}"));
    }
    for (at, text) in texts(message) {
        if let Some(problem) = markup_problem(&text, users) {
            return Err(format!("{at}: {problem} in {:?}", text.chars().take(200).collect::<String>()));
        }
    }
    Ok(())
}

#[test]
fn the_checker_catches_injections_raw_ampersands_and_broken_limits() {
    let users = vec!["U0LEAD".to_owned()];
    assert!(markup_problem("<@U0LEAD> did it &amp; <!date^1700000000^{date_short_pretty}|2023-11-14 &lt;UTC&gt;>", &users).is_none());
    assert!(markup_problem("run <https://studio.example.com/000099/r%7C1?a=1&amp;b=2|r1&amp;>", &users).is_none());
    for bad in [
        "<!channel>",
        "<@U0OTHER>",
        "<https://evil|x>",
        "<https://studio.example.com/a b|x>",
        "<https://studio.example.com/a|x|y>",
        "a & b",
        "a > b",
        "a < b",
        "&amp",
        "<!date^12^x|<!here>>",
    ] {
        assert!(markup_problem(bad, &users).is_some(), "{bad} slipped through");
    }
    let long = serde_json::json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}]});
    assert!(!limit_problems(&long).is_empty());
    let empty = serde_json::json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]});
    assert!(!limit_problems(&empty).is_empty());
}
