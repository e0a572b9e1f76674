//! The transaction ids the lake already holds for an institution ([`KnownIds`]): in memory while
//! they are few, else spilled to bucket files with a bounded filter in memory.
//!
//! A lake that holds 50 M transactions of an institution holds 50 M ids, 24 bytes each with their
//! values' fingerprint: ~1.6 GB as a hash map. Past [`KNOWN_IN_MEMORY`] ids they are written to
//! `2ᵇ` bucket files by the top bits of the id (about [`BUCKET_IDS`] ids a bucket, each then sorted
//! by id, one record an id), and only a blocked Bloom filter of them stays in memory (about 10 bits an id, at most 128 MiB). The first
//! pass asks the filter: an id it has never seen is new for certain and taken at once, as before; an
//! id it may have seen is *deferred* — written to the deferred bucket of its id with its line, values
//! and month — and once the pass is over each bucket is read with its deferred rows and every
//! deferred row judged exactly ([`SpilledIds::resolve`]): held with the same (or unknown) values, a
//! duplicate across files; held with other values, a conflict; not held (a false hit of the
//! filter), a new row the verification pass takes. Memory stays the filter plus one bucket,
//! whatever the lake holds; the outcome is the one the hash map gives (the tests compare them).
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use super::*;

/// A spilled file opened for reading: read through, or searched ([`KnownIds::exact`]).
pub trait SpillRead: Read + Seek + Send {}
impl<T: Read + Seek + Send> SpillRead for T {}

/// Where spilled ids are written: named files of one private folder, which the lake provides
/// (IO belongs to the lake) and removes when this is dropped.
pub trait SpillFiles: Send + Sync {
    /// A new file `name` (replacing one of that name).
    ///
    /// # Errors
    /// When it cannot be created.
    fn create(&self, name: &str) -> std::io::Result<Box<dyn Write + Send>>;
    /// File `name` to read, `None` when there is none.
    ///
    /// # Errors
    /// When it exists but cannot be opened.
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn SpillRead>>>;
    /// Remove file `name`.
    ///
    /// # Errors
    /// When it cannot be removed.
    fn remove(&self, name: &str) -> std::io::Result<()>;
    /// Where the files are, for messages.
    fn describe(&self) -> String;
}

/// The most ids held in memory as a hash map (~50 MB); past it they are spilled
/// ([`KnownIdsBuilder`]). `HOMESEASON_KNOWN_IDS_IN_MEMORY` sets another bound.
pub const KNOWN_IN_MEMORY: usize = 1 << 20;

/// Ids of a bucket file, about (the bucket count is a power of two; the tests' buckets are small,
/// so that they have several).
const BUCKET_IDS: usize = if cfg!(test) { 1 << 12 } else { 1 << 20 };
/// Filter bits aimed at per id (rounded up to a power of two): ~1 % false hits.
const FILTER_BITS_PER_ID: usize = 10;
/// The most bits the filter takes: 2³⁰, 128 MiB.
const FILTER_MAX_BITS: usize = 1 << 30;
/// Bytes of a bucket record: the id (16, little-endian) and its values' fingerprint (8).
const KNOWN_RECORD: usize = 24;
/// Bytes of a deferred record: the id (16), the values (8), the line (8) and the month (4).
const DEFERRED_RECORD: usize = 36;

/// The ids (with their values' fingerprint, `0` when unknown) an institution already has in the
/// lake: see the module's text.
pub enum KnownIds {
    /// Few enough to hold: every id.
    Memory(HashMap<u128, u64>),
    /// Spilled to bucket files, with a filter in memory.
    Spilled(SpilledIds),
}

impl Default for KnownIds {
    fn default() -> KnownIds {
        KnownIds::Memory(HashMap::new())
    }
}

impl std::fmt::Debug for KnownIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KnownIds::Memory(ids) => write!(f, "KnownIds::Memory({} ids)", ids.len()),
            KnownIds::Spilled(s) => write!(
                f,
                "KnownIds::Spilled({} ids in {} buckets at {})",
                s.len,
                s.buckets,
                s.files.describe()
            ),
        }
    }
}

impl From<HashMap<u128, u64>> for KnownIds {
    fn from(ids: HashMap<u128, u64>) -> KnownIds {
        KnownIds::Memory(ids)
    }
}

/// What [`KnownIds::quick`] can say of an id without reading a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Not held, for certain.
    Absent,
    /// Held, with these values (`0`: unknown).
    Held(u64),
    /// Maybe held: only its bucket can tell ([`KnownIds::exact`], or defer it).
    Maybe,
}

impl KnownIds {
    /// How many ids (records: an id sent twice in an old index counts twice when spilled).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            KnownIds::Memory(ids) => ids.len(),
            KnownIds::Spilled(s) => s.len,
        }
    }

    /// Whether no id is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ids are spilled to bucket files.
    #[must_use]
    pub fn is_spilled(&self) -> bool {
        matches!(self, KnownIds::Spilled(_))
    }

    /// Hand every id (once, with its values: `0` unknown) to `f`, at most about a bucket
    /// (~2²⁰ ids) at a time: the Spark engine stages them this way, within the same memory.
    /// Returns how many.
    ///
    /// # Errors
    /// When a bucket cannot be read, and `f`'s errors.
    pub fn for_each_chunk(
        &self,
        mut f: impl FnMut(&[(u128, u64)]) -> std::io::Result<()>,
    ) -> std::io::Result<usize> {
        let mut n = 0;
        match self {
            KnownIds::Memory(ids) => {
                let all: Vec<(u128, u64)> = ids.iter().map(|(i, v)| (*i, *v)).collect();
                for chunk in all.chunks(BUCKET_IDS) {
                    n += chunk.len();
                    f(chunk)?;
                }
            }
            KnownIds::Spilled(s) => {
                for b in 0..s.buckets {
                    let bucket = s.read_bucket(b)?;
                    if !bucket.recs.is_empty() {
                        n += bucket.recs.len();
                        f(&bucket.recs)?;
                    }
                }
            }
        }
        Ok(n)
    }

    /// What can be said of `id` from memory.
    pub(super) fn quick(&self, id: u128) -> Lookup {
        match self {
            KnownIds::Memory(ids) => ids.get(&id).map_or(Lookup::Absent, |v| Lookup::Held(*v)),
            KnownIds::Spilled(s) if s.filter.contains(id as u64) => Lookup::Maybe,
            KnownIds::Spilled(_) => Lookup::Absent,
        }
    }

    /// Whether `id` is held, and its values (`0`: unknown): exact (reads the id's bucket when
    /// spilled and the filter may have it; for the few rows judged outside the first pass).
    ///
    /// # Errors
    /// When the bucket cannot be read.
    pub fn exact(&self, id: u128) -> std::io::Result<Option<u64>> {
        match (self.quick(id), self) {
            (Lookup::Absent, _) => Ok(None),
            (Lookup::Held(v), _) => Ok(Some(v)),
            (Lookup::Maybe, KnownIds::Spilled(s)) => s.search(id),
            (Lookup::Maybe, KnownIds::Memory(_)) => Ok(None),
        }
    }
}

/// Bits of the id after the bucket's that [`Bucket::dir`] indexes.
const DIR_BITS: u32 = 16;

/// A bucket read whole: its ids sorted (once each), with a directory of where each value of the
/// next [`DIR_BITS`] bits of the id starts (ids are hashes, so ~16 ids a slot at 2²⁰ a bucket):
/// a lookup is a cache miss or two, not twenty.
struct Bucket {
    recs: Vec<(u128, u64)>,
    dir: Vec<u32>,
    /// Bits of the bucket number (the id's top bits).
    bits: u32,
}

impl Bucket {
    fn slot(bits: u32, id: u128) -> usize {
        let hi = ((id >> 64) as u64).checked_shl(bits).unwrap_or(0);
        (hi >> (64 - DIR_BITS)) as usize
    }

    fn new(recs: Vec<(u128, u64)>, bits: u32) -> Bucket {
        let mut dir = vec![0u32; (1 << DIR_BITS) + 1];
        for (id, _) in &recs {
            dir[Bucket::slot(bits, *id) + 1] += 1;
        }
        for i in 1..dir.len() {
            dir[i] += dir[i - 1];
        }
        Bucket { recs, dir, bits }
    }

    /// The values of `id` (`0`: unknown), `None` when the bucket does not hold it.
    fn get(&self, id: u128) -> Option<u64> {
        let k = Bucket::slot(self.bits, id);
        let range = &self.recs[self.dir[k] as usize..self.dir[k + 1] as usize];
        range
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|i| range[i].1)
    }
}

/// A bucket's records sorted by id, one record an id: the first known values of the id (in the
/// order they were pushed: `seq`), else `0` — what the in-memory map keeps.
fn sorted_unique(mut recs: Vec<(u128, u32, u64)>) -> Vec<(u128, u64)> {
    recs.sort_unstable_by_key(|(id, seq, _)| (*id, *seq));
    let mut out: Vec<(u128, u64)> = Vec::with_capacity(recs.len());
    for (id, _, v) in recs {
        match out.last_mut() {
            Some(last) if last.0 == id => {
                if last.1 == 0 {
                    last.1 = v;
                }
            }
            _ => out.push((id, v)),
        }
    }
    out
}

/// Ids spilled to bucket files in a private folder (removed when this is dropped), with a filter of
/// them in memory.
pub struct SpilledIds {
    files: Box<dyn SpillFiles>,
    /// A power of two.
    buckets: usize,
    filter: DupFilter,
    len: usize,
}

/// Rows of a pass whose ids the filter may hold, written to bucket files (`deferred-<b>`) to be
/// judged once the pass is over ([`SpilledIds::resolve`]).
pub(super) struct Deferred {
    writers: Vec<Option<BufWriter<Box<dyn Write + Send>>>>,
    count: usize,
}

/// One deferred row as [`SpilledIds::resolve`] hands it back.
pub(super) struct Judged {
    pub(super) id: u128,
    pub(super) values: u64,
    pub(super) line: u64,
    pub(super) month: MonthKey,
    /// What the lake holds for the id: its values (`0`: unknown), or `None` when it does not hold it.
    pub(super) held: Option<u64>,
}

impl SpilledIds {
    fn bucket(&self, id: u128) -> usize {
        bucket_of(id, self.buckets)
    }

    /// Bucket `b` (sorted by id, one record an id since [`KnownIdsBuilder::finish`]).
    fn read_bucket(&self, b: usize) -> std::io::Result<Bucket> {
        let mut recs = Vec::with_capacity(self.len / self.buckets + self.len / self.buckets / 8);
        if let Some(mut f) = self.files.open(&bucket_name(b))? {
            for_each_record(&mut f, KNOWN_RECORD, |rec| {
                recs.push((le_u128(&rec[..16]), le_u64(&rec[16..24])));
                Ok(())
            })?;
        }
        Ok(Bucket::new(recs, self.buckets.trailing_zeros()))
    }

    /// [`KnownIds::exact`] of a spilled id: a binary search of its sorted bucket file (about 20
    /// reads of a record), not the bucket read whole.
    fn search(&self, id: u128) -> std::io::Result<Option<u64>> {
        let Some(mut f) = self.files.open(&bucket_name(self.bucket(id)))? else {
            return Ok(None);
        };
        let n = f.seek(SeekFrom::End(0))? / KNOWN_RECORD as u64;
        let (mut lo, mut hi) = (0u64, n);
        let mut rec = [0u8; KNOWN_RECORD];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            f.seek(SeekFrom::Start(mid * KNOWN_RECORD as u64))?;
            f.read_exact(&mut rec)?;
            match le_u128(&rec[..16]).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(le_u64(&rec[16..24]))),
            }
        }
        Ok(None)
    }

    /// A new, empty set of deferred rows.
    pub(super) fn deferred(&self) -> Deferred {
        Deferred {
            writers: (0..self.buckets).map(|_| None).collect(),
            count: 0,
        }
    }

    /// Defer the row of `id` (values `values`, line `line`, month `month`).
    ///
    /// # Errors
    /// On IO failures.
    pub(super) fn defer(
        &self,
        d: &mut Deferred,
        id: u128,
        values: u64,
        line: u64,
        month: MonthKey,
    ) -> std::io::Result<()> {
        let b = self.bucket(id);
        let w = match &mut d.writers[b] {
            Some(w) => w,
            slot => {
                let f = self.files.create(&deferred_name(b))?;
                slot.insert(BufWriter::with_capacity(1 << 16, f))
            }
        };
        let mut rec = [0u8; DEFERRED_RECORD];
        rec[..16].copy_from_slice(&id.to_le_bytes());
        rec[16..24].copy_from_slice(&values.to_le_bytes());
        rec[24..32].copy_from_slice(&line.to_le_bytes());
        rec[32..36].copy_from_slice(&month.to_le_bytes());
        d.count += 1;
        w.write_all(&rec)
    }

    /// Judge every deferred row against its bucket, a bucket at a time (memory: one bucket), and
    /// remove the deferred files. Rows come back bucket by bucket, in their order within a bucket.
    ///
    /// # Errors
    /// On IO failures.
    pub(super) fn resolve(
        &self,
        d: Deferred,
        mut judged: impl FnMut(Judged),
    ) -> std::io::Result<()> {
        for (b, w) in d.writers.into_iter().enumerate() {
            let Some(w) = w else { continue };
            w.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?;
            let bucket = self.read_bucket(b)?;
            let name = deferred_name(b);
            let mut f = self.files.open(&name)?.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{name} went away"))
            })?;
            for_each_record(&mut f, DEFERRED_RECORD, |rec| {
                let id = le_u128(&rec[..16]);
                judged(Judged {
                    id,
                    values: le_u64(&rec[16..24]),
                    line: le_u64(&rec[24..32]),
                    month: u32::from_le_bytes([rec[32], rec[33], rec[34], rec[35]]),
                    held: bucket.get(id),
                });
                Ok(())
            })?;
            drop(f);
            self.files.remove(&name)?;
        }
        Ok(())
    }
}

impl Deferred {
    /// Rows deferred so far.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.count
    }
}

fn bucket_name(b: usize) -> String {
    format!("known-{b}")
}

fn deferred_name(b: usize) -> String {
    format!("deferred-{b}")
}

/// The bucket of `id` among `buckets` (a power of two): the top bits of the id.
fn bucket_of(id: u128, buckets: usize) -> usize {
    let bits = buckets.trailing_zeros();
    usize::try_from(((id >> 64) as u64).checked_shr(64 - bits).unwrap_or(0)).unwrap_or(0)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

fn le_u128(b: &[u8]) -> u128 {
    let mut a = [0; 16];
    a.copy_from_slice(b);
    u128::from_le_bytes(a)
}

/// Hand every `size`-byte record of `r` to `f`, reading ~1 MiB at a time.
///
/// # Errors
/// On IO failures, `f`'s errors, and a partial record at the end.
pub fn for_each_record(
    r: &mut dyn Read,
    size: usize,
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; (1 << 20) / size * size];
    let mut filled = 0;
    loop {
        let n = match r.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if n == 0 || filled == buf.len() {
            let whole = filled / size * size;
            buf[..whole].chunks_exact(size).try_for_each(&mut f)?;
            buf.copy_within(whole..filled, 0);
            filled -= whole;
        }
        if n == 0 {
            return if filled == 0 {
                Ok(())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a partial record at the end of an id file",
                ))
            };
        }
    }
}

/// Builds [`KnownIds`]: ids pushed in the index's order (files sorted, records in file order), kept
/// in memory when at most `in_memory` are expected, else spilled to bucket files in a new folder.
pub struct KnownIdsBuilder {
    inner: Building,
}

enum Building {
    Memory(HashMap<u128, u64>),
    Spilling {
        ids: SpilledIds,
        writers: Vec<BufWriter<Box<dyn Write + Send>>>,
    },
}

impl KnownIdsBuilder {
    /// A builder for about `expected` ids: a hash map when `expected <= in_memory`, else bucket
    /// files made by `files()` (called only then).
    ///
    /// # Errors
    /// When the files cannot be created.
    pub fn new(
        files: impl FnOnce() -> std::io::Result<Box<dyn SpillFiles>>,
        expected: usize,
        in_memory: usize,
    ) -> std::io::Result<Self> {
        if expected <= in_memory {
            return Ok(KnownIdsBuilder {
                inner: Building::Memory(HashMap::with_capacity(expected)),
            });
        }
        let files = files()?;
        let buckets = expected.div_ceil(BUCKET_IDS).max(1).next_power_of_two();
        let bits = expected
            .saturating_mul(FILTER_BITS_PER_ID)
            .checked_next_power_of_two()
            .unwrap_or(FILTER_MAX_BITS)
            .clamp(1 << 20, FILTER_MAX_BITS);
        #[cfg(test)]
        let bits = KNOWN_TEST_BITS.with(std::cell::Cell::get).unwrap_or(bits);
        let ids = SpilledIds {
            files,
            buckets,
            filter: DupFilter::with_bits(bits),
            len: 0,
        };
        let mut writers = Vec::with_capacity(buckets);
        for b in 0..buckets {
            writers.push(BufWriter::with_capacity(
                1 << 16,
                ids.files.create(&bucket_name(b))?,
            ));
        }
        Ok(KnownIdsBuilder {
            inner: Building::Spilling { ids, writers },
        })
    }

    /// Add an id with its values' fingerprint (`0`: unknown). An id pushed twice keeps the first
    /// known values.
    ///
    /// # Errors
    /// On IO failures.
    pub fn push(&mut self, id: u128, values: u64) -> std::io::Result<()> {
        match &mut self.inner {
            Building::Memory(map) => {
                let v = map.entry(id).or_insert(0);
                if *v == 0 {
                    *v = values;
                }
                Ok(())
            }
            Building::Spilling { ids, writers } => {
                ids.filter.insert(id as u64);
                ids.len += 1;
                let mut rec = [0u8; KNOWN_RECORD];
                rec[..16].copy_from_slice(&id.to_le_bytes());
                rec[16..].copy_from_slice(&values.to_le_bytes());
                writers[bucket_of(id, ids.buckets)].write_all(&rec)
            }
        }
    }

    /// The ids.
    ///
    /// # Errors
    /// On IO failures.
    pub fn finish(self) -> std::io::Result<KnownIds> {
        match self.inner {
            Building::Memory(map) => Ok(KnownIds::Memory(map)),
            Building::Spilling { ids, writers } => {
                for w in writers {
                    w.into_inner()
                        .map_err(std::io::IntoInnerError::into_error)?;
                }
                // Each bucket sorted by id, one record an id (a bucket at a time in memory).
                for b in 0..ids.buckets {
                    let name = bucket_name(b);
                    let mut recs = Vec::new();
                    if let Some(mut f) = ids.files.open(&name)? {
                        let mut seq = 0u32;
                        for_each_record(&mut f, KNOWN_RECORD, |rec| {
                            recs.push((le_u128(&rec[..16]), seq, le_u64(&rec[16..24])));
                            seq = seq.wrapping_add(1);
                            Ok(())
                        })?;
                    }
                    let recs = sorted_unique(recs);
                    let mut w = BufWriter::with_capacity(1 << 20, ids.files.create(&name)?);
                    for (id, v) in &recs {
                        w.write_all(&id.to_le_bytes())?;
                        w.write_all(&v.to_le_bytes())?;
                    }
                    w.into_inner()
                        .map_err(std::io::IntoInnerError::into_error)?;
                }
                Ok(KnownIds::Spilled(ids))
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: the bits of every spilled ids' filter made on this thread (a tiny filter makes most
    /// ids maybe held).
    pub(super) static KNOWN_TEST_BITS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The bound on ids held in memory: `HOMESEASON_KNOWN_IDS_IN_MEMORY` when set to a number, else
/// [`KNOWN_IN_MEMORY`].
#[must_use]
pub fn known_in_memory() -> usize {
    std::env::var("HOMESEASON_KNOWN_IDS_IN_MEMORY")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(KNOWN_IN_MEMORY)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Spill files in memory, for the tests of the logic (the lake's folder is tested there).
    #[derive(Default, Clone)]
    pub(in crate::stream) struct MemFiles(Arc<Mutex<HashMap<String, Vec<u8>>>>);

    struct MemWriter(MemFiles, String);

    impl Write for MemWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut files = self.0.0.lock().expect("files");
            files
                .entry(self.1.clone())
                .or_default()
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SpillFiles for MemFiles {
        fn create(&self, name: &str) -> std::io::Result<Box<dyn Write + Send>> {
            self.0
                .lock()
                .expect("files")
                .insert(name.to_owned(), Vec::new());
            Ok(Box::new(MemWriter(self.clone(), name.to_owned())))
        }
        fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn SpillRead>>> {
            let files = self.0.lock().expect("files");
            Ok(files
                .get(name)
                .map(|b| Box::new(Cursor::new(b.clone())) as Box<dyn SpillRead>))
        }
        fn remove(&self, name: &str) -> std::io::Result<()> {
            self.0.lock().expect("files").remove(name);
            Ok(())
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    impl MemFiles {
        fn names(&self) -> Vec<String> {
            let mut n: Vec<String> = self.0.lock().expect("files").keys().cloned().collect();
            n.sort();
            n
        }
    }

    fn ids(n: u64) -> Vec<(u128, u64)> {
        (1..=n)
            .map(|i| {
                let id = (u128::from(mix64(i)) << 64) | u128::from(mix64(i ^ 0xabc));
                (id, if i % 3 == 0 { 0 } else { mix64(i * 7) })
            })
            .collect()
    }

    /// `all` as known ids, spilled to `files` when there are more than `in_memory`.
    pub(in crate::stream) fn build(
        all: &[(u128, u64)],
        in_memory: usize,
        files: &MemFiles,
    ) -> KnownIds {
        let f = files.clone();
        let mut b = KnownIdsBuilder::new(
            move || Ok(Box::new(f) as Box<dyn SpillFiles>),
            all.len(),
            in_memory,
        )
        .expect("builder");
        for (id, v) in all {
            b.push(*id, *v).expect("push");
        }
        b.finish().expect("finish")
    }

    #[test]
    fn spilled_ids_answer_as_the_map_does() {
        let all = ids(50_000);
        let files = MemFiles::default();
        let mem = build(&all, usize::MAX, &MemFiles::default());
        let spilled = build(&all, 0, &files);
        assert!(spilled.is_spilled() && !mem.is_spilled());
        assert_eq!(spilled.len(), 50_000);
        let KnownIds::Spilled(s) = &spilled else {
            unreachable!()
        };
        // 50,000 / 4,096 a bucket: 16 buckets.
        assert_eq!(s.buckets, 16);
        assert_eq!(files.names().len(), 16);
        // Held ids (and as many that are not) through the filter and a bucket, one by one and
        // deferred.
        let absent = ids(100_000).split_off(50_000);
        let mut d = s.deferred();
        let mut maybe_absent = 0;
        for (k, (id, _)) in all.iter().chain(&absent).enumerate() {
            let want = match mem.quick(*id) {
                Lookup::Held(v) => Some(v),
                _ => None,
            };
            assert_eq!(spilled.exact(*id).expect("exact"), want);
            match spilled.quick(*id) {
                Lookup::Absent => assert_eq!(want, None),
                Lookup::Held(_) => unreachable!("a spilled set never answers from memory"),
                Lookup::Maybe => {
                    maybe_absent += usize::from(want.is_none());
                    s.defer(&mut d, *id, 5, k as u64, 7).expect("defer");
                }
            }
        }
        // Every held id is maybe; few absent ones are (the filter's false hits).
        assert_eq!(d.len(), 50_000 + maybe_absent);
        assert!(maybe_absent < 500, "{maybe_absent} false hits of 50,000");
        assert_eq!(files.names().len(), 32);
        let mut seen = 0;
        s.resolve(d, |j| {
            seen += 1;
            let k = usize::try_from(j.line).expect("line");
            let id = if k < 50_000 {
                all[k].0
            } else {
                absent[k - 50_000].0
            };
            assert_eq!(j.id, id);
            assert_eq!((j.values, j.month), (5, 7));
            let want = match mem.quick(id) {
                Lookup::Held(v) => Some(v),
                _ => None,
            };
            assert_eq!(j.held, want);
        })
        .expect("resolve");
        assert_eq!(seen, 50_000 + maybe_absent);
        assert!(
            files.names().iter().all(|n| n.starts_with("known-")),
            "the deferred files are removed: {:?}",
            files.names()
        );
    }

    /// Every id comes once in the chunks, spilled or not.
    #[test]
    fn the_chunks_hold_every_id_once() {
        let mut all = ids(20_000);
        all.push(all[5]);
        for in_memory in [0, usize::MAX] {
            let k = build(&all, in_memory, &MemFiles::default());
            let mut got = Vec::new();
            let n = k
                .for_each_chunk(|c| {
                    assert!(c.len() <= BUCKET_IDS, "{}", c.len());
                    got.extend_from_slice(c);
                    Ok(())
                })
                .expect("chunks");
            got.sort_unstable();
            let mut want = all[..20_000].to_vec();
            want.sort_unstable();
            assert_eq!((n, got), (20_000, want), "in_memory {in_memory}");
        }
    }

    #[test]
    fn an_id_pushed_twice_keeps_its_first_known_values_spilled_or_not() {
        let id = (42u128 << 64) | 7;
        for in_memory in [0, usize::MAX] {
            let k = build(
                &[(id, 0), (id, 9), (id, 11)],
                in_memory,
                &MemFiles::default(),
            );
            assert_eq!(k.is_spilled(), in_memory == 0);
            assert_eq!(
                k.exact(id).expect("exact"),
                Some(9),
                "in_memory {in_memory}"
            );
            assert_eq!(k.exact(id + 1).expect("exact"), None);
        }
    }

    /// Records are whole whatever the reads return; a partial record at the end is an error.
    #[test]
    fn records_are_read_whole_across_short_reads() {
        /// Returns at most 7 bytes a read.
        struct Trickle(Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(7);
                self.0.read(&mut buf[..n])
            }
        }
        let bytes: Vec<u8> = (0..(36 * 50_000u32)).map(|i| (i % 251) as u8).collect();
        let mut got = Vec::new();
        for_each_record(&mut Trickle(Cursor::new(bytes.clone())), 36, |r| {
            got.extend_from_slice(r);
            Ok(())
        })
        .expect("whole records");
        assert_eq!(got, bytes);
        let err = for_each_record(&mut Cursor::new(bytes[..36 * 3 + 5].to_vec()), 36, |_| {
            Ok(())
        })
        .expect_err("a partial record");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn buckets_are_the_top_bits_of_the_id() {
        assert_eq!(bucket_of(u128::MAX, 1), 0);
        assert_eq!(bucket_of(u128::MAX, 64), 63);
        assert_eq!(bucket_of(1u128 << 127, 2), 1);
        assert_eq!(bucket_of((1u128 << 127) - 1, 2), 0);
    }
}
