//! A Tailer token, whoever signs it (a key file here, IAM `signJwt` for keyless
//! credentials): its claims, the cache every caller shares until it nears expiry (one
//! signature at a time, a failure backed off), and why a token could not be had.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use secrecy::SecretString;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::clock::SharedClock;

/// Seconds a self-signed token is valid.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Seconds after issue at which a token is signed again (80% of its life).
pub const REFRESH_AFTER_SECS: i64 = TOKEN_LIFETIME_SECS * 4 / 5;

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
