//! Payment-institution feeds: profiles, encodings, formats, duplicates across files, replacement,
//! rejects and small-cell suppression, through `homeseason ingest`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;

use crate::util::{
    demo_dir, entry, files_with_ext, homeseason, ingest_reports, ok, payment_cells, read_json,
    read_parquet, run_ok, s, temp_with, write_file, write_in,
};
use homeseason_test_support::assert_close;
use homeseason_test_support::i64_values;

const HEADER: &str =
    "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The hand-written GBK transaction file of institution bank_c (September 2023).
fn bank_c_fixture() -> PathBuf {
    root().join("tests/fixtures/payments/bank_c/payment_transactions_bank_c_2023-09.csv")
}

fn profile(name: &str) -> String {
    root()
        .join(format!("profiles/{name}.toml"))
        .to_string_lossy()
        .into_owned()
}

/// (read, accepted, rejected, duplicates) of a result, checking read = accepted + rejected + duplicates.
fn counts(r: &serde_json::Value) -> (u64, u64, u64, u64) {
    let rep = &r["report"];
    let c = (
        rep["read"].as_u64().unwrap(),
        rep["accepted"].as_u64().unwrap(),
        rep["rejected"].as_u64().unwrap(),
        rep["duplicates"].as_u64().unwrap(),
    );
    assert_eq!(
        c.0,
        c.1 + c.2 + c.3,
        "read = accepted + rejected + duplicates: {rep}"
    );
    c
}

/// Every `payment_daily` row of the lake, without the institution, sorted.
fn daily(lake: &Path) -> DataFrame {
    payment_cells(lake, "payment_daily")
}

/// Read one file of a Hive-partitioned table with its path-only columns (`key=value` folders, e.g.
/// the rejects table's `feed` and `file_sha256`) added as text, as DuckDB's `hive_partitioning` does.
fn read_hive(path: &Path) -> DataFrame {
    let mut df = read_parquet(path);
    let height = df.height();
    for part in path.parent().unwrap().components() {
        let part = part.as_os_str().to_string_lossy();
        if let Some((k, v)) = part.split_once('=')
            && df.column(k).is_err()
        {
            df.with_column(Column::new(k.into(), vec![v.to_owned(); height]))
                .unwrap();
        }
    }
    df
}

fn sum_f64(df: &DataFrame, c: &str) -> f64 {
    df.column(c).unwrap().f64().unwrap().sum().unwrap_or(0.0)
}

/// A sample-season (wallet_b layout) transaction file rewritten in bank_c's layout: GBK, Chinese
/// headers, no institution column, fen, refunds and reversals negative, `2023/09/01` times, CRLF.
fn to_bank_c(text: &str) -> Vec<u8> {
    let mut out = String::from(
        "交易流水号,交易时间,商户编号,商户类别码,商户所在地区,交易金额(分),交易类型,交易渠道,备注\r\n",
    );
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (id, time, merchant, mcc, region, amount, kind, channel) =
            (f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8]);
        let (yuan, cents) = amount.split_once('.').unwrap_or((amount, "0"));
        let fen: i64 =
            yuan.parse::<i64>().unwrap() * 100 + format!("{cents:0<2}").parse::<i64>().unwrap();
        let (sign, ty) = match kind {
            "sale" => ("", "消费"),
            "refund" => ("-", "退货"),
            _ => ("-", "冲正"),
        };
        let ch = if channel == "online" {
            "线上"
        } else {
            "线下"
        };
        out.push_str(&format!(
            "{id},{},{merchant},{mcc},{region},{sign}{fen},{ty},{ch},\r\n",
            time.replace('-', "/")
        ));
    }
    encoding_rs::GBK.encode(&out).0.into_owned()
}

#[test]
fn sample_season_and_a_gbk_fen_layout_ingest_to_identical_daily_totals() {
    let sample = demo_dir().join("sample/payments/wallet_b");
    let tmp = tempfile::tempdir().unwrap();
    let months = ["2023-09", "2023-10"];
    let mut wallet_files = Vec::new();
    let mut bank_files = Vec::new();
    for m in months {
        let src = sample.join(format!("payment_transactions_wallet_b_{m}.csv"));
        let text = std::fs::read_to_string(&src).unwrap();
        let dst = tmp
            .path()
            .join(format!("bank/payment_transactions_bank_c_{m}.csv"));
        write_file(&dst, to_bank_c(&text));
        wallet_files.push(src);
        bank_files.push(dst);
    }
    let lake_a = tmp.path().join("lake_a");
    let lake_b = tmp.path().join("lake_b");
    let wallet_refs: Vec<&Path> = wallet_files.iter().map(PathBuf::as_path).collect();
    let bank_refs: Vec<&Path> = bank_files.iter().map(PathBuf::as_path).collect();
    let a = ingest_reports(&lake_a, &["--profile", &profile("wallet_b")], &wallet_refs);
    let b = ingest_reports(&lake_b, &["--profile", &profile("bank_c")], &bank_refs);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(counts(x), counts(y));
        assert_eq!(y["report"]["encoding"], "gb18030");
        assert_eq!(x["report"]["rejected"], 0, "{x}");
    }
    let (da, db) = (daily(&lake_a), daily(&lake_b));
    assert!(da.height() > 1000, "{}", da.height());
    assert!(da.equals(&db), "daily totals differ:\n{da}\n{db}");
    // Refunds were netted (a later month's file carries refunds of earlier sales, on their own date).
    assert!(sum_f64(&da, "refund_amount_yuan") > 0.0);
    let gross = sum_f64(&da, "amount_yuan");
    let net = sum_f64(&da, "net_amount_yuan");
    assert_close(
        gross - sum_f64(&da, "refund_amount_yuan"),
        net,
        1e-3,
        "gross - refunds",
    );
    // The reference in-memory reader agrees on the September file.
    let bytes = std::fs::read(&wallet_files[0]).unwrap();
    let reference = homeseason_ingest::ingest_bytes(
        homeseason_ingest::Feed::PaymentTransactions,
        "w.csv",
        &bytes,
        &homeseason_schema::campaign::Campaign::default_2023(),
    )
    .unwrap();
    assert_eq!(
        reference.report.accepted as u64,
        a[0]["report"]["accepted"].as_u64().unwrap()
    );
}

#[test]
fn hand_written_gbk_fixture_nets_negative_fen_refunds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = bank_c_fixture();
    let lake = tmp.path().join("lake");
    // The profile is found in profiles/ by the institution code in the file name.
    let r = ingest_reports(
        &lake,
        &["--profiles", s(&root().join("profiles"))],
        &[&file],
    );
    assert_eq!(counts(&r[0]), (9, 8, 0, 1), "{}", r[0]);
    assert_eq!(r[0]["report"]["encoding"], "gb18030");
    assert_eq!(r[0]["report"]["ignored_columns"][0], "备注");
    let d = daily(&lake);
    assert_eq!(d.height(), 4, "{d}");
    let row = |i: usize| -> (String, String, String, i64, f64, f64, f64, i64) {
        let g = |c: &str| d.column(c).unwrap().get(i).unwrap();
        (
            g("region_code").get_str().unwrap().to_owned(),
            g("mcc").get_str().unwrap().to_owned(),
            g("category").get_str().unwrap().to_owned(),
            g("txn_count").try_extract::<i64>().unwrap(),
            g("amount_yuan").try_extract::<f64>().unwrap(),
            g("refund_amount_yuan").try_extract::<f64>().unwrap(),
            g("net_amount_yuan").try_extract::<f64>().unwrap(),
            g("merchant_count").try_extract::<i64>().unwrap(),
        )
    };
    assert_eq!(
        row(0),
        (
            "330000".into(),
            "5722".into(),
            "home_appliances".into(),
            2,
            200.0,
            30.0,
            170.0,
            2
        )
    );
    assert_eq!(
        row(1),
        (
            "440300".into(),
            "5712".into(),
            "furniture".into(),
            1,
            500.0,
            500.0,
            0.0,
            1
        )
    );
    assert_eq!(
        row(2),
        (
            "110000".into(),
            "5411".into(),
            "supermarket".into(),
            1,
            99.99,
            0.0,
            99.99,
            1
        )
    );
    assert_eq!(
        row(3),
        (
            "330200".into(),
            "0742".into(),
            "other".into(),
            2,
            40.0,
            0.0,
            40.0,
            1
        )
    );
    assert!(
        homeseason_test_support::lake_file(
            &lake,
            "payment_daily/institution=bank_c/year=2023/month=9/data.parquet"
        )
        .exists()
    );
    // The unmapped MCC (0742, veterinary services) is kept under `other` and counted.
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    let payments = &manifest["files"][0]["report"]["payments"];
    assert_eq!(payments["unmapped_mcc_rows"], 2, "{payments}");
    assert_eq!(payments["unmapped_mcc"]["0742"], 2, "{payments}");
    assert_eq!(payments["duplicates_in_file"], 1, "{payments}");
}

#[test]
fn every_bad_row_reason_is_rejected_with_line_column_and_raw_text() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("payment_transactions_t1_2023-09.csv");
    let good = "T1,t1,2023-09-01 10:00:00,M1,5722,330106,100.00,sale,offline";
    let text = format!(
        "{HEADER}\n{good}\n\
         ,t1,2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
         T3,t1,2023-09-31 10:00:00,M1,5722,330106,1,sale,offline\n\
         T4,t1,2023-09-01 10:00:00,M1,57A2,330106,1,sale,offline\n\
         T5,t1,2023-09-01 10:00:00,M1,5722,33010,1,sale,offline\n\
         T6,t1,2023-09-01 10:00:00,M1,5722,330106,12x,sale,offline\n\
         T7,t1,2023-09-01 10:00:00,M1,5722,330106,-5,sale,offline\n\
         T8,t1,2023-09-01 10:00:00,M1,5722,330106,1,gift,offline\n\
         T9,t1,2023-09-01 10:00:00,M1,5722,330106,1,sale,phone\n\
         T10,t1,2023-09-01 10:00:00,M1,5722,990101,1,sale,offline\n\
         T11,other,2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
         {good}\n\
         T13,t1,2023-09-01 11:00:00,M2,5722,330106,50.5,消费,线下\n"
    );
    write_file(&file, text.as_bytes());
    let lake = tmp.path().join("lake");
    let r = ingest_reports(&lake, &[], &[&file]);
    assert_eq!(counts(&r[0]), (13, 2, 10, 1), "{}", r[0]);
    let rejects = files_with_ext(&lake.join("rejects"), "parquet");
    assert_eq!(rejects.len(), 1);
    let rej = read_hive(&rejects[0]);
    let strs = |c: &str| -> Vec<String> {
        rej.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_owned())
            .collect()
    };
    let lines = i64_values(&rej, "line");
    assert_eq!(lines, (3..=12).collect::<Vec<i64>>());
    assert_eq!(
        strs("reason"),
        [
            "missing_value",
            "bad_date",
            "bad_pattern",
            "bad_pattern",
            "bad_number",
            "below_minimum",
            "bad_enum",
            "bad_enum",
            "unknown_region",
            "bad_enum"
        ]
    );
    assert_eq!(
        strs("column"),
        [
            "txn_id",
            "txn_time",
            "mcc",
            "region_code",
            "amount",
            "amount",
            "txn_type",
            "channel",
            "region_code",
            "institution"
        ]
    );
    let raw = strs("raw");
    let text_lines: Vec<&str> = text.lines().collect();
    for (l, r) in lines.iter().zip(&raw) {
        assert_eq!(r, text_lines[*l as usize - 1]);
    }
    let sha = strs("file_sha256");
    assert_eq!(sha[0], r[0]["report"]["sha256"].as_str().unwrap());
    let msgs = strs("message_zh");
    assert!(
        msgs[1].contains("第 4 行") && msgs[1].contains("2023-09-31"),
        "{}",
        msgs[1]
    );
    let d = daily(&lake);
    assert_eq!(d.column("txn_count").unwrap().i64().unwrap().sum(), Some(2));
    assert_close(sum_f64(&d, "amount_yuan"), 150.5, 1e-9, "amount");
}

fn txn(id: &str, time: &str, merchant: &str, amount: &str, kind: &str) -> String {
    format!("{id},t2,{time},{merchant},5712,440305,{amount},{kind},offline\n")
}

/// A transaction file of institution t2: the header and a row of each `[id, time, merchant,
/// amount, kind]`.
fn txn_file(rows: &[[&str; 5]]) -> String {
    let body: String = rows
        .iter()
        .map(|[id, time, merchant, amount, kind]| txn(id, time, merchant, amount, kind))
        .collect();
    format!("{HEADER}\n{body}")
}

fn september() -> String {
    txn_file(&[
        ["S1", "2023-09-01 09:00:00", "M1", "100.00", "sale"],
        ["S2", "2023-09-15 09:00:00", "M2", "200.00", "sale"],
        ["S3", "2023-09-15 10:00:00", "M2", "20.00", "refund"],
        ["S4", "2023-09-30 23:10:00", "M1", "40.00", "sale"],
        ["S5", "2023-09-30 23:50:00", "M3", "60.00", "sale"],
        ["S2", "2023-09-15 09:00:00", "M2", "200.00", "sale"],
    ])
}

#[test]
fn duplicates_are_removed_within_and_across_files_and_counted() {
    let (tmp, sep) = temp_with("payment_transactions_t2_2023-09.csv", september());
    let lake = tmp.path().join("lake");
    let r = ingest_reports(&lake, &[], &[&sep]);
    // S2 is sent twice in the file: verified on its full text in a second pass, counted once.
    assert_eq!(counts(&r[0]), (6, 5, 0, 1));
    assert_eq!(r[0]["report"]["duplicates"], 1);
    let sep_part = || {
        homeseason_test_support::lake_file(
            &lake,
            "payment_daily/institution=t2/year=2023/month=9/data.parquet",
        )
    };
    let sep_before = std::fs::read(sep_part()).unwrap();
    // October's export overlaps the end of September (S4, S5 again) and has one September row that the
    // September file does not (S6, a late transaction): the overlap is dropped as duplicates, S6 is
    // added to September (files are increments: before, it was rejected because another file "held"
    // September), October is written.
    let oct = tmp.path().join("payment_transactions_t2_2023-10.csv");
    let t = txn_file(&[
        ["S4", "2023-09-30 23:10:00", "M1", "40.00", "sale"],
        ["S5", "2023-09-30 23:50:00", "M3", "60.00", "sale"],
        ["S6", "2023-09-30 23:55:00", "M3", "5.00", "sale"],
        ["O1", "2023-10-01 08:00:00", "M1", "10.00", "sale"],
        ["O2", "2023-10-02 08:00:00", "M2", "30.00", "sale"],
        ["O3", "2023-10-03 08:00:00", "M1", "15.00", "refund"],
    ]);
    write_file(&oct, t.as_bytes());
    let r = ingest_reports(&lake, &[], &[&oct]);
    assert_eq!(counts(&r[0]), (6, 4, 0, 2), "{}", r[0]);
    assert_ne!(
        std::fs::read(sep_part()).unwrap(),
        sep_before,
        "S6 joins September"
    );
    assert!(files_with_ext(&lake.join("rejects"), "parquet").is_empty());
    let d = daily(&lake);
    // Gross 100 + 200 + 40 + 60 + 5 (September) + 10 + 30 (October), nothing counted twice.
    assert!((sum_f64(&d, "amount_yuan") - 445.0).abs() < 1e-9, "{d}");
    assert_close(
        sum_f64(&d, "refund_amount_yuan"),
        35.0,
        1e-9,
        "refund_amount",
    );
    // M3 sold twice on 2023-09-30 in the same cell (S5 in September's file, S6 in October's): one
    // merchant, not two.
    let last_day = d
        .clone()
        .lazy()
        .filter(col("date").cast(DataType::String).eq(lit("2023-09-30")))
        .collect()
        .unwrap();
    assert_eq!(
        last_day
            .column("merchant_count")
            .unwrap()
            .i64()
            .unwrap()
            .sum(),
        Some(2),
        "M1 and M3: {last_day}"
    );
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    let file = entry(
        &manifest["files"],
        "file",
        "payment_transactions_t2_2023-10.csv",
    );
    assert_eq!(file["report"]["payments"]["duplicates_across_files"], 2);
    assert_eq!(file["report"]["payments"]["home_month"], "2023-10");
    // The same rows sent again in another October export are still counted once; only O9 is new.
    let oct2 = write_in(
        tmp.path(),
        "payment_transactions_t2_2023-10b.csv",
        t.replace("O1,", "O9,").as_bytes(),
    );
    let r = ingest_reports(&lake, &[], &[&oct2]);
    assert_eq!(counts(&r[0]), (6, 1, 0, 5));
}

#[test]
fn reupload_changes_nothing_and_a_month_is_corrected_with_replace() {
    let (tmp, sep) = temp_with("payment_transactions_t2_2023-09.csv", september());
    let lake = tmp.path().join("lake");
    ingest_reports(&lake, &[], &[&sep]);
    let part = || {
        homeseason_test_support::lake_file(
            &lake,
            "payment_daily/institution=t2/year=2023/month=9/data.parquet",
        )
    };
    let index = lake.join("_txn_index/institution=t2/year=2023/month=9");
    let before = std::fs::read(part()).unwrap();
    let manifest_before = std::fs::read(lake.join("_manifest.json")).unwrap();
    // The same file again: nothing changes.
    let again = ok(&["ingest", "--lake", s(&lake), s(&sep)]);
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(std::fs::read(part()).unwrap(), before);
    assert_eq!(
        std::fs::read(lake.join("_manifest.json")).unwrap(),
        manifest_before
    );
    assert_eq!(
        std::fs::read_dir(&index).unwrap().count(),
        3,
        "ids, merchant pairs and area merchant pairs"
    );
    // A corrected September: files are increments, so the month is removed explicitly
    // (`--replace`, which also forgets its transaction ids), then the corrected file is ingested.
    let corrected = september().replace(
        &txn("S5", "2023-09-30 23:50:00", "M3", "60.00", "sale"),
        &txn("S5", "2023-09-30 23:50:00", "M3", "66.00", "sale"),
    ) + &txn("S7", "2023-09-20 12:00:00", "M4", "7.00", "sale");
    assert_ne!(
        corrected,
        september() + &txn("S7", "2023-09-20 12:00:00", "M4", "7.00", "sale")
    );
    write_file(&sep, corrected.as_bytes());
    let r = ingest_reports(
        &lake,
        &[
            "--replace",
            "payment_daily,institution=t2,date=2023-09-01..2023-09-30",
        ],
        &[&sep],
    );
    assert_eq!(counts(&r[0]), (7, 6, 0, 1));
    let d = daily(&lake);
    assert!((sum_f64(&d, "amount_yuan") - (100.0 + 200.0 + 40.0 + 66.0 + 7.0)).abs() < 1e-9);
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    let key = "payment_daily/institution=t2/year=2023/month=9/data.parquet";
    assert_eq!(manifest["partitions"][key]["version"], 3);
    assert_eq!(manifest["replacements"][0]["txn_ids"], 5);
    let sha = r[0]["report"]["sha256"].as_str().unwrap();
    assert_eq!(manifest["partitions"][key]["source_sha256"], sha);
    let idx: Vec<String> = std::fs::read_dir(&index)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(idx.contains(&format!("{sha}.id128v")), "{idx:?}");
    // The corrected file re-sent gzip-compressed: same transactions, all duplicates, same totals.
    let gz = tmp.path().join("payment_transactions_t2_2023-09.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(corrected.as_bytes()).unwrap();
    write_file(&gz, enc.finish().unwrap());
    let r = ingest_reports(&lake, &[], &[&gz]);
    assert_eq!(counts(&r[0]), (7, 0, 0, 7));
    assert!(daily(&lake).equals(&d));
}

#[test]
fn json_lines_and_parquet_files_give_the_same_daily_rows_as_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let csv_text = september();
    let csv = write_in(
        tmp.path(),
        "payment_transactions_t2_2023-09.csv",
        csv_text.as_bytes(),
    );
    let mut jsonl = String::new();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 9];
    for line in csv_text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let amount: f64 = f[6].parse().unwrap();
        jsonl += &serde_json::json!({
            "txn_id": f[0], "institution": f[1], "txn_time": f[2], "merchant_id": f[3],
            "mcc": f[4], "region_code": f[5], "amount": amount, "txn_type": f[7], "channel": f[8],
        })
        .to_string();
        jsonl.push('\n');
        for (i, v) in f.iter().enumerate() {
            cols[i].push((*v).to_owned());
        }
    }
    let jl = write_in(
        tmp.path(),
        "payment_transactions_t2_2023-09.jsonl",
        jsonl.as_bytes(),
    );
    let names = HEADER.split(',').collect::<Vec<_>>();
    let mut frame = DataFrame::new(
        cols[0].len(),
        names
            .iter()
            .zip(&cols)
            .map(|(n, c)| Column::new((*n).into(), c.clone()))
            .collect(),
    )
    .unwrap();
    let pq = tmp.path().join("payment_transactions_t2_2023-09.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut frame)
        .unwrap();
    let mut results = Vec::new();
    for (i, f) in [&csv, &jl, &pq].iter().enumerate() {
        let lake = tmp.path().join(format!("lake{i}"));
        let r = ingest_reports(&lake, &[], &[f]);
        assert_eq!(counts(&r[0]), (6, 5, 0, 1), "{}", r[0]);
        results.push(daily(&lake));
    }
    assert!(
        results[0].equals(&results[1]),
        "{}\n{}",
        results[0],
        results[1]
    );
    assert!(
        results[0].equals(&results[2]),
        "{}\n{}",
        results[0],
        results[2]
    );
    // A pre-aggregated daily file as JSON Lines, amounts in fen under a profile.
    let prof = write_in(
        tmp.path(),
        "acq_d.toml",
        b"institution = \"acq_d\"\nfeed = \"payment_daily\"\namount_unit = \"fen\"\n[columns]\n\"day\" = \"date\"\n",
    );
    let daily_file = write_in(
        tmp.path(),
        "payment_daily_acq_d_2023-09.jsonl",
        "{\"day\":\"2023-09-01\",\"institution\":\"acq_d\",\"region_code\":\"330106\",\"mcc\":\"5722\",\"channel\":\"线下\",\"txn_count\":3,\"amount\":12345,\"refund_amount\":100,\"merchant_count\":2}\n"
            .as_bytes(),
    );
    let lake = tmp.path().join("lake_daily");
    let r = ingest_reports(&lake, &["--profile", s(&prof)], &[&daily_file]);
    assert_eq!(counts(&r[0]), (1, 1, 0, 0), "{}", r[0]);
    let d = daily(&lake);
    assert!(
        (sum_f64(&d, "net_amount_yuan") - 122.45).abs() < 1e-9,
        "{d}"
    );
    assert_eq!(
        d.column("channel").unwrap().str().unwrap().get(0),
        Some("offline")
    );
}

#[test]
fn small_cells_are_suppressed_in_the_dashboard_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let file = bank_c_fixture();
    let lake = tmp.path().join("lake");
    let out = homeseason(&[
        "ingest",
        "--lake",
        s(&lake),
        "--profile",
        &profile("bank_c"),
        "--suppress-below",
        "2",
        s(&file),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dash = read_parquet(&lake.join("dashboard/dashboard_payment_daily/data.parquet"));
    assert_eq!(dash.height(), 4);
    let flags: Vec<bool> = dash
        .column("suppressed")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let merchants = daily(&lake);
    let counts = i64_values(&merchants, "merchant_count");
    // Every small cell is suppressed; complements may be added so none can be derived from a
    // published margin (the attack itself is a unit test of homeseason_ingest::suppress).
    let small = counts.iter().filter(|c| **c < 2).count();
    assert!(small > 0 && flags.iter().filter(|f| **f).count() >= small);
    for (flag, count) in flags.iter().zip(&counts) {
        assert!(*flag || *count >= 2, "a small cell is visible");
    }
    let amount = dash.column("amount_yuan").unwrap().f64().unwrap();
    for (i, f) in flags.iter().enumerate() {
        assert_eq!(amount.get(i).is_none(), *f, "row {i}");
    }
    // The analysts' table keeps every figure.
    assert_eq!(merchants.column("amount_yuan").unwrap().null_count(), 0);
    // `check` reads the dashboard copies against their contracts (data-schemas/dashboard_*.json):
    // blanked money is allowed there, a negative merchant count or a missing flag is not.
    ok(&["check", "--lake", s(&lake)]);
    let file = lake.join("dashboard/dashboard_payment_daily/data.parquet");
    let negative = dash
        .clone()
        .lazy()
        .with_column(lit(-1_i64).cast(DataType::Int64).alias("merchant_count"))
        .collect()
        .unwrap();
    for (mut bad, expected) in [
        (
            negative,
            &[
                "dashboard_payment_daily/data.parquet",
                "column merchant_count: 4 values below the minimum 0",
            ][..],
        ),
        (
            dash.drop("suppressed").unwrap(),
            &["required column suppressed is missing"][..],
        ),
    ] {
        ParquetWriter::new(std::fs::File::create(&file).unwrap())
            .finish(&mut bad)
            .unwrap();
        let out = homeseason(&["check", "--lake", s(&lake)]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(expected.iter().all(|e| text.contains(e)), "{text}");
    }
}

/// The differencing attack of the review, by DuckDB on the demo season's dashboard copies: for every
/// published margin (region × category × day and its `all_targeted` and national rows in
/// `dashboard_baseline_daily`; region × day; national day), count the groups holding exactly one
/// suppressed cell while the margin is shown: each would give that cell as margin minus the
/// visible cells. There must be none.
const ATTACK: &str = r#"
import duckdb, json, sys
lake = sys.argv[1]
con = duckdb.connect()
con.execute(f"create view d as select * from read_parquet('{lake}/dashboard/dashboard_payment_daily/data.parquet')")
con.execute(f"create view b as select * from read_parquet('{lake}/dashboard/dashboard_baseline_daily/data.parquet')")
targeted = "('home_appliances','furniture','home_textiles','building_materials')"
out = {}
out["cells"], out["suppressed"] = con.execute(
    "select count(*), count(*) filter (where suppressed) from d").fetchone()
def lone(group, shown):
    return con.execute(
        f"with g as (select {group}, count(*) filter (where suppressed) s from d group by all) "
        f"select count(*) from g where s = 1 and ({shown})").fetchone()[0]
shown_rc = ("exists (select 1 from b where b.date = g.date and b.region_code = g.region_code "
            "and b.category = g.category and b.actual_yuan is not null)")
out["region_category_day"] = lone("date, region_code, category", shown_rc)
con.execute(f"create or replace view d as select *, category in {targeted} as t from read_parquet('{lake}/dashboard/dashboard_payment_daily/data.parquet')")
out["region_targeted_day"] = lone("date, region_code, t", "t and exists (select 1 from b where b.date = g.date "
    "and b.region_code = g.region_code and b.category = 'all_targeted' and b.actual_yuan is not null)")
out["national_category_day"] = lone("date, category", "exists (select 1 from b where b.date = g.date "
    "and b.region_code = '000000' and b.category = g.category and b.actual_yuan is not null)")
out["national_targeted_day"] = lone("date, t", "t")
out["region_day"] = lone("date, region_code", "true")
out["national_day"] = lone("date", "true")
# Sums over time the outputs publish beside the daily series (weekly_tracking's weeks and cumulative
# totals, uplift's window totals): Monday-Sunday weeks split at the window's edges.
period = ("date_trunc('week', date) as wk, date < DATE '2023-09-01' as pre, "
          "date > DATE '2023-12-31' as post")
con.execute(f"create or replace view d as select *, category in {targeted} as t, {period} "
            f"from read_parquet('{lake}/dashboard/dashboard_payment_daily/data.parquet')")
out["region_category_week"] = lone("wk, pre, post, region_code, category", "true")
out["region_targeted_week"] = lone("wk, pre, post, region_code, t", "t")
out["national_category_week"] = lone("wk, pre, post, category", "true")
out["national_targeted_week"] = lone("wk, pre, post, t", "t")
# The report's own daily series (series.json, the charts' data): every point it shows is a margin.
series = json.load(open(sys.argv[2]))
shown = [(p["date"], s["category"]) for s in series for p in s["points"] if p["actual_yuan"] is not None]
out["report_points"] = len(shown)
out["report_gaps"] = sum(1 for s in series for p in s["points"] if p["actual_yuan"] is None)
con.execute("create table shown(date date, category varchar)")
con.executemany("insert into shown values (?, ?)", shown)
out["report_series"] = con.execute(
    "with g as (select date, category, count(*) filter (where suppressed) s from d group by all "
    "union all select date, 'all_targeted', count(*) filter (where suppressed) from d where t group by all) "
    "select count(*) from g join shown using (date, category) where s = 1").fetchone()[0]
# Primary suppression alone, for scale: the cells the review recovered.
out["lone_if_primary_only"] = con.execute(
    "with g as (select date, region_code, category, count(*) filter (where merchant_count_raw < 3) s "
    f"from (select *, merchant_count as merchant_count_raw from read_parquet('{lake}/payment_daily/**/*.parquet', hive_partitioning=true)) "
    "group by all) select count(*) from g where s = 1").fetchone()[0]
print(json.dumps(out))
"#;

#[test]
fn no_suppressed_cell_of_the_demo_is_derived_from_a_published_margin() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let copy = Command::new("cp")
        .args(["-a", s(&demo_dir().join("lake")), s(&lake)])
        .status()
        .unwrap();
    assert!(copy.success());
    // A re-sent register changes nothing and writes the dashboard copies.
    let resend = files_with_ext(&demo_dir().join("sample/activities"), "csv");
    ok(&[
        "ingest",
        "--lake",
        s(&lake),
        "--suppress-below",
        "3",
        s(&resend[0]),
    ]);
    // The season's report on that lake: its daily series are published numbers too.
    let report = tmp.path().join("report");
    let started = std::time::Instant::now();
    ok(&["report", "--lake", s(&lake), "--out", s(&report)]);
    eprintln!(
        "report with suppression worked out again: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (stdout, _) = run_ok(
        Command::new("python3").args(["-c", ATTACK, s(&lake), s(&report.join("series.json"))]),
        "python3 with duckdb (tests/run.sh installs it)",
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    eprintln!("differencing attack on the demo's dashboard copies: {v}");
    // The notebook publishes the daily series as the report does (the dashboard copy's shape, with
    // `suppressed`), and `export duckdb` gives a dashboard builder a view of each dashboard copy.
    let nb = tmp.path().join("nb");
    ok(&[
        "export",
        "notebook",
        "--lake",
        s(&lake),
        "--out",
        s(&nb),
        "--as-of",
        "2023-10-15",
    ]);
    let daily = read_parquet(&nb.join("homeseason-weekly-2023-10-15/baseline_daily.parquet"));
    let flags = daily.column("suppressed").unwrap().bool().unwrap();
    assert_eq!(
        flags.sum(),
        Some(0),
        "the demo has no margin that is one cell"
    );
    // Issue 13's sums over days: the notebook's uplift and weekly_tracking, and what the report
    // publishes of the lake's uplift, weekly_tracking and local_events, with the sums a box would
    // not cancel blanked; the headline (national, all_targeted, campaign window) stays.
    let note: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lake.join("dashboard/_suppression.json")).unwrap())
            .unwrap();
    assert_eq!(
        note["unprotected"].as_array().map(Vec::len),
        Some(0),
        "{note}"
    );
    let nb_uplift = read_parquet(&nb.join("homeseason-weekly-2023-10-15/uplift.parquet"));
    let nulls = |f: &DataFrame, c: &str| f.column(c).unwrap().null_count();
    let handle = homeseason_lake::Lake::open(&lake).unwrap();
    let campaign = homeseason_schema::campaign::Campaign::default_2023();
    let (up, wk, ev) = homeseason_pipeline::payments::published_sums(
        &handle,
        &campaign,
        handle.read_table("uplift").unwrap(),
        handle.read_table("weekly_tracking").unwrap(),
        handle.read_table("local_events").unwrap(),
    )
    .unwrap();
    eprintln!(
        "demo at --suppress-below 3: {} cells, {} suppressed ({} primary, {} complementary, {} \
         secondary), {} boxes, {} daily figures blanked, {} unprotected; uplift {} rows: {} \
         actual and {} baseline blanked (notebook week: {} of {}); weekly_tracking {} rows: {} \
         week actual, {} week baseline, {} cumulative baseline blanked; local_events {} rows: {} \
         blanked",
        handle.read_table("payment_daily").unwrap().height(),
        v["suppressed"],
        note["primary"],
        note["complementary"],
        note["secondary"],
        note["boxes"],
        note["blanked_margins"].as_array().map_or(0, Vec::len),
        note["unprotected"].as_array().map_or(0, Vec::len),
        up.height(),
        nulls(&up, "actual_yuan"),
        nulls(&up, "baseline_yuan"),
        nulls(&nb_uplift, "baseline_yuan"),
        nb_uplift.height(),
        wk.height(),
        nulls(&wk, "week_actual_yuan"),
        nulls(&wk, "week_baseline_yuan"),
        nulls(&wk, "cum_baseline_yuan"),
        ev.height(),
        if ev.height() > 0 {
            nulls(&ev, "actual_yuan")
        } else {
            0
        },
    );
    let headline = up
        .clone()
        .lazy()
        .filter(
            col("region_code")
                .eq(lit("000000"))
                .and(col("category").eq(lit("all_targeted")))
                .and(col("window_kind").eq(lit("campaign"))),
        )
        .collect()
        .unwrap();
    assert!(headline.height() > 0);
    assert_eq!(nulls(&headline, "baseline_yuan"), 0, "{headline}");
    assert_eq!(nulls(&headline, "actual_yuan"), 0, "{headline}");
    let views = tmp.path().join("views.sql");
    ok(&["export", "duckdb", "--lake", s(&lake), "--out", s(&views)]);
    let sql = std::fs::read_to_string(&views).unwrap();
    for t in ["dashboard_payment_daily", "dashboard_baseline_daily"] {
        assert!(
            sql.contains(&format!("CREATE OR REPLACE VIEW {t} AS"))
                && sql.contains(&format!("/dashboard/{t}/**/*.parquet")),
            "{sql}"
        );
    }
    assert!(v["suppressed"].as_i64().unwrap() > 0, "{v}");
    assert!(v["lone_if_primary_only"].as_i64().unwrap() > 0, "{v}");
    assert!(v["report_points"].as_i64().unwrap() > 0, "{v}");
    for margin in [
        "region_category_day",
        "region_targeted_day",
        "national_category_day",
        "national_targeted_day",
        "region_day",
        "national_day",
        "region_category_week",
        "region_targeted_week",
        "national_category_week",
        "national_targeted_week",
        "report_series",
    ] {
        assert_eq!(
            v[margin], 0,
            "{margin}: a suppressed cell is derivable: {v}"
        );
    }
}

/// Issue 15 point 6: a transaction file read without a profile takes its amounts' unit from the
/// amount header's brackets, as a daily file does — `交易金额(分)` is fen, `amount（元）` yuan,
/// `交易金额（万元）` 万元 — converted to yuan in `payment_daily` and kept as the report's
/// `source_unit`. A bracket that is no money unit, or a header unit that contradicts a profile's
/// `amount_unit = "fen"`, refuses the file whole, in Chinese and in English, and writes nothing.
#[test]
fn a_unit_in_a_transaction_files_header_is_the_amounts_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |dir: &Path, amount_header: &str, sale: &str, refund: &str| {
        let header = HEADER.replace(",amount,", &format!(",{amount_header},"));
        let text = format!(
            "{header}\n{}{}",
            txn("U1", "2023-09-01 09:00:00", "M1", sale, "sale"),
            txn("U2", "2023-09-02 09:00:00", "M1", refund, "refund"),
        );
        write_in(dir, "payment_transactions_t2_2023-09.csv", text)
    };
    for (i, (header, sale, refund, unit)) in [
        ("交易金额(分)", "10050", "2000", Some("分")),
        ("amount (fen)", "10050", "2000", Some("分")),
        ("amount（元）", "100.50", "20.00", None),
        ("交易金额（万元）", "0.01005", "0.002", Some("万元")),
        ("amount", "100.50", "20", None),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let f = file(&dir, header, sale, refund);
        let lake = dir.join("lake");
        let r = ingest_reports(&lake, &[], &[&f]);
        assert_eq!(counts(&r[0]), (2, 2, 0, 0), "{header}: {}", r[0]);
        assert_eq!(
            r[0]["report"].get("source_unit").and_then(|u| u.as_str()),
            unit,
            "{header}: {}",
            r[0]
        );
        let d = daily(&lake);
        assert_close(sum_f64(&d, "amount_yuan"), 100.5, 1e-9, header);
        assert_close(sum_f64(&d, "refund_amount_yuan"), 20.0, 1e-9, header);
    }
    // Refused whole: a bracket that is no money unit; a header in yuan under a profile in fen.
    let dir = tmp.path().join("refused");
    std::fs::create_dir_all(&dir).unwrap();
    let fen_profile = write_in(
        &dir,
        "t2.toml",
        "institution = \"t2\"\nfeed = \"payment_transactions\"\namount_unit = \"fen\"\n",
    );
    for (header, extra, needles) in [
        (
            "amount (%)",
            vec![],
            ["not a money unit", "不是金额单位", "amount (%)", "整份拒收"],
        ),
        (
            "交易金额（元）",
            vec!["--profile", s(&fen_profile)],
            [
                "is in yuan (元) by its header",
                "amount_unit = ",
                "两者矛盾",
                "交易金额（元）",
            ],
        ),
    ] {
        let f = file(&dir, header, "100.50", "20.00");
        let lake = dir.join(format!("lake_{}", header.len()));
        let mut args = vec!["ingest", "--lake", s(&lake), "--json"];
        args.extend(extra.iter().copied());
        args.push(s(&f));
        let out = homeseason(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for n in needles {
            assert!(text.contains(n), "{header}: {n:?} not in\n{text}");
        }
        assert!(
            files_with_ext(&lake.join("payment_daily"), "parquet").is_empty(),
            "{header}: nothing written"
        );
    }
    // A profile in fen and a header in fen agree.
    let f = file(&dir, "交易金额(分)", "10050", "2000");
    let lake = dir.join("lake_fen");
    let r = ingest_reports(&lake, &["--profile", s(&fen_profile)], &[&f]);
    assert_eq!(counts(&r[0]), (2, 2, 0, 0), "{}", r[0]);
    assert_close(sum_f64(&daily(&lake), "amount_yuan"), 100.5, 1e-9, "fen");
}

/// Issue 18 (城乡): the demo's `payment_area_daily` holds the transaction institutions' cells by
/// county-level area — urban and rural, each with its prefecture-level city — and summed over areas
/// gives `payment_daily` to the fen (merchants at least the region's); the daily-file institution
/// (acq_a) has no area rows.
#[test]
fn the_demos_area_cells_sum_to_payment_daily() {
    use homeseason_schema::contract::tables;
    let lake = homeseason_lake::Lake::open(demo_dir().join("lake")).expect("lake");
    let daily = lake
        .read_table(tables::PAYMENT_DAILY)
        .expect("payment_daily");
    let area = lake
        .read_table(tables::PAYMENT_AREA_DAILY)
        .expect("payment_area_daily");
    let institutions = homeseason_test_support::str_values(&area, "institution");
    assert!(
        institutions.contains(&"wallet_b"),
        "{:?}",
        institutions.first()
    );
    assert!(
        !institutions.contains(&"acq_a"),
        "daily files carry no area"
    );
    let bad = homeseason_ingest::area_sum_mismatches(&daily, &area, 20).expect("sums");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let classes = homeseason_test_support::str_values(&area, "urban_rural");
    for c in ["urban", "rural"] {
        assert!(classes.contains(&c), "no {c} area");
    }
    // Every county-level area has its city; the cells are finer than payment_daily's.
    let no_city = area
        .clone()
        .lazy()
        .filter(
            col("urban_rural")
                .neq(lit("unknown"))
                .and(col("city_code").is_null()),
        )
        .collect()
        .expect("filter")
        .height();
    assert_eq!(no_city, 0);
    let wallet_daily = rows_of(&daily, "wallet_b");
    let wallet_area = rows_of(&area, "wallet_b");
    assert!(
        wallet_area > wallet_daily,
        "{wallet_area} area cells vs {wallet_daily} region cells"
    );
    eprintln!(
        "payment_area_daily: {} rows ({wallet_area} of wallet_b over its {wallet_daily} region cells)",
        area.height()
    );
}

/// The rows of `frame` whose institution is `institution`.
fn rows_of(frame: &DataFrame, institution: &str) -> usize {
    frame
        .clone()
        .lazy()
        .filter(
            col("institution")
                .cast(DataType::String)
                .eq(lit(institution)),
        )
        .collect()
        .expect("filter")
        .height()
}
