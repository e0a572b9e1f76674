//! Date-partitioned output tables: `weekly_tracking` is written one Hive partition per report week
//! (`as_of_week=2023-09-03`), read back with `as_of_week` as a date, checks clean against its
//! contract, and a rewrite drops partitions the new version no longer holds.

use chrono::NaiveDate;
use homeseason_lake::{Lake, PartitionKey, partition_keys};
use homeseason_schema::contract::tables;
use polars::prelude::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// Two regions × the given report weeks, one row each, in the `weekly_tracking` contract.
fn tracking(weeks: &[&str]) -> DataFrame {
    let mut as_of = Vec::new();
    let mut region = Vec::new();
    let mut start = Vec::new();
    let mut end = Vec::new();
    let mut actual = Vec::new();
    let mut wow = Vec::new();
    for (i, w) in weeks.iter().enumerate() {
        for r in ["330000", "XPCC"] {
            let sunday = day(w);
            as_of.push(sunday);
            region.push(r);
            start.push(sunday - chrono::Duration::days(6));
            end.push(sunday);
            actual.push(100.0 + i as f64);
            wow.push(if i == 0 { None } else { Some(1.0) });
        }
    }
    let n = as_of.len();
    df!(
        "as_of_week" => as_of,
        "region_code" => region,
        "category" => vec!["all_targeted"; n],
        "method" => vec!["two_year"; n],
        "week_start" => start,
        "week_end" => end,
        "week_actual_yuan" => actual.clone(),
        "week_baseline_yuan" => vec![90.0; n],
        "week_uplift_pct" => vec![10.0; n],
        "cum_actual_yuan" => actual,
        "cum_baseline_yuan" => vec![90.0; n],
        "cum_uplift_abs_yuan" => vec![10.0; n],
        "cum_uplift_pct" => vec![11.1; n],
        "wow_change_pct" => wow,
    )
    .expect("frame")
}

#[test]
fn weekly_tracking_is_partitioned_by_as_of_week() {
    assert_eq!(
        partition_keys(tables::WEEKLY_TRACKING),
        &[PartitionKey::Column("as_of_week")]
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = Lake::open(tmp.path()).expect("lake");
    let frame = tracking(&["2023-09-03", "2023-09-10", "2023-09-17"]);
    let paths = lake
        .write_output(tables::WEEKLY_TRACKING, &frame)
        .expect("written");
    let rel: Vec<String> = paths
        .iter()
        .map(|p| {
            assert!(p.starts_with(tmp.path()), "inside the lake");
            lake.partition_rel(p).expect("a partition path")
        })
        .collect();
    assert_eq!(
        rel,
        [
            "weekly_tracking/as_of_week=2023-09-03/data.parquet",
            "weekly_tracking/as_of_week=2023-09-10/data.parquet",
            "weekly_tracking/as_of_week=2023-09-17/data.parquet",
        ]
    );
    // The column lives in the path only.
    let file = std::fs::File::open(&paths[0]).expect("open");
    let part = ParquetReader::new(file).finish().expect("read");
    assert!(part.column("as_of_week").is_err(), "{:?}", part.schema());
    assert_eq!(part.height(), 2);

    let back = lake.read_table(tables::WEEKLY_TRACKING).expect("read back");
    assert_eq!(back.height(), frame.height());
    assert_eq!(
        back.column("as_of_week").expect("column").dtype(),
        &DataType::Date
    );
    let sorted = back
        .sort(
            ["as_of_week", "region_code"],
            SortMultipleOptions::default(),
        )
        .expect("sort");
    assert!(
        sorted.equals_missing(&frame),
        "round trip differs:\n{sorted}\n{frame}"
    );
    assert!(
        lake.check_table(tables::WEEKLY_TRACKING)
            .expect("checked")
            .is_empty()
    );
}

#[test]
fn rewriting_a_partitioned_output_drops_stale_partitions() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = Lake::open(tmp.path()).expect("lake");
    lake.write_output(
        tables::WEEKLY_TRACKING,
        &tracking(&["2023-09-03", "2023-09-10", "2023-09-17"]),
    )
    .expect("first version");
    lake.write_output(
        tables::WEEKLY_TRACKING,
        &tracking(&["2023-09-03", "2023-09-10"]),
    )
    .expect("second version");
    let files = lake.files(tables::WEEKLY_TRACKING).expect("files");
    let weeks: Vec<&str> = files
        .iter()
        .map(|(_, parts)| parts["as_of_week"].as_str())
        .collect();
    assert_eq!(weeks, ["2023-09-03", "2023-09-10"]);
    assert!(
        !lake
            .partition_path("weekly_tracking/as_of_week=2023-09-17/data.parquet")
            .expect("path")
            .exists(),
        "the stale partition's folder is removed too"
    );
    assert_eq!(
        lake.read_table(tables::WEEKLY_TRACKING)
            .expect("read")
            .height(),
        4
    );
}
