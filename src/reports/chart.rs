//! The digest's trend chart: incidents opened per week by severity (stacked
//! bars) and the median time to resolve (line, right axis), drawn with
//! plotters in the embedded DejaVu Sans so it renders the same anywhere.

use std::{io::Cursor, sync::Once};

use plotters::{
    chart::DualCoordChartContext,
    coord::types::{RangedCoordf64, RangedCoordu64, RangedCoordusize},
    prelude::*,
    style::{FontStyle, register_font},
};
use serde::Serialize;

use super::figures::TIME_TO_RESOLVE;

/// One week of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendPoint {
    /// `2026-W47`.
    pub week: String,
    /// Incidents opened, per severity (sev1 … sev4).
    pub opened: [u64; 4],
    /// Median time to resolve of the incidents resolved that week, in seconds.
    pub median_resolve_seconds: Option<i64>,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;
const FONT: &str = "sans-serif";
const SEVERITY_COLOURS: [RGBColor; 4] = [
    RGBColor(192, 57, 43),
    RGBColor(230, 126, 34),
    RGBColor(241, 196, 15),
    RGBColor(149, 165, 166),
];

fn register_embedded_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans ships in the binary (the `dejavu` crate), so the chart
        // never depends on the fonts of the machine it runs on.
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
        register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans Bold is a valid font"));
    });
}

/// The chart as a PNG image.
pub fn trend_png(points: &[TrendPoint]) -> anyhow::Result<Vec<u8>> {
    register_embedded_font();
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, points)?;
        root.present()
            .map_err(|e| anyhow::anyhow!("cannot draw the chart: {e}"))?;
    }
    let image = image::RgbImage::from_raw(WIDTH, HEIGHT, pixels)
        .ok_or_else(|| anyhow::anyhow!("chart buffer has the wrong size"))?;
    let mut png = Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// The chart on `root`: the axes, the stacked bars of each severity, the
/// line of the median time to resolve, and the legend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    points: &[TrendPoint],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(chart_error)?;
    let n = points.len().max(1);
    let (max_count, max_hours) = scales(points);
    let chart = ChartBuilder::on(root)
        .caption(
            format!("Incidents per week by severity, and median {TIME_TO_RESOLVE}"),
            (FONT, 18).into_font().style(FontStyle::Bold),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .right_y_label_area_size(56)
        .build_cartesian_2d(0..n, 0..(max_count + max_count / 5 + 1))
        .map_err(chart_error)?;
    #[expect(clippy::cast_precision_loss, reason = "a dozen weeks")]
    let mut chart = chart.set_secondary_coord(0.0..n as f64, 0.0..(max_hours * 1.2));
    draw_axes(&mut chart, points, n)?;
    draw_bars(&mut chart, points)?;
    draw_resolve_line(&mut chart, points)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()
        .map_err(chart_error)?;
    Ok(())
}

/// The chart: weeks and incidents on the left axis, weeks and hours on the
/// right one.
type TrendChart<'a, DB> = DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<RangedCoordusize, RangedCoordu64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

fn chart_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e}")
}

/// The most incidents opened in a week (at least 1) and the longest median
/// time to resolve, in hours (at least 1).
fn scales(points: &[TrendPoint]) -> (u64, f64) {
    let max_count = points
        .iter()
        .map(|p| p.opened.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    #[expect(clippy::cast_precision_loss, reason = "durations far below 2^52 s")]
    let max_hours = points
        .iter()
        .filter_map(|p| p.median_resolve_seconds)
        .map(|s| s as f64 / 3600.0)
        .fold(1.0_f64, f64::max);
    (max_count, max_hours)
}

/// The mesh and both axes, the weeks labelled under their bars.
fn draw_axes<DB: DrawingBackend>(
    chart: &mut TrendChart<'_, DB>,
    points: &[TrendPoint],
    n: usize,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let labels: Vec<String> = points
        .iter()
        .map(|p| {
            p.week
                .split_once('-')
                .map_or(p.week.clone(), |(_, w)| w.to_string())
        })
        .collect();
    // Week labels under the middle of their bars: half a bar's width in
    // pixels (the plot area is the image less the margins and label areas).
    let bar_px = (WIDTH as i32 - 2 * 12 - 48 - 56) / n as i32;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_offset(bar_px / 2)
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_desc("incidents")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(chart_error)?;
    chart
        .configure_secondary_axes()
        .y_desc("median time to resolve (hours)")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(chart_error)?;
    Ok(())
}

/// The incidents opened each week, stacked by severity (sev1 at the
/// bottom).
fn draw_bars<DB: DrawingBackend>(
    chart: &mut TrendChart<'_, DB>,
    points: &[TrendPoint],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    for (severity, colour) in SEVERITY_COLOURS.iter().enumerate() {
        let bars = points.iter().enumerate().map(|(i, p)| {
            let below: u64 = p.opened[..severity].iter().sum();
            let top = below + p.opened[severity];
            let mut bar = Rectangle::new([(i, below), (i + 1, top)], colour.filled());
            bar.set_margin(0, 0, 6, 6);
            bar
        });
        chart
            .draw_series(bars)
            .map_err(chart_error)?
            .label(format!("sev{}", severity + 1))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    Ok(())
}

/// The median time to resolve of each week that has one, on the right
/// axis: a line through a dot per week.
fn draw_resolve_line<DB: DrawingBackend>(
    chart: &mut TrendChart<'_, DB>,
    points: &[TrendPoint],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    #[expect(clippy::cast_precision_loss, reason = "durations far below 2^52 s")]
    let line: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.median_resolve_seconds
                .map(|s| (i as f64 + 0.5, s as f64 / 3600.0))
        })
        .collect();
    let blue = RGBColor(41, 98, 255);
    chart
        .draw_secondary_series(LineSeries::new(line.clone(), blue.stroke_width(2)))
        .map_err(chart_error)?
        .label(format!("median {TIME_TO_RESOLVE}"))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], blue.stroke_width(2)));
    chart
        .draw_secondary_series(line.into_iter().map(|p| Circle::new(p, 3, blue.filled())))
        .map_err(chart_error)?;
    Ok(())
}
