//! # homeseason-report
//!
//! Builds the report analysts send up the chain from the uplift tables: headline numbers, a table by
//! category and by region, charts, data accounting and the method, in Chinese with English beside it.
//! [`build`] returns a [`Report`] — a self-contained HTML page (charts inlined as PNG), a Markdown twin
//! that links the chart files, and every chart as PNG and SVG — and writes nothing itself.
//!
//! Every number carries a footnote naming the table (`uplift`, `baseline_daily`, the manifest) and the
//! method (`prior_year`, `two_year`) it came from.
#![deny(missing_docs)]

pub mod city;
mod html;
mod leverage;
mod rows;
mod sections;
pub mod workbook;

use homeseason_charts::{Bar, BarChart, Chart, Format, Heatmap, SeriesChart, TileMap, render};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::category::Category;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

pub use html::dims::{SplitLead, WITHHELD_COLUMN, split_lead};
pub use rows::{DailyRow, Diagnostics, IngestTotals, UpliftRow};
pub use sections::impact_points;

/// Errors while building the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A needed column is missing or mistyped.
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] homeseason_charts::ChartError),
    /// The tables hold nothing to report.
    #[error("nothing to report: {0}")]
    Empty(String),
    /// The region asked for is not one of the campaign's regions.
    #[error(
        "{0} 不是本次活动的地区 · {0} is not one of the campaign's regions (a 6-digit code such as 330000, or XPCC)"
    )]
    UnknownRegion(String),
    /// The report date lies outside the campaign window.
    #[error(
        "报告日期 {as_of} 不在活动窗口 {start} – {end} 内 · the report date {as_of} lies outside the campaign window {start} – {end}: choose a date in the window (or none, for the whole window)"
    )]
    AsOfOutsideWindow {
        /// The date asked for.
        as_of: chrono::NaiveDate,
        /// First day of the window.
        start: chrono::NaiveDate,
        /// Last day of the window.
        end: chrono::NaiveDate,
    },
}

/// Result alias.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// One chart in both formats.
#[derive(Debug, Clone)]
pub struct ChartFile {
    /// File stem, e.g. `uplift_by_region`.
    pub name: String,
    /// Caption (Chinese / English).
    pub caption: String,
    /// PNG bytes.
    pub png: Vec<u8>,
    /// SVG text.
    pub svg: String,
}

/// What the headline numbers count: payments seen by the reporting institutions, not total retail.
pub const HEADLINE_SCOPE: &str = "报送支付机构所见的支付交易（payment_daily），不是全部社会零售额 · payments seen by the reporting payment institutions (payment_daily), not total retail sales";

/// The three headline numbers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Headline {
    /// What the numbers count ([`HEADLINE_SCOPE`]).
    pub scope: String,
    /// Method behind them.
    pub method: String,
    /// Incremental net sales over the window, all targeted categories, nationally (yuan).
    pub incremental_yuan: f64,
    /// Its interval (yuan): the backtest-calibrated one when [`Headline::calibrated`], else the
    /// method's own.
    pub incremental_interval: (f64, f64),
    /// Uplift in percent.
    pub uplift_pct: f64,
    /// Its interval (percent): the backtest-calibrated one when [`Headline::calibrated`], else the
    /// method's own.
    pub uplift_interval: (f64, f64),
    /// Whether the intervals above are the method's interval scaled by its backtest conformal
    /// factor (`calibrated_*` columns of `uplift`); `false` when the table has no backtest.
    pub calibrated: bool,
    /// The method's own (uncalibrated) interval of the incremental sales (yuan).
    pub raw_incremental_interval: (f64, f64),
    /// The method's own (uncalibrated) interval of the uplift (percent).
    pub raw_uplift_interval: (f64, f64),
    /// Regions whose all-category uplift is positive at the headline's interval level (the lower
    /// bound of the interval the headline quotes), and regions estimated.
    pub regions_up: (usize, usize),
}

/// What the report is built from.
#[derive(Debug)]
pub struct ReportInput<'a> {
    /// The campaign.
    pub campaign: &'a Campaign,
    /// The `uplift` table.
    pub uplift: &'a DataFrame,
    /// Daily actual and baseline per cell and method.
    pub baseline_daily: &'a DataFrame,
    /// What was ingested.
    pub ingest: IngestTotals,
    /// The `data_completeness` table, if computed.
    pub completeness: Option<&'a DataFrame>,
    /// When the report was made (the caller's clock), shown in the footer.
    pub generated_at: String,
    /// Report date: the sections use data up to the Sunday ending its week (`None`: the window's
    /// end). The uplift table should already be estimated on data up to that date.
    pub as_of: Option<chrono::NaiveDate>,
    /// The other output tables the report reads; an absent or empty one leaves its section out.
    pub tables: ExtraTables<'a>,
    /// The small-cell threshold of the lake's dashboard copies (`ingest --suppress-below K`), when
    /// `baseline_daily` carries their `suppressed` flags: a flagged day is a gap in every published
    /// series, with a note naming `k`.
    pub suppress_below: Option<u32>,
}

/// One daily series the report publishes: a chart's data, as written beside the report
/// (`series.json`). A suppressed day has no actual (`null`), as the chart has a gap there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PublishedSeries {
    /// The chart's file stem, e.g. `series_national_furniture`.
    pub name: String,
    /// Region key (`000000` for the nation).
    pub region_code: String,
    /// Category id or `all_targeted`.
    pub category: String,
    /// Baseline method.
    pub method: String,
    /// The days, in order.
    pub points: Vec<PublishedPoint>,
}

/// One day of a [`PublishedSeries`] (yuan).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PublishedPoint {
    /// The day.
    pub date: chrono::NaiveDate,
    /// Net sales that day; `None` where suppressed.
    pub actual_yuan: Option<f64>,
    /// Baseline.
    pub baseline_yuan: f64,
    /// Band lower edge.
    pub lower_yuan: f64,
    /// Band upper edge.
    pub upper_yuan: f64,
    /// The actual is not published: fewer than k merchants make it up.
    pub suppressed: bool,
}

/// The note beside a published series with suppressed days.
#[must_use]
pub fn suppressed_note(k: Option<u32>) -> String {
    match k {
        Some(k) => format!("suppressed: fewer than {k} merchants 少于{k}家商户，不予公布"),
        None => "suppressed: too few merchants 商户过少，不予公布".to_owned(),
    }
}

/// Output tables beyond `uplift` and `baseline_daily`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExtraTables<'a> {
    /// `weekly_tracking`.
    pub weekly_tracking: Option<&'a DataFrame>,
    /// `activity_summary`.
    pub activity_summary: Option<&'a DataFrame>,
    /// `local_events`.
    pub local_events: Option<&'a DataFrame>,
    /// `local_event_series`.
    pub local_event_series: Option<&'a DataFrame>,
    /// `local_event_power`.
    pub local_event_power: Option<&'a DataFrame>,
    /// `triangulation`.
    pub triangulation: Option<&'a DataFrame>,
    /// `uplift_backtest`: which method heads the report (`primary_method = "auto"`) and the
    /// backtest figures behind the choice.
    pub uplift_backtest: Option<&'a DataFrame>,
    /// `leverage`: incremental sales per yuan of subsidy (拉动比) and the iROAS, computed from the
    /// published uplift (a blanked uplift blanks its row).
    pub leverage: Option<&'a DataFrame>,
    /// `channel_uplift` as published (suppressed figures blank): the online and offline section.
    pub channel_uplift: Option<&'a DataFrame>,
    /// `urban_rural_uplift` as published (small classes and their complements blank): the town
    /// and country section.
    pub urban_rural_uplift: Option<&'a DataFrame>,
    /// `theme_summary`: the themes and subcategories section.
    pub theme_summary: Option<&'a DataFrame>,
}

/// The area a report is about: the nation, or one region (a province's own report).
#[derive(Debug, Clone)]
pub(crate) struct Focus {
    /// `000000` or the region's code.
    pub(crate) code: String,
    /// `全国` or the region's short Chinese name.
    pub(crate) zh: String,
    /// `national` or the region's English name.
    pub(crate) en: String,
}

impl Focus {
    fn national() -> Focus {
        Focus {
            code: NATIONAL.into(),
            zh: "全国".into(),
            en: "national".into(),
        }
    }
    pub(crate) fn is_national(&self) -> bool {
        self.code == NATIONAL
    }
    /// Whether a row of `region` belongs to the area (every region for the nation).
    pub(crate) fn holds(&self, region: &str) -> bool {
        self.is_national() || region == self.code
    }
}

/// What the extra sections show (see `sections`).
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub(crate) focus: Option<Focus>,
    pub(crate) as_of: Option<chrono::NaiveDate>,
    pub(crate) progress: Option<sections::Progress>,
    pub(crate) events: Vec<sections::LocalEvent>,
    pub(crate) power: Vec<sections::PowerRow>,
    pub(crate) activities: sections::Activities,
    pub(crate) triangulation: Vec<sections::TriangulationRow>,
    pub(crate) backtest: Vec<sections::BacktestRow>,
    pub(crate) leverage: Vec<leverage::LeverageRow>,
    /// The sentence beside the headline when the placebo windows or the diagnostics say the
    /// headline method's interval is likely too narrow
    /// ([`homeseason_metrics::diagnostics::caveat`]).
    pub(crate) caveat: Option<String>,
    /// A province's cities in place of the region section and the tile map (`--level city`).
    pub(crate) cities: Option<city::CitySection>,
}

/// The Sunday ending the week of `d` (weeks run Monday to Sunday).
pub use homeseason_schema::calendar::week_end as week_sunday;

/// The report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Self-contained HTML (charts inlined).
    pub html: String,
    /// Markdown twin (charts linked as `charts/<name>.png`).
    pub markdown: String,
    /// Charts.
    pub charts: Vec<ChartFile>,
    /// Headline numbers.
    pub headline: Headline,
    /// The daily series the charts draw, point by point (suppressed days without an actual).
    pub series: Vec<PublishedSeries>,
}

fn chart_file<C: Chart>(
    name: &str,
    caption: &str,
    chart: &C,
    size: (u32, u32),
) -> Result<ChartFile> {
    Ok(ChartFile {
        name: name.to_owned(),
        caption: caption.to_owned(),
        png: render(chart, Format::Png, size.0, size.1)?,
        svg: String::from_utf8_lossy(&render(chart, Format::Svg, size.0, size.1)?).into_owned(),
    })
}

/// `v` with its sign and `digits` decimals, as every signed figure of the report and workbook is
/// shown; a value that rounds to zero is `+0.0`, never `-0.0`.
pub(crate) fn signed(v: f64, digits: usize) -> String {
    let s = format!("{v:+.digits$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        format!("+{}", &s[1..])
    } else {
        s
    }
}

fn category_names(id: &str) -> (String, String) {
    match Category::parse(id) {
        Ok(c) => (c.name_zh().to_owned(), c.name_en().to_owned()),
        Err(_) if id == "all_targeted" => (
            "全部目标品类".to_owned(),
            "all targeted categories".to_owned(),
        ),
        Err(_) => (id.to_owned(), id.to_owned()),
    }
}

fn category_label(id: &str) -> String {
    let (zh, en) = category_names(id);
    format!("{zh} {en}")
}

/// Check what the report is asked for before anything is built: the report date, when given, must lie
/// in the campaign window (a date after it would silently give the window's last week).
///
/// # Errors
/// [`ReportError::AsOfOutsideWindow`].
pub fn validate(input: &ReportInput<'_>) -> Result<()> {
    check_as_of(input.campaign, input.as_of)
}

/// The report-date rule of [`validate`] on its own, for callers that take a report date before they
/// have the tables (the notebook export): `None` or a date inside the campaign window.
///
/// # Errors
/// [`ReportError::AsOfOutsideWindow`].
pub fn check_as_of(campaign: &Campaign, as_of: Option<chrono::NaiveDate>) -> Result<()> {
    let w = campaign.window;
    match as_of {
        Some(d) if d < w.start || d > w.end => Err(ReportError::AsOfOutsideWindow {
            as_of: d,
            start: w.start,
            end: w.end,
        }),
        _ => Ok(()),
    }
}

/// The headline numbers from the campaign-window rows of the primary method: the area's (national,
/// or one region's) all-targeted incremental sales and uplift with their intervals, and how many
/// regions have an interval above zero.
fn headline_of(rows: &[UpliftRow], method: &str, area: &str) -> Result<Headline> {
    let national = rows
        .iter()
        .find(|r| r.region_code == area && r.category == "all_targeted" && r.method == method)
        .ok_or_else(|| {
            ReportError::Empty(format!(
                "no all-targeted estimate of {area} for method {method} (national: 000000)"
            ))
        })?;
    let region_rows: Vec<&UpliftRow> = rows
        .iter()
        .filter(|r| r.region_code != NATIONAL && r.category == "all_targeted" && r.method == method)
        .collect();
    let raw_pct = (national.lower, national.upper);
    let raw_yuan = (national.uplift_abs_lower, national.uplift_abs_upper);
    // The calibrated interval heads the report when the table carries it for this cell (both
    // units), else the method's own.
    let calibrated = national.calibrated_pct().zip(national.calibrated_yuan());
    Ok(Headline {
        scope: HEADLINE_SCOPE.to_owned(),
        method: method.to_owned(),
        incremental_yuan: national.uplift_abs,
        incremental_interval: calibrated.map_or(raw_yuan, |c| c.1),
        uplift_pct: national.uplift_pct,
        uplift_interval: calibrated.map_or(raw_pct, |c| c.0),
        calibrated: calibrated.is_some(),
        raw_incremental_interval: raw_yuan,
        raw_uplift_interval: raw_pct,
        regions_up: (
            region_rows
                .iter()
                .filter(|r| {
                    let lower = if calibrated.is_some() {
                        r.calibrated_pct().map_or(r.lower, |c| c.0)
                    } else {
                        r.lower
                    };
                    lower > 0.0
                })
                .count(),
            region_rows.len(),
        ),
    })
}

/// The report's headline from an `uplift` table alone — the very numbers [`build`] puts at the top
/// of the report (the notebook export writes them beside the notebook to check against).
///
/// # Errors
/// When the table lacks columns or holds no national all-targeted estimate for the primary method.
pub fn headline(
    campaign: &Campaign,
    uplift: &DataFrame,
    backtest: Option<&DataFrame>,
) -> Result<Headline> {
    headline_of(
        &rows::uplift_rows(uplift)?,
        &primary_method(campaign, backtest)?,
        NATIONAL,
    )
}

/// The method the headline uses: the pinned `baseline.primary_method`, or for `auto` the method the
/// `uplift_backtest` table selects (see [`homeseason_metrics::backtest::resolve_primary`], the one
/// place `auto` is resolved).
///
/// # Errors
/// When the backtest table lacks its columns.
pub fn primary_method(campaign: &Campaign, backtest: Option<&DataFrame>) -> Result<String> {
    Ok(
        homeseason_metrics::backtest::resolve_primary(campaign, backtest)
            .map_err(|e| ReportError::Empty(format!("uplift_backtest: {e}")))?
            .baseline
            .primary_method,
    )
}

/// One region's own report (a province, plan city or the Corps): the same sections as [`build`],
/// about that region — its headline, its categories, its daily series and weekly progress, its
/// local events and planning rows, its activities, its triangulation rows and its completeness —
/// with the comparison of every region (bars, heatmap, tile map) kept for context. The input is
/// the same as for the national report; the region's rows are picked here.
///
/// # Errors
/// [`ReportError::UnknownRegion`] when `region` is not one of the campaign's regions; otherwise as
/// [`build`].
pub fn build_region(input: &ReportInput<'_>, region: &str) -> Result<Report> {
    build_for(input, focus_of(input, region)?, None)
}

/// The campaign's region `region` as the report's focus.
fn focus_of(input: &ReportInput<'_>, region: &str) -> Result<Focus> {
    let found = input
        .campaign
        .regions()
        .map_err(|e| ReportError::Empty(e.to_string()))?
        .into_iter()
        .find(|r| r.code == region)
        .ok_or_else(|| ReportError::UnknownRegion(region.to_owned()))?;
    Ok(Focus {
        code: found.code.clone(),
        zh: found.short_zh.clone(),
        en: found.name_en.clone(),
    })
}

/// A province's city-level report (`homeseason report --level city --region CODE`): the region's
/// own report ([`build_region`]) with the region section, the region bars, the heatmap and the tile
/// map replaced by the table and the bar chart of its cities ([`city::CitySection`]).
///
/// # Errors
/// As [`build_region`]; rendering the city chart.
pub fn build_region_cities(
    input: &ReportInput<'_>,
    region: &str,
    cities: city::CitySection,
) -> Result<Report> {
    build_for(input, focus_of(input, region)?, Some(cities))
}

/// Build the report.
///
/// # Errors
/// When the input does not [`validate`], the tables lack columns or hold no national estimate for
/// the primary method.
pub fn build(input: &ReportInput<'_>) -> Result<Report> {
    build_for(input, Focus::national(), None)
}

fn build_for(
    input: &ReportInput<'_>,
    focus: Focus,
    cities: Option<city::CitySection>,
) -> Result<Report> {
    validate(input)?;
    let campaign = input.campaign;
    let method = primary_method(campaign, input.tables.uplift_backtest)?;
    let backtest = match input.tables.uplift_backtest {
        Some(b) if b.height() > 0 => sections::backtest(b)?,
        _ => Vec::new(),
    };
    let rows = rows::uplift_rows(input.uplift)?;
    let placebo = rows::placebo_rows(input.uplift)?;
    let completeness = match input.completeness {
        Some(df) => rows::completeness_summary(df, &focus)?,
        None => Vec::new(),
    };
    let daily = rows::daily_rows(input.baseline_daily)?;
    let find = |region: &str, category: &str, m: &str| {
        rows.iter()
            .find(|r| r.region_code == region && r.category == category && r.method == m)
    };
    let regions = Regions::embedded();
    let region_rows: Vec<&UpliftRow> = rows
        .iter()
        .filter(|r| r.region_code != NATIONAL && r.category == "all_targeted" && r.method == method)
        .collect();
    let headline = headline_of(&rows, &method, &focus.code)?;

    let mut charts = Vec::new();
    // National series per category, window shaded, baseline and band.
    let mut series_cats = vec!["all_targeted".to_owned()];
    series_cats.extend(campaign.categories.targeted_ids().map(str::to_owned));
    let mut published = Vec::new();
    let mut gaps: Vec<String> = Vec::new();
    for cat in &series_cats {
        let mut points: Vec<&DailyRow> = daily
            .iter()
            .filter(|d| d.region_code == focus.code && &d.category == cat && d.method == method)
            .collect();
        if points.is_empty() {
            continue;
        }
        points.sort_by_key(|p| p.date);
        let (zh, en) = category_names(cat);
        let mut chart = SeriesChart::new(
            if focus.is_national() {
                format!("全国{zh}日销售额  National daily net sales, {en}")
            } else {
                format!(
                    "{}{zh}日销售额  Daily net sales in {}, {en}",
                    focus.zh, focus.en
                )
            },
            "日销售额 Daily net sales (万元)",
        );
        for p in &points {
            if p.suppressed {
                chart.gaps.push(p.date);
                gaps.push(format!("{} {zh} {en}: —", p.date));
            } else {
                chart.actual.push((p.date, p.actual / 1e4));
            }
            chart.baseline.push((p.date, p.baseline / 1e4));
            chart.band.push((p.date, p.lower / 1e4, p.upper / 1e4));
        }
        if !chart.gaps.is_empty() {
            chart.gap_label = format!("空缺 Gap — {}", suppressed_note(input.suppress_below));
        }
        chart.window = Some((campaign.window.start, campaign.window.end));
        let name = format!(
            "series_{}_{cat}",
            if focus.is_national() {
                "national"
            } else {
                focus.code.as_str()
            }
        );
        published.push(PublishedSeries {
            name: name.clone(),
            region_code: focus.code.clone(),
            category: cat.clone(),
            method: method.clone(),
            points: points
                .iter()
                .map(|p| PublishedPoint {
                    date: p.date,
                    actual_yuan: (!p.suppressed).then_some(p.actual),
                    baseline_yuan: p.baseline,
                    lower_yuan: p.lower,
                    upper_yuan: p.upper,
                    suppressed: p.suppressed,
                })
                .collect(),
        });
        charts.push(chart_file(
            &name,
            &if focus.is_national() {
                format!("全国{zh}日销售额与基线 National daily sales vs baseline, {en}")
            } else {
                format!(
                    "{}{zh}日销售额与基线 Daily sales vs baseline in {}, {en}",
                    focus.zh, focus.en
                )
            },
            &chart,
            (1200, 560),
        )?);
    }
    if let Some(section) = &cities {
        charts.push(city::chart(section)?);
    }
    // Ranked bars of regions, the heatmap and the tile map (not in a city-level report).
    let bars: Vec<Bar> = region_rows
        .iter()
        .map(|r| {
            let name = regions
                .by_code(&r.region_code)
                .map_or(r.region_code.clone(), |x| x.short_zh.clone());
            Bar::with_interval(name, r.uplift_pct, r.lower, r.upper)
        })
        .collect();
    let mut bar = BarChart::new(
        "各地区提升（全部目标品类） Uplift by region, all targeted categories",
        "提升 Uplift (%)",
        bars,
    );
    bar.interval_label = format!("{:.0}% 区间 interval", campaign.baseline.level * 100.0);
    let bar_size = bar.default_size();
    charts.push(chart_file(
        "uplift_by_region",
        "各地区提升及区间 Uplift by region with intervals",
        &bar,
        bar_size,
    )?);
    // Heatmap region × category.
    let cats: Vec<Category> = campaign.categories.targeted.clone();
    let mut row_labels = Vec::new();
    let mut values = Vec::new();
    for region in campaign
        .regions()
        .map_err(|e| ReportError::Empty(e.to_string()))?
    {
        row_labels.push(region.short_zh.clone());
        values.push(
            cats.iter()
                .map(|c| find(&region.code, c.id(), &method).map(|r| r.uplift_pct))
                .collect(),
        );
    }
    let heat = Heatmap::new(
        "地区 × 品类提升 Uplift by region × category (%)",
        row_labels,
        cats.iter()
            .map(|c| format!("{} {}", c.name_zh(), c.name_en()))
            .collect(),
        values,
        "提升 Uplift (%)",
    );
    let heat_size = heat.default_size();
    charts.push(chart_file(
        "uplift_heatmap",
        "地区 × 品类提升热力图 Uplift heatmap",
        &heat,
        heat_size,
    )?);
    // Tile map.
    let tiles: Vec<(String, String, Option<f64>)> = campaign
        .regions()
        .map_err(|e| ReportError::Empty(e.to_string()))?
        .iter()
        .map(|r| {
            (
                r.code.clone(),
                r.short_zh.clone(),
                find(&r.code, "all_targeted", &method).map(|x| x.uplift_pct),
            )
        })
        .collect();
    let tile = TileMap::new(
        "各地区提升示意图 Uplift by region (tile map)",
        "提升 Uplift (%)",
        tiles,
    );
    let tile_size = tile.default_size();
    charts.push(chart_file(
        "uplift_tilemap",
        "地区提升瓦片图 Tile map of uplift",
        &tile,
        tile_size,
    )?);
    if cities.is_some() {
        charts.retain(|c| {
            !matches!(
                c.name.as_str(),
                "uplift_by_region" | "uplift_heatmap" | "uplift_tilemap"
            )
        });
    }

    // The report week: the Sunday ending the as-of date's week, within the window.
    let as_of = week_sunday(
        input
            .as_of
            .unwrap_or(campaign.window.end)
            .min(campaign.window.end),
    )
    .min(campaign.window.end.max(week_sunday(campaign.window.start)));
    let t = input.tables;
    let caveat =
        homeseason_metrics::diagnostics::caveat(input.uplift, &method, campaign.baseline.level)
            .map_err(|e| ReportError::Empty(format!("uplift: {e}")))?
            .map(|c| c.sentence);
    let mut extra = Extra {
        as_of: Some(as_of),
        backtest,
        caveat,
        ..Extra::default()
    };
    if let Some(w) = t.weekly_tracking {
        extra.progress = sections::progress(w, &method, as_of, &focus.code)?;
    }
    if let Some(e) = t.local_events {
        let (events, chart) = sections::local_events(
            e,
            t.local_event_series,
            as_of,
            campaign.baseline.level,
            &focus,
        )?;
        extra.events = events;
        charts.extend(chart);
    }
    if let Some(p) = t.local_event_power {
        extra.power = sections::power_rows(p, &focus)?;
    }
    if let Some(a) = t.activity_summary {
        extra.activities = sections::activities(a, campaign.window.start, as_of, &focus)?;
        if let Some(c) = extra.activities.chart.take() {
            charts.push(c);
        }
    }
    if let Some(tr) = t.triangulation {
        extra.triangulation = sections::triangulation(tr)?;
    }
    if let Some(l) = t.leverage {
        extra.leverage = leverage::rows(l)?;
    }
    let focus_name = format!("{} {}", focus.zh, focus.en);
    extra.focus = Some(focus);
    extra.cities = cities;
    let doc = html::Document {
        extra: &extra,
        input,
        rows: &rows,
        placebo: &placebo,
        completeness: &completeness,
        headline: &headline,
        charts: &charts,
        method: &method,
        suppressed: (!gaps.is_empty()).then(|| {
            format!(
                "{}（{}）: {}",
                suppressed_note(input.suppress_below),
                focus_name,
                gaps.join("; ")
            )
        }),
    };
    Ok(Report {
        html: doc.html(),
        markdown: doc.markdown(),
        charts,
        headline,
        series: published,
    })
}
