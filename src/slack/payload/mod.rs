//! What Slack sends, parsed from untrusted bytes into typed requests: a slash command from
//! its form, a button click from the JSON in its `payload` field. Deprecated fields
//! (`token`, `user_name`) are ignored; ids are checked for shape.

/// Why a verified request still cannot be used (answered with 400: Slack never sends it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

pub use crate::domain::MAX_TEXT_CHARS;

/// Slack sends `&`, `<` and `>` in what people type as HTML entities; the bot works on
/// the text as typed.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

mod command;
pub mod event;
mod interaction;

pub use crate::chat::{Click, Interaction, Submission, TypedCommand, ViewOf};

/// The fields of a form body, decoded strictly: `+` as a space, only well-formed `%XX`
/// escapes, only UTF-8, each field once. Slack's bodies always are; anything else is
/// refused rather than guessed at (a lenient decoder reads `caf%E9` as `caf�` and keeps
/// `50%` as typed, and with a field twice, two readers could see two different commands).
/// Linear in the body's length: each byte is looked at a bounded number of times and
/// each key is hashed once ([`form_fields_metered`] counts it).
pub fn form_fields(body: &[u8]) -> Result<Vec<(String, String)>, PayloadError> {
    form_fields_metered(body, &mut 0)
}

/// [`form_fields`], adding to `work` one unit per byte visited and per key looked up, so
/// that a test can show the work grows with the body's length and not faster.
pub fn form_fields_metered(body: &[u8], work: &mut u64) -> Result<Vec<(String, String)>, PayloadError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let key = form_decode(key, work)?;
        *work += 1;
        if !seen.insert(key.clone()) {
            return Err(PayloadError(format!("field `{}` is given twice", key.chars().take(40).collect::<String>())));
        }
        let value = form_decode(value, work)?;
        fields.push((key, value));
    }
    Ok(fields)
}

/// One field's bytes: checked, `+` made a space, `%XX` decoded, UTF-8 checked, in
/// passes of the field's length.
fn form_decode(raw: &[u8], work: &mut u64) -> Result<String, PayloadError> {
    *work += 1 + raw.len() as u64 * 3;
    let escapes_ok = raw
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(at, _)| raw.get(at + 1..at + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !escapes_ok {
        return Err(PayloadError("a form field has a malformed %-escape".into()));
    }
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| PayloadError("a form field is not UTF-8".into()))
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A request's key in the record of requests already handled, from what was signed:
/// the same bytes under the same timestamp are the same request, whoever sends them
/// again within the signature window.
pub fn replay_key(kind: &str, timestamp: Option<&str>, body: &[u8]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    if let Some(timestamp) = timestamp {
        hash.update(timestamp.as_bytes());
        hash.update(b":");
    }
    hash.update(body);
    format!("{kind}:{}", &hex::encode(hash.finalize())[..32])
}

pub(super) fn trigger(value: &str) -> Result<String, PayloadError> {
    if value.len() <= 200 && value.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
        Ok(value.to_owned())
    } else {
        Err(PayloadError("malformed `trigger_id`".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slash_command_form_parses_and_ignores_deprecated_fields() {
        let body = b"token=x&team_id=T0001&channel_id=C2147483705&user_id=U2147483697&user_name=Steve&command=%2Ftailer&text=launch+iowa&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
        let command = TypedCommand::from_form(&form_fields(body).unwrap()).unwrap();
        assert_eq!(command.text, "launch iowa");
        assert_eq!(command.user_id.as_str(), "U2147483697");
        assert_eq!(command.response_url, "https://hooks.slack.com/commands/1");
        assert!(!command.direct, "no `channel_name`: not said to be a direct conversation");
        let direct = [&body[..], b"&channel_name=directmessage"].concat();
        assert!(TypedCommand::from_form(&form_fields(&direct).unwrap()).unwrap().direct, "Slack says so");
    }

    #[test]
    fn a_command_reaches_the_bot_as_typed_with_slacks_entities_read_back() {
        let body = "team_id=T0001&channel_id=C0DATA&user_id=U0ANALYST&command=%2Ftailer&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.3&text=disable+x+a+%26lt%3B+b+%26amp%3Blt%3B";
        let command = TypedCommand::from_form(&form_fields(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(command.text, "disable x a < b &lt;", "read back once: what was typed as `&lt;` stays");
        // Entities are read back before the cap: text typed within it is not cut.
        let long = format!("{}&text=disable+x+{}", &body[..body.find("&text=").unwrap()], "%26lt%3B".repeat(MAX_TEXT_CHARS - 10));
        let command = TypedCommand::from_form(&form_fields(long.as_bytes()).unwrap()).unwrap();
        assert_eq!(command.text.chars().count(), "disable x ".len() + MAX_TEXT_CHARS - 10);
    }

    #[test]
    fn a_click_in_a_direct_conversation_is_known_by_what_slack_names_it() {
        let click = |channel: &str| {
            let payload = format!(
                r#"{{"type": "block_actions", "team": {{"id": "T0001"}}, "user": {{"id": "U0ANALYST"}}, "trigger_id": "1.2.3",
                     "channel": {channel}, "actions": [{{"action_id": "confirm", "value": "c-1"}}]}}"#
            );
            match Interaction::from_json(&payload).unwrap() {
                Interaction::Click(click) => click.direct,
                other => panic!("{other:?}"),
            }
        };
        assert!(click(r#"{"id": "D0ANALYST", "name": "directmessage"}"#));
        assert!(!click(r#"{"id": "C0DATA", "name": "data"}"#));
        assert!(!click(r#"{"id": "D0ANALYST"}"#), "not guessed from the id");
    }

    #[test]
    fn a_form_without_a_user_is_refused() {
        let error =
            TypedCommand::from_form(&form_fields(b"team_id=T0001&channel_id=C0001&command=/t&trigger_id=1.2.3").unwrap()).unwrap_err();
        assert!(error.0.contains("user_id"));
    }

    #[test]
    fn other_interactions_are_recognised_and_left_alone() {
        let body = format!("payload={}", urlencode(r#"{"type": "view_closed"}"#));
        assert!(
            matches!(Interaction::from_form(&form_fields(body.as_bytes()).unwrap()).unwrap(), Interaction::Other { kind, .. } if kind == "view_closed")
        );
    }

    #[test]
    fn a_submission_is_read_as_the_value_of_each_input() {
        let payload = serde_json::json!({
            "type": "view_submission",
            "team": {"id": "T0001"},
            "user": {"id": "U0ANALYST"},
            "api_app_id": "A0TAILER",
            "trigger_id": "1.2.3",
            "view": {
                "id": "V0001", "callback_id": "launch", "private_metadata": "{\"channel\":\"C0DATA\"}",
                "state": {"values": {
                    "job": {"job": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "sales"}, "value": "sales-daily"}}},
                    "date": {"date": {"type": "datepicker", "selected_date": "2026-11-30"}},
                    "channel": {"channel": {"type": "conversations_select", "selected_conversation": "C0OPS"}},
                    "empty": {"empty": {"type": "datepicker", "selected_date": null}},
                }},
            },
        });
        let Interaction::Submission(submitted) = Interaction::from_json(&payload.to_string()).unwrap() else { panic!("a submission") };
        assert_eq!(submitted.view.callback_id, "launch");
        assert_eq!(submitted.view.private_metadata, r#"{"channel":"C0DATA"}"#);
        assert_eq!(
            (submitted.value("job"), submitted.value("date"), submitted.value("channel"), submitted.value("empty")),
            (Some("sales-daily"), Some("2026-11-30"), Some("C0OPS"), None)
        );
        let mut too_long = payload.clone();
        too_long["view"]["state"]["values"]["job"]["job"]["selected_option"]["value"] = "x".repeat(3_001).into();
        assert!(Interaction::from_json(&too_long.to_string()).is_err());
        let mut no_user = payload;
        no_user.as_object_mut().unwrap().remove("user");
        assert!(Interaction::from_json(&no_user.to_string()).is_err());
    }

    #[test]
    fn a_form_is_decoded_strictly_or_refused() {
        assert_eq!(
            form_fields(b"a=caf%C3%A9+%2B1&b=&c").unwrap(),
            [("a".to_owned(), "café +1".to_owned()), ("b".to_owned(), String::new()), ("c".to_owned(), String::new())]
        );
        for bad in
            [&b"text=50%"[..], b"text=%ZZ", b"te%Zxt=a", b"text=caf%E9", b"text=caf\xe9", b"text\xff=a", b"text=a&text=b", b"a=1&b=2&a=1"]
        {
            assert!(form_fields(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    fn urlencode(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }
}
