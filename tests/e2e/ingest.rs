//! `homeseason ingest`: row-level accounting, rejects kept, re-ingest idempotent, replacement.

use crate::util::{
    files_with_ext, ingest, ok, read_json, read_parquet, temp_with, try_ingest, write_file,
    write_in,
};
use homeseason_test_support::{
    DAILY_HEADER, DAILY_WITH_BAD_ROWS, f64_values, i64_values, str_values,
};

#[test]
fn bad_rows_are_rejected_with_reasons_and_good_rows_kept() {
    let (tmp, file) = temp_with(
        "in/payment_daily_test_2023-09.csv",
        format!(
            "{DAILY_WITH_BAD_ROWS}2023-09-02,test,330000,5712,online,5,300,0,2\n\
             2023-09-03,test,440305,9999,offline,1,20,0,1\n"
        ),
    );
    let lake = tmp.path().join("lake");
    let stdout = ingest(&lake, &["--json"], &[&file]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let r = &v[0]["report"];
    assert_eq!(
        (
            r["read"].as_u64(),
            r["accepted"].as_u64(),
            r["rejected"].as_u64(),
            r["duplicates"].as_u64()
        ),
        (Some(8), Some(3), Some(4), Some(1)),
        "{r}"
    );
    let rejects = files_with_ext(&lake.join("rejects"), "parquet");
    assert_eq!(rejects.len(), 1);
    let rej = read_parquet(&rejects[0]);
    let reasons = str_values(&rej, "reason");
    let lines = i64_values(&rej, "line");
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert_eq!(
        reasons,
        vec!["unknown_region", "bad_number", "bad_date", "below_minimum"]
    );
    let msgs = str_values(&rej, "message_zh");
    assert!(
        msgs[0].contains("payment_daily_test_2023-09.csv")
            && msgs[0].contains("第 3 行")
            && msgs[0].contains("990000"),
        "{}",
        msgs[0]
    );
    let raw = str_values(&rej, "raw");
    assert!(raw[1].contains("abc"));
    // Accepted rows: county code rolled up, Shenzhen district to Shenzhen, unmapped MCC kept as other.
    let daily = files_with_ext(&lake.join("payment_daily"), "parquet");
    assert_eq!(daily.len(), 1);
    assert!(
        daily[0]
            .to_str()
            .unwrap()
            .contains("institution=test/year=2023/month=9")
    );
    let frame = read_parquet(&daily[0]);
    assert_eq!(frame.height(), 3);
    let regions = str_values(&frame, "region_code");
    assert!(regions.contains(&"440300"));
    let cats = str_values(&frame, "category");
    assert!(cats.contains(&"other"));
}

#[test]
fn reingest_changes_nothing_a_revision_conflicts_and_replace_corrects_it() {
    let (tmp, file) = temp_with(
        "in/payment_daily_test_2023-09.csv",
        format!("{DAILY_HEADER}2023-09-01,test,330000,5722,offline,10,1000,0,3\n"),
    );
    let lake = tmp.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    ingest(lake_s, &[], &[&file]);
    // The partition's file is in the table's current snapshot: looked up again after each commit.
    let part = || {
        homeseason_test_support::lake_file(
            &lake,
            "payment_daily/institution=test/year=2023/month=9/data.parquet",
        )
    };
    let before = std::fs::read(part()).unwrap();
    let manifest_before = std::fs::read(lake.join("_manifest.json")).unwrap();
    let again = ingest(lake_s, &[], &[&file]);
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(std::fs::read(part()).unwrap(), before);
    assert_eq!(
        std::fs::read(lake.join("_manifest.json")).unwrap(),
        manifest_before
    );
    // A revised file for the same institution and month: its new day is added, its changed day is a
    // conflict (the first value stays, reported); both files are kept in the manifest.
    write_file(
        &file,
        format!(
            "{DAILY_HEADER}2023-09-01,test,330000,5722,offline,10,1200,0,3\n2023-09-02,test,330000,5722,offline,1,50,0,1\n"
        ),
    );
    let third = ingest(lake_s, &[], &[&file]);
    assert!(third.contains("1 conflicts"), "{third}");
    let frame = read_parquet(&part());
    assert_eq!(frame.height(), 2);
    let amounts = f64_values(&frame, "amount_yuan");
    assert_eq!(amounts, [1000.0, 50.0]);
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    assert_eq!(manifest["files"].as_array().unwrap().len(), 2);
    let entry =
        &manifest["partitions"]["payment_daily/institution=test/year=2023/month=9/data.parquet"];
    assert_eq!(entry["version"], 2);
    // The correction is explicit: remove the day (a dry run first changes nothing), send it again.
    let range = "payment_daily,institution=test,date=2023-09-01";
    let dry = ok(&["ingest", "--lake", lake_s, "--replace", range, "--dry-run"]);
    assert!(dry.contains("would remove 将删除 1 rows"), "{dry}");
    assert_eq!(read_parquet(&part()).height(), 2);
    ingest(lake_s, &["--replace", range], &[&file]);
    let frame = read_parquet(&part())
        .sort(["date"], polars::prelude::SortMultipleOptions::default())
        .unwrap();
    let amounts = f64_values(&frame, "amount_yuan");
    assert_eq!(amounts, [1200.0, 50.0]);
}

#[test]
fn refused_files_are_reported_and_fail_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = write_in(tmp.path(), "empty.csv", "");
    let lake = tmp.path().join("lake");
    let out = try_ingest(&lake, &["--feed", "payment_daily"], &[&empty]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("empty.csv") && stdout.contains("文件为空"),
        "{stdout}"
    );
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    assert_eq!(manifest["refused"][0]["file"], "empty.csv");
}
