//! The reply check: after the load, every acknowledged command must get exactly one
//! reply at its `response_url`. The Slack stand-in counts the posts it received per
//! `response_url` key (`GET /_standin/responses`); the key is the trigger id, so each
//! command is matched to its replies.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replies {
    /// Acknowledged commands that got at least one reply.
    pub answered: u64,
    /// Acknowledged commands that got none.
    pub missing: u64,
    /// Replies beyond the first, summed over commands.
    pub duplicated: u64,
    /// Replies to commands of this run that were not acknowledged (timed out).
    pub unexpected: u64,
    /// From the end of the load to the last reply needed (or to giving up).
    pub drain: Duration,
}

/// Compares the stand-in's counts with the acknowledged trigger ids.
pub fn compare(acked: &[String], counts: &HashMap<String, u64>) -> Replies {
    let acked_set: HashSet<&str> = acked.iter().map(String::as_str).collect();
    let mut replies = Replies::default();
    for trigger in &acked_set {
        match counts.get(*trigger).copied().unwrap_or(0) {
            0 => replies.missing += 1,
            n => {
                replies.answered += 1;
                replies.duplicated += n - 1;
            }
        }
    }
    replies.unexpected = counts.iter().filter(|(k, _)| !acked_set.contains(k.as_str())).map(|(_, n)| *n).sum();
    replies
}

/// Waits (at most `wait`) until every acknowledged command has a reply, lets late
/// duplicates arrive for `settle`, then compares.
pub async fn check(standin: &str, run_id: &str, acked: &[String], wait: Duration, settle: Duration) -> anyhow::Result<Replies> {
    let started = Instant::now();
    let deadline = started + wait;
    let needed = acked.len() as u64;
    loop {
        let summary = get_json(standin, &format!("/_standin/responses?prefix={run_id}.&summary=true")).await?;
        let distinct = summary["distinct"].as_u64().context("the stand-in's summary has no `distinct`")?;
        if distinct >= needed || Instant::now() >= deadline {
            break;
        }
        // Polling an outside process: there is no signal to wait on.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drain = started.elapsed();
    tokio::time::sleep(settle).await;
    let full = get_json(standin, &format!("/_standin/responses?prefix={run_id}.")).await?;
    let keys = full["keys"].as_object().context("the stand-in's answer has no `keys`")?;
    let counts: HashMap<String, u64> = keys.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect();
    Ok(Replies { drain, ..compare(acked, &counts) })
}

/// `GET base + path` as JSON.
async fn get_json(base: &str, path: &str) -> anyhow::Result<Value> {
    let uri: hyper::Uri = base.parse().with_context(|| format!("not a URL: {base}"))?;
    let authority = uri.authority().with_context(|| format!("no host in {base}"))?.to_string();
    let stream = TcpStream::connect(&authority).await.with_context(|| format!("connecting to the stand-in at {authority}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(path).header(hyper::header::HOST, authority.as_str()).body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("the stand-in answered {status} to {path}");
    }
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_duplicated_and_unexpected_replies_are_told_apart() {
        let acked: Vec<String> = ["r.0.1", "r.0.2", "r.0.3"].iter().map(|s| (*s).to_owned()).collect();
        let counts: HashMap<String, u64> = [("r.0.1", 1), ("r.0.2", 3), ("r.0.9", 1)].iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
        let replies = compare(&acked, &counts);
        assert_eq!((replies.answered, replies.missing, replies.duplicated, replies.unexpected), (2, 1, 2, 1));
    }
}
