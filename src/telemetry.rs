//! Logs and metrics. Logs are human-readable text, or (`LOG_FORMAT=json`) one JSON object
//! per line with Cloud Logging's field names: `severity`, `message`, `timestamp`, and the
//! fields of the event and of every span around it (request reference, user, job, run).
//! Metrics are Prometheus counters, gauges and histograms rendered at `/metrics`.

use std::fmt;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Installs the global subscriber once; `RUST_LOG` filters (default `default_level`).
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colours only on a terminal: a log file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // `try_init` fails only when a subscriber is already set (tests): keep that one.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.fmt_fields(JsonFields::new()).event_format(CloudLogging).try_init(),
    };
}

/// One JSON object per event, as Cloud Logging reads it.
pub struct CloudLogging;

fn severity(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARNING",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut object = Map::new();
        // Span fields first, outermost first: the event's own fields win.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields.as_str()) {
                        object.extend(map);
                    }
                }
            }
        }
        event.record(&mut Fields(&mut object));
        let message = object.remove("message").unwrap_or(Value::String(String::new()));
        object.insert("message".into(), message);
        object.insert("severity".into(), severity(event.metadata().level()).into());
        object.insert("timestamp".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        object.insert("target".into(), event.metadata().target().into());
        writeln!(writer, "{}", Value::Object(object))
    }
}

/// How often the recorder's histogram samples are folded into their buckets.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use. Its upkeep
/// ([`PrometheusHandle::run_upkeep`]) must run every [`UPKEEP_EVERY`]: `serve` does it.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("seconds".into()), BUCKETS)
            // Buckets are valid constants; this cannot fail.
            .expect("valid histogram buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was set first; then that one records.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How often a cause that keeps happening is logged again, with the count since.
pub const REPEAT_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether an event of `cause` should be logged now: the first one is, then one a
/// minute, which says how many happened since (`repeats`). Refused requests, stalled
/// connections and a full connection cap come in floods; the log names each cause
/// without one line per request. Every occurrence is counted in
/// `tailerbot_edge_events_total{cause}` all the same.
pub fn first_or_summary(cause: &'static str) -> Option<u64> {
    metrics::counter!("tailerbot_edge_events_total", "cause" => cause).increment(1);
    once_a_minute(cause)
}

/// Whether a store failure of `worker` should be logged now: the first of its kind
/// (full, read-only, locked...), then one line a minute with how many since. A store
/// that fails fails for every pass of every loop; the log names each cause, not each
/// pass. Counted in `tailerbot_store_errors_total{worker}` all the same.
pub fn store_failure(worker: &'static str, error: &crate::store::StoreError) -> Option<u64> {
    metrics::counter!("tailerbot_store_errors_total", "worker" => worker).increment(1);
    once_a_minute(&format!("{worker}:{}", error.kind()))
}

/// The first call with `key` answers `Some(0)`; later ones `None`, except one a minute,
/// which answers how many were kept quiet since.
fn once_a_minute(key: &str) -> Option<u64> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;
    static SEEN: OnceLock<Mutex<HashMap<String, (Instant, u64)>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = Instant::now();
    match seen.get_mut(key) {
        None => {
            seen.insert(key.to_owned(), (now, 0));
            Some(0)
        }
        Some((logged, since)) if now.duration_since(*logged) >= REPEAT_LOG_EVERY => {
            let repeats = *since;
            *logged = now;
            *since = 0;
            Some(repeats)
        }
        Some((_, since)) => {
            *since += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_logged_once_then_counted() {
        assert_eq!(first_or_summary("test-cause"), Some(0));
        assert_eq!(first_or_summary("test-cause"), None);
        assert_eq!(first_or_summary("test-cause"), None);
        assert_eq!(first_or_summary("another-test-cause"), Some(0), "causes are apart");
    }

    #[test]
    fn levels_map_to_cloud_logging_severities() {
        assert_eq!(severity(&tracing::Level::WARN), "WARNING");
        assert_eq!(severity(&tracing::Level::TRACE), "DEBUG");
    }
}
