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
    ok_with_env(args, &[])
}

/// [`ok`] with the environment variables `env` set for the run.
pub(crate) fn ok_with_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_homeseason"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the homeseason binary runs");
    assert!(
        out.status.success(),
        "homeseason {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Chinese header of an enterprise-sales workbook as liaisons write it.
pub(crate) const SALES_HEADER_ZH: [&str; 9] = [
    "统一社会信用代码",
    "企业名称",
    "地区",
    "品类",
    "统计期",
    "销售额（万元）",
    "单位",
    "线上/线下",
    "品牌",
];

/// Read the JSON file at `path`.
pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Write `bytes` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create the folder");
    std::fs::write(path, bytes).expect("write the file");
}

/// Write `bytes` to the file `name` under `dir` (its folders created); the file's path.
pub(crate) fn write_in(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    write_file(&path, bytes);
    path
}

/// A new temporary folder holding `bytes` as the file `name`: the folder (removed on drop) and the
/// file's path.
pub(crate) fn temp_with(name: &str, bytes: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_in(tmp.path(), name, bytes);
    (tmp, path)
}

/// `homeseason ingest --lake <lake> <flags…> <files…>`, required to succeed: its stdout.
pub(crate) fn ingest(lake: impl AsRef<Path>, flags: &[&str], files: &[&Path]) -> String {
    let args = ingest_args(lake.as_ref(), flags, files);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `homeseason ingest --lake <lake> <flags…> <files…>`, whatever its outcome.
pub(crate) fn try_ingest(lake: impl AsRef<Path>, flags: &[&str], files: &[&Path]) -> Output {
    let args = ingest_args(lake.as_ref(), flags, files);
    homeseason(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `homeseason ingest --json <flags…>` of `files` into `lake`: one result per file.
pub(crate) fn ingest_reports(
    lake: &Path,
    flags: &[&str],
    files: &[impl AsRef<Path>],
) -> Vec<serde_json::Value> {
    let files: Vec<&Path> = files.iter().map(AsRef::as_ref).collect();
    match serde_json::from_str(&ingest(lake, &[&["--json"], flags].concat(), &files)) {
        Ok(serde_json::Value::Array(results)) => results,
        other => panic!("ingest --json prints a list of results: {other:?}"),
    }
}

/// A path as text (the tests' paths are UTF-8).
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The lake's manifest.
pub(crate) fn manifest(lake: &Path) -> serde_json::Value {
    read_json(&lake.join("_manifest.json"))
}

/// A valid unified social credit code from its first 17 characters.
pub(crate) fn valid_uscc(first17: &str) -> String {
    let check = homeseason_schema::uscc::check_char(first17).expect("valid alphabet");
    format!("{first17}{check}")
}

/// `homeseason ingest --json` of `files` into `lake`: the parsed reports.
pub(crate) fn ingest_json(lake: &Path, files: &[&Path]) -> serde_json::Value {
    serde_json::from_str(&ingest(lake, &["--json"], files)).expect("ingest --json prints JSON")
}

fn ingest_args(lake: &Path, flags: &[&str], files: &[&Path]) -> Vec<String> {
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let mut args = vec!["ingest".to_owned(), "--lake".to_owned(), path(lake)];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    args.extend(files.iter().map(|f| path(f)));
    args
}

/// Run and require failure, returning stderr.
pub(crate) fn fails(args: &[&str]) -> String {
    let out = homeseason(args);
    assert!(
        !out.status.success(),
        "homeseason {args:?} succeeded\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Panics unless `text` contains every one of `needles`, naming `what` and the first one missing
/// (with the start of `text`).
pub(crate) fn assert_contains_all(text: &str, needles: &[&str], what: &str) {
    for n in needles {
        assert!(
            text.contains(n),
            "{what} lacks {n:?}:\n{}",
            text.chars().take(2000).collect::<String>()
        );
    }
}

/// Run `cmd` and require success, saying `what` failed otherwise: its stdout and its stderr.
pub(crate) fn run_ok(cmd: &mut Command, what: &str) -> (String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{what} failed:\n{stdout}{stderr}");
    (stdout, stderr)
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

/// The element of the JSON array `list` whose field `key` is `value` (panics if `list` is not an
/// array or holds none).
pub(crate) fn entry<'a>(
    list: &'a serde_json::Value,
    key: &str,
    value: &str,
) -> &'a serde_json::Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no element with {key} = {value:?} in {list}"))
}

/// The column `name` cast to `dtype` (panics if it is absent or does not cast).
fn cast_column(frame: &DataFrame, name: &str, dtype: &DataType) -> Column {
    frame
        .column(name)
        .and_then(|c| c.cast(dtype))
        .unwrap_or_else(|e| panic!("column {name} as {dtype}: {e}"))
}

/// The column `name` as text (cast to a string; a null as "").
pub(crate) fn texts(frame: &DataFrame, name: &str) -> Vec<String> {
    cast_column(frame, name, &DataType::String)
        .str()
        .expect("text")
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect()
}

/// Each row's region code, category and method, as text ([`texts`]).
pub(crate) fn region_category_method(frame: &DataFrame) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        texts(frame, "region_code"),
        texts(frame, "category"),
        texts(frame, "method"),
    )
}

/// The column `name` as numbers (cast to `f64`; a null as `None`).
pub(crate) fn f64s(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    cast_column(frame, name, &DataType::Float64)
        .f64()
        .expect("f64")
        .iter()
        .collect()
}

/// Every Parquet file of the lake table `name`, concatenated (panics when there is none).
pub(crate) fn table(lake: &Path, name: &str) -> DataFrame {
    let frames: Vec<LazyFrame> = files_with_ext(&lake.join(name), "parquet")
        .iter()
        .map(|f| read_parquet(f).lazy())
        .collect();
    assert!(!frames.is_empty(), "no {name} files in {}", lake.display());
    concat(frames, UnionArgs::default())
        .expect("concat")
        .collect()
        .expect("collect")
}

/// Every row of the lake's payment cell table `table` (`payment_daily`, `payment_area_daily`): the
/// columns of its contract but the institution (a partition folder), sorted by the contract's key
/// less the institution; an empty frame when the table has no file.
pub(crate) fn payment_cells(lake: &Path, table: &str) -> DataFrame {
    let contract = homeseason_schema::contract::get(table)
        .unwrap_or_else(|| panic!("no contract for {table}"));
    let kept = |c: &&str| *c != "institution";
    let columns: Vec<Expr> = contract
        .column_names()
        .into_iter()
        .filter(kept)
        .map(col)
        .collect();
    let key: Vec<&str> = contract
        .primary_key
        .iter()
        .map(String::as_str)
        .filter(kept)
        .collect();
    let frames: Vec<LazyFrame> = files_with_ext(&lake.join(table), "parquet")
        .iter()
        .map(|f| read_parquet(f).lazy())
        .collect();
    if frames.is_empty() {
        return DataFrame::empty();
    }
    concat(frames, UnionArgs::default())
        .expect("concat")
        .select(columns)
        .sort(key, SortMultipleOptions::default())
        .collect()
        .unwrap_or_else(|e| panic!("{table}: {e}"))
}

/// The report of the file named `name` in the `--json` output `v` of `ingest` (the CLI orders the
/// files it is given by path, so reports are looked up by file name, not by argument position).
pub(crate) fn report_of<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v.as_array()
        .expect("an array of results")
        .iter()
        .find(|r| r["report"]["file"] == name)
        .map(|r| &r["report"])
        .unwrap_or_else(|| panic!("no report for {name}: {v}"))
}

/// A file report's (read, accepted, rejected, duplicates).
pub(crate) fn counts(report: &serde_json::Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| report[k].as_u64().expect("a count");
    (n("read"), n("accepted"), n("rejected"), n("duplicates"))
}

/// The report of the file named `name` in the `--json` output `v` of `ingest` ([`report_of`]),
/// checked to name `feed` and to count `want` (read, accepted, rejected, duplicates).
pub(crate) fn assert_file_report<'a>(
    v: &'a serde_json::Value,
    name: &str,
    feed: &str,
    want: (u64, u64, u64, u64),
) -> &'a serde_json::Value {
    let report = report_of(v, name);
    assert_eq!(report["feed"], feed, "{name}: {v}");
    assert_eq!(counts(report), want, "{name}: {v}");
    report
}

/// `homeseason upload` of `file` (another region's) to `url` with `token` fails, and its output
/// says REFUSED and names `region`.
pub(crate) fn assert_upload_refused(url: &str, token: &str, file: &Path, region: &str) {
    let refused = homeseason(&["upload", "--server", url, "--token", token, s(file)]);
    assert!(!refused.status.success());
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(
        stdout.contains("REFUSED") && stdout.contains(region),
        "{stdout}"
    );
}

/// A template workbook's two sheets, checked to be `数据 Data` and `填写说明 Notes` in that order:
/// the data sheet, and the notes' text (every cell, one a line).
pub(crate) fn template_sheets(book: &[u8]) -> (calamine::Range<calamine::Data>, String) {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(book)).expect("the template opens");
    assert_eq!(wb.sheet_names(), vec!["数据 Data", "填写说明 Notes"]);
    let data = wb.worksheet_range("数据 Data").expect("data sheet");
    let notes = wb.worksheet_range("填写说明 Notes").expect("notes sheet");
    let notes: Vec<String> = notes.rows().flatten().map(ToString::to_string).collect();
    (data, notes.join("\n"))
}

/// `homeseason liaison add` of `name` for `region` under the data folder `data`: the token it
/// prints.
pub(crate) fn add_liaison(data: &str, region: &str, name: &str) -> String {
    ok(&[
        "liaison", "add", "--data", data, "--region", region, "--name", name,
    ])
    .trim()
    .to_owned()
}

/// The lake's rejects, one entry a row: its line and the text of `columns` (see [`texts`]), sorted.
pub(crate) fn reject_rows(lake: &Path, columns: &[&str]) -> Vec<(i64, Vec<String>)> {
    let mut out = Vec::new();
    for f in files_with_ext(&lake.join("rejects"), "parquet") {
        let r = read_parquet(&f);
        let lines: Vec<i64> = r
            .column("line")
            .expect("line")
            .i64()
            .expect("i64 lines")
            .into_no_null_iter()
            .collect();
        let values: Vec<Vec<String>> = columns.iter().map(|c| texts(&r, c)).collect();
        for (i, line) in lines.into_iter().enumerate() {
            out.push((line, values.iter().map(|v| v[i].clone()).collect()));
        }
    }
    out.sort();
    out
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

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A child process listening on a loopback port (`homeseason serve`, a web root), killed on drop.
pub(crate) struct Served {
    child: std::process::Child,
    /// The port it listens on.
    pub(crate) port: u16,
}

impl Served {
    /// Starts `cmd`, which listens on `port`, and waits (30 s at most) until the port opens. The
    /// child also dies with the test's thread when this guard's `Drop` never runs (the test binary
    /// killed): [`homeseason_test_support::dying_with_parent`].
    pub(crate) fn start(cmd: &mut Command, port: u16) -> Served {
        let child = homeseason_test_support::dying_with_parent(cmd)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
        // Made first, so the child is killed when it never opens the port.
        let served = Served { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "port {port} did not open: {cmd:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        served
    }

    /// `homeseason serve --data DATA` with `flags` on a free loopback port.
    pub(crate) fn homeseason(data: &Path, flags: &[&str]) -> Served {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeseason"));
        cmd.arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(flags);
        Served::start(&mut cmd, port)
    }

    /// Its base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
