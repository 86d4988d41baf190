//! Bearer tokens for Tailer: a static token, or a service-account JWT (RS256, `iss = sub
//! = email` = the service account, `aud` = the API audience, one hour of life) signed
//! either here with a key file's private key or by IAM `signJwt` for keyless
//! credentials ([`super::keyless`]). A signed token is cached and signed again at 80% of
//! its life. The cache sits behind one async mutex, so concurrent callers share one
//! signature per refresh instead of signing once each; a failed signature is not tried
//! again by every caller, but after a back-off that grows while it keeps failing.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::Mutex;

use super::google::AuthorizedUser;
use super::keyless::KeylessSigner;
use crate::clock::SharedClock;

/// Seconds a self-signed token is valid.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Seconds after issue at which a token is signed again (80% of its life).
pub const REFRESH_AFTER_SECS: i64 = TOKEN_LIFETIME_SECS * 4 / 5;

/// A key file that cannot be used; names the file and, where it applies, the field.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    // `reason`, not `source`: the message says it already, and a cause chain printed
    // after it would say it twice.
    #[error("cannot read the service-account key file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: std::io::Error },
    #[error("the service-account key file {path} is not JSON: {reason}")]
    NotJson { path: PathBuf, reason: String },
    #[error("the service-account key file {path} has no string field `{field}`")]
    MissingField { path: PathBuf, field: &'static str },
    #[error("the field `{field}` of the service-account key file {path} is unusable: {reason}")]
    BadField { path: PathBuf, field: &'static str, reason: String },
    #[error(
        "{path} is a credentials file of type `{kind}`, which the bot cannot use: give a service-account key (`service_account`) or the file of `gcloud auth application-default login` (`authorized_user`)"
    )]
    UnsupportedType { path: PathBuf, kind: String },
    #[error("the authorized_user file {path} has no string field `{field}`")]
    MissingUserField { path: PathBuf, field: &'static str },
}

/// What `GOOGLE_APPLICATION_CREDENTIALS` holds.
#[derive(Debug)]
pub enum CredentialsFile {
    /// A service-account key: the bot signs its tokens itself.
    ServiceAccount(ServiceAccountKey),
    /// `gcloud auth application-default login`: a person's refresh token, whose access
    /// token has IAM sign for `TAILER_SERVICE_ACCOUNT`.
    AuthorizedUser(AuthorizedUser),
}

impl CredentialsFile {
    /// Reads the file and tells which kind it is by its `type` (a key file without one
    /// is taken as a service-account key, as before).
    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let text = std::fs::read(path).map_err(|reason| KeyFileError::Unreadable { path: path.to_owned(), reason })?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| KeyFileError::NotJson { path: path.to_owned(), reason: e.to_string() })?;
        match value.get("type").and_then(serde_json::Value::as_str) {
            None | Some("service_account") => ServiceAccountKey::from_json(path, &text).map(CredentialsFile::ServiceAccount),
            Some("authorized_user") => {
                for field in ["client_id", "client_secret", "refresh_token"] {
                    if value.get(field).and_then(serde_json::Value::as_str).is_none_or(str::is_empty) {
                        return Err(KeyFileError::MissingUserField { path: path.to_owned(), field });
                    }
                }
                let user =
                    serde_json::from_value(value).map_err(|e| KeyFileError::NotJson { path: path.to_owned(), reason: e.to_string() })?;
                Ok(CredentialsFile::AuthorizedUser(user))
            }
            Some(other) => Err(KeyFileError::UnsupportedType { path: path.to_owned(), kind: super::excerpt(other.as_bytes()) }),
        }
    }
}

/// A loaded service-account key. `Debug` shows the account, never the key.
pub struct ServiceAccountKey {
    client_email: String,
    private_key_id: String,
    encoding_key: EncodingKey,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Reads a Google service-account key file (`client_email`, `private_key`,
    /// `private_key_id`).
    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let text = std::fs::read(path).map_err(|reason| KeyFileError::Unreadable { path: path.to_owned(), reason })?;
        Self::from_json(path, &text)
    }

    /// Parses the content of a key file; `path` is only used in error messages.
    pub fn from_json(path: &Path, text: &[u8]) -> Result<Self, KeyFileError> {
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| KeyFileError::NotJson {
            path: path.to_owned(),
            // serde_json's message holds a position, never the content.
            reason: e.to_string(),
        })?;
        let field = |name: &'static str| -> Result<String, KeyFileError> {
            match value.get(name) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(KeyFileError::MissingField { path: path.to_owned(), field: name }),
            }
        };
        let client_email = field("client_email")?;
        let private_key_id = field("private_key_id")?;
        let private_key = SecretString::from(field("private_key")?);
        let encoding_key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|e| KeyFileError::BadField {
            path: path.to_owned(),
            field: "private_key",
            reason: format!("not an RSA private key in PEM form ({e})"),
        })?;
        if !client_email.contains('@') {
            return Err(KeyFileError::BadField { path: path.to_owned(), field: "client_email", reason: "not an e-mail address".into() });
        }
        Ok(ServiceAccountKey { client_email, private_key_id, encoding_key })
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }
}

/// The claims of a Tailer token, whoever signs them.
#[derive(Debug, Serialize)]
pub(super) struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
    sub: &'a str,
    email: &'a str,
    aud: &'a str,
}

impl<'a> Claims<'a> {
    /// `iss = sub = email` = the service account, one hour of life from `now`.
    pub(super) fn new(email: &'a str, audience: &'a str, now: i64) -> Self {
        Claims { iat: now, exp: now + TOKEN_LIFETIME_SECS, iss: email, sub: email, email, aud: audience }
    }
}

struct Cached {
    token: SecretString,
    refresh_at: i64,
    expires_at: i64,
}

/// The last failure to sign, and when the next try may be made.
struct Failed {
    error: AuthError,
    retry_at_ms: i64,
    backoff: ExponentialBackoff,
}

/// The first wait after a failed signature, and the longest.
pub const SIGN_RETRY_MIN: Duration = Duration::from_secs(1);
pub const SIGN_RETRY_MAX: Duration = Duration::from_secs(60);

#[derive(Default)]
struct CacheState {
    token: Option<Cached>,
    failed: Option<Failed>,
}

/// A signed token shared by every caller until it nears expiry, one signature at a time.
#[derive(Default)]
pub(super) struct TokenCache {
    state: Mutex<CacheState>,
}

impl TokenCache {
    /// The cached token, or one from `sign(now)`. After a failure, callers get that
    /// failure again without a new try until the back-off has passed; meanwhile a token
    /// that has not expired yet (a refresh failed) is still used.
    pub(super) async fn get<F, Fut>(&self, clock: &SharedClock, sign: F) -> Result<SecretString, AuthError>
    where
        F: FnOnce(i64) -> Fut,
        Fut: Future<Output = Result<SecretString, AuthError>>,
    {
        let mut state = self.state.lock().await;
        let (now, now_ms) = (clock.unix(), clock.now_ms());
        let still_valid = |state: &CacheState| state.token.as_ref().filter(|c| now < c.expires_at).map(|c| c.token.clone());
        if let Some(cached) = state.token.as_ref().filter(|c| now < c.refresh_at && now < c.expires_at) {
            return Ok(cached.token.clone());
        }
        if let Some(failed) = state.failed.as_ref().filter(|f| now_ms < f.retry_at_ms) {
            return still_valid(&state).ok_or_else(|| failed.error.clone());
        }
        match sign(now).await {
            Ok(token) => {
                state.token =
                    Some(Cached { token: token.clone(), refresh_at: now + REFRESH_AFTER_SECS, expires_at: now + TOKEN_LIFETIME_SECS });
                state.failed = None;
                Ok(token)
            }
            Err(error) => {
                let mut backoff = match state.failed.take() {
                    Some(failed) => failed.backoff,
                    None => ExponentialBuilder::default()
                        .with_min_delay(SIGN_RETRY_MIN)
                        .with_max_delay(SIGN_RETRY_MAX)
                        .without_max_times()
                        .with_jitter()
                        .build(),
                };
                let wait = backoff.next().unwrap_or(SIGN_RETRY_MAX);
                // The caller tells of the failure (in an answer, a warning): not here too.
                tracing::debug!(%error, retry_in = ?wait, "the Tailer token could not be signed");
                state.failed = Some(Failed { error: error.clone(), retry_at_ms: now_ms + wait.as_millis() as i64, backoff });
                still_valid(&state).ok_or(error)
            }
        }
    }
}

/// Signs and caches service-account tokens with a key file's private key.
pub struct ServiceAccountSigner {
    key: ServiceAccountKey,
    audience: String,
    clock: SharedClock,
    cache: TokenCache,
    signatures: AtomicU64,
}

impl ServiceAccountSigner {
    pub fn new(key: ServiceAccountKey, audience: impl Into<String>, clock: SharedClock) -> Self {
        ServiceAccountSigner { key, audience: audience.into(), clock, cache: TokenCache::default(), signatures: AtomicU64::new(0) }
    }

    /// How many tokens were signed so far.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    async fn token(&self) -> Result<SecretString, AuthError> {
        self.cache
            .get(&self.clock, |now| async move {
                let email = &self.key.client_email;
                let claims = Claims::new(email, &self.audience, now);
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(self.key.private_key_id.clone());
                let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding_key)
                    .map_err(|e| AuthError::refused(format!("signing the service-account token failed: {e}")))?;
                self.signatures.fetch_add(1, Ordering::Relaxed);
                Ok(SecretString::from(token))
            })
            .await
    }
}

/// A token could not be produced: why, with what to fix, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub message: String,
    /// Nobody has to change anything: the signer could not be reached or failed, and a
    /// later try may succeed.
    pub transient: bool,
}

impl AuthError {
    /// Someone must change something (a role, a file, a variable).
    pub fn refused(message: impl Into<String>) -> Self {
        AuthError { message: message.into(), transient: false }
    }

    /// A later try may succeed.
    pub fn transient(message: impl Into<String>) -> Self {
        AuthError { message: message.into(), transient: true }
    }
}

/// Where the bearer token of every call comes from.
pub enum TokenSource {
    /// `TAILER_API_TOKEN`: used as is, never refreshed.
    Static(SecretString),
    /// `GOOGLE_APPLICATION_CREDENTIALS` with a key file: a self-signed JWT.
    ServiceAccount(ServiceAccountSigner),
    /// No key file, no token (or an `authorized_user` file): a JWT that IAM `signJwt`
    /// signs for the service account.
    Keyless(KeylessSigner),
}

/// Where the credentials come from, for the messages that tell what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsKind<'a> {
    StaticToken,
    KeyFile {
        email: &'a str,
    },
    /// Keyless; `email` is known once it was asked of the metadata server.
    Keyless {
        email: Option<&'a str>,
        authorized_user: bool,
    },
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Static(_) => f.write_str("TokenSource::Static([redacted])"),
            TokenSource::ServiceAccount(s) => {
                f.debug_struct("TokenSource::ServiceAccount").field("key", &s.key).field("audience", &s.audience).finish()
            }
            TokenSource::Keyless(k) => f.debug_tuple("TokenSource::Keyless").field(k).finish(),
        }
    }
}

impl TokenSource {
    /// The token to send now.
    pub async fn bearer(&self) -> Result<SecretString, AuthError> {
        match self {
            TokenSource::Static(token) => Ok(token.clone()),
            TokenSource::ServiceAccount(signer) => signer.token().await,
            TokenSource::Keyless(signer) => signer.token().await,
        }
    }

    /// Where the credentials come from.
    pub fn kind(&self) -> CredentialsKind<'_> {
        match self {
            TokenSource::Static(_) => CredentialsKind::StaticToken,
            TokenSource::ServiceAccount(s) => CredentialsKind::KeyFile { email: s.key.client_email() },
            TokenSource::Keyless(k) => CredentialsKind::Keyless { email: k.email(), authorized_user: k.authorized_user() },
        }
    }

    /// Before serving: whether keyless credentials can be had here at all (an access
    /// token, and the service account's e-mail when none is given). Nothing to check for
    /// a key file or a token.
    pub async fn probe(&self) -> Result<(), AuthError> {
        match self {
            TokenSource::Keyless(signer) => signer.probe().await,
            _ => Ok(()),
        }
    }
}
