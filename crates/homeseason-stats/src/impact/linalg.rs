//! Dense kernels on plain slices (row-major), kept out of nalgebra's generics so the hot loops stay
//! fast in unoptimised test builds too.

/// Dot product (over the shorter length). Written as an indexed loop with four accumulators: much
/// faster than an iterator chain in unoptimised builds, and as fast once optimised.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i + 4 <= n {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
        i += 4;
    }
    while i < n {
        s0 += a[i] * b[i];
        i += 1;
    }
    (s0 + s1) + (s2 + s3)
}

/// Lower Cholesky factor L (row-major k × k) of a symmetric positive-definite matrix, or `None`.
pub(crate) fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s = a[i * k + j] - dot(&l[i * k..i * k + j], &l[j * k..j * k + j]);
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Solve L x = b for lower-triangular L (row-major k × k).
pub(crate) fn forward_substitute(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; k];
    for i in 0..k {
        x[i] = (b[i] - dot(&l[i * k..i * k + i], &x[..i])) / l[i * k + i];
    }
    x
}

/// Solve Lᵀ x = b for lower-triangular L (row-major k × k).
pub(crate) fn back_substitute(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let mut s = b[i];
        for j in i + 1..k {
            s -= l[j * k + i] * x[j];
        }
        x[i] = s / l[i * k + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_through_the_cholesky_factor() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let b = [1.0, -2.0, 0.5];
        let x = back_substitute(&l, 3, &forward_substitute(&l, 3, &b));
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
