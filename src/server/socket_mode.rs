//! Socket Mode: with `SLACK_APP_TOKEN`, the bot opens a WebSocket to Slack through
//! slack-morphism's listener instead of serving `/slack/*`. Each envelope goes through
//! the same parsing, rules and answers as over HTTP, and is acknowledged within Slack's
//! three seconds (the bot's own deadline is 2.5). No signature: the token authenticates.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;

use super::edge::{self, Admitted, Endpoint, Refusal};
use crate::bot::{Ack, Bot};
use crate::slack::api::ResponseBody;

type Client = Arc<SlackClient<SlackClientHyperConnector<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>>>;

/// The bot of the configuration in force now: one per envelope, kept to its end.
async fn bot(states: &SlackClientEventsUserState) -> Option<Arc<Bot>> {
    states.read().await.get_user_state::<Arc<Bot>>().map(|bot| bot.current())
}

/// The answer to a command envelope, from the bot's [`Ack`].
fn response(ack: Ack) -> SlackCommandEventResponse {
    match ack {
        Ack::Empty | Ack::FieldErrors(_) => SlackCommandEventResponse::new(SlackMessageContent::new()),
        Ack::Message(reply) => {
            let body = ResponseBody::of(&reply);
            let blocks: Option<Vec<SlackBlock>> = serde_json::from_value(serde_json::Value::Array(body.blocks.into_owned())).ok();
            let mut content = SlackMessageContent::new().with_text(body.text.into_owned());
            if let Some(blocks) = blocks {
                content = content.with_blocks(blocks);
            }
            let kind = match body.response_type {
                crate::domain::Visibility::InChannel => SlackMessageResponseType::InChannel,
                crate::domain::Visibility::Ephemeral => SlackMessageResponseType::Ephemeral,
            };
            SlackCommandEventResponse::new(content).with_response_type(kind)
        }
    }
}

/// An envelope's payload through the edge's last steps ([`edge::admit_socket`]): parsed
/// strictly, then the workspace checked. A refusal is logged like one over HTTP.
fn admitted(bot: &Bot, endpoint: Endpoint, payload: Result<serde_json::Value, serde_json::Error>) -> Option<Admitted> {
    let result = payload
        .map_err(|e| Refusal::Malformed(crate::slack::payload::PayloadError(format!("the envelope cannot be read: {e}"))))
        .and_then(|payload| edge::admit_socket(&bot.config().slack, endpoint, &payload));
    result.inspect_err(Refusal::log).ok()
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Client,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some(bot) = bot(&states).await else {
        return Ok(response(Ack::Empty));
    };
    let Some(Admitted::Command(command)) = admitted(&bot, Endpoint::Commands, serde_json::to_value(&event)) else {
        return Ok(response(Ack::Empty));
    };
    let response_url = Some(command.response_url.clone());
    let worker = bot.clone();
    Ok(response(bot.in_time(response_url, async move { crate::commands::slash(&worker, command).await }).await))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Client,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let Some(bot) = bot(&states).await else { return Ok(SlackInteractionResponse::Empty) };
    let Some(Admitted::Interaction(interaction)) = admitted(&bot, Endpoint::Interactions, serde_json::to_value(&event)) else {
        return Ok(SlackInteractionResponse::Empty);
    };
    let worker = bot.clone();
    // A modal's submission may be answered with errors under its fields; a click never.
    Ok(match bot.in_time(None, async move { crate::commands::writes::clicks::interaction(&worker, interaction).await }).await {
        Ack::FieldErrors(errors) => SlackInteractionResponse::ViewSubmission(SlackViewSubmissionResponse::Errors(
            SlackViewSubmissionErrorsResponse::new(errors.into_iter().collect()),
        )),
        _ => SlackInteractionResponse::Empty,
    })
}

async fn on_push(event: SlackPushEventCallback, _client: Client, states: SlackClientEventsUserState) -> UserCallbackResult<()> {
    let Some(bot) = bot(&states).await else { return Ok(()) };
    if let Some(Admitted::Event(event)) = admitted(&bot, Endpoint::Events, serde_json::to_value(&event)) {
        crate::conversation::event(&bot, event.into());
    }
    Ok(())
}

fn on_error(error: Box<dyn std::error::Error + Send + Sync>, _client: Client, _states: SlackClientEventsUserState) -> http::StatusCode {
    tracing::error!(%error, "Socket Mode error");
    http::StatusCode::OK
}

/// Connects and serves envelopes until `shutdown` resolves.
pub async fn run(bot: Arc<Bot>, api_url: &str, app_token: &SecretString, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?.https_or_http().enable_http1().enable_http2().build();
    let client: Client =
        Arc::new(SlackClient::new(SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url.trim_end_matches('/'))));
    let environment = Arc::new(SlackClientEventsListenerEnvironment::new(client).with_error_handler(on_error).with_user_state(bot));
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let listener = SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::new(app_token.expose_secret().to_owned()));
    listener.listen_for(&token).await.map_err(|e| anyhow::anyhow!("Socket Mode: cannot open a connection: {e}"))?;
    listener.start().await;
    tracing::info!("Socket Mode started: connecting to Slack");
    shutdown.await;
    listener.shutdown().await;
    tracing::info!("Socket Mode connection closed");
    Ok(())
}
