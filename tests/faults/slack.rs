//! Slack failing.
