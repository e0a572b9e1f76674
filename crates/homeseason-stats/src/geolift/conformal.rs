//! Conformal inference by permutation over time (Chernozhukov, Wüthrich & Zhu), as in augsynth's
//! `conformal_inf` / `compute_permute_pval`: under the null of a constant effect θ the treated
//! post-period outcomes minus θ are fitted together with the pre-period, and the statistic of the
//! post-period residuals is compared with the statistic of permuted residual series.

use std::sync::{Arc, Mutex, PoisonError};

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

/// How many of the draws (`k` positions each in `tail`) have a statistic of `u` at least `at`.
///
/// The same sums as [`stat`] — every draw's values added one by one in its own order, from the same
/// start — four draws at a time, so that the four chains of additions overlap instead of waiting on
/// each other; every statistic, hence every comparison, is the same to the bit.
fn sampled_hits(
    tail: &[u32],
    k: usize,
    u: &[f64],
    alt: Alternative,
    statistic: Statistic,
    at: f64,
) -> usize {
    let sum_abs = matches!((alt, statistic), (Alternative::TwoSided, Statistic::SumAbs));
    let abs: Vec<f64>;
    let values = if sum_abs {
        abs = u.iter().map(|x| x.abs()).collect();
        &abs[..]
    } else {
        u
    };
    let finish = |s: f64| match (alt, statistic) {
        (Alternative::TwoSided, Statistic::AbsSum) => s.abs(),
        (Alternative::TwoSided, Statistic::SumAbs) | (Alternative::Greater, _) => s,
        (Alternative::Less, _) => -s,
    };
    if k == 0 {
        return 0;
    }
    // `Iterator::sum` of f64 starts from −0.0.
    let zero = -0.0_f64;
    let mut hits = 0;
    let mut quads = tail.chunks_exact(4 * k);
    for quad in &mut quads {
        let (a, rest) = quad.split_at(k);
        let (b, rest) = rest.split_at(k);
        let (c, d) = rest.split_at(k);
        let mut s = [zero; 4];
        for j in 0..k {
            s[0] += values[a[j] as usize];
            s[1] += values[b[j] as usize];
            s[2] += values[c[j] as usize];
            s[3] += values[d[j] as usize];
        }
        hits += s.into_iter().filter(|&x| finish(x) >= at).count();
    }
    for idx in quads.remainder().chunks_exact(k) {
        let s = idx.iter().fold(zero, |s, &i| s + values[i as usize]);
        hits += usize::from(finish(s) >= at);
    }
    hits
}

/// The permutations of a residual series of length `n` whose last `k` entries are the tested ones.
#[derive(Debug, Clone)]
pub(crate) struct PermSet {
    n: usize,
    k: usize,
    /// For sampled schemes: the positions landing in the last `k` slots, `k` per draw (shared:
    /// the draws are a function of the scheme, `n`, `k` and the seed only, see [`drawn`]).
    sampled: Option<Arc<Vec<u32>>>,
}

/// Draws kept by [`drawn`]: at most this many `u32`s in all (16 MiB).
const DRAWN_CAPACITY: usize = 4 << 20;

/// The sampled draws of `(scheme, n, k, seed)`, made once per process and shared.
///
/// Every cell and every placebo window of one length and tested run draws the very same
/// permutations (the generator is seeded with the same seed for all of them, so that a cell's result
/// does not depend on the cells estimated with it); the local-event power analysis alone asks for
/// the same few sets once per candidate region. Drawing them is most of a p-value's cost there, so
/// the draws are memoised. A set is a pure function of its key, so results do not depend on what
/// was drawn before, nor on which thread drew it first. The oldest sets are dropped beyond
/// [`DRAWN_CAPACITY`].
fn drawn(len: usize, draws: usize, n: usize, k: usize, seed: u64) -> Arc<Vec<u32>> {
    type Key = (usize, usize, usize, usize, u64);
    static DRAWN: Mutex<Vec<(Key, Arc<Vec<u32>>)>> = Mutex::new(Vec::new());
    let key = (len, draws, n, k, seed);
    let lookup = |sets: &[(Key, Arc<Vec<u32>>)]| {
        sets.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, set)| Arc::clone(set))
    };
    // A poisoned lock only means another thread panicked while holding it; the list is still a
    // list of complete sets (entries are pushed whole).
    if let Some(set) = lookup(&DRAWN.lock().unwrap_or_else(PoisonError::into_inner)) {
        return set;
    }
    let set = Arc::new(draw(len, draws, n, k, seed));
    let mut sets = DRAWN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(other) = lookup(&sets) {
        return other;
    }
    let mut held: usize = sets.iter().map(|(_, s)| s.len()).sum::<usize>() + set.len();
    while held > DRAWN_CAPACITY && !sets.is_empty() {
        held -= sets.remove(0).1.len();
    }
    if set.len() <= DRAWN_CAPACITY {
        sets.push((key, Arc::clone(&set)));
    }
    set
}

/// `draws` random permutations of the blocks of `len` periods of a series of length `n` (see
/// [`PermSet::new`]): the positions landing in the last `k` slots, `k` per draw.
fn draw(len: usize, draws: usize, n: usize, k: usize, seed: u64) -> Vec<u32> {
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
    tail
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
        PermSet {
            n,
            k,
            sampled: Some(drawn(len, draws, n, k, seed)),
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
                let hits = sampled_hits(tail, k, u.as_slice(), alt, statistic, observed - tol);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// `p_value` as it was written before the four-at-a-time loop: one [`stat`] per draw.
    fn p_value_plain(perms: &PermSet, u: &DVector<f64>, alt: Alternative, st: Statistic) -> f64 {
        let (n, k) = (perms.n, perms.k);
        let observed = stat(alt, st, (n - k..n).map(|i| u[i]));
        let tol = 1e-9 * (observed.abs() + u.amax() * k as f64).max(f64::MIN_POSITIVE);
        let tail = perms.sampled.as_ref().expect("sampled");
        let draws = tail.len() / k;
        let hits = tail
            .chunks_exact(k)
            .filter(|idx| stat(alt, st, idx.iter().map(|&i| u[i as usize])) >= observed - tol)
            .count();
        (1 + hits) as f64 / (1 + draws) as f64
    }

    #[test]
    fn the_four_lane_count_is_the_plain_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (scheme, n, k) in [
            (Permutations::Iid { draws: 1000 }, 60, 14),
            (Permutations::Iid { draws: 1001 }, 31, 1),
            (Permutations::Blocks { len: 7, draws: 999 }, 90, 20),
            (Permutations::Blocks { len: 7, draws: 6 }, 12, 12),
        ] {
            let perms = PermSet::new(&scheme, n, k, 3);
            for round in 0..40 {
                // Residuals with ties and signed zeros, so that comparisons at the edge are met.
                let u = DVector::from_fn(n, |_, _| match round % 3 {
                    0 => rng.random_range(-1.0..1.0),
                    1 => f64::from(rng.random_range(-2_i32..=2)) * 0.25,
                    _ => [0.0, -0.0][rng.random_range(0..2)],
                });
                for alt in [
                    Alternative::TwoSided,
                    Alternative::Greater,
                    Alternative::Less,
                ] {
                    for st in [Statistic::AbsSum, Statistic::SumAbs] {
                        let fast = perms.p_value(&u, alt, st);
                        let plain = p_value_plain(&perms, &u, alt, st);
                        assert_eq!(fast.to_bits(), plain.to_bits(), "{scheme:?} {alt:?} {st:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn shared_draws_are_the_draws_of_their_key() {
        let a = PermSet::new(&Permutations::Iid { draws: 50 }, 40, 9, 11);
        let b = PermSet::new(&Permutations::Iid { draws: 50 }, 40, 9, 11);
        let fresh = draw(1, 50, 40, 9, 11);
        assert_eq!(a.sampled.as_deref(), Some(&fresh));
        assert_eq!(b.sampled.as_deref(), Some(&fresh));
        // Another seed, length or scheme is another set.
        assert_ne!(
            PermSet::new(&Permutations::Iid { draws: 50 }, 40, 9, 12)
                .sampled
                .as_deref(),
            Some(&fresh)
        );
        let blocks = PermSet::new(&Permutations::Blocks { len: 7, draws: 50 }, 40, 9, 11);
        assert_eq!(blocks.sampled.as_deref(), Some(&draw(7, 50, 40, 9, 11)));
    }
}
