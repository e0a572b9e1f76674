//! The workbook's sheets for the dimensions of issue 18: **线上线下 Online and offline**
//! (`channel_uplift`, as published: suppressed figures blank), **城乡 Town and country**
//! (`urban_rural_uplift`, as published), both written by one split sheet, and **主题与细分品类
//! Themes** (`theme_summary`).

use polars::prelude::*;
use rust_xlsxwriter::{Format, Worksheet};

use crate::rows::opt_texts;

use super::{
    Formats, Result, autofilter, category_title, floats, frame_sheet, region_cells, row, strings,
    xcol,
};

/// The figure `v` at `(r, c)` in `format` — an amount in yuan (`yuan`) shown in 亿元 — or an empty
/// cell in the same format where it is blank (suppressed) or absent.
fn figure(
    sheet: &mut Worksheet,
    (r, c): (u32, u16),
    v: Option<f64>,
    yuan: bool,
    format: &Format,
) -> Result<()> {
    match v {
        Some(v) => {
            sheet.write_number_with_format(r, c, if yuan { v / super::YI } else { v }, format)?
        }
        None => sheet.write_blank(r, c, format)?,
    };
    Ok(())
}

/// Name of the online and offline sheet.
pub const CHANNEL_SHEET: &str = "线上线下 Online and offline";

/// Header of the online and offline sheet, in order: region, category and method, then each
/// channel's actual (亿元) and uplift with its bounds, the online share without and with the
/// campaign, its change with bounds, and why a row's figures are blank (small-cell suppression). The lead method's rows say so in the method column.
pub const CHANNEL_COLUMNS: [&str; 16] = [
    "地区代码 Region code",
    "地区 Region",
    "品类 Category",
    "方法 Method",
    "线上实际 Online actual (亿元)",
    "线上提升率 Online uplift (%)",
    "线上下限 Lower (%)",
    "线上上限 Upper (%)",
    "线下实际 Offline actual (亿元)",
    "线下提升率 Offline uplift (%)",
    "线下下限 Lower (%)",
    "线下上限 Upper (%)",
    "线上占比（基线）Online share without the campaign (%)",
    "线上占比 Online share (%)",
    "占比变化 Share change (pp) [下限, 上限]",
    "留空原因 Why blank",
];

/// The `channel_uplift` columns behind the figure columns of [`CHANNEL_COLUMNS`] (money columns
/// shown in 亿元).
const CHANNEL_FIGURES: [&str; 10] = [
    "online_actual_yuan",
    "online_uplift_pct",
    "online_lower_pct",
    "online_upper_pct",
    "offline_actual_yuan",
    "offline_uplift_pct",
    "offline_lower_pct",
    "offline_upper_pct",
    "online_share_baseline_pct",
    "online_share_pct",
];

/// Name of the town and country sheet.
pub const URBAN_RURAL_SHEET: &str = "城乡 Town and country";

/// Header of the town and country sheet, in order: region, category and method, then each class's
/// actual (亿元) and uplift with its bounds, the rural share without and with the campaign, the
/// unknown class's share, the 下乡 link (weeks, lift and bounds), the share's change with bounds,
/// and why a row's figures are blank (the data floor, small-cell suppression).
pub const URBAN_RURAL_COLUMNS: [&str; 21] = [
    "地区代码 Region code",
    "地区 Region",
    "品类 Category",
    "方法 Method",
    "乡村实际 Rural actual (亿元)",
    "乡村提升率 Rural uplift (%)",
    "乡村下限 Lower (%)",
    "乡村上限 Upper (%)",
    "城镇实际 Urban actual (亿元)",
    "城镇提升率 Urban uplift (%)",
    "城镇下限 Lower (%)",
    "城镇上限 Upper (%)",
    "乡村占比（基线）Rural share without the campaign (%)",
    "乡村占比 Rural share (%)",
    "未知类别占比 Unknown class share (%)",
    "下乡周数 Countryside-sales weeks",
    "下乡周乡村额外提升 Rural lift in those weeks (%)",
    "下限 Lower (%)",
    "上限 Upper (%)",
    "占比变化 Share change (pp) [下限, 上限]",
    "留空原因 Why blank",
];

/// The `urban_rural_uplift` columns behind the figure columns of [`URBAN_RURAL_COLUMNS`].
const URBAN_RURAL_FIGURES: [&str; 15] = [
    "rural_actual_yuan",
    "rural_uplift_pct",
    "rural_lower_pct",
    "rural_upper_pct",
    "urban_actual_yuan",
    "urban_uplift_pct",
    "urban_lower_pct",
    "urban_upper_pct",
    "rural_share_baseline_pct",
    "rural_share_pct",
    "unknown_share_pct",
    "countryside_weeks",
    "countryside_lift_pct",
    "countryside_lift_lower_pct",
    "countryside_lift_upper_pct",
];

/// What a split sheet shows (the channel and the town and country sheets).
struct SplitSheet<'a> {
    name: &'a str,
    title: &'a str,
    note: &'a str,
    columns: &'a [&'a str],
    /// The table's columns behind the figure columns (money in 亿元, counts as integers, the rest
    /// as percentages).
    figures: &'a [&'a str],
    /// The class whose share's change is the last column.
    share: &'a str,
    widths: &'a [f64],
}

/// Write a split sheet from a published split table.
fn split_sheet(
    sheet: &mut Worksheet,
    table: &DataFrame,
    spec: &SplitSheet<'_>,
    f: &Formats,
) -> Result<()> {
    let lead = opt_texts(table, "lead_method");
    let lead_reason = opt_texts(table, "lead_reason");
    let note = match lead_reason.first().cloned().flatten() {
        Some(reason) => format!("{} · {reason}", spec.note),
        None => spec.note.to_owned(),
    };
    frame_sheet(
        sheet,
        spec.name,
        spec.title,
        &note,
        spec.columns,
        3,
        spec.widths,
        f,
    )?;
    let n = table.height();
    if n > 0 {
        let sorted = table.sort(
            ["region_code", "category", "method"],
            SortMultipleOptions::default(),
        )?;
        let (region, category, method) = (
            strings(&sorted, "region_code")?,
            strings(&sorted, "category")?,
            strings(&sorted, "method")?,
        );
        let why = opt_texts(&sorted, crate::WITHHELD_COLUMN);
        let lead = lead.first().cloned().flatten();
        let num = |c: &str| floats(&sorted, c);
        let figures: Vec<Vec<Option<f64>>> = spec
            .figures
            .iter()
            .copied()
            .map(num)
            .collect::<Result<_>>()?;
        let share = spec.share;
        let (change, lo, hi) = (
            num(&format!("{share}_share_change_pp"))?,
            num(&format!("{share}_share_change_lower_pp"))?,
            num(&format!("{share}_share_change_upper_pp"))?,
        );
        for i in 0..n {
            let r = row(i);
            region_cells(sheet, r, &region[i], f)?;
            sheet.write_string_with_format(r, 2, category_title(&category[i]), &f.text)?;
            let shown = if lead.as_deref() == Some(method[i].as_str()) {
                format!("{}（主 lead）", method[i])
            } else {
                method[i].clone()
            };
            sheet.write_string_with_format(r, 3, shown, &f.text)?;
            for (j, values) in figures.iter().enumerate() {
                let money = spec.figures[j].ends_with("_yuan");
                let format = if money {
                    &f.yi
                } else if spec.figures[j].ends_with("_weeks") {
                    &f.int
                } else {
                    &f.pct
                };
                figure(sheet, (r, xcol(4 + j)), values[i], money, format)?;
            }
            let c = xcol(4 + spec.figures.len());
            match (change[i], lo[i], hi[i]) {
                (Some(v), Some(l), Some(h)) => sheet.write_string_with_format(
                    r,
                    c,
                    format!(
                        "{} [{}, {}]",
                        crate::signed(v, 1),
                        crate::signed(l, 1),
                        crate::signed(h, 1)
                    ),
                    &f.center,
                )?,
                _ => sheet.write_blank(r, c, &f.center)?,
            };
            let c = xcol(5 + spec.figures.len());
            match &why[i] {
                Some(reason) => sheet.write_string_with_format(r, c, reason, &f.text)?,
                None => sheet.write_blank(r, c, &f.text)?,
            };
        }
    }
    autofilter(sheet, spec.columns.len(), n)?;
    Ok(())
}

/// Write the online and offline sheet from the published `channel_uplift` rows.
pub(super) fn channel_sheet(
    sheet: &mut Worksheet,
    channels: &DataFrame,
    f: &Formats,
) -> Result<()> {
    split_sheet(
        sheet,
        channels,
        &SplitSheet {
            name: CHANNEL_SHEET,
            title: "线上线下拉动效应  Uplift by channel and the online share",
            note: "按渠道分别估计（历史基线法）；空白：该渠道无销售，或因小单元格抑制不予公布 · each channel estimated on its own (history baselines); blank: no sales in the channel, or not published under small-cell suppression (the last column says so)",
            columns: &CHANNEL_COLUMNS,
            figures: &CHANNEL_FIGURES,
            share: "online",
            widths: &[
                12.0, 16.0, 22.0, 16.0, 12.0, 10.0, 10.0, 10.0, 12.0, 10.0, 10.0, 10.0, 14.0, 12.0,
                24.0, 40.0,
            ],
        },
        f,
    )
}

/// Write the town and country sheet from the published `urban_rural_uplift` rows.
pub(super) fn urban_rural_sheet(
    sheet: &mut Worksheet,
    table: &DataFrame,
    f: &Formats,
) -> Result<()> {
    split_sheet(
        sheet,
        table,
        &SplitSheet {
            name: URBAN_RURAL_SHEET,
            title: "城乡拉动效应  Uplift of urban and rural areas, the rural share and the 下乡 link",
            note: "按交易所在区县的城乡类别分别估计（历史基线法；市辖区为城镇，县域为乡村，未知类别不计入）；下乡周：有下乡活动的窗口周内乡村销售相对基线比其他周高出多少（关联，非因果证明）；空白：无该类别销售，或因商户过少不予公布 · each class estimated on its own (history baselines; districts urban, counties rural, unknown in neither); 下乡 weeks: how much higher rural sales ran against their baseline in the countryside-sales weeks (an association, not proof of cause); blank: no sales of the class, or not published: too little data behind a region's class estimate (the data floor), or too few merchants (small-cell suppression; the last column says which)",
            columns: &URBAN_RURAL_COLUMNS,
            figures: &URBAN_RURAL_FIGURES,
            share: "rural",
            widths: &[
                12.0, 16.0, 22.0, 12.0, 12.0, 10.0, 10.0, 10.0, 12.0, 10.0, 10.0, 10.0, 14.0, 12.0,
                12.0, 10.0, 14.0, 10.0, 10.0, 24.0, 40.0,
            ],
        },
        f,
    )
}

/// Name of the themes sheet.
pub const THEME_SHEET: &str = "主题与细分品类 Themes";

/// Header of the themes sheet, in order.
pub const THEME_COLUMNS: [&str; 10] = [
    "地区代码 Region code",
    "地区 Region",
    "维度 Dimension",
    "标签 Tag",
    "活动数 Activities",
    "活动参与企业数 Enterprises in activities",
    "活动参与品牌数 Brands in activities",
    "重点企业数 Key enterprises",
    "品牌数 Brands",
    "销售额 Sales (亿元)",
];

/// Write the themes sheet from `theme_summary`.
pub(super) fn theme_sheet(sheet: &mut Worksheet, themes: &DataFrame, f: &Formats) -> Result<()> {
    frame_sheet(
        sheet,
        THEME_SHEET,
        "主题与细分品类  Themes (绿色/智能/适老化) and building-materials subcategories",
        "活动：活动登记表的重点方向；企业、品牌、销售额：填报了主题标签或细分品类的重点企业，活动期内 · activities from the register's focus tags; enterprises, brands and sales from key enterprises that tag their sales, over the window",
        &THEME_COLUMNS,
        4,
        &[12.0, 16.0, 12.0, 18.0, 10.0, 14.0, 14.0, 12.0, 10.0, 14.0],
        f,
    )?;
    let n = themes.height();
    if n > 0 {
        let (region, dim, tag, zh) = (
            strings(themes, "region_code")?,
            strings(themes, "dimension")?,
            strings(themes, "tag")?,
            strings(themes, "tag_zh")?,
        );
        let num = |c: &str| floats(themes, c);
        let figures = [
            num("activities")?,
            num("activity_enterprises")?,
            num("activity_brands")?,
            num("enterprises")?,
            num("brands")?,
            num("sales_yuan")?,
        ];
        for i in 0..n {
            let r = row(i);
            region_cells(sheet, r, &region[i], f)?;
            let dim_zh = if dim[i] == "theme" {
                "主题 theme"
            } else {
                "细分品类 subcategory"
            };
            sheet.write_string_with_format(r, 2, dim_zh, &f.text)?;
            sheet.write_string_with_format(r, 3, format!("{} {}", zh[i], tag[i]), &f.text)?;
            for (j, values) in figures.iter().enumerate() {
                let money = j == figures.len() - 1;
                let format = if money { &f.yi } else { &f.int };
                figure(sheet, (r, xcol(4 + j)), values[i], money, format)?;
            }
        }
    }
    autofilter(sheet, THEME_COLUMNS.len(), n)?;
    Ok(())
}
