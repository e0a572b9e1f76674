//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use polars::prelude::*;

/// Run the binary with `args`; returns its output (stdout and stderr captured).
pub(crate) fn homeseason(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homeseason"))
        .args(args)
        .output()
        .expect("the homeseason binary runs")
}

/// Run and require success, returning stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = homeseason(args);
    assert!(
        out.status.success(),
        "homeseason {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One demo run shared by the tests that only read its outputs (the demo takes a few seconds).
///
/// A static is never dropped, so the run lives in `<target tmp>/e2e-demo-<pid>`, and each test
/// process first removes the runs of processes that have ended (a `TempDir` here leaked 111 MB per
/// run of the suite).
pub(crate) fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("e2e-demo-") else {
                    continue;
                };
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("e2e-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("demo dir");
        let out = dir.join("out");
        let stdout = ok(&["demo", "--out", out.to_str().expect("utf-8 path")]);
        std::fs::write(dir.join("demo-stdout.txt"), stdout).expect("write stdout");
        out
    })
}

pub(crate) use homeseason_test_support::{files_with_ext, read_parquet};

/// Read a CSV with region_code and category as text.
pub(crate) fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_schema_overwrite(Some(std::sync::Arc::new(Schema::from_iter([
            Field::new("region_code".into(), DataType::String),
            Field::new("category".into(), DataType::String),
        ]))))
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .expect("csv opens")
        .finish()
        .expect("csv reads")
}
