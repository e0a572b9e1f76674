//! The audit log: one JSON object per line in `audit.jsonl`, appended under a lock, never rewritten.
//!
//! Every upload attempt is logged, the refused and the unauthenticated ones included, with who (token
//! id and holder, or `anonymous`), when, the file's SHA-256 when it was received, and the outcome.
//! Token issue and revocation are logged by the CLI into the same file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Result, io_err};
use crate::fsutil::FileLock;

/// `value` as one JSON line (with its `\n`) for the append-only file at `path`.
pub(crate) fn json_line<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(value).map_err(|e| crate::ServerError::Store {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    line.push(b'\n');
    Ok(line)
}

/// Append `line` to the file at `path` (created when missing) and sync it before returning: the
/// write of the audit log and of the upload registry.
pub(crate) fn append_synced(path: &Path, line: &[u8]) -> Result<()> {
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err("open", path))?;
    file.write_all(line)
        .and_then(|()| file.sync_data())
        .map_err(io_err("append", path))
}

/// One audit entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What: `upload`, `token_issued`, `token_revoked`, `download`.
    pub action: String,
    /// Token id, or `anonymous`.
    pub actor: String,
    /// Holder name of the token, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Upload id, for uploads that got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// File name (sanitised) as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// SHA-256 of the bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// `accepted`, `duplicate`, `refused`, `unauthorized`, `forbidden`, `too_large`, …
    pub outcome: String,
    /// Details: counts, the reason of a refusal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The append-only log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    mutex: Mutex<()>,
}

impl AuditLog {
    /// The log at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog {
            path: path.into(),
            mutex: Mutex::new(()),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event (one line, synced before returning).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn append(&self, event: &AuditEvent) -> Result<()> {
        let line = json_line(&self.path, event)?;
        let _guard = self
            .mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _lock = FileLock::acquire(&self.path.with_extension("lock"))?;
        append_synced(&self.path, &line)
    }

    /// Every event, oldest first (lines that do not parse are skipped).
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read_all(&self) -> Result<Vec<AuditEvent>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("open", &self.path)(e)),
        };
        let mut out = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(io_err("read", &self.path))?;
            if let Ok(event) = serde_json::from_str(&line) {
                out.push(event);
            }
        }
        Ok(out)
    }
}
