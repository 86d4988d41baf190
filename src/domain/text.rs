//! What the bot accepts of free text, wherever it comes from.

/// The longest command text the bot reads.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Whether `c` is a Unicode format character (general category Cf): bidirectional
/// controls (U+202A–U+202E, U+2066–U+2069), zero-width characters (U+200B–U+200F),
/// the byte-order mark (U+FEFF), soft hyphens, tags and the rest of the category. The
/// zero-width joiner of composed emoji is one of them: such an emoji is refused too.
pub fn is_format_character(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}
