//! Subsidies and consumption vouchers (补贴/消费券) the regions pay out.
//!
//! One row per region (and, optionally, prefecture-level city) × category × period × instrument ×
//! funding source, with the amount paid out and the count redeemed. Read like the other liaison
//! feeds — Chinese or English headers, region as code / name / pinyin, a prefecture-level or county
//! code rolling up to its region (the prefecture kept in `city_code`), amounts in 元 / 万元 / 亿元
//! from the header's brackets or after the number, periods as ISO week, month or date range (a
//! `period` column, or `period_start` and `period_end`) — and strict in what it accepts: an
//! instrument the campaign does not list ([`Campaign::instruments`]), a funding source outside
//! 中央/省级/市级/企业, an amount with no unit, a negative amount or a count that is not a whole
//! number is rejected with file, row, column and reason, never guessed.
//!
//! Values are read by the `enum_aliases` of `data-schemas/subsidies.json` (instrument and funding
//! source) and the campaign's instrument names, so a spelling added to either is understood here.

use homeseason_schema::campaign::{Campaign, Instrument};
use homeseason_schema::contract::{self, tables};
use homeseason_schema::region::{Region, Regions};
use polars::prelude::*;

use crate::Result;
use crate::frame_util::{Cells, perr};
use crate::parse::{self, Period, PeriodKind, Unit};
use crate::reject::{Reason, RejectSink};
use crate::row_tail::RowTail;
use crate::table::MappedTable;

#[derive(Default)]
struct Rows {
    region: Vec<String>,
    city: Vec<Option<String>>,
    category: Vec<&'static str>,
    period: Vec<String>,
    instrument: Vec<String>,
    funding: Vec<String>,
    amount: Vec<f64>,
    count: Vec<i64>,
    notes: Vec<Option<String>>,
    /// Period bounds, source line and raw text of each row.
    tail: RowTail,
}

/// The contract's canonical value for `field` of `subsidies` (value or one of its aliases).
fn contract_enum(field: &str, raw: &str) -> Option<&'static str> {
    contract::resolve_enum(tables::SUBSIDIES, field, raw)
}

/// Fold a value for comparison: width, case and spaces.
fn fold(s: &str) -> String {
    parse::fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Map an instrument as written to the id of one of `instruments`: its id, Chinese or English
/// name, or an `enum_aliases` spelling of the id in the contract.
#[must_use]
pub(crate) fn instrument(raw: &str, instruments: &[Instrument]) -> Option<String> {
    let key = fold(raw);
    if key.is_empty() {
        return None;
    }
    if let Some(i) = instruments
        .iter()
        .find(|i| fold(&i.id) == key || fold(&i.name_zh) == key || fold(&i.name_en) == key)
    {
        return Some(i.id.clone());
    }
    let id = contract_enum("instrument", raw)?;
    instruments
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.id.clone())
}

/// A prefecture-level city code inside `region`: the prefecture of a 6-digit prefecture or county
/// code (`330102` → `330100`), `None` for the region's own code, a plan city's codes (the plan city
/// is the region) and the Corps'.
fn prefecture_of(code: &str, region: &Region) -> Option<String> {
    let code = parse::fold_width(code);
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let city = format!("{}00", &code[..4]);
    (city != region.code && !city.ends_with("0000") && region.code != "XPCC").then_some(city)
}

/// The period of a row: its `period` cell, or its `period_start` and `period_end` cells as a range;
/// `None` after a reject.
fn period_of(cells: &Cells<'_>, sink: &mut RejectSink, row: usize) -> Option<Period> {
    let formats = "2023-W37 | 2023-09 | 2023-09-01~2023-09-03";
    let given = (cells.get("period_start", row), cells.get("period_end", row));
    let range = |sink: &mut RejectSink| -> Option<Option<Period>> {
        match given {
            (None, None) => Some(None),
            (Some(_), None) | (None, Some(_)) => {
                let field = if given.0.is_none() {
                    "period_start"
                } else {
                    "period_end"
                };
                cells.reject(
                    sink,
                    row,
                    field,
                    Reason::MissingValue,
                    Some("起始日期与截止日期须同时填写 / give both the start and the end date"),
                );
                None
            }
            (Some(_), Some(_)) => {
                let date = |sink: &mut RejectSink, field| {
                    cells.parsed(
                        sink,
                        row,
                        field,
                        parse::date,
                        Reason::BadDate,
                        Some("YYYY-MM-DD"),
                    )
                };
                let start = date(sink, "period_start")?;
                let end = date(sink, "period_end")?;
                if start > end {
                    cells.reject(sink, row, "period_end", Reason::BadDateRange, None);
                    return None;
                }
                Some(Some(Period {
                    kind: PeriodKind::Range,
                    start,
                    end,
                }))
            }
        }
    };
    let range = range(sink)?;
    if cells.get("period", row).is_none()
        && let Some(p) = range
    {
        return Some(p);
    }
    if cells.get("period", row).is_none() {
        cells.reject(
            sink,
            row,
            "period",
            Reason::MissingValue,
            Some("请填写统计期，或同时填写起始日期与截止日期 / give the period, or both the start and the end date"),
        );
        return None;
    }
    let period = cells.period(sink, row, parse::period, formats)?;
    if let Some(r) = range
        && (r.start, r.end) != (period.start, period.end)
    {
        let detail = format!(
            "统计期为 {}~{}，起始/截止日期为 {}~{}，二者矛盾 / the period is {}~{} but the start and end dates say {}~{}",
            period.start, period.end, r.start, r.end, period.start, period.end, r.start, r.end
        );
        cells.reject(sink, row, "period", Reason::BadDateRange, Some(&detail));
        return None;
    }
    Some(period)
}

/// The amount paid out in yuan, `None` after a reject: a number with a unit after it or in the
/// header's brackets (contradicting units, no unit, a negative amount or one above the contract's
/// maximum are rejected).
fn amount_of(
    cells: &Cells<'_>,
    sink: &mut RejectSink,
    row: usize,
    header_unit: Option<Unit>,
) -> Option<f64> {
    const FIELD: &str = "amount_paid_yuan";
    let raw = cells.required(sink, row, FIELD)?;
    let Some((value, cell_unit)) = parse::amount(raw) else {
        cells.reject(sink, row, FIELD, Reason::BadNumber, None);
        return None;
    };
    if value < 0.0 {
        cells.reject(
            sink,
            row,
            FIELD,
            Reason::BelowMinimum,
            Some("发放金额不能为负 / the amount paid out cannot be negative"),
        );
        return None;
    }
    if let (Some(c), Some(h)) = (cell_unit, header_unit)
        && c != h
    {
        let (c, h) = (c.zh(), h.zh());
        let detail = format!(
            "金额写明“{c}”，表头单位为“{h}”，二者矛盾 / the amount says {c} but the header says {h}"
        );
        cells.reject(sink, row, FIELD, Reason::BadUnit, Some(&detail));
        return None;
    }
    let Some(unit) = cell_unit.or(header_unit) else {
        cells.reject(
            sink,
            row,
            FIELD,
            Reason::BadUnit,
            Some("未注明单位：请在表头注明，如“发放金额（元）”或“发放金额（万元）” / no unit given: name it in the header, e.g. 发放金额（元） or 发放金额（万元）"),
        );
        return None;
    };
    let yuan = value * unit.factor();
    if let Some(max) = crate::contract_max(crate::Feed::Subsidies, FIELD)
        && yuan > max
    {
        let detail = format!("≤ {max} 元 / ≤ {max} yuan");
        cells.reject(sink, row, FIELD, Reason::AboveMaximum, Some(&detail));
        return None;
    }
    Some(yuan)
}

/// Validate and normalise subsidy rows against the campaign's instruments. Returns (frame,
/// accepted, duplicates): a row repeating an earlier one's key and values is a duplicate; a key
/// repeated with other values keeps both rows, for the lake to settle as a conflict.
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn subsidies(
    table: &MappedTable,
    campaign: &Campaign,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let cells = Cells::new(table)?;
    let header_unit = Unit::in_header(table.header_of("amount_paid_yuan"));
    let regions = Regions::embedded();
    let instruments = campaign.instruments();
    let instrument_list = format!(
        "可选：{} / one of: {}",
        instruments
            .iter()
            .map(|i| i.name_zh.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        instruments
            .iter()
            .map(|i| format!("{} ({})", i.id, i.name_en))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let mut out = Rows::default();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0;
    for row in 0..cells.len() {
        if cells.skip_blank_or_total(sink, row, "region_code") {
            continue;
        }
        let Some(region) = cells.region(sink, row, regions) else {
            continue;
        };
        let from_region = cells
            .get("region_code", row)
            .and_then(|raw| prefecture_of(raw, region));
        let city = match cells.get("city_code", row) {
            None => from_region,
            Some(raw) => {
                let in_region = regions
                    .roll_up(&parse::fold_width(raw))
                    .is_ok_and(|r| r.code == region.code);
                let Some(city) = prefecture_of(raw, region).filter(|_| in_region) else {
                    let detail = format!(
                        "应为{}下辖地级市的 6 位行政区划代码 / a 6-digit code of a prefecture-level city in {}",
                        region.name_zh, region.name_en
                    );
                    cells.reject(sink, row, "city_code", Reason::BadPattern, Some(&detail));
                    continue;
                };
                if from_region.as_ref().is_some_and(|c| *c != city) {
                    cells.reject(
                        sink,
                        row,
                        "city_code",
                        Reason::BadPattern,
                        Some("地市代码与地区一列的代码不一致 / the city code differs from the code in the region column"),
                    );
                    continue;
                }
                Some(city)
            }
        };
        let Some(category) = cells.parsed(
            sink,
            row,
            "category",
            crate::enterprise::category,
            Reason::UnknownCategory,
            Some("家电 | 家具 | 家纺 | 建材家装"),
        ) else {
            continue;
        };
        let Some(period) = period_of(&cells, sink, row) else {
            continue;
        };
        let Some(instrument) = cells.parsed(
            sink,
            row,
            "instrument",
            |raw| instrument(raw, &instruments),
            Reason::BadEnum,
            Some(&instrument_list),
        ) else {
            continue;
        };
        let Some(funding) = cells.parsed(
            sink,
            row,
            "funding_source",
            |raw| contract_enum("funding_source", raw),
            Reason::BadEnum,
            Some("可选：中央 | 省级 | 市级 | 企业 / one of: central | provincial | city | enterprise"),
        ) else {
            continue;
        };
        let Some(yuan) = amount_of(&cells, sink, row, header_unit) else {
            continue;
        };
        let Some(count) = cells.parsed(
            sink,
            row,
            "redeemed_count",
            |raw| match parse::amount(raw) {
                Some((n, None)) if n >= 0.0 && n.fract() == 0.0 && n < 9.0e15 => Some(n as i64),
                _ => None,
            },
            Reason::BadNumber,
            Some("非负整数 / a whole number ≥ 0"),
        ) else {
            continue;
        };
        let notes = cells.get("notes", row).map(str::to_owned);
        let key = (
            region.code.clone(),
            city.clone(),
            category,
            period.canonical(),
            instrument.clone(),
            funding,
        );
        // A repeat with the same values is a duplicate; with other values both rows go on, and
        // the lake settles the conflict by its policy (both rows in `rejects`).
        if !seen.insert((key, yuan.to_bits(), count, notes.clone())) {
            duplicates += 1;
            continue;
        }
        out.region.push(region.code.clone());
        out.city.push(city);
        out.category.push(category.id());
        out.period.push(period.canonical());
        out.instrument.push(instrument);
        out.funding.push(funding.to_owned());
        out.amount.push(yuan);
        out.count.push(count);
        out.notes.push(notes);
        out.tail.push(&period, &cells, row);
    }
    let accepted = out.region.len();
    let frame = df!(
        "region_code" => out.region,
        "city_code" => out.city,
        "category" => out.category,
        "period" => out.period,
        "instrument" => out.instrument,
        "funding_source" => out.funding,
        "amount_paid_yuan" => out.amount,
        "redeemed_count" => out.count,
        "notes" => out.notes,
    )
    .and_then(|frame| out.tail.append_to(frame))
    .map_err(perr(sink.file()))?;
    Ok((frame, accepted, duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Feed, ingest_bytes};
    use homeseason_test_support::str_at;

    fn ingest(text: &str) -> crate::FileOutcome {
        ingest_bytes(
            Feed::Subsidies,
            "subsidies_330000.csv",
            text.as_bytes(),
            &Campaign::default_2023(),
        )
        .unwrap()
    }

    fn reasons(out: &crate::FileOutcome) -> Vec<(i64, String, String)> {
        let r = &out.rejects.to_frame().unwrap();
        let line = r.column("line").unwrap().i64().unwrap().clone();
        let col = r.column("column").unwrap().str().unwrap().clone();
        let why = r.column("reason").unwrap().str().unwrap().clone();
        (0..r.height())
            .map(|i| {
                (
                    line.get(i).unwrap(),
                    col.get(i).unwrap_or_default().to_owned(),
                    why.get(i).unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn reads_chinese_headers_units_periods_and_cities() {
        let text = "地区,地市,品类,统计期,补贴方式,资金来源,发放金额（万元）,核销数量,备注\n\
                    浙江,,家电,2023-W37,以旧换新,省级,12.5,830,\n\
                    330100,,家具,2023-09-01~2023-09-03,消费券,市级,\"0.12万元\",40,满减券\n\
                    宁波,,建材,2023年9月,分期贴息,企业,3,12,\n\
                    Zhejiang,330300,家纺,2023-W38,Consumption voucher,中央,0.5,25,\n\
                    浙江,,家电,2023-W39,消费券,省级,\"1,200元\",40,\n";
        let out = ingest(text);
        // The last row's 元 contradicts the header's 万元: rejected, not guessed.
        assert_eq!(
            reasons(&out),
            [(6, "发放金额（万元）".to_owned(), "bad_unit".to_owned())]
        );
        assert_eq!(out.report.accepted, 4);
        let rows = &out.rows;
        let col = |n: &str| rows.column(n).unwrap().clone();
        let text = |n: &str| -> Vec<Option<String>> {
            let c = col(n);
            c.str()
                .unwrap()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect()
        };
        let some = |n: &str| -> Vec<String> { text(n).into_iter().flatten().collect() };
        let amounts: Vec<f64> = col("amount_paid_yuan")
            .f64()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(amounts, [125_000.0, 1_200.0, 30_000.0, 5_000.0]);
        assert_eq!(
            some("region_code"),
            ["330000", "330000", "330200", "330000"]
        );
        assert_eq!(
            text("city_code"),
            [
                None,
                Some("330100".to_owned()),
                None,
                Some("330300".to_owned())
            ]
        );
        assert_eq!(
            some("instrument"),
            ["trade_in", "voucher", "instalment_interest", "voucher"]
        );
        assert_eq!(
            some("period"),
            ["2023-W37", "2023-09-01~2023-09-03", "2023-09", "2023-W38"]
        );
        assert_eq!(col("redeemed_count").dtype(), &DataType::Int64);
    }

    #[test]
    fn a_range_in_two_columns_is_a_period() {
        let text = "region,category,instrument,funding source,amount paid (yuan),count redeemed,start date,end date\n\
                    330000,home_appliances,voucher,central,100,1,2023-09-01,2023-09-03\n\
                    330000,home_appliances,voucher,central,100,1,2023-09-05,2023-09-03\n\
                    330000,home_appliances,voucher,central,100,1,2023-09-05,\n";
        let out = ingest(text);
        assert_eq!(out.report.accepted, 1);
        let r = reasons(&out);
        assert_eq!(
            r[0],
            (3, "end date".to_owned(), "bad_date_range".to_owned())
        );
        assert_eq!(r[1], (4, "end date".to_owned(), "missing_value".to_owned()));
        let p = out.rows.column("period").unwrap().str().unwrap().get(0);
        assert_eq!(p, Some("2023-09-01~2023-09-03"));
    }

    #[test]
    fn bad_rows_are_rejected_with_their_column_and_reason() {
        let text = "地区,品类,统计期,补贴方式,资金来源,发放金额,核销数量\n\
                    浙江,家电,2023-W37,以旧换新,省级,100元,1\n\
                    火星,家电,2023-W37,以旧换新,省级,100元,1\n\
                    浙江,汽车,2023-W37,以旧换新,省级,100元,1\n\
                    浙江,家电,2023-13,以旧换新,省级,100元,1\n\
                    浙江,家电,2023-W37,抽奖,省级,100元,1\n\
                    浙江,家电,2023-W37,以旧换新,外资,100元,1\n\
                    浙江,家电,2023-W37,以旧换新,省级,100,1\n\
                    浙江,家电,2023-W37,以旧换新,省级,-100元,1\n\
                    浙江,家电,2023-W37,以旧换新,省级,100元,1.5\n\
                    浙江,家电,2023-W37,以旧换新,省级,100元,1\n\
                    合计,,,,,500元,5\n";
        let out = ingest(text);
        assert_eq!(out.report.accepted, 1);
        assert_eq!(out.report.duplicates, 1);
        assert!(out.report.balanced());
        let got: Vec<(i64, String)> = reasons(&out)
            .into_iter()
            .map(|(l, _, why)| (l, why))
            .collect();
        let want = [
            (3, "unknown_region"),
            (4, "unknown_category"),
            (5, "bad_period"),
            (6, "bad_enum"),
            (7, "bad_enum"),
            (8, "bad_unit"),
            (9, "below_minimum"),
            (10, "bad_number"),
            (12, "missing_value"),
        ];
        assert_eq!(
            got,
            want.map(|(l, w)| (l, w.to_owned())).to_vec(),
            "{:?}",
            out.rejects
        );
        // Messages whole in Chinese and in English, naming file, line and column.
        let zh = str_at(&out.rejects.to_frame().unwrap(), "message_zh", 4);
        let en = str_at(&out.rejects.to_frame().unwrap(), "message_en", 4);
        assert!(
            zh.contains("subsidies_330000.csv")
                && zh.contains("第 7 行")
                && zh.contains("资金来源"),
            "{zh}"
        );
        assert!(
            en.contains("line 7") && en.contains("value \"外资\""),
            "{en}"
        );
        let en = str_at(&out.rejects.to_frame().unwrap(), "message_en", 3);
        assert!(en.contains("one of: voucher (Consumption voucher)"), "{en}");
    }

    #[test]
    fn a_city_outside_the_region_is_rejected() {
        let text = "地区,地市代码,品类,统计期,补贴方式,资金来源,发放金额（元）,核销数量\n\
                    浙江,320100,家电,2023-W37,消费券,市级,100,1\n\
                    330100,330300,家电,2023-W37,消费券,市级,100,1\n\
                    浙江,330102,家电,2023-W37,消费券,市级,100,1\n";
        let out = ingest(text);
        assert_eq!(out.report.accepted, 1, "{:?}", reasons(&out));
        let city = out.rows.column("city_code").unwrap().str().unwrap().get(0);
        assert_eq!(city, Some("330100"));
        let r = reasons(&out);
        assert_eq!(r[0].2, "bad_pattern");
        assert_eq!(r[1].2, "bad_pattern");
    }

    #[test]
    fn instruments_follow_the_campaign() {
        let base = Campaign::default_2023();
        let all = base.instruments();
        assert_eq!(instrument("以旧换新", &all).as_deref(), Some("trade_in"));
        assert_eq!(instrument(" 消费券 ", &all).as_deref(), Some("voucher"));
        assert_eq!(instrument("TRADE-IN", &all).as_deref(), Some("trade_in"));
        assert_eq!(
            instrument("贴息", &all).as_deref(),
            Some("instalment_interest")
        );
        assert_eq!(instrument("抽奖", &all), None);
        // A campaign listing only vouchers refuses trade-in rows.
        let only = vec![all[0].clone()];
        assert_eq!(instrument("以旧换新", &only), None);
        assert_eq!(instrument("消费券", &only).as_deref(), Some("voucher"));
    }
}
