//! One region × category series: actual, baseline with interval, campaign window.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::style::{
    self, ACTUAL, AXIS, BAND_ALPHA, BASELINE, DateAxis, GRID, Swatch, WINDOW, WINDOW_ALPHA,
    check_finite, day, fmt_num, padded_range, tick_decimals,
};
use crate::{Chart, ChartError};

/// Colour of the marks of a suppressed day (a gap in the actual line).
const GAP: RGBColor = AXIS;

/// A daily (or weekly) series of one region × category: actual vs baseline.
///
/// Draws the baseline's interval as a translucent band, the baseline as a dashed line, the
/// actual values as a solid line and, when `window` is set, shades the campaign window.
/// Points need not be sorted; they are drawn in date order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesChart {
    /// Title, Chinese and English, e.g. `浙江省 · 家电 Zhejiang · Home appliances`.
    pub title: String,
    /// Y-axis description with its unit, e.g. `销售额 Sales (万元)`.
    pub y_label: String,
    /// Observed values.
    pub actual: Vec<(NaiveDate, f64)>,
    /// Baseline (counterfactual) values.
    pub baseline: Vec<(NaiveDate, f64)>,
    /// Interval of the baseline: `(date, lower, upper)`.
    pub band: Vec<(NaiveDate, f64, f64)>,
    /// Campaign window, inclusive, shaded.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// Legend text of the actual line (default `实际 Actual`).
    pub actual_label: String,
    /// Legend text of the baseline line (default `基线 Baseline`).
    pub baseline_label: String,
    /// Legend text of the band (default `90% 区间 interval`).
    pub band_label: String,
    /// Legend text of the window (default `活动窗口 Campaign window`).
    pub window_label: String,
    /// Days whose actual value is not published (suppressed small cells): the actual line breaks
    /// there, and the legend says why ([`SeriesChart::gap_label`]).
    pub gaps: Vec<NaiveDate>,
    /// Legend text of the gaps (default `空缺：不予公布 Gap: not published`).
    pub gap_label: String,
}

impl SeriesChart {
    /// An empty chart with the default legend texts.
    pub fn new(title: impl Into<String>, y_label: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            y_label: y_label.into(),
            actual: Vec::new(),
            baseline: Vec::new(),
            band: Vec::new(),
            window: None,
            actual_label: "实际 Actual".into(),
            baseline_label: "基线 Baseline".into(),
            band_label: "90% 区间 interval".into(),
            window_label: "活动窗口 Campaign window".into(),
            gaps: Vec::new(),
            gap_label: "空缺：不予公布 Gap: not published".into(),
        }
    }

    fn validate(&self) -> Result<(NaiveDate, NaiveDate), ChartError> {
        for (d, v) in self.actual.iter().chain(&self.baseline) {
            check_finite(&format!("value on {d}"), *v)?;
        }
        for (d, lo, hi) in &self.band {
            check_finite(&format!("band lower on {d}"), *lo)?;
            check_finite(&format!("band upper on {d}"), *hi)?;
        }
        let dates = self
            .actual
            .iter()
            .map(|p| p.0)
            .chain(self.baseline.iter().map(|p| p.0))
            .chain(self.band.iter().map(|p| p.0));
        let (mut first, mut last) = (NaiveDate::MAX, NaiveDate::MIN);
        for d in dates {
            first = first.min(d);
            last = last.max(d);
        }
        if first > last {
            return Err(ChartError::InvalidData(
                "series chart has no points (actual, baseline and band are empty)".into(),
            ));
        }
        if let Some((a, b)) = self.window
            && a > b
        {
            return Err(ChartError::InvalidData(format!(
                "window starts ({a}) after it ends ({b})"
            )));
        }
        Ok((first, last))
    }
}

fn sorted<T: Clone, K: Ord>(v: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_by_key(key);
    v
}

impl Chart for SeriesChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (first, last) = self.validate()?;
        let theme = style::prepare(area)?;
        let body = style::split_title(area, &theme, &self.title)?;
        let (legend, plot) = body.split_vertically(theme.px(34.0));

        let mut items = vec![
            (Swatch::Line(ACTUAL, 2), self.actual_label.as_str()),
            (Swatch::Dashed(BASELINE, 2), self.baseline_label.as_str()),
        ];
        if !self.band.is_empty() {
            items.push((Swatch::Fill(BASELINE, BAND_ALPHA), self.band_label.as_str()));
        }
        if self.window.is_some() {
            items.push((
                Swatch::Fill(WINDOW, WINDOW_ALPHA * 2.0),
                self.window_label.as_str(),
            ));
        }
        if !self.gaps.is_empty() {
            items.push((Swatch::Dashed(GAP, 1), self.gap_label.as_str()));
        }
        style::legend_row(&legend, &theme, &items)?;

        let (x0, x1) = if first == last {
            (day(first) - 1.0, day(last) + 1.0)
        } else {
            (day(first), day(last))
        };
        let (y0, y1) = padded_range(
            self.actual
                .iter()
                .map(|p| p.1)
                .chain(self.baseline.iter().map(|p| p.1))
                .chain(self.band.iter().flat_map(|p| [p.1, p.2])),
            0.06,
        );
        let dec = tick_decimals(y1 - y0);
        let label_font = theme.label_font();
        let widest = [fmt_num(y0, dec), fmt_num(y1, dec)]
            .iter()
            .map(|s| {
                plot.estimate_text_size(&format!("{s}0"), &label_font)
                    .map(|d| d.0)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(40);
        let y_area = widest + theme.upx(46.0);
        let (pw, _) = plot.dim_in_pixel();
        let axis = DateAxis::new(
            first,
            last,
            f64::from(pw.saturating_sub(y_area + theme.upx(30.0))),
            &theme,
        );

        let mut chart = ChartBuilder::on(&plot)
            .margin_top(theme.px(8.0))
            .margin_right(theme.px(30.0))
            .margin_left(theme.px(10.0))
            .margin_bottom(theme.px(8.0))
            .x_label_area_size(theme.upx(56.0))
            .y_label_area_size(y_area)
            .build_cartesian_2d(style::KeyAxis::new(x0, x1, axis.ticks.clone()), y0..y1)?;

        let x_fmt = |x: &f64| axis.label(*x);
        let y_fmt = |y: &f64| fmt_num(*y, dec);
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .y_labels(8)
            .x_desc(axis.desc())
            .y_desc(self.y_label.as_str())
            .label_style(label_font.clone())
            .axis_desc_style(theme.desc_font())
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .x_label_offset(0)
            .draw()?;

        if let Some((a, b)) = self.window {
            let (a, b) = (day(a).max(x0), day(b).min(x1));
            if a < b {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(a, y0), (b, y1)],
                    WINDOW.mix(WINDOW_ALPHA).filled(),
                )))?;
                for edge in [a, b] {
                    chart.draw_series(theme.vertical_dashes(
                        edge,
                        (y0, y1),
                        (6.0, 4.0),
                        WINDOW.mix(0.7).stroke_width(theme.upx(1.0)),
                    ))?;
                }
            }
        }

        if !self.band.is_empty() {
            let band = sorted(&self.band, |p| p.0);
            let mut poly: Vec<(f64, f64)> = band.iter().map(|p| (day(p.0), p.2)).collect();
            poly.extend(band.iter().rev().map(|p| (day(p.0), p.1)));
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                BASELINE.mix(BAND_ALPHA).filled(),
            )))?;
        }
        if !self.baseline.is_empty() {
            let pts: Vec<(f64, f64)> = sorted(&self.baseline, |p| p.0)
                .iter()
                .map(|p| (day(p.0), p.1))
                .collect();
            chart.draw_series(DashedLineSeries::new(
                pts,
                theme.upx(8.0),
                theme.upx(5.0),
                BASELINE.stroke_width(theme.upx(2.0)),
            ))?;
        }
        // A suppressed day: a thin dashed vertical line where the value would be, and the actual
        // line broken there (never drawn across the gap, which would suggest a value).
        for gap in &self.gaps {
            let x = day(*gap);
            if x >= x0 && x <= x1 {
                chart.draw_series(theme.vertical_dashes(
                    x,
                    (y0, y1),
                    (3.0, 3.0),
                    GAP.stroke_width(theme.upx(1.0)),
                ))?;
            }
        }
        let sorted_actual = sorted(&self.actual, |p| p.0);
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for (i, p) in sorted_actual.iter().enumerate() {
            let broken = i == 0
                || self
                    .gaps
                    .iter()
                    .any(|g| *g > sorted_actual[i - 1].0 && *g < p.0);
            if broken {
                runs.push(Vec::new());
            }
            if let Some(run) = runs.last_mut() {
                run.push((day(p.0), p.1));
            }
        }
        for pts in runs {
            if pts.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(
                    pts[0],
                    theme.upx(3.0),
                    ACTUAL.filled(),
                )))?;
            } else {
                chart.draw_series(LineSeries::new(pts, ACTUAL.stroke_width(theme.upx(2.0))))?;
            }
        }
        Ok(())
    }
}
