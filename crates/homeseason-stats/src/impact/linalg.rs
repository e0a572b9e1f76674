//! Dense kernels on plain slices (row-major), kept out of nalgebra's generics so the hot loops stay
//! fast in unoptimised test builds too.

/// Dot product (over the shorter length) with four accumulators: element `i` goes to accumulator
/// `i mod 4` (the last `n mod 4` elements to the first), and the sum is `(s₀ + s₁) + (s₂ + s₃)`.
/// Written over four-element chunks so the accumulators become vector lanes; [`dot4`] keeps the
/// same order, so both give the same value to the bit.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((acc, xv), yv) in s.iter_mut().zip(x).zip(y) {
            *acc += xv * yv;
        }
    }
    for (x, y) in ra.iter().zip(rb) {
        s[0] += x * y;
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// Four dot products against one column, `[dot(a[0], b), …, dot(a[3], b)]` to the bit (each `a[c]`
/// at least as long as `b`): one pass over `b` and sixteen independent accumulators, about half the
/// time of four [`dot`] calls.
pub(crate) fn dot4(a: [&[f64]; 4], b: &[f64]) -> [f64; 4] {
    let n = b.len();
    let a = [&a[0][..n], &a[1][..n], &a[2][..n], &a[3][..n]];
    let mut s = [[0.0f64; 4]; 4];
    let full = n / 4 * 4;
    let mut i = 0;
    while i < full {
        let y = &b[i..i + 4];
        for (acc, col) in s.iter_mut().zip(&a) {
            for ((lane, xv), yv) in acc.iter_mut().zip(&col[i..i + 4]).zip(y) {
                *lane += xv * yv;
            }
        }
        i += 4;
    }
    for (i, bv) in b.iter().enumerate().skip(full) {
        for (acc, col) in s.iter_mut().zip(&a) {
            acc[0] += col[i] * bv;
        }
    }
    s.map(|acc| (acc[0] + acc[1]) + (acc[2] + acc[3]))
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

    #[test]
    fn dot4_gives_each_dot_to_the_bit() {
        for n in [0usize, 1, 3, 4, 7, 64, 1001] {
            let col = |c: usize| -> Vec<f64> {
                (0..n)
                    .map(|i| ((i * 7919 + c * 104_729) % 1013) as f64 / 97.0 - 5.2)
                    .collect()
            };
            let (a, b) = ([col(0), col(1), col(2), col(3)], col(4));
            let four = dot4(
                [
                    a[0].as_slice(),
                    a[1].as_slice(),
                    a[2].as_slice(),
                    a[3].as_slice(),
                ],
                &b,
            );
            for c in 0..4 {
                // The reference order of `dot`, written out.
                let mut s = [0.0f64; 4];
                for (i, (x, y)) in a[c].iter().zip(&b).enumerate() {
                    let lane = if i < n / 4 * 4 { i % 4 } else { 0 };
                    s[lane] += x * y;
                }
                let want = (s[0] + s[1]) + (s[2] + s[3]);
                assert_eq!(dot(&a[c], &b).to_bits(), want.to_bits(), "dot n={n}");
                assert_eq!(four[c].to_bits(), want.to_bits(), "dot4 n={n} c={c}");
            }
        }
    }
}
