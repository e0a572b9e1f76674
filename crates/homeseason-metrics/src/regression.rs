//! The counterfactual regression (CausalImpact-style) adapter: builds each cell's design from the
//! same region's untargeted categories, weekday and Chinese day types, and calls
//! [`homeseason_stats::impact`].

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::calendar::DayType;
use homeseason_schema::campaign::DateRange;
use homeseason_stats::impact::{Design, FitStart, ImpactModel, ImpactOptions, moving_mean};

use crate::memo::FitMemo;

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

impl RegressionEstimate {
    /// Every bit of `estimate` (`None`: the fit gave no estimate), for the memo: read back by
    /// [`RegressionEstimate::from_bytes`] it is the same estimate.
    fn to_bytes(estimate: Option<&RegressionEstimate>) -> Vec<u8> {
        let Some(e) = estimate else {
            return vec![0];
        };
        let mut out = vec![1];
        let mut put = |v: f64| out.extend_from_slice(&v.to_bits().to_le_bytes());
        for v in [e.actual, e.baseline, e.lower_pct, e.upper_pct, e.p_value] {
            put(v);
        }
        put(e.r_squared);
        put(e.mape);
        out.extend_from_slice(&e.days_used.to_le_bytes());
        out.extend_from_slice(&(e.daily.len() as u64).to_le_bytes());
        for (d, a, p, lo, hi) in &e.daily {
            out.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
            for v in [a, p, lo, hi] {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        match &e.start {
            Some(s) => {
                out.push(1);
                s.write_bytes(&mut out);
            }
            None => out.push(0),
        }
        out
    }

    /// The estimate [`RegressionEstimate::to_bytes`] wrote (`Some(None)`: no estimate); `None`
    /// when the bytes are not one.
    #[expect(
        clippy::option_option,
        reason = "a remembered fit may be a fit that gave no estimate"
    )]
    fn from_bytes(bytes: &[u8]) -> Option<Option<RegressionEstimate>> {
        fn cut<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            *rest = tail;
            Some(head)
        }
        let (&tag, mut rest) = bytes.split_first()?;
        match tag {
            0 if rest.is_empty() => return Some(None),
            1 => {}
            _ => return None,
        }
        let f = |b: &[u8]| f64::from_bits(u64::from_le_bytes(b.try_into().unwrap_or_default()));
        let mut floats = [0.0; 7];
        for v in &mut floats {
            *v = f(cut(&mut rest, 8)?);
        }
        let days_used = i64::from_le_bytes(cut(&mut rest, 8)?.try_into().ok()?);
        let n = usize::try_from(u64::from_le_bytes(cut(&mut rest, 8)?.try_into().ok()?)).ok()?;
        let mut daily = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let day = i32::from_le_bytes(cut(&mut rest, 4)?.try_into().ok()?);
            let d = NaiveDate::from_num_days_from_ce_opt(day)?;
            let row = cut(&mut rest, 32)?;
            daily.push((
                d,
                f(&row[..8]),
                f(&row[8..16]),
                f(&row[16..24]),
                f(&row[24..]),
            ));
        }
        let start = match cut(&mut rest, 1)? {
            [0] => None,
            [1] => {
                let (s, used) = FitStart::from_bytes(rest)?;
                rest = &rest[used..];
                Some(s)
            }
            _ => return None,
        };
        if !rest.is_empty() {
            return None;
        }
        let [
            actual,
            baseline,
            lower_pct,
            upper_pct,
            p_value,
            r_squared,
            mape,
        ] = floats;
        Some(Some(RegressionEstimate {
            actual,
            baseline,
            lower_pct,
            upper_pct,
            p_value,
            days_used,
            daily,
            r_squared,
            mape,
            start,
        }))
    }
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
///
/// `memo`: a fit whose inputs it remembers is not computed again (see [`crate::memo`]); a fit
/// computed is remembered there.
#[allow(clippy::too_many_arguments)]
pub(crate) fn estimate(
    target: &HashMap<NaiveDate, f64>,
    controls: &[&HashMap<NaiveDate, f64>],
    window: &DateRange,
    masked: &[DateRange],
    (level, seed): (f64, u64),
    start: Option<&FitStart>,
    daily: bool,
    memo: &FitMemo,
) -> Option<RegressionEstimate> {
    let prepared = prepare(target, controls, window, masked)?;
    let options = ImpactOptions {
        level,
        // 300 posterior predictive draws (500 until session 16: `evaluate --seeds 1,2` unchanged
        // within its noise, about −2 s of `uplift`'s user CPU; benchmarks/UPLIFT.md).
        draws: 300,
        seed,
        ..ImpactOptions::default()
    };
    let key = memo_key(memo, &prepared, &options, start, daily);
    // A fit without a start (a campaign window) searches each slice's proposal on its
    // pre-period alone: when the same pre-period was fitted before (last week's run, before this
    // week's window days arrived), the slices it found are the ones the search would find again,
    // so the fit starts from them — the same fit to the bit, without the search. (Recalled even
    // when the whole fit is remembered, so that next week's run still finds them.)
    let search_key = start
        .is_none()
        .then(|| search_key(memo, &prepared, &options))
        .flatten();
    let searched = search_key.as_ref().and_then(|k| memo.recall(k));
    if let Some(key) = &key
        && let Some(bytes) = memo.get(key)
        && let Some(known) = RegressionEstimate::from_bytes(&bytes)
    {
        return known;
    }
    let searched = searched.and_then(|bytes| FitStart::from_bytes(&bytes).map(|(s, _)| s));
    let fitted = fit(prepared, &options, start.or(searched.as_ref()), daily);
    if let Some(key) = key {
        memo.put(key, RegressionEstimate::to_bytes(fitted.as_ref()));
    }
    if let (Some(k), None, Some(Some(s))) =
        (search_key, &searched, fitted.as_ref().map(|f| &f.start))
    {
        let mut bytes = Vec::new();
        s.write_bytes(&mut bytes);
        memo.keep(k, bytes);
    }
    fitted
}

/// The key of the slices a fit without a start finds (see [`estimate`]): a SHA-256 of the build's
/// stamp and of what the search reads — the response and every design column over the
/// pre-period, the error model, the intercept and the log scale.
fn search_key(memo: &FitMemo, p: &Prepared, options: &ImpactOptions) -> Option<[u8; 32]> {
    use sha2::Digest;
    let mut h = memo.hasher("counterfactual_regression slices")?;
    hash_floats(&mut h, &p.y[p.pre.clone()]);
    let names = p.design.names();
    h.update((names.len() as u64).to_le_bytes());
    for (j, name) in names.iter().enumerate() {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        hash_floats(&mut h, &p.design.column(j)[p.pre.clone()]);
    }
    h.update([u8::from(options.log), u8::from(options.intercept)]);
    h.update(format!("{:?}", options.errors).as_bytes());
    Some(h.finalize().into())
}

/// `values` into `h`: their number, then each value's bits.
fn hash_floats(h: &mut sha2::Sha256, values: &[f64]) {
    use sha2::Digest;
    h.update((values.len() as u64).to_le_bytes());
    for v in values {
        h.update(v.to_bits().to_le_bytes());
    }
}

/// The key of a fit in `memo` (`None` when it is off): a SHA-256 of the build's stamp and of
/// every input of [`fit`] — the days, the response's and every design column's bits, the
/// periods, the options, the start's bits and whether daily rows are asked for.
fn memo_key(
    memo: &FitMemo,
    p: &Prepared,
    options: &ImpactOptions,
    start: Option<&FitStart>,
    daily: bool,
) -> Option<[u8; 32]> {
    use sha2::Digest;
    let mut h = memo.hasher("counterfactual_regression")?;
    for d in [p.days.first(), p.days.last()] {
        h.update(d.map_or(0, Datelike::num_days_from_ce).to_le_bytes());
    }
    for n in [
        p.days.len(),
        p.pre.start,
        p.pre.end,
        p.post.start,
        p.post.end,
    ] {
        h.update((n as u64).to_le_bytes());
    }
    hash_floats(&mut h, &p.y);
    let names = p.design.names();
    h.update((names.len() as u64).to_le_bytes());
    for (j, name) in names.iter().enumerate() {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        hash_floats(&mut h, p.design.column(j));
    }
    let ImpactOptions {
        level,
        draws,
        seed,
        log,
        intercept,
        errors,
        // The threads change no bit of the fit: not part of the key.
        threads: _,
    } = options;
    h.update(level.to_bits().to_le_bytes());
    h.update((*draws as u64).to_le_bytes());
    h.update(seed.to_le_bytes());
    h.update([u8::from(*log), u8::from(*intercept), u8::from(daily)]);
    h.update(format!("{errors:?}").as_bytes());
    let mut bytes = Vec::new();
    if let Some(s) = start {
        s.write_bytes(&mut bytes);
    }
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
    Some(h.finalize().into())
}

/// [`estimate`]'s fit and prediction of a prepared cell.
fn fit(
    Prepared {
        days,
        y,
        design,
        pre,
        post,
    }: Prepared,
    options: &ImpactOptions,
    start: Option<&FitStart>,
    daily: bool,
) -> Option<RegressionEstimate> {
    // `causal_impact` in its steps, with the start (`prepare` gives a valid post-period).
    let model = ImpactModel::fit_from(&y, &design, pre, options, start).ok()?;
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
