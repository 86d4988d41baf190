//! The Slack Web API as the bot uses it (post, update, ephemeral, views, user-group
//! members, a person's channels) over slack-morphism's connector; posts to
//! `response_url`s are in `respond.rs`, file uploads in `upload.rs`. Every call has a
//! timeout; every failure is classified so that callers know whether to retry.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::SlackClientSession;
use slack_morphism::{ClientResult, SlackApiToken, SlackApiTokenValue, SlackClient};

use crate::chat::{HOME_VIEW, Rendered, view_metadata};
use crate::domain::{ChannelId, UserGroupId, UserId};

mod respond;
mod upload;

pub use respond::ResponseBody;

type Connector = super::connector::CappedConnector;

use super::error::count;
pub use super::error::{SlackError, SlackErrorKind};

#[derive(Serialize)]
struct PostMessage<'a> {
    channel: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [serde_json::Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reply_broadcast: bool,
    unfurl_links: bool,
    unfurl_media: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct UpdateMessage<'a> {
    channel: &'a str,
    ts: &'a str,
    text: &'a str,
    blocks: &'a [serde_json::Value],
}

#[derive(Serialize)]
struct PostEphemeral<'a> {
    channel: &'a str,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    text: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    blocks: &'a [serde_json::Value],
}

#[derive(Deserialize)]
struct Posted {
    ts: String,
}

#[derive(Deserialize)]
struct Acknowledged {}

/// What `auth.test` says of the token's bot user.
#[derive(Deserialize)]
struct Identity {
    #[serde(default)]
    user_id: Option<String>,
}

/// The messages of `conversations.history` or `conversations.replies`.
#[derive(Deserialize)]
struct History {
    #[serde(default)]
    messages: Vec<HistoryMessage>,
}

#[derive(Deserialize)]
struct HistoryMessage {
    ts: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// The `event_type` of the metadata each outbox post carries, so that a post in doubt
/// can be recognised in the channel's history.
pub const OUTBOX_METADATA_EVENT: &str = "tailerbot_outbox";

/// The message metadata naming outbox message `id`.
pub fn outbox_metadata(id: i64) -> serde_json::Value {
    serde_json::json!({"event_type": OUTBOX_METADATA_EVENT, "event_payload": {"outbox_id": id.to_string()}})
}

fn carries_outbox_id(metadata: Option<&serde_json::Value>, id: i64) -> bool {
    metadata.is_some_and(|m| {
        m["event_type"] == OUTBOX_METADATA_EVENT && m["event_payload"]["outbox_id"].as_str().is_some_and(|v| v == id.to_string())
    })
}

#[derive(Deserialize)]
struct Members {
    #[serde(default)]
    users: Vec<String>,
}

/// A page of `users.conversations`.
#[derive(Deserialize)]
struct Conversations {
    #[serde(default)]
    channels: Vec<ConversationId>,
    #[serde(default)]
    response_metadata: Option<NextCursor>,
}

#[derive(Deserialize)]
struct ConversationId {
    id: String,
}

#[derive(Deserialize)]
struct NextCursor {
    #[serde(default)]
    next_cursor: String,
}

/// The most pages of `users.conversations` read for one person (1,000 channels a page):
/// past them, the channels not read count as channels the person is not in.
const CONVERSATION_PAGES: usize = 10;

/// The Web API client. `Debug` shows no token.
pub struct SlackApi {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    http: reqwest::Client,
    timeout: Duration,
    response_url_prefixes: Vec<String>,
    /// `scheme://host:port` of the Web API: an upload URL there is trusted (a local
    /// stand-in's), as is any https one Slack gives.
    api_origin: String,
    /// The bot's own user id, as `auth.test` names it: what it says is never taken
    /// for something asked of it.
    own_user: tokio::sync::OnceCell<UserId>,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi").field("timeout", &self.timeout).field("token", &"[redacted]").finish()
    }
}

impl SlackApi {
    /// A client for `api_url` (`https://slack.com/api`, or a local `http://` stand-in).
    pub fn new(
        api_url: &str,
        bot_token: &SecretString,
        response_url_prefixes: Vec<String>,
        timeout: Duration,
    ) -> std::io::Result<SlackApi> {
        crate::tls::install_crypto_provider();
        // No redirect is followed, by the Web API calls or by answers to a
        // `response_url`: a 3xx is a failure, and its target is never posted to.
        let http = crate::http_limits::client_builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(std::io::Error::other)?;
        let connector = super::connector::CappedConnector::new(http.clone(), api_url, crate::http_limits::DEFAULT_MAX_ANSWER);
        Ok(SlackApi {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue::new(bot_token.expose_secret().to_owned())),
            http,
            timeout,
            response_url_prefixes,
            api_origin: origin(api_url).unwrap_or_default(),
            own_user: tokio::sync::OnceCell::new(),
        })
    }

    async fn timed<T>(&self, method: &'static str, call: impl Future<Output = ClientResult<T>>) -> Result<T, SlackError> {
        let result = self.untimed(method, call).await;
        count(method, &result);
        result
    }

    async fn untimed<T>(&self, method: &'static str, call: impl Future<Output = ClientResult<T>>) -> Result<T, SlackError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(SlackError::from_client(method, error)),
            Err(_) => Err(SlackError { method, kind: SlackErrorKind::Timeout, detail: String::new() }),
        }
    }

    fn session(&self) -> SlackClientSession<'_, Connector> {
        self.client.open_session(&self.token)
    }

    /// `chat.postMessage`; returns the message's `ts`. `metadata` (see
    /// [`outbox_metadata`]) lets [`SlackApi::find_posted`] recognise it later.
    pub async fn post_message(
        &self,
        channel: &str,
        message: &Rendered,
        thread_ts: Option<&str>,
        broadcast: bool,
        metadata: Option<serde_json::Value>,
    ) -> Result<String, SlackError> {
        let body = PostMessage {
            channel,
            text: &message.text,
            blocks: &message.blocks,
            thread_ts,
            reply_broadcast: broadcast && thread_ts.is_some(),
            unfurl_links: false,
            unfurl_media: false,
            metadata,
        };
        let posted: Posted =
            self.timed("chat.postMessage", self.session().http_session_api.http_post("chat.postMessage", &body, None)).await?;
        Ok(posted.ts)
    }

    /// Looks for outbox message `id` among the channel's messages since `oldest_ms` (or
    /// the replies of thread `thread_ts`): its `ts` when it was posted already.
    pub async fn find_posted(&self, channel: &str, thread_ts: Option<&str>, id: i64, oldest_ms: i64) -> Result<Option<String>, SlackError> {
        // A little before the message was queued, in Slack's "seconds.micros".
        let oldest = format!("{}.000000", (oldest_ms / 1000 - 60).max(0));
        let history: History = match thread_ts {
            Some(ts) => {
                let params =
                    vec![("channel", Some(channel)), ("ts", Some(ts)), ("include_all_metadata", Some("true")), ("limit", Some("1000"))];
                self.timed("conversations.replies", self.session().http_session_api.http_get("conversations.replies", &params, None))
                    .await?
            }
            None => {
                let params = vec![
                    ("channel", Some(channel)),
                    ("oldest", Some(oldest.as_str())),
                    ("include_all_metadata", Some("true")),
                    ("limit", Some("1000")),
                ];
                self.timed("conversations.history", self.session().http_session_api.http_get("conversations.history", &params, None))
                    .await?
            }
        };
        Ok(history.messages.into_iter().find(|m| carries_outbox_id(m.metadata.as_ref(), id)).map(|m| m.ts))
    }

    /// `chat.update`.
    pub async fn update_message(&self, channel: &ChannelId, ts: &str, message: &Rendered) -> Result<(), SlackError> {
        let body = UpdateMessage { channel: channel.as_str(), ts, text: &message.text, blocks: &message.blocks };
        let _: Acknowledged = self.timed("chat.update", self.session().http_session_api.http_post("chat.update", &body, None)).await?;
        Ok(())
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &ChannelId,
        user: &UserId,
        thread_ts: Option<&str>,
        message: &Rendered,
    ) -> Result<(), SlackError> {
        let body =
            PostEphemeral { channel: channel.as_str(), user: user.as_str(), thread_ts, text: &message.text, blocks: &message.blocks };
        let _: Acknowledged =
            self.timed("chat.postEphemeral", self.session().http_session_api.http_post("chat.postEphemeral", &body, None)).await?;
        Ok(())
    }

    /// `views.publish`: `user`'s Home tab becomes these blocks; its clicks carry `dm` (the
    /// person's conversation with the bot) as the view's `private_metadata`.
    pub async fn publish_home(&self, user: &UserId, dm: Option<&str>, blocks: &[serde_json::Value]) -> Result<(), SlackError> {
        let body = serde_json::json!({
            "user_id": user.as_str(),
            "view": {"type": "home", "callback_id": HOME_VIEW, "private_metadata": view_metadata(dm, Some(user)), "blocks": blocks},
        });
        let _: Acknowledged = self.timed("views.publish", self.session().http_session_api.http_post("views.publish", &body, None)).await?;
        Ok(())
    }

    /// `views.open`: a modal, opened with the `trigger_id` of the request that asked for
    /// it (Slack takes it for 3 s after that request).
    pub async fn open_view(&self, trigger_id: &str, view: &serde_json::Value) -> Result<(), SlackError> {
        let body = serde_json::json!({"trigger_id": trigger_id, "view": view});
        let _: Acknowledged = self.timed("views.open", self.session().http_session_api.http_post("views.open", &body, None)).await?;
        Ok(())
    }

    /// `usergroups.users.list`: the members of a user group.
    pub async fn usergroup_members(&self, group: &UserGroupId) -> Result<Vec<UserId>, SlackError> {
        let params = vec![("usergroup", Some(group.as_str()))];
        let members: Members =
            self.timed("usergroups.users.list", self.session().http_session_api.http_get("usergroups.users.list", &params, None)).await?;
        Ok(members.users.iter().filter_map(|u| UserId::parse(u).ok()).collect())
    }

    /// `users.conversations`: the public and private channels `user` is in (private ones
    /// only where the bot is too, which is where it posts). Needs `channels:read` and
    /// `groups:read`.
    pub async fn user_channels(&self, user: &UserId) -> Result<Vec<ChannelId>, SlackError> {
        let mut channels = Vec::new();
        let mut cursor = String::new();
        for _ in 0..CONVERSATION_PAGES {
            let mut params = vec![
                ("user", Some(user.as_str())),
                ("types", Some("public_channel,private_channel")),
                ("exclude_archived", Some("true")),
                ("limit", Some("1000")),
            ];
            if !cursor.is_empty() {
                params.push(("cursor", Some(cursor.as_str())));
            }
            let page: Conversations =
                self.timed("users.conversations", self.session().http_session_api.http_get("users.conversations", &params, None)).await?;
            channels.extend(page.channels.iter().filter_map(|c| ChannelId::parse(&c.id).ok()));
            cursor = page.response_metadata.map(|m| m.next_cursor).unwrap_or_default();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(channels)
    }

    /// `auth.test`: the token works.
    pub async fn auth_test(&self) -> Result<(), SlackError> {
        let empty = serde_json::json!({});
        let identity: Identity = self.timed("auth.test", self.session().http_session_api.http_post("auth.test", &empty, None)).await?;
        if let Some(user) = identity.user_id.as_deref().and_then(|id| UserId::parse(id).ok()) {
            let _ = self.own_user.set(user);
        }
        Ok(())
    }

    /// The bot's own user id: known from the start-up check, else asked once now
    /// (`None` while Slack cannot say).
    pub async fn own_user_id(&self) -> Option<UserId> {
        if self.own_user.get().is_none() {
            if let Err(error) = self.auth_test().await {
                tracing::warn!(%error, "cannot ask Slack for the bot's own user id");
            }
        }
        self.own_user.get().cloned()
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{}{port}", parsed.scheme(), parsed.host_str()?))
}

/// User-group members come from `usergroups.users.list`.
impl crate::access::GroupSource for SlackApi {
    async fn members(&self, group: &UserGroupId) -> Result<Vec<UserId>, crate::access::GroupLookupError> {
        self.usergroup_members(group).await.map_err(|e| crate::access::GroupLookupError(e.to_string()))
    }
}
