//! Fitting: data checks, the Kalman whitening of the regression, the exact marginal posterior of the
//! error-process parameters and its integration by adaptive importance sampling.

use std::cell::RefCell;
use std::ops::Range;

use nalgebra::{DMatrix, SymmetricEigen};

use super::design::Design;
#[cfg(target_arch = "x86_64")]
use super::linalg::Avx2;
use super::linalg::{
    GRAM_CHUNK, LANES, back_substitute, back_substitute_lanes, cholesky, dot, dot_lanes,
    forward_substitute, gram_add, inverse_diagonal,
};
use super::optim::{Tolerance, bfgs, hessian, nelder_mead};
use super::rng::Sampler;
use super::{Coefficient, Counterfactual, Diagnostics, ErrorModel, ImpactError, ImpactOptions};

/// Largest |atanh φ| explored: |φ| ≤ tanh 3.8 ≈ 0.999.
const A_MAX: f64 = 3.8;
/// Largest |logit| explored for the other coordinates.
const B_MAX: f64 = 25.0;
/// Smallest atanh φ of the single-AR models: φ ≥ tanh(−1.5) ≈ −0.905.
const A_MIN_SINGLE: f64 = -1.5;
/// Degrees of freedom of the multivariate-t proposals.
const PROPOSAL_DOF: f64 = 5.0;
/// How exactly the cheap target's mode is sought: it only centres a multivariate-t proposal whose
/// s.d. is at least 0.045 in every direction (and the importance weights correct any offset), so
/// 5e-3 in the coordinates and 1e-5 in the log target are ample — about half the evaluations of
/// seeking the mode to 1e-6.
const PROPOSAL_CENTRE: Tolerance = Tolerance { x: 5e-3, f: 1e-5 };
/// The quasi-Newton search's stopping rule for the same mode: its last steps shrink
/// superlinearly, so a tenth of [`PROPOSAL_CENTRE`]'s distances costs one or two evaluations more.
const PROPOSAL_CENTRE_QN: Tolerance = Tolerance { x: 5e-4, f: 1e-6 };
/// Seed of the proposal draws: the fit is a deterministic function of the data.
const PROPOSAL_SEED: u64 = 0x1a9c_7e57;

/// Pre-period data on the model scale, columns scaled to unit root-mean-square.
struct PreData {
    obs: Vec<bool>,
    y: Vec<f64>,
    /// Scaled columns over the pre-period (0 where not usable).
    x: Vec<Vec<f64>>,
    n_obs: usize,
    /// The same values day by day: row t holds `x[0][t], …, x[k−1][t], y[t]` (k + 1 values), so
    /// [`evaluate`] filters every column in one pass over the days.
    rows: Vec<f64>,
    /// Work space of [`evaluate`] (a chunk of [`GRAM_CHUNK`] whitened days, day-major, and the
    /// cross products), reused from one evaluation to the next.
    scratch: RefCell<(Vec<f64>, Vec<f64>)>,
    /// Scale b of the local level's inverse-gamma prior on the random walk's innovation variance,
    /// `IG(LEVEL_PRIOR_SHAPE, b)` with `b = LEVEL_PRIOR_SHAPE · (LEVEL_PRIOR_SD · s.d.(y*))²`
    /// (s.d. over the usable pre-period days).
    level_scale: f64,
}

impl PreData {
    fn new(obs: Vec<bool>, y: Vec<f64>, x: Vec<Vec<f64>>, n_obs: usize) -> PreData {
        let stride = x.len() + 1;
        let mut rows = vec![0.0; obs.len() * stride];
        for (t, row) in rows.chunks_exact_mut(stride).enumerate() {
            for (v, col) in row.iter_mut().zip(&x) {
                *v = col[t];
            }
            row[stride - 1] = y[t];
        }
        let level_scale =
            (LEVEL_PRIOR_SHAPE * (LEVEL_PRIOR_SD * LEVEL_PRIOR_SD) * sample_variance(&y, &obs))
                .max(f64::MIN_POSITIVE);
        PreData {
            obs,
            y,
            x,
            n_obs,
            rows,
            scratch: RefCell::new((Vec::new(), Vec::new())),
            level_scale,
        }
    }

    fn k(&self) -> usize {
        self.x.len()
    }
}

/// Parameters of the error process per unit σ²: two AR(1) components (variance shares `w`,
/// coefficients `phi`) and white noise (share `wn`); `w[0] + w[1] + wn = 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    pub(crate) phi: [f64; 2],
    pub(crate) w: [f64; 2],
    pub(crate) wn: f64,
    /// The first component is a random walk (local level): `phi[0] = 1`, innovation variance
    /// `w[0]` per unit σ², starting from zero (the intercept carries the initial level, so this
    /// is the diffuse local level of CausalImpact).
    pub(crate) rw: bool,
}

impl Params {
    const IID: Params = Params {
        phi: [0.0, 0.0],
        w: [0.0, 0.0],
        wn: 1.0,
        rw: false,
    };

    /// Innovation variance of component `i` per unit σ² (stationary AR(1): `w(1 − φ²)`; random
    /// walk: `w`).
    fn q(&self, i: usize) -> f64 {
        if self.rw && i == 0 {
            self.w[0]
        } else {
            self.w[i] * (1.0 - self.phi[i] * self.phi[i])
        }
    }
}

/// What [`check_columns`] found: every column's scale (root mean square over the usable days), or
/// the first column that is constant (a second constant beside the intercept, or all zero) or
/// collinear with the columns before it.
#[derive(Debug, Clone, PartialEq)]
enum Checked {
    Scales(Vec<f64>),
    Constant(usize),
    Collinear(usize),
}

/// How many checks [`check_columns`] remembers (a region's windows on both cores: ~8 each).
const CHECKS_KEPT: usize = 32;

/// The scale, constant and collinearity checks of `columns` over the usable days `rows`:
/// Gram–Schmidt, twice, on the scaled columns — about 2,500 operations a usable day for a season
/// cell's ~36 columns. A region's categories share their covariates (the region's untargeted
/// categories, trend, yearly terms, weekdays, day types) on every window, so the checks of one
/// set of values are remembered, keyed by the exact bits of every value checked: the same outcome
/// as checking again, at the cost of comparing them.
fn check_columns(columns: &[&[f64]], rows: &[usize]) -> Checked {
    use std::sync::Mutex;
    static KNOWN: Mutex<Vec<(u64, Vec<u64>, Checked)>> = Mutex::new(Vec::new());
    let mut key: Vec<u64> = Vec::with_capacity(columns.len() * rows.len() + 1);
    key.push(columns.len() as u64);
    for c in columns {
        key.extend(rows.iter().map(|&t| c[t].to_bits()));
    }
    let hash = key.iter().fold(0x243f_6a88_85a3_08d3_u64, |h, v| {
        (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    });
    let known = |k: &Vec<(u64, Vec<u64>, Checked)>| {
        k.iter()
            .find(|(h, v, _)| *h == hash && *v == key)
            .map(|(_, _, c)| c.clone())
    };
    if let Some(found) = known(
        &KNOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    ) {
        return found;
    }
    let checked = check_columns_now(columns, rows);
    let mut kept = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if kept.len() >= CHECKS_KEPT {
        kept.remove(0);
    }
    kept.push((hash, key, checked.clone()));
    checked
}

/// [`check_columns`] without the memory.
fn check_columns_now(columns: &[&[f64]], rows: &[usize]) -> Checked {
    let n_obs = rows.len();
    let mut scales = Vec::with_capacity(columns.len());
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut constant_seen = false;
    for (j, col) in columns.iter().enumerate() {
        let vals: Vec<f64> = rows.iter().map(|&t| col[t]).collect();
        let rms = (dot(&vals, &vals) / n_obs as f64).sqrt();
        let first = vals[0];
        let constant = vals
            .iter()
            .all(|v| (v - first).abs() <= 1e-12 * first.abs());
        if rms == 0.0 || (constant && constant_seen) {
            return Checked::Constant(j);
        }
        constant_seen |= constant;
        scales.push(rms);
        let mut r: Vec<f64> = vals.iter().map(|v| v / rms).collect();
        for _ in 0..2 {
            for q in &basis {
                let c = dot(q, &r);
                r.iter_mut().zip(q).for_each(|(ri, qi)| *ri -= c * qi);
            }
        }
        let norm = dot(&r, &r).sqrt();
        if norm <= 1e-7 * (n_obs as f64).sqrt() {
            return Checked::Collinear(j);
        }
        basis.push(r.iter().map(|v| v / norm).collect());
    }
    Checked::Scales(scales)
}

/// Range of θ₀ = logit ψ of the local level (ψ = random-walk innovation share): the signal-to-noise
/// ratio ψ/(1 − ψ) from about 1e-6 to 2e4. The prior within it is the one the inverse-gamma prior on
/// the random walk's variance induces (see [`LEVEL_PRIOR_SD`]); outside it, none.
const LL_MIN: f64 = -14.0;
const LL_MAX: f64 = 10.0;

/// The local level's prior guess of the random walk's innovation s.d., in s.d.s of the pre-period
/// response (model scale): CausalImpact's `prior.level.sd` (R) and `prior_level_sd` (tfp), 0.01.
const LEVEL_PRIOR_SD: f64 = 0.01;
/// Shape of the inverse-gamma prior on the random walk's innovation variance: R CausalImpact and
/// tfp-causalimpact give the guess a prior sample size of 32, i.e. `IG(16, 16·guess²)` (tfp's
/// `local_level_prior_sample_size`; R's `SdPrior(sample.size = 32)`).
const LEVEL_PRIOR_SHAPE: f64 = 16.0;

/// Sample variance (n − 1) of `y` over the days marked in `obs`.
fn sample_variance(y: &[f64], obs: &[bool]) -> f64 {
    let (mut n, mut sum) = (0.0, 0.0);
    for (v, _) in y.iter().zip(obs).filter(|(_, o)| **o) {
        n += 1.0;
        sum += v;
    }
    if n < 2.0 {
        return 0.0;
    }
    let mean = sum / n;
    y.iter()
        .zip(obs)
        .filter(|(_, o)| **o)
        .map(|(v, _)| (v - mean) * (v - mean))
        .sum::<f64>()
        / (n - 1.0)
}

fn logistic(b: f64) -> f64 {
    if b >= 0.0 {
        1.0 / (1.0 + (-b).exp())
    } else {
        let e = b.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

impl ErrorModel {
    /// Number of free error-process parameters.
    fn dim(self) -> usize {
        match self {
            ErrorModel::Independent => 0,
            ErrorModel::Ar1 => 1,
            ErrorModel::Ar1PlusNoise => 2,
            ErrorModel::TwoAr1PlusNoise => 4,
            ErrorModel::LocalLevel => 1,
            ErrorModel::Auto => 4,
        }
    }

    /// Log of the constant that normalises the prior density of θ (flat θ₀ over its range; the
    /// other coordinates' densities are normalised in [`ErrorModel::params`], but for the
    /// simplex's Dirichlet(1, 1, 1) density, 2), for comparing models by their evidence.
    fn log_prior_norm(self) -> f64 {
        match self {
            ErrorModel::Independent | ErrorModel::Auto => 0.0,
            ErrorModel::Ar1 | ErrorModel::Ar1PlusNoise => -(A_MAX - A_MIN_SINGLE).ln(),
            ErrorModel::TwoAr1PlusNoise => -A_MAX.ln() + 2f64.ln(),
            // Normalised in [`level_marginal`] (up to the prior mass outside [LL_MIN, LL_MAX]).
            ErrorModel::LocalLevel => 0.0,
        }
    }

    /// Parameters from unconstrained coordinates θ, with the log prior density of θ. `None` outside
    /// the prior's support.
    ///
    /// AR coefficients enter through a = atanh φ with a flat prior on a: about uniform in the log of
    /// the time scale 1/(1 − φ), so deviations lasting days, weeks or months are equally plausible a
    /// priori (a prior uniform on φ itself would give persistence beyond 20 days only 2.5 % of its
    /// mass, and the pre-period rarely has enough information to overrule it — exactly the slow
    /// deviations that decide the uncertainty of a 122-day total).
    ///
    /// - Ar1: φ = tanh θ₀, θ₀ ∈ [−1.5, 3.8] flat (−0.905 ≤ φ ≤ 0.999).
    /// - Ar1PlusNoise: as Ar1, plus AR share ψ = logistic θ₁ (ψ uniform on (0, 1)).
    /// - TwoAr1PlusNoise: φ_slow = tanh θ₀ with θ₀ ∈ [0, 3.8] flat; φ_fast = −1 + (1 + φ_slow)·logistic θ₁
    ///   (uniform on (−1, φ_slow)); shares (slow, fast, noise) = softmax(θ₂, θ₃, 0), uniform on the
    ///   simplex.
    fn params(self, theta: &[f64]) -> Option<(Params, f64)> {
        if theta.iter().any(|t| !t.is_finite()) {
            return None;
        }
        if self == ErrorModel::LocalLevel {
            let b = theta[0];
            if !(LL_MIN..=LL_MAX).contains(&b) {
                return None;
            }
            let psi = logistic(b);
            return Some((
                Params {
                    phi: [1.0, 0.0],
                    w: [psi, 0.0],
                    wn: logistic(-b),
                    rw: true,
                },
                0.0,
            ));
        }
        if let Some(&a) = theta.first()
            && (a > A_MAX
                || a < if self == ErrorModel::TwoAr1PlusNoise {
                    0.0
                } else {
                    A_MIN_SINGLE
                })
        {
            return None;
        }
        if theta.iter().skip(1).any(|t| t.abs() > B_MAX) {
            return None;
        }
        let log_logistic_density = |b: f64| -softplus(-b) - softplus(b);
        Some(match self {
            ErrorModel::Independent | ErrorModel::LocalLevel | ErrorModel::Auto => {
                (Params::IID, 0.0)
            }
            ErrorModel::Ar1 => (
                Params {
                    phi: [theta[0].tanh(), 0.0],
                    w: [1.0, 0.0],
                    wn: 0.0,
                    rw: false,
                },
                0.0,
            ),
            ErrorModel::Ar1PlusNoise => {
                let b = theta[1];
                (
                    Params {
                        phi: [theta[0].tanh(), 0.0],
                        w: [logistic(b), 0.0],
                        wn: logistic(-b),
                        rw: false,
                    },
                    log_logistic_density(b),
                )
            }
            ErrorModel::TwoAr1PlusNoise => {
                let slow = theta[0].tanh();
                let fast = -1.0 + (1.0 + slow) * logistic(theta[1]);
                let (b1, b2) = (theta[2], theta[3]);
                let m = b1.max(b2).max(0.0);
                let (e1, e2, e0) = ((b1 - m).exp(), (b2 - m).exp(), (-m).exp());
                let total = e1 + e2 + e0;
                let (w1, w2, wn) = (e1 / total, e2 / total, e0 / total);
                (
                    Params {
                        phi: [slow, fast],
                        w: [w1, w2],
                        wn,
                        rw: false,
                    },
                    log_logistic_density(theta[1]) + w1.ln() + w2.ln() + wn.ln(),
                )
            }
        })
    }
}

/// The Kalman filter's data-independent part for one parameter set: gains, innovation scales, the
/// log-determinant of Ω and the filtered state covariance at the end of the pre-period.
struct Gains {
    k1: Vec<f64>,
    k2: Vec<f64>,
    inv_sd: Vec<f64>,
    log_det: f64,
    /// Filtered covariance (c11, c12, c22) of the state at the last pre-period time, per unit σ².
    c_end: [f64; 3],
}

fn gains(obs: &[bool], p: &Params) -> Option<Gains> {
    let len = obs.len();
    let (f1, f2) = (p.phi[0], p.phi[1]);
    let (q1, q2) = (p.q(0), p.q(1));
    let mut g = Gains {
        k1: vec![0.0; len],
        k2: vec![0.0; len],
        inv_sd: vec![0.0; len],
        log_det: 0.0,
        c_end: [0.0; 3],
    };
    let (mut c11, mut c12, mut c22) = (0.0, 0.0, 0.0);
    // Once an update leaves the filtered covariance exactly (to the bit) where it was, every
    // following observed day repeats that day's numbers until the next skipped day: reuse them
    // (k₁, k₂, 1/√f, ln f) instead of recomputing the same values.
    let mut fixed: Option<(f64, f64, f64, f64)> = None;
    for (t, &observed) in obs.iter().enumerate() {
        if observed && let Some((k1, k2, inv_sd, ln_f)) = fixed {
            g.k1[t] = k1;
            g.k2[t] = k2;
            g.inv_sd[t] = inv_sd;
            g.log_det += ln_f;
            continue;
        }
        let (p11, p12, p22) = if t == 0 {
            (p.w[0], 0.0, p.w[1])
        } else {
            (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2)
        };
        if observed {
            let (g1, g2) = (p11 + p12, p12 + p22);
            let f = g1 + g2 + p.wn;
            if f.is_nan() || f <= 1e-300 {
                return None;
            }
            let ln_f = f.ln();
            g.k1[t] = g1 / f;
            g.k2[t] = g2 / f;
            g.inv_sd[t] = 1.0 / f.sqrt();
            g.log_det += ln_f;
            let n11 = (p11 - g1 * g1 / f).max(0.0);
            let n22 = (p22 - g2 * g2 / f).max(0.0);
            let bound = (n11 * n22).sqrt();
            let n12 = (p12 - g1 * g2 / f).clamp(-bound, bound);
            if t > 0
                && n11.to_bits() == c11.to_bits()
                && n12.to_bits() == c12.to_bits()
                && n22.to_bits() == c22.to_bits()
            {
                fixed = Some((g.k1[t], g.k2[t], g.inv_sd[t], ln_f));
            }
            (c11, c12, c22) = (n11, n12, n22);
        } else {
            fixed = None;
            (c11, c12, c22) = (p11, p12, p22);
        }
    }
    g.c_end = [c11, c12, c22];
    Some(g)
}

/// Run the filter over one series: whitened innovations into `out` (usable days only) and the final
/// filtered state mean. (The reference for [`whiten_rows`], which the fit uses.)
#[cfg(test)]
fn whiten(series: &[f64], obs: &[bool], g: &Gains, p: &Params, out: &mut [f64]) -> [f64; 2] {
    let (f1, f2) = (p.phi[0], p.phi[1]);
    let (mut m1, mut m2) = (0.0, 0.0);
    let mut row = 0;
    for (t, (&s, &o)) in series.iter().zip(obs).enumerate() {
        let (a1, a2) = (f1 * m1, f2 * m2);
        if o {
            let v = s - a1 - a2;
            out[row] = v * g.inv_sd[t];
            m1 = a1 + g.k1[t] * v;
            m2 = a2 + g.k2[t] * v;
            row += 1;
        } else {
            (m1, m2) = (a1, a2);
        }
    }
    [m1, m2]
}

/// [`whiten`] for every column of day-major `rows` (`stride` values per day) at once: the same
/// operations per column in the same order (so the same innovations to the bit), the columns side
/// by side so the filter's serial dependence within one column does not stall the others.
/// Innovations go day-major into `buf` (`width ≥ stride` values per usable day, the last
/// `width − stride` of each day zero), which holds a whole number of days: whenever it is full, and
/// once at the end with the days left, its filled days go to `add` (in day order), and it is
/// reused. The final filtered state means go to `m1`, `m2`.
#[expect(
    clippy::too_many_arguments,
    reason = "private kernel of one caller and its test"
)]
fn whiten_rows(
    rows: &[f64],
    stride: usize,
    width: usize,
    obs: &[bool],
    g: &Gains,
    p: &Params,
    buf: &mut [f64],
    (m1, m2): (&mut [f64], &mut [f64]),
    mut add: impl FnMut(&[f64]),
) {
    let (f1, f2) = (p.phi[0], p.phi[1]);
    let capacity = buf.len() / width;
    assert!(capacity > 0, "whiten_rows: the buffer holds no day");
    for day in buf.chunks_exact_mut(width) {
        day[stride..].fill(0.0);
    }
    m1.fill(0.0);
    m2.fill(0.0);
    let mut filled = 0;
    #[cfg(target_arch = "x86_64")]
    let avx2 = Avx2::detect();
    for (t, (x, &o)) in rows.chunks_exact(stride).zip(obs).enumerate() {
        if o {
            let gains = (g.k1[t], g.k2[t], g.inv_sd[t]);
            let dest = &mut buf[filled * width..filled * width + stride];
            let state = (&mut *m1, &mut *m2);
            #[cfg(target_arch = "x86_64")]
            match avx2 {
                Some(avx2) => whiten_day_on(avx2, dest, x, state, (f1, f2), gains),
                None => whiten_day(dest, x, state, (f1, f2), gains),
            }
            #[cfg(not(target_arch = "x86_64"))]
            whiten_day(dest, x, state, (f1, f2), gains);
            filled += 1;
            if filled == capacity {
                add(&buf[..filled * width]);
                filled = 0;
            }
        } else {
            for (a, b) in m1.iter_mut().zip(m2.iter_mut()) {
                *a *= f1;
                *b *= f2;
            }
        }
    }
    if filled > 0 {
        add(&buf[..filled * width]);
    }
}

/// One observed day of [`whiten_rows`] for every column: the innovations (scaled) into `dest`, the
/// state means `m1`, `m2` updated.
#[expect(
    clippy::inline_always,
    reason = "the AVX2 twin is this body inlined into a target_feature function"
)]
#[inline(always)]
fn whiten_day(
    dest: &mut [f64],
    x: &[f64],
    (m1, m2): (&mut [f64], &mut [f64]),
    (f1, f2): (f64, f64),
    (k1, k2, s): (f64, f64, f64),
) {
    for (((d, &xj), a), b) in dest.iter_mut().zip(x).zip(m1.iter_mut()).zip(m2.iter_mut()) {
        let a1 = f1 * *a;
        let a2 = f2 * *b;
        let v = xj - a1 - a2;
        *d = v * s;
        *a = a1 + k1 * v;
        *b = a2 + k2 * v;
    }
}

/// [`whiten_day`] compiled for AVX2, through the proof that the CPU has it.
#[cfg(target_arch = "x86_64")]
#[inline]
fn whiten_day_on(
    cpu: Avx2,
    dest: &mut [f64],
    x: &[f64],
    m: (&mut [f64], &mut [f64]),
    f: (f64, f64),
    gains: (f64, f64, f64),
) {
    // SAFETY: an `Avx2` exists only if `is_x86_feature_detected!` found AVX2 (and FMA) on this CPU
    // at run time, and says `avx512` only if it found AVX-512F too: the one requirement of calling
    // a `target_feature(enable = "avx2")`, or `"avx512f"`, function.
    #[allow(unsafe_code)]
    unsafe {
        if cpu.avx512 {
            whiten_day_avx512(dest, x, m, f, gains);
        } else {
            whiten_day_avx2(dest, x, m, f, gains);
        }
    }
}

/// [`whiten_day`] compiled for AVX2: the same multiplications and subtractions (Rust never fuses
/// them, so the same bits), four columns a register instead of two.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn whiten_day_avx2(
    dest: &mut [f64],
    x: &[f64],
    m: (&mut [f64], &mut [f64]),
    f: (f64, f64),
    gains: (f64, f64, f64),
) {
    whiten_day(dest, x, m, f, gains);
}

/// [`whiten_day`] compiled for AVX-512F: the same operations, eight columns a register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn whiten_day_avx512(
    dest: &mut [f64],
    x: &[f64],
    m: (&mut [f64], &mut [f64]),
    f: (f64, f64),
    gains: (f64, f64, f64),
) {
    whiten_day(dest, x, m, f, gains);
}

/// The regression conditional on one parameter set: everything the posterior draws need.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) params: Params,
    /// Log of the exact marginal posterior density in θ (up to a constant).
    log_density: f64,
    /// GLS coefficients β̂ (scaled columns).
    pub(crate) beta: Vec<f64>,
    /// Lower Cholesky factor L of XᵀΩ⁻¹X (row-major k × k, scaled columns).
    pub(crate) chol: Vec<f64>,
    /// Diagonal of (XᵀΩ⁻¹X)⁻¹; filled only for the nodes the posterior keeps (the diagnostics'
    /// coefficient s.d.s need it, the weights do not), empty before.
    inv_diag: Vec<f64>,
    /// GLS residual sum of squares S².
    pub(crate) s2: f64,
    /// Degrees of freedom n − k.
    pub(crate) dof: f64,
    /// Filtered state mean at the end of the pre-period: for y (`m_y`) and each column (`m_x`); given
    /// β the state mean is `m_y − Σ β_j m_x[j]`.
    pub(crate) m_y: [f64; 2],
    pub(crate) m_x: Vec<[f64; 2]>,
    /// Filtered state covariance (c11, c12, c22) at the end of the pre-period, per unit σ².
    pub(crate) c_end: [f64; 3],
}

/// Exact GLS and marginal likelihood at one parameter set. `None` if singular.
fn evaluate(data: &PreData, p: Params, log_prior: f64) -> Option<Node> {
    let k = data.k();
    let n = data.n_obs;
    let g = gains(&data.obs, &p)?;
    // Whiten every column and y in one pass (day-major, each day padded with zeros to a multiple
    // of four values), and add the cross products of [X y] by the blocked kernel a chunk of
    // GRAM_CHUNK days at a time, while the chunk is in cache (the same sums, in the same order, as
    // whitening every day first: `gram_add`).
    let stride = k + 1;
    let width = stride.div_ceil(4) * 4;
    let mut scratch = data.scratch.borrow_mut();
    let (chunk, cross) = &mut *scratch;
    chunk.resize(GRAM_CHUNK * width, 0.0);
    cross.clear();
    cross.resize(width * width, 0.0);
    let (mut m1, mut m2) = (vec![0.0; stride], vec![0.0; stride]);
    whiten_rows(
        &data.rows,
        stride,
        width,
        &data.obs,
        &g,
        &p,
        chunk,
        (&mut m1, &mut m2),
        |days| gram_add(days, width, cross),
    );
    let m_x: Vec<[f64; 2]> = m1[..k]
        .iter()
        .zip(&m2[..k])
        .map(|(a, b)| [*a, *b])
        .collect();
    let m_y = [m1[k], m2[k]];
    // The lower triangle of the cross products (row i, column j ≤ i).
    let mut gxx = vec![0.0; k * k];
    let mut gxy = vec![0.0; k];
    for i in 0..k {
        for j in 0..=i {
            let v = cross[i * width + j];
            gxx[i * k + j] = v;
            gxx[j * k + i] = v;
        }
        gxy[i] = cross[k * width + i];
    }
    let gyy = cross[k * width + k];
    drop(scratch);
    let chol = cholesky(&gxx, k)?;
    let u = forward_substitute(&chol, k, &gxy);
    let beta = back_substitute(&chol, k, &u);
    let s2 = (gyy - dot(&u, &u)).max(gyy * 1e-14).max(1e-300);
    let log_det_g: f64 = (0..k).map(|i| 2.0 * chol[i * k + i].ln()).sum();
    let dof = (n - k) as f64;
    let (log_density, s2, dof) = if p.rw {
        level_marginal(data.level_scale, p.w[0], s2, dof)
    } else {
        (-0.5 * dof * s2.ln(), s2, dof)
    };
    let log_density = -0.5 * g.log_det - 0.5 * log_det_g + log_density + log_prior;
    if !log_density.is_finite() {
        return None;
    }
    Some(Node {
        params: p,
        log_density,
        beta,
        chol,
        inv_diag: Vec::new(),
        s2,
        dof,
        m_y,
        m_x,
        c_end: g.c_end,
    })
}

/// The σ² part of the local level's marginal posterior in θ = logit ψ, and σ²'s conditional
/// posterior as `(S², dof)` with `σ² ~ S²/χ²(dof)`.
///
/// The random walk's variance `σ_η² = ψσ²` has the inverse-gamma prior `IG(a, b)`
/// ([`LEVEL_PRIOR_SHAPE`], `b` = [`PreData::level_scale`]); the white noise's `σ_ε² = (1 − ψ)σ²`
/// the same scale-invariant prior `1/σ_ε²` that σ² has in the AR models (so the models' evidence stays
/// comparable). With the Jacobians of `(σ_η², σ_ε²) → (ψ, σ²) → (θ, σ²)` the joint prior is
/// `b^a/Γ(a) · ψ^(−a) · (σ²)^(−a−1) · exp(−b/(ψσ²))`, conjugate with the likelihood
/// `(σ²)^(−h) exp(−S²/(2σ²))` (h = (n − k)/2): σ² integrates out to
/// `Γ(h + a) (S²/2 + b/ψ)^(−(h + a))`, and `σ² | θ, y ~ IG(h + a, S²/2 + b/ψ)`. The AR models'
/// `−h ln S²` omits `lnΓ(h) + h ln 2` of their own integral; the value here omits the same, so
/// the evidence of the two stays comparable.
fn level_marginal(b: f64, psi: f64, s2: f64, dof: f64) -> (f64, f64, f64) {
    let a = LEVEL_PRIOR_SHAPE;
    let h = 0.5 * dof;
    let rate = 0.5 * s2 + b / psi;
    let log = a * b.ln() - crate::numeric::ln_gamma(a) - a * psi.ln()
        + crate::numeric::ln_gamma(h + a)
        - crate::numeric::ln_gamma(h)
        - (h + a) * rate.ln()
        - h * std::f64::consts::LN_2;
    (log, 2.0 * rate, dof + 2.0 * a)
}

/// Stage 1: the profile log-likelihood of the OLS residuals under the error process plus the log
/// prior — a cheap stand-in for the exact marginal posterior (O(n), no allocation), used only to place
/// the proposals. The filter is fused with the Riccati recursion and stops updating the covariance
/// once it has converged (until the next skipped day).
fn residual_log_target(
    resid: &[f64],
    obs: &[bool],
    dof: f64,
    model: ErrorModel,
    theta: &[f64],
) -> f64 {
    residual_log_target_lanes::<1>(resid, obs, dof, model, &[theta])[0]
}

/// [`residual_log_target`] at each of `thetas` (the Hessian's points), [`TARGET_LANES`] at a time
/// in one pass over the days: each value is [`residual_log_target`]'s, with the same operations in
/// the same order (so the same bits), but the filters' chains from one day to the next overlap.
fn residual_log_targets(
    resid: &[f64],
    obs: &[bool],
    dof: f64,
    model: ErrorModel,
    thetas: &[Vec<f64>],
) -> Vec<f64> {
    let mut out = Vec::with_capacity(thetas.len());
    for group in thetas.chunks(TARGET_LANES) {
        let group: Vec<&[f64]> = group.iter().map(Vec::as_slice).collect();
        let values = residual_log_target_lanes::<TARGET_LANES>(resid, obs, dof, model, &group);
        out.extend_from_slice(&values[..group.len()]);
    }
    out
}

/// How many parameter sets [`residual_log_targets`] filters side by side.
const TARGET_LANES: usize = 4;

/// One parameter set's filter in [`residual_log_target_lanes`].
#[derive(Clone, Copy)]
struct TargetLane {
    p: Params,
    log_prior: f64,
    /// Outside the prior's support, or a non-positive innovation variance met: −∞.
    dead: bool,
    c: (f64, f64, f64),
    m: (f64, f64),
    ss: f64,
    log_det: f64,
    prod: f64,
    steady: Option<(f64, f64, f64)>,
}

/// The filter of [`residual_log_target`] for up to `L` parameter sets (`thetas.len() ≤ L`), day
/// by day, the sets side by side; values past `thetas.len()` are −∞.
fn residual_log_target_lanes<const L: usize>(
    resid: &[f64],
    obs: &[bool],
    dof: f64,
    model: ErrorModel,
    thetas: &[&[f64]],
) -> [f64; L] {
    let mut lanes: [TargetLane; L] = std::array::from_fn(|i| {
        let found = thetas.get(i).and_then(|theta| model.params(theta));
        TargetLane {
            p: found.map_or(Params::IID, |(p, _)| p),
            log_prior: found.map_or(0.0, |(_, l)| l),
            dead: found.is_none(),
            c: (0.0, 0.0, 0.0),
            m: (0.0, 0.0),
            ss: 0.0,
            log_det: 0.0,
            prod: 1.0,
            steady: None,
        }
    });
    for (t, (&observed, &r)) in obs.iter().zip(resid).enumerate() {
        for lane in &mut lanes {
            if !lane.dead {
                target_day(lane, t, observed, r);
            }
        }
    }
    std::array::from_fn(|i| {
        let lane = &lanes[i];
        if lane.dead {
            return f64::NEG_INFINITY;
        }
        let log_det = lane.log_det - lane.prod.ln();
        -0.5 * log_det - 0.5 * dof * lane.ss.max(1e-300).ln() + lane.log_prior
    })
}

/// Day `t` of one lane's filter (see [`residual_log_target`]): `observed` and the day's residual.
#[inline]
fn target_day(lane: &mut TargetLane, t: usize, observed: bool, resid: f64) {
    let p = &lane.p;
    let (f1, f2) = (p.phi[0], p.phi[1]);
    let (q1, q2) = (p.q(0), p.q(1));
    let (mut c11, mut c12, mut c22) = lane.c;
    let (m1, m2) = lane.m;
    let (a1, a2) = (f1 * m1, f2 * m2);
    if !observed {
        lane.steady = None;
        if t == 0 {
            (c11, c12, c22) = (p.w[0], 0.0, p.w[1]);
        } else {
            (c11, c12, c22) = (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2);
        }
        lane.c = (c11, c12, c22);
        lane.m = (a1, a2);
        return;
    }
    let (k1, k2, inv_f) = if let Some(s) = lane.steady {
        s
    } else {
        let (p11, p12, p22) = if t == 0 {
            (p.w[0], 0.0, p.w[1])
        } else {
            (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2)
        };
        let (g1, g2) = (p11 + p12, p12 + p22);
        let f = g1 + g2 + p.wn;
        if f.is_nan() || f <= 1e-300 {
            lane.dead = true;
            return;
        }
        let inv_f = 1.0 / f;
        let n11 = (p11 - g1 * g1 * inv_f).max(0.0);
        let n12 = p12 - g1 * g2 * inv_f;
        let n22 = (p22 - g2 * g2 * inv_f).max(0.0);
        if t > 0 && (n11 - c11).abs() + (n12 - c12).abs() + (n22 - c22).abs() < 1e-14 {
            lane.steady = Some((g1 * inv_f, g2 * inv_f, inv_f));
        }
        lane.c = (n11, n12, n22);
        (g1 * inv_f, g2 * inv_f, inv_f)
    };
    let v = resid - a1 - a2;
    lane.ss += v * v * inv_f;
    lane.prod *= inv_f;
    if !(1e-100..=1e100).contains(&lane.prod) {
        lane.log_det -= lane.prod.ln();
        lane.prod = 1.0;
    }
    lane.m = (a1 + k1 * v, a2 + k2 * v);
}

/// [`residual_log_target`] of [`ErrorModel::TwoAr1PlusNoise`] and its gradient in the coordinates
/// after θ₀ (θ₁ = logit of φ₂'s position in (−1, φ₁), θ₂ and θ₃ the log-ratios of the shares), for
/// the quasi-Newton search of each slice's conditional mode: forward-mode derivative recursions
/// carried through the same filter (covariance, gain, state mean, sum of squares and log-determinant
/// each with its three partial derivatives). `theta` holds all four coordinates; outside the prior's
/// support the value is −∞ (gradient zero).
///
/// Once the covariance is steady (the same test as [`residual_log_target`]) its derivatives are
/// frozen with it. The value is that of [`residual_log_target`] up to rounding.
fn residual_log_target_grad(
    resid: &[f64],
    obs: &[bool],
    dof: f64,
    theta: &[f64],
) -> (f64, [f64; 3]) {
    let Some((p, log_prior)) = ErrorModel::TwoAr1PlusNoise.params(theta) else {
        return (f64::NEG_INFINITY, [0.0; 3]);
    };
    let (f1, f2) = (p.phi[0], p.phi[1]);
    let (w1, w2, wn) = (p.w[0], p.w[1], p.wn);
    let (q1, q2) = (p.q(0), p.q(1));
    let s = logistic(theta[1]);
    // Partial derivatives of the filter's parameters (φ₂, w₁, w₂, w₀, q₁, q₂) in (θ₁, θ₂, θ₃).
    let df2 = [(1.0 + f1) * s * (1.0 - s), 0.0, 0.0];
    let dw1 = [0.0, w1 * (1.0 - w1), -w1 * w2];
    let dw2 = [0.0, -w1 * w2, w2 * (1.0 - w2)];
    let dwn = [0.0, -wn * w1, -wn * w2];
    let dq1: [f64; 3] = std::array::from_fn(|i| (1.0 - f1 * f1) * dw1[i]);
    let dq2: [f64; 3] = std::array::from_fn(|i| (1.0 - f2 * f2) * dw2[i] - 2.0 * w2 * f2 * df2[i]);
    // log prior: ln of the logistic density of θ₁ plus ln w₁ + ln w₂ + ln w₀.
    let dprior = [1.0 - 2.0 * s, 1.0 - 3.0 * w1, 1.0 - 3.0 * w2];
    // One prediction step of the covariance with its tangents.
    let predict = |c: [f64; 3], dc: &[[f64; 3]; 3]| -> ([f64; 3], [[f64; 3]; 3]) {
        let p = [f1 * f1 * c[0] + q1, f1 * f2 * c[1], f2 * f2 * c[2] + q2];
        let dp = [
            std::array::from_fn(|i| f1 * f1 * dc[0][i] + dq1[i]),
            std::array::from_fn(|i| f1 * (df2[i] * c[1] + f2 * dc[1][i])),
            std::array::from_fn(|i| 2.0 * f2 * df2[i] * c[2] + f2 * f2 * dc[2][i] + dq2[i]),
        ];
        (p, dp)
    };
    let start = ([w1, 0.0, w2], [dw1, [0.0; 3], dw2]);
    let (mut c, mut dc) = ([0.0; 3], [[0.0; 3]; 3]);
    let (mut m1, mut m2) = (0.0, 0.0);
    let (mut dm1, mut dm2) = ([0.0; 3], [0.0; 3]);
    let (mut ss, mut log_det, mut prod) = (0.0, 0.0, 1.0);
    let (mut dss, mut dlog_det) = ([0.0; 3], [0.0; 3]);
    // Steady: (k₁, k₂, 1/f) and their tangents, with the tangent of ln f.
    type Steady = ([f64; 3], [[f64; 3]; 4]);
    let mut steady: Option<Steady> = None;
    for t in 0..obs.len() {
        let (a1, a2) = (f1 * m1, f2 * m2);
        let da1: [f64; 3] = std::array::from_fn(|i| f1 * dm1[i]);
        let da2: [f64; 3] = std::array::from_fn(|i| df2[i] * m2 + f2 * dm2[i]);
        if !obs[t] {
            steady = None;
            (c, dc) = if t == 0 { start } else { predict(c, &dc) };
            (m1, m2, dm1, dm2) = (a1, a2, da1, da2);
            continue;
        }
        let ([k1, k2, inv_f], [dk1, dk2, dinv_f, dln_f]) = if let Some(st) = steady {
            st
        } else {
            let (pc, dp) = if t == 0 { start } else { predict(c, &dc) };
            let (g1, g2) = (pc[0] + pc[1], pc[1] + pc[2]);
            let dg1: [f64; 3] = std::array::from_fn(|i| dp[0][i] + dp[1][i]);
            let dg2: [f64; 3] = std::array::from_fn(|i| dp[1][i] + dp[2][i]);
            let f = g1 + g2 + wn;
            if f.is_nan() || f <= 1e-300 {
                return (f64::NEG_INFINITY, [0.0; 3]);
            }
            let inv_f = 1.0 / f;
            let df: [f64; 3] = std::array::from_fn(|i| dg1[i] + dg2[i] + dwn[i]);
            let dinv_f: [f64; 3] = std::array::from_fn(|i| -inv_f * inv_f * df[i]);
            let dln_f: [f64; 3] = std::array::from_fn(|i| df[i] * inv_f);
            let raw11 = pc[0] - g1 * g1 * inv_f;
            let n12 = pc[1] - g1 * g2 * inv_f;
            let raw22 = pc[2] - g2 * g2 * inv_f;
            let n = [raw11.max(0.0), n12, raw22.max(0.0)];
            let dn11: [f64; 3] = std::array::from_fn(|i| {
                if raw11 > 0.0 {
                    dp[0][i] - 2.0 * g1 * dg1[i] * inv_f - g1 * g1 * dinv_f[i]
                } else {
                    0.0
                }
            });
            let dn12: [f64; 3] = std::array::from_fn(|i| {
                dp[1][i] - (dg1[i] * g2 + g1 * dg2[i]) * inv_f - g1 * g2 * dinv_f[i]
            });
            let dn22: [f64; 3] = std::array::from_fn(|i| {
                if raw22 > 0.0 {
                    dp[2][i] - 2.0 * g2 * dg2[i] * inv_f - g2 * g2 * dinv_f[i]
                } else {
                    0.0
                }
            });
            let k = [g1 * inv_f, g2 * inv_f, inv_f];
            let dk = [
                std::array::from_fn(|i| dg1[i] * inv_f + g1 * dinv_f[i]),
                std::array::from_fn(|i| dg2[i] * inv_f + g2 * dinv_f[i]),
                dinv_f,
                dln_f,
            ];
            if t > 0 && (n[0] - c[0]).abs() + (n[1] - c[1]).abs() + (n[2] - c[2]).abs() < 1e-14 {
                steady = Some((k, dk));
            }
            (c, dc) = (n, [dn11, dn12, dn22]);
            (k, dk)
        };
        let v = resid[t] - a1 - a2;
        let dv: [f64; 3] = std::array::from_fn(|i| -da1[i] - da2[i]);
        ss += v * v * inv_f;
        prod *= inv_f;
        if !(1e-100..=1e100).contains(&prod) {
            log_det -= prod.ln();
            prod = 1.0;
        }
        dss = std::array::from_fn(|i| dss[i] + 2.0 * v * dv[i] * inv_f + v * v * dinv_f[i]);
        dlog_det = std::array::from_fn(|i| dlog_det[i] + dln_f[i]);
        dm1 = std::array::from_fn(|i| da1[i] + dk1[i] * v + k1 * dv[i]);
        dm2 = std::array::from_fn(|i| da2[i] + dk2[i] * v + k2 * dv[i]);
        m1 = a1 + k1 * v;
        m2 = a2 + k2 * v;
    }
    log_det -= prod.ln();
    let ss = ss.max(1e-300);
    let value = -0.5 * log_det - 0.5 * dof * ss.ln() + log_prior;
    let grad = std::array::from_fn(|i| -0.5 * dlog_det[i] - 0.5 * dof * dss[i] / ss + dprior[i]);
    (value, grad)
}

/// A multivariate-t proposal θ = μ + L t (r dimensions).
#[derive(Debug, Clone)]
struct Proposal {
    mean: Vec<f64>,
    /// Lower Cholesky factor (row-major r × r).
    chol: Vec<f64>,
}

impl Proposal {
    fn draw(&self, rng: &mut Sampler) -> Vec<f64> {
        let r = self.mean.len();
        let scale = (rng.chi_square(PROPOSAL_DOF) / PROPOSAL_DOF).sqrt();
        let z: Vec<f64> = (0..r).map(|_| rng.normal() / scale).collect();
        (0..r)
            .map(|i| self.mean[i] + dot(&self.chol[(i * r)..=(i * r + i)], &z[..=i]))
            .collect()
    }

    /// Log density, up to a constant shared by all proposals of the same dimension.
    fn log_density(&self, theta: &[f64]) -> f64 {
        let r = self.mean.len();
        let diff: Vec<f64> = theta.iter().zip(&self.mean).map(|(a, b)| a - b).collect();
        let t = forward_substitute(&self.chol, r, &diff);
        let log_det: f64 = (0..r).map(|i| self.chol[i * r + i].ln()).sum();
        -log_det - 0.5 * (PROPOSAL_DOF + r as f64) * (1.0 + dot(&t, &t) / PROPOSAL_DOF).ln()
    }
}

/// Proposal covariance from the Hessian of −log target: eigenvalues λ give s.d. `inflate/√λ` along
/// their axes, within [0.03, 3] (flat or non-convex directions get 3). Returns (lower Cholesky factor
/// of the proposal covariance, ½·log det of the un-inflated covariance for the Laplace mass, the
/// un-inflated covariance itself: a positive-definite inverse of the Hessian, row-major, which
/// starts the next slice's quasi-Newton search).
fn proposal_from_hessian(hess: &[f64], r: usize, inflate: f64) -> (Vec<f64>, f64, Vec<f64>) {
    if r == 0 {
        return (Vec::new(), 0.0, Vec::new());
    }
    let eig = SymmetricEigen::new(DMatrix::from_row_slice(r, r, hess));
    let mut cov = vec![0.0; r * r];
    let mut base_cov = vec![0.0; r * r];
    let mut half_log_det = 0.0;
    for (idx, &lambda) in eig.eigenvalues.iter().enumerate() {
        let base = if lambda > 1.0 / 9.0 {
            (1.0 / lambda.sqrt()).max(0.02)
        } else {
            3.0
        };
        half_log_det += base.ln();
        let sd = (inflate * base).clamp(0.03, 3.0);
        for i in 0..r {
            for j in 0..r {
                let vv = eig.eigenvectors[(i, idx)] * eig.eigenvectors[(j, idx)];
                cov[i * r + j] += sd * sd * vv;
                base_cov[i * r + j] += base * base * vv;
            }
        }
    }
    let chol = cholesky(&cov, r).unwrap_or_else(|| {
        let mut l = vec![0.0; r * r];
        for i in 0..r {
            l[i * r + i] = 1.0;
        }
        l
    });
    (chol, half_log_det, base_cov)
}

/// One slice of θ₀ = atanh φ₁ with its proposal for the other coordinates (centred on the cheap
/// target's conditional mode, shaped by its curvature) and its approximate (Laplace) log mass.
#[derive(Debug, Clone)]
struct Slice {
    a: f64,
    proposal: Proposal,
    log_mass: f64,
}

/// Where the importance sampler of another fit may start: the slices (proposals and approximate
/// masses) a fit of the same error model found with its cheap target ([`ImpactModel::start`]).
///
/// A neighbouring window of the same series (its placebo window, the backtest windows) sees
/// mostly the same days and so nearly the same error-process posterior: started from the
/// campaign fit's slices ([`ImpactModel::fit_from`]) it skips the search of each slice's
/// conditional mode and curvature (the quasi-Newton search and the finite-difference Hessian on
/// its own residuals). Its exact evaluations are the same in number and kind: every draw is still
/// weighted by the exact marginal posterior of its own data, so a start moves the proposals, not
/// the target (an importance sampler is consistent whatever its proposal; a start far from the
/// window's posterior only costs effective sample size, and the second pass re-centres each
/// slice on its exactly weighted draws).
#[derive(Debug, Clone)]
pub struct FitStart {
    model: ErrorModel,
    slices: Vec<Slice>,
}

impl FitStart {
    /// Every bit of the start, appended to `out` (little-endian; [`FitStart::from_bytes`] reads
    /// it back): for a cache of fits, where a start read back must start the next fit exactly as
    /// the one it was taken from.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        let model: u8 = match self.model {
            ErrorModel::Independent => 0,
            ErrorModel::Ar1 => 1,
            ErrorModel::Ar1PlusNoise => 2,
            ErrorModel::TwoAr1PlusNoise => 3,
            ErrorModel::LocalLevel => 4,
            ErrorModel::Auto => 5,
        };
        out.push(model);
        let r = self.slices.first().map_or(0, |s| s.proposal.mean.len());
        out.extend_from_slice(&(self.slices.len() as u32).to_le_bytes());
        out.extend_from_slice(&(r as u32).to_le_bytes());
        for s in &self.slices {
            let values = std::iter::once(s.a)
                .chain(s.proposal.mean.iter().copied())
                .chain(s.proposal.chol.iter().copied())
                .chain(std::iter::once(s.log_mass));
            for v in values {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }

    /// A start written by [`FitStart::write_bytes`] at the head of `bytes`, and the number of
    /// bytes it took; `None` when they are not one (too short, an unknown model, slices of
    /// unequal dimension).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<(FitStart, usize)> {
        let model = match *bytes.first()? {
            0 => ErrorModel::Independent,
            1 => ErrorModel::Ar1,
            2 => ErrorModel::Ar1PlusNoise,
            3 => ErrorModel::TwoAr1PlusNoise,
            4 => ErrorModel::LocalLevel,
            5 => ErrorModel::Auto,
            _ => return None,
        };
        let word = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let (n, r) = (word(1)?, word(5)?);
        let per = 2 + r + r * r;
        let len = 9usize.checked_add(n.checked_mul(per)?.checked_mul(8)?)?;
        let body = bytes.get(9..len)?;
        let values: Vec<f64> = body
            .chunks_exact(8)
            .map(|b| f64::from_bits(u64::from_le_bytes(b.try_into().unwrap_or_default())))
            .collect();
        let slices = values
            .chunks_exact(per)
            .map(|v| Slice {
                a: v[0],
                proposal: Proposal {
                    mean: v[1..=r].to_vec(),
                    chol: v[1 + r..1 + r + r * r].to_vec(),
                },
                log_mass: v[per - 1],
            })
            .collect();
        Some((FitStart { model, slices }, len))
    }
}

/// The error-process posterior as weighted nodes.
struct Posterior {
    nodes: Vec<Node>,
    weights: Vec<f64>,
    effective: f64,
    /// The slices the sampler used (`None` for models without slices of θ₀): a start for
    /// another window's fit.
    start: Option<FitStart>,
    /// Log marginal likelihood of the model (the integral of the exact marginal posterior density
    /// over θ under the normalised prior), up to a constant shared by every error model fitted to
    /// the same data and design.
    log_evidence: f64,
}

impl Posterior {
    /// The posterior of normalised weighted nodes: the nodes of weight above 1e-9 kept, their
    /// weights renormalised to sum to one, and their effective number `1 / Σ w²`.
    fn from_weighted(
        weighted: impl Iterator<Item = (Node, f64)>,
        start: Option<FitStart>,
        log_evidence: f64,
    ) -> Posterior {
        let mut nodes = Vec::new();
        let mut weights = Vec::new();
        for (node, w) in weighted {
            if w > 1e-9 {
                nodes.push(node);
                weights.push(w);
            }
        }
        let total: f64 = weights.iter().sum();
        for w in &mut weights {
            *w /= total;
        }
        let effective = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        Posterior {
            nodes,
            weights,
            effective,
            start,
            log_evidence,
        }
    }
}

impl ErrorModel {
    /// Slices of θ₀ = atanh φ₁ (their centres) and their width.
    fn slices(self) -> (Vec<f64>, f64) {
        let (lo, hi, g) = match self {
            ErrorModel::Independent | ErrorModel::Auto => return (Vec::new(), 0.0),
            ErrorModel::LocalLevel => (LL_MIN, LL_MAX, 24),
            ErrorModel::Ar1 => (A_MIN_SINGLE, A_MAX, 24),
            ErrorModel::Ar1PlusNoise => (A_MIN_SINGLE, A_MAX, 16),
            ErrorModel::TwoAr1PlusNoise => (0.0, A_MAX, 12),
        };
        let width = (hi - lo) / f64::from(g);
        (
            (0..g).map(|j| lo + (f64::from(j) + 0.5) * width).collect(),
            width,
        )
    }

    /// Default start of the other coordinates given θ₀.
    fn default_rest(self, a: f64) -> Vec<f64> {
        let logit = |p: f64| (p / (1.0 - p)).ln();
        match self {
            ErrorModel::Independent
            | ErrorModel::Ar1
            | ErrorModel::LocalLevel
            | ErrorModel::Auto => Vec::new(),
            ErrorModel::Ar1PlusNoise => vec![logit(0.3)],
            ErrorModel::TwoAr1PlusNoise => {
                let slow = a.tanh();
                let fast: f64 = 0.5f64.min(slow - 0.1);
                vec![
                    logit((fast + 1.0) / (1.0 + slow)),
                    (0.1f64 / 0.7).ln(),
                    (0.2f64 / 0.7).ln(),
                ]
            }
        }
    }
}

/// Integrate the error-process posterior: stratified over the slices of θ₀ = atanh φ₁ (the weakly
/// identified persistence), importance-sampled within each slice around the conditional mode of the
/// cheap target, every node weighted by the exact marginal posterior. With a `start` of the same
/// model and slicing (see [`FitStart`]) the slices' proposals and approximate masses are taken
/// from it instead of searched for.
fn integrate(
    data: &PreData,
    model: ErrorModel,
    start: Option<&FitStart>,
) -> Result<Posterior, ImpactError> {
    let singular = || {
        ImpactError::Numerical(
            "the regression is singular (covariates nearly collinear over the usable pre-period days)"
                .into(),
        )
    };
    let d = model.dim();
    if model == ErrorModel::LocalLevel {
        return integrate_level(data, &singular);
    }
    if d == 0 {
        let node = evaluate(data, Params::IID, 0.0).ok_or_else(singular)?;
        let log_evidence = node.log_density;
        return Ok(Posterior {
            nodes: vec![node],
            weights: vec![1.0],
            effective: 1.0,
            start: None,
            log_evidence,
        });
    }
    let (centres, width) = model.slices();
    let slices = match start {
        Some(s) if s.model == model && s.slices.len() == centres.len() => s.slices.clone(),
        _ => search_slices(data, model, &centres, &singular)?,
    };
    if slices.is_empty() {
        return Err(ImpactError::Numerical(
            "no error-process parameters fit the residuals".into(),
        ));
    }
    sample_slices(data, model, slices, width, &singular)
}

/// Stage 1 of [`integrate`]: each slice's conditional mode of the cheap target (on the OLS
/// residuals) and its curvature, as the slice's proposal and approximate log mass (slices where the
/// cheap target is not finite are left out).
fn search_slices(
    data: &PreData,
    model: ErrorModel,
    centres: &[f64],
    singular: &dyn Fn() -> ImpactError,
) -> Result<Vec<Slice>, ImpactError> {
    let d = model.dim();
    let r = d - 1;
    // OLS residuals for the cheap target.
    let ols = evaluate(data, Params::IID, 0.0).ok_or_else(singular)?;
    let k = data.k();
    let resid: Vec<f64> = (0..data.obs.len())
        .map(|t| {
            if data.obs[t] {
                data.y[t] - (0..k).map(|j| data.x[j][t] * ols.beta[j]).sum::<f64>()
            } else {
                0.0
            }
        })
        .collect();
    let dof = ols.dof;
    // Conditional modes and curvature, slice by slice (warm-started).
    let mut slices = Vec::with_capacity(centres.len());
    // The previous slice's conditional mode and inverse curvature: the next slice's start.
    let mut warm: Option<(Vec<f64>, Vec<f64>)> = None;
    for &a in centres {
        // The slice's θ₀ and the other coordinates.
        let theta_of = |rest: &[f64]| {
            let mut theta = Vec::with_capacity(d);
            theta.push(a);
            theta.extend_from_slice(rest);
            theta
        };
        let target =
            |rest: &[f64]| residual_log_target(&resid, &data.obs, dof, model, &theta_of(rest));
        // The two-AR model's cheap target has an analytic gradient: a quasi-Newton search needs a
        // handful of evaluations where Nelder–Mead needs 120–240 (Nelder–Mead stays the fallback).
        // A warm start also brings the previous slice's inverse Hessian: the first quasi-Newton
        // step is then a Newton step on the neighbour's curvature instead of a short step down the
        // gradient.
        let search = |start: &[f64], h0: Option<&[f64]>, step: f64, budget: usize| {
            if model == ErrorModel::TwoAr1PlusNoise {
                let with_gradient = |rest: &[f64]| {
                    let (v, g) = residual_log_target_grad(&resid, &data.obs, dof, &theta_of(rest));
                    (-v, g.iter().map(|x| -x).collect())
                };
                if let Some(found) = bfgs(
                    with_gradient,
                    start,
                    h0,
                    step,
                    budget / 4,
                    PROPOSAL_CENTRE_QN,
                ) {
                    return found;
                }
            }
            nelder_mead(|x| -target(x), start, step, budget, PROPOSAL_CENTRE)
        };
        let (rest, value) = if r == 0 {
            (Vec::new(), target(&[]))
        } else {
            let default = model.default_rest(a);
            let h0 = warm.as_ref().map(|(_, h)| h.as_slice());
            let mut best = match &warm {
                Some((w, _)) => search(w, h0, 0.3, 40 * r),
                None => search(&default, None, 0.5, 80 * r),
            };
            if warm.is_some() && -target(&default) < best.1 {
                let alt = search(&default, h0, 0.5, 40 * r);
                if alt.1 < best.1 {
                    best = alt;
                }
            }
            // The mass below uses the cheap target itself at the point found.
            let value = target(&best.0);
            (best.0, value)
        };
        if !value.is_finite() {
            continue;
        }
        let hess = if r > 0 {
            // At `rest` itself the Hessian's −target is −value, computed just above. Its points
            // are filtered side by side (the same values as one by one).
            let all = |points: &[Vec<f64>]| {
                let thetas: Vec<Vec<f64>> = points.iter().map(|rest| theta_of(rest)).collect();
                residual_log_targets(&resid, &data.obs, dof, model, &thetas)
                    .into_iter()
                    .map(|v| -v)
                    .collect()
            };
            hessian(all, &rest, -value, 0.02)
        } else {
            Vec::new()
        };
        let (chol, half_log_det, inverse) = proposal_from_hessian(&hess, r, 1.5);
        warm = Some((rest.clone(), inverse));
        slices.push(Slice {
            a,
            proposal: Proposal { mean: rest, chol },
            log_mass: value + half_log_det,
        });
    }
    Ok(slices)
}

/// Stages 2 and 3 of [`integrate`]: the exact evaluations in two passes over the slices.
fn sample_slices(
    data: &PreData,
    model: ErrorModel,
    slices: Vec<Slice>,
    width: f64,
    singular: &dyn Fn() -> ImpactError,
) -> Result<Posterior, ImpactError> {
    let r = model.dim() - 1;
    // Exact evaluations, two passes. Pass 1: every slice at least two draws (one for a
    // one-parameter model), 16 more by the slices' approximate mass (tempered). Pass 2: 12 more by
    // the slices' exact mass from pass 1, from proposals re-centred on each slice's exact-weighted
    // draws. Within a slice, draws from both passes are weighted against the mixture of its
    // proposals (the balance heuristic), so the estimator stays unbiased. Every fit — cold or
    // started from a neighbouring window's slices — makes the same passes, so the backtest
    // windows calibrate the estimator the campaign window uses. (Session 16: 2 + 16, then 12 — 52
    // for the two-AR model's 12 slices — where 2 + 24, then 32 made 80; `evaluate --seeds 1,2`
    // unchanged within its noise, benchmarks/UPLIFT.md. One draw a slice moved the MAE by +0.02 pp
    // and, with started fits alone re-centred on the start's exact draws (session 15), the
    // backtest calibrated a wider estimator than the campaign's.)
    let mut pool = Pool {
        rng: Sampler::new(PROPOSAL_SEED),
        draws: Vec::new(),
        proposals: slices.iter().map(|_| Vec::new()).collect(),
    };
    let (floor, budget) = if r == 0 { (1, 0) } else { (2, 16) };
    let max_mass = slices
        .iter()
        .map(|s| s.log_mass)
        .fold(f64::NEG_INFINITY, f64::max);
    let tempered: Vec<f64> = slices
        .iter()
        .map(|s| (0.5 * (s.log_mass - max_mass)).exp())
        .collect();
    let total_t: f64 = tempered.iter().sum();
    for (j, slice) in slices.iter().enumerate() {
        let m = floor + (f64::from(budget) * tempered[j] / total_t).round() as usize;
        let proposal = Proposal {
            mean: slice.proposal.mean.clone(),
            chol: slice.proposal.chol.clone(),
        };
        pool.sample(data, model, (slice.a, width), j, proposal, m);
    }
    if r > 0 {
        let weights = pool_weights(&pool.draws, &pool.proposals, width);
        let mut mass = vec![0.0; slices.len()];
        let mut centre: Vec<Vec<f64>> = vec![vec![0.0; r]; slices.len()];
        for (draw, w) in pool.draws.iter().zip(&weights) {
            mass[draw.slice] += w;
            for (c, x) in centre[draw.slice].iter_mut().zip(&draw.rest) {
                *c += w * x;
            }
        }
        let tempered: Vec<f64> = mass.iter().map(|m| m.powf(0.7)).collect();
        let total_t: f64 = tempered.iter().sum();
        for (j, slice) in slices.iter().enumerate() {
            let m = (12.0 * tempered[j] / total_t).round() as usize;
            if m == 0 || mass[j] <= 0.0 {
                continue;
            }
            let proposal = Proposal {
                mean: centre[j].iter().map(|c| c / mass[j]).collect(),
                chol: slice.proposal.chol.clone(),
            };
            pool.sample(data, model, (slice.a, width), j, proposal, m);
        }
    }
    let (weights, log_total) = pool_weights_with_total(&pool.draws, &pool.proposals, width);
    if !weights.iter().any(|w| *w > 0.0) {
        return Err(singular());
    }
    // The proposals' multivariate-t densities omit their normalising constant (shared by all of
    // them); the evidence needs it.
    let log_t_norm = if r > 0 {
        let (nu, rf) = (PROPOSAL_DOF, r as f64);
        crate::numeric::ln_gamma(0.5 * (nu + rf))
            - crate::numeric::ln_gamma(0.5 * nu)
            - 0.5 * rf * (nu * std::f64::consts::PI).ln()
    } else {
        0.0
    };
    let log_evidence = log_total - log_t_norm + model.log_prior_norm();
    Ok(Posterior::from_weighted(
        pool.draws
            .into_iter()
            .zip(weights)
            .map(|(d, w)| (d.node, w)),
        Some(FitStart { model, slices }),
        log_evidence,
    ))
}

/// Coarse cells of θ = logit ψ over [`LL_MIN`, `LL_MAX`] for the local level.
const LL_CELLS: u32 = 16;
/// Sub-cells each of the three coarse cells around the heaviest one is split into (odd, so the
/// middle one reuses the coarse cell's evaluation).
const LL_FINE: u32 = 5;

/// The local level's posterior over its one parameter θ = logit ψ by the midpoint rule: the exact
/// marginal density at the centres of [`LL_CELLS`] cells, then the heaviest cell and its two
/// neighbours each split into [`LL_FINE`] (cells of 0.3 in θ, about the posterior's s.d. under the
/// inverse-gamma prior; the midpoint rule's error on a normal bump of s.d. σ with cells of σ is
/// of the order e^(−2π²) ≈ 3e-9 of its mass). Deterministic: 28 exact evaluations, no random
/// draws; the evidence is the rule's sum.
fn integrate_level(
    data: &PreData,
    singular: &dyn Fn() -> ImpactError,
) -> Result<Posterior, ImpactError> {
    let model = ErrorModel::LocalLevel;
    let width = (LL_MAX - LL_MIN) / f64::from(LL_CELLS);
    let eval = |a: f64| {
        model
            .params(&[a])
            .and_then(|(p, log_prior)| evaluate(data, p, log_prior))
    };
    let mut coarse: Vec<(f64, Option<Node>)> = (0..LL_CELLS)
        .map(|j| {
            let a = LL_MIN + (f64::from(j) + 0.5) * width;
            (a, eval(a))
        })
        .collect();
    let best = coarse
        .iter()
        .enumerate()
        .filter_map(|(j, (_, node))| node.as_ref().map(|n| (j, n.log_density)))
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(j, _)| j)
        .ok_or_else(singular)?;
    let refine = best.saturating_sub(1)..(best + 2).min(coarse.len());
    let fine = width / f64::from(LL_FINE);
    let mut nodes: Vec<(Node, f64)> = Vec::new();
    for (j, (a, node)) in coarse.iter_mut().enumerate() {
        if !refine.contains(&j) {
            if let Some(node) = node.take() {
                nodes.push((node, width));
            }
            continue;
        }
        for i in 0..LL_FINE {
            let sub = if i == LL_FINE / 2 {
                node.take()
            } else {
                eval(*a - 0.5 * width + (f64::from(i) + 0.5) * fine)
            };
            if let Some(sub) = sub {
                nodes.push((sub, fine));
            }
        }
    }
    let logs: Vec<f64> = nodes.iter().map(|(n, w)| n.log_density + w.ln()).collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return Err(singular());
    }
    let raw: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = raw.iter().sum();
    let log_evidence = max + sum.ln() + model.log_prior_norm();
    Ok(Posterior::from_weighted(
        nodes
            .into_iter()
            .zip(raw)
            .map(|((node, _), w)| (node, w / sum)),
        None,
        log_evidence,
    ))
}

/// One exact evaluation of the importance sampler.
struct Draw {
    slice: usize,
    rest: Vec<f64>,
    node: Node,
}

/// The importance-sampling draws so far, the proposals (with their draw counts) each slice's draws
/// came from, and the generator that draws them.
struct Pool {
    rng: Sampler,
    draws: Vec<Draw>,
    proposals: Vec<Vec<(Proposal, usize)>>,
}

impl Pool {
    /// Draw `m` times from `proposal` in slice `j` (see [`sample_slice`]) and record the proposal.
    fn sample(
        &mut self,
        data: &PreData,
        model: ErrorModel,
        centre_width: (f64, f64),
        j: usize,
        proposal: Proposal,
        m: usize,
    ) {
        sample_slice(
            data,
            model,
            centre_width,
            j,
            &proposal,
            m,
            &mut self.rng,
            &mut self.draws,
        );
        self.proposals[j].push((proposal, m));
    }
}

/// Draw `m` points of slice `slice` — θ₀ uniform on `[centre − width/2, centre + width/2]`, the
/// other coordinates from `proposal` — and evaluate them exactly.
#[expect(clippy::too_many_arguments, reason = "private helper of one caller")]
fn sample_slice(
    data: &PreData,
    model: ErrorModel,
    (centre, width): (f64, f64),
    slice: usize,
    proposal: &Proposal,
    m: usize,
    rng: &mut Sampler,
    pool: &mut Vec<Draw>,
) {
    for _ in 0..m {
        let a = centre + width * (rng.uniform() - 0.5);
        let rest = if proposal.mean.is_empty() {
            Vec::new()
        } else {
            proposal.draw(rng)
        };
        let mut theta = Vec::with_capacity(1 + rest.len());
        theta.push(a);
        theta.extend_from_slice(&rest);
        if let Some((p, log_prior)) = model.params(&theta)
            && let Some(node) = evaluate(data, p, log_prior)
        {
            pool.push(Draw { slice, rest, node });
        }
    }
}

/// Normalised importance weights: slice width × exact density over the mixture of the slice's
/// proposals (each weighted by its number of draws); θ₀ is uniform within its slice, density
/// 1/width.
fn pool_weights(pool: &[Draw], proposals: &[Vec<(Proposal, usize)>], width: f64) -> Vec<f64> {
    pool_weights_with_total(pool, proposals, width).0
}

/// [`pool_weights`] and the log of the unnormalised total, the importance-sampling estimate of the
/// integral of the exact density over θ (multiple importance sampling with the balance heuristic:
/// each slice's draws estimate its integral by `Σ f·width / Σ_m m·q_m`).
fn pool_weights_with_total(
    pool: &[Draw],
    proposals: &[Vec<(Proposal, usize)>],
    width: f64,
) -> (Vec<f64>, f64) {
    let logs: Vec<f64> = pool
        .iter()
        .map(|d| {
            let mix: f64 = proposals[d.slice]
                .iter()
                .map(|(q, m)| {
                    let log_q = if d.rest.is_empty() {
                        0.0
                    } else {
                        q.log_density(&d.rest)
                    };
                    *m as f64 * log_q.exp()
                })
                .sum();
            d.node.log_density + width.ln() - mix.ln()
        })
        .collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return (vec![0.0; pool.len()], f64::NEG_INFINITY);
    }
    let raw: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = raw.iter().sum();
    (raw.into_iter().map(|w| w / sum).collect(), max + sum.ln())
}

/// A fitted counterfactual model: the posterior of the regression on the pre-period.
///
/// Build with [`ImpactModel::fit`], then draw the counterfactual of any later period with
/// [`ImpactModel::counterfactual`] and compare it with what was observed
/// ([`Counterfactual::impact`]).
#[derive(Debug, Clone)]
pub struct ImpactModel {
    options: ImpactOptions,
    names: Vec<String>,
    design_names: Vec<String>,
    len: usize,
    scales: Vec<f64>,
    pre: Range<usize>,
    nodes: Vec<Node>,
    cumulative: Vec<f64>,
    diagnostics: Diagnostics,
    start: Option<FitStart>,
}

impl ImpactModel {
    /// Fit the regression of `y` on the design over the pre-period.
    ///
    /// `y` has T values (the design's length); `NaN` marks a missing day. Days of `pre` with a missing
    /// response or covariate are skipped (the error process runs through them).
    ///
    /// # Errors
    /// Length mismatches, an empty or out-of-range pre-period, too few usable pre-period days for the
    /// number of parameters, non-positive responses on the log scale, constant or collinear
    /// covariates over the pre-period, invalid options.
    pub fn fit(
        y: &[f64],
        design: &Design,
        pre: Range<usize>,
        options: &ImpactOptions,
    ) -> Result<ImpactModel, ImpactError> {
        ImpactModel::fit_from(y, design, pre, options, None)
    }

    /// [`ImpactModel::fit`], its importance sampler started from another fit's slices
    /// ([`ImpactModel::start`] of a fit of the same series on a neighbouring window; see
    /// [`FitStart`]). A start of another error model or slicing is ignored; `None` is
    /// [`ImpactModel::fit`].
    ///
    /// # Errors
    /// As [`ImpactModel::fit`].
    pub fn fit_from(
        y: &[f64],
        design: &Design,
        pre: Range<usize>,
        options: &ImpactOptions,
        start: Option<&FitStart>,
    ) -> Result<ImpactModel, ImpactError> {
        options.validate()?;
        if y.len() != design.len() {
            return Err(ImpactError::LengthMismatch {
                what: "response".into(),
                expected: design.len(),
                found: y.len(),
            });
        }
        if pre.start >= pre.end || pre.end > y.len() {
            return Err(ImpactError::InvalidPeriod {
                which: "pre",
                start: pre.start,
                end: pre.end,
                reason: format!(
                    "must be a non-empty range within the {} time points",
                    y.len()
                ),
            });
        }
        let mut names = Vec::new();
        let mut columns: Vec<&[f64]> = Vec::new();
        let ones = vec![1.0; y.len()];
        if options.intercept {
            names.push("(intercept)".to_string());
            columns.push(&ones);
        }
        for j in 0..design.n_columns() {
            names.push(design.names()[j].clone());
            columns.push(design.column(j));
        }
        let k = columns.len();
        if k == 0 {
            return Err(ImpactError::InvalidOption(
                "the model has no coefficient: add covariates or the intercept".into(),
            ));
        }
        let mut obs = Vec::with_capacity(pre.len());
        let mut ym = Vec::with_capacity(pre.len());
        for t in pre.clone() {
            let v = y[t];
            if v.is_infinite() {
                return Err(ImpactError::NonFinite {
                    what: "response".into(),
                    index: t,
                });
            }
            if options.log && v <= 0.0 {
                return Err(ImpactError::NonPositive {
                    what: "response".into(),
                    index: t,
                    value: v,
                });
            }
            let v = if options.log { v.ln() } else { v };
            let ok = v.is_finite() && columns.iter().all(|c| c[t].is_finite());
            obs.push(ok);
            ym.push(if ok { v } else { 0.0 });
        }
        let n_obs = obs.iter().filter(|o| **o).count();
        let needed = k + options.errors.dim() + 5;
        if n_obs < needed {
            return Err(ImpactError::PrePeriodTooShort {
                observed: n_obs,
                parameters: k,
                needed,
            });
        }
        // Scale, constant and collinearity checks on the usable rows.
        let rows: Vec<usize> = pre
            .clone()
            .zip(&obs)
            .filter(|(_, o)| **o)
            .map(|(t, _)| t)
            .collect();
        let scales = match check_columns(&columns, &rows) {
            Checked::Scales(scales) => scales,
            Checked::Constant(j) => {
                return Err(ImpactError::ConstantCovariate {
                    name: names[j].clone(),
                    value: columns[j][rows[0]],
                });
            }
            Checked::Collinear(j) => {
                return Err(ImpactError::CollinearCovariate {
                    name: names[j].clone(),
                });
            }
        };
        let x: Vec<Vec<f64>> = columns
            .iter()
            .zip(&scales)
            .map(|(c, s)| {
                pre.clone()
                    .zip(&obs)
                    .map(|(t, &o)| if o { c[t] / s } else { 0.0 })
                    .collect()
            })
            .collect();
        let data = PreData::new(obs, ym, x, n_obs);
        let (posterior, model, model_scores) = if options.errors == ErrorModel::Auto {
            // Choose between the stationary AR errors and CausalImpact's local level by their
            // evidence on the pre-period: the product of one-step-ahead predictive densities
            // p(y_t | y_<t) with the parameters integrated over their posterior.
            let mut best: Option<(Posterior, ErrorModel)> = None;
            let mut scores = Vec::new();
            let mut slices = None;
            for model in [ErrorModel::TwoAr1PlusNoise, ErrorModel::LocalLevel] {
                let mut post = integrate(&data, model, start)?;
                slices = slices.or_else(|| post.start.take());
                scores.push((model, post.log_evidence));
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| post.log_evidence > b.log_evidence)
                {
                    best = Some((post, model));
                }
            }
            let (mut post, model) = best.expect("two candidate models");
            post.start = slices;
            (post, model, scores)
        } else {
            let post = integrate(&data, options.errors, start)?;
            let score = post.log_evidence;
            (post, options.errors, vec![(options.errors, score)])
        };
        let mut posterior = posterior;
        for node in &mut posterior.nodes {
            node.inv_diag = inverse_diagonal(&node.chol, k);
        }
        let mut diagnostics = diagnostics(&data, &posterior, &names, &scales, options);
        diagnostics.error_model = model;
        diagnostics.model_scores = model_scores;
        let mut acc = 0.0;
        let cumulative = posterior
            .weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(ImpactModel {
            options: options.clone(),
            names,
            design_names: design.names().to_vec(),
            len: y.len(),
            scales,
            pre,
            nodes: posterior.nodes,
            cumulative,
            diagnostics,
            start: posterior.start,
        })
    }

    /// The slices this fit's importance sampler used, to start the fit of a neighbouring window
    /// ([`ImpactModel::fit_from`]); `None` for error models without slices (independent errors,
    /// the local level).
    pub fn start(&self) -> Option<&FitStart> {
        self.start.as_ref()
    }

    /// Fit diagnostics (pre-period R², MAPE, residual autocorrelation, error process, coefficients).
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// The options the model was fitted with.
    pub fn options(&self) -> &ImpactOptions {
        &self.options
    }

    /// Draw the counterfactual over `post` (which must start at or after the end of the pre-period)
    /// from the posterior predictive: `options.draws` paths, seeded by `options.seed`.
    ///
    /// `design` must be the one the model was fitted with (same length and columns).
    ///
    /// # Errors
    /// [`ImpactError::InvalidPeriod`], [`ImpactError::LengthMismatch`] for another design,
    /// [`ImpactError::MissingCovariate`] if a covariate is missing in the post-period.
    pub fn counterfactual(
        &self,
        design: &Design,
        post: Range<usize>,
    ) -> Result<Counterfactual, ImpactError> {
        self.counterfactual_skipping(design, post, None)
    }

    /// As [`ImpactModel::counterfactual`], but a post-period day whose response is missing
    /// (`NaN` in `actual`, one value per post-period day) may also lack covariates: it is a missing
    /// day, carried through by the error process but not predicted (`NaN` draws) and not scored.
    ///
    /// # Errors
    /// As [`ImpactModel::counterfactual`] (a covariate missing on a day with a response is still an
    /// error).
    pub fn counterfactual_observed(
        &self,
        design: &Design,
        post: Range<usize>,
        actual: &[f64],
    ) -> Result<Counterfactual, ImpactError> {
        if actual.len() != post.len() {
            return Err(ImpactError::LengthMismatch {
                what: "post-period response".into(),
                expected: post.len(),
                found: actual.len(),
            });
        }
        self.counterfactual_skipping(design, post, Some(actual))
    }

    fn counterfactual_skipping(
        &self,
        design: &Design,
        post: Range<usize>,
        actual: Option<&[f64]>,
    ) -> Result<Counterfactual, ImpactError> {
        if design.len() != self.len || design.names() != self.design_names.as_slice() {
            return Err(ImpactError::LengthMismatch {
                what: "design (not the one the model was fitted with)".into(),
                expected: self.len,
                found: design.len(),
            });
        }
        if post.start >= post.end || post.end > self.len || post.start < self.pre.end {
            return Err(ImpactError::InvalidPeriod {
                which: "post",
                start: post.start,
                end: post.end,
                reason: format!(
                    "must be a non-empty range within the {} time points starting at or after the end of the pre-period ({})",
                    self.len, self.pre.end
                ),
            });
        }
        let k = self.names.len();
        let horizon = post.len();
        let intercept = usize::from(self.options.intercept);
        let mut x = vec![0.0; horizon * k];
        for (i, t) in post.clone().enumerate() {
            let row = &mut x[i * k..(i + 1) * k];
            if intercept == 1 {
                row[0] = 1.0 / self.scales[0];
            }
            let missing_day = actual.is_some_and(|a| a[i].is_nan());
            for (j, v) in design.row(t).enumerate() {
                if !v.is_finite() && !missing_day {
                    return Err(ImpactError::MissingCovariate {
                        name: self.design_names[j].clone(),
                        index: t,
                    });
                }
                row[intercept + j] = v / self.scales[intercept + j];
            }
        }
        let draws = self.options.draws;
        let mut samples = vec![0.0; draws * horizon];
        let mut rng = Sampler::new(self.options.seed);
        // The draws go [`PATH_BATCH`] at a time: a batch's variates are taken from the stream in
        // the order of one draw after the other (the node's uniform, σ²'s chi-square, the k
        // coefficient normals, the two state normals, then three shocks a day, each already
        // scaled: [`ImpactModel::draw_variates`]), then its paths are computed
        // ([`ImpactModel::batch_paths`]). With two threads or more, one thread draws the next
        // batch's variates while another computes this batch's paths; the stream and every path's
        // arithmetic are the same either way: the same bits.
        let steps = post.end - self.pre.end;
        let cx = PathContext {
            x: &x,
            k,
            steps,
            horizon,
            post: post.clone(),
        };
        let batches = draws.div_ceil(PATH_BATCH);
        if self.options.threads < 2 || batches < 2 {
            let mut batch = Batch::new(k, steps);
            for first in (0..draws).step_by(PATH_BATCH) {
                self.draw_variates(&mut batch, first, &mut rng, &cx);
                self.batch_paths(&batch, &cx, &mut samples);
            }
        } else {
            // One thread draws the next batch's variates while this one computes a batch's paths.
            // Three batches circulate: one being drawn, one waiting, one being computed.
            use std::sync::mpsc::sync_channel;
            let (full_tx, full_rx) = sync_channel::<Batch>(3);
            let (empty_tx, empty_rx) = sync_channel::<Batch>(3);
            for _ in 0..3 {
                let _ = empty_tx.send(Batch::new(k, steps));
            }
            let cx = &cx;
            std::thread::scope(|scope| {
                let drawing = scope.spawn(move || {
                    for first in (0..draws).step_by(PATH_BATCH) {
                        // Closed only when this thread's receiver is gone: nothing to draw for.
                        let Ok(mut batch) = empty_rx.recv() else {
                            break;
                        };
                        self.draw_variates(&mut batch, first, &mut rng, cx);
                        if full_tx.send(batch).is_err() {
                            break;
                        }
                    }
                });
                // Ends when the drawing thread has sent its last batch (or panicked: re-raised
                // by the join below).
                for batch in full_rx {
                    self.batch_paths(&batch, cx, &mut samples);
                    let _ = empty_tx.send(batch);
                }
                if let Err(panic) = drawing.join() {
                    std::panic::resume_unwind(panic);
                }
            });
        }
        Ok(Counterfactual::new(
            self.pre.clone(),
            post,
            draws,
            samples,
            self.diagnostics.clone(),
        )
        .with_threads(self.options.threads))
    }

    /// The variates of draws `first..` (up to [`PATH_BATCH`] of them) into `batch`, taken from the
    /// stream in the order of one draw after the other.
    fn draw_variates(&self, batch: &mut Batch, first: usize, rng: &mut Sampler, cx: &PathContext) {
        let (k, steps) = (cx.k, cx.steps);
        let count = (self.options.draws - first).min(PATH_BATCH);
        batch.first = first;
        batch.count = count;
        for b in 0..count {
            let u = rng.uniform();
            let idx = self
                .cumulative
                .partition_point(|c| *c < u)
                .min(self.nodes.len() - 1);
            let node = &self.nodes[idx];
            let p = node.params;
            let sigma = (node.s2 / rng.chi_square(node.dof)).sqrt();
            for v in &mut batch.z[b * k..(b + 1) * k] {
                *v = rng.normal();
            }
            batch.e_of[b] = [rng.normal(), rng.normal()];
            let scales = [
                sigma * p.q(0).max(0.0).sqrt(),
                sigma * p.q(1).max(0.0).sqrt(),
                sigma * p.wn.max(0.0).sqrt(),
            ];
            // The local level's second state component has no innovation: it draws no variate
            // (the other models keep their stream of three a day).
            for day in batch.shocks[b * steps * 3..(b + 1) * steps * 3].chunks_exact_mut(3) {
                for (v, scale) in day.iter_mut().zip(scales) {
                    *v = if scale > 0.0 || !p.rw {
                        scale * rng.normal()
                    } else {
                        0.0
                    };
                }
            }
            batch.node_of[b] = idx;
            batch.sigma_of[b] = sigma;
        }
    }

    /// The paths of a batch's draws into `samples`, [`LANES`] draws side by side: four independent
    /// chains where one draw's solve and dot products each waited on the addition before. Every
    /// lane's arithmetic is one draw's, in the same order: the same bits.
    fn batch_paths(&self, batch: &Batch, cx: &PathContext, samples: &mut [f64]) {
        let (k, steps, horizon) = (cx.k, cx.steps, cx.horizon);
        let mut beta = [0.0; LANES].repeat(k);
        for group in (0..batch.count).step_by(LANES) {
            let lanes = (batch.count - group).min(LANES);
            // Lanes past the batch's last draw take the group's first draw's node, scale and state
            // variates, and whatever coefficient and shock variates their slots hold; each lane's
            // arithmetic is its own, and these lanes are not kept.
            let src = |lane: usize| if lane < lanes { group + lane } else { group };
            let nodes: [&Node; LANES] =
                std::array::from_fn(|lane| &self.nodes[batch.node_of[src(lane)]]);
            let dev = back_substitute_lanes(
                std::array::from_fn(|lane| nodes[lane].chol.as_slice()),
                k,
                &batch.z[group * k..(group + LANES) * k],
            );
            let mut s1 = [0.0; LANES];
            let mut s2 = [0.0; LANES];
            for lane in 0..LANES {
                let node = nodes[lane];
                let sigma = batch.sigma_of[src(lane)];
                let b = &mut beta[lane * k..(lane + 1) * k];
                for ((b, hat), e) in b.iter_mut().zip(&node.beta).zip(&dev[lane * k..]) {
                    *b = hat + sigma * e;
                }
                // State at the end of the pre-period: N(m_y − Σ β_j m_x[j], σ² C).
                let mut mean = node.m_y;
                for (m, b) in node.m_x.iter().zip(b.iter()) {
                    mean[0] -= b * m[0];
                    mean[1] -= b * m[1];
                }
                let [c11, c12, c22] = node.c_end;
                let l11 = c11.max(0.0).sqrt();
                let l21 = if l11 > 0.0 { c12 / l11 } else { 0.0 };
                let l22 = (c22 - l21 * l21).max(0.0).sqrt();
                let [e1, e2] = batch.e_of[src(lane)];
                s1[lane] = mean[0] + sigma * l11 * e1;
                s2[lane] = mean[1] + sigma * (l21 * e1 + l22 * e2);
            }
            let phi: [[f64; 2]; LANES] = std::array::from_fn(|lane| nodes[lane].params.phi);
            let shocks = &batch.shocks[group * steps * 3..(group + LANES) * steps * 3];
            for (step, t) in (self.pre.end..cx.post.end).enumerate() {
                let mut eps = [0.0; LANES];
                for lane in 0..LANES {
                    let day = &shocks[(lane * steps + step) * 3..(lane * steps + step) * 3 + 3];
                    s1[lane] = phi[lane][0] * s1[lane] + day[0];
                    s2[lane] = phi[lane][1] * s2[lane] + day[1];
                    eps[lane] = day[2];
                }
                if t >= cx.post.start {
                    let i = t - cx.post.start;
                    let fitted = dot_lanes(&cx.x[i * k..(i + 1) * k], &beta, k);
                    for lane in 0..lanes {
                        samples[(batch.first + group + lane) * horizon + i] =
                            fitted[lane] + s1[lane] + s2[lane] + eps[lane];
                    }
                }
            }
        }
        // On the log scale, the batch's values back to the series' scale in a pass of their own:
        // the same `exp` of the same values, where a call inside the loop above made the lanes'
        // states go through memory around each call (no vector register survives a call).
        if self.options.log {
            let rows = batch.first * horizon..(batch.first + batch.count) * horizon;
            for v in &mut samples[rows] {
                *v = v.exp();
            }
        }
    }
}

/// Posterior draws per batch of [`ImpactModel::counterfactual`] (a multiple of [`LANES`]).
const PATH_BATCH: usize = 16 * LANES;

/// What every batch of counterfactual paths shares: the post-period's scaled design rows
/// (`horizon × k`), the days the state runs from the pre-period's end, the post-period.
struct PathContext<'a> {
    x: &'a [f64],
    k: usize,
    steps: usize,
    horizon: usize,
    post: Range<usize>,
}

/// The variates of up to [`PATH_BATCH`] posterior draws (draws `first..first + count`).
struct Batch {
    first: usize,
    count: usize,
    node_of: [usize; PATH_BATCH],
    sigma_of: [f64; PATH_BATCH],
    e_of: [[f64; 2]; PATH_BATCH],
    /// Coefficient normals, `k` a draw.
    z: Vec<f64>,
    /// Scaled shocks, three a day of `steps` a draw.
    shocks: Vec<f64>,
}

impl Batch {
    fn new(k: usize, steps: usize) -> Batch {
        Batch {
            first: 0,
            count: 0,
            node_of: [0; PATH_BATCH],
            sigma_of: [0.0; PATH_BATCH],
            e_of: [[0.0; 2]; PATH_BATCH],
            z: vec![0.0; PATH_BATCH * k],
            shocks: vec![0.0; PATH_BATCH * steps * 3],
        }
    }
}

fn diagnostics(
    data: &PreData,
    posterior: &Posterior,
    names: &[String],
    scales: &[f64],
    options: &ImpactOptions,
) -> Diagnostics {
    let w = &posterior.weights;
    let nodes = &posterior.nodes;
    let mean = |f: &dyn Fn(&Node) -> f64| nodes.iter().zip(w).map(|(n, w)| w * f(n)).sum::<f64>();
    let sd = |f: &dyn Fn(&Node) -> f64| {
        let m = mean(f);
        (mean(&|n| f(n) * f(n)) - m * m).max(0.0).sqrt()
    };
    let sigma2 = mean(&|n| n.s2 / (n.dof - 2.0).max(1.0));
    let k = names.len();
    let coefficients = (0..k)
        .map(|j| {
            let m = mean(&|n| n.beta[j]);
            let second =
                mean(&|n| n.s2 / (n.dof - 2.0).max(1.0) * n.inv_diag[j] + n.beta[j] * n.beta[j]);
            Coefficient {
                name: names[j].clone(),
                mean: m / scales[j],
                sd: (second - m * m).max(0.0).sqrt() / scales[j],
            }
        })
        .collect();
    // Static fit (covariates only) at the heaviest node.
    let mode = w
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    let beta = &nodes[mode].beta;
    let mut resid: Vec<Option<f64>> = Vec::with_capacity(data.obs.len());
    let (mut ss_res, mut ys, mut ape, mut ape_n) = (0.0, Vec::new(), 0.0, 0usize);
    for t in 0..data.obs.len() {
        if !data.obs[t] {
            resid.push(None);
            continue;
        }
        let fit: f64 = (0..k).map(|j| data.x[j][t] * beta[j]).sum();
        let r = data.y[t] - fit;
        ss_res += r * r;
        ys.push(data.y[t]);
        resid.push(Some(r));
        let (actual, fitted) = if options.log {
            (data.y[t].exp(), fit.exp())
        } else {
            (data.y[t], fit)
        };
        if actual != 0.0 {
            ape += ((fitted - actual) / actual).abs();
            ape_n += 1;
        }
    }
    let ybar = ys.iter().sum::<f64>() / ys.len() as f64;
    let ss_tot: f64 = ys.iter().map(|v| (v - ybar) * (v - ybar)).sum();
    let rbar = resid.iter().flatten().sum::<f64>() / ys.len() as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, r) in resid.iter().enumerate() {
        if let Some(r) = r {
            den += (r - rbar) * (r - rbar);
            if let Some(Some(next)) = resid.get(i + 1) {
                num += (r - rbar) * (next - rbar);
            }
        }
    }
    Diagnostics {
        pre_days: data.n_obs,
        parameters: k,
        r_squared: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            f64::NAN
        },
        mape: if ape_n > 0 {
            ape / ape_n as f64
        } else {
            f64::NAN
        },
        residual_lag1: if den > 0.0 { num / den } else { f64::NAN },
        phi: [mean(&|n| n.params.phi[0]), mean(&|n| n.params.phi[1])],
        phi_sd: [sd(&|n| n.params.phi[0]), sd(&|n| n.params.phi[1])],
        shares: [
            mean(&|n| n.params.w[0]),
            mean(&|n| n.params.w[1]),
            mean(&|n| n.params.wn),
        ],
        sigma: sigma2.sqrt(),
        error_model: options.errors,
        model_scores: Vec::new(),
        log: options.log,
        effective_nodes: posterior.effective,
        coefficients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense Ω of the error process over `len` consecutive days.
    fn dense_omega(p: &Params, len: usize) -> Vec<f64> {
        let mut o = vec![0.0; len * len];
        for i in 0..len {
            for j in 0..len {
                let lag = i.abs_diff(j) as i32;
                o[i * len + j] = p.w[0] * p.phi[0].powi(lag)
                    + p.w[1] * p.phi[1].powi(lag)
                    + if i == j { p.wn } else { 0.0 };
            }
        }
        o
    }

    /// Lower Cholesky factor of Ω restricted to the observed days of `obs`, and those days.
    fn dense_factor(p: &Params, obs: &[bool]) -> (Vec<f64>, Vec<usize>) {
        let len = obs.len();
        let full = dense_omega(p, len);
        let idx: Vec<usize> = (0..len).filter(|&t| obs[t]).collect();
        let n = idx.len();
        let mut o = vec![0.0; n * n];
        for (a, &i) in idx.iter().enumerate() {
            for (b, &j) in idx.iter().enumerate() {
                o[a * n + b] = full[i * len + j];
            }
        }
        (cholesky(&o, n).unwrap(), idx)
    }

    /// A stationary two-AR parameter set.
    fn params(phi: [f64; 2], w: [f64; 2], wn: f64) -> Params {
        Params {
            phi,
            w,
            wn,
            rw: false,
        }
    }

    #[test]
    fn remembered_column_checks_are_the_checks() {
        let n = 400;
        let ones = vec![1.0; n];
        let a: Vec<f64> = (0..n).map(|t| (t as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n).map(|t| (t as f64 * 0.011).cos() + 0.5).collect();
        let twice_a: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let zeros = vec![0.0; n];
        let rows: Vec<usize> = (0..n).filter(|t| t % 7 != 3).collect();
        for columns in [
            vec![&ones[..], &a[..], &b[..]],
            vec![&ones[..], &a[..], &twice_a[..]],
            vec![&ones[..], &zeros[..], &a[..]],
            vec![&ones[..], &a[..], &ones[..]],
        ] {
            let fresh = check_columns_now(&columns, &rows);
            assert_eq!(check_columns(&columns, &rows), fresh);
            assert_eq!(check_columns(&columns, &rows), fresh, "from memory");
        }
        assert!(matches!(
            check_columns(&[&ones[..], &a[..], &twice_a[..]], &rows),
            Checked::Collinear(2)
        ));
        assert!(matches!(
            check_columns(&[&ones[..], &a[..], &ones[..]], &rows),
            Checked::Constant(2)
        ));
        // The same columns over other days are checked again, not mistaken for the first.
        let fewer: Vec<usize> = rows.iter().copied().filter(|t| t % 2 == 0).collect();
        let Checked::Scales(all) = check_columns(&[&ones[..], &a[..], &b[..]], &rows) else {
            panic!("independent columns")
        };
        let Checked::Scales(some) = check_columns(&[&ones[..], &a[..], &b[..]], &fewer) else {
            panic!("independent columns")
        };
        assert_ne!(all, some);
        assert_eq!(
            Checked::Scales(some),
            check_columns_now(&[&ones[..], &a[..], &b[..]], &fewer)
        );
    }

    #[test]
    fn kalman_whitening_matches_the_dense_likelihood() {
        let p = params([0.95, -0.4], [0.3, 0.2], 0.5);
        let len = 25;
        let obs: Vec<bool> = (0..len).map(|t| t % 7 != 3 && t != 10).collect();
        let series: Vec<f64> = (0..len)
            .map(|t| f64::from((t * 7919) % 13) * 0.3 - 1.0)
            .collect();
        let g = gains(&obs, &p).unwrap();
        let n = obs.iter().filter(|o| **o).count();
        let mut out = vec![0.0; n];
        whiten(&series, &obs, &g, &p, &mut out);
        // Dense: Ω restricted to the observed days.
        let (l, idx) = dense_factor(&p, &obs);
        let y: Vec<f64> = idx.iter().map(|&t| series[t]).collect();
        let white = forward_substitute(&l, n, &y);
        let log_det: f64 = (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum();
        assert!(
            (g.log_det - log_det).abs() < 1e-9,
            "{} vs {log_det}",
            g.log_det
        );
        assert!((dot(&out, &out) - dot(&white, &white)).abs() < 1e-9);
    }

    #[test]
    fn the_exact_evaluation_is_the_dense_gls() {
        // Six columns and y over 120 days with skipped ones: the blocked cross product's two 4-wide
        // blocks, one of them padded.
        let p = params([0.9, -0.3], [0.35, 0.25], 0.4);
        let len = 120;
        let obs: Vec<bool> = (0..len).map(|t| t % 9 != 4 && t != 0).collect();
        let n = obs.iter().filter(|o| **o).count();
        let col = |c: usize| -> Vec<f64> {
            (0..len)
                .map(|t| {
                    if obs[t] {
                        ((t * 7919 + c * 131) % 29) as f64 * 0.07 - 1.0 + (t as f64 * 0.01)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let x: Vec<Vec<f64>> = (0..6).map(col).collect();
        let data = PreData::new(obs.clone(), col(17), x.clone(), n);
        let node = evaluate(&data, p, 0.0).unwrap();
        // Dense GLS on the observed days.
        let (l, idx) = dense_factor(&p, &obs);
        let white = |s: &[f64]| {
            let v: Vec<f64> = idx.iter().map(|&t| s[t]).collect();
            forward_substitute(&l, n, &v)
        };
        let wx: Vec<Vec<f64>> = x.iter().map(|c| white(c.as_slice())).collect();
        let wy = white(&data.y);
        let k = x.len();
        let mut gxx = vec![0.0; k * k];
        let mut gxy = vec![0.0; k];
        for i in 0..k {
            for j in 0..k {
                gxx[i * k + j] = dot(&wx[i], &wx[j]);
            }
            gxy[i] = dot(&wx[i], &wy);
        }
        let lg = cholesky(&gxx, k).unwrap();
        let beta = back_substitute(&lg, k, &forward_substitute(&lg, k, &gxy));
        let resid: Vec<f64> = (0..n)
            .map(|r| wy[r] - (0..k).map(|j| wx[j][r] * beta[j]).sum::<f64>())
            .collect();
        let s2 = dot(&resid, &resid);
        for (a, b) in node.beta.iter().zip(&beta) {
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert!((node.s2 - s2).abs() < 1e-9 * s2, "{} vs {s2}", node.s2);
    }

    #[test]
    fn the_avx2_whitening_gives_the_portable_bits() {
        #[cfg(target_arch = "x86_64")]
        {
            use crate::impact::linalg::tests::{avx2_or_skip, kernels, spread};
            let Some(avx2) = avx2_or_skip() else { return };
            for cpu in kernels(avx2) {
                let mut rng = Sampler::new(23);
                let value = |rng: &mut Sampler| spread(rng, 30.0);
                for stride in [1usize, 3, 4, 5, 8, 13, 37, 46] {
                    let mut m =
                        [(); 4].map(|()| (0..stride).map(|_| value(&mut rng)).collect::<Vec<_>>());
                    let [m1, m2, w1, w2] = &mut m;
                    w1.copy_from_slice(m1);
                    w2.copy_from_slice(m2);
                    for _ in 0..50 {
                        let x: Vec<f64> = (0..stride).map(|_| value(&mut rng)).collect();
                        let f = (rng.uniform() * 2.0 - 1.0, rng.uniform() * 2.0 - 1.0);
                        let gains = (rng.uniform(), rng.uniform() * 0.5, value(&mut rng).abs());
                        let (mut portable, mut wide) = (vec![0.0; stride], vec![0.0; stride]);
                        whiten_day(&mut portable, &x, (&mut *m1, &mut *m2), f, gains);
                        whiten_day_on(cpu, &mut wide, &x, (&mut *w1, &mut *w2), f, gains);
                        for (a, b) in portable
                            .iter()
                            .chain(&*m1)
                            .chain(&*m2)
                            .zip(wide.iter().chain(&*w1).chain(&*w2))
                        {
                            assert_eq!(
                                a.to_bits(),
                                b.to_bits(),
                                "stride {stride}, AVX-512 {}",
                                cpu.avx512
                            );
                        }
                    }
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        eprintln!("skipped: not x86-64, only the portable kernel exists here");
    }

    #[test]
    fn whitening_all_columns_at_once_matches_one_by_one_to_the_bit() {
        let p = params([0.97, 0.3], [0.4, 0.3], 0.3);
        let len = 200;
        let obs: Vec<bool> = (0..len)
            .map(|t| t % 11 != 0 && !(40..47).contains(&t))
            .collect();
        let n = obs.iter().filter(|o| **o).count();
        let col = |c: usize| -> Vec<f64> {
            (0..len)
                .map(|t| ((t * 7919 + c * 31) % 23) as f64 * 0.1 - 1.1)
                .collect()
        };
        let x: Vec<Vec<f64>> = (0..5).map(col).collect();
        let data = PreData::new(obs.clone(), col(9), x.clone(), n);
        let g = gains(&obs, &p).unwrap();
        let stride = x.len() + 1;
        // A buffer of 7 days: the days come out in chunks of 7 and a last partial one.
        let mut buf = vec![0.0; 7 * stride];
        let mut by_day = Vec::with_capacity(n * stride);
        let (mut m1, mut m2) = (vec![0.0; stride], vec![0.0; stride]);
        whiten_rows(
            &data.rows,
            stride,
            stride,
            &obs,
            &g,
            &p,
            &mut buf,
            (&mut m1, &mut m2),
            |days| by_day.extend_from_slice(days),
        );
        assert_eq!(by_day.len(), n * stride);
        for (j, series) in x.iter().chain(std::iter::once(&data.y)).enumerate() {
            let mut out = vec![0.0; n];
            let m = whiten(series, &obs, &g, &p, &mut out);
            for (row, v) in out.iter().enumerate() {
                assert_eq!(
                    v.to_bits(),
                    by_day[row * stride + j].to_bits(),
                    "column {j} row {row}"
                );
            }
            assert_eq!(
                (m[0].to_bits(), m[1].to_bits()),
                (m1[j].to_bits(), m2[j].to_bits())
            );
        }
    }

    /// The gains recomputed on every day (no reuse of a converged covariance).
    fn gains_every_day(obs: &[bool], p: &Params) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64, [f64; 3]) {
        let (f1, f2) = (p.phi[0], p.phi[1]);
        let (q1, q2) = (p.q(0), p.q(1));
        let (mut k1, mut k2, mut inv_sd) = (
            vec![0.0; obs.len()],
            vec![0.0; obs.len()],
            vec![0.0; obs.len()],
        );
        let mut log_det = 0.0;
        let (mut c11, mut c12, mut c22) = (0.0, 0.0, 0.0);
        for (t, &observed) in obs.iter().enumerate() {
            let (p11, p12, p22) = if t == 0 {
                (p.w[0], 0.0, p.w[1])
            } else {
                (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2)
            };
            if observed {
                let (g1, g2) = (p11 + p12, p12 + p22);
                let f = g1 + g2 + p.wn;
                k1[t] = g1 / f;
                k2[t] = g2 / f;
                inv_sd[t] = 1.0 / f.sqrt();
                log_det += f.ln();
                c11 = (p11 - g1 * g1 / f).max(0.0);
                c22 = (p22 - g2 * g2 / f).max(0.0);
                let bound = (c11 * c22).sqrt();
                c12 = (p12 - g1 * g2 / f).clamp(-bound, bound);
            } else {
                (c11, c12, c22) = (p11, p12, p22);
            }
        }
        (k1, k2, inv_sd, log_det, [c11, c12, c22])
    }

    #[test]
    fn gains_reusing_a_converged_covariance_are_the_same_to_the_bit() {
        let obs: Vec<bool> = (0..1100)
            .map(|t| t % 97 != 5 && !(300..330).contains(&t))
            .collect();
        let models = [
            params([0.97, 0.3], [0.4, 0.3], 0.3),
            params([0.5, -0.2], [0.2, 0.1], 0.7),
            Params {
                phi: [1.0, 0.0],
                w: [0.01, 0.0],
                wn: 0.99,
                rw: true,
            },
        ];
        let mut reused = 0;
        for p in &models {
            let g = gains(&obs, p).unwrap();
            let (k1, k2, inv_sd, log_det, c_end) = gains_every_day(&obs, p);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
            assert_eq!(bits(&g.k1), bits(&k1));
            assert_eq!(bits(&g.k2), bits(&k2));
            assert_eq!(bits(&g.inv_sd), bits(&inv_sd));
            assert_eq!(g.log_det.to_bits(), log_det.to_bits());
            assert_eq!(bits(&g.c_end[..]), bits(&c_end[..]));
            // The covariance does converge to the bit, so the shortcut is taken: long runs of identical
            // gains.
            reused +=
                g.k1.windows(2)
                    .filter(|w| w[0] == w[1] && w[0] != 0.0)
                    .count();
        }
        assert!(reused > 500, "{reused}");
    }

    #[test]
    fn the_cheap_targets_gradient_matches_its_finite_differences() {
        // Residuals of a simulated two-AR series with skipped days (the first one too).
        let truth = params([0.97, 0.4], [0.3, 0.2], 0.5);
        let len = 900;
        let mut rng = Sampler::new(5);
        let (mut z1, mut z2) = (0.0, 0.0);
        let resid: Vec<f64> = (0..len)
            .map(|_| {
                z1 = truth.phi[0] * z1 + truth.q(0).sqrt() * rng.normal();
                z2 = truth.phi[1] * z2 + truth.q(1).sqrt() * rng.normal();
                0.05 * (z1 + z2 + truth.wn.sqrt() * rng.normal())
            })
            .collect();
        let obs: Vec<bool> = (0..len)
            .map(|t| t != 0 && t % 17 != 5 && !(300..320).contains(&t))
            .collect();
        let dof = 850.0;
        let model = ErrorModel::TwoAr1PlusNoise;
        for theta in [
            [0.4, 0.2, -1.0, -0.5],
            [1.5, -0.7, 0.3, -2.0],
            [3.2, 1.1, -3.0, 0.8],
            [2.0, 0.0, 0.0, 0.0],
        ] {
            let (value, grad) = residual_log_target_grad(&resid, &obs, dof, &theta);
            let exact = residual_log_target(&resid, &obs, dof, model, &theta);
            assert!(
                (value - exact).abs() < 1e-9 * exact.abs().max(1.0),
                "{theta:?}: {value} vs {exact}"
            );
            for (i, g) in grad.iter().enumerate() {
                let h = 1e-5;
                let at = |dx: f64| {
                    let mut th = theta;
                    th[i + 1] += dx;
                    residual_log_target(&resid, &obs, dof, model, &th)
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (g - numeric).abs() < 1e-4 * numeric.abs().max(1.0),
                    "{theta:?} coordinate {i}: {g} vs {numeric}"
                );
            }
        }
        // Outside the prior's support.
        let (value, _) = residual_log_target_grad(&resid, &obs, dof, &[1.0, 30.0, 0.0, 0.0]);
        assert_eq!(value, f64::NEG_INFINITY);
    }

    /// The cheap target one parameter set at a time, as it was written before the lanes: the
    /// reference [`residual_log_targets`] must give to the bit.
    fn residual_log_target_alone(
        resid: &[f64],
        obs: &[bool],
        dof: f64,
        model: ErrorModel,
        theta: &[f64],
    ) -> f64 {
        let Some((p, log_prior)) = model.params(theta) else {
            return f64::NEG_INFINITY;
        };
        let (f1, f2) = (p.phi[0], p.phi[1]);
        let (q1, q2) = (p.q(0), p.q(1));
        let (mut c11, mut c12, mut c22) = (0.0, 0.0, 0.0);
        let (mut m1, mut m2) = (0.0, 0.0);
        let (mut ss, mut log_det, mut prod) = (0.0, 0.0, 1.0);
        let mut steady: Option<(f64, f64, f64)> = None;
        for t in 0..obs.len() {
            let (a1, a2) = (f1 * m1, f2 * m2);
            if !obs[t] {
                steady = None;
                if t == 0 {
                    (c11, c12, c22) = (p.w[0], 0.0, p.w[1]);
                } else {
                    (c11, c12, c22) = (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2);
                }
                (m1, m2) = (a1, a2);
                continue;
            }
            let (k1, k2, inv_f) = if let Some(s) = steady {
                s
            } else {
                let (p11, p12, p22) = if t == 0 {
                    (p.w[0], 0.0, p.w[1])
                } else {
                    (f1 * f1 * c11 + q1, f1 * f2 * c12, f2 * f2 * c22 + q2)
                };
                let (g1, g2) = (p11 + p12, p12 + p22);
                let f = g1 + g2 + p.wn;
                if f.is_nan() || f <= 1e-300 {
                    return f64::NEG_INFINITY;
                }
                let inv_f = 1.0 / f;
                let n11 = (p11 - g1 * g1 * inv_f).max(0.0);
                let n12 = p12 - g1 * g2 * inv_f;
                let n22 = (p22 - g2 * g2 * inv_f).max(0.0);
                if t > 0 && (n11 - c11).abs() + (n12 - c12).abs() + (n22 - c22).abs() < 1e-14 {
                    steady = Some((g1 * inv_f, g2 * inv_f, inv_f));
                }
                (c11, c12, c22) = (n11, n12, n22);
                (g1 * inv_f, g2 * inv_f, inv_f)
            };
            let v = resid[t] - a1 - a2;
            ss += v * v * inv_f;
            prod *= inv_f;
            if !(1e-100..=1e100).contains(&prod) {
                log_det -= prod.ln();
                prod = 1.0;
            }
            m1 = a1 + k1 * v;
            m2 = a2 + k2 * v;
        }
        log_det -= prod.ln();
        -0.5 * log_det - 0.5 * dof * ss.max(1e-300).ln() + log_prior
    }

    #[test]
    fn the_cheap_target_side_by_side_gives_each_sets_bits() {
        let mut rng = Sampler::new(29);
        let len = 700;
        let resid: Vec<f64> = (0..len).map(|_| 0.05 * rng.normal()).collect();
        for (obs_kind, model) in [
            (0, ErrorModel::TwoAr1PlusNoise),
            (1, ErrorModel::TwoAr1PlusNoise),
            (1, ErrorModel::Ar1PlusNoise),
            (2, ErrorModel::LocalLevel),
        ] {
            // Every day; skipped days (the first one too); a long gap.
            let obs: Vec<bool> = (0..len)
                .map(|t| match obs_kind {
                    0 => true,
                    1 => t != 0 && t % 13 != 4,
                    _ => !(200..260).contains(&t),
                })
                .collect();
            let d = model.dim();
            // 1 to 11 sets (groups of four and a remainder), some outside the prior's support.
            for count in [1usize, 3, 4, 5, 11] {
                let thetas: Vec<Vec<f64>> = (0..count)
                    .map(|i| {
                        (0..d)
                            .map(|j| {
                                if i == 2 && j == 1 {
                                    40.0
                                } else {
                                    3.0 * (rng.uniform() - 0.5)
                                }
                            })
                            .collect()
                    })
                    .collect();
                let side = residual_log_targets(&resid, &obs, 640.0, model, &thetas);
                assert_eq!(side.len(), count);
                for (theta, v) in thetas.iter().zip(&side) {
                    let alone = residual_log_target_alone(&resid, &obs, 640.0, model, theta);
                    assert_eq!(v.to_bits(), alone.to_bits(), "{model:?} {theta:?}");
                    let one = residual_log_target(&resid, &obs, 640.0, model, theta);
                    assert_eq!(one.to_bits(), alone.to_bits(), "{model:?} {theta:?}");
                }
            }
        }
    }

    #[test]
    fn recovers_the_error_process_of_a_simulated_series() {
        // A slow component strong enough to be identified from one realisation.
        let len = 3000;
        let y = two_ar_series(len, 11);
        let data = PreData::new(vec![true; len], y, vec![vec![1.0; len]], len);
        let post = integrate(&data, ErrorModel::TwoAr1PlusNoise, None).unwrap();
        let mean = |f: &dyn Fn(&Params) -> f64| posterior_mean(&post, f);
        let (slow, fast) = (mean(&|p| p.phi[0]), mean(&|p| p.phi[1]));
        let slow_sd = (mean(&|p| p.phi[0] * p.phi[0]) - slow * slow).sqrt();
        let (w1, w2, wn) = (mean(&|p| p.w[0]), mean(&|p| p.w[1]), mean(&|p| p.wn));
        // One realisation: the truth within the posterior's spread (this one peaks at φ₁ ≈ 0.915,
        // 2.2 log units above φ₁ = 0.95 on the profile posterior), and a resolved posterior.
        assert!(slow_sd > 0.005 && slow_sd < 0.05, "sd {slow_sd}");
        assert!(
            (slow - 0.95).abs() < 3.0 * slow_sd,
            "slow {slow} ± {slow_sd}"
        );
        assert!((fast - 0.5).abs() < 0.3, "fast {fast}");
        // With φ₂ this low the fast component and the noise trade off; their sum is identified.
        assert!(
            (w1 - 0.4).abs() < 0.1 && (w2 + wn - 0.6).abs() < 0.1,
            "{w1} {w2} {wn}"
        );
        assert!(post.effective > 5.0, "effective nodes {}", post.effective);
    }

    /// The posterior mean of `f` over the nodes, by their weights.
    fn posterior_mean(post: &Posterior, f: &dyn Fn(&Params) -> f64) -> f64 {
        post.nodes
            .iter()
            .zip(&post.weights)
            .map(|(n, w)| w * f(&n.params))
            .sum()
    }

    /// A series with a slow and a fast AR component plus noise around 3.0 (`len` days).
    fn two_ar_series(len: usize, seed: u64) -> Vec<f64> {
        let truth = params([0.95, 0.5], [0.4, 0.2], 0.4);
        let mut rng = Sampler::new(seed);
        let (mut z1, mut z2) = (
            rng.normal() * truth.w[0].sqrt(),
            rng.normal() * truth.w[1].sqrt(),
        );
        (0..len)
            .map(|t| {
                if t > 0 {
                    z1 = truth.phi[0] * z1 + truth.q(0).sqrt() * rng.normal();
                    z2 = truth.phi[1] * z2 + truth.q(1).sqrt() * rng.normal();
                }
                3.0 + z1 + z2 + truth.wn.sqrt() * rng.normal()
            })
            .collect()
    }

    #[test]
    fn a_start_from_a_neighbouring_window_reaches_the_same_posterior() {
        let y = two_ar_series(3000, 11);
        let window = |from: usize, to: usize| {
            let n = to - from;
            PreData::new(vec![true; n], y[from..to].to_vec(), vec![vec![1.0; n]], n)
        };
        let model = ErrorModel::TwoAr1PlusNoise;
        let campaign = integrate(&window(500, 3000), model, None).unwrap();
        let start = campaign.start.clone().expect("the two-AR model has slices");
        assert_eq!(start.slices.len(), model.slices().0.len());
        // A window a year earlier: cold, and started from the campaign window's slices.
        let data = window(135, 2635);
        let cold = integrate(&data, model, None).unwrap();
        let warm = integrate(&data, model, Some(&start)).unwrap();
        let moments = |post: &Posterior| {
            let mean = |f: &dyn Fn(&Params) -> f64| posterior_mean(post, f);
            let slow = mean(&|p| p.phi[0]);
            let sd = (mean(&|p| p.phi[0] * p.phi[0]) - slow * slow).sqrt();
            (slow, sd, mean(&|p| p.w[0]))
        };
        let ((slow_c, sd_c, w_c), (slow_w, sd_w, w_w)) = (moments(&cold), moments(&warm));
        // The same posterior up to the samplers' own noise (a fraction of its spread), and as well
        // resolved; the evidence (the integral of the same exact density) agrees as closely.
        assert!(
            (slow_c - slow_w).abs() < 0.5 * sd_c.max(sd_w),
            "φ₁ {slow_c} ± {sd_c} cold, {slow_w} ± {sd_w} started"
        );
        assert!((w_c - w_w).abs() < 0.05, "w₁ {w_c} cold, {w_w} started");
        assert!((cold.log_evidence - warm.log_evidence).abs() < 0.5);
        assert!(warm.effective > 5.0, "effective nodes {}", warm.effective);
        // The warm fit's proposals are the start's, not a search of its own.
        let used = warm.start.expect("slices");
        for (a, b) in used.slices.iter().zip(&start.slices) {
            assert_eq!(a.proposal.mean, b.proposal.mean);
        }
        // A start of another error model is ignored: the cold fit to the bit.
        let other = integrate(&data, ErrorModel::Ar1PlusNoise, None)
            .unwrap()
            .start
            .expect("slices");
        let ignored = integrate(&data, model, Some(&other)).unwrap();
        assert_eq!(ignored.log_evidence.to_bits(), cold.log_evidence.to_bits());
        assert_eq!(ignored.weights, cold.weights);
    }

    #[test]
    fn a_start_read_back_from_its_bytes_starts_the_same_fit() {
        let y = two_ar_series(1500, 3);
        let n = 1200;
        let data = PreData::new(vec![true; n], y[..n].to_vec(), vec![vec![1.0; n]], n);
        let model = ErrorModel::TwoAr1PlusNoise;
        let start = integrate(&data, model, None)
            .unwrap()
            .start
            .expect("slices");
        let mut bytes = vec![7u8];
        start.write_bytes(&mut bytes);
        let len = bytes.len() - 1;
        bytes.push(42);
        let (back, used) = FitStart::from_bytes(&bytes[1..]).expect("a start");
        assert_eq!(used, len);
        assert_eq!(back.model, start.model);
        assert_eq!(back.slices.len(), start.slices.len());
        for (a, b) in back.slices.iter().zip(&start.slices) {
            assert_eq!(a.a.to_bits(), b.a.to_bits());
            assert_eq!(a.proposal.mean, b.proposal.mean);
            assert_eq!(a.proposal.chol, b.proposal.chol);
            assert_eq!(a.log_mass.to_bits(), b.log_mass.to_bits());
        }
        let other = PreData::new(vec![true; n], y[300..].to_vec(), vec![vec![1.0; n]], n);
        let (one, two) = (
            integrate(&other, model, Some(&start)).unwrap(),
            integrate(&other, model, Some(&back)).unwrap(),
        );
        assert_eq!(one.log_evidence.to_bits(), two.log_evidence.to_bits());
        assert_eq!(one.weights, two.weights);
        // Cut short, or of an unknown model: not a start.
        assert!(FitStart::from_bytes(&bytes[1..len]).is_none());
        assert!(FitStart::from_bytes(&[9, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        assert!(FitStart::from_bytes(&[]).is_none());
    }

    #[test]
    fn the_totals_alone_are_the_totals_of_the_full_summary() {
        let len = 400;
        let y: Vec<f64> = two_ar_series(len, 5)
            .iter()
            .map(|v| (0.1 * v).exp() * 100.0)
            .collect();
        let control: Vec<f64> = (0..len).map(|t| 50.0 + (t % 7) as f64).collect();
        let design = Design::new(len).log_covariate("c", &control).unwrap();
        let options = ImpactOptions {
            draws: 200,
            ..ImpactOptions::default()
        };
        let model = ImpactModel::fit(&y, &design, 0..300, &options).unwrap();
        let c = model.counterfactual(&design, 300..len).unwrap();
        let full = c.impact(&y[300..], 0.9).unwrap();
        let totals = c.impact_totals(&y[300..], 0.9).unwrap();
        assert!(totals.points.is_empty());
        assert_eq!(full.points.len(), len - 300);
        assert_eq!(
            (full.average, full.cumulative, full.p_value, full.days_used),
            (
                totals.average,
                totals.cumulative,
                totals.p_value,
                totals.days_used
            )
        );
    }
}
