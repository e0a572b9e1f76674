//! The synthetic-control quadratic program: non-negative weights summing to one.
//!
//! Solves `min ½ wᵀPw − qᵀw  s.t. w ≥ 0, Σw = 1` exactly with a primal active-set method
//! (Lawson–Hanson style: start from the best single donor, free the variable with the most negative
//! multiplier, take the longest feasible step towards the equality-constrained optimum on the free
//! set, drop variables that hit zero). With `P = X₀ᵀX₀` and `q = X₀ᵀx₁` this is augsynth's `synth_qp`
//! (`‖x₁ − X₀w‖²` over the simplex), which augsynth hands to OSQP with tolerances 1e-8; the
//! active-set solution is exact up to rounding. A warm start (a previous solution) makes the many
//! nearby problems of the conformal grid cost one or two linear solves each.

use nalgebra::{DMatrix, DVector};

/// Relative diagonal jitter: keeps the free-set systems non-singular when donors are collinear
/// (more donors than periods); negligible otherwise.
const JITTER: f64 = 1e-10;

/// Minimise `½ wᵀPw − qᵀw` over the probability simplex.
///
/// `p` must be symmetric positive semi-definite (a Gram matrix). `warm`, when given and of the right
/// length, is projected to the simplex and used as the starting point.
pub(crate) fn simplex_qp(
    p: &DMatrix<f64>,
    q: &DVector<f64>,
    warm: Option<&DVector<f64>>,
) -> DVector<f64> {
    let n = q.len();
    if n == 0 {
        return DVector::zeros(0);
    }
    if n == 1 {
        return DVector::from_element(1, 1.0);
    }
    let scale = (p.trace() / n as f64).max(0.0);
    if scale.is_nan() || scale <= 0.0 || !scale.is_finite() {
        return DVector::from_element(n, 1.0 / n as f64);
    }
    let mut pm = p / scale;
    for i in 0..n {
        pm[(i, i)] += JITTER;
    }
    let qv = q / scale;

    // Feasible start.
    let mut w = DVector::zeros(n);
    let mut free: Vec<usize> = Vec::new();
    if let Some(start) = warm.filter(|v| v.len() == n) {
        let clipped = start.map(|x| if x.is_finite() && x > 0.0 { x } else { 0.0 });
        let total = clipped.sum();
        if total > 0.0 {
            w = clipped / total;
            free = (0..n).filter(|&i| w[i] > 0.0).collect();
        }
    }
    if free.is_empty() {
        let j = (0..n)
            .min_by(|&a, &b| {
                let fa = 0.5 * pm[(a, a)] - qv[a];
                let fb = 0.5 * pm[(b, b)] - qv[b];
                fa.total_cmp(&fb)
            })
            .unwrap_or(0);
        w[j] = 1.0;
        free.push(j);
    }

    let max_iter = 20 * n + 100;
    let mut just_added: Option<usize> = None;
    for _ in 0..max_iter {
        let Some((z, nu)) = solve_free(&pm, &qv, &free) else {
            break;
        };
        if z.iter().all(|&v| v > 0.0) {
            for (k, &i) in free.iter().enumerate() {
                w[i] = z[k];
            }
            // Multipliers of the bound constraints: λ = Pw − q + ν.
            let grad = &pm * &w - &qv;
            let tol = 1e-12 * (1.0 + grad.amax());
            let mut best: Option<(usize, f64)> = None;
            for i in 0..n {
                if free.contains(&i) {
                    continue;
                }
                let lambda = grad[i] + nu;
                if lambda < -tol && best.is_none_or(|(_, b)| lambda < b) {
                    best = Some((i, lambda));
                }
            }
            match best {
                None => break,
                Some((i, _)) => {
                    free.push(i);
                    just_added = Some(i);
                }
            }
        } else {
            // Longest step from w towards z that keeps w ≥ 0.
            let mut alpha = 1.0_f64;
            let mut blocking = None;
            for (k, &i) in free.iter().enumerate() {
                if z[k] <= 0.0 {
                    let a = w[i] / (w[i] - z[k]);
                    if a < alpha {
                        alpha = a;
                        blocking = Some(i);
                    }
                }
            }
            if alpha <= 0.0 && blocking.is_some() && blocking == just_added {
                // Rounding made the variable just freed step out immediately: we are at the optimum.
                if let Some(i) = blocking {
                    free.retain(|&j| j != i);
                    w[i] = 0.0;
                }
                break;
            }
            for (k, &i) in free.iter().enumerate() {
                w[i] += alpha * (z[k] - w[i]);
            }
            if let Some(b) = blocking {
                w[b] = 0.0;
            }
            free.retain(|&i| w[i] > 1e-15);
            for i in 0..n {
                if !free.contains(&i) {
                    w[i] = 0.0;
                }
            }
            just_added = None;
            if free.is_empty() {
                // Cannot happen for a feasible iterate; restart from the best vertex defensively.
                let j = (0..n).min_by(|&a, &b| {
                    (0.5 * pm[(a, a)] - qv[a]).total_cmp(&(0.5 * pm[(b, b)] - qv[b]))
                });
                let j = j.unwrap_or(0);
                w[j] = 1.0;
                free.push(j);
            }
        }
    }
    let w = w.map(|x| if x > 0.0 { x } else { 0.0 });
    let total = w.sum();
    if total > 0.0 {
        w / total
    } else {
        DVector::from_element(n, 1.0 / n as f64)
    }
}

/// Equality-constrained optimum on the free set: `[P_FF 1; 1ᵀ 0] [z; ν] = [q_F; 1]`.
fn solve_free(p: &DMatrix<f64>, q: &DVector<f64>, free: &[usize]) -> Option<(DVector<f64>, f64)> {
    let k = free.len();
    let mut m = DMatrix::zeros(k + 1, k + 1);
    let mut rhs = DVector::zeros(k + 1);
    for (a, &i) in free.iter().enumerate() {
        for (b, &j) in free.iter().enumerate() {
            m[(a, b)] = p[(i, j)];
        }
        m[(a, k)] = 1.0;
        m[(k, a)] = 1.0;
        rhs[a] = q[i];
    }
    rhs[k] = 1.0;
    let sol = m.lu().solve(&rhs)?;
    if sol.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some((sol.rows(0, k).into_owned(), sol[k]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective(p: &DMatrix<f64>, q: &DVector<f64>, w: &DVector<f64>) -> f64 {
        0.5 * w.dot(&(p * w)) - q.dot(w)
    }

    #[test]
    fn interior_and_vertex_solutions() {
        // ‖x − X w‖² with x exactly the average of the first two columns.
        let x0 = DMatrix::from_row_slice(
            4,
            3,
            &[1.0, 3.0, 10.0, 2.0, 0.0, -5.0, 0.0, 4.0, 7.0, 1.0, 1.0, 0.0],
        );
        let x1 = (x0.column(0) + x0.column(1)) * 0.5;
        let p = x0.transpose() * &x0;
        let q = x0.transpose() * &x1;
        let w = simplex_qp(&p, &q, None);
        assert!(
            (w[0] - 0.5).abs() < 1e-8 && (w[1] - 0.5).abs() < 1e-8 && w[2].abs() < 1e-8,
            "{w}"
        );
        // Target far outside the hull on the side of column 2: vertex solution.
        let x1 = x0.column(2) * 3.0;
        let q = x0.transpose() * &x1;
        let w = simplex_qp(&p, &q, None);
        assert!((w[2] - 1.0).abs() < 1e-12, "{w}");
    }

    #[test]
    fn beats_random_feasible_points_and_warm_start_agrees() {
        let n = 12;
        let t = 30;
        let x0 = DMatrix::from_fn(t, n, |i, j| {
            ((i * 7 + j * 13) % 17) as f64 + (i as f64 * 0.3 + j as f64).sin()
        });
        let x1 = DVector::from_fn(t, |i, _| 8.0 + (i as f64 * 0.2).cos() * 3.0);
        let p = x0.transpose() * &x0;
        let q = x0.transpose() * &x1;
        let w = simplex_qp(&p, &q, None);
        assert!((w.sum() - 1.0).abs() < 1e-12 && w.iter().all(|&v| v >= 0.0));
        let best = objective(&p, &q, &w);
        for s in 0..200 {
            let v = DVector::from_fn(n, |i, _| {
                (((i + 1) * (s + 3) * 2654435761usize) % 1000) as f64
            });
            let v = &v / v.sum();
            assert!(objective(&p, &q, &v) >= best - 1e-9 * best.abs());
        }
        let warm = DVector::from_element(n, 1.0 / n as f64);
        let w2 = simplex_qp(&p, &q, Some(&warm));
        assert!((&w - &w2).amax() < 1e-9);
    }
}
