//! Writes across the life of the bot, with the real binary on one SQLite file: the bot
//! dies (`kill -9`, or a deploy's SIGTERM that outlasts the drain) while Tailer is
//! answering a write. Tailer acts before it answers, as a slow server does. The next
//! start finishes the write and says so: the answer replaces the confirmation message,
//! the audit trail has the outcome, a timed disable's re-enable exists (it was stored
//! before Tailer was asked) and happens, and nothing is left in the journal.

mod common;

use std::time::Duration;

use common::bot::{CHANNEL, LEAD, ONCALL, as_event};
use common::process::*;
use tailerbot::sim::{Fault, FaultKind, SimOptions};
use tailerbot::slack::standin::SlackEvent;

const SALES: &str = "000099_sales_daily_PROD";
const IOWA: &str = "000099_iowa_liquor_prepare_pda_DEV";

async fn scalar(db: &str, sql: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(db).await.unwrap();
    let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

fn answers<'e>(events: &'e [SlackEvent], key: &str, needle: &str) -> Vec<&'e SlackEvent> {
    events.iter().filter(|e| e.method == "response_url" && e.ts.as_deref() == Some(key) && e.visible_text().contains(needle)).collect()
}

/// A write whose answer went out while the store refused to settle it, the bot killed
/// (`kill -9`) before the recovery settled it: the next start settles it without saying
/// it again, and Tailer is not asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_answered_while_the_store_refused_it_is_settled_quietly_by_the_next_start() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());
    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let refuse = "CREATE TRIGGER no_settling BEFORE UPDATE OF state ON writes WHEN NEW.state <> 'calling'
                  BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END";
    sqlx::query(refuse).execute(&pool).await.unwrap();
    let (status, _) = command_answer(
        &first.url,
        &slack.response_url("quiet"),
        "1.quiet.1",
        common::bot::ANALYST,
        CHANNEL,
        "disable iowa-prepare vendor late",
    )
    .await;
    assert_eq!(status, 200);
    let told = |e: &[SlackEvent]| answers(e, "quiet", "Disabled `iowa-prepare`").len();
    let events = slack.slack.wait_for(Duration::from_secs(10), |e| told(e) > 0).await;
    assert_eq!(told(&events), 1, "answered at once: {events:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Once the answer is marked sent too: a post cut off by the kill is sent again by
    // design (the outbox's own guarantee), which is not what this test is about.
    let given_back = "SELECT COUNT(*) FROM writes WHERE answered AND state = 'calling'";
    while scalar(&db, given_back).await != 1 || scalar(&db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "never given back marked answered, with its answer sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill_hard();
    sqlx::query("DROP TRIGGER no_settling").execute(&pool).await.unwrap();
    pool.close().await;

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while scalar(&db, "SELECT COUNT(*) FROM writes WHERE state = 'calling'").await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the answered write was never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.settle().await;
    let events = slack.slack.events();
    assert_eq!(told(&events), 1, "said once: {events:?}");
    assert!(!events.iter().any(|e| e.visible_text().contains("restarted")), "{events:?}");
    assert_eq!(tailer.sim.count("set_configuration_status"), 1, "Tailer asked once");
    assert!(second.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_timed_disable_whose_bot_is_killed_while_tailer_answers_is_finished_by_the_next_start() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    slack.slack.set_usergroup("S0ONCALL", &[ONCALL]);
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());

    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let (status, question) =
        command_answer(&first.url, &slack.response_url("ask"), "1.ask.1", LEAD, CHANNEL, "disable sales-daily for 2h source late").await;
    assert_eq!(status, 200);
    let question = as_event(&question);
    assert_eq!(question.buttons(), vec!["Confirm", "Cancel"], "{question:?}");
    // Tailer disables at once but answers only after a minute: the bot dies waiting.
    tailer.sim.inject(Fault::new(Some("set_configuration_status"), FaultKind::Delay { millis: 60_000 }, 1));
    assert_eq!(click(&first.url, &slack.response_url("click1"), "1.click.1", ONCALL, &question, "Confirm").await, 200);
    assert_eq!(tailer.sim.wait_for_count("set_configuration_status", 1, Duration::from_secs(10)).await, 1, "Tailer was asked");
    first.kill_hard();
    assert_eq!(tailer.sim.is_activated(SALES), Some(false), "Tailer did it");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM writes WHERE state = 'calling'").await, 1, "the write was noted before Tailer was asked");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM timers WHERE state = 'pending' AND job = 'sales-daily'").await,
        1,
        "its re-enable exists before Tailer answered"
    );

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let events = slack.slack.wait_for(Duration::from_secs(20), |e| !answers(e, "click1", "Disabled `sales-daily`").is_empty()).await;
    let outcome = answers(&events, "click1", "Disabled `sales-daily`");
    assert_eq!(outcome.len(), 1, "one answer: {events:#?}");
    let text = outcome[0].visible_text();
    assert!(outcome[0].replace_original, "it replaces the confirmation message (no hourglass left)");
    assert!(text.contains("until") && text.contains("re-enabled automatically"), "{text}");
    assert!(text.contains("finished after the bot restarted"), "it says what happened: {text}");
    assert!(text.contains(&format!("confirmed by <@{ONCALL}>")), "{text}");
    // A second click says it was done, and does nothing more.
    assert_eq!(click(&second.url, &slack.response_url("click2"), "1.click.2", ONCALL, &question, "Confirm").await, 200);
    let events = slack.slack.wait_for(Duration::from_secs(10), |e| !answers(e, "click2", "already confirmed").is_empty()).await;
    assert_eq!(answers(&events, "click2", "already confirmed").len(), 1);
    assert!(second.stop().await.success());

    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM writes WHERE state = 'calling'").await, 0, "nothing left in the journal");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit WHERE action = 'disable' AND job = 'sales-daily' AND outcome = 'succeeded'").await,
        1,
        "the audit trail has its outcome"
    );
    assert_eq!(tailer.sim.is_activated(SALES), Some(false));

    // The two hours pass while the bot is down: the next start re-enables, once.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE timers SET due_at = 0 WHERE state = 'pending'").execute(&pool).await.unwrap();
    pool.close().await;
    let third = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let reenabled = |e: &[SlackEvent]| e.iter().filter(|e| e.visible_text().contains("Re-enabled `sales-daily`")).count();
    let events = slack.slack.wait_for(Duration::from_secs(20), |e| reenabled(e) >= 1).await;
    assert!(third.stop().await.success());
    assert_eq!(reenabled(&events), 1);
    assert_eq!(tailer.sim.is_activated(SALES), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_outlasting_a_deploys_drain_is_finished_by_the_next_start_once() {
    let (tailer, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &slack.response_url_prefix());
    let db = database(dir.path());

    let first = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    tailer.sim.inject(Fault::new(Some("set_configuration_status"), FaultKind::Delay { millis: 60_000 }, 1));
    assert_eq!(command(&first.url, &slack.response_url("dis"), "1.dis.1", "U0ANALYST", CHANNEL, "disable iowa-prepare").await, 200);
    assert_eq!(tailer.sim.wait_for_count("set_configuration_status", 1, Duration::from_secs(10)).await, 1);
    // SIGTERM: the drain gives the write 8 s, Tailer takes a minute; the bot exits cleanly.
    assert!(first.stop().await.success());
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM writes WHERE state = 'calling'").await, 1, "unfinished, and handed back");

    let second = serve(&config_path, &db, &slack.api_url(), &tailer.url()).await;
    let events = slack.slack.wait_for(Duration::from_secs(20), |e| !answers(e, "dis", "Disabled `iowa-prepare`").is_empty()).await;
    assert!(second.stop().await.success());
    let outcome = answers(&events, "dis", "Disabled `iowa-prepare`");
    assert_eq!(outcome.len(), 1, "{events:#?}");
    assert!(outcome[0].visible_text().contains("finished after the bot restarted"));
    assert_eq!(tailer.sim.is_activated(IOWA), Some(false));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM writes WHERE state = 'calling'").await, 0);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM audit WHERE action = 'disable' AND outcome = 'succeeded'").await, 1);
}

/// An interrupted write found in the journal, with a paused clock: done again while it
/// is recent, reported as unknown (never done again) once the world may have moved on.
mod resumed {
    use std::time::Duration;

    use tailerbot::commands::writes::Plan;
    use tailerbot::store::{AuditOutcome, LaunchRow, WriteRow};

    use super::common::bot::{ANALYST, CHANNEL, example_config};
    use super::common::paused::{PausedBot, slow_runs};

    /// A `disable iowa-prepare` asked `age` ago, whose replica died, given back.
    async fn interrupted(bot: &PausedBot, reference: &str, age: Duration) {
        interrupted_as(bot, reference, "disable iowa-prepare vendor late", age).await;
    }

    /// `text` (a disable of iowa-prepare) asked `age` ago, whose replica died, given back.
    async fn interrupted_as(bot: &PausedBot, reference: &str, text: &str, age: Duration) {
        interrupted_answering(bot, reference, text, age, None).await;
    }

    /// The same, asked through a slash command whose `response_url` was `response_url`.
    async fn interrupted_answering(bot: &PausedBot, reference: &str, text: &str, age: Duration, response_url: Option<String>) {
        let plan = Plan {
            command: tailerbot::commands::parse(text).unwrap().into_write().unwrap(),
            jobs: vec!["iowa-prepare".into()],
            then: None,
        };
        let now = bot.bot.now_ms();
        let row = WriteRow {
            reference: reference.into(),
            action: "disable".into(),
            plan: plan.to_json(),
            channel_id: CHANNEL.into(),
            user_id: ANALYST.into(),
            confirmed_by: None,
            response_url,
            replace_question: false,
            question_ts: None,
            started_at: now - age.as_millis() as i64,
            steps: "[]".into(),
        };
        bot.bot.store().begin_write(&row, &[], now).await.unwrap();
        bot.bot.store().retry_write(reference, now, false).await.unwrap();
    }

    fn posted(bot: &PausedBot, needle: &str) -> Vec<String> {
        bot.slack
            .slack
            .events()
            .iter()
            .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL))
            .map(|e| e.visible_text())
            .filter(|t| t.contains(needle))
            .collect()
    }

    /// A confirmed `launch iowa-prepare` cut off, with its launch journal as `launch`
    /// left it (`None`: Tailer was never asked); the write is given back to be finished.
    async fn interrupted_launch(bot: &PausedBot, reference: &str, launch: Option<(&str, Option<&str>)>) {
        let plan = Plan {
            command: tailerbot::commands::parse("launch iowa-prepare").unwrap().into_write().unwrap(),
            jobs: vec!["iowa-prepare".into()],
            then: None,
        };
        let now = bot.bot.now_ms();
        let row = WriteRow {
            reference: reference.into(),
            action: "launch".into(),
            plan: plan.to_json(),
            channel_id: CHANNEL.into(),
            user_id: ANALYST.into(),
            confirmed_by: Some("U0LEAD".into()),
            response_url: None,
            replace_question: false,
            question_ts: None,
            started_at: now,
            steps: "[]".into(),
        };
        bot.bot.store().begin_write(&row, &[], now).await.unwrap();
        if let Some((state, run)) = launch {
            let key = format!("{reference}:iowa-prepare");
            let l = LaunchRow {
                key: key.clone(),
                job: "iowa-prepare".into(),
                channel_id: CHANNEL.into(),
                user_id: ANALYST.into(),
                reference: reference.into(),
                started_at: now,
                run_id: None,
                execution_date: None,
            };
            bot.bot.store().begin_launch(&l, now).await.unwrap();
            match state {
                "done" => bot.bot.store().end_launch(&key, run).await.unwrap(),
                "unknown" => bot.bot.store().end_launch_unknown(&key).await.unwrap(),
                // Still being settled by the launch recovery, which looks again later.
                _ => bot.bot.store().retry_launch(&key, run, now + 3_600_000).await.unwrap(),
            }
        }
        bot.bot.store().retry_write(reference, now, false).await.unwrap();
    }

    /// A launch cut off within a confirmed write is never made again: what the write
    /// says and audits follows its launch's journal.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_launch_write_says_what_its_launch_became_and_never_launches_again() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        let run = "20261207-031809-f4f04e1b-295b-4877-9b73-201dc5bfca5a";
        interrupted_launch(&bot, "eeee0001", Some(("done", Some(run)))).await;
        interrupted_launch(&bot, "eeee0002", Some(("done", None))).await;
        interrupted_launch(&bot, "eeee0003", Some(("unknown", None))).await;
        interrupted_launch(&bot, "eeee0004", Some(("calling", None))).await;
        interrupted_launch(&bot, "eeee0005", Some(("calling", Some(run)))).await;
        interrupted_launch(&bot, "eeee0006", None).await;
        // One post a second in a channel.
        for _ in 0..10 {
            bot.step(Duration::from_secs(1)).await;
        }
        let said = |reference: &str| -> Vec<String> {
            let events = bot.slack.slack.events();
            events
                .iter()
                .filter(|e| e.channel.as_deref() == Some(CHANNEL))
                .map(|e| e.visible_text())
                .filter(|t| t.contains(&format!("`{reference}`")))
                .collect()
        };
        let audit = bot.bot.store().recent_audit(Some("iowa-prepare"), 20).await.unwrap();
        let audited = |reference: &str| -> Vec<(AuditOutcome, Option<String>)> {
            audit.iter().filter(|a| a.reference == reference).map(|a| (a.outcome, a.tailer_answer.clone())).collect()
        };
        // Settled with its run: its card spoke; audited as launched.
        assert!(said("eeee0001").is_empty(), "{:?}", said("eeee0001"));
        assert_eq!(audited("eeee0001"), vec![(AuditOutcome::Succeeded, Some(run.to_owned()))]);
        // Settled without its run told apart: the channel is told to check.
        for reference in ["eeee0002", "eeee0003"] {
            let said = said(reference);
            assert!(
                said.len() == 1 && said[0].contains("could not tell whether `iowa-prepare` (DEV) was launched"),
                "{reference}: {said:?}"
            );
            assert_eq!(audited(reference).iter().map(|a| a.0).collect::<Vec<_>>(), vec![AuditOutcome::Unknown]);
        }
        // Still being settled: left to the launch recovery, which says and audits it.
        for reference in ["eeee0004", "eeee0005"] {
            assert!(said(reference).is_empty(), "{reference}: {:?}", said(reference));
            assert!(audited(reference).is_empty(), "{reference}: {:?}", audited(reference));
        }
        let said = said("eeee0006");
        assert!(
            said.len() == 1 && said[0].contains("Did not launch `iowa-prepare` (DEV): the bot stopped before asking Tailer"),
            "{said:?}"
        );
        assert_eq!(audited("eeee0006").iter().map(|a| a.0).collect::<Vec<_>>(), vec![AuditOutcome::Failed]);
        assert_eq!(bot.tailer.sim.count("launch_job"), 0, "nothing launched again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_recent_interrupted_write_is_done_again_and_says_so() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot, "aaaa0001", Duration::from_secs(60)).await;
        bot.step(Duration::from_secs(1)).await;
        bot.step(Duration::from_secs(1)).await;
        assert_eq!(bot.tailer.sim.count("set_configuration_status"), 1, "done again: disabling twice is harmless");
        assert_eq!(bot.tailer.sim.is_activated("000099_iowa_liquor_prepare_pda_DEV"), Some(false));
        let said = posted(&bot, "Disabled `iowa-prepare`");
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("finished after the bot restarted") && said[0].contains("aaaa0001"), "{}", said[0]);
        let audit = bot.bot.store().recent_audit(Some("iowa-prepare"), 10).await.unwrap();
        assert_eq!(audit.iter().map(|a| a.outcome).collect::<Vec<_>>(), vec![AuditOutcome::Succeeded]);
        assert_eq!(bot.bot.store().writes_in_progress().await.unwrap(), 0);
    }

    /// A timed disable found once its re-enable is due is not done again (that would
    /// switch the job off as it comes back on); one found too late to redo says that its
    /// re-enable stays scheduled.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_timed_disable_is_not_redone_once_due_and_says_its_re_enable_stays() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted_as(&bot, "ffff0001", "disable iowa-prepare for 1m vendor late", Duration::from_secs(60)).await;
        interrupted_as(&bot, "ffff0002", "disable iowa-prepare for 1h vendor late", Duration::from_secs(20 * 60)).await;
        // Looked at the very instant the first one's re-enable is due.
        bot.step(Duration::ZERO).await;
        for _ in 0..3 {
            bot.step(Duration::from_secs(1)).await;
        }
        assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0, "neither done again: {:?}", bot.slack.slack.events());
        let due = posted(&bot, "`ffff0001`");
        // Due now: its re-enable is under way, not scheduled.
        assert!(due.len() == 1 && due[0].contains("cannot tell whether it was done") && !due[0].contains("stays scheduled"), "{due:?}");
        let later = posted(&bot, "`ffff0002`");
        assert!(later.len() == 1 && later[0].contains("Its re-enable stays scheduled for"), "{later:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupted_write_too_old_to_redo_is_reported_as_unknown_with_what_to_check() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot, "bbbb0002", Duration::from_secs(20 * 60)).await;
        bot.step(Duration::from_secs(1)).await;
        bot.step(Duration::from_secs(1)).await;
        assert_eq!(bot.tailer.sim.count("set_configuration_status"), 0, "not done again: someone may have changed it since");
        let said = posted(&bot, "cannot tell whether it was done");
        assert_eq!(said.len(), 1, "{:?}", bot.slack.slack.events());
        assert!(said[0].contains("`/tailer disable iowa-prepare vendor late`"), "what to do: {}", said[0]);
        let audit = bot.bot.store().recent_audit(Some("iowa-prepare"), 10).await.unwrap();
        assert_eq!(audit.iter().map(|a| a.outcome).collect::<Vec<_>>(), vec![AuditOutcome::Unknown]);
        assert_eq!(bot.bot.store().writes_in_progress().await.unwrap(), 0);
        // Nothing more on later passes.
        bot.step(Duration::from_secs(120)).await;
        assert_eq!(posted(&bot, "cannot tell whether it was done").len(), 1);
    }

    /// An interrupted write answers through its `response_url` while Slack still takes
    /// it (25 minutes; Slack's limit is 30), and in the channel once it is too old.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_write_answers_through_its_response_url_while_slack_takes_it() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        for (reference, minutes, key) in [("cccc0001", 10, "fresh"), ("cccc0002", 30, "stale")] {
            let url = Some(bot.slack.response_url(key));
            interrupted_answering(&bot, reference, "disable iowa-prepare vendor late", Duration::from_secs(minutes * 60), url).await;
        }
        for _ in 0..3 {
            bot.step(Duration::from_secs(1)).await;
        }
        let events = bot.slack.slack.events();
        let through = |key: &str| events.iter().filter(|e| e.method == "response_url" && e.ts.as_deref() == Some(key)).count();
        assert_eq!(through("fresh"), 1, "{events:?}");
        assert_eq!(through("stale"), 0, "Slack would refuse it: {events:?}");
        assert_eq!(posted(&bot, "`cccc0002`").len(), 1, "{events:?}");
        assert!(posted(&bot, "`cccc0001`").is_empty(), "{events:?}");
    }

    /// A write whose settling the store refuses (the disk filled at that instant): the
    /// answer goes out at once, and the write, given back, is settled by the recovery
    /// 30 s later once the store takes writes again: not at once (the store is failing),
    /// not never (it would stay in progress for ever), without a second answer, and
    /// Tailer is not asked again.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_store_cannot_settle_is_answered_at_once_and_settled_thirty_seconds_later() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        let db = sqlx::SqlitePool::connect(&bot.database).await.unwrap();
        let refuse = "CREATE TRIGGER no_settling BEFORE UPDATE OF state ON writes WHEN NEW.state <> 'calling'
                      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END";
        sqlx::query(refuse).execute(&db).await.unwrap();
        let states = || async { sqlx::query_scalar::<_, String>("SELECT state FROM writes").fetch_all(&db).await.unwrap() };
        let (status, _) = bot.command(ANALYST, CHANNEL, "disable iowa-prepare vendor late").await;
        assert_eq!(status, 200);
        assert_eq!(states().await, ["calling"], "the store refused to settle it");
        sqlx::query("DROP TRIGGER no_settling").execute(&db).await.unwrap();
        let told = |e: &tailerbot::slack::standin::SlackEvent| e.visible_text().contains("Disabled `iowa-prepare`");
        let events = bot.run_until(Duration::from_secs(1), Duration::from_secs(5), |e| e.iter().any(told)).await;
        assert_eq!(events.iter().filter(|e| told(e)).count(), 1, "answered at once: {events:?}");
        for _ in 0..23 {
            bot.step(Duration::from_secs(1)).await;
        }
        assert_eq!(states().await, ["calling"], "given back for 30 s, not taken again at once");
        for _ in 0..20 {
            bot.step(Duration::from_secs(1)).await;
        }
        assert_eq!(states().await, ["done"], "settled once the 30 s were over");
        assert_eq!(bot.bot.store().writes_in_progress().await.unwrap(), 0);
        assert_eq!(bot.tailer.sim.count("set_configuration_status"), 1, "Tailer asked once");
        // Answered once: the bot did not restart, and nothing says it did.
        let events = bot.slack.slack.events();
        assert_eq!(events.iter().filter(|e| told(e)).count(), 1, "{events:?}");
        assert!(!events.iter().any(|e| e.visible_text().contains("restarted")), "{events:?}");
    }
}

/// A launch interrupted before Tailer answered, while someone else launched the same job:
/// the recovery never takes the other person's run for it.
mod interrupted_launch {
    use std::time::Duration;

    use tailerbot::store::{KnownRun, LaunchRow};

    use super::common::bot::{ANALYST, CHANNEL, example_config};
    use super::common::paused::{PausedBot, slow_runs};

    /// `launch iowa-prepare` by ANALYST in CHANNEL, noted, its replica gone.
    async fn interrupted(bot: &PausedBot) {
        interrupted_as(bot, "cccc0003", CHANNEL, ANALYST).await;
    }

    /// `launch iowa-prepare` by `user` in `channel`, noted as `reference`, its replica gone.
    async fn interrupted_as(bot: &PausedBot, reference: &str, channel: &str, user: &str) {
        let now = bot.bot.now_ms();
        let row = LaunchRow {
            key: format!("{reference}:iowa-prepare"),
            job: "iowa-prepare".into(),
            channel_id: channel.into(),
            user_id: user.into(),
            reference: reference.into(),
            started_at: now,
            run_id: None,
            execution_date: None,
        };
        bot.bot.store().begin_launch(&row, now).await.unwrap();
        bot.bot.store().retry_launch(&row.key, None, now).await.unwrap();
    }

    /// A run of `iowa-prepare` on Tailer, noted by the bot as launched by `user` in `channel`.
    async fn launched(bot: &PausedBot, channel: &str, user: &str) -> String {
        let job = bot.bot.config().job("iowa-prepare").unwrap().job.clone();
        let run = bot.bot.tailer().launch_job(&job, None).await.unwrap().to_string();
        let known = KnownRun {
            run_id: run.clone(),
            job: "iowa-prepare".into(),
            channel_id: Some(channel.into()),
            launched_by: Some(user.into()),
            created_at: bot.bot.now_ms(),
        };
        bot.bot.store().remember_run(&known).await.unwrap();
        run
    }

    /// A run of `iowa-prepare` on Tailer that the bot has not noted (yet).
    async fn unnoted(bot: &PausedBot) -> String {
        let job = bot.bot.config().job("iowa-prepare").unwrap().job.clone();
        bot.bot.tailer().launch_job(&job, None).await.unwrap().to_string()
    }

    /// Right after the crash, Tailer shows a run someone else launched a moment before
    /// (not noted as theirs yet) and not yet the interrupted launch's own: looking then
    /// would take the other run. The recovery looks once the launch is 10 s old.
    #[tokio::test(start_paused = true)]
    async fn a_run_someone_else_launched_at_the_same_moment_is_not_taken_while_its_own_does_not_show_yet() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        let other = unnoted(&bot).await;
        // Tailer shows a run 2 s after its launch.
        tokio::time::advance(Duration::from_secs(2)).await;
        interrupted(&bot).await;
        let own = unnoted(&bot).await;
        bot.step(Duration::ZERO).await;
        let known = KnownRun {
            run_id: other.clone(),
            job: "iowa-prepare".into(),
            channel_id: Some("C0ELSEWHERE".into()),
            launched_by: Some("U0SOMEONE".into()),
            created_at: bot.bot.now_ms(),
        };
        bot.bot.store().remember_run(&known).await.unwrap();
        let cards = cards_after_the_look(&bot).await;
        assert!(cards.iter().all(|c| !c.contains(&other)), "someone else's run taken: {cards:?}");
        assert!(cards.iter().any(|c| c.contains(&own)), "its own run followed: {cards:?}");
    }

    /// Tailer's answer unreadable when an interrupted launch is looked at: the launch is
    /// looked at again 30 s later (not at every pass, nor held by this replica until it
    /// restarts), and its run followed then.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_launch_tailer_could_not_answer_about_is_looked_at_again_and_followed() {
        use tailerbot::sim::{Fault, FaultKind};
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        let own = unnoted(&bot).await;
        bot.tailer.sim.inject(Fault::new(Some("get_last_status"), FaultKind::Truncated, 1));
        let asked = bot.tailer.sim.count("get_last_status");
        bot.step(Duration::from_secs(10)).await;
        bot.step(Duration::from_secs(1)).await;
        assert_eq!(bot.tailer.sim.count("get_last_status"), asked + 1, "looked at once, and Tailer failed");
        assert_eq!(cards_in(&bot, CHANNEL), 0, "nothing known yet");
        // Not asked again at every pass while Tailer fails: 30 s later.
        for _ in 0..28 {
            bot.step(Duration::from_secs(1)).await;
        }
        assert_eq!(bot.tailer.sim.count("get_last_status"), asked + 1, "asked again before 30 s");
        for _ in 0..7 {
            bot.step(Duration::from_secs(1)).await;
        }
        let events = bot.slack.slack.events();
        assert_eq!(cards_in(&bot, CHANNEL), 1, "{events:?}");
        assert!(events.iter().any(|e| e.method == "chat.postMessage" && e.visible_text().contains(&own)), "its own run: {events:?}");
    }

    /// An interrupted launch found 4 s old is looked at once it is 10 s old, not 10 s
    /// after it was found: its card is not held back longer than the look needs.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_launch_found_young_is_looked_at_once_ten_seconds_old() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        let own = unnoted(&bot).await;
        tokio::time::advance(Duration::from_secs(4)).await;
        bot.step(Duration::ZERO).await;
        assert_eq!(cards_in(&bot, CHANNEL), 0, "not looked at before it is 10 s old");
        bot.step(Duration::from_secs(6)).await;
        bot.step(Duration::from_secs(1)).await;
        let events = bot.slack.slack.events();
        assert!(events.iter().any(|e| e.channel.as_deref() == Some(CHANNEL) && e.visible_text().contains(&own)), "{events:?}");
    }

    /// A launch an hour earlier whose run was never known (settled `unknown`) is no rival
    /// now: only launches about as old as this one share out its runs.
    #[tokio::test(start_paused = true)]
    async fn a_launch_of_an_hour_ago_whose_run_was_never_known_is_no_rival() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted_as(&bot, "dddd0004", "C0ELSEWHERE", "U0SOMEONE").await;
        bot.bot.store().end_launch_unknown("dddd0004:iowa-prepare").await.unwrap();
        tokio::time::advance(Duration::from_secs(3_600)).await;
        interrupted(&bot).await;
        let own = unnoted(&bot).await;
        bot.step(Duration::ZERO).await;
        let cards = cards_after_the_look(&bot).await;
        assert!(cards.iter().any(|c| c.contains(&own)), "its own run followed: {cards:?}");
    }

    /// Someone else's run, launched and noted 2.5 s before the interrupted launch, shows
    /// in Tailer's window for it (run ids count whole seconds, and 2 s of skew are
    /// allowed): being noted, it is not counted as a run nobody claims.
    #[tokio::test(start_paused = true)]
    async fn a_run_noted_for_someone_else_just_before_the_launch_leaves_its_own_run_apart() {
        use chrono::{Timelike, Utc};
        // 0.1 s into a second: the other run's second is inside the window, its noting 2.4 s
        // before the launch.
        let wall = Utc::now().with_nanosecond(100_000_000).unwrap();
        let bot = PausedBot::start_at(example_config(), slow_runs(), wall).await;
        let other = launched(&bot, "C0ELSEWHERE", "U0SOMEONE").await;
        tokio::time::advance(Duration::from_millis(2_500)).await;
        follows_its_own_run_not(&bot, &other).await;
    }

    /// Two launches of the job interrupted 5 s apart, the later one looked at 40 s later:
    /// the earlier sees both runs nobody noted, and the later can own only the later run,
    /// so the earlier follows its own at once; the later, once looked at, follows its
    /// own. Neither channel is told to check.
    #[tokio::test(start_paused = true)]
    async fn two_launches_interrupted_five_seconds_apart_each_follow_their_own_run() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        let first = unnoted(&bot).await;
        tokio::time::advance(Duration::from_secs(5)).await;
        interrupted_as(&bot, "dddd0004", "C0ELSEWHERE", "U0SOMEONE").await;
        bot.bot.store().retry_launch("dddd0004:iowa-prepare", None, bot.bot.now_ms() + 40_000).await.unwrap();
        let second = unnoted(&bot).await;
        bot.run_until(Duration::from_secs(5), Duration::from_secs(120), |e| {
            e.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("· run")).count() >= 2
        })
        .await;
        let events = bot.slack.slack.events();
        let card = |channel: &str, run: &str| {
            events.iter().any(|e| e.channel.as_deref() == Some(channel) && e.thread_ts.is_none() && e.visible_text().contains(run))
        };
        assert!(card(CHANNEL, &first) && card("C0ELSEWHERE", &second), "each its own run: {events:?}");
        assert!(!events.iter().any(|e| e.visible_text().contains("cannot tell which run")), "{events:?}");
    }

    /// One crash cut off two launches of the job a second apart: the first before Tailer
    /// was asked, the second after. The one run may be either's: neither takes it (the
    /// first once did, and posted the second's run in its channel), and both channels are
    /// told to check, within a minute.
    #[tokio::test(start_paused = true)]
    async fn a_run_either_of_two_interrupted_launches_may_have_started_is_taken_by_neither() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        tokio::time::advance(Duration::from_secs(1)).await;
        interrupted_as(&bot, "dddd0004", "C0ELSEWHERE", "U0SOMEONE").await;
        let run = unnoted(&bot).await;
        bot.run_until(Duration::from_secs(5), Duration::from_secs(60), |e| told_in(e, CHANNEL) && told_in(e, "C0ELSEWHERE")).await;
        let events = bot.slack.slack.events();
        assert!(!events.iter().any(|e| e.visible_text().contains(&run)), "the run taken for one of them: {events:?}");
        assert!(told_in(&events, CHANNEL) && told_in(&events, "C0ELSEWHERE"), "both told to check: {events:?}");
        assert_eq!(bot.tailer.sim.count("launch_job"), 1, "nothing launched again");
        for key in ["cccc0003:iowa-prepare", "dddd0004:iowa-prepare"] {
            assert_eq!(bot.bot.store().launch_state(key).await.unwrap(), Some(("unknown".into(), None)), "{key} settled");
        }
    }

    /// Two interrupted launches whose runs cannot be told apart (both in the same second)
    /// see the same runs: neither waits for the other (they once waited ten minutes each,
    /// asking Tailer every 3 s). Both channels are told to check within a minute.
    #[tokio::test(start_paused = true)]
    async fn two_interrupted_launches_that_cannot_be_told_apart_are_told_at_once_not_after_ten_minutes() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        interrupted_as(&bot, "dddd0004", "C0ELSEWHERE", "U0SOMEONE").await;
        unnoted(&bot).await;
        unnoted(&bot).await;
        bot.run_until(Duration::from_secs(5), Duration::from_secs(60), |e| told_in(e, CHANNEL) && told_in(e, "C0ELSEWHERE")).await;
        let events = bot.slack.slack.events();
        assert!(told_in(&events, CHANNEL) && told_in(&events, "C0ELSEWHERE"), "both told to check: {events:?}");
        assert_eq!(cards_in(&bot, CHANNEL) + cards_in(&bot, "C0ELSEWHERE"), 0, "no run taken: {events:?}");
    }

    /// Another launch of the job is being made (its replica holds it; its run is not
    /// noted yet): the interrupted launch, which cannot tell its run from that one's,
    /// waits for it (past its half minute, and past a minute: a launch can be held that
    /// long, by a slow Tailer or a long claim), and follows its own once the other's is
    /// noted.
    #[tokio::test(start_paused = true)]
    async fn an_interrupted_launch_waits_for_one_being_made_and_then_follows_its_own_run() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        let own = unnoted(&bot).await;
        let now = bot.bot.now_ms();
        let making = LaunchRow {
            key: "eeee0005:iowa-prepare".into(),
            job: "iowa-prepare".into(),
            channel_id: "C0ELSEWHERE".into(),
            user_id: "U0SOMEONE".into(),
            reference: "eeee0005".into(),
            started_at: now,
            run_id: None,
            execution_date: None,
        };
        bot.bot.store().begin_launch(&making, now).await.unwrap();
        let theirs = unnoted(&bot).await;
        bot.run_until(Duration::from_secs(5), Duration::from_secs(150), |e| told_in(e, CHANNEL)).await;
        assert!(!told_in(&bot.slack.slack.events(), CHANNEL), "told while the other launch is being made");
        assert_eq!(cards_in(&bot, CHANNEL), 0);
        // The other launch gets Tailer's answer: its run is noted, its launch settled.
        let known = KnownRun {
            run_id: theirs.clone(),
            job: "iowa-prepare".into(),
            channel_id: Some("C0ELSEWHERE".into()),
            launched_by: Some("U0SOMEONE".into()),
            created_at: bot.bot.now_ms(),
        };
        bot.bot.store().remember_run(&known).await.unwrap();
        bot.bot.store().end_launch(&making.key, Some(&theirs)).await.unwrap();
        bot.step(Duration::from_secs(5)).await;
        bot.step(Duration::from_secs(1)).await;
        let events = bot.slack.slack.events();
        let card = |run: &str| {
            events.iter().any(|e| e.channel.as_deref() == Some(CHANNEL) && e.thread_ts.is_none() && e.visible_text().contains(run))
        };
        assert!(card(&own) && !card(&theirs), "its own run: {events:?}");
        assert!(!told_in(&events, CHANNEL), "{events:?}");
    }

    /// The same person launched the job half a minute earlier from another channel: that
    /// run is noted for them, but not for this launch (another channel, and before it).
    #[tokio::test(start_paused = true)]
    async fn the_same_persons_earlier_run_from_another_channel_is_not_taken_for_the_launch() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        let earlier = launched(&bot, "C0ELSEWHERE", ANALYST).await;
        tokio::time::advance(Duration::from_secs(30)).await;
        follows_its_own_run_not(&bot, &earlier).await;
    }

    /// The same person launched the job from the same channel half a minute earlier:
    /// that run was noted before this launch was made, so it is not this launch's.
    #[tokio::test(start_paused = true)]
    async fn the_same_persons_earlier_run_from_the_same_channel_is_not_taken_for_the_launch() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        let earlier = launched(&bot, CHANNEL, ANALYST).await;
        tokio::time::advance(Duration::from_secs(30)).await;
        follows_its_own_run_not(&bot, &earlier).await;
    }

    fn told_in(events: &[tailerbot::slack::standin::SlackEvent], channel: &str) -> bool {
        events.iter().any(|e| e.channel.as_deref() == Some(channel) && e.visible_text().contains("cannot tell which run"))
    }

    /// Cut off after its card was posted and before it was noted as settled, the launch
    /// is recovered once its run has ended: the run was told on its card; no second card.
    #[tokio::test(start_paused = true)]
    async fn a_launch_cut_off_after_its_card_gets_no_second_card_once_its_run_ended() {
        use tailerbot::bot::Follower;
        use tailerbot::domain::{ChannelId, UserId};
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        bot.bot.store().retry_launch("cccc0003:iowa-prepare", None, bot.bot.now_ms() + 90_000).await.unwrap();
        let own = launched(&bot, CHANNEL, ANALYST).await;
        let job = bot.bot.config().job("iowa-prepare").unwrap().clone();
        let (channel, user) = (ChannelId::parse(CHANNEL).unwrap(), UserId::parse(ANALYST).unwrap());
        assert!(bot.bot.start_watching(&job, &own, &channel, Follower::Launcher(&user), None, None).await.unwrap());
        bot.run_until(Duration::from_secs(5), Duration::from_secs(120), |e| e.iter().any(|e| e.visible_text().contains("*SUCCESS*"))).await;
        bot.step(Duration::from_secs(60)).await;
        bot.step(Duration::from_secs(1)).await;
        assert_eq!(bot.bot.store().launch_state("cccc0003:iowa-prepare").await.unwrap().map(|s| s.0), Some("done".into()), "settled");
        assert_eq!(cards_in(&bot, CHANNEL), 1, "one card: {:?}", bot.slack.slack.events());
    }

    /// Launch interrupted now, its own run started: once looked at, CHANNEL has a card for
    /// that run and none for `other`.
    async fn follows_its_own_run_not(bot: &PausedBot, other: &str) {
        interrupted(bot).await;
        let own = unnoted(bot).await;
        let cards = cards_after_the_look(bot).await;
        assert!(cards.iter().any(|c| c.contains(&own)) && !cards.iter().any(|c| c.contains(other)), "its own run, not {other}: {cards:?}");
    }

    /// The cards in CHANNEL once the interrupted launch is old enough to be looked at.
    async fn cards_after_the_look(bot: &PausedBot) -> Vec<String> {
        bot.step(Duration::from_secs(10)).await;
        bot.step(Duration::from_secs(1)).await;
        let events = bot.slack.slack.events();
        events
            .iter()
            .filter(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL) && e.thread_ts.is_none())
            .map(|e| e.visible_text())
            .collect()
    }

    fn cards_in(bot: &PausedBot, channel: &str) -> usize {
        bot.slack
            .slack
            .events()
            .iter()
            .filter(|e| {
                e.method == "chat.postMessage" && e.channel.as_deref() == Some(channel) && e.thread_ts.is_none() && e.text.contains("· run")
            })
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn another_persons_run_of_the_same_job_is_not_taken_for_it() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        launched(&bot, "C0ELSEWHERE", "U0SOMEONE").await;
        // Tailer shows new runs after a moment.
        bot.step(Duration::from_secs(10)).await;
        bot.step(Duration::from_secs(1)).await;
        assert_eq!(cards_in(&bot, CHANNEL), 0, "no card for someone else's run");
        let told = |bot: &PausedBot| {
            bot.slack
                .slack
                .events()
                .iter()
                .any(|e| e.channel.as_deref() == Some(CHANNEL) && e.visible_text().contains("cannot tell which run"))
        };
        // Its own run may not show in Tailer yet: it is looked for again for half a minute.
        assert!(!told(&bot), "not told while its run may still show: {:?}", bot.slack.slack.events());
        bot.step(Duration::from_secs(60)).await;
        bot.step(Duration::from_secs(4)).await;
        assert_eq!(cards_in(&bot, CHANNEL), 0, "no card for someone else's run");
        assert!(told(&bot), "the channel is told to check: {:?}", bot.slack.slack.events());
        assert_eq!(bot.tailer.sim.count("launch_job"), 1, "nothing launched again");
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_the_bot_noted_for_this_person_and_channel_is_followed() {
        let bot = PausedBot::start(example_config(), slow_runs()).await;
        interrupted(&bot).await;
        launched(&bot, "C0ELSEWHERE", "U0SOMEONE").await;
        let own = launched(&bot, CHANNEL, ANALYST).await;
        bot.step(Duration::from_secs(10)).await;
        bot.step(Duration::from_secs(1)).await;
        let events = bot.slack.slack.events();
        let card = events.iter().find(|e| e.method == "chat.postMessage" && e.channel.as_deref() == Some(CHANNEL) && e.thread_ts.is_none());
        assert!(card.is_some_and(|c| c.visible_text().contains(&own)), "its own run on the card: {events:?}");
        assert_eq!(bot.tailer.sim.count("launch_job"), 2, "nothing launched again");
    }
}
