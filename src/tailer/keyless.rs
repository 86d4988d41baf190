//! Keyless credentials: the Tailer token's claims, exactly those a key file would sign,
//! signed by IAM `signJwt` for the service account, with an access token of the
//! identity the bot runs as (the machine's, from the metadata server, or a person's,
//! from an `authorized_user` file). The signed token goes through the same cache as a
//! key file's ([`super::token::TokenCache`]): one `signJwt` for many Tailer calls. The
//! access token is kept for its `expires_in`; the service account's e-mail, once known,
//! for good.

use std::sync::OnceLock;

use secrecy::SecretString;
use tokio::sync::Mutex;

use super::google::{AuthorizedUser, GoogleClient, GoogleEndpoints, GoogleError, GoogleFailure};
use super::token::{AuthError, Claims, TokenCache};
use crate::clock::SharedClock;

/// Seconds before an access token's end at which another is asked for.
const ACCESS_MARGIN_SECS: i64 = 60;

/// Whose access token calls `signJwt`.
#[derive(Debug)]
pub enum Identity {
    /// The machine's default service account (Cloud Run, GKE Workload Identity,
    /// Compute Engine).
    Metadata,
    /// A person's `gcloud auth application-default login`.
    AuthorizedUser(AuthorizedUser),
}

struct Access {
    token: SecretString,
    refresh_at: i64,
}

/// Signs Tailer tokens through IAM.
pub struct KeylessSigner {
    google: GoogleClient,
    identity: Identity,
    /// `TAILER_SERVICE_ACCOUNT`, or the metadata server's default account once asked.
    email: OnceLock<String>,
    audience: String,
    clock: SharedClock,
    access: Mutex<Option<Access>>,
    cache: TokenCache,
}

impl std::fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("identity", &self.identity)
            .field("service_account", &self.email.get())
            .field("audience", &self.audience)
            .field("endpoints", &self.google.endpoints)
            .finish()
    }
}

impl KeylessSigner {
    /// `service_account`: the account to sign as (required with an `authorized_user`
    /// identity; otherwise the metadata server's default account when `None`).
    pub fn new(
        identity: Identity,
        service_account: Option<String>,
        audience: impl Into<String>,
        endpoints: GoogleEndpoints,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        let email = OnceLock::new();
        if let Some(account) = service_account {
            let _ = email.set(account);
        }
        Ok(KeylessSigner {
            google: GoogleClient::new(endpoints)?,
            identity,
            email,
            audience: audience.into(),
            clock,
            access: Mutex::new(None),
            cache: TokenCache::default(),
        })
    }

    /// The service account signed for, once known.
    pub fn email(&self) -> Option<&str> {
        self.email.get().map(String::as_str)
    }

    pub fn authorized_user(&self) -> bool {
        matches!(self.identity, Identity::AuthorizedUser(_))
    }

    /// An access token and the e-mail: what start-up checks before serving.
    /// A metadata server that does not answer means the bot is not on Google Cloud: the
    /// error then says how else to give credentials.
    pub async fn probe(&self) -> Result<(), AuthError> {
        let probed = match self.access_token().await {
            Ok(_) => self.service_account().await.map(|_| ()),
            Err(e) => Err(e),
        };
        probed.map_err(|error| {
            let unreachable = error.failure == GoogleFailure::Unreachable && matches!(self.identity, Identity::Metadata);
            let mut error = auth_error(error);
            if unreachable {
                // Not on Google Cloud: nothing will change by waiting.
                error.message = format!("{}: not on Google Cloud? {THREE_WAYS}", error.message);
                error.transient = false;
            }
            error
        })
    }

    pub(super) async fn token(&self) -> Result<SecretString, AuthError> {
        self.cache.get(&self.clock, |now| self.sign(now)).await
    }

    async fn sign(&self, now: i64) -> Result<SecretString, AuthError> {
        let email = self.service_account().await.map_err(auth_error)?;
        let claims = serde_json::to_string(&Claims::new(&email, &self.audience, now))
            .map_err(|e| AuthError::refused(format!("the token's claims cannot be written: {e}")))?;
        let access = self.access_token().await.map_err(auth_error)?;
        match self.google.sign_jwt(&access, &email, &claims).await {
            Ok(token) => Ok(token),
            Err(error) => {
                // A refused access token (revoked, or expired early) is not kept.
                if error.status == Some(401) {
                    *self.access.lock().await = None;
                }
                Err(auth_error(error))
            }
        }
    }

    async fn service_account(&self) -> Result<String, GoogleError> {
        if let Some(email) = self.email.get() {
            return Ok(email.clone());
        }
        let email = self.google.metadata_email().await?;
        Ok(self.email.get_or_init(|| email).clone())
    }

    async fn access_token(&self) -> Result<SecretString, GoogleError> {
        let mut access = self.access.lock().await;
        let now = self.clock.unix();
        if let Some(kept) = access.as_ref().filter(|a| now < a.refresh_at) {
            return Ok(kept.token.clone());
        }
        let fresh = match &self.identity {
            Identity::Metadata => self.google.metadata_token().await?,
            Identity::AuthorizedUser(user) => self.google.refresh_user_token(user).await?,
        };
        let life = i64::try_from(fresh.expires_in).unwrap_or(i64::MAX / 2);
        *access = Some(Access { token: fresh.token.clone(), refresh_at: now + (life - ACCESS_MARGIN_SECS).max(0) });
        Ok(fresh.token)
    }
}

/// The three ways to give the bot credentials.
pub const THREE_WAYS: &str = "give Tailer credentials one of three ways: GOOGLE_APPLICATION_CREDENTIALS=<a service-account key file> (or the file of `gcloud auth application-default login` with TAILER_SERVICE_ACCOUNT), TAILER_API_TOKEN=<a bearer token>, or run on Google Cloud (Cloud Run, GKE, Compute Engine) as a service account, keyless";

fn auth_error(error: GoogleError) -> AuthError {
    AuthError { transient: error.is_transient(), message: error.message }
}
