//! The bot attacked the way production will: Tailer failing in every way it can for each
//! action the bot performs, Slack rate-limiting, failing, refusing the token or the
//! channel, and the store locked or read-only. Each case checks what the user reads, what
//! the operator's log (or the audit trail) says, that nothing is lost, and that the bot
//! still serves afterwards.

#[path = "../common/mod.rs"]
mod common;

mod slack;
mod store;
mod tailer;
