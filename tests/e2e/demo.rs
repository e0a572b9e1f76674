//! `homeseason demo` end to end: outputs exist, match their contracts, and the estimate is near the
//! injected truth.

use polars::prelude::*;

use crate::util::{
    assert_contains_all, demo_dir, files_with_ext, ok, read_csv, read_json, read_parquet,
};

#[test]
fn demo_writes_lake_tables_charts_and_report() {
    let out = demo_dir();
    for rel in [
        "lake/_manifest.json",
        "lake/uplift/data.parquet",
        "lake/baseline_daily/data.parquet",
        "report/report.html",
        "report/report.md",
        "report/headline.json",
        "sample/truth.csv",
    ] {
        assert!(out.join(rel).is_file(), "{rel} missing");
    }
    let charts = out.join("report/charts");
    let pngs = files_with_ext(&charts, "png");
    let svgs = files_with_ext(&charts, "svg");
    assert!(pngs.len() >= 4, "{pngs:?}");
    assert_eq!(pngs.len(), svgs.len());
    for p in &pngs {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{}", p.display());
    }
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "charts are inlined"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network needed to open the report"
    );
    assert_contains_all(
        &html,
        &[
            "核心指标 Headline",
            "分品类 By category",
            "分地区 By region",
            "方法与说明 Method",
        ],
        "report",
    );
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    assert!(md.contains("![") && md.contains("charts/uplift_by_region.png"));
    let stdout = std::fs::read_to_string(out.parent().unwrap().join("demo-stdout.txt")).unwrap();
    assert!(
        stdout.contains("report.html") && stdout.contains("亿元") && stdout.contains("uplift"),
        "{stdout}"
    );
}

#[test]
fn every_lake_parquet_file_matches_its_contract() {
    let out = demo_dir();
    let lake = out.join("lake");
    assert!(ok(&["check", "--lake", lake.to_str().unwrap()]).contains("every table matches"));
    let files = files_with_ext(&lake, "parquet");
    assert!(
        files.len() > 50,
        "payments are partitioned by institution and month: {}",
        files.len()
    );
    // Independently of `check`: every file's columns belong to the contract of its table directory.
    for f in &files {
        let rel = f.strip_prefix(&lake).unwrap();
        let table = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let contract = homeseason_schema::contract::get(table)
            .unwrap_or_else(|| panic!("{table} has a contract"));
        let frame = read_parquet(f);
        assert!(frame.height() > 0, "{} is empty", f.display());
        for name in frame.get_column_names() {
            assert!(
                contract.field(name.as_str()).is_some(),
                "{}: {name} not in contract",
                f.display()
            );
        }
    }
}

#[test]
fn uplift_covers_every_region_and_category_and_is_near_the_truth() {
    let out = demo_dir();
    let uplift = read_parquet(&out.join("lake/uplift/data.parquet"));
    let truth = read_csv(&out.join("sample/truth.csv"));
    assert_eq!(truth.height(), 37 * 4);
    for method in ["prior_year", "two_year"] {
        let rows = uplift
            .clone()
            .lazy()
            .filter(col("method").eq(lit(method)))
            .filter(col("window_kind").eq(lit("campaign")))
            .filter(col("region_code").neq(lit("000000")))
            .filter(col("category").neq(lit("all_targeted")))
            .collect()
            .unwrap();
        assert_eq!(
            rows.height(),
            148,
            "{method}: every region × targeted category"
        );
        let lower = rows.column("lower_pct").unwrap().f64().unwrap();
        let upper = rows.column("upper_pct").unwrap().f64().unwrap();
        let pct = rows.column("uplift_pct").unwrap().f64().unwrap();
        for i in 0..rows.height() {
            let (l, p, u) = (
                lower.get(i).unwrap(),
                pct.get(i).unwrap(),
                upper.get(i).unwrap(),
            );
            assert!(l <= p && p <= u, "{method} row {i}: {l} ≤ {p} ≤ {u}");
        }
    }
    let scores = homeseason_metrics::score::score(&uplift, &truth).unwrap();
    eprintln!("{scores}");
    let get = |method: &str, col_name: &str| -> f64 {
        let m = scores.column("method").unwrap().str().unwrap();
        let i = (0..scores.height())
            .find(|&i| m.get(i) == Some(method))
            .unwrap();
        scores
            .column(col_name)
            .unwrap()
            .f64()
            .unwrap()
            .get(i)
            .unwrap()
    };
    let below = |method: &str, metric: &str, max: f64| {
        let v = get(method, metric);
        assert!(v < max, "{method} {metric} {v} (should be below {max})");
    };
    let above = |method: &str, metric: &str, min: f64| {
        let v = get(method, metric);
        assert!(v > min, "{method} {metric} {v} (should be above {min})");
    };
    // Two years back is an undistorted base: it must sit near the truth. What is left (≈2–3 pp per
    // cell) is the local economy drifting between the pre-period and the window, which a history-only
    // baseline cannot see; the intervals must admit most of it.
    below("two_year", "mae_pp", 3.5);
    let bias = get("two_year", "bias_pp");
    assert!(bias.abs() < 1.5, "two_year bias {bias}");
    above("two_year", "coverage", 0.6);
    // The prior year's window is the depressed late 2022: that base overstates the uplift, and the
    // scoring must show it (this is why the report puts the two-year base beside it).
    above("prior_year", "bias_pp", 3.0);
    // The counterfactual regression: the most accurate method on this season (see benchmarks/SCORES.md).
    below("counterfactual_regression", "mae_pp", 2.5);
    above("counterfactual_regression", "coverage", 0.8);
}

/// Same input and seed → byte-identical output: re-estimating a copy of the demo lake rewrites every
/// output table with exactly the bytes the demo wrote.
/// Issue 14: on the sample season, `primary_method = "auto"` backtests every method on windows with
/// no campaign, picks one by the documented rule, and the report and its headline name it.
#[test]
fn auto_picks_the_headline_method_by_backtest_and_the_report_names_it() {
    use homeseason_metrics::backtest::{COVERAGE_TOLERANCE, MIN_CELLS};
    let out = demo_dir();
    let bt = read_parquet(&out.join("lake/uplift_backtest/data.parquet"));
    assert_eq!(bt.height(), 3, "one row per method");
    let methods: Vec<String> = bt
        .column("method")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|m| m.unwrap().to_owned())
        .collect();
    let selected: Vec<bool> = bt
        .column("selected")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v == Some(true))
        .collect();
    assert_eq!(
        selected.iter().filter(|s| **s).count(),
        1,
        "one headline method"
    );
    let chosen = &methods[selected.iter().position(|s| *s).unwrap()];
    let num = |c: &str| -> Vec<f64> {
        bt.column(c)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    };
    let (cov, mae) = (num("calibrated_coverage"), num("mae_pp"));
    let cells: Vec<i64> = bt
        .column("cells")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    for (i, m) in methods.iter().enumerate() {
        assert!(
            cells[i] >= MIN_CELLS as i64,
            "{m} was backtested on the sample season: cells {} coverage {:.3} MAE {:.2} pp",
            cells[i],
            cov[i],
            mae[i]
        );
    }
    // The rule: among the methods whose calibrated interval covers zero in 85–95 % of backtest cells,
    // the lowest MAE.
    let k = selected.iter().position(|s| *s).unwrap();
    assert!(
        (cov[k] - 0.9).abs() <= COVERAGE_TOLERANCE + 1e-12,
        "{chosen} is calibrated"
    );
    for i in 0..methods.len() {
        if (cov[i] - 0.9).abs() <= COVERAGE_TOLERANCE {
            assert!(
                mae[k] <= mae[i],
                "{chosen} has the lowest MAE of the calibrated"
            );
        }
    }
    // The prior-year base (2022 distorted) is never the choice on the sample season.
    assert_ne!(chosen, "prior_year");
    let headline: serde_json::Value = read_json(&out.join("report/headline.json"));
    assert_eq!(headline["method"], chosen.as_str(), "the headline uses it");
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    let line = md
        .lines()
        .find(|l| l.starts_with("标题方法 Headline method:"))
        .expect("the report says which method heads it");
    assert!(
        line.contains(chosen.as_str()) && line.contains("chosen by the backtest"),
        "{line}"
    );
    // The uplift table carries the diagnostics of every row.
    let uplift = read_parquet(&out.join("lake/uplift/data.parquet"));
    for c in [
        "backtest_error_pp",
        "distinguishable",
        "calibrated_lower_pct",
        "calibrated_upper_pct",
    ] {
        assert_eq!(uplift.column(c).unwrap().null_count(), 0, "{c} filled");
    }
}

/// `uplift`'s arguments on `lake` with the demo's seed, then `extra`.
fn uplift_args<'a>(lake: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["uplift", "--lake", lake, "--seed", "2023"];
    args.extend_from_slice(extra);
    args
}

/// Every fit computed again (`--no-fit-cache`) gives the demo's tables to the byte, and on one
/// core (`taskset -c 0`: one worker for the cells, one thread in polars' pool) as on all of them
/// (the demo's run); so does every fit taken from the lake's cache of regression fits, which the
/// demo's own estimate wrote (and which that run writes again, to the byte); a damaged cache is
/// ignored whole, and said so.
#[test]
fn estimates_are_byte_identical_for_the_same_input_and_seed() {
    let out = demo_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let copy = tmp.path().join("lake");
    homeseason_test_support::copy_dir(&out.join("lake"), &copy);
    let lake_s = copy.to_str().expect("utf-8");
    let cache = copy.join("_cache/regression-fits-province.bin");
    let demo_cache = std::fs::read(&cache).expect("the demo's estimate wrote the cache of fits");
    let stderr_of = |args: &[&str], run: std::process::Output| {
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "{args:?}: {stderr}");
        stderr
    };
    let uplift = |extra: &[&str]| {
        let args = uplift_args(lake_s, extra);
        stderr_of(&args, crate::util::homeseason(&args))
    };
    let one_core = uplift_args(lake_s, &["--no-fit-cache"]);
    let run = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_homeseason")])
        .args(&one_core)
        .output()
        .expect("taskset (util-linux) runs");
    let said = stderr_of(&one_core, run);
    assert!(!said.contains("regression fits"), "{said}");
    let same_cache = |what: &str| {
        let now = std::fs::read(&cache).expect("cache");
        assert!(
            now == demo_cache,
            "{what}: the cache is {} bytes, the demo's {}",
            now.len(),
            demo_cache.len()
        );
    };
    same_cache("left alone");
    assert_same_tables(out, &copy);
    let said = uplift(&[]);
    let computed = said
        .lines()
        .find_map(|l| l.strip_prefix("regression fits: "))
        .unwrap_or_else(|| panic!("the cache is reported: {said}"));
    assert!(computed.contains(" remembered, 0 computed"), "{said}");
    assert!(!computed.starts_with("0 "), "{said}");
    assert_same_tables(out, &copy);
    same_cache("the same fits, and the slices their searches found");
    // A damaged cache: ignored, said so, the tables as they were (history methods only: no fit).
    let mut damaged = demo_cache.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    std::fs::write(&cache, &damaged).expect("damage");
    let said = uplift(&["--methods", "prior_year,two_year"]);
    assert!(
        said.contains("0 remembered, 0 computed")
            && said.contains("ignored: not a whole memo file"),
        "{said}"
    );
}

/// A weekly report (`report --as-of` a week inside the window) estimates the window so far and
/// keeps its regression fits in a cache file of its own (beside the whole window's, which it
/// leaves alone); run again (a late file, the notebook of the same week) it gives the same
/// numbers, to the byte, and rewrites that file as it was. Each run says on stderr, as `uplift`
/// does, what it took from the caches: the first computes some fits and reads the whole
/// window's file, the second computes none.
#[test]
fn a_weekly_report_run_again_keeps_its_numbers_and_its_cache() {
    let out = demo_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let copy = tmp.path().join("lake");
    homeseason_test_support::copy_dir(&out.join("lake"), &copy);
    let week_cache = copy.join("_cache/regression-fits-province-week.bin");
    let window_cache = copy.join("_cache/regression-fits-province.bin");
    let window_before = std::fs::read(&window_cache).expect("the demo's cache");
    let _ = std::fs::remove_file(&week_cache);
    let report = |dir: &str| {
        let at = tmp.path().join(dir);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_homeseason"))
            .args([
                "report",
                "--lake",
                copy.to_str().expect("utf-8"),
                "--out",
                at.to_str().expect("utf-8"),
                "--as-of",
                "2023-10-15",
            ])
            .output()
            .expect("the homeseason binary runs");
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "report failed: {stderr}");
        let numbers = ["headline.json", "series.json"]
            .map(|f| std::fs::read(at.join(f)).unwrap_or_else(|e| panic!("{dir}/{f}: {e}")));
        let cache = std::fs::read(&week_cache).expect("the week's estimate wrote its cache");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("regression fits: "))
            .unwrap_or_else(|| panic!("{dir}: no fit-cache line on stderr: {stderr}"))
            .to_owned();
        (numbers, cache, line)
    };
    let (cold, cache, cold_line) = report("cold");
    assert!(
        !cold_line.contains(" 0 computed")
            && cold_line.contains("_cache/regression-fits-province-week.bin")
            && cold_line.contains("also read _cache/regression-fits-province.bin"),
        "the first run computes fits and reads the whole window's: {cold_line}"
    );
    let (memo, _) = homeseason_metrics::FitMemo::from_bytes(&cache);
    assert!(
        memo.counts().known > 100,
        "the week's fits are remembered: {:?}",
        memo.counts()
    );
    let (again, cache_again, again_line) = report("again");
    assert!(
        again_line.contains(" 0 computed"),
        "the second run takes every fit from its own file: {again_line}"
    );
    assert!(cold == again, "the same headline and series, to the byte");
    assert!(
        cache == cache_again,
        "the same fits used again: the cache is rewritten as it was"
    );
    assert!(
        std::fs::read(&window_cache).expect("cache") == window_before,
        "the whole window's cache is left alone"
    );
}

/// The first weekly report of a week, on a lake `uplift` has estimated, takes that estimate's fits
/// where they are the week's own (the placebo window's; the campaign window's slice search on the
/// same pre-period) and gives the numbers of an estimate that finds no cache at all, to the bit;
/// the whole window's cache is read, not written.
#[test]
fn the_first_weekly_report_takes_the_whole_windows_fits_and_the_same_numbers() {
    let out = demo_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let campaign = homeseason_schema::campaign::Campaign::default_2023();
    let week = chrono::NaiveDate::from_ymd_opt(2023, 10, 15).expect("date");
    let estimate = |name: &str, keep_window_cache: bool| {
        let copy = tmp.path().join(name);
        homeseason_test_support::copy_dir(&out.join("lake"), &copy);
        let _ = std::fs::remove_file(copy.join("_cache/regression-fits-province-week.bin"));
        if !keep_window_cache {
            let _ = std::fs::remove_dir_all(copy.join("_cache"));
        }
        let window_cache = std::fs::read(copy.join("_cache/regression-fits-province.bin")).ok();
        let lake = homeseason_lake::Lake::open(&copy).expect("lake");
        let (uplift, daily, cache) =
            homeseason_pipeline::outputs::week_estimates_cached(&lake, &campaign, week)
                .expect("the week's estimate");
        assert!(
            std::fs::read(copy.join("_cache/regression-fits-province.bin")).ok() == window_cache,
            "{name}: the whole window's cache is left as it was"
        );
        let cache = cache.expect("a week inside the window uses the cache");
        let consulted = keep_window_cache.then(|| "regression-fits-province.bin".to_owned());
        assert_eq!(
            cache.consulted,
            Vec::from_iter(consulted),
            "{name}: the whole window's file is named when it gave fits"
        );
        (uplift, daily, cache.counts)
    };
    let (cold_uplift, cold_daily, cold) = estimate("no-cache", false);
    assert_eq!(cold.hits, 0, "{cold:?}");
    let (uplift, daily, first) = estimate("after-uplift", true);
    assert!(
        first.hits > 0 && first.misses < cold.misses,
        "the whole window's fits are used: {first:?} against {cold:?}"
    );
    assert_eq!(first.hits + first.misses, cold.misses, "the same fits");
    assert!(uplift.equals_missing(&cold_uplift), "the same uplift table");
    assert!(daily.equals_missing(&cold_daily), "the same daily table");
}

/// The output tables of two lakes, file by file, byte for byte.
fn assert_same_tables(out: &std::path::Path, copy: &std::path::Path) {
    let tables = [
        "uplift",
        "uplift_backtest",
        "baseline_daily",
        "weekly_tracking",
        "triangulation",
        "data_completeness",
        "local_events",
        "local_event_weights",
        "local_event_series",
        "local_event_power",
    ];
    for table in tables {
        let mut a = files_under(&out.join("lake").join(table));
        let mut b = files_under(&copy.join(table));
        a.sort();
        b.sort();
        assert!(!a.is_empty(), "{table}: no files");
        assert_eq!(a.len(), b.len(), "{table}: file count");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                std::fs::read(x).expect("read"),
                std::fs::read(y).expect("read"),
                "{} differs from {}",
                x.display(),
                y.display()
            );
        }
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else if e.path().extension().is_some_and(|x| x == "parquet") {
                out.push(e.path());
            }
        }
    }
    out
}

/// Every table of the demo's lake, as a digest of its content: the restructure and every later
/// "move-and-mend" must leave the demo's outputs as they were. A deliberate change of an output
/// rewrites the record with `HOMESEASON_BLESS=1` (and the diff of `demo-tables.tsv` shows which
/// tables moved).
#[test]
fn demo_tables_equal_their_recorded_digests() {
    let lake = demo_dir().join("lake");
    let mut tables: Vec<String> = std::fs::read_dir(&lake)
        .expect("lake")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(['.', '_']) && name != "rejects")
        .collect();
    tables.sort();
    let mut record =
        String::from("# table\tfiles\trows\tsha256 of every file's path and content as CSV\n");
    for table in &tables {
        let mut files = files_under(&lake.join(table));
        files.sort();
        let mut canonical = Vec::new();
        let mut rows = 0;
        for file in &files {
            // The partition's path as the manifest names it (without the snapshot folder, whose
            // number depends on how many commits the table has seen).
            let rel = homeseason_test_support::lake_rel(&lake, file);
            canonical.extend_from_slice(rel.as_bytes());
            canonical.push(b'\n');
            let mut frame = read_parquet(file);
            rows += frame.height();
            CsvWriter::new(&mut canonical)
                .finish(&mut frame)
                .expect("frame as CSV");
        }
        record.push_str(&format!(
            "{table}\t{}\t{rows}\t{}\n",
            files.len(),
            homeseason_ingest::sha256_hex(&canonical)
        ));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/e2e/snapshots/demo-tables.tsv");
    if std::env::var_os("HOMESEASON_BLESS").is_some() {
        std::fs::write(&path, &record).expect("bless demo-tables.tsv");
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        tables.len() >= 10,
        "the demo lake holds its tables: {tables:?}"
    );
    assert_eq!(
        recorded, record,
        "the demo's tables changed; if that is deliberate, re-record with HOMESEASON_BLESS=1 \
         cargo test --workspace --test e2e -- demo_tables"
    );
}
