//! The weekly activity summary the ministry asks for: how many campaign activities each region held,
//! by week and type, with their participating enterprises and brands.
//!
//! ## Input
//! The lake's `activities` table (`activity_id`, `region_code`, `name`, `type`, `start_date`,
//! `end_date`, `enterprise_count`, `brand_count`, `local_station`; other columns are ignored).
//!
//! ## Rules
//! 1. **Duplicates across re-submissions are removed.** A region's register arrives more than once
//!    (a corrected file, a supplement). Within a region, rows with the same `activity_id` are one
//!    activity; so are rows with the same name (trimmed) and the same start date under different ids
//!    (renumbered in a re-submission). Of duplicates, the row with the latest start date (then end date)
//!    is kept: a rescheduled activity counts once, when it is held.
//! 2. **An activity counts once, in the ISO week it starts** (`week_start` = the Monday on or before
//!    `start_date`). The ministry counts activities held, and their enterprises and brands, so a
//!    two-week carnival is one activity, not two: summing `activities`, `enterprises` or `brands` over
//!    weeks gives the totals of the register without double counting.
//! 3. **Sums.** Per `region_code` × `week_start` × `activity_type`: `activities` (count), `enterprises`
//!    (Σ `enterprise_count`; an enterprise in two activities counts twice, as the registers report),
//!    `brands` (Σ `brand_count`), `local_station_activities` (how many are local stations, 地方站).
//!    Missing counts add nothing.
//!
//! ## Output
//! The `activity_summary` contract (`data-schemas/activity_summary.json`), sorted by region, week and
//! type. No national rows are added: the national figure is the sum over regions.

use polars::prelude::*;

use crate::Result;

/// Columns of the output, in contract order.
pub const COLUMNS: [&str; 7] = [
    "region_code",
    "week_start",
    "activity_type",
    "activities",
    "enterprises",
    "brands",
    "local_station_activities",
];

fn empty() -> Result<DataFrame> {
    Ok(DataFrame::new(
        0,
        vec![
            Column::new_empty("region_code".into(), &DataType::String),
            Column::new_empty("week_start".into(), &DataType::Date),
            Column::new_empty("activity_type".into(), &DataType::String),
            Column::new_empty("activities".into(), &DataType::Int64),
            Column::new_empty("enterprises".into(), &DataType::Int64),
            Column::new_empty("brands".into(), &DataType::Int64),
            Column::new_empty("local_station_activities".into(), &DataType::Int64),
        ],
    )?)
}

/// The register's `name`, trimmed, as the column `__name` that [`one_row_per_activity`] reads.
pub(crate) fn trimmed_name() -> Expr {
    col("name")
        .cast(DataType::String)
        .str()
        .strip_chars(lit(NULL))
        .alias("__name")
}

/// One row per activity of `activities` (with `region_code`, `activity_id`, `__name` from
/// [`trimmed_name`], `start_date`, `end_date`): a repeated id, or the same name starting the same
/// day in the same region, keeps the row with the latest start (then end); ties are broken by id,
/// so the result does not depend on the files' order.
pub(crate) fn one_row_per_activity(activities: LazyFrame) -> LazyFrame {
    activities
        .sort(
            ["region_code", "start_date", "end_date", "activity_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .unique_stable(
            Some(cols(["region_code", "activity_id"])),
            UniqueKeepStrategy::Last,
        )
        .unique_stable(
            Some(cols(["region_code", "__name", "start_date"])),
            UniqueKeepStrategy::Last,
        )
}

/// Summarise the activities register by region × ISO week (of the start date) × type, after removing
/// duplicates across re-submissions (see the module docs for the rules).
///
/// An empty frame (or one without columns, as an absent lake table reads) gives an empty summary.
///
/// # Errors
/// When a required column is missing or has the wrong type.
pub fn activity_summary(activities: &DataFrame) -> Result<DataFrame> {
    if activities.height() == 0 {
        return empty();
    }
    let opt_count = |name: &str| -> Expr {
        if activities.column(name).is_ok() {
            col(name).cast(DataType::Int64).fill_null(lit(0i64))
        } else {
            lit(0i64)
        }
    };
    let local = if activities.column("local_station").is_ok() {
        col("local_station")
            .cast(DataType::Int64)
            .fill_null(lit(0i64))
    } else {
        lit(0i64)
    };
    let days = col("start_date").cast(DataType::Int32);
    // 1970-01-01 was a Thursday: (days + 3) mod 7 is the number of days since Monday.
    let since_monday = ((days.clone() + lit(3i32)) % lit(7i32) + lit(7i32)) % lit(7i32);
    let frame = activities.clone().lazy().select([
        col("region_code").cast(DataType::String),
        col("activity_id").cast(DataType::String),
        trimmed_name(),
        col("type").cast(DataType::String).alias("activity_type"),
        col("start_date").cast(DataType::Date),
        col("end_date").cast(DataType::Date),
        (days - since_monday)
            .cast(DataType::Date)
            .alias("week_start"),
        opt_count("enterprise_count").alias("__enterprises"),
        opt_count("brand_count").alias("__brands"),
        local.alias("__local"),
    ]);
    let frame = one_row_per_activity(frame)
        .group_by([col("region_code"), col("week_start"), col("activity_type")])
        .agg([
            len().cast(DataType::Int64).alias("activities"),
            col("__enterprises").sum().alias("enterprises"),
            col("__brands").sum().alias("brands"),
            col("__local").sum().alias("local_station_activities"),
        ])
        .sort(
            ["region_code", "week_start", "activity_type"],
            SortMultipleOptions::default(),
        )
        .select(COLUMNS.map(col))
        .collect()?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn counts_in_the_start_week_and_removes_resubmitted_duplicates() {
        let acts = df!(
            "activity_id" => ["A1", "A2", "A3", "A1", "B1", "A9"],
            "region_code" => ["330000", "330000", "330000", "330000", "440000", "330000"],
            "name" => ["焕新节", "直播节", "嘉年华", "焕新节", "家博会", " 嘉年华"],
            "type" => ["shopping_festival", "ecommerce_live_festival", "carnival", "shopping_festival", "trade_show", "carnival"],
            // A1 twice (re-submitted), A9 is A3 renumbered; A3 spans two weeks.
            "start_date" => [d("2023-09-11"), d("2023-09-17"), d("2023-09-15"), d("2023-09-11"), d("2023-09-18"), d("2023-09-15")],
            "end_date" => [d("2023-09-12"), d("2023-09-17"), d("2023-09-24"), d("2023-09-12"), d("2023-09-20"), d("2023-09-24")],
            "enterprise_count" => [Some(10i64), Some(5), Some(7), Some(10), None, Some(7)],
            "brand_count" => [20i64, 6, 9, 20, 3, 9],
            "local_station" => [true, false, true, true, false, true],
        )
        .unwrap();
        let s = activity_summary(&acts).unwrap();
        let names: Vec<&str> = s.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, COLUMNS.to_vec());
        assert_eq!(s.height(), 4, "{s}");
        let row = |i: usize| -> (String, String, String, i64, i64, i64, i64) {
            use crate::test_frames::{n, s as text};
            (
                text(&s, "region_code", i),
                s.column("week_start").unwrap().get(i).unwrap().to_string(),
                text(&s, "activity_type", i),
                n(&s, "activities", i),
                n(&s, "enterprises", i),
                n(&s, "brands", i),
                n(&s, "local_station_activities", i),
            )
        };
        // Week of Monday 11 Sept: A1 (once), A2 (Sunday 17th), A3/A9 (once).
        assert_eq!(
            row(0),
            (
                "330000".into(),
                "2023-09-11".into(),
                "carnival".into(),
                1,
                7,
                9,
                1
            )
        );
        assert_eq!(
            row(1),
            (
                "330000".into(),
                "2023-09-11".into(),
                "ecommerce_live_festival".into(),
                1,
                5,
                6,
                0
            )
        );
        assert_eq!(
            row(2),
            (
                "330000".into(),
                "2023-09-11".into(),
                "shopping_festival".into(),
                1,
                10,
                20,
                1
            )
        );
        assert_eq!(
            row(3),
            (
                "440000".into(),
                "2023-09-18".into(),
                "trade_show".into(),
                1,
                0,
                3,
                0
            )
        );
        let total: i64 = s
            .column("activities")
            .unwrap()
            .i64()
            .unwrap()
            .sum()
            .unwrap();
        assert_eq!(total, 4);
    }

    #[test]
    fn empty_register_gives_an_empty_summary() {
        let s = activity_summary(&DataFrame::empty()).unwrap();
        assert_eq!(s.height(), 0);
        assert_eq!(s.width(), COLUMNS.len());
    }
}
