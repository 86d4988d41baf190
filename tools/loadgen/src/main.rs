//! `loadgen`: sends freshly signed Slack slash commands to an endpoint at a fixed
//! concurrency for a fixed time, one keep-alive connection per worker, and reports
//! throughput, acknowledgement latency (p50/p99/max) and errors, as text and as one
//! machine-readable line. With `--check-replies`, it then checks that every acknowledged
//! command got exactly one reply at its `response_url` (counted by the Slack stand-in).

mod replies;
mod slack;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio::time::Instant;

use crate::slack::{CommandTemplate, Signer};
use crate::worker::{Schedule, Stats, Target};

/// Loads a Slack slash-command endpoint with signed commands.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
struct Args {
    /// The endpoint, e.g. http://127.0.0.1:8080/slack/commands.
    #[arg(long)]
    url: String,
    /// The signing secret the endpoint verifies with.
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    secret: String,
    /// The command's text.
    #[arg(long, default_value = "help")]
    text: String,
    /// The slash command.
    #[arg(long, default_value = "/tailer")]
    command: String,
    /// Commands per second in all, shared by the connections, each sent on its schedule
    /// (open loop; a late one is sent at once and its latency counts from its scheduled
    /// time). Without it, each connection sends as soon as its last answer came.
    #[arg(long)]
    rate: Option<f64>,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds of load before the measurement (answers must still be 2xx; replies are checked).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Distinct users the commands come from.
    #[arg(long, default_value_t = 5000)]
    users: u32,
    /// Seconds without a full answer before a request counts as timed out (Slack waits 3).
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
    /// The workspace of the commands.
    #[arg(long, default_value = "T0001")]
    team: String,
    /// The channel of the commands.
    #[arg(long, default_value = "C0LOADGEN")]
    channel: String,
    /// Each `response_url` is this, `/`, and the command's trigger id.
    #[arg(long, default_value = "https://hooks.slack.com/commands/T0001/loadgen")]
    response_url_base: String,
    /// After the load, check the replies counted by the Slack stand-in at this base URL.
    #[arg(long)]
    check_replies: Option<String>,
    /// Longest wait for the replies, in seconds.
    #[arg(long, default_value_t = 180.0)]
    reply_wait: f64,
    /// A name for the report.
    #[arg(long, default_value = "target")]
    label: String,
}

/// A number of seconds from the command line (zero allowed only where `zero_ok`).
fn seconds(value: f64, name: &str, zero_ok: bool) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| zero_ok || !d.is_zero())
        .with_context(|| format!("{name} must be a positive number of seconds"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let uri: hyper::Uri = args.url.parse().with_context(|| format!("--url is not a URL: {}", args.url))?;
    anyhow::ensure!(uri.scheme_str() == Some("http"), "--url must be http:// (the endpoints measured here are local)");
    let host = uri.host().context("--url has no host")?;
    let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let (measured, warmup, timeout) =
        (seconds(args.seconds, "--seconds", false)?, seconds(args.warmup, "--warmup", true)?, seconds(args.timeout, "--timeout", false)?);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let target = Arc::new(Target {
        authority,
        path,
        signer: Signer::new(&args.secret),
        template: CommandTemplate {
            team: args.team,
            channel: args.channel,
            command: args.command,
            text: args.text.clone(),
            response_url_base: args.response_url_base,
            users: args.users,
        },
        run_id: run_id.clone(),
        timeout,
    });
    let start = Instant::now();
    let period = match args.rate {
        None => None,
        Some(rate) => {
            anyhow::ensure!(rate.is_finite() && rate > 0.0, "--rate must be a positive number of commands per second");
            Some(seconds(args.concurrency as f64 / rate, "--rate", false)?)
        }
    };
    let schedule = Schedule { measure_from: start + warmup, until: start + warmup + measured, period };
    let workers: Vec<_> = (0..args.concurrency).map(|i| tokio::spawn(worker::run(i, target.clone(), schedule))).collect();
    let mut stats = Stats::empty();
    for w in workers {
        stats.merge(w.await.context("a worker panicked")?);
    }
    // Requests in flight at the end finish after it: the measured time runs until the last.
    let elapsed = stats.finished.saturating_duration_since(schedule.measure_from).max(measured);
    let report = Report::new(&stats, elapsed);
    print!("{}", report.text(&args.label, &args.url, &args.text, args.concurrency, args.users, &stats));

    let replies = match &args.check_replies {
        Some(standin) => {
            let wait = seconds(args.reply_wait, "--reply-wait", false)?;
            let replies = replies::check(standin, &run_id, &stats.acked, wait, Duration::from_secs(1)).await?;
            println!(
                "  replies: {} of {} acknowledged commands answered, {} missing, {} duplicated, {} to unacknowledged commands; all in {:.1} s after the load",
                replies.answered,
                stats.acked.len(),
                replies.missing,
                replies.duplicated,
                replies.unexpected,
                replies.drain.as_secs_f64()
            );
            Some(replies)
        }
        None => None,
    };
    println!("{}", report.line(replies));
    Ok(())
}

/// The figures of a run.
struct Report {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    sent: u64,
}

impl Report {
    fn new(stats: &Stats, elapsed: Duration) -> Report {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let h = &stats.latency;
        Report {
            rps: stats.ok as f64 / elapsed.as_secs_f64(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            errors: stats.errors(),
            sent: stats.sent,
        }
    }

    fn text(&self, label: &str, url: &str, text: &str, concurrency: usize, users: u32, stats: &Stats) -> String {
        format!(
            "loadgen: {label}: {url} `{text}`, {concurrency} connections, {users} users\n  \
             throughput: {:.0} req/s ({} acknowledged of {} sent; warm-up {} of {})\n  \
             acknowledgement latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n  \
             errors: {} ({} non-2xx, {} connection, {} timeouts)\n",
            self.rps,
            stats.ok,
            stats.sent,
            stats.warmup_ok,
            stats.warmup_sent,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.errors,
            stats.non_2xx,
            stats.connection,
            stats.timeouts,
        )
    }

    /// `loadgen: rps=... p50_ms=... p99_ms=... max_ms=... errors=... sent=...` (and the
    /// reply counts when checked).
    fn line(&self, replies: Option<replies::Replies>) -> String {
        let mut line = format!(
            "loadgen: rps={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={} sent={}",
            self.rps, self.p50_ms, self.p99_ms, self.max_ms, self.errors, self.sent
        );
        if let Some(r) = replies {
            line.push_str(&format!(
                " replied={} missing={} duplicated={} drain_s={:.1}",
                r.answered,
                r.missing,
                r.duplicated,
                r.drain.as_secs_f64()
            ));
        }
        line
    }
}
