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

/// `rows` (the `cell` columns, `date`, `net_amount_yuan`) summed per cell × date, with a zero for
/// each day of `days` (columns `group`, `date`) of the cell's `group` on which the cell has no row.
///
/// For series cut finer than the reporting region — a class of areas (urban/rural), a city — whose
/// sales are sparse (a county's few merchants of one category): a day the region reported on but
/// the cell sold nothing is a zero, not a missing day. Left out, it would leave the day out of the
/// baseline too and pull the uplift towards zero. A day the group has no row at all stays missing.
/// `group` must be one of `cell`.
///
/// # Errors
/// When a needed column is missing.
pub fn with_zero_days(
    rows: LazyFrame,
    days: LazyFrame,
    group: &str,
    cell: &[&str],
) -> Result<DataFrame> {
    let cell_cols: Vec<Expr> = cell.iter().map(|c| col(*c)).collect();
    let mut key = cell_cols.clone();
    key.push(col("date"));
    // Summed in integer fen, as in [`daily_series`]: the same bits whatever order the rows come in.
    let sums = rows
        .with_column(
            (col("net_amount_yuan").cast(DataType::Float64) * lit(100.0))
                .round(0, RoundMode::HalfAwayFromZero)
                .cast(DataType::Int64)
                .alias("net_amount_yuan"),
        )
        .group_by(key.clone())
        .agg([col("net_amount_yuan").sum()])
        .with_column(
            (col("net_amount_yuan").cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"),
        );
    let days = days
        .select([col(group), col("date")])
        .unique_stable(None, UniqueKeepStrategy::First);
    let cells = sums
        .clone()
        .select(cell_cols)
        .unique_stable(None, UniqueKeepStrategy::First);
    Ok(cells
        .join(
            days,
            [col(group)],
            [col(group)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(sums, key.clone(), key, JoinArgs::new(JoinType::Left))
        .with_column(col("net_amount_yuan").fill_null(lit(0.0)))
        .collect()?)
}
