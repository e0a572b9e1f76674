//! Conformal inference by permutation over time (Chernozhukov, Wüthrich & Zhu), as in augsynth's
//! `conformal_inf` / `compute_permute_pval`: under the null of a constant effect θ the treated
//! post-period outcomes minus θ are fitted together with the pre-period, and the statistic of the
//! post-period residuals is compared with the statistic of permuted residual series.

use nalgebra::DVector;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{Alternative, Permutations, Statistic};

/// Test statistic of a run of residuals. Two-sided: `|Σu|` ([`Statistic::AbsSum`], the default)
/// or `Σ|u|` ([`Statistic::SumAbs`], GeoLift's `"Total"`); one-sided: `Σu` (greater) or `−Σu`
/// (less) — GeoLift's `"Positive"` / `"Negative"`.
fn stat(alt: Alternative, statistic: Statistic, values: impl Iterator<Item = f64>) -> f64 {
    match (alt, statistic) {
        (Alternative::TwoSided, Statistic::AbsSum) => values.sum::<f64>().abs(),
        (Alternative::TwoSided, Statistic::SumAbs) => values.map(f64::abs).sum(),
        (Alternative::Greater, _) => values.sum(),
        (Alternative::Less, _) => -values.sum::<f64>(),
    }
}

/// The permutations of a residual series of length `n` whose last `k` entries are the tested ones.
#[derive(Debug, Clone)]
pub(crate) struct PermSet {
    n: usize,
    k: usize,
    /// For sampled schemes: the positions landing in the last `k` slots, `k` per draw.
    sampled: Option<Vec<u32>>,
}

impl PermSet {
    /// Draw (or, for circular shifts, describe) the permutations; deterministic in `seed`.
    pub(crate) fn new(scheme: &Permutations, n: usize, k: usize, seed: u64) -> Self {
        let (len, draws) = match *scheme {
            Permutations::Circular => {
                return PermSet {
                    n,
                    k,
                    sampled: None,
                };
            }
            Permutations::Iid { draws } => (1, draws),
            Permutations::Blocks { len, draws } => (len.max(1), draws),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Blocks are anchored at the first tested period, so the tested run is made of whole
        // blocks (the last one possibly shorter) and is one of the arrangements permuted; the
        // periods before the first full block form a shorter block of their own.
        let first = (n - k) % len;
        let mut blocks: Vec<(usize, usize)> = Vec::with_capacity(n / len + 2);
        if first > 0 {
            blocks.push((0, first));
        }
        let mut at = first;
        while at < n {
            blocks.push((at, (at + len).min(n)));
            at += len;
        }
        let mut order: Vec<usize> = (0..blocks.len()).collect();
        let mut tail = Vec::with_capacity(draws * k);
        let mut full = Vec::with_capacity(n);
        for _ in 0..draws {
            order.shuffle(&mut rng);
            full.clear();
            for &b in &order {
                let (from, to) = blocks[b];
                full.extend((from..to).map(|i| i as u32));
            }
            tail.extend_from_slice(&full[n - k..]);
        }
        PermSet {
            n,
            k,
            sampled: Some(tail),
        }
    }

    /// Permutation p-value of the last `k` entries of `u` (length `n`).
    ///
    /// Circular shifts: the share of the `n` shifts (identity included) whose statistic is at least
    /// the observed one, as augsynth's `"block"` type. Sampled permutations: `(1 + #{S_b ≥ S})/(1 + B)`,
    /// i.e. the observed ordering counted once among the `B` random draws (augsynth's `"iid"` type
    /// uses `#{S_b ≥ S}/B`, which can be 0; the two differ by less than `1/B`).
    pub(crate) fn p_value(&self, u: &DVector<f64>, alt: Alternative, statistic: Statistic) -> f64 {
        let (n, k) = (self.n, self.k);
        debug_assert_eq!(u.len(), n);
        let stat = |values: &mut dyn Iterator<Item = f64>| stat(alt, statistic, values);
        let observed = stat(&mut (n - k..n).map(|i| u[i]));
        let tol = 1e-9 * (observed.abs() + u.amax() * k as f64).max(f64::MIN_POSITIVE);
        match &self.sampled {
            None => {
                let hits = (0..n)
                    .filter(|&s| stat(&mut (n - k..n).map(|i| u[(i + s) % n])) >= observed - tol)
                    .count();
                hits as f64 / n as f64
            }
            Some(tail) => {
                let draws = tail.len() / k.max(1);
                let hits = tail
                    .chunks_exact(k)
                    .filter(|idx| stat(&mut idx.iter().map(|&i| u[i as usize])) >= observed - tol)
                    .count();
                (1 + hits) as f64 / (1 + draws) as f64
            }
        }
    }
}

/// Which ends of the confidence set to look for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sides {
    pub(crate) lower: bool,
    pub(crate) upper: bool,
}

impl Sides {
    pub(crate) fn for_alternative(alt: Alternative) -> Self {
        match alt {
            Alternative::TwoSided => Sides {
                lower: true,
                upper: true,
            },
            Alternative::Greater => Sides {
                lower: true,
                upper: false,
            },
            Alternative::Less => Sides {
                lower: false,
                upper: true,
            },
        }
    }
}

/// Invert the test: the hull of `{θ : p(θ) ≥ α}`.
///
/// A grid of `grid` points over `center ± half_width` is evaluated; the range doubles while the set
/// still reaches an end of the grid (up to 12 times, else that end is reported infinite), the grid
/// is re-centred and narrowed on the best θ when no grid point is accepted (up to 4 times, else
/// `(NaN, NaN)`), and each end is then refined by bisection between the outermost accepted grid
/// point and its rejected neighbour. Ends not asked for in `sides` are `∓∞` (one-sided tests).
pub(crate) fn invert(
    mut pval: impl FnMut(f64) -> f64,
    center: f64,
    half_width: f64,
    grid: usize,
    alpha: f64,
    sides: Sides,
) -> (f64, f64) {
    let grid = grid.max(3);
    let mut center = center;
    let mut half = if half_width.is_finite() && half_width > 0.0 {
        half_width
    } else {
        1.0
    };
    let mut expansions = 0;
    let mut refinements = 0;
    loop {
        let thetas: Vec<f64> = (0..grid)
            .map(|i| center - half + 2.0 * half * i as f64 / (grid - 1) as f64)
            .collect();
        let ps: Vec<f64> = thetas.iter().map(|&t| pval(t)).collect();
        let accepted: Vec<bool> = ps.iter().map(|&p| p >= alpha).collect();
        let Some(first) = accepted.iter().position(|&a| a) else {
            if refinements >= 4 {
                return (f64::NAN, f64::NAN);
            }
            refinements += 1;
            let best = (0..grid)
                .max_by(|&a, &b| ps[a].total_cmp(&ps[b]))
                .unwrap_or(grid / 2);
            center = thetas[best];
            half = 2.0 * half / (grid - 1) as f64;
            continue;
        };
        let last = accepted.iter().rposition(|&a| a).unwrap_or(first);
        let open_low = sides.lower && first == 0;
        let open_high = sides.upper && last == grid - 1;
        if (open_low || open_high) && expansions < 12 {
            expansions += 1;
            half *= 2.0;
            continue;
        }
        let step = 2.0 * half / (grid - 1) as f64;
        let tol = 1e-8 * (center.abs() + half);
        let lower = if !sides.lower || first == 0 {
            f64::NEG_INFINITY
        } else {
            bisect(&mut pval, thetas[first] - step, thetas[first], alpha, tol)
        };
        let upper = if !sides.upper || last == grid - 1 {
            f64::INFINITY
        } else {
            bisect(&mut pval, thetas[last] + step, thetas[last], alpha, tol)
        };
        return (lower, upper);
    }
}

/// Between a rejected θ and an accepted θ, the accepted end of the boundary to within `tol`.
fn bisect(
    pval: &mut impl FnMut(f64) -> f64,
    mut rejected: f64,
    mut accepted: f64,
    alpha: f64,
    tol: f64,
) -> f64 {
    for _ in 0..60 {
        if (rejected - accepted).abs() <= tol {
            break;
        }
        let mid = 0.5 * (rejected + accepted);
        if pval(mid) >= alpha {
            accepted = mid;
        } else {
            rejected = mid;
        }
    }
    accepted
}

/// Make an inverted interval agree with the test of θ = 0 exactly: `p0` is the p-value of θ = 0.
///
/// The confidence set `{θ : p(θ) ≥ α}` need not be an interval; its hull, which [`invert`] returns,
/// can straddle a rejected θ = 0, and a grid can step over an accepted θ = 0. So: when θ = 0 is
/// accepted the interval is widened to include it; when it is rejected but inside the hull, the
/// interval is cut to the accepted part on the estimate's side of zero (its end nearest zero found
/// by a scan and bisection). Afterwards `p0 < α` exactly when the interval excludes zero. An empty
/// set (`NaN` bounds) is returned unchanged (every θ, zero included, is rejected).
pub(crate) fn agree_with_zero(
    mut pval: impl FnMut(f64) -> f64,
    (lower, upper): (f64, f64),
    p0: f64,
    alpha: f64,
    estimate: f64,
    scale: f64,
) -> (f64, f64) {
    if lower.is_nan() || upper.is_nan() {
        return (lower, upper);
    }
    if p0 >= alpha {
        return (lower.min(0.0), upper.max(0.0));
    }
    if !(lower <= 0.0 && 0.0 <= upper) {
        return (lower, upper);
    }
    // Which side: the estimate's, unless the set is open on one side only (one-sided tests).
    let positive = if lower.is_infinite() && upper.is_finite() {
        false
    } else if upper.is_infinite() && lower.is_finite() {
        true
    } else {
        estimate >= 0.0
    };
    let reach = |end: f64| {
        if end.is_finite() {
            end.abs()
        } else {
            4.0 * estimate.abs().max(scale).max(f64::MIN_POSITIVE)
        }
    };
    let (far, sign) = if positive {
        (reach(upper), 1.0)
    } else {
        (reach(lower), -1.0)
    };
    // Scan from zero outwards for the first accepted θ, then bisect between it and the rejected
    // point before it.
    let steps = 64;
    let mut rejected = 0.0;
    let mut accepted = None;
    for i in 1..=steps {
        let theta = sign * far * f64::from(i) / f64::from(steps);
        if pval(theta) >= alpha {
            accepted = Some(theta);
            break;
        }
        rejected = theta;
    }
    let Some(accepted) = accepted else {
        // Nothing accepted on that side: the set lies on the other side of zero only through
        // points the hull joined; report it as empty rather than straddling zero.
        return (f64::NAN, f64::NAN);
    };
    let tol = 1e-8 * far.max(f64::MIN_POSITIVE);
    let near = bisect(&mut pval, rejected, accepted, alpha, tol);
    if positive {
        (near, upper)
    } else {
        (lower, near)
    }
}
