//! The report's sections beyond the uplift tables: progress as of the report week, local-station
//! events (synthetic control) with their impact plot and power table, activities this week and to
//! date, and the triangulation of payments with enterprise sales and 社零. Each reads one lake table;
//! a table that is absent or empty leaves its section out.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use homeseason_charts::{ImpactChart, SeriesChart};
use homeseason_metrics::Method;
use homeseason_metrics::backtest::MethodBacktest;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use crate::{ChartFile, Focus, Result, category_label, chart_file};

use crate::rows::strs as col_strs;

fn col_f64(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    Ok(crate::rows::f64s(df, name)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

fn col_i64(df: &DataFrame, name: &str) -> Result<Vec<i64>> {
    Ok(crate::rows::i64s(df, name)?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

fn col_dates(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>> {
    Ok(homeseason_metrics::tracking::dates_of(df, name)?)
}

fn region_name(regions: &Regions, code: &str) -> String {
    if code == NATIONAL {
        return "全国".into();
    }
    regions
        .by_code(code)
        .map_or_else(|| code.to_owned(), |r| r.short_zh.clone())
}

/// Cumulative progress of the area's all-targeted series as of the report week.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub(crate) as_of_week: NaiveDate,
    pub(crate) week_start: NaiveDate,
    pub(crate) week_actual: f64,
    pub(crate) week_uplift_pct: f64,
    pub(crate) wow_change_pct: Option<f64>,
    pub(crate) cum_actual: f64,
    pub(crate) cum_baseline: f64,
    pub(crate) cum_uplift_pct: f64,
}

/// The all-targeted row of `area` (national: `000000`) of `weekly_tracking` for `method` at the report
/// week (the last week on or before `as_of`).
pub(crate) fn progress(
    tracking: &DataFrame,
    method: &str,
    as_of: NaiveDate,
    area: &str,
) -> Result<Option<Progress>> {
    if tracking.height() == 0 {
        return Ok(None);
    }
    let (region, category, m) = (
        col_strs(tracking, "region_code")?,
        col_strs(tracking, "category")?,
        col_strs(tracking, "method")?,
    );
    let (as_of_week, week_start) = (
        col_dates(tracking, "as_of_week")?,
        col_dates(tracking, "week_start")?,
    );
    let f = |n: &str| col_f64(tracking, n);
    let (wa, wu, wow, ca, cb, cu) = (
        f("week_actual_yuan")?,
        f("week_uplift_pct")?,
        f("wow_change_pct")?,
        f("cum_actual_yuan")?,
        f("cum_baseline_yuan")?,
        f("cum_uplift_pct")?,
    );
    let mut best: Option<(NaiveDate, usize)> = None;
    for i in 0..tracking.height() {
        if region[i] != area || category[i] != "all_targeted" || m[i] != method {
            continue;
        }
        let Some(w) = as_of_week[i] else { continue };
        if w <= as_of && best.is_none_or(|(b, _)| w > b) {
            best = Some((w, i));
        }
    }
    Ok(best.map(|(w, i)| Progress {
        as_of_week: w,
        week_start: week_start[i].unwrap_or(w),
        week_actual: wa[i],
        week_uplift_pct: wu[i],
        wow_change_pct: wow[i].is_finite().then_some(wow[i]),
        cum_actual: ca[i],
        cum_baseline: cb[i],
        cum_uplift_pct: cu[i],
    }))
}

/// One local-station event (all targeted categories).
#[derive(Debug, Clone)]
pub(crate) struct LocalEvent {
    pub(crate) region: String,
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
    pub(crate) donors: i64,
    pub(crate) incremental: f64,
    pub(crate) lift: (f64, f64, f64),
    pub(crate) p_value: f64,
    pub(crate) imbalance: f64,
}

/// Events of `local_events` (category all_targeted) that started on or before `as_of`, and the impact
/// plot of the event with the largest lift.
pub(crate) fn local_events(
    events: &DataFrame,
    series: Option<&DataFrame>,
    as_of: NaiveDate,
    level: f64,
    focus: &Focus,
) -> Result<(Vec<LocalEvent>, Option<ChartFile>)> {
    if events.height() == 0 {
        return Ok((Vec::new(), None));
    }
    let regions = Regions::embedded();
    let (region, category) = (
        col_strs(events, "region_code")?,
        col_strs(events, "category")?,
    );
    let (start, end) = (
        col_dates(events, "event_start")?,
        col_dates(events, "event_end")?,
    );
    let donors = col_i64(events, "donors")?;
    let (inc, lift, lo, hi, p, imb) = (
        col_f64(events, "incremental_yuan")?,
        col_f64(events, "lift_pct")?,
        col_f64(events, "lift_lower_pct")?,
        col_f64(events, "lift_upper_pct")?,
        col_f64(events, "p_value")?,
        col_f64(events, "scaled_l2_imbalance")?,
    );
    let mut out = Vec::new();
    let mut best: Option<(f64, String, NaiveDate, String)> = None;
    for i in 0..events.height() {
        let (Some(s), Some(e)) = (start[i], end[i]) else {
            continue;
        };
        if category[i] != "all_targeted" || s > as_of || !focus.holds(&region[i]) {
            continue;
        }
        let name = region_name(regions, &region[i]);
        if best.as_ref().is_none_or(|b| lift[i] > b.0) {
            best = Some((lift[i], region[i].clone(), s, name.clone()));
        }
        out.push(LocalEvent {
            region: format!("{name} {}", region[i]),
            start: s,
            end: e,
            donors: donors[i],
            incremental: inc[i],
            lift: (lift[i], lo[i], hi[i]),
            p_value: p[i],
            imbalance: imb[i],
        });
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(a.region.cmp(&b.region)));
    let chart = match (best, series) {
        (Some((_, code, s, name)), Some(series)) if series.height() > 0 => {
            impact_chart(series, &code, s, &name, level)?
        }
        _ => None,
    };
    Ok((out, chart))
}

/// The days the impact plot of the event of region `code` starting `start` draws, from
/// `local_event_series` (`all_targeted`): `(day, observed, synthetic control)` in yuan, sorted by
/// day, one per day. A day whose observed or synthetic-control value is empty (blanked because it
/// would show a figure suppression does not publish) or not finite is left out, so no panel —
/// observed, pointwise or cumulative — draws it.
///
/// # Errors
/// When `series` lacks a column of `local_event_series`.
pub fn impact_points(
    series: &DataFrame,
    code: &str,
    start: NaiveDate,
) -> Result<Vec<(NaiveDate, f64, f64)>> {
    let (region, category) = (
        col_strs(series, "region_code")?,
        col_strs(series, "category")?,
    );
    let (es, date) = (
        col_dates(series, "event_start")?,
        col_dates(series, "date")?,
    );
    let (obs, cf) = (
        col_f64(series, "observed_yuan")?,
        col_f64(series, "counterfactual_yuan")?,
    );
    let mut points: Vec<(NaiveDate, f64, f64)> = (0..series.height())
        .filter(|&i| region[i] == code && category[i] == "all_targeted" && es[i] == Some(start))
        .filter_map(|i| Some((date[i]?, obs[i], cf[i])))
        .filter(|p| p.1.is_finite() && p.2.is_finite())
        .collect();
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    Ok(points)
}

/// The three-panel impact plot of one event from `local_event_series` (observed vs synthetic control;
/// the band is the event's pre-period fit error, ±z·RMSE, since the conformal interval is for totals),
/// over the days of [`impact_points`].
fn impact_chart(
    series: &DataFrame,
    code: &str,
    start: NaiveDate,
    name: &str,
    level: f64,
) -> Result<Option<ChartFile>> {
    let points: Vec<(NaiveDate, f64, f64)> = impact_points(series, code, start)?
        .into_iter()
        .map(|(d, o, c)| (d, o / 1e4, c / 1e4))
        .collect();
    let pre: Vec<f64> = points
        .iter()
        .filter(|p| p.0 < start)
        .map(|p| p.1 - p.2)
        .collect();
    if pre.len() < 7 || points.len() == pre.len() {
        return Ok(None);
    }
    let rmse = (pre.iter().map(|e| e * e).sum::<f64>() / pre.len() as f64).sqrt();
    // Two-sided normal quantile for the level (0.9 → 1.645) by bisection on erf-free approximation.
    let z = normal_quantile(0.5 + level / 2.0);
    let mut chart = ImpactChart::new(
        format!(
            "{name}地方站活动：实际与合成对照  Local event in {code}: observed vs synthetic control"
        ),
        "日销售额 Daily sales (万元)",
        points.iter().map(|p| p.0).collect(),
        points.iter().map(|p| p.1).collect(),
        points.iter().map(|p| p.2).collect(),
        points.iter().map(|p| p.2 - z * rmse).collect(),
        points.iter().map(|p| p.2 + z * rmse).collect(),
        start,
    );
    chart.band_label = format!("{:.0}% 前期拟合误差带 pre-period fit band", level * 100.0);
    chart.cumulative_label =
        "累计增量销售额 Cumulative incremental sales from the event start (万元)".into();
    Ok(Some(chart_file(
        "local_event_impact",
        &format!(
            "{name}地方站活动影响图 Impact plot of the local event in {name} ({code}), from {start}"
        ),
        &chart,
        (1200, 900),
    )?))
}

use homeseason_stats::numeric::normal_quantile;

/// One row of the planning table: what a local event of a given length could detect, and what that
/// rests on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PowerRow {
    pub(crate) region: String,
    pub(crate) days: i64,
    /// Smallest detectable effect, percent (NaN: none up to the largest simulated).
    pub(crate) mde_pct: f64,
    /// Share of windows where +10 % was detected (0 … 1).
    pub(crate) power_10: f64,
    /// Share of windows where the test rejected with no effect (0 … 1).
    pub(crate) false_positive_rate: f64,
    /// Placebo windows the shares are counted over.
    pub(crate) windows: i64,
    /// Significance level of the tests.
    pub(crate) alpha: f64,
}

/// Smallest detectable effect per planned duration over the candidate regions (all targeted), with
/// the number of placebo windows and the false-positive rate it rests on.
pub(crate) fn power_rows(power: &DataFrame, focus: &Focus) -> Result<Vec<PowerRow>> {
    if power.height() == 0 {
        return Ok(Vec::new());
    }
    let regions = Regions::embedded();
    let (region, category) = (
        col_strs(power, "region_code")?,
        col_strs(power, "category")?,
    );
    let (days, windows) = (col_i64(power, "duration_days")?, col_i64(power, "windows")?);
    let (mde, p10) = (col_f64(power, "mde_pct")?, col_f64(power, "power_10pct")?);
    let (fpr, alpha) = (
        col_f64(power, "false_positive_rate")?,
        col_f64(power, "alpha")?,
    );
    let mut out: Vec<PowerRow> = (0..power.height())
        .filter(|&i| category[i] == "all_targeted" && focus.holds(&region[i]))
        .map(|i| PowerRow {
            region: format!("{} {}", region_name(regions, &region[i]), region[i]),
            days: days[i],
            mde_pct: mde[i],
            power_10: p10[i],
            false_positive_rate: fpr[i],
            windows: windows[i],
            alpha: alpha[i],
        })
        .collect();
    out.sort_by(|a, b| a.region.cmp(&b.region).then(a.days.cmp(&b.days)));
    Ok(out)
}

/// `k/n 窗口 windows (p %)` for a share of `n` windows: the count says how coarse the share is, so a
/// share of 1 never reads as a bare "100 %".
pub(crate) fn share_of_windows(share: f64, windows: i64) -> String {
    if !share.is_finite() || windows <= 0 {
        return "—".into();
    }
    let k = (share * windows as f64).round() as i64;
    format!("{k}/{windows} 窗口 windows")
}

/// Activities, enterprises and brands: the report week and the campaign to date, by activity type.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activities {
    /// (type, week activities, week enterprises, week brands, to-date activities, enterprises, brands).
    pub(crate) by_type: Vec<(String, i64, i64, i64, i64, i64, i64)>,
    pub(crate) chart: Option<ChartFile>,
}

/// From `activity_summary` (region_code, week_start, activity_type, activities, enterprises, brands):
/// the week of `as_of` and everything from the window start up to it, totals over the area's regions.
pub(crate) fn activities(
    summary: &DataFrame,
    window_start: NaiveDate,
    as_of: NaiveDate,
    focus: &Focus,
) -> Result<Activities> {
    if summary.height() == 0 {
        return Ok(Activities::default());
    }
    let week = col_dates(summary, "week_start")?;
    let kind = col_strs(summary, "activity_type")?;
    let region = col_strs(summary, "region_code")?;
    let (a, e, b) = (
        col_i64(summary, "activities")?,
        col_i64(summary, "enterprises")?,
        col_i64(summary, "brands")?,
    );
    let this_week = as_of - Duration::days(6);
    let first_week = window_start - Duration::days(6);
    let mut types: BTreeMap<String, [i64; 6]> = BTreeMap::new();
    let mut weekly: BTreeMap<NaiveDate, [i64; 3]> = BTreeMap::new();
    for i in 0..summary.height() {
        let Some(w) = week[i] else { continue };
        if w < first_week || w > as_of || !focus.holds(&region[i]) {
            continue;
        }
        let t = types.entry(kind[i].clone()).or_default();
        if w >= this_week {
            t[0] += a[i];
            t[1] += e[i];
            t[2] += b[i];
        }
        t[3] += a[i];
        t[4] += e[i];
        t[5] += b[i];
        let k = weekly.entry(w).or_default();
        k[0] += a[i];
        k[1] += e[i];
        k[2] += b[i];
    }
    let by_type = types
        .into_iter()
        .map(|(k, v)| {
            let label = format!(
                "{} {}",
                crate::workbook::activity_type_zh(&k),
                k.replace('_', " ")
            );
            (label, v[0], v[1], v[2], v[3], v[4], v[5])
        })
        .collect();
    let chart = if weekly.len() >= 2 {
        let mut c = SeriesChart::new(
            format!(
                "每周活动参与企业与品牌（{}，周一起） Enterprises and brands in activities per week ({}, week from Monday)",
                focus.zh, focus.en
            ),
            "数量 Count (家 / 个)",
        );
        c.actual_label = "参与企业 Enterprises".into();
        c.baseline_label = "参与品牌 Brands".into();
        for (w, v) in &weekly {
            c.actual.push((*w, v[1] as f64));
            c.baseline.push((*w, v[2] as f64));
        }
        Some(chart_file(
            "activities_by_week",
            "每周活动参与企业与品牌 Enterprises and brands by week (activity counts in the table)",
            &c,
            (1200, 520),
        )?)
    } else {
        None
    };
    Ok(Activities { by_type, chart })
}

/// One triangulation row as shown.
#[derive(Debug, Clone)]
pub(crate) struct TriangulationRow {
    pub(crate) region_code: String,
    pub(crate) region: String,
    pub(crate) category: String,
    /// Payments uplift with its interval.
    pub(crate) payments: String,
    /// Enterprise uplift with its interval.
    pub(crate) enterprise: String,
    /// Payments growth over the comparison year with its band.
    pub(crate) payments_growth: String,
    /// 社零 growth over the window's months.
    pub(crate) retail: String,
    /// `published` / `derived` (empty without a 社零 figure).
    pub(crate) basis: String,
    /// How the 社零 figure was obtained.
    pub(crate) derivation: String,
    pub(crate) status: String,
}

/// Triangulation rows from the `triangulation` table.
pub(crate) fn triangulation(t: &DataFrame) -> Result<Vec<TriangulationRow>> {
    if t.height() == 0 {
        return Ok(Vec::new());
    }
    let regions = Regions::embedded();
    let (region, category, status) = (
        col_strs(t, "region_code")?,
        col_strs(t, "category")?,
        col_strs(t, "status")?,
    );
    let (basis, derivation) = (
        col_strs(t, "retail_basis")?,
        col_strs(t, "retail_derivation")?,
    );
    let f = |n: &str| col_f64(t, n);
    let (p, pl, pu) = (
        f("payments_uplift_pct")?,
        f("payments_lower_pct")?,
        f("payments_upper_pct")?,
    );
    let (e, el, eu) = (
        f("enterprise_uplift_pct")?,
        f("enterprise_lower_pct")?,
        f("enterprise_upper_pct")?,
    );
    let (g, gl, gu) = (
        f("payments_yoy_pct")?,
        f("payments_yoy_lower_pct")?,
        f("payments_yoy_upper_pct")?,
    );
    let r = f("retail_yoy_pct")?;
    let fmt = |v: f64| {
        if v.is_finite() {
            format!("{}%", crate::signed(v, 1))
        } else {
            "—".into()
        }
    };
    let iv = |v: f64, l: f64, u: f64| {
        if v.is_finite() && l.is_finite() && u.is_finite() {
            format!("{} ({} … {})", fmt(v), fmt(l), fmt(u))
        } else {
            fmt(v)
        }
    };
    Ok((0..t.height())
        .map(|i| TriangulationRow {
            region_code: region[i].clone(),
            region: format!("{} {}", region_name(regions, &region[i]), region[i]),
            category: category_label(&category[i]),
            payments: iv(p[i], pl[i], pu[i]),
            enterprise: iv(e[i], el[i], eu[i]),
            payments_growth: iv(g[i], gl[i], gu[i]),
            retail: fmt(r[i]),
            basis: match basis[i].as_str() {
                "published" => "公布 published".into(),
                "derived" => "推算 derived".into(),
                other => other.to_owned(),
            },
            derivation: derivation[i].clone(),
            status: status_label(&status[i]),
        })
        .collect())
}

/// The status in both languages.
fn status_label(id: &str) -> String {
    let zh = match id {
        "agree" => "一致",
        "enterprise_disagrees" => "企业数据不一致",
        "retail_disagrees" => "社零增速不一致",
        "both_disagree" => "均不一致",
        "payments_only" => "仅支付数据",
        other => return other.to_owned(),
    };
    format!("{zh} {}", id.replace('_', " "))
}

/// One method's backtest figures as shown (see `homeseason_metrics::backtest`).
#[derive(Debug, Clone)]
pub(crate) struct BacktestRow {
    /// The method as the table names it.
    pub(crate) method: String,
    /// Its figures, read by `homeseason_metrics::backtest::figures_of`.
    pub(crate) figures: MethodBacktest,
    pub(crate) selected: bool,
    /// `auto` or `pinned`.
    pub(crate) selection: String,
    pub(crate) reason_zh: String,
    pub(crate) reason_en: String,
}

/// Rows of the `uplift_backtest` table: the figures as the metrics crate reads them back, with the
/// selection and its reasons. Like `figures_of`, a row naming no known method is left out (the table
/// is written by `homeseason_metrics::backtest::backtest_frame`, which names known methods only).
pub(crate) fn backtest(t: &DataFrame) -> Result<Vec<BacktestRow>> {
    let figures = homeseason_metrics::backtest::figures_of(t).map_err(|e| match e {
        homeseason_metrics::MetricsError::Polars(p) => crate::ReportError::Polars(p),
        other => crate::ReportError::Empty(format!("uplift_backtest: {other}")),
    })?;
    let text = |n: &str| col_strs(t, n);
    let (method, selection) = (text("method")?, text("selection")?);
    let (zh, en) = (text("reason_zh")?, text("reason_en")?);
    let selected = crate::rows::bools(t, "selected")?;
    let known = (0..t.height()).filter(|&i| Method::from_id(&method[i]).is_some());
    Ok(known
        .zip(figures)
        .map(|(i, figures)| BacktestRow {
            method: method[i].clone(),
            figures,
            selected: selected[i] == Some(true),
            selection: selection[i].clone(),
            reason_zh: zh[i].clone(),
            reason_en: en[i].clone(),
        })
        .collect())
}
