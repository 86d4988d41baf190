//! One worker: one keep-alive HTTP/1.1 connection, one request at a time on it, until the
//! deadline. A connection that fails or times out is dropped and opened again; every
//! failure is counted by kind, and every acknowledged trigger id is kept for the reply check.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::slack::{CommandTemplate, Signer};

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` to connect to.
    pub authority: String,
    /// The request path (`/slack/commands`).
    pub path: String,
    pub signer: Signer,
    pub template: CommandTemplate,
    /// Prefix of every trigger id of this run (unique per run).
    pub run_id: String,
    /// Slack gives up on an answer after 3 s; so does a request here after this.
    pub timeout: Duration,
}

/// The run's phases: requests started before `measure_from` warm up (their latencies are
/// not recorded, their errors are); none start after `until`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub measure_from: Instant,
    pub until: Instant,
    /// Each worker's gap between two requests, at a fixed rate (open loop: a request
    /// late on its schedule is sent at once, and its latency counts from its scheduled
    /// time); `None`: the next request as soon as the last was answered.
    pub period: Option<Duration>,
}

/// What one worker saw.
#[derive(Debug)]
pub struct Stats {
    /// Acknowledgement latency of measured 2xx answers, in microseconds.
    pub latency: Histogram<u64>,
    /// Requests started in the measured phase.
    pub sent: u64,
    /// 2xx answers in the measured phase.
    pub ok: u64,
    /// Requests and answers during the warm-up.
    pub warmup_sent: u64,
    pub warmup_ok: u64,
    /// Answers other than 2xx (both phases).
    pub non_2xx: u64,
    /// Connections refused or broken, requests that could not be written (both phases).
    pub connection: u64,
    /// No full answer within the timeout (both phases).
    pub timeouts: u64,
    /// Trigger ids answered with 2xx (both phases): each must get exactly one reply.
    pub acked: Vec<String>,
    /// When the last request of this worker finished.
    pub finished: Instant,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            // 1 µs to 10 minutes, 3 significant digits: these bounds are valid.
            latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            sent: 0,
            ok: 0,
            warmup_sent: 0,
            warmup_ok: 0,
            non_2xx: 0,
            connection: 0,
            timeouts: 0,
            acked: Vec::new(),
            finished: Instant::now(),
        }
    }

    pub fn errors(&self) -> u64 {
        self.non_2xx + self.connection + self.timeouts
    }

    /// Adds another worker's figures to these.
    pub fn merge(&mut self, other: Stats) {
        // Same bounds on both sides: adding cannot fail.
        self.latency.add(&other.latency).expect("histograms with the same bounds");
        self.sent += other.sent;
        self.ok += other.ok;
        self.warmup_sent += other.warmup_sent;
        self.warmup_ok += other.warmup_ok;
        self.non_2xx += other.non_2xx;
        self.connection += other.connection;
        self.timeouts += other.timeouts;
        self.acked.extend(other.acked);
        self.finished = self.finished.max(other.finished);
    }

    pub fn empty() -> Stats {
        Stats::new()
    }
}

enum Outcome {
    Ok,
    Status(u16),
    Connection,
    Timeout,
}

/// Runs worker number `index` until the schedule ends.
pub async fn run(index: usize, target: std::sync::Arc<Target>, schedule: Schedule) -> Stats {
    let mut stats = Stats::new();
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    let mut seq: u64 = 0;
    let mut warned = false;
    // Workers at a fixed rate start spread over one period, so that they do not send in step.
    let mut pace = schedule.period.map(|period| {
        let offset = period.mul_f64((index as f64 * 0.618_034).fract());
        let mut pace = tokio::time::interval_at(Instant::now() + offset, period);
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        pace
    });
    loop {
        let started = match pace.as_mut() {
            Some(pace) => pace.tick().await,
            None => Instant::now(),
        };
        // At a fixed rate a worker behind its schedule still stops at the end: what it
        // could not send by then is not sent.
        if started >= schedule.until || Instant::now() >= schedule.until {
            break;
        }
        let measured = started >= schedule.measure_from;
        let sender = match connection.as_mut() {
            Some(sender) => sender,
            None => match tokio::time::timeout(target.timeout, connect(&target.authority)).await {
                Ok(Ok(sender)) => connection.insert(sender),
                failed => {
                    stats.connection += 1;
                    if !warned {
                        let why = match failed {
                            Ok(Err(e)) => format!("{e:#}"),
                            _ => "timed out".to_owned(),
                        };
                        eprintln!("loadgen: worker {index}: cannot connect to {}: {why}", target.authority);
                        warned = true;
                    }
                    // Not a race being papered over: a refused connection would otherwise spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        seq += 1;
        let trigger_id = format!("{}.{index}.{seq}", target.run_id);
        let user = target.template.user(seq.wrapping_mul(7919).wrapping_add(index as u64));
        let body = target.template.body(&trigger_id, &user);
        let (timestamp, signature) = target.signer.sign_now(body.as_bytes());
        let request = hyper::Request::post(target.path.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(hyper::header::USER_AGENT, "Slackbot 1.0 (+https://api.slack.com/robots)")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(Full::new(Bytes::from(body)));
        // The parts above are all valid header values: building cannot fail.
        let request = request.expect("a well-formed request");
        if measured {
            stats.sent += 1;
        } else {
            stats.warmup_sent += 1;
        }
        let outcome = match tokio::time::timeout(target.timeout, exchange(sender, request)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => Outcome::Ok,
            Ok(Ok(status)) => Outcome::Status(status),
            Ok(Err(_)) => Outcome::Connection,
            Err(_) => Outcome::Timeout,
        };
        let elapsed = started.elapsed();
        match outcome {
            Outcome::Ok => {
                stats.acked.push(trigger_id);
                if measured {
                    stats.ok += 1;
                    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
                    stats.latency.saturating_record(micros);
                } else {
                    stats.warmup_ok += 1;
                }
            }
            Outcome::Status(status) => {
                stats.non_2xx += 1;
                if !warned {
                    eprintln!("loadgen: worker {index}: answered {status}");
                    warned = true;
                }
            }
            Outcome::Connection => {
                stats.connection += 1;
                connection = None;
            }
            Outcome::Timeout => {
                stats.timeouts += 1;
                // The answer may still come on this connection: start afresh.
                connection = None;
            }
        }
    }
    stats.finished = Instant::now();
    stats
}

/// Opens a keep-alive HTTP/1.1 connection.
async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority).await.with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; the next request sees it.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads its whole answer; the status.
async fn exchange(sender: &mut SendRequest<Full<Bytes>>, request: hyper::Request<Full<Bytes>>) -> anyhow::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}
