//! A form the bot opens for a person (the launch form): fields to fill in, each with its
//! id, under which its value comes back in the [`Submission`](super::Submission).

use crate::domain::{ChannelId, UserId};

/// The most choices a field offers (the tightest surface's limit: Slack's 100 options).
pub const MAX_CHOICES: usize = 100;

/// A form.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// Which form it is, given back with its submission.
    pub id: String,
    pub title: String,
    pub submit: String,
    pub close: String,
    /// The conversation its submission answers in, and for whom alone, kept in the form.
    pub opened_in: Option<ChannelId>,
    pub for_user: Option<UserId>,
    pub fields: Vec<Field>,
    /// Small print under the fields.
    pub note: Option<String>,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub placeholder: String,
    pub optional: bool,
    pub input: Input,
}

/// What a field takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// One of these.
    Choice(Vec<Choice>),
    /// A day.
    Date,
    /// A conversation the person is in, `initial` chosen at first.
    Conversation { initial: Option<ChannelId> },
}

/// One choice of a field: what it reads and what it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub label: String,
    pub value: String,
    pub description: Option<String>,
}
