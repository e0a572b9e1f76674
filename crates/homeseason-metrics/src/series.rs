//! Daily net-sales series per region × category.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;

use crate::Result;

/// Category id of the sum of the campaign's targeted categories.
pub const ALL_TARGETED: &str = "all_targeted";

/// The column of [`fen_cells`]' sums: the net amount in integer fen (分).
pub const NET_FEN: &str = "net_fen";

/// `net_amount_yuan` in integer fen, rounded half away from zero.
fn fen() -> Expr {
    (col("net_amount_yuan").cast(DataType::Float64) * lit(100.0))
        .round(0, RoundMode::HalfAwayFromZero)
        .cast(DataType::Int64)
}

/// `rows` (with `net_amount_yuan`) summed in integer fen per `keys` (e.g. `region_code, category,
/// channel, date`): one row per key with the sum in [`NET_FEN`].
///
/// Integer sums do not depend on the order in which polars' parallel group-by adds the rows, and
/// summing these sums over one of the keys gives exactly the sums of a group-by without it: one
/// group-by keyed by a class column (channel, town/country) serves the series of every class and
/// of all classes together ([`series_from_fen`]).
pub fn fen_cells(rows: LazyFrame, keys: &[&str]) -> LazyFrame {
    let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    rows.group_by(by).agg([fen().sum().alias(NET_FEN)])
}

/// `payment_daily` rows → `region_code, category, date, net_amount_yuan` with national (`000000`) and
/// `all_targeted` totals added, sorted.
///
/// Sums are taken in integer fen (分), so they do not depend on the order in which polars' parallel
/// group-by adds the rows: the same lake gives the same bits every run.
///
/// # Errors
/// When a needed column is missing.
pub fn daily_series(payment_daily: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    series_from_fen(
        fen_cells(payment_daily, &["region_code", "category", "date"]),
        campaign,
    )
}

/// [`daily_series`] from sums already taken in fen: `by_cell` holds `region_code, category, date`
/// and [`NET_FEN`], one row per region × category × date (a [`fen_cells`] frame, or one summed
/// over a class key, or filtered to one class). The national and `all_targeted` totals are added
/// in fen and the amounts turned into yuan once, so the result is bit for bit [`daily_series`] of
/// the rows the sums came from.
///
/// # Errors
/// When a needed column is missing.
pub fn series_from_fen(by_cell: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    // The series' columns, in order.
    let columns = || {
        [
            col("region_code"),
            col("category"),
            col("date"),
            col(NET_FEN),
        ]
    };
    // Totals over `lf`'s rows by `by` and date, the other key set to `value`.
    let totals = |lf: LazyFrame, by: &str, key: &str, value: &str| {
        lf.group_by([col(by), col("date")])
            .agg([col(NET_FEN).sum()])
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
        .select([
            col("region_code"),
            col("category"),
            col("date"),
            (col(NET_FEN).cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"),
        ])
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
    let mut key: Vec<&str> = cell.to_vec();
    key.push("date");
    // Summed in integer fen, as in [`daily_series`]: the same bits whatever order the rows come in.
    let mut out: Vec<Expr> = key.iter().map(|c| col(*c)).collect();
    out.push((col(NET_FEN).cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"));
    Ok(with_zero_days_fen(fen_cells(rows, &key), days, group, cell)
        .select(out)
        .collect()?)
}

/// [`with_zero_days`] on sums already taken in fen: `sums` holds the `cell` columns, `date` and
/// [`NET_FEN`], one row per cell × date (a [`fen_cells`] frame); the result has the same columns
/// with a zero ([`NET_FEN`] `0`) for each day of the cell's `group` in `days` without a row.
pub fn with_zero_days_fen(
    sums: LazyFrame,
    days: LazyFrame,
    group: &str,
    cell: &[&str],
) -> LazyFrame {
    let cell_cols: Vec<Expr> = cell.iter().map(|c| col(*c)).collect();
    let mut key = cell_cols.clone();
    key.push(col("date"));
    let days = days
        .select([col(group), col("date")])
        .unique_stable(None, UniqueKeepStrategy::First);
    let cells = sums
        .clone()
        .select(cell_cols)
        .unique_stable(None, UniqueKeepStrategy::First);
    cells
        .join(
            days,
            [col(group)],
            [col(group)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(sums, key.clone(), key, JoinArgs::new(JoinType::Left))
        .with_column(col(NET_FEN).fill_null(lit(0i64)))
}
