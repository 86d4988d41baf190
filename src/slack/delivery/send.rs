//! Sending one queued message to Slack now: what the delivery worker does for each, and
//! what the outbox does when the store is down.

use crate::chat::Rendered;
use crate::domain::{ChannelId, UserId};
use crate::outbox::{Destination, OutboxMessage, Place};
use crate::slack::api::{ResponseBody, SlackApi, SlackError};

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Slack(#[from] SlackError),
    /// Retrying cannot help: the message cannot be sent as it is.
    #[error("{0}")]
    Unsendable(&'static str),
}

/// Sends one message to Slack now: no pacing, no check for a copy in doubt. `thread` is
/// the `ts` of the lane's root, for a reply (absent: in the channel) or an edit, or the
/// thread the message names itself; a post carries `metadata` to be found again. Returns
/// the `ts` of a post.
pub async fn send(
    slack: &SlackApi,
    m: &OutboxMessage,
    thread: Option<&str>,
    metadata: Option<serde_json::Value>,
) -> Result<Option<String>, SendError> {
    let message = || Rendered { text: m.body.text.clone(), blocks: m.body.blocks.clone() };
    match &m.to {
        Destination::Respond { url, .. } => Ok(slack.respond(url, &ResponseBody::from(&m.body)).await.map(|()| None)?),
        Destination::Post { channel, place, .. } => {
            let broadcast = matches!(place, Place::Thread { broadcast: true });
            Ok(slack.post_message(channel, &message(), thread, broadcast, metadata).await.map(Some)?)
        }
        Destination::Update { channel } => match (thread, ChannelId::parse(channel)) {
            (Some(ts), Ok(channel)) => Ok(slack.update_message(&channel, ts, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("the message to edit was never posted")),
        },
        Destination::Ephemeral { channel, user, .. } => match (ChannelId::parse(channel), UserId::parse(user)) {
            (Ok(channel), Ok(user)) => Ok(slack.post_ephemeral(&channel, &user, thread, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("an ephemeral message without a valid user or channel")),
        },
        Destination::View { user, dm } => match UserId::parse(user) {
            Ok(user) => Ok(slack.publish_home(&user, dm.as_deref(), &m.body.blocks).await.map(|()| None)?),
            Err(_) => Err(SendError::Unsendable("a Home tab without a valid user")),
        },
        Destination::Upload { channel, .. } => match (ChannelId::parse(channel), &m.body.upload) {
            (Ok(channel), Some(file)) => Ok(slack.upload_file(&channel, thread, file, &message()).await.map(|()| None)?),
            _ => Err(SendError::Unsendable("an upload without a valid channel or a file")),
        },
    }
}
