//! Hostile input: property tests of the parser, the decoders and the renderers on any
//! text, bytes and Tailer answers, and a corpus of malformed requests sent to a running
//! bot. Case counts keep the whole binary to a few seconds in a debug build.

#[path = "../common/mod.rs"]
mod common;
mod decoders;
mod parser;
mod renderers;
mod requests;
mod slack_rules;
mod strategies;
