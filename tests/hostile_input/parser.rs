//! The command parser on any text: it always answers, and its error (escaped, as the bot
//! shows it) fits one section, quotes nothing raw and names the verb when it knew it.

use proptest::prelude::*;
use tailerbot::commands::writes::Write;
use tailerbot::commands::{self, Command};
use tailerbot::domain::Action;
use tailerbot::domain::markup::plain;
use tailerbot::slack::blocks::{MAX_SECTION_TEXT, mrkdwn};
use tailerbot::slack::payload::MAX_TEXT_CHARS;

use super::slack_rules::markup_problem;
use super::strategies::{hostile_text, word};

/// A verb (sometimes in odd case) followed by hostile words: reaches every branch of the
/// grammar, where purely random text mostly stops at "not a command I know".
fn command_text() -> impl Strategy<Value = String> {
    let verb = prop_oneof![
        prop::sample::select(Action::ALL.map(Action::name).to_vec()).prop_map(str::to_owned),
        prop::sample::select(Action::ALL.map(Action::name).to_vec()).prop_map(str::to_uppercase),
        word(),
    ];
    (verb, prop::collection::vec(word(), 0..8), prop::sample::select(vec![" ", "  ", "\t", "\n", "\u{a0}"]))
        .prop_map(|(verb, words, gap)| std::iter::once(verb).chain(words).collect::<Vec<_>>().join(gap))
}

/// What the bot does with a parse error: the explanation, marked as plain text, in a
/// note, as Slack receives it.
fn shown(error: &commands::UsageError) -> String {
    mrkdwn(&plain(&error.explain()))
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match commands::parse(text) {
        Ok(command) => {
            // A command only comes out of text the bot reads in full.
            prop_assert!(text.chars().count() <= MAX_TEXT_CHARS);
            if let Command::Write(Write::Disable { reason: Some(reason), .. }) = &command {
                prop_assert!(reason.chars().count() <= commands::REASON_MAX_CHARS);
            }
            // Free text kept in a command reaches the audit trail, the logs and Tailer.
            let carried = match &command {
                Command::Jobs { filter: Some(text) } | Command::Write(Write::Disable { reason: Some(text), .. }) => Some(text),
                _ => None,
            };
            prop_assert!(!carried.is_some_and(|t| t.chars().any(char::is_control)), "a control character kept in {command:?}");
        }
        Err(error) => {
            let note = shown(&error);
            prop_assert!(note.chars().count() <= MAX_SECTION_TEXT, "the explanation is cut by Slack: {} chars", note.chars().count());
            prop_assert!(markup_problem(&note, &[]).is_none(), "{:?}", markup_problem(&note, &[]));
            prop_assert!(!error.problem.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(200), ..ProptestConfig::default() })]

    #[test]
    fn the_parser_answers_any_text_with_a_command_or_an_explanation_that_fits_a_section(text in hostile_text(5000)) {
        check(&text)?;
    }

    #[test]
    fn the_parser_answers_any_verb_with_hostile_arguments(text in command_text()) {
        check(&text)?;
    }
}

#[test]
fn text_longer_than_the_bot_reads_is_refused_whatever_it_says() {
    let long = format!("launch iowa-prepare {}", "x ".repeat(MAX_TEXT_CHARS));
    let error = commands::parse(&long).unwrap_err();
    assert!(error.problem.contains("longer than"), "{error:?}");
}
