//! What Slack sends, parsed from untrusted bytes into typed requests: a slash command from
//! its form, a button click from the JSON in its `payload` field. Deprecated fields
//! (`token`, `user_name`) are ignored; ids are checked for shape.

use serde::Deserialize;

use crate::domain::{AppId, ChannelId, TeamId, UserId};

/// Why a verified request still cannot be used (answered with 400: Slack never sends it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

pub use crate::domain::MAX_TEXT_CHARS;

/// A slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    pub team_id: TeamId,
    pub enterprise_id: Option<String>,
    pub api_app_id: Option<AppId>,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub command: String,
    pub text: String,
    /// Slack always sends one; whether the bot may post to it is checked at the edge.
    pub response_url: String,
    pub trigger_id: String,
}

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

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl SlashCommand {
    /// From the JSON object of a Socket Mode envelope's payload: its string fields are
    /// the form's fields.
    pub fn from_json(payload: &serde_json::Value) -> Result<SlashCommand, PayloadError> {
        let fields: Vec<(String, String)> = payload
            .as_object()
            .ok_or_else(|| PayloadError("the payload is not an object".into()))?
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect();
        SlashCommand::from_form(&fields)
    }

    pub fn from_form(fields: &[(String, String)]) -> Result<SlashCommand, PayloadError> {
        let required =
            |name: &str| field(fields, name).filter(|v| !v.is_empty()).ok_or_else(|| PayloadError(format!("missing field `{name}`")));
        let id_error = |e: crate::domain::IdError| PayloadError(e.to_string());
        // Slack caps what people type; longer text is cut here and refused by the grammar.
        let text: String = field(fields, "text").unwrap_or_default().chars().take(MAX_TEXT_CHARS + 1).collect();
        Ok(SlashCommand {
            team_id: TeamId::parse(required("team_id")?).map_err(id_error)?,
            enterprise_id: field(fields, "enterprise_id").filter(|v| !v.is_empty()).map(str::to_owned),
            api_app_id: field(fields, "api_app_id").filter(|v| !v.is_empty()).map(AppId::parse).transpose().map_err(id_error)?,
            channel_id: ChannelId::parse(required("channel_id")?).map_err(id_error)?,
            user_id: UserId::parse(required("user_id")?).map_err(id_error)?,
            command: required("command")?.chars().take(64).collect(),
            text,
            response_url: required("response_url")?.to_owned(),
            trigger_id: trigger(required("trigger_id")?)?,
        })
    }
}

fn trigger(value: &str) -> Result<String, PayloadError> {
    if value.len() <= 200 && value.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
        Ok(value.to_owned())
    } else {
        Err(PayloadError("malformed `trigger_id`".into()))
    }
}

/// A button click (`block_actions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAction {
    pub team_id: TeamId,
    pub api_app_id: Option<AppId>,
    pub user_id: UserId,
    pub channel_id: Option<ChannelId>,
    /// The message that carried the button.
    pub message_ts: Option<String>,
    pub response_url: Option<String>,
    pub trigger_id: String,
    pub action_id: String,
    pub value: String,
    /// The view that carried the button (a Home tab, a modal), when not a message.
    pub view: Option<ViewOf>,
}

/// The view a click or a submission came from, as the bot made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewOf {
    pub id: String,
    pub callback_id: String,
    /// What the bot put in the view for itself (at most 3,000 characters).
    pub private_metadata: String,
}

/// A modal submitted (`view_submission`): who, which view, and the value of each input
/// block, by its `block_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSubmission {
    pub team_id: TeamId,
    pub api_app_id: Option<AppId>,
    pub user_id: UserId,
    pub view: ViewOf,
    /// Each input's value: a select's option value, a date, a conversation, a text.
    pub values: Vec<(String, String)>,
    /// What makes this submission the same one again (a replay of its bytes, or
    /// Slack delivering it twice): a submission carries no `trigger_id`. From the
    /// payload here; over HTTP the edge adds the signature's timestamp
    /// ([`replay_key`]), so that a person submitting the same values again later is
    /// not taken for a replay.
    pub replay: String,
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

impl ViewSubmission {
    /// The value given in the input block `block_id`, if any.
    pub fn value(&self, block_id: &str) -> Option<&str> {
        self.values.iter().find(|(block, _)| block == block_id).map(|(_, value)| value.as_str())
    }
}

/// What the `payload` of an interaction holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    BlockAction(BlockAction),
    ViewSubmission(ViewSubmission),
    /// Another kind (a modal closed, shortcuts...): acknowledged, nothing done.
    Other {
        kind: String,
        team_id: Option<TeamId>,
        api_app_id: Option<AppId>,
    },
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: String,
    team: Option<RawId>,
    user: Option<RawId>,
    api_app_id: Option<String>,
    channel: Option<RawId>,
    container: Option<RawContainer>,
    message: Option<RawMessage>,
    response_url: Option<String>,
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<RawAction>,
    view: Option<RawView>,
}

#[derive(Deserialize)]
struct RawView {
    /// Slack sends it; a view re-read from Socket Mode's typed events may lack it.
    #[serde(default)]
    id: String,
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: Option<RawState>,
}

#[derive(Deserialize)]
struct RawState {
    /// block_id → action_id → the element's state.
    #[serde(default)]
    values: std::collections::BTreeMap<String, std::collections::BTreeMap<String, RawInput>>,
}

/// The state of one input element: whichever of these its type has.
#[derive(Deserialize)]
struct RawInput {
    selected_option: Option<RawOption>,
    selected_date: Option<String>,
    selected_conversation: Option<String>,
    selected_channel: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawOption {
    value: String,
}

/// The most input blocks a submission is read for (the bot's modals have a few).
const MAX_INPUTS: usize = 20;
/// The longest value of one input (a select's value is at most 150; text inputs 3,000).
const MAX_INPUT_CHARS: usize = 3_000;

#[derive(Deserialize)]
struct RawId {
    id: String,
}

#[derive(Deserialize)]
struct RawContainer {
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage {
    ts: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

impl Interaction {
    /// Parses the form body of an interaction (`payload=<json>`).
    pub fn from_form(fields: &[(String, String)]) -> Result<Interaction, PayloadError> {
        let payload = field(fields, "payload").ok_or_else(|| PayloadError("missing field `payload`".into()))?;
        Interaction::from_json(payload)
    }

    /// Parses the JSON of an interaction (the `payload` field, or a Socket Mode envelope's).
    pub fn from_json(payload: &str) -> Result<Interaction, PayloadError> {
        let not_known = |e: serde_json::Error| PayloadError(format!("`payload` is not a known interaction: {e}"));
        // An object, as Slack sends: serde would also read a struct from an array, by position.
        let value: serde_json::Value = serde_json::from_str(payload).map_err(not_known)?;
        if !value.is_object() {
            return Err(PayloadError("`payload` is not a JSON object".into()));
        }
        let raw: RawInteraction = serde_json::from_value(value).map_err(not_known)?;
        let id_error = |e: crate::domain::IdError| PayloadError(e.to_string());
        let missing = |name: &str| PayloadError(format!("missing `{name}`"));
        if let Some(view) = &raw.view {
            let id_like = |v: &str| v.len() <= 255 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !id_like(&view.id) || !id_like(&view.callback_id) || view.private_metadata.len() > 3_000 {
                return Err(PayloadError("a view with an id, callback_id or private_metadata Slack would not send".into()));
            }
        }
        if raw.kind == "view_submission" {
            let view = raw.view.ok_or_else(|| missing("view"))?;
            if view.id.is_empty() {
                return Err(missing("view.id"));
            }
            let inputs = view.state.map(|s| s.values).unwrap_or_default();
            if inputs.len() > MAX_INPUTS {
                return Err(PayloadError("a submission with more inputs than the bot's modals have".into()));
            }
            let mut values = Vec::new();
            for (block, actions) in inputs {
                let input = actions.into_values().next();
                let given = input.and_then(|i| {
                    i.selected_option.map(|o| o.value).or(i.selected_date).or(i.selected_conversation).or(i.selected_channel).or(i.value)
                });
                if let Some(given) = given {
                    if given.chars().count() > MAX_INPUT_CHARS {
                        return Err(PayloadError("an input is larger than Slack allows".into()));
                    }
                    values.push((block, given));
                }
            }
            return Ok(Interaction::ViewSubmission(ViewSubmission {
                team_id: TeamId::parse(&raw.team.ok_or_else(|| missing("team"))?.id).map_err(id_error)?,
                api_app_id: raw.api_app_id.filter(|v| !v.is_empty()).as_deref().map(AppId::parse).transpose().map_err(id_error)?,
                user_id: UserId::parse(&raw.user.ok_or_else(|| missing("user"))?.id).map_err(id_error)?,
                view: ViewOf { id: view.id, callback_id: view.callback_id, private_metadata: view.private_metadata },
                values,
                replay: replay_key("submission", None, payload.as_bytes()),
            }));
        }
        if raw.kind != "block_actions" {
            return Ok(Interaction::Other {
                kind: raw.kind.chars().take(40).collect(),
                team_id: raw.team.and_then(|t| TeamId::parse(&t.id).ok()),
                api_app_id: raw.api_app_id.and_then(|a| AppId::parse(&a).ok()),
            });
        }
        let action = raw.actions.into_iter().next().ok_or_else(|| missing("actions"))?;
        if action.action_id.len() > 255 || action.value.as_ref().is_some_and(|v| v.len() > 2000) {
            return Err(PayloadError("an action is larger than Slack allows".into()));
        }
        Ok(Interaction::BlockAction(BlockAction {
            team_id: TeamId::parse(&raw.team.ok_or_else(|| missing("team"))?.id).map_err(id_error)?,
            api_app_id: raw.api_app_id.filter(|v| !v.is_empty()).as_deref().map(AppId::parse).transpose().map_err(id_error)?,
            user_id: UserId::parse(&raw.user.ok_or_else(|| missing("user"))?.id).map_err(id_error)?,
            channel_id: raw.channel.map(|c| ChannelId::parse(&c.id)).transpose().map_err(id_error)?,
            message_ts: raw.container.and_then(|c| c.message_ts).or(raw.message.and_then(|m| m.ts)),
            response_url: raw.response_url,
            trigger_id: trigger(&raw.trigger_id.ok_or_else(|| missing("trigger_id"))?)?,
            action_id: action.action_id,
            value: action.value.unwrap_or_default(),
            view: raw.view.map(|v| ViewOf { id: v.id, callback_id: v.callback_id, private_metadata: v.private_metadata }),
        }))
    }

    /// The workspace and app it claims to come from.
    pub fn origin(&self) -> (Option<&TeamId>, Option<&AppId>) {
        match self {
            Interaction::BlockAction(a) => (Some(&a.team_id), a.api_app_id.as_ref()),
            Interaction::ViewSubmission(s) => (Some(&s.team_id), s.api_app_id.as_ref()),
            Interaction::Other { team_id, api_app_id, .. } => (team_id.as_ref(), api_app_id.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slash_command_form_parses_and_ignores_deprecated_fields() {
        let body = b"token=x&team_id=T0001&channel_id=C2147483705&user_id=U2147483697&user_name=Steve&command=%2Ftailer&text=launch+iowa&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
        let command = SlashCommand::from_form(&form_fields(body).unwrap()).unwrap();
        assert_eq!(command.text, "launch iowa");
        assert_eq!(command.user_id.as_str(), "U2147483697");
        assert_eq!(command.response_url, "https://hooks.slack.com/commands/1");
    }

    #[test]
    fn a_form_without_a_user_is_refused() {
        let error =
            SlashCommand::from_form(&form_fields(b"team_id=T0001&channel_id=C0001&command=/t&trigger_id=1.2.3").unwrap()).unwrap_err();
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
        let Interaction::ViewSubmission(submitted) = Interaction::from_json(&payload.to_string()).unwrap() else { panic!("a submission") };
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
