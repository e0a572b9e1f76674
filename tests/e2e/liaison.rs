//! What a liaison sees from `homeseason ingest`: the rejected rows (on screen, in `--json`, `--strict`)
//! and header guidance, whole in Chinese and whole in English.

use crate::util::{
    assert_contains_all, homeseason, ingest, ok, temp_with, try_ingest, valid_uscc, write_in,
};
use homeseason_test_support::DAILY_WITH_BAD_ROWS as DAILY;

/// The enterprise-sales amount column in yuan.
const SALES_YUAN: &str = "sales_amount_yuan";

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ingest_shows_rejected_rows_on_screen_in_json_and_strict_fails() {
    let (tmp, file) = temp_with("in/payment_daily_test_2023-09.csv", DAILY);
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
    let clean = write_in(
        tmp.path(),
        "in2/payment_daily_test_2023-10.csv",
        "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n\
         2023-10-01,test,330000,5722,offline,10,1000,0,3\n",
    );
    ingest(lake_s, &["--strict"], &[&clean]);
}

fn refusal_of(out: &std::process::Output) -> String {
    let text = stdout_of(out);
    assert!(text.contains("REFUSED 拒收"), "not refused:\n{text}");
    text
}

/// Split a refusal `English / 中文` into its halves and check each: it holds every one of its
/// needles and none of the `foreign` words (the other language's). Returns (English, Chinese).
fn assert_halves<'a>(
    text: &'a str,
    zh_needles: &[&str],
    zh_foreign: &[&str],
    en_needles: &[&str],
    en_foreign: &[&str],
) -> (&'a str, &'a str) {
    let (en, zh) = text.rsplit_once(" / ").expect("english / 中文");
    for (half, needles, foreign, what) in [
        (zh, zh_needles, zh_foreign, "the Chinese half"),
        (en, en_needles, en_foreign, "the English half"),
    ] {
        assert_contains_all(half, needles, what);
        assert!(!foreign.iter().any(|w| half.contains(w)), "{what}: {half}");
    }
    (en, zh)
}

/// Check a rejected row's messages (as `ingest --json` gives them): each language's holds its
/// `(needle, foreign)` needle and not the foreign word (a word of the other language).
fn assert_messages(reject: &serde_json::Value, zh: (&str, &str), en: (&str, &str)) {
    for (key, (needle, foreign)) in [("message_zh", zh), ("message_en", en)] {
        let m = reject[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {reject}"));
        assert!(m.contains(needle) && !m.contains(foreign), "{key}: {m}");
    }
}

fn enterprise_rows(header: &str, rows: &[(&str, &str, &str)]) -> String {
    let mut text = format!("{header}\n");
    for (i, (name_or_unit, period, amount)) in rows.iter().enumerate() {
        let code = valid_uscc(&format!("91330100MA27ABC{i:02}"));
        text.push_str(&format!(
            "{code},{name_or_unit},浙江省,家电,{period},{amount}\n"
        ));
    }
    text
}

#[test]
fn a_provincial_form_with_its_own_headers_is_mapped_without_feed() {
    // 单位 is the enterprise (单位名称), 所属省份 the region, 统计月份 the period, 零售额(万元) the amount.
    let tmp = tempfile::tempdir().unwrap();
    let text = enterprise_rows(
        "统一社会信用代码,单位,所属省份,品类,统计月份,零售额(万元)",
        &[
            ("杭州家电有限公司", "2023年9月", "12.5"),
            ("宁波家电有限公司", "2023年10月", "3"),
        ],
    );
    let file = write_in(tmp.path(), "浙江_重点企业.csv", &text);
    let lake = tmp.path().join("lake");
    let json = ingest(&lake, &["--json"], &[&file]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["report"]["feed"], "enterprise_sales", "{json}");
    assert_eq!(v[0]["report"]["accepted"], 2, "{json}");
    let rows = homeseason_test_support::files_with_ext(&lake.join("enterprise_sales"), "parquet");
    let names: Vec<String> = rows
        .iter()
        .flat_map(|p| {
            let frame = crate::util::read_parquet(p);
            homeseason_test_support::str_values(&frame, "enterprise_name")
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(names.contains(&"杭州家电有限公司".to_owned()), "{names:?}");
}

#[test]
fn a_unit_column_named_dan_wei_beside_the_enterprise_name_is_the_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let code = valid_uscc("91330100MA27ABC10");
    let text = format!(
        "统一社会信用代码,企业名称,单位,所属省份,品类,统计月份,销售额\n{code},杭州家电有限公司,万元,浙江省,家电,2023年9月,12.5\n"
    );
    let file = write_in(tmp.path(), "sales.csv", &text);
    let lake = tmp.path().join("lake");
    let json = ingest(&lake, &["--json"], &[&file]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["report"]["accepted"], 1, "{json}");
    let rows = homeseason_test_support::files_with_ext(&lake.join("enterprise_sales"), "parquet");
    let frame = crate::util::read_parquet(&rows[0]);
    let amount = frame
        .column(SALES_YUAN)
        .unwrap()
        .cast(&polars::prelude::DataType::Float64)
        .unwrap();
    assert_eq!(amount.f64().unwrap().get(0), Some(125_000.0), "{frame}");

    // 单位 holding 万元 with no enterprise-name column: never taken silently as the enterprise.
    let text = format!(
        "统一社会信用代码,单位,所属省份,品类,统计月份,销售额\n{code},万元,浙江省,家电,2023年9月,12.5\n"
    );
    let file = write_in(tmp.path(), "sales2.csv", &text);
    let json = ingest(&lake, &["--json"], &[&file]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["report"]["accepted"], 0, "{json}");
    assert_messages(
        &v[0]["rejects"][0],
        ("金额单位", "enterprise"),
        ("holds a unit", "企业名称一列"),
    );
}

/// Sales column under a header no alias knows: the message names it as the closest and lists the
/// accepted spellings, whole in Chinese and whole in English.
#[test]
fn a_missing_column_names_the_closest_header_and_the_accepted_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let text = enterprise_rows(
        "统一社会信用代码,企业名称,所属省份,品类,统计月份,商品零售金额（万元）",
        &[("杭州家电有限公司", "2023年9月", "12.5")],
    );
    let file = write_in(tmp.path(), "sales.csv", &text);
    let lake = tmp.path().join("lake");
    for feed in ["enterprise-sales", "enterprise_sales"] {
        let out = try_ingest(&lake, &["--feed", feed], &[&file]);
        let text = refusal_of(&out);
        assert_halves(
            &text,
            &[
                "未找到 销售额（sales_amount_yuan）；最接近的表头是 商品零售金额（万元），可接受：销售额、",
                "销售金额",
                "文件中的表头：",
            ],
            &["missing", "closest"],
            &[
                "no column for Sales amount (sales_amount_yuan); the closest header is 商品零售金额（万元）; accepted: 销售额, ",
            ],
            &["未找到", "最接近"],
        );
    }
}

#[test]
fn without_feed_a_refused_file_says_which_headers_each_feed_expects() {
    let (tmp, file) = temp_with("报表.csv", "序号,单位,备注\n1,杭州家电有限公司,无\n");
    let lake = tmp.path().join("lake");
    let out = try_ingest(&lake, &[], &[&file]);
    assert!(!out.status.success());
    let text = refusal_of(&out);
    let (_, zh) = assert_halves(
        &text,
        &[
            "无法根据表头识别数据类型（表头：序号、单位、备注）",
            "重点企业销售（--feed enterprise-sales）需要：统一社会信用代码、企业名称、",
        ],
        &["needs", "lacks"],
        &[
            "cannot tell which feed",
            "(--feed enterprise-sales) needs: uscc, enterprise_name, ",
        ],
        &["需要", "缺"],
    );
    assert!(zh.contains("重点活动表") || zh.contains("活动"), "{zh}");
}

#[test]
fn an_unknown_feed_lists_the_valid_names() {
    let (tmp, file) = temp_with("a.csv", "x\n1\n");
    let out = try_ingest(
        tmp.path().join("lake"),
        &["--feed", "enterprise-salez"],
        &[&file],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("valid feeds: payment-transactions")
            && err.contains("enterprise-sales")
            && err.contains("activities")
            && err.contains("可用的数据类型"),
        "{err}"
    );
}

#[test]
fn row_messages_are_whole_in_each_language() {
    let tmp = tempfile::tempdir().unwrap();
    let good = valid_uscc("91330100MA27ABC10");
    // Wrong check character.
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'D' { 'E' } else { 'D' });
    let good2 = valid_uscc("91330100MA27ABC11");
    let text = format!(
        "统一社会信用代码,企业名称,地区,品类,统计期,销售额,金额单位\n\
         {bad},杭州家电有限公司,浙江省,家电,2023年9月,12.5,万元\n\
         {good2},宁波家电有限公司,浙江省,家电,2023年13月,3,万元\n"
    );
    let file = write_in(tmp.path(), "sales.csv", &text);
    let json = ingest(tmp.path().join("lake"), &["--json"], &[&file]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rejects = v[0]["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 2, "{json}");
    assert_eq!(rejects[0]["reason"], "bad_uscc");
    assert_messages(
        &rejects[0],
        ("校验码应为", "check character"),
        ("check character should be", "校验码"),
    );
    assert_eq!(rejects[1]["reason"], "bad_period");
    assert_messages(
        &rejects[1],
        ("没有13月", "month"),
        ("there is no month 13", "没有"),
    );
}
