//! Generators of hostile input: text mixing Slack markup (`<!channel>`, `<@U...>`, links,
//! escapes), control characters, emoji and very long runs; words that look almost like
//! job names, run ids, dates, numbers and durations.

use proptest::prelude::*;

/// Pieces that break careless escaping, truncation or splitting.
const FRAGMENTS: &[&str] = &[
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0LEAD>",
    "<@W123ABC|boss>",
    "<#C0DATA|data>",
    "<!subteam^S0ONCALL>",
    "<https://evil.example|click here>",
    "<mailto:a@b.c>",
    "&",
    "&amp;",
    "&lt;",
    "&gt;",
    "&lt;!channel&gt;",
    "&#60;",
    "<",
    ">",
    "*bold*",
    "_",
    "`",
    "```",
    "~",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "\u{7}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{200b}",
    "\u{2028}",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    "é",
    "👍🏽",
    "👩‍👩‍👧",
    "…",
    "%",
    "%00",
    "+",
    "=",
    "tag:",
    "for",
    " ",
];

/// One piece: a fragment, arbitrary characters, or a long run of one character.
pub fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        3 => prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => (prop::sample::select(vec!['a', '&', '<', '>', 'é', '👍', ' ', '`']), 1usize..3500)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// Text of up to `max` characters built from hostile pieces.
pub fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(move |pieces| pieces.concat().chars().take(max).collect())
}

/// A short hostile text (a name, a status, an environment as Tailer might answer it).
pub fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..5).prop_map(|pieces| pieces.concat()),
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
    ]
}

/// One word of a command, close to what the grammar accepts.
pub fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9._-]{0,70}",
        "tag:[a-z0-9._-]{0,70}",
        "2[0-9]{7}-[0-9]{6}-[0-9a-f-]{0,130}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{1,12}",
        "-?[0-9]{1,25}[smhdwy]",
        prop::sample::select(vec!["for", "all", "failures", "SUCCESS", "failed", "CHECKED", "Other", "tag:", "-", "0", "51"])
            .prop_map(str::to_owned),
        fragment(),
    ]
}
