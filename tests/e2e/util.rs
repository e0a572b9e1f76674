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

/// One demo run shared by the tests that only read its outputs (the demo takes a few seconds). It lives
/// in the target's tmp folder under a fixed name and is replaced by the next run: a `TempDir` in a static
/// is never dropped, and left ~100 MB in /tmp after every run of the suite.
pub(crate) fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-demo");
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("remove the previous demo");
        }
        std::fs::create_dir_all(&root).expect("demo folder");
        let out = root.join("out");
        let stdout = ok(&["demo", "--out", out.to_str().expect("utf-8 path")]);
        std::fs::write(root.join("demo-stdout.txt"), stdout).expect("write stdout");
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
