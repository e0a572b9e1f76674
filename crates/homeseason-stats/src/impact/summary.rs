//! Counterfactual draws, their comparison with what was observed, and the CausalImpact-style report.

use std::fmt;
use std::ops::Range;

use crate::numeric::quantile_pair;

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
    /// Threads the summary may use (its result is the same whatever the count).
    threads: usize,
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

/// [`mean_sd`] of two runs of the same length, their sums side by side: each sum adds its run's
/// values in [`mean_sd`]'s order from the same start (`Sum` for `f64` folds from −0.0), so the same
/// bits, but the two chains of additions overlap instead of one waiting for the other.
fn mean_sd_pair(a: &[f64], b: &[f64]) -> ((f64, f64), (f64, f64)) {
    assert_eq!(a.len(), b.len(), "mean_sd_pair: runs of different lengths");
    let n = a.len() as f64;
    let (mut sa, mut sb) = (-0.0, -0.0);
    for (x, y) in a.iter().zip(b) {
        sa += x;
        sb += y;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut va, mut vb) = (-0.0, -0.0);
    for (x, y) in a.iter().zip(b) {
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    let d = (n - 1.0).max(1.0);
    ((ma, (va / d).sqrt()), (mb, (vb / d).sqrt()))
}

/// Estimate from draws with a given point value; reorders `draws`.
fn estimate(draws: &mut [f64], value: f64, level: f64) -> Estimate {
    let (_, sd) = mean_sd(draws);
    estimate_with_sd(draws, value, sd, level)
}

/// [`estimate`] with the draws' standard deviation already known; reorders `draws`.
fn estimate_with_sd(draws: &mut [f64], value: f64, sd: f64, level: f64) -> Estimate {
    let a = 0.5 * (1.0 - level);
    let (lower, upper) = quantile_pair(draws, a, 1.0 - a);
    Estimate {
        value,
        sd,
        lower,
        upper,
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
            threads: 1,
        }
    }

    /// The same counterfactual, summarised with up to `threads` threads
    /// ([`super::ImpactOptions::threads`]).
    pub(crate) fn with_threads(mut self, threads: usize) -> Counterfactual {
        self.threads = threads.max(1);
        self
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
        let columns = || {
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
            let above = totals.iter().filter(|t| **t >= total_actual).count() + 1;
            let below = totals.iter().filter(|t| **t <= total_actual).count() + 1;
            let tail_probability = above.min(below) as f64 / (self.draws + 1) as f64;
            (period(n_used), period(1.0), tail_probability)
        };
        let ((average, cumulative, tail_probability), points) = if !pointwise {
            (columns(), Vec::new())
        } else if self.threads >= 2 && h >= 2 {
            // Two runs of days side by side, the columns beside the first; the second run begins
            // its cumulative effect with the first run's days, summed in the same order as one
            // pass would: the same bits.
            let mid = h / 2;
            let ((columns, mut first), second) = super::par::join(
                2,
                || (columns(), self.points(actual, level, 0..mid)),
                || self.points(actual, level, mid..h),
            );
            first.extend(second);
            (columns, first)
        } else {
            (columns(), self.points(actual, level, 0..h))
        };
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

impl Counterfactual {
    /// The pointwise rows of post-period days `days` (the cumulative effect summed from the
    /// post-period's first day).
    fn points(&self, actual: &[f64], level: f64, days: Range<usize>) -> Vec<PointImpact> {
        let h = self.post.len();
        let mut points = Vec::with_capacity(days.len());
        let mut cum = vec![0.0; self.draws];
        // The cumulative effect of the days before the run, day after day as in the loop below.
        for (d, c) in cum.iter_mut().enumerate() {
            let path = &self.samples[d * h..d * h + days.start];
            for (a, p) in actual[..days.start].iter().zip(path) {
                if a.is_finite() {
                    *c += a - p;
                }
            }
        }
        let mut column = vec![0.0; self.draws];
        let mut scratch = vec![0.0; self.draws];
        let nan = Estimate {
            value: f64::NAN,
            sd: f64::NAN,
            lower: f64::NAN,
            upper: f64::NAN,
        };
        for i in days {
            let a = actual[i];
            for (d, c) in column.iter_mut().enumerate() {
                *c = self.samples[d * h + i];
            }
            let observed = a.is_finite();
            if observed {
                for (c, p) in cum.iter_mut().zip(&column) {
                    *c += a - p;
                }
            }
            let ((m, sd), (cum_mean, cum_sd)) = mean_sd_pair(&column, &cum);
            let predicted = estimate_with_sd(&mut column, m, sd, level);
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
            points.push(PointImpact {
                index: self.post.start + i,
                actual: a,
                predicted,
                effect,
                cumulative_effect: estimate_with_sd(&mut scratch, cum_mean, cum_sd, level),
            });
        }
        points
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paired_mean_and_sd_are_each_runs_own_to_the_bit() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.3) * 1e4
        };
        for n in [1, 2, 3, 300, 1000] {
            let a: Vec<f64> = (0..n).map(|_| next()).collect();
            let b: Vec<f64> = (0..n).map(|_| next() * 1e-3 + 7.0).collect();
            let (pa, pb) = mean_sd_pair(&a, &b);
            for (got, want) in [(pa, mean_sd(&a)), (pb, mean_sd(&b))] {
                assert_eq!(got.0.to_bits(), want.0.to_bits(), "mean, n {n}");
                assert_eq!(got.1.to_bits(), want.1.to_bits(), "sd, n {n}");
            }
        }
        // All −0.0: the sums start where `Sum` starts.
        let z = [-0.0; 4];
        let (pz, _) = mean_sd_pair(&z, &z);
        assert_eq!(pz.0.to_bits(), mean_sd(&z).0.to_bits());
    }
}
