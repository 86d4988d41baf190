//! Bearer tokens for Tailer: a static token, or a service-account JWT (RS256, `iss = sub
//! = email` = the service account, `aud` = the API audience, one hour of life) signed
//! either here with a key file's private key or by IAM `signJwt` for keyless
//! credentials ([`super::keyless`]). A signed token is cached and signed again at 80% of
//! its life (the cache: [`super::token`]). It sits behind one async mutex, so concurrent callers share one
//! signature per refresh instead of signing once each; a failed signature is not tried
//! again by every caller, but after a back-off that grows while it keeps failing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};

use super::google::AuthorizedUser;
use super::keyless::KeylessSigner;
use super::token::{AuthError, Claims, TokenCache};
use crate::clock::SharedClock;

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
