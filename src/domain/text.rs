//! What the bot accepts of free text, wherever it comes from.

/// The longest command text the bot reads.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Whether `c` is a Unicode format character (general category Cf): bidirectional
/// controls (U+202A–U+202E, U+2066–U+2069), zero-width characters (U+200B–U+200F),
/// the byte-order mark (U+FEFF), soft hyphens, tags and the rest of the category. The
/// zero-width joiner of composed emoji is one of them: such an emoji is refused too.
pub fn is_format_character(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // No ASCII character is one: most text is decided without the table (the lookup was
    // the bot's busiest function of its own under a load of commands).
    !c.is_ascii() && c.general_category() == GeneralCategory::Format
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_characters_are_found_and_no_ascii_character_is_one() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in '\0'..='\u{7f}' {
            assert_ne!(c.general_category(), GeneralCategory::Format, "{c:?}");
            assert!(!is_format_character(c));
        }
        for c in ['\u{200b}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{ad}', '\u{e0041}'] {
            assert!(is_format_character(c), "{c:?}");
        }
        assert!(!is_format_character('é') && !is_format_character('😀'));
    }
}
