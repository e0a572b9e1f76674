//! # homeseason-lake
//!
//! The Parquet lake every feed lands in and every output is read from.
//!
//! ## Layout
//! Every table with partitions is a symbolic link that never changes, `<root>/payment_daily ->
//! .current/payment_daily`; `<root>/.current` is the lake's one commit pointer, a link to the
//! current lake snapshot (`.snapshots/_lake/000043`), a folder of one link per table to that
//! table's snapshot (`payment_daily -> ../../payment_daily/000042`, files under
//! `.snapshots/payment_daily/000042/v000042/…`). A commit renames a new pointer over `.current`:
//! every table it changes switches at once, so a reader globbing `payment_daily` and
//! `payment_area_daily` never sees one commit's rows beside another's (see [`LakeView`] for
//! reading two tables of one commit in one process, and `docs/lake-write-model.md`). The paths below are the tables'
//! *relative partition paths*, as the manifest names them; [`Lake::partition_path`] gives the file
//! a path is stored in now.
//! ```text
//! <root>/_manifest.json                                   every file ingested, every partition's version
//! <root>/payment_daily/institution=acq_a/year=2023/month=9/data.parquet
//! <root>/_txn_index/institution=wallet_b/year=2023/month=9/<sha256>.fp64   txn-id fingerprints of that partition
//! <root>/_cache/regression-fits-province.bin             remembered regression fits (`Lake::read_cache`)
//! <root>/dashboard/dashboard_payment_daily/data.parquet  small cells suppressed (`ingest --suppress-below K`)
//! <root>/dashboard/dashboard_baseline_daily/data.parquet daily figures suppression does not publish blanked
//! <root>/dashboard/_suppression.json                    the threshold K the copies were written with
//! <root>/enterprise_sales/period=2023-09/330000.parquet   (or 2023-W37, 2023-09-01~2023-09-15)
//! <root>/retail_stats/period=2023-10/000000.parquet
//! <root>/activities/year=2023/month=9/330000.parquet     (month the activity starts)
//! <root>/rejects/feed=payment_daily/file_sha256=<sha256>/data.parquet
//! <root>/uplift/data.parquet                              output tables (no partitions unless listed)
//! <root>/weekly_tracking/as_of_week=2023-10-15/data.parquet   one partition per report week
//! ```
//! Folder keys live in the path only (the Hive convention that DuckDB, pyarrow, Spark and polars
//! read with `hive_partitioning`); `year`/`month` are derived from the row's date. `region_code` is
//! never a folder: the region names the partition's file and stays in it as text, so every reader
//! reads it as text in every lake (a `region_code=000000` folder made engines infer an integer from
//! the names they found). A lake written with `region_code=` folders reads as it is and is rewritten
//! into this layout by its next commit, in one journaled commit of its own. A commit stages
//! all its partitions and the new manifest in `<root>/.tmp` first, builds a new snapshot of each
//! table it changes (unchanged partitions hard-linked) and a new lake snapshot naming them, then
//! writes a journal of the renames (`.tmp/_commit.journal`, atomically): the commit pointer,
//! one-file tables, then the manifest last;
//! renames everything into place and removes the journal. A crash at any point leaves every partition either old or new; a crash during
//! the renames leaves the journal, which the next writer (or [`Lake::open`], when no writer is active)
//! replays, so the manifest always ends up describing the partitions on disk. Writers take an
//! exclusive OS lock (`flock`) on `<root>/.lock`, which the kernel releases when the holder dies.
//!
//! ## Versions
//! Ingesting a file whose SHA-256 is already current for all its partitions changes nothing. A new
//! file that covers the same partition (the same institution and month; the same region and period for
//! enterprise sales and retail statistics; the same region and start month for activities) replaces
//! it, and only it; the manifest keeps both files, lists the replaced partitions under the earlier
//! file's `superseded`, and each partition's `source_sha256` and `version` say which file it holds.
#![deny(missing_docs)]

mod layout;
mod manifest;
mod migrate;
mod replace;
mod snapshot;
mod store;
mod txn_index;

pub use layout::{
    PartitionKey, is_institution_code, is_safe_partition_value, is_safe_relative_path,
    partition_keys,
};
pub use manifest::{FileEntry, Manifest, PartitionEntry, RefusedEntry};
pub use replace::{ReplaceRange, ReplaceSummary, ReplacementEntry};
pub use snapshot::{
    CURRENT_LINK, LAKE_SNAPSHOTS, LakeView, Retention, SNAPSHOTS_DIR, is_snapshotted,
};
pub use store::{
    CACHE_DIR, Commit, CommitSummary, ConflictPolicy, Lake, LakeLock, ORIGIN_LINE, ORIGIN_RAW,
    SCHEMA_VERSION, check_frame, dtype_of, write_key,
};
pub use txn_index::{
    MonthHolder, TXN_INDEX_DIR, TXN_INDEX_FORMAT, TxnIds, TxnSpill, payment_partition,
};

/// A filesystem operation that failed: what was being done, on which path, and the cause. The IO
/// failure of every crate that reads and writes files (the lake, the pipeline, the server, the Spark
/// engine), each holding it as its error's `Io` variant.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct IoError {
    /// What was being done (`read`, `write`, `list` …).
    pub action: &'static str,
    /// The path.
    pub path: std::path::PathBuf,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// For `map_err`: the failure of `action` on `path` as an error `E` that holds an [`IoError`].
    pub fn on<'a, E: From<IoError>>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> E + 'a {
        move |source| {
            E::from(IoError {
                action,
                path: path.to_owned(),
                source,
            })
        }
    }
}

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LakeError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A Parquet read or write failed.
    #[error("{path}: {source}")]
    Polars {
        /// Path or table.
        path: String,
        /// Cause.
        #[source]
        source: polars::prelude::PolarsError,
    },
    /// The manifest is unreadable.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// Path.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Another writer held the lake's lock for the whole wait.
    #[error(
        "the lake is locked by another writer ({path}) and stayed locked for {waited_secs} s: retry \
         when it has finished (HOMESEASON_LOCK_TIMEOUT_SECS sets the wait) 湖正被另一个写入进程锁定，请待其完成后重试"
    )]
    Locked {
        /// The lock file.
        path: std::path::PathBuf,
        /// How long this writer waited.
        waited_secs: u64,
    },
    /// Another writer committed transactions of the institution after this file's increment was
    /// computed: nothing was written; read the file again against the new index.
    #[error(
        "another ingest committed transactions of institution {institution} while this file was \
         being read: nothing was written; read the file again 读取本文件期间另一进程已写入机构 \
         {institution} 的交易，本次未写入任何数据，请重新读取该文件"
    )]
    Stale {
        /// The institution.
        institution: String,
    },
    /// A frame does not match its table's contract.
    #[error("table {table}: {reason}")]
    Contract {
        /// Table.
        table: String,
        /// Why.
        reason: String,
    },
}

/// Result alias.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;
