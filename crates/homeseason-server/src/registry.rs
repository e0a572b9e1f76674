//! The upload registry: every upload's state and validation report, in memory and in `uploads.jsonl`
//! (one line per state change, the last line of an id wins; replayed at start).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::audit::{append_synced, json_line};
use crate::error::{Result, io_err};

pub use homeseason_client::wire::{CommitView, Refusal, RejectRow, Replaced, Status, UploadRecord};

/// What the server asks of an upload record (the record itself is a wire type of `homeseason-client`).
pub trait RecordAccess {
    /// Whether `who` may see this upload: an administrator, the uploader, or a liaison of a region
    /// whose rows it committed (of a region in the uploader's scope, when it committed none).
    fn visible_to(&self, who: &crate::tokens::Principal) -> bool;
    /// Whether the upload concerns `region` (its rows, or its uploader's scope when it has none).
    fn concerns_region(&self, region: &str) -> bool;
    /// The record without its reject rows (for lists).
    fn summary(&self) -> UploadRecord;
}

impl RecordAccess for UploadRecord {
    /// Whether `who` may see this upload: an administrator, the uploader, or a liaison of a region
    /// whose rows it committed (of a region in the uploader's scope, when it committed none).
    fn visible_to(&self, who: &crate::tokens::Principal) -> bool {
        if who.admin || who.token_id == self.token_id {
            return true;
        }
        if self.regions.is_empty() {
            self.scope_regions.iter().any(|r| who.may_region(r))
        } else {
            self.regions.iter().any(|(r, _)| who.may_region(r))
        }
    }

    /// Whether the upload concerns `region` (its rows, or its uploader's scope when it has none).
    fn concerns_region(&self, region: &str) -> bool {
        if self.regions.is_empty() {
            self.scope_regions.iter().any(|r| r == region)
        } else {
            self.regions.iter().any(|(r, _)| r == region)
        }
    }

    /// The record without its reject rows (for lists).
    fn summary(&self) -> UploadRecord {
        UploadRecord {
            rejects: Vec::new(),
            ..self.clone()
        }
    }
}

/// The registry.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    records: Mutex<Vec<UploadRecord>>,
}

impl Registry {
    /// Open the registry at `path`, replaying it. Uploads left `processing` by a stopped server are
    /// marked `failed` (their raw files are kept: upload again).
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn open(path: impl Into<PathBuf>) -> Result<Registry> {
        let path = path.into();
        let mut records: Vec<UploadRecord> = Vec::new();
        match std::fs::File::open(&path) {
            Ok(file) => {
                for line in std::io::BufReader::new(file).lines() {
                    let line = line.map_err(io_err("read", &path))?;
                    if let Ok(r) = serde_json::from_str::<UploadRecord>(&line) {
                        match records.iter_mut().find(|x| x.id == r.id) {
                            Some(x) => *x = r,
                            None => records.push(r),
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("open", &path)(e)),
        }
        for r in &mut records {
            if r.status == Status::Processing {
                r.status = Status::Failed;
                r.refusal = Some(Refusal {
                    code: "interrupted".into(),
                    message_zh: "服务重启，处理中断，请重新上传".into(),
                    message_en: "the server restarted during processing: upload again".into(),
                });
            }
        }
        Ok(Registry {
            path,
            records: Mutex::new(records),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<UploadRecord>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Store a record (new or updated): appended to the file, then kept in memory.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn put(&self, record: &UploadRecord) -> Result<()> {
        let line = json_line(&self.path, record)?;
        let mut records = self.lock();
        append_synced(&self.path, &line)?;
        match records.iter_mut().find(|x| x.id == record.id) {
            Some(x) => *x = record.clone(),
            None => records.push(record.clone()),
        }
        Ok(())
    }

    /// The record with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<UploadRecord> {
        self.lock().iter().find(|r| r.id == id).cloned()
    }

    /// The latest accepted, non-duplicate upload of this content.
    #[must_use]
    pub fn accepted_by_sha(&self, sha256: &str) -> Option<UploadRecord> {
        self.lock()
            .iter()
            .rev()
            .find(|r| {
                r.sha256 == sha256 && r.status == Status::Accepted && r.duplicate_of.is_none()
            })
            .cloned()
    }

    /// The latest upload of this content, any state.
    #[must_use]
    pub fn latest_by_sha(&self, sha256: &str) -> Option<UploadRecord> {
        self.lock()
            .iter()
            .rev()
            .find(|r| r.sha256 == sha256)
            .cloned()
    }

    /// Every record matching `keep`, newest first.
    #[must_use]
    pub fn list(&self, keep: impl Fn(&UploadRecord) -> bool) -> Vec<UploadRecord> {
        self.lock()
            .iter()
            .rev()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }
}
