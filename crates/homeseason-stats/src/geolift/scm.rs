//! Synthetic-control fits: unit fixed effects, simplex weights, ridge augmentation, predictions.
//!
//! Mirrors augsynth's `fit_augsynth_internal` for `progfunc = "None"` and `"Ridge"` with `scm = TRUE`:
//! with fixed effects every unit's mean over the fitted columns is removed (`demean_data`), the
//! weights solve the simplex QP on the demeaned series (`synth_qp`), ridge augmentation adds
//! `(A_cᵀA_c + λI)⁻¹A_cᵀ(z₁ − A·w_scm)` where `A_c` is the donor matrix centred across donors
//! (`fit_ridgeaug_inner`, written in its donor-space form), and the counterfactual of the treated
//! average at any time is `m₁ + Σⱼ wⱼ (Yⱼₜ − mⱼ)` (`predict.augsynth`).

use nalgebra::{Cholesky, DMatrix, DVector, Dyn, SymmetricEigen};

use super::qp::simplex_qp;

/// Ridge regression of a residual on donors centred across donors.
#[derive(Debug, Clone)]
struct RidgeSolver {
    /// Donor matrix centred across donors in every period (rows: fitted periods).
    ac: DMatrix<f64>,
    factor: RidgeFactor,
}

/// `A_cᵀA_c + λI` factorised: Cholesky when positive definite, else an eigendecomposition used as
/// a pseudo-inverse (λ = 0 with collinear donors).
#[derive(Debug, Clone)]
enum RidgeFactor {
    Cholesky(Cholesky<f64, Dyn>),
    Eigen(SymmetricEigen<f64, Dyn>, f64),
}

impl RidgeSolver {
    fn new(a: &DMatrix<f64>, lambda: f64) -> Self {
        let ac = center_rows(a);
        let gram = ac.transpose() * &ac;
        let mut shifted = gram.clone();
        for i in 0..shifted.nrows() {
            shifted[(i, i)] += lambda;
        }
        let factor = match (lambda > 0.0).then(|| Cholesky::new(shifted)).flatten() {
            Some(c) => RidgeFactor::Cholesky(c),
            None => RidgeFactor::Eigen(SymmetricEigen::new(gram), lambda),
        };
        RidgeSolver { ac, factor }
    }

    /// `(A_cᵀA_c + λI)⁻¹ A_cᵀ r`.
    fn solve(&self, r: &DVector<f64>) -> DVector<f64> {
        let b = self.ac.transpose() * r;
        match &self.factor {
            RidgeFactor::Cholesky(c) => c.solve(&b),
            RidgeFactor::Eigen(e, lambda) => ridge_apply(e, &b, *lambda),
        }
    }
}

/// `V diag(1/(Λ+λ)) Vᵀ b`, dropping directions where `Λ+λ` vanishes (pseudo-inverse).
fn ridge_apply(eigen: &SymmetricEigen<f64, Dyn>, b: &DVector<f64>, lambda: f64) -> DVector<f64> {
    let v = &eigen.eigenvectors;
    let top = eigen.eigenvalues.amax().max(lambda.abs());
    let proj = v.transpose() * b;
    let scaled = DVector::from_fn(proj.len(), |i, _| {
        let d = eigen.eigenvalues[i].max(0.0) + lambda;
        if d > 1e-13 * top && d > 0.0 {
            proj[i] / d
        } else {
            0.0
        }
    });
    v * scaled
}

/// Subtract from every row its mean across columns (centre donors within each period).
fn center_rows(a: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = a.clone();
    for mut row in out.row_iter_mut() {
        let m = row.mean();
        row.add_scalar_mut(-m);
    }
    out
}

/// Weights of one fit.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// Final donor weights (SCM weights plus the ridge correction when augmented).
    pub(crate) w: DVector<f64>,
    /// The simplex (pure SCM) weights.
    pub(crate) syn: DVector<f64>,
    /// Fixed effect of the treated average (mean over fitted columns), zero without fixed effects.
    pub(crate) m1: f64,
}

/// The donor side of a fit on a given set of columns, reusable for many treated series.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    cols: Vec<usize>,
    /// Donor outcomes on the fitted columns, demeaned when fixed effects are on (periods × donors).
    a: DMatrix<f64>,
    gram: DMatrix<f64>,
    donor_means: DVector<f64>,
    fixed_effects: bool,
    ridge: Option<RidgeSolver>,
}

impl Engine {
    /// `y_don` is periods × donors over the whole cell window; `cols` the periods the weights are fitted on.
    pub(crate) fn new(
        y_don: &DMatrix<f64>,
        cols: &[usize],
        fixed_effects: bool,
        lambda: Option<f64>,
    ) -> Self {
        let n0 = y_don.ncols();
        let mut a = y_don.select_rows(cols);
        let donor_means = if fixed_effects && !cols.is_empty() {
            DVector::from_fn(n0, |j, _| a.column(j).mean())
        } else {
            DVector::zeros(n0)
        };
        for j in 0..n0 {
            let m = donor_means[j];
            a.column_mut(j).add_scalar_mut(-m);
        }
        let gram = a.transpose() * &a;
        let ridge = lambda.map(|l| RidgeSolver::new(&a, l));
        Engine {
            cols: cols.to_vec(),
            a,
            gram,
            donor_means,
            fixed_effects,
            ridge,
        }
    }

    /// Number of fitted columns.
    pub(crate) fn len(&self) -> usize {
        self.cols.len()
    }

    /// Treated average on the fitted columns, demeaned when fixed effects are on, and its mean.
    fn target(&self, x1_fit: &DVector<f64>) -> (DVector<f64>, f64) {
        let m1 = if self.fixed_effects && !x1_fit.is_empty() {
            x1_fit.mean()
        } else {
            0.0
        };
        (x1_fit.add_scalar(-m1), m1)
    }

    /// Fit the weights for a treated average given on the fitted columns.
    pub(crate) fn fit(&self, x1_fit: &DVector<f64>, warm: Option<&DVector<f64>>) -> Weights {
        let (z1, m1) = self.target(x1_fit);
        let q = self.a.transpose() * &z1;
        let syn = simplex_qp(&self.gram, &q, warm);
        let w = match &self.ridge {
            None => syn.clone(),
            Some(r) => {
                let resid = &z1 - &self.a * &syn;
                &syn + r.solve(&resid)
            }
        };
        Weights { w, syn, m1 }
    }

    /// Residuals of the treated average on the fitted columns: `z₁ − A·w`.
    pub(crate) fn residuals(&self, x1_fit: &DVector<f64>, wts: &Weights) -> DVector<f64> {
        let (z1, _) = self.target(x1_fit);
        z1 - &self.a * &wts.w
    }

    /// L2 imbalance `‖z₁ − A·w‖` and the same scaled by the imbalance of uniform weights.
    pub(crate) fn imbalance(&self, x1_fit: &DVector<f64>, w: &DVector<f64>) -> (f64, f64) {
        let (z1, _) = self.target(x1_fit);
        let l2 = (&z1 - &self.a * w).norm();
        let n0 = w.len().max(1);
        let uniform = DVector::from_element(n0, 1.0 / n0 as f64);
        let l2_uniform = (&z1 - &self.a * uniform).norm();
        let scaled = if l2_uniform > 0.0 {
            l2 / l2_uniform
        } else if l2 == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        (l2, scaled)
    }

    /// Counterfactual treated average for every period of `y_don` (periods × donors).
    pub(crate) fn counterfactual(&self, y_don: &DMatrix<f64>, wts: &Weights) -> DVector<f64> {
        let centered_sum =
            y_don * &wts.w - DVector::from_element(y_don.nrows(), self.donor_means.dot(&wts.w));
        centered_sum.add_scalar(wts.m1)
    }
}

/// augsynth's `cv_lambda` with its defaults: 21 values from `λ_max = σ₁(A_c)²` down to `λ_max·1e-8`,
/// leave-one-period-out over the pre-period (holdout length 1; the last period is never held out,
/// as in `get_lambda_errors`), the largest λ whose mean squared error is within one standard
/// error of the minimum (`min_1se = TRUE`).
pub(crate) fn cv_lambda(
    y_don: &DMatrix<f64>,
    x1: &DVector<f64>,
    pre: &[usize],
    fixed_effects: bool,
) -> f64 {
    let Some(cv) = lambda_errors(y_don, x1, pre, fixed_effects) else {
        return 0.0;
    };
    choose_lambda(&cv)
}

/// Cross-validation errors per λ.
#[derive(Debug, Clone)]
pub(crate) struct LambdaErrors {
    pub(crate) lambdas: Vec<f64>,
    pub(crate) errors: Vec<Vec<f64>>,
}

/// `choose_lambda(min_1se = TRUE)`: the largest λ with mean error ≤ min mean error + its standard error.
fn choose_lambda(cv: &LambdaErrors) -> f64 {
    let nl = cv.lambdas.len();
    let folds = cv.errors.len();
    let nf = folds as f64;
    let mut mean = vec![0.0; nl];
    let mut se = vec![0.0; nl];
    for j in 0..nl {
        let m = cv.errors.iter().map(|r| r[j]).sum::<f64>() / nf;
        let var = if folds > 1 {
            cv.errors.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / (nf - 1.0)
        } else {
            0.0
        };
        mean[j] = m;
        se[j] = var.sqrt() / nf.sqrt();
    }
    let min_idx = (0..nl)
        .min_by(|&x, &y| mean[x].total_cmp(&mean[y]))
        .unwrap_or(0);
    let bound = mean[min_idx] + se[min_idx];
    cv.lambdas
        .iter()
        .zip(&mean)
        .filter(|(_, m)| **m <= bound)
        .map(|(l, _)| *l)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Pre-period pieces shared by the cross-validation: demeaned donors `a`, target `z1`, donors
/// centred across donors `ac`, and the λ grid.
fn cv_setup(
    y_don: &DMatrix<f64>,
    x1: &DVector<f64>,
    pre: &[usize],
    fixed_effects: bool,
) -> Option<CvSetup> {
    let engine = Engine::new(y_don, pre, fixed_effects, None);
    let (z1, _) = engine.target(&x1.select_rows(pre));
    let ac = center_rows(&engine.a);
    let t0 = ac.nrows();
    let lambda_max = SymmetricEigen::new(ac.transpose() * &ac).eigenvalues.amax();
    if lambda_max.is_nan() || lambda_max <= 0.0 || t0 < 3 {
        return None;
    }
    let n_lambda: i32 = 20;
    let scaler = 1e-8_f64.powf(1.0 / f64::from(n_lambda));
    let lambdas = (0..=n_lambda)
        .map(|i| lambda_max * scaler.powi(i))
        .collect();
    Some(CvSetup {
        engine,
        z1,
        ac,
        lambdas,
    })
}

/// See [`cv_setup`].
struct CvSetup {
    engine: Engine,
    z1: DVector<f64>,
    ac: DMatrix<f64>,
    lambdas: Vec<f64>,
}

/// Leave-one-period-out errors `(z₁ₜ − aₜ·w_λ)²` for every held-out period `t < T₀ − 1` and λ.
///
/// Every fold's SCM weights are refitted (rank-one downdates of the Gram matrix, warm-started);
/// its ridge correction `(G − ãₜãₜᵀ + λI)⁻¹ b` is evaluated for all λ at once from a single
/// eigendecomposition of the full centred Gram matrix `G` through the Sherman–Morrison formula.
pub(crate) fn lambda_errors(
    y_don: &DMatrix<f64>,
    x1: &DVector<f64>,
    pre: &[usize],
    fixed_effects: bool,
) -> Option<LambdaErrors> {
    let CvSetup {
        engine,
        z1,
        ac,
        lambdas,
    } = cv_setup(y_don, x1, pre, fixed_effects)?;
    let a = &engine.a;
    let t0 = a.nrows();
    let eigen = SymmetricEigen::new(ac.transpose() * &ac);
    let v = &eigen.eigenvectors;
    let spectrum = eigen.eigenvalues.map(|x| x.max(0.0));
    let q = a.transpose() * &z1;
    let full = simplex_qp(&engine.gram, &q, None);
    let mut errors = Vec::with_capacity(t0 - 1);
    for i in 0..t0 - 1 {
        let ai = a.row(i).transpose();
        let gram_i = &engine.gram - &ai * ai.transpose();
        let q_i = &q - &ai * z1[i];
        let syn = simplex_qp(&gram_i, &q_i, Some(&full));
        let resid = &z1 - a * &syn;
        let aci = ac.row(i).transpose();
        let b = ac.transpose() * &resid - &aci * resid[i];
        let at = v.transpose() * &aci;
        let bt = v.transpose() * &b;
        let e0 = z1[i] - ai.dot(&syn);
        let row: Vec<f64> = lambdas
            .iter()
            .map(|&lambda| {
                let d = spectrum.add_scalar(lambda);
                let u = at.component_div(&d);
                let denom = 1.0 - at.dot(&u);
                let x = bt.component_div(&d) + &u * (u.dot(&bt) / denom);
                let e = e0 - at.dot(&x);
                e * e
            })
            .collect();
        errors.push(row);
    }
    Some(LambdaErrors { lambdas, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same errors the slow way, as augsynth's `get_lambda_errors` writes them.
    fn lambda_errors_direct(
        y_don: &DMatrix<f64>,
        x1: &DVector<f64>,
        pre: &[usize],
        fe: bool,
    ) -> LambdaErrors {
        let CvSetup {
            engine,
            z1,
            ac,
            lambdas,
        } = cv_setup(y_don, x1, pre, fe).expect("setup");
        let a = &engine.a;
        let t0 = a.nrows();
        let mut errors = Vec::new();
        for i in 0..t0 - 1 {
            let keep: Vec<usize> = (0..t0).filter(|&r| r != i).collect();
            let a_i = a.select_rows(&keep);
            let z_i = z1.select_rows(&keep);
            let ac_i = ac.select_rows(&keep);
            let syn = simplex_qp(&(a_i.transpose() * &a_i), &(a_i.transpose() * &z_i), None);
            let resid = &z_i - &a_i * &syn;
            let row = lambdas
                .iter()
                .map(|&l| {
                    let mut m = ac_i.transpose() * &ac_i;
                    for k in 0..m.nrows() {
                        m[(k, k)] += l;
                    }
                    let rw = m.lu().solve(&(ac_i.transpose() * &resid)).expect("solve");
                    let e = z1[i] - a.row(i).transpose().dot(&(&syn + rw));
                    e * e
                })
                .collect();
            errors.push(row);
        }
        LambdaErrors { lambdas, errors }
    }

    #[test]
    fn fast_cross_validation_matches_direct() {
        let (t, n) = (40, 9);
        let y = DMatrix::from_fn(t, n, |s, j| {
            100.0
                + 10.0 * ((s * (j + 2)) as f64 * 0.37).sin()
                + (j as f64) * 3.0
                + ((s * 7 + j * 11) % 5) as f64
        });
        let x1 = DVector::from_fn(t, |s, _| {
            0.3 * y[(s, 1)] + 0.7 * y[(s, 4)] + ((s * 3) % 4) as f64 - 1.5
        });
        let pre: Vec<usize> = (0..30).collect();
        for fe in [true, false] {
            let fast = lambda_errors(&y, &x1, &pre, fe).expect("fast");
            let slow = lambda_errors_direct(&y, &x1, &pre, fe);
            for (rf, rs) in fast.errors.iter().zip(&slow.errors) {
                for (j, (f, s)) in rf.iter().zip(rs).enumerate() {
                    assert!(
                        (f - s).abs() <= 1e-6 * (1.0 + s.abs()),
                        "fe {fe} λ#{j}: {f} vs {s}"
                    );
                }
            }
            assert_eq!(choose_lambda(&fast), choose_lambda(&slow));
        }
    }
}
