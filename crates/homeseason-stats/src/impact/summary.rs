//! Counterfactual draws, their comparison with what was observed, and the CausalImpact-style report.

use std::fmt;
use std::ops::Range;

use crate::numeric::quantile;

use super::{Diagnostics, ImpactError};

/// Posterior predictive draws of the counterfactual over the post-period (original scale).
#[derive(Debug, Clone)]
pub struct Counterfactual {
    pre: Range<usize>,
    post: Range<usize>,
    draws: usize,
    /// Row-major draws × horizon.
    samples: Vec<f64>,
    diagnostics: Diagnostics,
}

/// A point estimate with its posterior standard deviation and interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Point estimate (posterior mean of the prediction; for effects, actual minus that).
    pub value: f64,
    /// Standard deviation of the draws.
    pub sd: f64,
    /// Lower bound: the (1 − level)/2 quantile of the draws.
    pub lower: f64,
    /// Upper bound: the (1 + level)/2 quantile of the draws.
    pub upper: f64,
}

impl Estimate {
    /// Whether `x` lies within [lower, upper].
    pub fn covers(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// One column of the summary: the post-period average or its cumulative total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodSummary {
    /// Observed value (mean or total over the days used).
    pub actual: f64,
    /// Counterfactual prediction.
    pub predicted: Estimate,
    /// Absolute effect, actual − predicted.
    pub absolute: Estimate,
    /// Relative effect, (actual − predicted) / predicted, as a fraction (0.08 = +8 %). The same for
    /// the average and the cumulative column.
    pub relative: Estimate,
}

/// The comparison at one post-period time point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointImpact {
    /// Time index (into the full series).
    pub index: usize,
    /// Observed value; `NaN` if not observed.
    pub actual: f64,
    /// Counterfactual prediction.
    pub predicted: Estimate,
    /// Pointwise effect, actual − predicted (`NaN` if not observed).
    pub effect: Estimate,
    /// Cumulative effect from the start of the post-period through this point (unobserved days add
    /// nothing).
    pub cumulative_effect: Estimate,
}

/// The full result: summary, tail-area probability, pointwise series and fit diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    /// Interval level (0.9 = 90 % intervals).
    pub level: f64,
    /// The pre-period (fit).
    pub pre: Range<usize>,
    /// The post-period (evaluation).
    pub post: Range<usize>,
    /// Post-period days with an observed response: the days every summary figure is computed on.
    pub days_used: usize,
    /// Number of posterior predictive draws.
    pub draws: usize,
    /// Averages over the days used.
    pub average: PeriodSummary,
    /// Totals over the days used.
    pub cumulative: PeriodSummary,
    /// CausalImpact's posterior tail-area probability: the share of draws of the counterfactual total
    /// on the far side of the observed total, taking the smaller tail, with the observed total counted
    /// as one draw: `min(#{Pᵢ ≥ A} + 1, #{Pᵢ ≤ A} + 1) / (draws + 1)`. One-sided: under no effect it
    /// is uniform on (0, ½). Kept for comparison with CausalImpact only; it is not printed and not
    /// the p-value to quote — that is [`Impact::p_value`].
    pub tail_probability: f64,
    /// **The** p-value: two-sided, of "no effect" on the post-period total, `min(1, 2 ×
    /// tail_probability)`; below α exactly when the (1 − α) interval of the cumulative effect
    /// excludes zero (up to interpolation between draws). The direction is [`Impact::effect_sign`].
    pub p_value: f64,
    /// CausalImpact's "posterior probability of a causal effect", `1 − tail_probability` (not
    /// printed).
    pub prob_causal_effect: f64,
    /// Per post-period time point.
    pub points: Vec<PointImpact>,
    /// Diagnostics of the pre-period fit.
    pub diagnostics: Diagnostics,
}

impl Impact {
    /// Direction of the cumulative effect: +1 (actual above the counterfactual), −1, or 0. Read it
    /// with [`Impact::p_value`], which is two-sided.
    pub fn effect_sign(&self) -> i8 {
        let e = self.cumulative.absolute.value;
        if e > 0.0 {
            1
        } else if e < 0.0 {
            -1
        } else {
            0
        }
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var.sqrt())
}

/// Estimate from draws with a given point value; reorders `draws`.
fn estimate(draws: &mut [f64], value: f64, level: f64) -> Estimate {
    let (_, sd) = mean_sd(draws);
    let a = 0.5 * (1.0 - level);
    Estimate {
        value,
        sd,
        lower: quantile(draws, a),
        upper: quantile(draws, 1.0 - a),
    }
}

impl Counterfactual {
    pub(crate) fn new(
        pre: Range<usize>,
        post: Range<usize>,
        draws: usize,
        samples: Vec<f64>,
        diagnostics: Diagnostics,
    ) -> Counterfactual {
        Counterfactual {
            pre,
            post,
            draws,
            samples,
            diagnostics,
        }
    }

    /// The post-period.
    pub fn post(&self) -> Range<usize> {
        self.post.clone()
    }

    /// Number of draws.
    pub fn n_draws(&self) -> usize {
        self.draws
    }

    /// Draw `i`: one counterfactual path over the post-period (original scale).
    ///
    /// # Panics
    /// If `i >= n_draws()`.
    pub fn draw(&self, i: usize) -> &[f64] {
        let h = self.post.len();
        &self.samples[i * h..(i + 1) * h]
    }

    /// Posterior mean of the counterfactual at each post-period point.
    pub fn mean(&self) -> Vec<f64> {
        let h = self.post.len();
        (0..h)
            .map(|i| {
                (0..self.draws)
                    .map(|d| self.samples[d * h + i])
                    .sum::<f64>()
                    / self.draws as f64
            })
            .collect()
    }

    /// Compare the counterfactual with the observed post-period values `actual` (one per post-period
    /// point, `NaN` = not observed) at interval level `level`.
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`], [`ImpactError::NoObservedPostDays`],
    /// [`ImpactError::InvalidOption`] for a level outside (0, 1).
    pub fn impact(&self, actual: &[f64], level: f64) -> Result<Impact, ImpactError> {
        self.summarise(actual, level, true)
    }

    /// [`Counterfactual::impact`] without the pointwise rows (`points` is empty): the average and
    /// cumulative columns, the tail probability and the p-value — the same numbers — for a caller
    /// that needs the window's totals only (a placebo or backtest window), without the two
    /// quantile selections per post-period day.
    ///
    /// # Errors
    /// As [`Counterfactual::impact`].
    pub fn impact_totals(&self, actual: &[f64], level: f64) -> Result<Impact, ImpactError> {
        self.summarise(actual, level, false)
    }

    fn summarise(
        &self,
        actual: &[f64],
        level: f64,
        pointwise: bool,
    ) -> Result<Impact, ImpactError> {
        let h = self.post.len();
        if actual.len() != h {
            return Err(ImpactError::LengthMismatch {
                what: "post-period response".into(),
                expected: h,
                found: actual.len(),
            });
        }
        if !(level > 0.0 && level < 1.0) {
            return Err(ImpactError::InvalidOption(format!(
                "level {level} must lie in (0, 1)"
            )));
        }
        let used: Vec<usize> = (0..h).filter(|&i| actual[i].is_finite()).collect();
        if used.is_empty() {
            return Err(ImpactError::NoObservedPostDays);
        }
        let n_used = used.len() as f64;
        let total_actual: f64 = used.iter().map(|&i| actual[i]).sum();
        let totals: Vec<f64> = (0..self.draws)
            .map(|d| used.iter().map(|&i| self.samples[d * h + i]).sum())
            .collect();
        let (mean_total, _) = mean_sd(&totals);

        let period = |scale: f64| {
            let mut pred: Vec<f64> = totals.iter().map(|t| t / scale).collect();
            let mut abs: Vec<f64> = totals.iter().map(|t| (total_actual - t) / scale).collect();
            let mut rel: Vec<f64> = totals.iter().map(|t| (total_actual - t) / t).collect();
            PeriodSummary {
                actual: total_actual / scale,
                predicted: estimate(&mut pred, mean_total / scale, level),
                absolute: estimate(&mut abs, (total_actual - mean_total) / scale, level),
                relative: estimate(&mut rel, (total_actual - mean_total) / mean_total, level),
            }
        };
        let average = period(n_used);
        let cumulative = period(1.0);

        let above = totals.iter().filter(|t| **t >= total_actual).count() + 1;
        let below = totals.iter().filter(|t| **t <= total_actual).count() + 1;
        let tail_probability = above.min(below) as f64 / (self.draws + 1) as f64;

        let mut points = Vec::with_capacity(if pointwise { h } else { 0 });
        let actual = if pointwise { actual } else { &[] };
        let mut cum = vec![0.0; self.draws];
        let mut column = vec![0.0; self.draws];
        let mut scratch = vec![0.0; self.draws];
        let nan = Estimate {
            value: f64::NAN,
            sd: f64::NAN,
            lower: f64::NAN,
            upper: f64::NAN,
        };
        for (i, &a) in actual.iter().enumerate() {
            for (d, c) in column.iter_mut().enumerate() {
                *c = self.samples[d * h + i];
            }
            let (m, _) = mean_sd(&column);
            let observed = a.is_finite();
            if observed {
                for (c, p) in cum.iter_mut().zip(&column) {
                    *c += a - p;
                }
            }
            let predicted = estimate(&mut column, m, level);
            // The effect a − ŷ is a reflection of the prediction: same s.d., swapped bounds.
            let effect = if observed {
                Estimate {
                    value: a - m,
                    sd: predicted.sd,
                    lower: a - predicted.upper,
                    upper: a - predicted.lower,
                }
            } else {
                nan
            };
            scratch.copy_from_slice(&cum);
            let cum_mean = mean_sd(&cum).0;
            points.push(PointImpact {
                index: self.post.start + i,
                actual: a,
                predicted,
                effect,
                cumulative_effect: estimate(&mut scratch, cum_mean, level),
            });
        }
        Ok(Impact {
            level,
            pre: self.pre.clone(),
            post: self.post.clone(),
            days_used: used.len(),
            draws: self.draws,
            average,
            cumulative,
            tail_probability,
            p_value: (2.0 * tail_probability).min(1.0),
            prob_causal_effect: 1.0 - tail_probability,
            points,
            diagnostics: self.diagnostics.clone(),
        })
    }
}

/// Round to about four significant figures for the report (no exponent).
fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else if a == 0.0 {
        0
    } else {
        // Three significant figures below one.
        (2 - a.log10().floor() as i32).clamp(2, 8) as usize
    };
    format!("{x:.decimals$}")
}

fn pct(x: f64) -> String {
    format!("{}%", num(100.0 * x))
}

impl fmt::Display for Impact {
    /// The summary in CausalImpact's layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ci = {
            let l = format!("{:.4}", 100.0 * self.level);
            let l = l.trim_end_matches('0').trim_end_matches('.').to_string();
            format!("{l}% CI")
        };
        let (a, c) = (&self.average, &self.cumulative);
        let est = |e: &Estimate| format!("{} ({})", num(e.value), num(e.sd));
        let int = |e: &Estimate| format!("[{}, {}]", num(e.lower), num(e.upper));
        let est_pct = |e: &Estimate| format!("{} ({})", pct(e.value), pct(e.sd));
        let int_pct = |e: &Estimate| format!("[{}, {}]", pct(e.lower), pct(e.upper));
        let rows: Vec<(String, String, String)> = vec![
            ("Actual".into(), num(a.actual), num(c.actual)),
            (
                "Prediction (s.d.)".into(),
                est(&a.predicted),
                est(&c.predicted),
            ),
            (ci.clone(), int(&a.predicted), int(&c.predicted)),
            (String::new(), String::new(), String::new()),
            (
                "Absolute effect (s.d.)".into(),
                est(&a.absolute),
                est(&c.absolute),
            ),
            (ci.clone(), int(&a.absolute), int(&c.absolute)),
            (String::new(), String::new(), String::new()),
            (
                "Relative effect (s.d.)".into(),
                est_pct(&a.relative),
                est_pct(&c.relative),
            ),
            (ci, int_pct(&a.relative), int_pct(&c.relative)),
        ];
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0) + 3;
        let w1 = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .max("Average".len())
            + 3;
        writeln!(f, "Posterior inference {{CausalImpact}}")?;
        writeln!(f)?;
        writeln!(f, "{:w0$}{:w1$}Cumulative", "", "Average")?;
        for (label, av, cu) in &rows {
            let line = format!("{label:w0$}{av:w1$}{cu}");
            writeln!(f, "{}", line.trim_end())?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "p-value (two-sided, no effect):      {}   effect {}",
            num(self.p_value),
            match self.effect_sign() {
                1 => "positive",
                -1 => "negative",
                _ => "zero",
            }
        )?;
        writeln!(f)?;
        let d = &self.diagnostics;
        writeln!(
            f,
            "Post-period days used: {} of {}; {} draws.",
            self.days_used,
            self.post.len(),
            self.draws
        )?;
        if d.error_model == super::ErrorModel::LocalLevel {
            writeln!(
                f,
                "Model: {} scale, {} errors (random-walk share of the variance {}), {} pre-period days, {} coefficients.",
                if d.log { "log" } else { "linear" },
                d.error_model,
                num(d.shares[0]),
                d.pre_days,
                d.parameters
            )?;
        } else {
            writeln!(
                f,
                "Model: {} scale, {} errors (φ {} / {}, variance shares {} / {} / {}), {} pre-period days, {} coefficients.",
                if d.log { "log" } else { "linear" },
                d.error_model,
                num(d.phi[0]),
                num(d.phi[1]),
                num(d.shares[0]),
                num(d.shares[1]),
                num(d.shares[2]),
                d.pre_days,
                d.parameters
            )?;
        }
        if d.model_scores.len() > 1 {
            let chosen = d
                .model_scores
                .iter()
                .find(|(m, _)| *m == d.error_model)
                .map_or(f64::NAN, |s| s.1);
            let others: Vec<String> = d
                .model_scores
                .iter()
                .filter(|(m, _)| *m != d.error_model)
                .map(|(m, s)| format!("{m} (log Bayes factor {})", num(chosen - s)))
                .collect();
            writeln!(
                f,
                "Error model chosen by pre-period one-step-ahead predictive score over {}.",
                others.join(", ")
            )?;
        }
        write!(
            f,
            "Pre-period fit: R² {}, MAPE {}, residual lag-1 autocorrelation {}.",
            num(d.r_squared),
            pct(d.mape),
            num(d.residual_lag1)
        )
    }
}
