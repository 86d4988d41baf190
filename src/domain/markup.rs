//! The bot's text, as every chat surface receives it: the bot's own words with a light
//! markup (`*bold*`, `_italic_`, `` `code` ``, `:emoji:`), and everything that came from
//! outside (a person, Tailer, the configuration) marked as such by [`plain`], so that each
//! surface shows it as text however it escapes its own syntax. Links, mentions, channels
//! and dates are marked tokens too: each surface writes them its own way.
//!
//! The marks are characters of Unicode's private use area, which [`plain`] removes from
//! what it marks: foreign text cannot open or close a mark of its own.

const PLAIN_START: char = '\u{E000}';
const PLAIN_END: char = '\u{E001}';
const TOKEN_START: char = '\u{E002}';
const TOKEN_SEPARATOR: char = '\u{E003}';
const TOKEN_END: char = '\u{E004}';

fn is_mark(c: char) -> bool {
    matches!(c, PLAIN_START | PLAIN_END | TOKEN_START | TOKEN_SEPARATOR | TOKEN_END)
}

fn unmarked(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|c| !is_mark(*c))
}

/// Text from outside, shown as it is: it can neither ping, nor link, nor format.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 6);
    out.push(PLAIN_START);
    out.extend(unmarked(text));
    out.push(PLAIN_END);
    out
}

fn token(kind: &str, parts: &[&str]) -> String {
    let mut out = String::new();
    out.push(TOKEN_START);
    out.push_str(kind);
    for part in parts {
        out.push(TOKEN_SEPARATOR);
        out.extend(unmarked(part));
    }
    out.push(TOKEN_END);
    out
}

/// A link to `url` that reads `label` (the label is plain text).
pub fn link(url: &str, label: &str) -> String {
    token("link", &[url, label])
}

/// A person, shown by name where the surface can.
pub fn mention(user: impl std::fmt::Display) -> String {
    token("user", &[&user.to_string()])
}

/// A conversation, shown by name where the surface can.
pub fn channel(id: impl std::fmt::Display) -> String {
    token("channel", &[&id.to_string()])
}

/// A moment, shown in each reader's time zone where the surface can, else `fallback`.
pub fn date(unix: i64, fallback: &str) -> String {
    token("date", &[&unix.to_string(), fallback])
}

/// One piece of a marked text, for a surface to write in its own syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The bot's own words and markup.
    Markup(&'a str),
    /// Text from outside, to show as it is.
    Plain(&'a str),
    Link {
        url: &'a str,
        label: &'a str,
    },
    User(&'a str),
    Channel(&'a str),
    Date {
        unix: i64,
        fallback: &'a str,
    },
}

/// The pieces of a marked text, in order. A token that does not read (never written by
/// this module) is shown as plain text.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find([PLAIN_START, TOKEN_START]) {
        if start > 0 {
            out.push(Piece::Markup(&rest[..start]));
        }
        let opener = rest[start..].chars().next().unwrap_or(PLAIN_START);
        let body_start = start + opener.len_utf8();
        let closer = if opener == PLAIN_START { PLAIN_END } else { TOKEN_END };
        let (body, next) = match rest[body_start..].find(closer) {
            Some(end) => (&rest[body_start..body_start + end], body_start + end + closer.len_utf8()),
            None => (&rest[body_start..], rest.len()),
        };
        out.push(if opener == PLAIN_START { Piece::Plain(body) } else { read_token(body) });
        rest = &rest[next..];
    }
    if !rest.is_empty() {
        out.push(Piece::Markup(rest));
    }
    out
}

fn read_token(body: &str) -> Piece<'_> {
    let parts: Vec<&str> = body.split(TOKEN_SEPARATOR).collect();
    match parts.as_slice() {
        ["link", url, label] => Piece::Link { url, label },
        ["user", id] => Piece::User(id),
        ["channel", id] => Piece::Channel(id),
        ["date", unix, fallback] => match unix.parse() {
            Ok(unix) => Piece::Date { unix, fallback },
            Err(_) => Piece::Plain(fallback),
        },
        _ => Piece::Plain(body),
    }
}

/// The text without its marks, every piece as it reads (a link by its label, a person and
/// a channel by their ids, a date by its fallback): for logs and plain-text surfaces.
pub fn as_text(text: &str) -> String {
    pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Markup(s) | Piece::Plain(s) | Piece::User(s) | Piece::Channel(s) => s,
            Piece::Link { label, .. } => label,
            Piece::Date { fallback, .. } => fallback,
        })
        .collect()
}

/// Text from outside cut to at most `max` characters, ending with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn each_mark_reads_back_as_the_piece_it_wrote() {
        let user = UserId::parse("U0ANALYST").unwrap();
        let text = format!(
            "*Run* {} by {} in {} at {}: {}",
            plain("<!here> & co"),
            mention(&user),
            channel("C0DATA"),
            date(1_700_000_000, "2023-11-14"),
            link("https://x.test/r?a=1", "run <1>")
        );
        assert_eq!(
            pieces(&text),
            vec![
                Piece::Markup("*Run* "),
                Piece::Plain("<!here> & co"),
                Piece::Markup(" by "),
                Piece::User("U0ANALYST"),
                Piece::Markup(" in "),
                Piece::Channel("C0DATA"),
                Piece::Markup(" at "),
                Piece::Date { unix: 1_700_000_000, fallback: "2023-11-14" },
                Piece::Markup(": "),
                Piece::Link { url: "https://x.test/r?a=1", label: "run <1>" },
            ]
        );
        assert_eq!(as_text(&text), "*Run* <!here> & co by U0ANALYST in C0DATA at 2023-11-14: run <1>");
    }

    #[test]
    fn foreign_text_cannot_close_its_mark_or_open_a_token() {
        let hostile = format!("a{PLAIN_END}{TOKEN_START}user{TOKEN_SEPARATOR}U0BOSS{TOKEN_END}b");
        assert_eq!(pieces(&plain(&hostile)), vec![Piece::Plain("auserU0BOSSb")]);
        assert_eq!(pieces(&link("https://x.test", &hostile)), vec![Piece::Link { url: "https://x.test", label: "auserU0BOSSb" }]);
    }

    #[test]
    fn unmarked_text_is_the_bots_own_and_a_torn_mark_is_plain() {
        assert_eq!(pieces("*bold* `code`"), vec![Piece::Markup("*bold* `code`")]);
        assert_eq!(pieces(""), vec![]);
        assert_eq!(pieces(&format!("x{PLAIN_START}open")), vec![Piece::Markup("x"), Piece::Plain("open")]);
        assert_eq!(pieces(&format!("{TOKEN_START}what{TOKEN_END}")), vec![Piece::Plain("what")]);
    }
}
