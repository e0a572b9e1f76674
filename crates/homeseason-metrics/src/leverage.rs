//! What each yuan of subsidy brought in: the leverage ratio (拉动比) per region × category, per region
//! over the targeted categories and nationally, and — where a region started paying subsidies later
//! than others — the time-based regression's iROAS.
//!
//! # The leverage ratio
//!
//! For a cell (region or nation, category or `all_targeted`) of the uplift table's headline method
//! (source `payment_daily`, the campaign window), with `U` its incremental sales
//! (`uplift_abs_yuan`), `[U_lo, U_hi]` its interval — the backtest-calibrated bounds
//! (`calibrated_abs_lower_yuan`, `calibrated_abs_upper_yuan`) where the table has them, else
//! `uplift_abs_lower_yuan`, `uplift_abs_upper_yuan` — and `S` the subsidy paid out in the window
//! (`subsidies.amount_paid_yuan` of the cell's regions and categories, every instrument and funding
//! source; a period reaching outside the window counted for its share of days inside, the amount
//! spread evenly over the period's days):
//!
//! ```text
//! leverage_ratio = U / S,    [leverage_lower, leverage_upper] = [U_lo / S, U_hi / S]
//! ```
//!
//! The subsidy is a reported total, not an estimate, so the ratio's interval is the uplift's interval
//! scaled by `1/S`, at the uplift's level. It attributes the whole uplift to the subsidy: it is the
//! campaign's incremental sales per yuan of subsidy, an upper bound of what the subsidy alone drove
//! when other parts of the campaign (events, promotions) moved sales too. A cell without subsidy has
//! no row.
//!
//! # iROAS where timing differs
//!
//! When region `r` started paying subsidies for a category at least two weeks after the earliest
//! region (`s_r ≥ s_0 + 14` days, `s` the first day of a period with subsidy paid), the regions
//! already paying from the pre-period's start are its controls, and
//! [`homeseason_stats::tbr::tbr`] (matched_markets' time-based regression with a cost column) is
//! run on daily series: response = net sales (`daily_series`), cost = subsidy paid (each period's
//! amount spread over its days); treatment = `r`, control = the sum of the controls; pre-period
//! `[max(s_0, window start), s_r − 1]`, test period `[s_r, s_r + 27]` (four weeks, cut at the
//! window's end). The region pays nothing before `s_r`, so its incremental cost is the subsidy it
//! paid in the test period and `iroas = Δ_sales / cost` with the two-sided interval of `Δ_sales`
//! divided by it (the tbr module's fixed-cost case; with the controls' own payments the module
//! draws the cost too, which here has no spread). The comparison is with regions already paying,
//! so it measures what starting the subsidy added on top of the rest of the campaign — closer to
//! the subsidy's own leverage than the ratio above.
//!
//! ## The iROAS interval: calibrated on placebo windows
//!
//! The regression's own interval (matched_markets' `causal_cumulative_distribution`: the
//! coefficients' uncertainty plus `T·σ²` for the test period's `T` days) treats the daily residuals
//! as independent. A region's economy does not: its swings last weeks (on the sample season an
//! AR(0.98) factor per region), so between a pre-period of five weeks and a test period of four the
//! region drifts from its controls by more than independent days allow, and the drift is shared by
//! every category of the region. With that interval alone the late-region cells covered 22 of 45 on
//! the sample season (seed 1; 121 of 225 over seeds 1–5), errors of up to three half-widths, all
//! categories of one region on the same side. matched_markets builds the same interval
//! (`tbr.py`, `causal_cumulative_distribution`: `var_from_params + T·σ²`) and has the same blind
//! spot; it screens a design beforehand instead (`tbrmmdiagnostics.py`: a Durbin–Watson test of the
//! pre-period residuals and an A/A test), which a late region, chosen by its province and not by a
//! design, does not get.
//!
//! So the interval is calibrated the way the uplift's backtest calibrates its own: the same
//! regression — same region, same controls, same pre-period and test lengths — is run on placebo
//! windows before the campaign window, whose test periods end 0, 7, 14, … days before the window's
//! start (at most [`LeverageOptions::placebo_windows`], every day of the region's and the controls'
//! series present, none overlapping a period the campaign masks for the regression — the late-2022
//! COVID wave — so a known shock does not set the width), where nothing was paid and the effect is
//! zero. Each gives a standardised error
//! `z = |Δ| / scale`; with `m` of them, the multiplier `q` is the `⌈(m + 1)·level⌉`-th smallest
//! (split conformal), and
//!
//! ```text
//! [iroas_lower, iroas_upper] = [(Δ − q·scale) / cost, (Δ + q·scale) / cost]
//! ```
//!
//! `q` replaces the Student-t quantile, so the interval widens where the region drifts from its
//! controls more than independent days allow, and narrows where it drifts less. Over seeds 1–5 of
//! the sample season the calibrated interval holds the injected leverage in 200 of 225 late-region
//! cells (2024 campaign: 186 of 225), at 2.3–2.7 times the median width (`benchmarks/SCORES.md`).
//! With too few placebo windows for that rank (`(m + 1)·level > m`: fewer than 9 at 90 %), the
//! regression's own interval stands. What the calibrated interval still does not carry: a drift that arises only in
//! the campaign window (the placebo windows come from the year before it), and a difference between
//! the late region's and its controls' campaign uplift over time that is not the subsidy's (the
//! pre-period is inside the window, so a campaign whose lift changes shape between pre-period and
//! test period biases Δ); `homeseason evaluate` scores it against the injected leverage.
//!
//! # Suppression
//!
//! The ratio is computed from the uplift it is given: given the published uplift (where small-cell
//! suppression blanked a cell's figures, `homeseason-pipeline`'s `published_sums`), a cell whose
//! `uplift_abs_yuan` is blank has every figure derived from it blank too — the ratio, its bounds
//! and the iROAS — and `suppressed = true` (the subsidy total, a liaison's report, stays).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use homeseason_schema::calendar::{days_from_civil, from_epoch_days};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::{NATIONAL, Regions};
use homeseason_stats::tbr::{GroupSeries, Tails, TbrOptions, tbr};
use polars::prelude::*;

use crate::tracking::opt_strings_of as text;
use crate::uplift::{Band, CellColumns};
use crate::{ALL_TARGETED, Result};

/// Options of [`leverage`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeverageOptions {
    /// Days of the iROAS test period at most (default 28).
    pub test_days: i64,
    /// Days of pre-period the iROAS needs at least (default 14): a region starting less than this
    /// after the earliest has no iROAS.
    pub min_pre_days: i64,
    /// Draws of the tbr module's variable-cost interval (default 2 000).
    pub draws: usize,
    /// Seed of those draws.
    pub seed: u64,
    /// Placebo windows (weekly, before the campaign window) that calibrate the iROAS interval, at
    /// most (default 52: a year); see the module docs.
    pub placebo_windows: usize,
}

impl Default for LeverageOptions {
    fn default() -> Self {
        LeverageOptions {
            test_days: 28,
            min_pre_days: 14,
            draws: 2000,
            seed: 20_230_901,
            placebo_windows: 52,
        }
    }
}

/// Daily subsidy paid per (region, category), yuan by epoch day.
type Daily = BTreeMap<(String, String), BTreeMap<i32, f64>>;

fn numbers(frame: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    match frame.column(name) {
        Ok(c) => Ok(c.cast(&DataType::Float64)?.f64()?.iter().collect()),
        Err(_) => Ok(vec![None; frame.height()]),
    }
}

fn days(frame: &DataFrame, name: &str) -> Result<Vec<Option<i32>>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::Date)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .collect())
}

/// Spread each subsidy row over its period's days.
fn daily_subsidy(subsidies: &DataFrame) -> Result<Daily> {
    let mut out: Daily = BTreeMap::new();
    if subsidies.height() == 0 {
        return Ok(out);
    }
    let region = text(subsidies, "region_code")?;
    let category = text(subsidies, "category")?;
    let amount = numbers(subsidies, "amount_paid_yuan")?;
    let start = days(subsidies, "period_start")?;
    let end = days(subsidies, "period_end")?;
    for i in 0..subsidies.height() {
        let (Some(r), Some(c), Some(a), Some(s), Some(e)) = (
            region[i].clone(),
            category[i].clone(),
            amount[i],
            start[i],
            end[i],
        ) else {
            continue;
        };
        if e < s || a <= 0.0 {
            continue;
        }
        let per_day = a / f64::from(e - s + 1);
        let cell = out.entry((r, c)).or_default();
        for d in s..=e {
            *cell.entry(d).or_default() += per_day;
        }
    }
    Ok(out)
}

/// The (region, category) cells of `daily` a leverage row covers: the nation is every region, and
/// `all_targeted` every targeted category.
fn covered<'a>(
    daily: &'a Daily,
    region: &str,
    category: &str,
    targeted: &BTreeSet<String>,
) -> impl Iterator<Item = &'a BTreeMap<i32, f64>> {
    daily.iter().filter_map(move |((r, c), days)| {
        let region_ok = region == NATIONAL || r == region;
        let category_ok = if category == ALL_TARGETED {
            targeted.contains(c)
        } else {
            c == category
        };
        (region_ok && category_ok).then_some(days)
    })
}

/// Subsidy of `cells` on day `d`.
fn on_day<'a>(cells: impl Iterator<Item = &'a BTreeMap<i32, f64>>, d: i32) -> f64 {
    cells.map(|m| m.get(&d).copied().unwrap_or(0.0)).sum()
}

/// The first day of `cells` with subsidy paid.
fn first_day<'a>(cells: impl Iterator<Item = &'a BTreeMap<i32, f64>>) -> Option<i32> {
    cells
        .filter_map(|m| m.iter().find(|(_, v)| **v > 0.0).map(|(d, _)| *d))
        .min()
}

/// One (region, category)'s consecutive rows of a series: its key and its (epoch day, value) pairs.
type Run<'a> = ((&'a str, &'a str), Vec<(i32, f64)>);

/// Net sales per (region, category) by epoch day, from `daily_series`.
fn sales_by_day(series: &DataFrame) -> Result<BTreeMap<(String, String), BTreeMap<i32, f64>>> {
    let mut out: BTreeMap<(String, String), BTreeMap<i32, f64>> = BTreeMap::new();
    let region = series.column("region_code")?.str()?;
    let category = series.column("category")?.str()?;
    let date = days(series, "date")?;
    let net = numbers(series, "net_amount_yuan")?;
    // The series comes a cell at a time: the days of one run of the same key are put in together
    // (in row order, so a repeated day keeps its last value, as one insert a row would).
    let mut run: Option<Run<'_>> = None;
    let mut flush = |run: Option<Run<'_>>| {
        if let Some(((r, c), days)) = run {
            out.entry((r.to_owned(), c.to_owned()))
                .or_default()
                .extend(days);
        }
    };
    for (i, (r, c)) in region.iter().zip(category.iter()).enumerate() {
        let (Some(r), Some(c), Some(d), Some(v)) = (r, c, date[i], net[i]) else {
            continue;
        };
        match &mut run {
            Some((key, days)) if *key == (r, c) => days.push((d, v)),
            _ => flush(run.replace(((r, c), vec![(d, v)]))),
        }
    }
    flush(run);
    Ok(out)
}

/// One iROAS: estimate, bounds, test period, cost and controls.
#[derive(Debug, Clone, PartialEq)]
struct IroasRow {
    estimate: f64,
    lower: f64,
    upper: f64,
    test: (i32, i32),
    cost: f64,
    controls: String,
}

/// The iROAS of (region, category) where its subsidy started later (see the module docs).
#[expect(clippy::too_many_arguments, reason = "private helper of one caller")]
fn iroas(
    daily: &Daily,
    sales: &BTreeMap<(String, String), BTreeMap<i32, f64>>,
    region: &str,
    category: &str,
    targeted: &BTreeSet<String>,
    window: (i32, i32),
    level: f64,
    masked: &[(i32, i32)],
    opts: &LeverageOptions,
) -> Option<IroasRow> {
    if region == NATIONAL {
        return None;
    }
    let regions: BTreeSet<&str> = daily.keys().map(|(r, _)| r.as_str()).collect();
    // The subsidy cells each region covers, found once (`covered` scans every cell): summed in the
    // same order as `on_day(covered(…), d)`, so every sum is the same to the bit.
    let cells_of =
        |r: &str| -> Vec<&BTreeMap<i32, f64>> { covered(daily, r, category, targeted).collect() };
    let start_of = |r: &str| first_day(covered(daily, r, category, targeted));
    let starts: BTreeMap<&str, i32> = regions
        .iter()
        .filter_map(|r| Some((*r, start_of(r)?)))
        .collect();
    let s_r = *starts.get(region)?;
    let s_0 = *starts.values().min()?;
    let pre_start = s_0.max(window.0);
    if i64::from(s_r - pre_start) < opts.min_pre_days || s_r > window.1 {
        return None;
    }
    let test_end = (s_r + i32::try_from(opts.test_days).ok()? - 1).min(window.1);
    if test_end - s_r < 6 {
        return None;
    }
    let controls: Vec<&str> = starts
        .iter()
        .filter(|(r, s)| **r != region && **s <= pre_start)
        .map(|(r, _)| *r)
        .filter(|r| sales.contains_key(&((*r).to_owned(), category.to_owned())))
        .collect();
    if controls.is_empty() {
        return None;
    }
    let own = sales.get(&(region.to_owned(), category.to_owned()))?;
    let control_series: Vec<&BTreeMap<i32, f64>> = controls
        .iter()
        .filter_map(|r| sales.get(&((*r).to_owned(), category.to_owned())))
        .collect();
    let controls_on = |d: i32| -> f64 {
        control_series
            .iter()
            .map(|m| m.get(&d).copied().unwrap_or(0.0))
            .sum()
    };
    // The controls' sum is wanted on every day the region has sales (the fit's and the placebo
    // windows'): computed once per day of the region's span.
    let span = own
        .first_key_value()
        .zip(own.last_key_value())
        .map_or((0, -1), |((a, _), (b, _))| (*a, *b));
    let summed: Vec<f64> = (span.0..=span.1).map(controls_on).collect();
    let control_on = |d: i32| -> f64 {
        usize::try_from(d - span.0)
            .ok()
            .and_then(|i| summed.get(i).copied())
            .unwrap_or_else(|| controls_on(d))
    };
    let (own_cells, control_cells) = (
        cells_of(region),
        controls.iter().map(|r| cells_of(r)).collect::<Vec<_>>(),
    );
    let (mut x, mut y, mut xc, mut yc) = (vec![], vec![], vec![], vec![]);
    for d in pre_start..=test_end {
        y.push(*own.get(&d)?);
        x.push(control_on(d));
        yc.push(on_day(own_cells.iter().copied(), d));
        xc.push(
            control_cells
                .iter()
                .map(|cells| on_day(cells.iter().copied(), d))
                .sum(),
        );
    }
    let n_pre = usize::try_from(s_r - pre_start).ok()?;
    let n = y.len();
    let response = GroupSeries::new(x, y).ok()?;
    let cost = GroupSeries::new(xc, yc).ok()?;
    let tbr_opts = TbrOptions {
        level,
        tails: Tails::Two,
        draws: opts.draws,
        seed: opts.seed,
    };
    let result = tbr(&response, Some(&cost), 0..n_pre, n_pre..n, &tbr_opts).ok()?;
    let i = result.iroas?;
    let paid: f64 = cost.treatment[n_pre..].iter().sum();
    let placebo = Placebo {
        own,
        control_on: &control_on,
        pre_days: n_pre,
        test_days: n - n_pre,
        before: window.0,
        masked,
    };
    let (lower, upper) = match placebo.multiplier(opts.placebo_windows, &tbr_opts) {
        Some(q) if paid > 0.0 => {
            let (delta, scale) = (result.response.estimate, result.response.scale);
            ((delta - q * scale) / paid, (delta + q * scale) / paid)
        }
        _ => (i.lower, i.upper),
    };
    Some(IroasRow {
        estimate: i.estimate,
        lower,
        upper,
        test: (s_r, test_end),
        cost: paid,
        controls: controls.join(";"),
    })
}

/// The placebo windows of one iROAS (see the module docs): the region's series, its controls' sum,
/// the pre-period and test lengths and the first day of the campaign window (placebo test periods
/// end before it).
struct Placebo<'a> {
    own: &'a BTreeMap<i32, f64>,
    control_on: &'a dyn Fn(i32) -> f64,
    pre_days: usize,
    test_days: usize,
    before: i32,
    /// The campaign's masked periods (epoch days, inclusive): no placebo window overlaps one.
    masked: &'a [(i32, i32)],
}

impl Placebo<'_> {
    /// The standardised errors `|Δ| / scale` of up to `windows` placebo windows.
    fn errors(&self, windows: usize, opts: &TbrOptions) -> Vec<f64> {
        let (Ok(pre), Ok(test)) = (i32::try_from(self.pre_days), i32::try_from(self.test_days))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // Weekly steps back from the window; windows over a masked period are skipped, and the
        // search stops at twice the windows wanted.
        for k in 0..2 * windows {
            if out.len() >= windows {
                break;
            }
            let Ok(k) = i32::try_from(k) else { break };
            let test_start = self.before - test - 7 * k;
            let (first, last) = (test_start - pre, test_start + test - 1);
            if self.masked.iter().any(|(a, b)| first <= *b && *a <= last) {
                continue;
            }
            let (mut x, mut y) = (Vec::new(), Vec::new());
            let complete = (test_start - pre..test_start + test).all(|d| {
                self.own.get(&d).is_some_and(|v| {
                    y.push(*v);
                    x.push((self.control_on)(d));
                    true
                })
            });
            if !complete {
                continue;
            }
            let Ok(series) = GroupSeries::new(x, y) else {
                continue;
            };
            let n = series.len();
            if let Ok(r) = tbr(&series, None, 0..self.pre_days, self.pre_days..n, opts)
                && r.response.scale > 0.0
            {
                out.push(r.response.estimate.abs() / r.response.scale);
            }
        }
        out
    }

    /// The split-conformal multiplier of the interval's scale: the `⌈(m + 1)·level⌉`-th smallest of
    /// the `m` placebo errors; `None` when `m` is too small for that rank.
    fn multiplier(&self, windows: usize, opts: &TbrOptions) -> Option<f64> {
        let mut z = self.errors(windows, opts);
        z.sort_by(f64::total_cmp);
        conformal_rank(z.len(), opts.level).map(|k| z[k - 1])
    }
}

/// The rank (1-based) of the split-conformal quantile at `level` among `m` scores:
/// `⌈(m + 1)·level⌉`, `None` when it exceeds `m`.
fn conformal_rank(m: usize, level: f64) -> Option<usize> {
    let rank = ((m as f64 + 1.0) * level).ceil();
    (1.0..=m as f64).contains(&rank).then_some(rank as usize)
}

/// The leverage table (`data-schemas/leverage.json`) of the uplift table's headline method
/// (`campaign.baseline.primary_method`, already resolved from `auto`), the lake's `subsidies` and,
/// for the iROAS, the daily series of [`crate::daily_series`] (`None`: no iROAS). Rows in the
/// uplift's order; cells without subsidy are left out. See the module docs for the formulas.
///
/// # Errors
/// A missing column of the uplift or subsidy table.
pub fn leverage(
    uplift: &DataFrame,
    subsidies: &DataFrame,
    series: Option<&DataFrame>,
    campaign: &Campaign,
    opts: &LeverageOptions,
) -> Result<DataFrame> {
    let daily = daily_subsidy(subsidies)?;
    let sales = match series {
        Some(s) if !daily.is_empty() => sales_by_day(s)?,
        _ => BTreeMap::new(),
    };
    let targeted: BTreeSet<String> = campaign
        .categories
        .targeted_ids()
        .map(str::to_owned)
        .collect();
    let headline = campaign.baseline.primary_method.as_str();
    let day = |d: NaiveDate| days_from_civil(d.year(), d.month(), d.day());
    let masked: Vec<(i32, i32)> = campaign
        .baseline
        .masked
        .iter()
        .map(|m| (day(m.start), day(m.end)))
        .collect();
    let n = uplift.height();
    let (kind, source, method) = (
        text(uplift, "window_kind")?,
        text(uplift, "source")?,
        text(uplift, "method")?,
    );
    let (campaign_id, region, name, category) = (
        text(uplift, "campaign_id")?,
        text(uplift, "region_code")?,
        text(uplift, "region_name_zh")?,
        text(uplift, "category")?,
    );
    let (w_start, w_end) = (days(uplift, "window_start")?, days(uplift, "window_end")?);
    let (abs, lo, hi) = (
        numbers(uplift, "uplift_abs_yuan")?,
        numbers(uplift, "uplift_abs_lower_yuan")?,
        numbers(uplift, "uplift_abs_upper_yuan")?,
    );
    let (cal_lo, cal_hi, level) = (
        numbers(uplift, "calibrated_abs_lower_yuan")?,
        numbers(uplift, "calibrated_abs_upper_yuan")?,
        numbers(uplift, "level")?,
    );
    let mut rows = Rows::default();
    for i in 0..n {
        let wanted = kind[i].as_deref() == Some("campaign")
            && source[i].as_deref() == Some("payment_daily")
            && method[i].as_deref() == Some(headline);
        let (Some(r), Some(c), Some(ws), Some(we)) = (
            region[i].as_deref(),
            category[i].as_deref(),
            w_start[i],
            w_end[i],
        ) else {
            continue;
        };
        if !wanted || !(c == ALL_TARGETED || targeted.contains(c) || daily.keys().any(|k| k.1 == c))
        {
            continue;
        }
        let cells: Vec<&BTreeMap<i32, f64>> = covered(&daily, r, c, &targeted).collect();
        let paid: f64 = (ws..=we).map(|d| on_day(cells.iter().copied(), d)).sum();
        if paid <= 0.0 {
            continue;
        }
        let lvl = level[i].unwrap_or(0.9);
        let suppressed = abs[i].is_none();
        let (u_lo, u_hi) = match (cal_lo[i], cal_hi[i]) {
            (Some(a), Some(b)) => (Some(a), Some(b)),
            _ => (lo[i], hi[i]),
        };
        let blank = |v: Option<f64>| if suppressed { None } else { v };
        let ratio = |v: Option<f64>| blank(v).map(|v| v / paid);
        let iroas = if suppressed {
            None
        } else {
            iroas(
                &daily,
                &sales,
                r,
                c,
                &targeted,
                (ws, we),
                lvl,
                &masked,
                opts,
            )
        };
        let region_name = name[i].clone().unwrap_or_else(|| {
            Regions::embedded()
                .by_code(r)
                .map_or_else(|| r.to_owned(), |x| x.name_zh.clone())
        });
        rows.cell.push(
            campaign_id[i].as_deref().unwrap_or_default(),
            r,
            &region_name,
            c,
        );
        rows.method.push(headline.to_owned());
        rows.start.push(from_epoch_days(ws));
        rows.end.push(from_epoch_days(we));
        rows.paid.push(paid);
        rows.abs.push([abs[i], u_lo, u_hi].map(blank));
        rows.ratio.push([abs[i], u_lo, u_hi].map(ratio));
        rows.level.push(lvl);
        rows.sub_start.push(
            first_day(covered(&daily, r, c, &targeted))
                .map(|d| d.max(ws))
                .and_then(from_epoch_days),
        );
        rows.iroas
            .push_some(iroas.as_ref().map(|x| (x.estimate, x.lower, x.upper)));
        rows.test_start
            .push(iroas.as_ref().and_then(|x| from_epoch_days(x.test.0)));
        rows.test_end
            .push(iroas.as_ref().and_then(|x| from_epoch_days(x.test.1)));
        rows.cost.push(iroas.as_ref().map(|x| x.cost));
        rows.controls.push(iroas.map(|x| x.controls));
        rows.suppressed.push(suppressed);
    }
    rows.frame()
}

/// The iROAS columns of the leverage table.
const IROAS_COLUMNS: [&str; 7] = [
    "iroas",
    "iroas_lower",
    "iroas_upper",
    "iroas_test_start",
    "iroas_test_end",
    "iroas_cost_yuan",
    "iroas_controls",
];

/// `fresh` (a leverage table computed without daily series, e.g. from the published uplift) with
/// the iROAS columns of `lake` (the lake's `leverage` table) for the same region, category and
/// window; rows that are suppressed, or that `lake` does not hold, keep a blank iROAS.
///
/// # Errors
/// A frame without the leverage table's columns.
pub fn with_iroas_of(fresh: &DataFrame, lake: &DataFrame) -> Result<DataFrame> {
    if fresh.height() == 0 || lake.height() == 0 || lake.column("iroas").is_err() {
        return Ok(fresh.clone());
    }
    let key = [
        col("region_code"),
        col("category"),
        col("window_start"),
        col("window_end"),
    ];
    let right = lake
        .clone()
        .lazy()
        .select(
            key.iter()
                .cloned()
                .chain(IROAS_COLUMNS.iter().map(|c| col(*c)))
                .collect::<Vec<_>>(),
        )
        .unique_stable(None, UniqueKeepStrategy::First);
    let order: Vec<String> = fresh
        .get_column_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    let joined = fresh
        .clone()
        .lazy()
        .drop(by_name(IROAS_COLUMNS, true, false))
        .join(right, key.clone(), key, JoinArgs::new(JoinType::Left))
        .collect()?;
    // A suppressed row shows no iROAS (its uplift is blank).
    let blank: Vec<Expr> = IROAS_COLUMNS
        .iter()
        .map(|c| -> Result<Expr> {
            let dtype = joined.column(c)?.dtype().clone();
            Ok(when(col("suppressed"))
                .then(lit(NULL).cast(dtype))
                .otherwise(col(*c))
                .alias(*c))
        })
        .collect::<Result<_>>()?;
    let out = joined.lazy().with_columns(blank).collect()?.select(order)?;
    Ok(out)
}

#[derive(Default)]
struct Rows {
    cell: CellColumns,
    method: Vec<String>,
    start: Vec<Option<NaiveDate>>,
    end: Vec<Option<NaiveDate>>,
    paid: Vec<f64>,
    /// `uplift_abs_yuan` and its bounds.
    abs: Band,
    /// `leverage_ratio` and its bounds.
    ratio: Band,
    level: Vec<f64>,
    sub_start: Vec<Option<NaiveDate>>,
    /// `iroas` and its bounds.
    iroas: Band,
    test_start: Vec<Option<NaiveDate>>,
    test_end: Vec<Option<NaiveDate>>,
    cost: Vec<Option<f64>>,
    controls: Vec<Option<String>>,
    suppressed: Vec<bool>,
}

impl Rows {
    fn frame(self) -> Result<DataFrame> {
        let [abs, abs_lo, abs_hi] = self.abs.into_columns();
        let [ratio, ratio_lo, ratio_hi] = self.ratio.into_columns();
        let [iroas, iroas_lo, iroas_hi] = self.iroas.into_columns();
        let rest = df!(
            "method" => self.method,
            "window_start" => self.start,
            "window_end" => self.end,
            "subsidy_paid_yuan" => self.paid,
            "uplift_abs_yuan" => abs,
            "uplift_abs_lower_yuan" => abs_lo,
            "uplift_abs_upper_yuan" => abs_hi,
            "leverage_ratio" => ratio,
            "leverage_lower" => ratio_lo,
            "leverage_upper" => ratio_hi,
            "level" => self.level,
            "subsidy_start" => self.sub_start,
            "iroas" => iroas,
            "iroas_lower" => iroas_lo,
            "iroas_upper" => iroas_hi,
            "iroas_test_start" => self.test_start,
            "iroas_test_end" => self.test_end,
            "iroas_cost_yuan" => self.cost,
            "iroas_controls" => self.controls,
            "suppressed" => self.suppressed,
        )?;
        self.cell.with(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Two regions' subsidies: Zhejiang weekly from the window's start, Ningbo from 9 October.
    fn subsidies() -> DataFrame {
        let mut rows: Vec<(&str, NaiveDate, NaiveDate, f64)> = Vec::new();
        let mut s = d("2023-09-04");
        rows.push(("330000", d("2023-09-01"), d("2023-09-03"), 3_000.0));
        while s <= d("2023-12-25") {
            rows.push(("330000", s, s + Duration::days(6), 7_000.0));
            if s >= d("2023-10-09") {
                rows.push(("330200", s, s + Duration::days(6), 700.0));
            }
            s += Duration::days(7);
        }
        // A period straddling the window's end counts for its days inside only.
        rows.push(("330000", d("2023-12-31"), d("2024-01-06"), 7_000.0));
        df!(
            "region_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "category" => vec!["home_appliances"; rows.len()],
            "period_start" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "period_end" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "amount_paid_yuan" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn uplift(abs: [Option<f64>; 3]) -> DataFrame {
        let n = 3;
        df!(
            "campaign_id" => vec!["c"; n],
            "region_code" => ["330000", "330200", "000000"],
            "region_name_zh" => ["浙江省", "宁波市", "全国"],
            "category" => vec!["home_appliances"; n],
            "window_start" => vec![d("2023-09-01"); n],
            "window_end" => vec![d("2023-12-31"); n],
            "window_kind" => vec!["campaign"; n],
            "method" => vec!["prior_year"; n],
            "source" => vec!["payment_daily"; n],
            "uplift_abs_yuan" => abs,
            "uplift_abs_lower_yuan" => [Some(100_000.0), Some(10_000.0), Some(150_000.0)],
            "uplift_abs_upper_yuan" => [Some(500_000.0), Some(50_000.0), Some(600_000.0)],
            "calibrated_abs_lower_yuan" => [Some(80_000.0), None, Some(120_000.0)],
            "calibrated_abs_upper_yuan" => [Some(520_000.0), None, Some(640_000.0)],
            "level" => vec![0.9; n],
        )
        .unwrap()
    }

    fn campaign() -> Campaign {
        let mut c = Campaign::default_2023();
        c.baseline.primary_method = "prior_year".into();
        c
    }

    /// [`leverage`] of [`uplift`]`(abs)`, [`subsidies`] and `series` for [`campaign`], default
    /// options.
    fn run(abs: [Option<f64>; 3], series: Option<&DataFrame>) -> DataFrame {
        leverage(
            &uplift(abs),
            &subsidies(),
            series,
            &campaign(),
            &LeverageOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_ratio_divides_the_uplift_and_its_interval_by_the_subsidy() {
        let out = run([Some(300_000.0), Some(30_000.0), Some(330_000.0)], None);
        assert_eq!(out.height(), 3);
        let paid = numbers(&out, "subsidy_paid_yuan").unwrap();
        // Zhejiang: 3 000 + 17 weeks × 7 000 + 1/7 of the straddling week.
        let zj = 3_000.0 + 17.0 * 7_000.0 + 1_000.0;
        // Ningbo: 12 weeks from 9 October.
        let nb = 12.0 * 700.0;
        assert!((paid[0].unwrap() - zj).abs() < 1e-6, "{paid:?}");
        assert!((paid[1].unwrap() - nb).abs() < 1e-6);
        assert!((paid[2].unwrap() - (zj + nb)).abs() < 1e-6);
        let ratio = numbers(&out, "leverage_ratio").unwrap();
        let lo = numbers(&out, "leverage_lower").unwrap();
        let hi = numbers(&out, "leverage_upper").unwrap();
        assert!((ratio[0].unwrap() - 300_000.0 / zj).abs() < 1e-9);
        // Calibrated bounds where the uplift has them, else the raw ones.
        assert!((lo[0].unwrap() - 80_000.0 / zj).abs() < 1e-9);
        assert!((hi[0].unwrap() - 520_000.0 / zj).abs() < 1e-9);
        assert!((lo[1].unwrap() - 10_000.0 / nb).abs() < 1e-9);
        let start = days(&out, "subsidy_start").unwrap();
        assert_eq!(start[1].and_then(from_epoch_days), Some(d("2023-10-09")));
        // No daily series: no iROAS.
        assert!(numbers(&out, "iroas").unwrap().iter().all(Option::is_none));
    }

    #[test]
    fn a_blanked_uplift_blanks_what_is_derived_from_it() {
        let out = run([Some(300_000.0), None, Some(330_000.0)], None);
        let sup: Vec<Option<bool>> = out
            .column("suppressed")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(sup, [Some(false), Some(true), Some(false)]);
        for c in [
            "leverage_ratio",
            "leverage_lower",
            "leverage_upper",
            "uplift_abs_yuan",
            "iroas",
        ] {
            assert!(numbers(&out, c).unwrap()[1].is_none(), "{c}");
        }
        assert!(numbers(&out, "subsidy_paid_yuan").unwrap()[1].is_some());
    }

    #[test]
    fn the_late_region_gets_an_iroas_against_the_regions_already_paying() {
        // Daily sales: Zhejiang (control) and Ningbo (treatment) move together; Ningbo's subsidy
        // brings 4 yuan of sales per yuan paid (100 yuan a day paid from 9 October).
        let (first, last) = (d("2023-09-01"), d("2023-12-31"));
        let mut rows: Vec<(&str, NaiveDate, f64)> = Vec::new();
        let mut day = first;
        let mut k = 0u32;
        while day <= last {
            let wave = 1.0 + 0.2 * (f64::from(k) / 6.0).sin() + 0.01 * f64::from(k % 5);
            rows.push(("330000", day, 100_000.0 * wave));
            let lift = if day >= d("2023-10-09") { 400.0 } else { 0.0 };
            rows.push((
                "330200",
                day,
                10_000.0 * wave + 25.0 * f64::from(k % 3) + lift,
            ));
            day += Duration::days(1);
            k += 1;
        }
        let series = df!(
            "region_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "category" => vec!["home_appliances"; rows.len()],
            "date" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "net_amount_yuan" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap();
        let out = run(
            [Some(300_000.0), Some(30_000.0), Some(330_000.0)],
            Some(&series),
        );
        let iroas = numbers(&out, "iroas").unwrap();
        let (lo, hi) = (
            numbers(&out, "iroas_lower").unwrap(),
            numbers(&out, "iroas_upper").unwrap(),
        );
        // Only Ningbo started late; 700 yuan a week is 100 a day, and 400 a day came of it.
        assert!(iroas[0].is_none() && iroas[2].is_none());
        let x = iroas[1].unwrap();
        assert!((x - 4.0).abs() < 0.5, "{x}");
        assert!(lo[1].unwrap() < 4.0 && 4.0 < hi[1].unwrap());
        let controls = text(&out, "iroas_controls").unwrap();
        assert_eq!(controls[1].as_deref(), Some("330000"));
        let test = days(&out, "iroas_test_end").unwrap();
        assert_eq!(test[1].and_then(from_epoch_days), Some(d("2023-11-05")));
        // The report's table (from the published uplift, no series) takes the lake's iROAS, but
        // not for a cell whose uplift suppression blanked.
        for (abs, expect) in [(Some(30_000.0), Some(x)), (None, None)] {
            let fresh = run([Some(300_000.0), abs, Some(330_000.0)], None);
            let merged = with_iroas_of(&fresh, &out).unwrap();
            assert_eq!(merged.get_column_names(), fresh.get_column_names());
            assert_eq!(numbers(&merged, "iroas").unwrap(), [None, expect, None]);
        }
    }

    #[test]
    fn the_conformal_rank_needs_enough_placebo_windows() {
        assert_eq!(conformal_rank(8, 0.9), None);
        assert_eq!(conformal_rank(9, 0.9), Some(9));
        assert_eq!(conformal_rank(52, 0.9), Some(48));
        assert_eq!(conformal_rank(0, 0.9), None);
    }

    /// A standard normal draw from a xorshift generator (Box–Muller), for the simulated seasons.
    fn normal(state: &mut u64) -> f64 {
        let mut uniform = || {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (u, v) = (uniform(), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Daily sales of Zhejiang (control) and Ningbo (treatment) from 2022-06-01 to 2023-12-31:
    /// Ningbo follows Zhejiang with 4 % daily noise and its own economy, an AR(0.98) factor of sd
    /// 2 % (as the sample season's regions), and its subsidy (100 yuan a day from 9 October 2023)
    /// brings 4 yuan of sales per yuan.
    fn drifting_series(seed: u64) -> DataFrame {
        let mut state = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let mut rows: Vec<(&str, NaiveDate, f64)> = Vec::new();
        let (mut day, mut k, mut economy) = (d("2022-06-01"), 0u32, 0.0);
        while day <= d("2023-12-31") {
            let wave = 1.0 + 0.2 * (f64::from(k) / 6.0).sin();
            economy = 0.98 * economy + 0.02 * (1.0f64 - 0.98 * 0.98).sqrt() * normal(&mut state);
            rows.push((
                "330000",
                day,
                100_000.0 * wave * (1.0 + 0.01 * normal(&mut state)),
            ));
            let lift = if day >= d("2023-10-09") { 400.0 } else { 0.0 };
            let noise = 0.04 * normal(&mut state);
            rows.push((
                "330200",
                day,
                10_000.0 * wave * (1.0 + economy + noise) + lift,
            ));
            day += Duration::days(1);
            k += 1;
        }
        df!(
            "region_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "category" => vec!["home_appliances"; rows.len()],
            "date" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "net_amount_yuan" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn placebo_windows_calibrate_the_iroas_interval_for_a_drifting_economy() {
        // 40 simulated seasons: how often the interval holds the true leverage of 4, with the
        // regression's own interval (no placebo windows) and with the calibrated one.
        let (mut own, mut calibrated, mut seasons) = (0, 0, 0);
        for seed in 0..40 {
            let series = drifting_series(seed);
            let covers = |placebo_windows: usize| {
                let out = leverage(
                    &uplift([Some(300_000.0), Some(30_000.0), Some(330_000.0)]),
                    &subsidies(),
                    Some(&series),
                    &campaign(),
                    &LeverageOptions {
                        placebo_windows,
                        ..LeverageOptions::default()
                    },
                )
                .unwrap();
                let x = numbers(&out, "iroas").unwrap()[1].unwrap();
                let lo = numbers(&out, "iroas_lower").unwrap()[1].unwrap();
                let hi = numbers(&out, "iroas_upper").unwrap()[1].unwrap();
                assert!(lo <= x && x <= hi, "{lo} {x} {hi}");
                (lo <= 4.0 && 4.0 <= hi, hi - lo)
            };
            let ((a, width_own), (b, width_cal)) = (covers(0), covers(52));
            own += usize::from(a);
            calibrated += usize::from(b);
            seasons += usize::from(width_cal > width_own);
        }
        // The own interval misses the drift; the calibrated one is wider in most seasons and covers
        // near its level.
        assert!(own <= 30, "own interval covered {own} of 40");
        assert!(
            calibrated >= 33,
            "calibrated interval covered {calibrated} of 40"
        );
        assert!(seasons >= 30, "calibrated wider in {seasons} of 40");
    }
}
