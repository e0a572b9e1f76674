//! The workbook's sheets for the dimensions of issue 18: **线上线下 Online and offline**
//! (`channel_uplift`, as published: suppressed figures blank) and **主题与细分品类 Themes**
//! (`theme_summary`).

use polars::prelude::*;
use rust_xlsxwriter::{Format, Worksheet};

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
/// campaign, and its change with bounds.
pub const CHANNEL_COLUMNS: [&str; 15] = [
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

/// Write the online and offline sheet from the published `channel_uplift` rows.
pub(super) fn channel_sheet(
    sheet: &mut Worksheet,
    channels: &DataFrame,
    f: &Formats,
) -> Result<()> {
    frame_sheet(
        sheet,
        CHANNEL_SHEET,
        "线上线下拉动效应  Uplift by channel and the online share",
        "按渠道分别估计（历史基线法）；空白：该渠道无销售，或因小单元格抑制不予公布 · each channel estimated on its own (history baselines); blank: no sales in the channel, or not published under small-cell suppression",
        &CHANNEL_COLUMNS,
        3,
        &[
            12.0, 16.0, 22.0, 12.0, 12.0, 10.0, 10.0, 10.0, 12.0, 10.0, 10.0, 10.0, 14.0, 12.0,
            24.0,
        ],
        f,
    )?;
    let n = channels.height();
    if n > 0 {
        let sorted = channels.sort(
            ["region_code", "category", "method"],
            SortMultipleOptions::default(),
        )?;
        let (region, category, method) = (
            strings(&sorted, "region_code")?,
            strings(&sorted, "category")?,
            strings(&sorted, "method")?,
        );
        let num = |c: &str| floats(&sorted, c);
        let figures: Vec<Vec<Option<f64>>> = CHANNEL_FIGURES
            .iter()
            .copied()
            .map(num)
            .collect::<Result<_>>()?;
        let (change, lo, hi) = (
            num("online_share_change_pp")?,
            num("online_share_change_lower_pp")?,
            num("online_share_change_upper_pp")?,
        );
        for i in 0..n {
            let r = row(i);
            region_cells(sheet, r, &region[i], f)?;
            sheet.write_string_with_format(r, 2, category_title(&category[i]), &f.text)?;
            sheet.write_string_with_format(r, 3, &method[i], &f.text)?;
            for (j, values) in figures.iter().enumerate() {
                let money = CHANNEL_FIGURES[j].ends_with("_yuan");
                let format = if money { &f.yi } else { &f.pct };
                figure(sheet, (r, xcol(4 + j)), values[i], money, format)?;
            }
            let c = xcol(4 + CHANNEL_FIGURES.len());
            match (change[i], lo[i], hi[i]) {
                (Some(v), Some(l), Some(h)) => sheet.write_string_with_format(
                    r,
                    c,
                    format!("{v:+.1} [{l:+.1}, {h:+.1}]"),
                    &f.center,
                )?,
                _ => sheet.write_blank(r, c, &f.center)?,
            };
        }
    }
    autofilter(sheet, CHANNEL_COLUMNS.len(), n)?;
    Ok(())
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
