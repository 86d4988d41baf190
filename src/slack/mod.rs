//! Everything Slack: verifying what it sends, parsing it, the messages the bot writes, the
//! Web API client, and a local stand-in for tests and the demo.

pub mod api;
pub mod blocks;
pub mod connector;
pub mod error;
pub mod payload;
pub mod standin;
pub mod verify;
