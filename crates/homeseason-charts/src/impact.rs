//! CausalImpact-style three-panel chart.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::style::{
    self, ACTUAL, AXIS, BAND_ALPHA, DateAxis, GRID, MUTED, Swatch, ZERO_LINE, check_finite, day,
    fmt_num, padded_range, tick_decimals,
};
use crate::{Chart, ChartError, DEFAULT_WIDTH};

const PREDICTED: RGBColor = RGBColor(37, 110, 200);
const POST_LINE: RGBColor = RGBColor(90, 90, 90);

/// CausalImpact-style chart: three stacked panels sharing the date axis.
///
/// 1. observed vs predicted counterfactual, with the prediction interval as a band;
/// 2. pointwise effect `observed − predicted`, band `[observed − upper, observed − lower]`;
/// 3. cumulative effect over the post period (from `post_start` on), band = cumulative sums
///    of the pointwise bounds.
///
/// The cumulative band is **approximate**: summing per-day bounds assumes the per-day
/// errors are perfectly correlated, so it is wider than a proper joint interval (as from
/// posterior simulation of the cumulative sum) would be. [`ImpactChart::effects`] returns
/// the numbers drawn. A vertical dashed line marks `post_start` in every panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ImpactChart {
    /// Title, Chinese and English.
    pub title: String,
    /// Value description with unit, shown in the headers of the observed and pointwise panels, e.g.
    /// `日销售额 Daily sales (万元)`.
    pub y_label: String,
    /// Value description of the cumulative panel, whose values are running sums over the post
    /// period, not daily values (default `累计效应 Cumulative effect (running sum, y-label unit)`;
    /// set it with the unit, e.g. `累计增量销售额 Cumulative incremental sales (万元)`).
    pub cumulative_label: String,
    /// Dates, strictly increasing.
    pub dates: Vec<NaiveDate>,
    /// Observed values, one per date.
    pub observed: Vec<f64>,
    /// Predicted counterfactual, one per date.
    pub predicted: Vec<f64>,
    /// Lower bound of the prediction interval, one per date.
    pub predicted_lower: Vec<f64>,
    /// Upper bound of the prediction interval, one per date.
    pub predicted_upper: Vec<f64>,
    /// First date of the post (intervention) period.
    pub post_start: NaiveDate,
    /// Legend text of the band (default `90% 区间 interval`).
    pub band_label: String,
}

/// One point of an effect series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EffectPoint {
    /// Date.
    pub date: NaiveDate,
    /// Effect estimate.
    pub effect: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// Effects computed by [`ImpactChart::effects`].
#[derive(Clone, Debug, PartialEq)]
pub struct ImpactEffects {
    /// `observed − predicted` for every date, bounds `observed − upper` .. `observed − lower`.
    pub pointwise: Vec<EffectPoint>,
    /// Running sums of the pointwise effect and its bounds, post period only (approximate band).
    pub cumulative: Vec<EffectPoint>,
}

impl ImpactChart {
    /// A chart from the model output; `band_label` defaults to `90% 区间 interval`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments are the step's inputs, named as in the formulas"
    )]
    pub fn new(
        title: impl Into<String>,
        y_label: impl Into<String>,
        dates: Vec<NaiveDate>,
        observed: Vec<f64>,
        predicted: Vec<f64>,
        predicted_lower: Vec<f64>,
        predicted_upper: Vec<f64>,
        post_start: NaiveDate,
    ) -> Self {
        Self {
            title: title.into(),
            y_label: y_label.into(),
            dates,
            observed,
            predicted,
            predicted_lower,
            predicted_upper,
            post_start,
            band_label: "90% 区间 interval".into(),
            cumulative_label: "累计值 Running sum (单位同上 same unit as above)".into(),
        }
    }

    fn validate(&self) -> Result<(), ChartError> {
        let n = self.dates.len();
        if n < 2 {
            return Err(ChartError::InvalidData(
                "impact chart needs at least two dates".into(),
            ));
        }
        for (name, v) in [
            ("observed", &self.observed),
            ("predicted", &self.predicted),
            ("predicted_lower", &self.predicted_lower),
            ("predicted_upper", &self.predicted_upper),
        ] {
            if v.len() != n {
                return Err(ChartError::InvalidData(format!(
                    "impact chart: {name} has {} values for {n} dates",
                    v.len()
                )));
            }
            for (d, x) in self.dates.iter().zip(v) {
                check_finite(&format!("{name} on {d}"), *x)?;
            }
        }
        if self.dates.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ChartError::InvalidData(
                "impact chart: dates must be strictly increasing".into(),
            ));
        }
        if self.post_start > self.dates[n - 1] {
            return Err(ChartError::InvalidData(format!(
                "impact chart: post_start {} is after the last date {}",
                self.post_start,
                self.dates[n - 1]
            )));
        }
        Ok(())
    }

    /// Pointwise and cumulative effects, as drawn.
    pub fn effects(&self) -> Result<ImpactEffects, ChartError> {
        self.validate()?;
        let pointwise: Vec<EffectPoint> = (0..self.dates.len())
            .map(|i| {
                let (a, b) = (
                    self.observed[i] - self.predicted_upper[i],
                    self.observed[i] - self.predicted_lower[i],
                );
                EffectPoint {
                    date: self.dates[i],
                    effect: self.observed[i] - self.predicted[i],
                    lower: a.min(b),
                    upper: a.max(b),
                }
            })
            .collect();
        let mut acc = (0.0, 0.0, 0.0);
        let cumulative = pointwise
            .iter()
            .filter(|p| p.date >= self.post_start)
            .map(|p| {
                acc = (acc.0 + p.effect, acc.1 + p.lower, acc.2 + p.upper);
                EffectPoint {
                    date: p.date,
                    effect: acc.0,
                    lower: acc.1,
                    upper: acc.2,
                }
            })
            .collect();
        Ok(ImpactEffects {
            pointwise,
            cumulative,
        })
    }
}

struct Panel<'a> {
    title: &'a str,
    /// (x, value) lines: solid, dashed.
    solid: Vec<(f64, f64)>,
    dashed: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
    zero_line: bool,
}

impl<'a> Panel<'a> {
    /// An effect panel: the effect dashed, its band, and the zero line.
    fn effect(title: &'a str, points: &[EffectPoint]) -> Self {
        Self {
            title,
            solid: Vec::new(),
            dashed: points.iter().map(|p| (day(p.date), p.effect)).collect(),
            band: points
                .iter()
                .map(|p| (day(p.date), p.lower, p.upper))
                .collect(),
            zero_line: true,
        }
    }
}

impl Chart for ImpactChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn default_size(&self) -> (u32, u32) {
        (DEFAULT_WIDTH, 980)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let eff = self.effects()?;
        let theme = style::prepare(area)?;
        let body = style::split_title(area, &theme, &self.title)?;
        let (legend, rest) = body.split_vertically(theme.px(32.0));
        style::legend_row(
            &legend,
            &theme,
            &[
                (Swatch::Line(ACTUAL, 2), "观测 Observed"),
                (Swatch::Dashed(PREDICTED, 2), "预测 Predicted / 效应 Effect"),
                (
                    Swatch::Fill(PREDICTED, BAND_ALPHA),
                    self.band_label.as_str(),
                ),
                (Swatch::Dashed(POST_LINE, 2), "活动开始 Post period start"),
            ],
        )?;

        let xs: Vec<f64> = self.dates.iter().map(|d| day(*d)).collect();
        let panels = [
            Panel {
                title: "① 观测 vs 反事实预测  Observed vs counterfactual",
                solid: xs
                    .iter()
                    .copied()
                    .zip(self.observed.iter().copied())
                    .collect(),
                dashed: xs
                    .iter()
                    .copied()
                    .zip(self.predicted.iter().copied())
                    .collect(),
                band: (0..xs.len())
                    .map(|i| (xs[i], self.predicted_lower[i], self.predicted_upper[i]))
                    .collect(),
                zero_line: false,
            },
            Panel::effect("② 逐点效应  Pointwise effect (观测 − 预测)", &eff.pointwise),
            Panel::effect(
                "③ 累计效应  Cumulative effect (活动期, 区间为近似 approx. band)",
                &eff.cumulative,
            ),
        ];

        let (rw, rh) = rest.dim_in_pixel();
        let h0 = rh as i32 * 2 / 5;
        let h1 = (rh as i32 - h0) / 2;
        let areas = rest.split_by_breakpoints::<i32, i32, _, _>([], [h0, h0 + h1]);
        let (first, last) = (self.dates[0], self.dates[self.dates.len() - 1]);
        let (x0, x1) = (day(first), day(last));
        let post_x = day(self.post_start).max(x0);
        let label_font = theme.label_font();

        // Shared y-label-area width so the three plots line up.
        let ranges: Vec<(f64, f64)> = panels
            .iter()
            .map(|p| {
                let vals = p
                    .solid
                    .iter()
                    .chain(&p.dashed)
                    .map(|q| q.1)
                    .chain(p.band.iter().flat_map(|b| [b.1, b.2]))
                    .chain(p.zero_line.then_some(0.0));
                padded_range(vals, 0.08)
            })
            .collect();
        let mut widest = 0;
        for (lo, hi) in &ranges {
            let dec = tick_decimals(hi - lo);
            for v in [*lo, *hi] {
                widest = widest.max(
                    rest.estimate_text_size(&format!("{}0", fmt_num(v, dec)), &label_font)?
                        .0,
                );
            }
        }
        let y_area = widest + theme.upx(18.0);
        let axis = DateAxis::new(
            first,
            last,
            f64::from(rw.saturating_sub(y_area + theme.upx(30.0))),
            &theme,
        );

        // The third panel holds running sums: its header names them, not the daily values.
        let is_cumulative = |k: usize| k == 2;
        for (k, (panel, pa)) in panels.iter().zip(&areas).enumerate() {
            let (head, plot) = pa.split_vertically(theme.px(26.0));
            let title_font = theme.font(16.0);
            let tx = y_area as i32 + theme.px(12.0);
            head.draw(&Text::new(
                panel.title.to_string(),
                (tx, theme.px(15.0)),
                title_font.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            let tw = head.estimate_text_size(panel.title, &title_font)?.0 as i32;
            let label = if is_cumulative(k) {
                &self.cumulative_label
            } else {
                &self.y_label
            };
            head.draw(&Text::new(
                format!("— {label}"),
                (tx + tw + theme.px(12.0), theme.px(15.0)),
                theme
                    .font_colored(15.0, &MUTED)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            let (y0, y1) = ranges[k];
            let dec = tick_decimals(y1 - y0);
            let is_last = k + 1 == panels.len();
            let mut chart = ChartBuilder::on(&plot)
                .margin_right(theme.px(30.0))
                .margin_left(theme.px(10.0))
                .margin_bottom(theme.px(4.0))
                .x_label_area_size(if is_last {
                    theme.upx(56.0)
                } else {
                    theme.upx(30.0)
                })
                .y_label_area_size(y_area)
                .build_cartesian_2d(style::KeyAxis::new(x0, x1, axis.ticks.clone()), y0..y1)?;
            let x_fmt = |x: &f64| axis.label(*x);
            let y_fmt = |y: &f64| fmt_num(*y, dec);
            let mut mesh = chart.configure_mesh();
            mesh.x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .y_labels(if k == 0 { 6 } else { 5 })
                .label_style(label_font.clone())
                .bold_line_style(GRID)
                .light_line_style(TRANSPARENT)
                .axis_style(AXIS);
            if is_last {
                mesh.x_desc(axis.desc()).axis_desc_style(theme.desc_font());
            }
            mesh.draw()?;

            if !panel.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = panel.band.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(panel.band.iter().rev().map(|b| (b.0, b.1)));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    PREDICTED.mix(BAND_ALPHA).filled(),
                )))?;
            }
            if panel.zero_line {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, 0.0), (x1, 0.0)],
                    ZERO_LINE.stroke_width(theme.upx(1.0)),
                )))?;
            }
            if panel.dashed.len() > 1 {
                chart.draw_series(DashedLineSeries::new(
                    panel.dashed.clone(),
                    theme.upx(7.0),
                    theme.upx(4.0),
                    PREDICTED.stroke_width(theme.upx(2.0)),
                ))?;
            } else if let Some(p) = panel.dashed.first() {
                chart.draw_series(std::iter::once(Circle::new(
                    *p,
                    theme.upx(3.0),
                    PREDICTED.filled(),
                )))?;
            }
            if panel.solid.len() > 1 {
                chart.draw_series(LineSeries::new(
                    panel.solid.clone(),
                    ACTUAL.stroke_width(theme.upx(2.0)),
                ))?;
            }
            chart.draw_series(theme.vertical_dashes(
                post_x,
                (y0, y1),
                (6.0, 4.0),
                POST_LINE.stroke_width(theme.upx(1.5)),
            ))?;
        }
        Ok(())
    }
}
