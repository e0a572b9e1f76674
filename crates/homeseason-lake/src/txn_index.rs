//! The per-institution txn-id index: which transactions each institution-month already holds, so a
//! transaction sent twice (in two files, or in a re-upload under another name) is counted once.
//!
//! ```text
//! <root>/_txn_index/institution=wallet_b/year=2023/month=9/<sha256>.fp64
//! ```
//! One file per `payment_daily` partition and source file: the 64-bit fingerprints (little-endian
//! `u64`, in file order) of the transactions that file contributed to the month. Only the file named by
//! the manifest as the partition's current source is ever read, so the index moves with the partition:
//! it is renamed into place (from `.tmp`, synced) before the partition and the manifest are replaced,
//! a crash in between leaves a file nothing reads, and older versions are deleted after the manifest.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use homeseason_schema::contract::tables;

use crate::manifest::Manifest;
use crate::store::{Commit, CommitSummary, Lake};
use crate::{LakeError, Result};

/// Folder of the index under the lake root.
pub const TXN_INDEX_DIR: &str = "_txn_index";
static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> LakeError + 'a {
    move |source| LakeError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

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

/// Who holds an institution-month, and the fingerprints of the transactions it holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthHolder {
    /// File name as ingested.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Fingerprints of its transactions in the month (empty for a pre-aggregated daily file).
    pub fps: Vec<u64>,
}

/// Fingerprints being written during an ingest, one temporary file per month, in `<root>/.tmp`.
#[derive(Debug)]
pub struct TxnSpill {
    dir: PathBuf,
    files: BTreeMap<(i32, u32), BufWriter<File>>,
}

impl TxnSpill {
    /// Append fingerprints of a month.
    ///
    /// # Errors
    /// On IO failures.
    pub fn push(&mut self, year: i32, month: u32, fps: &[u64]) -> std::io::Result<()> {
        let w = match self.files.get_mut(&(year, month)) {
            Some(w) => w,
            None => {
                let path = self.dir.join(format!("{year}-{month}.fp64"));
                let f = File::create(path)?;
                self.files
                    .entry((year, month))
                    .or_insert(BufWriter::with_capacity(1 << 20, f))
            }
        };
        let mut buf = Vec::with_capacity(fps.len() * 8);
        for fp in fps {
            buf.extend_from_slice(&fp.to_le_bytes());
        }
        w.write_all(&buf)
    }

    /// Forget everything pushed so far.
    ///
    /// # Errors
    /// On IO failures.
    pub fn reset(&mut self) -> std::io::Result<()> {
        for ((y, m), w) in std::mem::take(&mut self.files) {
            drop(w);
            fs::remove_file(self.dir.join(format!("{y}-{m}.fp64")))?;
        }
        Ok(())
    }

    fn finish(&mut self, year: i32, month: u32) -> std::io::Result<Option<PathBuf>> {
        let Some(w) = self.files.remove(&(year, month)) else {
            return Ok(None);
        };
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        Ok(Some(self.dir.join(format!("{year}-{month}.fp64"))))
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
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(TxnSpill {
            dir,
            files: BTreeMap::new(),
        })
    }

    /// The file holding `institution`'s `year`-`month` of `payment_daily` per `manifest`, with its
    /// transaction fingerprints; `None` when nobody holds it.
    ///
    /// # Errors
    /// When the index file exists but cannot be read.
    pub fn month_holder(
        &self,
        manifest: &Manifest,
        institution: &str,
        year: i32,
        month: u32,
    ) -> Result<Option<MonthHolder>> {
        let Some(part) = manifest
            .partitions
            .get(&payment_partition(institution, year, month))
        else {
            return Ok(None);
        };
        let file = manifest
            .file(&part.source_sha256)
            .map_or_else(|| part.source_sha256.clone(), |f| f.file.clone());
        let path = self
            .root()
            .join(index_dir(institution, year, month))
            .join(format!("{}.fp64", part.source_sha256));
        let mut fps = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).map_err(io_err("read", &path))?;
                fps = bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("open", &path)(e)),
        }
        Ok(Some(MonthHolder {
            file,
            sha256: part.source_sha256.clone(),
            fps,
        }))
    }

    /// Commit a transaction file's rows together with its txn-id index for `months` (the months it
    /// writes): index files first, then partitions and manifest ([`Lake::commit`]), then the index
    /// files of replaced versions are deleted. Takes the lock for the duration.
    ///
    /// # Errors
    /// On IO or encoding failures (the lake stays consistent, as for [`Lake::commit`]).
    pub fn commit_with_txn_index(
        &self,
        c: &Commit<'_>,
        institution: &str,
        mut spill: TxnSpill,
        months: &[(i32, u32)],
    ) -> Result<CommitSummary> {
        // The institution names index folders and partitions: check it before any write or delete.
        if !crate::layout::is_safe_partition_value(institution)
            || !c.sha256.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(LakeError::Contract {
                table: c.table.to_owned(),
                reason: format!(
                    "institution {institution:?} cannot name a folder (letters, digits, _ - . only) 机构代码不合法"
                ),
            });
        }
        let _lock = self.lock()?;
        for &(year, month) in months {
            let dir = self.root().join(index_dir(institution, year, month));
            fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
            let target = dir.join(format!("{}.fp64", c.sha256));
            match spill.finish(year, month).map_err(io_err("sync", &dir))? {
                Some(tmp) => fs::rename(&tmp, &target).map_err(io_err("rename", &target))?,
                None => {
                    File::create(&target).map_err(io_err("create", &target))?;
                }
            }
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        let summary = self.commit_locked(c)?;
        let manifest = self.manifest()?;
        for &(year, month) in months {
            let Some(current) = manifest
                .partitions
                .get(&payment_partition(institution, year, month))
                .map(|p| format!("{}.fp64", p.source_sha256))
            else {
                continue;
            };
            let dir = self.root().join(index_dir(institution, year, month));
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.filter_map(std::result::Result::ok) {
                    if e.file_name().to_string_lossy() != current.as_str() {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        Ok(summary)
    }
}

impl Lake {
    /// Replace a dashboard copy of a table (`<root>/dashboard/<name>/data.parquet`, one file, written
    /// atomically). Dashboard copies are derived, never read back by homeseason.
    ///
    /// # Errors
    /// On encoding or IO failures.
    pub fn write_dashboard(
        &self,
        name: &str,
        frame: &polars::prelude::DataFrame,
    ) -> Result<PathBuf> {
        let rel = format!("dashboard/{name}/data.parquet");
        self.write_atomic(&rel, &Lake::parquet_bytes(name, frame)?)?;
        Ok(self.root().join(rel))
    }
}
