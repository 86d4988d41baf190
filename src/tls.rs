//! One TLS stack for the whole process. slack-morphism's connector brings rustls with
//! `ring`; reqwest is built without a provider of its own. rustls then needs a
//! process-wide default, installed here before any client is built. Without it,
//! `SlackClientHyperConnector::new()` panics at run time.

/// Installs `ring` as the process's rustls provider. Safe to call more than once.
pub fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is all this wants.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
