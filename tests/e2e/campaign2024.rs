//! A second campaign (issue 18, part 6): the 2024 trade-in season runs end to end from its
//! configuration alone (demo → report → workbook), is selectable by year and id, and the code holds
//! no constant of the 2023 season outside the 2023 campaign file and the allow-list below.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use calamine::Reader;
use homeseason_schema::campaign::{Campaign, TRADE_IN_TOML};
use polars::prelude::*;

use crate::util::{homeseason, ok, read_json, read_parquet, texts};

/// Regions of the small 2024 run: a province, its plan city, another province and the smallest
/// region (a few regions keep the test's runtime modest; the full list is the campaign's `all`).
const REGIONS: &str = r#"include = ["330000", "330200", "440000", "XPCC"]"#;

/// The 2024 campaign file with fewer regions, and the demo's output folder (run once).
fn demo_2024() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("e2e-campaign2024-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let text = TRADE_IN_TOML.replace("include = \"all\"", REGIONS);
        assert_ne!(text, TRADE_IN_TOML, "the region list was replaced");
        let file = dir.join("campaign-2024-small.toml");
        std::fs::write(&file, text).expect("campaign file");
        let out = dir.join("out");
        let stdout = ok(&[
            "--campaign",
            file.to_str().expect("utf-8"),
            "demo",
            "--out",
            out.to_str().expect("utf-8"),
            "--scale",
            "0.05",
        ]);
        std::fs::write(dir.join("demo-stdout.txt"), stdout).expect("stdout");
        (file, out)
    })
}

fn trade_in() -> Campaign {
    Campaign::embedded("2024")
        .expect("embedded 2024 campaign")
        .0
}

#[test]
fn the_2024_season_runs_end_to_end_demo_report_workbook() {
    let (_, out) = demo_2024();
    let c = trade_in();
    let stdout =
        std::fs::read_to_string(out.parent().unwrap().join("demo-stdout.txt")).expect("stdout");
    assert!(
        stdout.contains("增量销售额 incremental sales") && stdout.contains("亿元"),
        "{stdout}"
    );

    // The sample season is the campaign's: its id in the truth, its history 2022–2024 only.
    let truth = std::fs::read_to_string(out.join("sample/truth.csv")).expect("truth");
    let rows: Vec<&str> = truth.lines().skip(1).collect();
    assert!(
        rows.len() >= 4 * 4,
        "4 regions × 4 targeted categories: {truth}"
    );
    assert!(
        rows.iter().all(|r| r.starts_with("2024-trade-in,")),
        "{truth}"
    );
    let acq = out.join("sample/payments/acq_a");
    for (name, present) in [
        ("payment_daily_acq_a_2022-01.csv", true),
        ("payment_daily_acq_a_2024-12.csv", true),
        ("payment_daily_acq_a_2021-12.csv", false),
        ("payment_daily_acq_a_2025-01.csv", false),
    ] {
        assert_eq!(acq.join(name).is_file(), present, "{name}");
    }
    let activities = std::fs::read_to_string(out.join("sample/activities/activities_330000.csv"))
        .expect("activities");
    assert!(activities.contains("以旧换新"), "{activities}");
    assert!(!activities.contains("家居焕新"), "{activities}");

    // The uplift table's campaign window is 2024's, for every method.
    let uplift = read_parquet(&out.join("lake/uplift/data.parquet"));
    let campaign_rows = uplift
        .lazy()
        .filter(col("window_kind").eq(lit("campaign")))
        .collect()
        .expect("filter");
    assert!(campaign_rows.height() > 0);
    for (column, day) in [
        ("window_start", c.window.start),
        ("window_end", c.window.end),
    ] {
        let dates = texts(&campaign_rows, column);
        assert!(
            dates.iter().all(|d| *d == day.to_string()),
            "{column}: {dates:?}"
        );
    }
    let ids = texts(&campaign_rows, "campaign_id");
    assert!(ids.iter().all(|i| i == "2024-trade-in"), "{ids:?}");
    // Every method estimates the 2024 window (masking too much history silences the regression).
    let methods: std::collections::BTreeSet<String> =
        texts(&campaign_rows, "method").into_iter().collect();
    for m in ["prior_year", "two_year", "counterfactual_regression"] {
        assert!(methods.contains(m), "{m} missing: {methods:?}");
    }

    // The report names the 2024 campaign and its window, and carries the headline figures.
    let html = std::fs::read_to_string(out.join("report/report.html")).expect("report");
    for needle in [
        c.name_zh.as_str(),
        c.name_en.as_str(),
        "2024-09-01",
        "2024-12-31",
        "核心指标 Headline",
        "方法与说明 Method",
        "上一届消费季",
    ] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
    assert!(
        !html.contains("家居焕新消费季"),
        "the 2023 name in the 2024 report"
    );
    let headline = read_json(&out.join("report/headline.json"));
    for key in ["incremental_yuan", "uplift_pct", "method", "regions_up"] {
        let v = headline
            .get(key)
            .or_else(|| headline.get("headline").and_then(|h| h.get(key)));
        assert!(v.is_some(), "headline.json lacks {key}: {headline}");
    }

    // The workbook's summary sheet is titled with the 2024 campaign and states its window.
    let book = std::fs::read(out.join("report/workbook.xlsx")).expect("workbook");
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(book)).expect("xlsx");
    let first = wb.sheet_names()[0].clone();
    let sheet = wb.worksheet_range(&first).expect("summary sheet");
    let cells: Vec<String> = sheet.rows().flatten().map(ToString::to_string).collect();
    assert!(cells[0].starts_with(&c.name_zh), "{:?}", &cells[..3]);
    assert!(
        cells
            .iter()
            .any(|t| t.contains("2024-09-01") && t.contains("2024-12-31")),
        "no window in the summary sheet"
    );
}

#[test]
fn the_2024_campaign_is_selectable_by_year_and_id() {
    assert_eq!(ok(&["--campaign", "2024", "campaign"]), TRADE_IN_TOML);
    assert_eq!(
        ok(&["--campaign", "2024-trade-in", "campaign"]),
        TRADE_IN_TOML
    );
    assert_eq!(
        ok(&["--campaign", "2023", "campaign"]),
        homeseason_schema::campaign::DEFAULT_TOML
    );
    let out = homeseason(&["--campaign", "2019", "campaign"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2024-trade-in") && err.contains("内置") && err.contains("embedded"),
        "{err}"
    );
    // A file wins over an id: the small file of the demo above is read as a file.
    let (file, _) = demo_2024();
    let printed = ok(&["--campaign", file.to_str().unwrap(), "campaign"]);
    assert!(printed.contains(REGIONS));
}

/// Where a 2023-specific constant may stay in code (`crates/*/src/**/*.rs`), and why. Each entry is a
/// file (relative to `crates/`) and a fragment of the allowed line; an entry whose file is the whole
/// crate folder (ends in `/`) allows every line of that crate. Comments (`//`, `///`, `//!`: doc
/// examples included) and `#[cfg(test)]` items are not scanned.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "homeseason-metrics/src/test_frames.rs",
        "",
        "a module compiled only for the crate's unit tests (`#[cfg(test)] mod test_frames;` in lib.rs): \
         its three-year test series is laid out on the 2023 campaign's data years",
    ),
    (
        "homeseason-schema/src/campaign.rs",
        "include_str!(\"../data/campaign-2023.toml\")",
        "the embedded default campaign's file name",
    ),
    (
        "homeseason-schema/src/calendar.rs",
        "(202",
        "the State Council's holiday notices: facts of the calendar every campaign's history and \
         comparison years use (2021–2024), not a campaign constant; Campaign::check refuses a \
         campaign the table does not cover",
    ),
    (
        "homeseason-synth/src/model.rs",
        "ymd(202",
        "the sample season's COVID timeline (Apr–May 2022, the Nov–Dec 2022 wave recovering in \
         Jan 2023): history any campaign's comparison years hold, not a campaign constant",
    ),
    (
        "homeseason-synth/src/model.rs",
        "), (202",
        "the sample season's regional lockdowns (Xi'an, Shenzhen, Jilin, Shanghai, 2021–2022): \
         history, not a campaign constant",
    ),
    (
        "homeseason-cli/src/main.rs",
        "国家统计局社零全国数据 2022–2024",
        "the years the bundled real NBS file covers (data/nbs_retail_by_category.csv), a fact of that \
         file",
    ),
    (
        "homeseason-metrics/src/uplift.rs",
        "pub const BOOTSTRAP_SEED: u64 = 2023;",
        "a default seed of the simulated replicates, the same for every campaign (not a year)",
    ),
    (
        "homeseason-ingest/src/enterprise.rs",
        "let formats = \"2023-09 | 2023年9月 | 2023-W37 | 2023-09-01~2023-09-30\";",
        "examples of the accepted period formats in a reject message",
    ),
    (
        "homeseason-ingest/src/subsidies.rs",
        "let formats = \"2023-W37 | 2023-09 | 2023-09-01~2023-09-03\";",
        "examples of the accepted period formats in the subsidies feed's reject message",
    ),
    (
        "homeseason-pipeline/src/template.rs",
        "2023-W37",
        "examples of the accepted period formats in the template's notes",
    ),
    (
        "homeseason-pipeline/src/template.rs",
        "如 2023-09-15",
        "an example of the date format in the template's notes",
    ),
    (
        "homeseason-cli/src/export.rs",
        "--as-of 2023-10-22",
        "an example of the export command's syntax in the notebook's closing notes",
    ),
    (
        "homeseason-ingest/src/fuzzing.rs",
        "b\"2023-",
        "fuzzing seeds: inputs of the fuzz targets, not behaviour",
    ),
    (
        "homeseason-server/src/fuzzing.rs",
        "\"2023-09-01T00:00:00Z\"",
        "fuzzing seeds: inputs of the fuzz targets, not behaviour",
    ),
    (
        "homeseason-test-support/",
        "",
        "test data the test suites share (a test crate, not the pipeline)",
    ),
];

/// Whether `needle` occurs in `line` as a word (no ASCII letter, digit or `_` either side; `2023年`
/// is a word).
fn has_word(line: &str, needle: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    line.match_indices(needle).any(|(i, _)| {
        !word(line[..i].chars().next_back()) && !word(line[i + needle.len()..].chars().next())
    })
}

/// The lines of `text` (1-based numbers) that hold a constant of the 2023 season: one of its years
/// (2023 and its comparison years 2022 and 2021) as a word (`2023`, `2022-07-01`, `(2021, 9, 1)`,
/// `2023年`), or the 2023 season's name (`家居焕新`, `Home Renewal`); comments and `#[cfg(test)]`
/// items left out.
fn constants_2023(text: &str) -> Vec<(usize, String)> {
    let mut hits = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            // Skip the item: one line ending in `;`, or a block up to its closing brace.
            let mut depth = 0i64;
            let mut opened = false;
            for (_, l) in lines.by_ref() {
                let l = l.trim_start();
                if l.starts_with("#[") || l.starts_with("//") {
                    continue;
                }
                let count = |c: char| i64::try_from(l.matches(c).count()).unwrap_or(i64::MAX);
                depth += count('{') - count('}');
                opened |= l.contains('{');
                if (opened && depth <= 0) || (!opened && l.ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        if ["2021", "2022", "2023"].iter().any(|y| has_word(line, y))
            || line.contains("家居焕新")
            || line.contains("Home Renewal")
        {
            hits.push((i + 1, line.trim().to_owned()));
        }
    }
    hits
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The scanner finds what it should and skips what it should (so the test below can fail).
#[test]
fn the_2023_constant_scanner_finds_planted_constants() {
    let code = "fn a() -> i32 { 2023 }\n\
                // 2023 in a comment\n\
                /// 家居焕新 in a doc example\n\
                const W: &str = \"2023-09-01\";\n\
                let y = 20230;\n\
                let n = \"家居焕新购物节\";\n\
                let d = ymd(2023, 9, 1);\n\
                #[cfg(test)]\n\
                mod tests {\n\
                    fn t() { let _ = \"2023-09-01\"; }\n\
                }\n\
                const E: &str = \"Home Renewal Consumption Season\";\n\
                const B: (i32, u32, u32) = (2022, 7, 1);\n\
                let h = \"2021-01-01\";\n";
    let lines: Vec<usize> = constants_2023(code).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, vec![1, 4, 6, 7, 12, 13, 14]);
    assert!(has_word("x 2023-", "2023") && !has_word("x20231", "2023"));
    assert!(has_word("\"2023年9月\"", "2023"));
}

#[test]
fn no_2023_specific_constants_outside_the_2023_campaign_file() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&crates).expect("crates").flatten() {
        let src = e.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 50, "{} files", files.len());
    let mut used = vec![false; ALLOWED.len()];
    let mut found = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&crates)
            .expect("under crates")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).expect("utf-8 source");
        for (n, line) in constants_2023(&text) {
            let allowed = ALLOWED.iter().position(|(file, fragment, _)| {
                if let Some(krate) = file.strip_suffix('/') {
                    rel.starts_with(&format!("{krate}/"))
                } else {
                    rel == *file && line.contains(fragment)
                }
            });
            match allowed {
                Some(k) => used[k] = true,
                None => found.push(format!("crates/{rel}:{n}: {line}")),
            }
        }
    }
    assert!(
        found.is_empty(),
        "2023-specific constants in code: move them into the campaign configuration \
         (crates/homeseason-schema/data/campaign-2023.toml) or derive them, or add an explained entry to \
         ALLOWED:\n{}",
        found.join("\n")
    );
    let stale: Vec<&str> = ALLOWED
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((f, frag, _), _)| if frag.is_empty() { *f } else { *frag })
        .collect();
    assert!(
        stale.is_empty(),
        "allow-list entries no longer needed: {stale:?}"
    );
}
