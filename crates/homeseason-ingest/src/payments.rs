//! Payment-institution feeds: transaction-level and pre-aggregated daily files → `payment_daily`.
//!
//! Transactions: region codes (county, prefecture or province, or a plan city's districts) roll up to
//! the 37 reporting regions; MCCs map to categories through the campaign (unmapped → `other`, kept);
//! duplicate `txn_id`s are dropped and counted; sales, refunds and reversals are netted per day:
//! `amount_yuan` is gross sales, `refund_amount_yuan` refunds plus reversals, `net_amount_yuan` the
//! difference, all in yuan. The calendar date is the Beijing date of `txn_time`.
//!
//! A transaction's `amount` is in the unit its header states in brackets (`交易金额（分）`, `amount (万元)`),
//! else in the unit of the institution's profile (`amount_unit`), kept as the file report's
//! `source_unit` ([`header_amount_unit`]; a bracket that is no money unit, or a header unit that
//! contradicts `amount_unit = "fen"`, refuses the file whole). A daily file's
//! amounts are in the unit its headers state in brackets (`交易金额（万元）`, `refund_amount (fen)`),
//! else in the profile's; they are converted to yuan and the unit read is kept in the file's report as
//! `source_unit` ([`DailyUnits`]).

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
/// `key` empty: a duplicate is a row equal to an earlier one in every column (a key repeated with
/// other values keeps both rows, for the lake to settle as a conflict).
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
    let subset: Vec<String> = if key.is_empty() {
        rows.get_column_names()
            .into_iter()
            .filter(|c| c.as_str() != LINE && c.as_str() != RAW)
            .map(ToString::to_string)
            .collect()
    } else {
        key.iter().map(|k| (*k).to_owned()).collect()
    };
    let rows = rows
        .lazy()
        .sort([LINE], SortMultipleOptions::default())
        .unique_stable(Some(cols(subset)), UniqueKeepStrategy::First)
        .collect()
        .map_err(perr(sink.file()))?;
    let duplicates = before - rows.height();
    Ok((rows, duplicates))
}

/// Transaction rows (every occurrence, by line) with each repeated `institution` + `txn_id` settled as
/// the streaming ingest does: the first occurrence is kept; a repeat with the same values (what the
/// transaction contributes: Beijing day, region, MCC, channel, sale or not, amount, merchant) is a
/// duplicate; one with other values a `conflict` reject naming the first line and what differs.
/// Returns the kept rows and the number of duplicates.
fn settle_repeated_ids(
    rows: DataFrame,
    table: &MappedTable,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize)> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let key = [col("institution"), col("txn_id")];
    let values = [
        col("txn_time").dt().date(),
        col("region_code"),
        col("mcc"),
        col("channel"),
        col("txn_type").eq(lit("sale")),
        col("amount"),
        col("merchant_id"),
    ];
    let mut same = lit(true);
    let mut firsts = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let first = v.clone().first().over(key.clone()).map_err(&err)?;
        same = same.and(v.clone().eq(first.clone()));
        firsts.push(v.clone().neq(first).alias(format!("__differs{i}")));
    }
    let first_line = col(LINE).first().over(key.clone()).map_err(&err)?;
    let marked = rows
        .lazy()
        .sort([LINE], SortMultipleOptions::default())
        .with_columns(firsts)
        .with_columns([
            first_line.clone().alias("__first_line"),
            col(LINE).eq(first_line).alias("__first"),
            same.alias("__same"),
        ])
        .collect()
        .map_err(&err)?;
    let flag = |name: &str| -> Result<BooleanChunked> {
        Ok(marked
            .column(name)
            .map_err(&err)?
            .bool()
            .map_err(&err)?
            .clone())
    };
    let (first, same) = (flag("__first")?, flag("__same")?);
    let differs: Vec<BooleanChunked> = (0..values.len())
        .map(|i| flag(&format!("__differs{i}")))
        .collect::<Result<_>>()?;
    let text = |name: &str| -> Result<StringChunked> {
        Ok(marked
            .column(name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(&err)?
            .str()
            .map_err(&err)?
            .clone())
    };
    let (lines, first_lines) = (text(LINE)?, text("__first_line")?);
    let (ids, insts, raws) = (text("txn_id")?, text("institution")?, text(RAW)?);
    let mut duplicates = 0;
    for i in 0..marked.height() {
        if first.get(i) == Some(true) {
            continue;
        }
        if same.get(i) == Some(true) {
            duplicates += 1;
            continue;
        }
        let fields: Vec<&str> = crate::stream::TXN_VALUE_FIELDS
            .iter()
            .zip(&differs)
            .filter(|(_, d)| d.get(i) == Some(true))
            .map(|(f, _)| *f)
            .collect();
        let detail = crate::stream::txn_conflict_detail(
            insts.get(i).unwrap_or_default(),
            first_lines.get(i).and_then(|l| l.parse().ok()),
            &fields,
        );
        sink.push_detail(
            lines.get(i).and_then(|l| l.parse().ok()).unwrap_or(0),
            Some(table.header_of("txn_id").to_owned()),
            crate::reject::Reason::Conflict,
            ids.get(i).unwrap_or_default(),
            Some(&detail),
            raws.get(i).unwrap_or_default(),
        );
    }
    let kept = marked.filter(&first).map_err(&err)?.drop_many(
        (0..values.len()).map(|i| format!("__differs{i}")).chain([
            "__first_line".to_owned(),
            "__first".to_owned(),
            "__same".to_owned(),
        ]),
    );
    Ok((kept, duplicates))
}

/// Daily rows with `net_amount_yuan`, in the contract's columns and the lake's sort order;
/// `origins`: with each row's source line and text ([`crate::ORIGIN_LINE`], [`crate::ORIGIN_RAW`],
/// from the table's line and raw columns), in line order within a cell.
fn finish_daily(daily: LazyFrame, origins: bool) -> LazyFrame {
    let mut select = daily_select();
    let mut order = vec!["date", "region_code", "mcc", "channel"];
    if origins {
        select.push(col(LINE).cast(DataType::Int64).alias(crate::ORIGIN_LINE));
        select.push(col(RAW).alias(crate::ORIGIN_RAW));
        order.push(crate::ORIGIN_LINE);
    }
    daily
        .with_column((col("amount_yuan") - col("refund_amount_yuan")).alias("net_amount_yuan"))
        .select(select)
        .sort(order, SortMultipleOptions::default())
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
    let unit = transaction_unit(table, &file)?;
    let scaled;
    let table = if unit == AmountUnit::Yuan {
        table
    } else {
        scaled = amounts_in_yuan(table, unit, &file)?;
        &scaled
    };
    // Every occurrence of each id (the key columns, then the values, never equal to a column).
    let (rows, _) = accepted_unique(
        table,
        Feed::PaymentTransactions.contract(),
        "txn_time",
        &["institution", "txn_id", LINE],
        campaign,
        &[],
        sink,
    )?;
    let (rows, duplicates) = settle_repeated_ids(rows, table, sink)?;
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
            col("amount")
                .filter(sale.clone())
                .sum()
                .alias("amount_yuan"),
            col("amount")
                .filter(sale.clone().not())
                .sum()
                .alias("refund_amount_yuan"),
            col("merchant_id")
                .filter(sale)
                .n_unique()
                .cast(DataType::Int64)
                .alias("merchant_count"),
        ]);
    Ok((
        finish_daily(daily, false).collect().map_err(&err)?,
        accepted,
        duplicates,
    ))
}

/// The unit of a transaction table's amounts read without a profile: the amount header's
/// ([`header_amount_unit`]), else yuan.
///
/// # Errors
/// [`IngestError::AmountUnit`] for a bracket that is not a money unit.
pub(crate) fn transaction_unit(table: &MappedTable, file: &str) -> Result<AmountUnit> {
    let title = Feed::PaymentTransactions
        .contract()
        .field("amount")
        .map_or("交易金额", |f| f.title_zh.as_str());
    header_amount_unit(
        file,
        table.header_of("amount"),
        "amount",
        title,
        &Profile::default(),
    )
}

/// `table` with its `amount` cells rewritten from `unit` into yuan text, to the fen, as the
/// streaming engine reads them ([`crate::stream::parse_fen`]); a cell that is not a number is left as
/// it is, for the validation to reject.
fn amounts_in_yuan(table: &MappedTable, unit: AmountUnit, file: &str) -> Result<MappedTable> {
    let err = perr(file);
    let mut frame = table.frame.clone();
    let cells = frame
        .column("amount")
        .and_then(|c| c.cast(&DataType::String))
        .map_err(&err)?;
    let yuan: Vec<Option<String>> = cells
        .str()
        .map_err(&err)?
        .iter()
        .map(|cell| {
            cell.map(
                |text| match crate::stream::parse_fen(text.trim().as_bytes(), unit) {
                    Some(fen) => {
                        let sign = if fen < 0 { "-" } else { "" };
                        let abs = fen.unsigned_abs();
                        format!("{sign}{}.{:02}", abs / 100, abs % 100)
                    }
                    None => text.to_owned(),
                },
            )
        })
        .collect();
    frame
        .with_column(Column::new("amount".into(), yuan))
        .map_err(&err)?;
    Ok(MappedTable {
        frame,
        headers: table.headers.clone(),
        ignored: table.ignored.clone(),
    })
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
    let units = DailyUnits::of(table, &Profile::default(), &file)?;
    let (rows, accepted, duplicates) =
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
                daily_with(&table, campaign, Feed::PaymentDaily.contract(), &[], sink)?
            }
            None => daily_with(table, campaign, Feed::PaymentDaily.contract(), &[], sink)?,
        };
    Ok((units.in_yuan(rows, &file)?, accepted, duplicates))
}

/// The money columns a daily file supplies (the net is derived).
const DAILY_MONEY: [&str; 2] = ["amount_yuan", "refund_amount_yuan"];

/// The unit of a daily file's amounts: what the header of each money column states in brackets
/// (`交易金额（万元）`, `amount (fen)`, or a name ending in `_yuan`), else the profile's `amount_unit`.
/// A profile in fen and a header in another unit contradict each other: the file is refused, never
/// read in a guessed unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DailyUnits {
    /// Yuan per unit of `amount_yuan`'s and `refund_amount_yuan`'s input.
    factor: [f64; 2],
    /// The units' names (分, 元, 万元, 亿元).
    name: [&'static str; 2],
}

/// The unit a money column's header states in brackets (`交易金额（万元）`, `amount (fen)`, or a
/// name ending in `_yuan`/`_fen`), else `profile`'s `amount_unit`. `field`/`title` name the column in
/// messages.
///
/// # Errors
/// [`IngestError::AmountUnit`], whole in English and in Chinese, for a bracketed part that is not a
/// money unit (`amount (%)`), or a header unit that contradicts the profile's `amount_unit = "fen"`:
/// the file is refused, never read in a guessed unit.
pub(crate) fn header_amount_unit(
    file: &str,
    header: &str,
    field: &str,
    title: &str,
    profile: &Profile,
) -> Result<AmountUnit> {
    let stated = stated_unit(header).map_err(|bracket| IngestError::AmountUnit {
        file: file.to_owned(),
        message_en: format!(
            "{file}: column \"{header}\" ({field}) states the unit \"{bracket}\", which is not a money unit; write the amounts in 元 (yuan), 分 (fen), 万元 or 亿元 and say which in the header, e.g. 交易金额（元）"
        ),
        message_zh: format!(
            "{file}：列“{header}”（{title}）标注的单位“{bracket}”不是金额单位；金额请用元、分、万元或亿元，并在表头注明，例如“交易金额（元）”"
        ),
    })?;
    match (stated, profile.amount_unit) {
        (Some(unit), AmountUnit::Fen) if unit != AmountUnit::Fen => {
            let n = unit.zh();
            let en = match unit {
                AmountUnit::Yuan => "yuan (元)",
                AmountUnit::WanYuan => "10,000 yuan (万元)",
                AmountUnit::YiYuan => "100 million yuan (亿元)",
                AmountUnit::Fen => "fen (分)",
            };
            Err(IngestError::AmountUnit {
                file: file.to_owned(),
                message_en: format!(
                    "{file}: column \"{header}\" ({field}) is in {en} by its header, but the institution profile says amounts are in fen (amount_unit = \"fen\"); correct the header or the profile. Nothing was read, so no amount is taken in a guessed unit"
                ),
                message_zh: format!(
                    "{file}：列“{header}”的表头注明单位为{n}，但机构配置文件规定金额单位为分（amount_unit = \"fen\"），两者矛盾；请更正表头或配置文件。整份文件未读入，不按猜测的单位计"
                ),
            })
        }
        (stated, unit) => Ok(stated.unwrap_or(unit)),
    }
}

/// The unit a header states: `Ok(None)` when it states none, `Err(bracket)` when its bracketed part
/// is not a money unit (a header such as `amount (%)`).
fn stated_unit(header: &str) -> std::result::Result<Option<AmountUnit>, String> {
    let folded: String = header
        .chars()
        .map(homeseason_schema::text::half_width)
        .collect();
    let ascii = folded.trim().to_lowercase();
    if folded.contains("(分)") || ascii.ends_with("(fen)") || ascii.ends_with("_fen") {
        return Ok(Some(AmountUnit::Fen));
    }
    if let Some(unit) = crate::parse::Unit::in_header(header) {
        return Ok(Some(match unit {
            crate::parse::Unit::Yuan => AmountUnit::Yuan,
            crate::parse::Unit::Wan => AmountUnit::WanYuan,
            crate::parse::Unit::Yi => AmountUnit::YiYuan,
        }));
    }
    match homeseason_schema::contract::header_unit(header) {
        Some(bracket) => Err(bracket),
        None => Ok(None),
    }
}

impl DailyUnits {
    /// The units of `table`'s money columns under `profile`.
    ///
    /// # Errors
    /// [`IngestError::AmountUnit`] for a header whose bracketed unit is not a money unit, or that
    /// contradicts the profile's `amount_unit = "fen"` ([`header_amount_unit`]).
    pub(crate) fn of(table: &MappedTable, profile: &Profile, file: &str) -> Result<DailyUnits> {
        let mut out = DailyUnits {
            factor: [1.0; 2],
            name: ["元"; 2],
        };
        for (i, field) in DAILY_MONEY.iter().enumerate() {
            let title = Feed::PaymentDaily
                .contract()
                .field(field)
                .map_or(*field, |f| f.title_zh.as_str());
            let unit = header_amount_unit(file, table.header_of(field), field, title, profile)?;
            out.factor[i] = unit.yuan_factor();
            out.name[i] = unit.zh();
        }
        Ok(out)
    }

    /// The unit to keep in the file's report: `None` for yuan (the contract's unit), else the unit
    /// (`万元`), or each column's when they differ (`amount_yuan=万元, refund_amount_yuan=元`).
    pub(crate) fn source_unit(self) -> Option<String> {
        if self.name == ["元"; 2] {
            None
        } else if self.name[0] == self.name[1] {
            Some(self.name[0].to_owned())
        } else {
            Some(format!(
                "{}={}, {}={}",
                DAILY_MONEY[0], self.name[0], DAILY_MONEY[1], self.name[1]
            ))
        }
    }

    /// `rows` (validated daily rows, net derived) with their money in yuan: fen divided by 100 (a true
    /// division, as the transaction engine and the lake's merge do), 万元 and 亿元 multiplied and
    /// rounded to the fen. The net is converted like the two when they share a unit (fen:
    /// `(amount − refund) / 100`, exact), else recomputed from the converted two.
    pub(crate) fn in_yuan(self, mut rows: DataFrame, file: &str) -> Result<DataFrame> {
        if self.factor == [1.0; 2] {
            return Ok(rows);
        }
        let convert = |v: f64, factor: f64| {
            if factor < 1.0 {
                v / 100.0
            } else {
                (v * factor * 100.0).round() / 100.0
            }
        };
        let values = |rows: &DataFrame, c: &str| -> Result<Vec<Option<f64>>> {
            rows.column(c)
                .and_then(|c| c.cast(&DataType::Float64))
                .and_then(|c| c.f64().map(|v| v.iter().collect()))
                .map_err(perr(file))
        };
        let amount = values(&rows, DAILY_MONEY[0])?;
        let refund = values(&rows, DAILY_MONEY[1])?;
        let net = values(&rows, "net_amount_yuan")?;
        let amount: Vec<Option<f64>> = amount
            .iter()
            .map(|v| v.map(|v| convert(v, self.factor[0])))
            .collect();
        let refund: Vec<Option<f64>> = refund
            .iter()
            .map(|v| v.map(|v| convert(v, self.factor[1])))
            .collect();
        let net: Vec<Option<f64>> = if self.factor[0] == self.factor[1] {
            net.iter()
                .map(|v| v.map(|v| convert(v, self.factor[0])))
                .collect()
        } else {
            amount
                .iter()
                .zip(&refund)
                .map(|(a, r)| Some((*a)? - (*r)?))
                .collect()
        };
        for (name, v) in [
            (DAILY_MONEY[0], amount),
            (DAILY_MONEY[1], refund),
            ("net_amount_yuan", net),
        ] {
            rows.with_column(Column::new(name.into(), v))
                .map_err(perr(file))?;
        }
        Ok(rows)
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
    // Exact repeats are duplicates; a key (date, institution, region, MCC, channel) repeated with
    // other values keeps both rows: the lake settles it as a conflict, within the file.
    let (rows, duplicates) = accepted_unique(table, contract, "date", &[], campaign, known, sink)?;
    let accepted = rows.height();
    // Each daily row keeps its source line and text, for the lake's conflict rejects.
    let rows = finish_daily(map_categories(rows, campaign, &file)?.lazy(), true)
        .collect()
        .map_err(&err)?;
    Ok((rows, accepted, duplicates))
}

/// Name of the dashboard copy of `payment_daily` with small cells suppressed.
pub const DASHBOARD_TABLE: &str = homeseason_schema::contract::tables::DASHBOARD_PAYMENT_DAILY;

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
    if profile.refund_sign == RefundSign::Negative
        && table.frame.column("refund_amount_yuan").is_ok()
    {
        fixes.push(
            col("refund_amount_yuan")
                .str()
                .replace(lit(r"^\s*-"), lit(""), false)
                .alias("refund_amount_yuan"),
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
    let units = DailyUnits::of(&table, profile, file)?;
    let mut sink = RejectSink::new(Feed::PaymentDaily.id(), file, &decoded.sha256);
    let (rows, accepted, duplicates) = daily_with(
        &table,
        campaign,
        &contract,
        &profile.known_institutions,
        &mut sink,
    )?;
    let rows = units.in_yuan(rows, file)?;
    let rejects = crate::Rejects::Frame(sink.to_frame().map_err(&err)?);
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
        source_unit: units.source_unit(),
    };
    Ok(FileOutcome {
        report,
        rows,
        rejects,
        origins,
    })
}

/// Where `payment_area_daily` (`area`) disagrees with `payment_daily` (`daily`) for the
/// institutions the area table holds: summed over `area_code`, every (date, institution, region,
/// MCC, channel) cell must give `payment_daily`'s `txn_count` and money to the fen, and its
/// `merchant_count` at least `payment_daily`'s (a merchant selling in two areas of a region is one
/// merchant of the region). A cell of either table missing from the other is a mismatch. Each
/// mismatch is described in a line (at most `limit`); empty when the tables agree.
///
/// # Errors
/// When a frame lacks a column of its contract.
pub fn area_sum_mismatches(
    daily: &DataFrame,
    area: &DataFrame,
    limit: usize,
) -> PolarsResult<Vec<String>> {
    let key = ["date", "institution", "region_code", "mcc", "channel"];
    let fen = |c: &str| {
        (col(c) * lit(100.0))
            .round(0, RoundMode::HalfAwayFromZero)
            .cast(DataType::Int64)
    };
    let measures = |lf: LazyFrame, suffix: &str| {
        lf.group_by(key.map(col)).agg([
            col("txn_count").sum().alias(format!("txn{suffix}")),
            fen("amount_yuan").sum().alias(format!("gross{suffix}")),
            fen("refund_amount_yuan")
                .sum()
                .alias(format!("refund{suffix}")),
            col("merchant_count")
                .sum()
                .alias(format!("merchants{suffix}")),
        ])
    };
    let institutions = area
        .column("institution")?
        .as_materialized_series()
        .unique()?;
    let daily = daily
        .clone()
        .lazy()
        .with_column(col("institution").cast(DataType::String))
        .filter(col("institution").is_in(lit(institutions).implode(false), false));
    let area = area
        .clone()
        .lazy()
        .with_column(col("institution").cast(DataType::String));
    let joined = measures(daily, "_d")
        .join(
            measures(area, "_a"),
            key.map(col),
            key.map(col),
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .filter(
            col("txn_d")
                .neq_missing(col("txn_a"))
                .or(col("gross_d").neq_missing(col("gross_a")))
                .or(col("refund_d").neq_missing(col("refund_a")))
                .or(col("merchants_d").is_null())
                .or(col("merchants_a").is_null())
                .or(col("merchants_d").gt(col("merchants_a"))),
        )
        .sort(key, SortMultipleOptions::default())
        .collect()?;
    let mut out = Vec::new();
    for i in 0..joined.height().min(limit) {
        let row = joined.get_row(i)?;
        let cells: Vec<String> = joined
            .get_column_names()
            .iter()
            .zip(row.0.iter())
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        out.push(cells.join(", "));
    }
    if joined.height() > limit {
        out.push(format!("… {} cells in all", joined.height()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "date,institution,region_code,mcc,channel,txn_count";

    fn daily_file(money_headers: &str, money: &str) -> Vec<u8> {
        format!("{HEAD},{money_headers},merchant_count\n2023-09-01,acq_x,330000,5722,offline,3,{money},2\n")
            .into_bytes()
    }

    fn money(out: &FileOutcome) -> [f64; 3] {
        ["amount_yuan", "refund_amount_yuan", "net_amount_yuan"].map(|c| {
            out.rows
                .column(c)
                .and_then(|c| c.f64().cloned())
                .ok()
                .and_then(|c| c.get(0))
                // To the millionth of a yuan: exact conversions compare equal to their literal.
                .map_or(f64::NAN, |v| (v * 1e6).round() / 1e6)
        })
    }

    fn plain(bytes: &[u8]) -> Result<FileOutcome> {
        crate::ingest_bytes(
            Feed::PaymentDaily,
            "payment_daily_acq_x_2023-09.csv",
            bytes,
            &Campaign::default_2023(),
        )
    }

    fn profiled(bytes: &[u8], unit: &str) -> Result<FileOutcome> {
        let profile = Profile::from_toml(
            &format!(
                "institution = \"acq_x\"\nfeed = \"payment_daily\"\namount_unit = \"{unit}\"\n"
            ),
            "test",
        )
        .expect("profile");
        daily_profiled(
            "payment_daily_acq_x_2023-09.csv",
            bytes,
            &profile,
            &Campaign::default_2023(),
        )
    }

    /// The lake's columns are `*_yuan` whatever the file's headers: today's names, the names before
    /// contract version 3 and Chinese headers with 元 all read as yuan, with no `source_unit`.
    #[test]
    fn yuan_headers_old_and_new_read_as_yuan() {
        for headers in [
            "amount_yuan,refund_amount_yuan",
            "amount,refund_amount",
            "交易金额（元）,退款金额(元)",
        ] {
            let out = plain(&daily_file(headers, "1234.56,34.5")).expect(headers);
            assert_eq!(money(&out), [1234.56, 34.5, 1200.06], "{headers}");
            assert_eq!(out.report.source_unit, None, "{headers}");
            assert!(out.rows.column("amount").is_err());
        }
    }

    /// Issue 15 point 6: a unit in the header's brackets is the amounts' unit — 万元 and 分 are
    /// converted to yuan (to the fen) and kept as the report's `source_unit`, never read as yuan.
    #[test]
    fn a_unit_in_the_header_is_converted_and_kept_as_source_unit() {
        let out = plain(&daily_file(
            "交易金额（万元）,退款金额（万元）",
            "1.2345,0.0001",
        ))
        .expect("万元");
        assert_eq!(money(&out), [12_345.0, 1.0, 12_344.0]);
        assert_eq!(out.report.source_unit.as_deref(), Some("万元"));
        let out = plain(&daily_file("交易金额(分),退款金额(分)", "123456,3450")).expect("分");
        assert_eq!(money(&out), [1234.56, 34.5, 1200.06]);
        assert_eq!(out.report.source_unit.as_deref(), Some("分"));
        let out = plain(&daily_file("交易金额（万元）,退款金额（元）", "1.5,20")).expect("mixed");
        assert_eq!(money(&out), [15_000.0, 20.0, 14_980.0]);
        assert_eq!(
            out.report.source_unit.as_deref(),
            Some("amount_yuan=万元, refund_amount_yuan=元")
        );
        let json = serde_json::to_value(
            &plain(&daily_file("amount,refund_amount", "1,0"))
                .expect("yuan")
                .report,
        )
        .expect("json");
        assert!(json.get("source_unit").is_none(), "absent for yuan: {json}");
    }

    /// A profile in fen converts unitless headers; a header in another unit than the profile's fen,
    /// or a bracketed part that is no money unit, refuses the file in both languages.
    #[test]
    fn a_profile_unit_applies_and_a_contradiction_refuses_the_file() {
        let out = profiled(&daily_file("amount,refund_amount", "123456,3450"), "fen").expect("fen");
        assert_eq!(money(&out), [1234.56, 34.5, 1200.06]);
        assert_eq!(out.report.source_unit.as_deref(), Some("分"));
        let out = profiled(
            &daily_file("交易金额(分),refund_amount", "123456,3450"),
            "fen",
        )
        .expect("fen");
        assert_eq!(money(&out), [1234.56, 34.5, 1200.06]);
        let out = profiled(
            &daily_file("交易金额（万元）,退款金额（万元）", "1.5,0"),
            "yuan",
        )
        .expect("wan");
        assert_eq!(money(&out), [15_000.0, 0.0, 15_000.0]);
        for (headers, bytes_unit) in [
            ("交易金额（元）,refund_amount", "fen"),
            ("交易金额（万元）,refund_amount", "fen"),
        ] {
            let Err(e) = profiled(&daily_file(headers, "1,0"), bytes_unit) else {
                panic!("{headers}: refused");
            };
            let text = e.to_string();
            assert!(matches!(e, IngestError::AmountUnit { .. }), "{text}");
            assert!(
                text.contains("amount_unit") && text.contains("矛盾"),
                "{text}"
            );
        }
        let Err(e) = plain(&daily_file("交易金额（%）,refund_amount", "1,0")) else {
            panic!("not a money unit");
        };
        let text = e.to_string();
        assert!(
            text.contains("not a money unit") && text.contains("不是金额单位"),
            "{text}"
        );
    }
}
