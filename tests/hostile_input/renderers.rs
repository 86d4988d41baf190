//! Every renderer on hostile data: job descriptions and tags from the catalog, run ids,
//! statuses, environments and dates as Tailer might answer them, reasons and filters as
//! people type them. What comes out stays within Slack's limits and its only markup is
//! the bot's own (mentions of the people involved, dates).

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::Value;
use tailerbot::chat::{Button, Confirm, Message};
use tailerbot::commands::Target;
use tailerbot::commands::writes::Plan;
use tailerbot::commands::writes::Write;
use tailerbot::config::{Job, RunUrlTemplate};
use tailerbot::domain::Press;
use tailerbot::domain::markup::plain;
use tailerbot::domain::{Account, Action, ConfigurationId, ConfigurationType, Environment, JobId, JobName, RunId};
use tailerbot::messages as render;
use tailerbot::messages::{Links, cards};
use tailerbot::outbox::OutboxMessage;
use tailerbot::slack::blocks::{self, BlockKit, escape, truncate};
use tailerbot::store::{AuditEntry, AuditOutcome, CardRow};
use tailerbot::tailer::{JobRef, RunItem, RunStatus};
use tailerbot::watch::thread_reply;

use super::slack_rules::{RUN_PAGES, check_message, limit_problems, markup_problem};
use super::strategies::{hostile_text, short_text};

/// The people a message may mention: those the generated data names.
const PEOPLE: &[&str] = &["U0LEAD", "U0ANALYST", "W0ONCALL"];

fn people() -> Vec<String> {
    PEOPLE.iter().map(|p| (*p).to_owned()).collect()
}

fn job() -> impl Strategy<Value = Job> {
    (
        "[a-z0-9][a-z0-9._-]{0,63}",
        "[A-Z0-9_]{1,32}",
        "[a-z0-9-]{1,64}",
        "[A-Za-z0-9_.-]{1,200}",
        prop::option::of(hostile_text(3000)),
        prop::collection::vec(short_text(), 0..6),
    )
        .prop_map(|(name, environment, configuration_type, configuration_id, description, tags)| Job {
            name: JobName::parse(&name).unwrap(),
            job: JobRef {
                account: Account::parse("000099").unwrap(),
                environment: Environment::parse(&environment).unwrap(),
                configuration_type: ConfigurationType::parse(&configuration_type).unwrap(),
                configuration_id: ConfigurationId::parse(&configuration_id).unwrap(),
                job_id: Some(JobId::parse(&format!("gbq-to-gbq|{configuration_id}")).unwrap()),
            },
            description,
            tags,
        })
}

fn status() -> impl Strategy<Value = RunStatus> {
    prop_oneof![
        prop::sample::select(vec!["WAITING", "RUNNING", "SUCCESS", "FAILED", "CHECKED", "NO_MATCH", "DEACTIVATED"]).prop_map(str::to_owned),
        short_text(),
        hostile_text(500),
    ]
    .prop_map(|s| RunStatus::parse(&s))
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        1_500_000_000i64..2_000_000_000,
        DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
        Just(DateTime::<Utc>::MAX_UTC.timestamp()),
    ]
    .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![(0u64..200_000).prop_map(Duration::from_secs), any::<u64>().prop_map(Duration::from_secs), Just(Duration::MAX)]
}

fn foreign() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![short_text(), hostile_text(400)])
}

fn item() -> impl Strategy<Value = RunItem> {
    (
        "[A-Za-z0-9_.:-]{1,128}",
        status(),
        (foreign(), foreign(), foreign(), foreign()),
        prop::option::of(duration()),
        prop::option::of(time()),
        prop::option::of(time()),
    )
        .prop_map(|(run_id, status, (environment, configuration_type, configuration_id, job_id), duration, start, update)| RunItem {
            run_id: RunId::parse(&run_id).unwrap(),
            status,
            account: Some("000099".into()),
            environment,
            configuration_type,
            configuration_id,
            job_id,
            duration,
            start_execution_date: start,
            last_update_date: update,
        })
}

fn person() -> impl Strategy<Value = String> {
    prop::sample::select(PEOPLE).prop_map(str::to_owned)
}

fn card() -> impl Strategy<Value = CardRow> {
    (prop_oneof!["[A-Za-z0-9_.:-]{1,128}", short_text()], prop::option::of(person()), prop::option::of(person())).prop_map(
        |(run_id, launched_by, watched_by)| CardRow {
            lane: cards::lane(&run_id, "C0DATA"),
            run_id,
            channel_id: "C0DATA".into(),
            launched_by,
            watched_by,
            execution_date: None,
        },
    )
}

fn entry() -> impl Strategy<Value = AuditEntry> {
    (
        person(),
        prop::sample::select(Action::ALL.to_vec()),
        foreign(),
        foreign(),
        prop::sample::select(vec![AuditOutcome::Denied, AuditOutcome::Confirmed, AuditOutcome::Failed, AuditOutcome::Succeeded]),
        hostile_text(2000),
        any::<i64>(),
        foreign(),
    )
        .prop_map(|(user_id, action, job, environment, outcome, detail, at, tailer_answer)| AuditEntry {
            id: 1,
            at,
            reference: "abcd1234".into(),
            user_id,
            channel_id: "C0DATA".into(),
            action,
            job,
            environment,
            outcome,
            detail,
            tailer_answer,
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (0..5usize, hostile_text(200), prop::option::of(60u64..=30 * 24 * 3600), foreign(), foreign()).prop_map(
        |(kind, tag, secs, reason, status)| {
            let target = Target::Tag(tag);
            let job = JobName::parse("sales-daily").unwrap();
            let command = match kind {
                0 => Write::Launch { job, execution_date: None },
                1 => Write::Disable { target, duration: secs.map(Duration::from_secs), reason },
                2 => Write::Enable { target },
                3 => Write::Reset { job },
                _ => Write::Mark {
                    job,
                    run: RunId::parse("20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1").unwrap(),
                    status: RunStatus::Other(status.unwrap_or_default()),
                },
            };
            Plan { command, jobs: Vec::new(), then: None }
        },
    )
}

/// A label or dialog text: the callers' are never empty, but may be long.
fn long_label(max: usize) -> impl Strategy<Value = String> {
    hostile_text(max).prop_filter("not empty", |t| !t.is_empty())
}

/// Run pages with every placeholder, so that each hostile value is encoded in a link.
fn template() -> RunUrlTemplate {
    RunUrlTemplate::parse(&format!(
        "{RUN_PAGES}{{account}}/{{environment}}/{{configuration_type}}/{{configuration_id}}/{{job_id}}/{{run_id}}?a=1&b=2"
    ))
    .unwrap()
}

/// A message as Slack receives it.
fn json(message: &Message) -> Value {
    let rendered = blocks::render(message);
    serde_json::json!({"text": rendered.text, "blocks": rendered.blocks})
}

fn outbox(message: &OutboxMessage) -> Value {
    serde_json::json!({"text": message.body.text, "blocks": message.body.blocks})
}

fn ok(message: Value) -> Result<(), TestCaseError> {
    check_message(&message, &people()).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(32), ..ProptestConfig::default() })]

    #[test]
    fn the_job_list_stays_within_slacks_limits_and_escapes_the_catalog_and_the_filter(
        jobs in prop::collection::vec(job(), 0..50),
        filter in foreign(),
    ) {
        let refs: Vec<&Job> = jobs.iter().collect();
        ok(json(&render::jobs(&refs, filter.as_deref())))?;
    }

    #[test]
    fn a_run_and_a_list_of_runs_stay_within_the_limits_whatever_tailer_answers(
        job in job(),
        items in prop::collection::vec(item(), 0..30),
        known in any::<bool>(),
        linked in any::<bool>(),
    ) {
        let template = template();
        let links = Links::new(linked.then_some(&template));
        for item in &items {
            ok(json(&render::run(links, known.then_some(&job), item)))?;
        }
        let summary = tailerbot::history::Summary::of(&items);
        if !items.is_empty() {
            ok(json(&tailerbot::history::summary_message(links, &job, &summary, &items)))?;
        }
        let last = json(&render::last_runs(links, &job, Default::default(), &items));
        prop_assert_eq!(last.to_string().contains(RUN_PAGES), linked && !items.is_empty(), "links exactly with a template");
        ok(last)?;
        let running: Vec<(Option<&Job>, RunItem)> = items.iter().map(|i| (known.then_some(&job), i.clone())).collect();
        ok(json(&render::running(links, &running)))?;
    }

    #[test]
    fn the_audit_trail_escapes_what_people_and_tailer_wrote(
        entries in prop::collection::vec(entry(), 0..25),
        job in foreign(),
        catalog in prop::collection::vec(self::job(), 0..3),
        linked in any::<bool>(),
    ) {
        let template = template();
        // Whatever an entry names is taken for a catalog job, so that its runs are linked.
        let known = |_: &str| catalog.first();
        ok(json(&render::audit(Links::new(linked.then_some(&template)), known, &entries, job.as_deref())))?;
    }

    #[test]
    fn a_confirmation_escapes_the_reason_and_target_and_fits_its_dialog(
        plan in plan(),
        jobs in prop::collection::vec(job(), 1..40),
        requester in person(),
        second_person in any::<bool>(),
        id in "[a-f0-9]{32}",
    ) {
        let refs: Vec<&Job> = jobs.iter().collect();
        let summary = plan.summary(&refs);
        ok(json(&render::confirmation(&summary, &refs, &requester, second_person, &id)))?;
        ok(json(&render::note(&format!(":hourglass_flowing_sand: On it: {summary}"))))?;
    }

    #[test]
    fn a_run_card_its_thread_and_an_announcement_stay_within_the_limits(
        job in job(),
        card in card(),
        item in prop::option::of(item()),
        final_status in any::<bool>(),
        unknown_status in short_text(),
        linked in any::<bool>(),
    ) {
        let template = template();
        let links = Links::new(linked.then_some(&template));
        let note = format!("Tailer has shown `{}` unchanged for a while: taken as final.", plain(&unknown_status));
        for note in [None, Some(note.as_str()), Some("No longer watched.")] {
            ok(json(&cards::render_card(links, &job, &card, item.as_ref(), final_status, note)))?;
        }
        ok(outbox(&cards::post(&BlockKit, links, &job, &card, item.as_ref())))?;
        if let Some(item) = &item {
            ok(outbox(&cards::status_reply(&BlockKit, links, &card, item, &job)))?;
            ok(outbox(&tailerbot::messages::cards::announcement(&BlockKit, links, "C0DATA", &job, item)))?;
        }
    }

    // The callers never pass empty text (Slack refuses an empty section); any other is fine.
    #[test]
    fn notes_and_thread_replies_of_foreign_text_stay_within_the_limits(text in hostile_text(20_000).prop_filter("not empty", |t| !t.is_empty())) {
        ok(json(&render::note(&plain(&text))))?;
        ok(outbox(&thread_reply(&BlockKit, "card:r:C0DATA", "C0DATA", &plain(&text))))?;
    }

    #[test]
    fn lines_fields_and_context_of_foreign_text_stay_within_the_limits(
        lines in prop::collection::vec(hostile_text(4000).prop_filter("not empty", |t| !t.is_empty()), 1..40),
        keep_free in 0usize..60,
        before in 0usize..55,
    ) {
        let escaped: Vec<String> = lines.iter().map(|l| plain(l)).collect();
        let mut m = Message::new(&escaped.concat());
        for _ in 0..before {
            m.divider();
        }
        m.fields(&escaped);
        m.lines(&escaped, keep_free);
        m.context(&escaped.concat());
        ok(json(&m))?;
    }

    #[test]
    fn buttons_of_any_size_are_cut_to_slacks_limits(
        labels in prop::collection::vec((long_label(200), hostile_text(600), hostile_text(3000)), 1..30),
        dialog in (long_label(300), long_label(600), long_label(100)),
    ) {
        let buttons: Vec<Button> = labels
            .iter()
            .enumerate()
            .map(|(i, (label, id, value))| {
                // Action ids differ within a block, as Slack wants: an *Enable* names its
                // target, and there is one link.
                let button = match i {
                    0 => Button::link(label, &Press::OpenInTailer, &format!("https://tailer.test/{value}")),
                    _ if i % 2 == 0 => Button::press(label, &Press::Enable { target: format!("{i}-{id}") }),
                    _ => Button::press(label, &Press::Enable { target: format!("{i}-{value}") }),
                };
                if i % 2 == 0 {
                    button.danger(Confirm { title: dialog.0.clone(), text: plain(&dialog.1), confirm: dialog.2.clone(), deny: dialog.2.clone() })
                } else {
                    button
                }
            })
            .collect();
        let mut m = Message::new("buttons");
        m.actions(&"b".repeat(300), &buttons);
        let problems = limit_problems(&json(&m));
        prop_assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn truncation_keeps_escaped_text_well_formed_and_within_its_length(text in hostile_text(600), max in 1usize..700) {
        let escaped = escape(&text);
        let cut = truncate(&escaped, max);
        prop_assert!(cut.chars().count() <= max, "{} chars for {max}", cut.chars().count());
        let kept = cut.strip_suffix('…').filter(|_| cut != escaped).unwrap_or(&cut);
        prop_assert!(escaped.starts_with(kept));
        prop_assert!(markup_problem(&cut, &[]).is_none(), "{:?}", markup_problem(&cut, &[]));
        let with_mention = format!("<@U0LEAD> {escaped}");
        prop_assert!(markup_problem(&truncate(&with_mention, max), &people()).is_none());
    }

    #[test]
    fn escaping_leaves_no_markup_and_reads_back_as_typed(text in hostile_text(2000)) {
        let escaped = escape(&text);
        prop_assert!(markup_problem(&escaped, &[]).is_none());
        let back = escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
        // Invisible format characters (which could reorder what follows) come back as
        // the visible replacement character; everything else as typed.
        let typed: String =
            text.chars().map(|c| if tailerbot::commands::is_format_character(c) { '\u{FFFD}' } else { c }).collect();
        prop_assert_eq!(back, typed);
    }
}

#[test]
fn help_and_each_verbs_help_stay_within_the_limits() {
    ok(json(&tailerbot::commands::catalog::help_message(None))).unwrap();
    for action in Action::ALL {
        ok(json(&tailerbot::commands::catalog::help_message(Some(action)))).unwrap_or_else(|e| panic!("help {action}: {e}"));
    }
    assert!(blocks::limit_violations(&json(&tailerbot::commands::catalog::help_message(None))).is_empty());
}
