//! The configuration file as written: each table's keys, positions kept so that a
//! mistake found later can still be reported at its line (an unknown key is refused).

use serde::Deserialize;
use toml::Spanned;

/// The sections of the file that are one table each (the jobs and the rules are read
/// one by one, by `read`).
#[derive(Debug, Default)]
pub struct RawConfig {
    pub slack: RawSlack,
    pub watch: RawWatch,
    pub tailer: RawTailer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    pub allowed_team_ids: Option<Vec<Spanned<String>>>,
    pub allowed_app_ids: Option<Vec<Spanned<String>>>,
    pub audit_channel: Option<Spanned<String>>,
    pub response_url_prefixes: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    pub poll_interval_secs: Option<Spanned<u64>>,
    pub max_poll_interval_secs: Option<Spanned<u64>>,
    pub give_up_after_hours: Option<Spanned<u64>>,
    pub subscription_poll_secs: Option<Spanned<u64>>,
    pub max_concurrent_polls: Option<Spanned<u64>>,
    pub unknown_status_final_after_secs: Option<Spanned<u64>>,
    pub lease_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTailer {
    pub api_url: Option<Spanned<String>>,
    pub audience: Option<Spanned<String>>,
    pub timeout_secs: Option<Spanned<u64>>,
    pub max_retries: Option<Spanned<u64>>,
    pub max_requests_per_second: Option<Spanned<u64>>,
    pub max_response_bytes: Option<Spanned<u64>>,
    pub max_calls_in_flight: Option<Spanned<u64>>,
    pub max_calls_waiting: Option<Spanned<u64>>,
    pub run_url_template: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub name: Spanned<String>,
    pub account: Spanned<String>,
    pub environment: Spanned<String>,
    pub configuration_type: Spanned<String>,
    pub configuration_id: Spanned<String>,
    pub job_id: Option<Spanned<String>>,
    pub description: Option<String>,
    pub tags: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub effect: Option<Spanned<String>>,
    pub actions: Option<Vec<Spanned<String>>>,
    pub environments: Option<Vec<Spanned<String>>>,
    pub users: Option<Vec<Spanned<String>>>,
    pub usergroups: Option<Vec<Spanned<String>>>,
    pub channels: Option<Vec<Spanned<String>>>,
    pub confirm: Option<bool>,
    pub second_person: Option<bool>,
}

/// `[[expectations]]`: a channel expects a job to have succeeded by a time of day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectation {
    pub job: Spanned<String>,
    pub channel: Spanned<String>,
    pub by: Spanned<String>,
    pub time_zone: Option<Spanned<String>>,
}
