//! Google's side of keyless credentials, faked for the tests from Google's documentation
//! (not from the bot's types): a metadata server, the IAM Credentials API, which signs
//! real RS256 JWTs with a key made here, and the OAuth token endpoint of `authorized_user`
//! files. Three small axum servers on port 0 sharing one record of what they were asked.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

/// The machine's default service account.
pub const ACCOUNT: &str = "tailerbot@example-project.iam.gserviceaccount.com";
/// What the metadata server hands out.
pub const METADATA_TOKEN: &str = "ya29.metadata-access-token";
/// What the OAuth endpoint hands out for the right refresh token.
pub const USER_TOKEN: &str = "ya29.user-access-token";
pub const REFRESH_TOKEN: &str = "1//refresh-token-of-a-person";
pub const KEY_ID: &str = "fake-iam-key-1";

/// How the IAM fake answers `signJwt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iam {
    Sign,
    /// 403, as when the caller lacks `roles/iam.serviceAccountTokenCreator`.
    Refuse,
    /// 503.
    Down,
}

/// One `signJwt` call as received.
#[derive(Debug, Clone)]
pub struct SignCall {
    /// The account named in the path.
    pub account: String,
    /// The bearer token it carried.
    pub bearer: String,
    /// The `payload`, parsed.
    pub claims: Value,
    /// What the fake answered.
    pub status: u16,
}

struct Shared {
    iam: Mutex<Iam>,
    signs: Mutex<Vec<SignCall>>,
    metadata_tokens: AtomicU64,
    metadata_emails: AtomicU64,
    oauth_calls: Mutex<Vec<HashMap<String, String>>>,
    /// `expires_in` of the access tokens handed out.
    expires_in: AtomicU64,
    /// Replaces the metadata server's token answer (garbage, huge).
    token_body: Mutex<Option<Vec<u8>>>,
    key: jsonwebtoken::EncodingKey,
}

/// The three fakes.
#[derive(Clone)]
pub struct FakeGoogle {
    /// `host:port` of the metadata server (`GCE_METADATA_HOST`).
    pub metadata_host: String,
    /// `GOOGLE_IAM_CREDENTIALS_URL`.
    pub iam_url: String,
    /// `GOOGLE_OAUTH_TOKEN_URL`.
    pub oauth_url: String,
    /// What verifies the JWTs the IAM fake signs.
    pub public_pem: String,
    shared: Arc<Shared>,
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("key generation");
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public_pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let shared = Arc::new(Shared {
            iam: Mutex::new(Iam::Sign),
            signs: Mutex::default(),
            metadata_tokens: AtomicU64::new(0),
            metadata_emails: AtomicU64::new(0),
            oauth_calls: Mutex::default(),
            expires_in: AtomicU64::new(3599),
            token_body: Mutex::default(),
            key: jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
        });
        let metadata = axum::Router::new()
            .route("/computeMetadata/v1/instance/service-accounts/default/token", get(metadata_token))
            .route("/computeMetadata/v1/instance/service-accounts/default/email", get(metadata_email))
            .with_state(shared.clone());
        let iam = axum::Router::new().route("/v1/projects/-/serviceAccounts/{name}", post(sign_jwt)).with_state(shared.clone());
        let oauth = axum::Router::new().route("/token", post(oauth_token)).with_state(shared.clone());
        let metadata_addr = serve(metadata).await;
        let iam_addr = serve(iam).await;
        let oauth_addr = serve(oauth).await;
        FakeGoogle {
            metadata_host: metadata_addr.to_string(),
            iam_url: format!("http://{iam_addr}"),
            oauth_url: format!("http://{oauth_addr}/token"),
            public_pem,
            shared,
        }
    }

    /// How `signJwt` answers from now on.
    pub fn iam(&self, mode: Iam) {
        *self.shared.iam.lock().unwrap() = mode;
    }

    /// Every `signJwt` call so far.
    pub fn signs(&self) -> Vec<SignCall> {
        self.shared.signs.lock().unwrap().clone()
    }

    /// `signJwt` calls that were answered with a token.
    pub fn signed(&self) -> usize {
        self.signs().iter().filter(|s| s.status == 200).count()
    }

    pub fn metadata_tokens(&self) -> u64 {
        self.shared.metadata_tokens.load(Ordering::SeqCst)
    }

    pub fn metadata_emails(&self) -> u64 {
        self.shared.metadata_emails.load(Ordering::SeqCst)
    }

    /// The forms the OAuth endpoint received.
    pub fn oauth_calls(&self) -> Vec<HashMap<String, String>> {
        self.shared.oauth_calls.lock().unwrap().clone()
    }

    /// The life of the access tokens handed out from now on.
    pub fn expires_in(&self, seconds: u64) {
        self.shared.expires_in.store(seconds, Ordering::SeqCst);
    }

    /// The metadata server answers its token request with this body (status 200).
    pub fn token_body(&self, body: Vec<u8>) {
        *self.shared.token_body.lock().unwrap() = Some(body);
    }

    /// The claims of a JWT the IAM fake signed, verified with its public key.
    pub fn verify(&self, token: &str, audience: &str) -> serde_json::Map<String, Value> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).unwrap();
        let header = jsonwebtoken::decode_header(token).expect("a JWT");
        assert_eq!(header.kid.as_deref(), Some(KEY_ID), "signed by the IAM fake");
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation).expect("the IAM fake's signature verifies").claims
    }
}

async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// The metadata server refuses requests without `Metadata-Flavor: Google`.
fn flavoured(headers: &HeaderMap) -> bool {
    headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) == Some("Google")
}

async fn metadata_token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !flavoured(&headers) {
        return (StatusCode::FORBIDDEN, "Missing Metadata-Flavor:Google header").into_response();
    }
    shared.metadata_tokens.fetch_add(1, Ordering::SeqCst);
    if let Some(body) = shared.token_body.lock().unwrap().clone() {
        return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
    }
    let expires_in = shared.expires_in.load(Ordering::SeqCst);
    Json(json!({ "access_token": METADATA_TOKEN, "expires_in": expires_in, "token_type": "Bearer" })).into_response()
}

async fn metadata_email(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !flavoured(&headers) {
        return (StatusCode::FORBIDDEN, "Missing Metadata-Flavor:Google header").into_response();
    }
    shared.metadata_emails.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, [("content-type", "application/text")], ACCOUNT).into_response()
}

async fn sign_jwt(State(shared): State<Arc<Shared>>, Path(name): Path<String>, headers: HeaderMap, body: String) -> Response {
    let Some(account) = name.strip_suffix(":signJwt") else {
        return (StatusCode::NOT_FOUND, "unknown method").into_response();
    };
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    let claims = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|b| b.get("payload").and_then(Value::as_str).map(str::to_owned))
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .unwrap_or(Value::Null);
    let mode = *shared.iam.lock().unwrap();
    let (status, answer) = if bearer != METADATA_TOKEN && bearer != USER_TOKEN {
        (
            StatusCode::UNAUTHORIZED,
            json!({ "error": { "code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED" } }),
        )
    } else if claims.is_null() {
        (StatusCode::BAD_REQUEST, json!({ "error": { "code": 400, "message": "Invalid JWT payload.", "status": "INVALID_ARGUMENT" } }))
    } else {
        match mode {
            Iam::Refuse => (
                StatusCode::FORBIDDEN,
                json!({ "error": { "code": 403, "message": format!("Permission 'iam.serviceAccounts.signJwt' denied on resource (or it may not exist): projects/-/serviceAccounts/{account}"), "status": "PERMISSION_DENIED" } }),
            ),
            Iam::Down => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": { "code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE" } }),
            ),
            Iam::Sign => {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                header.kid = Some(KEY_ID.to_owned());
                let signed = jsonwebtoken::encode(&header, &claims, &shared.key).unwrap();
                (StatusCode::OK, json!({ "keyId": KEY_ID, "signedJwt": signed }))
            }
        }
    };
    shared.signs.lock().unwrap().push(SignCall { account: account.to_owned(), bearer: bearer.to_owned(), claims, status: status.as_u16() });
    (status, Json(answer)).into_response()
}

async fn oauth_token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    shared.oauth_calls.lock().unwrap().push(form.clone());
    let right = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token").map(String::as_str) == Some(REFRESH_TOKEN)
        && form.get("client_secret").is_some_and(|s| !s.is_empty())
        && form.get("client_id").is_some_and(|s| !s.is_empty());
    if !right {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant", "error_description": "Bad Request" }))).into_response();
    }
    let expires_in = shared.expires_in.load(Ordering::SeqCst);
    Json(json!({ "access_token": USER_TOKEN, "expires_in": expires_in, "scope": "https://www.googleapis.com/auth/cloud-platform", "token_type": "Bearer" }))
        .into_response()
}
