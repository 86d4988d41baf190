//! Table tests of the grammar: each line is a text and what it must parse into, or the
//! words its error must contain.

use super::*;
use crate::commands::writes::Write;

const RUN: &str = "20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1";

fn job(name: &str) -> JobName {
    JobName::parse(name).unwrap()
}

fn run() -> RunId {
    RunId::parse(RUN).unwrap()
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[test]
fn valid_commands_parse_into_their_typed_form() {
    let cases: Vec<(String, Command)> = vec![
        ("".into(), Command::Help(None)),
        ("   ".into(), Command::Help(None)),
        ("help".into(), Command::Help(None)),
        ("HELP Launch".into(), Command::Help(Some(Action::Launch))),
        ("jobs".into(), Command::Jobs { filter: None }),
        ("jobs iowa  liquor".into(), Command::Jobs { filter: Some("iowa liquor".into()) }),
        ("launch iowa-prepare".into(), Command::Write(Write::Launch { job: job("iowa-prepare"), execution_date: None })),
        (
            "launch iowa-prepare 2024-09-18".into(),
            Command::Write(Write::Launch { job: job("iowa-prepare"), execution_date: Some(day("2024-09-18")) }),
        ),
        (format!("status {RUN}"), Command::Status { job: None, run: run() }),
        (format!("status sales-daily {RUN}"), Command::Status { job: Some(job("sales-daily")), run: run() }),
        ("status sales-daily".into(), Command::Latest { job: job("sales-daily") }),
        ("last sales-daily".into(), Command::Last { job: job("sales-daily"), limit: 5, status: None, execution_date: None }),
        (
            "last sales-daily failed 2024-09-18 10".into(),
            Command::Last { job: job("sales-daily"), limit: 10, status: Some(RunStatus::Failed), execution_date: Some(day("2024-09-18")) },
        ),
        ("running".into(), Command::Running { configuration_type: None }),
        (
            "running table-to-table".into(),
            Command::Running { configuration_type: Some(ConfigurationType::parse("table-to-table").unwrap()) },
        ),
        (format!("watch sales-daily {RUN}"), Command::Watch { job: Some(job("sales-daily")), run: run() }),
        (format!("watch {RUN}"), Command::Watch { job: None, run: run() }),
        (format!("unwatch {RUN}"), Command::Unwatch { run: run() }),
        ("subscribe sales-daily".into(), Command::Subscribe { target: Target::Job(job("sales-daily")), filter: SubscriptionFilter::All }),
        (
            "subscribe tag:daily failures".into(),
            Command::Subscribe { target: Target::Tag("daily".into()), filter: SubscriptionFilter::Failures },
        ),
        ("subscribe all".into(), Command::Subscribe { target: Target::All, filter: SubscriptionFilter::All }),
        ("unsubscribe tag:daily".into(), Command::Unsubscribe { target: Target::Tag("daily".into()) }),
        ("subscriptions".into(), Command::Subscriptions),
        (
            "disable sales-daily".into(),
            Command::Write(Write::Disable { target: Target::Job(job("sales-daily")), duration: None, reason: None }),
        ),
        (
            "disable tag:daily for 2h source table <late> & broken".into(),
            Command::Write(Write::Disable {
                target: Target::Tag("daily".into()),
                duration: Some(Duration::from_secs(7200)),
                reason: Some("source table <late> & broken".into()),
            }),
        ),
        (
            "disable sales-daily waiting for the vendor".into(),
            Command::Write(Write::Disable {
                target: Target::Job(job("sales-daily")),
                duration: None,
                reason: Some("waiting for the vendor".into()),
            }),
        ),
        ("enable tag:daily".into(), Command::Write(Write::Enable { target: Target::Tag("daily".into()) })),
        ("reset iowa-load-workflow".into(), Command::Write(Write::Reset { job: job("iowa-load-workflow") })),
        (
            format!("mark sales-daily {RUN} checked"),
            Command::Write(Write::Mark { job: job("sales-daily"), run: run(), status: RunStatus::Checked }),
        ),
        ("audit".into(), Command::Audit { job: None }),
        ("audit sales-daily".into(), Command::Audit { job: Some(job("sales-daily")) }),
        ("doctor".into(), Command::Doctor),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(&text), Ok(expected), "{text}");
    }
}

#[test]
fn mistakes_say_what_is_wrong_and_show_the_usage() {
    let cases: Vec<(String, Option<Action>, &str)> = vec![
        ("lanch iowa".into(), None, "Did you mean `launch`?"),
        ("frobnicate".into(), None, "not a command I know"),
        ("help me".into(), Some(Action::Help), "`me` is not a command"),
        ("launch".into(), Some(Action::Launch), "needs a job name"),
        ("launch iowa-prepare yesterday".into(), Some(Action::Launch), "not a date"),
        ("launch iowa-prepare 2024-02-30".into(), Some(Action::Launch), "`2024-02-30` is not a real date"),
        ("last iowa-prepare 2024-02-30".into(), Some(Action::Last), "`2024-02-30` is not a real date"),
        ("disable tag:".into(), Some(Action::Disable), "`tag:` needs a tag name"),
        ("launch iowa-prepare 2024-09-18 now".into(), Some(Action::Launch), "did not expect `now`"),
        ("launch <!channel>".into(), Some(Action::Launch), "not a job name"),
        ("status".into(), Some(Action::Status), "`status <job>` shows its latest run"),
        ("status <!channel>".into(), Some(Action::Status), "not a job name"),
        ("last".into(), Some(Action::Last), "needs a job name"),
        ("last sales-daily 0".into(), Some(Action::Last), "between 1 and 50"),
        ("last sales-daily 51".into(), Some(Action::Last), "between 1 and 50"),
        ("last sales-daily 3 4".into(), Some(Action::Last), "given twice"),
        ("last sales-daily PAUSED".into(), Some(Action::Last), "neither a number"),
        ("running Table".into(), Some(Action::Running), "configuration type"),
        ("watch sales-daily".into(), Some(Action::Watch), "needs a run id"),
        ("subscribe".into(), Some(Action::Subscribe), "needs a job name or `tag:<tag>`"),
        ("subscribe tag:daily sometimes".into(), Some(Action::Subscribe), "neither `failures` nor `all`"),
        ("subscribe tag:".into(), Some(Action::Subscribe), "`tag:` needs a tag name"),
        ("subscriptions now".into(), Some(Action::Subscriptions), "did not expect"),
        ("disable all".into(), Some(Action::Disable), "`all` is not accepted"),
        ("disable sales-daily for".into(), Some(Action::Disable), "needs a duration"),
        ("disable sales-daily for ever".into(), Some(Action::Disable), "not a duration"),
        ("disable sales-daily for 10s".into(), Some(Action::Disable), "between 1 minute and 30 days"),
        ("disable sales-daily for 31d".into(), Some(Action::Disable), "between 1 minute and 30 days"),
        (format!("disable sales-daily {}", "x".repeat(501)), Some(Action::Disable), "longer than 500"),
        ("enable".into(), Some(Action::Enable), "needs a job name"),
        ("reset".into(), Some(Action::Reset), "needs a job name"),
        (format!("mark sales-daily {RUN}"), Some(Action::Mark), "needs a status"),
        (format!("mark sales-daily {RUN} WAITING"), Some(Action::Mark), "cannot be set"),
        ("doctor please".into(), Some(Action::Doctor), "did not expect `please`"),
        ("disable sales-daily late\u{0}feed".into(), None, "control character (U+0000)"),
        ("disable sales-daily \u{1b}[2Jgone".into(), None, "control character (U+001B)"),
        ("jobs iowa\u{9b}".into(), None, "control character (U+009B)"),
    ];
    for (text, verb, expected) in cases {
        let error = parse(&text).unwrap_err();
        assert_eq!(error.verb, verb, "{text}");
        let explained = error.explain();
        assert!(explained.contains(expected), "{text}: {explained}");
        match verb {
            Some(action) => assert!(explained.contains(&format!("Usage: `/tailer {}", action.name())), "{explained}"),
            None => assert!(explained.contains("/tailer help"), "{explained}"),
        }
    }
}

#[test]
fn every_example_of_the_help_parses_into_its_own_verb() {
    for verb in verbs() {
        let command = parse(verb.example).unwrap_or_else(|e| panic!("{}: {}", verb.example, e.explain()));
        assert_eq!(command.action(), verb.action);
    }
}

#[test]
fn every_action_is_declared_once_by_one_family_with_its_own_usage_and_example() {
    let declared: Vec<&Verb> = verbs().collect();
    assert_eq!(declared.len(), Action::ALL.len());
    for action in Action::ALL {
        let matching: Vec<_> = declared.iter().filter(|v| v.action == action).collect();
        assert_eq!(matching.len(), 1, "{action}");
        assert!(matching[0].usage.starts_with(action.name()), "{action}");
        assert!(matching[0].example.starts_with(action.name()), "{action}");
    }
}

#[test]
fn every_parsed_command_reads_back_from_its_own_text() {
    for verb in verbs() {
        let command = parse(verb.example).unwrap();
        assert_eq!(parse(&command.to_string()).unwrap(), command, "{}", verb.example);
    }
}

#[test]
fn the_help_lists_every_verb() {
    let lines = help_lines();
    assert_eq!(lines.len(), Action::ALL.len());
    assert!(help_for(Action::Disable).contains("for <duration>"));
}

#[test]
fn long_garbage_is_cut_short_in_the_message() {
    let error = parse(&format!("launch {}", "é".repeat(5000))).unwrap_err();
    assert!(error.problem.chars().count() < 200, "{}", error.problem);
}

#[test]
fn invisible_format_characters_are_refused_and_named() {
    let listed = ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'];
    let zero_width = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{FEFF}'];
    // Others of category Cf: soft hyphen, Arabic letter mark, a tag character, word joiner.
    let others = ['\u{00AD}', '\u{061C}', '\u{E0041}', '\u{2060}'];
    for c in listed.iter().chain(&zero_width).chain(&others) {
        let text = format!("disable sales-daily for 1h vendor {c}late");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains(&format!("U+{:04X}", u32::from(*c))), "{error}");
        assert!(error.contains("invisible formatting character"), "{error}");
    }
    assert!(parse("disable sales-daily for 1h \u{202E}etal rodnev").unwrap_err().to_string().contains("right-to-left override"));
    // What people do type stays accepted: accents, other scripts, emoji without joiners.
    assert!(parse("disable sales-daily for 1h fournisseur en retard, données 日本 🙂").is_ok());
}
