//! Reading Google's answers: within their cap, their errors' messages, an access token,
//! an e-mail address, a signed JWT's shape; a transport error without its URL.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{AccessToken, GoogleError, GoogleFailure, MAX_GOOGLE_ANSWER};

/// Three dot-separated base64url parts.
pub(super) fn well_formed_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The cause of a transport error, without its URL's credentials.
pub(super) fn transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "no connection"
    } else {
        "broken"
    };
    let detail = std::error::Error::source(error).map(|s| s.to_string()).unwrap_or_else(|| error.to_string());
    format!("{kind}: {}", crate::redact::redact_urls_in(&detail))
}

/// A 2xx body, read up to [`MAX_GOOGLE_ANSWER`]; anything else classified, with the
/// message of Google's error body.
pub(super) async fn read(response: reqwest::Response, what: &str) -> Result<bytes::Bytes, GoogleError> {
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        return Err(GoogleError::new(GoogleFailure::Refused, format!("{what} answered a redirect (HTTP {status}), not followed")));
    }
    let body = match crate::http_limits::read_capped(response, MAX_GOOGLE_ANSWER).await {
        Ok(body) => body,
        Err(crate::http_limits::ReadError::TooLarge { limit }) => {
            let message = format!("{what} answered more than {}, left unread", crate::http_limits::size(limit));
            return Err(GoogleError::new(GoogleFailure::Garbage, message));
        }
        Err(crate::http_limits::ReadError::Transport(e)) => {
            return Err(GoogleError::new(GoogleFailure::Unreachable, format!("{what}: the answer broke off ({})", transport(&e))));
        }
    };
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let failure = match status {
        429 | 500..=599 => GoogleFailure::Unavailable,
        _ => GoogleFailure::Refused,
    };
    let reason = error_message(&body);
    let message =
        if reason.is_empty() { format!("{what} refused (HTTP {status})") } else { format!("{what} refused (HTTP {status}: {reason})") };
    let message = if failure == GoogleFailure::Unavailable { message.replacen("refused", "failed", 1) } else { message };
    Err(GoogleError { failure, status: Some(status), message })
}

/// Google's error bodies: `{"error": {"message": ...}}` (APIs) or `{"error": "...",
/// "error_description": "..."}` (OAuth); anything else, its start.
pub(super) fn error_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => match (value.pointer("/error/message"), value.get("error"), value.get("error_description")) {
            (Some(serde_json::Value::String(m)), _, _) => m.clone(),
            (_, Some(serde_json::Value::String(code)), Some(serde_json::Value::String(d))) => format!("{code}: {d}"),
            (_, Some(serde_json::Value::String(code)), _) => code.clone(),
            _ => String::from_utf8_lossy(body).into_owned(),
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    crate::tailer::excerpt(text.as_bytes())
}

/// `{"access_token": "...", "expires_in": N, ...}`: the token must be one visible word.
pub fn parse_access_token(body: &[u8], what: &str) -> Result<AccessToken, GoogleError> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: Option<SecretString>,
        expires_in: Option<u64>,
    }
    let garbage = |why: &str| GoogleError::new(GoogleFailure::Garbage, format!("{what} answered {why}"));
    let answer: Answer = serde_json::from_slice(body).map_err(|_| garbage("something that is not a token (not the JSON expected)"))?;
    let token = answer.access_token.ok_or_else(|| garbage("without `access_token`"))?;
    let visible = !token.expose_secret().is_empty() && token.expose_secret().bytes().all(|b| b.is_ascii_graphic());
    if !visible {
        return Err(garbage("an `access_token` that cannot be sent as a bearer token"));
    }
    let expires_in = answer.expires_in.ok_or_else(|| garbage("without `expires_in`"))?;
    Ok(AccessToken { token, expires_in })
}

/// A service account's e-mail address, as text.
pub fn parse_email(body: &[u8], what: &str) -> Result<String, GoogleError> {
    let text = std::str::from_utf8(body).unwrap_or_default().trim();
    let plausible = text.len() <= 320 && text.contains('@') && !text.starts_with('@') && text.chars().all(|c| c.is_ascii_graphic());
    if plausible { Ok(text.to_owned()) } else { Err(GoogleError::new(GoogleFailure::Garbage, format!("{what} is not an e-mail address"))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailer::google::AuthorizedUser;

    const WHAT: &str = "the metadata server's access token";

    #[test]
    fn a_metadata_token_answer_gives_its_token_and_life() {
        let token = parse_access_token(br#"{"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"}"#, WHAT).unwrap();
        assert_eq!(token.token.expose_secret(), "ya29.abc");
        assert_eq!(token.expires_in, 3599);
    }

    #[test]
    fn garbage_and_answers_missing_a_field_are_refused_by_name_without_the_token() {
        for (body, why) in [
            (&b"<html>metadata</html>"[..], "not the JSON expected"),
            (br#"{"expires_in":3599}"#, "without `access_token`"),
            (br#"{"access_token":"ya29.secret-value"}"#, "without `expires_in`"),
            (br#"{"access_token":"ya29 secret","expires_in":10}"#, "cannot be sent"),
            (br#"{"access_token":"","expires_in":10}"#, "cannot be sent"),
            (br#"{"access_token":42,"expires_in":10}"#, "not the JSON expected"),
            (br#"{"access_token":"ya29.x","expires_in":-5}"#, "not the JSON expected"),
            (b"", "not the JSON expected"),
        ] {
            let error = parse_access_token(body, WHAT).unwrap_err();
            assert_eq!(error.failure, GoogleFailure::Garbage);
            assert!(error.message.contains(why), "{body:?}: {error}");
            assert!(!error.message.contains("secret"), "{error}");
        }
    }

    #[test]
    fn an_email_answer_is_one_address_or_refused() {
        assert_eq!(parse_email(b"bot@p.iam.gserviceaccount.com\n", "e").unwrap(), "bot@p.iam.gserviceaccount.com");
        for body in [&b"default"[..], b"", b"a b@c", b"@x", &[0xff, 0x40]] {
            assert_eq!(parse_email(body, "e").unwrap_err().failure, GoogleFailure::Garbage, "{body:?}");
        }
        assert!(parse_email(format!("{}@x", "a".repeat(400)).as_bytes(), "e").is_err());
    }

    #[test]
    fn google_error_bodies_give_their_message() {
        let api = br#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.signJwt' denied","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(error_message(api), "Permission 'iam.serviceAccounts.signJwt' denied");
        assert_eq!(error_message(br#"{"error":"invalid_grant","error_description":"Bad Request"}"#), "invalid_grant: Bad Request");
        assert_eq!(error_message(b"<html>\n<b>502</b></html>"), "<html> <b>502</b></html>");
    }

    #[test]
    fn a_signed_jwt_is_three_base64url_parts() {
        assert!(well_formed_jwt("eyJh.eyJp.c2ln"));
        assert!(!well_formed_jwt("eyJh.eyJp"));
        assert!(!well_formed_jwt("eyJh..c2ln"));
        assert!(!well_formed_jwt("eyJh.eyJp.c2ln\n"));
    }

    #[test]
    fn debug_shows_no_secret() {
        let user = AuthorizedUser {
            client_id: "id.apps.googleusercontent.com".into(),
            client_secret: SecretString::from("client-hunter2"),
            refresh_token: SecretString::from("refresh-hunter2"),
        };
        let token = AccessToken { token: SecretString::from("ya29.hunter2"), expires_in: 10 };
        let shown = format!("{user:?} {token:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
