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
use crate::table::{LINE, MappedTable, RAW};
use crate::validate::validate;
use crate::{Feed, Result};

/// The columns of the `payment_daily` lake table, in the contract's order.
pub(crate) fn daily_select() -> Vec<Expr> {
    Feed::PaymentDaily
        .contract()
        .column_names()
        .into_iter()
        .map(col)
        .collect()
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
    let detail = crate::stream::outside_years_detail((from, to));
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

/// The rows of a payments table that pass the contract, fall in the campaign's data years (by
/// `time_column`) and roll up to a reporting region, first occurrence of each `key` kept (by line);
/// returns them with the number of duplicates dropped. Every other row is rejected into `sink`.
fn accepted_unique(
    table: &MappedTable,
    contract: &TableContract,
    time_column: &str,
    key: &[&str],
    campaign: &Campaign,
    known: &[String],
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize)> {
    let valid = validate(table, contract, sink)?;
    let accepted = reject_outside_years(
        valid.accepted,
        time_column,
        table.header_of(time_column),
        campaign,
        sink,
    )?;
    let mut rows = roll_up_regions(
        accepted,
        "region_code",
        table.header_of("region_code"),
        sink,
    )?;
    // An institution no profile names (when profiles are configured) is a rejected row.
    if !known.is_empty() && rows.column("institution").is_ok() {
        let list = Series::new("known".into(), known);
        let unknown = col("institution")
            .is_in(lit(list).implode(false), false)
            .not();
        let detail = crate::profile::unknown_institution_detail(known);
        crate::frame_util::reject_where(
            &rows,
            unknown.clone(),
            "institution",
            table.header_of("institution"),
            crate::reject::Reason::UnknownInstitution,
            Some(&detail),
            sink,
        )?;
        rows = rows
            .lazy()
            .filter(unknown.not())
            .collect()
            .map_err(perr(sink.file()))?;
    }
    let before = rows.height();
    let rows = rows
        .lazy()
        .sort([LINE], SortMultipleOptions::default())
        .unique_stable(Some(cols(key.to_vec())), UniqueKeepStrategy::First)
        .collect()
        .map_err(perr(sink.file()))?;
    let duplicates = before - rows.height();
    Ok((rows, duplicates))
}

/// Daily rows with `net_amount`, in the contract's columns and the lake's sort order.
fn finish_daily(daily: LazyFrame) -> LazyFrame {
    daily
        .with_column((col("amount") - col("refund_amount")).alias("net_amount"))
        .select(daily_select())
        .sort(
            ["date", "region_code", "mcc", "channel"],
            SortMultipleOptions::default(),
        )
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
    let (rows, duplicates) = accepted_unique(
        table,
        Feed::PaymentTransactions.contract(),
        "txn_time",
        &["institution", "txn_id"],
        campaign,
        &[],
        sink,
    )?;
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
        ]);
    Ok((
        finish_daily(daily).collect().map_err(&err)?,
        accepted,
        duplicates,
    ))
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
            daily_with(&table, campaign, Feed::PaymentDaily.contract(), &[], sink)
        }
        None => daily_with(table, campaign, Feed::PaymentDaily.contract(), &[], sink),
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
    known: &[String],
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let key = ["date", "institution", "region_code", "mcc", "channel"];
    let (rows, duplicates) = accepted_unique(table, contract, "date", &key, campaign, known, sink)?;
    let accepted = rows.height();
    // Each daily row's source line and text (one row a key), for the lake's conflict rejects.
    let origins = rows.clone().lazy().select(
        key.iter()
            .map(|k| col(*k))
            .chain([
                col(LINE).cast(DataType::Int64).alias(crate::ORIGIN_LINE),
                col(RAW).alias(crate::ORIGIN_RAW),
            ])
            .collect::<Vec<_>>(),
    );
    let rows = finish_daily(map_categories(rows, campaign, &file)?.lazy())
        .join(
            origins,
            key.iter().map(|k| col(*k)).collect::<Vec<_>>(),
            key.iter().map(|k| col(*k)).collect::<Vec<_>>(),
            JoinArgs::new(JoinType::Left),
        )
        .collect()
        .map_err(&err)?;
    Ok((rows, accepted, duplicates))
}

/// Name of the dashboard copy of `payment_daily` with small cells suppressed.
pub const DASHBOARD_TABLE: &str = "dashboard_payment_daily";

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
    let (mut rows, accepted, duplicates) = daily_with(
        &table,
        campaign,
        &contract,
        &profile.known_institutions,
        &mut sink,
    )?;
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
    let (rows, origins) = crate::split_origins(rows).map_err(&err)?;
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
        origins,
    })
}
