//! Typed rows read from the output frames.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::Result;

/// One row of the `uplift` table.
#[derive(Debug, Clone, PartialEq)]
pub struct UpliftRow {
    /// Region key.
    pub region_code: String,
    /// Region name.
    pub region_name_zh: String,
    /// Category id (or `all_targeted`).
    pub category: String,
    /// Method id.
    pub method: String,
    /// Actual sales, yuan.
    pub actual: f64,
    /// Baseline, yuan.
    pub baseline: f64,
    /// Uplift, yuan.
    pub uplift_abs: f64,
    /// Uplift, %.
    pub uplift_pct: f64,
    /// Lower bound, %.
    pub lower: f64,
    /// Upper bound, %.
    pub upper: f64,
    /// Lower bound, yuan.
    pub uplift_abs_lower: f64,
    /// Upper bound, yuan.
    pub uplift_abs_upper: f64,
    /// p-value.
    pub p_value: Option<f64>,
    /// Window days used.
    pub days_used: i64,
    /// Pre-period growth factor.
    pub growth_factor: Option<f64>,
    /// `false` when |uplift| is below the method's backtest error band (not distinguishable from no
    /// effect); `None` without a backtest.
    pub distinguishable: Option<bool>,
    /// Lower bound of the backtest-calibrated interval, % (`calibrated_lower_pct`; `None` without a
    /// backtest).
    pub calibrated_lower: Option<f64>,
    /// Upper bound of the backtest-calibrated interval, %.
    pub calibrated_upper: Option<f64>,
    /// Lower bound of the backtest-calibrated interval, yuan (`calibrated_abs_lower_yuan`).
    pub calibrated_abs_lower: Option<f64>,
    /// Upper bound of the backtest-calibrated interval, yuan.
    pub calibrated_abs_upper: Option<f64>,
    /// Per-cell diagnostics of the methods that use controls (`None` elsewhere).
    pub diagnostics: Option<Diagnostics>,
}

/// The diagnostics columns of an `uplift` row (see `homeseason_metrics::diagnostics`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// Pre-period R² (log scale).
    pub pre_fit_r2: Option<f64>,
    /// Pre-period MAPE, %.
    pub pre_fit_mape_pct: Option<f64>,
    /// Leave-one-control-out range of the uplift, %.
    pub loo: Option<(f64, f64)>,
    /// Largest control break shift, %, and the smallest break p-value.
    pub break_shift_pct: Option<f64>,
    /// Smallest break-test p-value over the controls.
    pub break_p: Option<f64>,
    /// Whether the cell is flagged.
    pub flag: bool,
    /// Why (Chinese · English).
    pub reason: String,
}

impl UpliftRow {
    /// The backtest-calibrated interval in percent, when the row has both bounds.
    #[must_use]
    pub fn calibrated_pct(&self) -> Option<(f64, f64)> {
        self.calibrated_lower
            .zip(self.calibrated_upper)
            .filter(|(l, u)| l.is_finite() && u.is_finite())
    }
    /// The backtest-calibrated interval in yuan, when the row has both bounds.
    #[must_use]
    pub fn calibrated_yuan(&self) -> Option<(f64, f64)> {
        self.calibrated_abs_lower
            .zip(self.calibrated_abs_upper)
            .filter(|(l, u)| l.is_finite() && u.is_finite())
    }
}

/// One row of the daily baseline detail.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyRow {
    /// Region key.
    pub region_code: String,
    /// Category id.
    pub category: String,
    /// Method id.
    pub method: String,
    /// Day.
    pub date: NaiveDate,
    /// Actual, yuan.
    pub actual: f64,
    /// Baseline, yuan.
    pub baseline: f64,
    /// Band low, yuan.
    pub lower: f64,
    /// Band high, yuan.
    pub upper: f64,
    /// The actual is not published: its margin is one suppressed small cell (`suppressed` of
    /// `dashboard_baseline_daily`); `actual` is NaN.
    pub suppressed: bool,
}

/// What was ingested, for the data section.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestTotals {
    /// Files per feed: (feed, files, read, accepted, rejected, duplicates).
    pub by_feed: Vec<(String, usize, usize, usize, usize, usize)>,
    /// Files refused whole, with the reason.
    pub refused: Vec<(String, String)>,
}

pub(crate) fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(homeseason_metrics::tracking::strings_of(df, name)?)
}

/// The text column `c` of `frame`; `None` in every row when it is absent or not text.
pub(crate) fn opt_texts(frame: &DataFrame, c: &str) -> Vec<Option<String>> {
    frame
        .column(c)
        .ok()
        .and_then(|c| c.str().ok().cloned())
        .map_or_else(
            || vec![None; frame.height()],
            |s| s.iter().map(|v| v.map(str::to_owned)).collect(),
        )
}

pub(crate) fn f64s(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    Ok(homeseason_metrics::tracking::opt_floats_of(df, name)?)
}

pub(crate) fn i64s(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect())
}

pub(crate) fn bools(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Boolean)?
        .bool()?
        .iter()
        .collect())
}

/// `read` of the column `name`, or `absent` in every row when the table lacks the column (a
/// table written before the column existed).
fn or_absent<T: Clone>(
    df: &DataFrame,
    name: &str,
    read: impl Fn(&DataFrame, &str) -> Result<Vec<T>>,
    absent: T,
) -> Result<Vec<T>> {
    if df.column(name).is_ok() {
        read(df, name)
    } else {
        Ok(vec![absent; df.height()])
    }
}

fn dates(df: &DataFrame, name: &str) -> Result<Vec<NaiveDate>> {
    let days = df.column(name)?.cast(&DataType::Int32)?;
    Ok(days
        .i32()?
        .iter()
        .map(|d| {
            homeseason_schema::calendar::from_epoch_days(d.unwrap_or_default()).unwrap_or_default()
        })
        .collect())
}

/// Campaign-window rows only (placebo rows are read with [`placebo_rows`]).
pub(crate) fn uplift_rows(df: &DataFrame) -> Result<Vec<UpliftRow>> {
    rows_of_kind(df, "campaign")
}

pub(crate) fn placebo_rows(df: &DataFrame) -> Result<Vec<UpliftRow>> {
    rows_of_kind(df, "placebo")
}

fn rows_of_kind(df: &DataFrame, kind: &str) -> Result<Vec<UpliftRow>> {
    let df = &df
        .clone()
        .lazy()
        .filter(col("window_kind").eq(lit(kind)))
        .collect()?;
    let (region, name, cat, method) = (
        strs(df, "region_code")?,
        strs(df, "region_name_zh")?,
        strs(df, "category")?,
        strs(df, "method")?,
    );
    let g = |n: &str| f64s(df, n);
    let (actual, baseline, abs, pct, lo, hi, alo, ahi, p, growth) = (
        g("actual_yuan")?,
        g("baseline_yuan")?,
        g("uplift_abs_yuan")?,
        g("uplift_pct")?,
        g("lower_pct")?,
        g("upper_pct")?,
        g("uplift_abs_lower_yuan")?,
        g("uplift_abs_upper_yuan")?,
        g("p_value")?,
        g("growth_factor")?,
    );
    let days: Vec<i64> = i64s(df, "days_used")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let distinguishable = or_absent(df, "distinguishable", bools, None)?;
    let optional = |name: &str| or_absent(df, name, f64s, None);
    let flags = or_absent(df, "diagnostic_flag", bools, None)?;
    let reasons = or_absent(df, "diagnostic_reason", strs, String::new())?;
    let (r2, mape, loo_lo, loo_hi, shift, bp) = (
        optional("pre_fit_r2")?,
        optional("pre_fit_mape_pct")?,
        optional("loo_min_pct")?,
        optional("loo_max_pct")?,
        optional("break_shift_max_pct")?,
        optional("break_p_min")?,
    );
    let (clo, chi, calo, cahi) = (
        optional("calibrated_lower_pct")?,
        optional("calibrated_upper_pct")?,
        optional("calibrated_abs_lower_yuan")?,
        optional("calibrated_abs_upper_yuan")?,
    );
    Ok((0..df.height())
        .map(|i| UpliftRow {
            region_code: region[i].clone(),
            region_name_zh: name[i].clone(),
            category: cat[i].clone(),
            method: method[i].clone(),
            actual: actual[i].unwrap_or(f64::NAN),
            baseline: baseline[i].unwrap_or(f64::NAN),
            uplift_abs: abs[i].unwrap_or(f64::NAN),
            uplift_pct: pct[i].unwrap_or(f64::NAN),
            lower: lo[i].unwrap_or(f64::NAN),
            upper: hi[i].unwrap_or(f64::NAN),
            uplift_abs_lower: alo[i].unwrap_or(f64::NAN),
            uplift_abs_upper: ahi[i].unwrap_or(f64::NAN),
            p_value: p[i],
            days_used: days[i],
            growth_factor: growth[i],
            distinguishable: distinguishable[i],
            calibrated_lower: clo[i],
            calibrated_upper: chi[i],
            calibrated_abs_lower: calo[i],
            calibrated_abs_upper: cahi[i],
            diagnostics: flags[i].map(|flag| Diagnostics {
                pre_fit_r2: r2[i],
                pre_fit_mape_pct: mape[i],
                loo: loo_lo[i].zip(loo_hi[i]),
                break_shift_pct: shift[i],
                break_p: bp[i],
                flag,
                reason: reasons[i].clone(),
            }),
        })
        .collect())
}

pub(crate) fn daily_rows(df: &DataFrame) -> Result<Vec<DailyRow>> {
    let (region, cat, method, date) = (
        strs(df, "region_code")?,
        strs(df, "category")?,
        strs(df, "method")?,
        dates(df, "date")?,
    );
    let (a, b, lo, hi) = (
        f64s(df, "actual_yuan")?,
        f64s(df, "baseline_yuan")?,
        f64s(df, "lower_yuan")?,
        f64s(df, "upper_yuan")?,
    );
    let suppressed: Vec<bool> = match df.column("suppressed") {
        Ok(c) => c
            .cast(&DataType::Boolean)?
            .bool()?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect(),
        Err(_) => vec![false; df.height()],
    };
    Ok((0..df.height())
        .map(|i| DailyRow {
            region_code: region[i].clone(),
            category: cat[i].clone(),
            method: method[i].clone(),
            date: date[i],
            actual: a[i].unwrap_or(f64::NAN),
            baseline: b[i].unwrap_or(f64::NAN),
            lower: lo[i].unwrap_or(f64::NAN),
            upper: hi[i].unwrap_or(f64::NAN),
            suppressed: suppressed[i],
        })
        .collect())
}

/// One feed's completeness: (feed, region-weeks present, revised, missing, regions with any missing
/// week).
pub(crate) type FeedCompleteness = (String, usize, usize, usize, Vec<String>);

/// Per feed: (feed, region-weeks present, revised, missing, regions with any missing week), over the
/// regions of the report's area.
pub(crate) fn completeness_summary(
    df: &DataFrame,
    focus: &crate::Focus,
) -> Result<Vec<FeedCompleteness>> {
    let (feed, status, region) = (
        strs(df, "feed")?,
        strs(df, "status")?,
        strs(df, "region_code")?,
    );
    let mut out: Vec<FeedCompleteness> = Vec::new();
    for i in 0..df.height() {
        if !focus.holds(&region[i]) {
            continue;
        }
        let pos = if let Some(p) = out.iter().position(|r| r.0 == feed[i]) {
            p
        } else {
            out.push((feed[i].clone(), 0, 0, 0, Vec::new()));
            out.len() - 1
        };
        let row = &mut out[pos];
        match status[i].as_str() {
            "present" => row.1 += 1,
            "revised" => row.2 += 1,
            _ => {
                row.3 += 1;
                if !row.4.contains(&region[i]) {
                    row.4.push(region[i].clone());
                }
            }
        }
    }
    Ok(out)
}
