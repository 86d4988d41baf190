//! Finishing what a process that died left half done: a write noted in the journal but
//! not carried out (or not answered), and a launch sent to Tailer whose run was never
//! followed. Both go through the bot's own write path, so the outcome, the audit entry
//! and the answer are the ones an uninterrupted request would have given.

mod launches;
mod writes;

pub use launches::Launches;
pub use writes::Writes;
