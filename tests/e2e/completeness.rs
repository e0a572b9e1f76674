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
