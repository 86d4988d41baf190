//! Identifier newtypes. Each is built through `parse`, which says precisely what is wrong
//! with a bad value, so a `UserId` or an `Account` past the edge is always well formed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value is not a valid identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}: {expected}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

fn slack_id(value: &str, prefixes: &[char]) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some(c) if prefixes.contains(&c))
        && value.len() >= 3
        && value.len() <= 32
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn plain_token(value: &str, max: usize, extra: &[char]) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $expected:literal, |$v:ident| $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let $v = value;
                if $valid {
                    Ok($name(value.to_owned()))
                } else {
                    Err(IdError { kind: $kind, value: value.chars().take(80).collect(), expected: $expected })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A Tailer account: six digits, kept as a string (`"000099"`).
    Account, "account", "six digits, e.g. \"000099\"",
    |v| v.len() == 6 && v.chars().all(|c| c.is_ascii_digit())
);
id_type!(
    /// A Tailer environment (DEV, PREPROD, STAGING, PROD; others pass through).
    Environment, "environment", "upper-case letters, digits or `_`, e.g. \"PROD\"",
    |v| plain_token(v, 32, &['_']) && !v.chars().any(|c| c.is_ascii_lowercase())
);
id_type!(
    /// A configuration type, sent exactly as configured (`table-to-table`, `workflow`, ...).
    ConfigurationType, "configuration type", "lower-case words joined by `-`, e.g. \"table-to-table\"",
    |v| plain_token(v, 64, &['-']) && !v.chars().any(|c| c.is_ascii_uppercase())
);
id_type!(
    /// A configuration id (`000099_iowa_liquor_prepare_pda_DEV`).
    ConfigurationId, "configuration id", "letters, digits, `_`, `-` or `.`, at most 200",
    |v| plain_token(v, 200, &['_', '-', '.'])
);
id_type!(
    /// A Tailer job id (`gbq-to-gbq|<configuration_id>`, or longer for storage-to-storage).
    JobId, "job id", "non-empty, at most 500 characters, no spaces",
    |v| !v.is_empty() && v.len() <= 500 && !v.chars().any(|c| c.is_whitespace() || c.is_control())
);
id_type!(
    /// A run id (`20201230-113940-<uuid>` when launched, `20201209-<uuid>` when event-driven).
    RunId, "run id", "like 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1",
    |v| plain_token(v, 128, &['-', '_', '.', ':'])
);
id_type!(
    /// A catalog name: what people type after `/tailer launch`.
    JobName, "job name", "letters, digits, `-`, `_` or `.`, starting with a letter or digit, at most 64",
    |v| plain_token(v, 64, &['-', '_', '.']) && v.starts_with(|c: char| c.is_ascii_alphanumeric())
);
id_type!(
    /// A Slack workspace id (`T...`).
    TeamId, "Slack team id", "`T` followed by upper-case letters and digits",
    |v| slack_id(v, &['T', 'E'])
);
id_type!(
    /// A Slack app id (`A...`).
    AppId, "Slack app id", "`A` followed by upper-case letters and digits",
    |v| slack_id(v, &['A'])
);
id_type!(
    /// A Slack user id (`U...` or `W...`).
    UserId, "Slack user id", "`U` or `W` followed by upper-case letters and digits",
    |v| slack_id(v, &['U', 'W'])
);
id_type!(
    /// A Slack channel id (`C...`, `G...` or `D...`).
    ChannelId, "Slack channel id", "`C`, `G` or `D` followed by upper-case letters and digits",
    |v| slack_id(v, &['C', 'G', 'D'])
);
id_type!(
    /// A Slack user group id (`S...`).
    UserGroupId, "Slack user group id", "`S` followed by upper-case letters and digits",
    |v| slack_id(v, &['S'])
);

impl RunId {
    /// The launch time encoded in a launched run's id (`YYYYMMDD-HHMMSS-...`), if any.
    pub fn launched_at(&self) -> Option<chrono::NaiveDateTime> {
        let stamp = self.0.get(..15)?;
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_six_digits() {
        assert!(Account::parse("000099").is_ok());
        assert!(Account::parse("99").is_err());
        assert!(Account::parse("00009a").is_err());
    }

    #[test]
    fn slack_ids_need_their_prefix() {
        assert!(UserId::parse("U2147483697").is_ok());
        assert!(UserId::parse("C2147483705").is_err());
        assert!(ChannelId::parse("C2147483705").is_ok());
        assert!(UserGroupId::parse("S0614TZR7").is_ok());
        assert!(TeamId::parse("T0001").is_ok());
        assert!(AppId::parse("a123").is_err());
    }

    #[test]
    fn both_documented_run_id_shapes_parse() {
        let launched = RunId::parse("20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1").unwrap();
        assert_eq!(launched.launched_at().unwrap().to_string(), "2020-12-30 11:39:40");
        let event = RunId::parse("20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469").unwrap();
        assert!(event.launched_at().is_none());
        assert!(RunId::parse("20201209 <!channel>").is_err());
    }

    #[test]
    fn an_error_names_the_kind_and_the_expected_shape() {
        let err = Environment::parse("prod").unwrap_err();
        assert_eq!(err.kind, "environment");
        assert!(err.to_string().contains("upper-case"));
    }

    #[test]
    fn job_ids_may_carry_templates_and_pipes() {
        assert!(JobId::parse("storage-to-storage|000099|x|DEV|stores-{{FD_DATE}}.csv").is_ok());
        assert!(JobId::parse("a b").is_err());
    }
}
