//! Estimation of one or several cells.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};

use super::conformal::{PermSet, Sides, agree_with_zero, invert};
use super::scm::{Engine, Weights, cv_lambda};
use super::{
    Alternative, Augment, CellResult, CellSpec, GeoError, Interval, Options, Panel, PointwiseEffect,
};
use crate::numeric::quantile;

/// Outcomes of one cell window: donors (periods × donors) and the treated average, periods `0..=end`.
pub(crate) struct CellData {
    pub(crate) y_don: DMatrix<f64>,
    pub(crate) x1: DVector<f64>,
}

impl CellData {
    pub(crate) fn new(panel: &Panel, treated: &[usize], donors: &[usize], end: usize) -> Self {
        let t = end + 1;
        let y_don = DMatrix::from_fn(t, donors.len(), |s, j| panel.y[(donors[j], s)]);
        let x1 = DVector::from_fn(t, |s, _| {
            treated.iter().map(|&i| panel.y[(i, s)]).sum::<f64>() / treated.len() as f64
        });
        CellData { y_don, x1 }
    }
}

/// Estimate every cell against the donors, the units treated in no cell.
///
/// Results are in the order of `cells`. See the [module documentation](super) for the method.
///
/// # Errors
/// [`GeoError::InvalidOption`] for out-of-range options; [`GeoError::InvalidCell`] for an empty
/// cell, a unit index out of range, fewer than 2 pre-periods (3 for ridge cross-validation),
/// `start > end` or `end` past the panel; [`GeoError::OverlappingCells`] when a unit is in two
/// cells; [`GeoError::NoDonors`] when no unit is left as donor.
pub fn estimate(
    panel: &Panel,
    cells: &[CellSpec],
    opts: &Options,
) -> Result<Vec<CellResult>, GeoError> {
    opts.validate()?;
    let mut owner: BTreeMap<usize, usize> = BTreeMap::new();
    for (c, cell) in cells.iter().enumerate() {
        validate_cell(panel, cell, opts)?;
        for &u in &cell.treated {
            if let Some(first) = owner.insert(u, c) {
                return Err(GeoError::OverlappingCells {
                    unit: panel.units[u].clone(),
                    first: cells[first].name.clone(),
                    second: cell.name.clone(),
                });
            }
        }
    }
    let donors: Vec<usize> = (0..panel.units.len())
        .filter(|u| !owner.contains_key(u))
        .collect();
    if donors.is_empty() && !cells.is_empty() {
        return Err(GeoError::NoDonors);
    }
    cells
        .iter()
        .map(|cell| estimate_cell(panel, cell, &donors, opts))
        .collect()
}

pub(crate) fn validate_cell(
    panel: &Panel,
    cell: &CellSpec,
    opts: &Options,
) -> Result<(), GeoError> {
    let bad = |reason: String| GeoError::InvalidCell {
        cell: cell.name.clone(),
        reason,
    };
    if cell.treated.is_empty() {
        return Err(bad("no treated units".to_owned()));
    }
    if let Some(&u) = cell.treated.iter().find(|&&u| u >= panel.units.len()) {
        return Err(bad(format!(
            "unit index {u} out of range (panel has {} units)",
            panel.units.len()
        )));
    }
    let mut sorted = cell.treated.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad("a unit is listed twice".to_owned()));
    }
    let min_pre = if matches!(opts.augment, Augment::Ridge { lambda: None }) {
        3
    } else {
        2
    };
    if cell.start < min_pre {
        return Err(bad(format!(
            "start {} leaves fewer than {min_pre} pre-periods",
            cell.start
        )));
    }
    if cell.start > cell.end {
        return Err(bad(format!(
            "start {} is after end {}",
            cell.start, cell.end
        )));
    }
    if cell.end >= panel.times {
        return Err(bad(format!(
            "end {} is past the last period {}",
            cell.end,
            panel.times - 1
        )));
    }
    Ok(())
}

/// Ridge penalty for a cell: given, cross-validated on the pre-period, or none.
pub(crate) fn ridge_lambda(data: &CellData, pre: &[usize], opts: &Options) -> Option<f64> {
    match opts.augment {
        Augment::None => None,
        Augment::Ridge { lambda: Some(l) } => Some(l),
        Augment::Ridge { lambda: None } => {
            Some(cv_lambda(&data.y_don, &data.x1, pre, opts.fixed_effects))
        }
    }
}

/// Treated average on `cols` with `theta` subtracted from the periods at or after `from`.
fn adjusted(x1: &DVector<f64>, cols: &[usize], from: usize, theta: f64) -> DVector<f64> {
    DVector::from_fn(cols.len(), |i, _| {
        if cols[i] >= from {
            x1[cols[i]] - theta
        } else {
            x1[cols[i]]
        }
    })
}

/// Conformal p-value function for a constant effect on the periods `from..` of `cols`.
pub(crate) struct Conformal<'a> {
    engine: Engine,
    perms: PermSet,
    cols: Vec<usize>,
    from: usize,
    x1: &'a DVector<f64>,
    warm: Option<DVector<f64>>,
    opts: &'a Options,
}

impl<'a> Conformal<'a> {
    pub(crate) fn new(
        data: &'a CellData,
        cols: Vec<usize>,
        from: usize,
        perms: PermSet,
        lambda: Option<f64>,
        warm: Option<DVector<f64>>,
        opts: &'a Options,
    ) -> Self {
        let engine = Engine::new(&data.y_don, &cols, opts.fixed_effects, lambda);
        Conformal {
            engine,
            perms,
            cols,
            from,
            x1: &data.x1,
            warm,
            opts,
        }
    }

    /// The joint test of the post-period `start..t`: every period of `0..t` refit, `opts`'
    /// permutations of the post-period, warm-started at the pre-period fit's weights `warm`.
    pub(crate) fn joint(
        data: &'a CellData,
        t: usize,
        start: usize,
        lambda: Option<f64>,
        warm: &DVector<f64>,
        opts: &'a Options,
    ) -> Self {
        let perms = PermSet::new(&opts.permutations, t, t - start, opts.seed);
        Conformal::new(
            data,
            (0..t).collect(),
            start,
            perms,
            lambda,
            Some(warm.clone()),
            opts,
        )
    }

    pub(crate) fn with_series(mut self, x1: &'a DVector<f64>) -> Self {
        self.x1 = x1;
        self
    }

    pub(crate) fn p_value(&mut self, theta: f64) -> f64 {
        let x = adjusted(self.x1, &self.cols, self.from, theta);
        let wts = self.engine.fit(&x, self.warm.as_ref());
        let u = self.engine.residuals(&x, &wts);
        self.warm = Some(wts.syn);
        debug_assert_eq!(u.len(), self.engine.len());
        self.perms
            .p_value(&u, self.opts.alternative, self.opts.statistic)
    }
}

/// Pre-period fit of a cell: weights, counterfactual and diagnostics.
pub(crate) struct PreFit {
    pub(crate) weights: Weights,
    pub(crate) counterfactual: DVector<f64>,
    pub(crate) l2: f64,
    pub(crate) scaled_l2: f64,
}

pub(crate) fn pre_fit(
    data: &CellData,
    start: usize,
    lambda: Option<f64>,
    fixed_effects: bool,
) -> PreFit {
    let pre: Vec<usize> = (0..start).collect();
    let engine = Engine::new(&data.y_don, &pre, fixed_effects, lambda);
    let x_pre = data.x1.select_rows(&pre);
    let weights = engine.fit(&x_pre, None);
    let counterfactual = engine.counterfactual(&data.y_don, &weights);
    let (l2, scaled_l2) = engine.imbalance(&x_pre, &weights.w);
    PreFit {
        weights,
        counterfactual,
        l2,
        scaled_l2,
    }
}

fn estimate_cell(
    panel: &Panel,
    cell: &CellSpec,
    donors: &[usize],
    opts: &Options,
) -> Result<CellResult, GeoError> {
    let (start, end) = (cell.start, cell.end);
    let t = end + 1;
    let post = t - start;
    let n_treated = cell.treated.len() as f64;
    let data = CellData::new(panel, &cell.treated, donors, end);
    let pre: Vec<usize> = (0..start).collect();
    let lambda = ridge_lambda(&data, &pre, opts);
    let fit = pre_fit(&data, start, lambda, opts.fixed_effects);
    let gap = &data.x1 - &fit.counterfactual;
    let post_gap: f64 = gap.rows(start, post).sum();
    let att = post_gap / post as f64;
    let cf_post: f64 = fit.counterfactual.rows(start, post).sum();
    let lift = |a: f64| 100.0 * a * post as f64 / cf_post.abs();
    let pre_rmse = (gap.rows(0, start).norm_squared() / start as f64).sqrt();
    let post_sd = (gap.rows(start, post).norm_squared() / post as f64).sqrt();
    let scale = [post_sd, pre_rmse, 1.0]
        .into_iter()
        .find(|s| *s > 0.0 && s.is_finite())
        .unwrap_or(1.0);
    let sides = Sides::for_alternative(opts.alternative);

    // Joint test over the post-period: refit on all periods.
    let mut conf = Conformal::joint(&data, t, start, lambda, &fit.weights.syn, opts);
    let p_value = conf.p_value(0.0);
    let mut warnings = Vec::new();
    if donors.len() >= start {
        warnings.push(format!(
            "{} donors for {start} pre-periods: with at least as many donors as pre-periods the \
             synthetic control can reproduce the pre-period almost exactly (RMSE ≈ 0), so the \
             pre-period fit says little about the counterfactual; use fewer donors or a longer \
             pre-period",
            donors.len()
        ));
    }
    let conformal = match opts.interval {
        Interval::JackknifePlus => None,
        Interval::Conformal | Interval::Auto | Interval::GeoLiftAuto => {
            let hull = invert(
                |th| conf.p_value(th),
                att,
                4.0 * scale,
                opts.conformal_grid,
                opts.alpha,
                sides,
            );
            Some(agree_with_zero(
                |th| conf.p_value(th),
                hull,
                p_value,
                opts.alpha,
                att,
                scale,
            ))
        }
    };
    let empty = |(lo, hi): (f64, f64)| lo.is_nan() || hi.is_nan();
    let (interval, (att_lower, att_upper)) = match conformal {
        Some(bounds)
            if opts.interval == Interval::Conformal
                || (opts.interval == Interval::Auto && !empty(bounds))
                || (opts.interval == Interval::GeoLiftAuto
                    && !empty(bounds)
                    && covers(bounds, att)) =>
        {
            if !empty(bounds) && !covers(bounds, att) {
                warnings.push(
                    "the conformal interval does not contain the point estimate: the refit on \
                     all periods moves the synthetic control (a sign of a poor pre-period fit)"
                        .to_owned(),
                );
            }
            if empty(bounds) {
                warnings.push(
                    "the conformal set is empty: every constant effect is rejected".to_owned(),
                );
            }
            (Interval::Conformal, bounds)
        }
        Some(bounds) => {
            warnings.push(format!(
                "the conformal set is {}, so the interval falls back to jackknife+; it is not the \
                 inversion of the p-value's test and may disagree with it",
                if empty(bounds) {
                    "empty (every constant effect is rejected)"
                } else {
                    "beside the point estimate"
                }
            ));
            (
                Interval::JackknifePlus,
                jackknife_plus(&data, start, lambda, &fit, opts),
            )
        }
        None => (
            Interval::JackknifePlus,
            jackknife_plus(&data, start, lambda, &fit, opts),
        ),
    };

    let mut pointwise = Vec::new();
    if opts.pointwise {
        for s in start..t {
            let mut cols = pre.clone();
            cols.push(s);
            let perms = PermSet::new(&super::Permutations::Circular, start + 1, 1, opts.seed);
            let mut c = Conformal::new(
                &data,
                cols,
                s,
                perms,
                lambda,
                Some(fit.weights.syn.clone()),
                opts,
            );
            let p = c.p_value(0.0);
            let (lo, hi) = invert(
                |th| c.p_value(th),
                gap[s],
                2.0 * scale,
                opts.conformal_grid,
                opts.alpha,
                sides,
            );
            pointwise.push(PointwiseEffect {
                time: s,
                att: gap[s],
                lower: lo,
                upper: hi,
                p_value: p,
            });
        }
    }

    let units_periods = n_treated * post as f64;
    Ok(CellResult {
        name: cell.name.clone(),
        treated: cell
            .treated
            .iter()
            .map(|&i| panel.units[i].clone())
            .collect(),
        start,
        end,
        att,
        att_lower,
        att_upper,
        incremental: att * units_periods,
        incremental_lower: att_lower * units_periods,
        incremental_upper: att_upper * units_periods,
        lift_pct: lift(att),
        lift_pct_lower: lift(att_lower),
        lift_pct_upper: lift(att_upper),
        p_value,
        interval,
        warnings,
        weights: donors
            .iter()
            .zip(fit.weights.w.iter())
            .map(|(&d, &w)| (panel.units[d].clone(), w))
            .collect(),
        lambda,
        l2_imbalance: fit.l2,
        scaled_l2_imbalance: fit.scaled_l2,
        pre_rmse,
        observed: data.x1.iter().copied().collect(),
        counterfactual: fit.counterfactual.iter().copied().collect(),
        pointwise,
    })
}

/// Whether a conformal interval is usable as reported: non-empty and containing the estimate.
fn covers((lower, upper): (f64, f64), att: f64) -> bool {
    lower <= att && att <= upper
}

/// augsynth's `time_jackknife_plus` (non-conservative) for the average effect: every pre-period is
/// left out in turn, the model refitted (λ fixed) and the left-out period's prediction error `e`
/// recorded with the refit's mean post-period counterfactual `c`; the counterfactual bounds are the
/// `α/2` quantile of `c − |e|` and the `1 − α/2` quantile of `c + |e|` (R's type-7 quantiles), and
/// the effect bounds the observed mean minus those. One-sided alternatives use `α` on their side
/// and leave the other end infinite.
fn jackknife_plus(
    data: &CellData,
    start: usize,
    lambda: Option<f64>,
    fit: &PreFit,
    opts: &Options,
) -> (f64, f64) {
    let t = data.x1.len();
    let post = t - start;
    let observed = data.x1.rows(start, post).mean();
    let mut low = Vec::with_capacity(start);
    let mut high = Vec::with_capacity(start);
    for drop in 0..start {
        let cols: Vec<usize> = (0..start).filter(|&c| c != drop).collect();
        let engine = Engine::new(&data.y_don, &cols, opts.fixed_effects, lambda);
        let wts = engine.fit(&data.x1.select_rows(&cols), Some(&fit.weights.syn));
        let cf = engine.counterfactual(&data.y_don, &wts);
        let err = (data.x1[drop] - cf[drop]).abs();
        let c = cf.rows(start, post).mean();
        low.push(c - err);
        high.push(c + err);
    }
    let alpha = opts.alpha;
    match opts.alternative {
        Alternative::TwoSided => (
            observed - quantile(&mut high, 1.0 - alpha / 2.0),
            observed - quantile(&mut low, alpha / 2.0),
        ),
        Alternative::Greater => (observed - quantile(&mut high, 1.0 - alpha), f64::INFINITY),
        Alternative::Less => (f64::NEG_INFINITY, observed - quantile(&mut low, alpha)),
    }
}

/// Pooled result of several cells (cohorts of one staggered event).
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// Total incremental outcome divided by total treated unit-periods (the cells' ATTs weighted
    /// by units × post periods).
    pub att: f64,
    /// Sum of the cells' incremental outcomes.
    pub incremental: f64,
    /// `100 × total incremental / |total counterfactual outcome of the treated units|`.
    pub lift_pct: f64,
    /// Bonferroni p-value for "no cell had an effect": `min(1, cells × smallest p)`.
    pub p_value: f64,
    /// Total treated unit-periods.
    pub unit_periods: usize,
}

/// Pool cells, typically the cohorts of [`CellSpec::cohorts`]. `None` for an empty slice.
pub fn combine(results: &[CellResult]) -> Option<Combined> {
    if results.is_empty() {
        return None;
    }
    let mut incremental = 0.0;
    let mut unit_periods = 0usize;
    let mut counterfactual = 0.0;
    let mut min_p = f64::INFINITY;
    for r in results {
        let units = r.treated.len();
        let post = r.end + 1 - r.start;
        incremental += r.incremental;
        unit_periods += units * post;
        counterfactual += units as f64 * r.counterfactual[r.start..=r.end].iter().sum::<f64>();
        min_p = min_p.min(r.p_value);
    }
    Some(Combined {
        att: incremental / unit_periods as f64,
        incremental,
        lift_pct: 100.0 * incremental / counterfactual.abs(),
        p_value: (min_p * results.len() as f64).min(1.0),
        unit_periods,
    })
}
