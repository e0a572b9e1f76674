//! The manifest: every file ingested and which version of each partition is current.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One ingested source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// SHA-256 of the file as received.
    pub sha256: String,
    /// File name as received.
    pub file: String,
    /// Feed id.
    pub feed: String,
    /// Lake table written.
    pub table: String,
    /// When it was ingested (RFC 3339, from the caller's clock).
    pub ingested_at: String,
    /// The ingest report (counts etc.), as the ingest crate produced it.
    pub report: serde_json::Value,
    /// Partitions (relative paths) this file wrote.
    pub partitions: Vec<String>,
    /// Partitions of this file that a later file replaced.
    #[serde(default)]
    pub superseded: Vec<String>,
}

impl FileEntry {
    /// Whether every partition this file wrote is still its own.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.superseded.len() < self.partitions.len() || self.partitions.is_empty()
    }
}

/// The current version of one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Table.
    pub table: String,
    /// SHA-256 of the file that wrote it last.
    pub source_sha256: String,
    /// 1 for the first write, +1 for each later write.
    pub version: u32,
    /// Rows in the partition.
    pub rows: usize,
    /// When it was written.
    pub written_at: String,
    /// SHA-256 of every file whose rows it holds (files are increments), oldest first.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// The lake's manifest (`_manifest.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this file.
    pub format: u32,
    /// Ingested files, in order of ingestion.
    pub files: Vec<FileEntry>,
    /// Partition path (relative to the root) → its current version.
    pub partitions: BTreeMap<String, PartitionEntry>,
    /// Files refused whole (latest refusal per SHA-256), with the reason.
    #[serde(default)]
    pub refused: Vec<RefusedEntry>,
    /// Explicit removals (`ingest --replace`), in order: the audit of every row that left the lake.
    #[serde(default)]
    pub replacements: Vec<crate::replace::ReplacementEntry>,
}

/// A file refused whole (empty, undecodable, missing columns …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedEntry {
    /// SHA-256 of the bytes received.
    pub sha256: String,
    /// File name.
    pub file: String,
    /// Feed, when known.
    pub feed: Option<String>,
    /// Why, in Chinese and English.
    pub reason: String,
    /// When.
    pub at: String,
}

impl Manifest {
    /// The entry of a file by hash.
    #[must_use]
    pub fn file(&self, sha256: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.sha256 == sha256)
    }
}
