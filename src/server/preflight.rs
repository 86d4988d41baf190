//! What `serve` checks before it serves: that Slack accepts the bot token
//! (`auth.test`) and that Tailer accepts the credentials (a token signed from the key
//! file, or the one given, and one cheap read). A refusal stops the start, naming the
//! variable to fix: a replica that cannot speak to Slack or Tailer must not replace one
//! that can. Slack or Tailer out of reach only warns: the bot starts, and its work
//! waits for them (the outbox keeps every message).

use crate::bot::Bot;
use crate::config::Settings;
use crate::outbox::TOKEN_REFUSED;
use crate::slack::api::SlackErrorKind;
use crate::tailer::{ErrorKind, LastStatusQuery};

/// The checks' findings: what stops the start, and what only deserves a warning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preflight {
    pub refused: Vec<String>,
    pub warnings: Vec<String>,
}

/// Asks Slack and Tailer, once each.
pub async fn check(bot: &Bot, settings: &Settings) -> Preflight {
    let mut found = Preflight::default();
    match bot.slack.auth_test().await {
        Ok(()) => tracing::info!("Slack accepts the bot token"),
        Err(error) => match &error.kind {
            SlackErrorKind::Api(code) if TOKEN_REFUSED.contains(&code.as_str()) => found.refused.push(format!(
                "SLACK_BOT_TOKEN: Slack refuses the bot token ({code}). Copy the Bot User OAuth Token (xoxb-...) from the app's \"OAuth & Permissions\" page; a reinstalled app has a new one."
            )),
            _ => found.warnings.push(format!("cannot check the Slack bot token now ({error}); starting anyway")),
        },
    }
    let credentials = match &settings.google_application_credentials {
        Some(path) => format!("GOOGLE_APPLICATION_CREDENTIALS ({})", path.display()),
        None => "TAILER_API_TOKEN".to_owned(),
    };
    let Some(job) = bot.config.jobs.first() else {
        found.warnings.push("the catalog has no job: the Tailer credentials are checked at the first command".into());
        return found;
    };
    let query = LastStatusQuery { limit: Some(1), ..LastStatusQuery::default() };
    match bot.tailer.without_retries().get_last_status(&job.job, &query).await {
        Ok(_) => tracing::info!("Tailer accepts the credentials"),
        Err(error) if matches!(error.kind, ErrorKind::Unauthorized | ErrorKind::Auth) => found.refused.push(format!(
            "{credentials}: Tailer refuses the credentials ({error}). Check that the service account may use the Tailer API of account {} (and TAILER_API_AUDIENCE, when set).",
            job.job.account
        )),
        // Any other answer came from Tailer with the credentials accepted, or not at all.
        Err(error) if matches!(error.kind, ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::RateLimited) => {
            found.warnings.push(format!("cannot check the Tailer credentials now ({error}); starting anyway"))
        }
        Err(error) => tracing::info!(%error, "Tailer answered the start-up check with the credentials accepted"),
    }
    found
}
