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
    let mut aggregations = error_summary().to_vec();
    aggregations
        .push(interval_coverage("true_uplift_pct", "lower_pct", "upper_pct").alias("coverage"));
    Ok(joined
        .group_by([col("method")])
        .agg(aggregations)
        .sort(["method"], SortMultipleOptions::default())
        .collect()?)
}

/// The aggregations of an `error` column (estimate − truth, percentage points) that [`score`] and
/// [`oracle_score`] share: `cells` (rows), `mae_pp` (mean absolute error) and `bias_pp` (mean
/// signed error).
fn error_summary() -> [Expr; 3] {
    [
        len().cast(DataType::Int64).alias("cells"),
        when(col("error").lt(lit(0.0)))
            .then(lit(0.0) - col("error"))
            .otherwise(col("error"))
            .mean()
            .alias("mae_pp"),
        col("error").mean().alias("bias_pp"),
    ]
}

/// Coverage as an aggregation: the share of rows whose `truth` lies in `[lower, upper]` (both
/// bounds included), a `Float64` in 0 … 1; the caller names it with `.alias`.
pub fn interval_coverage(truth: &str, lower: &str, upper: &str) -> Expr {
    col(truth)
        .gt_eq(col(lower))
        .and(col(truth).lt_eq(col(upper)))
        .cast(DataType::Float64)
        .mean()
}

/// The method name of the row of the oracle that knows the generator's fixed parts (truth.csv's
/// `oracle_uplift_pct`).
pub const ORACLE: &str = "oracle";
/// The method name of the row of the oracle that also knows the region's economy path (truth.csv's
/// `oracle_economy_uplift_pct`).
pub const ORACLE_ECONOMY: &str = "oracle_economy";

/// The oracles' rows, shaped as [`score`]'s (`method`, `cells`, `mae_pp`, `bias_pp`; no interval,
/// so no coverage): the error of each oracle column of the truth against `true_uplift_pct`, over
/// every cell of the truth — [`ORACLE`] from `oracle_uplift_pct` (an estimator that knew the
/// expectation of the counterfactual over the economy and the cell's noise) and [`ORACLE_ECONOMY`]
/// from `oracle_economy_uplift_pct` (one that also knew the economy's path: only the window's own
/// noise is left, which no estimator can remove). A column the truth lacks (an older truth file)
/// gives no row.
///
/// # Errors
/// When a column is missing.
pub fn oracle_score(truth: &DataFrame) -> Result<DataFrame> {
    let mut rows = Vec::new();
    for (method, column) in [
        (ORACLE, "oracle_uplift_pct"),
        (ORACLE_ECONOMY, "oracle_economy_uplift_pct"),
    ] {
        if truth.column(column).is_err() {
            continue;
        }
        rows.push(
            truth
                .clone()
                .lazy()
                .filter(col(column).is_not_null())
                .with_column(
                    (col(column).cast(DataType::Float64)
                        - col("true_uplift_pct").cast(DataType::Float64))
                    .alias("error"),
                )
                .select([&[lit(method).alias("method")][..], &error_summary()[..]].concat()),
        );
    }
    if rows.is_empty() {
        return Ok(DataFrame::empty());
    }
    Ok(concat(rows, UnionArgs::default())?.collect()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracles_are_scored_against_the_truth_and_an_old_truth_has_none() {
        let truth = df!(
            "region_code" => ["330000", "320000"],
            "category" => ["furniture", "furniture"],
            "true_uplift_pct" => [5.0, 8.0],
            "oracle_uplift_pct" => [6.5, 7.5],
            "oracle_economy_uplift_pct" => [5.2, 7.6],
        )
        .unwrap();
        let s = oracle_score(&truth).unwrap();
        assert_eq!(s.height(), 2);
        let m: Vec<&str> = s
            .column("method")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(m, [ORACLE, ORACLE_ECONOMY]);
        let mae = s.column("mae_pp").unwrap().f64().unwrap().clone();
        let bias = s.column("bias_pp").unwrap().f64().unwrap().clone();
        assert!((mae.get(0).unwrap() - 1.0).abs() < 1e-12, "(1.5 + 0.5) / 2");
        assert!(
            (bias.get(0).unwrap() - 0.5).abs() < 1e-12,
            "(1.5 − 0.5) / 2"
        );
        assert!((mae.get(1).unwrap() - 0.3).abs() < 1e-12, "(0.2 + 0.4) / 2");
        let old = truth.drop_many(["oracle_uplift_pct", "oracle_economy_uplift_pct"]);
        assert_eq!(oracle_score(&old).unwrap().height(), 0);
    }
}
