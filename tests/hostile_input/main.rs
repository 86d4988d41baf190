//! Hostile input: property tests of the parser, the decoders and the renderers on any
//! text, bytes and Tailer answers, and a corpus of malformed requests sent to a running
//! bot. Case counts keep the whole binary to a few seconds in a debug build;
//! `PROPTEST_CASES=N` sets them all for a longer run.

#[path = "../common/mod.rs"]
mod common;
mod decoders;
mod parser;
mod renderers;
mod requests;
mod roundtrip;
mod slack_rules;
mod stored;
mod strategies;

/// The cases of a property: `PROPTEST_CASES` when set (a longer run), else `default`
/// (what keeps `cargo test` quick).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
