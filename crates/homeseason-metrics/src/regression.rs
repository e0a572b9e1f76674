//! The counterfactual regression (CausalImpact-style) adapter: builds each cell's design from the
//! same region's untargeted categories, weekday and Chinese day types, and calls
//! [`homeseason_stats::impact`].

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::calendar::DayType;
use homeseason_schema::campaign::DateRange;
use homeseason_stats::impact::{Design, FitStart, ImpactModel, ImpactOptions, moving_mean};

/// Most years of history before the window the regression is fitted on (at least two Golden Weeks
/// and Mid-Autumns, so every day type of the window has been seen; the yearly terms need them too).
pub(crate) const FIT_YEARS: i64 = 3;

/// A fitted cell: window totals, interval of the uplift %, p and the daily counterfactual.
pub(crate) struct RegressionEstimate {
    pub(crate) actual: f64,
    pub(crate) baseline: f64,
    pub(crate) lower_pct: f64,
    pub(crate) upper_pct: f64,
    pub(crate) p_value: f64,
    pub(crate) days_used: i64,
    /// (date, actual, predicted, lower, upper) over the window.
    pub(crate) daily: Vec<(NaiveDate, f64, f64, f64, f64)>,
    /// Pre-period R² of the covariates (model scale).
    pub(crate) r_squared: f64,
    /// Pre-period mean absolute percentage error of that fit (0.05 = 5 %).
    pub(crate) mape: f64,
    /// The fit's importance-sampling slices: the start of the same cell's fits on its other
    /// windows (placebo, backtest).
    pub(crate) start: Option<FitStart>,
}

/// Day-type code for the design: ordinary days share one level (weekday dummies carry the weekend),
/// make-up workdays, each holiday and each shopping festival get their own.
pub(crate) fn day_code(d: NaiveDate) -> u32 {
    match crate::days::day_type(d) {
        DayType::Workday | DayType::Weekend => 0,
        DayType::MakeupWorkday => 1,
        DayType::Holiday(h) => 10 + h as u32,
        DayType::ShoppingFestival(f) => 20 + f as u32,
    }
}

/// A cell's regression problem: the days from the start of the fit to the window's end, the
/// response (`NaN` where left out of the fit), the design and the pre/post index ranges.
pub(crate) struct Prepared {
    pub(crate) days: Vec<NaiveDate>,
    pub(crate) y: Vec<f64>,
    pub(crate) design: Design,
    pub(crate) pre: std::ops::Range<usize>,
    pub(crate) post: std::ops::Range<usize>,
}

/// The design of [`estimate`] (see it); `None` when the history is too short or no day of the
/// window is observed.
///
/// **Missing days are missing, not a reason to drop the cell.** A date absent from a series (no
/// payment rows that day, a file not yet arrived) or with a value ≤ 0 is `NaN`:
/// - the target on a pre-period day: the day is left out of the fit (the error process runs
///   through it);
/// - a control: its covariate is the centred ±3-day mean of its ordinary days, so a missing
///   ordinary day is filled from the days around it (the mean skips it); a day with no ordinary
///   day within ±3 and no value of its own stays `NaN` — left out of the fit in the pre-period;
/// - in the window, a day whose target is missing, or whose covariate is still `NaN`, is "not
///   observed": carried through by the error process, not predicted, not summed. The uplift is
///   then that of the observed days (`days_used` counts them).
pub(crate) fn prepare(
    target: &HashMap<NaiveDate, f64>,
    controls: &[&HashMap<NaiveDate, f64>],
    window: &DateRange,
    masked: &[DateRange],
) -> Option<Prepared> {
    // From the first day every series has (at most FIT_YEARS back).
    let first = std::iter::once(target)
        .chain(controls.iter().copied())
        .filter_map(|s| s.keys().min().copied())
        .max()?;
    let start = (window.start - Duration::days(365 * FIT_YEARS + 1)).max(first);
    let days: Vec<NaiveDate> = start.iter_days().take_while(|d| *d <= window.end).collect();
    let pre = 0..days.iter().position(|d| *d == window.start)?;
    let post = pre.end..days.len();
    let y: Vec<f64> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = target.get(d).copied().unwrap_or(f64::NAN);
            if i < pre.end && (v <= 0.0 || masked.iter().any(|m| m.contains(*d))) {
                f64::NAN
            } else {
                v
            }
        })
        .collect();
    if y[pre.clone()].iter().filter(|v| v.is_finite()).count() < 365 {
        return None;
    }
    let mut y = y;
    let mut design = Design::new(days.len());
    for (k, c) in controls.iter().enumerate() {
        // Holidays and festivals out, then a centred weekly mean: the controls carry the regional
        // economy (their own day-to-day noise would only attenuate the coefficients), the day-type
        // and weekday terms carry the calendar.
        let raw: Vec<f64> = days
            .iter()
            .map(|d| match c.get(d).copied() {
                Some(v) if v > 0.0 && day_code(*d) == 0 => v,
                _ => f64::NAN,
            })
            .collect();
        let smoothed: Vec<f64> = moving_mean(&raw, 3, 3)
            .into_iter()
            .zip(&days)
            .map(|(v, d)| {
                if v.is_finite() {
                    v
                } else {
                    c.get(d).copied().filter(|v| *v > 0.0).unwrap_or(f64::NAN)
                }
            })
            .collect();
        // A window day the counterfactual cannot be predicted for is not observed.
        for t in post.clone() {
            if !smoothed[t].is_finite() {
                y[t] = f64::NAN;
            }
        }
        design = design
            .log_covariate(format!("ln control {k}"), &smoothed)
            .ok()?;
    }
    if !y[post.clone()].iter().any(|v| v.is_finite()) {
        return None;
    }
    // Yearly seasonality of the category and the region's trend (the controls have their own).
    let time: Vec<f64> = (0..days.len()).map(|t| t as f64).collect();
    let trend: Vec<f64> = time.iter().map(|t| t / 365.25).collect();
    design = design
        .covariate("trend", &trend)
        .ok()?
        .fourier("year", &time, 365.25, 6)
        .ok()?;
    let weekday: Vec<u32> = days
        .iter()
        .map(|d| d.weekday().num_days_from_monday())
        .collect();
    let codes: Vec<u32> = days.iter().map(|d| day_code(*d)).collect();
    design = design
        .weekday(&weekday)
        .ok()?
        .categorical("day_type", &codes)
        .ok()?;
    Some(Prepared {
        days,
        y,
        design,
        pre,
        post,
    })
}

/// Fit on the `FIT_YEARS` before the window (days in `masked` left out of the fit) and predict the
/// window. `controls` are the same region's untargeted series. `None` when the history is too short
/// or the fit fails (the cell is then left out of this method's rows).
///
/// `start`: the slices of the same cell's fit on another window (its campaign window), where the
/// error-process sampler starts ([`ImpactModel::fit_from`]); the estimate carries its own.
/// Without `daily` the estimate has no daily rows (the totals, interval and p-value are the same).
pub(crate) fn estimate(
    target: &HashMap<NaiveDate, f64>,
    controls: &[&HashMap<NaiveDate, f64>],
    window: &DateRange,
    masked: &[DateRange],
    (level, seed): (f64, u64),
    start: Option<&FitStart>,
    daily: bool,
) -> Option<RegressionEstimate> {
    let Prepared {
        days,
        y,
        design,
        pre,
        post,
    } = prepare(target, controls, window, masked)?;
    let options = ImpactOptions {
        level,
        // 300 posterior predictive draws (500 until session 16: `evaluate --seeds 1,2` unchanged
        // within its noise, about −2 s of `uplift`'s user CPU; benchmarks/UPLIFT.md).
        draws: 300,
        seed,
        ..ImpactOptions::default()
    };
    // `causal_impact` in its steps, with the start (`prepare` gives a valid post-period).
    let model = ImpactModel::fit_from(&y, &design, pre, &options, start).ok()?;
    let impact = model
        .counterfactual_observed(&design, post.clone(), &y[post.clone()])
        .and_then(|c| {
            if daily {
                c.impact(&y[post.clone()], options.level)
            } else {
                c.impact_totals(&y[post.clone()], options.level)
            }
        })
        .ok()?;
    let c = &impact.cumulative;
    // A day not observed has no daily row (as the other methods skip a missing day).
    let daily = impact
        .points
        .iter()
        .filter(|p| p.actual.is_finite() && p.predicted.value.is_finite())
        .map(|p| {
            (
                days[p.index],
                p.actual,
                p.predicted.value,
                p.predicted.lower,
                p.predicted.upper,
            )
        })
        .collect();
    Some(RegressionEstimate {
        actual: c.actual,
        baseline: c.predicted.value,
        lower_pct: 100.0 * c.relative.lower,
        upper_pct: 100.0 * c.relative.upper,
        p_value: impact.p_value,
        days_used: impact.days_used as i64,
        daily,
        r_squared: impact.diagnostics.r_squared,
        mape: impact.diagnostics.mape,
        start: model.start().cloned(),
    })
}
