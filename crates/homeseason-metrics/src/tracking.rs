//! Weekly tracking for any as-of week of the campaign window. (Data completeness needs the lake's
//! manifest, so it lives with the lake readers: `homeseason_pipeline::completeness`.)

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::Result;

pub use homeseason_schema::calendar::week_start;

/// The Mondays of every week that overlaps the campaign window.
#[must_use]
pub fn window_weeks(campaign: &Campaign) -> Vec<NaiveDate> {
    let mut weeks = Vec::new();
    let mut w = week_start(campaign.window.start);
    while w <= campaign.window.end {
        weeks.push(w);
        w += Duration::days(7);
    }
    weeks
}

/// The date column `name` (days since 1970-01-01, or a type that casts to them) as dates, `None`
/// where null. Shared with the report crate, which reads the same frames.
///
/// # Errors
/// When the column is absent or does not cast.
pub fn dates_of(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<NaiveDate>>> {
    let days = df.column(name)?.cast(&DataType::Int32)?;
    Ok(days
        .i32()?
        .iter()
        .map(|d| d.and_then(homeseason_schema::calendar::from_epoch_days))
        .collect())
}

/// The column `name` as text (cast to a string; a null as ""). Shared with the report crate.
///
/// # Errors
/// When the column is absent or does not cast.
pub fn strings_of(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|s| s.unwrap_or_default().to_owned())
        .collect())
}

/// The column `name` as text (cast to a string; `None` where null).
///
/// # Errors
/// When the column is absent or does not cast.
pub(crate) fn opt_strings_of(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}

/// The column `name` as numbers (cast to `f64`; `None` where null). Shared with the report crate
/// and the binary's evaluation.
///
/// # Errors
/// When the column is absent or does not cast.
pub fn opt_floats_of(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let floats = df.column(name)?.cast(&DataType::Float64)?;
    Ok(floats.f64()?.iter().collect())
}

pub(crate) fn floats_of(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Weekly tracking from the daily detail (`baseline_daily`: region_code, category, method, date, actual,
/// baseline): for every week of the window (as_of_week = its Sunday), the week's actual and baseline,
/// the cumulative actual, baseline and uplift from the window's start to that Sunday, and the
/// week-over-week change of actual sales. Weeks cut by the window's edges hold only window days.
///
/// # Errors
/// When a column is missing.
pub fn weekly_tracking(baseline_daily: &DataFrame, campaign: &Campaign) -> Result<DataFrame> {
    let (region, category, method) = (
        strings_of(baseline_daily, "region_code")?,
        strings_of(baseline_daily, "category")?,
        strings_of(baseline_daily, "method")?,
    );
    let dates = dates_of(baseline_daily, "date")?;
    let (actual, baseline) = (
        floats_of(baseline_daily, "actual_yuan")?,
        floats_of(baseline_daily, "baseline_yuan")?,
    );
    // Keyed on the columns' own texts (borrowed: a key is not copied for every day).
    let mut weeks: BTreeMap<(&str, &str, &str, NaiveDate), (f64, f64)> = BTreeMap::new();
    for i in 0..baseline_daily.height() {
        let Some(d) = dates[i] else { continue };
        if !campaign.window.contains(d) {
            continue;
        }
        let e = weeks
            .entry((
                region[i].as_str(),
                category[i].as_str(),
                method[i].as_str(),
                week_start(d),
            ))
            .or_default();
        e.0 += actual[i];
        e.1 += baseline[i];
    }
    let mut out = WeeklyRows::default();
    let mut previous: Option<(&str, &str, &str, f64, f64, f64)> = None;
    for ((r, c, m, w), (wa, wb)) in weeks {
        let (cum_a, cum_b, last) = match &previous {
            Some((pr, pc, pm, ca, cb, last)) if *pr == r && *pc == c && *pm == m => {
                (ca + wa, cb + wb, Some(*last))
            }
            _ => (wa, wb, None),
        };
        out.as_of.push(w + Duration::days(6));
        out.region.push(r.to_owned());
        out.category.push(c.to_owned());
        out.method.push(m.to_owned());
        out.start.push(w.max(campaign.window.start));
        out.end
            .push((w + Duration::days(6)).min(campaign.window.end));
        out.week_actual.push(wa);
        out.week_baseline.push(wb);
        out.week_pct.push(100.0 * (wa / wb - 1.0));
        out.cum_actual.push(cum_a);
        out.cum_baseline.push(cum_b);
        out.cum_abs.push(cum_a - cum_b);
        out.cum_pct.push(100.0 * (cum_a / cum_b - 1.0));
        out.wow.push(last.map(|l| 100.0 * (wa / l - 1.0)));
        previous = Some((r, c, m, cum_a, cum_b, wa));
    }
    out.into_frame()
}

#[derive(Default)]
struct WeeklyRows {
    as_of: Vec<NaiveDate>,
    region: Vec<String>,
    category: Vec<String>,
    method: Vec<String>,
    start: Vec<NaiveDate>,
    end: Vec<NaiveDate>,
    week_actual: Vec<f64>,
    week_baseline: Vec<f64>,
    week_pct: Vec<f64>,
    cum_actual: Vec<f64>,
    cum_baseline: Vec<f64>,
    cum_abs: Vec<f64>,
    cum_pct: Vec<f64>,
    wow: Vec<Option<f64>>,
}

impl WeeklyRows {
    fn into_frame(self) -> Result<DataFrame> {
        Ok(df!(
            "as_of_week" => self.as_of,
            "region_code" => self.region,
            "category" => self.category,
            "method" => self.method,
            "week_start" => self.start,
            "week_end" => self.end,
            "week_actual_yuan" => self.week_actual,
            "week_baseline_yuan" => self.week_baseline,
            "week_uplift_pct" => self.week_pct,
            "cum_actual_yuan" => self.cum_actual,
            "cum_baseline_yuan" => self.cum_baseline,
            "cum_uplift_abs_yuan" => self.cum_abs,
            "cum_uplift_pct" => self.cum_pct,
            "wow_change_pct" => self.wow,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, m, day).unwrap()
    }

    #[test]
    fn weeks_cover_the_window() {
        let c = Campaign::default_2023();
        let w = window_weeks(&c);
        assert_eq!(w.first().copied(), Some(d(8, 28)));
        assert_eq!(w.last().copied(), Some(d(12, 25)));
        assert_eq!(w.len(), 18);
    }

    #[test]
    fn tracking_accumulates_week_by_week() {
        let c = Campaign::default_2023();
        let days: Vec<NaiveDate> = c.window.iter().collect();
        let n = days.len();
        let daily = df!(
            "region_code" => vec!["330000"; n],
            "category" => vec!["furniture"; n],
            "method" => vec!["prior_year"; n],
            "date" => days.clone(),
            "actual_yuan" => vec![110.0; n],
            "baseline_yuan" => vec![100.0; n],
        )
        .unwrap();
        let t = weekly_tracking(&daily, &c).unwrap();
        assert_eq!(t.height(), 18);
        let cum = t
            .column("cum_actual_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .get(17)
            .unwrap();
        assert!((cum - 110.0 * n as f64).abs() < 1e-6);
        let pct = t
            .column("cum_uplift_pct")
            .unwrap()
            .f64()
            .unwrap()
            .get(5)
            .unwrap();
        assert!((pct - 10.0).abs() < 1e-9);
    }
}
