//! `--plot FILE.svg`: a run at a glance, drawn with plotters (SVG only).
//!
//! ```text
//! top      latency (ms) by percentile, x = 1/(1-p) on a log axis labelled
//!          0%, 90%, 99%, 99.9%, ... (HdrHistogram's plotter's view: the tail
//!          gets as much room as the body)
//! bottom   answers per second over the measured window
//! idle     (bench idle) the server's RSS and its RSS per connection by
//!          connections open
//! ```

use plotters::prelude::*;

use super::idle::IdleReport;
use super::report::{Report, TIMELINE_SLOTS};

/// Percentile steps per halving of the distance to 100%.
const TICKS_PER_HALF: u32 = 5;

/// Why the picture could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing the plot: {0}")]
pub struct PlotError(String);

fn drawing<E: std::fmt::Display>(err: E) -> PlotError {
    PlotError(err.to_string())
}

/// `90%` for x = 10, `99.9%` for x = 1000: the percentile at x = 1/(1-p).
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    let text = format!("{p:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// The latency-by-percentile points of `report`: (1/(1-p), ms), p < 1.
fn latency_points(report: &Report) -> Vec<(f64, f64)> {
    report
        .tally
        .latency
        .iter_quantiles(TICKS_PER_HALF)
        .map(|step| (step.quantile_iterated_to(), step.value_iterated_to()))
        .filter(|&(q, _)| q < 1.0)
        .map(|(q, us)| (1.0 / (1.0 - q), us as f64 / 1000.0))
        .collect()
}

/// The run drawn as an SVG document.
pub fn svg(report: &Report) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (top, bottom) = root.split_vertically(450);
        let s = &report.setup;
        let title = format!("{} {}", s.protocol, s.target);

        let points = latency_points(report);
        let max_x = points.last().map_or(10.0, |p| p.0).max(10.0) * 1.2;
        let max_ms = points.iter().map(|p| p.1).fold(0.0, f64::max).max(0.001) * 1.1;
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!("latency by percentile: {title}"),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..max_x).log_scale(), 0.0..max_ms)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(drawing)?;

        let slot_s = s.duration_s / TIMELINE_SLOTS as f64;
        let rates: Vec<(f64, f64)> = report
            .tally
            .timeline
            .iter()
            .enumerate()
            .map(|(i, &n)| ((i as f64 + 0.5) * slot_s, n as f64 / slot_s.max(1e-9)))
            .collect();
        let max_rate = rates.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&bottom)
            .caption(
                format!("{} per second over time", s.unit),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..s.duration_s.max(1e-3), 0.0..max_rate)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("seconds into the measured window")
            .y_desc(format!("{} per second", s.unit))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(LineSeries::new(rates, RED.stroke_width(2)))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

/// A `bench idle` run drawn as an SVG document: RSS (MiB) and RSS per
/// connection (KiB) against connections open.
pub fn idle_svg(report: &IdleReport) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (top, bottom) = root.split_vertically(450);
        let conns = report.steps.last().map_or(1, |s| s.conns).max(1) as f64;
        let series = |f: fn(&super::IdleStep) -> Option<f64>| -> Vec<(f64, f64)> {
            report
                .steps
                .iter()
                .filter_map(|s| f(s).map(|v| (s.conns as f64, v)))
                .collect()
        };
        let panels = [
            (
                top,
                format!("server RSS: idle connections to {}", report.target),
                "server RSS (MiB)",
                series(|s| s.rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0))),
                BLUE,
            ),
            (
                bottom,
                "server RSS per connection".to_string(),
                "KiB per connection",
                series(|s| s.rss_per_conn_bytes.map(|b| b / 1024.0)),
                RED,
            ),
        ];
        for (area, caption, y_desc, points, colour) in panels {
            let top_y = points.iter().map(|p| p.1).fold(0.0, f64::max).max(0.001) * 1.1;
            let mut chart = ChartBuilder::on(&area)
                .caption(caption, ("sans-serif", 20))
                .margin(15)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..conns * 1.02, 0.0..top_y)
                .map_err(drawing)?;
            chart
                .configure_mesh()
                .x_desc("connections open")
                .y_desc(y_desc)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .draw()
                .map_err(drawing)?;
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(drawing)?;
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, colour.filled())),
                )
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_labelled_as_people_read_them() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1000.0), "99.9%");
    }
}
