//! Retail-category statistics (社零), NBS style.
//!
//! NBS publishes January and February only as one combined figure (period `YYYY-02`, months covered
//! `1-2`), and often only cumulative Jan–N values. Where a month's own value is absent but the
//! cumulative values of it and the period before are present, the month is derived as their
//! difference and marked `derived_from_cumulative`. Year-on-year growth is never computed here: the
//! published YoY is on a comparable-unit basis and is authoritative (see data/SOURCES.md).

use homeseason_schema::category::Category;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use crate::Result;
use crate::frame_util::{Cells, perr};
use crate::parse;
use crate::reject::{Reason, RejectSink};
use crate::table::MappedTable;

/// Categories a retail-statistics row may carry.
pub const CATEGORIES: [&str; 6] = [
    "home_appliances",
    "furniture",
    "home_textiles",
    "building_materials",
    "total_retail",
    "above_quota_total",
];

fn category(raw: &str) -> Option<&'static str> {
    let t = raw.trim();
    if let Some(c) = CATEGORIES.iter().find(|c| **c == t) {
        return Some(c);
    }
    match t {
        "社会消费品零售总额" => Some("total_retail"),
        "限额以上单位消费品零售额" => Some("above_quota_total"),
        _ => Category::parse(t)
            .ok()
            .filter(|c| c.is_targeted())
            .map(|c| c.id()),
    }
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
}

fn number(
    cells: &Cells<'_>,
    sink: &mut RejectSink,
    row: usize,
    field: &'static str,
) -> Result<Option<f64>, ()> {
    match cells.get(field, row) {
        None => Ok(None),
        Some(v) => match parse::amount(v) {
            Some((n, _)) => Ok(Some(n)),
            None => {
                cells.reject(sink, row, field, Reason::BadNumber, None);
                Err(())
            }
        },
    }
}

/// Validate retail statistics rows and derive single months from cumulative values.
/// Returns (frame, accepted, duplicates).
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub fn stats(table: &MappedTable, sink: &mut RejectSink) -> Result<(DataFrame, usize, usize)> {
    let cells = Cells::new(table)?;
    let regions = Regions::embedded();
    let mut rows: Vec<Row> = Vec::new();
    let mut duplicates = 0;
    for r in 0..cells.len() {
        let Some(period_raw) = cells.required(sink, r, "period") else {
            continue;
        };
        let Some(p) = parse::period(period_raw).filter(|p| p.kind == parse::PeriodKind::Month)
        else {
            cells.reject(sink, r, "period", Reason::BadPeriod, Some("YYYY-MM"));
            continue;
        };
        let Some(months) = cells.required(sink, r, "months_covered") else {
            continue;
        };
        let months = parse::fold_width(months).replace(['–', '—', '~'], "-");
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
        let region = if matches!(region_raw, NATIONAL | "全国" | "national" | "China") {
            NATIONAL.to_owned()
        } else if let Ok(reg) = regions.resolve(region_raw) {
            reg.code.clone()
        } else {
            cells.reject(sink, r, "region_code", Reason::UnknownRegion, None);
            continue;
        };
        let Some(cat_raw) = cells.required(sink, r, "category") else {
            continue;
        };
        let Some(category) = category(cat_raw) else {
            cells.reject(
                sink,
                r,
                "category",
                Reason::UnknownCategory,
                Some(&CATEGORIES.join(" | ")),
            );
            continue;
        };
        let (Ok(value), Ok(yoy), Ok(cum), Ok(cum_yoy)) = (
            number(&cells, sink, r, "value"),
            number(&cells, sink, r, "yoy_pct"),
            number(&cells, sink, r, "cum_value"),
            number(&cells, sink, r, "cum_yoy_pct"),
        ) else {
            continue;
        };
        let Some(source) = cells.required(sink, r, "source") else {
            continue;
        };
        let period = p.start.format("%Y-%m").to_string();
        if rows
            .iter()
            .any(|x| x.period == period && x.region == region && x.category == category)
        {
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
        });
    }
    derive_months(&mut rows);
    let accepted = rows.len();
    let frame = df!(
        "period" => rows.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
        "months_covered" => rows.iter().map(|r| r.months.as_str()).collect::<Vec<_>>(),
        "region_code" => rows.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(),
        "category" => rows.iter().map(|r| r.category).collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "yoy_pct" => rows.iter().map(|r| r.yoy).collect::<Vec<_>>(),
        "cum_value" => rows.iter().map(|r| r.cum).collect::<Vec<_>>(),
        "cum_yoy_pct" => rows.iter().map(|r| r.cum_yoy).collect::<Vec<_>>(),
        "source" => rows.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(),
        "derivation" => rows.iter().map(|r| r.derivation).collect::<Vec<_>>(),
    )
    .map_err(perr(sink.file()))?;
    Ok((frame, accepted, duplicates))
}

/// Fill absent month values from cumulative ones: Jan–Feb = its cumulative; month N = cum(N) − cum(N−1).
fn derive_months(rows: &mut [Row]) {
    let lookup: std::collections::HashMap<(String, String, &'static str), Option<f64>> = rows
        .iter()
        .map(|r| ((r.period.clone(), r.region.clone(), r.category), r.cum))
        .collect();
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
            r.value = Some(((cum - prev_cum) * 10.0).round() / 10.0);
            r.derivation = "derived_from_cumulative";
        }
    }
}
