//! An Events API event, from its JSON: the mentions of the bot, the direct messages to
//! it and the Home tab opening, read into [`Delivery`]; everything else is ignored.

use serde::Deserialize;

use super::unescape;
use crate::chat::{Asked, Delivery, Said};
use crate::domain::{ChannelId, UserId};

/// The part of an event the bot reads; everything else is ignored.
#[derive(Debug, Deserialize)]
struct Inner {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channel_type: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    /// `app_home_opened`: `home` or `messages`.
    #[serde(default)]
    tab: Option<String>,
}

/// A delivery: its id, its workspace, and what its event asks, when it asks anything.
pub fn delivery(event_id: Option<String>, team_id: Option<String>, event: Option<&serde_json::Value>) -> Delivery {
    Delivery { event_id, team_id, asked: event.and_then(read) }
}

/// What an event asks of the bot, when it is one the bot answers: a mention, or a direct
/// message from a person (not from a bot, this one included; not an edit), or the Home
/// tab opened.
fn read(event: &serde_json::Value) -> Option<Asked> {
    let inner = Inner::deserialize(event).ok()?;
    if inner.kind == "app_home_opened" {
        if inner.tab.as_deref() != Some("home") {
            return None;
        }
        let user = UserId::parse(inner.user.as_deref()?).ok()?;
        let channel = ChannelId::parse(inner.channel.as_deref()?).ok()?;
        return Some(Asked::Home { user, channel });
    }
    let direct = inner.kind == "message" && inner.channel_type.as_deref() == Some("im");
    if !(inner.kind == "app_mention" || direct) {
        return None;
    }
    if inner.bot_id.is_some() || inner.subtype.is_some() {
        return None;
    }
    let user = UserId::parse(inner.user.as_deref()?).ok()?;
    let channel = ChannelId::parse(inner.channel.as_deref()?).ok()?;
    let ts = inner.ts.filter(|ts| plausible_ts(ts))?;
    let in_thread = inner.thread_ts.filter(|ts| plausible_ts(ts));
    let text = unescape(without_mentions(inner.text.as_deref().unwrap_or_default()));
    let thread = if direct { in_thread.clone() } else { Some(in_thread.clone().unwrap_or(ts)) };
    Some(Asked::Said(Said { user, channel, thread, in_thread, text, direct }))
}

/// A Slack message timestamp: digits, a dot, digits.
fn plausible_ts(ts: &str) -> bool {
    ts.len() <= 32
        && ts
            .split_once('.')
            .is_some_and(|(s, f)| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The text without the mentions that start it (`<@U0BOT> status` → `status`).
fn without_mentions(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mentions_that_start_a_message_are_not_part_of_the_command() {
        assert_eq!(without_mentions("<@U0TAILERBOT> status"), "status");
        assert_eq!(without_mentions("  <@U0TAILERBOT>   <@U0OTHER> last sales-daily "), "last sales-daily");
        assert_eq!(without_mentions("last <@U0X>"), "last <@U0X>");
        assert_eq!(without_mentions("<@U0TAILERBOT"), "<@U0TAILERBOT");
    }

    #[test]
    fn only_mentions_and_direct_messages_from_people_are_read() {
        let said = |event: serde_json::Value| match read(&event) {
            Some(Asked::Said(said)) => Some(said),
            _ => None,
        };
        let mention = serde_json::json!({"type": "app_mention", "user": "U0ANALYST", "channel": "C0DATA", "ts": "1700000000.000100", "text": "<@U0BOT> disable x a &lt; b"});
        let said_now = said(mention.clone()).unwrap();
        assert_eq!(
            (said_now.thread.as_deref(), said_now.in_thread.as_deref()),
            (Some("1700000000.000100"), None),
            "answered under the mention"
        );
        assert_eq!(said_now.text, "disable x a < b", "the text as typed, without the mention");
        let mut in_thread = mention.clone();
        in_thread["thread_ts"] = "1700000000.000001".into();
        assert_eq!(said(in_thread).unwrap().thread.as_deref(), Some("1700000000.000001"));
        let mut from_a_bot = mention.clone();
        from_a_bot["bot_id"] = "B0TAILERBOT".into();
        assert!(read(&from_a_bot).is_none(), "the bot's own messages, and other bots', are not read");
        let dm = serde_json::json!({"type": "message", "channel_type": "im", "user": "U0ANALYST", "channel": "D0ANALYST", "ts": "1700000000.000200", "text": "jobs"});
        let direct = said(dm.clone()).unwrap();
        assert_eq!((direct.thread, direct.direct), (None, true), "a direct message is answered in the conversation");
        let mut edited = dm.clone();
        edited["subtype"] = "message_changed".into();
        assert!(read(&edited).is_none());
        let in_channel = serde_json::json!({"type": "message", "channel_type": "channel", "user": "U0ANALYST", "channel": "C0DATA", "ts": "1.2", "text": "jobs"});
        assert!(read(&in_channel).is_none(), "a channel message that does not mention the bot");
        let mut bad_ts = mention;
        bad_ts["ts"] = "<!channel>".into();
        assert!(read(&bad_ts).is_none());
        let home = serde_json::json!({"type": "app_home_opened", "user": "U0ANALYST", "channel": "D0ANALYST", "tab": "home"});
        assert!(matches!(read(&home), Some(Asked::Home { .. })));
        let messages_tab = serde_json::json!({"type": "app_home_opened", "user": "U0ANALYST", "channel": "D0ANALYST", "tab": "messages"});
        assert!(read(&messages_tab).is_none());
    }
}
