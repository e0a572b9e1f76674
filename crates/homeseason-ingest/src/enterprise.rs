//! Key-enterprise sales reports (重点企业销售数据).
//!
//! Forgiving in what it understands — Chinese or English headers, region as code / name / short name /
//! pinyin, 元 / 万元 / 亿元 in the unit column, in the header or in the cell, thousands separators and
//! full-width digits, periods as month, ISO week or date range — and strict in what it accepts: the
//! unified social credit code must carry its GB 32100-2015 check character, and the message names the
//! expected one; a unit written in the cell that contradicts the unit column, or a unit column that
//! contradicts the unit in the header, is rejected rather than guessed.
//!
//! Optional `subcategory` (建材细分品类: 陶瓷, 卫浴, 门窗, 地板, 照明, 管材; building materials only) and
//! `theme_tags` (绿色, 智能, 适老化; see [`homeseason_schema::theme`]) are read when the file has
//! them; a file without them is as valid as before.
//!
//! Values (category, unit, channel) are read by the feed's own rules first, then by the `enum_aliases`
//! of `data-schemas/enterprise_sales.json`, so a spelling added to the contract is understood here.

use homeseason_schema::category::Category;
use homeseason_schema::contract::{self, tables};
use homeseason_schema::region::Regions;
use homeseason_schema::theme::{Subcategory, Theme};
use homeseason_schema::uscc;
use polars::prelude::*;

use crate::Result;
use crate::frame_util::{Cells, perr};
use crate::parse::{self, Unit};
use crate::reject::{Reason, RejectSink};
use crate::row_tail::RowTail;
use crate::table::MappedTable;

#[derive(Default)]
struct Rows {
    uscc: Vec<String>,
    name: Vec<String>,
    region: Vec<String>,
    category: Vec<&'static str>,
    period: Vec<String>,
    amount: Vec<f64>,
    unit: Vec<&'static str>,
    channel: Vec<&'static str>,
    brand: Vec<Option<String>>,
    subcategory: Vec<Option<&'static str>>,
    themes: Vec<Option<String>>,
    /// Period bounds, source line and raw text of each row.
    tail: RowTail,
}

/// The contract's canonical value for `field` of `enterprise_sales` (value or one of its aliases).
fn contract_enum(field: &str, raw: &str) -> Option<&'static str> {
    contract::resolve_enum(tables::ENTERPRISE_SALES, field, raw)
}

/// Parse a channel: 线上 / 线下 / 全部 (and English, and the contract's aliases); blank means all.
#[must_use]
pub(crate) fn channel(raw: Option<&str>) -> Option<&'static str> {
    match raw.map(|s| parse::fold_width(s).to_lowercase()).as_deref() {
        None | Some("全部" | "all" | "合计" | "线上+线下" | "线上线下" | "") => {
            Some("all")
        }
        Some("线上" | "online" | "网上" | "电商") => Some("online"),
        Some("线下" | "offline" | "门店" | "实体") => Some("offline"),
        Some(other) => match contract_enum("channel", other)? {
            "online" => Some("online"),
            "offline" => Some("offline"),
            "all" => Some("all"),
            _ => None,
        },
    }
}

/// Parse a unit: 元 / 万元 / 亿元 and their English and contract spellings.
#[must_use]
pub(crate) fn unit(raw: &str) -> Option<Unit> {
    Unit::parse(raw).or_else(|| match contract_enum("source_unit", raw)? {
        "元" => Some(Unit::Yuan),
        "万元" => Some(Unit::Wan),
        "亿元" => Some(Unit::Yi),
        _ => None,
    })
}

/// Parse a category: id, Chinese or English name, or a contract alias.
#[must_use]
pub(crate) fn category(raw: &str) -> Option<Category> {
    Category::parse(&parse::fold_width(raw))
        .ok()
        .or_else(|| Category::parse(contract_enum("category", raw)?).ok())
}

/// Parse a building-materials subcategory: id, Chinese name or an alias (the schema's and the
/// contract's).
#[must_use]
pub(crate) fn subcategory(raw: &str) -> Option<Subcategory> {
    Subcategory::parse(raw).or_else(|| Subcategory::parse(contract_enum("subcategory", raw)?))
}

/// Parse theme tags (`绿色、智能`, `green;smart` …): the stored `;`-joined ids, `None` for none; the
/// first item that is not a theme as the error.
fn theme_tags(raw: &str) -> std::result::Result<Option<String>, String> {
    let themes = Theme::parse_list(raw).or_else(|bad| {
        // A spelling only the contract knows (an alias added there).
        let mut out = Vec::new();
        for part in raw
            .split([';', '；', ',', '，', '、', '/', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let t = Theme::parse(part)
                .or_else(|| Theme::parse(contract_enum("theme_tags", part)?))
                .ok_or_else(|| part.to_owned())?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() { Err(bad) } else { Ok(out) }
    })?;
    Ok((!themes.is_empty()).then(|| Theme::join(&themes)))
}

/// Validate and normalise enterprise sales rows. Returns (frame, accepted, duplicates): a row
/// repeating an earlier one's key and values is a duplicate; a key repeated with other values keeps
/// both rows, for the lake to settle as a conflict.
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn sales(
    table: &MappedTable,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let cells = Cells::new(table)?;
    let header_unit = Unit::in_header(table.header_of("sales_amount_yuan"));
    let regions = Regions::embedded();
    let mut out = Rows::default();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0;
    for row in 0..cells.len() {
        if cells.skip_blank_or_total(sink, row, "uscc") {
            continue;
        }
        let Some(code) = cells.required(sink, row, "uscc") else {
            continue;
        };
        let code = parse::fold_width(code).to_uppercase();
        if let Err(e) = uscc::validate(&code) {
            cells.reject(sink, row, "uscc", Reason::BadUscc, Some(&e.to_string()));
            continue;
        }
        let Some(name) = cells.required(sink, row, "enterprise_name") else {
            continue;
        };
        if unit(name).is_some() {
            // A `单位` column holding 元 / 万元 in a file without another unit column.
            cells.reject(
                sink,
                row,
                "enterprise_name",
                Reason::BadUnit,
                Some(
                    "企业名称一列的值是金额单位；若这一列是金额单位，请将表头改为“金额单位”，并加上企业名称列 / the enterprise-name column holds a unit of amounts; if this column is the unit, name its header 金额单位 and add a column of enterprise names",
                ),
            );
            continue;
        }
        let Some(region) = cells.region(sink, row, regions) else {
            continue;
        };
        let Some(category) = cells.parsed(
            sink,
            row,
            "category",
            category,
            Reason::UnknownCategory,
            Some("家电 | 家具 | 家纺 | 建材家装"),
        ) else {
            continue;
        };
        let formats = "2023-09 | 2023年9月 | 2023-W37 | 2023-09-01~2023-09-30";
        let Some(period) = cells.period(sink, row, parse::period, formats) else {
            continue;
        };
        let Some(amount_raw) = cells.required(sink, row, "sales_amount_yuan") else {
            continue;
        };
        let Some((value, cell_unit)) = parse::amount(amount_raw) else {
            cells.reject(sink, row, "sales_amount_yuan", Reason::BadNumber, None);
            continue;
        };
        if value < 0.0 {
            cells.reject(
                sink,
                row,
                "sales_amount_yuan",
                Reason::BelowMinimum,
                Some("销售额不能为负 / sales cannot be negative"),
            );
            continue;
        }
        let column_unit = match cells.get("source_unit", row) {
            Some(u) => {
                if let Some(u) = unit(u) {
                    Some(u)
                } else {
                    cells.reject(
                        sink,
                        row,
                        "source_unit",
                        Reason::BadUnit,
                        Some("元 | 万元 | 亿元"),
                    );
                    continue;
                }
            }
            None => None,
        };
        // The unit column contradicting the amount's own unit, or (when the amount has none) the
        // header's: (where the other unit is written, in Chinese and English; that unit; the column's).
        let contradiction = match (cell_unit, column_unit, header_unit) {
            (Some(c), Some(u), _) if c != u => Some(("销售额写明", "amount", c, u)),
            (None, Some(u), Some(h)) if u != h => Some(("表头单位为", "header", h, u)),
            _ => None,
        };
        if let Some((where_zh, where_en, said, column)) = contradiction {
            let (said, column) = (said.zh(), column.zh());
            let detail = format!(
                "{where_zh}“{said}”，单位列为“{column}”，二者矛盾 / the {where_en} says {said} but the unit column says {column}"
            );
            cells.reject(sink, row, "source_unit", Reason::BadUnit, Some(&detail));
            continue;
        }
        let Some(unit) = cell_unit.or(column_unit).or(header_unit) else {
            cells.reject(
                sink,
                row,
                "sales_amount_yuan",
                Reason::BadUnit,
                Some("未注明单位（元/万元/亿元），请填写“金额单位”列 / no unit given: fill the unit column (元/万元/亿元)"),
            );
            continue;
        };
        let yuan = value * unit.factor();
        if let Some(max) = crate::contract_max(crate::Feed::EnterpriseSales, "sales_amount_yuan")
            && yuan > max
        {
            let detail = format!("≤ {max} 元 / ≤ {max} yuan");
            cells.reject(
                sink,
                row,
                "sales_amount_yuan",
                Reason::AboveMaximum,
                Some(&detail),
            );
            continue;
        }
        let Some(channel) = channel(cells.get("channel", row)) else {
            cells.reject(
                sink,
                row,
                "channel",
                Reason::BadEnum,
                Some("线上 | 线下 | 全部"),
            );
            continue;
        };
        // Optional: the building-materials subcategory (part of the key) and the campaign themes.
        let sub = match cells.get("subcategory", row) {
            None => None,
            Some(raw) => {
                match subcategory(raw) {
                    Some(s) if category == Category::BuildingMaterials => Some(s.id()),
                    Some(_) => {
                        cells.reject(
                        sink,
                        row,
                        "subcategory",
                        Reason::BadEnum,
                        Some("细分品类只用于建材家装 / a subcategory is for building materials only"),
                    );
                        continue;
                    }
                    None => {
                        cells.reject(
                            sink,
                            row,
                            "subcategory",
                            Reason::BadEnum,
                            Some("陶瓷 | 卫浴 | 门窗 | 地板 | 照明 | 管材"),
                        );
                        continue;
                    }
                }
            }
        };
        let themes = match cells.get("theme_tags", row).map(theme_tags) {
            None => None,
            Some(Ok(t)) => t,
            Some(Err(bad)) => {
                let detail = format!(
                    "“{bad}”不是主题：绿色 | 智能 | 适老化 / {bad:?} is not a theme: green | smart | age-friendly"
                );
                cells.reject(sink, row, "theme_tags", Reason::BadEnum, Some(&detail));
                continue;
            }
        };
        // An enterprise may report sales in more than one region (branches): the region is in the key.
        let key = (
            code.clone(),
            region.code.clone(),
            category,
            period.canonical(),
            channel,
            cells.get("brand", row).map(str::to_owned),
            sub,
        );
        // A repeat with the same values is a duplicate; with other values both rows go on, and
        // the lake settles the conflict by its policy (both rows in `rejects`).
        if !seen.insert((
            key,
            name.to_owned(),
            yuan.to_bits(),
            unit.zh(),
            themes.clone(),
        )) {
            duplicates += 1;
            continue;
        }
        out.uscc.push(code);
        out.name.push(name.to_owned());
        out.region.push(region.code.clone());
        out.category.push(category.id());
        out.period.push(period.canonical());
        out.amount.push(yuan);
        out.unit.push(unit.zh());
        out.channel.push(channel);
        out.brand.push(cells.get("brand", row).map(str::to_owned));
        out.subcategory.push(sub);
        out.themes.push(themes);
        out.tail.push(&period, &cells, row);
    }
    let accepted = out.uscc.len();
    let frame = df!(
        "uscc" => out.uscc,
        "enterprise_name" => out.name,
        "region_code" => out.region,
        "category" => out.category,
        "period" => out.period,
        "sales_amount_yuan" => out.amount,
        "source_unit" => out.unit,
        "channel" => out.channel,
        "brand" => out.brand,
        "subcategory" => out.subcategory,
        "theme_tags" => out.themes,
    )
    .and_then(|frame| out.tail.append_to(frame))
    .map_err(perr(sink.file()))?;
    Ok((frame, accepted, duplicates))
}
