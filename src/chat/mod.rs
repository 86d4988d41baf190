//! The chat surface, as the application sees it: what it says ([`Message`], [`Reply`],
//! [`Form`]), what people do ([`TypedCommand`], [`Click`], [`Submission`]) and what it
//! asks of the surface ([`Surface`]). The Slack adapter (`slack/`) implements it: it
//! parses Slack's payloads into these, renders these in Block Kit and calls the Web API.
//! Nothing here knows Slack.

mod form;
mod input;
mod message;

pub use form::{Choice, Field, Form, Input, MAX_CHOICES};
pub use input::{Asked, Click, Delivery, Interaction, Said, Submission, TypedCommand, ViewOf};
pub use message::{Button, Confirm, MAX_PARTS, Message, Part, Reply, Style};

use futures::future::BoxFuture;

use crate::access::GroupLookupError;
use crate::domain::{ChannelId, UserGroupId, UserId};

/// The `id` of the Home tab's view, given back with its clicks.
pub const HOME_VIEW: &str = "home";

/// A message as the surface sends it: its fallback text and its own form of the rest,
/// kept as it is in the outbox until sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub blocks: Vec<serde_json::Value>,
}

/// Writes messages in a surface's own form.
pub trait Render: Send + Sync {
    fn render(&self, message: &Message) -> Rendered;
}

/// What the surface said when it could not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SurfaceError(pub String);

/// What the application asks of a chat surface beyond messages (which go through the
/// outbox: [`crate::outbox::Sender`]).
pub trait Surface: Send + Sync + 'static {
    /// Opens `form` for the person whose action gave `trigger`.
    fn open_form<'a>(&'a self, trigger: &'a str, form: &'a Form) -> BoxFuture<'a, Result<(), SurfaceError>>;
    /// Whether the bot's credentials work.
    fn check(&self) -> BoxFuture<'_, Result<(), SurfaceError>>;
    /// The bot's own user, so that it does not answer itself.
    fn own_user(&self) -> BoxFuture<'_, Option<UserId>>;
    /// The conversations `user` is in.
    fn conversations_of<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Vec<ChannelId>, SurfaceError>>;
    /// The members of a user group.
    fn group_members<'a>(&'a self, group: &'a UserGroupId) -> BoxFuture<'a, Result<Vec<UserId>, GroupLookupError>>;
}

/// The groups of a [`Surface`], for the rules' group cache.
pub struct SurfaceGroups(pub std::sync::Arc<dyn Surface>);

impl crate::access::GroupSource for SurfaceGroups {
    async fn members(&self, group: &UserGroupId) -> Result<Vec<UserId>, GroupLookupError> {
        self.0.group_members(group).await
    }
}

/// What the bot keeps in a view it makes: the conversation its buttons and its submission
/// act in and answer to (none: empty), and, for a view made for one person, who.
pub fn view_metadata(channel: Option<&str>, user: Option<&UserId>) -> String {
    let Some(channel) = channel else { return String::new() };
    let mut metadata = serde_json::json!({ "channel": channel });
    if let Some(user) = user {
        metadata["user"] = user.as_str().into();
    }
    metadata.to_string()
}

/// The conversation a view's metadata names, when the bot wrote it for `clicker` (a view
/// made for someone else names none).
pub fn metadata_channel(metadata: &str, clicker: &UserId) -> Option<ChannelId> {
    let value: serde_json::Value = serde_json::from_str(metadata).ok()?;
    if value.get("user").is_some_and(|owner| owner.as_str() != Some(clicker.as_str())) {
        return None;
    }
    ChannelId::parse(value.get("channel")?.as_str()?).ok()
}
