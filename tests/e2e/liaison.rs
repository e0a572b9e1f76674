//! What a liaison sees from `homeseason ingest`: the rejected rows (on screen, in `--json`, `--strict`)
//! and header guidance, whole in Chinese and whole in English.

use std::path::{Path, PathBuf};

use crate::util::{homeseason, ok};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

const DAILY: &str = "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n\
    2023-09-01,test,330000,5722,offline,10,1000.50,10,3\n\
    2023-09-01,test,990000,5722,offline,10,1000,0,3\n\
    2023-09-02,test,330106,5712,online,5,abc,0,2\n\
    2023-09-31,test,330000,5712,online,5,500,0,2\n\
    2023-09-02,test,330000,5712,online,5,-3,0,2\n\
    2023-09-02,test,330000,5712,online,5,300,0,2\n";

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ingest_shows_rejected_rows_on_screen_in_json_and_strict_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "in/payment_daily_test_2023-09.csv", DAILY);
    let lake = tmp.path().join("lake");
    let (lake_s, file_s) = (lake.to_str().unwrap(), file.to_str().unwrap());

    // On screen: every rejected row (4 ≤ the default 20) with file, row, column and reason, both languages.
    let screen = ok(&["ingest", "--lake", lake_s, file_s]);
    for (line, column, reason) in [
        (3, "region_code", "unknown_region"),
        (4, "amount", "bad_number"),
        (5, "date", "bad_date"),
        (6, "amount", "below_minimum"),
    ] {
        let head = format!(
            "payment_daily_test_2023-09.csv · 第 {line} 行 line {line} · 列 column {column} · {reason}"
        );
        assert!(screen.contains(&head), "missing {head:?} in\n{screen}");
    }
    assert!(
        screen.contains("文件 payment_daily_test_2023-09.csv 第 4 行"),
        "{screen}"
    );
    assert!(
        screen.contains("file payment_daily_test_2023-09.csv, line 4"),
        "{screen}"
    );
    assert!(screen.contains("4 of 4 shown"), "{screen}");

    // First N only on screen, the rest counted.
    let two = ok(&["ingest", "--lake", lake_s, "--show-rejects", "2", file_s]);
    assert!(
        two.contains("2 of 4 shown") && two.contains("… 2 more 另有 2 行"),
        "{two}"
    );
    assert!(!two.contains("第 5 行 line 5"), "{two}");

    // --json: all of them.
    let json = ok(&["ingest", "--lake", lake_s, "--json", file_s]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rejects = v[0]["rejects"].as_array().expect("rejects array");
    let got: Vec<(i64, &str, &str)> = rejects
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["column"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "region_code", "unknown_region"),
            (4, "amount", "bad_number"),
            (5, "date", "bad_date"),
            (6, "amount", "below_minimum"),
        ]
    );
    for r in rejects {
        assert_eq!(r["file"], "payment_daily_test_2023-09.csv");
        assert!(r["message_zh"].as_str().unwrap().contains("文件"), "{r}");
        assert!(
            r["message_en"].as_str().unwrap().starts_with("file "),
            "{r}"
        );
    }

    // --strict: non-zero when any row was rejected, zero when none was.
    let strict = homeseason(&["ingest", "--lake", lake_s, "--strict", file_s]);
    assert!(!strict.status.success(), "{}", stdout_of(&strict));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains("4 rows were rejected") && err.contains("4 行被拒收"),
        "{err}"
    );
    let clean = write(
        tmp.path(),
        "in2/payment_daily_test_2023-10.csv",
        "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n\
         2023-10-01,test,330000,5722,offline,10,1000,0,3\n",
    );
    ok(&[
        "ingest",
        "--lake",
        lake_s,
        "--strict",
        clean.to_str().unwrap(),
    ]);
}
