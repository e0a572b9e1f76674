//! # homeseason-test-support
//!
//! What the workspace's tests repeat, written once: feed builders (an activities register in the
//! template's Chinese header), file helpers (read a Parquet file, list the files under a folder) and
//! the path of the in-repository fixtures (`tests/fixtures/`), so that a fresh clone passes its own
//! tests with nothing outside the repository. Used only as a dev-dependency.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, ParquetReader, SerReader};

/// The header of the activities register (重点活动表) as the template writes it.
pub const ACTIVITIES_HEADER: &str = "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站\n";

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

/// The repository's `tests/fixtures` folder (peers' published example data with their licences,
/// hand-written payment files).
#[must_use]
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
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
    fn the_fixtures_folder_is_in_the_repository() {
        assert!(fixtures_dir().join("payments").is_dir());
    }
}
