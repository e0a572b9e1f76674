//! Data completeness judged by what each feed is due (the pipeline on a real lake).

use chrono::NaiveDate;
use homeseason_lake::Lake;
use homeseason_pipeline::completeness::{CompletenessRow, FEEDS, completeness};
use homeseason_pipeline::{Profiles, Source, ingest_file, ingest_nbs};
use homeseason_schema::calendar::activity_week;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;

/// A region that delivered its register is present every week (rows only in the week its
/// activities start); one that did not is missing; no row is ever the national total; 社零 rows
/// are the provinces only.
#[test]
fn activities_are_due_once_per_region_and_never_000000() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let campaign = Campaign::default_2023();
    let bytes = homeseason_test_support::activities_csv(&["110000"], 2, false, "");
    let source = Source::Bytes {
        name: "activities_110000.csv",
        bytes: &bytes,
    };
    let profiles = Profiles::default();
    ingest_file(&lake, &source, None, &campaign, &profiles, "t").unwrap();
    ingest_nbs(&lake, "t").unwrap();
    let (from, to) = (campaign.window.start, campaign.window.end);
    let rows = completeness(&lake, from, to, &|_| true, &FEEDS).unwrap();
    assert!(rows.iter().all(|r| r.region_code != "000000"));
    let beijing: Vec<&CompletenessRow> = rows
        .iter()
        .filter(|r| r.region_code == "110000" && r.feed == tables::ACTIVITIES)
        .collect();
    assert!(beijing.len() >= 17, "{}", beijing.len());
    assert!(beijing.iter().all(|r| r.status == "present"), "{beijing:?}");
    let start_week = activity_week(NaiveDate::from_ymd_opt(2023, 9, 12).unwrap());
    for r in &beijing {
        let expected = if r.week_start == start_week { 2 } else { 0 };
        assert_eq!(r.rows, expected, "{r:?}");
    }
    assert!(
        rows.iter()
            .filter(|r| r.region_code == "120000" && r.feed == tables::ACTIVITIES)
            .all(|r| r.status == "missing")
    );
    // 社零: provinces only (no rows for the plan city 330200 or the corps).
    assert!(!rows.iter().any(|r| r.feed == tables::RETAIL_STATS
        && (r.region_code == "330200" || r.region_code == "XPCC")));
    assert!(
        rows.iter()
            .any(|r| r.feed == tables::RETAIL_STATS && r.region_code == "330000")
    );
}

/// The sample season delivers every feed a region is due: zero region-weeks flagged missing, in the
/// lake table and in the report.
#[test]
fn the_sample_season_flags_no_region() {
    let out = crate::util::demo_dir();
    let files =
        homeseason_test_support::files_with_ext(&out.join("lake/data_completeness"), "parquet");
    assert!(!files.is_empty());
    for f in files {
        let frame = homeseason_test_support::read_parquet(&f);
        let status = frame.column("status").unwrap().str().unwrap().clone();
        let region = frame.column("region_code").unwrap().str().unwrap().clone();
        let feed = frame.column("feed").unwrap().str().unwrap().clone();
        for i in 0..frame.height() {
            assert_ne!(region.get(i), Some("000000"));
            assert_ne!(
                status.get(i),
                Some("missing"),
                "{:?} {:?} flagged missing",
                region.get(i),
                feed.get(i)
            );
        }
    }
}

/// Subsidies are due from a region once it reports any: from the week of its earliest period to the
/// range's end, present where a reported period touches the week, missing where none does; a region
/// that reported none has no subsidy rows at all.
#[test]
fn subsidies_are_due_from_a_regions_first_report() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let campaign = Campaign::default_2023();
    // Zhejiang: ISO weeks 37 and 38 (two rows in week 38), then a date range in week 40; week 39
    // skipped. Ningbo (330200) reports nothing.
    let text = "地区,地市代码,品类,统计期,补贴方式,资金来源,发放金额（元）,核销数量,备注\n\
                浙江,,家电,2023-W37,消费券,省级,8800,60,\n\
                浙江,,家电,2023-W38,消费券,省级,8800,60,\n\
                浙江,,家具,2023-W38,以旧换新补贴,市级,1200,8,\n\
                浙江,,家电,2023-10-03~2023-10-05,消费券,省级,500,4,\n";
    let source = Source::Bytes {
        name: "subsidies_330000.csv",
        bytes: text.as_bytes(),
    };
    let fate = ingest_file(&lake, &source, None, &campaign, &Profiles::default(), "t").unwrap();
    assert!(
        matches!(fate, homeseason_pipeline::Fate::Ingested { .. }),
        "{fate:?}"
    );
    let (from, to) = (campaign.window.start, campaign.window.end);
    let rows = completeness(&lake, from, to, &|_| true, &FEEDS).unwrap();
    let zhejiang: Vec<&CompletenessRow> = rows
        .iter()
        .filter(|r| r.region_code == "330000" && r.feed == tables::SUBSIDIES)
        .collect();
    let week = |m: u32, d: u32| NaiveDate::from_ymd_opt(2023, m, d).unwrap();
    // Due from ISO week 37 (Monday 11 September) to the window's last week (Monday 25 December).
    assert_eq!(zhejiang.first().map(|r| r.week_start), Some(week(9, 11)));
    assert_eq!(zhejiang.last().map(|r| r.week_start), Some(week(12, 25)));
    assert_eq!(zhejiang.len(), 16);
    for r in &zhejiang {
        let (status, n) = match r.week_start {
            w if w == week(9, 11) => ("present", 1),
            w if w == week(9, 18) => ("present", 2),
            w if w == week(10, 2) => ("present", 1),
            _ => ("missing", 0),
        };
        assert_eq!((r.status, r.rows), (status, n), "{r:?}");
        assert_eq!(r.files, u64::from(n > 0), "{r:?}");
    }
    assert!(
        !rows
            .iter()
            .any(|r| r.feed == tables::SUBSIDIES && r.region_code != "330000"),
        "a region that reported no subsidy is not due"
    );
}
