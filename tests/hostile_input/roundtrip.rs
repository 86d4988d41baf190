//! The parser read backwards: any valid command, written out as a person would type it
//! (by a writer of this test's own, from the documented grammar), parses back to the
//! same `Command`. A button's action id and value read back as the same press, and
//! whatever a click carries is a press that reads back as itself, or a named error.

use std::time::Duration;

use chrono::NaiveDate;
use proptest::prelude::*;
use tailerbot::commands::digest::DigestAsk;
use tailerbot::commands::writes::Write;
use tailerbot::commands::{Command, SubscriptionFilter, Target, parse};
use tailerbot::domain::{CardButton, JobName, Press, RunId, Schedule};
use tailerbot::tailer::RunStatus;

/// Words the grammar gives a meaning of their own after a verb.
const KEYWORDS: &[&str] = &["all", "for", "failures"];

pub(crate) fn job() -> impl Strategy<Value = JobName> {
    "[a-z][a-z0-9-]{0,20}[a-z0-9]"
        .prop_filter("not a keyword", |n| !KEYWORDS.contains(&n.as_str()))
        .prop_map(|n| JobName::parse(&n).unwrap())
}

pub(crate) fn run() -> impl Strategy<Value = RunId> {
    (2020u32..2031, 1u32..13, 1u32..29, 0u32..240_000, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .prop_map(|(y, m, d, t, uuid)| RunId::parse(&format!("{y}{m:02}{d:02}-{t:06}-{uuid}")).unwrap())
}

pub(crate) fn date() -> impl Strategy<Value = NaiveDate> {
    (2020i32..2031, 1u32..13, 1u32..29).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

pub(crate) fn status() -> impl Strategy<Value = RunStatus> {
    prop::sample::select(vec![RunStatus::Success, RunStatus::Failed, RunStatus::Running, RunStatus::NoMatch, RunStatus::Checked])
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![job().prop_map(Target::Job), "[a-z][a-z0-9-]{0,15}".prop_map(Target::Tag)]
}

/// From a minute to thirty days, in whole minutes.
fn duration() -> impl Strategy<Value = Duration> {
    (1u64..=30 * 24 * 60).prop_map(|m| Duration::from_secs(m * 60))
}

fn reason() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9()#.,'-]{1,12}", 1..6)
        .prop_filter("not taken for `for`", |w| !w[0].eq_ignore_ascii_case("for"))
        .prop_map(|w| w.join(" "))
}

/// A time of day in a zone, of those people use.
pub(crate) fn schedule() -> impl Strategy<Value = Schedule> {
    let zones = vec!["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Etc/GMT-14"];
    (0u32..24, 0u32..60, prop::sample::select(zones))
        .prop_map(|(h, m, zone)| Schedule::parse(&format!("{h:02}:{m:02}"), Some(zone)).unwrap())
}

pub(crate) fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (job(), schedule()).prop_map(|(job, schedule)| Command::Expect { job, schedule }),
        job().prop_map(|job| Command::Unexpect { job }),
        prop_oneof![schedule().prop_map(DigestAsk::At), Just(DigestAsk::Off), Just(DigestAsk::Show)].prop_map(Command::Digest),
        (job(), 1u32..=100).prop_map(|(job, limit)| Command::History { job, limit }),
        (job(), prop::option::of(date())).prop_map(|(job, execution_date)| Command::Write(Write::Launch { job, execution_date })),
        (prop::option::of(job()), run()).prop_map(|(job, run)| Command::Status { job, run }),
        job().prop_map(|job| Command::Latest { job }),
        (job(), 1u32..=50, prop::option::of(status()), prop::option::of(date()))
            .prop_map(|(job, limit, status, execution_date)| Command::Last { job, limit, status, execution_date }),
        (prop::option::of(job()), run()).prop_map(|(job, run)| Command::Watch { job, run }),
        run().prop_map(|run| Command::Unwatch { run }),
        (prop_oneof![target(), Just(Target::All)], prop_oneof![Just(SubscriptionFilter::All), Just(SubscriptionFilter::Failures)])
            .prop_map(|(target, filter)| Command::Subscribe { target, filter }),
        (target(), prop::option::of(duration()), prop::option::of(reason()))
            .prop_map(|(target, duration, reason)| Command::Write(Write::Disable { target, duration, reason })),
        target().prop_map(|target| Command::Write(Write::Enable { target })),
        job().prop_map(|job| Command::Write(Write::Reset { job })),
        (job(), run(), status()).prop_map(|(job, run, status)| Command::Write(Write::Mark { job, run, status })),
        prop::option::of(job()).prop_map(|job| Command::Audit { job }),
    ]
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Job(job) => job.to_string(),
        Target::Tag(tag) => format!("tag:{tag}"),
        Target::All => "all".into(),
    }
}

/// A duration as people write it: `90m`, `2h`, `3d`.
fn duration_text(d: Duration) -> String {
    let minutes = d.as_secs() / 60;
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// `7:05 Europe/Paris` (one digit for the hour is taken too), or `07:05` alone for UTC.
fn schedule_text(s: &Schedule) -> String {
    let at = s.at.format("%H:%M").to_string();
    match s.tz.name() {
        "UTC" => at,
        zone => format!("{} {zone}", at.strip_prefix('0').unwrap_or(&at)),
    }
}

fn press() -> impl Strategy<Value = Press> {
    let card = prop::sample::select(vec![CardButton::LaunchAgain, CardButton::MarkChecked, CardButton::DisableHour]);
    prop_oneof![
        "[a-z0-9-]{1,40}".prop_map(|confirmation| Press::Confirm { confirmation }),
        "[a-z0-9-]{1,40}".prop_map(|confirmation| Press::Cancel { confirmation }),
        (job(), run(), prop::option::of(date())).prop_map(|(job, run, execution_date)| Press::LaunchAgain { job, run, execution_date }),
        (job(), run()).prop_map(|(job, run)| Press::MarkChecked { job, run }),
        (job(), run()).prop_map(|(job, run)| Press::DisableHour { job, run }),
        (card, prop::option::of(job())).prop_map(|(card, job)| Press::OlderCard { card, job }),
        Just(Press::HomeLaunch),
        (job(), prop::option::of(date())).prop_map(|(job, execution_date)| Press::EnableAndLaunch { job, execution_date }),
        (job(), prop::option::of(date())).prop_map(|(job, execution_date)| Press::LaunchAnyway { job, execution_date }),
        target().prop_map(|t| Press::Enable { target: target_text(&t) }),
        Just(Press::OpenInTailer),
        job().prop_map(|job| Press::ExpectLaunch { job }),
        job().prop_map(|job| Press::ExpectLast { job }),
        (job(), date()).prop_map(|(job, day)| Press::ExpectMute { job, day }),
    ]
}

/// The command as a person types it.
fn write(command: &Command) -> String {
    let opt = |o: Option<String>| o.map(|s| format!(" {s}")).unwrap_or_default();
    match command {
        Command::Write(Write::Launch { job, execution_date }) => format!("launch {job}{}", opt(execution_date.map(|d| d.to_string()))),
        Command::Status { job, run } => format!("status{} {run}", opt(job.as_ref().map(ToString::to_string))),
        Command::Latest { job } => format!("status {job}"),
        Command::Last { job, limit, status, execution_date } => {
            format!("last {job} {limit}{}{}", opt(status.as_ref().map(ToString::to_string)), opt(execution_date.map(|d| d.to_string())))
        }
        Command::Watch { job, run } => format!("watch{} {run}", opt(job.as_ref().map(ToString::to_string))),
        Command::Unwatch { run } => format!("unwatch {run}"),
        Command::Subscribe { target, filter } => format!("subscribe {} {}", target_text(target), filter.as_str()),
        Command::Write(Write::Disable { target, duration, reason }) => {
            format!("disable {}{}{}", target_text(target), opt(duration.map(|d| format!("for {}", duration_text(d)))), opt(reason.clone()))
        }
        Command::Write(Write::Enable { target }) => format!("enable {}", target_text(target)),
        Command::Write(Write::Reset { job }) => format!("reset {job}"),
        Command::Write(Write::Mark { job, run, status }) => format!("mark {job} {run} {status}"),
        Command::Audit { job } => format!("audit{}", opt(job.as_ref().map(ToString::to_string))),
        Command::Expect { job, schedule } => format!("expect {job} by {}", schedule_text(schedule)),
        Command::Unexpect { job } => format!("unexpect {job}"),
        Command::Digest(DigestAsk::At(schedule)) => format!("digest at {}", schedule_text(schedule)),
        Command::Digest(DigestAsk::Off) => "digest off".into(),
        Command::Digest(DigestAsk::Show) => "digest".into(),
        Command::History { job, limit } => format!("history {job} {limit}"),
        other => unreachable!("not generated: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(300), ..ProptestConfig::default() })]

    #[test]
    fn any_valid_command_written_out_parses_back_to_itself(command in command()) {
        let text = write(&command);
        prop_assert_eq!(parse(&text), Ok(command), "{}", text);
    }

    /// What the bot itself writes for a command (a confirmation's "type this instead",
    /// the audit trail, a plan kept across a restart) is read back as the same command.
    #[test]
    fn the_text_the_bot_writes_for_a_command_parses_back_to_it(command in command()) {
        let text = command.to_string();
        prop_assert_eq!(parse(&text), Ok(command), "{}", text);
    }

    /// A write kept in the store comes back as the same typed command.
    #[test]
    fn a_stored_plan_comes_back_as_its_command(command in command()) {
        let Command::Write(command) = command else { return Ok(()) };
        let plan = tailerbot::commands::writes::Plan { command, jobs: vec!["sales-daily".into()], then: None };
        prop_assert_eq!(tailerbot::commands::writes::Plan::from_json(&plan.to_json()), Ok(plan));
    }

    #[test]
    fn a_button_reads_back_as_the_press_it_was_made_for(press in press()) {
        let (action_id, value) = press.encode();
        prop_assert_eq!(Press::decode(&action_id, &value), Ok(press), "{} {}", action_id, value);
    }

    /// A click may carry anything: it is a press that writes and reads back as itself, or
    /// a named error; never a panic.
    #[test]
    fn whatever_a_click_carries_is_a_press_that_reads_back_as_itself_or_a_named_error(
        action_id in prop_oneof!["[a-z_:]{0,30}", prop::sample::select(vec![
            "confirm", "cancel", "launch_again", "mark_checked", "disable_hour", "home_launch", "enable_and_launch",
            "launch_anyway", "enable", "enable:sales", "open_in_tailer", "expect_launch", "expect_last", "expect_mute",
        ]).prop_map(str::to_owned)],
        value in prop_oneof![".{0,80}", "[a-z0-9 -]{0,60}"],
    ) {
        match Press::decode(&action_id, &value) {
            Ok(press) => {
                let (id, again) = press.encode();
                prop_assert_eq!(Press::decode(&id, &again), Ok(press), "{} {:?}", action_id, value);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}
