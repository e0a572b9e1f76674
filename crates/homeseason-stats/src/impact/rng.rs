//! Random variates the model needs (standard normal, gamma), on a seeded ChaCha stream.
//!
//! `rand` 0.9 ships no distributions beyond uniform (`rand_distr` 0.6, the one in the lock file,
//! is built on `rand` 0.10), so the two samplers live here: Marsaglia and Tsang's 256-layer
//! ziggurat for the normal (one 64-bit word a variate, ~99 % of the time nothing else) and
//! Marsaglia–Tsang for the gamma.

use std::sync::OnceLock;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Layers of the ziggurat.
const LAYERS: usize = 256;
/// Where the tail begins: the right edge of the lowest layer's part under the curve.
const TAIL: f64 = 3.654_152_885_361_009;
/// Area of every layer (the base strip: the rectangle up to [`TAIL`] plus the tail beyond it),
/// under the unnormalised density `exp(−x²/2)`.
const LAYER_AREA: f64 = 0.004_928_673_233_99;

/// The ziggurat's edges: layer `i` is the rectangle `[0, x[i]] × [f[i], f[i + 1]]` under
/// `exp(−x²/2)` (layer 0: the base strip, `x[0] = LAYER_AREA / f(TAIL)` so that its rectangle has
/// the layer's area, the part beyond [`TAIL`] standing for the tail); `x` falls from `x[0]` to
/// `x[256] = 0`, `f[i] = exp(−x[i]²/2)` rises to 1. Each layer's part left of `x[i + 1]` lies
/// wholly under the curve.
struct Ziggurat {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
}

/// The edges, computed once (Marsaglia and Tsang 2000: each layer's top edge is where the layer
/// above it reaches the area [`LAYER_AREA`]).
fn ziggurat() -> &'static Ziggurat {
    static TABLE: OnceLock<Ziggurat> = OnceLock::new();
    TABLE.get_or_init(|| {
        let density = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; LAYERS + 1];
        x[0] = LAYER_AREA / density(TAIL);
        x[1] = TAIL;
        for i in 2..LAYERS {
            x[i] = (-2.0 * (LAYER_AREA / x[i - 1] + density(x[i - 1])).ln()).sqrt();
        }
        x[LAYERS] = 0.0;
        Ziggurat {
            x,
            f: x.map(density),
        }
    })
}

/// A deterministic stream of variates for one seed.
pub(crate) struct Sampler {
    rng: ChaCha8Rng,
    table: &'static Ziggurat,
}

impl Sampler {
    /// The stream for a seed.
    pub(crate) fn new(seed: u64) -> Sampler {
        Sampler {
            rng: ChaCha8Rng::seed_from_u64(seed),
            table: ziggurat(),
        }
    }

    /// Uniform on [0, 1). (`#[inline]` here and on [`Sampler::normal`]: the posterior draws call
    /// them three times a day of every path, from another codegen unit.)
    #[inline]
    pub(crate) fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Standard normal (the ziggurat). One 64-bit word picks the layer (bits 0–7), the sign
    /// (bit 8) and the position along the layer (bits 12–63, 52 bits, uniform on [0, 1)): a point
    /// left of the layer above's edge is under the curve and returned at once (98.8 % of the
    /// words); otherwise the exact test against the density, or from the base strip Marsaglia's
    /// tail sampler beyond [`TAIL`].
    #[inline]
    pub(crate) fn normal(&mut self) -> f64 {
        let z = self.table;
        loop {
            let bits = self.rng.next_u64();
            let i = (bits & 0xff) as usize;
            let negative = bits & 0x100 != 0;
            let u = (bits >> 12) as f64 * (1.0 / (1u64 << 52) as f64);
            let x = u * z.x[i];
            let accepted = if x < z.x[i + 1] {
                Some(x)
            } else if i == 0 {
                Some(self.normal_tail())
            } else if z.f[i] + (z.f[i + 1] - z.f[i]) * self.uniform() < (-0.5 * x * x).exp() {
                Some(x)
            } else {
                None
            };
            if let Some(x) = accepted {
                return if negative { -x } else { x };
            }
        }
    }

    /// A standard normal conditional on exceeding [`TAIL`] (Marsaglia 1964).
    #[cold]
    fn normal_tail(&mut self) -> f64 {
        loop {
            // 1 − U lies in (0, 1]: the logarithms are finite.
            let a = -(1.0 - self.uniform()).ln() / TAIL;
            let b = -(1.0 - self.uniform()).ln();
            if 2.0 * b >= a * a {
                return TAIL + a;
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
    use crate::numeric::{erfc, normal_cdf};

    /// Kolmogorov–Smirnov statistic `√n · D` of `values` against the distribution function `cdf`.
    fn ks(mut values: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let d = values
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let p = cdf(v);
                (p - k as f64 / n).max((k + 1) as f64 / n - p)
            })
            .fold(0.0, f64::max);
        d * n.sqrt()
    }

    /// √n·D above this has probability 0.001 under the null (Kolmogorov's limit distribution).
    const KS_0_001: f64 = 1.95;

    #[test]
    fn the_ziggurats_layers_have_the_same_area() {
        let z = ziggurat();
        let density = |x: f64| (-0.5 * x * x).exp();
        for i in 1..LAYERS {
            assert!(
                z.x[i + 1] < z.x[i] && z.f[i + 1] > z.f[i],
                "layer {i} not monotone"
            );
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            assert!(
                (area / LAYER_AREA - 1.0).abs() < 1e-8,
                "layer {i}: area {area}"
            );
            assert_eq!(z.f[i].to_bits(), density(z.x[i]).to_bits());
        }
        assert!(z.x[LAYERS - 1] > 0.0 && z.f[LAYERS] == 1.0);
        // The base strip: the rectangle up to the tail's start and the tail beyond it.
        let tail = (std::f64::consts::PI / 2.0).sqrt() * erfc(TAIL / std::f64::consts::SQRT_2);
        let base = TAIL * density(TAIL) + tail;
        assert!((base / LAYER_AREA - 1.0).abs() < 1e-6, "base strip {base}");
        assert!((z.x[0] * density(TAIL) / LAYER_AREA - 1.0).abs() < 1e-12);
    }

    #[test]
    fn normals_follow_the_normal_distribution() {
        let mut s = Sampler::new(11);
        let n = 1_000_000;
        let values: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let stat = ks(values.clone(), normal_cdf);
        assert!(stat < KS_0_001, "Kolmogorov–Smirnov √n·D = {stat}");
        // Both tails, beyond 3 and beyond the ziggurat's tail start, within 4.5 s.d. of the count
        // the normal gives; and each half holds half of the values.
        let nf = f64::from(n);
        for cut in [3.0, TAIL] {
            let p = erfc(cut / std::f64::consts::SQRT_2);
            let want = nf * p;
            let sd = (nf * p * (1.0 - p)).sqrt();
            let got = values.iter().filter(|v| v.abs() > cut).count() as f64;
            assert!(
                (got - want).abs() < 4.5 * sd,
                "beyond ±{cut}: {got}, normal {want}"
            );
        }
        let negative = values.iter().filter(|v| **v < 0.0).count() as f64;
        assert!(
            (negative - nf / 2.0).abs() < 4.5 * (nf / 4.0).sqrt(),
            "{negative} negative"
        );
    }

    #[test]
    fn the_tail_follows_the_normal_beyond_its_start() {
        let mut s = Sampler::new(13);
        let values: Vec<f64> = (0..200_000).map(|_| s.normal_tail()).collect();
        assert!(values.iter().all(|v| *v > TAIL));
        let beyond = |t: f64| erfc(t / std::f64::consts::SQRT_2);
        let stat = ks(values, |t| 1.0 - beyond(t) / beyond(TAIL));
        assert!(stat < KS_0_001, "Kolmogorov–Smirnov √n·D = {stat}");
    }

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
        let (mut m3, mut m4) = (0.0, 0.0);
        for _ in 0..n {
            let z = s.normal();
            m3 += z * z * z;
            m4 += z * z * z * z;
        }
        // Standard errors √(15/n) ≈ 0.009 and √(96/n) ≈ 0.022.
        assert!((m3 / nf).abs() < 0.04, "third moment {}", m3 / nf);
        assert!((m4 / nf - 3.0).abs() < 0.1, "fourth moment {}", m4 / nf);
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
