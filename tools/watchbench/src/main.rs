//! The watcher at scale: launches `--runs` runs on the Tailer simulator, has them followed
//! (one card each, in its own channel, as `watch` would) by `--replicas` release
//! `tailerbot serve` processes sharing one database, and measures until every run's final
//! status reached the Slack stand-in:
//!
//! - Tailer calls per run per poll interval, and the smallest gap between two polls of a run;
//! - the Tailer request rate, per second, against the configured ceiling;
//! - Slack posts per channel per second;
//! - peak RSS and CPU time of each replica;
//! - the delay from a run's end (in the simulator) to its final message at the stand-in.
//!
//! The simulator and the stand-in run in this process, so the replicas' figures are theirs
//! alone. It ends with one line:
//! `watcher: runs=<n> jobs=<j> calls_per_interval=<c> polls_per_run_interval=<x> rss_mb=<m> p99_delay_s=<d>`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::StreamExt;
use tailerbot::config::{Config, Job};
use tailerbot::sim::{SimOptions, Simulator};
use tailerbot::slack::standin::{SlackEvent, SlackStandin};
use tailerbot::store::{CardRow, Store};

const TOKEN: &str = "xoxb-watchbench";
const SECRET: &str = "watchbench-signing-secret";
const JOB: &str = "iowa-prepare";

#[derive(Parser)]
#[command(about = "Measures tailerbot's watcher with many runs followed at once")]
struct Args {
    /// The `tailerbot` binary (a release build).
    #[arg(long, default_value = "target/release/tailerbot")]
    bin: PathBuf,
    /// Runs followed at once.
    #[arg(long, default_value_t = 10_000)]
    runs: usize,
    /// Jobs the runs are spread over, evenly (1: all of them `iowa-prepare`; more: that
    /// many jobs of the bench's own, `bench-0000`...).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// `tailerbot serve` processes sharing the database (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// `sqlite` (a fresh file) or a `postgres://` server (a fresh schema in it).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// `poll_interval_secs` (and its ceiling: no back-off, so the interval is the goal).
    #[arg(long, default_value_t = 30)]
    interval_secs: u64,
    /// `max_requests_per_second` of each replica towards Tailer.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// `max_concurrent_polls` of each replica.
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
    /// Runs wait between these many seconds...
    #[arg(long, default_value_t = 5)]
    waiting_min: u64,
    #[arg(long, default_value_t = 20)]
    waiting_max: u64,
    /// ...then run between these many seconds.
    #[arg(long, default_value_t = 20)]
    running_min: u64,
    #[arg(long, default_value_t = 90)]
    running_max: u64,
}

struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tailerbot::tls::install_crypto_provider();
    if !args.bin.is_file() {
        bail!("{} is missing: build it with `cargo build --release`", args.bin.display());
    }
    if args.replicas > 1 && !args.database.starts_with("postgres") {
        bail!("several replicas share a PostgreSQL database: pass --database postgres://...");
    }
    let dir = tempfile::tempdir()?;
    let local = SocketAddr::from(([127, 0, 0, 1], 0));

    // The Tailer simulator and the Slack stand-in, in this process.
    let config_text = bench_config(&args);
    let config_path = dir.path().join("tailerbot.toml");
    std::fs::write(&config_path, &config_text)?;
    let config = Config::parse(&config_path, &config_text).context("the bench configuration")?;
    let jobs: Vec<Job> = if args.jobs <= 1 {
        vec![config.jobs.iter().find(|j| j.name.as_str() == JOB).context("the bench job")?.clone()]
    } else {
        config.jobs.iter().filter(|j| j.name.as_str().starts_with("bench-")).cloned().collect()
    };
    let sim_options = SimOptions {
        waiting: (Duration::from_secs(args.waiting_min), Duration::from_secs(args.waiting_max)),
        running: (Duration::from_secs(args.running_min), Duration::from_secs(args.running_max)),
        invisible_after_launch: Duration::from_secs(1),
        history: 0,
        ..SimOptions::default()
    };
    let tailer = Simulator::start(sim_options.with_catalog(tailerbot::offline::configurations(&config.jobs)), local).await?;
    let slack = SlackStandin::new(TOKEN).start(local).await?;
    let (database, schema) = database(&args.database, dir.path()).await?;

    // The runs, started on the simulator (as Tailer's schedule does: the bot's requests
    // are the only ones it records) and followed as `watch` does: a card each.
    println!("starting {} runs of {} job(s) and queueing their cards...", args.runs, jobs.len());
    let store = Store::connect(&database).await.context("opening the store")?;
    let interval_ms = (args.interval_secs * 1000) as i64;
    let launched: Vec<(String, String)> = futures::stream::iter(0..args.runs)
        .map(|i| {
            let (store, job, sim) = (&store, &jobs[i % jobs.len()], &tailer.sim);
            async move {
                let configuration = job.job.configuration_id.to_string();
                let run = sim.start_scheduled_run(&configuration).with_context(|| format!("start {i}"))?;
                let channel = format!("C{i:07}");
                watch(store, job, &run, &channel, interval_ms).await?;
                anyhow::Ok((run, channel))
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    store.close().await;
    let channel_of_run: HashMap<String, String> = launched.iter().cloned().collect();

    // The replicas.
    let started = Instant::now();
    let mut replicas = Vec::new();
    for _ in 0..args.replicas {
        replicas.push(serve(&args.bin, &config_path, &database, &slack.api_url(), &tailer.url()).await?);
    }
    println!(
        "{} replica(s) ready in {:.1} s; following until every run's final status is posted...",
        args.replicas,
        started.elapsed().as_secs_f64()
    );
    let longest = args.waiting_max + args.running_max + 3 * args.interval_secs + 120;
    let deadline = Instant::now() + Duration::from_secs(longest);
    let mut peak_rss_kb = vec![0u64; replicas.len()];
    // Followed as the events come (copying all of them every time would hold the
    // stand-in, and the bot's calls to it, for longer and longer).
    let mut finals = Finals::default();
    loop {
        for (peak, r) in peak_rss_kb.iter_mut().zip(&replicas) {
            *peak = (*peak).max(proc_status(r.child.id(), "VmRSS:").unwrap_or(0));
        }
        finals.add(&slack.slack.events_since(finals.seen));
        if finals.at.len() >= args.runs || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let finals = finals.at;
    let elapsed = started.elapsed().as_secs_f64();

    // Each replica's own figures, read before it stops.
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    for (i, r) in replicas.iter().enumerate() {
        let (utime, stime) = proc_cpu(r.child.id()).unwrap_or((0.0, 0.0));
        let hwm = proc_status(r.child.id(), "VmHWM:").unwrap_or(peak_rss_kb[i]).max(peak_rss_kb[i]);
        let metrics = http.get(format!("{}/metrics", r.url)).send().await?.text().await?;
        let polls = metric_sum(&metrics, "tailerbot_tailer_calls_total", "action=\"check_run_status\"")
            + metric_sum(&metrics, "tailerbot_tailer_calls_total", "action=\"get_last_status\"");
        let own: Vec<String> = ["alone", "beyond", "job_unknown"]
            .iter()
            .map(|why| format!("{why} {:.0}", metric_sum(&metrics, "tailerbot_watch_own_polls_total", &format!("why=\"{why}\""))))
            .collect();
        rows.push((hwm as f64 / 1024.0, utime + stime, polls, own.join(", ")));
    }
    drop(replicas);

    // What the simulator and the stand-in saw.
    let requests = tailer.sim.requests();
    // A run is polled by its own call, or by its job's (its latest runs, which hold it
    // when the job has no more runs than the answer was asked for).
    let runs_of_job: HashMap<String, Vec<&str>> = launched.iter().enumerate().fold(HashMap::new(), |mut of, (i, (run, _))| {
        of.entry(jobs[i % jobs.len()].job.configuration_id.to_string()).or_default().push(run.as_str());
        of
    });
    let calls: Vec<&tailerbot::sim::RecordedRequest> =
        requests.iter().filter(|r| r.action == "check_run_status" || r.action == "get_last_status").collect();
    let mut polls: Vec<(&str, i64)> = Vec::new();
    for r in &calls {
        let field = |name: &str| r.body.get(name).and_then(|v| v.as_str());
        match (r.action.as_str(), field("run_id"), field("configuration_id")) {
            ("check_run_status", Some(run), _) => polls.push((run, r.at_ms)),
            ("get_last_status", _, Some(configuration)) => {
                // A job with more runs than the answer was asked for: which of its runs
                // the answer held is not known here, so it counts for none of them.
                let limit = r.body.get("limit").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
                let runs = runs_of_job.get(configuration).filter(|runs| runs.len() <= limit);
                polls.extend(runs.into_iter().flatten().map(|run| (*run, r.at_ms)));
            }
            _ => {}
        }
    }
    let mut by_run: HashMap<&str, Vec<i64>> = HashMap::new();
    for (run, at) in &polls {
        by_run.entry(run).or_default().push(*at);
    }
    // Tailer calls per interval, over the time the watcher polled.
    let call_span = match (calls.iter().map(|r| r.at_ms).min(), calls.iter().map(|r| r.at_ms).max()) {
        (Some(first), Some(last)) => ((last - first + interval_ms) as f64 / interval_ms as f64).max(1.0),
        _ => 1.0,
    };
    let calls_per_interval = calls.len() as f64 / call_span;
    let (mut spans, mut min_gap) = (0.0, f64::MAX);
    for times in by_run.values_mut() {
        times.sort_unstable();
        spans += (times[times.len() - 1] - times[0] + interval_ms) as f64 / interval_ms as f64;
        for pair in times.windows(2) {
            min_gap = min_gap.min((pair[1] - pair[0]) as f64 / interval_ms as f64);
        }
    }
    let polls_per_interval = polls.len() as f64 / spans.max(1.0);
    let mut per_second: HashMap<i64, u32> = HashMap::new();
    // The bot's own requests (the launches are the bench's).
    for r in requests.iter() {
        *per_second.entry(r.at_ms.div_euclid(1000)).or_default() += 1;
    }
    let peak_rate = per_second.values().copied().max().unwrap_or(0);
    let events = slack.slack.events();
    let (slack_peak, too_close, closest) = channel_pacing(&events);
    // How fast the outbox delivered: Slack writes per second, over the whole run.
    let writes: Vec<i64> = events.iter().filter(|e| e.method.starts_with("chat.")).map(|e| e.at_ms).collect();
    let write_span_s = match (writes.iter().min(), writes.iter().max()) {
        (Some(first), Some(last)) => ((last - first) as f64 / 1000.0).max(1.0),
        _ => 1.0,
    };
    let mut writes_per_second: HashMap<i64, u32> = HashMap::new();
    for at in &writes {
        *writes_per_second.entry(at.div_euclid(1000)).or_default() += 1;
    }
    let mut delays: Vec<f64> =
        finals.iter().filter_map(|(run, at)| Some((*at - tailer.sim.final_at_unix_ms(run)?) as f64 / 1000.0)).collect();
    delays.sort_by(f64::total_cmp);
    // Where the delay goes: from the end to the poll that saw it (the watcher's cadence),
    // and from that poll to the final message (the store and the outbox).
    let (mut seen, mut told): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (run, at) in &finals {
        let (Some(ended), Some(times)) = (tailer.sim.final_at_unix_ms(run), by_run.get(run.as_str())) else { continue };
        if let Some(poll) = times.iter().map(|t| tailer.sim.unix_ms(*t)).find(|t| *t >= ended) {
            seen.push((poll - ended) as f64 / 1000.0);
            told.push((at - poll) as f64 / 1000.0);
        }
    }
    seen.sort_by(f64::total_cmp);
    told.sort_by(f64::total_cmp);
    let missing = args.runs - finals.len().min(args.runs);

    let rss_max = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    println!();
    println!(
        "runs followed            {} of {} job(s) ({} channels), {} replica(s), {}",
        args.runs,
        jobs.len(),
        channel_of_run.len(),
        args.replicas,
        backend(&database)
    );
    println!("poll interval            {} s (no back-off), ceiling {} Tailer requests/s per replica", args.interval_secs, args.rate);
    println!("until the last final     {elapsed:.1} s");
    println!(
        "Tailer status polls      {} ({:.2} per run per interval; closest two polls of a run: {:.2} interval)",
        polls.len(),
        polls_per_interval,
        if min_gap == f64::MAX { 0.0 } else { min_gap }
    );
    println!(
        "Tailer calls             {} ({calls_per_interval:.0} per interval: {} for a job's latest runs, {} for one run)",
        calls.len(),
        calls.iter().filter(|r| r.action == "get_last_status").count(),
        calls.iter().filter(|r| r.action == "check_run_status").count()
    );
    println!("Tailer requests/s        peak {peak_rate} (ceiling {} in all)", u64::from(args.rate) * args.replicas as u64);
    let closest = if closest == i64::MAX { "none".to_owned() } else { format!("{closest} ms") };
    println!("Slack posts per channel  peak {slack_peak} in one second; {too_close} pairs under 1 s apart, the closest {closest}");
    println!(
        "Slack writes (all)       {} in {write_span_s:.0} s: {:.0}/s on average, peak {}/s",
        writes.len(),
        writes.len() as f64 / write_span_s,
        writes_per_second.values().copied().max().unwrap_or(0)
    );
    for (i, (rss, cpu, polls, own)) in rows.iter().enumerate() {
        println!("replica {i}                peak RSS {rss:.1} MB, CPU {cpu:.1} s, {polls:.0} polls ({:.1}/s)", polls / elapsed);
        println!("  runs asked on their own, why: {own}");
    }
    println!(
        "end → final message      p50 {:.2} s, p99 {:.2} s, max {:.2} s ({} of {} runs; {missing} missing)",
        percentile(&delays, 0.50),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0.0),
        delays.len(),
        args.runs
    );
    println!(
        "  of which end → poll     p50 {:.2} s, p99 {:.2} s, max {:.2} s; poll → message p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        percentile(&seen, 0.50),
        percentile(&seen, 0.99),
        seen.last().copied().unwrap_or(0.0),
        percentile(&told, 0.50),
        percentile(&told, 0.99),
        told.last().copied().unwrap_or(0.0),
    );
    println!(
        "watcher: runs={} jobs={} calls_per_interval={calls_per_interval:.0} polls_per_run_interval={:.2} rss_mb={:.1} p99_delay_s={:.2}",
        args.runs,
        jobs.len(),
        polls_per_interval,
        rss_max,
        percentile(&delays, 0.99)
    );
    if let Some(schema) = schema {
        drop_schema(&args.database, &schema).await?;
    }
    if missing > 0 {
        bail!("{missing} runs never got their final message");
    }
    Ok(())
}

/// The example configuration with the bench's watcher settings, and with `--jobs` jobs
/// of the bench's own when there are more than one.
fn bench_config(args: &Args) -> String {
    let mut text = example_with(args);
    if args.jobs > 1 {
        for i in 0..args.jobs {
            text.push_str(&format!(
                "\n[[jobs]]\nname = \"bench-{i:04}\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"table-to-table\"\nconfiguration_id = \"000099_bench_{i:04}_DEV\"\n"
            ));
        }
    }
    text
}

fn example_with(args: &Args) -> String {
    tailerbot::config::EXAMPLE_TOML
        .replace("https://hooks.slack.com/", "http://127.0.0.1:9/")
        .replace("poll_interval_secs = 15 ", &format!("poll_interval_secs = {} ", args.interval_secs))
        .replace("max_poll_interval_secs = 120", &format!("max_poll_interval_secs = {}", args.interval_secs))
        .replace("max_concurrent_polls = 8 ", &format!("max_concurrent_polls = {} ", args.concurrency))
        .replace("max_requests_per_second = 20 ", &format!("max_requests_per_second = {} ", args.rate))
}

/// `sqlite` → a file in `dir`; `postgres://...` → a fresh schema there.
async fn database(spec: &str, dir: &Path) -> anyhow::Result<(String, Option<String>)> {
    if spec == "sqlite" {
        return Ok((format!("sqlite://{}", dir.join("bench.db").display()), None));
    }
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(spec).await.with_context(|| format!("connecting to {}", tailerbot::server::redact_url(spec)))?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await?;
    admin.close().await;
    let separator = if spec.contains('?') { '&' } else { '?' };
    Ok((format!("{spec}{separator}options=-c%20search_path%3D{schema}"), Some(schema)))
}

async fn drop_schema(spec: &str, schema: &str) -> anyhow::Result<()> {
    let admin = sqlx::PgPool::connect(spec).await?;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await?;
    admin.close().await;
    Ok(())
}

fn backend(database: &str) -> &'static str {
    if database.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" }
}

/// What `watch <job> <run>` stores: the run followed, its card queued.
async fn watch(store: &Store, job: &Job, run: &str, channel: &str, interval_ms: i64) -> anyhow::Result<()> {
    let card = CardRow {
        run_id: run.to_owned(),
        channel_id: channel.to_owned(),
        lane: tailerbot::messages::cards::lane(run, channel),
        launched_by: None,
        watched_by: Some("U0BENCH".to_owned()),
        execution_date: None,
    };
    let post = tailerbot::messages::cards::post(&tailerbot::slack::blocks::BlockKit, tailerbot::messages::Links::none(), job, &card, None);
    let now = chrono_now_ms();
    store.start_watch(job.name.as_str(), &card, &post, now, interval_ms).await?;
    Ok(())
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn serve(bin: &Path, config: &Path, database: &str, slack_api: &str, tailer: &str) -> anyhow::Result<Replica> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(bin)
        .arg("serve")
        .env_clear()
        .env("TAILERBOT_CONFIG", config)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", TOKEN)
        .env("SLACK_API_URL", slack_api)
        .env("TAILER_API_URL", tailer)
        .env("TAILER_API_TOKEN", "t")
        .env("DATABASE_URL", database)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let replica = Replica { child, url: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http.get(format!("{}/readyz", replica.url)).send().await.is_ok_and(|r| r.status() == 200) {
            return Ok(replica);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("serve did not become ready")
}

/// Run id → when its final status reached the stand-in (a thread reply saying it),
/// followed event by event.
#[derive(Default)]
struct Finals {
    /// Events read so far.
    seen: usize,
    /// A card's `ts` → its run.
    run_of_root: HashMap<String, String>,
    at: HashMap<String, i64>,
}

impl Finals {
    /// Takes the next events in order (a card is posted before the replies in its thread).
    fn add(&mut self, events: &[SlackEvent]) {
        self.seen += events.len();
        for e in events.iter().filter(|e| e.method == "chat.postMessage") {
            match e.thread_ts.as_deref() {
                None => {
                    if let (Some(ts), Some(run)) = (e.ts.as_deref(), e.text.rsplit("run ").next()) {
                        self.run_of_root.insert(ts.to_owned(), run.to_owned());
                    }
                }
                Some(root) => {
                    let Some(run) = self.run_of_root.get(root) else { continue };
                    let text = e.visible_text();
                    if ["*SUCCESS*", "*FAILED*", "*CANCELLED*"].iter().any(|s| text.contains(s)) {
                        self.at.entry(run.clone()).or_insert(e.at_ms);
                    }
                }
            }
        }
    }
}

/// The most posts one channel got in one second, and how many pairs of successive posts
/// in a channel came less than a second apart.
/// The most posts in one channel in one second, the pairs of posts in one channel under
/// 1 s apart, and the closest two (ms).
fn channel_pacing(events: &[SlackEvent]) -> (usize, usize, i64) {
    let mut by_channel: HashMap<&str, Vec<i64>> = HashMap::new();
    for e in events.iter().filter(|e| e.method == "chat.postMessage") {
        by_channel.entry(e.channel.as_deref().unwrap_or_default()).or_default().push(e.at_ms);
    }
    let (mut peak, mut close, mut closest) = (0, 0, i64::MAX);
    for times in by_channel.values_mut() {
        times.sort_unstable();
        close += times.windows(2).filter(|p| p[1] - p[0] < 1000).count();
        closest = times.windows(2).map(|p| p[1] - p[0]).fold(closest, i64::min);
        let mut per_second: HashMap<i64, usize> = HashMap::new();
        for t in times.iter() {
            *per_second.entry(t.div_euclid(1000)).or_default() += 1;
        }
        peak = peak.max(per_second.values().copied().max().unwrap_or(0));
    }
    (peak, close, closest)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A `kB` line of `/proc/PID/status`.
fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU seconds of a process.
fn proc_cpu(pid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime, fields 14 and 15 of the line, are the 12th and 13th after the `)`.
    let ticks = 100.0;
    Some((fields.get(11)?.parse::<f64>().ok()? / ticks, fields.get(12)?.parse::<f64>().ok()? / ticks))
}

/// The sum of a Prometheus counter's samples whose labels contain `label`.
fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(name) && l.contains(label)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum::<f64>()
        // (An empty sum is -0.)
        + 0.0
}
