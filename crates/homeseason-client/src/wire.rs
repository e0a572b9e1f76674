//! The types the server answers with and the client reads: one definition for both sides.

use serde::{Deserialize, Serialize};

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Received and stored; validation is running.
    Processing,
    /// Validated and committed (rows may still have been rejected: see the report).
    Accepted,
    /// Refused whole: nothing committed.
    Refused,
    /// An internal failure; the raw file is kept and the upload can be retried.
    Failed,
}

/// A rejected row, as shown to the liaison.
pub use homeseason_schema::contract::RejectRow;

/// A partition the upload replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    /// Partition path in the lake.
    pub partition: String,
    /// SHA-256 of the file whose rows it held.
    pub previous_sha256: String,
    /// That file's name, when known.
    pub previous_file: Option<String>,
}

/// What the lake did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitView {
    /// Nothing changed: this content was already current.
    pub unchanged: bool,
    /// Partitions written.
    pub written: Vec<String>,
    /// Partitions replaced, with what they held before.
    pub replaced: Vec<Replaced>,
    /// Rows the lake already held with the same values (files are increments: they changed nothing).
    #[serde(default)]
    pub duplicate_rows: usize,
    /// Rows whose key the lake already held with other values, settled by `conflict_policy`; both
    /// rows of each are in the upload's rejects (`conflict`, `conflict_held`).
    #[serde(default)]
    pub conflicts: usize,
    /// The first conflicting keys.
    #[serde(default)]
    pub conflict_keys: Vec<String>,
    /// How the conflicts were settled: `keep-first` (the held row stays) or `keep-last`.
    #[serde(default)]
    pub conflict_policy: Option<String>,
}

/// Why a file was refused whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `invalid_file`, `foreign_region`, `foreign_partition`, `feed_not_allowed`, `wrong_type`.
    pub code: String,
    /// Chinese.
    pub message_zh: String,
    /// English.
    pub message_en: String,
}

/// One upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Upload id.
    pub id: String,
    /// State.
    pub status: Status,
    /// File name (cleaned).
    pub file: String,
    /// SHA-256 of the bytes received.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// Feed, once known.
    pub feed: Option<String>,
    /// Token id of the uploader.
    pub token_id: String,
    /// Holder of that token.
    pub uploaded_by: String,
    /// The token's regions (empty for an administrator).
    pub scope_regions: Vec<String>,
    /// Regions of the accepted rows, with counts.
    #[serde(default)]
    pub regions: Vec<(String, usize)>,
    /// When received.
    pub received_at: String,
    /// When finished.
    pub finished_at: Option<String>,
    /// This content had already been ingested by upload `duplicate_of`; nothing was ingested again.
    pub duplicate_of: Option<String>,
    /// Counts: read, accepted, rejected, duplicates, encoding, ignored columns.
    pub report: Option<serde_json::Value>,
    /// The first rejected rows (all of them at `/api/uploads/{id}/rejects.csv`).
    #[serde(default)]
    pub rejects: Vec<RejectRow>,
    /// Rejected rows in all.
    #[serde(default)]
    pub rejects_total: usize,
    /// The rejected rows are not shown to this reader: it is neither the uploader nor an
    /// administrator, and a rejected row cannot be told to lie in its regions (its region may be the
    /// very value that was rejected). `regions` then lists only the reader's own regions.
    #[serde(default)]
    pub rejects_withheld: bool,
    /// What the lake did.
    pub commit: Option<CommitView>,
    /// Why it was refused.
    pub refusal: Option<Refusal>,
}

/// Whether `s` is a lower-case hex SHA-256.
#[must_use]
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
