//! Payment-institution feeds: transaction-level and pre-aggregated daily files → `payment_daily`.
//!
//! Transactions: region codes (county, prefecture or province, or a plan city's districts) roll up to
//! the 37 reporting regions; MCCs map to categories through the campaign (unmapped → `other`, kept);
//! duplicate `txn_id`s are dropped and counted; sales, refunds and reversals are netted per day:
//! `amount` is gross sales, `refund_amount` refunds plus reversals, `net_amount` the difference. The
//! calendar date is the Beijing date of `txn_time`.

use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::frame_util::{map_categories, perr, roll_up_regions};
use crate::reject::RejectSink;
use crate::table::{LINE, MappedTable};
use crate::validate::validate;
use crate::{Feed, Result};

/// Columns of the `payment_daily` lake table, in order.
pub const DAILY_COLUMNS: [&str; 11] = [
    "date",
    "institution",
    "region_code",
    "mcc",
    "category",
    "channel",
    "txn_count",
    "amount",
    "refund_amount",
    "net_amount",
    "merchant_count",
];

fn daily_select() -> Vec<Expr> {
    DAILY_COLUMNS.iter().map(|c| col(*c)).collect()
}

/// Transaction rows → daily rows. Returns (daily frame, accepted input rows, duplicates).
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub fn transactions(
    table: &MappedTable,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let valid = validate(table, Feed::PaymentTransactions.contract(), sink)?;
    let rows = roll_up_regions(
        valid.accepted,
        "region_code",
        table.header_of("region_code"),
        sink,
    )?;
    let before = rows.height();
    let rows = rows
        .lazy()
        .sort([LINE], SortMultipleOptions::default())
        .unique_stable(
            Some(cols(["institution", "txn_id"])),
            UniqueKeepStrategy::First,
        )
        .collect()
        .map_err(&err)?;
    let duplicates = before - rows.height();
    let accepted = rows.height();
    let rows = map_categories(rows, campaign, &file)?;
    let sale = col("txn_type").eq(lit("sale"));
    let daily = rows
        .lazy()
        .with_column(col("txn_time").dt().date().alias("date"))
        .group_by([
            col("date"),
            col("institution"),
            col("region_code"),
            col("mcc"),
            col("category"),
            col("channel"),
        ])
        .agg([
            sale.clone().cast(DataType::Int64).sum().alias("txn_count"),
            col("amount").filter(sale.clone()).sum().alias("amount"),
            col("amount")
                .filter(sale.clone().not())
                .sum()
                .alias("refund_amount"),
            col("merchant_id")
                .filter(sale)
                .n_unique()
                .cast(DataType::Int64)
                .alias("merchant_count"),
        ])
        .with_column((col("amount") - col("refund_amount")).alias("net_amount"))
        .select(daily_select())
        .sort(
            ["date", "region_code", "mcc", "channel"],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(&err)?;
    Ok((daily, accepted, duplicates))
}

/// Pre-aggregated daily rows → `payment_daily`. Returns (frame, accepted rows, duplicates).
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub fn daily(
    table: &MappedTable,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let valid = validate(table, Feed::PaymentDaily.contract(), sink)?;
    let rows = roll_up_regions(
        valid.accepted,
        "region_code",
        table.header_of("region_code"),
        sink,
    )?;
    let before = rows.height();
    let key = cols(["date", "institution", "region_code", "mcc", "channel"]);
    let rows = rows
        .lazy()
        .sort([LINE], SortMultipleOptions::default())
        .unique_stable(Some(key), UniqueKeepStrategy::First)
        .collect()
        .map_err(&err)?;
    let duplicates = before - rows.height();
    let accepted = rows.height();
    let rows = map_categories(rows, campaign, &file)?
        .lazy()
        .with_column((col("amount") - col("refund_amount")).alias("net_amount"))
        .select(daily_select())
        .sort(
            ["date", "region_code", "mcc", "channel"],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(&err)?;
    Ok((rows, accepted, duplicates))
}
