//! Tailer failing under every action the bot performs, one table of failures crossed with
//! one table of commands. Reads are retried (when retrying can help) and then answered
//! with an error naming Tailer, what went wrong and a reference that the operator's log
//! carries too; writes are never repeated blindly, and their audit entry says `failed`
//! only when Tailer certainly did nothing, `unknown` otherwise.

use std::time::Duration;

use futures::StreamExt;
use tailerbot::config::Config;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;
use tailerbot::store::AuditOutcome;

use crate::common::bot::*;
use crate::common::logs::{self, Logs};

/// The bot's per-call Tailer timeout in these tests; a slow answer is slower.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Tries of a call that may be repeated: the first and the example's three retries.
const TRIES: usize = 4;
/// Cases run side by side (each with its own bot), most of their time spent waiting.
const AT_ONCE: usize = 6;
/// A well-formed run id (the faults answer before Tailer looks it up).
const RUN: &str = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179";

/// One way Tailer fails, on every try of the action it is armed for.
#[derive(Clone, Debug)]
struct Failure {
    name: &'static str,
    kind: FaultKind,
    /// Worth trying again (and tried again, when the call may be repeated).
    retried: bool,
    /// How the user's message describes it.
    says: &'static str,
    /// Tailer certainly did not act (a refusal), so a write certainly failed.
    refused: bool,
}

fn failures() -> Vec<Failure> {
    let failure = |name, kind, retried, says, refused| Failure { name, kind, retried, says, refused };
    vec![
        failure("HTTP 500", FaultKind::Status { status: 500, message: "boom".into() }, true, "had an internal error", false),
        failure("HTTP 503", FaultKind::Status { status: 503, message: "unavailable".into() }, true, "had an internal error", false),
        failure("429 with Retry-After", FaultKind::RateLimited { retry_after_secs: 1 }, true, "asked the bot to slow down", true),
        failure("a timeout", FaultKind::Delay { millis: 3_000 }, true, "did not answer in time", false),
        failure("an HTML error page", FaultKind::Html { status: 502 }, true, "had an internal error", false),
        failure("an empty body", FaultKind::Empty, false, "gave an answer the bot cannot read", false),
        failure("truncated JSON", FaultKind::Truncated, false, "gave an answer the bot cannot read", false),
    ]
}

fn config() -> Config {
    let mut config = example_config();
    config.tailer.timeout = TIMEOUT;
    config
}

/// The reference a message gives (`ref `abcd1234``).
fn reference_in(text: &str) -> Option<String> {
    let start = text.find("ref `")? + 5;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_owned())
}

/// The `response_url` answer to a command's trigger, waited for long enough for every retry.
async fn answer_to(bot: &TestBot, trigger: &str) -> Option<SlackEvent> {
    let is_answer = |e: &SlackEvent| e.method == "response_url" && e.ts.as_deref() == Some(trigger);
    bot.slack.slack.wait_for(Duration::from_secs(40), |events| events.iter().any(is_answer)).await.into_iter().find(is_answer)
}

/// A failed check, named by its case.
fn check(failures: &mut Vec<String>, case: &str, ok: bool, what: String) {
    if !ok {
        failures.push(format!("{case}: {what}"));
    }
}

fn report(results: Vec<Vec<String>>, logs: &Logs) {
    let failed: Vec<String> = results.into_iter().flatten().collect();
    assert!(failed.is_empty(), "{} failed checks:\n{}\n--- log ---\n{}", failed.len(), failed.join("\n"), logs.text());
}

/// A read command and the Tailer action behind it.
struct Read {
    command: String,
    action: &'static str,
}

fn reads() -> Vec<Read> {
    vec![
        Read { command: format!("status iowa-prepare {RUN}"), action: "check_run_status" },
        Read { command: "last iowa-prepare".into(), action: "get_last_status" },
        Read { command: "running".into(), action: "get_by_status" },
    ]
}

async fn read_case(read: Read, failure: Failure, logs: Logs) -> Vec<String> {
    let case = format!("`{}` while Tailer answers {}", read.command, failure.name);
    let mut failed = Vec::new();
    let bot = TestBot::start_with(config(), SimOptions::default()).await;
    let tries = if failure.retried { TRIES } else { 1 };
    bot.tailer.sim.inject(Fault::new(Some(read.action), failure.kind.clone(), tries as u32));
    let (status, body) = bot.command(ANALYST, CHANNEL, &read.command).await;
    check(&mut failed, &case, status == 200 && body.is_null(), format!("answered {status} {body} instead of an empty 200"));
    let Some(answer) = answer_to(&bot, &bot.last_trigger()).await else {
        failed.push(format!("{case}: the user was never told"));
        return failed;
    };
    let text = answer.visible_text();
    check(&mut failed, &case, answer.response_type.as_deref() == Some("ephemeral"), format!("not only to the user: {answer:?}"));
    check(
        &mut failed,
        &case,
        text.contains(&format!("Tailer {}", failure.says)) && text.contains(read.action),
        format!("the message does not name Tailer, the failure and the action: {text}"),
    );
    check(
        &mut failed,
        &case,
        bot.tailer.sim.count(read.action) == tries,
        format!("{} tries, {tries} expected", bot.tailer.sim.count(read.action)),
    );
    match reference_in(&text) {
        Some(reference) => {
            let logged = logs.lines("WARN", &[&format!("reference={reference}"), "a Tailer call failed", read.action]);
            check(&mut failed, &case, !logged.is_empty(), format!("no WARN line with reference {reference} and the action"));
        }
        None => failed.push(format!("{case}: no reference in {text}")),
    }
    // Tailer is back: the same command works.
    bot.command(ANALYST, CHANNEL, &read.command).await;
    let again = answer_to(&bot, &bot.last_trigger()).await.map(|e| e.visible_text()).unwrap_or_default();
    check(&mut failed, &case, !again.contains(":warning:") && !again.is_empty(), format!("not serving afterwards: {again}"));
    failed
}

#[tokio::test]
async fn every_read_answers_each_tailer_failure_with_a_specific_error_and_a_reference_in_the_log() {
    let (_guard, logs) = logs::capture();
    let cases = reads().into_iter().flat_map(|read| failures().into_iter().map(move |f| (read.command.clone(), read.action, f)));
    let results = futures::stream::iter(cases)
        .map(|(command, action, failure)| read_case(Read { command, action }, failure, logs.clone()))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    report(results, &logs);
}

/// A write command, the Tailer action behind it, and what it does in words.
struct Write {
    command: String,
    action: &'static str,
    /// "was {done}" in the message of an unknown outcome.
    done: &'static str,
}

fn writes(run: &str) -> Vec<Write> {
    vec![
        Write { command: "launch iowa-prepare".into(), action: "launch_job", done: "launched" },
        Write { command: "disable iowa-prepare".into(), action: "set_configuration_status", done: "disabled" },
        Write { command: "enable iowa-prepare".into(), action: "set_configuration_status", done: "enabled" },
        Write { command: "reset iowa-load-workflow".into(), action: "reset_workflow_status", done: "reset" },
        Write { command: format!("mark iowa-prepare {run} CHECKED"), action: "set_run_status", done: "marked" },
    ]
}

async fn write_case(write: Write, failure: Failure, logs: Logs) -> Vec<String> {
    let case = format!("`{}` while Tailer answers {}", write.command, failure.name);
    let mut failed = Vec::new();
    // Runs do not show for a minute: a launch whose answer was lost cannot be found.
    let sim = SimOptions { invisible_after_launch: Duration::from_secs(60), ..SimOptions::default() };
    let bot = TestBot::start_with(config(), sim).await;
    let launch = write.action == "launch_job";
    // A launch is tried once whatever happens; other writes are repeatable.
    let tries = if failure.retried && !launch { TRIES } else { 1 };
    bot.tailer.sim.inject(Fault::new(Some(write.action), failure.kind.clone(), tries as u32));
    let (status, body) = bot.command(ANALYST, CHANNEL, &write.command).await;
    check(&mut failed, &case, status == 200 && text_of(&body).contains("On it"), format!("answered {status} {body}"));
    let Some(answer) = answer_to(&bot, &bot.last_trigger()).await else {
        failed.push(format!("{case}: the user was never told"));
        return failed;
    };
    let text = answer.visible_text();
    let expected = if failure.refused { AuditOutcome::Failed } else { AuditOutcome::Unknown };
    let words = if failure.refused {
        if launch { "Did not launch `".to_owned() } else { "Could not ".to_owned() }
    } else {
        format!("I could not tell whether `{}", write.command.split(' ').nth(1).unwrap_or_default())
    };
    check(&mut failed, &case, text.contains(&words), format!("expected `{words}…` in: {text}"));
    if !failure.refused {
        check(
            &mut failed,
            &case,
            text.contains(&format!("was {}", write.done)),
            format!("the message does not say what may have happened: {text}"),
        );
    }
    check(&mut failed, &case, text.contains(&format!("Tailer {}", failure.says)), format!("the message does not name the failure: {text}"));
    check(
        &mut failed,
        &case,
        bot.tailer.sim.count(write.action) == tries,
        format!("{} tries, {tries} expected", bot.tailer.sim.count(write.action)),
    );
    let reference = reference_in(&text);
    check(&mut failed, &case, reference.is_some(), format!("no reference in {text}"));
    let job = write.command.split(' ').nth(1).unwrap_or_default();
    let audit = bot.bot.store().recent_audit(Some(job), 5).await.unwrap();
    let entry = audit.iter().find(|e| Some(&e.reference) == reference.as_ref());
    check(
        &mut failed,
        &case,
        entry.is_some_and(|e| e.outcome == expected && e.tailer_answer.as_deref().is_some_and(|a| a.contains(write.action))),
        format!("audit entry {entry:?}, outcome {} expected", expected.as_str()),
    );
    if launch {
        // Whatever else happens, the launch is not sent again.
        let (_, body) = bot.command(ANALYST, CHANNEL, &write.command).await;
        check(&mut failed, &case, text_of(&body).contains("less than a minute ago"), format!("a repeat was not held back: {body}"));
        check(&mut failed, &case, bot.tailer.sim.count("launch_job") == 1, "launched twice".into());
    } else {
        // Tailer is back: the same write works (a minute later: not a double submit).
        bot.clock.advance(Duration::from_secs(61));
        bot.command(ANALYST, CHANNEL, &write.command).await;
        let again = answer_to(&bot, &bot.last_trigger()).await.map(|e| e.visible_text()).unwrap_or_default();
        check(&mut failed, &case, !again.contains(":warning:") && !again.contains(":x:"), format!("not serving afterwards: {again}"));
    }
    if let Some(reference) = &reference {
        let logged = logs.lines("WARN", &[&format!("reference={reference}"), write.action]);
        check(&mut failed, &case, !logged.is_empty(), format!("no WARN line with reference {reference} and the action"));
    }
    failed
}

#[tokio::test]
async fn every_write_answers_each_tailer_failure_without_blind_repeats_and_audits_failed_or_unknown() {
    let (_guard, logs) = logs::capture();
    // A run of iowa-prepare that exists, for `mark`.
    let probe = TestBot::start_with(config(), SimOptions::default()).await;
    let job = probe.bot.config().job("iowa-prepare").unwrap().job.clone();
    let run = probe.bot.tailer().get_last_status(&job, &Default::default()).await.unwrap()[0].run_id.to_string();
    let cases = writes(&run)
        .into_iter()
        .flat_map(|w| failures().into_iter().map(move |f| (Write { command: w.command.clone(), action: w.action, done: w.done }, f)));
    let results = futures::stream::iter(cases)
        .map(|(write, failure)| write_case(write, failure, logs.clone()))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    report(results, &logs);
}
