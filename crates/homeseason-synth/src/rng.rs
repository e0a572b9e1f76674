//! Named random streams and the few distributions the generator needs.
//!
//! Every stream is a ChaCha8 generator seeded from the run's seed with a stream id hashed from a list of
//! names (feed, region, MCC, …), so one feed's draws never shift another's. Distributions are computed
//! here from raw `u64` words rather than through `rand`'s samplers, so the output does not depend on
//! how a `rand` release implements them.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// A deterministic random stream.
pub(crate) struct Stream(ChaCha8Rng);

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // Separator so ["ab", "c"] and ["a", "bc"] differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The stream named by `parts` under `seed`.
pub(crate) fn stream(seed: u64, parts: &[&str]) -> Stream {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(parts));
    Stream(rng)
}

impl Stream {
    /// Uniform in [0, 1).
    pub(crate) fn u01(&mut self) -> f64 {
        // 53 random bits.
        let x = (self.0.next_u64() >> 11) as f64;
        x * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.u01()
    }

    /// Uniform integer in 0..n (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        let i = (self.u01() * n as f64) as usize;
        i.min(n - 1)
    }

    /// Uniform integer in lo..=hi.
    pub(crate) fn range_incl(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = usize::try_from(hi - lo + 1).unwrap_or(1);
        lo + i64::try_from(self.below(span)).unwrap_or(0)
    }

    /// True with probability p.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.u01() < p
    }

    /// Standard normal (Box–Muller, one draw per call).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.u01(); // (0, 1]
        let u2 = self.u01();
        homeseason_stats::numeric::box_muller(u1, u2)
    }

    /// Lognormal with the given mean and log-scale sd.
    pub(crate) fn lognormal_mean(&mut self, mean: f64, sigma: f64) -> f64 {
        mean * (sigma * self.normal() - 0.5 * sigma * sigma).exp()
    }

    /// Poisson with mean `lambda` (Knuth below 30, a rounded normal above).
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 || !lambda.is_finite() {
            return 0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut k = 0u64;
            let mut p = 1.0;
            loop {
                p *= self.u01();
                if p <= limit {
                    return k;
                }
                k += 1;
            }
        }
        let x = (lambda + lambda.sqrt() * self.normal()).round();
        x.max(0.0) as u64
    }

    /// Index drawn with probability proportional to `cumulative` increments (a non-empty,
    /// non-decreasing list of cumulative weights).
    pub(crate) fn pick_cumulative(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let target = self.u01() * total;
        cumulative
            .partition_point(|&c| c <= target)
            .min(cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<f64> = (0..5)
            .map({
                let mut s = stream(7, &["x", "y"]);
                move |_| s.u01()
            })
            .collect();
        let b: Vec<f64> = (0..5)
            .map({
                let mut s = stream(7, &["x", "y"]);
                move |_| s.u01()
            })
            .collect();
        let c: Vec<f64> = (0..5)
            .map({
                let mut s = stream(7, &["xy"]);
                move |_| s.u01()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut s = stream(1, &["moments"]);
        let n = 20_000;
        let normals: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = normals.iter().sum::<f64>() / f64::from(n);
        let var = normals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        let pois = (0..n).map(|_| s.poisson(3.5) as f64).sum::<f64>() / f64::from(n);
        assert!((pois - 3.5).abs() < 0.08, "{pois}");
        let logn = (0..n).map(|_| s.lognormal_mean(100.0, 0.5)).sum::<f64>() / f64::from(n);
        assert!((logn - 100.0).abs() < 2.0, "{logn}");
        let cum = [1.0, 1.0, 4.0];
        let picks: Vec<usize> = (0..1000).map(|_| s.pick_cumulative(&cum)).collect();
        assert!(!picks.contains(&1));
        assert!(picks.iter().filter(|&&i| i == 2).count() > 650);
    }
}
