//! Scoring estimates against a known truth (the sample generator's `truth.csv`).

use polars::prelude::*;

use crate::Result;

/// Join `uplift` (region_code, category, method, uplift_pct, lower, upper) with `truth`
/// (region_code, category, true_uplift_pct) and summarise per method: `cells`, `mae_pp` (mean absolute
/// error of uplift %, percentage points), `bias_pp` (mean signed error), `coverage` (share of truths
/// inside [lower, upper]). National and `all_targeted` rows are left out unless the truth has them.
///
/// # Errors
/// When a column is missing.
pub fn score(uplift: &DataFrame, truth: &DataFrame) -> Result<DataFrame> {
    let joined = uplift
        .clone()
        .lazy()
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
                .gt_eq(col("lower"))
                .and(col("true_uplift_pct").lt_eq(col("upper")))
                .cast(DataType::Float64)
                .mean()
                .alias("coverage"),
        ])
        .sort(["method"], SortMultipleOptions::default())
        .collect()?)
}
