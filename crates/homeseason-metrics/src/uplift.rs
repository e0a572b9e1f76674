//! The prior-year and two-year methods (see the crate docs for the formulas).

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use homeseason_schema::campaign::{Campaign, DateRange};
use homeseason_schema::region::{NATIONAL, Regions};
use homeseason_stats::impact::FitStart;
use homeseason_stats::numeric::two_sided_normal_p;
use polars::prelude::*;

use crate::align;
use crate::memo::FitMemo;
use crate::{MetricsError, Result};

/// A baseline method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Growth-adjusted prior year, holiday-aligned.
    PriorYear,
    /// Growth-adjusted two years earlier, holiday-aligned (compounded growth over two years).
    TwoYear,
    /// Regression on untargeted categories with weekday and day-type terms (CausalImpact-style).
    CounterfactualRegression,
}

impl Method {
    /// Stable id (the `method` column).
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Method::PriorYear => "prior_year",
            Method::TwoYear => "two_year",
            Method::CounterfactualRegression => "counterfactual_regression",
        }
    }
    /// Every method, in report order.
    pub const ALL: [Method; 3] = [
        Method::PriorYear,
        Method::TwoYear,
        Method::CounterfactualRegression,
    ];
    /// Parse an id.
    #[must_use]
    pub fn from_id(id: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.id() == id)
    }
    /// Years between the window and its comparison (the regression uses last year's rhythm through
    /// its covariates, not a lag).
    #[must_use]
    pub fn lag_years(self) -> u32 {
        match self {
            Method::PriorYear | Method::CounterfactualRegression => 1,
            Method::TwoYear => 2,
        }
    }
}

/// Tuning of the estimate.
#[derive(Debug, Clone)]
pub struct UpliftOptions {
    /// Interval level, e.g. 0.9.
    pub level: f64,
    /// Seed: the same input and seed give identical output.
    pub seed: u64,
    /// Feed the series came from (the `source` column).
    pub source: String,
    /// Also estimate on a placebo window (where no effect exists): `(pre-period, window)`.
    pub placebo: Option<(DateRange, DateRange)>,
    /// Compute the per-cell diagnostics of the methods that use controls (see
    /// [`crate::diagnostics`]) on the campaign window; the backtest turns them off.
    pub diagnostics: bool,
    /// Regression fits remembered from an earlier run, and this run's (see [`crate::memo`]).
    /// [`UpliftOptions::from_campaign`] gives [`FitMemo::lake`]: the pipeline backs it with the
    /// lake's cache; [`FitMemo::default`] fits everything afresh.
    pub fits: FitMemo,
}

/// The default seed of the simulated replicates. A fixed number, not a year: every campaign uses it,
/// so the same input gives the same intervals whichever season it is.
pub const BOOTSTRAP_SEED: u64 = 2023;

impl UpliftOptions {
    /// Options from a campaign (its interval level), [`BOOTSTRAP_SEED`].
    #[must_use]
    pub fn from_campaign(campaign: &Campaign) -> UpliftOptions {
        UpliftOptions {
            level: campaign.baseline.level,
            seed: BOOTSTRAP_SEED,
            source: "payment_daily".into(),
            placebo: Some(placebo_windows(campaign)),
            diagnostics: true,
            fits: FitMemo::lake(),
        }
    }
}

/// The default placebo: the campaign's pre-period as a fake window, with the same number of days just
/// before it as its pre-period.
#[must_use]
pub fn placebo_windows(campaign: &Campaign) -> (DateRange, DateRange) {
    let window = campaign.baseline.pre_period;
    let days = window.days();
    let pre = DateRange {
        start: window.start - chrono::Duration::days(days),
        end: window.start - chrono::Duration::days(1),
    };
    (pre, window)
}

/// The uplift table and the daily detail behind it.
#[derive(Debug, Clone)]
pub struct UpliftResult {
    /// One row per region × category × method, in the `uplift` contract.
    pub uplift: DataFrame,
    /// `region_code, category, method, date, actual, baseline, lower, upper` for the pre-period and
    /// the window (the daily band uses the residual quantiles; it is for charts).
    pub baseline_daily: DataFrame,
}

/// One cell's estimate on one window.
pub(crate) struct CellEstimate {
    /// Window total `A`.
    pub(crate) actual: f64,
    /// Baseline `B`.
    pub(crate) baseline: f64,
    growth: Option<f64>,
    /// Lower bound of the uplift % interval.
    pub(crate) lower: f64,
    /// Upper bound.
    pub(crate) upper: f64,
    p_value: f64,
    days_used: i64,
    daily: Vec<(NaiveDate, f64, f64, f64, f64)>,
    /// Pre-period R² and MAPE (fraction) of the regression's fit (`NaN` for the other methods).
    r2: f64,
    mape: f64,
    diagnostics: Option<crate::diagnostics::CellDiagnostics>,
}

impl From<crate::regression::RegressionEstimate> for CellEstimate {
    fn from(r: crate::regression::RegressionEstimate) -> CellEstimate {
        CellEstimate {
            actual: r.actual,
            baseline: r.baseline,
            growth: None,
            lower: r.lower_pct,
            upper: r.upper_pct,
            p_value: r.p_value,
            days_used: r.days_used,
            daily: r.daily,
            r2: r.r_squared,
            mape: r.mape,
            diagnostics: None,
        }
    }
}

/// The effect's sign for the `effect_sign` column: +1, −1, or 0 (no effect, or not finite).
pub(crate) fn effect_sign(effect: f64) -> i64 {
    if effect > 0.0 {
        1
    } else if effect < 0.0 {
        -1
    } else {
        0
    }
}

/// Type-7 quantile of sorted values (`NaN` when empty).
pub(crate) use homeseason_stats::numeric::quantile_sorted as quantile;

fn seed_for(seed: u64, region: &str, category: &str, method: Method) -> u64 {
    homeseason_stats::numeric::stable_seed(seed, &[region, category, method.id()])
}

/// Days of residuals the AR(1) error model is fitted on.
const FIT_DAYS: i64 = 240;

/// `√(Σ_s Σ_t c_s c_t ρ^|s−t|)`: the standard deviation of `Σ_t c_t z_t` for a stationary AR(1)
/// `z` of coefficient `ρ` and unit variance (covariance `ρ^|s−t|`), `c` indexed by consecutive
/// days. O(T) by the recursion `g_t = Σ_{u<t} c_u ρ^(t−u) = ρ·(g_{t−1} + c_{t−1})`: the double
/// sum is `Σ_t c_t² + 2 Σ_t c_t g_t`.
pub(crate) fn ar1_sum_sd(c: &[f64], rho: f64) -> f64 {
    let (mut g, mut previous, mut sum) = (0.0, 0.0, 0.0);
    for &ct in c {
        g = rho * (g + previous);
        sum += ct * ct + 2.0 * ct * g;
        previous = ct;
    }
    sum.max(0.0).sqrt()
}

/// A series on consecutive days from `first` (`None`: no value that day).
struct DaySeries {
    first: NaiveDate,
    /// `first` in days from the common era (a date's place is a difference of these).
    first_ce: i32,
    values: Vec<Option<f64>>,
}

impl DaySeries {
    fn new(first: NaiveDate, values: Vec<Option<f64>>) -> DaySeries {
        DaySeries {
            first,
            first_ce: first.num_days_from_ce(),
            values,
        }
    }

    /// `values` from its first to its last date.
    fn of(values: &HashMap<NaiveDate, f64>) -> DaySeries {
        let (Some(first), Some(last)) = (values.keys().min(), values.keys().max()) else {
            return DaySeries::new(NaiveDate::MIN, Vec::new());
        };
        DaySeries::new(
            *first,
            first
                .iter_days()
                .take_while(|d| d <= last)
                .map(|d| values.get(&d).copied())
                .collect(),
        )
    }

    fn get(&self, date: NaiveDate) -> Option<f64> {
        let i = usize::try_from(date.num_days_from_ce() - self.first_ce).ok()?;
        self.values.get(i).copied().flatten()
    }
}

/// The matched days of every day from `first` ([`align::reference_dates`]) for one lag: they depend
/// on the date only, so a season finds them once for all its cells.
struct References {
    first_ce: i32,
    days: Vec<(Vec<NaiveDate>, align::Rule)>,
}

impl References {
    fn new(first: NaiveDate, last: NaiveDate, lag: u32) -> References {
        References {
            first_ce: first.num_days_from_ce(),
            days: first
                .iter_days()
                .take_while(|d| *d <= last)
                .map(|d| align::reference_dates(d, lag))
                .collect(),
        }
    }

    fn get(&self, date: NaiveDate) -> Option<&(Vec<NaiveDate>, align::Rule)> {
        let i = usize::try_from(date.num_days_from_ce() - self.first_ce).ok()?;
        self.days.get(i)
    }
}

/// One region × category of the season: its daily values, and its aligned comparison values `ŷ`
/// per lag ([`align::expected`] of every day), computed on first use and shared by every window
/// estimated on the cell (the campaign's, its placebo, each backtest window).
pub(crate) struct Cell {
    values: HashMap<NaiveDate, f64>,
    days: DaySeries,
    /// `ŷ` one year back, two years back.
    expected: [OnceLock<DaySeries>; 2],
}

impl Cell {
    fn of(values: HashMap<NaiveDate, f64>) -> Cell {
        Cell {
            days: DaySeries::of(&values),
            values,
            expected: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// `ŷ` of every day of the cell, `lag` (1 or 2, [`Method::lag_years`]) years back, the days
    /// matched by `refs` (the season's, covering the cell's days).
    fn expected(&self, lag: u32, refs: &References) -> &DaySeries {
        debug_assert!(lag == 1 || lag == 2, "lag {lag}");
        self.expected[usize::from(lag != 1)].get_or_init(|| {
            let first = self.days.first;
            DaySeries::new(
                first,
                first
                    .iter_days()
                    .take(self.days.values.len())
                    .map(|d| {
                        let value = |r| self.days.get(r);
                        match refs.get(d) {
                            Some((matched, rule)) => align::expected_from(d, matched, *rule, value),
                            None => align::expected(d, lag, value),
                        }
                    })
                    .collect(),
            )
        })
    }
}

/// A season's daily series (from [`crate::daily_series`]) parsed once into its region × category
/// cells: every estimate of a run of [`estimate_runs`] reads from here.
pub(crate) struct Season {
    cells: std::collections::BTreeMap<(String, String), Cell>,
    /// The first and last day of any cell.
    span: Option<(NaiveDate, NaiveDate)>,
    /// The matched days of every day of the span, one year back, two years back (on first use).
    references: [OnceLock<References>; 2],
}

/// A cell's region and category, as the series' text.
type CellKey<'a> = (&'a str, &'a str);

impl Season {
    /// The cells of `series`.
    ///
    /// # Errors
    /// When `series` lacks its columns or holds a date out of range.
    pub(crate) fn of(series: &DataFrame) -> Result<Season> {
        let regions = series.column("region_code")?.str()?;
        let categories = series.column("category")?.str()?;
        let dates = series.column("date")?.cast(&DataType::Int32)?;
        let dates = dates.i32()?;
        let values = series.column("net_amount_yuan")?.cast(&DataType::Float64)?;
        let values = values.f64()?;
        // Each cell's days in row order (a cell's rows come together in a sorted series: the
        // cell of the row before is looked up again only when the cell changes), then the cells
        // by key. Every day's values are added in row order, as row by row into one map.
        let mut found: Vec<(CellKey<'_>, HashMap<NaiveDate, f64>)> = Vec::new();
        let mut index: HashMap<CellKey<'_>, usize> = HashMap::new();
        let mut at: Option<usize> = None;
        for i in 0..series.height() {
            let (Some(r), Some(c), Some(d), Some(v)) = (
                regions.get(i),
                categories.get(i),
                dates.get(i),
                values.get(i),
            ) else {
                continue;
            };
            let date = homeseason_schema::calendar::from_epoch_days(d)
                .ok_or_else(|| MetricsError::Input(format!("bad date {d}")))?;
            let n = match at {
                Some(n) if found[n].0 == (r, c) => n,
                _ => *index.entry((r, c)).or_insert_with(|| {
                    found.push(((r, c), HashMap::new()));
                    found.len() - 1
                }),
            };
            at = Some(n);
            *found[n].1.entry(date).or_default() += v;
        }
        let cells: std::collections::BTreeMap<(String, String), Cell> = found
            .into_iter()
            .map(|((r, c), v)| ((r.to_owned(), c.to_owned()), Cell::of(v)))
            .collect();
        let span = cells
            .values()
            .filter_map(|c| {
                let days = c.days.values.len();
                let last = c.days.first.checked_add_days(chrono::Days::new(
                    u64::try_from(days.checked_sub(1)?).ok()?,
                ))?;
                Some((c.days.first, last))
            })
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        Ok(Season {
            cells,
            span,
            references: [OnceLock::new(), OnceLock::new()],
        })
    }

    /// `ŷ` of every day of `cell` (a cell of this season), `lag` years back.
    fn expected<'c>(&self, cell: &'c Cell, lag: u32) -> &'c DaySeries {
        let (first, last) = self.span.unwrap_or((cell.days.first, cell.days.first));
        let refs = self.references[usize::from(lag != 1)]
            .get_or_init(|| References::new(first, last, lag));
        cell.expected(lag, refs)
    }
}

fn estimate(
    season: &Season,
    cell: &Cell,
    pre: &DateRange,
    window: &DateRange,
    method: Method,
    opts: &UpliftOptions,
) -> Option<CellEstimate> {
    let values = &cell.days;
    let expected = season.expected(cell, method.lag_years());
    let collect = |range: &DateRange| -> Vec<(NaiveDate, f64, f64)> {
        range
            .iter()
            .filter_map(|d| Some((d, values.get(d)?, expected.get(d)?)))
            .collect()
    };
    let pre_days = collect(pre);
    let win_days = collect(window);
    if pre_days.len() < 28 || win_days.is_empty() {
        return None;
    }
    let pre_expected: f64 = pre_days.iter().map(|x| x.2).sum();
    if pre_expected <= 0.0 {
        return None;
    }
    let growth = pre_days.iter().map(|x| x.1).sum::<f64>() / pre_expected;
    let actual: f64 = win_days.iter().map(|x| x.1).sum();
    let baseline = growth * win_days.iter().map(|x| x.2).sum::<f64>();
    if baseline <= 0.0 {
        return None;
    }
    // The residual process is fitted on a longer stretch than the pre-period (up to 240 days before its
    // end, outside the window), so slow drifts of the local economy show up in its autocorrelation.
    let fit_range = DateRange {
        start: pre.end - chrono::Duration::days(FIT_DAYS - 1),
        end: pre.end,
    };
    let residuals: Vec<f64> = collect(&fit_range)
        .iter()
        .filter(|x| x.1 > 0.0 && x.2 > 0.0 && !window.contains(x.0))
        .map(|x| (x.1 / (growth * x.2)).ln())
        .collect();
    if residuals.len() < 14 {
        return None;
    }
    let mean = residuals.iter().sum::<f64>() / residuals.len() as f64;
    let centred: Vec<f64> = residuals.iter().map(|e| e - mean).collect();
    // AR(1) fit of the daily residuals, with Kendall's small-sample bias correction of ρ.
    let n = centred.len() as f64;
    let var = centred.iter().map(|e| e * e).sum::<f64>() / n;
    let lag1 = centred.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / n;
    let rho_hat = if var > 0.0 { lag1 / var } else { 0.0 };
    let rho = (rho_hat + (1.0 + 3.0 * rho_hat) / n).clamp(0.0, 0.995);
    let innovation_sd = (var * (1.0 - rho * rho)).max(0.0).sqrt();
    let stationary_sd = innovation_sd / (1.0 - rho * rho).sqrt();
    // The pre-period and window days on one timeline: D = ē_W − ē_P, the ŷ-weighted mean residual
    // of the window less that of the pre-period (the error of the window's total and of g,
    // correlated as the days are), has coefficient c_t = b_t − a_t on day t.
    let origin = pre.start.min(window.start);
    let offset = |d: NaiveDate| usize::try_from((d - origin).num_days()).unwrap_or(0);
    let horizon = offset(pre.end.max(window.end)) + 1;
    let mut c = vec![0.0; horizon];
    for (days, sign) in [(&win_days, 1.0), (&pre_days, -1.0)] {
        let total: f64 = days.iter().map(|x| x.2).sum();
        for x in days {
            c[offset(x.0)] += sign * x.2 / total;
        }
    }
    // D is exactly normal; the counterfactual is C = B·exp(D) and the uplift 100·(A/C − 1).
    let sd = stationary_sd * ar1_sum_sd(&c, rho);
    let alpha = 1.0 - opts.level;
    let z = homeseason_stats::numeric::normal_quantile(1.0 - alpha / 2.0);
    let ratio = actual / baseline;
    let mut sorted_res = centred.clone();
    sorted_res.sort_by(f64::total_cmp);
    let (q_lo, q_hi) = (
        quantile(&sorted_res, alpha / 2.0).exp(),
        quantile(&sorted_res, 1.0 - alpha / 2.0).exp(),
    );
    let daily = pre_days
        .iter()
        .chain(win_days.iter())
        .map(|&(d, y, e)| (d, y, growth * e, growth * e * q_lo, growth * e * q_hi))
        .collect();
    Some(CellEstimate {
        actual,
        baseline,
        growth: Some(growth),
        lower: 100.0 * (ratio * (-z * sd).exp() - 1.0),
        upper: 100.0 * (ratio * (z * sd).exp() - 1.0),
        p_value: two_sided_normal_p(ratio.ln(), sd),
        days_used: win_days.len() as i64,
        daily,
        r2: f64::NAN,
        mape: f64::NAN,
        diagnostics: None,
    })
}

/// Estimate the uplift of every region × category of `series` (from [`crate::daily_series`]) over the
/// campaign window with each method. Cells whose history cannot support a method (fewer than 28
/// pre-period days with a comparison) are left out of that method's rows.
///
/// # Errors
/// When `series` lacks its columns.
pub fn uplift(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<UpliftResult> {
    let season = Season::of(series)?;
    let run = Run {
        campaign,
        opts,
        daily: true,
    };
    let outcomes = estimate_runs(&season, std::slice::from_ref(&run), methods)
        .pop()
        .unwrap_or_default();
    result_of(&run, outcomes)
}

/// One estimate of every cell of a season: a campaign (its window and pre-period; a backtest
/// shifts them) and the options.
pub(crate) struct Run<'a> {
    /// The campaign, with the window and pre-period to estimate.
    pub(crate) campaign: &'a Campaign,
    /// Level, seed, placebo and diagnostics.
    pub(crate) opts: &'a UpliftOptions,
    /// Whether the window's daily counterfactual is wanted (`baseline_daily`); without it the
    /// regression summarises its draws over the window only (the same totals and interval). A
    /// backtest window has no daily rows; a placebo window never has.
    pub(crate) daily: bool,
}

/// A task's result: the window's estimate and, when asked for, the placebo window's (`None`: the
/// cell's history cannot support the method there).
pub(crate) type Outcome = Option<(CellEstimate, Option<(DateRange, CellEstimate)>)>;

/// A task: region, category, method.
pub(crate) type Key<'a> = (&'a String, &'a String, Method);

/// Every run's tasks — each targeted region × category (and `all_targeted`) with each method, in
/// the order of the season's cells then of `methods` — in one pool on every core, regression tasks
/// (the costly ones) first so no core idles at the end. Each task has its own seed, so the result
/// does not depend on which thread ran it; each run's outcomes come back in task order.
///
/// A cell's regression tasks of every run go to the pool as one job, the first run's (the
/// campaign's, when the runs are a campaign and its backtest windows) first: its fit's
/// importance-sampling slices start the fits of the other runs' windows (and of the placebo
/// window), so the start — like the seed — is fixed by the task, not by the thread.
pub(crate) fn estimate_runs<'s>(
    season: &'s Season,
    runs: &[Run<'_>],
    methods: &[Method],
) -> Vec<Vec<(Key<'s>, Outcome)>> {
    let mut tasks: Vec<(usize, Key<'s>)> = Vec::new();
    for (r, run) in runs.iter().enumerate() {
        for (region, category) in season.cells.keys() {
            if !run
                .campaign
                .categories
                .targeted
                .iter()
                .any(|c| c.id() == category)
                && category != crate::ALL_TARGETED
            {
                continue;
            }
            for &method in methods {
                tasks.push((r, (region, category, method)));
            }
        }
    }
    // Jobs: a regression cell's tasks of every run together (in run order), any other task alone.
    let mut jobs: Vec<Vec<usize>> = Vec::new();
    let mut of_cell: HashMap<Key<'s>, usize> = HashMap::new();
    for (i, (_, key)) in tasks.iter().enumerate() {
        if key.2 == Method::CounterfactualRegression {
            if let Some(&j) = of_cell.get(key) {
                jobs[j].push(i);
                continue;
            }
            of_cell.insert(*key, jobs.len());
        }
        jobs.push(vec![i]);
    }
    jobs.sort_by_key(|job| tasks[job[0]].1.2 != Method::CounterfactualRegression);
    let results = parallel_map(&jobs, |job| {
        let mut start = None;
        job.iter()
            .map(|&i| {
                let (r, key) = tasks[i];
                let (outcome, own) = run_task(season, &runs[r], key, start.as_ref());
                if start.is_none() {
                    start = own;
                }
                outcome
            })
            .collect::<Vec<_>>()
    });
    let mut slots: Vec<Option<Outcome>> =
        std::iter::repeat_with(|| None).take(tasks.len()).collect();
    for (job, outcomes) in jobs.iter().zip(results) {
        for (&i, outcome) in job.iter().zip(outcomes) {
            slots[i] = Some(outcome);
        }
    }
    let mut out: Vec<Vec<(Key<'s>, Outcome)>> = runs.iter().map(|_| Vec::new()).collect();
    for ((r, key), slot) in tasks.into_iter().zip(slots) {
        out[r].push((key, slot.flatten()));
    }
    out
}

/// One task of [`estimate_runs`], with the regression's start (the same cell's fit on the first
/// run's window, see [`estimate_runs`]); returns the outcome and this task's own regression start
/// (its window's fit).
fn run_task(
    season: &Season,
    run: &Run<'_>,
    (region, category, method): Key<'_>,
    start: Option<&FitStart>,
) -> (Outcome, Option<FitStart>) {
    let (campaign, opts) = (run.campaign, run.opts);
    let Some(cell) = season.cells.get(&(region.clone(), category.clone())) else {
        return (None, None);
    };
    let controls: Vec<(&str, &HashMap<NaiveDate, f64>)> = campaign
        .categories
        .controls
        .iter()
        .filter_map(|c| {
            Some((
                c.id(),
                &season
                    .cells
                    .get(&(region.clone(), c.id().to_owned()))?
                    .values,
            ))
        })
        .collect();
    let seed = seed_for(opts.seed, region, category, method);
    let series: Vec<&HashMap<NaiveDate, f64>> = controls.iter().map(|c| c.1).collect();
    let masked = &campaign.baseline.masked;
    let values = &cell.values;
    // An estimate and, for the regression, its fit's start.
    let one = |pre: &DateRange, window: &DateRange, seed: u64, start: Option<&FitStart>, daily| {
        if method == Method::CounterfactualRegression {
            if controls.is_empty() {
                return None;
            }
            crate::regression::estimate(
                values,
                &series,
                window,
                masked,
                (opts.level, seed),
                start,
                daily,
                &opts.fits,
            )
            .map(|mut r| {
                let own = r.start.take();
                (CellEstimate::from(r), own)
            })
        } else {
            estimate(season, cell, pre, window, method, opts).map(|e| (e, None))
        }
    };
    let Some((mut e, own)) = one(
        &campaign.baseline.pre_period,
        &campaign.window,
        seed,
        start,
        run.daily,
    ) else {
        return (None, None);
    };
    if opts.diagnostics && method == Method::CounterfactualRegression {
        let window = &campaign.window;
        e.diagnostics = crate::regression::prepare(values, &series, window, masked).map(|p| {
            crate::diagnostics::of_cell(
                &p,
                values,
                &controls,
                window,
                masked,
                (e.actual, e.baseline, e.lower, e.upper, e.r2, e.mape),
            )
        });
    }
    // The placebo window starts from this window's fit (the first run's start without one).
    let placebo_start = own.as_ref().or(start);
    let placebo = opts.placebo.as_ref().and_then(|(ppre, pwin)| {
        Some((
            *pwin,
            one(ppre, pwin, seed ^ 0x9e37_79b9, placebo_start, false)?.0,
        ))
    });
    (Some((e, placebo)), own)
}

/// The `uplift` and `baseline_daily` frames of a run's outcomes.
pub(crate) fn result_of(run: &Run<'_>, outcomes: Vec<(Key<'_>, Outcome)>) -> Result<UpliftResult> {
    let (campaign, opts) = (run.campaign, run.opts);
    let names = Regions::embedded();
    let mut rows = UpliftRows::default();
    let mut daily = DailyRows::default();
    for ((region, category, method), result) in outcomes {
        let Some((e, placebo)) = result else {
            continue;
        };
        let name = if region == NATIONAL {
            "全国".to_owned()
        } else {
            names
                .by_code(region)
                .map_or_else(|| region.clone(), |r| r.name_zh.clone())
        };
        // The campaign row, then the placebo row when there is one.
        let placebo_row = placebo.as_ref().map(|(pwin, p)| (p, (pwin, "placebo")));
        for (est, window) in
            std::iter::once((&e, (&campaign.window, "campaign"))).chain(placebo_row)
        {
            rows.push(campaign, region, &name, category, method, opts, est, window);
        }
        for (d, y, b, lo, hi) in &e.daily {
            daily.region.push(region.clone());
            daily.category.push(category.clone());
            daily.method.push(method.id());
            daily.date.push(*d);
            daily.actual.push(*y);
            daily.baseline.push(*b);
            daily.lower.push(*lo);
            daily.upper.push(*hi);
        }
    }
    Ok(UpliftResult {
        uplift: rows.into_frame()?,
        baseline_daily: daily.into_frame()?,
    })
}

/// `f` over `items` on every available core (scoped threads pulling the next index), results in
/// the order of `items`.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an uplift worker panicked"))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The columns that name a campaign cell (`campaign_id`, `region_code`, `region_name_zh`,
/// `category`), with which the uplift table and the local-event tables begin.
#[derive(Default)]
pub(crate) struct CellColumns {
    campaign: Vec<String>,
    region: Vec<String>,
    name: Vec<String>,
    category: Vec<String>,
}

impl CellColumns {
    pub(crate) fn push(&mut self, campaign: &str, region: &str, name: &str, category: &str) {
        self.campaign.push(campaign.to_owned());
        self.region.push(region.to_owned());
        self.name.push(name.to_owned());
        self.category.push(category.to_owned());
    }

    /// The cell columns followed by the columns of `rest` (of the same height).
    pub(crate) fn with(self, rest: &DataFrame) -> Result<DataFrame> {
        Ok(df!(
            "campaign_id" => self.campaign,
            "region_code" => self.region,
            "region_name_zh" => self.name,
            "category" => self.category,
        )?
        .hstack(rest.columns())?)
    }
}

/// Three columns of a table: an estimate and the lower and upper bounds of its interval, null
/// where there is none.
#[derive(Default)]
pub(crate) struct Band([Vec<Option<f64>>; 3]);

impl Band {
    /// Append an estimate, its lower bound and its upper bound.
    pub(crate) fn push(&mut self, figures: [Option<f64>; 3]) {
        for (column, v) in self.0.iter_mut().zip(figures) {
            column.push(v);
        }
    }

    /// Append `(estimate, lower, upper)`, or three nulls.
    pub(crate) fn push_some(&mut self, band: Option<(f64, f64, f64)>) {
        self.push(band.map_or([None; 3], |(e, lo, hi)| [Some(e), Some(lo), Some(hi)]));
    }

    /// The estimate, lower and upper columns.
    pub(crate) fn into_columns(self) -> [Vec<Option<f64>>; 3] {
        self.0
    }
}

#[derive(Default)]
struct UpliftRows {
    cell: CellColumns,
    start: Vec<NaiveDate>,
    end: Vec<NaiveDate>,
    kind: Vec<&'static str>,
    method: Vec<&'static str>,
    source: Vec<String>,
    actual: Vec<f64>,
    baseline: Vec<f64>,
    abs: Vec<f64>,
    pct: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    abs_lower: Vec<f64>,
    abs_upper: Vec<f64>,
    level: Vec<f64>,
    p: Vec<Option<f64>>,
    sign: Vec<i64>,
    days: Vec<i64>,
    growth: Vec<Option<f64>>,
    fit_r2: Vec<Option<f64>>,
    fit_mape: Vec<Option<f64>>,
    loo_min: Vec<Option<f64>>,
    loo_max: Vec<Option<f64>>,
    break_shift: Vec<Option<f64>>,
    break_p: Vec<Option<f64>>,
    flag: Vec<Option<bool>>,
    reason: Vec<Option<String>>,
}

impl UpliftRows {
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments are the step's inputs, named as in the formulas"
    )]
    fn push(
        &mut self,
        c: &Campaign,
        region: &str,
        name: &str,
        category: &str,
        m: Method,
        o: &UpliftOptions,
        e: &CellEstimate,
        (window, kind): (&DateRange, &'static str),
    ) {
        self.cell.push(&c.id, region, name, category);
        self.start.push(window.start);
        self.end.push(window.end);
        self.kind.push(kind);
        self.method.push(m.id());
        self.source.push(o.source.clone());
        self.actual.push(e.actual);
        self.baseline.push(e.baseline);
        self.abs.push(e.actual - e.baseline);
        self.pct.push(100.0 * (e.actual / e.baseline - 1.0));
        self.lower.push(e.lower);
        self.upper.push(e.upper);
        // uplift_abs = A − A/(1+pct): the absolute bounds follow from the percentage bounds.
        self.abs_lower
            .push(e.actual - e.actual / (1.0 + e.lower / 100.0));
        self.abs_upper
            .push(e.actual - e.actual / (1.0 + e.upper / 100.0));
        self.level.push(o.level);
        self.p.push(Some(e.p_value));
        self.sign.push(effect_sign(e.actual - e.baseline));
        self.days.push(e.days_used);
        self.growth.push(e.growth);
        let d = e.diagnostics.as_ref().filter(|_| kind == "campaign");
        let finite = |x: f64| x.is_finite().then_some(x);
        self.fit_r2.push(d.and_then(|d| finite(d.r_squared)));
        self.fit_mape.push(d.and_then(|d| finite(d.mape_pct)));
        self.loo_min.push(d.and_then(|d| d.loo.map(|l| l.0)));
        self.loo_max.push(d.and_then(|d| d.loo.map(|l| l.1)));
        let (shift, p) = d.map_or(
            (None, None),
            crate::diagnostics::CellDiagnostics::worst_break,
        );
        self.break_shift.push(shift);
        self.break_p.push(p);
        self.flag.push(d.map(|d| d.flag));
        self.reason.push(d.map(|d| d.reason.clone()));
    }

    fn into_frame(self) -> Result<DataFrame> {
        self.cell.with(&df!(
            "window_start" => self.start,
            "window_end" => self.end,
            "window_kind" => self.kind,
            "method" => self.method,
            "source" => self.source,
            "actual_yuan" => self.actual,
            "baseline_yuan" => self.baseline,
            "uplift_abs_yuan" => self.abs,
            "uplift_pct" => self.pct,
            "lower_pct" => self.lower,
            "upper_pct" => self.upper,
            "uplift_abs_lower_yuan" => self.abs_lower,
            "uplift_abs_upper_yuan" => self.abs_upper,
            "level" => self.level,
            "p_value" => self.p,
            "effect_sign" => self.sign,
            "days_used" => self.days,
            "growth_factor" => self.growth,
            "pre_fit_r2" => self.fit_r2,
            "pre_fit_mape_pct" => self.fit_mape,
            "loo_min_pct" => self.loo_min,
            "loo_max_pct" => self.loo_max,
            "break_shift_max_pct" => self.break_shift,
            "break_p_min" => self.break_p,
            "diagnostic_flag" => self.flag,
            "diagnostic_reason" => self.reason,
        )?)
    }
}

#[derive(Default)]
struct DailyRows {
    region: Vec<String>,
    category: Vec<String>,
    method: Vec<&'static str>,
    date: Vec<NaiveDate>,
    actual: Vec<f64>,
    baseline: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl DailyRows {
    fn into_frame(self) -> Result<DataFrame> {
        Ok(df!(
            "region_code" => self.region,
            "category" => self.category,
            "method" => self.method,
            "date" => self.date,
            "actual_yuan" => self.actual,
            "baseline_yuan" => self.baseline,
            "lower_yuan" => self.lower,
            "upper_yuan" => self.upper,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::{campaign_and_options, f, n};
    use chrono::Datelike;

    /// A series with weekday rhythm, 5% yearly growth and a known 10% uplift in the window.
    fn synthetic(uplift: f64) -> DataFrame {
        let (mut r, mut c, mut d, mut v) = (vec![], vec![], vec![], vec![]);
        let start = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        let window = Campaign::default_2023().window;
        for (i, day) in start
            .iter_days()
            .take_while(|x| x.year() <= 2023)
            .enumerate()
        {
            let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
            let noise = 1.0 + 0.02 * ((i * 7919 % 101) as f64 / 101.0 - 0.5);
            let mut y =
                1000.0 * (1.05f64).powf(i as f64 / 365.0) * if weekend { 1.3 } else { 1.0 } * noise;
            if window.contains(day) {
                y *= 1.0 + uplift;
            }
            r.push("330000");
            c.push("furniture");
            d.push(day);
            v.push(y);
        }
        df!("region_code" => r, "category" => c, "date" => d, "net_amount_yuan" => v).unwrap()
    }

    #[test]
    fn the_seasons_matched_days_give_every_cells_expected_values_to_the_bit() {
        // Two cells on different spans (one starts later and has gaps), so a cell's days sit
        // inside the season's span at an offset.
        let a = synthetic(0.10);
        let b = synthetic(0.0)
            .lazy()
            .with_column(lit("330100").alias("region_code"))
            .filter(col("date").gt(lit(NaiveDate::from_ymd_opt(2021, 7, 1).unwrap())))
            .filter((col("date").dt().day() % lit(9)).neq(lit(0)))
            .collect()
            .unwrap();
        let season = Season::of(&a.vstack(&b).unwrap()).unwrap();
        assert_eq!(season.cells.len(), 2);
        let mut compared = 0;
        for cell in season.cells.values() {
            for lag in [1, 2] {
                let shared = season.expected(cell, lag);
                for (k, d) in cell
                    .days
                    .first
                    .iter_days()
                    .take(cell.days.values.len())
                    .enumerate()
                {
                    let alone = align::expected(d, lag, |r| cell.days.get(r));
                    assert_eq!(
                        shared.values[k].map(f64::to_bits),
                        alone.map(f64::to_bits),
                        "{d}"
                    );
                    compared += usize::from(alone.is_some());
                }
            }
        }
        assert!(compared > 1000, "{compared} days with a value");
    }

    #[test]
    fn recovers_a_known_uplift_with_an_interval_around_it() {
        let (campaign, opts) = campaign_and_options();
        let out = uplift(
            &synthetic(0.10),
            &campaign,
            &[Method::PriorYear, Method::TwoYear],
            &opts,
        )
        .unwrap();
        assert_eq!(
            out.uplift.height(),
            4,
            "a campaign and a placebo row per method"
        );
        let kinds: Vec<&str> = out
            .uplift
            .column("window_kind")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(kinds, ["campaign", "placebo", "campaign", "placebo"]);
        let cell = |c: &str, i: usize| f(&out.uplift, c, i).unwrap();
        // Rows 0 and 2 are the campaign-window rows of the two methods.
        for i in [0, 2] {
            let (p, l, h) = (
                cell("uplift_pct", i),
                cell("lower_pct", i),
                cell("upper_pct", i),
            );
            assert!((p - 10.0).abs() < 1.0, "estimate {p}");
            assert!(
                l < p && p < h && l < 10.0 && 10.0 < h,
                "interval [{l}, {h}] around {p}"
            );
        }
        assert!(cell("p_value", 0) < 0.05);
    }

    /// The p-value is two-sided: a clearly negative cell gets a small p (and sign −1), for every
    /// method, as a clearly positive one does.
    #[test]
    fn a_clearly_negative_effect_gets_a_small_two_sided_p_value() {
        let (campaign, mut opts) = campaign_and_options();
        opts.placebo = None;
        for (effect, sign) in [(-0.10, -1), (0.10, 1)] {
            let out = uplift(
                &synthetic(effect),
                &campaign,
                &[Method::PriorYear, Method::TwoYear],
                &opts,
            )
            .unwrap();
            assert_eq!(out.uplift.height(), 2);
            for i in 0..2 {
                let (p, s, pct) = (
                    f(&out.uplift, "p_value", i).unwrap(),
                    n(&out.uplift, "effect_sign", i),
                    f(&out.uplift, "uplift_pct", i).unwrap(),
                );
                assert!(p < 0.05, "effect {effect}: p {p} (uplift {pct} %)");
                assert_eq!(s, sign, "effect {effect}: sign");
                assert!((pct - 100.0 * effect).abs() < 1.5, "effect {effect}: {pct}");
            }
        }
        // The two-sided normal p-value: both tails, symmetric in the sign of the log ratio.
        assert!((two_sided_normal_p(0.0, 0.02) - 1.0).abs() < 1e-12);
        let z = homeseason_stats::numeric::normal_quantile(0.975);
        for x in [-z, z] {
            let p = two_sided_normal_p(x * 0.02, 0.02);
            assert!((p - 0.05).abs() < 1e-7, "{p}");
        }
    }

    #[test]
    fn no_effect_gives_an_interval_holding_zero() {
        let (campaign, mut opts) = campaign_and_options();
        opts.placebo = None;
        let out = uplift(&synthetic(0.0), &campaign, &[Method::PriorYear], &opts).unwrap();
        let (lo, hi) = (
            f(&out.uplift, "lower_pct", 0).unwrap(),
            f(&out.uplift, "upper_pct", 0).unwrap(),
        );
        assert!(lo < 0.0 && 0.0 < hi, "[{lo}, {hi}]");
    }

    #[test]
    fn deterministic() {
        let (campaign, opts) = campaign_and_options();
        let a = uplift(&synthetic(0.05), &campaign, &[Method::PriorYear], &opts).unwrap();
        let b = uplift(&synthetic(0.05), &campaign, &[Method::PriorYear], &opts).unwrap();
        assert!(a.uplift.equals_missing(&b.uplift));
    }

    /// The closed form against its definition: the double sum `Σ_s Σ_t c_s c_t ρ^|s−t|` term by
    /// term, for weights like the methods' (a pre-period subtracted, a later window added).
    #[test]
    fn ar1_sum_sd_is_the_double_sum() {
        let mut c = vec![0.0; 214];
        for (t, v) in c.iter_mut().enumerate() {
            let wiggle = 1.0 + 0.3 * ((t * 7919 % 13) as f64 / 13.0 - 0.5);
            *v = if t < 92 {
                -wiggle / 92.0
            } else {
                wiggle / 122.0
            };
        }
        c[40] = 0.0; // a day without a comparison
        for rho in [0.0, 0.3, 0.8, 0.95, 0.995] {
            let mut brute = 0.0;
            for (s, cs) in c.iter().enumerate() {
                for (t, ct) in c.iter().enumerate() {
                    let lag = i32::try_from(s.abs_diff(t)).unwrap();
                    brute += cs * ct * f64::powi(rho, lag);
                }
            }
            let fast = ar1_sum_sd(&c, rho);
            assert!(
                (fast * fast - brute).abs() <= 1e-12 * brute.abs().max(1e-300),
                "rho {rho}: {} vs {brute}",
                fast * fast
            );
        }
        // One unit weight: the variance of z itself; the empty sum: zero.
        assert!((ar1_sum_sd(&[0.0, 1.0, 0.0], 0.9) - 1.0).abs() < 1e-15);
        assert_eq!(ar1_sum_sd(&[], 0.5), 0.0);
    }

    /// The closed form against the simulation it replaces: AR(1) paths (stationary start,
    /// Box–Muller innovations) give the same standard deviation of `Σ c_t z_t`, within the Monte
    /// Carlo error of 20,000 paths (about 0.5 %).
    #[test]
    fn ar1_sum_sd_matches_simulated_paths() {
        use rand::{Rng, SeedableRng};
        let c: Vec<f64> = (0..150)
            .map(|t| if t < 60 { -1.0 / 60.0 } else { 1.0 / 90.0 })
            .collect();
        let (rho, sd) = (0.9, 0.05);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut normal = || {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            homeseason_stats::numeric::box_muller(u1, rng.random())
        };
        let paths = 20_000;
        let mut sum_sq = 0.0;
        let mut path = vec![0.0; c.len()];
        for _ in 0..paths {
            path[0] = sd * normal();
            for t in 1..c.len() {
                path[t] = rho * path[t - 1] + sd * (1.0 - rho * rho).sqrt() * normal();
            }
            let d: f64 = c.iter().zip(&path).map(|(a, b)| a * b).sum();
            sum_sq += d * d;
        }
        let simulated = (sum_sq / f64::from(paths)).sqrt();
        let exact = sd * ar1_sum_sd(&c, rho);
        assert!(
            (simulated / exact - 1.0).abs() < 0.02,
            "simulated {simulated} vs exact {exact}"
        );
    }
}
