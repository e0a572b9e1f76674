//! The XLSX workbook for the ministry submission: the summary of the uplift tables and the
//! activities register in the layout of the notice's attachment (重点活动表).
//!
//! [`workbook`] returns the bytes of a workbook with the sheets
//! - **汇总 Summary**: national and regional uplift of the campaign window, all targeted categories
//!   and each targeted category, by the campaign's primary baseline method, with the interval; money
//!   in 亿元 (100 million yuan), rates in %; headers in Chinese and English;
//! - **重点活动表**: one row per registered activity with the attachment's columns 序号, 地区, 活动名称,
//!   活动类型, 起止时间, 举办地点, 主办单位, 参与企业数, 参与品牌数, 重点方向, 线上/线下, 是否地方站;
//! - **活动周度汇总 Activities by week**, when the `activity_summary` table is given;
//! - with [`workbook_with`], **线上线下 Online and offline** (`channel_uplift`), **主题与细分品类
//!   Themes** (`theme_summary`) and **城乡 Town and country** (`urban_rural_uplift`); a region's own
//!   workbook ([`region_workbook_with`]) has the same sheets with the region's rows and the national
//!   ones.
//!
//! Every sheet has its title rows above a frozen header row, set column widths and an autofilter.
//! It writes nothing itself.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;
use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use crate::rows::{UpliftRow, uplift_rows};

mod dims;
pub use dims::{
    CHANNEL_COLUMNS, CHANNEL_SHEET, THEME_COLUMNS, THEME_SHEET, URBAN_RURAL_COLUMNS,
    URBAN_RURAL_SHEET,
};

/// Tables of the dimensions beyond region × category (issue 18) the workbook gives a sheet each,
/// when present and not empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct DimensionTables<'a> {
    /// `channel_uplift` as published (suppressed figures blank): the **线上线下** sheet.
    pub channel_uplift: Option<&'a DataFrame>,
    /// `urban_rural_uplift` as published (small classes and their complements blank): the **城乡**
    /// sheet.
    pub urban_rural_uplift: Option<&'a DataFrame>,
    /// `theme_summary`: the **主题与细分品类** sheet.
    pub theme_summary: Option<&'a DataFrame>,
    /// `leverage` (computed from the published uplift): the **补贴拉动比 Leverage** sheet.
    pub leverage: Option<&'a DataFrame>,
}

impl DimensionTables<'_> {
    /// Add a sheet for each table present.
    fn sheets(&self, book: &mut Workbook, f: &Formats) -> Result<()> {
        if let Some(l) = self.leverage.filter(|l| l.height() > 0) {
            leverage_sheet(book.add_worksheet(), l, f)?;
        }
        if let Some(c) = self.channel_uplift.filter(|c| c.height() > 0) {
            dims::channel_sheet(book.add_worksheet(), c, f)?;
        }
        if let Some(t) = self.theme_summary.filter(|t| t.height() > 0) {
            dims::theme_sheet(book.add_worksheet(), t, f)?;
        }
        if let Some(u) = self.urban_rural_uplift.filter(|u| u.height() > 0) {
            dims::urban_rural_sheet(book.add_worksheet(), u, f)?;
        }
        Ok(())
    }
}

/// Errors while writing the workbook.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkbookError {
    /// A needed column is missing or mistyped.
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// The XLSX writer refused a value or a layout.
    #[error(transparent)]
    Xlsx(#[from] XlsxError),
    /// The uplift table could not be read into report rows.
    #[error(transparent)]
    Report(#[from] Box<crate::ReportError>),
    /// The uplift table has no campaign-window estimate for the primary method.
    #[error("nothing to summarise: {0}")]
    Empty(String),
    /// The region asked for is not one of the campaign's regions.
    #[error(
        "{0} 不是本次活动的地区 · {0} is not one of the campaign's regions (a 6-digit code such as 330000, or XPCC)"
    )]
    UnknownRegion(String),
}

/// Result alias of this module.
pub type Result<T, E = WorkbookError> = std::result::Result<T, E>;

/// Name of the summary sheet.
pub const SUMMARY_SHEET: &str = "汇总 Summary";
/// Name of the activities register sheet (the attachment's title).
pub const ACTIVITIES_SHEET: &str = "重点活动表";
/// Name of the weekly activity summary sheet.
pub const ACTIVITY_SUMMARY_SHEET: &str = "活动周度汇总 Activities by week";

/// Columns of the attachment's 重点活动表, in order.
pub const ACTIVITY_COLUMNS: [&str; 12] = [
    "序号",
    "地区",
    "活动名称",
    "活动类型",
    "起止时间",
    "举办地点",
    "主办单位",
    "参与企业数",
    "参与品牌数",
    "重点方向",
    "线上/线下",
    "是否地方站",
];

/// Header of the summary sheet, in order.
pub const SUMMARY_COLUMNS: [&str; 12] = [
    "地区代码 Region code",
    "地区 Region",
    "品类 Category",
    "实际销售额 Actual sales (亿元)",
    "基线销售额 Baseline (亿元)",
    "增量销售额 Incremental sales (亿元)",
    "增量下限 Lower (亿元)",
    "增量上限 Upper (亿元)",
    "提升率 Uplift (%)",
    "提升率下限 Lower (%)",
    "提升率上限 Upper (%)",
    "区间下限大于零 Lower bound above zero",
];

const YI: f64 = 1e8;
/// First data row (0-based) of every sheet: two title rows, then the header.
const HEADER_ROW: u32 = 2;

struct Formats {
    title: Format,
    note: Format,
    header: Format,
    text: Format,
    text_bold: Format,
    center: Format,
    int: Format,
    yi: Format,
    yi_bold: Format,
    pct: Format,
    pct_bold: Format,
    date: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            note: Format::new()
                .set_font_color(Color::RGB(0x0055_5555))
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::VerticalCenter),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0x00DD_EBF7)),
            text: cell.clone(),
            text_bold: cell.clone().set_bold(),
            center: cell.clone().set_align(FormatAlign::Center),
            int: cell.clone().set_num_format("#,##0"),
            yi: cell.clone().set_num_format("#,##0.00"),
            yi_bold: cell.clone().set_num_format("#,##0.00").set_bold(),
            pct: cell.clone().set_num_format("0.0"),
            pct_bold: cell.clone().set_num_format("0.0").set_bold(),
            date: cell
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Center),
        }
    }
}

/// Write the workbook: summary, activities register and, if given, the weekly activity summary.
///
/// `uplift` is the `uplift` table (campaign and placebo rows; only the campaign window's rows of the
/// campaign's primary method are summarised), `activities` the lake's `activities` table,
/// `activity_summary` the `activity_summary` output table.
///
/// # Errors
/// When a table lacks a column of its contract, when the uplift table holds no national
/// all-targeted estimate for the primary method, or when the XLSX writer fails.
pub fn workbook(
    campaign: &Campaign,
    uplift: &DataFrame,
    activities: &DataFrame,
    activity_summary: Option<&DataFrame>,
) -> Result<Vec<u8>> {
    workbook_with(
        campaign,
        uplift,
        activities,
        activity_summary,
        &DimensionTables::default(),
    )
}

/// [`workbook`] with a sheet for each table of `dims` (online and offline …) after the others.
///
/// # Errors
/// As [`workbook`].
pub fn workbook_with(
    campaign: &Campaign,
    uplift: &DataFrame,
    activities: &DataFrame,
    activity_summary: Option<&DataFrame>,
    dims: &DimensionTables<'_>,
) -> Result<Vec<u8>> {
    let formats = Formats::new();
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(format!(
                "{} 效果评估 {}",
                campaign.name_zh, campaign.name_en
            ))
            .set_author("homeseason")
            .set_comment("homeseason: uplift summary and activities register (重点活动表)"),
    );
    summary_sheet(book.add_worksheet(), campaign, uplift, &formats)?;
    activities_sheet(book.add_worksheet(), campaign, activities, "", &formats)?;
    if let Some(summary) = activity_summary {
        activity_summary_sheet(book.add_worksheet(), summary, &formats)?;
    }
    dims.sheets(&mut book, &formats)?;
    Ok(book.save_to_buffer()?)
}

/// Columns A and B of a row: the region key and its Chinese name (全国 for the national key).
fn region_cells(sheet: &mut Worksheet, r: u32, code: &str, f: &Formats) -> Result<()> {
    sheet.write_string_with_format(r, 0, code, &f.center)?;
    let name = if code == NATIONAL {
        "全国"
    } else {
        Regions::embedded()
            .by_code(code)
            .map_or(code, |x| x.name_zh.as_str())
    };
    sheet.write_string_with_format(r, 1, name, &f.text)?;
    Ok(())
}

/// The rows of `df` whose `region_code` is `region` (and, with `national`, the national rows too);
/// a frame without a `region_code` column, or empty, is returned as it is.
///
/// # Errors
/// When the column cannot be read as text.
pub fn region_rows(df: &DataFrame, region: &str, national: bool) -> Result<DataFrame> {
    if df.height() == 0 || df.column("region_code").is_err() {
        return Ok(df.clone());
    }
    let code = col("region_code").cast(DataType::String);
    let mut keep = code.clone().eq(lit(region.to_owned()));
    if national {
        keep = keep.or(code.eq(lit(NATIONAL)));
    }
    Ok(df.clone().lazy().filter(keep).collect()?)
}

/// One region's own workbook, for a province (or plan city, or the Corps) to submit by itself: the
/// summary of its uplift with the national rows above it for reference, its own 重点活动表 in the
/// attachment's layout (titled with its name, numbered from 1), and its weeks of the activity
/// summary.
///
/// # Errors
/// [`WorkbookError::UnknownRegion`] when `region` is not one of the campaign's regions; otherwise as
/// [`workbook`].
pub fn region_workbook(
    campaign: &Campaign,
    uplift: &DataFrame,
    activities: &DataFrame,
    activity_summary: Option<&DataFrame>,
    region: &str,
) -> Result<Vec<u8>> {
    region_workbook_with_leverage(campaign, uplift, activities, activity_summary, None, region)
}

/// [`region_workbook`] with the region's rows of `leverage` (and the national ones) on a 补贴拉动比
/// Leverage sheet when it has any.
///
/// # Errors
/// As [`region_workbook`].
pub fn region_workbook_with_leverage(
    campaign: &Campaign,
    uplift: &DataFrame,
    activities: &DataFrame,
    activity_summary: Option<&DataFrame>,
    leverage: Option<&DataFrame>,
    region: &str,
) -> Result<Vec<u8>> {
    region_workbook_with(
        campaign,
        uplift,
        activities,
        activity_summary,
        &DimensionTables {
            leverage,
            ..DimensionTables::default()
        },
        region,
        None,
    )
}

/// [`region_workbook`] with the region's rows (and the national ones, for reference) of each table
/// of `dims` on its sheet — 补贴拉动比 Leverage, 线上线下 Online and offline, 主题与细分品类 Themes — as
/// the national workbook has them (a table with no row for the region gives no sheet), and a 分城市
/// By city sheet of the region's cities ([`crate::city::CitySection`], `homeseason report --level
/// city`) when `cities` is given.
///
/// # Errors
/// As [`region_workbook`].
pub fn region_workbook_with(
    campaign: &Campaign,
    uplift: &DataFrame,
    activities: &DataFrame,
    activity_summary: Option<&DataFrame>,
    dims: &DimensionTables<'_>,
    region: &str,
    cities: Option<&crate::city::CitySection>,
) -> Result<Vec<u8>> {
    let name = campaign
        .regions()
        .map_err(|e| WorkbookError::Empty(e.to_string()))?
        .into_iter()
        .find(|r| r.code == region)
        .map(|r| r.name_zh.clone())
        .ok_or_else(|| WorkbookError::UnknownRegion(region.to_owned()))?;
    let formats = Formats::new();
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(format!(
                "{name} {} 效果评估 {}",
                campaign.name_zh, campaign.name_en
            ))
            .set_author("homeseason")
            .set_comment(format!(
                "homeseason: {name} uplift summary and activities register (重点活动表)"
            )),
    );
    summary_sheet(
        book.add_worksheet(),
        campaign,
        &region_rows(uplift, region, true)?,
        &formats,
    )?;
    activities_sheet(
        book.add_worksheet(),
        campaign,
        &region_rows(activities, region, false)?,
        &name,
        &formats,
    )?;
    if let Some(summary) = activity_summary {
        activity_summary_sheet(
            book.add_worksheet(),
            &region_rows(summary, region, false)?,
            &formats,
        )?;
    }
    let own = |t: Option<&DataFrame>| t.map(|t| region_rows(t, region, true)).transpose();
    let (leverage, channels, classes, themes) = (
        own(dims.leverage)?,
        own(dims.channel_uplift)?,
        own(dims.urban_rural_uplift)?,
        own(dims.theme_summary)?,
    );
    DimensionTables {
        leverage: leverage.as_ref(),
        channel_uplift: channels.as_ref(),
        urban_rural_uplift: classes.as_ref(),
        theme_summary: themes.as_ref(),
    }
    .sheets(&mut book, &formats)?;
    if let Some(c) = cities {
        city_sheet(book.add_worksheet(), c, &formats)?;
    }
    Ok(book.save_to_buffer()?)
}

/// The 分城市 By city sheet: one row per city of the province (all targeted categories, the headline
/// method), actual and incremental sales in yuan, uplift and its interval in percent; a blanked
/// city's figures empty.
fn city_sheet(
    sheet: &mut Worksheet,
    section: &crate::city::CitySection,
    f: &Formats,
) -> Result<()> {
    let header = [
        "城市\nCity",
        "代码\nCode",
        "实际销售额（元）\nActual (yuan)",
        "增量销售额（元）\nIncremental (yuan)",
        "提升（%）\nUplift (%)",
        "下限（%）\nLower (%)",
        "上限（%）\nUpper (%)",
    ];
    frame_sheet(
        sheet,
        "分城市 By city",
        &format!(
            "{}各城市提升（全部目标品类，{}） Uplift by city",
            section.scope_name_zh, section.method
        ),
        &section.note,
        &header,
        2,
        &[14.0, 10.0, 18.0, 18.0, 12.0, 12.0, 12.0],
        f,
    )?;
    for (i, r) in section.rows.iter().enumerate() {
        let y = row(i);
        sheet.write_string_with_format(y, 0, &r.name_zh, &f.text)?;
        sheet.write_string_with_format(y, 1, &r.code, &f.center)?;
        for (k, v) in [
            r.actual_yuan,
            r.uplift_abs_yuan,
            r.uplift_pct,
            r.lower_pct,
            r.upper_pct,
        ]
        .into_iter()
        .enumerate()
        {
            let fmt = if k < 2 { &f.yi } else { &f.pct };
            number(sheet, y, xcol(2 + k), v.unwrap_or(f64::NAN), fmt)?;
        }
    }
    // Coverage, noise and blanking under the table, one merged row each.
    for (j, note) in section.notes().iter().enumerate() {
        let y = row(section.rows.len() + 1 + j);
        sheet.merge_range(y, 0, y, xcol(header.len() - 1), note, &f.note)?;
        sheet.set_row_height(y, 75)?;
    }
    Ok(())
}

/// The 补贴拉动比 Leverage sheet: one row per region × category of the `leverage` table (nation
/// first), subsidy and incremental sales in yuan, the ratio and the iROAS with their bounds; a
/// suppressed row's figures blank.
fn leverage_sheet(sheet: &mut Worksheet, leverage: &DataFrame, f: &Formats) -> Result<()> {
    let header = [
        "地区\nRegion",
        "品类\nCategory",
        "补贴发放（元）\nSubsidy paid (yuan)",
        "增量销售额（元）\nIncremental sales (yuan)",
        "拉动比\nLeverage",
        "下限\nLower",
        "上限\nUpper",
        "时间回归 iROAS",
        "下限\nLower",
        "上限\nUpper",
        "补贴起始\nSubsidy start",
    ];
    frame_sheet(
        sheet,
        "补贴拉动比 Leverage",
        "补贴拉动比 Subsidy leverage",
        crate::leverage::METHOD,
        &header,
        2,
        &[
            10.0, 18.0, 16.0, 18.0, 10.0, 10.0, 10.0, 12.0, 10.0, 10.0, 12.0,
        ],
        f,
    )?;
    for (i, r) in crate::leverage::rows(leverage)
        .map_err(from_report)?
        .iter()
        .enumerate()
    {
        let y = row(i);
        sheet.write_string_with_format(y, 0, &r.region, &f.text)?;
        sheet.write_string_with_format(y, 1, &r.category, &f.text)?;
        number(sheet, y, 2, r.subsidy, &f.yi)?;
        let blank = |v: Option<f64>| {
            if r.suppressed {
                f64::NAN
            } else {
                v.unwrap_or(f64::NAN)
            }
        };
        number(sheet, y, 3, blank(r.incremental), &f.yi)?;
        let (a, b, c) = r.ratio.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
        for (k, v) in [a, b, c].into_iter().enumerate() {
            number(sheet, y, xcol(4 + k), blank(Some(v)), &f.yi)?;
        }
        let (a, b, c) = r.iroas.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
        for (k, v) in [a, b, c].into_iter().enumerate() {
            number(sheet, y, xcol(7 + k), blank(Some(v)), &f.yi)?;
        }
        sheet.write_string_with_format(y, 10, &r.start, &f.center)?;
    }
    Ok(())
}

/// Title row (merged over the header's width), note row, header row; frozen below the header.
#[expect(
    clippy::too_many_arguments,
    reason = "the arguments are the step's inputs, named as in the formulas"
)]
fn frame_sheet(
    sheet: &mut Worksheet,
    name: &str,
    title: &str,
    note: &str,
    header: &[&str],
    freeze_cols: u16,
    widths: &[f64],
    f: &Formats,
) -> Result<()> {
    sheet.set_name(name)?;
    let last = u16::try_from(header.len().saturating_sub(1)).unwrap_or(0);
    sheet.merge_range(0, 0, 0, last, title, &f.title)?;
    sheet.set_row_height(0, 30)?;
    sheet.merge_range(1, 0, 1, last, note, &f.note)?;
    sheet.set_row_height(1, 30)?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, xcol(c), *h, &f.header)?;
    }
    sheet.set_row_height(HEADER_ROW, 36)?;
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(xcol(c), *w)?;
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, freeze_cols)?;
    sheet.set_landscape();
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    Ok(())
}

/// Excel's serial day number of a date (days since 1899-12-30, the 1900 date system).
fn excel_serial(d: chrono::NaiveDate) -> f64 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    (d - epoch).num_days() as f64
}

fn xcol(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

fn row(r: usize) -> u32 {
    HEADER_ROW + 1 + u32::try_from(r).unwrap_or(u32::MAX - HEADER_ROW - 1)
}

/// A number, or an empty bordered cell when it is not finite (XLSX has no NaN).
fn number(sheet: &mut Worksheet, r: u32, c: u16, v: f64, fmt: &Format) -> Result<()> {
    if v.is_finite() {
        sheet.write_number_with_format(r, c, v, fmt)?;
    } else {
        sheet.write_blank(r, c, fmt)?;
    }
    Ok(())
}

fn category_title(id: &str) -> String {
    let (zh, en) = crate::category_names(id);
    format!("{zh} {en}")
}

/// The campaign-window rows of the primary method from the first source that has a national
/// all-targeted estimate (the row the report's headline uses).
/// The headline method of a campaign whose "auto" the caller has resolved (never fails without a
/// backtest table).
fn headline_method(campaign: &Campaign) -> String {
    crate::primary_method(campaign, None)
        .unwrap_or_else(|_| campaign.baseline.primary_method.clone())
}

fn summary_rows(campaign: &Campaign, uplift: &DataFrame) -> Result<(Vec<UpliftRow>, String)> {
    // The caller passes a campaign whose "auto" is resolved by the backtest (pipeline::outputs);
    // without one, "auto" falls back as homeseason_metrics::backtest::resolve_primary says.
    let method = headline_method(campaign);
    let method = method.as_str();
    let mut frame = uplift.clone();
    let mut source = String::new();
    if uplift.column("source").is_ok() {
        let national = uplift
            .clone()
            .lazy()
            .filter(
                col("region_code")
                    .eq(lit(NATIONAL))
                    .and(col("category").eq(lit("all_targeted")))
                    .and(col("method").eq(lit(method))),
            )
            .collect()?;
        if let Some(s) = national.column("source")?.str()?.iter().next().flatten() {
            source = s.to_owned();
            frame = uplift
                .clone()
                .lazy()
                .filter(col("source").eq(lit(source.clone())))
                .collect()?;
        }
    }
    let rows: Vec<UpliftRow> = uplift_rows(&frame)
        .map_err(Box::new)?
        .into_iter()
        .filter(|r| r.method == method)
        .collect();
    if !rows
        .iter()
        .any(|r| r.region_code == NATIONAL && r.category == "all_targeted")
    {
        return Err(WorkbookError::Empty(format!(
            "no national all-targeted estimate for method {method}"
        )));
    }
    Ok((rows, source))
}

fn summary_sheet(
    sheet: &mut Worksheet,
    campaign: &Campaign,
    uplift: &DataFrame,
    f: &Formats,
) -> Result<()> {
    let (rows, source) = summary_rows(campaign, uplift)?;
    let method = headline_method(campaign);
    let method = method.as_str();
    let title = format!(
        "{}效果评估汇总表  {}: uplift summary",
        campaign.name_zh, campaign.name_en
    );
    let note = format!(
        "活动期 Window {} 至 {} · 基线方法 Baseline method: {method} · 区间 Interval: {:.0}% · \
         数据来源 Source: {} · 金额单位 Money: 亿元 (100 million yuan) · 提升率 Uplift: %",
        campaign.window.start,
        campaign.window.end,
        campaign.baseline.level * 100.0,
        if source.is_empty() {
            "—"
        } else {
            source.as_str()
        },
    );
    frame_sheet(
        sheet,
        SUMMARY_SHEET,
        &title,
        &note,
        &SUMMARY_COLUMNS,
        3,
        &[
            12.0, 16.0, 24.0, 14.0, 14.0, 14.0, 12.0, 12.0, 11.0, 11.0, 11.0, 14.0,
        ],
        f,
    )?;
    let regions = Regions::embedded();
    let mut order: Vec<(String, String)> = vec![(NATIONAL.to_owned(), "全国".to_owned())];
    for r in campaign
        .regions()
        .map_err(|e| WorkbookError::Empty(e.to_string()))?
    {
        order.push((r.code.clone(), r.name_zh.clone()));
    }
    let mut categories = vec!["all_targeted".to_owned()];
    categories.extend(campaign.categories.targeted_ids().map(str::to_owned));
    let mut i = 0;
    for (code, name) in &order {
        for cat in &categories {
            let Some(u) = rows
                .iter()
                .find(|r| &r.region_code == code && &r.category == cat)
            else {
                continue;
            };
            let total = cat == "all_targeted";
            let (text, yi, pct) = if total {
                (&f.text_bold, &f.yi_bold, &f.pct_bold)
            } else {
                (&f.text, &f.yi, &f.pct)
            };
            let r = row(i);
            sheet.write_string_with_format(r, 0, code, &f.center)?;
            let name = if u.region_name_zh.is_empty() {
                regions
                    .by_code(code)
                    .map_or(name.as_str(), |x| x.name_zh.as_str())
            } else {
                u.region_name_zh.as_str()
            };
            sheet.write_string_with_format(r, 1, name, text)?;
            sheet.write_string_with_format(r, 2, category_title(cat), text)?;
            for (c, v, fmt) in [
                (3, u.actual / YI, yi),
                (4, u.baseline / YI, yi),
                (5, u.uplift_abs / YI, yi),
                (6, u.uplift_abs_lower / YI, yi),
                (7, u.uplift_abs_upper / YI, yi),
                (8, u.uplift_pct, pct),
                (9, u.lower, pct),
                (10, u.upper, pct),
            ] {
                number(sheet, r, c, v, fmt)?;
            }
            let above = if u.lower > 0.0 { "是 Yes" } else { "否 No" };
            sheet.write_string_with_format(r, 11, above, &f.center)?;
            i += 1;
        }
    }
    autofilter(sheet, SUMMARY_COLUMNS.len(), i)?;
    Ok(())
}

/// A report reader's error as the workbook's (a polars error stays one).
fn from_report(e: crate::ReportError) -> WorkbookError {
    match e {
        crate::ReportError::Polars(p) => WorkbookError::Polars(p),
        other => WorkbookError::Report(Box::new(other)),
    }
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    crate::rows::strs(df, name).map_err(from_report)
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    crate::rows::f64s(df, name).map_err(from_report)
}

fn integers(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    crate::rows::i64s(df, name).map_err(from_report)
}

fn booleans(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    crate::rows::bools(df, name).map_err(from_report)
}

/// Chinese name of an activity type id (the contract's enum).
#[must_use]
pub fn activity_type_zh(id: &str) -> &str {
    match id {
        "shopping_festival" => "购物节",
        "carnival" => "嘉年华",
        "countryside_sales" => "下乡",
        "ecommerce_live_festival" => "直播电商节",
        "design_contest" => "设计大赛",
        "skills_contest" => "技能大赛",
        "trade_show" => "展会/博览会",
        "other" => "其他",
        other => other,
    }
}

/// Focus tags (`green;smart`) in Chinese (`绿色、智能`).
#[must_use]
pub fn focus_zh(tags: &str) -> String {
    tags.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t {
            "green" => "绿色",
            "smart" => "智能",
            "age_friendly" => "适老化",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// 线上 / 线下 / 线上+线下 from the `online` flag ("(also) held online") and the venue.
fn channel_zh(online: Option<bool>, venue: &str) -> &'static str {
    match online {
        Some(true) if venue.trim().is_empty() || venue.contains("线上") => "线上",
        Some(true) => "线上+线下",
        Some(false) => "线下",
        None => "",
    }
}

/// 起止时间: `2023-09-06至2023-09-09`, or the single day.
fn period_zh(start: &str, end: &str) -> String {
    if start == end || end.is_empty() {
        start.to_owned()
    } else {
        format!("{start}至{end}")
    }
}

/// The 重点活动表; `scope` is the region's name for one region's own sheet (empty: every region).
fn activities_sheet(
    sheet: &mut Worksheet,
    campaign: &Campaign,
    activities: &DataFrame,
    scope: &str,
    f: &Formats,
) -> Result<()> {
    let n = activities.height();
    let regions = Regions::embedded();
    let rank: Vec<String> = campaign
        .regions()
        .map_err(|e| WorkbookError::Empty(e.to_string()))?
        .iter()
        .map(|r| r.code.clone())
        .collect();
    let (ids, region, name, kind, start, end, venue, organizer, tags) = if n == 0 {
        Default::default()
    } else {
        (
            strings(activities, "activity_id")?,
            strings(activities, "region_code")?,
            strings(activities, "name")?,
            strings(activities, "type")?,
            strings(activities, "start_date")?,
            strings(activities, "end_date")?,
            strings(activities, "venue")?,
            strings(activities, "organizer")?,
            strings(activities, "focus_tags")?,
        )
    };
    let (enterprises, brands, online, local) = if n == 0 {
        Default::default()
    } else {
        (
            integers(activities, "enterprise_count")?,
            integers(activities, "brand_count")?,
            booleans(activities, "online")?,
            booleans(activities, "local_station")?,
        )
    };
    // Regions in the campaign's order, then by start date and id.
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| {
        let ra = rank
            .iter()
            .position(|c| *c == region[a])
            .unwrap_or(usize::MAX);
        let rb = rank
            .iter()
            .position(|c| *c == region[b])
            .unwrap_or(usize::MAX);
        (ra, &region[a], &start[a], &ids[a]).cmp(&(rb, &region[b], &start[b], &ids[b]))
    });
    let region_count = {
        let mut r = region.clone();
        r.sort();
        r.dedup();
        r.len()
    };
    let title = format!("{scope}{}重点活动表", campaign.name_zh);
    let note = format!(
        "共 {n} 项活动，涉及 {region_count} 个地区 · {n} activities in {region_count} regions \
         (homeseason activities register; 活动类型、重点方向按通知口径填写)"
    );
    frame_sheet(
        sheet,
        ACTIVITIES_SHEET,
        &title,
        &note,
        &ACTIVITY_COLUMNS,
        0,
        &[
            6.0, 14.0, 36.0, 12.0, 24.0, 24.0, 28.0, 10.0, 10.0, 16.0, 10.0, 10.0,
        ],
        f,
    )?;
    for (i, &k) in idx.iter().enumerate() {
        let r = row(i);
        sheet.write_number_with_format(r, 0, (i + 1) as f64, &f.center)?;
        let region_name = regions
            .by_code(&region[k])
            .map_or(region[k].as_str(), |x| x.name_zh.as_str());
        sheet.write_string_with_format(r, 1, region_name, &f.text)?;
        sheet.write_string_with_format(r, 2, &name[k], &f.text)?;
        sheet.write_string_with_format(r, 3, activity_type_zh(&kind[k]), &f.center)?;
        sheet.write_string_with_format(r, 4, period_zh(&start[k], &end[k]), &f.center)?;
        sheet.write_string_with_format(r, 5, &venue[k], &f.text)?;
        sheet.write_string_with_format(r, 6, &organizer[k], &f.text)?;
        for (c, v) in [(7, enterprises[k]), (8, brands[k])] {
            match v {
                Some(v) => sheet.write_number_with_format(r, c, v as f64, &f.int)?,
                None => sheet.write_blank(r, c, &f.int)?,
            };
        }
        sheet.write_string_with_format(r, 9, focus_zh(&tags[k]), &f.text)?;
        sheet.write_string_with_format(r, 10, channel_zh(online[k], &venue[k]), &f.center)?;
        let local_zh = match local[k] {
            Some(true) => "是",
            Some(false) => "否",
            None => "",
        };
        sheet.write_string_with_format(r, 11, local_zh, &f.center)?;
    }
    autofilter(sheet, ACTIVITY_COLUMNS.len(), n)?;
    Ok(())
}

fn activity_summary_sheet(sheet: &mut Worksheet, summary: &DataFrame, f: &Formats) -> Result<()> {
    const HEADER: [&str; 8] = [
        "地区代码 Region code",
        "地区 Region",
        "周起始日 Week start",
        "活动类型 Activity type",
        "活动数 Activities",
        "参与企业数 Enterprises",
        "参与品牌数 Brands",
        "地方站活动数 Local-station activities",
    ];
    frame_sheet(
        sheet,
        ACTIVITY_SUMMARY_SHEET,
        "活动周度汇总  Campaign activities by region, week and type",
        &format!(
            "各周的活动数及其参与企业、品牌数之和；{} · activities per week with their enterprises and brands summed; {}",
            homeseason_schema::calendar::ACTIVITY_WEEK_RULE_ZH,
            homeseason_schema::calendar::ACTIVITY_WEEK_RULE_EN
        ),
        &HEADER,
        2,
        &[12.0, 16.0, 12.0, 16.0, 10.0, 12.0, 12.0, 14.0],
        f,
    )?;
    let n = summary.height();
    if n > 0 {
        let sorted = summary.sort(
            ["region_code", "week_start", "activity_type"],
            SortMultipleOptions::default(),
        )?;
        let (region, week, kind) = (
            strings(&sorted, "region_code")?,
            strings(&sorted, "week_start")?,
            strings(&sorted, "activity_type")?,
        );
        let counts = [
            integers(&sorted, "activities")?,
            integers(&sorted, "enterprises")?,
            integers(&sorted, "brands")?,
            integers(&sorted, "local_station_activities")?,
        ];
        for i in 0..n {
            let r = row(i);
            region_cells(sheet, r, &region[i], f)?;
            // A real date (Excel serial day, shown yyyy-mm-dd), so the column sorts and filters as
            // dates; text that is not a date stays text.
            match chrono::NaiveDate::parse_from_str(
                week[i].get(..10).unwrap_or(&week[i]),
                "%Y-%m-%d",
            ) {
                Ok(d) => sheet.write_number_with_format(r, 2, excel_serial(d), &f.date)?,
                Err(_) => sheet.write_string_with_format(r, 2, &week[i], &f.center)?,
            };
            let kind_title = format!("{} {}", activity_type_zh(&kind[i]), kind[i]);
            sheet.write_string_with_format(r, 3, kind_title, &f.text)?;
            for (j, values) in counts.iter().enumerate() {
                let c = xcol(4 + j);
                match values[i] {
                    Some(v) => sheet.write_number_with_format(r, c, v as f64, &f.int)?,
                    None => sheet.write_blank(r, c, &f.int)?,
                };
            }
        }
    }
    autofilter(sheet, 8, n)?;
    Ok(())
}

/// An autofilter on the header row over `columns` columns and the `rows` rows below it.
fn autofilter(sheet: &mut Worksheet, columns: usize, rows: usize) -> Result<(), XlsxError> {
    let last = u16::try_from(columns.saturating_sub(1)).unwrap_or(0);
    sheet.autofilter(
        HEADER_ROW,
        0,
        HEADER_ROW + u32::try_from(rows).unwrap_or(0),
        last,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    use chrono::NaiveDate;

    use super::*;

    fn uplift_frame(campaign: &Campaign) -> DataFrame {
        let method = crate::primary_method(campaign, None).unwrap();
        let mut region = Vec::new();
        let mut category = Vec::new();
        let mut kind = Vec::new();
        let mut methods = Vec::new();
        let mut pct = Vec::new();
        for (r, base) in [("000000", 8.0), ("330000", 5.0), ("XPCC", -1.0)] {
            for (c, extra) in [
                ("all_targeted", 0.0),
                ("home_appliances", 1.0),
                ("furniture", 2.0),
                ("home_textiles", 3.0),
                ("building_materials", 4.0),
            ] {
                for (k, m) in [
                    ("campaign", method.as_str()),
                    ("placebo", method.as_str()),
                    ("campaign", "other_method"),
                ] {
                    region.push(r);
                    category.push(c);
                    kind.push(k);
                    methods.push(m.to_owned());
                    pct.push(base + extra);
                }
            }
        }
        let n = region.len();
        let actual: Vec<f64> = pct.iter().map(|p| 1e9 * (1.0 + p / 100.0)).collect();
        let abs: Vec<f64> = pct.iter().map(|p| 1e9 * p / 100.0).collect();
        df!(
            "campaign_id" => vec![campaign.id.clone(); n],
            "region_code" => region,
            "region_name_zh" => vec![""; n],
            "category" => category,
            "window_kind" => kind,
            "method" => methods,
            "source" => vec!["payment_daily"; n],
            "actual_yuan" => actual,
            "baseline_yuan" => vec![1e9; n],
            "uplift_abs_yuan" => abs.clone(),
            "uplift_pct" => pct.clone(),
            "lower_pct" => pct.iter().map(|p| p - 2.0).collect::<Vec<_>>(),
            "upper_pct" => pct.iter().map(|p| p + 2.0).collect::<Vec<_>>(),
            "uplift_abs_lower_yuan" => abs.iter().map(|a| a - 2e7).collect::<Vec<_>>(),
            "uplift_abs_upper_yuan" => abs.iter().map(|a| a + 2e7).collect::<Vec<_>>(),
            "p_value" => vec![Some(0.01); n],
            "days_used" => vec![122_i64; n],
            "growth_factor" => vec![Some(1.02); n],
        )
        .expect("uplift frame")
    }

    fn activities_frame() -> DataFrame {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        df!(
            "activity_id" => ["b", "a", "c"],
            "region_code" => ["XPCC", "330000", "330000"],
            "name" => ["兵团家居节", "浙江家电焕新购物节", "浙江设计大赛"],
            "type" => ["carnival", "shopping_festival", "design_contest"],
            "start_date" => [d("2023-09-02"), d("2023-09-10"), d("2023-09-01")],
            "end_date" => [d("2023-09-02"), d("2023-09-30"), d("2023-10-01")],
            "venue" => ["石河子", "杭州", "线上平台"],
            "organizer" => ["兵团商务局", "浙江省商务厅", "浙江省家居协会"],
            "enterprise_count" => [Some(12_i64), Some(300), None],
            "brand_count" => [Some(20_i64), Some(500), Some(40)],
            "focus_tags" => ["green;smart", "age_friendly", ""],
            "online" => [false, true, true],
            "local_station" => [true, false, false],
        )
        .expect("activities frame")
    }

    fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        open_workbook_from_rs(Cursor::new(bytes)).expect("an xlsx workbook")
    }

    fn text(range: &calamine::Range<Data>, r: u32, c: u32) -> String {
        range
            .get_value((r, c))
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn num(range: &calamine::Range<Data>, r: u32, c: u32) -> f64 {
        match range.get_value((r, c)) {
            Some(Data::Float(v)) => *v,
            Some(Data::Int(v)) => *v as f64,
            other => panic!("({r},{c}) is not a number: {other:?}"),
        }
    }

    #[test]
    fn summary_has_national_first_in_yi_yuan_and_percent_for_the_primary_method() {
        let campaign = Campaign::default_2023();
        let bytes = workbook(
            &campaign,
            &uplift_frame(&campaign),
            &activities_frame(),
            None,
        )
        .expect("workbook");
        assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
        let mut book = open(bytes);
        assert_eq!(book.sheet_names(), [SUMMARY_SHEET, ACTIVITIES_SHEET]);
        let s = book.worksheet_range(SUMMARY_SHEET).expect("summary");
        assert!(text(&s, 0, 0).contains(&campaign.name_zh));
        for (c, h) in SUMMARY_COLUMNS.iter().enumerate() {
            assert_eq!(text(&s, 2, c as u32), *h);
        }
        // 3 regions × 5 categories, campaign window and primary method only.
        assert_eq!(s.height(), 3 + 15, "{s:?}");
        assert_eq!(text(&s, 3, 0), "000000");
        assert_eq!(text(&s, 3, 1), "全国");
        assert_eq!(text(&s, 3, 2), "全部目标品类 all targeted categories");
        assert!(
            (num(&s, 3, 5) - 0.8).abs() < 1e-9,
            "8 % of 10 亿元 is 0.8 亿元"
        );
        assert!((num(&s, 3, 8) - 8.0).abs() < 1e-9);
        assert!((num(&s, 3, 9) - 6.0).abs() < 1e-9);
        assert_eq!(text(&s, 3, 11), "是 Yes");
        // Regions follow in the campaign's order: Zhejiang before the Corps.
        assert_eq!(text(&s, 8, 0), "330000");
        assert_eq!(text(&s, 8, 1), "浙江省");
        assert_eq!(text(&s, 13, 0), "XPCC");
        assert_eq!(text(&s, 13, 11), "否 No");
    }

    #[test]
    fn activities_sheet_follows_the_attachment_layout() {
        let campaign = Campaign::default_2023();
        let summary = df!(
            "region_code" => ["330000"],
            "week_start" => [NaiveDate::from_ymd_opt(2023, 9, 4).expect("date")],
            "activity_type" => ["shopping_festival"],
            "activities" => [2_i64],
            "enterprises" => [300_i64],
            "brands" => [500_i64],
            "local_station_activities" => [0_i64],
        )
        .expect("summary frame");
        let bytes = workbook(
            &campaign,
            &uplift_frame(&campaign),
            &activities_frame(),
            Some(&summary),
        )
        .expect("workbook");
        let mut book = open(bytes);
        assert_eq!(
            book.sheet_names(),
            [SUMMARY_SHEET, ACTIVITIES_SHEET, ACTIVITY_SUMMARY_SHEET]
        );
        let a = book.worksheet_range(ACTIVITIES_SHEET).expect("register");
        assert_eq!(text(&a, 0, 0), format!("{}重点活动表", campaign.name_zh));
        for (c, h) in ACTIVITY_COLUMNS.iter().enumerate() {
            assert_eq!(text(&a, 2, c as u32), *h);
        }
        assert_eq!(a.height(), 3 + 3);
        // Zhejiang's two activities by start date, then the Corps.
        assert_eq!(num(&a, 3, 0), 1.0);
        assert_eq!(text(&a, 3, 1), "浙江省");
        assert_eq!(text(&a, 3, 2), "浙江设计大赛");
        assert_eq!(text(&a, 3, 3), "设计大赛");
        assert_eq!(text(&a, 3, 4), "2023-09-01至2023-10-01");
        assert_eq!(text(&a, 3, 7), "", "an unknown count stays empty");
        assert_eq!(text(&a, 3, 10), "线上");
        assert_eq!(text(&a, 4, 2), "浙江家电焕新购物节");
        assert_eq!(num(&a, 4, 7), 300.0);
        assert_eq!(text(&a, 4, 9), "适老化");
        assert_eq!(text(&a, 4, 10), "线上+线下");
        assert_eq!(text(&a, 5, 1), "新疆生产建设兵团");
        assert_eq!(text(&a, 5, 4), "2023-09-02");
        assert_eq!(text(&a, 5, 9), "绿色、智能");
        assert_eq!(text(&a, 5, 10), "线下");
        assert_eq!(text(&a, 5, 11), "是");
        let w = book
            .worksheet_range(ACTIVITY_SUMMARY_SHEET)
            .expect("weekly");
        assert_eq!(text(&w, 3, 1), "浙江省");
        // The week start is a date cell, not text.
        match w.get_value((3, 2)) {
            // 45173 is 2023-09-04 in Excel's 1900 date system.
            Some(Data::DateTime(d)) => assert_eq!(d.as_f64(), 45173.0),
            other => panic!("week start is not a date: {other:?}"),
        }
        assert_eq!(num(&w, 3, 5), 300.0);
    }

    #[test]
    fn a_region_gets_its_own_register_and_summary() {
        let campaign = Campaign::default_2023();
        let summary = df!(
            "region_code" => ["330000", "650000"],
            "week_start" => [NaiveDate::from_ymd_opt(2023, 9, 4).expect("date"); 2],
            "activity_type" => ["shopping_festival", "shopping_festival"],
            "activities" => [2_i64, 1],
            "enterprises" => [300_i64, 20],
            "brands" => [500_i64, 30],
            "local_station_activities" => [0_i64, 1],
        )
        .expect("summary frame");
        let bytes = region_workbook(
            &campaign,
            &uplift_frame(&campaign),
            &activities_frame(),
            Some(&summary),
            "330000",
        )
        .expect("Zhejiang's workbook");
        let mut book = open(bytes);
        assert_eq!(
            book.sheet_names(),
            [SUMMARY_SHEET, ACTIVITIES_SHEET, ACTIVITY_SUMMARY_SHEET]
        );
        let a = book.worksheet_range(ACTIVITIES_SHEET).expect("register");
        assert_eq!(
            text(&a, 0, 0),
            format!("浙江省{}重点活动表", campaign.name_zh)
        );
        for (c, h) in ACTIVITY_COLUMNS.iter().enumerate() {
            assert_eq!(text(&a, 2, c as u32), *h, "the attachment's columns");
        }
        // Zhejiang's two activities only, numbered from 1.
        assert_eq!(a.height(), 3 + 2);
        assert_eq!(num(&a, 3, 0), 1.0);
        assert_eq!(num(&a, 4, 0), 2.0);
        assert!((3..5).all(|r| text(&a, r, 1) == "浙江省"));
        // The summary: the national rows for reference, then Zhejiang's; no other region.
        let s = book.worksheet_range(SUMMARY_SHEET).expect("summary");
        let codes: Vec<String> = (3..s.height() as u32).map(|r| text(&s, r, 0)).collect();
        assert!(codes.iter().any(|c| c == "000000") && codes.iter().any(|c| c == "330000"));
        assert!(
            codes.iter().all(|c| c == "000000" || c == "330000"),
            "{codes:?}"
        );
        let w = book
            .worksheet_range(ACTIVITY_SUMMARY_SHEET)
            .expect("weekly");
        assert_eq!(w.height(), 3 + 1);
        assert_eq!(text(&w, 3, 0), "330000");
        let err = region_workbook(
            &campaign,
            &uplift_frame(&campaign),
            &activities_frame(),
            None,
            "999999",
        )
        .expect_err("not a region");
        assert!(matches!(err, WorkbookError::UnknownRegion(_)), "{err}");
    }

    /// `--level city`: a 分城市 By city sheet after the others, one row per city in the section's
    /// order, a blanked city's figures empty.
    #[test]
    fn a_province_s_workbook_gets_its_cities_sheet() {
        use crate::city::{CityRow, CitySection};
        let campaign = Campaign::default_2023();
        let city = |code: &str, name: &str, pct: Option<f64>| CityRow {
            code: code.into(),
            name_zh: name.into(),
            actual_yuan: pct.map(|_| 1e8),
            uplift_abs_yuan: pct.map(|p| 1e6 * p),
            uplift_pct: pct,
            lower_pct: pct.map(|p| p - 2.0),
            calibrated_lower_pct: None,
            upper_pct: pct.map(|p| p + 2.0),
            distinguishable: pct.map(|p| p.abs() >= 5.0),
        };
        let section = CitySection {
            scope_name_zh: "浙江省".into(),
            method: "prior_year".into(),
            rows: vec![
                city("330100", "杭州市", Some(12.5)),
                city("330400", "嘉兴市", None),
            ],
            note: "note".into(),
            share: Some(crate::city::CityShare {
                cities_yuan: 0.38e8,
                region_yuan: 24.0e8,
            }),
            noise: Some(crate::city::CityNoise {
                method: "two_year".into(),
                windows: 3,
                cells: 132,
                mae_pp: 17.6,
                calibrated_coverage: 0.88,
                region_mae_pp: Some(2.1),
            }),
        };
        let bytes = region_workbook_with(
            &campaign,
            &uplift_frame(&campaign),
            &activities_frame(),
            None,
            &DimensionTables::default(),
            "330000",
            Some(&section),
        )
        .expect("Zhejiang's workbook");
        let mut book = open(bytes);
        assert_eq!(
            book.sheet_names(),
            [SUMMARY_SHEET, ACTIVITIES_SHEET, "分城市 By city"]
        );
        let c = book.worksheet_range("分城市 By city").expect("cities");
        // Header rows, 2 cities, a gap, then coverage, noise and the note.
        assert_eq!(c.height(), 3 + 2 + 1 + 3);
        assert!(text(&c, 6, 0).contains("1.6%"), "{}", text(&c, 6, 0));
        assert!(text(&c, 7, 0).contains("17.6"), "{}", text(&c, 7, 0));
        assert_eq!(text(&c, 8, 0), "note");
        assert_eq!(text(&c, 3, 0), "杭州市");
        assert_eq!(text(&c, 3, 1), "330100");
        assert!((num(&c, 3, 4) - 12.5).abs() < 1e-9);
        assert_eq!(text(&c, 4, 0), "嘉兴市");
        assert!(
            matches!(c.get_value((4, 4)), None | Some(Data::Empty)),
            "a blanked city has no figure"
        );
    }

    #[test]
    fn an_uplift_table_without_the_primary_method_is_an_error() {
        let campaign = Campaign::default_2023();
        let uplift = uplift_frame(&campaign)
            .lazy()
            .filter(col("method").eq(lit("other_method")))
            .collect()
            .expect("filtered");
        let err = workbook(&campaign, &uplift, &activities_frame(), None).expect_err("no rows");
        assert!(err.to_string().contains("no national"), "{err}");
    }
}
