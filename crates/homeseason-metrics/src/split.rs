//! Uplift split by a class column: the machinery [`crate::channel`] (online / offline) and
//! [`crate::urban_rural`] (rural / urban) share.
//!
//! The rows of each of two classes (a column of the lake's rows, e.g. `channel` or `urban_rural`)
//! go through [`crate::daily_series`] and the history methods ([`CLASS_METHODS`], closed-form
//! intervals, [`crate::uplift`]) on their own; the two classes' window figures are joined per
//! region × category × method and prefixed with the class (`online_uplift_pct`, `rural_lower_pct`
//! …), and the first class's share of the two gets its change with an interval
//! ([`share_change`]: the window's share against the share of the two baselines, the two classes'
//! errors correlated as their pre-period daily residuals are). The formulas are in
//! [`crate::channel`]'s docs.

use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::Result;
use crate::series::{NET_FEN, series_from_fen};
use crate::uplift::{Method, UpliftOptions, uplift};

/// The methods run per class (history methods: closed-form intervals; see [`crate::channel`]).
pub const CLASS_METHODS: [Method; 2] = [Method::PriorYear, Method::TwoYear];

/// The per-class figures taken from each class's uplift rows, prefixed with the class.
pub const FIGURES: [&str; 7] = [
    "actual_yuan",
    "baseline_yuan",
    "uplift_pct",
    "lower_pct",
    "upper_pct",
    "p_value",
    "effect_sign",
];

/// The columns that identify a row of a split table.
pub const KEYS: [&str; 7] = [
    "campaign_id",
    "region_code",
    "region_name_zh",
    "category",
    "method",
    "window_start",
    "window_end",
];

/// A split: the class column of the rows and its two classes, the first the one whose share is
/// reported (`online`, `rural`).
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// The column of the rows holding the class.
    pub column: &'a str,
    /// The two classes; the share columns are the first's (`<first>_share_pct` …).
    pub classes: [&'a str; 2],
}

/// Per region (and `000000`) × targeted category (and `all_targeted`) × history method, each
/// class's uplift (columns `<class>_<figure>`, [`FIGURES`]), `level`, and the first class's share
/// with its change (`<first>_share_pct`, `<first>_share_baseline_pct`, `<first>_share_change_pp`
/// and its `_lower_pp` / `_upper_pp`). Rows of other classes are ignored. `opts`' placebo and
/// diagnostics are not used.
///
/// # Errors
/// When `rows` lack a column [`crate::daily_series`] needs, or the class column.
pub fn uplift_by_class(
    rows: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
    split: Split<'_>,
) -> Result<DataFrame> {
    Ok(by_class(&class_cells(rows, split)?, campaign, opts, split, false)?.0)
}

/// The group-by every split shares: `rows` (the lake's rows, with `net_amount_yuan` and the class
/// column) summed in integer fen per region × category × class × date
/// ([`crate::fen_cells`]). Summed over the class, they are exactly the sums of
/// [`crate::daily_series`] of all the rows ([`all_classes`]); filtered to one class, those of its
/// rows. So one group-by serves the headline series and every class's.
///
/// # Errors
/// When `rows` lack a column.
pub fn class_cells(rows: &DataFrame, split: Split<'_>) -> Result<DataFrame> {
    crate::series::fen_cells_of(rows, &["region_code", "category", split.column, "date"])
}

/// `cells` ([`class_cells`]) summed over the class: `region_code, category, date` and
/// [`NET_FEN`], one row per region × category × date, for [`crate::series_from_fen`]
/// (then bit for bit [`crate::daily_series`] of the rows `cells` came from).
pub fn all_classes(cells: &DataFrame) -> LazyFrame {
    let keys = ["region_code", "category", "date"];
    let direct = || -> Result<DataFrame> {
        let fen = cells.column(NET_FEN)?.cast(&DataType::Int64)?;
        crate::series::group_sum_fen(cells, &keys, fen.i64()?)
    };
    match direct() {
        Ok(frame) => frame.lazy(),
        // A missing column: the group-by's own error when the frame is collected.
        Err(_) => cells
            .clone()
            .lazy()
            .group_by(keys.map(col))
            .agg([col(NET_FEN).sum()]),
    }
}

/// [`uplift_by_class`] from the rows' [`class_cells`] (the group-by shared with the headline
/// series).
///
/// # Errors
/// When `cells` lack a column.
pub fn uplift_by_class_of_cells(
    cells: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
    split: Split<'_>,
) -> Result<DataFrame> {
    Ok(by_class(cells, campaign, opts, split, false)?.0)
}

/// [`uplift_by_class_of_cells`], with each class's `baseline_daily` (the uplift's daily actual and
/// baseline per cell and method; `None` for a class with no rows).
pub(crate) fn uplift_by_class_daily(
    cells: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
    split: Split<'_>,
) -> Result<(DataFrame, [Option<DataFrame>; 2])> {
    by_class(cells, campaign, opts, split, true)
}

/// [`uplift_by_class_daily`]; each class's `baseline_daily` is kept only with `keep_daily`
/// (otherwise `None`). Either way a class's `baseline_daily` is reduced to its pre-period
/// residuals as soon as its uplift is estimated: the frame (every cell's days × methods) is not
/// held until the two classes are joined, so two of them are never alive at once (the peak
/// memory of `uplift`'s last stage). `cells` are the rows' [`class_cells`].
fn by_class(
    cells: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
    split: Split<'_>,
    keep_daily: bool,
) -> Result<(DataFrame, [Option<DataFrame>; 2])> {
    let opts = UpliftOptions {
        placebo: None,
        diagnostics: false,
        ..opts.clone()
    };
    let mut per_class: Vec<LazyFrame> = Vec::new();
    let mut residuals: Vec<DataFrame> = Vec::new();
    let mut daily: [Option<DataFrame>; 2] = [None, None];
    for (k, class) in split.classes.into_iter().enumerate() {
        let of_class = cells
            .clone()
            .lazy()
            .filter(col(split.column).eq(lit(class)))
            .select([
                col("region_code"),
                col("category"),
                col("date"),
                col(NET_FEN),
            ]);
        let series = series_from_fen(of_class, campaign)?;
        let frame = if series.height() == 0 {
            None
        } else {
            let result = uplift(&series, campaign, &CLASS_METHODS, &opts)?;
            residuals
                .push(pre_period_residuals(&result.baseline_daily, campaign, class).collect()?);
            if keep_daily {
                daily[k] = Some(result.baseline_daily);
            }
            (result.uplift.height() > 0).then_some(result.uplift)
        };
        let mut select: Vec<Expr> = KEYS.iter().map(|k| col(*k)).collect();
        select.extend(
            FIGURES
                .iter()
                .map(|f| col(*f).alias(format!("{class}_{f}"))),
        );
        per_class.push(match frame {
            Some(f) => f
                .lazy()
                .filter(col("window_kind").eq(lit("campaign")))
                .select(select),
            None => empty_class(class)?.lazy(),
        });
    }
    let keys: Vec<Expr> = KEYS.iter().map(|k| col(*k)).collect();
    let mut it = per_class.into_iter();
    let (first, second) = (
        it.next().expect("two classes"),
        it.next().expect("two classes"),
    );
    let joined = first
        .join(
            second,
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_column(lit(opts.level).alias("level"));
    // The two classes' pre-period residual correlation per cell and method (none: 0).
    let cell = [col("region_code"), col("category"), col("method")];
    let joined = if residuals.len() == 2 {
        let mut r = residuals.into_iter();
        let (a, b) = (r.next().expect("two"), r.next().expect("two"));
        let mut day = cell.to_vec();
        day.push(col("date"));
        let days = a
            .lazy()
            .join(b.lazy(), day.clone(), day, JoinArgs::new(JoinType::Inner))
            .collect()?;
        let corr = correlations(&days, split.classes)?.lazy();
        joined.join(corr, cell.clone(), cell, JoinArgs::new(JoinType::Left))
    } else {
        joined.with_column(lit(NULL).cast(DataType::Float64).alias(RHO))
    };
    let joined = joined
        .sort(
            ["region_code", "category", "method"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok((with_share(joined, opts.level, split.classes)?, daily))
}

/// The helper column of the residual correlation (dropped from the output).
const RHO: &str = "__rho";

/// `actual / baseline` of each day of the pre-period in `baseline_daily` (one class's), named
/// `<class>_e`, with the cell, method and date ([`correlations`] takes its log).
fn pre_period_residuals(baseline_daily: &DataFrame, campaign: &Campaign, class: &str) -> LazyFrame {
    baseline_daily
        .clone()
        .lazy()
        .filter(
            col("date")
                .lt(lit(campaign.window.start))
                .and(col("actual_yuan").gt(lit(0.0)))
                .and(col("baseline_yuan").gt(lit(0.0))),
        )
        .select([
            col("region_code"),
            col("category"),
            col("method"),
            col("date"),
            (col("actual_yuan") / col("baseline_yuan")).alias(format!("{class}_e")),
        ])
}

/// Per region × category × method of `days` (the two classes' pre-period `<class>_e` ratios on
/// their common days), the Pearson correlation of their logs, named [`RHO`] (absent with fewer
/// than 14 days or no variance).
fn correlations(days: &DataFrame, classes: [&str; 2]) -> Result<DataFrame> {
    let text = |c: &str| crate::tracking::opt_strings_of(days, c);
    let num = |c: &str| crate::tracking::opt_floats_of(days, c);
    let (region, category, method) = (text("region_code")?, text("category")?, text("method")?);
    let (first, second) = (
        num(&format!("{}_e", classes[0]))?,
        num(&format!("{}_e", classes[1]))?,
    );
    // n, Σx, Σy, Σx², Σy², Σxy per cell.
    let mut sums: std::collections::BTreeMap<(String, String, String), [f64; 6]> =
        std::collections::BTreeMap::new();
    for i in 0..days.height() {
        let (Some(r), Some(c), Some(m), Some(a), Some(b)) = (
            region[i].clone(),
            category[i].clone(),
            method[i].clone(),
            first[i],
            second[i],
        ) else {
            continue;
        };
        if a <= 0.0 || b <= 0.0 {
            continue;
        }
        let (x, y) = (a.ln(), b.ln());
        let s = sums.entry((r, c, m)).or_insert([0.0; 6]);
        s[0] += 1.0;
        s[1] += x;
        s[2] += y;
        s[3] += x * x;
        s[4] += y * y;
        s[5] += x * y;
    }
    let (mut rr, mut cc, mut mm, mut rho) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((r, c, m), s) in sums {
        let n = s[0];
        let (sxx, syy, sxy) = (
            s[3] - s[1] * s[1] / n,
            s[4] - s[2] * s[2] / n,
            s[5] - s[1] * s[2] / n,
        );
        if n >= 14.0 && sxx > 0.0 && syy > 0.0 {
            rr.push(r);
            cc.push(c);
            mm.push(m);
            rho.push(sxy / (sxx * syy).sqrt());
        }
    }
    Ok(df!(
        "region_code" => rr,
        "category" => cc,
        "method" => mm,
        RHO => rho,
    )?)
}

/// An empty frame with the key columns and one class's figures (a class with no rows).
fn empty_class(class: &str) -> Result<DataFrame> {
    let mut cols: Vec<Column> = KEYS[..5]
        .iter()
        .map(|k| Column::new((*k).into(), Vec::<String>::new()))
        .collect();
    for k in &KEYS[5..] {
        cols.push(Column::new((*k).into(), Vec::<i32>::new()).cast(&DataType::Date)?);
    }
    for f in FIGURES {
        let name = format!("{class}_{f}");
        cols.push(if f == "effect_sign" {
            Column::new(name.into(), Vec::<i64>::new())
        } else {
            Column::new(name.into(), Vec::<f64>::new())
        });
    }
    Ok(DataFrame::new(0, cols)?)
}

/// Add the first class's share columns (module docs) to the joined rows.
fn with_share(frame: DataFrame, level: f64, classes: [&str; 2]) -> Result<DataFrame> {
    let z = homeseason_stats::numeric::normal_quantile(0.5 + level / 2.0);
    let get = |c: &str| crate::tracking::opt_floats_of(&frame, c);
    let figures = |class: &str| -> Result<[Vec<Option<f64>>; 4]> {
        Ok([
            get(&format!("{class}_actual_yuan"))?,
            get(&format!("{class}_baseline_yuan"))?,
            get(&format!("{class}_lower_pct"))?,
            get(&format!("{class}_upper_pct"))?,
        ])
    };
    let (a, b) = (figures(classes[0])?, figures(classes[1])?);
    let rho = get(RHO)?;
    let n = frame.height();
    let mut columns: [Vec<Option<f64>>; 5] = Default::default();
    for i in 0..n {
        let s = share_change(
            (a[0][i], a[1][i], a[2][i], a[3][i]),
            (b[0][i], b[1][i], b[2][i], b[3][i]),
            z,
            rho[i].unwrap_or(0.0),
        );
        columns[0].push(s.map(|s| s.0));
        columns[1].push(s.map(|s| s.1));
        columns[2].push(s.map(|s| s.2));
        columns[3].push(s.map(|s| s.3));
        columns[4].push(s.map(|s| s.4));
    }
    let mut out = frame.drop(RHO)?;
    let share = classes[0];
    for (suffix, values) in [
        "share_pct",
        "share_baseline_pct",
        "share_change_pp",
        "share_change_lower_pp",
        "share_change_upper_pp",
    ]
    .into_iter()
    .zip(columns)
    {
        out.with_column(Column::new(format!("{share}_{suffix}").into(), values))?;
    }
    Ok(out)
}

/// One class's window figures: actual, baseline, lower and upper bound of its uplift (%).
pub(crate) type ClassFigures = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);

/// The window's share of the first class (%), the counterfactual share (%), their difference
/// (points) and the difference's bounds (points), from the two classes' figures; `None` when either
/// class lacks a figure or a total is not positive (formulas: [`crate::channel`]'s docs).
pub(crate) fn share_change(
    first: ClassFigures,
    second: ClassFigures,
    z: f64,
    rho: f64,
) -> Option<(f64, f64, f64, f64, f64)> {
    let (Some(a_1), Some(b_1), Some(lo_1), Some(hi_1)) = first else {
        return None;
    };
    let (Some(a_2), Some(b_2), Some(lo_2), Some(hi_2)) = second else {
        return None;
    };
    if a_1 + a_2 <= 0.0 || b_1 <= 0.0 || b_2 <= 0.0 || z <= 0.0 {
        return None;
    }
    let log_se = |lo: f64, hi: f64| {
        let (l, h) = (1.0 + lo / 100.0, 1.0 + hi / 100.0);
        if l > 0.0 && h > 0.0 {
            Some((h.ln() - l.ln()).abs() / (2.0 * z))
        } else {
            None
        }
    };
    let (se_1, se_2) = (log_se(lo_1, hi_1)?, log_se(lo_2, hi_2)?);
    let rho = if rho.is_finite() {
        rho.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let sd = (se_1 * se_1 + se_2 * se_2 - 2.0 * rho * se_1 * se_2)
        .max(0.0)
        .sqrt();
    let s = a_1 / (a_1 + a_2);
    let logit0 = b_1.ln() - b_2.ln();
    let logistic = |x: f64| 1.0 / (1.0 + (-x).exp());
    let s0 = logistic(logit0);
    // A higher counterfactual share gives a lower change: the bounds swap.
    let (s0_lo, s0_hi) = (logistic(logit0 - z * sd), logistic(logit0 + z * sd));
    Some((
        100.0 * s,
        100.0 * s0,
        100.0 * (s - s0),
        100.0 * (s - s0_hi),
        100.0 * (s - s0_lo),
    ))
}

/// A split table as one row per region × category × method × class with the `uplift` table's
/// column names (`uplift_pct`, `lower_pct`, `upper_pct`, `window_kind = campaign`) and the category
/// written `category/class`, so [`crate::score::score`] scores each class's cells against a truth
/// keyed the same way.
///
/// # Errors
/// When a column is missing.
pub fn class_rows_for_scoring(table: &DataFrame, classes: [&str; 2]) -> Result<DataFrame> {
    let one = |class: &str| {
        table
            .clone()
            .lazy()
            .filter(col(format!("{class}_uplift_pct")).is_not_null())
            .select([
                col("region_code"),
                concat_str([col("category"), lit(class)], "/", false).alias("category"),
                col("method"),
                lit("campaign").alias("window_kind"),
                col(format!("{class}_uplift_pct")).alias("uplift_pct"),
                col(format!("{class}_lower_pct")).alias("lower_pct"),
                col(format!("{class}_upper_pct")).alias("upper_pct"),
            ])
    };
    Ok(concat([one(classes[0]), one(classes[1])], UnionArgs::default())?.collect()?)
}

/// Score a split table against a truth (`region_code, category, <split.column>,
/// true_uplift_pct`): per class and method, the [`crate::score::score`] columns (`cells`, `mae_pp`,
/// `bias_pp`, `coverage`) and the class in a column named `split.column`, national rows included
/// where the truth has them.
///
/// # Errors
/// When a column is missing.
pub fn score_by_class(table: &DataFrame, truth: &DataFrame, split: Split<'_>) -> Result<DataFrame> {
    let rows = class_rows_for_scoring(table, split.classes)?;
    let mut out = Vec::new();
    for class in split.classes {
        let truth = truth
            .clone()
            .lazy()
            .filter(col(split.column).eq(lit(class)))
            .select([
                col("region_code"),
                concat_str([col("category"), col(split.column)], "/", false).alias("category"),
                col("true_uplift_pct"),
            ])
            .collect()?;
        out.push(
            crate::score::score(&rows, &truth)?
                .lazy()
                .with_column(lit(class).alias(split.column)),
        );
    }
    Ok(concat(out, UnionArgs::default())?.collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_interval_follows_the_formula() {
        // Equal baselines and ±10 % intervals on both classes at the 90 % level.
        let z = homeseason_stats::numeric::normal_quantile(0.95);
        let s = share_change(
            (Some(60.0), Some(50.0), Some(-10.0), Some(10.0)),
            (Some(40.0), Some(50.0), Some(-10.0), Some(10.0)),
            z,
            0.0,
        )
        .unwrap();
        assert!((s.0 - 60.0).abs() < 1e-9 && (s.1 - 50.0).abs() < 1e-9);
        assert!((s.2 - 10.0).abs() < 1e-9);
        // Correlated class errors cancel in the share: a narrower interval.
        let c = share_change(
            (Some(60.0), Some(50.0), Some(-10.0), Some(10.0)),
            (Some(40.0), Some(50.0), Some(-10.0), Some(10.0)),
            z,
            0.9,
        )
        .unwrap();
        assert!(c.4 - c.3 < 0.5 * (s.4 - s.3), "{c:?} vs {s:?}");
        let sd = ((1.1f64.ln() - 0.9f64.ln()) / (2.0 * z)) * 2f64.sqrt();
        let hi = 1.0 / (1.0 + (-z * sd).exp());
        assert!((s.3 - 100.0 * (0.6 - hi)).abs() < 1e-9);
        assert!((s.4 - 100.0 * (0.6 - (1.0 - hi))).abs() < 1e-9);
        assert!(
            share_change(
                (None, Some(1.0), Some(0.0), Some(1.0)),
                (Some(1.0), Some(1.0), Some(0.0), Some(1.0)),
                z,
                0.0
            )
            .is_none()
        );
    }
}
