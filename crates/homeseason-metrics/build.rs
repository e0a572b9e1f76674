//! The estimators' code stamp: a SHA-256 of every source and data file the fits depend on (this
//! crate's, `homeseason-stats`' and `homeseason-schema`'s, their manifests, and the workspace's
//! `Cargo.lock`), as `HOMESEASON_FIT_STAMP` (hex). The cache of regression fits
//! (`src/memo.rs`) keys every entry by it, so a fit remembered by one build is never taken for
//! another's.
// The crate does no IO; its build reads the sources it stamps (the workspace's ban on file IO is
// for the crate's code, not its build).
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let crates = here.parent().expect("crates folder");
    let roots = [
        here.join("src"),
        here.join("Cargo.toml"),
        crates.join("homeseason-stats/src"),
        crates.join("homeseason-stats/Cargo.toml"),
        crates.join("homeseason-schema/src"),
        crates.join("homeseason-schema/data"),
        crates.join("homeseason-schema/Cargo.toml"),
        crates.join("../Cargo.lock"),
    ];
    let mut all = Vec::new();
    for root in &roots {
        println!("cargo:rerun-if-changed={}", root.display());
        if root.is_dir() {
            files(root, &mut all);
        } else if root.is_file() {
            all.push(root.clone());
        }
    }
    all.sort();
    let mut hash = Sha256::new();
    for path in &all {
        let rel = path.strip_prefix(crates).unwrap_or(path);
        let bytes = std::fs::read(path).unwrap_or_default();
        hash.update((rel.to_string_lossy().len() as u64).to_le_bytes());
        hash.update(rel.to_string_lossy().as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    hash.update(target.as_bytes());
    let hex = hash.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    println!("cargo:rustc-env=HOMESEASON_FIT_STAMP={hex}");
}
