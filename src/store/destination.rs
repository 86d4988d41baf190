//! Where a queued Slack message goes: a typed [`Destination`], kept in the `outbox`
//! table's columns.

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
    /// The body's file, uploaded into `channel` (under `thread_ts` when given) with the
    /// body's blocks; `asked_by` hears about it should the channel refuse the bot.
    Upload { channel: String, thread_ts: Option<String>, asked_by: Option<String> },
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

/// A [`Destination`] as the `outbox` table keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationColumns {
    pub method: &'static str,
    pub channel_id: Option<String>,
    pub user_id: Option<String>,
    pub in_thread: bool,
    pub root: bool,
    pub broadcast: bool,
    pub response_url: Option<String>,
    pub thread_ts: Option<String>,
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
        matches!(self, Destination::Post { place: Place::Thread { .. }, .. } | Destination::Update { .. })
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

    /// The columns of the `outbox` table.
    pub fn to_columns(&self) -> DestinationColumns {
        match self {
            Destination::Respond { url, channel, user } => DestinationColumns {
                method: "respond",
                channel_id: channel.clone(),
                user_id: user.clone(),
                response_url: Some(url.clone()),
                ..DestinationColumns::default()
            },
            Destination::Post { channel, place, asked_by } => DestinationColumns {
                method: "post",
                channel_id: Some(channel.clone()),
                user_id: asked_by.clone(),
                in_thread: matches!(place, Place::Thread { .. } | Place::Reply { .. }),
                root: *place == Place::Root,
                broadcast: matches!(place, Place::Thread { broadcast: true }),
                thread_ts: match place {
                    Place::Reply { ts } => Some(ts.clone()),
                    _ => None,
                },
                ..DestinationColumns::default()
            },
            Destination::Update { channel } => {
                DestinationColumns { method: "update", channel_id: Some(channel.clone()), ..DestinationColumns::default() }
            }
            Destination::Ephemeral { channel, user, thread_ts } => DestinationColumns {
                method: "ephemeral",
                channel_id: Some(channel.clone()),
                user_id: Some(user.clone()),
                thread_ts: thread_ts.clone(),
                ..DestinationColumns::default()
            },
            Destination::View { user, dm } => {
                DestinationColumns { method: "view", user_id: Some(user.clone()), channel_id: dm.clone(), ..DestinationColumns::default() }
            }
            Destination::Upload { channel, thread_ts, asked_by } => DestinationColumns {
                method: "upload",
                channel_id: Some(channel.clone()),
                user_id: asked_by.clone(),
                thread_ts: thread_ts.clone(),
                ..DestinationColumns::default()
            },
        }
    }

    /// Back from the columns; what cannot be sent is an error naming what is missing.
    pub fn from_columns(c: DestinationColumns) -> Result<Destination, String> {
        let channel = |c: &DestinationColumns| c.channel_id.clone().ok_or_else(|| format!("a `{}` message without a channel", c.method));
        Ok(match c.method {
            "respond" => Destination::Respond {
                url: c.response_url.clone().ok_or("a `respond` message without a response_url")?,
                channel: c.channel_id,
                user: c.user_id,
            },
            "post" => Destination::Post {
                channel: channel(&c)?,
                place: match (c.root, c.in_thread, c.thread_ts.clone()) {
                    (true, _, _) => Place::Root,
                    (false, true, Some(ts)) => Place::Reply { ts },
                    (false, true, None) => Place::Thread { broadcast: c.broadcast },
                    (false, false, _) => Place::Channel,
                },
                asked_by: c.user_id,
            },
            "update" => Destination::Update { channel: channel(&c)? },
            "ephemeral" => Destination::Ephemeral {
                channel: channel(&c)?,
                user: c.user_id.clone().ok_or("an `ephemeral` message without a user")?,
                thread_ts: c.thread_ts.clone(),
            },
            "view" => Destination::View { user: c.user_id.clone().ok_or("a `view` message without a user")?, dm: c.channel_id.clone() },
            "upload" => Destination::Upload { channel: channel(&c)?, thread_ts: c.thread_ts, asked_by: c.user_id },
            other => return Err(format!("unknown outbox method `{other}`")),
        })
    }
}

/// The methods the `outbox` table knows.
pub const OUTBOX_METHODS: [&str; 6] = ["post", "update", "ephemeral", "respond", "view", "upload"];
