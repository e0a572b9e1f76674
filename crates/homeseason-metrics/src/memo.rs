//! Remembered regression fits: a weekly report re-estimates the same season every week, and every
//! fit whose inputs did not change since the last run (the placebo window and every backtest
//! window lie before the campaign: new days of the campaign window change none of their inputs)
//! gives the same result again. [`FitMemo`] remembers each fit's result under a key that is a
//! SHA-256 of everything the fit reads — the code stamp of this build (every source and data file
//! of the estimators, `build.rs`), the fit's response, design, periods, options, seed and start —
//! so a remembered result is the result the fit would compute, to the bit: the outputs with and
//! without the memo are the same bytes (tests hold them to it).
//!
//! No IO here: [`FitMemo::from_bytes`] and [`FitMemo::to_bytes`] take and give the bytes of its
//! file, which the pipeline keeps in the lake (`_cache/`). A file of another build, or damaged,
//! is ignored whole (nothing is remembered: every fit is computed).
//!
//! The fits call the C library's `exp`, `ln`, `sin`, … ([`f64::exp`] and its kin are not Rust's
//! own), and the library is the machine's, chosen again at run time (glibc picks an FMA or a
//! plain variant by CPU). Its bits are part of what a fit reads, so [`stamp`] adds to the code
//! stamp the bits these functions give on a fixed spread of arguments: a file written where they
//! differ is "another build's".

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// The code stamp of this build (hex SHA-256 of the estimators' sources and data, `build.rs`).
pub const FIT_STAMP: &str = env!("HOMESEASON_FIT_STAMP");

/// The stamp of every key and file: [`FIT_STAMP`] and the bits of the math library this process
/// calls (see the module docs), as hex SHA-256.
#[must_use]
pub fn stamp() -> &'static str {
    static STAMP: OnceLock<String> = OnceLock::new();
    STAMP.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(FIT_STAMP.as_bytes());
        math_bits(&mut h);
        h.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    })
}

/// Feed `h` the bits of every math-library function the estimators call, at 512 arguments each
/// over the ranges they are called on (the arguments are opaque to the compiler, so the calls run
/// here and are not folded at build time with the build machine's library).
fn math_bits(h: &mut Sha256) {
    const N: u32 = 512;
    // The fractional parts of k·φ: a spread without the round numbers' exact results.
    let spread = |k: u32, lo: f64, hi: f64| {
        let f = (f64::from(k) * 0.618_033_988_749_894_9).fract();
        black_box(lo + (hi - lo) * f)
    };
    // Positive arguments over 2^-40 … 2^40, every mantissa.
    let positive = |k: u32| {
        let m = 1.0 + (f64::from(k) * 0.414_213_562_373_095_1).fract();
        let e = i32::try_from(k % 81).unwrap_or(0) - 40;
        black_box(m * 2f64.powi(e))
    };
    let funcs: [(&str, &dyn Fn(u32) -> f64); 12] = [
        ("exp", &|k| spread(k, -40.0, 40.0).exp()),
        ("ln", &|k| positive(k).ln()),
        ("log10", &|k| positive(k).log10()),
        ("powf", &|k| {
            spread(k, 1e-3, 10.0).powf(spread(k.rotate_left(7), -3.0, 3.0))
        }),
        ("ln_1p", &|k| spread(k, -0.9, 10.0).ln_1p()),
        ("exp_m1", &|k| spread(k, -5.0, 5.0).exp_m1()),
        ("exp2", &|k| spread(k, -50.0, 50.0).exp2()),
        ("sin", &|k| spread(k, -10.0, 10.0).sin()),
        ("cos", &|k| spread(k, -10.0, 10.0).cos()),
        ("sin_wide", &|k| spread(k, -1e4, 1e4).sin()),
        ("cos_wide", &|k| spread(k, -1e4, 1e4).cos()),
        ("tanh", &|k| spread(k, -20.0, 20.0).tanh()),
    ];
    for (name, f) in funcs {
        h.update(name.as_bytes());
        for k in 0..N {
            h.update(f(k).to_bits().to_le_bytes());
        }
    }
}

/// First bytes of a memo file.
const MAGIC: &[u8] = b"homeseason regression fits 1\n";

/// A key: the SHA-256 of a fit's inputs.
pub(crate) type Key = [u8; 32];

/// The fits remembered from an earlier run and those of this run (see the module docs). Cloning
/// shares them (the backtest's options are a clone of the campaign's). The default remembers
/// nothing and hashes nothing.
#[derive(Clone, Default)]
pub struct FitMemo {
    inner: Option<Arc<Mutex<Entries>>>,
    /// The pipeline reads the lake's memo file into it before an estimate and writes it after
    /// ([`FitMemo::lake`]).
    lake: bool,
}

#[derive(Default)]
struct Entries {
    /// Read from the file.
    known: HashMap<Key, Arc<[u8]>>,
    /// Looked up or computed by this run: what [`FitMemo::to_bytes`] keeps.
    used: BTreeMap<Key, Arc<[u8]>>,
    hits: usize,
    misses: usize,
}

/// What a run did with its memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoCounts {
    /// Fits whose remembered result was used.
    pub hits: usize,
    /// Fits computed (and remembered).
    pub misses: usize,
    /// Results read from the file.
    pub known: usize,
}

impl std::fmt::Debug for FitMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("FitMemo(off)"),
            Some(_) => write!(f, "FitMemo(lake: {}, {:?})", self.lake, self.counts()),
        }
    }
}

impl FitMemo {
    /// A memo that remembers nothing yet (this run's fits are kept for [`FitMemo::to_bytes`]).
    #[must_use]
    pub fn empty() -> FitMemo {
        FitMemo {
            inner: Some(Arc::new(Mutex::new(Entries::default()))),
            lake: false,
        }
    }

    /// An empty memo that the pipeline backs with the lake's cache: an estimate reads the lake's
    /// memo file into it first and writes this run's fits back after (what `homeseason uplift`
    /// and the server do unless told not to).
    #[must_use]
    pub fn lake() -> FitMemo {
        FitMemo {
            lake: true,
            ..FitMemo::empty()
        }
    }

    /// Whether the pipeline backs this memo with the lake's cache ([`FitMemo::lake`]).
    #[must_use]
    pub fn in_lake(&self) -> bool {
        self.lake && self.inner.is_some()
    }

    /// The memo of a file's bytes ([`FitMemo::to_bytes`]); with the reason when they are ignored
    /// (another build's file, or not whole): the memo is then empty.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> (FitMemo, Option<&'static str>) {
        let memo = FitMemo::empty();
        let why = memo.load(bytes).err();
        (memo, why)
    }

    /// Add the results of a file's bytes ([`FitMemo::to_bytes`]) to what this memo knows: how many
    /// it read, or why it read none (another build's file, or not whole; nothing for a memo that
    /// is off).
    ///
    /// # Errors
    /// Why the bytes were ignored.
    pub fn load(&self, bytes: &[u8]) -> std::result::Result<usize, &'static str> {
        let Some(inner) = &self.inner else {
            return Ok(0);
        };
        let known = parse(bytes)?;
        let n = known.len();
        inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .known
            .extend(known);
        Ok(n)
    }

    /// Whether this memo remembers (the default does not).
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// How many fits were looked up, computed and read.
    #[must_use]
    pub fn counts(&self) -> MemoCounts {
        self.inner
            .as_ref()
            .map_or_else(MemoCounts::default, |inner| {
                let e = inner
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                MemoCounts {
                    hits: e.hits,
                    misses: e.misses,
                    known: e.known.len(),
                }
            })
    }

    /// The file's bytes: the fits this run used or computed (in key order, so the same run gives
    /// the same bytes), under this build's stamp, closed by a SHA-256 of all before it. `None`
    /// for a memo that is off.
    #[must_use]
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let inner = self.inner.as_ref()?;
        let e = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::with_capacity(64 + e.used.values().map(|v| 36 + v.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(stamp().as_bytes());
        out.extend_from_slice(&(e.used.len() as u64).to_le_bytes());
        for (key, value) in &e.used {
            out.extend_from_slice(key);
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value);
        }
        let check = Sha256::digest(&out);
        out.extend_from_slice(&check);
        Some(out)
    }

    /// A hasher for a fit's key, already holding this build's stamp and `what` (the kind of fit);
    /// `None` when the memo is off (nothing is hashed).
    pub(crate) fn hasher(&self, what: &str) -> Option<Sha256> {
        self.inner.as_ref()?;
        let mut h = Sha256::new();
        h.update(stamp().as_bytes());
        h.update((what.len() as u64).to_le_bytes());
        h.update(what.as_bytes());
        Some(h)
    }

    /// The result remembered under `key`, counted as a hit (and kept for the next file).
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<[u8]>> {
        let found = self.recall(key)?;
        if let Some(inner) = &self.inner {
            inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .hits += 1;
        }
        Some(found)
    }

    /// What is remembered under `key`, not counted (a part of a fit, such as the slices of its
    /// search, rather than a fit); kept for the next file.
    pub(crate) fn recall(&self, key: &Key) -> Option<Arc<[u8]>> {
        let inner = self.inner.as_ref()?;
        let mut e = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = e
            .used
            .get(key)
            .cloned()
            .or_else(|| e.known.get(key).cloned())?;
        e.used.insert(*key, found.clone());
        Some(found)
    }

    /// Remember `value` under `key`, not counted (see [`FitMemo::recall`]).
    pub(crate) fn keep(&self, key: Key, value: Vec<u8>) {
        if let Some(inner) = &self.inner {
            let mut e = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            e.used.insert(key, value.into());
        }
    }

    /// Remember `value` under `key` (a computed fit: counted as a miss).
    pub(crate) fn put(&self, key: Key, value: Vec<u8>) {
        self.keep(key, value);
        if let Some(inner) = &self.inner {
            inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .misses += 1;
        }
    }
}

/// The entries of a memo file, or why it is ignored.
fn parse(bytes: &[u8]) -> Result<HashMap<Key, Arc<[u8]>>, &'static str> {
    let whole = "not a whole memo file (cut short or damaged)";
    let body_len = bytes.len().checked_sub(32).ok_or(whole)?;
    let (body, check) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != check {
        return Err(whole);
    }
    let rest = body.strip_prefix(MAGIC).ok_or("not a memo file")?;
    let rest = rest
        .strip_prefix(stamp().as_bytes())
        .ok_or("written by another build (or with another math library)")?;
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], &'static str> {
        let end = at.checked_add(n).ok_or(whole)?;
        let part = rest.get(at..end).ok_or(whole)?;
        at = end;
        Ok(part)
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let count = usize::try_from(word(take(8)?)).map_err(|_| whole)?;
    let mut known = HashMap::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let key: Key = take(32)?.try_into().map_err(|_| whole)?;
        let len = usize::try_from(word(take(8)?)).map_err(|_| whole)?;
        known.insert(key, Arc::from(take(len)?));
    }
    if at != rest.len() {
        return Err(whole);
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_fits_give_the_same_tables_and_new_window_days_refit_only_the_campaign() {
        use crate::backtest::uplift_with_backtest;
        use crate::{Method, UpliftOptions};
        use polars::prelude::*;
        let campaign = homeseason_schema::campaign::Campaign::default_2023();
        let methods = [Method::CounterfactualRegression];
        let run = |series: &DataFrame, fits: FitMemo| {
            let opts = UpliftOptions {
                fits,
                ..UpliftOptions::from_campaign(&campaign)
            };
            let (r, backtest, _, _) =
                uplift_with_backtest(series, &campaign, &methods, &opts).unwrap();
            (r.uplift, r.baseline_daily, backtest)
        };
        let series = crate::diagnostics::tests::panel(false);
        let first = FitMemo::empty();
        let cold = run(&series, first.clone());
        let computed = first.counts().misses;
        assert!(computed > 2, "{:?}", first.counts());
        assert_eq!(first.counts().hits, 0);
        // The next run, from the file: every fit remembered, the same tables.
        let bytes = first.to_bytes().unwrap();
        let (again, why) = FitMemo::from_bytes(&bytes);
        assert_eq!(why, None);
        assert_eq!(run(&series, again.clone()), cold);
        let counts = again.counts();
        assert_eq!((counts.hits, counts.misses), (computed, 0), "{counts:?}");
        // What it writes for next time is what it read: the fits and their searched slices.
        assert_eq!(again.to_bytes().unwrap(), bytes);
        // Each fit's result, and the slices each campaign-window fit searched.
        assert!(counts.known > computed, "{counts:?}");
        // New values on the window's last days (a late delivery): the tables of a run without a
        // memo, and only the campaign-window fits of the cells they touch computed again — the
        // placebo and the backtest windows lie before the campaign.
        let last = campaign.window.end;
        let changed = series
            .lazy()
            .with_column(
                when(
                    col("category")
                        .eq(lit("furniture"))
                        .and(col("date").gt(lit(last - chrono::Duration::days(5)))),
                )
                .then(col("net_amount_yuan") * lit(1.1))
                .otherwise(col("net_amount_yuan"))
                .alias("net_amount_yuan"),
            )
            .collect()
            .unwrap();
        let fresh = run(&changed, FitMemo::default());
        assert_ne!(fresh.0, cold.0);
        let (weekly, _) = FitMemo::from_bytes(&bytes);
        assert_eq!(run(&changed, weekly.clone()), fresh);
        let campaign_rows = fresh
            .0
            .clone()
            .lazy()
            .filter(col("window_kind").eq(lit("campaign")))
            .collect()
            .unwrap()
            .height();
        let counts = weekly.counts();
        assert!(campaign_rows > 0);
        assert_eq!(counts.misses, campaign_rows, "{counts:?}");
        assert_eq!(counts.hits, computed - campaign_rows, "{counts:?}");
    }

    #[test]
    fn a_memo_file_gives_back_what_was_used_and_nothing_damaged() {
        let memo = FitMemo::empty();
        assert!(memo.get(&[1; 32]).is_none());
        memo.put([1; 32], vec![1, 2, 3]);
        memo.put([0; 32], Vec::new());
        let bytes = memo.to_bytes().expect("on");
        let (back, why) = FitMemo::from_bytes(&bytes);
        assert_eq!(why, None);
        assert_eq!(back.counts().known, 2);
        assert_eq!(back.get(&[1; 32]).as_deref(), Some(&[1u8, 2, 3][..]));
        // Only what this run used goes to the next file.
        let again = FitMemo::from_bytes(&back.to_bytes().expect("on")).0;
        assert_eq!(again.counts().known, 1);
        assert_eq!(
            back.counts(),
            MemoCounts {
                hits: 1,
                misses: 0,
                known: 2
            }
        );
        // Every byte matters: a flipped bit, a cut, another build's stamp, an empty file.
        for i in [0, MAGIC.len() + 3, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            let (memo, why) = FitMemo::from_bytes(&bad);
            assert!(why.is_some(), "byte {i}");
            assert_eq!(memo.counts().known, 0);
            assert!(memo.is_on());
        }
        assert!(FitMemo::from_bytes(&bytes[..bytes.len() - 1]).1.is_some());
        assert!(FitMemo::from_bytes(&[]).1.is_some());
        let mut other = bytes[..bytes.len() - 32].to_vec();
        other[MAGIC.len()] ^= 1;
        let check = Sha256::digest(&other);
        other.extend_from_slice(&check);
        assert_eq!(
            FitMemo::from_bytes(&other).1,
            Some("written by another build (or with another math library)")
        );
        // Off: nothing hashed, nothing written.
        let off = FitMemo::default();
        assert!(!off.is_on() && off.hasher("x").is_none() && off.to_bytes().is_none());
        off.put([2; 32], vec![9]);
        assert!(off.get(&[2; 32]).is_none());
    }

    #[test]
    fn the_stamp_holds_the_code_and_the_math_library() {
        // A file stamped with the code alone (what a build that did not probe its math library
        // wrote) is another build's: its fits may have been computed with other exp/ln bits.
        let s = stamp();
        assert_eq!(s.len(), 64);
        assert_ne!(s, FIT_STAMP);
        assert_eq!(s, stamp());
        let mut a = Sha256::new();
        let mut b = Sha256::new();
        math_bits(&mut a);
        math_bits(&mut b);
        assert_eq!(a.finalize(), b.finalize());
        let memo = FitMemo::empty();
        memo.put([3; 32], vec![7]);
        let bytes = memo.to_bytes().expect("on");
        assert!(bytes[MAGIC.len()..].starts_with(s.as_bytes()));
        let mut code_only = MAGIC.to_vec();
        code_only.extend_from_slice(FIT_STAMP.as_bytes());
        code_only.extend_from_slice(&bytes[MAGIC.len() + s.len()..bytes.len() - 32]);
        let check = Sha256::digest(&code_only);
        code_only.extend_from_slice(&check);
        assert_eq!(
            FitMemo::from_bytes(&code_only).1,
            Some("written by another build (or with another math library)")
        );
    }
}
