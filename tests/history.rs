//! `history <job> [N]`: the chart uploaded through Slack's external flow (against the
//! stand-in), its summary, and what happens when there is nothing to draw, no such job,
//! or Slack refuses or delays the file, or the bot dies before it is sent.

mod common;

use std::time::Duration;

use common::bot::{ANALYST, BOT_TOKEN, CHANNEL, TestBot, example_config, text_of};
use common::life::World;
use serde_json::Value;
use tailerbot::chat::Message;
use tailerbot::outbox::Upload;
use tailerbot::sim::SimOptions;
use tailerbot::slack::api::SlackApi;
use tailerbot::slack::standin::{SlackEvent, StandinFault, StandinFaultKind};

const UPLOADED: &str = "files.completeUploadExternal";

fn with_history(runs: usize) -> SimOptions {
    SimOptions { history: runs, ..SimOptions::default() }
}

/// The size of a PNG, decoded.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG");
    (reader.info().width, reader.info().height)
}

fn uploads(events: &[SlackEvent]) -> Vec<&SlackEvent> {
    events.iter().filter(|e| e.method == UPLOADED).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_uploads_a_chart_of_the_last_runs_into_the_channel_with_its_summary() {
    let bot = TestBot::start_with(example_config(), with_history(12)).await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "history sales-daily 10").await;
    assert_eq!((status, body), (200, Value::Null), "nothing to show before the chart");
    let events = bot.wait(|e| !uploads(e).is_empty()).await;
    let shared = uploads(&events)[0];
    assert_eq!(shared.channel.as_deref(), Some(CHANNEL));
    assert_eq!(shared.thread_ts, None, "a slash command is not in a thread");
    let file = shared.file.as_ref().expect("a file");
    assert_eq!(file.length, file.bytes.len(), "the announced length is the bytes sent");
    assert_eq!(png_size(&file.bytes), (1000, 500));
    assert!(file.filename.starts_with("history-sales-daily-") && file.filename.ends_with(".png"), "{}", file.filename);
    assert_eq!(file.title.as_deref(), Some("sales-daily (PROD): the last 10 runs"));
    assert!(file.alt_text.as_deref().is_some_and(|a| a.contains("last 10 runs of sales-daily")), "{:?}", file.alt_text);
    let summary = shared.visible_text();
    for expected in ["the last 10 runs", "Success:", "Duration: median", "Longest: run", "Asked by <@U0ANALYST>"] {
        assert!(summary.contains(expected), "missing {expected:?} in {summary}");
    }
    assert_eq!(bot.slack.slack.calls("files.getUploadURLExternal"), 1);
    // The asker is told nothing else: the chart is the answer.
    let trigger = bot.last_trigger();
    assert!(!bot.slack.slack.events().iter().any(|e| e.method == "response_url" && e.ts.as_deref() == Some(trigger.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_flow_sends_the_bytes_announced_into_the_channel_and_thread_asked() {
    let bot = TestBot::start().await;
    let slack = SlackApi::new(&bot.slack.api_url(), &BOT_TOKEN.to_owned().into(), Vec::new(), Duration::from_secs(5)).unwrap();
    let file = Upload { filename: "chart.png".into(), title: "A chart".into(), alt_text: "bars".into(), bytes: vec![7; 4321] };
    let mut message = Message::new("words");
    message.section("the words beside it");
    let channel = tailerbot::domain::ChannelId::parse(CHANNEL).unwrap();
    slack.upload_file(&channel, Some("1700000000.000042"), &file, &tailerbot::slack::blocks::render(&message)).await.unwrap();
    let events = bot.slack.slack.events();
    let shared = uploads(&events);
    assert_eq!(shared.len(), 1);
    let uploaded = shared[0].file.as_ref().unwrap();
    assert_eq!((uploaded.bytes.as_slice(), uploaded.length), (file.bytes.as_slice(), 4321));
    assert_eq!(shared[0].thread_ts.as_deref(), Some("1700000000.000042"));
    assert!(shared[0].visible_text().contains("the words beside it"));

    // A failure half-way (the bytes refused) fails the whole, to be tried again from the
    // start: no file is shared.
    bot.slack.slack.inject(StandinFault { method: Some("files.upload".into()), kind: StandinFaultKind::Status { status: 500 }, times: 1 });
    let error = slack.upload_file(&channel, None, &file, &tailerbot::slack::blocks::render(&message)).await.unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert_eq!(uploads(&bot.slack.slack.events()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_job_gets_suggestions_and_nothing_is_drawn() {
    let bot = TestBot::start_with(example_config(), with_history(5)).await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "history iowa-prepar").await;
    assert_eq!(status, 200);
    let said = text_of(&body);
    assert!(said.contains("I don't know a job called `iowa-prepar`. Did you mean `iowa-prepare`"), "{said}");
    let (_, body) = bot.command(ANALYST, CHANNEL, "history iowa-prepare 101").await;
    assert!(text_of(&body).contains("N must be between 1 and 100"), "{body}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("get_last_status"), 0);
    assert_eq!(bot.slack.slack.calls("files.getUploadURLExternal"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_no_runs_says_so_and_uploads_nothing() {
    let bot = TestBot::start_with(example_config(), with_history(0)).await;
    let (status, _) = bot.command(ANALYST, CHANNEL, "history sales-daily").await;
    assert_eq!(status, 200);
    let said = bot.reply_to(&bot.last_trigger()).await;
    assert!(said.visible_text().contains("`sales-daily` (PROD) has no runs yet: there is nothing to draw."), "{}", said.visible_text());
    assert_eq!(said.response_type.as_deref(), Some("ephemeral"));
    assert_eq!(bot.slack.slack.calls("files.getUploadURLExternal"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_posts_the_summary_alone_with_what_to_grant() {
    let bot = TestBot::start_with(example_config(), with_history(5)).await;
    let refused = StandinFaultKind::Error { code: "missing_scope".into() };
    bot.slack.slack.inject(StandinFault { method: Some("files.getUploadURLExternal".into()), kind: refused, times: 1 });
    bot.command(ANALYST, CHANNEL, "history sales-daily").await;
    let posted = |e: &SlackEvent| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL);
    let events = bot.wait(|e| e.iter().any(posted)).await;
    let words = events.iter().find(|e| posted(e)).unwrap().visible_text();
    assert!(words.contains("Success:") && words.contains("the last 5 runs"), "the summary: {words}");
    assert!(words.contains("could not upload the chart") && words.contains("`files:write`"), "what to grant: {words}");
    assert!(uploads(&events).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_refuses_the_file_and_the_words_has_its_asker_told_in_a_direct_message() {
    let bot = TestBot::start_with(example_config(), with_history(5)).await;
    let not_member = || StandinFaultKind::Error { code: "not_in_channel".into() };
    bot.slack.slack.inject(StandinFault { method: Some("files.getUploadURLExternal".into()), kind: not_member(), times: 1 });
    bot.slack.slack.inject(StandinFault { method: Some("chat.postMessage".into()), kind: not_member(), times: 1 });
    bot.command(ANALYST, CHANNEL, "history sales-daily").await;
    let told = |e: &SlackEvent| e.method == "chat.postMessage" && e.channel.as_deref() == Some(ANALYST);
    let events = bot.wait(|e| e.iter().any(told)).await;
    let notice = events.iter().find(|e| told(e)).expect("a direct message to the asker").visible_text();
    assert!(notice.contains("I am not a member") && notice.contains("/invite @tailerbot"), "{notice}");
    assert!(uploads(&events).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_upload_is_sent_again_and_shared_once() {
    let bot = TestBot::start_with(example_config(), with_history(5)).await;
    let slow_down = StandinFaultKind::RateLimited { retry_after_secs: 1 };
    bot.slack.slack.inject(StandinFault { method: Some(UPLOADED.into()), kind: slow_down, times: 1 });
    bot.command(ANALYST, CHANNEL, "history iowa-prepare").await;
    let events = bot.wait(|e| !uploads(e).is_empty()).await;
    assert_eq!(uploads(&events).len(), 1);
    assert_eq!(bot.slack.slack.calls(UPLOADED), 2, "refused once, then accepted");
    assert_eq!(bot.slack.slack.calls("files.getUploadURLExternal"), 2, "the flow starts over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_queued_before_a_kill_is_shared_once_by_the_next_start() {
    let world = World::new().await;
    // Slack is down: the chart waits in the outbox.
    let down = StandinFaultKind::Status { status: 503 };
    world.slack.slack.inject(StandinFault { method: Some("files.getUploadURLExternal".into()), kind: down, times: 10_000 });
    let life = world.life().await;
    let respond = world.slack.response_url("h");
    let status = common::process::command(&life.url, &respond, "1.hist.1", ANALYST, CHANNEL, "history iowa-prepare").await;
    assert_eq!(status, 200);
    // Polled (the stand-in counts calls without an event to wake on), bounded.
    for _ in 0..800 {
        if world.slack.slack.calls("files.getUploadURLExternal") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(world.slack.slack.calls("files.getUploadURLExternal") >= 1, "the upload was tried");
    life.kill_hard();
    world.slack.slack.clear_faults();

    let life = world.life().await;
    let events = world.slack.slack.wait_for(Duration::from_secs(30), |e| !uploads(e).is_empty()).await;
    assert_eq!(uploads(&events).len(), 1);
    world.drained().await;
    assert_eq!(uploads(&world.slack.slack.events()).len(), 1, "shared once");
    assert!(life.stop().await.success());
    world.invariants_hold().await;
}
