//! `tailerbot manifest --url https://HOST`: the Slack app manifest of `manifest/`, with
//! the public URL filled in, or the Socket Mode variant that needs none, and without the
//! scopes of the optional features a workspace does not use (`--without`).

/// The template, embedded in the binary.
pub const TEMPLATE: &str = include_str!("../manifest/tailerbot.yaml");

/// Why a URL cannot go into the manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a public https URL (like https://tailerbot.example.com)")]
pub struct BadUrl(pub String);

/// A feature that needs a scope of its own, which a Slack admin may leave out when the
/// workspace does without the feature (the template marks its line `# optional: NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Optional {
    /// The chart of `history` (`files:write`); without it, `history` answers with its
    /// summary alone and says what to grant.
    History,
    /// Rules that name `usergroups` (`usergroups:read`, to read a group's members);
    /// without it, such a rule never lets anyone in.
    Usergroups,
    /// The runs of the Home tab followed in channels (`channels:read`, `groups:read`, to
    /// know which channels the reader is in); without it, the tab shows only the runs
    /// followed in the reader's conversation with the bot.
    HomeChannels,
}

impl Optional {
    /// The name that marks the feature's lines in the template.
    fn marker(self) -> &'static str {
        match self {
            Optional::History => "history",
            Optional::Usergroups => "usergroups",
            Optional::HomeChannels => "home-channels",
        }
    }
}

/// Renders the manifest for `base_url` (HTTP endpoints) or for Socket Mode, without the
/// scopes of the features in `without`.
pub fn render(base_url: Option<&str>, socket_mode: bool, without: &[Optional]) -> Result<String, BadUrl> {
    let base = match (base_url, socket_mode) {
        (Some(url), _) => {
            let url = url.trim().trim_end_matches('/');
            let host = url.strip_prefix("https://").unwrap_or_default();
            let plain = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._:/~".contains(c));
            if !plain {
                return Err(BadUrl(url.to_owned()));
            }
            url.to_owned()
        }
        (None, true) => String::new(),
        (None, false) => return Err(BadUrl(String::new())),
    };
    let mut out = String::with_capacity(TEMPLATE.len());
    for line in TEMPLATE.lines() {
        let line = match line.split_once(" # optional: ") {
            Some((_, feature)) if without.iter().any(|f| f.marker() == feature) => continue,
            Some((kept, _)) => kept,
            None => line,
        };
        match line.strip_suffix(" # http-only") {
            Some(_) if socket_mode => continue,
            Some(kept) => out.push_str(kept),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out.replace("{{BASE_URL}}", &base).replace("{{SOCKET_MODE}}", if socket_mode { "true" } else { "false" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_lands_on_each_endpoint() {
        let m = render(Some("https://bot.example.com/"), false, &[]).unwrap();
        assert!(m.contains("url: https://bot.example.com/slack/commands\n"));
        assert!(m.contains("request_url: https://bot.example.com/slack/interactions\n"));
        assert!(m.contains("request_url: https://bot.example.com/slack/events\n"));
        assert!(m.contains("socket_mode_enabled: false"));
        assert!(!m.contains("{{"));
    }

    #[test]
    fn socket_mode_needs_no_url() {
        let m = render(None, true, &[]).unwrap();
        assert!(m.contains("socket_mode_enabled: true"));
        assert!(!m.contains("url:") && !m.contains("{{"));
    }

    #[test]
    fn an_optional_feature_left_out_takes_its_scope_and_nothing_else_with_it() {
        let all = render(Some("https://bot.example.com"), false, &[]).unwrap();
        assert!(all.contains("      - files:write\n") && all.contains("      - usergroups:read\n"));
        assert!(!all.contains("# optional"), "the markers stay in the template");
        let without = render(Some("https://bot.example.com"), false, &[Optional::History]).unwrap();
        assert!(!without.contains("files:write") && without.contains("      - usergroups:read\n"));
        assert_eq!(without.lines().count() + 1, all.lines().count());
        let neither = render(None, true, &[Optional::History, Optional::Usergroups]).unwrap();
        assert!(!neither.contains("files:write") && !neither.contains("usergroups:read") && neither.contains("- chat:write\n"));
    }

    #[test]
    fn a_url_that_is_not_https_or_carries_yaml_is_refused() {
        for bad in ["http://bot.example.com", "bot.example.com", "https://", "https://x.com\n  evil: 1", "https://a b"] {
            assert!(render(Some(bad), false, &[]).is_err(), "{bad}");
        }
    }
}
