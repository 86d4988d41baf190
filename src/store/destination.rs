//! A queued message's [`Destination`] as the `outbox` table's columns keep it.

use crate::outbox::{Destination, Place};

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
            Destination::Upload { channel, thread_ts, asked_by, in_lane } => DestinationColumns {
                // Its own method: a replica of an earlier version refuses it (and leaves
                // it for one that knows it) rather than posting it in the channel.
                method: if *in_lane { "upload_in_lane" } else { "upload" },
                channel_id: Some(channel.clone()),
                user_id: asked_by.clone(),
                in_thread: *in_lane,
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
            "upload" => Destination::Upload { channel: channel(&c)?, thread_ts: c.thread_ts, asked_by: c.user_id, in_lane: false },
            "upload_in_lane" => Destination::Upload { channel: channel(&c)?, thread_ts: None, asked_by: c.user_id, in_lane: true },
            other => return Err(format!("unknown outbox method `{other}`")),
        })
    }
}

/// The methods the `outbox` table knows.
pub const OUTBOX_METHODS: [&str; 7] = ["post", "update", "ephemeral", "respond", "view", "upload", "upload_in_lane"];
