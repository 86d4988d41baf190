//! The chart of a job's last runs: one bar per run (its duration), coloured by its final
//! status, oldest left, dates under the bars, a line at the median duration, the job and
//! its environment in the title. Drawn by plotters on an in-memory bitmap with a font
//! embedded in the binary (no system fonts), encoded as PNG.

use std::sync::OnceLock;

use plotters::prelude::*;

use super::{Kind, Run, Summary};

/// The picture's size: Slack previews it at full width without scaling the text away.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 500;

/// Slack's own green and red, and a neutral grey for the rest.
pub const SUCCESS: RGBColor = RGBColor(0x2E, 0xB6, 0x7D);
pub const FAILED: RGBColor = RGBColor(0xE0, 0x1E, 0x5A);
pub const OTHER: RGBColor = RGBColor(0x9A, 0xA0, 0xA6);
const MEDIAN: RGBColor = RGBColor(0x1D, 0x4E, 0xD8);

/// The family every text is drawn in: DejaVu Sans, registered once.
const FONT: &str = "sans-serif";

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn font_ready() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    ok.then_some(()).ok_or_else(|| ChartError("the embedded font cannot be read".into()))
}

/// The colour of a run's bar.
pub fn colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::Success => SUCCESS,
        Kind::Failed => FAILED,
        Kind::Other => OTHER,
    }
}

/// Durations on the axis in the unit that keeps the numbers readable.
fn unit(longest_secs: f64) -> (f64, &'static str) {
    match longest_secs {
        s if s < 120.0 => (1.0, "s"),
        s if s < 2.0 * 3600.0 => (60.0, "min"),
        _ => (3600.0, "h"),
    }
}

/// Draws `runs` (oldest first) as a PNG of [`WIDTH`]×[`HEIGHT`]. CPU-bound: called off
/// the async runtime's workers.
pub fn render(title: &str, runs: &[Run], summary: &Summary) -> Result<Vec<u8>, ChartError> {
    font_ready()?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut pixels, title, runs, summary).map_err(|e| ChartError(e.to_string()))?;
    encode(&pixels)
}

fn draw(pixels: &mut [u8], title: &str, runs: &[Run], summary: &Summary) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let longest = runs.iter().filter_map(|r| r.duration_secs).fold(0.0_f64, f64::max);
    let (per, unit) = unit(longest);
    // Headroom above the tallest bar for the legend.
    let top = (longest / per * 1.45).max(1.0);
    let decimals = if top < 5.0 { 1 } else { 0 };
    let n = runs.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), 0.0_f64..top)?;
    // Dates under the bars: the day each run started, at most ten of them.
    let day = |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 0.01 || i < 0.0 {
            return String::new();
        }
        runs.get(i as usize).and_then(|r| r.started).map(|t| t.format("%b %d").to_string()).unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(10))
        .x_label_formatter(&day)
        .y_desc(format!("duration ({unit})"))
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
        .draw()?;
    chart.draw_series(runs.iter().enumerate().map(|(i, run)| {
        let height = run.duration_secs.map_or(0.0, |d| d / per);
        let x = i as f64;
        Rectangle::new([(x - 0.4, 0.0), (x + 0.4, height)], colour(run.kind).filled())
    }))?;
    for (kind, label) in [(Kind::Success, "success"), (Kind::Failed, "failed"), (Kind::Other, "other")] {
        if runs.iter().any(|r| r.kind == kind) {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour(kind).filled()));
        }
    }
    if let Some(median) = summary.median_secs {
        let y = median / per;
        chart
            .draw_series(LineSeries::new([(-0.5, y), (n as f64 - 0.5, y)], MEDIAN.stroke_width(2)))?
            .label(format!("median {}", super::secs(median)))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], MEDIAN.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xCC, 0xCC, 0xCC))
        .draw()?;
    root.present()?;
    Ok(())
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let fail = |e: png::EncodingError| ChartError(e.to_string());
    let mut out = Vec::with_capacity(64 * 1024);
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}
