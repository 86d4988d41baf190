use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::domain::RunId;

/// The text of a message's first part (its lines), as it reads.
fn first_section(message: &crate::chat::Message) -> String {
    match message.parts.first() {
        Some(crate::chat::Part::Section { text }) => crate::domain::markup::as_text(text),
        Some(crate::chat::Part::Lines { lines, .. }) => crate::domain::markup::as_text(&lines.join("\n")),
        other => panic!("the first part is text: {other:?}"),
    }
}

/// Run `n` of a fixed history: started on day `n` of November 2026 at 06:00.
fn run(n: u32, status: RunStatus, minutes: Option<u64>) -> RunItem {
    RunItem {
        run_id: RunId::parse(&format!("202611{n:02}-060000-run{n}")).unwrap(),
        status,
        account: Some("000099".into()),
        environment: Some("PROD".into()),
        configuration_type: Some("gbq-to-gbq".into()),
        configuration_id: Some("000099_sales_daily_PROD".into()),
        job_id: None,
        duration: minutes.map(|m| Duration::from_secs(m * 60)),
        start_execution_date: Some(Utc.with_ymd_and_hms(2026, 11, n, 6, 0, 0).unwrap()),
        last_update_date: None,
    }
}

/// Ten runs, newest first as Tailer answers: 7 successes, 2 failures, one still running.
fn fixed() -> Vec<RunItem> {
    let mut runs = vec![
        run(1, RunStatus::Success, Some(10)),
        run(2, RunStatus::Success, Some(12)),
        run(3, RunStatus::Failed, Some(3)),
        run(4, RunStatus::Success, Some(11)),
        run(5, RunStatus::Success, Some(40)),
        run(6, RunStatus::Success, Some(13)),
        run(7, RunStatus::Failed, Some(5)),
        run(8, RunStatus::Success, Some(12)),
        run(9, RunStatus::Success, Some(14)),
        run(10, RunStatus::Running, Some(2)),
    ];
    runs.reverse();
    runs
}

#[test]
fn the_summary_of_a_fixed_history_has_its_figures() {
    let s = Summary::of(&fixed());
    assert_eq!((s.runs, s.ended, s.successes, s.failures), (10, 9, 7, 2));
    assert_eq!(s.success_percent(), Some(78));
    // Ended durations sorted: 3 5 10 11 12 12 13 14 40 (the running run's 2 min is not one).
    assert_eq!(s.median_secs, Some(12.0 * 60.0));
    assert_eq!(s.p95_secs, Some(40.0 * 60.0), "nearest rank: the 9th of 9");
    assert_eq!(s.last_failure.as_ref().map(|(r, _)| r.as_str()), Some("20261107-060000-run7"));
    assert_eq!(s.longest, Some(("20261105-060000-run5".to_owned(), 40.0 * 60.0)));

    let job = crate::config::embedded_config().job("sales-daily").unwrap().clone();
    let message = summary_message(Links::none(), &job, &s, &fixed());
    let when = crate::domain::markup::date(1794031200, "2026-11-07 06:00 UTC");
    assert!(message.texts().iter().any(|t| t.contains(&when)), "the failure's start is a date each reader sees in their zone");
    let text = first_section(&message);
    for expected in [
        "the last 10 runs",
        "Success: 7 of 9 ended runs (78 %); 1 not ended",
        "median 12 min 0 s · 95th percentile 40 min 0 s",
        "Last failure: run `20261107-060000-run7`, started 2026-11-07 06:00 UTC",
        "Longest: run `20261105-060000-run5` · 40 min 0 s",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn a_failure_marked_checked_is_still_a_failure_and_a_run_not_started_is_the_newest() {
    let mut items = fixed();
    // Run 7 failed and was looked at; a queued run has no start yet (Tailer lists it first).
    items.iter_mut().find(|i| i.run_id.as_str().ends_with("run7")).unwrap().status = RunStatus::Checked;
    let mut queued = run(28, RunStatus::Waiting, None);
    queued.start_execution_date = None;
    items.insert(0, queued);
    let s = Summary::of(&items);
    assert_eq!((s.successes, s.failures), (7, 2));
    assert_eq!(s.last_failure.as_ref().map(|(r, _)| r.as_str()), Some("20261107-060000-run7"));
    let bars = bars(&items);
    assert_eq!(bars.iter().filter(|b| b.kind == Kind::Failed).count(), 2);
    assert_eq!(bars.last().unwrap().started, None, "the queued run is drawn last, as the newest");
}

#[test]
fn percentiles_of_few_or_even_counts() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[4.0]), Some(4.0));
    assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
    assert_eq!(nearest_rank(&[7.0], 0.95), Some(7.0));
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(nearest_rank(&hundred, 0.95), Some(95.0));
}

#[test]
fn a_history_without_failures_or_ended_runs_says_so() {
    let job = crate::config::embedded_config().job("sales-daily").unwrap().clone();
    let items = vec![run(2, RunStatus::Running, None)];
    let s = Summary::of(&items);
    let text = first_section(&summary_message(Links::none(), &job, &s, &items));
    assert!(text.contains("No run has ended yet; 1 not ended") && text.contains("No failure among them"), "{text}");
    assert!(!text.contains("median"), "{text}");
}

#[test]
fn bars_go_oldest_first_coloured_by_status() {
    let bars = bars(&fixed());
    assert_eq!(bars.first().unwrap().started.unwrap().format("%d").to_string(), "01");
    assert_eq!(bars.iter().filter(|b| b.kind == Kind::Failed).count(), 2);
    assert_eq!(bars.last().unwrap().kind, Kind::Other, "the running run is neither");
}

/// The pixels of a decoded PNG, with its size.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sized image")];
    let info = reader.next_frame(&mut pixels).expect("one frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// Pixels of `colour` in the lower half of the picture: where the bars stand, below the
/// legend (which shows the same colours).
fn count(pixels: &[u8], colour: plotters::style::RGBColor) -> usize {
    let lower = pixels.len() / 3 / 2 * 3;
    pixels[lower..].chunks_exact(3).filter(|p| p[0] == colour.0 && p[1] == colour.1 && p[2] == colour.2).count()
}

#[test]
fn a_chart_is_a_png_of_the_announced_size_showing_each_status_colour() {
    let items = fixed();
    let png_bytes = chart::render("sales-daily (PROD): the last 10 runs", &bars(&items), &Summary::of(&items)).unwrap();
    let (width, height, pixels) = decode(&png_bytes);
    assert_eq!((width, height), (chart::WIDTH, chart::HEIGHT));
    assert!(width >= 800 && height >= 400, "readable at Slack's preview size");
    let (green, red, grey) = (count(&pixels, chart::SUCCESS), count(&pixels, chart::FAILED), count(&pixels, chart::OTHER));
    // Seven success bars outweigh two failures, and the one running run is the smallest.
    assert!(green > red && red > 0 && grey > 0, "green {green}, red {red}, grey {grey}");
    // Text was drawn with the embedded font: dark pixels beyond the axes' lines.
    let dark = pixels.chunks_exact(3).filter(|p| p.iter().all(|c| *c < 80)).count();
    assert!(dark > 2_000, "{dark} dark pixels: the title and labels are missing");

    // Only successes: no red at all.
    let ok: Vec<RunItem> = items.iter().filter(|i| i.status == RunStatus::Success).cloned().collect();
    let (_, _, pixels) = decode(&chart::render("t", &bars(&ok), &Summary::of(&ok)).unwrap());
    assert_eq!(count(&pixels, chart::FAILED), 0);
    assert!(count(&pixels, chart::SUCCESS) > 0);
}

#[test]
fn a_hundred_runs_and_runs_without_durations_still_draw() {
    let items: Vec<RunItem> = (0..100)
        .map(|i| run(1 + i % 28, if i % 7 == 0 { RunStatus::Failed } else { RunStatus::Success }, (i % 5 != 0).then_some(u64::from(i))))
        .collect();
    let (w, h, _) = decode(&chart::render("t", &bars(&items), &Summary::of(&items)).unwrap());
    assert_eq!((w, h), (chart::WIDTH, chart::HEIGHT));
    let none: Vec<RunItem> = vec![run(1, RunStatus::Running, None)];
    decode(&chart::render("t", &bars(&none), &Summary::of(&none)).unwrap());
    // Whatever Tailer says a duration is.
    let mut absurd = vec![run(1, RunStatus::Success, Some(1)), run(2, RunStatus::Failed, Some(2))];
    absurd[0].duration = Some(Duration::MAX);
    decode(&chart::render("t", &bars(&absurd), &Summary::of(&absurd)).unwrap());
}
