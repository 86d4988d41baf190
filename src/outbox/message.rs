//! What the outbox queues: a message (where it goes, what it says, its lane, its file),
//! and a queued message with its delivery state.

use super::{Destination, Place};
use crate::chat::Rendered;

/// What an outbox message says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxBody {
    pub text: String,
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
    /// For `response_url` posts: `ephemeral` or `in_channel`.
    #[serde(default)]
    pub response_type: Option<crate::domain::Visibility>,
    #[serde(default)]
    pub replace_original: bool,
    /// A file to upload with the blocks (`Destination::Upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

/// A file uploaded with a message: a PNG, kept in the outbox until Slack has it.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    pub filename: String,
    pub title: String,
    /// What a screen reader says of it.
    pub alt_text: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("filename", &self.filename).field("bytes", &self.bytes.len()).finish_non_exhaustive()
    }
}

/// Bytes as base64 text in the stored JSON.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A Slack write, queued.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Messages of one lane (a thread, or a reply stream) go out in order.
    pub lane: String,
    pub to: Destination,
    /// A newer pending message with the same key replaces this one (card edits).
    pub collapse_key: Option<String>,
    pub body: OutboxBody,
    /// The news of a run's end: sent ahead of everything else queued
    /// (the store's `urgency`).
    pub first: bool,
    /// Not sent before this time (unix ms): a summary that gathers what happens until
    /// then (a newer one with the same collapse key replaces it meanwhile).
    pub not_before: Option<i64>,
}

impl OutboxMessage {
    pub fn new(lane: impl Into<String>, to: Destination, body: OutboxBody) -> OutboxMessage {
        OutboxMessage { lane: lane.into(), to, collapse_key: None, body, first: false, not_before: None }
    }

    /// Sent ahead of everything else queued (what people wait for: a run's end), once it
    /// heads its lane.
    pub fn first(self) -> OutboxMessage {
        OutboxMessage { first: true, ..self }
    }

    /// Sent no sooner than `at_ms`, replacing the pending message of the same `key`: one
    /// post that sums what happened until then.
    pub fn summing(self, key: String, at_ms: i64) -> OutboxMessage {
        OutboxMessage { collapse_key: Some(key), not_before: Some(at_ms), ..self }
    }

    /// A post of a rendered message to a channel (or a user id: their DM), in a lane; the
    /// builder methods below make it a reply, a broadcast, a root.
    pub fn post(lane: impl Into<String>, channel: impl Into<String>, message: Rendered) -> OutboxMessage {
        let to = Destination::Post { channel: channel.into(), place: Place::Channel, asked_by: None };
        OutboxMessage::new(lane, to, OutboxBody::plain(message.text, message.blocks))
    }

    /// A `chat.update` of the lane's root message; a newer pending edit with the same key
    /// replaces this one.
    pub fn update(lane: impl Into<String>, channel: impl Into<String>, message: Rendered) -> OutboxMessage {
        let lane = lane.into();
        let key = format!("edit:{lane}");
        OutboxMessage {
            collapse_key: Some(key),
            ..OutboxMessage::new(lane, Destination::Update { channel: channel.into() }, OutboxBody::plain(message.text, message.blocks))
        }
    }

    /// `user`'s Home tab, made of this message, its buttons acting in `dm` (the person's
    /// direct conversation with the bot); a newer pending one replaces this one.
    pub fn home(user: impl Into<String>, dm: Option<String>, view: Rendered) -> OutboxMessage {
        let user = user.into();
        let lane = format!("home:{user}");
        let message = OutboxMessage::new(lane.clone(), Destination::View { user, dm }, OutboxBody::plain(view.text, view.blocks));
        OutboxMessage { collapse_key: Some(lane), ..message }
    }

    /// A file uploaded into `channel` (under `thread_ts` when given), with the message's
    /// blocks beside it.
    pub fn upload(
        lane: impl Into<String>,
        channel: impl Into<String>,
        thread_ts: Option<String>,
        message: OutboxBody,
        file: Upload,
    ) -> OutboxMessage {
        let to = Destination::Upload { channel: channel.into(), thread_ts, asked_by: None, in_lane: false };
        OutboxMessage::new(lane, to, OutboxBody { upload: Some(file), ..message })
    }

    /// A file uploaded under the lane's root message (in the channel when the lane has
    /// none), with the message's blocks beside it.
    pub fn upload_in_lane(lane: impl Into<String>, channel: impl Into<String>, message: OutboxBody, file: Upload) -> OutboxMessage {
        let to = Destination::Upload { channel: channel.into(), thread_ts: None, asked_by: None, in_lane: true };
        OutboxMessage::new(lane, to, OutboxBody { upload: Some(file), ..message })
    }

    /// Under the lane's root message.
    pub fn in_thread(self, broadcast: bool) -> OutboxMessage {
        self.placed(Place::Thread { broadcast })
    }

    /// Its `ts` becomes the lane's thread.
    pub fn as_root(self) -> OutboxMessage {
        self.placed(Place::Root)
    }

    fn placed(mut self, at: Place) -> OutboxMessage {
        if let Destination::Post { place, .. } = &mut self.to {
            *place = at;
        }
        self
    }

    /// Who asked: told when it cannot be delivered.
    pub fn asked_by(mut self, user: Option<String>) -> OutboxMessage {
        if let Destination::Post { asked_by, .. } | Destination::Upload { asked_by, .. } = &mut self.to {
            *asked_by = user;
        }
        self
    }
}

impl OutboxBody {
    /// Text and blocks, for the Web API.
    pub fn plain(text: String, blocks: Vec<serde_json::Value>) -> OutboxBody {
        OutboxBody { text, blocks, response_type: None, replace_original: false, upload: None }
    }
}

/// A queued message with its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    /// Claimed before by a replica that died, or its last try timed out on the wire: it
    /// may already be in Slack, which is asked before it is sent again.
    pub in_doubt: bool,
    pub message: OutboxMessage,
    pub created_at: i64,
    pub attempts: i64,
}

/// What became of a claimed message, recorded by the delivery worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Slack accepted it (`ts`: the post's, which roots its lane's thread).
    Sent { ts: Option<String> },
    /// Try again `at`; `in_doubt` when this try may have reached Slack (it timed out
    /// on the wire).
    Retry { at: i64, error: String, in_doubt: bool },
    /// Not now (pacing, a refused token): `at`, without counting a try.
    Defer { at: i64 },
    /// Given up: Slack will never take it.
    Failed { error: String },
}
