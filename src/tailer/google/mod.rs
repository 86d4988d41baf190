//! The Google side of keyless credentials: an access token for the bot's own identity
//! (from the metadata server of the machine, or from an `authorized_user` file's refresh
//! token), and IAM Credentials' `signJwt`, which signs the Tailer token's claims with the
//! service account's Google-held key, so that no key file exists anywhere.
//!
//! Written by hand on `reqwest` rather than taken from a crate: `gcp_auth` (ring, its
//! own hyper client) gets access tokens but has no `signJwt`, hard-codes the metadata
//! host (no `GCE_METADATA_HOST`) and the OAuth token URL, and reads answers whole;
//! `google-cloud-auth`/`gcloud-auth` default to aws-lc and carry their own `reqwest`. What is needed is three small exchanges, and here they share the bot's one
//! TLS stack (rustls + ring), its capped reader and its no-redirect rule.
//!
//! No token ever goes into an error or a log line: errors carry the HTTP status and the
//! message of Google's error body, which names permissions and resources, never secrets.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod answers;

pub use answers::{parse_access_token, parse_email};
use answers::{read, transport, well_formed_jwt};

/// `GCE_METADATA_HOST`'s default, as in Google's client libraries.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
/// `GOOGLE_IAM_CREDENTIALS_URL`'s default.
pub const DEFAULT_IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com";
/// Where an `authorized_user` refresh token is exchanged (`GOOGLE_OAUTH_TOKEN_URL`).
pub const DEFAULT_OAUTH_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The metadata server answers within milliseconds on Google Cloud; off it, nothing
/// answers at all, and the start must not hang on it.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
/// IAM and the OAuth endpoint, across the Internet.
pub const GOOGLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from any of them (theirs are a few hundred bytes).
pub const MAX_GOOGLE_ANSWER: usize = 64 * 1024;
/// The role that lets an identity call `signJwt` for a service account.
pub const TOKEN_CREATOR_ROLE: &str = "roles/iam.serviceAccountTokenCreator";

/// What is escaped of an e-mail in a path segment: all but unreserved characters and `@`.
const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// Where the Google endpoints are (tests point them at local fakes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    /// `host[:port]` of the metadata server.
    pub metadata_host: String,
    /// Base of the IAM Credentials API, without a trailing slash.
    pub iam_credentials_url: String,
    /// The OAuth 2.0 token endpoint.
    pub oauth_token_url: String,
}

impl Default for GoogleEndpoints {
    fn default() -> Self {
        GoogleEndpoints {
            metadata_host: DEFAULT_METADATA_HOST.to_owned(),
            iam_credentials_url: DEFAULT_IAM_CREDENTIALS_URL.to_owned(),
            oauth_token_url: DEFAULT_OAUTH_TOKEN_URL.to_owned(),
        }
    }
}

/// How a Google exchange failed, as far as what to do about it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleFailure {
    /// Nothing answered (no route, refused, or no answer in time).
    Unreachable,
    /// A 5xx or 429: worth trying again later.
    Unavailable,
    /// A 4xx: someone has to change something; the message says what.
    Refused,
    /// A success status with an answer that is not what the endpoint answers.
    Garbage,
}

/// A failed exchange: what failed and what to fix, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GoogleError {
    pub failure: GoogleFailure,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    pub message: String,
}

impl GoogleError {
    fn new(failure: GoogleFailure, message: impl Into<String>) -> Self {
        GoogleError { failure, status: None, message: message.into() }
    }

    /// Worth trying again later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self.failure, GoogleFailure::Unreachable | GoogleFailure::Unavailable)
    }
}

/// An access token and how many seconds it lives.
pub struct AccessToken {
    pub token: SecretString,
    pub expires_in: u64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("token", &"[redacted]").field("expires_in", &self.expires_in).finish()
    }
}

/// The refresh-token credentials of `gcloud auth application-default login`.
#[derive(Clone, Deserialize)]
pub struct AuthorizedUser {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
}

impl std::fmt::Debug for AuthorizedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedUser")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// The HTTP side: one client for the metadata server (short timeout, never through a
/// proxy: the server is link-local), one for Google's public APIs.
#[derive(Debug, Clone)]
pub struct GoogleClient {
    metadata: reqwest::Client,
    apis: reqwest::Client,
    pub endpoints: GoogleEndpoints,
}

impl GoogleClient {
    pub fn new(endpoints: GoogleEndpoints) -> Result<Self, reqwest::Error> {
        crate::tls::install_crypto_provider();
        let agent = concat!("tailerbot/", env!("CARGO_PKG_VERSION"));
        let metadata = crate::http_limits::client_builder()
            .no_proxy()
            .timeout(METADATA_TIMEOUT)
            .connect_timeout(METADATA_TIMEOUT)
            .user_agent(agent)
            .build()?;
        let apis = crate::http_limits::client_builder()
            .timeout(GOOGLE_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(agent)
            .build()?;
        Ok(GoogleClient { metadata, apis, endpoints })
    }

    fn metadata_url(&self, what: &str) -> String {
        format!("http://{}/computeMetadata/v1/instance/service-accounts/default/{what}", self.endpoints.metadata_host)
    }

    /// The access token of the machine's default service account.
    pub async fn metadata_token(&self) -> Result<AccessToken, GoogleError> {
        let what = "the metadata server's access token";
        let body = self.metadata_get("token", what).await?;
        parse_access_token(&body, what)
    }

    /// The e-mail address of the machine's default service account.
    pub async fn metadata_email(&self) -> Result<String, GoogleError> {
        let what = "the metadata server's service-account e-mail";
        let body = self.metadata_get("email", what).await?;
        parse_email(&body, what)
    }

    async fn metadata_get(&self, path: &str, what: &str) -> Result<bytes::Bytes, GoogleError> {
        let host = &self.endpoints.metadata_host;
        let request = self.metadata.get(self.metadata_url(path)).header("Metadata-Flavor", "Google");
        let response = request.send().await.map_err(|e| {
            GoogleError::new(
                GoogleFailure::Unreachable,
                format!("the metadata server at {host} did not answer within {}s ({})", METADATA_TIMEOUT.as_secs(), transport(&e)),
            )
        })?;
        read(response, what).await
    }

    /// An access token from an `authorized_user` refresh token.
    pub async fn refresh_user_token(&self, user: &AuthorizedUser) -> Result<AccessToken, GoogleError> {
        let what = "Google's OAuth token endpoint";
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", user.client_id.as_str()),
            ("client_secret", user.client_secret.expose_secret()),
            ("refresh_token", user.refresh_token.expose_secret()),
        ];
        let body = serde_urlencoded::to_string(form).unwrap_or_default();
        let response = self
            .apis
            .post(&self.endpoints.oauth_token_url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| GoogleError::new(GoogleFailure::Unreachable, format!("{what} could not be reached ({})", transport(&e))))?;
        let body = read(response, what).await.map_err(|mut e| {
            if e.failure == GoogleFailure::Refused {
                e.message.push_str(
                    ": the refresh token of GOOGLE_APPLICATION_CREDENTIALS is refused; run `gcloud auth application-default login` again",
                );
            }
            e
        })?;
        parse_access_token(&body, what)
    }

    /// Has IAM sign `claims` (a JSON text) as `email`, with `access` as the caller's
    /// identity. Returns the signed JWT.
    pub async fn sign_jwt(&self, access: &SecretString, email: &str, claims: &str) -> Result<SecretString, GoogleError> {
        let what = format!("IAM signJwt for {email}");
        let email_in_path = percent_encoding::utf8_percent_encode(email, PATH_SEGMENT);
        let url = format!("{}/v1/projects/-/serviceAccounts/{email_in_path}:signJwt", self.endpoints.iam_credentials_url);
        let response = self
            .apis
            .post(url)
            .bearer_auth(access.expose_secret())
            .json(&serde_json::json!({ "payload": claims }))
            .send()
            .await
            .map_err(|e| GoogleError::new(GoogleFailure::Unreachable, format!("{what} could not be reached ({})", transport(&e))))?;
        let status = response.status().as_u16();
        let body = read(response, &what).await.map_err(|mut e| {
            match status {
                403 => e.message.push_str(&format!(
                    ": grant {TOKEN_CREATOR_ROLE} on the service account {email} to the identity the bot runs as (and enable the IAM Service Account Credentials API in its project)"
                )),
                404 => e.message.push_str(&format!(": no service account {email}; check TAILER_SERVICE_ACCOUNT")),
                _ => {}
            }
            e
        })?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Signed {
            signed_jwt: String,
        }
        let signed: Signed = serde_json::from_slice(&body)
            .map_err(|_| GoogleError::new(GoogleFailure::Garbage, format!("{what} answered without a `signedJwt`")))?;
        if !well_formed_jwt(&signed.signed_jwt) {
            return Err(GoogleError::new(GoogleFailure::Garbage, format!("{what} answered a `signedJwt` that is not a JWT")));
        }
        Ok(SecretString::from(signed.signed_jwt))
    }
}
