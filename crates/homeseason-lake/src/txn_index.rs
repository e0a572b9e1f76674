//! The per-institution transaction index: every transaction id each institution has sent, so a
//! transaction sent twice (in two files, in two months, or in a re-upload under another name) is
//! counted once, and the merchants already counted in each day × region × MCC × channel cell.
//!
//! ```text
//! <root>/_txn_index/institution=wallet_b/year=2023/month=9/<sha256>.id128v  ids a file added to the month
//! <root>/_txn_index/institution=wallet_b/year=2023/month=9/<sha256>.pairs   merchant pairs it counted first
//! <root>/_txn_index/institution=wallet_b/year=2023/month=9/<sha256>.apairs  area merchant pairs it counted first
//! ```
//! An `.id128v` file holds the 128-bit ids (two independent 64-bit hashes of the `txn_id`) of the
//! transactions one file *added* (new to the lake), each with the fingerprint of its values (what it
//! contributes to `payment_daily`, [`TXN_INDEX_FORMAT`]) and its day (28-byte records); `.id128`
//! files of an index written before format 3 hold id and day only (20 bytes) and are read with
//! their values unknown. A `.pairs` file holds the 64-bit (cell, merchant) hashes a file counted for
//! the first time, with their day (12 bytes); an `.apairs` file the same for the (area cell,
//! merchant) pairs of `payment_area_daily`. A lake whose transactions were ingested before
//! `payment_area_daily` existed has neither `.apairs` files nor area rows for them: its area table
//! holds the transactions ingested since (the index format stays 3; `docs/reading-the-outputs.md`).
//! The day lets `ingest --replace` forget exactly the transactions of the days it removes. A false match between two different
//! transaction ids of one institution has probability about n²/2¹²⁹: 1.5 × 10⁻¹⁹ at 10¹⁰
//! transactions. Only files whose SHA-256 the manifest lists are read, so an index file renamed into
//! place by a commit that then crashed is never trusted.
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use homeseason_ingest::{CompactRejects, KnownIds, KnownIdsBuilder, SpillFiles, SpillRead};
use homeseason_schema::contract::tables;
use polars::prelude::DataFrame;

use crate::manifest::Manifest;
use crate::store::{Commit, CommitSummary, Lake, io, number_after};
use crate::{LakeError, Result};

/// Where [`Lake::write_suppression_note`] records the dashboard copies' suppression.
const SUPPRESSION_NOTE: &str = "dashboard/_suppression.json";

/// Bytes of one `.id128` record (format 2, still read): the id (16, little-endian) and its day (4,
/// `i32` days since 1970-01-01).
pub(crate) const ID_RECORD: usize = 20;
/// Bytes of one `.id128v` record (format 3): the id (16), the values' fingerprint (8) and the day
/// (4), all little-endian; the day last, as in every record of the index.
pub(crate) const ID_VALUE_RECORD: usize = 28;
/// Extension of the format-3 id files.
pub(crate) const ID_VALUE_EXT: &str = "id128v";

/// The ids of an institution's transactions in the lake, each with its values' fingerprint (`0`:
/// unknown, an id from an index written before format 3).
pub type TxnIds = std::collections::HashMap<u128, u64>;
/// Bytes of one `.pairs` (or `.apairs`) record: the pair hash (8) and its day (4).
pub(crate) const PAIR_RECORD: usize = 12;
/// Extension of the area merchant pairs' files.
pub(crate) const AREA_PAIRS_EXT: &str = "apairs";

/// Folder of the index under the lake root.
pub const TXN_INDEX_DIR: &str = "_txn_index";

/// The first line of `_txn_index/FORMAT`: how the ids and pairs are hashed. Format 3 adds to each
/// id the fingerprint of the transaction's values (`.id128v` files); format 2 (the same XXH64
/// hashes, seed 42, computable by Spark's `xxhash64`, ids without values in `.id128` files) is still
/// read, its ids with their values unknown, and becomes format 3 at the next transaction commit.
/// Format 1 (xxh3, no `FORMAT` file) cannot be compared with new ids: the lake refuses to read it.
pub const TXN_INDEX_FORMAT: &str = "homeseason txn index 3";

/// The format before [`TXN_INDEX_FORMAT`], still read.
const TXN_INDEX_FORMAT_2: &str = "homeseason txn index 2";

const FORMAT_TEXT: &str = "homeseason txn index 3\nid128 = XXH64(trim(txn_id), 42) << 64 | XXH64(trim(txn_id) + \"\\u0001homeseason\", 42), 0 -> 1 in the first half\nvalues = xxhash64(day INT, region_code STRING, mcc INT, channel INT (0 offline, 1 online), sale BOOLEAN, fen BIGINT, trim(merchant_id) STRING) chained from seed 42 as Spark computes it, 0 -> 1 (0: unknown, format 2 records)\nid128v record = id128 (16 bytes LE) | values (8 LE) | day (4 LE, days since 1970-01-01); id128 record (format 2) = id128 | day\npairs = XXH64(\"day|region_code|mcc|channel(0 offline, 1 online)|trim(merchant_id)\", 42), 0 -> 1\napairs = XXH64(\"day|region_code|area_code|mcc|channel(0 offline, 1 online)|trim(merchant_id)\", 42), 0 -> 1 (payment_area_daily; absent for transactions ingested before it)\n";
static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The relative path of a `payment_daily` partition.
#[must_use]
pub fn payment_partition(institution: &str, year: i32, month: u32) -> String {
    format!(
        "{}/institution={institution}/year={year}/month={month}/data.parquet",
        tables::PAYMENT_DAILY
    )
}

fn index_dir(institution: &str, year: i32, month: u32) -> String {
    format!("{TXN_INDEX_DIR}/institution={institution}/year={year}/month={month}")
}

/// The private folder in `.tmp` that spilled transaction ids live in ([`KnownIds`]), removed with
/// them (or, when the process dies, by the next writer: its name starts `txn-<pid>-`).
struct SpillFolder(PathBuf);

impl SpillFiles for SpillFolder {
    fn create(&self, name: &str) -> std::io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(crate::store::private_file(&self.0.join(name))?))
    }
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn SpillRead>>> {
        match File::open(self.0.join(name)) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        fs::remove_file(self.0.join(name))
    }
    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for SpillFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Who holds an institution-month, and the fingerprints of the transactions it holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthHolder {
    /// Names of the files holding rows of the month, as ingested, comma-separated.
    pub file: String,
    /// Unused (several files may hold a month); empty.
    pub sha256: String,
    /// Merchant pairs (64-bit hashes of cell and merchant) already counted in the month.
    pub fps: Vec<u64>,
    /// Area merchant pairs (64-bit hashes of area cell and merchant) already counted in the month.
    pub area_fps: Vec<u64>,
}

/// Ids and merchant pairs being written during an ingest, one temporary file per month and kind,
/// in `<root>/.tmp`.
#[derive(Debug)]
pub struct TxnSpill {
    dir: PathBuf,
    files: BTreeMap<(i32, u32, &'static str), BufWriter<File>>,
}

impl TxnSpill {
    fn writer(
        &mut self,
        year: i32,
        month: u32,
        ext: &'static str,
    ) -> std::io::Result<&mut BufWriter<File>> {
        if !self.files.contains_key(&(year, month, ext)) {
            let path = self.dir.join(format!("{year}-{month}.{ext}"));
            let f = crate::store::private_file(&path)?;
            self.files
                .insert((year, month, ext), BufWriter::with_capacity(1 << 20, f));
        }
        self.files
            .get_mut(&(year, month, ext))
            .ok_or_else(|| std::io::Error::other("spill"))
    }

    /// Append 128-bit ids of new transactions of a month, each with its day and its values'
    /// fingerprint (`.id128v` records).
    ///
    /// # Errors
    /// On IO failures.
    pub fn push(&mut self, year: i32, month: u32, ids: &[(u128, i32, u64)]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(ids.len() * ID_VALUE_RECORD);
        for (id, day, values) in ids {
            buf.extend_from_slice(&id.to_le_bytes());
            buf.extend_from_slice(&values.to_le_bytes());
            buf.extend_from_slice(&day.to_le_bytes());
        }
        self.writer(year, month, ID_VALUE_EXT)?.write_all(&buf)
    }

    /// Append merchant pairs first counted in a month.
    ///
    /// # Errors
    /// On IO failures.
    pub fn push_pairs(
        &mut self,
        year: i32,
        month: u32,
        pairs: &[(u64, i32)],
    ) -> std::io::Result<()> {
        self.push_pair_records(year, month, "pairs", pairs)
    }

    /// Append area merchant pairs first counted in a month (`.apairs`).
    ///
    /// # Errors
    /// On IO failures.
    pub fn push_area_pairs(
        &mut self,
        year: i32,
        month: u32,
        pairs: &[(u64, i32)],
    ) -> std::io::Result<()> {
        self.push_pair_records(year, month, AREA_PAIRS_EXT, pairs)
    }

    /// Append `(pair, day)` records to the month's `ext` file.
    fn push_pair_records(
        &mut self,
        year: i32,
        month: u32,
        ext: &'static str,
        pairs: &[(u64, i32)],
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(pairs.len() * PAIR_RECORD);
        for (p, day) in pairs {
            buf.extend_from_slice(&p.to_le_bytes());
            buf.extend_from_slice(&day.to_le_bytes());
        }
        self.writer(year, month, ext)?.write_all(&buf)
    }

    /// Forget everything pushed so far.
    ///
    /// # Errors
    /// On IO failures.
    pub fn reset(&mut self) -> std::io::Result<()> {
        for ((y, m, ext), w) in std::mem::take(&mut self.files) {
            drop(w);
            fs::remove_file(self.dir.join(format!("{y}-{m}.{ext}")))?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        year: i32,
        month: u32,
        ext: &'static str,
    ) -> std::io::Result<Option<PathBuf>> {
        let Some(w) = self.files.remove(&(year, month, ext)) else {
            return Ok(None);
        };
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        Ok(Some(self.dir.join(format!("{year}-{month}.{ext}"))))
    }
}

impl Drop for TxnSpill {
    fn drop(&mut self) {
        self.files.clear();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Lake {
    /// A fresh spill area for one ingest's txn-id fingerprints.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn txn_spill(&self) -> Result<TxnSpill> {
        let n = SPILL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .root()
            .join(".tmp")
            .join(format!("txn-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        Ok(TxnSpill {
            dir,
            files: BTreeMap::new(),
        })
    }

    /// Index files of `institution` (every month, or one) whose file the manifest lists:
    /// (year, month, path).
    fn index_files(
        &self,
        manifest: &Manifest,
        institution: &str,
        ext: &str,
        only: Option<(i32, u32)>,
    ) -> Result<Vec<(i32, u32, PathBuf, String)>> {
        let mut out = Vec::new();
        if !crate::layout::is_institution_code(institution) {
            return Ok(out);
        }
        let base = self.resolve(&format!("{TXN_INDEX_DIR}/institution={institution}"))?;
        let Ok(years) = fs::read_dir(&base) else {
            return Ok(out);
        };
        self.check_index_format()?;
        for y in years.filter_map(std::result::Result::ok) {
            let Some(year) = number_after::<i32>(&y, "year=") else {
                continue;
            };
            let Ok(months) = fs::read_dir(y.path()) else {
                continue;
            };
            for m in months.filter_map(std::result::Result::ok) {
                let Some(month) = number_after::<u32>(&m, "month=") else {
                    continue;
                };
                if only.is_some_and(|o| o != (year, month)) {
                    continue;
                }
                let Ok(files) = fs::read_dir(m.path()) else {
                    continue;
                };
                for f in files.filter_map(std::result::Result::ok) {
                    let fname = f.file_name().to_string_lossy().into_owned();
                    let Some(stem) = fname.strip_suffix(&format!(".{ext}")) else {
                        continue;
                    };
                    let sha = stem.split('-').next().unwrap_or(stem);
                    if let Some(entry) = manifest.file(sha) {
                        out.push((year, month, f.path(), entry.file.clone()));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Refuse an index written in another format ([`TXN_INDEX_FORMAT`]).
    fn check_index_format(&self) -> Result<()> {
        let path = self.resolve(&format!("{TXN_INDEX_DIR}/FORMAT"))?;
        let found = fs::read_to_string(&path).unwrap_or_default();
        let first = found.lines().next().unwrap_or("");
        if first == TXN_INDEX_FORMAT || first == TXN_INDEX_FORMAT_2 {
            return Ok(());
        }
        let found = if first.is_empty() {
            "format 1 (no _txn_index/FORMAT)"
        } else {
            first
        };
        Err(LakeError::Contract {
            table: TXN_INDEX_DIR.to_owned(),
            reason: format!(
                "the transaction index was written by an older homeseason ({found}; this one reads {TXN_INDEX_FORMAT}): ingest the transaction files again into a new lake (docs/lake-write-model.md) / 交易索引由旧版 homeseason 写入（{found}；本版读取 {TXN_INDEX_FORMAT}）：请将交易文件重新导入新的数据湖（见 docs/lake-write-model.md）"
            ),
        })
    }

    /// Write `_txn_index/FORMAT` when the index has none yet (the first transaction commit), or
    /// is of format 2 (its `.id128` files stay and are read; new files are `.id128v`).
    fn ensure_index_format(&self) -> Result<()> {
        let rel = format!("{TXN_INDEX_DIR}/FORMAT");
        let path = self.resolve(&rel)?;
        if fs::read_to_string(&path).is_ok_and(|t| t.lines().next() == Some(TXN_INDEX_FORMAT)) {
            return Ok(());
        }
        self.create_dirs(&self.resolve(TXN_INDEX_DIR)?)?;
        self.write_atomic(&rel, FORMAT_TEXT.as_bytes())?;
        Ok(())
    }

    /// Every merchant pair `institution` has in the lake (all months).
    ///
    /// # Errors
    /// When an index file cannot be read, or the index is of another format.
    pub fn institution_txn_pairs(
        &self,
        manifest: &Manifest,
        institution: &str,
    ) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for (_, _, path, _) in self.index_files(manifest, institution, "pairs", None)? {
            let bytes = fs::read(&path).map_err(io("read", &path))?;
            out.extend(bytes.chunks_exact(PAIR_RECORD).map(|c| {
                let mut p = [0; 8];
                p.copy_from_slice(&c[..8]);
                u64::from_le_bytes(p)
            }));
        }
        Ok(out)
    }

    /// Every transaction id `institution` has in the lake (all months), 128 bits each, with the
    /// fingerprint of its values (`0`: unknown, an id of a format-2 `.id128` file).
    ///
    /// # Errors
    /// When an index file cannot be read.
    pub fn institution_txn_ids(&self, manifest: &Manifest, institution: &str) -> Result<TxnIds> {
        let mut out = TxnIds::new();
        for (ext, record) in [("id128", ID_RECORD), (ID_VALUE_EXT, ID_VALUE_RECORD)] {
            for (_, _, path, _) in self.index_files(manifest, institution, ext, None)? {
                let bytes = fs::read(&path).map_err(io("read", &path))?;
                for c in bytes.chunks_exact(record) {
                    let mut id = [0; 16];
                    id.copy_from_slice(&c[..16]);
                    let mut values = [0; 8];
                    if record == ID_VALUE_RECORD {
                        values.copy_from_slice(&c[16..24]);
                    }
                    let v = out.entry(u128::from_le_bytes(id)).or_insert(0);
                    if *v == 0 {
                        *v = u64::from_le_bytes(values);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every transaction id `institution` has in the lake, as [`Lake::institution_txn_ids`] reads
    /// them, but held in memory only when at most `in_memory` are expected (the index files' sizes):
    /// else spilled to bucket files in a private folder of `.tmp` (removed with the ids, or by the
    /// next writer when the process died), with a bounded filter in memory
    /// ([`homeseason_ingest::KnownIds`]). The files are read a MiB at a time either way.
    ///
    /// # Errors
    /// When an index file cannot be read or a spill file written.
    pub fn institution_known_ids(
        &self,
        manifest: &Manifest,
        institution: &str,
        in_memory: usize,
    ) -> Result<KnownIds> {
        let mut files = Vec::new();
        let mut expected = 0usize;
        for (ext, record) in [("id128", ID_RECORD), (ID_VALUE_EXT, ID_VALUE_RECORD)] {
            for (_, _, path, _) in self.index_files(manifest, institution, ext, None)? {
                let len = fs::metadata(&path).map_err(io("read", &path))?.len();
                expected += usize::try_from(len).unwrap_or(usize::MAX) / record;
                files.push((path, record));
            }
        }
        let n = SPILL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .root()
            .join(".tmp")
            .join(format!("txn-{}-known-{n}", std::process::id()));
        let folder = dir.clone();
        let mut ids = KnownIdsBuilder::new(
            move || {
                fs::create_dir(&folder)?;
                crate::store::set_private(&folder);
                Ok(Box::new(SpillFolder(folder)) as Box<dyn SpillFiles>)
            },
            expected,
            in_memory,
        )
        .map_err(io("create", &dir))?;
        for (path, record) in files {
            let mut f = File::open(&path).map_err(io("read", &path))?;
            homeseason_ingest::for_each_record(&mut f, record, |rec| {
                let mut id = [0; 16];
                id.copy_from_slice(&rec[..16]);
                let mut values = [0; 8];
                if record == ID_VALUE_RECORD {
                    values.copy_from_slice(&rec[16..24]);
                }
                ids.push(u128::from_le_bytes(id), u64::from_le_bytes(values))
            })
            .map_err(io("read", &path))?;
        }
        ids.finish().map_err(io("write", &dir))
    }

    /// The files holding rows of `institution`'s `year`-`month` and the merchant pairs counted there;
    /// `None` when nobody holds it.
    ///
    /// # Errors
    /// When an index file cannot be read.
    pub fn month_holder(
        &self,
        manifest: &Manifest,
        institution: &str,
        year: i32,
        month: u32,
    ) -> Result<Option<MonthHolder>> {
        let mut files = self.index_files(manifest, institution, "id128", Some((year, month)))?;
        files.extend(self.index_files(manifest, institution, ID_VALUE_EXT, Some((year, month)))?);
        files.sort();
        if files.is_empty() {
            return Ok(None);
        }
        let read_pairs = |ext: &str| -> Result<Vec<u64>> {
            let mut pairs = Vec::new();
            for (_, _, path, _) in
                self.index_files(manifest, institution, ext, Some((year, month)))?
            {
                let mut bytes = Vec::new();
                File::open(&path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(io("read", &path))?;
                pairs.extend(bytes.chunks_exact(PAIR_RECORD).map(|c| {
                    let mut p = [0; 8];
                    p.copy_from_slice(&c[..8]);
                    u64::from_le_bytes(p)
                }));
            }
            Ok(pairs)
        };
        let pairs = read_pairs("pairs")?;
        let area_pairs = read_pairs(AREA_PAIRS_EXT)?;
        let mut names: Vec<String> = files.into_iter().map(|(_, _, _, f)| f).collect();
        names.dedup();
        Ok(Some(MonthHolder {
            file: names.join(", "),
            sha256: String::new(),
            fps: pairs,
            area_fps: area_pairs,
        }))
    }

    /// The state of `institution`'s index that `manifest` vouches for: every `.id128` and `.pairs`
    /// file (all months) with its length. A transaction file's increment is computed against one
    /// state and may be committed only onto the same state: another writer that committed
    /// transactions of the institution in between (or `ingest --replace`, which shortens index
    /// files) changes it.
    ///
    /// # Errors
    /// When the index folder cannot be resolved.
    pub fn txn_index_state(
        &self,
        manifest: &Manifest,
        institution: &str,
    ) -> Result<Vec<(PathBuf, u64)>> {
        let mut out = Vec::new();
        for ext in ["id128", ID_VALUE_EXT, "pairs", AREA_PAIRS_EXT] {
            for (_, _, path, _) in self.index_files(manifest, institution, ext, None)? {
                let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                out.push((path, len));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Commit a transaction file's new rows together with its txn index for `months`: index files
    /// first (trusted only once the manifest lists the file), then the rows are *added* to the
    /// months' partitions ([`Lake::commit`]), and `area` — the file's `payment_area_daily` cells —
    /// to that table's partitions in the same journaled commit. Takes the lock for the duration.
    /// `rejects`: the file's rejects kept compact, written into its `rejects` partition a row group
    /// at a time before `c.rejects`' rows.
    ///
    /// `seen` is the [`Lake::txn_index_state`] the increment was computed against; when the index
    /// has changed since, nothing is written and [`LakeError::Stale`] asks the caller to read the
    /// file again (its transactions may now be held by the other writer's file).
    ///
    /// # Errors
    /// [`LakeError::Stale`] as above; on IO or encoding failures (the lake stays consistent, as for
    /// [`Lake::commit`]).
    #[expect(
        clippy::too_many_arguments,
        reason = "the commit, its rejects, its area rows and its index: the step's inputs"
    )]
    pub fn commit_with_txn_index(
        &self,
        c: &Commit<'_>,
        rejects: Option<&CompactRejects>,
        area: DataFrame,
        institution: &str,
        spill: TxnSpill,
        months: &[(i32, u32)],
        seen: &[(PathBuf, u64)],
    ) -> Result<CommitSummary> {
        let lock = self.lock()?;
        self.commit_with_txn_index_locked(&lock, c, rejects, area, institution, spill, months, seen)
    }

    /// [`Lake::commit_with_txn_index`] for a caller that holds the lock (taken with [`Lake::lock`]
    /// before the file was read, so the index cannot have changed since).
    ///
    /// # Errors
    /// As [`Lake::commit_with_txn_index`].
    #[expect(
        clippy::too_many_arguments,
        reason = "the commit, its rejects, its area rows and its index: the step's inputs"
    )]
    pub fn commit_with_txn_index_locked(
        &self,
        _held: &crate::store::LakeLock,
        c: &Commit<'_>,
        rejects: Option<&CompactRejects>,
        area: DataFrame,
        institution: &str,
        mut spill: TxnSpill,
        months: &[(i32, u32)],
        seen: &[(PathBuf, u64)],
    ) -> Result<CommitSummary> {
        // The institution names index folders and partitions: check it before any write or delete.
        if !crate::layout::is_institution_code(institution)
            || c.sha256.len() != 64
            || !c.sha256.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(LakeError::Contract {
                table: c.table.to_owned(),
                reason: format!(
                    "institution {institution:?} cannot name a folder: an institution code is 1–32 of a-z 0-9 _ / 机构代码须为 1–32 位小写字母、数字或下划线"
                ),
            });
        }
        let manifest = self.manifest()?;
        if self.txn_index_state(&manifest, institution)? != seen {
            return Err(LakeError::Stale {
                institution: institution.to_owned(),
            });
        }
        if !months.is_empty() {
            self.ensure_index_format()?;
        }
        for &(year, month) in months {
            let rel = index_dir(institution, year, month);
            let dir = self.resolve(&rel)?;
            for ext in [ID_VALUE_EXT, "pairs", AREA_PAIRS_EXT] {
                let Some(tmp) = spill.finish(year, month, ext).map_err(io("sync", &dir))? else {
                    continue;
                };
                if fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0) == 0 {
                    let _ = fs::remove_file(&tmp);
                    continue;
                }
                self.create_dirs(&dir)?;
                // A file the manifest already lists adds a second index file beside its first.
                let mut name = format!("{}.{ext}", c.sha256);
                let mut k = 1;
                while manifest.file(c.sha256).is_some() && dir.join(&name).exists() {
                    k += 1;
                    name = format!("{}-{k}.{ext}", c.sha256);
                }
                let target = self.resolve(&format!("{rel}/{name}"))?;
                fs::rename(&tmp, &target).map_err(io("rename", &target))?;
                crate::store::sync_dir(&dir);
            }
        }
        self.commit_locked_also(c, Some((tables::PAYMENT_AREA_DAILY, area)), rejects)
    }
}

impl Lake {
    /// Replace a dashboard copy of a table (`<root>/dashboard/<name>/data.parquet`, one file, written
    /// atomically), after checking the frame against the copy's contract (`data-schemas/<name>.json`,
    /// kind `dashboard`) as [`Lake::write_output`] does. Dashboard copies are derived, never read
    /// back by homeseason's estimates.
    ///
    /// # Errors
    /// [`crate::LakeError::Contract`] when `name` is not a dashboard table or the frame does not match
    /// its contract; encoding or IO failures.
    pub fn write_dashboard(
        &self,
        name: &str,
        frame: &polars::prelude::DataFrame,
    ) -> Result<PathBuf> {
        if !homeseason_schema::contract::get(name)
            .is_some_and(|t| t.kind == homeseason_schema::contract::TableKind::Dashboard)
        {
            return Err(crate::LakeError::Contract {
                table: name.to_owned(),
                reason: "not a dashboard table 不是看板表".into(),
            });
        }
        crate::store::check_frame(name, frame, &[])?;
        let rel = format!(
            "{}/data.parquet",
            homeseason_schema::contract::lake_dir(name)
        );
        self.write_atomic(&rel, &Lake::parquet_bytes(name, frame)?)?;
        Ok(self.root().join(rel))
    }

    /// Record how the dashboard copies were suppressed (`dashboard/_suppression.json`: the threshold
    /// `k` and what suppression did), so the report and the notebook blank the same figures.
    ///
    /// # Errors
    /// On IO failures.
    pub fn write_suppression_note(&self, note: &serde_json::Value) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(note).map_err(|e| LakeError::Contract {
            table: "dashboard".into(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.write_atomic(SUPPRESSION_NOTE, &bytes)
    }

    /// The threshold `k` the dashboard copies were last written with (`ingest --suppress-below K`),
    /// or `None` when the lake has no dashboard copies.
    ///
    /// # Errors
    /// When the note exists but cannot be read or holds no threshold.
    pub fn suppression_threshold(&self) -> Result<Option<u32>> {
        let path = self.root().join(SUPPRESSION_NOTE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::store::io("read", &path)(e)),
        };
        let k = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["k"].as_u64())
            .and_then(|k| u32::try_from(k).ok())
            .ok_or_else(|| LakeError::Contract {
                table: "dashboard".into(),
                reason: format!("{}: no threshold k 缺少抑制阈值 k", path.display()),
            })?;
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_of_another_format_is_refused_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let manifest = lake.manifest().unwrap();
        // A new lake: nothing to read, no error.
        assert!(
            lake.institution_txn_ids(&manifest, "wallet_b")
                .unwrap()
                .is_empty()
        );
        // An index written before FORMAT existed (format 1).
        let month = dir
            .path()
            .join(TXN_INDEX_DIR)
            .join("institution=wallet_b/year=2023/month=9");
        fs::create_dir_all(&month).unwrap();
        let err = lake
            .institution_txn_ids(&manifest, "wallet_b")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("format 1") && err.contains("重新导入"),
            "{err}"
        );
        assert!(lake.txn_index_state(&manifest, "wallet_b").is_err());
        // The current format reads.
        lake.ensure_index_format().unwrap();
        assert!(
            lake.institution_txn_ids(&manifest, "wallet_b")
                .unwrap()
                .is_empty()
        );
        let text = fs::read_to_string(dir.path().join(TXN_INDEX_DIR).join("FORMAT")).unwrap();
        assert!(text.starts_with(TXN_INDEX_FORMAT));
    }

    /// Ids past the bound are spilled to a private folder of `.tmp` that goes with them, and
    /// answer as the ids read whole: the format-2 and format-3 files of two months, an id in
    /// both with its values known only in the second, and an unlisted file ignored.
    #[test]
    fn spilled_ids_answer_as_the_ids_read_whole_and_leave_no_folder() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        lake.ensure_index_format().unwrap();
        let id = |i: u64| (u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 64) | u128::from(i);
        let mut manifest = lake.manifest().unwrap();
        let write = |rel: &str, bytes: Vec<u8>| {
            let path = dir.path().join(TXN_INDEX_DIR).join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        };
        // Format 2 (id, day) in September: ids 1..=3000; format 3 (id, values, day) in October:
        // ids 2001..=9000, values i + 7 (so 2001..=3000 are in both).
        let v2: Vec<u8> = (1..=3000u64)
            .flat_map(|i| [&id(i).to_le_bytes()[..], &19_600i32.to_le_bytes()].concat())
            .collect();
        let v3: Vec<u8> = (2001..=9000u64)
            .flat_map(|i| {
                [
                    &id(i).to_le_bytes()[..],
                    &(i + 7).to_le_bytes(),
                    &19_630i32.to_le_bytes(),
                ]
                .concat()
            })
            .collect();
        write("institution=wallet_b/year=2023/month=9/aaaa.id128", v2);
        write("institution=wallet_b/year=2023/month=10/bbbb.id128v", v3);
        // Not in the manifest: never read.
        write(
            "institution=wallet_b/year=2023/month=11/cccc.id128v",
            [
                &id(99_999).to_le_bytes()[..],
                &5u64.to_le_bytes(),
                &0i32.to_le_bytes(),
            ]
            .concat(),
        );
        for (sha, name) in [("aaaa", "sep.csv"), ("bbbb", "oct.csv")] {
            manifest.files.push(crate::manifest::FileEntry {
                sha256: sha.into(),
                file: name.into(),
                feed: "payment_transactions".into(),
                table: "payment_daily".into(),
                ingested_at: String::new(),
                report: serde_json::Value::Null,
                partitions: Vec::new(),
                superseded: Vec::new(),
            });
        }
        let whole = lake.institution_txn_ids(&manifest, "wallet_b").unwrap();
        assert_eq!(whole.len(), 9000);
        let memory = lake
            .institution_known_ids(&manifest, "wallet_b", usize::MAX)
            .unwrap();
        assert!(!memory.is_spilled());
        let spilled = lake
            .institution_known_ids(&manifest, "wallet_b", 100)
            .unwrap();
        assert!(spilled.is_spilled(), "{spilled:?}");
        let folders = || -> Vec<String> {
            fs::read_dir(dir.path().join(".tmp"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("-known-"))
                .collect()
        };
        let made = folders();
        assert_eq!(made.len(), 1, "{made:?}");
        assert!(made[0].starts_with(&format!("txn-{}-known-", std::process::id())));
        for i in (1..=9000u64).chain([99_999, 123_456]) {
            let want = whole.get(&id(i)).copied();
            assert_eq!(spilled.exact(id(i)).unwrap(), want, "id {i}");
            assert_eq!(memory.exact(id(i)).unwrap(), want, "id {i}");
        }
        assert_eq!(whole.get(&id(10)), Some(&0));
        assert_eq!(whole.get(&id(2500)), Some(&2507));
        drop(spilled);
        assert!(folders().is_empty(), "{:?}", folders());
    }
}
