//! The raw store: every received file, immutable, named by its SHA-256 (`raw/<sha256>`).
//!
//! Bytes are streamed into `raw/.partial/<random>` while being hashed and counted, synced, then renamed
//! to `raw/<sha256>` (or dropped, when that content is already stored) and made read-only. A
//! partial file is removed when its writer is dropped unfinished (client gone, size limit, timeout).

use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Result, io_err};
use crate::sniff::HEAD_BYTES;

/// The store.
#[derive(Debug, Clone)]
pub struct RawStore {
    dir: PathBuf,
}

/// A file received in full.
#[derive(Debug, Clone)]
pub struct Stored {
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The first bytes, for type checks.
    pub head: Vec<u8>,
    /// Whether the same content was already in the store.
    pub existed: bool,
}

pub use homeseason_client::wire::is_sha256;

impl RawStore {
    /// The store under `dir`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> RawStore {
        RawStore { dir: dir.into() }
    }

    /// Where content with this hash lives (`None` for anything that is not a SHA-256).
    #[must_use]
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256(sha256).then(|| self.dir.join(sha256))
    }

    /// Start receiving a file.
    ///
    /// # Errors
    /// When the partial file cannot be created.
    pub async fn begin(&self) -> Result<RawWriter> {
        let partial = self.dir.join(".partial");
        tokio::fs::create_dir_all(&partial)
            .await
            .map_err(io_err("create", &partial))?;
        let mut id = [0u8; 12];
        rand::rng().fill_bytes(&mut id);
        let tmp = partial.join(format!("{}.part", hex::encode(id)));
        let file = tokio::fs::File::create_new(&tmp)
            .await
            .map_err(io_err("create", &tmp))?;
        Ok(RawWriter {
            file: Some(file),
            tmp,
            hasher: Sha256::new(),
            bytes: 0,
            head: Vec::new(),
            done: false,
        })
    }

    /// Read a stored file.
    ///
    /// # Errors
    /// When it is not there.
    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self
            .path(sha256)
            .ok_or_else(|| crate::ServerError::Invalid(format!("not a sha256: {sha256:?}")))?;
        tokio::fs::read(&path).await.map_err(io_err("read", &path))
    }
}

/// A file being received.
#[derive(Debug)]
pub struct RawWriter {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    hasher: Sha256,
    bytes: u64,
    head: Vec<u8>,
    done: bool,
}

impl RawWriter {
    /// Bytes so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The first bytes so far.
    #[must_use]
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Append a chunk.
    ///
    /// # Errors
    /// When the write fails.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        if self.head.len() < HEAD_BYTES {
            let take = chunk.len().min(HEAD_BYTES - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(chunk)
                .await
                .map_err(io_err("write", &self.tmp))?;
        }
        Ok(())
    }

    /// Finish: sync and move into the store under its hash.
    ///
    /// # Errors
    /// When syncing or renaming fails.
    pub async fn finish(mut self, store: &RawStore) -> Result<Stored> {
        let sha256 = hex::encode(self.hasher.clone().finalize());
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io_err("write", &self.tmp))?;
            file.sync_all().await.map_err(io_err("sync", &self.tmp))?;
        }
        let target = store.dir.join(&sha256);
        let existed = tokio::fs::try_exists(&target).await.unwrap_or(false);
        if existed {
            let _ = tokio::fs::remove_file(&self.tmp).await;
        } else {
            let mut perms = tokio::fs::metadata(&self.tmp)
                .await
                .map_err(io_err("stat", &self.tmp))?
                .permissions();
            perms.set_readonly(true);
            tokio::fs::set_permissions(&self.tmp, perms)
                .await
                .map_err(io_err("chmod", &self.tmp))?;
            tokio::fs::rename(&self.tmp, &target)
                .await
                .map_err(io_err("rename", &target))?;
        }
        self.done = true;
        Ok(Stored {
            sha256,
            bytes: self.bytes,
            head: std::mem::take(&mut self.head),
            existed,
        })
    }

    /// The partial file's path (for tests).
    #[must_use]
    pub fn partial_path(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for RawWriter {
    fn drop(&mut self) {
        if !self.done {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn content_addressed_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = RawStore::new(dir.path().join("raw"));
        let mut w = store.begin().await.unwrap();
        w.write(b"a,b\n").await.unwrap();
        w.write(b"1,2\n").await.unwrap();
        let s = w.finish(&store).await.unwrap();
        assert_eq!(s.sha256, homeseason_ingest::sha256_hex(b"a,b\n1,2\n"));
        assert!(!s.existed);
        assert_eq!(store.read(&s.sha256).await.unwrap(), b"a,b\n1,2\n");
        let mut again = store.begin().await.unwrap();
        again.write(b"a,b\n1,2\n").await.unwrap();
        assert!(again.finish(&store).await.unwrap().existed);
        let mut dropped = store.begin().await.unwrap();
        dropped.write(b"partial").await.unwrap();
        let partial = dropped.partial_path().to_owned();
        drop(dropped);
        assert!(!partial.exists());
        assert!(store.path("../../etc/passwd").is_none());
    }
}
