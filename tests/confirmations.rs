//! Writes that a rule wants confirmed: the question names exactly what will happen, a
//! confirmation works once, for ten minutes, for the people the rules allow, and with
//! `second_person` never for the requester.

mod common;

use std::time::Duration;

use common::bot::*;
use tailerbot::config::Config;
use tailerbot::slack::standin::SlackEvent;

/// LEAD asks to disable the PROD `daily` jobs; returns the question as Slack shows it.
async fn ask(bot: &TestBot) -> SlackEvent {
    let (status, body) = bot.command(LEAD, CHANNEL, "disable tag:daily for 2h source late").await;
    assert_eq!(status, 200);
    as_event(&body)
}

fn replies_to_clicks(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events.iter().filter(|e| e.method == "response_url" && e.ts.as_deref().is_some_and(|k| k.starts_with("click-"))).collect()
}

#[tokio::test]
async fn a_confirmation_names_every_job_with_a_dangerous_confirm_and_a_cancel() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    assert_eq!(question.response_type.as_deref(), Some("in_channel"));
    let text = question.visible_text();
    assert!(text.contains("disable `tag:daily` (2 jobs) for 2h — reason: source late"), "{text}");
    assert!(text.contains("`sales-daily` (PROD)") && text.contains("`traffic-load` (PROD)"), "{text}");
    assert_eq!(question.buttons(), vec!["Confirm", "Cancel"]);
    let confirm = question.blocks.iter().find(|b| b["type"] == "actions").unwrap()["elements"][0].clone();
    assert_eq!(confirm["style"], "danger");
    assert!(confirm["confirm"]["title"].is_object(), "a confirm dialog: {confirm}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0, "nothing happens before the click");
}

#[tokio::test]
async fn confirm_carries_it_out_once_and_replaces_the_question() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    let (status, _) = bot.click(LEAD, &question, "Confirm").await;
    assert_eq!(status, 200);
    let events = bot.wait(|e| replies_to_clicks(e).iter().any(|r| r.visible_text().contains("Disabled"))).await;
    let outcome = replies_to_clicks(&events).into_iter().find(|r| r.visible_text().contains("Disabled")).unwrap().clone();
    assert!(outcome.replace_original, "the question is replaced by the outcome");
    let text = outcome.visible_text();
    assert!(text.contains("Disabled `sales-daily` (PROD)") && text.contains("Disabled `traffic-load` (PROD)"), "{text}");
    assert!(text.contains(&format!("by <@{LEAD}>, confirmed by <@{LEAD}>")), "{text}");
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2);

    // A second click on the same Confirm does nothing more.
    let note = bot.click_note(LEAD, &question, "Confirm").await;
    assert!(note.contains("already confirmed"), "{note}");
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2);

    let (_, body) = bot.command(LEAD, CHANNEL, "audit sales-daily").await;
    let audit = text_of(&body);
    for outcome in ["awaiting confirmation", "confirmed", "succeeded"] {
        assert!(audit.contains(outcome), "{outcome}: {audit}");
    }
}

#[tokio::test]
async fn someone_in_the_allowed_group_may_confirm() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    bot.click(ONCALL, &question, "Confirm").await;
    bot.wait(|e| replies_to_clicks(e).iter().any(|r| r.visible_text().contains("Disabled"))).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2);
}

#[tokio::test]
async fn cancel_does_nothing_and_says_so() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    bot.click(LEAD, &question, "Cancel").await;
    let events = bot.wait(|e| !replies_to_clicks(e).is_empty()).await;
    let reply = replies_to_clicks(&events)[0].clone();
    assert!(reply.replace_original);
    assert!(reply.visible_text().contains(&format!("Cancelled by <@{LEAD}>")), "{reply:?}");
    let note = bot.click_note(LEAD, &question, "Confirm").await;
    assert!(note.contains("already cancelled"), "{note}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
}

#[tokio::test]
async fn a_confirmation_expires_after_ten_minutes() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    bot.clock.advance(Duration::from_secs(601));
    bot.click(LEAD, &question, "Confirm").await;
    let events = bot.wait(|e| !replies_to_clicks(e).is_empty()).await;
    assert!(replies_to_clicks(&events)[0].visible_text().contains("Expired"), "{events:?}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
    let (_, body) = bot.command(LEAD, CHANNEL, "audit traffic-load").await;
    assert!(text_of(&body).contains("→ expired"), "{body}");
}

#[tokio::test]
async fn a_confirmation_pressed_by_someone_not_allowed_does_nothing() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    let note = bot.click_note(ANALYST, &question, "Confirm").await;
    assert!(note.contains("You may not *disable*"), "{note}");
    let note = bot.click_note(ANALYST, &question, "Cancel").await;
    assert!(note.contains("You may not *disable*"), "{note}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
    // The requester still can.
    bot.click(LEAD, &question, "Confirm").await;
    bot.wait(|e| replies_to_clicks(e).iter().any(|r| r.visible_text().contains("Disabled"))).await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2);
}

fn four_eyes() -> Config {
    let mut config = example_config();
    config.rules[2].second_person = true;
    config
}

#[tokio::test]
async fn with_second_person_the_requester_cannot_confirm_but_another_allowed_person_can() {
    let bot = TestBot::start_with(four_eyes(), Default::default()).await;
    let question = ask(&bot).await;
    assert!(question.visible_text().contains("someone other than the requester"), "{question:?}");
    let note = bot.click_note(LEAD, &question, "Confirm").await;
    assert!(note.contains("needs a second person"), "{note}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
    bot.click(ONCALL, &question, "Confirm").await;
    let events = bot.wait(|e| replies_to_clicks(e).iter().any(|r| r.visible_text().contains("Disabled"))).await;
    let text = replies_to_clicks(&events).into_iter().find(|r| r.visible_text().contains("Disabled")).unwrap().visible_text();
    assert!(text.contains(&format!("by <@{LEAD}>, confirmed by <@{ONCALL}>")), "{text}");
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 2);
}

#[tokio::test]
async fn a_group_lookup_that_fails_never_lets_anyone_confirm() {
    let bot = TestBot::start().await;
    let question = ask(&bot).await;
    bot.slack.slack.inject(tailerbot::slack::standin::StandinFault {
        method: Some("usergroups.users.list".into()),
        kind: tailerbot::slack::standin::StandinFaultKind::Status { status: 503 },
        times: 100,
    });
    let note = bot.click_note(ONCALL, &question, "Confirm").await;
    assert!(note.contains("You may not"), "{note}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
}
