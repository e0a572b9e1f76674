//! Payment-institution feeds: transaction-level and pre-aggregated daily files → `payment_daily`.
//!
//! Transactions: region codes (county, prefecture or province, or a plan city's districts) roll up to
//! the 37 reporting regions; MCCs map to categories through the campaign (unmapped → `other`, kept);
//! duplicate `txn_id`s are dropped and counted; sales, refunds and reversals are netted per day:
//! `amount` is gross sales, `refund_amount` refunds plus reversals, `net_amount` the difference. The
//! calendar date is the Beijing date of `txn_time`.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::TableContract;
use polars::prelude::*;

use crate::profile::{AmountUnit, Format, Profile, RefundSign};
use crate::source::{Decoded, Encoding};
use crate::{FileOutcome, FileReport, IngestError};

use crate::frame_util::{map_categories, perr, roll_up_regions};
use crate::reject::RejectSink;
use crate::table::{LINE, MappedTable};
use crate::validate::validate;
use crate::{Feed, Result};

/// Columns of the `payment_daily` lake table, in order.
pub(crate) const DAILY_COLUMNS: [&str; 11] = [
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

/// Reject the rows whose `column` (a date or time) falls outside the campaign's data years
/// ([`crate::stream::campaign_years`]) as `bad_period`; returns the other rows.
fn reject_outside_years(
    rows: DataFrame,
    column: &str,
    header: &str,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<DataFrame> {
    let (from, to) = crate::stream::campaign_years(campaign);
    let year = col(column).dt().year();
    let outside = year.clone().lt(lit(from)).or(year.gt(lit(to)));
    let detail = format!(
        "outside the campaign's data years {from}–{to} / 不在本次活动的数据年份 {from}–{to} 之内"
    );
    crate::frame_util::reject_where(
        &rows,
        outside.clone(),
        column,
        header,
        crate::reject::Reason::BadPeriod,
        Some(&detail),
        sink,
    )?;
    rows.lazy()
        .filter(outside.not())
        .collect()
        .map_err(perr(sink.file()))
}

/// Transaction rows → daily rows. Returns (daily frame, accepted input rows, duplicates).
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn transactions(
    table: &MappedTable,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let valid = validate(table, Feed::PaymentTransactions.contract(), sink)?;
    let accepted = reject_outside_years(
        valid.accepted,
        "txn_time",
        table.header_of("txn_time"),
        campaign,
        sink,
    )?;
    let rows = roll_up_regions(
        accepted,
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

/// An expression rewriting the `channel` column's spellings (the profile's, then the contract's
/// aliases: 线上 → online, 线下 → offline), when the frame has one.
fn channel_spellings(frame: &DataFrame, profile: &Profile, file: &str) -> Result<Option<Expr>> {
    let err = perr(file);
    if frame.column("channel").is_err() {
        return Ok(None);
    }
    let uniques = frame
        .column("channel")
        .and_then(polars::prelude::Column::unique)
        .map_err(&err)?;
    let field = Feed::PaymentDaily.contract().field("channel");
    let mut expr = col("channel");
    for v in uniques.str().map_err(&err)?.iter().flatten() {
        let canon = profile
            .value_for("channel", v)
            .or_else(|| field.and_then(|f| f.resolve_enum(v)));
        if let Some(c) = canon.filter(|c| *c != v) {
            expr = when(col("channel").eq(lit(v.to_owned())))
                .then(lit(c.to_owned()))
                .otherwise(expr);
        }
    }
    Ok(Some(expr.alias("channel")))
}

/// Pre-aggregated daily rows → `payment_daily`. Returns (frame, accepted rows, duplicates).
/// Channel values are read through the contract's aliases (线上/线下), as in profiled files.
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn daily(
    table: &MappedTable,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    match channel_spellings(&table.frame, &Profile::default(), &file)? {
        Some(fix) => {
            let table = MappedTable {
                frame: table
                    .frame
                    .clone()
                    .lazy()
                    .with_column(fix)
                    .collect()
                    .map_err(perr(&file))?,
                headers: table.headers.clone(),
                ignored: table.ignored.clone(),
            };
            daily_with(&table, campaign, Feed::PaymentDaily.contract(), sink)
        }
        None => daily_with(table, campaign, Feed::PaymentDaily.contract(), sink),
    }
}

/// [`daily`] against a variant of the contract (e.g. another date format from a profile).
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn daily_with(
    table: &MappedTable,
    campaign: &Campaign,
    contract: &TableContract,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let valid = validate(table, contract, sink)?;
    let accepted = reject_outside_years(
        valid.accepted,
        "date",
        table.header_of("date"),
        campaign,
        sink,
    )?;
    let rows = roll_up_regions(
        accepted,
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

/// Name of the dashboard copy of `payment_daily` with small cells suppressed.
pub const DASHBOARD_TABLE: &str = "dashboard_payment_daily";

/// The dashboard copy of `payment_daily`: a cell (day × region × MCC, per institution and channel)
/// with fewer than `k` distinct merchants is flagged `suppressed = true` and its counts and money are
/// blanked (null), so no single merchant's takings show. Other rows are unchanged.
///
/// # Errors
/// When `daily` lacks the `payment_daily` columns.
pub fn suppress_small_cells(daily: &DataFrame, k: u32) -> PolarsResult<DataFrame> {
    let small = col("merchant_count").lt(lit(i64::from(k)));
    let blank = |c: &str, t: DataType| {
        when(col("__small"))
            .then(lit(NULL).cast(t))
            .otherwise(col(c))
            .alias(c)
    };
    let mut order = daily_select();
    order.push(col("suppressed"));
    daily
        .clone()
        .lazy()
        .with_column(small.alias("__small"))
        .with_columns([
            blank("txn_count", DataType::Int64),
            blank("amount", DataType::Float64),
            blank("refund_amount", DataType::Float64),
            blank("net_amount", DataType::Float64),
            blank("merchant_count", DataType::Int64),
            col("__small").alias("suppressed"),
        ])
        .select(order)
        .collect()
}

fn text_frame_from_jsonl(file: &str, text: &str) -> Result<DataFrame> {
    let mut keys: Vec<String> = Vec::new();
    let mut rows: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| IngestError::Csv {
                file: file.to_owned(),
                reason: format!("line {}: not a JSON object: {e}", i + 1),
            })?;
        for k in obj.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        rows.push(obj);
    }
    let n = rows.len();
    let columns = keys
        .iter()
        .map(|k| {
            let values: Vec<Option<String>> = rows
                .iter()
                .map(|r| match r.get(k) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(v) => Some(v.to_string()),
                })
                .collect();
            Column::new(k.as_str().into(), values)
        })
        .collect();
    DataFrame::new(n, columns).map_err(perr(file))
}

/// A pre-aggregated daily file under an institution profile: CSV (any delimiter), JSON Lines or
/// Parquet; headers and channel values mapped by the profile; dates in its `date_format`; amounts in
/// fen scaled to yuan; negative refund amounts (sign convention `negative`) read as refunds.
///
/// # Errors
/// When the whole file must be refused (empty, undecodable, missing columns).
pub fn daily_profiled(
    file: &str,
    bytes: &[u8],
    profile: &Profile,
    campaign: &Campaign,
) -> Result<FileOutcome> {
    let err = perr(file);
    let format = profile.format.of_name(file);
    let decoded = if format == Format::Parquet {
        let csv = crate::stream::parquet_to_csv(file, bytes)?;
        Decoded {
            file: file.to_owned(),
            sha256: crate::source::sha256_hex(bytes),
            encoding: Encoding::Utf8,
            gzip: false,
            text: String::from_utf8_lossy(&csv).into_owned(),
        }
    } else {
        crate::source::decode(file, bytes)?
    };
    let (frame, first_line) = if format == Format::Jsonl {
        (text_frame_from_jsonl(file, &decoded.text)?, 1)
    } else {
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_parse_options(
                CsvParseOptions::default()
                    .with_separator(profile.delimiter)
                    .with_missing_is_null(true)
                    .with_truncate_ragged_lines(true),
            )
            .into_reader_with_file_handle(std::io::Cursor::new(decoded.text.as_bytes()))
            .finish()
            .map_err(|e| IngestError::Csv {
                file: file.to_owned(),
                reason: e.to_string(),
            })?;
        (frame, 2)
    };
    // The profile's header names first: rename their columns to our field names.
    let mut frame = frame;
    let renames: Vec<(String, String)> = frame
        .get_column_names()
        .iter()
        .filter_map(|h| {
            profile
                .column_for(h.as_str())
                .map(|f| (h.to_string(), f.to_owned()))
        })
        .filter(|(h, f)| h != f)
        .collect();
    for (from, to) in &renames {
        frame.rename(from, to.as_str().into()).map_err(&err)?;
    }
    let mut table =
        crate::table::map_headers(frame, Feed::PaymentDaily.contract(), file, first_line)?;
    for (from, to) in &renames {
        if let Some(h) = table.headers.iter_mut().find(|(f, _)| f == to) {
            h.1.clone_from(from);
        }
    }
    // Channel spellings: the profile's, then the contract's aliases.
    let mut fixes = Vec::new();
    fixes.extend(channel_spellings(&table.frame, profile, file)?);
    if profile.refund_sign == RefundSign::Negative && table.frame.column("refund_amount").is_ok() {
        fixes.push(
            col("refund_amount")
                .str()
                .replace(lit(r"^\s*-"), lit(""), false)
                .alias("refund_amount"),
        );
    }
    if !fixes.is_empty() {
        table.frame = table
            .frame
            .clone()
            .lazy()
            .with_columns(fixes)
            .collect()
            .map_err(&err)?;
    }
    let mut contract = Feed::PaymentDaily.contract().clone();
    if let Some(f) = contract.fields.iter_mut().find(|f| f.name == "date") {
        f.format = Some(profile.date_format.clone());
    }
    let mut sink = RejectSink::new(Feed::PaymentDaily.id(), file, &decoded.sha256);
    let (mut rows, accepted, duplicates) = daily_with(&table, campaign, &contract, &mut sink)?;
    if profile.amount_unit == AmountUnit::Fen {
        rows = rows
            .lazy()
            .with_columns(
                ["amount", "refund_amount", "net_amount"].map(|c| (col(c) / lit(100.0)).alias(c)),
            )
            .collect()
            .map_err(&err)?;
    }
    let rejects = sink.to_frame().map_err(&err)?;
    let report = FileReport {
        file: file.to_owned(),
        sha256: decoded.sha256,
        feed: Feed::PaymentDaily,
        encoding: decoded.encoding,
        read: table.frame.height(),
        accepted,
        rejected: sink.len(),
        duplicates,
        ignored_columns: table.ignored,
    };
    Ok(FileOutcome {
        report,
        rows,
        rejects,
    })
}
