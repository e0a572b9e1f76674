//! Scoring estimates against a known truth (the sample generator's `truth.csv`).

use polars::prelude::*;

use crate::Result;

/// The campaign-window rows of `uplift` whose cell (region × category) has a truth, with the
/// truth's `true_uplift_pct` beside them: the rows every accuracy figure is computed on.
pub fn scored_cells(uplift: &DataFrame, truth: &DataFrame) -> LazyFrame {
    uplift
        .clone()
        .lazy()
        .filter(col("window_kind").eq(lit("campaign")))
        .join(
            truth.clone().lazy().select([
                col("region_code"),
                col("category"),
                col("true_uplift_pct"),
            ]),
            [col("region_code"), col("category")],
            [col("region_code"), col("category")],
            JoinArgs::new(JoinType::Inner),
        )
}

/// Join `uplift` (region_code, category, method, uplift_pct, lower, upper) with `truth`
/// (region_code, category, true_uplift_pct) and summarise per method: `cells`, `mae_pp` (mean absolute
/// error of uplift %, percentage points), `bias_pp` (mean signed error), `coverage` (share of truths
/// inside [lower, upper]). Only campaign-window rows are scored; national and `all_targeted` rows are
/// left out unless the truth has them. See [`placebo_rate`] for the placebo rows.
///
/// # Errors
/// When a column is missing.
pub fn score(uplift: &DataFrame, truth: &DataFrame) -> Result<DataFrame> {
    let joined = scored_cells(uplift, truth)
        .with_column((col("uplift_pct") - col("true_uplift_pct")).alias("error"));
    Ok(joined
        .group_by([col("method")])
        .agg([
            len().cast(DataType::Int64).alias("cells"),
            when(col("error").lt(lit(0.0)))
                .then(lit(0.0) - col("error"))
                .otherwise(col("error"))
                .mean()
                .alias("mae_pp"),
            col("error").mean().alias("bias_pp"),
            col("true_uplift_pct")
                .gt_eq(col("lower_pct"))
                .and(col("true_uplift_pct").lt_eq(col("upper_pct")))
                .cast(DataType::Float64)
                .mean()
                .alias("coverage"),
        ])
        .sort(["method"], SortMultipleOptions::default())
        .collect()?)
}

/// The placebo rows' false-positive rate per method: the share of region × category placebo windows
/// whose interval excludes zero (`lower_pct > 0` or `upper_pct < 0`), i.e. an effect found where none exists.
/// At a 90% level it should be near 10%.
///
/// # Errors
/// When a column is missing.
pub fn placebo_rate(uplift: &DataFrame) -> Result<DataFrame> {
    Ok(uplift
        .clone()
        .lazy()
        .filter(col("window_kind").eq(lit("placebo")))
        .filter(col("region_code").neq(lit("000000")))
        .filter(col("category").neq(lit("all_targeted")))
        .group_by([col("method")])
        .agg([
            len().cast(DataType::Int64).alias("placebo_cells"),
            col("lower_pct")
                .gt(lit(0.0))
                .or(col("upper_pct").lt(lit(0.0)))
                .cast(DataType::Float64)
                .mean()
                .alias("false_positive_rate"),
        ])
        .sort(["method"], SortMultipleOptions::default())
        .collect()?)
}
