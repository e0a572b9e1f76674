//! What scripts read from the command: a region's own report and workbook, `--json` on `check` and
//! `score`, and a lake path that does not exist is an error (never created).

use crate::util::{demo_dir, fails, homeseason, ok};

#[test]
fn a_missing_lake_is_an_error_and_is_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("no-such-lake");
    let lake_s = lake.to_str().unwrap();
    let out_s = tmp.path().join("out");
    let truth = tmp.path().join("truth.csv");
    std::fs::write(&truth, "region_code,category,method,true_uplift_pct\n").unwrap();
    for args in [
        vec!["check", "--lake", lake_s],
        vec!["uplift", "--lake", lake_s],
        vec!["report", "--lake", lake_s, "--out", out_s.to_str().unwrap()],
        vec![
            "score",
            "--lake",
            lake_s,
            "--truth",
            truth.to_str().unwrap(),
        ],
    ] {
        let out = homeseason(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not exist") && err.contains("不存在"),
            "{args:?}: {err}"
        );
        assert!(!lake.exists(), "{args:?} created the lake");
    }
}

#[test]
fn check_and_score_speak_json_and_a_province_gets_its_own_report() {
    let demo = demo_dir();
    let lake = demo.join("lake");
    let lake_s = lake.to_str().unwrap();
    let check: serde_json::Value =
        serde_json::from_str(&ok(&["check", "--lake", lake_s, "--json"])).unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["problems"].as_array().map(Vec::len), Some(0));

    let truth = demo.join("sample/truth.csv");
    let score: serde_json::Value = serde_json::from_str(&ok(&[
        "score",
        "--lake",
        lake_s,
        "--truth",
        truth.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let rows = score.as_array().expect("one object per method");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["method"].is_string()), "{score}");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("zj");
    let region_report = |region: &'static str| {
        [
            "report",
            "--lake",
            lake_s,
            "--out",
            out.to_str().unwrap(),
            "--region",
            region,
        ]
    };
    ok(&region_report("330000"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("浙江"), "the region's report names it");
    let national = std::fs::read_to_string(demo.join("report/report.html")).unwrap();
    assert_ne!(html, national, "the region's report is its own");
    let book = std::fs::read(out.join("workbook.xlsx")).unwrap();
    let national_book = std::fs::read(demo.join("report/workbook.xlsx")).unwrap();
    assert_ne!(book, national_book);
    // By name too; an unknown region is refused.
    ok(&region_report("浙江"));
    fails(&region_report("990000"));
}

/// A weekly report on a lake that holds payments but no estimate says to run `uplift` first,
/// before estimating the week (whose result it could not use: the report's other sections read
/// what `uplift` writes), for the province report and a region's city report alike.
#[test]
fn a_weekly_report_before_any_estimate_says_to_run_uplift() {
    let demo = demo_dir();
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let payments = demo.join("sample/payments");
    ok(&["ingest", "--lake", lake_s, payments.to_str().unwrap()]);
    let out = tmp.path().join("report");
    let out_s = out.to_str().unwrap();
    let week = ["--as-of", "2023-10-15"];
    for extra in [&[][..], &["--level", "city", "--region", "330000"][..]] {
        let mut args = vec!["report", "--lake", lake_s, "--out", out_s];
        args.extend_from_slice(&week);
        args.extend_from_slice(extra);
        let err = fails(&args);
        assert!(
            err.contains("no uplift table in the lake: run `homeseason uplift` first")
                && err.contains("湖中没有 uplift 表"),
            "{args:?}: {err}"
        );
        assert!(
            !lake.join("_cache").exists(),
            "{args:?}: nothing was estimated, nothing cached"
        );
    }
}
