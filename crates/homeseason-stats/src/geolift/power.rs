//! Power and minimum detectable effect from simulated effects on history.

use nalgebra::DVector;

use super::estimate::{CellData, Conformal, pre_fit, ridge_lambda, validate_cell};
use super::{CellSpec, GeoError, Options, Panel};

/// Options of [`power`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerOptions {
    /// Estimation options (augmentation, fixed effects, permutations, alternative, seed); `alpha`
    /// is the significance level of the simulated tests (default 0.1).
    pub estimate: Options,
    /// Number of placebo windows, the most recent first; default 10 (GeoLift's `lookback_window`).
    pub windows: usize,
    /// Periods between consecutive window ends; default 1.
    pub step: usize,
    /// Minimum pre-period before a window; `None` means twice the duration (and at least 2).
    pub min_pre: Option<usize>,
    /// Power the minimum detectable effect must reach; default 0.8.
    pub target_power: f64,
    /// Units never used as donors (e.g. candidate regions of other cells).
    pub exclude: Vec<usize>,
}

impl Default for PowerOptions {
    fn default() -> Self {
        PowerOptions {
            estimate: Options::default(),
            windows: 10,
            step: 1,
            min_pre: None,
            target_power: 0.8,
            exclude: Vec::new(),
        }
    }
}

/// One point of the power curve.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPoint {
    /// Simulated relative effect (0.05 = +5%).
    pub effect: f64,
    /// Share of windows where the test rejected no effect (`p < alpha`).
    pub power: f64,
    /// Mean estimated percent lift over the windows (how well the effect is recovered).
    pub mean_lift_pct: f64,
}

/// Result of [`power`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerResult {
    /// Power by effect size, in the order of the requested effects.
    pub curve: Vec<PowerPoint>,
    /// Smallest non-zero effect (in absolute value) whose power reaches the target; `None` if none does.
    pub mde: Option<f64>,
    /// The placebo windows used, `(start, end)` time indices, most recent first.
    pub windows: Vec<(usize, usize)>,
    /// Mean scaled L2 imbalance of the pre-period fits over the windows.
    pub mean_scaled_l2_imbalance: f64,
}

/// Power of a geo test on `treated` lasting `duration` periods, for relative `effects`.
///
/// For each placebo window (the `windows` most recent windows of `duration` periods, ends `step`
/// apart, each with at least `min_pre` periods before it) the panel is cut after the window, the
/// treated units' outcomes inside it are multiplied by `1 + effect`, and the conformal test of no
/// effect is run against the donors (all units not treated and not excluded). Power is the share of
/// windows with `p < alpha`; the MDE is the smallest non-zero effect (by absolute value) with
/// power ≥ `target_power`. Effects of the opposite sign to a one-sided alternative have no power.
///
/// # Errors
/// As [`estimate`](super::estimate) for the treated set; [`GeoError::InvalidOption`] for a zero
/// duration, no windows, no effects, a target power outside (0, 1], or when the history is too
/// short for a single window.
pub fn power(
    panel: &Panel,
    treated: &[usize],
    duration: usize,
    effects: &[f64],
    opts: &PowerOptions,
) -> Result<PowerResult, GeoError> {
    let est = &opts.estimate;
    est.validate()?;
    if duration == 0 || opts.windows == 0 || opts.step == 0 || effects.is_empty() {
        return Err(GeoError::InvalidOption(
            "duration, windows, step and effects must be non-empty".to_owned(),
        ));
    }
    if !(opts.target_power > 0.0 && opts.target_power <= 1.0) {
        return Err(GeoError::InvalidOption(format!(
            "target_power must be in (0, 1], got {}",
            opts.target_power
        )));
    }
    if let Some(e) = effects.iter().find(|e| !e.is_finite() || **e <= -1.0) {
        return Err(GeoError::InvalidOption(format!(
            "effect {e} must be finite and > -1"
        )));
    }
    let min_pre = opts.min_pre.unwrap_or(2 * duration).max(2);
    let mut windows = Vec::new();
    for k in 0..opts.windows {
        let Some(end) = (panel.times - 1).checked_sub(k * opts.step) else {
            break;
        };
        let Some(start) = (end + 1).checked_sub(duration) else {
            break;
        };
        if start < min_pre {
            break;
        }
        windows.push((start, end));
    }
    let Some(&(first_start, first_end)) = windows.first() else {
        return Err(GeoError::InvalidOption(format!(
            "{} periods cannot hold a {duration}-period window after {min_pre} pre-periods",
            panel.times
        )));
    };
    validate_cell(
        panel,
        &CellSpec::new("power", treated.to_vec(), first_start, first_end),
        est,
    )?;
    let donors: Vec<usize> = (0..panel.units.len())
        .filter(|u| !treated.contains(u) && !opts.exclude.contains(u))
        .collect();
    if donors.is_empty() {
        return Err(GeoError::NoDonors);
    }

    let mut rejections = vec![0usize; effects.len()];
    let mut lift_sums = vec![0.0; effects.len()];
    let mut imbalance = 0.0;
    for &(start, end) in &windows {
        let data = CellData::new(panel, treated, &donors, end);
        let pre: Vec<usize> = (0..start).collect();
        let lambda = ridge_lambda(&data, &pre, est);
        let fit = pre_fit(&data, start, lambda, est.fixed_effects);
        imbalance += fit.scaled_l2;
        let cf_post: f64 = fit.counterfactual.rows(start, end + 1 - start).sum();
        let base = Conformal::joint(&data, end + 1, start, lambda, &fit.weights.syn, est);
        let mut series: Vec<DVector<f64>> = Vec::with_capacity(effects.len());
        for &e in effects {
            let mut x = data.x1.clone();
            for s in start..=end {
                x[s] *= 1.0 + e;
            }
            series.push(x);
        }
        let mut conf = base;
        for (i, x) in series.iter().enumerate() {
            conf = conf.with_series(x);
            let p = conf.p_value(0.0);
            if p < est.alpha {
                rejections[i] += 1;
            }
            let gap: f64 = (start..=end).map(|s| x[s] - fit.counterfactual[s]).sum();
            lift_sums[i] += 100.0 * gap / cf_post.abs();
        }
    }
    let nw = windows.len() as f64;
    let curve: Vec<PowerPoint> = effects
        .iter()
        .enumerate()
        .map(|(i, &effect)| PowerPoint {
            effect,
            power: rejections[i] as f64 / nw,
            mean_lift_pct: lift_sums[i] / nw,
        })
        .collect();
    let mde = curve
        .iter()
        .filter(|p| p.effect != 0.0 && p.power >= opts.target_power)
        .map(|p| p.effect)
        .min_by(|a, b| a.abs().total_cmp(&b.abs()));
    Ok(PowerResult {
        curve,
        mde,
        windows,
        mean_scaled_l2_imbalance: imbalance / nw,
    })
}
