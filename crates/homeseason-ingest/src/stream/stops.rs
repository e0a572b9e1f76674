//! The delimiters and line ends of a plain chunk, found 64 bytes at a time.
//!
//! The plain split ([`super::worker`]) had asked `memchr` for each line's end and then for each
//! field's delimiter: ~11 calls a line of ~90 bytes, each with its own setup for a few bytes. Here
//! a 64-byte block is compared once with the delimiter, `\n`, `"` and `\r`, into bit masks, and
//! each stop is the next set bit (`trailing_zeros`, then the bit cleared). A quote or a carriage
//! return makes a chunk not plain: the stops end there and [`Stops::spoiled`] says so (a pass of
//! `memchr2` over the chunk had asked that first).

/// The positions of the delimiter and of `\n` in a chunk, in order.
pub(super) struct Stops<'a> {
    data: &'a [u8],
    delimiter: u8,
    /// Start of the current block.
    base: usize,
    /// The current block's `\n`s.
    newlines: u64,
    /// The current block's stops (delimiters and `\n`s) not taken yet.
    left: u64,
    /// A block held a quote or a carriage return.
    spoiled: bool,
}

impl<'a> Stops<'a> {
    /// The stops of `data`. `delimiter` must not be `\n`.
    pub(super) fn new(data: &'a [u8], delimiter: u8) -> Stops<'a> {
        debug_assert_ne!(delimiter, b'\n');
        let mut s = Stops {
            data,
            delimiter,
            base: 0,
            newlines: 0,
            left: 0,
            spoiled: false,
        };
        s.load();
        s
    }

    /// The masks of the block at `base` (a short last block is padded with a byte that is none of
    /// the four). A block with a quote or a carriage return ends the stops.
    fn load(&mut self) {
        let rest = &self.data[self.base.min(self.data.len())..];
        let [newlines, delimiters, specials] = if let Some(block) = rest.first_chunk::<64>() {
            masks(block, self.delimiter)
        } else {
            let pad = u8::from(self.delimiter == 0);
            let mut block = [pad; 64];
            block[..rest.len()].copy_from_slice(rest);
            masks(&block, self.delimiter)
        };
        if specials != 0 {
            self.spoiled = true;
            self.base = self.data.len();
            self.newlines = 0;
            self.left = 0;
            return;
        }
        self.newlines = newlines;
        self.left = newlines | delimiters;
    }

    /// Whether the data holds a quote (`"`) or a carriage return, which the plain split does not
    /// read (the bytes past the current block are searched now, when there are any; a split reads
    /// to the end, so there are none). After `true`, the stops returned may have ended early:
    /// what was read from them is not the chunk's.
    pub(super) fn spoiled(&self) -> bool {
        self.spoiled
            || self
                .data
                .get(self.base.saturating_add(64)..)
                .is_some_and(|rest| memchr::memchr2(b'"', b'\r', rest).is_some())
    }

    /// Move to the next block; `false` past the end of the data.
    #[inline]
    fn advance(&mut self) -> bool {
        self.base += 64;
        if self.base >= self.data.len() {
            self.left = 0;
            return false;
        }
        self.load();
        true
    }

    /// The next stop: its position and whether it is a `\n`; `None` past the last.
    #[inline]
    pub(super) fn next_stop(&mut self) -> Option<(usize, bool)> {
        loop {
            if self.left != 0 {
                let i = self.left.trailing_zeros();
                self.left &= self.left - 1;
                return Some((self.base + i as usize, self.newlines >> i & 1 == 1));
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// The next `\n` (the delimiters before it passed over); `None` past the last.
    #[inline]
    pub(super) fn next_newline(&mut self) -> Option<usize> {
        loop {
            let m = self.left & self.newlines;
            if m != 0 {
                let i = m.trailing_zeros();
                // Bits 0..=i cleared.
                self.left &= !(u64::MAX >> (63 - i));
                return Some(self.base + i as usize);
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

/// Bit `i` of the first mask: `block[i] == b'\n'`; of the second: `block[i] == delimiter`; of the
/// third: `block[i]` is `"` or `\r`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(block: &[u8; 64], delimiter: u8) -> [u64; 3] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let (mut newlines, mut delimiters, mut specials) = (0u64, 0u64, 0u64);
    #[allow(unsafe_code)]
    // SAFETY: these intrinsics need SSE2, part of every x86_64 CPU (the target's baseline);
    // `_mm_loadu_si128` reads 16 bytes from any alignment, and each `part` is a live `&[u8; 16]`.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let dl = _mm_set1_epi8(delimiter as i8);
        let (quote, cr) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\r' as i8));
        for (j, part) in block.as_chunks::<16>().0.iter().enumerate() {
            // An unaligned load: the pointer's alignment does not matter.
            #[allow(clippy::cast_ptr_alignment)]
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            // `movemask` sets the low 16 bits of an i32: as u16, then widened.
            let n = _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u16;
            let d = _mm_movemask_epi8(_mm_cmpeq_epi8(v, dl)) as u16;
            let q = _mm_movemask_epi8(_mm_or_si128(
                _mm_cmpeq_epi8(v, quote),
                _mm_cmpeq_epi8(v, cr),
            )) as u16;
            newlines |= u64::from(n) << (16 * j);
            delimiters |= u64::from(d) << (16 * j);
            specials |= u64::from(q) << (16 * j);
        }
    }
    [newlines, delimiters, specials]
}

/// Bit `i` of the first mask: `block[i] == b'\n'`; of the second: `block[i] == delimiter`; of the
/// third: `block[i]` is `"` or `\r`.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks(block: &[u8; 64], delimiter: u8) -> [u64; 3] {
    let (mut newlines, mut delimiters, mut specials) = (0u64, 0u64, 0u64);
    for (i, &b) in block.iter().enumerate() {
        newlines |= u64::from(b == b'\n') << i;
        delimiters |= u64::from(b == delimiter) << i;
        specials |= u64::from(b == b'"' || b == b'\r') << i;
    }
    [newlines, delimiters, specials]
}

#[cfg(test)]
mod tests {
    use super::Stops;

    /// Every stop of `data`, by the plain byte loop.
    fn by_bytes(data: &[u8], delimiter: u8) -> Vec<(usize, bool)> {
        data.iter()
            .enumerate()
            .filter(|(_, b)| **b == delimiter || **b == b'\n')
            .map(|(i, b)| (i, *b == b'\n'))
            .collect()
    }

    #[test]
    fn the_stops_are_every_delimiter_and_line_end_in_order() {
        // Lengths around the 64-byte blocks, stops at the first and last byte of a block, runs of
        // stops, a delimiter of 0 (its padding differs), bytes above 0x7f.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for &delimiter in &[b',', b'\t', b';', b'|', 0u8] {
            for len in [0usize, 1, 2, 63, 64, 65, 127, 128, 129, 200, 1000] {
                for _ in 0..20 {
                    let data: Vec<u8> = (0..len)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            match state % 7 {
                                0 => delimiter,
                                1 => b'\n',
                                2 => 0xE4,
                                _ => b'a' + (state % 26) as u8,
                            }
                        })
                        .collect();
                    let mut s = Stops::new(&data, delimiter);
                    let got: Vec<_> = std::iter::from_fn(|| s.next_stop()).collect();
                    assert_eq!(got, by_bytes(&data, delimiter), "len {len}");
                    let mut s = Stops::new(&data, delimiter);
                    let lines: Vec<_> = std::iter::from_fn(|| s.next_newline()).collect();
                    let want: Vec<_> = by_bytes(&data, delimiter)
                        .into_iter()
                        .filter(|(_, nl)| *nl)
                        .map(|(i, _)| i)
                        .collect();
                    assert_eq!(lines, want, "len {len}");
                }
            }
        }
    }

    #[test]
    fn a_quote_or_a_carriage_return_spoils_the_stops_wherever_it_is() {
        for special in [b'"', b'\r'] {
            for at in [0usize, 5, 63, 64, 100, 199] {
                let mut data = b"ab,cd\n".repeat(34);
                data[at] = special;
                let mut s = Stops::new(&data, b',');
                // A stop read only: the blocks not reached are looked at by `spoiled`.
                let _ = s.next_stop();
                assert!(s.spoiled(), "{special} at {at}");
                let mut s = Stops::new(&data, b',');
                while s.next_stop().is_some() {}
                assert!(s.spoiled(), "{special} at {at}, after every stop");
                assert!(
                    std::iter::from_fn(|| s.next_stop()).next().is_none(),
                    "no stop after"
                );
            }
        }
        let data = b"ab,cd\n".repeat(34);
        let mut s = Stops::new(&data, b',');
        assert!(!s.spoiled());
        while s.next_stop().is_some() {}
        assert!(!s.spoiled());
        let mut s = Stops::new(&data, b',');
        assert!(!s.spoiled());
        assert_eq!(s.next_stop(), Some((2, false)), "`spoiled` takes no stop");
    }

    #[test]
    fn a_stop_after_a_skipped_line_end_is_the_next_lines() {
        let data = b"a,b,c\nd,e\n,f";
        let mut s = Stops::new(data, b',');
        assert_eq!(s.next_stop(), Some((1, false)));
        assert_eq!(s.next_newline(), Some(5));
        assert_eq!(s.next_stop(), Some((7, false)));
        assert_eq!(s.next_stop(), Some((9, true)));
        assert_eq!(s.next_stop(), Some((10, false)));
        assert_eq!(s.next_stop(), None);
        assert_eq!(s.next_newline(), None);
    }
}
