//! Town and country (城乡): the uplift of urban and of rural areas, the change of the rural share,
//! and the rural uplift in the weeks of countryside-sales events (下乡), per region × category and
//! nationally (the `urban_rural_uplift` table).
//!
//! ## What is estimated
//! `payment_area_daily` carries each row's class, `urban_rural` (urban 市辖区, rural 县域, unknown
//! where the area is not county-level). The two classes go through the same estimator as the
//! channels ([`crate::split`], formulas in [`crate::channel`]'s docs): each class's rows alone make
//! the daily series (national `000000` and `all_targeted` sums included), the history methods
//! (`prior_year`, `two_year`, closed-form intervals) estimate each class's uplift over the window,
//! and the rural share of urban + rural gets its change with an interval (`rural_share_*`).
//! A class's sales are sparse (a county's few merchants of one category): a day the region has rows
//! but the class none is taken as a zero, not a missing day (left out, it would drop the day from
//! the baseline too and pull the uplift towards zero); the intervals still come from the days with
//! sales, so for a very sparse cell they are too narrow — compare the national rows and the
//! `unknown_share_pct` before reading a small region's class figure.
//! Areas of class `unknown` (an institution reporting province codes only, a prefecture-level code)
//! are in neither class; `unknown_share_pct` is their share of the cell's window sales (all classes),
//! so a reader sees how much of the region the split describes.
//!
//! ## The 下乡 link
//! For a region whose activities register (`activities`, type `countryside_sales`) holds events
//! overlapping the window, the window is cut into weeks of 7 days from its first day (the last may be
//! shorter); a week is a 下乡 week when any such event of the region runs on one of its days. Per
//! cell and method, each week's rural log ratio `x_w = ln(A_w / B_w)` (actual over the method's
//! baseline, from the rural class's daily baseline) is taken, and the link is the mean of the 下乡
//! weeks less the mean of the other weeks, `Δ = x̄_下乡 − x̄_other`, reported as
//! `countryside_lift_pct = 100 · (e^Δ − 1)`: how much higher rural sales ran against their baseline
//! in the weeks of the events than in the region's other window weeks. Its interval is Welch's:
//! `Δ ± t · √(s²_下乡/n_下乡 + s²_other/n_other)`, `t` the Student quantile of the level at the
//! Welch–Satterthwaite degrees of freedom; it needs two weeks of each kind. The national row pools
//! the regions' links by inverse variance with each region's variance floored at the regions'
//! median (`w = 1 / max(se², median se²)`, `Δ = Σ wΔ / Σ w`, `se = 1/√Σw`, normal quantile): with
//! a few weeks a side a region's own standard error is itself noisy, and an unfloored weight would
//! let one region with a small one decide the nation.
//!
//! **Assumptions.** The baseline's growth factor is common to every window week, so its error
//! cancels in `Δ`; weeks are independent (the daily residuals' short autocorrelation is absorbed
//! within a week); and the campaign's other effects are, in expectation, the same in 下乡 weeks as in
//! the others — the events' timing is not chosen to meet the campaign's peaks (Double 11, a local
//! shopping festival). Where it is, `Δ` carries that difference too: it is an association of rural
//! sales with the events' weeks, not proof that the events caused it.
//!
//! ## What is published
//! The lake's table holds every figure; what is published (the report, the workbook) withholds a
//! region's class estimate resting on too little data (the data floor, [`FLOOR_MERCHANTS`] and
//! [`FLOOR_DAYS`]) and, under small-cell suppression, blanks class figures resting on too few
//! merchants with their complements in every published margin — see
//! `homeseason_pipeline::dimensions::published_urban_rural`.

use std::collections::{BTreeMap, BTreeSet};

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use homeseason_stats::numeric::{t_quantile, two_sided_normal_p};
use polars::prelude::*;

use crate::Result;
use crate::series::NET_FEN;
use crate::split::{
    Split, all_classes, class_cells, class_rows_for_scoring, score_by_class, uplift_by_class_daily,
};
use crate::uplift::UpliftOptions;

/// The classes estimated, the share's class first.
pub const CLASSES: [&str; 2] = ["rural", "urban"];

/// The class of areas that are not county-level (left out of both classes).
pub const UNKNOWN: &str = "unknown";

/// The data floor of a published region × category class estimate of town and country: the
/// class series must hold at least this many distinct merchants on the pre-period's largest day
/// (`merchant_count` summed over its areas and MCCs, per institution and channel) — below it the
/// estimate is withheld from the report and the workbook (`homeseason_pipeline::dimensions::
/// withhold_thin_classes`); national rows are always published. Chosen from the 5-seed scores in
/// `benchmarks/SCORES.md` (section "Town and country: the data floor").
pub const FLOOR_MERCHANTS: i64 = 10;

/// The data floor's days with sales in the pre-period (see [`FLOOR_MERCHANTS`]).
pub const FLOOR_DAYS: i64 = 60;

/// The activity type of countryside-sales events in the `activities` table.
pub const COUNTRYSIDE_SALES: &str = "countryside_sales";

/// The split by town and country: the `urban_rural` column, the rural share reported.
const BY_CLASS: Split<'static> = Split {
    column: "urban_rural",
    classes: CLASSES,
};

/// The columns of the 下乡 link (module docs), in table order.
pub const LINK_COLUMNS: [&str; 6] = [
    "countryside_weeks",
    "other_weeks",
    "countryside_lift_pct",
    "countryside_lift_lower_pct",
    "countryside_lift_upper_pct",
    "countryside_p_value",
];

/// The `urban_rural_uplift` table from the lake's `payment_area_daily` and `activities`: one row per
/// region (and `000000`) × targeted category (and `all_targeted`) × history method, with each
/// class's uplift, the rural share's change, the unknown class's share of sales and the 下乡 link
/// (module docs). Empty when no row is urban or rural. `opts` gives the level and seed.
///
/// # Errors
/// When `payment_area_daily` or `activities` lacks its columns.
pub fn urban_rural_uplift(
    area_daily: &DataFrame,
    activities: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    if area_daily.height() == 0 {
        return Ok(DataFrame::empty());
    }
    // One group-by of the area rows (per region × category × class × date, in fen) serves the two
    // classes' series and the unknown class's share.
    let cells = class_cells(area_daily, BY_CLASS)?;
    let (table, daily) = uplift_by_class_daily(&with_zero_days(&cells)?, campaign, opts, BY_CLASS)?;
    if table.height() == 0 {
        return Ok(DataFrame::empty());
    }
    let unknown = unknown_shares(&cells, campaign)?;
    let cell = [col("region_code"), col("category")];
    let table = table
        .lazy()
        .join(
            unknown.lazy(),
            cell.clone(),
            cell,
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("unknown_share_pct").fill_null(lit(0.0)))
        .collect()?;
    let weeks = countryside_weeks(activities, campaign)?;
    let link = match &daily[0] {
        Some(rural) => links(rural, &weeks, campaign, opts.level)?,
        None => empty_links()?,
    };
    let keys = [col("region_code"), col("category"), col("method")];
    Ok(table
        .lazy()
        .join(
            link.lazy(),
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            ["region_code", "category", "method"],
            SortMultipleOptions::default(),
        )
        .collect()?)
}

/// The urban and rural cells of `cells` (the area rows' [`class_cells`]: fen sums per region ×
/// category × class × date), with a zero for each day the region has rows (any category, any
/// class) but the class none of the category ([`crate::with_zero_days_fen`]).
fn with_zero_days(cells: &DataFrame) -> Result<DataFrame> {
    let classes = cells.clone().lazy().filter(
        col("urban_rural")
            .eq(lit(CLASSES[0]))
            .or(col("urban_rural").eq(lit(CLASSES[1]))),
    );
    Ok(crate::with_zero_days_fen(
        classes,
        cells.clone().lazy(),
        "region_code",
        &["region_code", "category", "urban_rural"],
    )
    .collect()?)
}

/// Per region × category of the daily series, the window's sales of class `unknown` as a percentage
/// of all classes' (`unknown_share_pct`), from the area rows' [`class_cells`].
fn unknown_shares(cells: &DataFrame, campaign: &Campaign) -> Result<DataFrame> {
    // Summed in integer fen: the shares do not depend on the order the days are added in.
    let window = |sums: LazyFrame, name: &str| -> Result<LazyFrame> {
        Ok(crate::series::series_in_fen(sums, campaign)?
            .lazy()
            .filter(
                col("date")
                    .gt_eq(lit(campaign.window.start))
                    .and(col("date").lt_eq(lit(campaign.window.end))),
            )
            .group_by([col("region_code"), col("category")])
            .agg([col(NET_FEN).sum().cast(DataType::Float64).alias(name)]))
    };
    let all = window(all_classes(cells), "__all")?;
    let unknown = window(
        cells
            .clone()
            .lazy()
            .filter(col("urban_rural").eq(lit(UNKNOWN)))
            .select([
                col("region_code"),
                col("category"),
                col("date"),
                col(NET_FEN),
            ]),
        "__unknown",
    )?;
    let cell = [col("region_code"), col("category")];
    Ok(all
        .join(unknown, cell.clone(), cell, JoinArgs::new(JoinType::Left))
        .select([
            col("region_code"),
            col("category"),
            when(col("__all").gt(lit(0.0)))
                .then(lit(100.0) * col("__unknown").fill_null(lit(0.0)) / col("__all"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("unknown_share_pct"),
        ])
        .collect()?)
}

/// Per region, the window's week indices (0 = the window's first 7 days) on which a
/// countryside-sales event of the region runs.
fn countryside_weeks(
    activities: &DataFrame,
    campaign: &Campaign,
) -> Result<BTreeMap<String, BTreeSet<i64>>> {
    let mut weeks: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    if activities.height() == 0 {
        return Ok(weeks);
    }
    let rows = activities
        .clone()
        .lazy()
        .filter(col("type").eq(lit(COUNTRYSIDE_SALES)))
        .select([col("region_code"), col("start_date"), col("end_date")])
        .collect()?;
    let region = rows.column("region_code")?.str()?;
    let dates = |c: &str| crate::tracking::dates_of(&rows, c);
    let (start, end) = (dates("start_date")?, dates("end_date")?);
    let (w0, w1) = (campaign.window.start, campaign.window.end);
    for i in 0..rows.height() {
        let (Some(r), Some(s), Some(e)) = (region.get(i), start[i], end[i]) else {
            continue;
        };
        let (s, e) = (s.max(w0), e.min(w1));
        if s > e {
            continue;
        }
        let set = weeks.entry(r.to_owned()).or_default();
        for d in s.iter_days().take_while(|d| *d <= e) {
            set.insert((d - w0).num_days() / 7);
        }
    }
    Ok(weeks)
}

/// One 下乡 link: weeks of each kind, `Δ`, its standard error and degrees of freedom.
#[derive(Debug, Clone, Copy)]
struct Link {
    n_in: usize,
    n_out: usize,
    delta: f64,
    se: f64,
    df: f64,
}

/// Welch's comparison of the weekly log ratios of the 下乡 weeks (`inside`) and the others.
fn welch(inside: &[f64], outside: &[f64]) -> Option<Link> {
    let (n1, n2) = (inside.len(), outside.len());
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
        (m, v / n)
    };
    let ((m1, q1), (m2, q2)) = (moments(inside), moments(outside));
    let se = (q1 + q2).sqrt();
    if se.is_nan() || se <= 0.0 {
        return None;
    }
    let df = (q1 + q2).powi(2) / (q1 * q1 / (n1 as f64 - 1.0) + q2 * q2 / (n2 as f64 - 1.0));
    Some(Link {
        n_in: n1,
        n_out: n2,
        delta: m1 - m2,
        se,
        df,
    })
}

/// The national link from the regions' (module docs): inverse-variance weights with each region's
/// variance floored at the regions' median, `w = 1 / max(se², median se²)`, `Δ = Σ wΔ / Σ w`,
/// `se = 1 / √Σw`; weeks summed.
fn pooled(regions: &[Link]) -> Link {
    let mut variances: Vec<f64> = regions.iter().map(|l| l.se * l.se).collect();
    variances.sort_by(f64::total_cmp);
    let n = variances.len();
    let median = if n % 2 == 1 {
        variances[n / 2]
    } else {
        0.5 * (variances[n / 2 - 1] + variances[n / 2])
    };
    let (mut sw, mut swd) = (0.0, 0.0);
    for l in regions {
        let w = 1.0 / (l.se * l.se).max(median);
        sw += w;
        swd += w * l.delta;
    }
    Link {
        n_in: regions.iter().map(|l| l.n_in).sum(),
        n_out: regions.iter().map(|l| l.n_out).sum(),
        delta: swd / sw,
        se: 1.0 / sw.sqrt(),
        df: f64::INFINITY,
    }
}

/// The 下乡 link columns ([`LINK_COLUMNS`]) per region × category × method from the rural class's
/// daily baseline (module docs), with the national rows pooling the regions'.
fn links(
    rural_daily: &DataFrame,
    weeks: &BTreeMap<String, BTreeSet<i64>>,
    campaign: &Campaign,
    level: f64,
) -> Result<DataFrame> {
    if weeks.is_empty() {
        return empty_links();
    }
    let (w0, w1) = (campaign.window.start, campaign.window.end);
    let rows = rural_daily
        .clone()
        .lazy()
        .filter(col("date").gt_eq(lit(w0)).and(col("date").lt_eq(lit(w1))))
        .select([
            col("region_code"),
            col("category"),
            col("method"),
            col("date"),
            col("actual_yuan").cast(DataType::Float64),
            col("baseline_yuan").cast(DataType::Float64),
        ])
        .collect()?;
    let text = |c: &str| crate::tracking::opt_strings_of(&rows, c);
    let (region, category, method) = (text("region_code")?, text("category")?, text("method")?);
    let date = crate::tracking::dates_of(&rows, "date")?;
    let (actual, baseline) = (
        rows.column("actual_yuan")?.f64()?,
        rows.column("baseline_yuan")?.f64()?,
    );
    // (region, category, method) → week → (Σ actual, Σ baseline).
    type Cell = (String, String, String);
    let mut sums: BTreeMap<Cell, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
    for i in 0..rows.height() {
        let (Some(r), Some(c), Some(m), Some(d), Some(a), Some(b)) = (
            region[i].clone(),
            category[i].clone(),
            method[i].clone(),
            date[i],
            actual.get(i),
            baseline.get(i),
        ) else {
            continue;
        };
        if !weeks.contains_key(&r) {
            continue;
        }
        let w = sums
            .entry((r, c, m))
            .or_default()
            .entry((d - w0).num_days() / 7)
            .or_insert((0.0, 0.0));
        w.0 += a;
        w.1 += b;
    }
    let p = 0.5 + level / 2.0;
    let mut out: Vec<(Cell, Link, f64)> = Vec::new();
    // (category, method) → the regions' links.
    let mut national: BTreeMap<(String, String), Vec<Link>> = BTreeMap::new();
    for (cell, by_week) in sums {
        let marked = &weeks[&cell.0];
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        for (w, (a, b)) in by_week {
            if a > 0.0 && b > 0.0 {
                let x = (a / b).ln();
                if marked.contains(&w) {
                    inside.push(x);
                } else {
                    outside.push(x);
                }
            }
        }
        let Some(link) = welch(&inside, &outside) else {
            continue;
        };
        national
            .entry((cell.1.clone(), cell.2.clone()))
            .or_default()
            .push(link);
        let t = t_quantile(p, link.df);
        out.push((cell, link, t));
    }
    let z = homeseason_stats::numeric::normal_quantile(p);
    for ((c, m), regions) in national {
        out.push(((NATIONAL.to_owned(), c, m), pooled(&regions), z));
    }
    let pct = |x: f64| 100.0 * (x.exp() - 1.0);
    let (mut r, mut c, mut m) = (Vec::new(), Vec::new(), Vec::new());
    let (mut n_in, mut n_out) = (Vec::new(), Vec::new());
    let (mut lift, mut lo, mut hi, mut pv) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((region, category, method), link, t) in out {
        r.push(region);
        c.push(category);
        m.push(method);
        n_in.push(link.n_in as i64);
        n_out.push(link.n_out as i64);
        lift.push(pct(link.delta));
        lo.push(pct(link.delta - t * link.se));
        hi.push(pct(link.delta + t * link.se));
        pv.push(two_sided_normal_p(link.delta, link.se));
    }
    Ok(df!(
        "region_code" => r,
        "category" => c,
        "method" => m,
        LINK_COLUMNS[0] => n_in,
        LINK_COLUMNS[1] => n_out,
        LINK_COLUMNS[2] => lift,
        LINK_COLUMNS[3] => lo,
        LINK_COLUMNS[4] => hi,
        LINK_COLUMNS[5] => pv,
    )?)
}

/// The link columns with no rows (no countryside-sales events, or no rural rows).
fn empty_links() -> Result<DataFrame> {
    let text = |n: &str| Column::new(n.into(), Vec::<String>::new());
    let int = |n: &str| Column::new(n.into(), Vec::<i64>::new());
    let num = |n: &str| Column::new(n.into(), Vec::<f64>::new());
    Ok(DataFrame::new(
        0,
        vec![
            text("region_code"),
            text("category"),
            text("method"),
            int(LINK_COLUMNS[0]),
            int(LINK_COLUMNS[1]),
            num(LINK_COLUMNS[2]),
            num(LINK_COLUMNS[3]),
            num(LINK_COLUMNS[4]),
            num(LINK_COLUMNS[5]),
        ],
    )?)
}

/// `urban_rural_uplift` as one row per region × category × method × class with the `uplift`
/// table's column names and the category written `category/class` (see
/// [`crate::split::class_rows_for_scoring`]).
///
/// # Errors
/// When a column is missing.
pub fn urban_rural_rows_for_scoring(table: &DataFrame) -> Result<DataFrame> {
    class_rows_for_scoring(table, CLASSES)
}

/// Score `urban_rural_uplift` against a truth (`region_code, category, urban_rural,
/// true_uplift_pct`, the generator's `truth_urban_rural.csv`): per class and method, the
/// [`crate::score::score`] columns (`cells`, `mae_pp`, `bias_pp`, `coverage`) and `urban_rural`.
///
/// # Errors
/// When a column is missing.
pub fn score_urban_rural(table: &DataFrame, truth: &DataFrame) -> Result<DataFrame> {
    if table.height() == 0 {
        return Ok(DataFrame::empty());
    }
    score_by_class(table, truth, BY_CLASS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::{campaign_and_options, class_days, f, n};
    use chrono::NaiveDate;

    /// `payment_area_daily`-like rows for one region and category, 2021–2023: the rural part (40 %)
    /// grows by `rural` in the window plus `extra` on the days `xx` of countryside events, the urban
    /// part (50 %) by `urban`; an unknown area carries the other 10 % and grows by `urban`.
    fn daily(rural: f64, urban: f64, extra: f64, xx: &[(NaiveDate, NaiveDate)]) -> DataFrame {
        let parts = [("rural", 0.4), ("urban", 0.5), ("unknown", 0.1)];
        class_days("urban_rural", &parts, |j, day| match j {
            0 if xx.iter().any(|(a, b)| *a <= day && day <= *b) => rural + extra,
            0 => rural,
            _ => urban,
        })
    }

    fn activities(rows: &[(&str, &str, NaiveDate, NaiveDate)]) -> DataFrame {
        df!(
            "region_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "type" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "start_date" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "end_date" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn dt(m: u32, d: u32) -> NaiveDate {
        crate::test_frames::d(2023, m, d)
    }

    /// Each class's effect is recovered inside its interval, the rural share's change is the known
    /// one, unknown areas are 10 % of sales, and with no countryside event there is no link.
    #[test]
    fn recovers_each_classs_effect_the_share_change_and_the_unknown_share() {
        let (campaign, opts) = campaign_and_options();
        let none = activities(&[("330000", "shopping_festival", dt(9, 1), dt(12, 31))]);
        let out =
            urban_rural_uplift(&daily(0.06, 0.18, 0.0, &[]), &none, &campaign, &opts).unwrap();
        assert_eq!(out.height(), 8, "{out}");
        let share = 100.0 * (0.4 * 1.06) / (0.4 * 1.06 + 0.5 * 1.18);
        for i in 0..out.height() {
            let g = |c: &str| f(&out, c, i).unwrap();
            assert!((g("rural_uplift_pct") - 6.0).abs() < 1.5);
            assert!((g("urban_uplift_pct") - 18.0).abs() < 1.5);
            assert!(g("rural_lower_pct") < 6.0 && 6.0 < g("rural_upper_pct"));
            assert!(g("urban_lower_pct") < 18.0 && 18.0 < g("urban_upper_pct"));
            assert!((g("rural_share_pct") - share).abs() < 0.5);
            let change = g("rural_share_change_pp");
            assert!(
                (change - (share - 100.0 * 0.4 / 0.9)).abs() < 0.5,
                "{change}"
            );
            assert!(g("rural_share_change_upper_pp") < 0.0);
            // The unknown area: 10 % of the window's sales, grown like the urban part.
            let unknown = 100.0 * 0.1 * 1.18 / (0.4 * 1.06 + 0.6 * 1.18);
            assert!((g("unknown_share_pct") - unknown).abs() < 0.2, "{unknown}");
            assert!(f(&out, "countryside_lift_pct", i).is_none());
        }
        let truth = df!(
            "region_code" => ["330000", "330000", "000000", "000000"],
            "category" => ["home_appliances"; 4],
            "urban_rural" => ["rural", "urban", "rural", "urban"],
            "true_uplift_pct" => [6.0, 18.0, 6.0, 18.0],
        )
        .unwrap();
        let scores = score_urban_rural(&out, &truth).unwrap();
        assert_eq!(scores.height(), 4, "{scores}");
        for i in 0..4 {
            assert_eq!(n(&scores, "cells", i), 2);
            assert!(f(&scores, "mae_pp", i).unwrap() < 1.5);
            assert!((f(&scores, "coverage", i).unwrap() - 1.0).abs() < 1e-12);
        }
    }

    /// Rural sales lifted 5 % + 15 % in the weeks of two countryside events (5 % in the others):
    /// the link finds 1.20 / 1.05 − 1 = +14.3 % within 1.5 points with an interval well above zero,
    /// the national row too; the same events with no extra rural lift give a link within 1.5 points
    /// of zero.
    #[test]
    fn the_countryside_link_finds_the_extra_rural_lift_of_the_events_weeks() {
        let (campaign, opts) = campaign_and_options();
        // Two events on whole windows weeks (the window starts on Friday 1 September).
        let events = [(dt(9, 15), dt(10, 12)), (dt(11, 10), dt(11, 30))];
        let acts = activities(&[
            ("330000", COUNTRYSIDE_SALES, events[0].0, events[0].1),
            ("330000", COUNTRYSIDE_SALES, events[1].0, events[1].1),
            ("110000", COUNTRYSIDE_SALES, dt(9, 1), dt(9, 30)),
        ]);
        let out =
            urban_rural_uplift(&daily(0.05, 0.15, 0.15, &events), &acts, &campaign, &opts).unwrap();
        assert_eq!(out.height(), 8, "{out}");
        for i in 0..out.height() {
            let g = |c: &str| f(&out, c, i).unwrap();
            assert_eq!(n(&out, "countryside_weeks", i), 7);
            assert_eq!(n(&out, "other_weeks", i), 11);
            let (lift, truth) = (g("countryside_lift_pct"), 100.0 * (1.20 / 1.05 - 1.0));
            // Within 1.5 points (the holiday weeks' alignment of this noise-free season moves it by
            // about one, more than its ±1 % noise gives the interval), and clearly above zero.
            assert!((lift - truth).abs() < 1.5, "{lift}");
            assert!(g("countryside_lift_lower_pct") > 0.5 * truth, "{out}");
            assert!(
                g("countryside_lift_lower_pct") < lift && lift < g("countryside_lift_upper_pct")
            );
            assert!(g("countryside_p_value") < 0.01);
        }
        let flat =
            urban_rural_uplift(&daily(0.05, 0.15, 0.0, &events), &acts, &campaign, &opts).unwrap();
        for i in 0..flat.height() {
            let lift = f(&flat, "countryside_lift_pct", i).unwrap();
            assert!(lift.abs() < 1.5, "{lift}");
        }
    }

    /// Sparse rural sales (one day in five before the window, two in five inside it, the same
    /// amount each): the days without a sale are zeros, so the uplift is the doubled volume (+100 %),
    /// not the unchanged amount per selling day.
    #[test]
    fn days_without_a_sale_are_zeros() {
        let (campaign, opts) = campaign_and_options();
        let dense = daily(0.0, 0.0, 0.0, &[]);
        let (dates, classes) = (
            crate::tracking::dates_of(&dense, "date").unwrap(),
            crate::tracking::strings_of(&dense, "urban_rural").unwrap(),
        );
        let start = crate::test_frames::d(2021, 1, 1);
        let keep: Vec<bool> = (0..dense.height())
            .map(|i| {
                let day = dates[i].unwrap();
                let k = (day - start).num_days() % 5;
                classes[i] != "rural" || k == 0 || (campaign.window.contains(day) && k == 2)
            })
            .collect();
        let sparse = dense
            .filter(&BooleanChunked::from_slice("keep".into(), &keep))
            .unwrap();
        let out = urban_rural_uplift(&sparse, &activities(&[]), &campaign, &opts).unwrap();
        for i in 0..out.height() {
            let rural = f(&out, "rural_uplift_pct", i).unwrap();
            assert!((rural - 100.0).abs() < 15.0, "{rural}");
            assert!(f(&out, "urban_uplift_pct", i).unwrap().abs() < 1.5);
        }
    }

    /// No rows: no table and no error.
    #[test]
    fn no_area_rows_give_an_empty_table() {
        let (campaign, opts) = campaign_and_options();
        let out =
            urban_rural_uplift(&DataFrame::empty(), &activities(&[]), &campaign, &opts).unwrap();
        assert_eq!(out.height(), 0);
    }

    #[test]
    fn the_t_quantile_and_p_value_match_tables() {
        // t(0.95; 10) = 1.8125, t(0.975; 5) = 2.5706; erfc-based p of z = 1.96 is 0.05.
        assert!((t_quantile(0.95, 10.0) - 1.8125).abs() < 2e-3);
        assert!((t_quantile(0.975, 5.0) - 2.5706).abs() < 1e-2);
        assert!((two_sided_normal_p(1.96, 1.0) - 0.05).abs() < 1e-3);
    }
}
