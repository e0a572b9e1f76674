//! A headline chosen by evidence: every uplift method is backtested on windows where no campaign
//! ran, its interval is calibrated on the backtest errors, and `baseline.primary_method = "auto"`
//! picks the method the backtest finds best calibrated.
//!
//! **Windows.** Windows of the campaign's length, each with a pre-period placed as the campaign's is
//! (same length, same gap before the window), that end before the campaign starts and begin on or after
//! `history_start`, **no two of which share a day** (overlapping windows share their errors, so they
//! would count the same evidence twice and make the calibration look surer than it is): first the
//! campaign's own window in each earlier year, then up to [`ROLLING_WINDOWS`] rolling windows
//! stepping back from the campaign's pre-period end, each ending the day before the previous one
//! starts — or, when it would overlap a `baseline.masked` period (a known shock such as the late-2022
//! COVID wave: not a window "with no effect") or a window already placed, the day before that
//! period or window starts. A year window overlapping a masked period is left out. Every region ×
//! category the uplift table carries is estimated on each window with each method, exactly as on
//! the campaign (the same code, placebo windows off); a method without the history a window needs
//! has no cell there. The true uplift there is zero, so the estimate is the error.
//!
//! **Figures per method** (percentage points of uplift %): bias (mean error), MAE (mean |error|),
//! coverage (share of backtest cells whose nominal interval holds zero), the error band (the
//! `level`-quantile of |error|: below it an uplift is not distinguishable from no effect), and a
//! split-conformal scaling factor: each cell's score is its error over the interval's half-width on
//! the side towards zero (score ≤ 1 ⇔ covered); the factor is the ⌈(n+1)·level⌉-th smallest score.
//! The calibration is **two-sided**: a factor above 1 widens an interval that covered too little, a
//! factor below 1 narrows one that covered too much (an over-wide interval hides findings as surely
//! as a narrow one invents them). Narrowing needs evidence: with fewer than [`MIN_CELLS`] scores the
//! factor is never below 1. The calibrated coverage is measured leave-one-window-out: each window's
//! cells against the factor of the other windows (which do not overlap it).
//!
//! **Rule** ([`select`]): among methods with at least [`MIN_CELLS`] backtest cells, those whose
//! calibrated interval (scaled by its conformal factor) covers zero, leave-one-window-out, in a
//! share within ±5 points of the level (85–95 % at 90 %) are *calibrated*; the headline uses the
//! calibrated method with the lowest backtest MAE. When none is, the method whose calibrated
//! coverage is closest to the level (then the lowest MAE). With no backtest at all, `auto` falls
//! back to `two_year`, the published convention, and says so. (Judging the calibrated rather than the
//! raw interval keeps the choice stable: a raw coverage just outside the band is brought into it.)

use std::collections::BTreeMap;

use chrono::{Duration, Months};
use homeseason_schema::campaign::{AUTO_METHOD, Campaign, DateRange};
use polars::prelude::*;

use crate::tracking::floats_of;
use crate::uplift::{
    Key, Method, Outcome, Run, Season, UpliftOptions, UpliftResult, estimate_runs, result_of,
};
use crate::{MetricsError, Result};

/// Most rolling backtest windows before the campaign (they do not overlap, so each reaches one
/// window length further back).
pub const ROLLING_WINDOWS: usize = 4;
/// Fewest backtest cells for a method to be chosen.
pub const MIN_CELLS: usize = 30;
/// Half-width of the coverage band around the level within which a method counts as calibrated.
pub const COVERAGE_TOLERANCE: f64 = 0.05;
/// The method `auto` falls back to when there is no backtest evidence.
pub const FALLBACK: Method = Method::TwoYear;

/// One backtest window: its label (`rolling-1`, `year-1` …), its pre-period and the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktestWindow {
    /// `rolling-k` (k-th rolling window, 1 = the latest) or `year-k` (the campaign window k years
    /// earlier).
    pub label: String,
    /// Pre-period of the prior-year and two-year methods.
    pub pre: DateRange,
    /// The window (no campaign ran there).
    pub window: DateRange,
}

/// The backtest windows of a campaign (see the module docs).
#[must_use]
pub fn backtest_windows(campaign: &Campaign) -> Vec<BacktestWindow> {
    let len = campaign.window.days();
    let pre_len = campaign.baseline.pre_period.days();
    let gap = (campaign.window.start - campaign.baseline.pre_period.end).num_days();
    let placed = |label: String, end: chrono::NaiveDate| {
        let start = end - Duration::days(len - 1);
        let pre_end = start - Duration::days(gap);
        BacktestWindow {
            label,
            pre: DateRange {
                start: pre_end - Duration::days(pre_len - 1),
                end: pre_end,
            },
            window: DateRange { start, end },
        }
    };
    let overlaps = |a: &DateRange, b: &DateRange| a.start <= b.end && b.start <= a.end;
    let masked = |w: &DateRange| campaign.baseline.masked.iter().any(|m| overlaps(m, w));
    let mut years = Vec::new();
    for k in 1..=10u32 {
        let shift = |d: chrono::NaiveDate| d.checked_sub_months(Months::new(12 * k));
        let (Some(start), Some(end), Some(ps), Some(pe)) = (
            shift(campaign.window.start),
            shift(campaign.window.end),
            shift(campaign.baseline.pre_period.start),
            shift(campaign.baseline.pre_period.end),
        ) else {
            break;
        };
        if start < campaign.history_start {
            break;
        }
        let w = BacktestWindow {
            label: format!("year-{k}"),
            pre: DateRange { start: ps, end: pe },
            window: DateRange { start, end },
        };
        if !masked(&w.window) && w.window.end < campaign.window.start {
            years.push(w);
        }
    }
    // Rolling windows, back from the pre-period's end, around the masked periods and the years.
    let mut rolling: Vec<BacktestWindow> = Vec::new();
    let mut end = campaign.baseline.pre_period.end;
    while rolling.len() < ROLLING_WINDOWS {
        let w = placed(format!("rolling-{}", rolling.len() + 1), end);
        if w.window.start < campaign.history_start {
            break;
        }
        // The latest-starting period it overlaps: end the window the day before it.
        let blocker = campaign
            .baseline
            .masked
            .iter()
            .chain(years.iter().map(|y| &y.window))
            .filter(|b| overlaps(b, &w.window))
            .map(|b| b.start)
            .max();
        match blocker {
            Some(start) => end = start - Duration::days(1),
            None => {
                end = w.window.start - Duration::days(1);
                rolling.push(w);
            }
        }
    }
    rolling.extend(years);
    rolling
}

/// One backtest estimate: a method on a window for a region × category (uplift % is the error).
#[derive(Debug, Clone)]
pub struct BacktestCell {
    /// The method.
    pub method: Method,
    /// The window's label.
    pub window: String,
    /// Region code.
    pub region_code: String,
    /// Category id.
    pub category: String,
    /// Estimated uplift % (the truth is 0).
    pub uplift_pct: f64,
    /// Lower bound of its interval (%).
    pub lower: f64,
    /// Upper bound (%).
    pub upper: f64,
}

impl BacktestCell {
    /// The split-conformal score: the error over the interval's half-width on the side towards zero
    /// (≤ 1 exactly when the interval holds zero).
    #[must_use]
    pub fn score(&self) -> f64 {
        let p = self.uplift_pct;
        if p > 0.0 {
            let half = p - self.lower;
            if half > 0.0 { p / half } else { f64::INFINITY }
        } else if p < 0.0 {
            let half = self.upper - p;
            if half > 0.0 { -p / half } else { f64::INFINITY }
        } else {
            0.0
        }
    }
}

/// Estimate every method on every backtest window (placebo windows off; the same seed as the
/// campaign's estimate, so the backtest is as deterministic).
///
/// The campaign window is estimated too (and its estimates dropped): each cell's regression fits
/// on the backtest windows start from its campaign fit ([`estimate_runs`]), as in
/// [`uplift_with_backtest`], so the two give the same backtest.
///
/// # Errors
/// When `series` lacks its columns.
pub fn backtest_cells(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<Vec<BacktestCell>> {
    let season = Season::of(series)?;
    let (windows, shifted, opts) = backtest_runs(campaign, opts);
    let runs: Vec<Run<'_>> = std::iter::once(campaign)
        .chain(&shifted)
        .map(|campaign| Run {
            campaign,
            opts: &opts,
            daily: false,
        })
        .collect();
    let outcomes = estimate_runs(&season, &runs, methods).into_iter().skip(1);
    Ok(cells_of(&windows, outcomes.collect()))
}

/// The backtest's windows, the campaign shifted onto each, and the options the backtest runs with
/// (placebo windows and diagnostics off).
fn backtest_runs(
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> (Vec<BacktestWindow>, Vec<Campaign>, UpliftOptions) {
    let windows = backtest_windows(campaign);
    let shifted = windows
        .iter()
        .map(|w| {
            let mut shifted = campaign.clone();
            shifted.window = w.window;
            shifted.baseline.pre_period = w.pre;
            shifted
        })
        .collect();
    let opts = UpliftOptions {
        placebo: None,
        diagnostics: false,
        ..opts.clone()
    };
    (windows, shifted, opts)
}

/// The backtest cells of each window's outcomes (estimates with a non-finite bound left out), in
/// window order then task order.
fn cells_of(
    windows: &[BacktestWindow],
    outcomes: Vec<Vec<(Key<'_>, Outcome)>>,
) -> Vec<BacktestCell> {
    let mut out = Vec::new();
    for (w, outcomes) in windows.iter().zip(outcomes) {
        for ((region, category, method), outcome) in outcomes {
            let Some((e, _)) = outcome else { continue };
            // As the uplift table's `uplift_pct`, `lower_pct`, `upper_pct`.
            let (p, lo, hi) = (100.0 * (e.actual / e.baseline - 1.0), e.lower, e.upper);
            if !(p.is_finite() && lo.is_finite() && hi.is_finite()) {
                continue;
            }
            out.push(BacktestCell {
                method,
                window: w.label.clone(),
                region_code: region.clone(),
                category: category.clone(),
                uplift_pct: p,
                lower: lo,
                upper: hi,
            });
        }
    }
    out
}

/// The campaign's estimate ([`crate::uplift()`]) and its backtest ([`run`]) with every estimate of both in
/// one pool of tasks (no core waits for the slowest cell of one window before the next window
/// starts, and the season's cells and aligned comparisons are built once): the `uplift` result
/// annotated with the backtest's figures ([`annotate`]), the `uplift_backtest` table, the figures
/// and the selection. The same numbers as [`crate::uplift()`], [`run`] and [`annotate`] called in turn.
///
/// # Errors
/// When `series` lacks its columns.
pub fn uplift_with_backtest(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(UpliftResult, DataFrame, Vec<MethodBacktest>, Selection)> {
    let season = Season::of(series)?;
    let (windows, shifted, backtest_opts) = backtest_runs(campaign, opts);
    let runs: Vec<Run<'_>> = std::iter::once(Run {
        campaign,
        opts,
        daily: true,
    })
    .chain(shifted.iter().map(|campaign| Run {
        campaign,
        opts: &backtest_opts,
        daily: false,
    }))
    .collect();
    let mut outcomes = estimate_runs(&season, &runs, methods).into_iter();
    let mut result = result_of(&runs[0], outcomes.next().unwrap_or_default())?;
    let cells = cells_of(&windows, outcomes.collect());
    let (frame, figures, selection) = conclude(&cells, campaign, methods)?;
    result.uplift = annotate(&result.uplift, &figures)?;
    Ok((result, frame, figures, selection))
}

/// A method's backtest figures (percentage points of uplift %; shares in [0, 1]).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodBacktest {
    /// The method.
    pub method: Method,
    /// Windows with at least one cell.
    pub windows: usize,
    /// Backtest cells (window × region × category).
    pub cells: usize,
    /// Mean error (pp); the truth is zero.
    pub bias_pp: f64,
    /// Mean absolute error (pp).
    pub mae_pp: f64,
    /// Share of cells whose nominal interval holds zero.
    pub coverage: f64,
    /// The `level`-quantile of |error| (pp): an uplift inside ±this is not distinguishable from no
    /// effect.
    pub error_band_pp: f64,
    /// Split-conformal scaling factor of the interval (> 1 widens, < 1 narrows).
    pub conformal_factor: f64,
    /// Coverage of the widened intervals, leave-one-window-out.
    pub calibrated_coverage: f64,
}

impl MethodBacktest {
    /// Figures for tests: `cells` cells over 4 windows, no bias, `mae_pp`, `coverage` for both the
    /// nominal and the calibrated intervals, an error band of twice the MAE and a conformal factor
    /// of 1. Change any other field with struct-update syntax.
    #[doc(hidden)]
    #[must_use]
    pub fn example(method: Method, cells: usize, mae_pp: f64, coverage: f64) -> MethodBacktest {
        MethodBacktest {
            method,
            windows: 4,
            cells,
            bias_pp: 0.0,
            mae_pp,
            coverage,
            error_band_pp: 2.0 * mae_pp,
            conformal_factor: 1.0,
            calibrated_coverage: coverage,
        }
    }
}

/// The conformal quantile of `scores` at `level`: the ⌈(n+1)·level⌉-th smallest (infinite when that
/// exceeds n); below 1 (narrowing) only with at least [`MIN_CELLS`] scores.
fn conformal_factor(scores: &[f64], level: f64) -> f64 {
    let mut s: Vec<f64> = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = ((n as f64 + 1.0) * level).ceil() as usize;
    let q = if k > n {
        f64::INFINITY
    } else {
        s[k.max(1) - 1]
    };
    if n < MIN_CELLS { q.max(1.0) } else { q }
}

/// The figures of each method over its backtest cells (methods without a cell get zero cells and
/// `NaN` figures).
#[must_use]
pub fn summarise(cells: &[BacktestCell], methods: &[Method], level: f64) -> Vec<MethodBacktest> {
    methods
        .iter()
        .map(|&method| {
            let mine: Vec<&BacktestCell> = cells.iter().filter(|c| c.method == method).collect();
            let n = mine.len();
            let nan = f64::NAN;
            if n == 0 {
                return MethodBacktest {
                    method,
                    windows: 0,
                    cells: 0,
                    bias_pp: nan,
                    mae_pp: nan,
                    coverage: nan,
                    error_band_pp: nan,
                    conformal_factor: nan,
                    calibrated_coverage: nan,
                };
            }
            let nf = n as f64;
            let mut by_window: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for c in &mine {
                by_window
                    .entry(c.window.as_str())
                    .or_default()
                    .push(c.score());
            }
            let all_scores: Vec<f64> = mine.iter().map(|c| c.score()).collect();
            let mut abs: Vec<f64> = mine.iter().map(|c| c.uplift_pct.abs()).collect();
            abs.sort_by(f64::total_cmp);
            // Leave one window out: each window's cells against the other windows' factor (with a
            // single window, its own).
            let mut covered = 0usize;
            for (w, scores) in &by_window {
                let others: Vec<f64> = by_window
                    .iter()
                    .filter(|(o, _)| o != &w)
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect();
                let f = if others.is_empty() {
                    conformal_factor(scores, level)
                } else {
                    conformal_factor(&others, level)
                };
                covered += scores.iter().filter(|s| **s <= f).count();
            }
            MethodBacktest {
                method,
                windows: by_window.len(),
                cells: n,
                bias_pp: mine.iter().map(|c| c.uplift_pct).sum::<f64>() / nf,
                mae_pp: abs.iter().sum::<f64>() / nf,
                coverage: all_scores.iter().filter(|s| **s <= 1.0).count() as f64 / nf,
                error_band_pp: crate::uplift::quantile(&abs, level),
                conformal_factor: conformal_factor(&all_scores, level),
                calibrated_coverage: covered as f64 / nf,
            }
        })
        .collect()
}

/// The headline method and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The method chosen.
    pub method: Method,
    /// Whether its nominal coverage met the band (false: the closest, or the fallback).
    pub calibrated: bool,
    /// Why, in Chinese.
    pub reason_zh: String,
    /// Why, in English.
    pub reason_en: String,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The conformal factor `k` in words: (Chinese, English), "放宽 1.13 倍" / "widened 1.13×" above 1,
/// "收窄为 0.82 倍" / "narrowed to 0.82×" below.
fn scaled(k: f64) -> (String, String) {
    if k < 1.0 {
        (format!("收窄为 {k:.2} 倍"), format!("narrowed to {k:.2}×"))
    } else {
        (format!("放宽 {k:.2} 倍"), format!("widened {k:.2}×"))
    }
}

/// The rule of the module docs: calibrated (coverage within ±5 points of `level`, at least
/// [`MIN_CELLS`] cells) then the lowest MAE; else the coverage closest to `level`; else [`FALLBACK`].
#[must_use]
pub fn select(figures: &[MethodBacktest], level: f64) -> Selection {
    // The coverage judged: of the calibrated interval (leave-one-window-out), else the raw one.
    let judged = |f: &MethodBacktest| {
        if f.calibrated_coverage.is_finite() {
            f.calibrated_coverage
        } else {
            f.coverage
        }
    };
    let eligible: Vec<&MethodBacktest> = figures
        .iter()
        .filter(|f| f.cells >= MIN_CELLS && f.mae_pp.is_finite() && f.coverage.is_finite())
        .collect();
    let (lo, hi) = (level - COVERAGE_TOLERANCE, level + COVERAGE_TOLERANCE);
    let band = format!("{}–{}", pct(lo), pct(hi));
    let calibrated = eligible
        .iter()
        .filter(|f| judged(f) >= lo - 1e-12 && judged(f) <= hi + 1e-12)
        .min_by(|a, b| a.mae_pp.total_cmp(&b.mae_pp));
    if let Some(f) = calibrated {
        let m = f.method.id();
        let (k_zh, k_en) = scaled(f.conformal_factor);
        return Selection {
            method: f.method,
            calibrated: true,
            reason_zh: format!(
                "在 {} 个无活动的回测单元中，{m} 的 {:.0}% 区间按回测{k_zh}后覆盖零的比例为 {}（逐窗口留一，在 {band} 之内；校准前 {}），且回测平均绝对误差最小（{:.2} 个百分点）",
                f.cells,
                level * 100.0,
                pct(judged(f)),
                pct(f.coverage),
                f.mae_pp
            ),
            reason_en: format!(
                "over {} backtest cells with no campaign, {m}'s {:.0}% interval, {k_en} on the backtest, held zero in {} of them (leave-one-window-out, within {band}; {} before calibration) and it had the lowest backtest MAE among such methods ({:.2} pp)",
                f.cells,
                level * 100.0,
                pct(judged(f)),
                pct(f.coverage),
                f.mae_pp
            ),
        };
    }
    let closest = eligible.iter().min_by(|a, b| {
        (judged(a) - level)
            .abs()
            .total_cmp(&(judged(b) - level).abs())
            .then(a.mae_pp.total_cmp(&b.mae_pp))
    });
    if let Some(f) = closest {
        let m = f.method.id();
        let (k_zh, k_en) = scaled(f.conformal_factor);
        return Selection {
            method: f.method,
            calibrated: false,
            reason_zh: format!(
                "没有方法的校准后回测覆盖率落在 {band} 之内；{m} 最接近（{} 个回测单元中覆盖 {}，平均绝对误差 {:.2} 个百分点），其区间按回测{k_zh}",
                f.cells,
                pct(judged(f)),
                f.mae_pp
            ),
            reason_en: format!(
                "no method's calibrated backtest coverage lay within {band}; {m} came closest ({} of {} backtest cells, MAE {:.2} pp; its interval is {k_en} on the backtest)",
                pct(judged(f)),
                f.cells,
                f.mae_pp
            ),
        };
    }
    let m = FALLBACK.id();
    Selection {
        method: FALLBACK,
        calibrated: false,
        reason_zh: format!("没有可用的回测（每种方法少于 {MIN_CELLS} 个回测单元），按惯例采用 {m}"),
        reason_en: format!(
            "no backtest evidence (fewer than {MIN_CELLS} backtest cells per method), so {m} by convention"
        ),
    }
}

/// The `uplift_backtest` table: one row per method with its figures, whether it is the headline
/// method (`selected`) and, on that row, why.
///
/// # Errors
/// Polars failures.
pub fn backtest_frame(
    campaign: &Campaign,
    figures: &[MethodBacktest],
    selection: &Selection,
) -> Result<DataFrame> {
    let opt = |x: f64| x.is_finite().then_some(x);
    let pinned = campaign.baseline.primary_method != AUTO_METHOD;
    let n = figures.len();
    let selected: Vec<bool> = figures
        .iter()
        .map(|f| f.method == selection.method)
        .collect();
    let reason = |zh: bool| -> Vec<Option<String>> {
        figures
            .iter()
            .map(|f| {
                (f.method == selection.method).then(|| {
                    if zh {
                        selection.reason_zh.clone()
                    } else {
                        selection.reason_en.clone()
                    }
                })
            })
            .collect()
    };
    Ok(df!(
        "campaign_id" => vec![campaign.id.clone(); n],
        "method" => figures.iter().map(|f| f.method.id()).collect::<Vec<_>>(),
        "windows" => figures.iter().map(|f| f.windows as i64).collect::<Vec<_>>(),
        "cells" => figures.iter().map(|f| f.cells as i64).collect::<Vec<_>>(),
        "level" => vec![campaign.baseline.level; n],
        "bias_pp" => figures.iter().map(|f| opt(f.bias_pp)).collect::<Vec<_>>(),
        "mae_pp" => figures.iter().map(|f| opt(f.mae_pp)).collect::<Vec<_>>(),
        "coverage" => figures.iter().map(|f| opt(f.coverage)).collect::<Vec<_>>(),
        "error_band_pp" => figures.iter().map(|f| opt(f.error_band_pp)).collect::<Vec<_>>(),
        "conformal_factor" => figures.iter().map(|f| opt(f.conformal_factor)).collect::<Vec<_>>(),
        "calibrated_coverage" => figures.iter().map(|f| opt(f.calibrated_coverage)).collect::<Vec<_>>(),
        "selected" => selected,
        "selection" => vec![if pinned { "pinned" } else { "auto" }; n],
        "reason_zh" => reason(true),
        "reason_en" => reason(false),
    )?)
}

/// Backtest, summarise, select and tabulate in one call: the `uplift_backtest` table and the
/// figures. With a pinned `primary_method`, the pinned method is `selected` and the reason says it
/// was pinned (the figures are still shown).
///
/// # Errors
/// When `series` lacks its columns.
pub fn run(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(DataFrame, Vec<MethodBacktest>, Selection)> {
    let cells = backtest_cells(series, campaign, methods, opts)?;
    conclude(&cells, campaign, methods)
}

/// Summarise, select and tabulate backtest cells (the second half of [`run`]).
fn conclude(
    cells: &[BacktestCell],
    campaign: &Campaign,
    methods: &[Method],
) -> Result<(DataFrame, Vec<MethodBacktest>, Selection)> {
    let figures = summarise(cells, methods, campaign.baseline.level);
    let selection = match Method::from_id(&campaign.baseline.primary_method) {
        Some(m) => Selection {
            method: m,
            calibrated: figures.iter().any(|f| {
                f.method == m
                    && (f.coverage - campaign.baseline.level).abs() <= COVERAGE_TOLERANCE + 1e-12
            }),
            reason_zh: format!("活动配置文件指定 {}", m.id()),
            reason_en: format!("pinned in the campaign file ({})", m.id()),
        },
        None => select(&figures, campaign.baseline.level),
    };
    let frame = backtest_frame(campaign, &figures, &selection)?;
    Ok((frame, figures, selection))
}

/// The one place `primary_method = "auto"` is resolved: a campaign whose `primary_method` is a
/// method id. A pinned method is kept; `auto` becomes the `selected` method of the `uplift_backtest`
/// table, or [`FALLBACK`] when there is no such table (or it selects nothing).
///
/// # Errors
/// When the table lacks its columns or names an unknown method.
pub fn resolve_primary(campaign: &Campaign, backtest: Option<&DataFrame>) -> Result<Campaign> {
    let mut out = campaign.clone();
    if campaign.baseline.primary_method != AUTO_METHOD {
        return Ok(out);
    }
    out.baseline.primary_method = selected_method(backtest)?
        .unwrap_or(FALLBACK)
        .id()
        .to_owned();
    Ok(out)
}

/// The figures of each method read back from an `uplift_backtest` table (the inverse of
/// [`backtest_frame`]), to annotate an uplift table estimated later on the same evidence (a
/// week's estimate in the notebook export). Rows naming an unknown method are skipped.
///
/// # Errors
/// When the table lacks its columns.
pub fn figures_of(frame: &DataFrame) -> Result<Vec<MethodBacktest>> {
    let methods = frame.column("method")?.str()?.clone();
    let int = |name: &str| -> Result<Vec<usize>> {
        Ok(frame
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| usize::try_from(v.unwrap_or_default()).unwrap_or_default())
            .collect())
    };
    let num = |name: &str| floats_of(frame, name);
    let (windows, cells) = (int("windows")?, int("cells")?);
    let (bias, mae, cov, band, k, ccov) = (
        num("bias_pp")?,
        num("mae_pp")?,
        num("coverage")?,
        num("error_band_pp")?,
        num("conformal_factor")?,
        num("calibrated_coverage")?,
    );
    Ok((0..frame.height())
        .filter_map(|i| {
            let method = methods.get(i).and_then(Method::from_id)?;
            Some(MethodBacktest {
                method,
                windows: windows[i],
                cells: cells[i],
                bias_pp: bias[i],
                mae_pp: mae[i],
                coverage: cov[i],
                error_band_pp: band[i],
                conformal_factor: k[i],
                calibrated_coverage: ccov[i],
            })
        })
        .collect())
}

/// The `selected` method of an `uplift_backtest` table, if any.
///
/// # Errors
/// When the table lacks its columns or names an unknown method.
pub fn selected_method(backtest: Option<&DataFrame>) -> Result<Option<Method>> {
    let Some(frame) = backtest.filter(|f| f.height() > 0) else {
        return Ok(None);
    };
    let methods = frame.column("method")?.str()?;
    let selected = frame.column("selected")?.bool()?;
    for i in 0..frame.height() {
        if selected.get(i) == Some(true) {
            let id = methods.get(i).unwrap_or_default();
            return Method::from_id(id).map(Some).ok_or_else(|| {
                MetricsError::Input(format!(
                    "uplift_backtest selects an unknown method {id:?} · uplift_backtest 选定了未知方法 {id:?}"
                ))
            });
        }
    }
    Ok(None)
}

/// The uplift table with the backtest's diagnostics per row, by method: `backtest_error_pp` (the
/// method's error band), `distinguishable` (`|uplift_pct|` at or above the band; `false` is shown as
/// "not distinguishable from no effect") and the interval scaled by the method's conformal factor
/// (`calibrated_lower_pct`, `calibrated_upper_pct`), and that interval in yuan
/// (`calibrated_abs_lower_yuan`, `calibrated_abs_upper_yuan`) by the rule the uplift table's own
/// yuan bounds follow, `A − A / (1 + bound/100)` with `A = actual_yuan` (null for a bound at or
/// below −100 %), when the table carries `actual_yuan`. The report's headline quotes the calibrated interval. Methods
/// without backtest figures get nulls.
///
/// # Errors
/// When `uplift` lacks its columns.
pub fn annotate(uplift: &DataFrame, figures: &[MethodBacktest]) -> Result<DataFrame> {
    let methods = uplift.column("method")?.str()?;
    let pct = uplift.column("uplift_pct")?.f64()?;
    let lower = uplift.column("lower_pct")?.f64()?;
    let upper = uplift.column("upper_pct")?.f64()?;
    let yuan = |name: &str| -> Result<Option<Float64Chunked>> {
        Ok(match uplift.column(name) {
            Ok(c) => Some(c.cast(&DataType::Float64)?.f64()?.clone()),
            Err(_) => None,
        })
    };
    let actual = yuan("actual_yuan")?;
    // uplift_abs = A − A/(1+pct/100), as the uplift table derives its yuan bounds.
    let to_yuan =
        |a: f64, bound: f64| (1.0 + bound / 100.0 > 0.0).then(|| a - a / (1.0 + bound / 100.0));
    let n = uplift.height();
    let (mut band, mut dist, mut clo, mut chi) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut cylo, mut cyhi): (Vec<Option<f64>>, Vec<Option<f64>>) =
        (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let f = methods
            .get(i)
            .and_then(Method::from_id)
            .and_then(|m| figures.iter().find(|f| f.method == m))
            .filter(|f| f.cells > 0);
        let (Some(f), Some(p), Some(lo), Some(hi)) = (f, pct.get(i), lower.get(i), upper.get(i))
        else {
            band.push(None);
            dist.push(None);
            clo.push(None);
            chi.push(None);
            cylo.push(None);
            cyhi.push(None);
            continue;
        };
        let b = f.error_band_pp.is_finite().then_some(f.error_band_pp);
        band.push(b);
        dist.push(b.map(|b| p.abs() >= b));
        let k = f.conformal_factor;
        if k.is_finite() {
            clo.push(Some(p + k * (lo - p)));
            chi.push(Some(p + k * (hi - p)));
            let a = actual.as_ref().and_then(|c| c.get(i));
            cylo.push(a.and_then(|a| to_yuan(a, p + k * (lo - p))));
            cyhi.push(a.and_then(|a| to_yuan(a, p + k * (hi - p))));
        } else {
            clo.push(None);
            chi.push(None);
            cylo.push(None);
            cyhi.push(None);
        }
    }
    let mut out = uplift.clone();
    out.with_column(Column::new("backtest_error_pp".into(), band))?;
    out.with_column(Column::new("distinguishable".into(), dist))?;
    out.with_column(Column::new("calibrated_lower_pct".into(), clo))?;
    out.with_column(Column::new("calibrated_upper_pct".into(), chi))?;
    if actual.is_some() {
        out.with_column(Column::new("calibrated_abs_lower_yuan".into(), cylo))?;
        out.with_column(Column::new("calibrated_abs_upper_yuan".into(), cyhi))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(method: Method, cells: usize, mae: f64, coverage: f64) -> MethodBacktest {
        MethodBacktest::example(method, cells, mae, coverage)
    }

    #[test]
    fn the_rule_takes_the_lowest_mae_among_calibrated_methods() {
        // prior_year has the lowest MAE but covers too little; two_year and the regression are
        // calibrated, the regression's MAE is lower.
        let figures = [
            fig(Method::PriorYear, 600, 0.8, 0.60),
            fig(Method::TwoYear, 600, 2.4, 0.88),
            fig(Method::CounterfactualRegression, 600, 1.3, 0.93),
        ];
        let s = select(&figures, 0.9);
        assert_eq!(s.method, Method::CounterfactualRegression);
        assert!(s.calibrated);
        assert!(s.reason_en.contains("93.0%") && s.reason_en.contains("1.30 pp"));
        assert!(s.reason_zh.contains("93.0%"));
        // Over-covering beyond 95 % is not calibrated either.
        let figures = [
            fig(Method::TwoYear, 600, 2.4, 0.86),
            fig(Method::CounterfactualRegression, 600, 1.3, 0.99),
        ];
        assert_eq!(select(&figures, 0.9).method, Method::TwoYear);
        // Judged on the calibrated interval: a raw 84.5 % widened to 88.6 % is calibrated.
        let mut reg = fig(Method::CounterfactualRegression, 760, 1.66, 0.845);
        reg.calibrated_coverage = 0.886;
        let figures = [fig(Method::TwoYear, 760, 3.56, 0.929), reg];
        let s = select(&figures, 0.9);
        assert_eq!(s.method, Method::CounterfactualRegression);
        assert!(s.reason_en.contains("88.6%") && s.reason_en.contains("84.5% before calibration"));
        // Too few cells: not eligible, however good.
        let figures = [
            fig(Method::TwoYear, 600, 2.4, 0.70),
            fig(Method::CounterfactualRegression, 10, 1.0, 0.90),
        ];
        let s = select(&figures, 0.9);
        assert_eq!(s.method, Method::TwoYear);
        assert!(!s.calibrated, "closest, not calibrated");
        assert!(s.reason_en.contains("no method"));
        // No evidence at all: the fallback, said so.
        let s = select(&[], 0.9);
        assert_eq!(s.method, FALLBACK);
        assert!(s.reason_en.contains("no backtest"));
    }

    #[test]
    fn conformal_factor_widens_and_narrows_to_the_level() {
        // Scores 0.1 … 2.0: 90 % of 20 cells needs the ⌈21·0.9⌉ = 19th smallest = 1.9.
        let scores: Vec<f64> = (1..=20).map(|i| f64::from(i) / 10.0).collect();
        assert!((conformal_factor(&scores, 0.9) - 1.9).abs() < 1e-12);
        // Too few scores to narrow on: never below 1.
        let small: Vec<f64> = (1..=20).map(|i| f64::from(i) / 100.0).collect();
        assert!((conformal_factor(&small, 0.9) - 1.0).abs() < 1e-12);
        // Over-wide intervals (scores 0.01 … 0.40, 40 cells): narrowed to the ⌈41·0.9⌉ = 37th
        // smallest, 0.37, after which 37 of 40 cells (92.5 %) are covered.
        let wide: Vec<f64> = (1..=40).map(|i| f64::from(i) / 100.0).collect();
        let k = conformal_factor(&wide, 0.9);
        assert!((k - 0.37).abs() < 1e-12, "{k}");
        assert_eq!(wide.iter().filter(|s| **s <= k).count(), 37);
        let (zh, en) = scaled(k);
        assert!(
            en.contains("narrowed to 0.37×") && zh.contains("收窄为 0.37 倍"),
            "{en} {zh}"
        );
        let cell = BacktestCell {
            method: Method::TwoYear,
            window: "rolling-1".into(),
            region_code: "330000".into(),
            category: "furniture".into(),
            uplift_pct: 3.0,
            lower: 1.0,
            upper: 5.0,
        };
        assert!(
            (cell.score() - 1.5).abs() < 1e-12,
            "3 over a half-width of 2"
        );
    }

    #[test]
    fn windows_have_the_campaign_length_end_before_it_and_skip_masked_periods() {
        let c = Campaign::default_2023();
        let w = backtest_windows(&c);
        // Sep–Dec 2022 overlaps the masked COVID wave and is left out; Sep–Dec 2021 starts on
        // history_start, so it is a window (the methods then say whether they have the history).
        let labels: Vec<&str> = w.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(
            labels,
            ["rolling-1", "rolling-2", "rolling-3", "rolling-4", "year-2"]
        );
        for x in &w {
            assert_eq!(x.window.days(), c.window.days());
            assert_eq!(x.pre.days(), c.baseline.pre_period.days());
            assert!(x.window.end < c.window.start && x.pre.end < x.window.start);
            assert!(x.window.start >= c.history_start);
            assert!(
                !c.baseline
                    .masked
                    .iter()
                    .any(|m| m.start <= x.window.end && x.window.start <= m.end),
                "{x:?} overlaps a masked period"
            );
        }
        // No two windows share a day.
        for (i, a) in w.iter().enumerate() {
            for b in &w[i + 1..] {
                assert!(
                    a.window.end < b.window.start || b.window.end < a.window.start,
                    "{a:?} and {b:?} overlap"
                );
            }
        }
        assert_eq!(w[0].window.end, c.baseline.pre_period.end);
        // rolling-2 steps around the masked late-2022 wave: it ends the day before it starts.
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(w[1].window.end, day(2022, 10, 31));
        assert_eq!(w[2].window.end, w[1].window.start - Duration::days(1));
        // rolling-4 steps around year-2 (Sep–Dec 2021).
        assert_eq!(w[3].window.end, day(2021, 8, 31));
    }

    #[test]
    fn annotate_flags_cells_inside_the_error_band_and_widens_intervals() {
        let uplift = df!(
            "method" => ["two_year", "two_year", "prior_year"],
            "uplift_pct" => [1.0, 5.0, 5.0],
            "lower_pct" => [-1.0, 3.0, 3.0],
            "upper_pct" => [3.0, 7.0, 7.0],
        )
        .unwrap();
        let mut f = fig(Method::TwoYear, 600, 1.5, 0.8);
        f.error_band_pp = 2.0;
        f.conformal_factor = 1.5;
        let out = annotate(&uplift, &[f.clone()]).unwrap();
        let d: Vec<Option<bool>> = out
            .column("distinguishable")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(d, [Some(false), Some(true), None]);
        let lo = out
            .column("calibrated_lower_pct")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        let hi = out
            .column("calibrated_upper_pct")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        assert_eq!((lo.get(1), hi.get(1)), (Some(2.0), Some(8.0)));
        assert_eq!(lo.get(2), None, "no figures for prior_year");
        // With actual sales, the calibrated bounds in yuan follow the table's own rule.
        let mut with_yuan = uplift.clone();
        with_yuan
            .with_column(Column::new("actual_yuan".into(), [101.0, 105.0, 105.0]))
            .unwrap();
        let out = annotate(&with_yuan, &[f]).unwrap();
        let ylo = out
            .column("calibrated_abs_lower_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        let yhi = out
            .column("calibrated_abs_upper_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(close(ylo.get(1), 105.0 - 105.0 / 1.02), "{:?}", ylo.get(1));
        assert!(close(yhi.get(1), 105.0 - 105.0 / 1.08), "{:?}", yhi.get(1));
        assert_eq!(ylo.get(2), None);
    }

    #[test]
    fn figures_read_back_from_the_backtest_table() {
        let c = Campaign::default_2023();
        let mut reg = fig(Method::CounterfactualRegression, 600, 1.3, 0.91);
        reg.conformal_factor = 1.13;
        let figures = [fig(Method::TwoYear, 600, 2.4, 0.80), reg];
        let s = select(&figures, 0.9);
        let frame = backtest_frame(&c, &figures, &s).unwrap();
        assert_eq!(figures_of(&frame).unwrap(), figures);
    }

    #[test]
    fn auto_resolves_to_the_selected_method_and_a_pin_is_kept() {
        let c = Campaign::default_2023();
        let figures = [
            fig(Method::TwoYear, 600, 2.4, 0.80),
            fig(Method::CounterfactualRegression, 600, 1.3, 0.91),
        ];
        let s = select(&figures, 0.9);
        let frame = backtest_frame(&c, &figures, &s).unwrap();
        let r = resolve_primary(&c, Some(&frame)).unwrap();
        assert_eq!(r.baseline.primary_method, "counterfactual_regression");
        assert_eq!(
            resolve_primary(&c, None).unwrap().baseline.primary_method,
            FALLBACK.id()
        );
        let mut pinned = c.clone();
        pinned.baseline.primary_method = "prior_year".into();
        let r = resolve_primary(&pinned, Some(&frame)).unwrap();
        assert_eq!(r.baseline.primary_method, "prior_year");
    }
}
