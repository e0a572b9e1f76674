//! Retail-category statistics (社零), NBS style.
//!
//! NBS publishes January and February only as one combined figure (period `YYYY-02`, months covered
//! `1-2`), and often only cumulative Jan–N values. Where a month's own value is absent but the
//! cumulative values of it and the period before are present, the month is derived as their
//! difference and marked `derived_from_cumulative` (within one file: the previous release must be in
//! the same file). Year-on-year growth is never computed here: the published YoY is on a
//! comparable-unit basis (同口径) and is authoritative — a ratio of published levels across years
//! misses it by several points for these categories (see data/SOURCES.md). YoY values pass through as
//! published.
//!
//! Forgiving: a table without a region column is national (`000000`); categories by id, NBS name
//! (家用电器和音像器材类) or any alias of the contract; the Jan–Feb release as `2023-02` with months
//! `1-2`, or written `2023年1-2月` / `2023-01~02`; levels in 亿元, or in 万元 / 元 when the cell or the
//! header says so (converted to 亿元). Strict: negative levels and unknown categories are rejected.

use homeseason_schema::category::Category;
use homeseason_schema::contract::tables;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use crate::Result;
use crate::frame_util::{Cells, perr};
use crate::parse::{self, Unit};
use crate::reject::{Reason, RejectSink};
use crate::source::Decoded;
use crate::table::{self, MappedTable, RAW};

/// Fields a retail table may leave out, with the value they take: no region column means national.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[("region_code", NATIONAL)];

/// Read retail-statistics CSV text like [`table::read_csv`], filling `region_code` = `000000` when the
/// file has no region column (a national table, as NBS publishes it).
///
/// # Errors
/// As [`table::read_csv`].
pub(crate) fn read_csv(decoded: &Decoded) -> Result<MappedTable> {
    let contract = homeseason_schema::contract::get(tables::RETAIL_STATS)
        .ok_or_else(|| crate::guidance::unknown_feed(&decoded.file, &[]))?;
    let frame = table::csv_text_frame(decoded)?;
    let has_region = frame.get_column_names().iter().any(|n| {
        contract
            .resolve_header(n.as_str())
            .is_some_and(|f| f.name == "region_code")
    });
    if has_region {
        return table::map_headers(frame, contract, &decoded.file, 2);
    }
    let marker = format!(",{NATIONAL}");
    let frame = frame
        .lazy()
        .with_column(lit(NATIONAL).alias("region_code"))
        .collect()
        .map_err(perr(&decoded.file))?;
    let mut mapped = table::map_headers(frame, contract, &decoded.file, 2)?;
    // The filled-in column is not part of the row as the file wrote it.
    mapped.frame = mapped
        .frame
        .lazy()
        .with_column(col(RAW).str().strip_suffix(lit(marker.as_str())))
        .collect()
        .map_err(perr(&decoded.file))?;
    for (field, header) in &mut mapped.headers {
        if field == "region_code" {
            *header = format!("region_code (default {NATIONAL})");
        }
    }
    Ok(mapped)
}

/// Categories a retail-statistics row may carry.
pub(crate) const CATEGORIES: [&str; 6] = [
    "home_appliances",
    "furniture",
    "home_textiles",
    "building_materials",
    "total_retail",
    "above_quota_total",
];

/// Map a category as written (id, NBS name, English name or a contract alias) to its id.
#[must_use]
pub(crate) fn category(raw: &str) -> Option<&'static str> {
    let t = parse::fold_width(raw);
    if let Some(c) = CATEGORIES.iter().find(|c| **c == t) {
        return Some(c);
    }
    let by_contract =
        homeseason_schema::contract::resolve_enum(tables::RETAIL_STATS, "category", &t);
    if let Some(id) = by_contract {
        return CATEGORIES.iter().find(|c| **c == id).copied();
    }
    match t.as_str() {
        "社会消费品零售总额" => Some("total_retail"),
        "限额以上单位消费品零售额" => Some("above_quota_total"),
        _ => Category::parse(&t)
            .ok()
            .filter(|c| c.is_targeted())
            .map(homeseason_schema::category::Category::id),
    }
}

/// The Jan–Feb release written as one period: `2023年1-2月`, `2023-01~02`, `2023年1—2月`, `2023-1-2`.
fn jan_feb(raw: &str) -> Option<i32> {
    let t = parse::fold_width(raw)
        .replace([' ', '月', '份'], "")
        .replace(['年', '/', '.', '~', '–', '—', '至'], "-");
    let (year, rest) = t.split_once('-')?;
    let year: i32 = year.parse().ok()?;
    matches!(rest, "1-2" | "01-02" | "01-2" | "1-02").then_some(year)
}

struct Row {
    period: String,
    months: String,
    region: String,
    category: &'static str,
    value: Option<f64>,
    yoy: Option<f64>,
    cum: Option<f64>,
    cum_yoy: Option<f64>,
    source: String,
    derivation: &'static str,
    /// Source line and raw text ([`crate::ORIGIN_LINE`], [`crate::ORIGIN_RAW`]).
    line: i64,
    raw: String,
}

/// A percentage as published (`-3.5`, `10.0`, `-3.5%`); the value is kept exactly as written.
fn percent(
    cells: &Cells<'_>,
    sink: &mut RejectSink,
    row: usize,
    field: &'static str,
) -> Result<Option<f64>, ()> {
    match cells.get(field, row) {
        None => Ok(None),
        Some(v) => match parse::fold_width(v)
            .trim_end_matches('%')
            .trim()
            .parse::<f64>()
        {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => {
                cells.reject(sink, row, field, Reason::BadNumber, None);
                Err(())
            }
        },
    }
}

/// A level in 亿元: a unit in the cell or the header (万元, 元) converts; negative levels are rejected.
fn level(
    cells: &Cells<'_>,
    sink: &mut RejectSink,
    row: usize,
    field: &'static str,
) -> Result<Option<f64>, ()> {
    let Some(v) = cells.get(field, row) else {
        return Ok(None);
    };
    let Some((n, unit)) = parse::amount(v) else {
        cells.reject(sink, row, field, Reason::BadNumber, None);
        return Err(());
    };
    if n < 0.0 {
        cells.reject(
            sink,
            row,
            field,
            Reason::BelowMinimum,
            Some("零售额不能为负 / a level cannot be negative"),
        );
        return Err(());
    }
    let unit = unit.or_else(|| Unit::in_header(cells.header(field)));
    let yi = match unit {
        None | Some(Unit::Yi) => n,
        Some(u) => n * u.factor() / Unit::Yi.factor(),
    };
    if let Some(max) = crate::contract_max(crate::Feed::RetailStats, field)
        && yi > max
    {
        let detail = format!("≤ {max} 亿元 / ≤ {max} × 100 million yuan");
        cells.reject(sink, row, field, Reason::AboveMaximum, Some(&detail));
        return Err(());
    }
    Ok(Some(yi))
}

/// Validate retail statistics rows and derive single months from cumulative values.
/// Returns (frame, accepted, duplicates): a row repeating an earlier one's key *and* values is a
/// duplicate; a key repeated with other values keeps both rows, for the lake to settle as a conflict.
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn stats(
    table: &MappedTable,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let cells = Cells::new(table)?;
    let regions = Regions::embedded();
    let mut rows: Vec<Row> = Vec::new();
    let mut duplicates = 0;
    for r in 0..cells.len() {
        // A month, or January–February together (`jf`: the year of a combined period).
        let month = |raw: &str| {
            let jf = jan_feb(raw);
            jf.and_then(|y| parse::period(&format!("{y}-02")))
                .or_else(|| parse::period(raw))
                .filter(|p| p.kind == parse::PeriodKind::Month)
                .map(|p| (p, jf))
        };
        let formats = "YYYY-MM（1–2月合并为 YYYY-02，Jan–Feb combined as YYYY-02）";
        let Some((p, jf)) = cells.period(sink, r, month, formats) else {
            continue;
        };
        let months = match (cells.get("months_covered", r), jf) {
            (None, Some(_)) => "1-2".to_owned(),
            (None, None) => {
                cells.reject(sink, r, "months_covered", Reason::MissingValue, None);
                continue;
            }
            (Some(m), _) => parse::fold_width(m)
                .replace(['–', '—', '~', '至'], "-")
                .replace(['月', ' '], ""),
        };
        let month_ok = months == "1-2" && chrono::Datelike::month(&p.start) == 2
            || months.parse::<u32>().ok() == Some(chrono::Datelike::month(&p.start));
        if !month_ok {
            cells.reject(
                sink,
                r,
                "months_covered",
                Reason::BadEnum,
                Some("\"1-2\" for Jan–Feb, else the month number"),
            );
            continue;
        }
        let Some(region_raw) = cells.required(sink, r, "region_code") else {
            continue;
        };
        let national = matches!(
            parse::fold_width(region_raw).to_lowercase().as_str(),
            NATIONAL | "全国" | "全国合计" | "national" | "china" | "中国"
        );
        let region = if national {
            NATIONAL.to_owned()
        } else if let Ok(reg) = regions.resolve(region_raw) {
            reg.code.clone()
        } else {
            cells.reject(sink, r, "region_code", Reason::UnknownRegion, None);
            continue;
        };
        let Some(category) = cells.parsed(
            sink,
            r,
            "category",
            category,
            Reason::UnknownCategory,
            Some(&CATEGORIES.join(" | ")),
        ) else {
            continue;
        };
        let Ok(value) = level(&cells, sink, r, "value_100m_yuan") else {
            continue;
        };
        let Ok(yoy) = percent(&cells, sink, r, "yoy_pct") else {
            continue;
        };
        let Ok(cum) = level(&cells, sink, r, "cum_value_100m_yuan") else {
            continue;
        };
        let Ok(cum_yoy) = percent(&cells, sink, r, "cum_yoy_pct") else {
            continue;
        };
        let Some(source) = cells.required(sink, r, "source") else {
            continue;
        };
        let period = p.start.format("%Y-%m").to_string();
        // A repeat with the same values is a duplicate; with other values both rows go on, and
        // the lake settles the conflict by its policy (both rows in `rejects`).
        if rows.iter().any(|x| {
            x.period == period
                && x.region == region
                && x.category == category
                && x.months == months
                && x.value == value
                && x.yoy == yoy
                && x.cum == cum
                && x.cum_yoy == cum_yoy
                && x.source == source
        }) {
            duplicates += 1;
            continue;
        }
        rows.push(Row {
            period,
            months,
            region,
            category,
            value,
            yoy,
            cum,
            cum_yoy,
            source: source.to_owned(),
            derivation: "published",
            line: i64::try_from(cells.line(r)).unwrap_or(i64::MAX),
            raw: cells.raw(r).to_owned(),
        });
    }
    derive_months(&mut rows);
    let accepted = rows.len();
    let frame = df!(
        "period" => rows.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
        "months_covered" => rows.iter().map(|r| r.months.as_str()).collect::<Vec<_>>(),
        "region_code" => rows.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(),
        "category" => rows.iter().map(|r| r.category).collect::<Vec<_>>(),
        "value_100m_yuan" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "yoy_pct" => rows.iter().map(|r| r.yoy).collect::<Vec<_>>(),
        "cum_value_100m_yuan" => rows.iter().map(|r| r.cum).collect::<Vec<_>>(),
        "cum_yoy_pct" => rows.iter().map(|r| r.cum_yoy).collect::<Vec<_>>(),
        "source" => rows.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(),
        "derivation" => rows.iter().map(|r| r.derivation).collect::<Vec<_>>(),
        crate::ORIGIN_LINE => rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        crate::ORIGIN_RAW => rows.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
    )
    .map_err(perr(sink.file()))?;
    Ok((frame, accepted, duplicates))
}

/// Fill absent month values from cumulative ones: Jan–Feb = its cumulative; month N = cum(N) − cum(N−1).
fn derive_months(rows: &mut [Row]) {
    // A key the file repeats with other values (a conflict the lake settles): the first row's
    // cumulative value is the one months are derived from.
    let mut lookup: std::collections::HashMap<(String, String, &'static str), Option<f64>> =
        std::collections::HashMap::new();
    for r in &*rows {
        lookup
            .entry((r.period.clone(), r.region.clone(), r.category))
            .or_insert(r.cum);
    }
    for r in rows.iter_mut().filter(|r| r.value.is_none()) {
        let Some(cum) = r.cum else { continue };
        if r.months == "1-2" {
            r.value = Some(cum);
            r.derivation = "derived_from_cumulative";
            continue;
        }
        let (y, m) = (
            r.period[..4].to_owned(),
            r.period[5..].parse::<u32>().unwrap_or(0),
        );
        if m <= 2 {
            continue;
        }
        let prev = if m == 3 {
            format!("{y}-02")
        } else {
            format!("{y}-{:02}", m - 1)
        };
        if let Some(Some(prev_cum)) = lookup.get(&(prev, r.region.clone(), r.category)) {
            // Rounded to 10⁻⁸ 亿元 (one yuan): removes the binary noise of the subtraction
            // (180.7 − 120.5 = 60.199999…) without cutting digits a 万元 / 元 table carries.
            r.value = Some(((cum - prev_cum) * 1e8).round() / 1e8);
            r.derivation = "derived_from_cumulative";
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(period: &str, months: &str, value: Option<f64>, cum: Option<f64>) -> Row {
        Row {
            period: period.to_owned(),
            months: months.to_owned(),
            region: "330000".to_owned(),
            category: "home_appliances",
            value,
            yoy: None,
            cum,
            cum_yoy: Some(4.0),
            source: "test".to_owned(),
            derivation: "published",
            line: 2,
            raw: String::new(),
        }
    }

    #[test]
    fn months_come_from_cumulative_values_only_where_absent() {
        let mut rows = vec![
            row("2023-02", "1-2", None, Some(120.5)),
            row("2023-03", "3", None, Some(180.7)),
            row("2023-04", "4", Some(70.0), Some(250.7)),
            // No cumulative for May: June cannot be derived.
            row("2023-06", "6", None, Some(400.123_456_78)),
            row("2023-07", "7", None, Some(470.123_456_79)),
        ];
        derive_months(&mut rows);
        let got: Vec<(Option<f64>, &str)> = rows.iter().map(|r| (r.value, r.derivation)).collect();
        assert_eq!(
            got,
            vec![
                (Some(120.5), "derived_from_cumulative"),
                (Some(60.2), "derived_from_cumulative"),
                (Some(70.0), "published"),
                (None, "published"),
                // Digits below 0.1 亿元 (a 万元 / 元 table's) survive the subtraction.
                (Some(70.000_000_01), "derived_from_cumulative"),
            ]
        );
        // YoY is never filled in.
        assert!(rows.iter().all(|r| r.yoy.is_none()));
    }

    #[test]
    fn jan_feb_spellings() {
        for s in [
            "2023年1-2月",
            "2023-01~02",
            "2023年1—2月",
            "2023-1-2",
            "２０２３年１－２月",
        ] {
            assert_eq!(jan_feb(s), Some(2023), "{s}");
        }
        assert_eq!(jan_feb("2023-03"), None);
        assert_eq!(category("家用电器和音像器材类"), Some("home_appliances"));
        assert_eq!(category("家具类"), Some("furniture"));
        assert_eq!(category("床垫"), None);
    }
}
