//! What `serve` checks before it serves: that Slack accepts the bot token
//! (`auth.test`) and that Tailer accepts the credentials (a token signed from the key
//! file or by IAM `signJwt`, or the one given, and one cheap read). A refusal stops the
//! start, naming the variable to fix, or the role to grant: a replica that cannot speak
//! to Slack or Tailer must not replace one that can. Slack, Tailer or IAM out of reach
//! only warns: the bot starts, and its work waits for them (the outbox keeps every
//! message).

use crate::bot::Bot;
use crate::config::Settings;
use crate::slack::api::{SlackApi, SlackErrorKind};
use crate::slack::delivery::TOKEN_REFUSED;
use crate::tailer::{CredentialsKind, ErrorKind, LastStatusQuery, TailerError};

/// The checks' findings: what stops the start, and what only deserves a warning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preflight {
    pub refused: Vec<String>,
    pub warnings: Vec<String>,
}

/// Asks Slack and Tailer, once each.
pub async fn check(bot: &Bot, slack: &SlackApi, settings: &Settings) -> Preflight {
    let mut found = Preflight::default();
    match slack.auth_test().await {
        Ok(()) => tracing::info!("Slack accepts the bot token"),
        Err(error) => match &error.kind {
            SlackErrorKind::Api(code) if TOKEN_REFUSED.contains(&code.as_str()) => found.refused.push(format!(
                "SLACK_BOT_TOKEN: Slack refuses the bot token ({code}). Copy the Bot User OAuth Token (xoxb-...) from the app's \"OAuth & Permissions\" page; a reinstalled app has a new one."
            )),
            _ => found.warnings.push(format!("cannot check the Slack bot token now ({error}); starting anyway")),
        },
    }
    let Some(job) = bot.config().jobs.first() else {
        found.warnings.push("the catalog has no job: the Tailer credentials are checked at the first command".into());
        return found;
    };
    let query = LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() };
    match bot.tailer().without_retries().get_last_status(&job.job, &query).await {
        Ok(_) => tracing::info!("Tailer accepts the credentials"),
        Err(error) if matches!(error.kind, ErrorKind::Unauthorized | ErrorKind::Auth) => {
            found.refused.push(refusal(bot.tailer().token_source().kind(), settings, &error, job.job.account.as_str()))
        }
        // Any other answer came from Tailer with the credentials accepted, or not at all.
        Err(error)
            if matches!(
                error.kind,
                ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::RateLimited | ErrorKind::AuthUnavailable
            ) =>
        {
            found.warnings.push(format!("cannot check the Tailer credentials now ({error}); starting anyway"))
        }
        Err(error) => tracing::info!(%error, "Tailer answered the start-up check with the credentials accepted"),
    }
    found
}

/// What a refusal of the Tailer credentials says: the variable that gave them, and what
/// to fix for that kind (a static token is not a service account's problem).
fn refusal(kind: CredentialsKind<'_>, settings: &Settings, error: &TailerError, account: &str) -> String {
    let audience = "and TAILER_API_AUDIENCE, when set";
    match (kind, error.kind) {
        (CredentialsKind::StaticToken, _) => format!(
            "TAILER_API_TOKEN: Tailer refuses the token ({error}). A Tailer user token (`tailer auth get-token`) lasts an hour: give a fresh one, or let the bot sign its own (GOOGLE_APPLICATION_CREDENTIALS, or keyless on Google Cloud)."
        ),
        (CredentialsKind::KeyFile { email }, _) => format!(
            "GOOGLE_APPLICATION_CREDENTIALS ({}): Tailer refuses the credentials ({error}). Check that the service account {email} may use the Tailer API of account {account} ({audience}).",
            settings.google_application_credentials.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
        ),
        // IAM would not sign: the message says what to grant.
        (CredentialsKind::Keyless { .. }, ErrorKind::Auth) => format!("Tailer credentials (keyless): {}", error.excerpt),
        (CredentialsKind::Keyless { email, authorized_user }, _) => {
            let variable = if authorized_user { "TAILER_SERVICE_ACCOUNT" } else { "Tailer credentials (keyless)" };
            format!(
                "{variable}: Tailer refuses the token IAM signed for {} ({error}). Check that this service account may use the Tailer API of account {account} ({audience}).",
                email.unwrap_or("the default service account")
            )
        }
    }
}
