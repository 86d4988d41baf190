//! The edge: every request from Slack, over HTTP or Socket Mode, is admitted here and
//! nowhere else, in one order: size (413), read in time (408), signature on the raw
//! bytes (401), content type (415), strict parsing (400), workspace and app (403). A
//! refused request costs what reading it costs: nothing is parsed before the signature
//! holds, except Slack's tiny `ssl_check` probe. A refusal is a [`Refusal`], which is
//! its own HTTP answer and is logged once per cause, not once per request.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::bot::Bot;
use crate::config::SlackConfig;
use crate::domain::{AppId, TeamId};
use crate::slack::payload::{Interaction, PayloadError, TypedCommand, form_fields, replay_key};
use crate::slack::verify::SignatureError;

/// The largest body accepted from Slack.
pub const MAX_BODY: usize = 64 * 1024;
/// How long a body may take to arrive once its headers have.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body that may be Slack's unsigned `ssl_check` probe
/// (`ssl_check=1&token=...`).
const SSL_CHECK_MAX: usize = 160;

/// How a request reached the bot: over HTTP it is signed; over Socket Mode the app
/// token proved the app, and command envelopes do not name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    SocketMode,
}

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Commands,
    Interactions,
    Events,
}

impl Endpoint {
    fn of(path: &str) -> Option<Endpoint> {
        match path {
            "/slack/commands" => Some(Endpoint::Commands),
            "/slack/interactions" => Some(Endpoint::Interactions),
            "/slack/events" => Some(Endpoint::Events),
            _ => None,
        }
    }
}

/// An Events API envelope: what the bot reads of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub api_app_id: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
    /// The event itself (`event_callback`), read by [`crate::conversation`].
    #[serde(default)]
    pub event: Option<serde_json::Value>,
}

impl From<Event> for crate::chat::Delivery {
    fn from(e: Event) -> crate::chat::Delivery {
        crate::slack::payload::event::delivery(e.event_id, e.team_id, e.event.as_ref())
    }
}

/// A request that passed the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Slack's `ssl_check=1` probe: answered 200, nothing else.
    SslCheck,
    Command(TypedCommand),
    Interaction(Interaction),
    /// The Events API's set-up handshake.
    UrlVerification(String),
    /// Another event: acknowledged.
    Event(Event),
}

/// Why a request was refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over [`MAX_BODY`] (announced or read).
    TooLarge,
    /// The body did not arrive within [`BODY_READ_TIMEOUT`].
    SlowBody,
    /// The connection broke while the body was read.
    BrokenBody,
    Unsigned(SignatureError),
    /// A declared content type the endpoint does not take.
    WrongType(String),
    Malformed(PayloadError),
    NotAllowed {
        team: Option<String>,
        app: Option<String>,
    },
    /// A path that is not a Slack endpoint (a routing mistake, not a request).
    NoEndpoint,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::SlowBody => StatusCode::REQUEST_TIMEOUT,
            Refusal::BrokenBody | Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusal::Unsigned(_) => StatusCode::UNAUTHORIZED,
            Refusal::WrongType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::NotAllowed { .. } => StatusCode::FORBIDDEN,
            Refusal::NoEndpoint => StatusCode::NOT_FOUND,
        }
    }

    /// The cause, as logs and metrics name it.
    pub fn cause(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "body_too_large",
            Refusal::SlowBody => "body_too_slow",
            Refusal::BrokenBody => "body_broken",
            Refusal::Unsigned(_) => "bad_signature",
            Refusal::WrongType(_) => "wrong_content_type",
            Refusal::Malformed(_) => "malformed",
            Refusal::NotAllowed { .. } => "not_allowed",
            Refusal::NoEndpoint => "no_endpoint",
        }
    }

    fn answer(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "request body too large",
            Refusal::SlowBody => "request body too slow",
            Refusal::BrokenBody => "request body incomplete",
            Refusal::Unsigned(_) => "invalid signature",
            Refusal::WrongType(_) => "unsupported content type",
            Refusal::Malformed(_) => "malformed request",
            Refusal::NotAllowed { .. } => "workspace or app not allowed",
            Refusal::NoEndpoint => "not found",
        }
    }

    /// Logs the refusal: the first of its cause at once, then one line a minute with the
    /// count (see [`crate::telemetry::first_or_summary`]).
    pub fn log(&self) {
        let Some(repeats) = crate::telemetry::first_or_summary(self.cause()) else { return };
        let cause = self.cause();
        match self {
            Refusal::Unsigned(error) => tracing::warn!(cause, %error, repeats, "refused an unsigned or badly signed request"),
            Refusal::WrongType(declared) => {
                tracing::warn!(cause, content_type = %declared, repeats, "refused a signed request of the wrong content type")
            }
            Refusal::Malformed(error) => tracing::warn!(cause, %error, repeats, "refused a signed request that cannot be read"),
            Refusal::NotAllowed { team, app } => {
                tracing::warn!(cause, ?team, ?app, repeats, "refused a request from a workspace or app that is not allowed")
            }
            _ => tracing::warn!(cause, repeats, "refused a request: {}", self.answer()),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.log();
        (self.status(), self.answer()).into_response()
    }
}

/// A request from Slack over HTTP, admitted by [`admit_http`]: the one extractor of the
/// Slack endpoints. With it, the bot of the configuration in force when the request was
/// admitted: the request is handled by the same one (a reload meanwhile applies to the
/// next request).
pub struct SlackRequest(pub Admitted, pub Arc<Bot>);

impl FromRequest<AppState> for SlackRequest {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        admit_http(state, request).await.map(|(admitted, bot)| SlackRequest(admitted, bot))
    }
}

/// The HTTP path through the edge, in its order. The workspace and app are checked
/// against the configuration in force then, and the bot of that configuration comes
/// with what was admitted, to handle it.
pub async fn admit_http(state: &AppState, request: Request) -> Result<(Admitted, Arc<Bot>), Refusal> {
    let endpoint = Endpoint::of(request.uri().path()).ok_or(Refusal::NoEndpoint)?;
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body).await?;
    if endpoint == Endpoint::Commands && is_ssl_check(&body) {
        return Ok((Admitted::SslCheck, state.bot.current()));
    }
    let timestamp = header_str(&parts.headers, "x-slack-request-timestamp");
    state
        .verifier
        .verify(timestamp, header_str(&parts.headers, "x-slack-signature"), &body, state.clock.unix())
        .map_err(Refusal::Unsigned)?;
    content_type(&parts.headers, endpoint)?;
    let mut admitted = parse(endpoint, &body)?;
    // A submission carries no id of its own: what was signed is its key, so the same
    // bytes sent again within the signature window are known as a replay.
    if let Admitted::Interaction(Interaction::Submission(submission)) = &mut admitted {
        submission.replay = replay_key("submission", timestamp, &body);
    }
    let bot = state.bot.current();
    admit(&bot.config().slack, Transport::Http, admitted).map(|admitted| (admitted, bot))
}

/// Reads the body: refused unread when it announces more than [`MAX_BODY`], cut off
/// when it sends more, given up after [`BODY_READ_TIMEOUT`].
async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, Refusal> {
    let announced = header_str(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(Refusal::TooLarge);
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Err(_) => Err(Refusal::SlowBody),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            // axum wraps http-body's `LengthLimitError`, somewhere in the chain.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&error);
            let mut too_large = false;
            while let Some(current) = cause {
                too_large |= current.is::<http_body_util::LengthLimitError>();
                cause = current.source();
            }
            Err(if too_large { Refusal::TooLarge } else { Refusal::BrokenBody })
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Slack's probe, recognised without a signature only when it is tiny and nothing but
/// `ssl_check=1` and a `token`: it makes the bot do nothing.
pub fn is_ssl_check(body: &[u8]) -> bool {
    if body.len() > SSL_CHECK_MAX {
        return false;
    }
    let Ok(fields) = form_fields(body) else { return false };
    fields.iter().any(|(k, v)| k == "ssl_check" && v == "1") && fields.iter().all(|(k, _)| k == "ssl_check" || k == "token")
}

/// 415 when the body is declared other than the endpoint's type: a form for commands and
/// clicks, JSON for events. A body with no declared type is read as the endpoint's.
fn content_type(headers: &HeaderMap, endpoint: Endpoint) -> Result<(), Refusal> {
    let expected = match endpoint {
        Endpoint::Events => "application/json",
        Endpoint::Commands | Endpoint::Interactions => "application/x-www-form-urlencoded",
    };
    let declared = header_str(headers, header::CONTENT_TYPE.as_str()).and_then(|v| v.split(';').next()).map(str::trim);
    match declared {
        None => Ok(()),
        Some(declared) if declared.eq_ignore_ascii_case(expected) => Ok(()),
        Some(declared) => Err(Refusal::WrongType(declared.chars().take(80).collect())),
    }
}

/// The body, strictly, as the endpoint's request.
fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Admitted, Refusal> {
    match endpoint {
        Endpoint::Commands => {
            let fields = form_fields(body).map_err(Refusal::Malformed)?;
            TypedCommand::from_form(&fields).map(Admitted::Command).map_err(Refusal::Malformed)
        }
        Endpoint::Interactions => {
            let fields = form_fields(body).map_err(Refusal::Malformed)?;
            Interaction::from_form(&fields).map(Admitted::Interaction).map_err(Refusal::Malformed)
        }
        Endpoint::Events => parse_event(body),
    }
}

fn parse_event(body: &[u8]) -> Result<Admitted, Refusal> {
    let malformed = |why: &str| Refusal::Malformed(PayloadError(why.to_owned()));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed("the event is not JSON"))?;
    if !value.is_object() {
        return Err(malformed("the event is not a JSON object"));
    }
    let mut event: Event = serde_json::from_value(value).map_err(|_| malformed("the event has no usable `type`"))?;
    // Without Slack's id, the body is the event's identity: delivered twice, handled once.
    if event.event_id.as_deref().is_none_or(str::is_empty) {
        event.event_id = Some(replay_key("body", None, body));
    }
    if event.kind == "url_verification" {
        return match event.challenge {
            Some(challenge) if !challenge.is_empty() && challenge.len() <= 200 => Ok(Admitted::UrlVerification(challenge)),
            _ => Err(malformed("url_verification without a usable challenge")),
        };
    }
    Ok(Admitted::Event(event))
}

/// The last step, shared by HTTP and Socket Mode: the workspace (and over HTTP the app)
/// must be allowed.
pub fn admit(slack: &SlackConfig, transport: Transport, admitted: Admitted) -> Result<Admitted, Refusal> {
    let (team, app): (Option<TeamId>, Option<AppId>) = match &admitted {
        Admitted::SslCheck | Admitted::UrlVerification(_) => return Ok(admitted),
        Admitted::Command(command) => (Some(command.team_id.clone()), command.api_app_id.clone()),
        Admitted::Interaction(interaction) => {
            let (team, app) = interaction.origin();
            (team.cloned(), app.cloned())
        }
        Admitted::Event(event) => {
            (event.team_id.as_deref().and_then(|t| TeamId::parse(t).ok()), event.api_app_id.as_deref().and_then(|a| AppId::parse(a).ok()))
        }
    };
    let team_ok = slack.allowed_team_ids.is_empty() || team.as_ref().is_some_and(|t| slack.allowed_team_ids.contains(t));
    let app_ok = transport == Transport::SocketMode
        || slack.allowed_app_ids.is_empty()
        || app.as_ref().is_some_and(|a| slack.allowed_app_ids.contains(a));
    if team_ok && app_ok {
        Ok(admitted)
    } else {
        Err(Refusal::NotAllowed { team: team.map(|t| t.to_string()), app: app.map(|a| a.to_string()) })
    }
}

/// The Socket Mode path: the envelope's payload (JSON) parsed as strictly as a form,
/// then the same admission.
pub fn admit_socket(slack: &SlackConfig, endpoint: Endpoint, payload: &serde_json::Value) -> Result<Admitted, Refusal> {
    let admitted = match endpoint {
        Endpoint::Commands => TypedCommand::from_json(payload).map(Admitted::Command).map_err(Refusal::Malformed)?,
        Endpoint::Interactions => Interaction::from_json(&payload.to_string()).map(Admitted::Interaction).map_err(Refusal::Malformed)?,
        Endpoint::Events => parse_event(payload.to_string().as_bytes())?,
    };
    admit(slack, Transport::SocketMode, admitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tiny_bare_probe_is_an_ssl_check() {
        assert!(is_ssl_check(b"ssl_check=1&token=abc"));
        assert!(is_ssl_check(b"ssl_check=1"));
        assert!(!is_ssl_check(b"ssl_check=0&token=abc"));
        assert!(!is_ssl_check(b"ssl_check=1&text=launch+x"), "a probe carries nothing else");
        let padded = format!("ssl_check=1&token={}", "a".repeat(SSL_CHECK_MAX));
        assert!(!is_ssl_check(padded.as_bytes()), "a large body is never read unsigned");
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(Refusal::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(Refusal::SlowBody.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(Refusal::Unsigned(SignatureError::Mismatch).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Refusal::WrongType("text/plain".into()).status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(Refusal::NotAllowed { team: None, app: None }.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn events_take_json_and_forms_take_forms() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert_eq!(content_type(&headers, Endpoint::Events), Ok(()));
        assert!(content_type(&headers, Endpoint::Commands).is_err());
        assert_eq!(content_type(&HeaderMap::new(), Endpoint::Interactions), Ok(()));
    }
}
