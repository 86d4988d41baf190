//! A backfill keeps its execution date through the bot's life: on the run card, in
//! *Launch again* after a deploy, and through a launch the next start had to finish.

mod common;

use std::time::Duration;

use common::bot::CHANNEL;
use common::life::World;
use common::process::{click, command};
use tailerbot::crash;
use tailerbot::slack::standin::SlackEvent;

const DATE: &str = "2026-11-30";

/// The last version (post or edit) of the run card with `label`, once it has one.
fn card_with(events: &[SlackEvent], label: &str) -> Option<SlackEvent> {
    events.iter().rev().find(|e| e.thread_ts.is_none() && e.button(label).is_some()).cloned()
}

fn launched_dates(world: &World) -> Vec<Option<String>> {
    common::launched_dates(&world.tailer.sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_keeps_its_execution_date_on_the_card_and_in_launch_again_after_a_deploy() {
    let world = World::new().await;
    let life = world.life().await;
    let text = format!("launch stock-enrich {DATE}");
    assert_eq!(command(&life.url, &world.slack.response_url("l"), "1.date.1", "U0ANALYST", CHANNEL, &text).await, 200);
    // stock-enrich fails in the simulator: its final card has both buttons.
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| card_with(e, "Launch again").is_some()).await;
    let card = card_with(&events, "Launch again").unwrap();
    assert!(card.visible_text().contains(&format!("*Execution date*\n{DATE}")), "the card shows the date: {}", card.visible_text());

    // A deploy between the card and the click.
    assert!(life.stop().await.success());
    let life = world.life().await;
    assert_eq!(click(&life.url, &world.slack.response_url("again"), "1.date.2", "U0ONCALL", &card, "Launch again").await, 200);
    assert_eq!(world.tailer.sim.wait_for_count("launch_job", 2, Duration::from_secs(15)).await, 2);
    assert_eq!(launched_dates(&world), [Some(DATE.to_owned()), Some(DATE.to_owned())], "launched again for the same date");
    world.drained().await;
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_the_next_start_finishes_keeps_its_execution_date() {
    let world = World::new().await;
    let doomed = world.doomed(crash::AFTER_TAILER_WRITE).await;
    let text = format!("launch iowa-prepare {DATE}");
    assert_eq!(command(&doomed.url, &world.slack.response_url("l"), "1.date.3", "U0ANALYST", CHANNEL, &text).await, 200);
    assert!(!doomed.died(Duration::from_secs(20)).await.success(), "died after Tailer launched");

    let life = world.life().await;
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| card_with(e, "Launch again").is_some()).await;
    let card = card_with(&events, "Launch again").unwrap();
    assert!(card.visible_text().contains(&format!("*Execution date*\n{DATE}")), "{}", card.visible_text());
    let (_, value) = card.button("Launch again").unwrap();
    assert!(value.ends_with(DATE), "Launch again keeps the date: {value}");
    assert_eq!(launched_dates(&world), [Some(DATE.to_owned())], "launched once");
    world.drained().await;
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}
