//! # homeseason-lake
//!
//! The Parquet lake every feed lands in and every output is read from.
//!
//! ## Layout
//! ```text
//! <root>/_manifest.json                                   every file ingested, every partition's version
//! <root>/payment_daily/institution=acq_a/year=2023/month=9/data.parquet
//! <root>/enterprise_sales/region_code=330000/data.parquet
//! <root>/retail_stats/region_code=000000/data.parquet
//! <root>/activities/region_code=330000/data.parquet
//! <root>/rejects/feed=payment_daily/file_sha256=<sha256>/data.parquet
//! <root>/uplift/data.parquet                              output tables (no partitions unless listed)
//! ```
//! Partition keys live in the path only (the Hive convention that DuckDB, pyarrow, Spark and polars
//! read with `hive_partitioning`); `year`/`month` are derived from the row's date. Each partition is
//! one file, replaced atomically (written to `<root>/.tmp`, synced, renamed over the old one), and the
//! manifest is replaced the same way after the partitions: a crash at any point leaves every partition
//! either old or new and the manifest describing a consistent earlier state. Writers take an exclusive
//! lock on `<root>/.lock`.
//!
//! ## Versions
//! Ingesting a file whose SHA-256 is already current for all its partitions changes nothing. A new
//! file that covers the same partition (the same institution and month, or the same region) replaces
//! it; the manifest keeps both files and marks which is current.
#![deny(missing_docs)]

mod layout;
mod manifest;
mod store;

pub use layout::{PartitionKey, partition_keys};
pub use manifest::{FileEntry, Manifest, PartitionEntry, RefusedEntry};
pub use store::{Commit, CommitSummary, Lake, LakeLock, SCHEMA_VERSION, check_frame, dtype_of};

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LakeError {
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
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
