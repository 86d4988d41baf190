//! A slash command, from its form (HTTP) or its JSON (Socket Mode).

use super::{MAX_TEXT_CHARS, PayloadError, TypedCommand, field, trigger, unescape};
use crate::domain::{AppId, ChannelId, TeamId, UserId};

/// The `channel_name` Slack gives a direct conversation, in a slash command and in a
/// button click's `channel`.
pub const DIRECT: &str = "directmessage";

impl TypedCommand {
    /// From the JSON object of a Socket Mode envelope's payload: its string fields are
    /// the form's fields.
    pub fn from_json(payload: &serde_json::Value) -> Result<TypedCommand, PayloadError> {
        let fields: Vec<(String, String)> = payload
            .as_object()
            .ok_or_else(|| PayloadError("the payload is not an object".into()))?
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect();
        TypedCommand::from_form(&fields)
    }

    pub fn from_form(fields: &[(String, String)]) -> Result<TypedCommand, PayloadError> {
        let required =
            |name: &str| field(fields, name).filter(|v| !v.is_empty()).ok_or_else(|| PayloadError(format!("missing field `{name}`")));
        let id_error = |e: crate::domain::IdError| PayloadError(e.to_string());
        // As typed (Slack's entities read back). Slack caps what people type; longer text
        // is cut here and refused by the grammar.
        let text: String = unescape(field(fields, "text").unwrap_or_default()).chars().take(MAX_TEXT_CHARS + 1).collect();
        Ok(TypedCommand {
            team_id: TeamId::parse(required("team_id")?).map_err(id_error)?,
            enterprise_id: field(fields, "enterprise_id").filter(|v| !v.is_empty()).map(str::to_owned),
            api_app_id: field(fields, "api_app_id").filter(|v| !v.is_empty()).map(AppId::parse).transpose().map_err(id_error)?,
            channel_id: ChannelId::parse(required("channel_id")?).map_err(id_error)?,
            user_id: UserId::parse(required("user_id")?).map_err(id_error)?,
            command: required("command")?.chars().take(64).collect(),
            text,
            response_url: required("response_url")?.to_owned(),
            trigger_id: trigger(required("trigger_id")?)?,
            direct: field(fields, "channel_name") == Some(DIRECT),
        })
    }
}
