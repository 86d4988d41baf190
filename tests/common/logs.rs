//! What the operator would read: the bot's log lines captured for one test, with the
//! fields of the surrounding spans (the request's reference among them), as the text
//! format prints them.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The lines logged while the guard of [`capture`] lives, on this test's thread (a
/// current-thread runtime runs the bot's tasks there too).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }

    /// The lines at `level` (`ERROR`, `WARN`, ...) that contain every needle.
    pub fn lines(&self, level: &str, needles: &[&str]) -> Vec<String> {
        self.text().lines().filter(|l| l.contains(level) && needles.iter().all(|n| l.contains(n))).map(str::to_owned).collect()
    }

    /// Panics with the whole log unless a line at `level` contains every needle.
    pub fn assert_line(&self, case: &str, level: &str, needles: &[&str]) {
        assert!(!self.lines(level, needles).is_empty(), "{case}: no {level} line with {needles:?} in the log:\n{}", self.text());
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the bot's logs (info and above) until the guard is dropped.
pub fn capture() -> (tracing::subscriber::DefaultGuard, Logs) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), logs)
}
