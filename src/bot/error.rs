//! Why a request is not answered as asked, and the one place where that becomes what
//! its author reads. A handler returns an [`Answer`]: its reply, or a [`BotError`] that
//! says whose the problem is. The person's own (an unknown job, a run of another job) is
//! told as it is; a refusal by the rules says where to ask; the bot's (the store failing)
//! is logged once with the request's reference, and the person gets that reference and
//! the assurance that nothing was done.

use super::{Ack, Bot, Denial, render};
use crate::store::StoreError;

/// A handler's outcome.
pub type Answer = Result<Ack, BotError>;

/// Why a request is not answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The request cannot be done as it was put: the text (Slack mrkdwn, foreign text
    /// escaped) says why and what to type instead.
    #[error("{0}")]
    User(String),
    /// The rules refuse it.
    #[error("refused: {} {}", .0.action, .0.what)]
    Denied(Denial),
    /// Something on the bot's side failed; `what` is what could not be done, for the
    /// log line that `reference` finds.
    #[error("{what}: {source}")]
    Internal {
        reference: String,
        what: &'static str,
        #[source]
        source: Internal,
    },
}

/// What failed on the bot's side.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BotError {
    /// The person's mistake, told as it is.
    pub fn user(text: impl Into<String>) -> BotError {
        BotError::User(text.into())
    }

    /// For `map_err`: the store failed doing `what` for the request `reference`.
    pub fn store(reference: &str, what: &'static str) -> impl FnOnce(StoreError) -> BotError + use<> {
        let reference = reference.to_owned();
        move |error| BotError::Internal { reference, what, source: Internal::Store(error) }
    }
}

impl From<Denial> for BotError {
    fn from(denial: Denial) -> BotError {
        BotError::Denied(denial)
    }
}

impl Bot {
    /// The answer to a handler's outcome; an internal failure is logged here, once.
    pub fn answer_to(&self, outcome: Answer) -> Ack {
        match outcome {
            Ok(ack) => ack,
            Err(BotError::User(text)) => Ack::note(&text),
            Err(BotError::Denied(denial)) => self.refuse(&denial),
            Err(BotError::Internal { reference, what, source }) => {
                tracing::error!(error = %source, %reference, "{what}");
                match source {
                    Internal::Store(_) => Ack::note(&render::store_unavailable(&reference)),
                }
            }
        }
    }
}
