//! Shared styling: theme sizes, colours, number/date formatting, legends and colour scales.

use chrono::{Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{ChartError, FONT_FAMILY, font};

pub(crate) const TEXT: RGBColor = RGBColor(33, 37, 41);
pub(crate) const MUTED: RGBColor = RGBColor(96, 103, 112);
pub(crate) const AXIS: RGBColor = RGBColor(110, 110, 110);
pub(crate) const GRID: RGBColor = RGBColor(226, 229, 233);
pub(crate) const ACTUAL: RGBColor = RGBColor(24, 54, 110);
pub(crate) const BASELINE: RGBColor = RGBColor(230, 115, 0);
pub(crate) const WINDOW: RGBColor = RGBColor(46, 150, 80);
pub(crate) const POSITIVE: RGBColor = RGBColor(49, 110, 180);
pub(crate) const NEGATIVE: RGBColor = RGBColor(205, 70, 70);
pub(crate) const MISSING: RGBColor = RGBColor(200, 200, 200);
/// Height of one labelled row in the default size of the bar chart and the heatmap, px.
pub(crate) const ROW_PX: u32 = 24;
pub(crate) const ZERO_LINE: RGBColor = RGBColor(40, 40, 40);
pub(crate) const BAND_ALPHA: f64 = 0.22;
pub(crate) const WINDOW_ALPHA: f64 = 0.10;

/// Pixel sizes, scaled from the 1200-px-wide reference design.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Theme {
    pub(crate) s: f64,
}

impl Theme {
    /// Theme for a drawing area of the given pixel width.
    pub(crate) fn for_width(width: u32) -> Self {
        Self {
            s: (f64::from(width) / 1200.0).clamp(0.8, 4.0),
        }
    }

    pub(crate) fn px(&self, v: f64) -> i32 {
        (v * self.s).round() as i32
    }

    pub(crate) fn upx(&self, v: f64) -> u32 {
        (v * self.s).round().max(1.0) as u32
    }

    /// A dashed vertical line at `x` from `y0` to `y1`: dashes `dash` long, `gap` apart (reference
    /// pixels, scaled like [`Theme::upx`]).
    pub(crate) fn vertical_dashes(
        &self,
        x: f64,
        (y0, y1): (f64, f64),
        (dash, gap): (f64, f64),
        style: ShapeStyle,
    ) -> DashedLineSeries<std::vec::IntoIter<(f64, f64)>, u32> {
        DashedLineSeries::new(vec![(x, y0), (x, y1)], self.upx(dash), self.upx(gap), style)
    }

    pub(crate) fn font(&self, size: f64) -> TextStyle<'static> {
        (FONT_FAMILY, size * self.s).into_font().color(&TEXT)
    }

    pub(crate) fn font_colored(&self, size: f64, color: &'static RGBColor) -> TextStyle<'static> {
        (FONT_FAMILY, size * self.s).into_font().color(color)
    }

    pub(crate) fn label_font(&self) -> TextStyle<'static> {
        self.font(15.0)
    }

    pub(crate) fn desc_font(&self) -> TextStyle<'static> {
        self.font(16.0)
    }
}

/// Fills the area white, registers the font and returns the theme.
pub(crate) fn prepare<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> Result<Theme, ChartError> {
    font::ensure_registered()?;
    area.fill(&WHITE)?;
    let (w, _) = area.dim_in_pixel();
    Ok(Theme::for_width(w))
}

/// Draws `title` centred in a strip at the top and returns the area below it.
pub(crate) fn split_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    let h = theme.px(54.0);
    let (top, rest) = area.split_vertically(h);
    let (w, th) = top.dim_in_pixel();
    let style = fit_font(&top, theme, 24.0, title, w.saturating_sub(theme.upx(20.0)))?;
    top.draw(&Text::new(
        title.to_string(),
        ((w / 2) as i32, (th / 2) as i32 + theme.px(2.0)),
        style.pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(rest)
}

/// A font of `size` (reference px), shrunk (down to 60%) until `text` fits in `max_w` pixels.
pub(crate) fn fit_font<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    size: f64,
    text: &str,
    max_w: u32,
) -> Result<TextStyle<'static>, ChartError> {
    let mut sz = size;
    loop {
        let style = theme.font(sz);
        let (w, _) = area.estimate_text_size(text, &style)?;
        if w <= max_w || sz <= size * 0.6 {
            return Ok(style);
        }
        sz -= 1.0;
    }
}

/// What a legend entry shows left of its text.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Line(RGBColor, u32),
    Dashed(RGBColor, u32),
    Fill(RGBColor, f64),
    Whisker(RGBColor),
}

/// Draws one centred row of legend entries across `area`.
pub(crate) fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    items: &[(Swatch, &str)],
) -> Result<(), ChartError> {
    let font = theme.font(15.0);
    let sw = theme.px(30.0);
    let gap = theme.px(8.0);
    let spacing = theme.px(30.0);
    let mut widths = Vec::with_capacity(items.len());
    for (_, label) in items {
        widths.push(area.estimate_text_size(label, &font)?.0 as i32);
    }
    let total: i32 = widths.iter().map(|w| sw + gap + w).sum::<i32>()
        + spacing * (items.len() as i32 - 1).max(0);
    let (aw, ah) = area.dim_in_pixel();
    let mut x = ((aw as i32 - total) / 2).max(theme.px(8.0));
    let y = ah as i32 / 2;
    for ((swatch, label), w) in items.iter().zip(widths) {
        draw_swatch(area, theme, *swatch, x, y, sw)?;
        area.draw(&Text::new(
            label.to_string(),
            (x + sw + gap, y),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += sw + gap + w + spacing;
    }
    Ok(())
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    swatch: Swatch,
    x: i32,
    y: i32,
    w: i32,
) -> Result<(), ChartError> {
    let h = theme.px(7.0);
    match swatch {
        Swatch::Line(c, width) => {
            area.draw(&PathElement::new(
                vec![(x, y), (x + w, y)],
                c.stroke_width(theme.upx(f64::from(width))),
            ))?;
        }
        Swatch::Dashed(c, width) => {
            let style = c.stroke_width(theme.upx(f64::from(width)));
            let dash = w / 4;
            for i in 0..3 {
                let x0 = x + i * (dash + dash / 2);
                area.draw(&PathElement::new(vec![(x0, y), (x0 + dash, y)], style))?;
            }
        }
        Swatch::Fill(c, alpha) => {
            area.draw(&Rectangle::new(
                [(x, y - h), (x + w, y + h)],
                c.mix(alpha).filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x, y - h), (x + w, y + h)],
                c.mix((alpha * 2.5).min(1.0)).stroke_width(1),
            ))?;
        }
        Swatch::Whisker(c) => {
            let style = c.stroke_width(theme.upx(1.5));
            area.draw(&PathElement::new(vec![(x, y), (x + w, y)], style))?;
            area.draw(&PathElement::new(vec![(x, y - h), (x, y + h)], style))?;
            area.draw(&PathElement::new(
                vec![(x + w, y - h), (x + w, y + h)],
                style,
            ))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// Formats `v` with up to `max_dec` decimals (trailing zeros trimmed) and thousands separators.
pub(crate) fn fmt_num(v: f64, max_dec: usize) -> String {
    let s = format!("{v:.max_dec$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    group_thousands(&s)
}

/// Formats `v` with exactly `dec` decimals and thousands separators.
pub(crate) fn fmt_fixed(v: f64, dec: usize) -> String {
    group_thousands(&format!("{v:.dec$}"))
}

fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    let zero = int.chars().all(|c| c == '0') && frac.chars().all(|c| c == '0' || c == '.');
    let sign = if zero { "" } else { sign };
    format!("{sign}{out}{frac}")
}

/// Decimals needed to tell apart ticks on an axis spanning `span`.
pub(crate) fn tick_decimals(span: f64) -> usize {
    if !(span.is_finite()) || span <= 0.0 {
        return 2;
    }
    let step = span / 8.0;
    if step >= 1.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize + 1).min(6)
    }
}

/// A padded (lo, hi) range for the given values; never empty.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 1e-12 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    let p = (hi - lo) * pad;
    (lo - p, hi + p)
}

pub(crate) fn check_finite(what: &str, v: f64) -> Result<(), ChartError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(ChartError::InvalidData(format!(
            "{what} is not finite ({v})"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Dates

/// A date as an x coordinate (days since 0001-01-01).
pub(crate) fn day(d: NaiveDate) -> f64 {
    f64::from(d.num_days_from_ce())
}

pub(crate) fn from_day(x: f64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(x.round() as i32)
}

/// Tick positions and label format for a date axis.
#[derive(Clone, Debug)]
pub(crate) struct DateAxis {
    pub(crate) ticks: Vec<f64>,
    /// When every date is in one year, labels are `MM-DD` and this is that year.
    pub(crate) single_year: Option<i32>,
}

impl DateAxis {
    pub(crate) fn new(
        first: NaiveDate,
        last: NaiveDate,
        plot_width_px: f64,
        theme: &Theme,
    ) -> Self {
        let single_year = (first.year() == last.year()).then_some(first.year());
        let label_px = if single_year.is_some() { 62.0 } else { 104.0 } * theme.s;
        let max_ticks = ((plot_width_px / label_px).floor() as usize).clamp(2, 16);
        Self {
            ticks: date_ticks(first, last, max_ticks),
            single_year,
        }
    }

    pub(crate) fn label(&self, x: f64) -> String {
        match from_day(x) {
            Some(d) if self.single_year.is_some() => d.format("%m-%d").to_string(),
            Some(d) => d.format("%Y-%m-%d").to_string(),
            None => String::new(),
        }
    }

    /// The x-axis description, e.g. `日期 Date (2023)`.
    pub(crate) fn desc(&self) -> String {
        match self.single_year {
            Some(y) => format!("日期 Date ({y})"),
            None => "日期 Date".to_string(),
        }
    }
}

fn date_ticks(first: NaiveDate, last: NaiveDate, max_ticks: usize) -> Vec<f64> {
    let days = (last - first).num_days();
    // Day steps, then weekly (Mondays), then month steps (1st of month).
    for step in [1i64, 2, 3] {
        if days / step < max_ticks as i64 {
            return first
                .iter_days()
                .step_by(step as usize)
                .take_while(|d| *d <= last)
                .map(day)
                .collect();
        }
    }
    for weeks in [1i64, 2] {
        let mut d = first;
        while d.weekday() != chrono::Weekday::Mon {
            d = d.succ_opt().unwrap_or(d);
        }
        let ticks: Vec<f64> = d
            .iter_weeks()
            .step_by(weeks as usize)
            .take_while(|x| *x <= last)
            .map(day)
            .collect();
        if ticks.len() <= max_ticks {
            return ticks;
        }
    }
    for months in [1u32, 2, 3, 6, 12, 24, 60] {
        let mut ticks = Vec::new();
        let mut y = first.year();
        let mut m = first.month();
        while let Some(d) = NaiveDate::from_ymd_opt(y, m, 1) {
            if d > last {
                break;
            }
            if d >= first && (m - 1).is_multiple_of(months.min(12)) {
                let ok = months <= 12 || (y.rem_euclid((months / 12) as i32) == 0 && m == 1);
                if ok {
                    ticks.push(day(d));
                }
            }
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
        if ticks.len() <= max_ticks && !ticks.is_empty() {
            return ticks;
        }
    }
    vec![day(first), day(last)]
}

// ---------------------------------------------------------------------------------------------
// Diverging colour scale (ColorBrewer RdBu, red = negative, blue = positive)

const RDBU: [(u8, u8, u8); 9] = [
    (178, 24, 43),
    (214, 96, 77),
    (244, 165, 130),
    (253, 219, 199),
    (247, 247, 247),
    (209, 229, 240),
    (146, 197, 222),
    (67, 147, 195),
    (33, 102, 172),
];

/// How a chart coloured on a diverging scale ([`crate::Heatmap`], [`crate::TileMap`]) prints its
/// values and titles its colour legend ([`color_legend`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ValueScale {
    /// Title of the colour legend, with unit, e.g. `提升 Uplift (%)`; may contain `\n`.
    pub label: String,
    /// Decimals of the printed values (default 1).
    pub decimals: usize,
    /// Suffix of the printed values and legend ticks.
    pub suffix: String,
    /// Value at which the colours saturate; `None` picks one from the data.
    pub limit: Option<f64>,
}

impl ValueScale {
    /// `label` and `suffix`, 1 decimal and an automatic colour limit.
    pub fn new(label: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            decimals: 1,
            suffix: suffix.into(),
            limit: None,
        }
    }
}

/// A diverging colour scale centred on zero, saturating at ±`limit`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Diverging {
    pub(crate) limit: f64,
}

impl Diverging {
    /// Scale whose limit is `limit` or, when `None`, a rounded max |value|.
    pub(crate) fn new(limit: Option<f64>, values: impl IntoIterator<Item = f64>) -> Self {
        let limit = match limit {
            Some(l) if l.is_finite() && l > 0.0 => l,
            _ => {
                let m = values
                    .into_iter()
                    .filter(|v| v.is_finite())
                    .fold(0.0f64, |a, v| a.max(v.abs()));
                nice_ceil(m)
            }
        };
        Self { limit }
    }

    pub(crate) fn color(&self, v: f64) -> RGBColor {
        let t = (v / self.limit).clamp(-1.0, 1.0);
        let pos = f64::midpoint(t, 1.0) * (RDBU.len() - 1) as f64;
        let i = (pos.floor() as usize).min(RDBU.len() - 2);
        let f = pos - i as f64;
        let (a, b) = (RDBU[i], RDBU[i + 1]);
        let lerp = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
        RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
    }

    /// Text colour readable on `self.color(v)`.
    pub(crate) fn text_color(&self, v: f64) -> &'static RGBColor {
        static WHITE_TEXT: RGBColor = RGBColor(255, 255, 255);
        let c = self.color(v);
        let lum = 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
        if lum < 140.0 { &WHITE_TEXT } else { &TEXT }
    }
}

/// Rounds `m` up to 1, 2, 2.5 or 5 × 10^k (at least a tiny positive number).
pub(crate) fn nice_ceil(m: f64) -> f64 {
    if !(m.is_finite()) || m <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(m.log10().floor());
    for k in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m <= k * p * (1.0 + 1e-9) {
            return k * p;
        }
    }
    10.0 * p
}

/// Draws a vertical colour bar legend with its title above and tick labels to the right.
/// `(x, y)` is the top-left of the title; returns nothing.
#[expect(
    clippy::too_many_arguments,
    reason = "the arguments are the step's inputs, named as in the formulas"
)]
pub(crate) fn color_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    scale: &Diverging,
    values: &ValueScale,
    x: i32,
    y: i32,
    bar_h: i32,
    show_missing: bool,
) -> Result<(), ChartError> {
    let (title, decimals, suffix) = (&values.label, values.decimals, &values.suffix);
    let font = theme.font(14.0);
    let mut ty = y;
    for line in title.split('\n') {
        area.draw(&Text::new(
            line.to_string(),
            (x, ty),
            font.pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        ty += theme.px(20.0);
    }
    let top = ty + theme.px(8.0);
    let bw = theme.px(20.0);
    for i in 0..bar_h {
        let v = scale.limit * (1.0 - 2.0 * f64::from(i) / f64::from((bar_h - 1).max(1)));
        area.draw(&Rectangle::new(
            [(x, top + i), (x + bw, top + i + 1)],
            scale.color(v).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(x, top), (x + bw, top + bar_h)],
        AXIS.stroke_width(1),
    ))?;
    for k in 0..5 {
        let frac = f64::from(k) / 4.0;
        let v = scale.limit * (1.0 - 2.0 * frac);
        let yy = top + (f64::from(bar_h - 1) * frac).round() as i32;
        area.draw(&PathElement::new(
            vec![(x + bw, yy), (x + bw + theme.px(5.0), yy)],
            AXIS.stroke_width(1),
        ))?;
        let label = if k == 2 {
            "0".to_string()
        } else {
            let s = fmt_num(v, decimals.max(tick_decimals(scale.limit * 2.0)));
            if v > 0.0 {
                format!("+{s}{suffix}")
            } else {
                format!("{s}{suffix}")
            }
        };
        area.draw(&Text::new(
            label,
            (x + bw + theme.px(9.0), yy),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    if show_missing {
        let my = top + bar_h + theme.px(22.0);
        area.draw(&Rectangle::new(
            [(x, my), (x + bw, my + theme.px(16.0))],
            MISSING.filled(),
        ))?;
        area.draw(&Text::new(
            "无数据 No data".to_string(),
            (x + bw + theme.px(9.0), my + theme.px(8.0)),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_trimmed() {
        assert_eq!(fmt_num(1234567.0, 2), "1,234,567");
        assert_eq!(fmt_num(-1234.5, 2), "-1,234.5");
        assert_eq!(fmt_num(0.30000000004, 3), "0.3");
        assert_eq!(fmt_num(-0.0001, 2), "0");
        assert_eq!(fmt_num(999.0, 0), "999");
        assert_eq!(fmt_fixed(12.0, 1), "12.0");
        assert_eq!(fmt_fixed(-1000.04, 1), "-1,000.0");
        assert_eq!(fmt_num(1e12, 0), "1,000,000,000,000");
    }

    #[test]
    fn nice_ceil_rounds_up() {
        assert_eq!(nice_ceil(17.0), 20.0);
        assert_eq!(nice_ceil(0.3), 0.5);
        assert_eq!(nice_ceil(24.0), 25.0);
        assert_eq!(nice_ceil(0.0), 1.0);
    }

    #[test]
    fn date_ticks_pick_weeks_or_months() {
        let a = NaiveDate::from_ymd_opt(2023, 6, 1).unwrap();
        let b = NaiveDate::from_ymd_opt(2023, 12, 31).unwrap();
        let t = date_ticks(a, b, 12);
        assert_eq!(t.len(), 7);
        assert_eq!(from_day(t[0]), Some(a));
        let c = NaiveDate::from_ymd_opt(2023, 7, 31).unwrap();
        let w = date_ticks(a, c, 12);
        assert!(
            w.iter()
                .all(|x| from_day(*x).unwrap().weekday() == chrono::Weekday::Mon)
        );
    }

    #[test]
    fn diverging_scale_is_centred() {
        let s = Diverging::new(None, [-7.0, 3.0, 12.0]);
        assert_eq!(s.limit, 20.0);
        assert_eq!(s.color(0.0), RGBColor(247, 247, 247));
        assert_eq!(s.color(100.0), RGBColor(33, 102, 172));
        assert_eq!(s.color(-100.0), RGBColor(178, 24, 43));
    }
}

// ---------------------------------------------------------------------------------------------
// An f64 axis with caller-chosen tick positions (plotters' `WithKeyPoints<f64>` has no formatter).

/// Linear f64 axis whose ticks (bold grid lines and labels) are exactly `ticks`.
#[derive(Clone, Debug)]
pub(crate) struct KeyAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl KeyAxis {
    pub(crate) fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        let ticks = ticks
            .into_iter()
            .filter(|t| *t >= lo.min(hi) && *t <= hi.max(lo))
            .collect();
        Self { lo, hi, ticks }
    }
}

impl plotters::coord::ranged1d::Ranged for KeyAxis {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi == self.lo {
            return i32::midpoint(limit.0, limit.1);
        }
        let f = (v - self.lo) / (self.hi - self.lo);
        let len = f64::from(limit.1 - limit.0);
        limit.0 + (len * f).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for KeyAxis {
    fn format(value: &f64) -> String {
        fmt_num(*value, 3)
    }
}
