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
pub(crate) fn demo_dir() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("temp dir");
        let out = tmp.path().join("out");
        let stdout = ok(&["demo", "--out", out.to_str().expect("utf-8 path")]);
        std::fs::write(tmp.path().join("demo-stdout.txt"), stdout).expect("write stdout");
        (tmp, out)
    })
    .1
}

/// Read a Parquet file.
pub(crate) fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().expect("parquet reads")
}

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

/// Every file under `dir` with the extension.
pub(crate) fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
