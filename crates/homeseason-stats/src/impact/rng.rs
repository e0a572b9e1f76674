//! Random variates the model needs (standard normal, gamma), on a seeded ChaCha stream.
//!
//! `rand` 0.9 ships no distributions beyond uniform, so the two samplers live here: Marsaglia's polar
//! method for the normal (both variates of a pair are used) and Marsaglia–Tsang for the gamma.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A deterministic stream of variates for one seed.
pub(crate) struct Sampler {
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl Sampler {
    /// The stream for a seed.
    pub(crate) fn new(seed: u64) -> Sampler {
        Sampler {
            rng: ChaCha8Rng::seed_from_u64(seed),
            spare: None,
        }
    }

    /// Uniform on [0, 1). (`#[inline]` here and on [`Sampler::normal`]: the posterior draws call
    /// them three times a day of every path, from another codegen unit.)
    #[inline]
    pub(crate) fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Standard normal (Marsaglia's polar method).
    #[inline]
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }

    /// Gamma(shape, 1) (Marsaglia–Tsang; shapes below 1 by the boost `G(a+1)·U^(1/a)`).
    pub(crate) fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let g = self.gamma(shape + 1.0);
            let u = self.uniform().max(f64::MIN_POSITIVE);
            return g * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform();
            if u < 1.0 - 0.0331 * x * x * x * x {
                return d * v;
            }
            if u > 0.0 && u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Chi-square with `dof` degrees of freedom.
    pub(crate) fn chi_square(&mut self, dof: f64) -> f64 {
        2.0 * self.gamma(0.5 * dof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_right() {
        let mut s = Sampler::new(7);
        let n = 200_000;
        let (mut m, mut v) = (0.0, 0.0);
        for _ in 0..n {
            let z = s.normal();
            m += z;
            v += z * z;
        }
        let nf = f64::from(n);
        assert!((m / nf).abs() < 0.01);
        assert!((v / nf - 1.0).abs() < 0.01);
        let (mut gm, mut gv) = (0.0, 0.0);
        for _ in 0..n {
            let g = s.chi_square(9.0);
            gm += g;
            gv += g * g;
        }
        let gm = gm / nf;
        assert!((gm - 9.0).abs() < 0.05, "{gm}");
        assert!((gv / nf - gm * gm - 18.0).abs() < 0.4);
        let small: f64 = (0..n).map(|_| s.gamma(0.5)).sum::<f64>() / nf;
        assert!((small - 0.5).abs() < 0.01, "{small}");
    }
}
