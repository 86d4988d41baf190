//! One TLS stack: slack-morphism's connector and reqwest share rustls with `ring`, and
//! building the real HTTPS clients the way `serve` does never panics.

use std::sync::Arc;

use secrecy::SecretString;
use tailerbot::tailer::{ClientOptions, TailerClient, TokenSource};

#[test]
fn the_real_https_clients_build_without_a_provider_panic() {
    tailerbot::tls::install_crypto_provider();
    let tokens = Arc::new(TokenSource::Static(SecretString::from("t")));
    TailerClient::new("https://tailer-api-nqonovswsq-ew.a.run.app", tokens, ClientOptions::default()).expect("reqwest client");
    let connector = slack_morphism::prelude::SlackClientHyperConnector::new().expect("slack connector");
    let _client = slack_morphism::SlackClient::new(connector);
}

#[test]
fn installing_the_provider_twice_is_harmless() {
    tailerbot::tls::install_crypto_provider();
    tailerbot::tls::install_crypto_provider();
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}

#[test]
fn the_lock_file_holds_a_single_crypto_backend_for_rustls() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    for second_stack in ["name = \"aws-lc-rs\"", "name = \"aws-lc-sys\"", "name = \"openssl-sys\"", "name = \"native-tls\""] {
        assert!(!lock.contains(second_stack), "Cargo.lock pulls {second_stack}: a second TLS stack");
    }
    assert!(lock.contains("name = \"ring\""));
}
