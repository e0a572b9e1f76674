//! Small filesystem helpers: atomic replacement and a cross-process lock file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, io_err};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name next to `target` (same directory, so the rename is atomic).
pub(crate) fn temp_beside(target: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Replace `target` with `bytes` atomically: write a temporary file beside it, sync, rename.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let tmp = temp_beside(target);
    let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", &tmp)(e));
    }
    fs::rename(&tmp, target).map_err(io_err("rename", target))?;
    if let Some(parent) = target.parent()
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// An exclusive advisory lock on a lock file, held until dropped. Serialises writers across
/// processes (the server and `homeseason liaison …` may run at the same time).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Block until the lock on `path` is ours.
    pub(crate) fn acquire(path: &Path) -> Result<FileLock> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err("open", path))?;
        file.lock().map_err(io_err("lock", path))?;
        Ok(FileLock { _file: file })
    }
}
