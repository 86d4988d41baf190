//! Everything Slack: verifying what it sends, parsing it, the messages the bot writes, the
//! Web API client, and a local stand-in for tests and the demo.

pub mod api;
pub mod blocks;
pub mod connector;
pub mod delivery;
pub mod error;
pub mod limits;
pub mod payload;
mod surface;
/// The local stand-in of Slack the demo and the tests talk to.
pub use slack_standin as standin;
pub mod verify;

#[cfg(test)]
mod messages_tests;
