//! # homeseason-test-support
//!
//! What the workspace's tests repeat, written once: feed builders (an activities register in the
//! template's Chinese header, a `payment_daily` file with bad rows), file helpers (read a Parquet
//! file, list, snapshot or copy the files under a folder), a frame's column as plain values, a float
//! comparison with a tolerance ([`assert_close`]), the path of the in-repository fixtures
//! (`tests/fixtures/`), a child process that dies with its test ([`dying_with_parent`]) and the
//! browser tests' set-up ([`browser_missing`]), so that a fresh clone passes its own tests with nothing outside the
//! repository. Used only as a dev-dependency.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use polars::prelude::{Column, DataFrame, DataType, ParquetReader, SerReader};

/// The header of the activities register (重点活动表) as the template writes it.
pub const ACTIVITIES_HEADER: &str = "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站\n";

/// The header of a `payment_daily` file (aggregated daily payments).
pub const DAILY_HEADER: &str =
    "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n";

/// A `payment_daily` file of institution `test`, September 2023: one good row (line 2), four bad
/// ones — an unknown region (line 3), an amount `abc` (4), 31 September (5), a negative amount (6) —
/// and a good row (line 7).
pub const DAILY_WITH_BAD_ROWS: &str = "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n\
    2023-09-01,test,330000,5722,offline,10,1000.50,10,3\n\
    2023-09-01,test,990000,5722,offline,10,1000,0,3\n\
    2023-09-02,test,330106,5712,online,5,abc,0,2\n\
    2023-09-31,test,330000,5712,online,5,500,0,2\n\
    2023-09-02,test,330000,5712,online,5,-3,0,2\n\
    2023-09-02,test,330000,5712,online,5,300,0,2\n";

/// An activities register: `n` good rows per region (ids `<region>-2023-<tag><i>`, 12–14 Sept 2023);
/// with `bad_row`, the second data row (line 3) has an impossible start date.
#[must_use]
pub fn activities_csv(regions: &[&str], n: usize, bad_row: bool, tag: &str) -> Vec<u8> {
    let mut s = ACTIVITIES_HEADER.to_owned();
    let mut line = 0;
    for region in regions {
        for i in 1..=n {
            line += 1;
            let start = if bad_row && line == 2 {
                "2023-13-45"
            } else {
                "2023-09-12"
            };
            s.push_str(&format!(
                "{region}-2023-{tag}{i:03},{region},焕新活动{tag}{i},直播电商节,{start},2023-09-14,体育馆,商务厅,10,12,绿色,线下,否\n"
            ));
        }
    }
    s.into_bytes()
}

/// Read a whole Parquet file (panics with the path on failure).
#[must_use]
pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file)
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The non-null values of the `f64` column `name` (panics if it is absent or of another type).
#[must_use]
pub fn f64_values(df: &DataFrame, name: &str) -> Vec<f64> {
    column(df, name)
        .f64()
        .expect("an f64 column")
        .iter()
        .flatten()
        .collect()
}

/// The non-null values of the `i64` column `name` (panics if it is absent or of another type).
#[must_use]
pub fn i64_values(df: &DataFrame, name: &str) -> Vec<i64> {
    column(df, name)
        .i64()
        .expect("an i64 column")
        .iter()
        .flatten()
        .collect()
}

/// The non-null values of the string column `name` (panics if it is absent or of another type).
#[must_use]
pub fn str_values<'a>(df: &'a DataFrame, name: &str) -> Vec<&'a str> {
    column(df, name)
        .str()
        .expect("a string column")
        .iter()
        .flatten()
        .collect()
}

/// Row `i` of the string column `name` (panics if it is absent, of another type, or the cell is
/// null or out of range).
#[must_use]
pub fn str_at(df: &DataFrame, name: &str, i: usize) -> String {
    column(df, name)
        .str()
        .expect("a string column")
        .get(i)
        .unwrap_or_else(|| panic!("column {name}: no value at row {i}"))
        .to_owned()
}

/// Row `i` of the `f64` column `name`, `None` when null (panics if it is absent or of another type).
#[must_use]
pub fn f64_at(df: &DataFrame, name: &str, i: usize) -> Option<f64> {
    column(df, name).f64().expect("an f64 column").get(i)
}

/// Row `i` of the integer column `name` (any width, read as `i64`; panics if it is absent, not of
/// an integer type, or the cell is null or out of range).
#[must_use]
pub fn i64_at(df: &DataFrame, name: &str, i: usize) -> i64 {
    let c = column(df, name);
    assert!(
        c.dtype().is_integer(),
        "column {name}: {} is not an integer type",
        c.dtype()
    );
    c.cast(&DataType::Int64)
        .unwrap_or_else(|e| panic!("column {name}: {e}"))
        .i64()
        .expect("an i64 column")
        .get(i)
        .unwrap_or_else(|| panic!("column {name}: no value at row {i}"))
}

fn column<'a>(df: &'a DataFrame, name: &str) -> &'a Column {
    df.column(name)
        .unwrap_or_else(|e| panic!("column {name}: {e}"))
}

/// Every file under `dir`, recursively, sorted (an absent folder holds none). Hidden folders below
/// `dir` (`.tmp`, the lake's `.snapshots`) are skipped: a table is read through its link, as a
/// reader globbing `lake/<table>/**/*.parquet` does.
#[must_use]
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` whose name `keep` accepts, as (path relative to `dir`, bytes), sorted.
#[must_use]
pub fn files_with_bytes(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .filter(|p| keep(p))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let rel = p.strip_prefix(dir).expect("under dir").to_owned();
            (rel, bytes)
        })
        .collect()
}

/// Copy the folder `from` with everything below it to `to` (created as needed; symbolic links are
/// copied as links, so a lake's table links point into the copy's own snapshots); panics on failure.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for e in entries {
        let e = e.expect("directory entry");
        let p = e.path();
        let dest = to.join(e.file_name());
        let kind = e.file_type().expect("file type");
        if kind.is_symlink() {
            // A lake table's link to its snapshot (relative): the copy links to its own snapshot.
            let text = std::fs::read_link(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            std::os::unix::fs::symlink(text, &dest)
                .unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
        } else if kind.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

/// The file a lake partition (`payment_daily/institution=…/data.parquet`, as the manifest names it)
/// is stored in now: inside the table's current snapshot (`lake/<table>/v000042/…` through the
/// table's link), or under the root for a plain folder.
#[must_use]
pub fn lake_file(lake: &Path, rel: &str) -> PathBuf {
    let Some((table, rest)) = rel.split_once('/') else {
        return lake.join(rel);
    };
    let base = lake.join(table);
    let inner = std::fs::read_dir(&base).ok().and_then(|entries| {
        entries.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with('v')
                && name[1..].bytes().all(|b| b.is_ascii_digit())
                && name.len() > 1)
                .then_some(name)
        })
    });
    match inner {
        Some(v) => base.join(v).join(rest),
        None => lake.join(rel),
    }
}

/// A lake file's path relative to the lake, without the snapshot folder (`v000042`): the
/// partition's relative path as the manifest names it.
#[must_use]
pub fn lake_rel(lake: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(lake).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|seg| {
            !(seg.len() > 1 && seg.starts_with('v') && seg[1..].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `dir` with the extension `ext` (no dot), sorted.
#[must_use]
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect()
}

/// Institution values that must never become a path: `..`, a `/` traversal aimed at another
/// table's partition, `\`, an absolute path, a NUL, URL-encoded `../`, a full-width solidus, and a
/// 33-character code (one over the limit).
#[must_use]
pub fn traversal_forms() -> Vec<String> {
    vec![
        "..".to_owned(),
        "x/../../activities/region_code=110000".to_owned(),
        "..\\..\\x".to_owned(),
        "/etc/passwd".to_owned(),
        "a\u{0}b".to_owned(),
        "%2e%2e%2f".to_owned(),
        "x\u{FF0F}..\u{FF0F}y".to_owned(),
        "a".repeat(33),
    ]
}

/// A `payment_transactions` CSV: one row per traversal form as the institution (first, so no bad
/// value is taken for the file's institution), then `good` rows of `institution`, all in
/// `region` (a county code) in September 2023.
#[must_use]
pub fn transactions_with_institutions(
    forms: &[String],
    institution: &str,
    region: &str,
    good: usize,
) -> Vec<u8> {
    let mut s = String::from(
        "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n",
    );
    for (i, v) in forms.iter().enumerate() {
        s.push_str(&format!(
            "B{i},\"{v}\",2023-09-01 10:00:00,M1,5411,{region},10.00,sale,offline\n"
        ));
    }
    for i in 0..good {
        s.push_str(&format!(
            "G{i},{institution},2023-09-0{} 10:00:00,M{i},5411,{region},{}.00,sale,offline\n",
            1 + i % 9,
            10 + i
        ));
    }
    s.into_bytes()
}

/// Panics unless every entry under `dir` has a plain name: no `..`, backslash, NUL, `%` or
/// full-width solidus, and every `institution=` value an institution code (`[a-z0-9_]{1,32}`).
pub fn assert_tree_is_clean(dir: &Path) {
    for f in files_under(dir) {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        for c in rel.components() {
            let c = c.as_os_str().to_string_lossy();
            assert!(
                !c.contains(['\\', '\u{0}', '%', '\u{FF0F}']) && c != "..",
                "{}",
                rel.display()
            );
            if let Some(v) = c.strip_prefix("institution=") {
                assert!(
                    (1..=32).contains(&v.len())
                        && v.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{}",
                    rel.display()
                );
            }
        }
    }
}

/// Panics unless `actual` lies strictly within `tol` of `expected` (a NaN never does); the message
/// names `what` and gives both values and the tolerance.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() < tol,
        "{what}: {actual} is not within {tol} of {expected}"
    );
}

/// The repository's `tests/fixtures` folder (peers' published example data with their licences,
/// hand-written payment files).
#[must_use]
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The differencing attack on suppressed cells: how many of the `hidden` cells (row numbers) an
/// attacker recovers exactly from published figures. Each group of `groups` is one published
/// figure, as the cells it sums: its value minus its visible cells is the sum of its hidden cells.
/// A hidden cell is recovered when its unit vector lies in the row space of those sums — any
/// sequence of additions and subtractions of published figures and visible cells is such a
/// combination (Gauss–Jordan elimination). Returns the recovered cells, in the order of `hidden`.
/// Independent of the suppression code it attacks, so that it can fail.
#[must_use]
pub fn recoverable(hidden: &[usize], groups: &[Vec<usize>]) -> Vec<usize> {
    let forms: Vec<Vec<(usize, f64)>> = groups
        .iter()
        .map(|g| g.iter().map(|&c| (c, 1.0)).collect())
        .collect();
    recoverable_weighted(hidden, &forms)
}

/// [`recoverable`] for published figures that weigh their cells: each form of `forms` is one
/// published figure as `(cell, weight)` pairs (a baseline summed over a window weighs each
/// earlier-year reference day by how many of the window's days it stands for; a synthetic
/// control weighs its donors). A cell listed twice counts with the sum of its weights.
#[must_use]
pub fn recoverable_weighted(hidden: &[usize], forms: &[Vec<(usize, f64)>]) -> Vec<usize> {
    let column: std::collections::HashMap<usize, usize> =
        hidden.iter().enumerate().map(|(c, &r)| (r, c)).collect();
    let mut pivots: Vec<(usize, Vec<f64>)> = Vec::new();
    for g in forms {
        let mut row = vec![0.0; hidden.len()];
        for (cell, w) in g {
            if let Some(&c) = column.get(cell) {
                row[c] += w;
            }
        }
        for (p, prow) in &pivots {
            let f = row[*p];
            if f != 0.0 {
                row.iter_mut().zip(prow).for_each(|(a, b)| *a -= f * b);
            }
        }
        let Some(p) = row.iter().position(|v| v.abs() > 1e-9) else {
            continue;
        };
        let f = row[p];
        for v in &mut row {
            *v /= f;
        }
        for (_, prow) in &mut pivots {
            let g = prow[p];
            if g != 0.0 {
                prow.iter_mut().zip(&row).for_each(|(a, b)| *a -= g * b);
            }
        }
        pivots.push((p, row));
    }
    (0..hidden.len())
        .filter(|&i| {
            let mut v = vec![0.0; hidden.len()];
            v[i] = 1.0;
            for (p, prow) in &pivots {
                let f = v[*p];
                if f != 0.0 {
                    v.iter_mut().zip(prow).for_each(|(a, b)| *a -= f * b);
                }
            }
            v.iter().all(|x| x.abs() < 1e-9)
        })
        .map(|i| hidden[i])
        .collect()
}

/// `cmd` made to die with the thread that starts it: run through util-linux's `setpriv
/// --pdeathsig KILL` (program, arguments, folder and environment carried over), so a long-lived
/// child — a `homeseason serve`, a `python3 -m http.server` — is killed by the kernel when the test
/// that started it ends in any way, a `SIGKILL` of the test binary included (a guard's `Drop` does
/// not run then; an orphaned web root once held the machine's cargo lock for 30 minutes). The
/// signal follows the starting *thread*: start the child on the thread that owns it. Where
/// `setpriv` is not installed, `cmd` is returned as it is.
#[must_use]
pub fn dying_with_parent(cmd: &Command) -> Command {
    static SETPRIV: OnceLock<bool> = OnceLock::new();
    let available = *SETPRIV.get_or_init(|| {
        Command::new("setpriv")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let mut wrapped = if available {
        let mut w = Command::new("setpriv");
        w.args(["--pdeathsig", "KILL", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        w
    } else {
        let mut w = Command::new(cmd.get_program());
        w.args(cmd.get_args());
        w
    };
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// The repository's `tests/browser` folder (playwright-core scripts driving Chromium).
#[must_use]
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// Why a browser test cannot run here (no Chromium at `$CHROMIUM` or `/usr/bin/chromium`, no
/// `node`, no playwright-core under [`browser_dir`]), or `None` when it can.
#[must_use]
pub fn browser_missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/browser/node_modules/playwright-core is missing".into());
    }
    None
}

/// A rejects frame's rows as (line, column, reason), sorted; a null column as "" (panics when a
/// column is absent or of another type, or a line or reason is null).
#[must_use]
pub fn reject_triples(df: &DataFrame) -> Vec<(i64, String, String)> {
    let line = column(df, "line").i64().expect("i64 lines").clone();
    let col = column(df, "column").str().expect("text columns").clone();
    let reason = column(df, "reason").str().expect("text reasons").clone();
    let mut v: Vec<(i64, String, String)> = (0..df.height())
        .map(|i| {
            (
                line.get(i).expect("a line"),
                col.get(i).unwrap_or("").to_owned(),
                reason.get(i).expect("a reason").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Whether the browser test `test` must be skipped here ([`browser_missing`]): it says so loudly
/// on stderr and returns `true`; panics instead when `HOMESEASON_BROWSER_TEST=require` (as
/// `tests/run.sh` sets it after `tests/browser/install.sh`), where a missing browser is a failure.
#[must_use]
#[expect(
    clippy::print_stderr,
    reason = "a skipped browser test must say so loudly"
)]
pub fn skip_browser_test(test: &str) -> bool {
    let Some(why) = browser_missing() else {
        return false;
    };
    let required = std::env::var("HOMESEASON_BROWSER_TEST").is_ok_and(|v| v == "require");
    assert!(
        !required,
        "browser test required but {why}: run tests/browser/install.sh"
    );
    let rule = "#".repeat(70);
    eprintln!(
        "\n{rule}\n### SKIPPED: browser test ({test})\n### {why}\n\
         ### install with: bash tests/browser/install.sh (tests/run.sh does it)\n{rule}\n"
    );
    true
}

/// The whole number in the environment variable `name` (a test's size knob, such as
/// `HOMESEASON_FUZZ_SMOKE_ITERS`), or `default` when it is unset or not a number.
#[must_use]
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activities_rows_and_the_bad_line() {
        let text = String::from_utf8(activities_csv(&["330000", "110000"], 2, true, "x")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[2].contains("2023-13-45"), "{}", lines[2]);
        assert!(lines[4].starts_with("110000-2023-x002,110000,"));
    }

    #[test]
    fn assert_close_accepts_within_and_rejects_outside_and_nan() {
        assert_close(1.0005, 1.0, 1e-3, "near");
        for (actual, expected) in [(1.002, 1.0), (0.998, 1.0), (f64::NAN, 1.0), (1.0011, 1.0)] {
            let caught = std::panic::catch_unwind(|| assert_close(actual, expected, 1e-3, "far"));
            assert!(caught.is_err(), "{actual} vs {expected} should fail");
        }
    }

    #[test]
    fn a_copied_folder_has_the_same_files_and_bytes() {
        let root = std::env::temp_dir().join(format!("hs-test-support-{}", std::process::id()));
        let (from, to) = (root.join("from"), root.join("to"));
        std::fs::create_dir_all(from.join("a/b")).unwrap();
        std::fs::write(from.join("top.txt"), b"top").unwrap();
        std::fs::write(from.join("a/b/deep.bin"), [0_u8, 1, 2]).unwrap();
        copy_dir(&from, &to);
        let copied = files_with_bytes(&to, |_| true);
        assert_eq!(copied, files_with_bytes(&from, |_| true));
        assert_eq!(
            copied,
            vec![
                (PathBuf::from("a/b/deep.bin"), vec![0, 1, 2]),
                (PathBuf::from("top.txt"), b"top".to_vec()),
            ]
        );
        let only_txt = files_with_bytes(&to, |p| p.extension().is_some_and(|x| x == "txt"));
        assert_eq!(only_txt.len(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_attack_recovers_what_the_sums_give_and_nothing_else() {
        // Cells 0..4 hidden. Figures: {0,1,5}, {0,1,2}, {2,3}: 2 = second − first + 5 (visible),
        // then 3 = third − 2; 0 and 1 stay a pair.
        let groups = vec![vec![0, 1, 5], vec![0, 1, 2], vec![2, 3]];
        assert_eq!(recoverable(&[0, 1, 2, 3], &groups), vec![2, 3]);
        assert!(recoverable(&[0, 1], &groups[..1]).is_empty());
        assert_eq!(recoverable(&[4], &[vec![4, 6]]), vec![4]);
    }

    #[test]
    fn the_fixtures_folder_is_in_the_repository() {
        assert!(fixtures_dir().join("payments").is_dir());
    }
}
