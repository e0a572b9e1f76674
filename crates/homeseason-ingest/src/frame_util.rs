//! Small frame helpers shared by the feeds.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::{Region, Regions};
use polars::prelude::*;

use crate::reject::{Reason, RejectSink};
use crate::table::{LINE, RAW};
use crate::{IngestError, Result};

pub(crate) fn perr(file: &str) -> impl Fn(PolarsError) -> IngestError + '_ {
    move |e| IngestError::Polars {
        file: file.to_owned(),
        source: e,
    }
}

/// Replace `column` (raw region values) by the reporting region key; rows whose value does not
/// resolve are rejected as `unknown_region` and dropped.
pub(crate) fn roll_up_regions(
    frame: DataFrame,
    column: &str,
    header: &str,
    sink: &mut RejectSink,
) -> Result<DataFrame> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let uniques = frame.column(column).map_err(&err)?.unique().map_err(&err)?;
    let uniques = uniques.str().map_err(&err)?;
    let regions = Regions::embedded();
    let (raw, key): (Vec<&str>, Vec<Option<&str>>) = uniques
        .iter()
        .flatten()
        .map(|v| (v, regions.resolve(v).ok().map(|r| r.code.as_str())))
        .unzip();
    let map = df!("__region_raw" => raw, "__region_key" => key).map_err(&err)?;
    let joined = frame
        .lazy()
        .join(
            map.lazy(),
            [col(column)],
            [col("__region_raw")],
            JoinArgs::new(JoinType::Left),
        )
        .collect()
        .map_err(&err)?;
    reject_where(
        &joined,
        col("__region_key").is_null(),
        column,
        header,
        Reason::UnknownRegion,
        None,
        sink,
    )?;
    joined
        .lazy()
        .filter(col("__region_key").is_not_null())
        .with_column(col("__region_key").alias(column))
        .drop(by_name(["__region_key"], true, false))
        .collect()
        .map_err(&err)
}

/// Add a `category` column from the campaign's MCC map; unmapped MCCs become `other`.
pub(crate) fn map_categories(
    frame: DataFrame,
    campaign: &Campaign,
    file: &str,
) -> Result<DataFrame> {
    let err = perr(file);
    let (mcc, cat): (Vec<&str>, Vec<&str>) = campaign
        .mcc
        .iter()
        .map(|m| (m.code.as_str(), m.category.id()))
        .unzip();
    let map = df!("__mcc" => mcc, "category" => cat).map_err(&err)?;
    frame
        .lazy()
        .join(
            map.lazy(),
            [col("mcc")],
            [col("__mcc")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("category").fill_null(lit("other")))
        .collect()
        .map_err(&err)
}

/// Send the rows of `frame` matching `predicate` to the sink with `reason`, reading the value from
/// `column`.
pub(crate) fn reject_where(
    frame: &DataFrame,
    predicate: Expr,
    column: &str,
    header: &str,
    reason: Reason,
    detail: Option<&str>,
    sink: &mut RejectSink,
) -> Result<usize> {
    let file = sink.file().to_owned();
    let err = perr(&file);
    let bad = frame
        .clone()
        .lazy()
        .filter(predicate)
        .select([
            col(LINE),
            col(column).cast(DataType::String).alias("__value"),
            col(RAW),
        ])
        .collect()
        .map_err(&err)?;
    let lines = bad.column(LINE).map_err(&err)?.u32().map_err(&err)?.clone();
    let values = bad
        .column("__value")
        .map_err(&err)?
        .str()
        .map_err(&err)?
        .clone();
    let raws = bad.column(RAW).map_err(&err)?.str().map_err(&err)?.clone();
    for ((line, value), raw) in lines.iter().zip(values.iter()).zip(raws.iter()) {
        sink.push_detail(
            line.unwrap_or_default().into(),
            Some(header.to_owned()),
            reason,
            value.unwrap_or_default(),
            detail,
            raw.unwrap_or_default(),
        );
    }
    Ok(bad.height())
}

/// Row-wise access to a mapped table's text cells (for the small, hand-filled feeds).
pub(crate) struct Cells<'a> {
    columns: Vec<(String, StringChunked)>,
    lines: UInt32Chunked,
    raws: StringChunked,
    table: &'a crate::table::MappedTable,
}

impl<'a> Cells<'a> {
    pub(crate) fn new(table: &'a crate::table::MappedTable) -> Result<Cells<'a>> {
        let err = perr("table");
        let mut columns = Vec::new();
        for c in table.frame.columns() {
            let name = c.name().as_str();
            if name == LINE || name == RAW {
                continue;
            }
            columns.push((name.to_owned(), c.str().map_err(&err)?.clone()));
        }
        Ok(Cells {
            columns,
            lines: table
                .frame
                .column(LINE)
                .map_err(&err)?
                .u32()
                .map_err(&err)?
                .clone(),
            raws: table
                .frame
                .column(RAW)
                .map_err(&err)?
                .str()
                .map_err(&err)?
                .clone(),
            table,
        })
    }
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }
    /// The trimmed cell, `None` when absent or blank.
    pub(crate) fn get(&self, field: &str, row: usize) -> Option<&str> {
        let (_, c) = self.columns.iter().find(|(n, _)| n == field)?;
        c.get(row).map(str::trim).filter(|s| !s.is_empty())
    }
    pub(crate) fn line(&self, row: usize) -> u64 {
        self.lines.get(row).unwrap_or_default().into()
    }
    pub(crate) fn raw(&self, row: usize) -> &str {
        self.raws.get(row).unwrap_or_default()
    }
    pub(crate) fn header(&self, field: &'a str) -> &'a str {
        self.table.header_of(field)
    }
    /// Reject `row` at `field` with `reason`.
    pub(crate) fn reject(
        &self,
        sink: &mut RejectSink,
        row: usize,
        field: &'a str,
        reason: Reason,
        detail: Option<&str>,
    ) {
        sink.push_detail(
            self.line(row),
            Some(self.header(field).to_owned()),
            reason,
            self.get(field, row).unwrap_or_default(),
            detail,
            self.raw(row),
        );
    }
    /// The cell, or a `missing_value` reject.
    pub(crate) fn required(
        &self,
        sink: &mut RejectSink,
        row: usize,
        field: &'a str,
    ) -> Option<&str> {
        let v = self.get(field, row);
        if v.is_none() {
            self.reject(sink, row, field, Reason::MissingValue, None);
        }
        v
    }
    /// The cell read by `read`: `None` after a `missing_value` reject when the cell is empty, or
    /// after a `reason` reject (with `detail`) when `read` refuses it.
    pub(crate) fn parsed<'c, T>(
        &'c self,
        sink: &mut RejectSink,
        row: usize,
        field: &'a str,
        read: impl FnOnce(&'c str) -> Option<T>,
        reason: Reason,
        detail: Option<&str>,
    ) -> Option<T> {
        let value = read(self.required(sink, row, field)?);
        if value.is_none() {
            self.reject(sink, row, field, reason, detail);
        }
        value
    }
    /// The `period` cell read by `read`, or `None` after a reject: `missing_value`, or `bad_period`
    /// naming a month outside 1–12 or else the accepted `formats`.
    pub(crate) fn period<'c, T>(
        &'c self,
        sink: &mut RejectSink,
        row: usize,
        read: impl FnOnce(&'c str) -> Option<T>,
        formats: &str,
    ) -> Option<T> {
        let raw = self.required(sink, row, "period")?;
        let value = read(raw);
        if value.is_none() {
            let detail = crate::reject::period_detail(raw, formats);
            self.reject(sink, row, "period", Reason::BadPeriod, Some(&detail));
        }
        value
    }
    /// The `region_code` cell resolved to its reporting region, or `None` after a reject
    /// (`missing_value`, `unknown_region`).
    pub(crate) fn region<'r>(
        &self,
        sink: &mut RejectSink,
        row: usize,
        regions: &'r Regions,
    ) -> Option<&'r Region> {
        let resolve = |v| regions.resolve(v).ok();
        self.parsed(
            sink,
            row,
            "region_code",
            resolve,
            Reason::UnknownRegion,
            None,
        )
    }
    /// Whether the row is blank or a totals row; such a row is rejected at `field` as a
    /// `missing_value` ("blank or totals row").
    pub(crate) fn skip_blank_or_total(
        &self,
        sink: &mut RejectSink,
        row: usize,
        field: &'a str,
    ) -> bool {
        let skip = self.is_blank_or_total(row);
        if skip {
            self.reject(
                sink,
                row,
                field,
                Reason::MissingValue,
                Some("空行或合计行 / blank or totals row"),
            );
        }
        skip
    }
    /// Whether the row is blank or a totals row (合计/总计/小计) that people leave under a table.
    pub(crate) fn is_blank_or_total(&self, row: usize) -> bool {
        let cells: Vec<&str> = self
            .columns
            .iter()
            .filter_map(|(_, c)| c.get(row))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        cells.is_empty()
            || cells
                .iter()
                .any(|c| matches!(*c, "合计" | "总计" | "小计" | "Total" | "total" | "TOTAL"))
    }
}
