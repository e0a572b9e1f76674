//! Ranked horizontal bars with optional interval whiskers.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::style::{
    self, AXIS, GRID, NEGATIVE, POSITIVE, Swatch, ZERO_LINE, check_finite, fmt_fixed, fmt_num,
    padded_range, tick_decimals,
};
use crate::{Chart, ChartError, DEFAULT_HEIGHT, DEFAULT_WIDTH};

/// One bar of a [`BarChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Category label (e.g. a region name), drawn left of the bar.
    pub label: String,
    /// Bar length; negative values extend left of zero.
    pub value: f64,
    /// Lower end of the interval whisker, if any.
    pub lower: Option<f64>,
    /// Upper end of the interval whisker, if any.
    pub upper: Option<f64>,
}

impl Bar {
    /// A bar without an interval.
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Self {
            label: label.into(),
            value,
            lower: None,
            upper: None,
        }
    }

    /// A bar with an interval whisker from `lower` to `upper`.
    pub fn with_interval(label: impl Into<String>, value: f64, lower: f64, upper: f64) -> Self {
        Self {
            label: label.into(),
            value,
            lower: Some(lower),
            upper: Some(upper),
        }
    }
}

/// Ranked horizontal bars, largest value on top, with a zero line and optional whiskers.
///
/// Each bar's value is printed beyond its end (or beyond its whisker). The preferred height
/// ([`Chart::default_size`]) grows with the number of bars so that 37 region names stay legible.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Title, Chinese and English.
    pub title: String,
    /// X-axis description with unit, e.g. `提升 Uplift (%)`.
    pub x_label: String,
    /// The bars, in any order: they are drawn sorted by value, descending.
    pub bars: Vec<Bar>,
    /// Decimals of the printed values (default 1).
    pub decimals: usize,
    /// Suffix of the printed values (default `%`; empty for none).
    pub value_suffix: String,
    /// Legend text for the whiskers, shown when any bar has one (default `90% 区间 interval`).
    pub interval_label: String,
}

impl BarChart {
    /// A chart with the given bars, 1 decimal, `%` suffix and the default interval label.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, bars: Vec<Bar>) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            bars,
            decimals: 1,
            value_suffix: "%".into(),
            interval_label: "90% 区间 interval".into(),
        }
    }

    /// The bars in drawing order (value descending; ties keep their input order).
    pub fn ranked(&self) -> Vec<&Bar> {
        let mut v: Vec<&Bar> = self.bars.iter().collect();
        v.sort_by(|a, b| b.value.total_cmp(&a.value));
        v
    }

    fn validate(&self) -> Result<(), ChartError> {
        if self.bars.is_empty() {
            return Err(ChartError::InvalidData("bar chart has no bars".into()));
        }
        for b in &self.bars {
            check_finite(&format!("value of {:?}", b.label), b.value)?;
            if let Some(l) = b.lower {
                check_finite(&format!("lower of {:?}", b.label), l)?;
            }
            if let Some(u) = b.upper {
                check_finite(&format!("upper of {:?}", b.label), u)?;
            }
        }
        Ok(())
    }

    fn value_text(&self, v: f64) -> String {
        let s = fmt_fixed(v, self.decimals);
        if v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
            format!("+{s}{}", self.value_suffix)
        } else {
            format!("{s}{}", self.value_suffix)
        }
    }
}

impl Chart for BarChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn default_size(&self) -> (u32, u32) {
        let n = self.bars.len() as u32;
        (DEFAULT_WIDTH, DEFAULT_HEIGHT.max(190 + style::ROW_PX * n))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        self.validate()?;
        let theme = style::prepare(area)?;
        let body = style::split_title(area, &theme, &self.title)?;
        let has_whiskers = self
            .bars
            .iter()
            .any(|b| b.lower.is_some() || b.upper.is_some());
        let plot = if has_whiskers {
            let (legend, plot) = body.split_vertically(theme.px(30.0));
            let items = [
                (Swatch::Fill(POSITIVE, 0.85), "正值 Positive"),
                (Swatch::Fill(NEGATIVE, 0.85), "负值 Negative"),
                (Swatch::Whisker(AXIS), self.interval_label.as_str()),
            ];
            style::legend_row(&legend, &theme, &items)?;
            plot
        } else {
            body
        };

        let bars = self.ranked();
        let n = bars.len();
        // Row height decides the label font: 15 px at the default size, smaller if squeezed.
        let (_, ph) = plot.dim_in_pixel();
        let row_px = f64::from(ph.saturating_sub(theme.upx(70.0))) / n as f64;
        let label_size = (row_px * 0.72 / theme.s).clamp(9.0, 15.0);
        let label_font = theme.font(label_size);
        let value_font = theme.font((label_size - 1.0).max(9.0));

        let mut widest = 0;
        for b in &bars {
            widest = widest.max(plot.estimate_text_size(&b.label, &label_font)?.0);
        }

        // Data extent including zero and whiskers, padded for the value labels.
        let extent = bars
            .iter()
            .flat_map(|b| [Some(0.0), Some(b.value), b.lower, b.upper])
            .flatten();
        let (lo, hi) = padded_range(extent, 0.0);
        let mut text_w = 0u32;
        for b in &bars {
            text_w = text_w.max(
                plot.estimate_text_size(&self.value_text(b.value), &value_font)?
                    .0,
            );
        }
        let (pw, _) = plot.dim_in_pixel();
        let plot_w = f64::from(pw.saturating_sub(widest + theme.upx(60.0))).max(100.0);
        // Fraction of the axis needed for a value label (plus a gap) on each side that has bars.
        let need = (f64::from(text_w) + 10.0 * theme.s) / plot_w;
        let span = (hi - lo).max(1e-9);
        let total = span
            / (1.0 - need * (f64::from(u8::from(lo < 0.0)) + f64::from(u8::from(hi > 0.0))))
                .max(0.3);
        let pad = (total - span) * 0.5;
        let x0 = if lo < 0.0 {
            lo - pad.max(span * 0.02)
        } else {
            lo - span * 0.02
        };
        let x1 = if hi > 0.0 {
            hi + pad.max(span * 0.02)
        } else {
            hi + span * 0.02
        };

        let ticks: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let labels: Vec<String> = bars.iter().rev().map(|b| b.label.clone()).collect();
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(theme.px(6.0))
            .margin_right(theme.px(24.0))
            .margin_left(theme.px(10.0))
            .margin_bottom(theme.px(6.0))
            .x_label_area_size(theme.upx(56.0))
            .y_label_area_size(widest + theme.upx(14.0))
            .build_cartesian_2d(x0..x1, style::KeyAxis::new(-0.6, n as f64 - 0.4, ticks))?;

        let dec = tick_decimals(x1 - x0);
        let x_fmt = |x: &f64| fmt_num(*x, dec);
        let y_fmt = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(10)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(self.x_label.as_str())
            .label_style(theme.label_font())
            .y_label_style(label_font.clone())
            .axis_desc_style(theme.desc_font())
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .draw()?;

        let half = 0.36;
        for (rank, b) in bars.iter().enumerate() {
            let y = (n - 1 - rank) as f64;
            let color = if b.value >= 0.0 { POSITIVE } else { NEGATIVE };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - half), (b.value, y + half)],
                color.mix(0.85).filled(),
            )))?;
            let whisker = AXIS.stroke_width(theme.upx(1.5));
            if let (Some(l), Some(u)) = (b.lower, b.upper) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(l, y), (u, y)],
                    whisker,
                )))?;
            }
            for end in [b.lower, b.upper].into_iter().flatten() {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(end, y - half * 0.55), (end, y + half * 0.55)],
                    whisker,
                )))?;
            }
            // Value label beyond the bar or its whisker, on the side the bar points to.
            let gap = theme.px(6.0);
            let (at, anchor, dx) = if b.value >= 0.0 {
                let end = [Some(b.value), b.upper, b.lower]
                    .into_iter()
                    .flatten()
                    .fold(f64::MIN, f64::max);
                (end, HPos::Left, gap)
            } else {
                let end = [Some(b.value), b.upper, b.lower]
                    .into_iter()
                    .flatten()
                    .fold(f64::MAX, f64::min);
                (end, HPos::Right, -gap)
            };
            chart.draw_series(std::iter::once(
                EmptyElement::at((at, y))
                    + Text::new(
                        self.value_text(b.value),
                        (dx, 0),
                        value_font.pos(Pos::new(anchor, VPos::Center)),
                    ),
            ))?;
        }
        if x0 < 0.0 && x1 > 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, -0.6), (0.0, n as f64 - 0.4)],
                ZERO_LINE.stroke_width(theme.upx(1.5)),
            )))?;
        }
        Ok(())
    }
}
