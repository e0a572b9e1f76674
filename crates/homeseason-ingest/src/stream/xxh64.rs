//! XXH64 (the reference algorithm of xxHash, 64-bit), written out here because the lake's index
//! hashes must be the ones Spark's `xxhash64` computes (XXH64 of the UTF-8 bytes, seed 42) and the
//! workspace's `xxhash-rust` is built with `xxh3` only (enabling its `xxh64` feature would rebuild
//! polars, which depends on it).

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge_round(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn read64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn read32(b: &[u8]) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(a))
}

/// XXH64 of `input` with `seed`. Inlined, so a call on a fixed-size value (the values
/// fingerprint's integers) compiles to its straight-line case.
#[must_use]
#[inline]
pub(super) fn xxh64(input: &[u8], seed: u64) -> u64 {
    let len = input.len() as u64;
    let mut rest = input;
    let mut h = if rest.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, read64(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for acc in v {
            h = merge_round(h, acc);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len);
    while rest.len() >= 8 {
        h ^= round(0, read64(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h ^= read32(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    avalanche(h)
}

#[inline]
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// [`xxh64`] of the 4 little-endian bytes of `v` (Spark's `xxhash64` of an `INT`): the straight
/// line [`xxh64`] takes for 4 bytes, without its length tests or a call.
#[must_use]
#[inline]
pub(super) fn xxh64_4(v: u32, seed: u64) -> u64 {
    let mut h = seed.wrapping_add(P5).wrapping_add(4);
    h ^= u64::from(v).wrapping_mul(P1);
    h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
    avalanche(h)
}

/// [`xxh64`] of the 8 little-endian bytes of `v` (Spark's `xxhash64` of a `BIGINT`), as
/// [`xxh64_4`].
#[must_use]
#[inline]
pub(super) fn xxh64_8(v: u64, seed: u64) -> u64 {
    let mut h = seed.wrapping_add(P5).wrapping_add(8);
    h ^= round(0, v);
    h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    avalanche(h)
}

#[cfg(test)]
mod tests {
    use super::{xxh64, xxh64_4, xxh64_8};

    #[test]
    fn reference_vectors() {
        // From the xxHash reference implementation (seed 0).
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        // Longer than one 32-byte stripe: the same as the byte-at-a-time definition would be
        // checked against Spark's xxhash64 in the engines test.
        assert_ne!(xxh64(&[7u8; 100], 42), xxh64(&[7u8; 99], 42));
    }

    #[test]
    fn the_fixed_width_hashes_are_xxh64_of_the_bytes() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let seed = x.rotate_left(17);
            assert_eq!(xxh64_8(x, seed), xxh64(&x.to_le_bytes(), seed));
            let v = (x >> 7) as u32;
            assert_eq!(xxh64_4(v, seed), xxh64(&v.to_le_bytes(), seed));
        }
        for v in [0u32, 1, u32::MAX, 0x8000_0000] {
            assert_eq!(xxh64_4(v, 42), xxh64(&v.to_le_bytes(), 42));
            assert_eq!(
                xxh64_8(u64::from(v), 42),
                xxh64(&u64::from(v).to_le_bytes(), 42)
            );
        }
    }
}
