//! Where a queued message goes: a typed [`Destination`] (the store keeps it in the
//! `outbox` table's columns).

/// Where a queued message goes, and how it reaches Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A post to a `response_url` (its body says whether the channel sees it). Should
    /// Slack refuse it for good, the answer goes to `channel` instead: to the channel
    /// when it was for the channel, else to `user` alone.
    Respond { url: String, channel: Option<String>, user: Option<String> },
    /// `chat.postMessage` to a channel (or a user id: their DM). `asked_by` hears about
    /// it should the channel refuse the bot.
    Post { channel: String, place: Place, asked_by: Option<String> },
    /// `chat.update` of the lane's root message.
    Update { channel: String },
    /// `chat.postEphemeral`: seen by `user` alone (under `thread_ts` when given).
    Ephemeral { channel: String, user: String, thread_ts: Option<String> },
    /// `views.publish`: the blocks become `user`'s Home tab; `dm` is the person's direct
    /// conversation with the bot, where the tab's buttons act and answer.
    View { user: String, dm: Option<String> },
    /// The body's file, uploaded into `channel` (under `thread_ts` when given, or with
    /// `in_lane`, under the lane's root message) with the body's blocks; `asked_by` hears
    /// about it should the channel refuse the bot.
    Upload { channel: String, thread_ts: Option<String>, asked_by: Option<String>, in_lane: bool },
}

/// Where in a channel a post goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// In the channel.
    Channel,
    /// In the channel; its `ts` becomes the lane's thread.
    Root,
    /// Under the lane's root message (in the channel when the lane has none);
    /// `broadcast` also shows it in the channel.
    Thread { broadcast: bool },
    /// Under the message with this `ts`: a person's message the bot answers in its thread.
    Reply { ts: String },
}

impl Destination {
    /// The channel it goes to, or falls back to.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Destination::Respond { channel, .. } => channel.as_deref(),
            Destination::Post { channel, .. }
            | Destination::Update { channel }
            | Destination::Ephemeral { channel, .. }
            | Destination::Upload { channel, .. } => Some(channel),
            Destination::View { .. } => None,
        }
    }

    /// The person it answers: told when it cannot be delivered.
    pub fn person(&self) -> Option<&str> {
        match self {
            Destination::Respond { user, .. } => user.as_deref(),
            Destination::Post { asked_by, .. } | Destination::Upload { asked_by, .. } => asked_by.as_deref(),
            Destination::Ephemeral { user, .. } | Destination::View { user, .. } => Some(user),
            Destination::Update { .. } => None,
        }
    }

    /// Under the lane's root (a thread reply), or the root itself (an edit).
    pub fn needs_thread(&self) -> bool {
        matches!(
            self,
            Destination::Post { place: Place::Thread { .. }, .. } | Destination::Update { .. } | Destination::Upload { in_lane: true, .. }
        )
    }

    pub fn is_post(&self) -> bool {
        matches!(self, Destination::Post { .. })
    }

    /// The thread it goes under when it names one itself (not through its lane).
    pub fn explicit_thread(&self) -> Option<&str> {
        match self {
            Destination::Post { place: Place::Reply { ts }, .. } => Some(ts),
            Destination::Ephemeral { thread_ts, .. } | Destination::Upload { thread_ts, .. } => thread_ts.as_deref(),
            _ => None,
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Destination::Post { place: Place::Root, .. })
    }
}
