//! Request signing, checked at the edge before anything is parsed: HMAC-SHA256 of
//! `v0:<timestamp>:<raw body>` with the signing secret, compared in constant time, within
//! 300 seconds of "now", which is a parameter so that Slack's own 2018 vector is testable.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How far a request's timestamp may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request is refused with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature")]
    Missing,
    #[error("malformed X-Slack-Request-Timestamp or X-Slack-Signature")]
    Malformed,
    #[error("timestamp more than 300 s away from now")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies requests with the signing secret, and during a rotation with the previous
/// one too. `Debug` never shows either.
#[derive(Clone)]
pub struct Verifier {
    secret: SecretString,
    /// `SLACK_SIGNING_SECRET_PREVIOUS`: accepted beside the current one while it is set,
    /// so that a rotation drops no request between Slack's change and the bot's deploy.
    previous: Option<SecretString>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier([redacted])")
    }
}

impl Verifier {
    pub fn new(secret: SecretString) -> Self {
        Verifier { secret, previous: None }
    }

    /// Also accepts requests signed with `previous` (a secret being rotated out).
    pub fn with_previous(self, previous: Option<SecretString>) -> Self {
        Verifier { previous, ..self }
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        Self::mac_with(&self.secret, timestamp, body)
    }

    fn mac_with(secret: &SecretString, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC accepts any key length");
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// Checks the two headers against the raw body at `now` (unix seconds).
    pub fn verify(&self, timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(SignatureError::Missing);
        };
        let sent_at: i64 = timestamp.trim().parse().map_err(|_| SignatureError::Malformed)?;
        let expected = signature.strip_prefix("v0=").ok_or(SignatureError::Malformed)?;
        let expected = hex::decode(expected).map_err(|_| SignatureError::Malformed)?;
        if now.abs_diff(sent_at) > MAX_SKEW_SECS.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        // `verify_slice` compares in constant time.
        if self.mac(timestamp.trim(), body).verify_slice(&expected).is_ok() {
            return Ok(());
        }
        match &self.previous {
            Some(previous) if Self::mac_with(previous, timestamp.trim(), body).verify_slice(&expected).is_ok() => {
                tracing::debug!("a request signed with the previous signing secret (SLACK_SIGNING_SECRET_PREVIOUS)");
                Ok(())
            }
            _ => Err(SignatureError::Mismatch),
        }
    }

    /// `v0=<hex>` for a body: what Slack would send (used by the demo and the tests).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        format!("v0={}", hex::encode(self.mac(&timestamp.to_string(), body).finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Verifier {
        Verifier::new(SecretString::from("8f742231b10e8888abcd99yyyzzz85a5"))
    }

    #[test]
    fn a_signature_it_made_verifies_and_a_changed_body_does_not() {
        let v = verifier();
        let signature = v.sign(1_700_000_000, b"a=b");
        assert_eq!(v.verify(Some("1700000000"), Some(&signature), b"a=b", 1_700_000_000), Ok(()));
        assert_eq!(v.verify(Some("1700000000"), Some(&signature), b"a=c", 1_700_000_000), Err(SignatureError::Mismatch));
    }

    #[test]
    fn during_a_rotation_the_previous_secret_is_accepted_beside_the_current_and_only_then() {
        let old = verifier();
        let new = Verifier::new(SecretString::from("a-new-secret"));
        let signed_old = old.sign(1_700_000_000, b"a=b");
        let signed_new = new.sign(1_700_000_000, b"a=b");
        let verify = |v: &Verifier, signature: &str| v.verify(Some("1700000000"), Some(signature), b"a=b", 1_700_000_000);
        assert_eq!(verify(&new, &signed_old), Err(SignatureError::Mismatch), "without the previous secret");
        let rotating = new.clone().with_previous(Some(SecretString::from("8f742231b10e8888abcd99yyyzzz85a5")));
        assert_eq!(verify(&rotating, &signed_old), Ok(()), "the previous secret, while it is set");
        assert_eq!(verify(&rotating, &signed_new), Ok(()), "the current one");
        let other = Verifier::new(SecretString::from("someone-else")).sign(1_700_000_000, b"a=b");
        assert_eq!(verify(&rotating, &other), Err(SignatureError::Mismatch), "any other secret");
        assert_eq!(rotating.verify(Some("1700000000"), Some(&signed_old), b"a=c", 1_700_000_000), Err(SignatureError::Mismatch));
        assert!(!format!("{rotating:?}").contains("8f74"), "Debug shows neither secret");
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let v = verifier();
        assert_eq!(v.verify(None, Some("v0=00"), b"", 0), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some("0"), None, b"", 0), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some("soon"), Some("v0=00"), b"", 0), Err(SignatureError::Malformed));
        assert_eq!(v.verify(Some("0"), Some("v1=00"), b"", 0), Err(SignatureError::Malformed));
        assert_eq!(v.verify(Some("0"), Some("v0=zz"), b"", 0), Err(SignatureError::Malformed));
    }

    #[test]
    fn the_window_is_300_seconds_either_way() {
        let v = verifier();
        let signature = v.sign(1_000, b"x");
        assert!(v.verify(Some("1000"), Some(&signature), b"x", 1_300).is_ok());
        assert!(v.verify(Some("1000"), Some(&signature), b"x", 700).is_ok());
        assert_eq!(v.verify(Some("1000"), Some(&signature), b"x", 1_301), Err(SignatureError::Stale));
        assert_eq!(v.verify(Some("1000"), Some(&signature), b"x", 699), Err(SignatureError::Stale));
    }

    #[test]
    fn an_extreme_timestamp_is_stale_not_a_panic() {
        let v = verifier();
        assert_eq!(v.verify(Some(&i64::MIN.to_string()), Some("v0=00"), b"", 1_700_000_000), Err(SignatureError::Stale));
        assert_eq!(v.verify(Some(&i64::MAX.to_string()), Some("v0=00"), b"", -5), Err(SignatureError::Stale));
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        assert!(!format!("{:?}", verifier()).contains("8f74"));
    }
}
