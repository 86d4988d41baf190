//! Keyless credentials against fakes of Google's metadata server, IAM Credentials API
//! and OAuth endpoint: the Tailer token is signed by `signJwt` with exactly the claims a
//! key file signs, once for many Tailer calls, again when it nears expiry; a refusal
//! names what to fix and is tried again after a back-off; `serve` runs keyless end to end
//! and says why when IAM fails, and keeps serving.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::google::{ACCOUNT, FakeGoogle, Iam, METADATA_TOKEN, REFRESH_TOKEN, USER_TOKEN};
use tailerbot::clock::ManualClock;
use tailerbot::config::{Settings, StartupError, TailerConfig};
use tailerbot::sim::SimOptions;
use tailerbot::tailer::{
    ErrorKind, LastStatusQuery, REFRESH_AFTER_SECS, SIGN_RETRY_MAX, THREE_WAYS, TOKEN_LIFETIME_SECS, TailerClient, TailerError, TokenSource,
};

const NOW: i64 = 1_800_000_000;
const ROLE: &str = "roles/iam.serviceAccountTokenCreator";

fn settings(vars: &[(&'static str, String)]) -> Settings {
    let vars: BTreeMap<&str, String> = vars.iter().cloned().collect();
    Settings::from_lookup(&|name| vars.get(name).cloned(), &TailerConfig::default()).unwrap()
}

/// The environment of a keyless bot pointed at the fakes and at `tailer`.
fn keyless_vars(google: &FakeGoogle, tailer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TAILER_API_URL", tailer.to_owned()),
        ("GCE_METADATA_HOST", google.metadata_host.clone()),
        ("GOOGLE_IAM_CREDENTIALS_URL", google.iam_url.clone()),
        ("GOOGLE_OAUTH_TOKEN_URL", google.oauth_url.clone()),
    ]
}

fn tokens(vars: &[(&'static str, String)], clock: Arc<ManualClock>) -> Arc<TokenSource> {
    tailerbot::tls::install_crypto_provider();
    settings(vars).token_source(clock).unwrap()
}

fn client(url: &str, tokens: Arc<TokenSource>) -> TailerClient {
    TailerClient::new(url, tokens, common::quick_options()).unwrap()
}

/// One Tailer read, asked now (never a kept answer).
async fn read(client: &TailerClient) -> Result<(), TailerError> {
    let query = LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() };
    client.get_last_status_now(&common::iowa(), &query).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sign_jwt_serves_many_tailer_calls_with_exactly_the_claims_a_key_file_signs() {
    let google = FakeGoogle::start().await;
    let tailer = common::sim(SimOptions::default()).await;
    let clock = ManualClock::at_unix(NOW);
    let client = client(&tailer.url(), tokens(&keyless_vars(&google, &tailer.url()), clock));
    for _ in 0..3 {
        read(&client).await.unwrap();
    }
    let together: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { read(&client).await })
        })
        .collect();
    for call in together {
        call.await.unwrap().unwrap();
    }

    let signs = google.signs();
    assert_eq!(signs.len(), 1, "one signJwt for 19 Tailer calls: {signs:?}");
    let sign = &signs[0];
    assert_eq!(sign.account, ACCOUNT, "the metadata server's default account");
    assert_eq!(sign.bearer, METADATA_TOKEN, "called with the machine's access token");
    let expected = serde_json::json!({
        "iat": NOW, "exp": NOW + 3600, "iss": ACCOUNT, "sub": ACCOUNT, "email": ACCOUNT, "aud": tailer.url(),
    });
    assert_eq!(sign.claims, expected);
    assert_eq!((google.metadata_tokens(), google.metadata_emails()), (1, 1));

    // What Tailer received is the token IAM signed, every time.
    let received = tailer.sim.requests();
    assert_eq!(received.len(), 19);
    let bearer = received[0].bearer.clone().unwrap();
    assert!(received.iter().all(|r| r.bearer.as_deref() == Some(bearer.as_str())));
    assert_eq!(serde_json::Value::Object(google.verify(&bearer, &tailer.url())), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_signed_again_at_80_percent_of_its_life_and_the_access_token_is_kept_for_its_expires_in() {
    let google = FakeGoogle::start().await;
    let tailer = common::sim(SimOptions::default()).await;
    let clock = ManualClock::at_unix(NOW);
    let client = client(&tailer.url(), tokens(&keyless_vars(&google, &tailer.url()), clock.clone()));
    let refresh = Duration::from_secs(REFRESH_AFTER_SECS as u64);
    read(&client).await.unwrap();
    clock.advance(refresh - Duration::from_secs(1));
    read(&client).await.unwrap();
    assert_eq!(google.signed(), 1, "reused within 80% of its life");
    clock.advance(Duration::from_secs(1));
    read(&client).await.unwrap();
    assert_eq!(google.signed(), 2, "signed again at 80%");
    assert_eq!(google.signs()[1].claims["iat"], NOW + REFRESH_AFTER_SECS);
    assert_eq!(google.metadata_tokens(), 1, "the access token (3599 s) was still good: kept");
    let bearers: std::collections::BTreeSet<_> = tailer.sim.requests().iter().map(|r| r.bearer.clone()).collect();
    assert_eq!(bearers.len(), 2, "Tailer got the new token after the refresh");

    // The next access token lives 600 s: it has expired by the refresh after.
    clock.advance(refresh);
    google.expires_in(600);
    read(&client).await.unwrap();
    assert_eq!((google.signed(), google.metadata_tokens()), (3, 2), "the 3599 s access token had expired: asked again");
    clock.advance(refresh);
    read(&client).await.unwrap();
    assert_eq!((google.signed(), google.metadata_tokens()), (4, 3), "the 600 s one too");
    assert_eq!(google.metadata_emails(), 1, "the account is asked once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_jwt_names_the_role_to_grant_and_is_tried_again_only_after_a_back_off() {
    let google = FakeGoogle::start().await;
    google.iam(Iam::Refuse);
    let tailer = common::sim(SimOptions::default()).await;
    let clock = ManualClock::at_unix(NOW);
    let client = client(&tailer.url(), tokens(&keyless_vars(&google, &tailer.url()), clock.clone()));

    let error = read(&client).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    let said = error.to_string();
    assert!(said.contains(ROLE) && said.contains(ACCOUNT) && said.contains("HTTP 403"), "{said}");
    assert!(!said.contains("ya29"), "no token in errors: {said}");
    assert!(tailer.sim.requests().is_empty(), "nothing went to Tailer without a token");

    // Asked again at once: the same answer, IAM not asked again.
    assert_eq!(read(&client).await.unwrap_err().to_string(), said);
    assert_eq!(google.signs().len(), 1);
    // After the back-off, IAM is asked again; once it signs, calls go through.
    clock.advance(SIGN_RETRY_MAX * 2);
    read(&client).await.unwrap_err();
    assert_eq!(google.signs().len(), 2);
    google.iam(Iam::Sign);
    read(&client).await.unwrap_err();
    assert_eq!(google.signs().len(), 2, "the back-off grew: still waiting");
    clock.advance(SIGN_RETRY_MAX * 2);
    read(&client).await.unwrap();
    assert_eq!(google.signed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_down_is_a_passing_failure_and_a_token_still_valid_is_used_meanwhile() {
    let google = FakeGoogle::start().await;
    let tailer = common::sim(SimOptions::default()).await;
    let clock = ManualClock::at_unix(NOW);
    let client = client(&tailer.url(), tokens(&keyless_vars(&google, &tailer.url()), clock.clone()));
    read(&client).await.unwrap();
    google.iam(Iam::Down);
    clock.advance(Duration::from_secs(REFRESH_AFTER_SECS as u64));
    read(&client).await.expect("the refresh failed, the token has not expired: still used");
    assert_eq!(google.signs().iter().map(|s| s.status).collect::<Vec<_>>(), [200, 503]);
    clock.advance(Duration::from_secs((TOKEN_LIFETIME_SECS - REFRESH_AFTER_SECS) as u64));
    let error = read(&client).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::AuthUnavailable);
    assert!(!error.is_retryable() && error.certainly_not_applied());
    assert!(error.to_string().contains("HTTP 503"), "{error}");
}

fn authorized_user_file(dir: &tempfile::TempDir, refresh_token: &str) -> String {
    let path = dir.path().join("application_default_credentials.json");
    let file = serde_json::json!({
        "type": "authorized_user",
        "client_id": "764086051850-example.apps.googleusercontent.com",
        "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": refresh_token,
        "quota_project_id": "example-project",
    });
    std::fs::write(&path, file.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_user_file_signs_for_tailer_service_account_through_iam() {
    let google = FakeGoogle::start().await;
    let tailer = common::sim(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let other = "tailer-caller@example-project.iam.gserviceaccount.com";
    let mut vars = keyless_vars(&google, &tailer.url());
    vars.push(("GOOGLE_APPLICATION_CREDENTIALS", authorized_user_file(&dir, REFRESH_TOKEN)));
    vars.push(("TAILER_SERVICE_ACCOUNT", other.to_owned()));
    let tokens = tokens(&vars, ManualClock::at_unix(NOW));
    assert!(format!("{tokens:?}").contains(other) && !format!("{tokens:?}").contains(REFRESH_TOKEN), "{tokens:?}");
    let client = client(&tailer.url(), tokens);
    read(&client).await.unwrap();
    read(&client).await.unwrap();

    let calls = google.oauth_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["grant_type"], "refresh_token");
    assert_eq!(calls[0]["refresh_token"], REFRESH_TOKEN);
    let signs = google.signs();
    assert_eq!(signs.len(), 1);
    assert_eq!((signs[0].account.as_str(), signs[0].bearer.as_str()), (other, USER_TOKEN));
    assert_eq!(signs[0].claims["iss"], other);
    assert_eq!(google.metadata_tokens() + google.metadata_emails(), 0, "the metadata server is not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_user_file_needs_tailer_service_account_and_a_refused_refresh_token_says_to_log_in_again() {
    let google = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = keyless_vars(&google, "http://127.0.0.1:9");
    vars.push(("GOOGLE_APPLICATION_CREDENTIALS", authorized_user_file(&dir, "1//revoked")));
    let error = settings(&vars).token_source(ManualClock::at_unix(NOW)).unwrap_err();
    assert!(matches!(error, StartupError::BadVariable { variable: "TAILER_SERVICE_ACCOUNT", .. }), "{error}");
    assert!(error.to_string().contains("authorized_user"), "{error}");

    vars.push(("TAILER_SERVICE_ACCOUNT", ACCOUNT.to_owned()));
    let error = tokens(&vars, ManualClock::at_unix(NOW)).probe().await.unwrap_err();
    assert!(!error.transient, "someone has to log in again");
    assert!(error.message.contains("invalid_grant") && error.message.contains("gcloud auth application-default login"), "{error}");
    assert!(!error.message.contains("revoked") && !error.message.contains("d-FL95"), "no secret in errors: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_answers_that_are_garbage_lack_a_field_or_are_huge_are_refused_and_named() {
    let google = FakeGoogle::start().await;
    let vars = keyless_vars(&google, "http://127.0.0.1:9");
    for (body, said) in [
        (b"<html>Not the metadata server</html>".to_vec(), "not the JSON expected"),
        (br#"{"expires_in": 3599, "token_type": "Bearer"}"#.to_vec(), "without `access_token`"),
        (br#"{"access_token": "ya29.leaked", "token_type": "Bearer"}"#.to_vec(), "without `expires_in`"),
        (format!(r#"{{"access_token": "ya29.{}", "expires_in": 3599}}"#, "a".repeat(1 << 20)).into_bytes(), "more than 64 KiB"),
    ] {
        google.token_body(body);
        let error = tokens(&vars, ManualClock::at_unix(NOW)).probe().await.unwrap_err();
        assert!(error.message.contains("the metadata server's access token") && error.message.contains(said), "{error}");
        assert!(!error.message.contains("ya29"), "no token in errors: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_server_that_does_not_answer_means_not_on_google_cloud_and_the_three_ways_are_named() {
    // Connections are accepted by the kernel and never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let vars = vec![("GCE_METADATA_HOST", silent.local_addr().unwrap().to_string())];
    let started = std::time::Instant::now();
    let error = tokens(&vars, ManualClock::at_unix(NOW)).probe().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "given up after the short metadata timeout: {:?}", started.elapsed());
    assert!(!error.transient, "waiting will not put the bot on Google Cloud");
    assert!(error.message.contains("did not answer within 2s") && error.message.contains(THREE_WAYS), "{error}");
}

mod serve {
    //! The real binary, keyless.

    use super::*;
    use common::bot::{CHANNEL, text_of};
    use common::process::{ServeEnv, command_answer};

    /// `serve`, keyless, against the fakes, the simulator and the stand-in.
    fn keyless(google: &FakeGoogle, config: &std::path::Path, db: &str, slack: &str, tailer: &str) -> ServeEnv {
        ServeEnv::new(config, db, slack, tailer)
            .without("TAILER_API_TOKEN")
            .var("GCE_METADATA_HOST", google.metadata_host.clone())
            .var("GOOGLE_IAM_CREDENTIALS_URL", google.iam_url.clone())
    }

    /// `/tailer <text>` to a running `serve`, each with its own response_url.
    struct Asking<'a> {
        url: String,
        slack: &'a tailerbot::slack::standin::RunningStandin,
        asked: std::sync::atomic::AtomicU32,
    }

    impl Asking<'_> {
        /// What the author reads: the answer posted to the command's response_url.
        async fn ask(&self, text: &str) -> String {
            let n = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let key = format!("k{n}");
            let respond = self.slack.response_url(&key);
            let (status, answer) = command_answer(&self.url, &respond, &format!("1.keyless.{n}"), "U0ANALYST", CHANNEL, text).await;
            assert_eq!(status, 200, "{answer}");
            let is_it = |e: &tailerbot::slack::standin::SlackEvent| e.ts.as_deref() == Some(key.as_str());
            let events = self.slack.slack.wait_for(Duration::from_secs(15), |e| e.iter().any(is_it)).await;
            events.iter().find(|e| is_it(e)).map(|e| e.visible_text()).unwrap_or_else(|| panic!("no answer to `{text}`: {answer}"))
        }

        /// Asks `status iowa-prepare` until the answer says `wanted`, as a person tries
        /// again; bounded.
        async fn until(&self, wanted: &str) -> String {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
            loop {
                let said = self.ask("status iowa-prepare").await;
                if said.contains(wanted) {
                    return said;
                }
                assert!(tokio::time::Instant::now() < deadline, "never said `{wanted}`; last: {said}");
                // The bot's back-off before it asks IAM again is real time.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_keyless_launches_and_reads_through_one_sign_jwt_and_says_why_while_iam_fails() {
        let google = FakeGoogle::start().await;
        google.iam(Iam::Down);
        let (tailer, slack) = common::world(SimOptions::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = common::process::write_config(dir.path(), &slack.response_url_prefix());
        let db = common::process::database(dir.path());
        let serve = keyless(&google, &config, &db, &slack.api_url(), &tailer.url()).ready().await;
        assert_eq!(google.signs().len(), 1, "the start-up check asked IAM, which was down: a warning, not a stop");

        let asking = Asking { url: serve.url.clone(), slack: &slack, asked: Default::default() };
        // IAM down: the answer says so; the bot keeps serving.
        let said = asking.ask("status iowa-prepare").await;
        assert!(said.contains("IAM signJwt") && said.contains("HTTP 503"), "{said}");
        // IAM refusing: once the back-off has passed, the answer names the role to grant.
        google.iam(Iam::Refuse);
        let said = asking.until(ROLE).await;
        assert!(said.contains(ACCOUNT), "{said}");
        assert!(!said.contains("ya29"), "{said}");
        // IAM signing again: reads and launches go through.
        google.iam(Iam::Sign);
        asking.until("iowa-prepare").await;
        let failed = google.signs().len() - google.signed();
        assert!(failed >= 2, "IAM was tried again while it failed");
        let (status, answer) =
            command_answer(&serve.url, &slack.response_url("launch"), "1.keyless.launch", "U0ANALYST", CHANNEL, "launch iowa-prepare")
                .await;
        assert_eq!(status, 200);
        assert!(text_of(&answer).contains("On it: launch `iowa-prepare`"), "{answer}");
        let is_card =
            |e: &tailerbot::slack::standin::SlackEvent| e.method == "chat.postMessage" && e.visible_text().contains("iowa-prepare");
        let events = slack.slack.wait_for(Duration::from_secs(15), |e| e.iter().any(is_card)).await;
        let text = events.iter().find(|e| is_card(e)).expect("the run card").visible_text();
        let run = text.split('`').find(|s| s.starts_with("20") && s.len() > 20).unwrap_or_else(|| panic!("a run id in {text}")).to_owned();
        let said = asking.ask(&format!("status iowa-prepare {run}")).await;
        assert!(said.contains(&run), "{said}");
        // The watcher follows the run: more Tailer calls, same token.
        assert!(tailer.sim.wait_for_count("check_run_status", 3, Duration::from_secs(20)).await >= 3);

        // One signJwt for everything since IAM came back: launch, polls, reads.
        let received = tailer.sim.requests();
        assert!(received.len() >= 5, "{}", received.len());
        assert_eq!(google.signed(), 1, "{:?}", google.signs());
        let bearer = received.last().unwrap().bearer.clone().unwrap();
        assert!(received.iter().filter(|r| r.bearer.is_some()).all(|r| r.bearer.as_deref() == Some(bearer.as_str())));
        let claims = google.verify(&bearer, &tailer.url());
        assert_eq!(claims["iss"], ACCOUNT);
        assert_eq!(claims["sub"], ACCOUNT);
        assert_eq!(claims["email"], ACCOUNT);
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
        assert!((claims["iat"].as_i64().unwrap() - chrono::Utc::now().timestamp()).abs() < 120);
        assert_eq!((google.metadata_tokens(), google.metadata_emails()), (1, 1), "kept: asked once each");
        assert!(serve.stop().await.success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_stops_at_start_when_iam_refuses_to_sign_and_names_the_role_once() {
        let google = FakeGoogle::start().await;
        google.iam(Iam::Refuse);
        let (tailer, slack) = common::world(SimOptions::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = common::process::write_config(dir.path(), &slack.response_url_prefix());
        let db = common::process::database(dir.path());
        let serve = keyless(&google, &config, &db, &slack.api_url(), &tailer.url()).spawn();
        let (status, stderr) = serve.exits_within(Duration::from_secs(20)).await;
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{stderr}");
        assert_eq!(stderr.matches(ROLE).count(), 1, "said once: {stderr}");
        assert!(stderr.contains("error: Tailer credentials (keyless):"), "{stderr}");
        assert!(!stderr.contains(METADATA_TOKEN), "{stderr}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_static_token_is_a_token_problem_not_a_service_account_one() {
        let (tailer, slack) = common::world(SimOptions { token: Some("the-right-token".into()), ..SimOptions::default() }).await;
        let dir = tempfile::tempdir().unwrap();
        let config = common::process::write_config(dir.path(), &slack.response_url_prefix());
        let db = common::process::database(dir.path());
        let serve = ServeEnv::new(&config, &db, &slack.api_url(), &tailer.url()).var("TAILER_API_TOKEN", "an-expired-token").spawn();
        let (status, stderr) = serve.exits_within(Duration::from_secs(20)).await;
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{stderr}");
        assert!(stderr.contains("TAILER_API_TOKEN: Tailer refuses the token"), "{stderr}");
        assert!(stderr.contains("tailer auth get-token"), "{stderr}");
        assert!(!stderr.to_lowercase().contains("service account may"), "{stderr}");
        assert_eq!(stderr.matches("Tailer refuses").count(), 1, "said once: {stderr}");
        assert!(!stderr.contains("an-expired-token"), "{stderr}");
    }

    /// Every start-up mistake in one run, each said once, each naming its variable or file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_with_nothing_set_lists_every_mistake_once_in_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tailerbot"))
            .arg("serve")
            .env_clear()
            .current_dir(dir.path())
            .env("GCE_METADATA_HOST", silent.local_addr().unwrap().to_string())
            .env("PORT", "eighty")
            .env("K_SERVICE", "tailerbot")
            .output();
        let out = tokio::time::timeout(Duration::from_secs(20), out).await.expect("serve gave up within 20 s").unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        for (starts, what) in [
            ("error: tailerbot.toml", "the configuration file, by name"),
            ("error: PORT: `eighty`", "a bad variable"),
            ("error: SLACK_SIGNING_SECRET: required", "the signing secret"),
            ("error: SLACK_BOT_TOKEN: required", "the bot token"),
            ("error: no Tailer credentials: the metadata server at", "the credentials, with the three ways"),
        ] {
            assert_eq!(errors.iter().filter(|l| l.starts_with(starts)).count(), 1, "{what} once:\n{stderr}");
        }
        assert_eq!(errors.len(), 5, "nothing else, nothing twice:\n{stderr}");
        assert_eq!(stderr.matches(THREE_WAYS).count(), 1, "{stderr}");
        assert_eq!(stderr.matches("K_SERVICE=tailerbot").count(), 1, "Cloud Run with SQLite is warned about:\n{stderr}");
    }

    #[test]
    fn a_missing_key_file_is_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tailerbot.toml");
        std::fs::write(&config, tailerbot::config::EXAMPLE_TOML).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tailerbot"))
            .arg("serve")
            .env_clear()
            .env("TAILERBOT_CONFIG", &config)
            .env("SLACK_SIGNING_SECRET", "s")
            .env("SLACK_BOT_TOKEN", "xoxb-x")
            .env("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim_end(),
            "error: GOOGLE_APPLICATION_CREDENTIALS: cannot read the service-account key file /nonexistent/sa.json: No such file or directory (os error 2)"
        );
    }
}
