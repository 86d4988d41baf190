//! `[tailer] run_url_template`: where a person opens a run. A URL with placeholders
//! (`{account}`, `{environment}`, `{configuration_type}`, `{configuration_id}`,
//! `{job_id}`, `{run_id}`), each percent-encoded when filled in, so that a run id or a
//! `|` in a job id can neither break the URL nor Slack's `<url|text>` link.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::{Job, redact_url};

/// Everything but RFC 3986's unreserved characters is encoded: a filled-in value is
/// always one opaque piece of the URL, whichever part of it the template puts it in.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The longest template accepted: room is left for the values within Slack's limits.
pub const MAX_TEMPLATE_CHARS: usize = 1_000;

/// The longest filled-in URL put in a message; longer, the run id is shown without a
/// link (a link button's `url` takes 3,000 characters, a field's text 2,000).
pub const MAX_URL_CHARS: usize = 1_500;

/// A placeholder of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Account,
    Environment,
    ConfigurationType,
    ConfigurationId,
    JobId,
    RunId,
}

impl Field {
    const ALL: [Field; 6] =
        [Field::Account, Field::Environment, Field::ConfigurationType, Field::ConfigurationId, Field::JobId, Field::RunId];

    fn name(self) -> &'static str {
        match self {
            Field::Account => "account",
            Field::Environment => "environment",
            Field::ConfigurationType => "configuration_type",
            Field::ConfigurationId => "configuration_id",
            Field::JobId => "job_id",
            Field::RunId => "run_id",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Field),
}

/// A validated template.
#[derive(Clone, PartialEq, Eq)]
pub struct RunUrlTemplate {
    text: String,
    parts: Vec<Part>,
}

impl fmt::Debug for RunUrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RunUrlTemplate").field(&shown(&self.text)).finish()
    }
}

/// The template as errors and `Debug` show it: without credentials or a query, where
/// a page address may carry a token.
fn shown(text: &str) -> String {
    match text.find(['?', '#']) {
        Some(at) => format!("{}{}[redacted]", redact_url(&text[..at]), &text[at..at + 1]),
        None => redact_url(text),
    }
}

impl RunUrlTemplate {
    /// Refuses what could not make a working link: not http(s), no host, an unknown or
    /// unclosed placeholder, characters that would break a Slack link, an overlong text.
    pub fn parse(text: &str) -> Result<RunUrlTemplate, String> {
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(format!("is longer than {MAX_TEMPLATE_CHARS} characters"));
        }
        if !(text.starts_with("https://") || text.starts_with("http://")) {
            return Err(format!("`{}` is not an http(s) URL", shown(text)));
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '"' | '`')) {
            return Err(format!("holds {c:?}, which cannot be part of a link in Slack; percent-encode it"));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err("has a `}` without its `{`".to_owned());
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err("has a `{` without its `}`".to_owned());
            };
            let name = &after[..close];
            let Some(field) = Field::ALL.iter().copied().find(|f| f.name() == name) else {
                let known: Vec<String> = Field::ALL.iter().map(|f| format!("{{{}}}", f.name())).collect();
                return Err(format!("has the unknown placeholder `{{{name}}}`; the placeholders are {}", known.join(" ")));
            };
            parts.push(Part::Field(field));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let template = RunUrlTemplate { text: text.to_owned(), parts };
        // Filled with a plain value, it must be a URL with a host.
        let sample = template.fill(|_| Some("x")).unwrap_or_default();
        match reqwest::Url::parse(&sample) {
            // Every link would carry the credentials to everyone in the channel.
            Ok(url) if !url.username().is_empty() || url.password().is_some() => Err(format!(
                "`{}` holds a user name or password (`user:password@`): every link would show it to the channel; give the page's address without it",
                shown(text)
            )),
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(template),
            Ok(_) => Err(format!("`{}` has no host", shown(text))),
            Err(error) => Err(format!("`{}` is not a valid URL ({error})", shown(text))),
        }
    }

    /// The URL with each placeholder's value percent-encoded; `None` when a value the
    /// template needs is unknown or the URL would be too long for a message.
    pub fn fill<'a>(&self, value: impl Fn(Field) -> Option<&'a str>) -> Option<String> {
        let mut url = String::with_capacity(self.text.len() + 64);
        for part in &self.parts {
            match part {
                Part::Literal(text) => url.push_str(text),
                Part::Field(field) => match value(*field).filter(|v| !v.is_empty())? {
                    // A path segment of dots alone would climb the path: encoded too.
                    dots @ ("." | "..") => url.push_str(&dots.replace('.', "%2E")),
                    value => url.extend(utf8_percent_encode(value, VALUE)),
                },
            }
        }
        (url.len() <= MAX_URL_CHARS).then_some(url)
    }

    /// The page of a run of a catalog job.
    pub fn for_job(&self, job: &Job, run_id: &str) -> Option<String> {
        let j = &job.job;
        self.fill(|field| match field {
            Field::Account => Some(j.account.as_str()),
            Field::Environment => Some(j.environment.as_str()),
            Field::ConfigurationType => Some(j.configuration_type.as_str()),
            Field::ConfigurationId => Some(j.configuration_id.as_str()),
            Field::JobId => j.job_id.as_ref().map(|id| id.as_str()),
            Field::RunId => Some(run_id),
        })
    }

    /// The page of a run known only from what Tailer said of it.
    pub fn for_item(&self, item: &crate::tailer::RunItem) -> Option<String> {
        self.fill(|field| match field {
            Field::Account => item.account.as_deref(),
            Field::Environment => item.environment.as_deref(),
            Field::ConfigurationType => item.configuration_type.as_deref(),
            Field::ConfigurationId => item.configuration_id.as_deref(),
            Field::JobId => item.job_id.as_deref(),
            Field::RunId => Some(item.run_id.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_placeholder_is_filled_and_percent_encoded() {
        let t = RunUrlTemplate::parse(
            "https://studio.example.com/{account}/{environment}/{configuration_type}/{configuration_id}?job={job_id}&run={run_id}",
        )
        .unwrap();
        let url = t
            .fill(|f| {
                Some(match f {
                    Field::Account => "000099",
                    Field::Environment => "PROD",
                    Field::ConfigurationType => "table-to-table",
                    Field::ConfigurationId => "000099_sales daily/v2",
                    Field::JobId => "gbq-to-gbq|000099_sales",
                    Field::RunId => "20201230-113940-abc&x=<y>#z",
                })
            })
            .unwrap();
        assert_eq!(
            url,
            "https://studio.example.com/000099/PROD/table-to-table/000099_sales%20daily%2Fv2?job=gbq-to-gbq%7C000099_sales&run=20201230-113940-abc%26x%3D%3Cy%3E%23z"
        );
        assert!(!url.contains('|') && !url.contains('<') && !url.contains('>'), "nothing that breaks a Slack link: {url}");
    }

    #[test]
    fn a_value_of_dots_alone_cannot_climb_the_path() {
        let t = RunUrlTemplate::parse("https://studio.example.com/runs/{run_id}").unwrap();
        assert_eq!(t.fill(|_| Some("..")).unwrap(), "https://studio.example.com/runs/%2E%2E");
        assert_eq!(t.fill(|_| Some("a.b")).unwrap(), "https://studio.example.com/runs/a.b");
    }

    #[test]
    fn an_unknown_value_gives_no_url() {
        let t = RunUrlTemplate::parse("https://studio.example.com/{job_id}/{run_id}").unwrap();
        assert_eq!(t.fill(|f| (f == Field::RunId).then_some("r1")), None);
        assert_eq!(t.fill(|f| Some(if f == Field::JobId { "" } else { "r1" })), None, "an empty value is unknown too");
    }

    #[test]
    fn a_url_too_long_for_a_message_gives_none() {
        let t = RunUrlTemplate::parse("https://studio.example.com/{run_id}").unwrap();
        let long = "é".repeat(300); // 600 bytes, 1,800 once encoded
        assert_eq!(t.fill(|_| Some(long.as_str())), None);
        assert!(t.fill(|_| Some("r")).is_some());
    }

    #[test]
    fn what_cannot_make_a_link_is_refused() {
        for (template, says) in [
            ("ftp://studio.example.com/{run_id}", "not an http(s) URL"),
            ("studio.example.com/{run_id}", "not an http(s) URL"),
            ("https://studio.example.com/{run}", "unknown placeholder `{run}`"),
            ("https://studio.example.com/{run_id", "without its `}`"),
            ("https://studio.example.com/run_id}", "without its `{`"),
            ("https://studio.example.com/a|b/{run_id}", "'|'"),
            ("https://studio.example.com/a b/{run_id}", "' '"),
            ("https://{account}:x@/", "host"),
        ] {
            let error = RunUrlTemplate::parse(template).expect_err(template);
            assert!(error.contains(says), "{template}: {error}");
        }
        assert!(RunUrlTemplate::parse(&format!("https://s.example.com/{}", "a".repeat(MAX_TEMPLATE_CHARS))).is_err());
        // Braces-free templates are fine (one page for all runs), and so is the example.
        RunUrlTemplate::parse("https://studio.example.com/").unwrap();
        RunUrlTemplate::parse("https://studio.example.com/{account}/runs/{configuration_id}/{run_id}").unwrap();
    }

    #[test]
    fn an_address_with_a_user_or_password_is_refused_without_showing_them() {
        for text in [
            "https://user:secret@studio.example.com/{run_id}",
            "https://user@studio.example.com/{run_id}",
            "https://:secret@studio.example.com/",
        ] {
            let error = RunUrlTemplate::parse(text).unwrap_err();
            assert!(error.contains("user name or password") && !error.contains("secret"), "{text}: {error}");
        }
    }

    #[test]
    fn debug_hides_credentials_in_the_address() {
        let t = RunUrlTemplate::parse("https://studio.example.com/{run_id}?token=abc").unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("abc"), "{shown}");
        let t = RunUrlTemplate::parse("https://studio.example.com/{run_id}#token=abc").unwrap();
        assert!(!format!("{t:?}").contains("abc"));
    }
}
