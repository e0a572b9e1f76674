//! A province's cities (issue 18 part 5): the table and the bar chart that replace the region section
//! and the tile map in `homeseason report --level city --region CODE`, and the workbook's sheet of
//! them. The rows come from the city-level `uplift` as published (a blanked city has no figures).

use homeseason_charts::{Bar, BarChart, Chart as _};
use polars::prelude::*;

use crate::{ChartFile, Result};

/// One city's row: all targeted categories, the headline method.
#[derive(Debug, Clone, PartialEq)]
pub struct CityRow {
    /// The city's 6-digit code (the plan city's own code for a plan city).
    pub code: String,
    /// Its Chinese name, from the division list.
    pub name_zh: String,
    /// Actual net sales in the window, yuan (`None`: blanked).
    pub actual_yuan: Option<f64>,
    /// Incremental sales, yuan.
    pub uplift_abs_yuan: Option<f64>,
    /// Uplift, percent.
    pub uplift_pct: Option<f64>,
    /// Lower bound of the interval, percent.
    pub lower_pct: Option<f64>,
    /// Upper bound of the interval, percent.
    pub upper_pct: Option<f64>,
}

/// The cities section of a province's report.
#[derive(Debug, Clone, PartialEq)]
pub struct CitySection {
    /// The province's Chinese name.
    pub scope_name_zh: String,
    /// The method whose figures are shown.
    pub method: String,
    /// Its cities, largest uplift first, blanked cities last.
    pub rows: Vec<CityRow>,
    /// What the figures cover and what is blanked (shown under the table).
    pub note: String,
}

/// The column headers of the cities table (report and workbook).
pub const HEADER: [&str; 6] = [
    "城市 City",
    "代码 Code",
    "实际 Actual (元 yuan)",
    "增量 Incremental (元 yuan)",
    "提升 Uplift (%)",
    "区间 Interval (%)",
];

/// The `all_targeted` campaign rows of `method` in a city-level `uplift`, but the `000000` total.
///
/// # Errors
/// Missing columns.
pub fn rows_of(uplift: &DataFrame, method: &str) -> Result<Vec<CityRow>> {
    let f = uplift
        .clone()
        .lazy()
        .filter(
            col("category")
                .eq(lit("all_targeted"))
                .and(col("method").eq(lit(method.to_owned())))
                .and(col("window_kind").eq(lit("campaign")))
                .and(col("region_code").neq(lit(homeseason_schema::region::NATIONAL))),
        )
        .collect()?;
    let text = |n: &str| -> Result<Vec<String>> {
        Ok(f.column(n)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let num = |n: &str| -> Result<Vec<Option<f64>>> {
        Ok(f.column(n)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (code, name) = (text("region_code")?, text("region_name_zh")?);
    let (actual, abs, pct, lo, hi) = (
        num("actual_yuan")?,
        num("uplift_abs_yuan")?,
        num("uplift_pct")?,
        num("lower_pct")?,
        num("upper_pct")?,
    );
    let mut rows: Vec<CityRow> = (0..f.height())
        .map(|i| CityRow {
            code: code[i].clone(),
            name_zh: name[i].clone(),
            actual_yuan: actual[i],
            uplift_abs_yuan: abs[i],
            uplift_pct: pct[i],
            lower_pct: lo[i],
            upper_pct: hi[i],
        })
        .collect();
    rows.sort_by(|a, b| match (a.uplift_pct, b.uplift_pct) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.code.cmp(&b.code)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.code.cmp(&b.code),
    });
    Ok(rows)
}

fn money(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0}"))
}

/// A row's cells, as [`HEADER`] names them (— for a blanked figure).
#[must_use]
pub fn cells(r: &CityRow) -> Vec<String> {
    vec![
        r.name_zh.clone(),
        r.code.clone(),
        money(r.actual_yuan),
        money(r.uplift_abs_yuan),
        r.uplift_pct
            .map_or_else(|| "—".into(), |p| format!("{p:+.1}")),
        match (r.lower_pct, r.upper_pct) {
            (Some(lo), Some(hi)) => format!("{lo:+.1} … {hi:+.1}"),
            _ => "—".into(),
        },
    ]
}

/// The bar chart of the cities' uplift with intervals (blanked cities left out).
///
/// # Errors
/// Rendering failures.
pub fn chart(section: &CitySection) -> Result<ChartFile> {
    let bars: Vec<Bar> = section
        .rows
        .iter()
        .filter_map(|r| match (r.uplift_pct, r.lower_pct, r.upper_pct) {
            (Some(p), Some(lo), Some(hi)) => Some(Bar::with_interval(r.name_zh.clone(), p, lo, hi)),
            (Some(p), _, _) => Some(Bar::new(r.name_zh.clone(), p)),
            _ => None,
        })
        .collect();
    let bar = BarChart::new(
        format!(
            "{}各城市提升（全部目标品类） Uplift by city, all targeted categories",
            section.scope_name_zh
        ),
        "提升 Uplift (%)",
        bars,
    );
    let size = bar.default_size();
    crate::chart_file(
        "uplift_by_city",
        &format!(
            "{}各城市提升及区间 Uplift by city with intervals",
            section.scope_name_zh
        ),
        &bar,
        size,
    )
}
