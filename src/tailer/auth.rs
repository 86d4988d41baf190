//! Bearer tokens for Tailer: a static token, or a self-signed service-account JWT
//! (RS256, `kid` = `private_key_id`, `iss = sub = email = client_email`, `aud` = the API
//! audience, one hour of life) that is cached and signed again at 80% of its life. The
//! cache sits behind one async mutex, so concurrent callers share one signature per
//! refresh instead of signing once each.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::clock::SharedClock;

/// Seconds a self-signed token is valid.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Seconds after issue at which a token is signed again (80% of its life).
pub const REFRESH_AFTER_SECS: i64 = TOKEN_LIFETIME_SECS * 4 / 5;

/// A key file that cannot be used; names the file and, where it applies, the field.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the service-account key file {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("the service-account key file {path} is not JSON: {reason}")]
    NotJson { path: PathBuf, reason: String },
    #[error("the service-account key file {path} has no string field `{field}`")]
    MissingField { path: PathBuf, field: &'static str },
    #[error("the field `{field}` of the service-account key file {path} is unusable: {reason}")]
    BadField { path: PathBuf, field: &'static str, reason: String },
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
        let text = std::fs::read(path).map_err(|source| KeyFileError::Unreadable { path: path.to_owned(), source })?;
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

/// The claims of the self-signed token.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
    sub: &'a str,
    email: &'a str,
    aud: &'a str,
}

struct Cached {
    token: SecretString,
    refresh_at: i64,
    expires_at: i64,
}

/// Signs and caches service-account tokens.
pub struct ServiceAccountSigner {
    key: ServiceAccountKey,
    audience: String,
    clock: SharedClock,
    cache: Mutex<Option<Cached>>,
    signatures: AtomicU64,
}

impl ServiceAccountSigner {
    pub fn new(key: ServiceAccountKey, audience: impl Into<String>, clock: SharedClock) -> Self {
        ServiceAccountSigner { key, audience: audience.into(), clock, cache: Mutex::new(None), signatures: AtomicU64::new(0) }
    }

    /// How many tokens were signed so far.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(Ordering::Relaxed)
    }

    async fn token(&self) -> Result<SecretString, AuthError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.unix();
        if let Some(cached) = cache.as_ref() {
            if now < cached.refresh_at && now < cached.expires_at {
                return Ok(cached.token.clone());
            }
        }
        let claims = Claims {
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
            iss: &self.key.client_email,
            sub: &self.key.client_email,
            email: &self.key.client_email,
            aud: &self.audience,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key.private_key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding_key)
            .map_err(|e| AuthError(format!("signing the service-account token failed: {e}")))?;
        self.signatures.fetch_add(1, Ordering::Relaxed);
        let token = SecretString::from(token);
        *cache = Some(Cached { token: token.clone(), refresh_at: now + REFRESH_AFTER_SECS, expires_at: now + TOKEN_LIFETIME_SECS });
        Ok(token)
    }
}

/// A token could not be produced.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Where the bearer token of every call comes from.
pub enum TokenSource {
    /// `TAILER_API_TOKEN`: used as is, never refreshed.
    Static(SecretString),
    /// `GOOGLE_APPLICATION_CREDENTIALS`: a self-signed JWT.
    ServiceAccount(ServiceAccountSigner),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Static(_) => f.write_str("TokenSource::Static([redacted])"),
            TokenSource::ServiceAccount(s) => {
                f.debug_struct("TokenSource::ServiceAccount").field("key", &s.key).field("audience", &s.audience).finish()
            }
        }
    }
}

impl TokenSource {
    /// The token to send now.
    pub async fn bearer(&self) -> Result<SecretString, AuthError> {
        match self {
            TokenSource::Static(token) => Ok(token.clone()),
            TokenSource::ServiceAccount(signer) => signer.token().await,
        }
    }
}
