//! Credentials out of what the bot shows: a URL may carry a user and password
//! (`postgres://bot:secret@db/bot`), and errors of libraries may quote URLs.

/// A URL without the credentials it may carry (`scheme://user:password@host` becomes
/// `scheme://[redacted]@host`), for messages, logs and `Debug`. Everything up to the
/// last `@` goes: a password may hold an unencoded `/`, and showing less of a URL with
/// an `@` in its path is the safe mistake. Text that holds URLs among other words is
/// redacted with [`redact_urls_in`].
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Every URL in `text` (from its scheme to the next space, quote or closing bracket)
/// redacted as [`redact_url`] does.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters just before `://`.
        let scheme_start = rest[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c))).map_or(0, |i| i + 1);
        out.push_str(&rest[..scheme_start]);
        let url_end = rest[at..]
            .find(|c: char| matches!(c, '"' | '\'' | ')' | '>' | ']' | '`') || c.is_whitespace())
            .map_or(rest.len(), |end| at + end);
        out.push_str(&redact_url(&rest[scheme_start..url_end]));
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}
