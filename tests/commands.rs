//! Every command over real HTTP against the simulator and the Slack stand-in: its happy
//! path, its mistakes, denials, and Tailer failing underneath.

mod common;

use common::bot::*;
use tailerbot::clock::Clock;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;

const DOCUMENTED_RUN: &str = "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179";

#[tokio::test]
async fn help_lists_every_verb_and_help_verb_shows_one() {
    let bot = TestBot::start().await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["response_type"], "ephemeral");
    let text = text_of(&body);
    for verb in ["launch", "status", "last", "running", "subscribe", "disable", "enable", "reset", "mark", "audit", "doctor"] {
        assert!(text.contains(&format!("`/tailer {verb}")), "{verb} missing from help: {text}");
    }
    let (_, body) = bot.command(ANALYST, CHANNEL, "help disable").await;
    assert!(text_of(&body).contains("Example: `/tailer disable"), "{body}");
}

#[tokio::test]
async fn jobs_lists_the_catalog_and_filters_it() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "jobs").await;
    let text = text_of(&body);
    assert!(text.contains("*6 jobs*") && text.contains("`sales-daily` (PROD)"), "{text}");
    let (_, body) = bot.command(ANALYST, CHANNEL, "jobs prod").await;
    let text = text_of(&body);
    assert!(text.contains("*2 jobs*") && !text.contains("iowa-prepare"), "{text}");
}

#[tokio::test]
async fn a_usage_mistake_is_answered_with_the_usage_and_nothing_runs() {
    let bot = TestBot::start().await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "mark iowa-prepare").await;
    assert_eq!(status, 200);
    assert_eq!(body["response_type"], "ephemeral");
    assert!(text_of(&body).contains("Usage: `/tailer mark &lt;job&gt; &lt;run_id&gt; &lt;STATUS&gt;`"), "the usage, escaped: {body}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.requests().len(), 0);
}

#[tokio::test]
async fn an_unknown_job_is_answered_with_the_closest_names() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prep").await;
    assert!(text_of(&body).contains("Did you mean `iowa-prepare`"), "{body}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0);
}

#[tokio::test]
async fn launch_answers_at_once_then_posts_the_run_and_audits_it() {
    let bot = TestBot::start().await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("On it: launch `iowa-prepare` (DEV)"), "{body}");
    let events = bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    let card = events.iter().find(|e| e.method == "chat.postMessage").unwrap();
    assert_eq!(card.channel.as_deref(), Some(CHANNEL));
    assert!(card.visible_text().contains(&format!("*Launched by*\n<@{ANALYST}>")), "{card:?}");
    assert_eq!(bot.tailer.sim.count("launch_job"), 1);

    // The launched run is now known: `status <run_id>` alone finds its job.
    let run = card.text.split("run ").nth(1).unwrap_or_default().to_owned();
    assert!(run.starts_with("20"), "{card:?}");
    bot.command(ANALYST, CHANNEL, &format!("status {run}")).await;
    let reply = bot.reply_to(&bot.last_trigger()).await;
    assert!(reply.visible_text().contains("`iowa-prepare` (DEV)"), "{reply:?}");

    let (_, body) = bot.command(ANALYST, CHANNEL, "audit iowa-prepare").await;
    assert!(text_of(&body).contains("*launch* `iowa-prepare` (DEV) → succeeded"), "{body}");
}

#[tokio::test]
async fn status_of_a_named_job_shows_the_run() {
    let bot = TestBot::start().await;
    let (status, body) = bot.command(ANALYST, CHANNEL, &format!("status iowa-prepare {DOCUMENTED_RUN}")).await;
    assert_eq!((status, body), (200, serde_json::Value::Null), "answered after the acknowledgement");
    let reply = bot.reply_to(&bot.last_trigger()).await;
    assert_eq!(reply.response_type.as_deref(), Some("ephemeral"));
    let text = reply.visible_text();
    assert!(text.contains("*SUCCESS*") && text.contains("1 min 24 s") && text.contains("<!date^"), "{text}");
}

#[tokio::test]
async fn status_of_an_unknown_run_without_a_job_asks_for_the_job() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, &format!("status {DOCUMENTED_RUN}")).await;
    assert!(text_of(&body).contains("Name it: `/tailer status &lt;job&gt;"), "{body}");
}

#[tokio::test]
async fn the_usage_shown_for_a_channel_without_subscriptions_is_escaped_not_sent_as_links() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "subscriptions").await;
    assert!(text_of(&body).contains("`/tailer subscribe &lt;job&gt;|tag:&lt;tag&gt;|all [failures]`"), "{body}");
}

#[tokio::test]
async fn last_lists_runs_newest_first() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, "last iowa-prepare 2").await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("*Last 2 runs of `iowa-prepare` (DEV)*"), "{text}");
    let first = text.find("20201230-112837").unwrap();
    let second = text.find("20201230-110907").unwrap();
    assert!(first < second, "newest first");
}

#[tokio::test]
async fn running_lists_runs_in_progress() {
    let bot = TestBot::start_with(
        example_config(),
        SimOptions {
            invisible_after_launch: std::time::Duration::ZERO,
            waiting: (std::time::Duration::ZERO, std::time::Duration::ZERO),
            running: (std::time::Duration::from_secs(3600), std::time::Duration::from_secs(3600)),
            ..SimOptions::default()
        },
    )
    .await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    bot.command(ANALYST, CHANNEL, "running").await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("*1 run in progress*") && text.contains("`iowa-prepare` (DEV)"), "{text}");
}

#[tokio::test]
async fn disable_and_enable_a_tag_act_on_each_job_without_confirmation_in_dev() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "disable tag:iowa for 2h waiting for the vendor").await;
    assert!(text_of(&body).contains("On it: disable `tag:iowa` (3 jobs) for 2h — reason: waiting for the vendor"), "{body}");
    // A timed disable is posted in the channel: its thread will hear about the re-enable.
    let events = bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage" && e.visible_text().contains("Disabled"))).await;
    let outcome = events.iter().find(|e| e.method == "chat.postMessage" && e.visible_text().contains("Disabled")).unwrap();
    assert_eq!(outcome.channel.as_deref(), Some(CHANNEL));
    let text = outcome.visible_text();
    assert!(text.contains("Disabled `iowa-prepare` (DEV) until <!date^") && text.contains("Disabled `iowa-load-workflow` (DEV)"), "{text}");
    assert!(text.contains("re-enabled automatically then") && text.contains(&format!("by <@{ANALYST}>")), "{text}");
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 3);
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));

    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("Enabled `iowa-prepare` (DEV) (its timed re-enable is cancelled)"), "{text}");
    assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(true));
}

#[tokio::test]
async fn reset_is_for_workflows_only() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "reset iowa-prepare").await;
    assert!(text_of(&body).contains("`reset` is for workflows"), "{body}");
    bot.command(ANALYST, CHANNEL, "reset iowa-load-workflow").await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("Reset the triggers of `iowa-load-workflow` (DEV)"), "{text}");
    assert_eq!(bot.tailer.sim.count("reset_workflow_status"), 1);
}

#[tokio::test]
async fn mark_sets_a_runs_status() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, &format!("mark iowa-prepare {DOCUMENTED_RUN} checked")).await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("as *CHECKED*"), "{text}");
    assert_eq!(bot.tailer.sim.status_of(DOCUMENTED_RUN), Some(tailerbot::sim::RunStatus::Checked));
}

#[tokio::test]
async fn doctor_reports_store_tailer_and_slack() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, "doctor").await;
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(
        text.contains("Store: reachable") && text.contains("Tailer: reachable") && text.contains("Slack: the bot token works"),
        "{text}"
    );
}

#[tokio::test]
async fn a_write_no_rule_allows_is_denied_audited_and_never_sent() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "disable sales-daily").await;
    let text = text_of(&body);
    assert!(text.contains("You may not *disable* `sales-daily` (PROD)"), "{text}");
    assert!(!text.contains("U0DATALEAD") && !text.contains("S0ONCALL"), "the rules are not dumped: {text}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0);
    let (_, body) = bot.command(ANALYST, CHANNEL, "audit").await;
    assert!(text_of(&body).contains("*disable* `sales-daily` (PROD) → denied"), "{body}");
}

#[tokio::test]
async fn a_tailer_500_during_a_launch_is_answered_first_then_explained() {
    let bot = TestBot::start().await;
    bot.tailer.sim.inject(Fault::new(Some("launch_job"), FaultKind::Status { status: 500, message: "backend down".into() }, 1));
    let (status, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("On it"), "the answer does not wait for Tailer: {body}");
    let text = bot.reply_to(&bot.last_trigger()).await.visible_text();
    assert!(text.contains("I could not tell whether `iowa-prepare` (DEV) was launched") && text.contains("backend down"), "{text}");
    assert!(text.contains("/tailer last iowa-prepare"), "{text}");
    assert_eq!(bot.tailer.sim.count("launch_job"), 1, "never retried blindly");
    let (_, body) = bot.command(ANALYST, CHANNEL, "audit iowa-prepare").await;
    assert!(text_of(&body).contains("→ unknown"), "{body}");
    // Settled as not known: a launch interrupted about then does not take a run this one
    // may have started.
    let near = bot.bot.store().launches_near("iowa-prepare", 0, i64::MAX).await.unwrap();
    assert_eq!(near.iter().map(|l| (l.state.as_str(), l.run_id.as_deref())).collect::<Vec<_>>(), vec![("unknown", None)]);
}

#[tokio::test]
async fn a_tailer_that_hangs_during_a_launch_is_answered_first_and_the_run_found_later() {
    let mut config = example_config();
    config.tailer.timeout = std::time::Duration::from_secs(1);
    let bot = TestBot::start_with(config, SimOptions { invisible_after_launch: std::time::Duration::ZERO, ..SimOptions::default() }).await;
    bot.tailer.sim.inject(Fault::new(Some("launch_job"), FaultKind::Delay { millis: 30_000 }, 1));
    let (status, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("On it"), "{body}");
    assert!(bot.slack.slack.events().is_empty(), "nothing was posted before the answer");
    let events = bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    let card = events.iter().find(|e| e.method == "chat.postMessage").unwrap();
    assert!(card.visible_text().contains("`iowa-prepare` (DEV) · run `20"), "the run that Tailer made is found and followed: {card:?}");
    assert_eq!(bot.tailer.sim.count("launch_job"), 1);
}

#[tokio::test]
async fn foreign_text_is_escaped_job_descriptions_and_tailer_errors() {
    let mut config = example_config();
    config.jobs[0].description = Some("Prepare <!channel> & <https://evil.example|click here>".into());
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "jobs iowa-prepare").await;
    let raw = body.to_string();
    assert!(raw.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;"), "{raw}");
    assert!(!raw.contains("<!channel>"), "{raw}");

    bot.tailer.sim.inject(Fault::new(
        Some("set_configuration_status"),
        FaultKind::Status { status: 400, message: "<!channel> <@U0BOSS> broken".into() },
        1,
    ));
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare").await;
    let reply = bot.reply_to(&bot.last_trigger()).await;
    let raw = serde_json::to_string(&reply.blocks).unwrap();
    assert!(raw.contains("&lt;!channel&gt; &lt;@U0BOSS&gt; broken"), "{raw}");
    assert!(!raw.contains("<!channel>") && !raw.contains("<@U0BOSS>"), "{raw}");
}

#[tokio::test]
async fn a_broken_database_is_a_clear_answer_not_a_5xx() {
    let bot = TestBot::start().await;
    bot.bot.store().close().await;
    let (status, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("database is unavailable") && text_of(&body).contains("did nothing"), "{body}");
    bot.settle().await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 0);
    assert_eq!(bot.http.get(format!("{}/readyz", bot.url)).send().await.unwrap().status(), 503);
}

#[tokio::test]
async fn every_write_attempt_is_echoed_to_the_audit_channel() {
    let mut config = example_config();
    config.slack.audit_channel = Some(tailerbot::domain::ChannelId::parse("C0AUDIT").unwrap());
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    bot.command(ANALYST, CHANNEL, "disable sales-daily").await;
    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    bot.wait(|e| e.iter().any(|e| e.channel.as_deref() == Some("C0AUDIT"))).await;
    // A refusal is summed with the person's others of the minute, posted when it ends.
    bot.clock.advance(std::time::Duration::from_secs(61));
    let events = bot.wait(|e| e.iter().filter(|e| e.channel.as_deref() == Some("C0AUDIT")).count() >= 2).await;
    let echoes: Vec<String> = events.iter().filter(|e| e.channel.as_deref() == Some("C0AUDIT")).map(|e| e.text.clone()).collect();
    assert!(echoes.iter().any(|t| t.contains("<@U0ANALYST> was refused once") && t.contains("`disable sales-daily`")), "{echoes:?}");
    assert!(echoes.iter().any(|t| t.contains("*enable* `iowa-prepare` (DEV)") && t.contains("→ succeeded")), "{echoes:?}");
    let (_, body) = bot.command(ANALYST, CHANNEL, "disable sales-daily").await;
    assert!(text_of(&body).contains("ask in <#C0AUDIT>"), "the denial says where to ask: {body}");
}

#[tokio::test]
async fn a_hundred_refusals_are_one_post_of_the_audit_channel_and_a_real_write_goes_ahead_of_them() {
    let mut config = example_config();
    config.slack.audit_channel = Some(tailerbot::domain::ChannelId::parse("C0AUDIT").unwrap());
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    // Refusals are summed per minute of the clock, which runs: start one second into a
    // minute, so that the hundred fall in the same one however the test is timed.
    let into_minute = bot.clock.now().timestamp_millis().rem_euclid(60_000);
    bot.clock.advance(std::time::Duration::from_millis((61_000 - into_minute) as u64));
    // Someone the PROD rule does not name, again and again.
    for _ in 0..100 {
        let (_, body) = bot.command(ANALYST, CHANNEL, "disable sales-daily").await;
        assert!(text_of(&body).contains("may not"), "{body}");
    }
    // A real write meanwhile: its audit entry is not queued behind the refusals.
    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    let audit = |e: &SlackEvent| e.channel.as_deref() == Some("C0AUDIT");
    let events = bot.wait(|e| e.iter().any(|e| audit(e) && e.text.contains("*enable* `iowa-prepare`"))).await;
    assert_eq!(events.iter().filter(|e| audit(e)).count(), 1, "nothing of the refusals before the minute ends");
    bot.clock.advance(std::time::Duration::from_secs(61));
    let events = bot.wait(|e| e.iter().any(|e| audit(e) && e.text.contains("was refused"))).await;
    let sums: Vec<&SlackEvent> = events.iter().filter(|e| audit(e) && e.text.contains("was refused")).collect();
    assert_eq!(sums.len(), 1, "one post for the minute: {sums:?}");
    assert!(
        sums[0].text.contains("<@U0ANALYST> was refused 100 times") && sums[0].text.contains("`disable sales-daily` ×100"),
        "{}",
        sums[0].text
    );
    // Every attempt stays in the store.
    let (_, body) = bot.command(LEAD, CHANNEL, "audit sales-daily").await;
    assert!(text_of(&body).contains("denied"), "{body}");
    bot.wait(|e| e.iter().filter(|e| audit(e)).count() >= 2).await;
    assert_eq!(bot.slack.slack.events().iter().filter(|e| audit(e)).count(), 2, "the write's echo and one sum, nothing more");
}

#[tokio::test]
async fn the_same_write_twice_within_a_minute_is_done_once() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert!(text_of(&body).contains("less than a minute ago; it is done once"), "{body}");
    bot.wait(|e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    assert_eq!(bot.tailer.sim.count("launch_job"), 1);
    bot.clock.advance(std::time::Duration::from_secs(61));
    bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(
        bot.tailer.sim.wait_for_count("launch_job", 2, std::time::Duration::from_secs(10)).await,
        2,
        "a minute later it is a new request"
    );
}

#[tokio::test]
async fn typed_text_quoted_in_a_mistake_is_escaped() {
    let bot = TestBot::start().await;
    let (_, body) = bot.command(ANALYST, CHANNEL, "launch &lt;!channel&gt;").await;
    let raw = body.to_string();
    assert!(raw.contains("&lt;!channel&gt;") && !raw.contains("<!channel>"), "{raw}");
}

#[tokio::test]
async fn a_dev_only_reader_sees_only_dev_audit_entries() {
    let mut config = example_config();
    config.rules.insert(0, {
        let mut rule = config.rules[0].clone();
        rule.number = 0;
        rule.effect = tailerbot::config::Effect::Allow;
        rule.environments = tailerbot::config::Matcher::Only(vec![tailerbot::domain::Environment::parse("DEV").unwrap()]);
        rule.who = tailerbot::config::Who::Only { users: vec![tailerbot::domain::UserId::parse("U0DEVONLY").unwrap()], usergroups: vec![] };
        rule
    });
    config.rules.insert(1, {
        let mut rule = config.rules[1].clone();
        rule.effect = tailerbot::config::Effect::Deny;
        rule.environments = tailerbot::config::Matcher::Any;
        rule.who = tailerbot::config::Who::Only { users: vec![tailerbot::domain::UserId::parse("U0DEVONLY").unwrap()], usergroups: vec![] };
        rule
    });
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    bot.command(ANALYST, CHANNEL, "disable sales-daily secret incident INC-42").await;
    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    bot.reply_to(&bot.last_trigger()).await;
    let (_, body) = bot.command("U0DEVONLY", CHANNEL, "audit").await;
    let text = text_of(&body);
    assert!(text.contains("`iowa-prepare` (DEV)"), "{text}");
    assert!(!text.contains("INC-42") && !text.contains("sales-daily"), "PROD entries stay hidden: {text}");
}

/// In an incident everyone asks the same thing at once: Tailer is asked once, every
/// person is answered, and `/metrics` says how the reads were shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_people_asking_last_at_once_cost_tailer_one_read() {
    let bot = TestBot::start().await;
    let asks = (0..50).map(|i| {
        let bot = &bot;
        async move { bot.command(&format!("U0PERSON{i:02}"), CHANNEL, "last sales-daily").await }
    });
    for (status, _) in futures::future::join_all(asks).await {
        assert_eq!(status, 200);
    }
    let answered = |e: &[SlackEvent]| {
        e.iter().filter(|e| e.method == "response_url" && e.visible_text().contains("`sales-daily` (PROD)")).count() >= 50
    };
    bot.wait(answered).await;
    assert_eq!(bot.tailer.sim.count("get_last_status"), 1, "one read for fifty people");
    let metrics = bot.http.get(format!("{}/metrics", bot.url)).send().await.unwrap().text().await.unwrap();
    let shared: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("tailerbot_tailer_reads_shared_total{") && !l.contains("how=\"fetched\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(shared >= 49.0, "49 reads joined one on its way or were answered from it:\n{metrics}");
}

/// More people than the way to Tailer holds: those beyond its places and its queue are
/// told at once that the bot is busy, without Tailer being asked; everyone is answered,
/// and `/metrics` counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_calls_tailer_may_have_waiting_a_read_is_answered_busy_at_once() {
    let mut config = example_config();
    config.tailer.max_calls_in_flight = 1;
    config.tailer.max_calls_waiting = 2;
    let bot = TestBot::start_with(config, SimOptions::default()).await;
    bot.tailer.sim.inject(Fault { action: Some("get_last_status".into()), kind: FaultKind::Delay { millis: 1_000 }, times: 100 });
    // Ten different reads (nothing to share), all at once.
    let asks = (1..=10).map(|n| {
        let bot = &bot;
        async move { bot.command(ANALYST, CHANNEL, &format!("last sales-daily {n}")).await }
    });
    for (status, _) in futures::future::join_all(asks).await {
        assert_eq!(status, 200);
    }
    let answers = |e: &[tailerbot::slack::standin::SlackEvent]| e.iter().filter(|e| e.method == "response_url").count();
    let events = bot.wait(|e| answers(e) >= 10).await;
    assert_eq!(answers(&events), 10, "everyone is answered, once");
    let busy = events.iter().filter(|e| e.visible_text().contains("the bot is busy, try again in a moment")).count();
    assert!(busy >= 1, "some were told the bot is busy");
    assert_eq!(bot.tailer.sim.count("get_last_status"), 10 - busy, "a busy read never reached Tailer");
    let metrics = bot.http.get(format!("{}/metrics", bot.url)).send().await.unwrap().text().await.unwrap();
    let counted: f64 = metrics
        .lines()
        .find(|l| l.starts_with("tailerbot_busy_total{upstream=\"tailer\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(counted >= busy as f64, "counted in /metrics:\n{metrics}");
}

/// Tailer refuses a write for every job it names: nothing changed, so only the person who
/// asked is told (a typo is not the channel's business), and no *Enable* is offered.
#[tokio::test]
async fn a_write_tailer_refuses_outright_is_told_only_to_the_person_who_asked() {
    let bot = TestBot::start().await;
    bot.tailer.sim.inject(Fault::new(Some("set_configuration_status"), FaultKind::Status { status: 400, message: "locked".into() }, 1));
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare").await;
    let reply = bot.reply_to(&bot.last_trigger()).await;
    assert!(reply.visible_text().contains("Could not disable `iowa-prepare`"), "{reply:?}");
    assert_eq!(reply.response_type.as_deref(), Some("ephemeral"), "{reply:?}");
    assert!(reply.buttons().is_empty(), "{reply:?}");
    // Nothing was switched off, so nothing is listed as off.
    let (_, body) = bot.command(ANALYST, CHANNEL, "disabled").await;
    assert!(text_of(&body).contains("Nothing you may see here is switched off"), "{body}");
}

/// A disable that went through tells the channel and offers *Enable*; the enable that
/// follows tells the channel too, without offering itself again.
#[tokio::test]
async fn a_disable_offers_enable_and_the_enable_offers_nothing() {
    let bot = TestBot::start().await;
    bot.command(ANALYST, CHANNEL, "disable iowa-prepare").await;
    let off = bot.reply_to(&bot.last_trigger()).await;
    assert!(off.visible_text().contains("Disabled `iowa-prepare`"), "{off:?}");
    assert_eq!((off.response_type.as_deref(), off.buttons()), (Some("in_channel"), vec!["Enable".to_owned()]), "{off:?}");
    bot.command(ANALYST, CHANNEL, "enable iowa-prepare").await;
    let on = bot.reply_to(&bot.last_trigger()).await;
    assert!(on.visible_text().contains("Enabled `iowa-prepare`"), "{on:?}");
    assert_eq!((on.response_type.as_deref(), on.buttons()), (Some("in_channel"), Vec::<String>::new()), "{on:?}");
}
