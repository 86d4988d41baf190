//! Who sees a reply: only the person it answers, or the whole channel. Slack's
//! `response_type`, stored with queued answers under the same two names.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Only its asker sees it (`ephemeral`).
    Ephemeral,
    /// The channel sees it (`in_channel`).
    InChannel,
}

#[cfg(test)]
mod tests {
    use super::Visibility;

    #[test]
    fn it_reads_and_writes_slacks_names() {
        assert_eq!(serde_json::to_string(&Visibility::InChannel).unwrap(), "\"in_channel\"");
        assert_eq!(serde_json::from_str::<Visibility>("\"ephemeral\"").unwrap(), Visibility::Ephemeral);
    }
}
