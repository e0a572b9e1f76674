//! Triangulation: the uplift seen by payments, by key-enterprise sales and by 社零 (retail statistics),
//! side by side per region × category, with a flag where they disagree beyond their intervals.
//!
//! - **Payments**: the `uplift` rows (`window_kind = campaign`, the chosen method, `source =
//!   payment_daily` when the column is there) as they are, with their interval.
//! - **Enterprises**: a matched panel — the enterprises (`uscc`) of the region × category that report
//!   every day of every needed month: the window `W` and pre-period `P` of the campaign year `y` and the
//!   same ranges `L` years earlier (`L = 2` for `two_year`, because the campaign marks 2022 as distorted;
//!   `L = 1` otherwise). `U = (ΣW_y / ΣW_{y−L}) / (ΣP_y / ΣP_{y−L}) − 1`, in percent. Rows covering
//!   more than one day (months, weeks, explicit ranges) are spread evenly over their days. The
//!   interval resamples enterprises with replacement (ChaCha8, seeded per cell from the options' seed)
//!   and takes quantiles at the payments row's level. National (`000000`) uses the enterprises filed
//!   under `000000` when there are any, otherwise every region's enterprises pooled; `all_targeted`
//!   pools the campaign's targeted categories.
//! - **社零**: the growth of exactly the window's months over the comparison year, from the PUBLISHED
//!   year-on-year growth only (NBS compares comparable units, so growth is never recomputed from
//!   levels across years; the pre-period plays no part). Per window month `m`,
//!   `g(m) = Π_{k=0}^{L−1} (1 + yoy_{y−k}(m) / 100)`; `retail_yoy_pct = 100 · (Σ w(m) g(m) / Σ w(m) − 1)`
//!   with `w(m)` the campaign year's month value (where that value is not published, the same month
//!   of the nearest other year: the weights only carry the seasonal pattern). `retail_basis` says
//!   whether that figure is one number as published (`published`: a one-month window, `L = 1`, a
//!   published row) or computed from published figures (`derived`: weighted over months, compounded
//!   over years, or from a `derived_from_cumulative` row), and `retail_derivation` states how, with
//!   every YoY used. No interval; null when a needed YoY is missing, and for `all_targeted`.
//! - **Payments on the same footing**: `payments_yoy_pct = 100 · (A · g / B − 1)`, the window's actual
//!   sales `A` over the aligned comparison-year sales `B / g` (the uplift row's `actual`, `baseline`,
//!   `growth_factor`; null for methods without a growth factor). Its band carries the uplift
//!   interval's relative width: `(1 + yoy) · (1 + lower) / (1 + uplift) − 1`, likewise the upper bound.
//!
//! `status`: `agree` (every available source is consistent with payments), `enterprise_disagrees` (the
//! enterprise interval does not overlap the payments uplift interval), `retail_disagrees` (the 社零
//! growth lies outside the payments growth band — growth against growth, never growth against
//! uplift), `both_disagree`, or `payments_only` (no other source comparable).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use homeseason_schema::campaign::{Campaign, DateRange};
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::series::ALL_TARGETED;
use crate::tracking::{floats_of, strings_of};
use crate::uplift::Band;
use crate::{MetricsError, Result};

/// Options of [`triangulate`].
#[derive(Debug, Clone)]
pub struct TriangulateOptions {
    /// Baseline method whose payments rows are compared (`None`: the campaign's primary method).
    pub method: Option<String>,
    /// Bootstrap replicates of the enterprise interval.
    pub replicates: usize,
    /// Seed: the same input and seed give identical output.
    pub seed: u64,
    /// Fewest matched enterprises for an enterprise estimate (fewer: the enterprise columns are null).
    pub min_enterprises: usize,
}

impl Default for TriangulateOptions {
    /// The campaign's primary method, 999 replicates, [`crate::BOOTSTRAP_SEED`], at least 3 enterprises.
    fn default() -> Self {
        TriangulateOptions {
            method: None,
            replicates: 999,
            seed: crate::BOOTSTRAP_SEED,
            min_enterprises: 3,
        }
    }
}

/// The `status` values.
pub mod status {
    /// Every available source is consistent with payments.
    pub const AGREE: &str = "agree";
    /// The enterprise interval does not overlap the payments interval.
    pub const ENTERPRISE_DISAGREES: &str = "enterprise_disagrees";
    /// The 社零 point lies outside the payments interval.
    pub const RETAIL_DISAGREES: &str = "retail_disagrees";
    /// Both of the above.
    pub const BOTH_DISAGREE: &str = "both_disagree";
    /// Neither enterprise nor 社零 figures exist for the cell.
    pub const PAYMENTS_ONLY: &str = "payments_only";
}

/// The comparison lag in years of a method: 2 for `two_year`, else 1.
#[must_use]
pub fn lag_years(method: &str) -> i32 {
    if method == "two_year" { 2 } else { 1 }
}

/// The triangulation table (contract `data-schemas/triangulation.json`): one row per region × category
/// of the payments uplift rows of the chosen method, sorted by region_code, category.
///
/// Inputs as read from the lake (Hive partition columns included, as text):
/// - `uplift`: region_code, category, method, uplift_pct, lower_pct, upper_pct; optional window_kind (missing
///   = campaign), level (missing = the campaign's), source (rows of other sources are skipped);
/// - `enterprise_sales`: uscc, region_code, category, sales_amount_yuan, period_start, period_end
///   (dates, or `%Y-%m-%d` text);
/// - `retail_stats`: region_code, period (`YYYY-MM`), category, value_100m_yuan, yoy_pct; optional derivation
///   (on duplicate region × category × month, a `published` row wins).
///
/// The uplift rows' optional `actual_yuan`, `baseline_yuan` and `growth_factor` give the payments' own growth
/// (`payments_yoy_pct`), against which the 社零 growth is judged.
///
/// See the module docs for the method.
///
/// # Errors
/// When a needed column is missing or of an unusable type.
pub fn triangulate(
    uplift: &DataFrame,
    enterprise_sales: &DataFrame,
    retail_stats: &DataFrame,
    campaign: &Campaign,
    opts: &TriangulateOptions,
) -> Result<DataFrame> {
    // The caller passes a campaign whose "auto" is resolved by the backtest (pipeline::outputs);
    // without one, "auto" falls back as backtest::resolve_primary says.
    let method = match opts.method.clone() {
        Some(m) => m,
        None => {
            crate::backtest::resolve_primary(campaign, None)?
                .baseline
                .primary_method
        }
    };
    let lag = lag_years(&method);
    let cells = payment_cells(uplift, &method, campaign.baseline.level)?;
    let panel = EnterprisePanel::build(enterprise_sales, campaign, lag)?;
    let retail = RetailTable::build(retail_stats)?;
    let targeted: BTreeSet<String> = campaign
        .categories
        .targeted_ids()
        .map(str::to_owned)
        .collect();
    let names = Regions::embedded();

    let mut out = Rows::default();
    for ((region, category), p) in cells {
        let name = if region == NATIONAL {
            "全国".to_owned()
        } else {
            names.by_code(&region).map_or_else(
                || p.name.clone().unwrap_or_else(|| region.clone()),
                |r| r.name_zh.clone(),
            )
        };
        let clusters = panel.clusters(&region, &category, &targeted);
        let seed = opts.seed
            ^ fnv1a(&[
                region.as_bytes(),
                b"|",
                category.as_bytes(),
                b"|",
                method.as_bytes(),
            ]);
        let ent = if clusters.len() >= opts.min_enterprises.max(1) {
            enterprise_estimate(&clusters, p.level, opts.replicates, seed)
        } else {
            None
        };
        let retail_est = if category == ALL_TARGETED {
            None
        } else {
            retail.window_growth(&region, &category, &campaign.window, lag)
        };
        let (p_lo, p_hi) = payments_bounds(&p);
        let growth_band = payments_growth(&p);
        let retail_point = match (&retail_est, growth_band) {
            (Some(r), Some(band)) => Some((r.pct, band)),
            _ => None,
        };
        let st = status_of(p_lo, p_hi, ent.map(|e| (e.1, e.2)), retail_point);
        out.region.push(region.clone());
        out.name.push(name);
        out.category.push(category.clone());
        out.method.push(method.clone());
        out.level.push(p.level);
        out.payments.push([p.pct, p.lower, p.upper]);
        out.enterprise.push_some(ent);
        out.enterprises.push(clusters.len() as i64);
        out.payments_yoy.push_some(growth_band);
        out.r_pct.push(retail_est.as_ref().map(|r| r.pct));
        out.r_months
            .push(retail_est.as_ref().map_or(0, |r| r.months as i64));
        out.r_basis
            .push(retail_est.as_ref().map(|r| r.basis.to_owned()));
        out.r_derivation.push(retail_est.map(|r| r.derivation));
        out.status.push(st.to_owned());
    }
    out.into_frame()
}

/// One payments uplift row.
#[derive(Debug, Clone)]
struct PaymentCell {
    name: Option<String>,
    pct: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    level: f64,
    /// Window actual, baseline and growth factor (for the payments' own growth).
    actual: Option<f64>,
    baseline: Option<f64>,
    growth: Option<f64>,
}

fn opt(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn payment_cells(
    uplift: &DataFrame,
    method: &str,
    default_level: f64,
) -> Result<BTreeMap<(String, String), PaymentCell>> {
    let region = strings_of(uplift, "region_code")?;
    let category = strings_of(uplift, "category")?;
    let methods = strings_of(uplift, "method")?;
    let kind = if uplift.column("window_kind").is_ok() {
        strings_of(uplift, "window_kind")?
    } else {
        vec!["campaign".to_owned(); uplift.height()]
    };
    let source = if uplift.column("source").is_ok() {
        Some(strings_of(uplift, "source")?)
    } else {
        None
    };
    let name = if uplift.column("region_name_zh").is_ok() {
        Some(strings_of(uplift, "region_name_zh")?)
    } else {
        None
    };
    let (pct, lower, upper) = (
        floats_of(uplift, "uplift_pct")?,
        floats_of(uplift, "lower_pct")?,
        floats_of(uplift, "upper_pct")?,
    );
    let optional = |n: &str| -> Result<Vec<f64>> {
        if uplift.column(n).is_ok() {
            floats_of(uplift, n)
        } else {
            Ok(vec![f64::NAN; uplift.height()])
        }
    };
    let level = optional("level")?;
    let (actual, baseline, growth) = (
        optional("actual_yuan")?,
        optional("baseline_yuan")?,
        optional("growth_factor")?,
    );
    let mut cells = BTreeMap::new();
    for i in 0..uplift.height() {
        if methods[i] != method || kind[i] != "campaign" {
            continue;
        }
        if source
            .as_ref()
            .is_some_and(|s| !s[i].is_empty() && s[i] != "payment_daily")
        {
            continue;
        }
        let lv = if level[i].is_finite() && level[i] > 0.0 && level[i] < 1.0 {
            level[i]
        } else {
            default_level
        };
        cells
            .entry((region[i].clone(), category[i].clone()))
            .or_insert_with(|| PaymentCell {
                name: name
                    .as_ref()
                    .map(|n| n[i].clone())
                    .filter(|n| !n.is_empty()),
                pct: opt(pct[i]),
                lower: opt(lower[i]),
                upper: opt(upper[i]),
                level: lv,
                actual: opt(actual[i]),
                baseline: opt(baseline[i]),
                growth: opt(growth[i]),
            });
    }
    Ok(cells)
}

/// The payments interval, falling back to the point where a bound is missing.
fn payments_bounds(p: &PaymentCell) -> (f64, f64) {
    let pt = p.pct.unwrap_or(f64::NAN);
    (p.lower.unwrap_or(pt), p.upper.unwrap_or(pt))
}

/// The payments' growth over the aligned comparison year and its band, in percent: `(yoy, lower,
/// upper)` (see the module docs); `None` without actual, baseline and growth factor.
fn payments_growth(p: &PaymentCell) -> Option<(f64, f64, f64)> {
    let (a, b, g) = (p.actual?, p.baseline?, p.growth?);
    if a <= 0.0 || b <= 0.0 || g <= 0.0 {
        return None;
    }
    let yoy = a * g / b;
    let pct = p.pct?;
    let carry = |bound: Option<f64>| {
        bound.map_or(100.0 * (yoy - 1.0), |x| {
            100.0 * (yoy * (1.0 + x / 100.0) / (1.0 + pct / 100.0) - 1.0)
        })
    };
    Some((100.0 * (yoy - 1.0), carry(p.lower), carry(p.upper)))
}

/// The status of a cell from the payments uplift interval, the enterprise interval and the 社零
/// growth with the payments growth band `(point, lower, upper)` it is judged against.
fn status_of(
    p_lo: f64,
    p_hi: f64,
    enterprise: Option<(f64, f64)>,
    retail: Option<(f64, (f64, f64, f64))>,
) -> &'static str {
    if enterprise.is_none() && retail.is_none() {
        return status::PAYMENTS_ONLY;
    }
    let e_dis = enterprise.is_some_and(|(lo, hi)| hi < p_lo || lo > p_hi);
    let r_dis = retail.is_some_and(|(r, (_, lo, hi))| r < lo || r > hi);
    match (e_dis, r_dis) {
        (false, false) => status::AGREE,
        (true, false) => status::ENTERPRISE_DISAGREES,
        (false, true) => status::RETAIL_DISAGREES,
        (true, true) => status::BOTH_DISAGREE,
    }
}

/// FNV-1a, a hash that is stable across builds (seeds per cell).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

use crate::uplift::quantile;

/// `100 · ((W_y / W_{y−L}) / (P_y / P_{y−L}) − 1)` from the four sums, `None` if a sum is not positive.
fn ratio_uplift(s: &[f64; 4]) -> Option<f64> {
    if s.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return None;
    }
    Some(100.0 * ((s[0] / s[1]) / (s[2] / s[3]) - 1.0))
}

/// Point, lower, upper of the enterprise uplift: the pooled ratio and bootstrap quantiles over clusters.
fn enterprise_estimate(
    clusters: &[[f64; 4]],
    level: f64,
    replicates: usize,
    seed: u64,
) -> Option<(f64, f64, f64)> {
    let total = clusters.iter().fold([0.0; 4], |mut acc, c| {
        for k in 0..4 {
            acc[k] += c[k];
        }
        acc
    });
    let point = ratio_uplift(&total)?;
    let n = clusters.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draws = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        let mut s = [0.0; 4];
        for _ in 0..n {
            let c = &clusters[rng.random_range(0..n)];
            for k in 0..4 {
                s[k] += c[k];
            }
        }
        if let Some(u) = ratio_uplift(&s) {
            draws.push(u);
        }
    }
    if draws.is_empty() {
        return Some((point, point, point));
    }
    draws.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Some((
        point,
        quantile(&draws, alpha),
        quantile(&draws, 1.0 - alpha),
    ))
}

/// A date `years` earlier (29 Feb → 28 Feb).
fn years_back(d: NaiveDate, years: i32) -> NaiveDate {
    d.with_year(d.year() - years)
        .or_else(|| NaiveDate::from_ymd_opt(d.year() - years, d.month(), 28))
        .unwrap_or(d)
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The range cut at month boundaries.
fn month_segments(r: &DateRange) -> Vec<DateRange> {
    let mut out = Vec::new();
    let mut start = r.start;
    while start <= r.end {
        let next = first_of_next_month(start);
        let end = (next - chrono::Duration::days(1)).min(r.end);
        out.push(DateRange { start, end });
        start = next;
    }
    out
}

/// Year-month pairs a range touches.
fn months_of(r: &DateRange) -> Vec<(i32, u32)> {
    month_segments(r)
        .iter()
        .map(|s| (s.start.year(), s.start.month()))
        .collect()
}

/// A date column as dates, from a Date/Datetime column or `%Y-%m-%d` text.
fn date_column(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>> {
    let col = df.column(name)?;
    if col.dtype() == &DataType::String {
        return Ok(col
            .str()?
            .iter()
            .map(|s| {
                s.and_then(|s| {
                    NaiveDate::parse_from_str(s.trim().get(..10).unwrap_or(s.trim()), "%Y-%m-%d")
                        .ok()
                })
            })
            .collect());
    }
    let days = col.cast(&DataType::Date)?.cast(&DataType::Int32)?;
    Ok(days
        .i32()?
        .iter()
        .map(|d| d.and_then(homeseason_schema::calendar::from_epoch_days))
        .collect())
}

/// Per reporting unit (region, category, uscc): sales and covered days in each month segment of the
/// four ranges `W_y`, `W_{y−L}`, `P_y`, `P_{y−L}`.
struct EnterprisePanel {
    /// Complete units only: (region, category, uscc) → sums over the four ranges.
    units: BTreeMap<(String, String, String), [f64; 4]>,
    has_national: bool,
}

impl EnterprisePanel {
    fn build(df: &DataFrame, campaign: &Campaign, lag: i32) -> Result<EnterprisePanel> {
        let w = campaign.window;
        let p = campaign.baseline.pre_period;
        let back = |r: DateRange| DateRange {
            start: years_back(r.start, lag),
            end: years_back(r.end, lag),
        };
        let ranges = [w, back(w), p, back(p)];
        // (range index, segment, full bit mask)
        let segments: Vec<(usize, DateRange, u32)> = ranges
            .iter()
            .enumerate()
            .flat_map(|(k, r)| month_segments(r).into_iter().map(move |s| (k, s)))
            .map(|(k, s)| {
                let days = s.days() as u32;
                let full = if days >= 32 {
                    u32::MAX
                } else {
                    (1u32 << days) - 1
                };
                (k, s, full)
            })
            .collect();
        if df.height() == 0 {
            return Ok(EnterprisePanel {
                units: BTreeMap::new(),
                has_national: false,
            });
        }
        let uscc = strings_of(df, "uscc")?;
        let region = strings_of(df, "region_code")?;
        let category = strings_of(df, "category")?;
        let amount = floats_of(df, "sales_amount_yuan")?;
        let (starts, ends) = (
            date_column(df, "period_start")?,
            date_column(df, "period_end")?,
        );
        let mut acc: BTreeMap<(String, String, String), Vec<(f64, u32)>> = BTreeMap::new();
        for i in 0..df.height() {
            let (Some(s), Some(e)) = (starts[i], ends[i]) else {
                continue;
            };
            if e < s || !amount[i].is_finite() || uscc[i].is_empty() {
                continue;
            }
            let row_days = (e - s).num_days() + 1;
            let mut touched = false;
            for (_, seg, _) in &segments {
                if s <= seg.end && e >= seg.start {
                    touched = true;
                }
            }
            if !touched {
                continue;
            }
            let unit = acc
                .entry((region[i].clone(), category[i].clone(), uscc[i].clone()))
                .or_insert_with(|| vec![(0.0, 0); segments.len()]);
            for (j, (_, seg, _)) in segments.iter().enumerate() {
                let (a, b) = (s.max(seg.start), e.min(seg.end));
                if a > b {
                    continue;
                }
                let overlap = (b - a).num_days() + 1;
                unit[j].0 += amount[i] * overlap as f64 / row_days as f64;
                let from = (a - seg.start).num_days() as u32;
                for d in from..from + overlap as u32 {
                    unit[j].1 |= 1u32 << d.min(31);
                }
            }
        }
        let mut units = BTreeMap::new();
        for (key, segs) in acc {
            if segs
                .iter()
                .zip(&segments)
                .any(|(got, (_, _, full))| got.1 & full != *full)
            {
                continue;
            }
            let mut sums = [0.0; 4];
            for (got, (k, _, _)) in segs.iter().zip(&segments) {
                sums[*k] += got.0;
            }
            units.insert(key, sums);
        }
        let has_national = units.keys().any(|(r, _, _)| r == NATIONAL);
        Ok(EnterprisePanel {
            units,
            has_national,
        })
    }

    /// The matched enterprises of a cell, one sum vector per uscc (sorted by uscc).
    fn clusters(&self, region: &str, category: &str, targeted: &BTreeSet<String>) -> Vec<[f64; 4]> {
        let mut by_uscc: BTreeMap<&str, [f64; 4]> = BTreeMap::new();
        for ((r, c, u), sums) in &self.units {
            let region_ok = if region == NATIONAL && !self.has_national {
                true
            } else {
                r == region
            };
            let category_ok = if category == ALL_TARGETED {
                targeted.contains(c)
            } else {
                c == category
            };
            if region_ok && category_ok {
                let e = by_uscc.entry(u.as_str()).or_insert([0.0; 4]);
                for k in 0..4 {
                    e[k] += sums[k];
                }
            }
        }
        by_uscc.into_values().collect()
    }
}

/// (region, category, year, month).
type RetailKey = (String, String, i32, u32);

/// 社零 month values and published YoY by (region, category, year, month).
struct RetailTable {
    /// (month value in 亿元, published YoY in percent).
    cells: BTreeMap<RetailKey, (Option<f64>, Option<f64>)>,
    /// The cells whose row was not `published` (e.g. `derived_from_cumulative`), with that derivation.
    derived: BTreeMap<RetailKey, String>,
}

/// The 社零 growth of the window's months (see the module docs).
#[derive(Debug, Clone, PartialEq)]
struct RetailWindow {
    /// Growth over the comparison year, percent.
    pct: f64,
    /// Window months behind it.
    months: usize,
    /// `published` or `derived`.
    basis: &'static str,
    /// How the figure was obtained, with every YoY used.
    derivation: String,
}

/// `+2.7` / `−0.1` (one decimal, explicit sign).
fn signed(v: f64) -> String {
    let s = format!("{v:+.1}");
    s.replacen('-', "−", 1)
}

impl RetailTable {
    fn build(df: &DataFrame) -> Result<RetailTable> {
        let mut cells = BTreeMap::new();
        let mut derived = BTreeMap::new();
        if df.height() == 0 {
            return Ok(RetailTable { cells, derived });
        }
        let region = strings_of(df, "region_code")?;
        let category = strings_of(df, "category")?;
        let period = strings_of(df, "period")?;
        let value = floats_of(df, "value_100m_yuan")?;
        let yoy = floats_of(df, "yoy_pct")?;
        let derivation: Vec<String> = if df.column("derivation").is_ok() {
            strings_of(df, "derivation")?
        } else {
            vec![String::new(); df.height()]
        };
        let published: Vec<bool> = derivation
            .iter()
            .map(|d| d.is_empty() || d == "published")
            .collect();
        let mut rank: BTreeMap<RetailKey, bool> = BTreeMap::new();
        for i in 0..df.height() {
            let Some((y, m)) = parse_year_month(&period[i]) else {
                continue;
            };
            let key = (region[i].clone(), category[i].clone(), y, m);
            let new = (opt(value[i]), opt(yoy[i]));
            match rank.get(&key).copied() {
                // A published figure replaces a derived one.
                Some(false) if published[i] => {
                    cells.insert(key.clone(), new);
                    derived.remove(&key);
                    rank.insert(key, true);
                }
                // Same standing: fill only what is missing.
                Some(p) if p == published[i] => {
                    if let Some(c) = cells.get_mut(&key) {
                        c.0 = c.0.or(new.0);
                        c.1 = c.1.or(new.1);
                    }
                }
                Some(_) => {}
                None => {
                    if !published[i] {
                        derived.insert(key.clone(), derivation[i].clone());
                    }
                    cells.insert(key.clone(), new);
                    rank.insert(key, published[i]);
                }
            }
        }
        Ok(RetailTable { cells, derived })
    }

    /// The growth of exactly the window's months over the year `lag` years earlier, from published
    /// YoY; `None` when a figure is missing.
    fn window_growth(
        &self,
        region: &str,
        category: &str,
        window: &DateRange,
        lag: i32,
    ) -> Option<RetailWindow> {
        let months = months_of(window);
        let (mut num, mut den) = (0.0, 0.0);
        let mut yoys: Vec<Vec<String>> = vec![Vec::new(); usize::try_from(lag.max(1)).unwrap_or(1)];
        let mut from_derived = Vec::new();
        for &(y, m) in &months {
            let key = |yy: i32| (region.to_owned(), category.to_owned(), yy, m);
            // Weights only carry the seasonal pattern: where the campaign year's month value is
            // not published, the same month of the nearest other year stands in.
            let weight = [y, y - 1, y + 1, y - 2]
                .into_iter()
                .find_map(|yy| self.cells.get(&key(yy)).and_then(|c| c.0))?;
            let mut g = 1.0;
            for k in 0..lag {
                let yoy = self.cells.get(&key(y - k))?.1?;
                g *= 1.0 + yoy / 100.0;
                yoys[k as usize].push(format!("{}-{m:02} {}", y - k, signed(yoy)));
                if let Some(d) = self.derived.get(&key(y - k)) {
                    from_derived.push(format!("{}-{m:02} {d}", y - k));
                }
            }
            num += weight * g;
            den += weight;
        }
        if den <= 0.0 {
            return None;
        }
        let pct = 100.0 * (num / den - 1.0);
        let single = months.len() == 1 && lag == 1 && from_derived.is_empty();
        let listed = yoys.iter().map(|v| v.join(", ")).collect::<Vec<_>>();
        let mut derivation = if single {
            format!("published YoY {}", listed[0])
        } else {
            let mut d = if lag > 1 {
                format!(
                    "{lag}-year growth compounded from published YoY (1 + yoy/100 multiplied over {lag} years) per month: "
                )
            } else {
                "from published YoY: ".to_owned()
            };
            for (k, l) in listed.iter().enumerate() {
                if k > 0 {
                    d.push_str("; ");
                }
                d.push_str(l);
            }
            if months.len() > 1 {
                d.push_str("; months weighted by their value");
            }
            d
        };
        if !from_derived.is_empty() {
            derivation.push_str(&format!(
                "; not published as such: {}",
                from_derived.join(", ")
            ));
        }
        Some(RetailWindow {
            pct,
            months: months.len(),
            basis: if single { "published" } else { "derived" },
            derivation,
        })
    }
}

/// `YYYY-MM` (also `YYYY-M`, `YYYYMM`) → (year, month).
fn parse_year_month(s: &str) -> Option<(i32, u32)> {
    let s = s.trim();
    let (y, m) = match s.split_once('-') {
        Some((y, m)) => (y, m),
        None if s.len() == 6 => s.split_at(4),
        None => return None,
    };
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

#[derive(Default)]
struct Rows {
    region: Vec<String>,
    name: Vec<String>,
    category: Vec<String>,
    method: Vec<String>,
    level: Vec<f64>,
    /// `payments_uplift_pct` and its bounds.
    payments: Band,
    /// `payments_yoy_pct` and its bounds.
    payments_yoy: Band,
    /// `enterprise_uplift_pct` and its bounds.
    enterprise: Band,
    enterprises: Vec<i64>,
    r_pct: Vec<Option<f64>>,
    r_months: Vec<i64>,
    r_basis: Vec<Option<String>>,
    r_derivation: Vec<Option<String>>,
    status: Vec<String>,
}

impl Rows {
    fn into_frame(self) -> Result<DataFrame> {
        let [p_pct, p_lo, p_hi] = self.payments.into_columns();
        let [e_pct, e_lo, e_hi] = self.enterprise.into_columns();
        let [p_yoy, p_yoy_lo, p_yoy_hi] = self.payments_yoy.into_columns();
        df!(
            "region_code" => self.region,
            "region_name_zh" => self.name,
            "category" => self.category,
            "method" => self.method,
            "level" => self.level,
            "payments_uplift_pct" => p_pct,
            "payments_lower_pct" => p_lo,
            "payments_upper_pct" => p_hi,
            "enterprise_uplift_pct" => e_pct,
            "enterprise_lower_pct" => e_lo,
            "enterprise_upper_pct" => e_hi,
            "enterprises" => self.enterprises,
            "payments_yoy_pct" => p_yoy,
            "payments_yoy_lower_pct" => p_yoy_lo,
            "payments_yoy_upper_pct" => p_yoy_hi,
            "retail_yoy_pct" => self.r_pct,
            "retail_months" => self.r_months,
            "retail_basis" => self.r_basis,
            "retail_derivation" => self.r_derivation,
            "status" => self.status,
        )
        .map_err(MetricsError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::{f, n, s};

    /// The window's growth is derived, and its derivation says each of `parts`.
    fn assert_derived(r: &RetailWindow, parts: &[&str]) {
        assert_eq!(r.basis, "derived", "{r:?}");
        for part in parts {
            assert!(r.derivation.contains(part), "{part} in {}", r.derivation);
        }
    }

    fn month_end(y: i32, m: u32) -> NaiveDate {
        first_of_next_month(NaiveDate::from_ymd_opt(y, m, 1).unwrap()) - chrono::Duration::days(1)
    }

    /// (uscc, region, category, monthly amount).
    type Unit<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a dyn Fn(i32, u32) -> Option<f64>,
    );
    /// (region, category, method, window_kind, source, pct, lower, upper, payments growth %).
    type PayRow<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        f64,
        f64,
        f64,
        f64,
    );

    /// Monthly enterprise rows 2021-01 … 2023-12; `amount(year, month)` per enterprise, `None` = not reported.
    fn enterprise_frame(units: &[Unit<'_>]) -> DataFrame {
        let (mut uscc, mut region, mut category, mut amount, mut start, mut end, mut period) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (u, r, c, f) in units {
            for y in 2021..=2023 {
                for m in 1..=12 {
                    let Some(a) = f(y, m) else { continue };
                    uscc.push(u.to_string());
                    region.push(r.to_string());
                    category.push(c.to_string());
                    amount.push(a);
                    start.push(NaiveDate::from_ymd_opt(y, m, 1).unwrap());
                    end.push(month_end(y, m));
                    period.push(format!("{y}-{m:02}"));
                }
            }
        }
        df!(
            "uscc" => uscc,
            "category" => category,
            "sales_amount_yuan" => amount,
            "period_start" => start,
            "period_end" => end,
            "region_code" => region,
            "period" => period,
        )
        .unwrap()
    }

    /// 2021: 100, 2022: 90 (distorted), 2023: 120, and 132 (+10 % over the growth-adjusted base) in Sep–Dec.
    fn ten_percent(scale: f64) -> impl Fn(i32, u32) -> Option<f64> {
        move |y, m| {
            Some(
                scale
                    * match (y, m) {
                        (2021, _) => 100.0,
                        (2022, _) => 90.0,
                        (_, 9..=12) => 132.0,
                        _ => 120.0,
                    },
            )
        }
    }

    /// 社零 for one region × category: Jun–Dec 2023 values and YoY (2023 and 2022 published), plus
    /// 2021 levels that would mislead anyone computing growth from levels.
    fn retail_rows(
        region: &str,
        category: &str,
    ) -> Vec<(String, String, String, f64, Option<f64>)> {
        let mut rows = Vec::new();
        let v23 = [
            (6, 100.0),
            (7, 100.0),
            (8, 200.0),
            (9, 100.0),
            (10, 100.0),
            (11, 200.0),
            (12, 100.0),
        ];
        for (m, v) in v23 {
            let yoy = if m <= 8 { 10.0 } else { 20.0 };
            rows.push((
                region.into(),
                format!("2023-{m:02}"),
                category.into(),
                v,
                Some(yoy),
            ));
            let yoy22 = if m >= 11 { -10.0 } else { 0.0 };
            rows.push((
                region.into(),
                format!("2022-{m:02}"),
                category.into(),
                7.0,
                Some(yoy22),
            ));
            rows.push((
                region.into(),
                format!("2021-{m:02}"),
                category.into(),
                1.0,
                None,
            ));
        }
        rows
    }

    fn retail_frame(rows: Vec<(String, String, String, f64, Option<f64>)>) -> DataFrame {
        retail_frame_of(rows, "published")
    }

    /// 社零 rows (region, period, category, value, YoY) of one `derivation`.
    fn retail_frame_of(
        rows: Vec<(String, String, String, f64, Option<f64>)>,
        derivation: &str,
    ) -> DataFrame {
        let n = rows.len();
        df!(
            "region_code" => rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            "period" => rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            "category" => rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            "value_100m_yuan" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "yoy_pct" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "derivation" => vec![derivation; n],
        )
        .unwrap()
    }

    /// Payments uplift rows: (region, category, method, window_kind, source, pct, lower, upper, growth
    /// over the comparison year): baseline 100, actual 100 · (1 + pct), and the growth factor that makes
    /// the payments' own growth what is given.
    fn uplift_frame(rows: &[PayRow<'_>]) -> DataFrame {
        df!(
            "region_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "category" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "method" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "window_kind" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "source" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "uplift_pct" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            "lower_pct" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
            "upper_pct" => rows.iter().map(|r| r.7).collect::<Vec<_>>(),
            "level" => vec![0.9; rows.len()],
            "actual_yuan" => rows.iter().map(|r| 100.0 + r.5).collect::<Vec<_>>(),
            "baseline_yuan" => vec![100.0; rows.len()],
            "growth_factor" => rows.iter().map(|r| (1.0 + r.8 / 100.0) / (1.0 + r.5 / 100.0)).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn matched_panel_recovers_a_known_enterprise_uplift() {
        let c = Campaign::default_2023();
        let gap = |y: i32, m: u32| {
            if (y, m) == (2021, 10) {
                None
            } else {
                ten_percent(5.0)(y, m)
            }
        };
        let sales = enterprise_frame(&[
            ("E1", "330000", "furniture", &ten_percent(1.0)),
            ("E2", "330000", "furniture", &ten_percent(2.0)),
            ("E3", "330000", "furniture", &ten_percent(3.0)),
            // missing Oct 2021: not in the matched panel
            ("E4", "330000", "furniture", &gap),
            // another category, not counted for furniture
            ("E5", "330000", "home_appliances", &|_: i32, _: u32| {
                Some(50.0)
            }),
        ]);
        // One Zhejiang furniture campaign row: +9 % (5 … 13), growth over the baseline +10 %.
        let furniture = |method: &'static str, source: &'static str| {
            uplift_frame(&[(
                "330000",
                "furniture",
                method,
                "campaign",
                source,
                9.0,
                5.0,
                13.0,
                10.0,
            )])
        };
        let uplift = furniture("two_year", "payment_daily");
        let t = triangulate(
            &uplift,
            &sales,
            &retail_frame(vec![]),
            &c,
            &TriangulateOptions::default(),
        )
        .unwrap();
        assert_eq!(t.height(), 1);
        assert_eq!(n(&t, "enterprises", 0), 3);
        for col in [
            "enterprise_uplift_pct",
            "enterprise_lower_pct",
            "enterprise_upper_pct",
        ] {
            assert!((f(&t, col, 0).unwrap() - 10.0).abs() < 1e-9, "{col}");
        }
        assert_eq!(s(&t, "status", 0), status::AGREE);
        assert_eq!(s(&t, "region_name_zh", 0), "浙江省");
        assert!(f(&t, "retail_yoy_pct", 0).is_none());
        // prior_year (L = 1): 132/90 over 120/90 is also +10 %.
        let uplift = furniture("prior_year", "payment_daily");
        let opts = TriangulateOptions {
            method: Some("prior_year".into()),
            ..TriangulateOptions::default()
        };
        let t = triangulate(&uplift, &sales, &retail_frame(vec![]), &c, &opts).unwrap();
        assert!((f(&t, "enterprise_uplift_pct", 0).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(s(&t, "method", 0), "prior_year");
        // Below min_enterprises: no enterprise estimate, but the count is kept.
        let opts = TriangulateOptions {
            min_enterprises: 4,
            ..TriangulateOptions::default()
        };
        let t = triangulate(
            &furniture("two_year", ""),
            &sales,
            &retail_frame(vec![]),
            &c,
            &opts,
        )
        .unwrap();
        assert!(f(&t, "enterprise_uplift_pct", 0).is_none());
        assert_eq!(n(&t, "enterprises", 0), 3);
        assert_eq!(s(&t, "status", 0), status::PAYMENTS_ONLY);
    }

    #[test]
    fn retail_growth_from_published_yoy_of_exactly_the_window_months() {
        let c = Campaign::default_2023();
        let w = c.window;
        let table = RetailTable::build(&retail_frame(retail_rows("330000", "furniture"))).unwrap();
        // Window Sep–Dec only. L = 2: Sep, Oct g = 1.20 · 1.00 = 1.20; Nov, Dec g = 1.20 · 0.90 = 1.08;
        // weights 100, 100, 200, 100 → g_W = (120 + 120 + 216 + 108) / 500 = 1.128 → +12.8 %.
        let r = table.window_growth("330000", "furniture", &w, 2).unwrap();
        assert!((r.pct - 12.8).abs() < 1e-9, "{r:?}");
        assert_eq!(r.months, 4, "a four-month window rests on four months");
        assert!(
            r.derivation
                .starts_with("2-year growth compounded from published YoY"),
            "{}",
            r.derivation
        );
        assert_derived(
            &r,
            &[
                "2023-09 +20.0",
                "2023-12 +20.0",
                "2022-11 −10.0",
                "2022-09 +0.0",
                "weighted by their value",
            ],
        );
        assert!(
            !r.derivation.contains("2023-08"),
            "no pre-period month: {}",
            r.derivation
        );
        // L = 1: the published 2023 YoY of the four months, +20 % each.
        let r1 = table.window_growth("330000", "furniture", &w, 1).unwrap();
        assert!((r1.pct - 20.0).abs() < 1e-9);
        assert_eq!((r1.months, r1.basis), (4, "derived"));
        // The pre-period's YoY plays no part.
        let mut rows = retail_rows("330000", "furniture");
        for r in &mut rows {
            if r.1 == "2023-07" || r.1 == "2022-06" {
                r.4 = Some(55.0);
            }
        }
        let moved = RetailTable::build(&retail_frame(rows)).unwrap();
        assert_eq!(
            moved.window_growth("330000", "furniture", &w, 2).unwrap(),
            r
        );
        // A one-month window at L = 1 is the published figure itself.
        let october = DateRange {
            start: NaiveDate::from_ymd_opt(2023, 10, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2023, 10, 31).unwrap(),
        };
        let one = table
            .window_growth("330000", "furniture", &october, 1)
            .unwrap();
        assert_eq!((one.months, one.basis), (1, "published"));
        assert!((one.pct - 20.0).abs() < 1e-9);
        assert_eq!(one.derivation, "published YoY 2023-10 +20.0");
        // A missing published YoY → no estimate (never filled in from levels).
        let mut rows = retail_rows("330000", "furniture");
        for r in &mut rows {
            if r.1 == "2022-10" {
                r.4 = None;
            }
        }
        let table = RetailTable::build(&retail_frame(rows)).unwrap();
        assert!(table.window_growth("330000", "furniture", &w, 2).is_none());
        assert!(table.window_growth("330000", "furniture", &w, 1).is_some());
        assert!(
            table
                .window_growth("330000", "home_textiles", &w, 2)
                .is_none()
        );
        // An unpublished 2023 month value: the 2022 value (7) weighs the month instead.
        let mut rows = retail_rows("330000", "furniture");
        rows.retain(|r| r.1 != "2023-11");
        rows.push((
            "330000".into(),
            "2023-11".into(),
            "furniture".into(),
            f64::NAN,
            Some(20.0),
        ));
        let table = RetailTable::build(&retail_frame(rows)).unwrap();
        let r = table.window_growth("330000", "furniture", &w, 2).unwrap();
        let gw = (120.0 + 120.0 + 7.0 * 1.08 + 108.0) / 307.0;
        assert!((r.pct - 100.0 * (gw - 1.0)).abs() < 1e-9, "{r:?}");
        // A derived duplicate of a month never overrides the published row, whatever the order.
        let base = retail_frame(retail_rows("330000", "furniture"));
        let derived = retail_frame_of(
            vec![(
                "330000".into(),
                "2023-09".into(),
                "furniture".into(),
                900.0,
                Some(50.0),
            )],
            "derived_from_cumulative",
        );
        for frame in [
            base.vstack(&derived).unwrap(),
            derived.vstack(&base).unwrap(),
        ] {
            let r = RetailTable::build(&frame)
                .unwrap()
                .window_growth("330000", "furniture", &w, 2)
                .unwrap();
            assert!((r.pct - 12.8).abs() < 1e-9, "{r:?}");
            assert!(!r.derivation.contains("not published"), "{}", r.derivation);
        }
        // A month known only from a derived row says so, even for a one-month window.
        let only = retail_frame_of(
            vec![(
                "330000".into(),
                "2023-10".into(),
                "furniture".into(),
                100.0,
                Some(4.0),
            )],
            "derived_from_cumulative",
        );
        let r = RetailTable::build(&only)
            .unwrap()
            .window_growth("330000", "furniture", &october, 1)
            .unwrap();
        assert_derived(
            &r,
            &["not published as such: 2023-10 derived_from_cumulative"],
        );
    }

    #[test]
    fn status_flags() {
        // Retail growth is judged against the payments growth band, never against the uplift.
        let band = (3.0, 1.0, 5.0);
        assert_eq!(status_of(0.0, 10.0, None, None), status::PAYMENTS_ONLY);
        assert_eq!(
            status_of(0.0, 10.0, Some((9.0, 12.0)), Some((4.0, band))),
            status::AGREE
        );
        assert_eq!(
            status_of(0.0, 10.0, Some((11.0, 12.0)), None),
            status::ENTERPRISE_DISAGREES
        );
        assert_eq!(
            status_of(0.0, 10.0, Some((-3.0, -1.0)), Some((5.0, band))),
            status::ENTERPRISE_DISAGREES
        );
        assert_eq!(
            status_of(0.0, 10.0, None, Some((8.0, band))),
            status::RETAIL_DISAGREES
        );
        assert_eq!(
            status_of(0.0, 10.0, Some((11.0, 12.0)), Some((-1.0, band))),
            status::BOTH_DISAGREE
        );
        // A payments row with a growth factor: growth +10 %, uplift +8 % (0 … 20) → band
        // 1.10 · 1.00 / 1.08 − 1 … 1.10 · 1.20 / 1.08 − 1.
        let cell = PaymentCell {
            name: None,
            pct: Some(8.0),
            lower: Some(0.0),
            upper: Some(20.0),
            level: 0.9,
            actual: Some(108.0),
            baseline: Some(100.0),
            growth: Some(1.1 / 1.08),
        };
        let (g, lo, hi) = payments_growth(&cell).unwrap();
        assert!(
            (g - 10.0).abs() < 1e-9
                && (lo - 100.0 * (1.1 / 1.08 - 1.0)).abs() < 1e-9
                && (hi - 100.0 * (1.1 * 1.2 / 1.08 - 1.0)).abs() < 1e-9
        );
        assert!(
            payments_growth(&PaymentCell {
                growth: None,
                ..cell
            })
            .is_none()
        );
    }

    fn scene() -> (DataFrame, DataFrame, DataFrame) {
        let noisy = |k: f64| {
            move |y: i32, m: u32| {
                ten_percent(k)(y, m).map(|v| {
                    if y == 2023 && m >= 9 {
                        v * (1.0 + 0.03 * (k - 2.0))
                    } else {
                        v
                    }
                })
            }
        };
        let (a, b, cc, d) = (noisy(1.0), noisy(2.0), noisy(3.0), noisy(4.0));
        let sales = enterprise_frame(&[
            ("E1", "330000", "furniture", &a),
            ("E2", "330000", "furniture", &b),
            ("E3", "330000", "furniture", &cc),
            ("E4", "440000", "furniture", &d),
            ("E4", "440000", "home_appliances", &a),
        ]);
        let mut rr = retail_rows("330000", "furniture");
        rr.extend(retail_rows("330000", "building_materials"));
        rr.extend(retail_rows("000000", "furniture"));
        rr.extend(retail_rows("000000", "total_retail"));
        #[rustfmt::skip]
        let uplift = uplift_frame(&[
            ("330000", "furniture", "two_year", "campaign", "payment_daily", 8.0, 0.0, 20.0, 10.0),
            ("330000", "furniture", "two_year", "placebo", "payment_daily", 0.0, -5.0, 5.0, 10.0),
            ("330000", "furniture", "prior_year", "campaign", "payment_daily", 30.0, 25.0, 35.0, 10.0),
            ("330000", "furniture", "two_year", "campaign", "enterprise_sales", 1.0, 1.0, 1.0, 10.0),
            ("330000", "building_materials", "two_year", "campaign", "payment_daily", 10.0, 5.0, 15.0, 30.0),
            ("330000", "home_textiles", "two_year", "campaign", "payment_daily", 10.0, 5.0, 15.0, 10.0),
            ("000000", "all_targeted", "two_year", "campaign", "payment_daily", 25.0, 20.0, 30.0, 10.0),
            ("000000", "furniture", "two_year", "campaign", "payment_daily", 25.0, 20.0, 30.0, 30.0),
        ]);
        (uplift, sales, retail_frame(rr))
    }

    #[test]
    fn table_flags_disagreement_and_pools_national() {
        let c = Campaign::default_2023();
        let (uplift, sales, retail) = scene();
        let t = triangulate(&uplift, &sales, &retail, &c, &TriangulateOptions::default()).unwrap();
        let keys: Vec<(String, String)> = (0..t.height())
            .map(|i| (s(&t, "region_code", i), s(&t, "category", i)))
            .collect();
        assert_eq!(
            keys,
            [
                ("000000".into(), "all_targeted".into()),
                ("000000".into(), "furniture".into()),
                ("330000".into(), "building_materials".into()),
                ("330000".into(), "furniture".into()),
                ("330000".into(), "home_textiles".into()),
            ]
        );
        let statuses: Vec<String> = (0..t.height()).map(|i| s(&t, "status", i)).collect();
        assert_eq!(
            statuses,
            [
                "enterprise_disagrees",
                "both_disagree",
                "retail_disagrees",
                "agree",
                "payments_only"
            ]
        );
        // National pools every region's enterprises: furniture E1–E4, all_targeted adds E4's appliances
        // (still 4 distinct enterprises).
        assert_eq!(n(&t, "enterprises", 0), 4);
        assert_eq!(n(&t, "enterprises", 1), 4);
        assert_eq!(n(&t, "enterprises", 3), 3);
        assert_eq!(s(&t, "region_name_zh", 0), "全国");
        // Retail skipped for all_targeted, computed for national furniture.
        assert!(f(&t, "retail_yoy_pct", 0).is_none());
        assert_eq!(n(&t, "retail_months", 0), 0);
        assert!(
            t.column("retail_basis")
                .unwrap()
                .str()
                .unwrap()
                .get(0)
                .is_none()
        );
        assert!((f(&t, "retail_yoy_pct", 1).unwrap() - 12.8).abs() < 1e-9);
        assert_eq!(n(&t, "retail_months", 1), 4);
        assert_eq!(s(&t, "retail_basis", 1), "derived");
        assert!(s(&t, "retail_derivation", 1).contains("2023-09 +20.0"));
        // The payments' own growth over the comparison year, with its band.
        assert!((f(&t, "payments_yoy_pct", 3).unwrap() - 10.0).abs() < 1e-9);
        assert!(
            f(&t, "payments_yoy_lower_pct", 3).unwrap() < 10.0
                && f(&t, "payments_yoy_upper_pct", 3).unwrap() > 12.8
        );
        // The payments columns come from the campaign two_year payments row only.
        assert_eq!(f(&t, "payments_uplift_pct", 3), Some(8.0));
        assert_eq!(f(&t, "payments_lower_pct", 3), Some(0.0));
        let (lo, pt, hi) = (
            f(&t, "enterprise_lower_pct", 3).unwrap(),
            f(&t, "enterprise_uplift_pct", 3).unwrap(),
            f(&t, "enterprise_upper_pct", 3).unwrap(),
        );
        assert!(lo < pt && pt < hi, "{lo} {pt} {hi}");
        assert!((t.column("level").unwrap().f64().unwrap().get(0).unwrap() - 0.9).abs() < 1e-12);
    }

    #[test]
    fn same_input_and_seed_give_identical_output() {
        let c = Campaign::default_2023();
        let (uplift, sales, retail) = scene();
        let opts = TriangulateOptions::default();
        let a = triangulate(&uplift, &sales, &retail, &c, &opts).unwrap();
        let b = triangulate(&uplift, &sales, &retail, &c, &opts).unwrap();
        assert!(a.equals_missing(&b));
        // Row order of the inputs does not matter either.
        let rev = |df: &DataFrame| df.reverse();
        let r = triangulate(&rev(&uplift), &rev(&sales), &rev(&retail), &c, &opts).unwrap();
        assert!(a.equals_missing(&r));
        // The seed drives the bootstrap: same seed, same interval; another seed, another draw.
        let clusters: Vec<[f64; 4]> = (0..20)
            .map(|i| {
                let r = 1.0 + 0.01 * f64::from((i * 7) % 13);
                [110.0 * r, 100.0, 100.0 + f64::from(i), 100.0]
            })
            .collect();
        let one = enterprise_estimate(&clusters, 0.9, 999, 1).unwrap();
        assert_eq!(one, enterprise_estimate(&clusters, 0.9, 999, 1).unwrap());
        let two = enterprise_estimate(&clusters, 0.9, 999, 2).unwrap();
        assert_eq!(one.0, two.0);
        assert!(one.1 != two.1 || one.2 != two.2);
        assert!(one.1 < one.0 && one.0 < one.2);
    }
}
