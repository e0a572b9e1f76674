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
    /// Lower bound of the backtest-calibrated interval, percent (`None` without a city-level
    /// backtest of the method, or when blanked).
    pub calibrated_lower_pct: Option<f64>,
    /// `false` when `|uplift_pct|` is below the method's backtest error band at city level (shown
    /// △, not distinguishable from no effect); `None` without a band or when blanked.
    pub distinguishable: Option<bool>,
}

/// How much of the province's payments the city figures stand on: the cities' net sales over the
/// report's window (rows of `payment_area_daily` with a city, targeted categories) against the
/// province's own (`payment_daily`, same days and categories).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CityShare {
    /// The cities' net sales, yuan (every city, blanked ones included: only the sum is shown).
    pub cities_yuan: f64,
    /// The province's net sales in `payment_daily`, yuan.
    pub region_yuan: f64,
}

/// How far the city figures can be trusted: the headline method's backtest at city level (windows
/// with no campaign), beside the province level's.
#[derive(Debug, Clone, PartialEq)]
pub struct CityNoise {
    /// The method scored.
    pub method: String,
    /// Backtest windows.
    pub windows: usize,
    /// City × category cells scored over them.
    pub cells: usize,
    /// Mean absolute error of the uplift on those cells, percentage points.
    pub mae_pp: f64,
    /// Share of the cells whose backtest-calibrated interval held zero.
    pub calibrated_coverage: f64,
    /// The same method's MAE at province level, when the province-level backtest scored it.
    pub region_mae_pp: Option<f64>,
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
    /// The cities' share of the province's payments, when known.
    pub share: Option<CityShare>,
    /// The city-level backtest of the method, when the city-level estimate has one.
    pub noise: Option<CityNoise>,
}

impl CitySection {
    /// The paragraphs under the cities table (report and workbook): the share of the province's
    /// payments the cities cover, how noisy city figures are, what △ means, then [`Self::note`].
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = self.share {
            let pct = if s.region_yuan.abs() > 0.0 {
                // Two decimals for a share under 1 % (a handful of cities' reported areas).
                let share = s.cities_yuan / s.region_yuan * 100.0;
                if share.abs() < 1.0 {
                    format!("{share:.2}")
                } else {
                    format!("{share:.1}")
                }
            } else {
                "—".into()
            };
            out.push(format!(
                "覆盖范围：各城市合计 {:.2} 亿元，占本省同期支付额（payment_daily，全部目标品类）{:.2} 亿元的 {pct}%——城市数字只反映报送了交易所在区县的那部分支付，不是全省的分解。 Coverage: the cities add up to {:.2} 亿元 (100 million yuan), {pct} % of the province's {:.2} 亿元 of payments over the same days and categories (payment_daily): the city figures stand on the payments reported with the area they took place in, not on a breakdown of the whole province.",
                s.cities_yuan / 1e8,
                s.region_yuan / 1e8,
                s.cities_yuan / 1e8,
                s.region_yuan / 1e8,
            ));
        }
        if let Some(n) = &self.noise {
            let region = n
                .region_mae_pp
                .map_or_else(String::new, |r| format!("（省级同一方法 {r:.1} 个百分点）"));
            let region_en = n
                .region_mae_pp
                .map_or_else(String::new, |r| format!(" (the province level: {r:.1} pp)"));
            out.push(format!(
                "噪声：城市序列小，逐城市数字误差大。{} 在 {} 个无活动回测窗口、{} 个城市 × 品类单元上的平均绝对误差为 {:.1} 个百分点{region}，校准区间覆盖零（无活动窗口的真值）的比例为 {:.0}%。请看区间而非点估计；△ 表示提升低于该方法的回测误差带，与无效应无法区分。 Noise: city series are small and each city's figure is uncertain. On {} backtest window{} with no campaign, {} missed by {:.1} percentage points on average over {} city × category cells{region_en}, and its calibrated interval held zero (the truth there) in {:.0} % of them. Read the intervals, not the point estimates; △ marks an uplift below the method's backtest error band, not distinguishable from no effect.",
                n.method,
                n.windows,
                n.cells,
                n.mae_pp,
                n.calibrated_coverage * 100.0,
                n.windows,
                if n.windows == 1 { "" } else { "s" },
                n.method,
                n.mae_pp,
                n.cells,
                n.calibrated_coverage * 100.0,
            ));
        }
        out.push(self.note.clone());
        out
    }
}

/// Of `rows`: the cities whose interval lies above zero (the backtest-calibrated one where the
/// row has it, as the headline's own interval), the cities with figures, and the blanked
/// ones.
#[must_use]
pub fn cities_up(rows: &[CityRow]) -> (usize, usize, usize) {
    let shown = rows.iter().filter(|r| r.uplift_pct.is_some()).count();
    let up = rows
        .iter()
        .filter(|r| {
            r.calibrated_lower_pct
                .or(r.lower_pct)
                .is_some_and(|lo| lo > 0.0)
        })
        .count();
    (up, shown, rows.len() - shown)
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
    let distinguishable: Vec<Option<bool>> = match f.column("distinguishable") {
        Ok(c) => c.bool()?.iter().collect(),
        Err(_) => vec![None; f.height()],
    };
    let (actual, abs, pct, lo, cal_lo, hi) = (
        num("actual_yuan")?,
        num("uplift_abs_yuan")?,
        num("uplift_pct")?,
        num("lower_pct")?,
        num("calibrated_lower_pct").unwrap_or_else(|_| vec![None; f.height()]),
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
            calibrated_lower_pct: cal_lo[i],
            upper_pct: hi[i],
            distinguishable: distinguishable[i],
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
        r.uplift_pct.map_or_else(
            || "—".into(),
            |p| {
                if r.distinguishable == Some(false) {
                    format!("{} △", crate::signed(p, 1))
                } else {
                    crate::signed(p, 1)
                }
            },
        ),
        match (r.lower_pct, r.upper_pct) {
            (Some(lo), Some(hi)) => {
                format!("{} … {}", crate::signed(lo, 1), crate::signed(hi, 1))
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, pct: Option<f64>, lower: Option<f64>, d: Option<bool>) -> CityRow {
        CityRow {
            code: code.into(),
            name_zh: code.into(),
            actual_yuan: pct.map(|_| 1e6),
            uplift_abs_yuan: pct.map(|p| p * 1e4),
            uplift_pct: pct,
            lower_pct: lower,
            calibrated_lower_pct: None,
            upper_pct: lower.map(|l| l + 10.0),
            distinguishable: d,
        }
    }

    /// A city whose uplift rounds to zero shows `+0.0`, never `-0.0`; one below its method's
    /// backtest error band is marked △.
    #[test]
    fn a_city_s_cells_have_no_negative_zero_and_mark_the_undistinguishable() {
        let c = cells(&row("331000", Some(-0.04), Some(-0.049), Some(false)));
        assert_eq!(c[4], "+0.0 △");
        assert_eq!(c[5], "+0.0 … +10.0");
        let c = cells(&row("330100", Some(12.5), Some(2.0), Some(true)));
        assert_eq!(c[4], "+12.5");
        assert_eq!(crate::signed(-0.004, 2), "+0.00");
        assert_eq!(crate::signed(-0.06, 1), "-0.1");
    }

    /// The headline's count: cities whose interval is above zero, out of the cities with figures;
    /// blanked cities counted apart.
    #[test]
    fn cities_up_counts_published_cities_only() {
        let rows = [
            row("330100", Some(12.5), Some(2.0), Some(true)),
            row("330200", Some(3.0), Some(-1.0), Some(false)),
            row("330400", None, None, None),
        ];
        assert_eq!(cities_up(&rows), (1, 2, 1));
    }
}
