//! SVG line charts for rpc-bench's matrix report, drawn with plotters' SVG backend (text
//! is written as SVG `<text>`, so no font or system library is needed).

use std::io;
use std::path::Path;

use plotters::element::{DashedPathElement, IntoDynElement};
use plotters::prelude::*;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// `(x, y)` points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A chart's texts and y range.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// The caption.
    pub title: &'a str,
    /// The x axis' description.
    pub x_label: &'a str,
    /// The y axis' description.
    pub y_label: &'a str,
    /// The top of the y axis (default: the largest y plus 10 %).
    pub y_max: Option<f64>,
    /// Where the legend goes.
    pub legend_lower_right: bool,
}

/// Line colors (Tableau 10: distinct, and readable on white).
const COLORS: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("plotting: {e}"))
}

/// Draws `series` to an SVG file at `path`: x on a logarithmic axis (points with x ≤ 0 are
/// left out), y linear from 0.
pub fn log_x_chart(path: &Path, chart: &Chart<'_>, series: &[Series]) -> io::Result<()> {
    let finite = |&&(x, y): &&(f64, f64)| x > 0.0 && x.is_finite() && y.is_finite();
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, 0.0f64, 0.0f64);
    for &(x, y) in series.iter().flat_map(|s| s.points.iter()).filter(finite) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (1.0, 10.0);
    }
    let ticks = x_ticks(series, x0, x1);
    // Some room on both sides, also when there is one x value only.
    let (x0, x1) = (x0 / 1.5, x1 * 1.5);
    let y1 = chart.y_max.unwrap_or(if y1 > 0.0 { y1 * 1.1 } else { 1.0 });
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(other)?;
    let mut c = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((x0..x1).log_scale().with_key_points(ticks), 0.0..y1)
        .map_err(other)?;
    c.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(other)?;
    for (i, s) in series.iter().enumerate() {
        let (r, g, b) = COLORS[i % COLORS.len()];
        let color = RGBColor(r, g, b);
        let points: Vec<(f64, f64)> = s.points.iter().filter(finite).copied().collect();
        // Past ten lines the colors repeat, dashed.
        let style = color.stroke_width(2);
        let dashed = (i / COLORS.len()) % 2 == 1;
        let line = if dashed {
            c.draw_series(DashedLineSeries::new(points.iter().copied(), 8, 4, style))
        } else {
            c.draw_series(LineSeries::new(points.iter().copied(), style))
        };
        line.map_err(other)?
            .label(s.name.as_str())
            .legend(move |(x, y)| {
                let path = vec![(x, y), (x + 20, y)];
                if dashed {
                    DashedPathElement::new(path, 5, 3, style).into_dyn()
                } else {
                    PathElement::new(path, style).into_dyn()
                }
            });
        c.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(other)?;
    }
    let position = if chart.legend_lower_right {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperLeft
    };
    c.configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(other)?;
    root.present().map_err(other)
}

/// The x axis' labels: the points' x values if there are a dozen or fewer distinct ones
/// (concurrency levels), else 1, 2, 5 × powers of ten from `x0` to `x1`.
fn x_ticks(series: &[Series], x0: f64, x1: f64) -> Vec<f64> {
    let mut xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0 && x.is_finite())
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() <= 12 {
        return xs;
    }
    let first = x0.log10().floor() as i32;
    let last = x1.log10().ceil() as i32;
    (first..=last.min(first + 30))
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .filter(|t| (x0..=x1).contains(t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_its_series_names() {
        let dir = std::env::temp_dir().join(format!("rpc-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        let series = [
            Series {
                name: "ringrpc io_uring/tcp".into(),
                points: vec![(1.0, 10.0), (16.0, 100.0), (256.0, 150.0)],
            },
            Series {
                name: "raw-echo".into(),
                points: vec![(0.0, 5.0), (1.0, f64::NAN), (64.0, 200.0)],
            },
        ];
        let chart = Chart {
            title: "QPS vs concurrency",
            x_label: "calls in flight",
            y_label: "QPS",
            y_max: None,
            legend_lower_right: false,
        };
        log_x_chart(&path, &chart, &series).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in ["ringrpc io_uring/tcp", "raw-echo", "QPS vs concurrency"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(x_ticks(&series, 1.0, 256.0), [1.0, 16.0, 64.0, 256.0]);
        let many = [Series {
            name: "cdf".into(),
            points: (1..=20).map(|i| (f64::from(i * 7), 0.0)).collect(),
        }];
        assert_eq!(x_ticks(&many, 7.0, 140.0), [10.0, 20.0, 50.0, 100.0]);
        // No points at all still draws axes.
        log_x_chart(&path, &chart, &[]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
