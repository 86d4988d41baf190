//! What Tailer says about runs: statuses, run items, durations and timestamps, parsed
//! leniently where the API is loose (every field but `run_id` and `status` may be missing,
//! unknown statuses pass through) and strictly where a wrong value would mislead.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{Account, ConfigurationId, ConfigurationType, Environment, JobId, RunId};

/// The identity of one data operation, as every action sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobRef {
    pub account: Account,
    pub environment: Environment,
    pub configuration_type: ConfigurationType,
    pub configuration_id: ConfigurationId,
    /// Configured or derived; sent with `check_run_status` when known.
    pub job_id: Option<JobId>,
}

impl JobRef {
    /// The job id Tailer uses for a table-to-table operation: `gbq-to-gbq|<configuration_id>`.
    pub fn derived_job_id(configuration_type: &ConfigurationType, configuration_id: &ConfigurationId) -> Option<JobId> {
        match configuration_type.as_str() {
            "table-to-table" | "gbq-to-gbq" => JobId::parse(&format!("gbq-to-gbq|{configuration_id}")).ok(),
            _ => None,
        }
    }
}

/// A run status under its Tailer name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Waiting,
    Running,
    Success,
    Failed,
    Checked,
    NoMatch,
    Deactivated,
    /// A status this version does not know, shown verbatim.
    Other(String),
}

/// Whether a status can still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finality {
    NotFinal,
    Final,
    /// An unknown status: final only once it has stayed unchanged long enough.
    Unknown,
}

impl RunStatus {
    pub fn parse(value: &str) -> RunStatus {
        match value {
            "WAITING" => RunStatus::Waiting,
            "RUNNING" => RunStatus::Running,
            "SUCCESS" => RunStatus::Success,
            "FAILED" => RunStatus::Failed,
            "CHECKED" => RunStatus::Checked,
            "NO_MATCH" => RunStatus::NoMatch,
            "DEACTIVATED" => RunStatus::Deactivated,
            other => RunStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Waiting => "WAITING",
            RunStatus::Running => "RUNNING",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
            RunStatus::Checked => "CHECKED",
            RunStatus::NoMatch => "NO_MATCH",
            RunStatus::Deactivated => "DEACTIVATED",
            RunStatus::Other(s) => s,
        }
    }

    pub fn finality(&self) -> Finality {
        match self {
            RunStatus::Waiting | RunStatus::Running => Finality::NotFinal,
            RunStatus::Other(_) => Finality::Unknown,
            _ => Finality::Final,
        }
    }

    pub fn is_final(&self) -> bool {
        self.finality() == Finality::Final
    }

    /// A final status that someone should look at.
    pub fn is_failure(&self) -> bool {
        matches!(self, RunStatus::Failed)
    }

    /// The statuses `set_run_status` accepts.
    pub fn settable(&self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Failed | RunStatus::Running | RunStatus::NoMatch | RunStatus::Checked)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RunStatus::parse(&String::deserialize(d)?))
    }
}

/// Parses Python's `str(timedelta)`: `H:MM:SS`, `H:MM:SS.ffffff`, optionally preceded by
/// `N day(s), `.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (days, clock) = match text.split_once(", ") {
        Some((days, clock)) => {
            let n = days.strip_suffix(" days").or_else(|| days.strip_suffix(" day"))?;
            (n.trim().parse::<u64>().ok()?, clock)
        }
        None => (0, text),
    };
    let mut parts = clock.split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let seconds_text = parts.next()?;
    if parts.next().is_some() || minutes >= 60 {
        return None;
    }
    let (whole, micros) = match seconds_text.split_once('.') {
        Some((whole, frac)) => {
            if frac.is_empty() || frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{frac:0<6}");
            (whole, padded.parse::<u64>().ok()?)
        }
        None => (seconds_text, 0),
    };
    if whole.len() != 2 {
        return None;
    }
    let seconds: u64 = whole.parse().ok()?;
    if seconds >= 60 {
        return None;
    }
    // A count of days beyond any clock is malformed, not a reason to wrap or panic.
    let total = days.checked_mul(24)?.checked_add(hours)?.checked_mul(60)?.checked_add(minutes)?.checked_mul(60)?.checked_add(seconds)?;
    Duration::from_secs(total).checked_add(Duration::from_micros(micros))
}

/// Formats like Python's `str(timedelta)`: `H:MM:SS[.ffffff]`, with `N day(s), ` before.
pub fn format_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let micros = d.subsec_micros();
    let clock = format!("{}:{:02}:{:02}", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    let clock = if micros == 0 { clock } else { format!("{clock}.{micros:06}") };
    match seconds / 86_400 {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
    }
}

/// Parses an ISO-8601 timestamp with an offset, with or without fractional seconds.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// One run as Tailer describes it. Only `run_id` and `status` are sure to be there; a
/// field that is present but malformed is dropped (and counted as absent) rather than
/// failing the whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunItem {
    pub run_id: RunId,
    pub status: RunStatus,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub environment: Option<String>,
    /// As Tailer answers it: `gbq-to-gbq` for a table-to-table operation.
    #[serde(default, deserialize_with = "lenient::string")]
    pub configuration_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub configuration_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::duration")]
    pub duration: Option<Duration>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub start_execution_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub last_update_date: Option<DateTime<Utc>>,
}

impl RunItem {
    /// When the run ended, as far as the item tells: its last update, else its start
    /// plus its duration (checked: the two may add up past the end of the calendar).
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.last_update_date.or_else(|| self.start_execution_date?.checked_add_signed(chrono::Duration::from_std(self.duration?).ok()?))
    }

    /// The item as Tailer writes it (for storing and reading back).
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("run_id".into(), self.run_id.as_str().into());
        map.insert("status".into(), self.status.as_str().into());
        let strings = [
            ("account", &self.account),
            ("environment", &self.environment),
            ("configuration_type", &self.configuration_type),
            ("configuration_id", &self.configuration_id),
            ("job_id", &self.job_id),
        ];
        for (key, value) in strings {
            if let Some(v) = value {
                map.insert(key.into(), v.as_str().into());
            }
        }
        if let Some(d) = self.duration {
            map.insert("duration".into(), format_duration(d).into());
        }
        for (key, value) in [("start_execution_date", self.start_execution_date), ("last_update_date", self.last_update_date)] {
            if let Some(t) = value {
                map.insert(key.into(), t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false).into());
            }
        }
        serde_json::Value::Object(map)
    }
}

mod lenient {
    use super::*;
    use serde_json::Value;

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(string(d)?.as_deref().and_then(parse_duration))
    }

    pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(string(d)?.as_deref().and_then(parse_timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_and_without_microseconds() {
        assert_eq!(parse_duration("0:01:24.002519"), Some(Duration::from_micros(84_002_519)));
        assert_eq!(parse_duration("1:00:03"), Some(Duration::from_secs(3603)));
        assert_eq!(parse_duration("2 days, 0:00:01"), Some(Duration::from_secs(2 * 86_400 + 1)));
        assert_eq!(parse_duration("1 day, 0:00:00.5"), Some(Duration::from_secs(86_400) + Duration::from_millis(500)));
    }

    #[test]
    fn formatted_durations_read_back() {
        for d in [Duration::from_micros(84_002_519), Duration::from_secs(3603), Duration::from_secs(2 * 86_400 + 1)] {
            assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }
    }

    #[test]
    fn an_item_survives_its_json() {
        let text = r#"{"run_id": "20201230-1", "status": "FAILED", "duration": "0:01:24.002519", "start_execution_date": "2020-12-30T11:28:43.861340+00:00", "account": "000099"}"#;
        let item: RunItem = serde_json::from_str(text).unwrap();
        let again: RunItem = serde_json::from_value(item.to_json()).unwrap();
        assert_eq!(item, again);
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in [
            "",
            "1:2",
            "0:61:00",
            "0:00:60",
            "0:00:1",
            "a:00:00",
            "0:00:00.",
            "0:00:00.1234567",
            "1:00:00:00",
            "214000000000000 days, 0:00:00",
            "5124095576030432:00:00",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_with_and_without_microseconds() {
        let a = parse_timestamp("2020-12-30T11:30:07.960767+00:00").unwrap();
        let b = parse_timestamp("2020-12-09T17:17:23+00:00").unwrap();
        assert_eq!(a.timestamp_subsec_micros(), 960_767);
        assert_eq!(b.timestamp(), 1_607_534_243);
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn known_statuses_are_final_or_not_and_unknown_ones_pass_through() {
        assert_eq!(RunStatus::parse("RUNNING").finality(), Finality::NotFinal);
        assert_eq!(RunStatus::parse("WAITING").finality(), Finality::NotFinal);
        for s in ["SUCCESS", "FAILED", "CHECKED", "NO_MATCH", "DEACTIVATED"] {
            assert!(RunStatus::parse(s).is_final(), "{s}");
            assert_eq!(RunStatus::parse(s).as_str(), s);
        }
        let odd = RunStatus::parse("PAUSED");
        assert_eq!(odd, RunStatus::Other("PAUSED".into()));
        assert_eq!(odd.finality(), Finality::Unknown);
        assert_eq!(odd.to_string(), "PAUSED");
    }

    #[test]
    fn a_minimal_item_parses_and_malformed_optional_fields_are_dropped() {
        let item: RunItem = serde_json::from_str(
            r#"{"run_id": "20201209-x", "status": "RUNNING", "duration": "soon", "start_execution_date": 5, "extra": [1]}"#,
        )
        .unwrap();
        assert_eq!(item.status, RunStatus::Running);
        assert_eq!(item.duration, None);
        assert_eq!(item.start_execution_date, None);
    }

    #[test]
    fn an_item_without_run_id_is_refused() {
        assert!(serde_json::from_str::<RunItem>(r#"{"status": "RUNNING"}"#).is_err());
    }

    #[test]
    fn table_to_table_job_ids_are_derived() {
        let t = ConfigurationType::parse("table-to-table").unwrap();
        let c = ConfigurationId::parse("000099_iowa_liquor_prepare_pda_DEV").unwrap();
        assert_eq!(JobRef::derived_job_id(&t, &c).unwrap().as_str(), "gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV");
        let w = ConfigurationType::parse("workflow").unwrap();
        assert!(JobRef::derived_job_id(&w, &c).is_none());
    }
}
