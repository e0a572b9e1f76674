//! Conformal inference by permutation over time (Chernozhukov, Wüthrich & Zhu), as in augsynth's
//! `conformal_inf` / `compute_permute_pval`: under the null of a constant effect θ the treated
//! post-period outcomes minus θ are fitted together with the pre-period, and the statistic of the
//! post-period residuals is compared with the statistic of permuted residual series.

use nalgebra::DVector;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{Alternative, Permutations};

/// Test statistic of a run of residuals: `Σ|u|` (two-sided), `Σu` (greater) or `−Σu` (less) — the
/// `stat_func`s of GeoLift's `type_of_test`.
fn stat(alt: Alternative, values: impl Iterator<Item = f64>) -> f64 {
    match alt {
        Alternative::TwoSided => values.map(f64::abs).sum(),
        Alternative::Greater => values.sum(),
        Alternative::Less => -values.sum::<f64>(),
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
        let n_blocks = n.div_ceil(len);
        let mut order: Vec<usize> = (0..n_blocks).collect();
        let mut tail = Vec::with_capacity(draws * k);
        let mut full = Vec::with_capacity(n);
        for _ in 0..draws {
            order.shuffle(&mut rng);
            full.clear();
            for &b in &order {
                full.extend((b * len..((b + 1) * len).min(n)).map(|i| i as u32));
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
    pub(crate) fn p_value(&self, u: &DVector<f64>, alt: Alternative) -> f64 {
        let (n, k) = (self.n, self.k);
        debug_assert_eq!(u.len(), n);
        let observed = stat(alt, (n - k..n).map(|i| u[i]));
        let tol = 1e-9 * (observed.abs() + u.amax() * k as f64).max(f64::MIN_POSITIVE);
        match &self.sampled {
            None => {
                let hits = (0..n)
                    .filter(|&s| stat(alt, (n - k..n).map(|i| u[(i + s) % n])) >= observed - tol)
                    .count();
                hits as f64 / n as f64
            }
            Some(tail) => {
                let draws = tail.len() / k.max(1);
                let hits = tail
                    .chunks_exact(k)
                    .filter(|idx| stat(alt, idx.iter().map(|&i| u[i as usize])) >= observed - tol)
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
