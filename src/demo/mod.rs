//! `tailerbot demo`: the real server, the Tailer simulator and a Slack stand-in in one
//! process, with no credentials and no network. It plays a short conversation through
//! the real HTTP endpoints, signed as Slack signs, and prints it as a person reads Slack.
//! With `--interactive`, a person types the commands instead.

mod drive;
mod transcript;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use secrecy::SecretString;

use tokio::io::AsyncBufReadExt;

use crate::clock::{AdjustableClock, Clock};
use crate::config::Settings;
use crate::server::Application;
use crate::sim::{RunningSimulator, SimOptions};
use crate::slack::standin::{RunningStandin, SlackEvent};
use crate::slack::verify::Verifier;
use chrono::Timelike;
use transcript::{Names, render};

const CHANNEL: &str = "C0DATA";
const ANA: &str = "U0ANALYST";
const LEAD: &str = "U0DATALEAD";
const ONCALL: &str = "U0ONCALL";

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// 2 runs the simulated jobs twice as fast, 0.5 half as fast.
    pub speed: f64,
    /// Read `/tailer ...` and `click <label>` lines from standard input.
    pub interactive: bool,
    /// Where a chart the bot uploads (`history`) is saved.
    pub chart: std::path::PathBuf,
}

/// Everything the demo drives.
struct Demo {
    url: String,
    slack: RunningStandin,
    tailer: RunningSimulator,
    verifier: Verifier,
    http: reqwest::Client,
    /// The time of the bot and of the simulator: the demo moves it on to show the next
    /// digest without waiting for it.
    clock: Arc<AdjustableClock>,
    triggers: AtomicU64,
    printed: AtomicU64,
    names: Names,
    /// Messages answered in HTTP (confirmations): clickable like the others.
    answers: std::sync::Mutex<Vec<SlackEvent>>,
    /// Where an uploaded chart is saved.
    chart: std::path::PathBuf,
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let factor = timing_factor(options.speed);
    let mut config = crate::config::embedded_config();
    // Four eyes on PROD, to try: whoever asks, someone else confirms.
    for rule in config.rules.iter_mut().filter(|r| r.confirm) {
        rule.second_person = true;
    }
    config.watch.poll_interval = Duration::from_secs(1);
    config.watch.max_poll_interval = Duration::from_secs(2);
    config.watch.subscription_poll = Duration::from_secs(1);
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = SimOptions {
        speed: factor,
        waiting: (Duration::from_millis(1000), Duration::from_millis(1500)),
        running: (Duration::from_millis(2500), Duration::from_millis(3500)),
        invisible_after_launch: Duration::from_millis(300),
        // A week of past runs, four a day, for `history`.
        history: 30,
        history_running: Some((Duration::from_secs(8 * 60), Duration::from_secs(25 * 60))),
        history_failures: 0.1,
        ..SimOptions::default()
    };
    let clock = AdjustableClock::new();
    let crate::offline::OfflineWorld { tailer, slack } =
        crate::offline::start(&mut config, sim, "xoxb-demo", &[ONCALL], Some(clock.clone()))
            .await
            .context("starting the Tailer simulator and the Slack stand-in")?;
    slack.slack.set_channel_members(CHANNEL, &[ANA, LEAD, ONCALL]);
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("tailerbot-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).context("creating a temporary folder")?;
    let vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", secret.clone()),
        ("SLACK_BOT_TOKEN", "xoxb-demo".to_owned()),
        ("SLACK_API_URL", slack.api_url()),
        ("TAILER_API_URL", tailer.url()),
        ("TAILER_API_TOKEN", "demo".to_owned()),
        ("DATABASE_URL", format!("sqlite://{}", dir.join("demo.db").display())),
    ]);
    let settings = Settings::from_lookup(&|name| vars.get(name).cloned(), &config.tailer)?;
    let app = Application::build(&settings, config, clock.clone(), local).await?;
    let url = format!("http://{}", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let demo = Demo {
        url,
        slack,
        tailer,
        verifier: Verifier::new(SecretString::from(secret)),
        http: reqwest::Client::new(),
        clock,
        triggers: AtomicU64::new(1),
        printed: AtomicU64::new(0),
        names: Names(HashMap::from([
            (ANA.to_owned(), "ana".to_owned()),
            (LEAD.to_owned(), "lead".to_owned()),
            (ONCALL.to_owned(), "oncall".to_owned()),
            (CHANNEL.to_owned(), "data".to_owned()),
        ])),
        answers: std::sync::Mutex::new(Vec::new()),
        chart: options.chart.clone(),
    };
    println!("tailerbot demo: the bot, a Tailer simulator and a Slack stand-in, all on this machine.");
    println!("#data is a channel; ana is an analyst; lead and oncall may act on PROD, each confirming what the other asks.\n");
    let result = if options.interactive { demo.interactive().await } else { demo.script(factor).await };
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!("\nThe demo ran for {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

fn ended(events: &[SlackEvent], status: &str, count: usize) -> bool {
    events.iter().filter(|e| e.thread_ts.is_some() && e.text.contains(status)).count() >= count
}

/// Where the demo saves the picture that came after `before` others: the first at
/// `chart`, the next ones beside it (`tailerbot-demo-history-2.png`, ...).
pub fn picture_path(chart: &std::path::Path, before: usize) -> std::path::PathBuf {
    if before == 0 {
        return chart.to_path_buf();
    }
    let stem = chart.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = chart.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    chart.with_file_name(format!("{stem}-{}{ext}", before + 1))
}

/// What `--speed` means for `sim` and `demo` alike (2: twice as fast), as the factor the
/// simulator multiplies its timings by (0.5).
pub fn timing_factor(speed: f64) -> f64 {
    1.0 / speed
}

impl Demo {
    async fn script(&self, factor: f64) -> anyhow::Result<()> {
        let limit = Duration::from_secs_f64((20.0 * factor).max(10.0));
        // The morning: the channel expects iowa-prepare by now, and it has not run today.
        println!("\n(Morning in #data: the dashboards need iowa-prepare, which has not run today.)");
        let by = self.clock.now().format("%H:%M");
        self.say(ANA, &format!("expect iowa-prepare by {by}")).await?;
        let missed = |e: &SlackEvent| e.thread_ts.is_none() && e.visible_text().contains("has not succeeded today");
        self.follow(limit, |e| e.iter().any(missed)).await?;
        self.say(ANA, "launch iowa-prepare").await?;
        self.follow(limit, |e| ended(e, "SUCCESS", 1)).await?;
        // Its late success, in the alert's thread.
        self.follow(limit, |e| e.iter().any(|e| e.thread_ts.is_some() && e.visible_text().contains("late (expected by"))).await?;
        self.say(ANA, "launch stock-enrich").await?;
        self.follow(limit, |e| ended(e, "FAILED", 1)).await?;
        // Where the conversation is: in the failed run's thread, the run goes without saying.
        let events = self.slack.slack.events();
        let card = events
            .iter()
            .find(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("stock-enrich"))
            .and_then(|e| e.ts.clone())
            .context("the card of stock-enrich")?;
        let before = events.len();
        self.mention(ANA, "status", &card).await?;
        let answered = |e: &SlackEvent| e.thread_ts.as_deref() == Some(card.as_str()) && e.visible_text().contains("Status");
        self.follow(limit, |e| e.iter().skip(before).any(answered)).await?;
        self.say(LEAD, "disable sales-daily for 1h source table late (INC-7)").await?;
        self.wait_for_button("Confirm", limit).await?;
        self.click(ONCALL, "Confirm").await?;
        self.follow(limit, |e| e.iter().any(|e| e.replace_original && e.text.contains("Disabled"))).await?;
        // What ana sees at a glance: what is off, followed, failed, waiting.
        self.open_home(ANA).await?;
        self.follow(limit, |e| e.iter().any(|e| e.method == "views.publish")).await?;
        // A launch through the form: a job ana may launch, a date picked, the card in #data.
        self.click_home(ANA, "Launch…").await?;
        self.follow(limit, |e| e.iter().any(|e| e.method == "views.open")).await?;
        let cards = |e: &[SlackEvent]| {
            e.iter().filter(|e| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.text.contains("iowa-prepare")).count()
        };
        let before = cards(&self.slack.slack.events());
        self.submit_form(ANA, &[("job", "iowa-prepare"), ("date", "2026-11-30"), ("channel", CHANNEL)]).await?;
        self.follow(limit, |e| cards(e) > before).await?;
        // What is off, and switched on again from the list.
        self.say(ANA, "disabled").await?;
        self.click(LEAD, "Enable").await?;
        self.follow(limit, |e| e.iter().any(|e| e.button("Confirm").is_some())).await?;
        self.click(ONCALL, "Confirm").await?;
        self.follow(limit, |e| e.iter().any(|e| e.replace_original && e.text.contains("Enabled"))).await?;
        // A run the bot did not start: the subscription tells the channel how it ended.
        self.say(ANA, "subscribe stock-enrich failures").await?;
        println!("\n(Tailer's own schedule starts a run of stock-enrich.)");
        let before = self.slack.slack.events().len();
        self.tailer.sim.start_scheduled_run("000099_stock_enrich_failing_DEV").context("the simulator knows stock-enrich")?;
        let alert = |e: &SlackEvent| e.method == "chat.postMessage" && e.thread_ts.is_none() && e.visible_text().contains("FAILED");
        self.follow(Duration::from_secs_f64((40.0 * factor).max(20.0)), |e| e.iter().skip(before).any(alert)).await?;
        // Is this normal? The last month of a job, in a picture.
        self.say(ANA, "history sales-daily 30").await?;
        self.follow(limit, |e| e.iter().any(|e| e.file.is_some())).await?;
        // Tomorrow morning's summary, seen now: the digest of the jobs #data follows.
        let next_minute = self.clock.now() + chrono::Duration::minutes(1);
        self.say(ANA, &format!("digest at {}", next_minute.format("%H:%M"))).await?;
        let wait = next_minute.with_second(0).unwrap_or(next_minute) - self.clock.now() + chrono::Duration::milliseconds(500);
        println!("\n(The demo moves the clock on by {} s, to the digest's time.)", wait.num_seconds().max(1));
        self.clock.advance(wait.to_std().unwrap_or_default());
        let digest = |e: &SlackEvent| e.thread_ts.is_none() && e.visible_text().contains("Daily digest for");
        self.follow(limit, |e| e.iter().any(digest)).await?;
        // The failing job's chart, in the digest's thread.
        self.follow(limit, |e| e.iter().filter(|e| e.file.is_some()).count() >= 2).await?;
        Ok(())
    }

    async fn interactive(&self) -> anyhow::Result<()> {
        println!(
            "Type `/tailer <command>` (as lead), `as ana /tailer <command>`, `click <label>` (as oncall), `click <label> as lead`, \
             `home` (lead's Home tab), `submit <job> [YYYY-MM-DD]` (the launch form, as lead), or `quit`."
        );
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Some(line) = line? else { break };
                    let line = line.trim();
                    if line == "quit" || line == "exit" {
                        break;
                    }
                    let result = if let Some(rest) = line.strip_prefix("click ") {
                        // `click <label> as <name>`: someone else than oncall clicks.
                        match rest.rsplit_once(" as ") {
                            Some((label, who)) => match self.person(who.trim()) {
                                Some(user) => self.click(&user, label.trim()).await,
                                None => {
                                    self.who_is(who.trim());
                                    Ok(())
                                }
                            },
                            None => self.click(ONCALL, rest.trim()).await,
                        }
                    } else if let Some(rest) = line.strip_prefix("as ") {
                        let (who, text) = rest.split_once(' ').unwrap_or((rest, ""));
                        match self.person(who) {
                            Some(user) => self.say(&user, text.trim().trim_start_matches("/tailer").trim()).await,
                            None => {
                                self.who_is(who);
                                Ok(())
                            }
                        }
                    } else if line == "home" {
                        let tabs = |e: &[SlackEvent]| e.iter().filter(|e| e.method == "views.publish").count();
                        let published = tabs(&self.slack.slack.events());
                        let opened = self.open_home(LEAD).await;
                        self.follow(Duration::from_secs(5), |e| tabs(e) > published).await.ok();
                        opened
                    } else if let Some(rest) = line.strip_prefix("submit ") {
                        let mut words = rest.split_whitespace();
                        let job = words.next().unwrap_or_default();
                        let date = words.next();
                        let mut values = vec![("job", job)];
                        values.extend(date.map(|d| ("date", d)));
                        values.push(("channel", CHANNEL));
                        self.submit_form(LEAD, &values).await
                    } else if let Some(text) = line.strip_prefix("/tailer") {
                        self.say(LEAD, text.trim()).await
                    } else if line.is_empty() {
                        Ok(())
                    } else {
                        println!("  (type `/tailer help`, `click <label>` or `quit`)");
                        Ok(())
                    };
                    if let Err(error) = result {
                        println!("  ({error})");
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(200)) => self.print_new(),
            }
        }
        self.settle().await;
        Ok(())
    }

    /// Before leaving, what is still on its way is shown: until nothing new came for a
    /// second (at most ten).
    async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let seen = self.slack.slack.events().len();
            let more = self.slack.slack.within(Duration::from_secs(1), |e| e.len() > seen).await.unwrap_or_else(|events| events);
            self.print_new();
            if more.len() == seen {
                return;
            }
        }
    }

    /// The user id of one of the demo's people, by name.
    fn person(&self, name: &str) -> Option<String> {
        self.names.0.iter().find(|(id, n)| n.as_str() == name && id.starts_with('U')).map(|(id, _)| id.clone())
    }

    /// Says that `name` is nobody here, and who is.
    fn who_is(&self, name: &str) {
        let mut people: Vec<&str> = self.names.0.iter().filter(|(id, _)| id.starts_with('U')).map(|(_, n)| n.as_str()).collect();
        people.sort_unstable();
        println!("  (nobody here is called `{name}`: the people are {})", people.join(", "));
    }

    /// Prints what arrives until `done` holds; fails after `limit`.
    async fn follow(&self, limit: Duration, done: impl Fn(&[SlackEvent]) -> bool) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let printed = self.printed.load(Ordering::SeqCst) as usize;
            let events = self.slack.slack.within(Duration::from_millis(250), |e| e.len() > printed).await.unwrap_or_else(|events| events);
            self.print_new();
            if done(&events) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("the conversation stalled: the expected message did not come within {} s", limit.as_secs());
            }
        }
    }

    fn print_new(&self) {
        let events = self.slack.slack.events();
        let from = self.printed.swap(events.len() as u64, Ordering::SeqCst) as usize;
        for (n, event) in events.iter().enumerate().skip(from) {
            for line in render(event, &self.names) {
                println!("{line}");
            }
            if let Some(file) = &event.file {
                let pictures = events[..n].iter().filter(|e| e.file.is_some()).count();
                let path = picture_path(&self.chart, pictures);
                match std::fs::write(&path, &file.bytes) {
                    Ok(()) => println!("    (the picture Slack received is saved as {})", path.display()),
                    Err(error) => println!("    (the picture could not be saved as {}: {error})", path.display()),
                }
            }
        }
    }
}
