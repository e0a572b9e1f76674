//! The hand-filled feeds end to end: key-enterprise sales (XLSX with title rows and a notes sheet,
//! GB18030 CSV), 社零 retail statistics (cumulative-only months, national tables, the bundled NBS
//! figures), the activities register and its weekly summary, revisions, and the templates.
//! Fixtures are generated here (XLSX with rust_xlsxwriter), so each test reads as its scenario.

use std::path::{Path, PathBuf};

use homeseason_schema::uscc;
use polars::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

use crate::util::{
    SALES_HEADER_ZH, assert_file_report, counts, demo_dir, f64s, files_with_ext, ingest,
    ingest_json, manifest, ok, read_parquet, reject_rows, report_of, temp_with, template_sheets,
    texts, try_ingest, valid_uscc, write_in,
};

/// One cell of a hand-written worksheet row: text, a number cell, or nothing.
#[derive(Clone, Copy)]
enum Cell<'a> {
    T(&'a str),
    N(f64),
    E,
}
use Cell::{E, N, T};

/// The same code with a wrong check character, and the right one.
fn bad_code(first17: &str) -> (String, char) {
    let good = uscc::check_char(first17).unwrap();
    let wrong = if good == '0' { '1' } else { '0' };
    (format!("{first17}{wrong}"), good)
}

/// (line, column, reason) of each of `rejects`.
fn line_column_reason(rejects: &[(i64, String, String, String, String)]) -> Vec<(i64, &str, &str)> {
    rejects
        .iter()
        .map(|(l, c, reason, _, _)| (*l, c.as_str(), reason.as_str()))
        .collect()
}

/// Rejects of the lake, sorted by line: (line, column, reason, message_zh, raw).
fn rejects(lake: &Path) -> Vec<(i64, String, String, String, String)> {
    reject_rows(lake, &["column", "reason", "message_zh", "raw"])
        .into_iter()
        .map(|(line, v)| {
            let [col, reason, msg, raw]: [String; 4] = v.try_into().expect("four columns");
            (line, col, reason, msg, raw)
        })
        .collect()
}

/// Key-enterprise sales as liaisons send them: a 填写说明 sheet first, then a data sheet with two
/// merged title rows, the Chinese header (unit in the header: 万元), the English header under it,
/// data, a blank row and a footnote. Returns the workbook and the wrong USCC's expected character.
fn enterprise_workbook() -> (Vec<u8>, char) {
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("填写说明").unwrap();
    notes.write_string(0, 0, "填写说明").unwrap();
    notes
        .write_string(1, 0, "统一社会信用代码：18位，末位为校验码")
        .unwrap();
    notes.write_string(2, 0, "销售额（万元）").unwrap();
    let s = book.add_worksheet();
    s.set_name("重点企业").unwrap();
    let bold = Format::new().set_bold();
    s.merge_range(0, 0, 0, 8, "2023年家居焕新消费季重点企业销售情况表", &bold)
        .unwrap();
    s.merge_range(
        1,
        0,
        1,
        8,
        "填报单位（盖章）：浙江省商务厅    填报日期：2023年12月5日",
        &Format::new(),
    )
    .unwrap();
    let zh = SALES_HEADER_ZH;
    let en = [
        "USCC", "Company", "Region", "Category", "Period", "Sales", "Unit", "Channel", "Brand",
    ];
    for (c, (z, e)) in zh.iter().zip(en).enumerate() {
        s.write_string(2, c as u16, *z).unwrap();
        s.write_string(3, c as u16, e).unwrap();
    }
    let a = valid_uscc("91330000MAGA0121G");
    // GB 32100 has no I, O, S, V or Z: every prefix here stays inside its alphabet.
    let b = valid_uscc("91330100MA27XYW12");
    let (bad, expected) = bad_code("91330200MA2H3K4L5");
    let month = Format::new().set_num_format("yyyy年m月");
    // Row 5: region as short name, period typed as a date cell, amount by formula (cached value),
    // unit from the header (万元).
    s.write_string(4, 0, &a).unwrap();
    s.write_string(4, 1, "杭州瑞优电子商贸有限公司").unwrap();
    s.write_string(4, 2, "浙江").unwrap();
    s.write_string(4, 3, "家电").unwrap();
    s.write_datetime_with_format(4, 4, ExcelDateTime::from_ymd(2023, 9, 1).unwrap(), &month)
        .unwrap();
    s.write_formula(4, 5, Formula::new("=1000+250").set_result("1250"))
        .unwrap();
    s.write_string(4, 7, "线上").unwrap();
    s.write_string(4, 8, "雅新").unwrap();
    let company_b = "杭州某建材有限公司";
    let rows = [
        // Row 6: pinyin region, Chinese month text, amount with its own unit (亿元) and thousands
        // separators in full width.
        [
            T(&a),
            T("杭州瑞优电子商贸有限公司"),
            T("Zhejiang"),
            T("家具"),
            T("2023年10月"),
            T("１.５亿元"),
            E,
        ],
        // Row 7: bad check character.
        [
            T(&bad),
            T("宁波某家居有限公司"),
            T("宁波"),
            T("家纺"),
            T("2023-09"),
            N(10.0),
            E,
        ],
        // Row 8: unknown region.
        [
            T(&b),
            T(company_b),
            T("火星省"),
            T("建材家装"),
            T("2023-09"),
            N(10.0),
            E,
        ],
        // Row 9: unit column in 元 against a 万元 header: contradictory, rejected.
        [
            T(&b),
            T(company_b),
            T("330000"),
            T("建材家装"),
            T("2023-W37"),
            N(5.0),
            T("元"),
        ],
        // Row 10: full name, ISO week, number stored as text with a thousands separator, unit 万元.
        [
            T(&b),
            T(company_b),
            T("浙江省"),
            T("建材家装"),
            T("2023-W37"),
            T("1,234.5"),
            T("万元"),
        ],
    ];
    for (row, cells) in (5..).zip(rows) {
        for (c, cell) in (0..).zip(cells) {
            match cell {
                T(text) => s.write_string(row, c, text).map(|_| ()),
                N(n) => s.write_number(row, c, n).map(|_| ()),
                E => Ok(()),
            }
            .unwrap();
        }
    }
    // Row 11 blank; row 12 a footnote (neither is a data row).
    s.write_string(11, 0, "注：销售额为含税零售额。").unwrap();
    (book.save_to_buffer().unwrap(), expected)
}

#[test]
fn xlsx_with_title_rows_and_notes_sheet_is_read_row_by_row() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, expected) = enterprise_workbook();
    let file = write_in(tmp.path(), "in/浙江_重点企业_2023.xlsx", &bytes);
    let lake = tmp.path().join("lake");
    let v = ingest_json(&lake, &[&file]);
    let r = &v[0]["report"];
    assert_eq!(r["feed"], "enterprise_sales", "{v}");
    // Six data rows (rows 5–10): the title rows, the English header, the blank row and the
    // footnote are not data.
    assert_eq!(counts(r), (6, 3, 3, 0), "{r}");
    let rej = rejects(&lake);
    let summary = line_column_reason(&rej);
    assert_eq!(
        summary,
        vec![
            (7, "统一社会信用代码", "bad_uscc"),
            (8, "地区", "unknown_region"),
            (9, "单位", "bad_unit"),
        ]
    );
    let (_, _, _, msg, raw) = &rej[0];
    assert!(
        msg.contains(&format!("校验码应为“{expected}”")) && msg.contains("第 7 行"),
        "{msg}"
    );
    assert!(raw.contains("宁波某家居有限公司"), "{raw}");
    assert!(rej[1].3.contains("火星省"), "{}", rej[1].3);
    // Accepted rows, in yuan, partitioned by region and period.
    let parts: Vec<String> = files_with_ext(&lake.join("enterprise_sales"), "parquet")
        .iter()
        .map(|p| homeseason_test_support::lake_rel(&lake, p))
        .collect();
    assert_eq!(
        parts,
        vec![
            "enterprise_sales/period=2023-09/330000.parquet",
            "enterprise_sales/period=2023-10/330000.parquet",
            "enterprise_sales/period=2023-W37/330000.parquet",
        ]
    );
    let file = |rel: &str| homeseason_test_support::lake_file(&lake, rel);
    let sep = read_parquet(&file(&parts[0]));
    assert_eq!(f64s(&sep, "sales_amount_yuan"), vec![Some(12_500_000.0)]);
    assert_eq!(texts(&sep, "channel"), vec!["online"]);
    assert_eq!(texts(&sep, "source_unit"), vec!["万元"]);
    let oct = read_parquet(&file(&parts[1]));
    assert_eq!(f64s(&oct, "sales_amount_yuan"), vec![Some(150_000_000.0)]);
    assert_eq!(texts(&oct, "source_unit"), vec!["亿元"]);
    let week = read_parquet(&file(&parts[2]));
    assert_eq!(f64s(&week, "sales_amount_yuan"), vec![Some(12_345_000.0)]);
    assert_eq!(texts(&week, "period_start"), vec!["2023-09-11"]);
    assert!(ok(&["check", "--lake", lake.to_str().unwrap()]).contains("every table matches"));
}

#[test]
fn gb18030_csv_with_english_headers_and_mixed_units() {
    let tmp = tempfile::tempdir().unwrap();
    let a = valid_uscc("91440300MA5FABCD1");
    let (bad, expected) = bad_code("91440300MA5FABCD2");
    let text = format!(
        "Credit code,Company,Region,Category,Month,Sales,Unit,Channel,Brand\n\
         {a},深圳市某电器有限公司,深圳,家电,2023年9月,\"１，２３４\",万元,线下,某牌\n\
         {a},深圳市某电器有限公司,440300,家电,2023-10,\"2,000,000\",元,线上,某牌\n\
         {a},深圳市某电器有限公司,Shenzhen,家电,2023-11,0.5亿元,,全部,某牌\n\
         {a},深圳市某电器有限公司,Shenzhen,家电,2023-11,0.5亿元,,全部,某牌\n\
         {bad},深圳市某家具有限公司,广东,家具,2023-09,100,万元,线下,\n\
         {a},深圳市某电器有限公司,广东省,家电,2023-09,100,,线下,某牌\n\
         {a},深圳市某电器有限公司,广东省,家电,2023-09,100,美元,线下,某牌\n\
         {a},深圳市某电器有限公司,广东省,家电,上个月,100,元,线下,某牌\n"
    );
    let (gbk, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    let file = write_in(tmp.path(), "in/深圳重点企业.csv", &gbk);
    let lake = tmp.path().join("lake");
    let v = ingest_json(&lake, &[&file]);
    let r = &v[0]["report"];
    assert_eq!(r["encoding"], "gb18030", "{r}");
    assert_eq!(r["feed"], "enterprise_sales", "{r}");
    assert_eq!(counts(r), (8, 3, 4, 1), "{r}");
    let rej = rejects(&lake);
    let summary = line_column_reason(&rej);
    assert_eq!(
        summary,
        vec![
            (6, "Credit code", "bad_uscc"),
            (7, "Sales", "bad_unit"),
            (8, "Unit", "bad_unit"),
            (9, "Month", "bad_period"),
        ]
    );
    assert!(
        rej[0].3.contains(&format!("校验码应为“{expected}”")),
        "{}",
        rej[0].3
    );
    let sales = read_parquet_table(&lake, "enterprise_sales");
    let mut by_period: Vec<(String, f64)> = texts(&sales, "period")
        .into_iter()
        .zip(
            f64s(&sales, "sales_amount_yuan")
                .into_iter()
                .map(Option::unwrap),
        )
        .collect();
    by_period.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_period,
        vec![
            ("2023-09".into(), 12_340_000.0),
            ("2023-10".into(), 2_000_000.0),
            ("2023-11".into(), 50_000_000.0),
        ]
    );
    assert!(texts(&sales, "region_code").iter().all(|r| r == "440300"));
}

/// Every Parquet file of a lake table, concatenated, with the partition columns restored.
fn read_parquet_table(lake: &Path, table: &str) -> DataFrame {
    let mut frames = Vec::new();
    for f in files_with_ext(&lake.join(table), "parquet") {
        let mut frame = read_parquet(&f);
        let rel = f.strip_prefix(lake.join(table)).unwrap().to_owned();
        for part in rel.parent().unwrap().components() {
            // The snapshot folder (`v000042`) holds no key.
            let Some((k, val)) = part.as_os_str().to_str().unwrap().split_once('=') else {
                continue;
            };
            if k != "year" && k != "month" {
                let h = frame.height();
                frame
                    .with_column(Column::new(k.into(), vec![val; h]))
                    .unwrap();
            }
        }
        frames.push(frame.lazy());
    }
    concat(frames, UnionArgs::default())
        .unwrap()
        .collect()
        .unwrap()
}

const SALES_HEADER: &str =
    "统一社会信用代码,企业名称,地区,品类,统计期,销售额,单位,线上/线下,品牌\n";

#[test]
fn a_revision_conflicts_until_replace_names_exactly_its_region_and_period() {
    let tmp = tempfile::tempdir().unwrap();
    let a = valid_uscc("91330000MAGA0121G");
    let first = write_in(
        tmp.path(),
        "in/zhejiang_2023Q3.csv",
        format!(
            "{SALES_HEADER}{a},甲公司,浙江,家电,2023-09,100,万元,全部,\n\
             {a},甲公司,浙江,家电,2023-10,200,万元,全部,\n\
             {a},甲公司,浙江,家电,2023-11,300,万元,全部,\n\
             {a},甲公司,江苏,家电,2023-10,50,万元,全部,\n"
        )
        .as_bytes(),
    );
    let lake = tmp.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    ingest(lake_s, &[], &[&first]);
    // The revision: October for Zhejiang only, corrected, in a file with another name.
    let revision = write_in(
        tmp.path(),
        "in/zhejiang_2023-10_更正.csv",
        format!("{SALES_HEADER}{a},甲公司,330000,家电,2023年10月,250,万元,全部,\n").as_bytes(),
    );
    // Files are increments: sent as is, the revision's key (USCC, region, period, category) is
    // already held with another amount — a conflict, reported; the first value stays.
    let out = ingest(lake_s, &[], &[&revision]);
    assert!(out.contains("1 conflicts"), "{out}");
    let sales = read_parquet_table(&lake, "enterprise_sales");
    let total: f64 = f64s(&sales, "sales_amount_yuan")
        .into_iter()
        .flatten()
        .sum();
    assert_eq!(total, (100.0 + 200.0 + 300.0 + 50.0) * 1e4);
    // The correction is explicit: remove Zhejiang's October, then ingest the revision.
    let out = ingest(
        lake_s,
        &[
            "--replace",
            "enterprise_sales,region_code=330000,period=2023-10",
        ],
        &[&revision],
    );
    assert!(out.contains("removed 已删除 1 rows"), "{out}");
    let m = manifest(&lake);
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "both submissions are kept");
    let (old, new) = (&files[0], &files[1]);
    let oct = "enterprise_sales/period=2023-10/330000.parquet";
    assert_eq!(old["superseded"], serde_json::json!([oct]));
    assert_eq!(new["superseded"], serde_json::json!([]));
    let parts = &m["partitions"];
    assert_eq!(
        parts[oct]["version"], 3,
        "written, emptied by --replace, written again"
    );
    assert_eq!(parts[oct]["source_sha256"], new["sha256"]);
    assert_eq!(m["replacements"].as_array().map(Vec::len), Some(1));
    for p in [
        "enterprise_sales/period=2023-09/330000.parquet",
        "enterprise_sales/period=2023-11/330000.parquet",
        "enterprise_sales/period=2023-10/320000.parquet",
    ] {
        assert_eq!(parts[p]["version"], 1, "{p}");
        assert_eq!(parts[p]["source_sha256"], old["sha256"], "{p}");
    }
    let sales = read_parquet_table(&lake, "enterprise_sales");
    let total: f64 = f64s(&sales, "sales_amount_yuan")
        .into_iter()
        .flatten()
        .sum();
    assert_eq!(total, (100.0 + 250.0 + 300.0 + 50.0) * 1e4);
    // Re-ingesting the revision changes nothing.
    let again = ingest(lake_s, &[], &[&revision]);
    assert!(again.contains("unchanged"), "{again}");
}

#[test]
fn retail_stats_derive_months_from_cumulative_and_keep_published_yoy() {
    // Provincial table with cumulative values only for some months, Jan–Feb written as one period.
    let (tmp, csv) = temp_with(
        "in/浙江社零.csv",
        "统计月份,涵盖月份,地区,指标,当月值（亿元）,同比增长（%）,累计值（亿元）,累计同比增长（%）,来源\n\
         2023年1-2月,,浙江,家用电器和音像器材类,,,120.5,3.1,浙江省统计局\n\
         2023-03,3,浙江,家用电器和音像器材类,,,180.7,4.0,浙江省统计局\n\
         2023-04,4,浙江,家用电器和音像器材类,70,5.5,250.7,4.4,浙江省统计局\n\
         2023-04,4,浙江,床垫,70,5.5,250.7,4.4,浙江省统计局\n\
         2023-04,4,浙江,家具类,-3,1.0,,,浙江省统计局\n"
            .as_bytes(),
    );
    // A national XLSX without a region column, title above the header, a notes sheet after it.
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.merge_range(
        0,
        0,
        0,
        5,
        "2023年10月份社会消费品零售总额主要数据",
        &Format::new(),
    )
    .unwrap();
    for (c, h) in [
        "月份",
        "涵盖月份",
        "指标",
        "当月值（亿元）",
        "同比增长（%）",
        "来源",
    ]
    .iter()
    .enumerate()
    {
        s.write_string(1, c as u16, *h).unwrap();
    }
    s.write_string(2, 0, "2023-10").unwrap();
    s.write_number(2, 1, 10.0).unwrap();
    s.write_string(2, 2, "家具类").unwrap();
    s.write_number(2, 3, 137.0).unwrap();
    s.write_number(2, 4, 1.7).unwrap();
    s.write_string(2, 5, "https://www.stats.gov.cn/").unwrap();
    let notes = book.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write_string(0, 0, "指标 月份 当月值 来源").unwrap();
    let xlsx = write_in(
        tmp.path(),
        "in/national_2023-10.xlsx",
        book.save_to_buffer().unwrap(),
    );
    let lake = tmp.path().join("lake");
    let v = ingest_json(&lake, &[&csv, &xlsx]);
    assert_eq!(counts(report_of(&v, "浙江社零.csv")), (5, 3, 2, 0), "{v}");
    assert_eq!(
        counts(report_of(&v, "national_2023-10.xlsx")),
        (1, 1, 0, 0),
        "{v}"
    );
    let reasons: Vec<(i64, String)> = rejects(&lake)
        .into_iter()
        .map(|(l, _, r, _, _)| (l, r))
        .collect();
    assert_eq!(
        reasons,
        vec![(5, "unknown_category".into()), (6, "below_minimum".into())]
    );
    let stats = read_parquet_table(&lake, "retail_stats")
        .sort(["region_code", "period"], SortMultipleOptions::default())
        .unwrap();
    assert_eq!(
        texts(&stats, "region_code"),
        vec!["000000", "330000", "330000", "330000"]
    );
    assert_eq!(
        texts(&stats, "period"),
        vec!["2023-10", "2023-02", "2023-03", "2023-04"]
    );
    assert_eq!(texts(&stats, "months_covered"), vec!["10", "1-2", "3", "4"]);
    // Jan–Feb = its cumulative; March = cum(3) − cum(1–2); April as published.
    assert_eq!(
        f64s(&stats, "value_100m_yuan"),
        vec![Some(137.0), Some(120.5), Some(60.2), Some(70.0)]
    );
    assert_eq!(
        texts(&stats, "derivation"),
        vec![
            "published",
            "derived_from_cumulative",
            "derived_from_cumulative",
            "published"
        ]
    );
    // Published YoY as given; never computed (the derived months have none).
    assert_eq!(
        f64s(&stats, "yoy_pct"),
        vec![Some(1.7), None, None, Some(5.5)]
    );
    assert_eq!(
        f64s(&stats, "cum_yoy_pct"),
        vec![None, Some(3.1), Some(4.0), Some(4.4)]
    );
}

const ACT_HEADER: &str = "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站\n";

#[test]
fn activities_register_is_summarised_by_region_week_and_type_without_duplicates() {
    let (tmp, first) = temp_with(
        "in/activities_330000_v1.csv",
        format!(
            "{ACT_HEADER}ZJ-001,浙江省,杭州家居焕新购物节,购物节,2023-09-11,2023-09-24,杭州,浙江省商务厅,100,150,绿色;智能,线下,是\n\
             ZJ-002,浙江,宁波家博会,家博会,2023-09-15,2023-09-17,宁波,宁波市商务局,80,120,适老化,线下,否\n\
             ZJ-003,330000,直播带货周,直播带货,2023-09-18,2023-09-22,线上平台,浙江省商务厅,30,40,智能,线上,否\n\
             ZJ-004,浙江,以旧换新下乡,家电下乡,2023-10-02,2023-10-08,金华,金华市商务局,20,25,节能,线下,√\n\
             ZJ-005,浙江,坏日期,购物节,2023-09-31,2023-10-01,杭州,,1,1,,线下,否\n"
        )
        .as_bytes(),
    );
    let lake = tmp.path().join("lake");
    let v = ingest_json(&lake, &[&first]);
    assert_eq!(counts(&v[0]["report"]), (5, 4, 1, 0), "{v}");
    // The re-submission for September: ZJ-002 and ZJ-003 corrected (named with --replace: files are
    // increments, a changed row is otherwise a conflict), ZJ-003 also sent renumbered as ZJ-103 (same
    // name and start: the same activity), a new ZJ-006; October is not in it, so October stays.
    let second = write_in(
        tmp.path(),
        "in/activities_330000_v2.csv",
        format!(
            "{ACT_HEADER}ZJ-001,浙江省,杭州家居焕新购物节,购物节,2023-09-11,2023-09-24,杭州,浙江省商务厅,100,150,绿色;智能,线下,是\n\
             ZJ-002,浙江,宁波家博会,展会,2023-09-15,2023-09-17,宁波,宁波市商务局,90,130,适老化,线下,否\n\
             ZJ-003,330000,直播带货周,直播电商节,2023-09-18,2023-09-22,线上平台,浙江省商务厅,30,40,智能,线上,否\n\
             ZJ-103,330000,直播带货周,直播电商节,2023-09-18,2023-09-22,线上平台,浙江省商务厅,30,40,智能,线上,否\n\
             ZJ-006,浙江,家装设计大赛,设计大赛,2023-09-20,2023-11-30,杭州,浙江省住建厅,12,0,,线上线下结合,否\n"
        )
        .as_bytes(),
    );
    let out = ingest(
        &lake,
        &[
            "--replace",
            "activities,activity_id=ZJ-002",
            "--replace",
            "activities,activity_id=ZJ-003",
        ],
        &[&second],
    );
    assert!(out.contains("removed 已删除 1 rows"), "{out}");
    assert!(!out.contains("conflicts"), "{out}");
    let summary = read_parquet(&lake.join("activity_summary/data.parquet"));
    let rows: Vec<String> = (0..summary.height())
        .map(|i| {
            homeseason_metrics::activity::COLUMNS
                .iter()
                .map(|c| {
                    summary
                        .column(c)
                        .unwrap()
                        .get(i)
                        .unwrap()
                        .to_string()
                        .replace('"', "")
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            "330000 2023-09-11 shopping_festival 1 100 150 1",
            "330000 2023-09-11 trade_show 1 90 130 0",
            "330000 2023-09-18 design_contest 1 12 0 0",
            "330000 2023-09-18 ecommerce_live_festival 1 30 40 0",
            "330000 2023-10-02 countryside_sales 1 20 25 1",
        ]
    );
    let acts = read_parquet_table(&lake, "activities");
    assert_eq!(
        acts.height(),
        6,
        "v2's five September rows (one a duplicate) and v1's October"
    );
    let tags: Vec<String> = texts(&acts, "focus_tags");
    assert!(
        tags.contains(&"green".to_owned()),
        "节能 is green: {tags:?}"
    );
    assert!(ok(&["check", "--lake", lake.to_str().unwrap()]).contains("every table matches"));
}

#[test]
fn templates_open_in_excel_and_ingest_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let csv = dir.join("t/enterprise_sales_template.csv");
    std::fs::create_dir_all(csv.parent().unwrap()).unwrap();
    ok(&[
        "template",
        "enterprise-sales",
        "--format",
        "csv",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let header = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(
        header.starts_with("统一社会信用代码 (Unified social credit code),"),
        "{header}"
    );
    let a = valid_uscc("91330000MAGA0121G");
    bytes.extend_from_slice(format!("{a},甲公司,浙江,家电,2023-09,100,万元,线上,\r\n").as_bytes());
    std::fs::write(&csv, &bytes).unwrap();
    let xlsx = dir.join("t/enterprise_sales_template.xlsx");
    ok(&[
        "template",
        "enterprise-sales",
        "--format",
        "xlsx",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    let book = std::fs::read(&xlsx).unwrap();
    assert!(book.starts_with(b"PK\x03\x04"));
    let (data, notes) = template_sheets(&book);
    let row = |r: u32| -> Vec<String> {
        (0..9)
            .map(|c| {
                data.get_value((r, c))
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(row(1)[0], "统一社会信用代码");
    assert_eq!(row(1)[7], "线上/线下");
    assert_eq!(row(2)[0], "Unified social credit code");
    assert!(notes.contains("校验码"), "{notes}");
    let act = dir.join("t/activities_template.csv");
    ok(&[
        "template",
        "activities",
        "--format",
        "csv",
        "--out",
        act.to_str().unwrap(),
    ]);
    let mut act_bytes = std::fs::read(&act).unwrap();
    act_bytes.extend_from_slice(
        "ZJ-1,浙江,购物节,购物节,2023-09-01,2023-09-03,杭州,厅,1,2,绿色,线上,否\r\n".as_bytes(),
    );
    std::fs::write(&act, &act_bytes).unwrap();
    // Every template is recognised by its header; the blank workbook has no data rows.
    let lake = dir.join("lake");
    let v = ingest_json(&lake, &[&csv, &xlsx, &act]);
    for (name, feed, want) in [
        (
            "enterprise_sales_template.csv",
            "enterprise_sales",
            (1, 1, 0, 0),
        ),
        (
            "enterprise_sales_template.xlsx",
            "enterprise_sales",
            (0, 0, 0, 0),
        ),
        ("activities_template.csv", "activities", (1, 1, 0, 0)),
    ] {
        assert_file_report(&v, name, feed, want);
    }
    let acts = read_parquet_table(&lake, "activities");
    assert_eq!(
        acts.column("online").unwrap().bool().unwrap().get(0),
        Some(true)
    );
}

#[test]
fn unreadable_workbooks_and_unknown_sheets_are_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = write_in(
        tmp.path(),
        "broken.xlsx",
        b"PK\x03\x04 this is not a zip archive",
    );
    let mut book = Workbook::new();
    book.add_worksheet()
        .write_string(0, 0, "随便写点什么")
        .unwrap();
    let unknown = write_in(tmp.path(), "unknown.xlsx", book.save_to_buffer().unwrap());
    let lake = tmp.path().join("lake");
    let out = try_ingest(&lake, &[], &[&broken, &unknown]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.xlsx: REFUSED") && stdout.contains("Excel"),
        "{stdout}"
    );
    assert!(stdout.contains("unknown.xlsx: REFUSED"), "{stdout}");
    assert_eq!(manifest(&lake)["refused"].as_array().unwrap().len(), 2);
}

#[test]
fn demo_lake_holds_the_nbs_panel_with_published_yoy_and_the_activity_summary() {
    let out = demo_dir();
    let lake = out.join("lake");
    // The national total's partitions: one `000000.parquet` per period folder.
    let national: Vec<PathBuf> = files_with_ext(
        homeseason_test_support::lake_file(&lake, "retail_stats/x")
            .parent()
            .expect("snapshot folder"),
        "parquet",
    )
    .into_iter()
    .filter(|p| p.file_name().is_some_and(|n| n == "000000.parquet"))
    .collect();
    assert!(national.len() >= 30, "{} NBS periods", national.len());
    let oct = read_parquet(&homeseason_test_support::lake_file(
        &lake,
        "retail_stats/period=2023-10/000000.parquet",
    ));
    let cats = texts(&oct, "category");
    let yoy = f64s(&oct, "yoy_pct");
    let furniture = cats.iter().position(|c| c == "furniture").unwrap();
    // Published +1.7%, although the ratio of the published levels (137 / 144) is −4.9%.
    assert_eq!(yoy[furniture], Some(1.7));
    assert!(texts(&oct, "source")[furniture].contains("github.com/Logoutx"));
    let m = manifest(&lake);
    assert!(
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"] == "nbs_retail_by_category.csv" && f["feed"] == "retail_stats")
    );
    let summary = read_parquet(&lake.join("activity_summary/data.parquet"));
    assert!(summary.height() > 37, "{summary}");
    let total: i64 = summary
        .column("activities")
        .unwrap()
        .i64()
        .unwrap()
        .sum()
        .unwrap();
    let activities = read_parquet_table(&lake, "activities");
    assert!(total > 0 && total as usize <= activities.height());
}

#[test]
fn legacy_xls_workbooks_are_read_like_xlsx() {
    // Fixture written by tests/e2e/fixtures/make_xls.py (no Rust crate writes .xls).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/e2e/fixtures/enterprise_sales_guangdong.xls");
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let v = ingest_json(&lake, &[&fixture]);
    let r = &v[0]["report"];
    assert_eq!(r["feed"], "enterprise_sales", "{v}");
    assert_eq!(counts(r), (2, 1, 1, 0), "{r}");
    let rej = rejects(&lake);
    assert_eq!((rej[0].0, rej[0].2.as_str()), (4, "bad_uscc"));
    let sales = read_parquet(&homeseason_test_support::lake_file(
        &lake,
        "enterprise_sales/period=2023-11/440000.parquet",
    ));
    assert_eq!(f64s(&sales, "sales_amount_yuan"), vec![Some(3_215_000.0)]);
}
