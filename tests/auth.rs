//! The service-account token: signed as documented, verified with the public key of a key
//! made here, reused within its life, signed again at 80% of it, once for many callers;
//! and key files that cannot be used are refused with the file and the field named.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use secrecy::{ExposeSecret, SecretString};
use tailerbot::clock::ManualClock;
use tailerbot::tailer::{KeyFileError, REFRESH_AFTER_SECS, ServiceAccountKey, ServiceAccountSigner, TokenSource};

const AUDIENCE: &str = "https://tailer-api-nqonovswsq-ew.a.run.app";
const EMAIL: &str = "tailerbot@example-project.iam.gserviceaccount.com";

struct TestKey {
    private_pem: String,
    public_pem: String,
}

fn make_key() -> TestKey {
    let mut rng = rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("key generation");
    TestKey {
        private_pem: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
    }
}

fn key_file(dir: &tempfile::TempDir, content: &str) -> PathBuf {
    let path = dir.path().join("key.json");
    std::fs::write(&path, content).unwrap();
    path
}

fn key_json(private_pem: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "example-project",
        "private_key_id": "0123456789abcdef",
        "private_key": private_pem,
        "client_email": EMAIL,
    })
    .to_string()
}

fn signer(key: &TestKey, clock: Arc<ManualClock>) -> (tempfile::TempDir, TokenSource) {
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(&dir, &key_json(&key.private_pem));
    let key = ServiceAccountKey::from_file(&path).unwrap();
    (dir, TokenSource::ServiceAccount(ServiceAccountSigner::new(key, AUDIENCE, clock)))
}

fn signatures(source: &TokenSource) -> u64 {
    match source {
        TokenSource::ServiceAccount(s) => s.signatures(),
        _ => 0,
    }
}

#[tokio::test]
async fn the_token_verifies_and_carries_exactly_the_documented_header_and_claims() {
    let key = make_key();
    let now = chrono::Utc::now().timestamp();
    let (_dir, source) = signer(&key, ManualClock::at_unix(now));
    let token = source.bearer().await.unwrap();

    let header = jsonwebtoken::decode_header(token.expose_secret()).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some("0123456789abcdef"));

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    let decoding = DecodingKey::from_rsa_pem(key.public_pem.as_bytes()).unwrap();
    let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token.expose_secret(), &decoding, &validation)
        .expect("the token verifies with the public key")
        .claims;
    let expected = serde_json::json!({
        "iat": now, "exp": now + 3600, "iss": EMAIL, "sub": EMAIL, "email": EMAIL, "aud": AUDIENCE,
    });
    assert_eq!(serde_json::Value::Object(claims), expected);
}

#[tokio::test]
async fn a_token_is_reused_within_its_life_and_signed_again_at_80_percent() {
    let key = make_key();
    let clock = ManualClock::at_unix(1_800_000_000);
    let (_dir, source) = signer(&key, clock.clone());
    let first = source.bearer().await.unwrap();
    clock.advance(Duration::from_secs(REFRESH_AFTER_SECS as u64 - 1));
    let second = source.bearer().await.unwrap();
    assert_eq!(first.expose_secret(), second.expose_secret());
    assert_eq!(signatures(&source), 1);
    clock.advance(Duration::from_secs(1));
    let third = source.bearer().await.unwrap();
    assert_ne!(first.expose_secret(), third.expose_secret());
    assert_eq!(signatures(&source), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_signature() {
    let key = make_key();
    let (_dir, source) = signer(&key, ManualClock::at_unix(1_800_000_000));
    let source = Arc::new(source);
    let callers: Vec<_> = (0..64)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.bearer().await.unwrap().expose_secret().to_owned() })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for caller in callers {
        tokens.insert(caller.await.unwrap());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(signatures(&source), 1);
}

#[test]
fn a_missing_key_file_is_named() {
    let error = ServiceAccountKey::from_file(std::path::Path::new("/nonexistent/key.json")).unwrap_err();
    assert!(matches!(error, KeyFileError::Unreadable { .. }));
    assert!(error.to_string().contains("/nonexistent/key.json"), "{error}");
}

#[test]
fn a_key_file_that_is_not_json_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(&dir, "-----BEGIN PRIVATE KEY-----");
    let error = ServiceAccountKey::from_file(&path).unwrap_err();
    assert!(matches!(error, KeyFileError::NotJson { .. }), "{error:?}");
    assert!(error.to_string().contains(path.to_str().unwrap()));
    assert!(!error.to_string().contains("BEGIN"), "the content is never echoed");
}

#[test]
fn a_missing_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(&dir, r#"{"client_email": "a@b.c", "private_key_id": "k"}"#);
    let error = ServiceAccountKey::from_file(&path).unwrap_err();
    assert!(matches!(error, KeyFileError::MissingField { field: "private_key", .. }), "{error:?}");
    assert!(error.to_string().contains("`private_key`"));
}

#[test]
fn a_private_key_that_is_not_a_key_is_named_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(&dir, &key_json("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"));
    let error = ServiceAccountKey::from_file(&path).unwrap_err();
    assert!(matches!(error, KeyFileError::BadField { field: "private_key", .. }), "{error:?}");
    assert!(!error.to_string().contains("c2VjcmV0"));
}

#[test]
fn debug_output_never_shows_a_key_or_a_token() {
    let key = make_key();
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(&dir, &key_json(&key.private_pem));
    let loaded = ServiceAccountKey::from_file(&path).unwrap();
    let shown = format!("{loaded:?}");
    assert!(shown.contains(EMAIL));
    assert!(!shown.contains("PRIVATE KEY") && !shown.contains(&key.private_pem[40..80]));
    let token = TokenSource::Static(SecretString::from("xoxb-very-secret"));
    assert!(!format!("{token:?}").contains("very-secret"));
}
