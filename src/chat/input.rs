//! What a person does, as the application receives it from any surface: a command typed,
//! a button clicked, a form submitted. Each surface parses its own bytes into these.

use crate::domain::{AppId, ChannelId, TeamId, UserId};

/// A command typed (`/tailer …`, or said to the bot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedCommand {
    pub team_id: TeamId,
    pub enterprise_id: Option<String>,
    pub api_app_id: Option<AppId>,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub command: String,
    pub text: String,
    /// Where a later answer goes (Slack always sends one); whether the bot may post to it
    /// is checked at the edge.
    pub response_url: String,
    pub trigger_id: String,
    /// Typed in a direct conversation with the bot (the surface says so).
    pub direct: bool,
}

/// A button clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
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
    /// Clicked in a direct conversation with the bot (the surface says so).
    pub direct: bool,
}

/// The view a click or a submission came from, as the bot made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewOf {
    pub id: String,
    pub callback_id: String,
    /// What the bot put in the view for itself (at most 3,000 characters).
    pub private_metadata: String,
}

/// A form submitted: who, which form, and the value of each field, by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub team_id: TeamId,
    pub api_app_id: Option<AppId>,
    pub user_id: UserId,
    pub view: ViewOf,
    /// Each input's value: a select's option value, a date, a conversation, a text.
    pub values: Vec<(String, String)>,
    /// What makes this submission the same one again (a replay of its bytes, or the
    /// surface delivering it twice), so that a person submitting the same values again
    /// later is not taken for a replay.
    pub replay: String,
}

impl Submission {
    /// The value given in the field `block_id`, if any.
    pub fn value(&self, block_id: &str) -> Option<&str> {
        self.values.iter().find(|(block, _)| block == block_id).map(|(_, value)| value.as_str())
    }
}

/// A click, a submission, or another kind of interaction (acknowledged, nothing done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    Click(Click),
    Submission(Submission),
    /// Another kind (a form closed, shortcuts...).
    Other {
        kind: String,
        team_id: Option<TeamId>,
        api_app_id: Option<AppId>,
    },
}

/// An event the surface delivered: its id (a delivery retried has the same one), its
/// workspace, and what it asks of the bot, when it asks anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    pub event_id: Option<String>,
    pub team_id: Option<String>,
    pub asked: Option<Asked>,
}

/// What an event asks of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A mention or a direct message.
    Said(Said),
    /// The Home tab opened: it is published for that person, its buttons acting in
    /// `channel` (the person's conversation with the bot).
    Home { user: UserId, channel: ChannelId },
}

/// A message to the bot: who, where, what (as typed, without the mentions that start it),
/// and the thread it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub user: UserId,
    pub channel: ChannelId,
    pub text: String,
    /// Where answers go: the thread the message is in, or a thread under a mention (a
    /// direct message outside a thread is answered in the conversation itself).
    pub thread: Option<String>,
    /// The thread the message was written in, when it was.
    pub in_thread: Option<String>,
    /// A direct message, not a mention in a channel.
    pub direct: bool,
}
