//! An interaction, from the JSON in its `payload` field: a button click, a form's
//! submission, or another kind acknowledged and left alone.

use serde::Deserialize;

use super::{Click, Interaction, PayloadError, Submission, ViewOf, field, replay_key, trigger};
use crate::domain::{AppId, ChannelId, TeamId, UserId};

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
    /// A channel's name, when given (`directmessage` for a direct conversation).
    #[serde(default)]
    name: Option<String>,
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
            return Ok(Interaction::Submission(Submission {
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
        Ok(Interaction::Click(Click {
            team_id: TeamId::parse(&raw.team.ok_or_else(|| missing("team"))?.id).map_err(id_error)?,
            api_app_id: raw.api_app_id.filter(|v| !v.is_empty()).as_deref().map(AppId::parse).transpose().map_err(id_error)?,
            user_id: UserId::parse(&raw.user.ok_or_else(|| missing("user"))?.id).map_err(id_error)?,
            direct: raw.channel.as_ref().is_some_and(|c| c.name.as_deref() == Some(super::command::DIRECT)),
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
            Interaction::Click(a) => (Some(&a.team_id), a.api_app_id.as_ref()),
            Interaction::Submission(s) => (Some(&s.team_id), s.api_app_id.as_ref()),
            Interaction::Other { team_id, api_app_id, .. } => (team_id.as_ref(), api_app_id.as_ref()),
        }
    }
}
