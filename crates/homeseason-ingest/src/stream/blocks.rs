//! Small building blocks: hashing, the fingerprint set, numbers and dates.

use super::*;

pub(super) fn nonzero(h: u64) -> u64 {
    if h == 0 { 1 } else { h }
}

pub(super) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A hasher for keys that are `u64`s already.
#[derive(Default)]
pub(super) struct U64Hasher(pub(super) u64);
impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = mix64(self.0 ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = mix64(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = mix64((i as u64) ^ mix64((i >> 64) as u64));
    }
}
pub(super) type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

/// An open-addressing set of non-zero `u64` fingerprints: 8 bytes a slot, load ≤ 0.8.
#[derive(Debug, Clone)]
pub(crate) struct FpSet {
    slots: Vec<u64>,
    len: usize,
}

impl FpSet {
    pub(crate) fn with_capacity(n: usize) -> FpSet {
        let want = (n.saturating_mul(5) / 4).max(1024).next_power_of_two();
        FpSet {
            slots: vec![0; want],
            len: 0,
        }
    }
    #[inline]
    pub(super) fn slot(&self, fp: u64) -> usize {
        (mix64(fp) as usize) & (self.slots.len() - 1)
    }
    /// Insert; `true` when it was not there.
    #[inline]
    pub(crate) fn insert(&mut self, fp: u64) -> bool {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(fp);
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = fp;
                self.len += 1;
                return true;
            }
            if s == fp {
                return false;
            }
            i = (i + 1) & mask;
        }
    }
    #[inline]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(fp);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return false;
            }
            if s == fp {
                return true;
            }
            i = (i + 1) & mask;
        }
    }
    /// Ask the cache for the slot `fp` would be probed at first, so that a probe a few rows later
    /// finds it there ([`prefetch`]).
    #[inline]
    pub(super) fn touch(&self, fp: u64) {
        prefetch(&self.slots[self.slot(fp)]);
    }
    /// The fingerprints held.
    pub(super) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&f| f != 0)
    }
    pub(super) fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![0; old.len() * 2];
        self.len = 0;
        for fp in old.into_iter().filter(|&f| f != 0) {
            self.insert(fp);
        }
    }
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// The fingerprints a later pass wants ([`FpSet`]) behind a bitmap small enough to stay in a core's
/// cache: the verification pass asks for every line of the file, and most lines are not wanted,
/// so most answers come from the bitmap without a probe of the set (a cache miss each).
#[derive(Debug, Clone)]
pub(crate) struct WantSet {
    set: FpSet,
    bits: Vec<u64>,
    mask: u64,
}

/// The most bits of a [`WantSet`]'s bitmap: 2²² bits, 512 KiB (half of a core's 1 MiB L2 here).
const WANT_MAX_BITS: usize = 1 << 22;

impl WantSet {
    pub(crate) fn new(set: FpSet) -> WantSet {
        let n = set.iter().count();
        let nbits = n
            .saturating_mul(16)
            .next_power_of_two()
            .clamp(1 << 12, WANT_MAX_BITS);
        let mut bits = vec![0u64; nbits / 64];
        let mask = (nbits - 1) as u64;
        for fp in set.iter() {
            let b = want_bit(fp) & mask;
            bits[(b >> 6) as usize] |= 1 << (b & 63);
        }
        WantSet { set, bits, mask }
    }

    /// Ask the cache for `fp`'s word of the bitmap ([`prefetch`]).
    #[inline]
    pub(super) fn touch(&self, fp: u64) {
        let b = want_bit(fp) & self.mask;
        prefetch(&self.bits[(b >> 6) as usize]);
    }

    /// When the bitmap has `fp`'s bit: ask the cache for its slot of the set.
    #[inline]
    pub(super) fn touch_set(&self, fp: u64) {
        let b = want_bit(fp) & self.mask;
        if self.bits[(b >> 6) as usize] & (1 << (b & 63)) != 0 {
            self.set.touch(fp);
        }
    }

    /// Whether `fp` is wanted.
    #[inline]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        let b = want_bit(fp) & self.mask;
        self.bits[(b >> 6) as usize] & (1 << (b & 63)) != 0 && self.set.contains(fp)
    }
}

/// A fingerprint's bit in [`WantSet`]'s bitmap: another mix than [`FpSet::slot`]'s.
#[inline]
fn want_bit(fp: u64) -> u64 {
    mix64(fp ^ 0x5851_f42d_4c95_7f2d)
}

/// Bits of [`DupFilter`] aimed at per expected row (rounded up to a power of two).
const DUP_BITS_PER_ROW: usize = 20;
/// The most bits [`DupFilter`] takes, whatever the file's size: 2³¹ bits, 256 MiB.
pub(super) const DUP_MAX_BITS: usize = 1 << 31;

#[cfg(test)]
thread_local! {
    /// Tests: the bits of every [`DupFilter`] made on this thread (a tiny filter makes most rows
    /// false hits).
    pub(super) static DUP_TEST_BITS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// A [`DupFilter`] block: one cache line, aligned to one (a prefetch brings all of it).
#[derive(Clone, Copy)]
#[repr(align(64))]
pub(super) struct Block([u64; 8]);

/// The first pass's duplicate table: a blocked Bloom filter of `txn_id` fingerprints, bounded
/// (at most [`DUP_MAX_BITS`], about 20 bits a row up to ~100 M rows) whatever the file's size.
///
/// It answers "new" or "maybe seen": a row it calls new is new for certain (a filter has no
/// false negatives), so the first pass takes it at once; a row it calls maybe seen is dropped as a
/// candidate repeat, and the verification pass judges every such row exactly by its `txn_id` text
/// ([`super::merge::verify`]) — a false hit (about 1 row in 10⁴ at 20 bits a row, more once a file
/// passes ~100 M rows) is taken there. Each fingerprint sets 8 bits in one 64-byte block, so a
/// probe is one cache line.
pub(super) struct DupFilter {
    blocks: Vec<Block>,
    mask: usize,
}

impl DupFilter {
    /// A filter for about `rows` rows, within [`DUP_MAX_BITS`].
    pub(super) fn with_capacity(rows: usize) -> DupFilter {
        // At least 128 KiB: a small file's table never fills (its false hits are ~10⁻¹²).
        let bits = rows
            .saturating_mul(DUP_BITS_PER_ROW)
            .checked_next_power_of_two()
            .unwrap_or(DUP_MAX_BITS)
            .clamp(1 << 20, DUP_MAX_BITS);
        #[cfg(test)]
        let bits = DUP_TEST_BITS.with(std::cell::Cell::get).unwrap_or(bits);
        DupFilter::with_bits(bits)
    }

    /// A filter of `bits` bits (a power of two, at least 512).
    pub(super) fn with_bits(bits: usize) -> DupFilter {
        let n = (bits / 512).max(1);
        DupFilter {
            blocks: vec![Block([0; 8]); n],
            mask: n - 1,
        }
    }

    /// The block and the 8 bits (word index, bit) of `fp`.
    #[inline]
    fn bits(&self, fp: u64) -> (usize, [(usize, u64); 8]) {
        let h = mix64(fp);
        let g = mix64(fp ^ 0x9e37_79b9_7f4a_7c15);
        let block = (h as usize) & self.mask;
        let mut out = [(0, 0); 8];
        for (i, o) in out.iter_mut().enumerate() {
            // Seven 9-bit positions from `g`, the eighth from the top of `h` (the block index
            // uses at most its low 22 bits).
            let pos = if i < 7 { (g >> (9 * i)) & 511 } else { h >> 55 };
            *o = ((pos >> 6) as usize, 1u64 << (pos & 63));
        }
        (block, out)
    }

    /// Record `fp`; `true` when it was certainly not recorded before, `false` when it may have
    /// been.
    #[inline]
    pub(super) fn insert(&mut self, fp: u64) -> bool {
        let (block, bits) = self.bits(fp);
        let b = &mut self.blocks[block].0;
        let mut new = false;
        for (w, bit) in bits {
            new |= b[w] & bit == 0;
            b[w] |= bit;
        }
        new
    }

    /// Whether `fp` may have been recorded (`false`: certainly not).
    #[inline]
    pub(super) fn contains(&self, fp: u64) -> bool {
        let (block, bits) = self.bits(fp);
        let b = &self.blocks[block].0;
        bits.iter().all(|&(w, bit)| b[w] & bit != 0)
    }

    /// Ask the cache for the block `fp` probes (see [`FpSet::touch`]).
    #[inline]
    pub(super) fn touch(&self, fp: u64) {
        prefetch(&self.blocks[(mix64(fp) as usize) & self.mask]);
    }

    /// Bytes held.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.blocks.len() * 64
    }
}

/// A hint to the CPU to bring `r`'s cache line into the cache. The merger probes tables far larger
/// than the cache at random (the duplicate filter, the merchant pairs): prefetching a block of rows'
/// slots before probing them overlaps their memory latency. A prefetch retires at once, where a plain
/// load would hold the core until its line arrives.
#[inline]
pub(super) fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` needs SSE, part of every x86_64 CPU (the target's baseline), and
    // only hints the cache: it reads no memory the program can observe and cannot fault, and the
    // address is a live reference's anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::from_ref(r).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

pub(super) fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

pub(super) use homeseason_schema::calendar::{civil_from_days, days_from_civil, days_in_month};

pub(super) fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Seconds since the epoch of a local time in the contract's format, `YYYY-MM-DD HH:MM:SS`.
pub(super) fn fast_datetime(b: &[u8]) -> Option<i64> {
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let hh = digits(&b[11..13])?;
    let mm = digits(&b[14..16])?;
    let ss = digits(&b[17..19])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 59
    {
        return None;
    }
    Some(i64::from(days_from_civil(y, m, d)) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss))
}

/// The Beijing calendar day (days since the epoch) of a timestamp cell, or `None` when unreadable.
pub(crate) fn beijing_day(cell: &[u8], format: &TimeFormat, offset: i32) -> Option<i32> {
    const BJ: i64 = 8 * 3600;
    let utc_secs: i64 = match format {
        TimeFormat::Pattern(p) if p == crate::profile::DEFAULT_TIME_FORMAT => {
            fast_datetime(cell)? - i64::from(offset)
        }
        TimeFormat::Pattern(p) => {
            let s = std::str::from_utf8(cell).ok()?;
            let local = chrono::NaiveDateTime::parse_from_str(s, p)
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, p)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })?;
            local.and_utc().timestamp() - i64::from(offset)
        }
        TimeFormat::UnixSeconds => std::str::from_utf8(cell).ok()?.parse::<i64>().ok()?,
        TimeFormat::UnixMillis => std::str::from_utf8(cell)
            .ok()?
            .parse::<i64>()
            .ok()?
            .div_euclid(1000),
        TimeFormat::Rfc3339 => {
            chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(cell).ok()?)
                .ok()?
                .timestamp()
        }
    };
    // Checked: a Unix-seconds cell near i64::MAX overflowed here (found by fuzzing).
    i32::try_from(utc_secs.checked_add(BJ)?.div_euclid(86_400)).ok()
}

/// An amount cell → fen. `None` when not a plain decimal number — thousands separators only in the
/// integer part, grouping it in threes (`1,234,567.89`; not `12,50`, `1,2,3`, `407,42`), as
/// `parse::thousands_ok` and the Spark engine's `fen_sql`.
pub(crate) fn parse_fen(cell: &[u8], unit: AmountUnit) -> Option<i64> {
    let mut b = cell;
    let mut neg = false;
    if let Some((&c, rest)) = b.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        b = rest;
    }
    let mut int: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits = 0u32;
    let mut round_up = false;
    let mut seen_digit = false;
    let mut in_frac = false;
    let mut int_digits = 0;
    // Digits since the last thousands separator (`None` before the first one).
    let mut group: Option<u32> = None;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i64::from(c - b'0');
                if in_frac {
                    let keep = unit.fen_digits();
                    if frac_digits < keep {
                        frac = frac * 10 + d;
                    } else if frac_digits == keep {
                        round_up = d >= 5;
                    }
                    frac_digits += 1;
                } else {
                    int_digits += 1;
                    if int_digits > unit.max_int_digits() {
                        return None;
                    }
                    int = int * 10 + d;
                    if let Some(g) = group.as_mut() {
                        *g += 1;
                    }
                }
            }
            b'.' if !in_frac => {
                if group.is_some_and(|g| g != 3) {
                    return None;
                }
                in_frac = true;
            }
            b',' if !in_frac => {
                let ok = match group {
                    None => (1..=3).contains(&int_digits),
                    Some(g) => g == 3,
                };
                if !ok {
                    return None;
                }
                group = Some(0);
            }
            _ => return None,
        }
    }
    if !seen_digit || (!in_frac && group.is_some_and(|g| g != 3)) {
        return None;
    }
    // int × 10^d + the kept fraction digits padded to d, rounded on the next one.
    let d = unit.fen_digits();
    let mut f = frac;
    for _ in frac_digits.min(d)..d {
        f *= 10;
    }
    let fen = int * 10_i64.pow(d) + f + i64::from(round_up);
    Some(if neg { -fen } else { fen })
}
