//! The parser read backwards: any valid command, written out as a person would type it
//! (by a writer of this test's own, from the documented grammar), parses back to the
//! same `Command`.

use std::time::Duration;

use chrono::NaiveDate;
use proptest::prelude::*;
use tailerbot::commands::writes::Write;
use tailerbot::commands::{Command, SubscriptionFilter, Target, parse};
use tailerbot::domain::{JobName, RunId};
use tailerbot::tailer::RunStatus;

/// Words the grammar gives a meaning of their own after a verb.
const KEYWORDS: &[&str] = &["all", "for", "failures"];

fn job() -> impl Strategy<Value = JobName> {
    "[a-z][a-z0-9-]{0,20}[a-z0-9]"
        .prop_filter("not a keyword", |n| !KEYWORDS.contains(&n.as_str()))
        .prop_map(|n| JobName::parse(&n).unwrap())
}

fn run() -> impl Strategy<Value = RunId> {
    (2020u32..2031, 1u32..13, 1u32..29, 0u32..240_000, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .prop_map(|(y, m, d, t, uuid)| RunId::parse(&format!("{y}{m:02}{d:02}-{t:06}-{uuid}")).unwrap())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (2020i32..2031, 1u32..13, 1u32..29).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn status() -> impl Strategy<Value = RunStatus> {
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

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
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
}
