//! Draws the `history` chart of 100 made-up runs, `TIMES` times, and says how long one
//! took and the process's peak memory; writes the last picture to the path given.
//!
//! `cargo run --release --example history_chart -- /tmp/history.png` (bench/history.sh).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tailerbot::domain::RunId;
use tailerbot::history::{Summary, bars, chart};
use tailerbot::tailer::{RunItem, RunStatus};

fn runs(n: u32) -> Vec<RunItem> {
    (0..n)
        .rev()
        .map(|i| RunItem {
            run_id: RunId::parse(&format!("202611{:02}-060000-run{i}", 1 + i % 28)).unwrap(),
            status: match i % 11 {
                3 | 7 => RunStatus::Failed,
                10 => RunStatus::Checked,
                _ => RunStatus::Success,
            },
            account: None,
            environment: None,
            configuration_type: None,
            configuration_id: None,
            job_id: None,
            duration: Some(Duration::from_secs(600 + u64::from(i * 37 % 500) + if i % 13 == 0 { 1800 } else { 0 })),
            start_execution_date: Some(Utc.with_ymd_and_hms(2026, 8, 1, 6, 0, 0).unwrap() + chrono::Duration::days(i64::from(i))),
            last_update_date: None,
        })
        .collect()
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "history.png".into());
    let times: u32 = std::env::var("TIMES").ok().and_then(|t| t.parse().ok()).unwrap_or(50);
    let items = runs(100);
    let (bars, summary) = (bars(&items), Summary::of(&items));
    let before = peak_rss_kb();
    let mut png = Vec::new();
    let mut took = Vec::new();
    for _ in 0..times.max(1) {
        let start = Instant::now();
        png = chart::render("sales-daily (PROD): the last 100 runs", &bars, &summary).expect("drawn");
        took.push(start.elapsed());
    }
    took.sort();
    std::fs::write(&path, &png).expect("written");
    println!(
        "history_chart: runs=100 times={} median_ms={:.2} max_ms={:.2} png_bytes={} peak_rss_mb={:.1} rss_before_mb={:.1}",
        took.len(),
        took[took.len() / 2].as_secs_f64() * 1000.0,
        took[took.len() - 1].as_secs_f64() * 1000.0,
        png.len(),
        peak_rss_kb() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
