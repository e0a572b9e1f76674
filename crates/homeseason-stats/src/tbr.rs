//! Time-based regression (TBR) for two-group geo experiments, in the spirit of Google's
//! `matched_markets` (Kerman, Wang & Vaver, *Estimating ad effectiveness using geo experiments in a
//! time-based regression framework*, 2017).
//!
//! The geos of a two-group design (control and treatment) are summed per group and period, so the
//! data are two series: `x_t` (control) and `y_t` (treatment), for the response (sales) and
//! optionally for the cost (ad spend).
//!
//! # Method
//!
//! 1. **Pre-period model**: ordinary least squares `y_t = a + b·x_t + ε_t` over the pre-period
//!    (`n` periods), with `σ² = RSS / (n − 2)`, `df = n − 2` and the coefficients' covariance
//!    `V = σ² (XᵀX)⁻¹`.
//! 2. **Effect**: over the test period (`T` periods) the counterfactual is `a + b·x_t`; the
//!    pointwise effect `y_t − a − b·x_t`, the cumulative effect `Δ = Σ_test (y_t − a − b·x_t)`.
//! 3. **Uncertainty**: `Δ` is Student-t with `df` degrees of freedom, centred at the estimate, with
//!    scale `√(cᵀVc + T·σ²)` where `c = (T, Σ_test x_t)`: the parameter uncertainty of the
//!    counterfactual total plus the noise of `T` new periods (matched_markets'
//!    `causal_cumulative_distribution`).
//! 4. **Interval and p-value**: the interval is the `(1 − level)` tail quantile(s) of that
//!    t-distribution (one-sided `[lower, ∞)` as matched_markets reports by default, or two-sided);
//!    the p-value is the **two-sided** p-value of "no effect", `2·(1 − F_t(|Δ| / scale))`, whatever
//!    the interval's sidedness, with the sign of `Δ` reported beside it.
//! 5. **Relative lift** `Δ / (A − Δ)`, `A` the observed treatment total in the test period (the
//!    counterfactual total is `A − Δ`); its bounds are the same transform of the bounds of `Δ` (the
//!    transform is increasing, so quantiles map onto quantiles; matched_markets simulates the same).
//! 6. **Cost and iROAS**: with a cost series, the incremental cost is estimated the same way. When
//!    the cost is zero everywhere outside the treatment group's test period (a *fixed-cost* design:
//!    spend only in the treated geos, only during the test), the incremental cost is the observed
//!    treatment spend and `iROAS = Δ_response / cost` with the interval of `Δ_response` divided by
//!    the cost. Otherwise (*variable cost*, e.g. go-dark or heavy-up) both are random: the iROAS
//!    interval is the quantiles of `Δ*_response / Δ*_cost` over seeded draws from the two
//!    t-distributions (as matched_markets does), and the estimate is `Δ_response / Δ_cost`.
//!
//! On matched_markets' published example (`salesandcost.csv`, pre-period 2015-01-05 … 2015-02-15,
//! test 2015-02-16 … 2015-03-15, no cooldown; see `tests/tbr.rs`) this reproduces the R reference
//! figures its tests hold: incremental response 147 337.1, incremental cost 50 000, iROAS 2.946742
//! with one-sided 90% lower bound 2.826194 (precision 0.120548), relative lift 0.1740.
//!
//! ```
//! use homeseason_stats::tbr::{GroupSeries, TbrOptions, tbr};
//! // Treatment = 2 × control + 10 with small noise; +30 per period during the test (periods 40..50).
//! let control: Vec<f64> = (0..50).map(|t| 100.0 + 10.0 * (f64::from(t) / 5.0).sin()).collect();
//! let treatment: Vec<f64> = control
//!     .iter()
//!     .enumerate()
//!     .map(|(t, x)| 2.0 * x + 10.0 + ((t * 7 % 5) as f64 - 2.0) + if t >= 40 { 30.0 } else { 0.0 })
//!     .collect();
//! let sales = GroupSeries::new(control, treatment)?;
//! let r = tbr(&sales, None, 0..40, 40..50, &TbrOptions::default())?;
//! assert!((r.response.estimate - 300.0).abs() < 20.0 && r.response.p_value < 0.01);
//! # Ok::<(), homeseason_stats::tbr::TbrError>(())
//! ```

use std::ops::Range;

use crate::impact::rng::Sampler;
use crate::numeric::{quantile_sorted, t_quantile, t_sf};

/// Errors of the TBR estimator: bad input, never numerical trouble the data could not cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TbrError {
    /// The control and treatment series differ in length, or a value is not finite.
    #[error("series: {0}")]
    Series(String),
    /// A period is empty, out of range, or the test period does not follow the pre-period.
    #[error("periods: {0}")]
    Periods(String),
    /// The pre-period cannot support the regression (fewer than 3 periods, or a constant control
    /// series with a non-constant treatment series).
    #[error("pre-period: {0}")]
    PrePeriod(String),
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// The two group totals of one metric, one value per period.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSeries {
    /// Control group total per period.
    pub control: Vec<f64>,
    /// Treatment group total per period.
    pub treatment: Vec<f64>,
}

impl GroupSeries {
    /// Both series, checked: equal length, finite values.
    ///
    /// # Errors
    /// [`TbrError::Series`].
    pub fn new(control: Vec<f64>, treatment: Vec<f64>) -> Result<Self, TbrError> {
        if control.len() != treatment.len() {
            return Err(TbrError::Series(format!(
                "control has {} periods, treatment {}",
                control.len(),
                treatment.len()
            )));
        }
        if let Some(t) =
            (0..control.len()).find(|&t| !(control[t].is_finite() && treatment[t].is_finite()))
        {
            return Err(TbrError::Series(format!(
                "a value at period {t} is not finite"
            )));
        }
        Ok(GroupSeries { control, treatment })
    }

    /// Number of periods.
    pub fn len(&self) -> usize {
        self.control.len()
    }

    /// Whether there is no period.
    pub fn is_empty(&self) -> bool {
        self.control.is_empty()
    }
}

/// Which tails the interval has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tails {
    /// `[lower, ∞)` at `level` (matched_markets' default, `tails = 1`).
    #[default]
    One,
    /// `[lower, upper]` with `(1 − level)/2` in each tail.
    Two,
}

/// Options of [`tbr`].
#[derive(Debug, Clone, PartialEq)]
pub struct TbrOptions {
    /// Interval level; default 0.9.
    pub level: f64,
    /// Interval tails; default one (matched_markets' default).
    pub tails: Tails,
    /// Draws for the variable-cost iROAS interval; default 10 000.
    pub draws: usize,
    /// Seed of those draws.
    pub seed: u64,
}

impl Default for TbrOptions {
    fn default() -> Self {
        TbrOptions {
            level: 0.9,
            tails: Tails::One,
            draws: 10_000,
            seed: 1234,
        }
    }
}

/// The pre-period regression of the treatment total on the control total.
#[derive(Debug, Clone, PartialEq)]
pub struct TbrModel {
    /// Intercept `a`.
    pub intercept: f64,
    /// Slope `b`.
    pub slope: f64,
    /// Residual standard deviation `σ`.
    pub sigma: f64,
    /// Residual degrees of freedom `n − 2`.
    pub df: f64,
    /// Covariance of `(a, b)`, row-major 2 × 2.
    pub cov: [f64; 4],
    /// R² of the pre-period fit.
    pub r_squared: f64,
}

/// The cumulative effect on one metric over the test period.
#[derive(Debug, Clone, PartialEq)]
pub struct TbrEffect {
    /// Cumulative effect `Δ` (incremental response or cost).
    pub estimate: f64,
    /// Scale of the t-distribution of `Δ`.
    pub scale: f64,
    /// Lower bound at the level.
    pub lower: f64,
    /// Upper bound (`+∞` for a one-sided interval).
    pub upper: f64,
    /// Two-sided p-value of "no effect".
    pub p_value: f64,
    /// Direction of `Δ`: +1, −1 or 0.
    pub sign: i8,
    /// Observed treatment total over the test period.
    pub observed: f64,
    /// Counterfactual treatment total `observed − Δ`.
    pub counterfactual: f64,
    /// Relative lift `Δ / counterfactual`.
    pub relative_lift: f64,
    /// Lift at `lower`.
    pub relative_lift_lower: f64,
    /// Lift at `upper`.
    pub relative_lift_upper: f64,
    /// Pointwise effects over the test period.
    pub pointwise: Vec<f64>,
    /// The regression behind it.
    pub model: TbrModel,
}

/// Incremental return on ad spend.
#[derive(Debug, Clone, PartialEq)]
pub struct Iroas {
    /// `Δ_response / Δ_cost`.
    pub estimate: f64,
    /// Lower bound at the level.
    pub lower: f64,
    /// Upper bound (`+∞` for a one-sided interval).
    pub upper: f64,
    /// Whether the design is fixed-cost (cost only in the treated geos during the test).
    pub fixed_cost: bool,
    /// Incremental cost used.
    pub incremental_cost: f64,
}

/// Result of [`tbr`].
#[derive(Debug, Clone, PartialEq)]
pub struct TbrResult {
    /// Interval level.
    pub level: f64,
    /// Interval tails.
    pub tails: Tails,
    /// Incremental response.
    pub response: TbrEffect,
    /// Incremental cost, with a cost series.
    pub cost: Option<TbrEffect>,
    /// iROAS, with a cost series whose incremental cost is not zero.
    pub iroas: Option<Iroas>,
}

/// Fit the pre-period regression of `treatment` on `control` over `pre`.
///
/// # Errors
/// [`TbrError::PrePeriod`] for fewer than 3 periods or a constant control series (unless the
/// treatment series is constant too: then the slope is 0, as a pseudo-inverse gives).
pub fn fit(series: &GroupSeries, pre: Range<usize>) -> Result<TbrModel, TbrError> {
    let n = pre.len();
    if n < 3 {
        return Err(TbrError::PrePeriod(format!(
            "{n} periods; the regression needs at least 3"
        )));
    }
    let x = &series.control[pre.clone()];
    let y = &series.treatment[pre];
    let nf = n as f64;
    let mx = x.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    let scale = x
        .iter()
        .map(|v| v.abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let df = nf - 2.0;
    if sxx <= 1e-24 * scale * scale * nf {
        if syy == 0.0 {
            // Both constant (e.g. no spend anywhere before the test): the counterfactual is the
            // treatment's constant, exactly.
            return Ok(TbrModel {
                intercept: my,
                slope: 0.0,
                sigma: 0.0,
                df,
                cov: [0.0; 4],
                r_squared: 1.0,
            });
        }
        return Err(TbrError::PrePeriod(
            "the control series is constant over the pre-period".to_owned(),
        ));
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss = (syy - slope * sxy).max(0.0);
    let s2 = rss / df;
    // (XᵀX)⁻¹ for X = [1, x]: [[Σx²/(n·Sxx), −x̄/Sxx], [−x̄/Sxx, 1/Sxx]].
    let sum_x2: f64 = x.iter().map(|v| v * v).sum();
    let cov = [
        s2 * sum_x2 / (nf * sxx),
        -s2 * mx / sxx,
        -s2 * mx / sxx,
        s2 / sxx,
    ];
    Ok(TbrModel {
        intercept,
        slope,
        sigma: s2.sqrt(),
        df,
        cov,
        r_squared: if syy > 0.0 { 1.0 - rss / syy } else { 1.0 },
    })
}

impl TbrModel {
    /// The cumulative effect over `test` of `series`.
    fn effect(&self, series: &GroupSeries, test: Range<usize>, opts: &TbrOptions) -> TbrEffect {
        let x = &series.control[test.clone()];
        let y = &series.treatment[test];
        let pointwise: Vec<f64> = x
            .iter()
            .zip(y)
            .map(|(c, t)| t - self.intercept - self.slope * c)
            .collect();
        let estimate: f64 = pointwise.iter().sum();
        let t = x.len() as f64;
        let sx: f64 = x.iter().sum();
        let [v11, v12, v21, v22] = self.cov;
        let var_params = t * t * v11 + t * sx * (v12 + v21) + sx * sx * v22;
        let var_obs = t * self.sigma * self.sigma;
        let scale = (var_params + var_obs).max(0.0).sqrt();
        let (lower, upper) = bounds(estimate, scale, self.df, opts);
        let p_value = if scale > 0.0 {
            (2.0 * t_sf(estimate.abs() / scale, self.df)).min(1.0)
        } else if estimate == 0.0 {
            1.0
        } else {
            0.0
        };
        let observed: f64 = y.iter().sum();
        let counterfactual = observed - estimate;
        let lift = |d: f64| {
            if d.is_infinite() {
                // Δ → ∞ means a counterfactual → −∞: the lift tends to −1 from below; report the
                // unbounded end as unbounded.
                d.signum() * f64::INFINITY
            } else {
                d / (observed - d)
            }
        };
        TbrEffect {
            estimate,
            scale,
            lower,
            upper,
            p_value,
            sign: sign(estimate),
            observed,
            counterfactual,
            relative_lift: lift(estimate),
            relative_lift_lower: lift(lower),
            relative_lift_upper: lift(upper),
            pointwise,
            model: self.clone(),
        }
    }
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// The interval of a t-distributed quantity.
fn bounds(loc: f64, scale: f64, df: f64, opts: &TbrOptions) -> (f64, f64) {
    let alpha = 1.0 - opts.level;
    match opts.tails {
        Tails::One => (loc + scale * t_quantile(alpha, df), f64::INFINITY),
        Tails::Two => (
            loc + scale * t_quantile(alpha / 2.0, df),
            loc + scale * t_quantile(1.0 - alpha / 2.0, df),
        ),
    }
}

/// TBR estimate of the incremental response (and, with `cost`, of the incremental cost and the
/// iROAS) of the treatment group over `test`, from the pre-period `pre`. See the
/// [module documentation](self).
///
/// # Errors
/// [`TbrError::Periods`] for empty, overlapping or out-of-range periods (the test period must start
/// after the pre-period ends); [`TbrError::Series`] when the cost series differs in length;
/// [`TbrError::PrePeriod`] as [`fit`]; [`TbrError::InvalidOption`] for a level outside (0, 1) or no
/// draws.
pub fn tbr(
    response: &GroupSeries,
    cost: Option<&GroupSeries>,
    pre: Range<usize>,
    test: Range<usize>,
    opts: &TbrOptions,
) -> Result<TbrResult, TbrError> {
    if !(opts.level > 0.0 && opts.level < 1.0) {
        return Err(TbrError::InvalidOption(format!(
            "level {} must lie in (0, 1)",
            opts.level
        )));
    }
    if opts.draws == 0 {
        return Err(TbrError::InvalidOption(
            "draws must be at least 1".to_owned(),
        ));
    }
    let n = response.len();
    if pre.is_empty() || test.is_empty() || pre.end > test.start || test.end > n {
        return Err(TbrError::Periods(format!(
            "pre-period {pre:?} and test period {test:?} must be non-empty, in order, within the {n} periods"
        )));
    }
    if let Some(c) = cost
        && c.len() != n
    {
        return Err(TbrError::Series(format!(
            "the cost series has {} periods, the response {n}",
            c.len()
        )));
    }
    let model = fit(response, pre.clone())?;
    let response_effect = model.effect(response, test.clone(), opts);
    let Some(cost) = cost else {
        return Ok(TbrResult {
            level: opts.level,
            tails: opts.tails,
            response: response_effect,
            cost: None,
            iroas: None,
        });
    };
    // Fixed cost: no spend anywhere but in the treatment group during the test.
    let spend_elsewhere: f64 = cost.control[pre.start..test.end]
        .iter()
        .chain(&cost.treatment[pre.clone()])
        .map(|v| v.abs())
        .sum();
    let treated_spend: f64 = cost.treatment[test.clone()].iter().sum();
    let fixed_cost = spend_elsewhere <= 1e-10 * treated_spend.abs().max(f64::MIN_POSITIVE);
    let cost_model = if fixed_cost {
        TbrModel {
            intercept: 0.0,
            slope: 0.0,
            sigma: 0.0,
            df: model.df,
            cov: [0.0; 4],
            r_squared: 1.0,
        }
    } else {
        fit(cost, pre)?
    };
    let cost_effect = cost_model.effect(cost, test, opts);
    let iroas = (cost_effect.estimate != 0.0).then(|| {
        let c = cost_effect.estimate;
        if fixed_cost {
            let (lo, hi) = (response_effect.lower / c, response_effect.upper / c);
            Iroas {
                estimate: response_effect.estimate / c,
                lower: lo.min(hi),
                upper: lo.max(hi),
                fixed_cost,
                incremental_cost: c,
            }
        } else {
            let mut rng = Sampler::new(opts.seed);
            let mut ratios: Vec<f64> = (0..opts.draws)
                .map(|_| {
                    let r = response_effect.estimate
                        + response_effect.scale * student_t(&mut rng, model.df);
                    let k = c + cost_effect.scale * student_t(&mut rng, cost_model.df);
                    r / k
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            let alpha = 1.0 - opts.level;
            let (lower, upper) = match opts.tails {
                Tails::One => (quantile_sorted(&ratios, alpha), f64::INFINITY),
                Tails::Two => (
                    quantile_sorted(&ratios, alpha / 2.0),
                    quantile_sorted(&ratios, 1.0 - alpha / 2.0),
                ),
            };
            Iroas {
                estimate: response_effect.estimate / c,
                lower,
                upper,
                fixed_cost,
                incremental_cost: c,
            }
        }
    });
    Ok(TbrResult {
        level: opts.level,
        tails: opts.tails,
        response: response_effect,
        cost: Some(cost_effect),
        iroas,
    })
}

/// A Student-t variate: `z / √(χ²_df / df)`.
fn student_t(rng: &mut Sampler, df: f64) -> f64 {
    let z = rng.normal();
    z / (rng.chi_square(df) / df).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_has_zero_noise_and_the_model_is_recovered() {
        let control: Vec<f64> = (0..30).map(|t| f64::from(t % 7) + 10.0).collect();
        let treatment: Vec<f64> = control
            .iter()
            .enumerate()
            .map(|(t, x)| 3.0 + 2.0 * x + if t % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let s = GroupSeries::new(control, treatment).unwrap();
        let m = fit(&s, 0..20).unwrap();
        assert!((m.slope - 2.0).abs() < 0.2 && m.df == 18.0 && m.sigma > 0.0);
        assert!(matches!(
            GroupSeries::new(vec![1.0], vec![1.0, 2.0]),
            Err(TbrError::Series(_))
        ));
        assert!(matches!(
            tbr(&s, None, 0..20, 10..30, &TbrOptions::default()),
            Err(TbrError::Periods(_))
        ));
    }
}
