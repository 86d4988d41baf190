//! The store failing.
