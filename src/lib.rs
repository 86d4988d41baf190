//! tailerbot: a Slack chat-ops bot for Tailer. The binary is a thin shell over this
//! library, so that tests start exactly what production starts.

pub mod access;
pub mod bot;
pub mod chat;
pub mod cli;
/// The wall clock, injected wherever time decides an outcome.
pub use tailerbot_clock as clock;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod crash;
pub mod demo;
pub mod domain;
pub mod history;
pub mod http_limits;
pub mod manifest;
pub mod messages;
pub mod offline;
pub mod outbox;
pub mod redact;
pub mod server;
pub mod shared;
/// The Tailer simulator of `tailerbot sim`, the demo and the tests.
pub use tailer_sim as sim;
pub mod slack;
pub mod stats;
pub mod store;
pub mod tailer;
pub mod telemetry;
pub mod tls;
pub mod watch;
pub mod workers;
