//! Daily net-sales series per region × category.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;

use crate::Result;

/// Category id of the sum of the campaign's targeted categories.
pub const ALL_TARGETED: &str = "all_targeted";

/// `payment_daily` rows → `region_code, category, date, net_amount_yuan` with national (`000000`) and
/// `all_targeted` totals added, sorted.
///
/// Sums are taken in integer fen (分), so they do not depend on the order in which polars' parallel
/// group-by adds the rows: the same lake gives the same bits every run.
///
/// # Errors
/// When a needed column is missing.
pub fn daily_series(payment_daily: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    let by_cell = payment_daily
        .with_column(
            (col("net_amount_yuan").cast(DataType::Float64) * lit(100.0))
                .round(0, RoundMode::HalfAwayFromZero)
                .cast(DataType::Int64)
                .alias("net_amount_yuan"),
        )
        .group_by([col("region_code"), col("category"), col("date")])
        .agg([col("net_amount_yuan").sum()]);
    // The series' columns, in order.
    let columns = || {
        [
            col("region_code"),
            col("category"),
            col("date"),
            col("net_amount_yuan"),
        ]
    };
    // Totals over `lf`'s rows by `by` and date, the other key set to `value`.
    let totals = |lf: LazyFrame, by: &str, key: &str, value: &str| {
        lf.group_by([col(by), col("date")])
            .agg([col("net_amount_yuan").sum()])
            .with_column(lit(value).alias(key))
            .select(columns())
    };
    let national = totals(by_cell.clone(), "category", "region_code", NATIONAL);
    let cells =
        concat([by_cell.select(columns()), national], UnionArgs::default())?.select(columns());
    let targeted: Vec<Expr> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| col("category").eq(lit(c.id())))
        .collect();
    let targeted = targeted
        .into_iter()
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let all = totals(
        cells.clone().filter(targeted),
        "region_code",
        "category",
        ALL_TARGETED,
    );
    Ok(concat([cells, all], UnionArgs::default())?
        .with_column(
            (col("net_amount_yuan").cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"),
        )
        .sort(
            ["region_code", "category", "date"],
            SortMultipleOptions::default(),
        )
        .collect()?)
}
