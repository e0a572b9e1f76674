//! Optimisation and curvature for the few error-process parameters (Nelder–Mead, a quasi-Newton
//! search where the gradient is known, finite-difference Hessian).

/// When a search has converged. Nelder–Mead: every vertex within `x` of the best (largest
/// coordinate difference) and their values within `f` of the best's. BFGS: a step that moves every
/// coordinate by less than `x` and the value by less than `f`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerance {
    /// Largest coordinate distance of a vertex from the best one.
    pub(crate) x: f64,
    /// Largest difference of a vertex's value from the best one's.
    pub(crate) f: f64,
}

impl Tolerance {
    /// Tight: the minimum itself is wanted (1e-6 in the coordinates, 1e-9 in the value).
    #[cfg(test)]
    pub(crate) const TIGHT: Tolerance = Tolerance { x: 1e-6, f: 1e-9 };
}

/// Minimise `f` from `start` with a Nelder–Mead simplex of initial edge `step`, until the simplex
/// is within `tol` (or a size of 1e-9) or `max_evals` evaluations are spent.
///
/// Non-finite values of `f` count as +∞. Returns the best point and its value.
pub(crate) fn nelder_mead<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    start: &[f64],
    step: f64,
    max_evals: usize,
    tol: Tolerance,
) -> (Vec<f64>, f64) {
    let d = start.len();
    let mut eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((start.to_vec(), eval(start)));
    for i in 0..d {
        let mut x = start.to_vec();
        x[i] += step;
        let v = eval(&x);
        simplex.push((x, v));
    }
    let mut evals = d + 1;
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = simplex[0].1;
        let worst = simplex[d].1;
        let size = simplex
            .iter()
            .skip(1)
            .map(|(x, _)| {
                x.iter()
                    .zip(&simplex[0].0)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        if (worst - best).abs() < tol.f && size < tol.x {
            break;
        }
        if size < 1e-9 {
            break;
        }
        let mut centroid = vec![0.0; d];
        for (x, _) in simplex.iter().take(d) {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / d as f64;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[d].0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = along(-1.0);
        let fr = eval(&reflected);
        evals += 1;
        if fr < simplex[0].1 {
            let expanded = along(-2.0);
            let fe = eval(&expanded);
            evals += 1;
            simplex[d] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < simplex[d].1 {
                let c = along(-0.5);
                let v = eval(&c);
                (c, v)
            } else {
                let c = along(0.5);
                let v = eval(&c);
                (c, v)
            };
            evals += 1;
            if fc < simplex[d].1.min(fr) {
                simplex[d] = (contracted, fc);
            } else {
                let x0 = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for (xi, bi) in x.iter_mut().zip(&x0) {
                        *xi = bi + 0.5 * (*xi - bi);
                    }
                    *v = eval(x);
                    evals += 1;
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, v) = simplex.swap_remove(0);
    (x, v)
}

/// Minimise `f` from `start` by BFGS with a backtracking (Armijo) line search, `f` returning the
/// value and its gradient. With `h0` (an inverse Hessian, row-major d × d, e.g. a neighbouring
/// problem's) the first step is the quasi-Newton step −h0·g; without it, or when that is not a
/// descent direction, the first step goes down the gradient with its largest coordinate `step`.
/// No step moves a coordinate by more than 1. Stops when a step moves every coordinate by
/// less than `tol.x` and the value by less than `tol.f`, when the gradient vanishes (every
/// coordinate below 1e-9), when the line search fails, or after `max_evals` evaluations.
///
/// Non-finite values count as +∞ (the line search backs off). Returns the best point and its
/// value, `None` when `f` is not finite at `start`.
pub(crate) fn bfgs<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
    mut f: F,
    start: &[f64],
    h0: Option<&[f64]>,
    step: f64,
    max_evals: usize,
    tol: Tolerance,
) -> Option<(Vec<f64>, f64)> {
    let d = start.len();
    let mut x = start.to_vec();
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let max_abs = |v: &[f64]| v.iter().fold(0.0, |m: f64, a| m.max(a.abs()));
    // Inverse Hessian approximation (row-major d × d); None until the first update unless given.
    let mut h: Option<Vec<f64>> = h0.filter(|h| h.len() == d * d).map(<[f64]>::to_vec);
    let mut evals = 1;
    while evals < max_evals {
        let gmax = max_abs(&g);
        if gmax < 1e-9 {
            break;
        }
        let mut p: Vec<f64> = match &h {
            Some(h) => (0..d)
                .map(|i| -(0..d).map(|j| h[i * d + j] * g[j]).sum::<f64>())
                .collect(),
            None => g.iter().map(|v| -v * step / gmax).collect(),
        };
        let mut slope: f64 = p.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction: back to the gradient.
            h = None;
            p = g.iter().map(|v| -v * step / gmax).collect();
            slope = p.iter().zip(&g).map(|(a, b)| a * b).sum();
        }
        let longest = max_abs(&p);
        if longest > 1.0 {
            for v in &mut p {
                *v /= longest;
            }
            slope /= longest;
        }
        let mut t = 1.0;
        let mut accepted = None;
        while evals < max_evals && t > 1e-10 {
            let xn: Vec<f64> = x.iter().zip(&p).map(|(a, b)| a + t * b).collect();
            let (fnew, gnew) = f(&xn);
            evals += 1;
            if fnew.is_finite()
                && gnew.iter().all(|v| v.is_finite())
                && fnew <= fx + 1e-4 * t * slope
            {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew, gnew)) = accepted else {
            break;
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let done = max_abs(&s) < tol.x && fx - fnew < tol.f;
        (x, fx, g) = (xn, fnew, gnew);
        if done {
            break;
        }
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > 1e-12 {
            let h = h.get_or_insert_with(|| {
                // First update: scale the identity by sᵀy / yᵀy.
                let yy: f64 = y.iter().map(|v| v * v).sum();
                let mut id = vec![0.0; d * d];
                for i in 0..d {
                    id[i * d + i] = sy / yy;
                }
                id
            });
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/(sᵀy).
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| h[i * d + j] * y[j]).sum())
                .collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..d {
                for j in 0..d {
                    h[i * d + j] +=
                        rho * ((1.0 + rho * yhy) * s[i] * s[j] - hy[i] * s[j] - s[i] * hy[j]);
                }
            }
        }
    }
    Some((x, fx))
}

/// Central finite-difference Hessian at `x` with step `h` (row-major d×d); `f0` is the function
/// at `x`, which the caller has already computed. `f` is given every point the differences need at
/// once and returns the function at each, in that order (so that it can evaluate them side by
/// side).
pub(crate) fn hessian<F: FnOnce(&[Vec<f64>]) -> Vec<f64>>(
    f: F,
    x: &[f64],
    f0: f64,
    h: f64,
) -> Vec<f64> {
    let d = x.len();
    let at = |dx: &[(usize, f64)]| {
        let mut y = x.to_vec();
        for &(i, s) in dx {
            y[i] += s;
        }
        y
    };
    let mut points = Vec::with_capacity(d * (2 * d));
    for i in 0..d {
        points.push(at(&[(i, h)]));
        points.push(at(&[(i, -h)]));
        for j in 0..i {
            points.push(at(&[(i, h), (j, h)]));
            points.push(at(&[(i, h), (j, -h)]));
            points.push(at(&[(i, -h), (j, h)]));
            points.push(at(&[(i, -h), (j, -h)]));
        }
    }
    let values = f(&points);
    assert_eq!(values.len(), points.len(), "hessian: one value a point");
    let mut next = values.into_iter();
    let mut take = || next.next().unwrap_or(f64::NAN);
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        let fp = take();
        let fm = take();
        out[i * d + i] = (fp - 2.0 * f0 + fm) / (h * h);
        for j in 0..i {
            let fpp = take();
            let fpm = take();
            let fmp = take();
            let fmm = take();
            let v = (fpp - fpm - fmp + fmm) / (4.0 * h * h);
            out[i * d + j] = v;
            out[j * d + i] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_quadratic_minimum_and_its_curvature() {
        let f = |x: &[f64]| 3.0 * (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2) + x[0] * x[1];
        let (x, _) = nelder_mead(f, &[0.0, 0.0], 0.5, 500, Tolerance::TIGHT);
        // Gradient zero: 6(x0-1) + x1 = 0, 2(x1+2) + x0 = 0.
        assert!((6.0 * (x[0] - 1.0) + x[1]).abs() < 1e-4);
        assert!((2.0 * (x[1] + 2.0) + x[0]).abs() < 1e-4);
        let h = hessian(
            |points| points.iter().map(|y| f(y)).collect(),
            &x,
            f(&x),
            1e-3,
        );
        assert!(
            (h[0] - 6.0).abs() < 1e-4 && (h[3] - 2.0).abs() < 1e-4 && (h[1] - 1.0).abs() < 1e-4
        );
    }

    #[test]
    fn bfgs_finds_the_minimum_of_a_quadratic_and_of_rosenbrock() {
        let quad = |x: &[f64]| {
            let v = 3.0 * (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2) + x[0] * x[1];
            let g = vec![6.0 * (x[0] - 1.0) + x[1], 2.0 * (x[1] + 2.0) + x[0]];
            (v, g)
        };
        let (x, _) = bfgs(quad, &[0.0, 0.0], None, 0.5, 100, Tolerance::TIGHT).unwrap();
        // Started with the exact inverse Hessian ([[6, 1], [1, 2]]⁻¹), every step goes straight at
        // the minimum (capped at 1 per coordinate): three steps, no line-search backtracking.
        let mut calls = 0;
        let counted = |x: &[f64]| {
            calls += 1;
            quad(x)
        };
        let inv = [2.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 6.0 / 11.0];
        let (y, _) = bfgs(
            counted,
            &[0.0, 0.0],
            Some(&inv[..]),
            0.5,
            100,
            Tolerance::TIGHT,
        )
        .unwrap();
        assert!(
            (y[0] - x[0]).abs() < 1e-6 && (y[1] - x[1]).abs() < 1e-6,
            "{y:?}"
        );
        assert!(calls <= 6, "{calls} calls");
        assert!((6.0 * (x[0] - 1.0) + x[1]).abs() < 1e-5, "{x:?}");
        assert!((2.0 * (x[1] + 2.0) + x[0]).abs() < 1e-5, "{x:?}");
        let rosenbrock = |x: &[f64]| {
            let v = (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
            let g = vec![
                -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]),
                200.0 * (x[1] - x[0] * x[0]),
            ];
            (v, g)
        };
        let (x, v) = bfgs(rosenbrock, &[-1.2, 1.0], None, 0.5, 500, Tolerance::TIGHT).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?} {v}"
        );
        // Outside the domain (+∞) the line search backs off; an infinite start gives None.
        let walled = |x: &[f64]| {
            if x[0] > 0.5 {
                (f64::INFINITY, vec![0.0])
            } else {
                ((x[0] - 1.0).powi(2), vec![2.0 * (x[0] - 1.0)])
            }
        };
        let (x, _) = bfgs(walled, &[0.0], None, 0.3, 200, Tolerance::TIGHT).unwrap();
        assert!(x[0] <= 0.5 && x[0] > 0.45, "{x:?}");
        assert!(bfgs(walled, &[0.7], None, 0.3, 200, Tolerance::TIGHT).is_none());
    }
}
