//! Dense kernels on plain slices (row-major), kept out of nalgebra's generics so the hot loops stay
//! fast in unoptimised test builds too.

/// Dot product (over the shorter length) with four accumulators: element `i` goes to accumulator
/// `i mod 4` (the last `n mod 4` elements to the first), and the sum is `(s₀ + s₁) + (s₂ + s₃)`.
/// Written over four-element chunks so the accumulators become vector lanes. `#[inline]`: its
/// callers (the factorisations, the posterior draws' one dot product a day) sit in other codegen
/// units, and a call costs about as much as a short product.
#[inline]
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

/// How many posterior draws [`dot_lanes`] and [`back_substitute_lanes`] take side by side.
pub(crate) const LANES: usize = 4;

/// [`dot`] of `a` with each of [`LANES`] vectors of length `k` laid end to end in `b`, side by
/// side: each lane's sum is [`dot`]'s, with the same operations in the same order (so the same
/// bits), but the lanes' four chains of additions overlap instead of waiting on each other.
#[inline]
pub(crate) fn dot_lanes(a: &[f64], b: &[f64], k: usize) -> [f64; LANES] {
    let a = &a[..k];
    let b = &b[..LANES * k];
    let whole = k / 4 * 4;
    let mut s = [[0.0f64; 4]; LANES];
    for (c, x) in a[..whole].chunks_exact(4).enumerate() {
        for (lane, acc) in s.iter_mut().enumerate() {
            let y = &b[lane * k + c * 4..lane * k + c * 4 + 4];
            for ((acc, xv), yv) in acc.iter_mut().zip(x).zip(y) {
                *acc += xv * yv;
            }
        }
    }
    for (j, x) in a.iter().enumerate().skip(whole) {
        for (lane, acc) in s.iter_mut().enumerate() {
            acc[0] += x * b[lane * k + j];
        }
    }
    s.map(|s| (s[0] + s[1]) + (s[2] + s[3]))
}

/// [`back_substitute`] for [`LANES`] systems side by side: lane `l` solves `L_lᵀ x = b_l` with
/// `ls[l]` (row-major k × k) and `b[l·k..(l + 1)·k]`; the solutions are returned end to end the
/// same way. Each lane's operations and their order are [`back_substitute`]'s (the same bits); the
/// lanes' chains of subtractions overlap.
pub(crate) fn back_substitute_lanes(ls: [&[f64]; LANES], k: usize, b: &[f64]) -> Vec<f64> {
    // The lanes' unknowns interleaved (x[j·LANES + l]) while solving.
    let mut x = vec![0.0; LANES * k];
    for i in (0..k).rev() {
        let mut s: [f64; LANES] = std::array::from_fn(|lane| b[lane * k + i]);
        for j in i + 1..k {
            let xj = &x[j * LANES..(j + 1) * LANES];
            for lane in 0..LANES {
                s[lane] -= ls[lane][j * k + i] * xj[lane];
            }
        }
        for lane in 0..LANES {
            x[i * LANES + lane] = s[lane] / ls[lane][i * k + i];
        }
    }
    let mut out = vec![0.0; LANES * k];
    for (j, xs) in x.chunks_exact(LANES).enumerate() {
        for (lane, v) in xs.iter().enumerate() {
            out[lane * k + j] = *v;
        }
    }
    out
}

/// Days per pass of [`gram_add`]: 64 rows of up to 48 values stay in the first-level cache while
/// every block of the product walks over them. The exact evaluation ([`super::fit`]) whitens this
/// many days at a time into a buffer of this size and adds them, so the whitened days are never
/// written out in full.
pub(crate) const GRAM_CHUNK: usize = 64;

/// The whole product of [`gram_add`] from zeros, the rows in chunks of [`GRAM_CHUNK`] (as the exact
/// evaluation passes them; any split gives the same values).
#[cfg(test)]
pub(crate) fn gram(rows: &[f64], width: usize, out: &mut [f64]) {
    out.fill(0.0);
    for chunk in rows.chunks(GRAM_CHUNK * width) {
        gram_add(chunk, width, out);
    }
}

/// Add the cross products `AᵀA` of the day-major matrix `rows` (`width` values a row, `width` a
/// multiple of 4) to `out` (row-major `width × width`; only the blocks on and below the diagonal
/// — 4 × 4 blocks `(I, J)` with `J ≤ I` — are touched). From zeros, `out` is then `AᵀA` on those
/// blocks; passing the rows of a larger matrix in consecutive pieces, in order, gives the product
/// of the whole to the bit (each element's running sum continues where the last piece left it).
///
/// A fixed register block: sixteen accumulators per 4 × 4 block, and every element is the row-order
/// chain of fused multiply-adds over the rows (`fma(a₁, b₁, fma(a₀, b₀, 0))…`: each product added
/// with one rounding, as exact as a product-sum can be), so the value does not depend on the CPU,
/// the thread or the chunking. Each block reads its 4 + 4 columns of a row for 16 products (a dot
/// product reads 2 values for 1); a piece of [`GRAM_CHUNK`] rows stays in cache while every block
/// passes over it. On an x86-64 CPU with AVX2 and FMA the same code compiled for them runs (four
/// lanes a register, one instruction a product-sum), and with AVX-512F as well the same code
/// compiled for that (eight lanes); the portable kernel computes the same fused operations with
/// [`f64::mul_add`] (an instruction on aarch64, exact software on an x86-64 CPU without FMA), so
/// the same bits — `the_avx2_kernels_give_the_portable_bits`.
pub(crate) fn gram_add(rows: &[f64], width: usize, out: &mut [f64]) {
    assert!(
        width.is_multiple_of(4) && out.len() == width * width,
        "gram: width {width} must be a multiple of 4 and out hold width² values"
    );
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        gram_add_on(avx2, rows, width, out);
        return;
    }
    gram_add_portable(rows, width, out);
}

/// Proof that the CPU runs AVX2 and FMA, and whether it runs AVX-512F too: only [`Avx2::detect`]
/// makes one (and [`Avx2::without_avx512`] one that claims less), and the kernels compiled for them
/// (`#[target_feature(enable = …)]`, which Rust makes `unsafe` to call from code compiled without
/// it) are called only by functions that take one ([`gram_add_on`], `fit::whiten_day_on`). Rust
/// fuses a multiply and an add only where the code says `mul_add` (the cross products do, the
/// whitening does not), so every kernel gives its portable twin's bits.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2 {
    /// The CPU has AVX-512F as well (eight lanes a register).
    pub(crate) avx512: bool,
}

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` if this CPU has AVX2 and FMA (std detects them once and caches the answer), noting
    /// AVX-512F.
    #[inline]
    pub(crate) fn detect() -> Option<Avx2> {
        let base = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        base.then(|| Avx2 {
            avx512: std::arch::is_x86_feature_detected!("avx512f"),
        })
    }

    /// The same proof with AVX-512F left unused (always sound: it claims less).
    #[cfg(test)]
    pub(crate) fn without_avx512(mut self) -> Avx2 {
        self.avx512 = false;
        self
    }
}

/// [`gram_add`]'s kernel compiled for AVX2, through the proof that the CPU has it.
#[cfg(target_arch = "x86_64")]
#[inline]
fn gram_add_on(cpu: Avx2, rows: &[f64], width: usize, out: &mut [f64]) {
    // SAFETY: an `Avx2` exists only if `is_x86_feature_detected!` found AVX2 and FMA on this CPU at
    // run time, and says `avx512` only if it found AVX-512F too: the one requirement of calling a
    // `target_feature(enable = "avx2,fma")`, or `"avx512f,fma"`, function.
    #[allow(unsafe_code)]
    unsafe {
        if cpu.avx512 {
            gram_add_avx512(rows, width, out);
        } else {
            gram_add_avx2(rows, width, out);
        }
    }
}

/// [`gram_add`]'s kernel compiled for AVX2 and FMA: the same fused multiply-adds as
/// [`gram_add_portable`], one instruction each, four lanes a register, and blocks of 4 × 8 instead
/// of 4 × 4 where they fit — eight independent sums in flight instead of four, so the additions'
/// latency no longer bounds the loop (AVX2 has the sixteen registers for them). Every element is
/// still its row-order chain.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gram_add_avx2(rows: &[f64], width: usize, out: &mut [f64]) {
    gram_triangle::<8>(rows, width, out);
}

/// [`gram_add`]'s kernel compiled for AVX-512F and FMA: the same code as [`gram_add_avx2`] with
/// blocks of 4 × 16 where they fit (eight lanes a register, eight registers of sums in flight), then
/// 4 × 8 and 4 × 4; every element still its row-order chain. On an Intel server core it takes
/// about a quarter less time than the AVX2 kernel (`benchmarks/UPLIFT.md`, session 23); on a CPU
/// that splits 512-bit operations in two (AMD Zen 4) it is as fast.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gram_add_avx512(rows: &[f64], width: usize, out: &mut [f64]) {
    gram_triangle::<16>(rows, width, out);
}

/// [`gram_add`]'s kernel for any CPU: 4 × 4 blocks ([`f64::mul_add`] is an instruction on aarch64
/// and exact, slow, software on an x86-64 CPU without FMA, where speed is not sought).
fn gram_add_portable(rows: &[f64], width: usize, out: &mut [f64]) {
    gram_triangle::<4>(rows, width, out);
}

/// The blocks on and below the diagonal, 4 rows at a time: `4 × WIDE` blocks (`WIDE` 4, 8 or 16)
/// while they fit, then a `4 × 8` and a `4 × 4` for the rest of the row of blocks.
#[expect(
    clippy::inline_always,
    reason = "the AVX2 and AVX-512 kernels are this body inlined into target_feature functions"
)]
#[inline(always)]
fn gram_triangle<const WIDE: usize>(rows: &[f64], width: usize, out: &mut [f64]) {
    for bi in (0..width).step_by(4) {
        let mut bj = 0;
        while bj + WIDE <= bi + 4 {
            gram_block::<WIDE>(rows, width, out, bi, bj);
            bj += WIDE;
        }
        if WIDE > 8 && bj + 8 <= bi + 4 {
            gram_block::<8>(rows, width, out, bi, bj);
            bj += 8;
        }
        if bj <= bi {
            gram_block::<4>(rows, width, out, bi, bj);
        }
    }
}

/// Add the cross products of columns `bi..bi + 4` with columns `bj..bj + C` over `rows` to those
/// elements of `out`, each a chain of fused multiply-adds in row order, in `4 × C` accumulators.
#[expect(
    clippy::inline_always,
    reason = "the AVX2 kernel is this body inlined into a target_feature function"
)]
#[inline(always)]
fn gram_block<const C: usize>(rows: &[f64], width: usize, out: &mut [f64], bi: usize, bj: usize) {
    let mut acc = [[0.0f64; C]; 4];
    for (a, line) in acc.iter_mut().enumerate() {
        line.copy_from_slice(&out[(bi + a) * width + bj..(bi + a) * width + bj + C]);
    }
    for row in rows.chunks_exact(width) {
        let x = &row[bi..bi + 4];
        let y = &row[bj..bj + C];
        for (line, xa) in acc.iter_mut().zip(x) {
            for (v, yb) in line.iter_mut().zip(y) {
                *v = xa.mul_add(*yb, *v);
            }
        }
    }
    for (a, line) in acc.iter().enumerate() {
        out[(bi + a) * width + bj..(bi + a) * width + bj + C].copy_from_slice(line);
    }
}

/// Diagonal of `(L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹` for lower-triangular L (row-major k × k): entry j is the sum of
/// squares of column j of L⁻¹, solved from row j down (the rows above are zero), k³/6 products.
///
/// Each column's solve is a chain (row i waits for rows j..i), so four columns are solved side by
/// side, row by row: four independent chains in flight. Every column gets the same operations in
/// the same order as alone (`inverse_diagonal_one_by_one` in the tests), so the same bits.
pub(crate) fn inverse_diagonal(l: &[f64], k: usize) -> Vec<f64> {
    const SIDE: usize = 4;
    let mut xs = vec![0.0; SIDE * k];
    let mut out = vec![0.0; k];
    for first in (0..k).step_by(SIDE) {
        let cols = first..(first + SIDE).min(k);
        for (x, j) in xs.chunks_exact_mut(k).zip(cols.clone()) {
            x[j] = 1.0 / l[j * k + j];
        }
        for i in first + 1..k {
            let (row, diag) = (&l[i * k..i * k + i], l[i * k + i]);
            for (x, j) in xs.chunks_exact_mut(k).zip(cols.clone()) {
                if j < i {
                    x[i] = -dot(&row[j..], &x[j..i]) / diag;
                }
            }
        }
        for (x, j) in xs.chunks_exact(k).zip(cols) {
            out[j] = dot(&x[j..], &x[j..]);
        }
    }
    out
}

/// Lower Cholesky factor L (row-major k × k) of a symmetric positive-definite matrix, or `None`.
///
/// Column by column: `l[j][j]` from row j's finished elements, then every `l[i][j]` below it,
/// which need only `l[i][..j]` (earlier columns) and row j: the k − j − 1 elements of a column are
/// independent chains, in flight together (row by row, each element waited for the one before
/// it). Every element gets the same operations in the same order as in the plain row-by-row loop
/// (`cholesky_row_by_row` in the tests), so the same bits; the first diagonal that is not positive
/// is the same in either order, so the same `None`.
pub(crate) fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for j in 0..k {
        let s = a[j * k + j] - dot(&l[j * k..j * k + j], &l[j * k..j * k + j]);
        if s.is_nan() || s <= 0.0 {
            return None;
        }
        let diag = s.sqrt();
        l[j * k + j] = diag;
        for i in j + 1..k {
            let s = a[i * k + j] - dot(&l[i * k..i * k + j], &l[j * k..j * k + j]);
            l[i * k + j] = s / diag;
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
pub(crate) mod tests {
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
    fn gram_is_the_row_order_chain_of_fused_products() {
        // 150 rows (two full chunks and a partial one) of 12 values.
        let (n, width) = (150usize, 12usize);
        let rows: Vec<f64> = (0..n * width)
            .map(|i| ((i * 7919) % 1013) as f64 / 97.0 - 5.2)
            .collect();
        let mut out = vec![0.0; width * width];
        gram(&rows, width, &mut out);
        for i in 0..width {
            for j in 0..width {
                if j / 4 > i / 4 {
                    assert_eq!(out[i * width + j], 0.0, "above the block diagonal: {i} {j}");
                    continue;
                }
                let mut want = 0.0f64;
                for row in rows.chunks_exact(width) {
                    want = row[i].mul_add(row[j], want);
                }
                assert_eq!(out[i * width + j].to_bits(), want.to_bits(), "{i} {j}");
            }
        }
    }

    /// For the AVX2 tests: the token, or `None` after a line saying the test is skipped.
    #[cfg(target_arch = "x86_64")]
    #[expect(
        clippy::print_stderr,
        reason = "says so when an AVX2 test is skipped (no AVX2 on this CPU)"
    )]
    pub(crate) fn avx2_or_skip() -> Option<Avx2> {
        let found = Avx2::detect();
        if found.is_none() {
            eprintln!("skipped: this CPU has no AVX2, only the portable kernel runs here");
        }
        found
    }

    /// The x86-64 kernels to hold to the portable bits: AVX2 alone, and AVX-512F where this CPU has it.
    #[cfg(target_arch = "x86_64")]
    #[expect(
        clippy::print_stderr,
        reason = "says so when the AVX-512 kernels are not tested (no AVX-512F on this CPU)"
    )]
    pub(crate) fn kernels(found: Avx2) -> Vec<Avx2> {
        if !found.avx512 {
            eprintln!("this CPU has no AVX-512F: only the AVX2 kernels are tested here");
        }
        let mut all = vec![found.without_avx512()];
        all.extend(found.avx512.then_some(found));
        all
    }

    /// A value of either sign between 2^(−span/2) and 2^(span/2) in size: over many magnitudes, so
    /// that any change of order or fusing of the operations would change the roundings.
    pub(crate) fn spread(rng: &mut crate::impact::rng::Sampler, span: f64) -> f64 {
        let e = (rng.uniform() * span - 0.5 * span).exp2();
        (rng.uniform() - 0.5) * e
    }

    #[test]
    fn the_avx2_kernels_give_the_portable_bits() {
        #[cfg(target_arch = "x86_64")]
        {
            use crate::impact::rng::Sampler;
            let Some(avx2) = avx2_or_skip() else { return };
            let mut rng = Sampler::new(19);
            let value = |rng: &mut Sampler| spread(rng, 40.0);
            for width in [4usize, 8, 12, 16, 20, 24, 36, 48, 52] {
                for n in [0usize, 1, 3, 63, 64, 65, 150] {
                    let rows: Vec<f64> = (0..n * width).map(|_| value(&mut rng)).collect();
                    let start: Vec<f64> = (0..width * width).map(|_| value(&mut rng)).collect();
                    let mut portable = start.clone();
                    gram_add_portable(&rows, width, &mut portable);
                    for cpu in kernels(avx2) {
                        let mut wide = start.clone();
                        gram_add_on(cpu, &rows, width, &mut wide);
                        for (i, (a, b)) in portable.iter().zip(&wide).enumerate() {
                            assert_eq!(
                                a.to_bits(),
                                b.to_bits(),
                                "width {width}, {n} rows, element {i}, AVX-512 {}",
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

    /// The plain loops the interleaved [`cholesky`] and [`inverse_diagonal`] must match to the bit.
    fn cholesky_row_by_row(a: &[f64], k: usize) -> Option<Vec<f64>> {
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

    fn inverse_diagonal_one_by_one(l: &[f64], k: usize) -> Vec<f64> {
        let mut x = vec![0.0; k];
        (0..k)
            .map(|j| {
                x[j] = 1.0 / l[j * k + j];
                for i in j + 1..k {
                    x[i] = -dot(&l[i * k + j..i * k + i], &x[j..i]) / l[i * k + i];
                }
                dot(&x[j..], &x[j..])
            })
            .collect()
    }

    #[test]
    fn interleaved_factorisations_give_the_plain_loops_bits() {
        use crate::impact::rng::Sampler;
        let mut rng = Sampler::new(37);
        for k in [1usize, 2, 3, 4, 5, 7, 8, 9, 16, 17, 36, 45, 46, 48] {
            for round in 0..6 {
                // A Gram matrix of random rows over many magnitudes (positive definite), and in
                // some rounds a broken one (a negative diagonal element somewhere).
                let n = k + 3;
                let rows: Vec<f64> = (0..n * k).map(|_| spread(&mut rng, 20.0)).collect();
                let mut a = vec![0.0; k * k];
                for r in rows.chunks_exact(k) {
                    for i in 0..k {
                        for j in 0..k {
                            a[i * k + j] += r[i] * r[j];
                        }
                    }
                }
                if round >= 4 {
                    let at = (round * 7) % k;
                    a[at * k + at] = -1.0;
                }
                let (plain, side) = (cholesky_row_by_row(&a, k), cholesky(&a, k));
                assert_eq!(plain.is_some(), side.is_some(), "k {k}, round {round}");
                let (Some(plain), Some(side)) = (plain, side) else {
                    continue;
                };
                for (x, y) in plain.iter().zip(&side) {
                    assert_eq!(x.to_bits(), y.to_bits(), "cholesky k {k}, round {round}");
                }
                let (one, side) = (
                    inverse_diagonal_one_by_one(&plain, k),
                    inverse_diagonal(&plain, k),
                );
                for (x, y) in one.iter().zip(&side) {
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "inverse diagonal k {k}, round {round}"
                    );
                }
            }
        }
    }

    #[test]
    fn draws_side_by_side_give_one_draws_bits() {
        use crate::impact::rng::Sampler;
        let mut rng = Sampler::new(41);
        for k in [1usize, 2, 3, 4, 5, 7, 8, 9, 36, 45, 46] {
            // Each lane its own factor (as draws from different posterior nodes), over many
            // magnitudes.
            let factors: Vec<Vec<f64>> = (0..LANES)
                .map(|_| {
                    let mut l = vec![0.0; k * k];
                    for i in 0..k {
                        for j in 0..i {
                            l[i * k + j] = spread(&mut rng, 6.0);
                        }
                        l[i * k + i] = spread(&mut rng, 3.0).abs() + 0.1;
                    }
                    l
                })
                .collect();
            let b: Vec<f64> = (0..LANES * k).map(|_| spread(&mut rng, 10.0)).collect();
            let row: Vec<f64> = (0..k).map(|_| spread(&mut rng, 10.0)).collect();
            let side =
                back_substitute_lanes(std::array::from_fn(|lane| factors[lane].as_slice()), k, &b);
            let dots = dot_lanes(&row, &b, k);
            for lane in 0..LANES {
                let one = back_substitute(&factors[lane], k, &b[lane * k..(lane + 1) * k]);
                for (x, y) in one.iter().zip(&side[lane * k..(lane + 1) * k]) {
                    assert_eq!(x.to_bits(), y.to_bits(), "solve k {k}, lane {lane}");
                }
                let plain = dot(&row, &b[lane * k..(lane + 1) * k]);
                assert_eq!(
                    plain.to_bits(),
                    dots[lane].to_bits(),
                    "dot k {k}, lane {lane}"
                );
            }
        }
    }

    #[test]
    fn inverse_diagonal_is_the_diagonal_of_the_inverse() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let diag = inverse_diagonal(&l, 3);
        for (j, d) in diag.iter().enumerate() {
            let mut e = [0.0; 3];
            e[j] = 1.0;
            let col = back_substitute(&l, 3, &forward_substitute(&l, 3, &e));
            assert!((d - col[j]).abs() < 1e-14, "{j}: {d} vs {}", col[j]);
        }
    }

    #[test]
    fn dot_sums_in_four_lanes() {
        for n in [0usize, 1, 3, 4, 7, 64, 1001] {
            let col = |c: usize| -> Vec<f64> {
                (0..n)
                    .map(|i| ((i * 7919 + c * 104_729) % 1013) as f64 / 97.0 - 5.2)
                    .collect()
            };
            let (a, b) = (col(0), col(4));
            // The reference order, written out.
            let mut s = [0.0f64; 4];
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let lane = if i < n / 4 * 4 { i % 4 } else { 0 };
                s[lane] += x * y;
            }
            let want = (s[0] + s[1]) + (s[2] + s[3]);
            assert_eq!(dot(&a, &b).to_bits(), want.to_bits(), "dot n={n}");
        }
    }
}
