//! Data completeness per region × feed × week (the `data_completeness` contract), computed from the
//! lake: written by the pipeline, answered by the server's completeness endpoint.
//!
//! Rows are the reporting regions (provinces, plan cities, the corps), never the national total
//! `000000`, and each feed is judged by what it is due:
//!
//! - **payments** and **enterprise sales**: every region, every week. A week is `present` when accepted
//!   rows cover it (payment rows by their date; enterprise sales by their period, a month covering every
//!   week it touches), `missing` otherwise.
//! - **社零 (retail statistics)**: the provinces only (statistics bureaus publish by province; plan
//!   cities and the corps are not due and get no rows), by month as above.
//! - **activities**: the register is due once per region. A region that delivered it is `present`
//!   every week, with `rows` counting its activities by the register's own rule
//!   ([`activity_week`]: once, in the week of the start date) — a week without an activity is not a
//!   missing delivery; a region without a register is `missing` every week.
//! - **subsidies (补贴/消费券)**: due from a region once it reports any. The notice encourages local
//!   subsidies, it does not require them, so a region that never reported a subsidy row is not due
//!   and has no rows; a region that did is due every week from the week its earliest reported
//!   period starts (a region may start paying after the window opens) to the end of the range. A
//!   due week is `present` when a reported period (an ISO week, a month or a date range) touches
//!   it, `missing` otherwise — a region that stopped reporting, or skipped a week, shows up.
//!   `rows` counts the subsidy rows whose period touches the week.
//!
//! A cell is `revised` when a partition holding its rows has been replaced by a later file
//! (version > 1). `files` counts the distinct source files behind the rows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use homeseason_lake::Lake;
use homeseason_schema::calendar::activity_week;
use homeseason_schema::contract::tables;
use homeseason_schema::region::{RegionLevel, Regions};
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;

/// The feeds of the completeness table (lake tables).
pub const FEEDS: [&str; 5] = [
    tables::PAYMENT_DAILY,
    tables::ENTERPRISE_SALES,
    tables::RETAIL_STATS,
    tables::ACTIVITIES,
    tables::SUBSIDIES,
];

/// One row of the completeness table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletenessRow {
    /// Region key.
    pub region_code: String,
    /// Chinese region name.
    pub region_name: String,
    /// Feed (lake table).
    pub feed: String,
    /// Monday of the week.
    pub week_start: NaiveDate,
    /// `present`, `missing` or `revised`.
    pub status: &'static str,
    /// Accepted rows.
    pub rows: u64,
    /// Source files behind them.
    pub files: u64,
}

pub use homeseason_schema::calendar::week_start;

#[derive(Default)]
struct Cell {
    rows: u64,
    files: BTreeSet<String>,
    revised: bool,
}

type Cells = BTreeMap<(String, String, NaiveDate), Cell>;

fn from_days(days: i32) -> NaiveDate {
    homeseason_schema::calendar::from_epoch_days(days).unwrap_or_default()
}

/// Some columns of one file, dates as their day numbers (`Int32`). Each column is cast on its
/// own: a lazy query per file would cost more than the file's few rows (a feed has thousands).
fn read(lake: &Lake, path: &std::path::Path, columns: &[&str]) -> Result<DataFrame> {
    let frame = lake.read_file(path, columns)?;
    let columns = columns
        .iter()
        .map(|c| {
            let column = frame.column(c)?;
            match column.dtype() {
                DataType::Date => column.cast(&DataType::Int32),
                _ => Ok(column.clone()),
            }
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}

/// The cells of one file, merged into the table's once (rather than once per row and week).
#[derive(Default)]
struct FileCells<'a> {
    rows: BTreeMap<(&'a str, NaiveDate), u64>,
}

impl<'a> FileCells<'a> {
    fn add(&mut self, region: &'a str, week: NaiveDate, rows: u64) {
        *self.rows.entry((region, week)).or_default() += rows;
    }

    /// One row in every week the range `start..=end` touches.
    fn add_range(&mut self, region: &'a str, start: NaiveDate, end: NaiveDate) {
        let mut w = week_start(start);
        let last = week_start(end.max(start));
        while w <= last {
            self.add(region, w, 1);
            w = w + Days::new(7);
        }
    }

    fn merge(self, cells: &mut Cells, feed: &str, source: &str, revised: bool) {
        for ((region, week), rows) in self.rows {
            let cell = cells
                .entry((region.to_owned(), feed.to_owned(), week))
                .or_default();
            cell.rows += rows;
            if !cell.files.contains(source) {
                cell.files.insert(source.to_owned());
            }
            cell.revised |= revised;
        }
    }
}

fn month_range(period: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = period.trim().split_once('-')?;
    let start = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
    let end = start.checked_add_months(chrono::Months::new(1))? - Days::new(1);
    Some((start, end))
}

/// Completeness for weeks from `from` to `to` (inclusive), for the regions `keep_region` admits.
///
/// # Errors
/// Lake or Parquet failures.
pub fn completeness(
    lake: &Lake,
    from: NaiveDate,
    to: NaiveDate,
    keep_region: &dyn Fn(&str) -> bool,
    feeds: &[&str],
) -> Result<Vec<CompletenessRow>> {
    let manifest = lake.manifest()?;
    let mut cells: Cells = BTreeMap::new();
    // Regions that delivered an activities register (any file), with its files.
    let mut delivered: BTreeMap<String, Cell> = BTreeMap::new();
    // Regions that reported any subsidy, with the first day of their earliest period.
    let mut subsidy_first: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for feed in FEEDS.iter().filter(|f| feeds.contains(f)) {
        for (path, parts) in lake.files(feed)? {
            // The partition's path as the manifest names it (files are read from the table's
            // current snapshot).
            let rel = lake.partition_rel(&path).unwrap_or_default();
            let (source, revised) = manifest
                .partitions
                .get(&rel)
                .map_or((rel.clone(), false), |p| {
                    (p.source_sha256.clone(), p.version > 1)
                });
            let path_region = parts.get("region_code").cloned();
            if let Some(r) = &path_region
                && !keep_region(r)
            {
                continue;
            }
            match *feed {
                f if f == tables::PAYMENT_DAILY => {
                    // Rows per region and week (Monday: day − (day + 3) mod 7 in days since 1970).
                    let frame = read(lake, &path, &["date", "region_code"])?;
                    let regions = frame.column("region_code")?.str()?;
                    let days = frame.column("date")?.i32()?;
                    let mut counts: BTreeMap<(&str, i32), u64> = BTreeMap::new();
                    for (r, d) in regions.iter().zip(days.iter()) {
                        let (Some(r), Some(d)) = (r, d) else {
                            continue;
                        };
                        *counts.entry((r, d - (d + 3).rem_euclid(7))).or_default() += 1;
                    }
                    let mut file = FileCells::default();
                    for ((r, w), n) in counts {
                        if keep_region(r) {
                            file.add(r, from_days(w), n);
                        }
                    }
                    file.merge(&mut cells, f, &source, revised);
                }
                f if f == tables::SUBSIDIES => {
                    // Region and period are columns of the file (the path holds the period only).
                    let frame = read(lake, &path, &["region_code", "period_start", "period_end"])?;
                    let regions = frame.column("region_code")?.str()?;
                    let starts = frame.column("period_start")?.cast(&DataType::Int32)?;
                    let ends = frame.column("period_end")?.cast(&DataType::Int32)?;
                    let mut file = FileCells::default();
                    for ((r, s), e) in regions
                        .iter()
                        .zip(starts.i32()?.iter())
                        .zip(ends.i32()?.iter())
                    {
                        let (Some(r), Some(s)) = (r, s) else {
                            continue;
                        };
                        if !keep_region(r) {
                            continue;
                        }
                        let (s, e) = (from_days(s), from_days(e.unwrap_or(s)));
                        match subsidy_first.get_mut(r) {
                            Some(d) => *d = (*d).min(s),
                            None => {
                                subsidy_first.insert(r.to_owned(), s);
                            }
                        }
                        file.add_range(r, s, e);
                    }
                    file.merge(&mut cells, f, &source, revised);
                }
                f => {
                    let Some(region) = path_region.as_deref() else {
                        continue;
                    };
                    let ranges: Vec<(NaiveDate, NaiveDate)> = if f == tables::RETAIL_STATS {
                        // `period` is a partition key: it is in the path, not in the file.
                        parts
                            .get("period")
                            .and_then(|p| month_range(p))
                            .into_iter()
                            .collect()
                    } else {
                        let (a, b) = if f == tables::ENTERPRISE_SALES {
                            ("period_start", "period_end")
                        } else {
                            ("start_date", "end_date")
                        };
                        let frame = read(lake, &path, &[a, b])?;
                        let starts = frame.column(a)?.cast(&DataType::Int32)?;
                        let ends = frame.column(b)?.cast(&DataType::Int32)?;
                        starts
                            .i32()?
                            .iter()
                            .zip(ends.i32()?.iter())
                            .filter_map(|(s, e)| Some((from_days(s?), from_days(e.or(s)?))))
                            .collect()
                    };
                    let mut file = FileCells::default();
                    if f == tables::ACTIVITIES {
                        let delivered = delivered.entry(region.to_owned()).or_default();
                        delivered.files.insert(source.clone());
                        delivered.revised |= revised;
                        for (s, _) in ranges {
                            file.add(region, activity_week(s), 1);
                        }
                    } else {
                        for (s, e) in ranges {
                            file.add_range(region, s, e);
                        }
                    }
                    file.merge(&mut cells, f, &source, revised);
                }
            }
        }
    }
    let mut out = Vec::new();
    let regions = Regions::embedded();
    let first = week_start(from);
    // The reporting regions only: never the national total (000000) or codes outside the list.
    for region in regions.all().iter().filter(|r| keep_region(&r.code)) {
        for feed in FEEDS.iter().filter(|f| feeds.contains(f)) {
            if *feed == tables::RETAIL_STATS && region.level != RegionLevel::Province {
                continue;
            }
            // Subsidies: due from the week of the region's earliest period, if it reported any.
            let due_from = if *feed == tables::SUBSIDIES {
                match subsidy_first.get(&region.code) {
                    Some(d) => week_start(*d).max(first),
                    None => continue,
                }
            } else {
                first
            };
            let register = (*feed == tables::ACTIVITIES)
                .then(|| delivered.get(&region.code))
                .flatten();
            let mut w = due_from;
            while w <= to {
                let cell = cells.get(&(region.code.clone(), (*feed).to_owned(), w));
                let (rows, files, revised) =
                    cell.map_or((0, 0, false), |c| (c.rows, c.files.len() as u64, c.revised));
                let (due_met, files, revised) = match (*feed == tables::ACTIVITIES, register) {
                    (true, Some(reg)) => (true, reg.files.len() as u64, reg.revised),
                    (true, None) => (false, 0, false),
                    (false, _) => (rows > 0, files, revised),
                };
                out.push(CompletenessRow {
                    region_code: region.code.clone(),
                    region_name: region.name_zh.clone(),
                    feed: (*feed).to_owned(),
                    week_start: w,
                    status: if !due_met {
                        "missing"
                    } else if revised {
                        "revised"
                    } else {
                        "present"
                    },
                    rows,
                    files,
                });
                w = w + Days::new(7);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn weeks() {
        let d = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap(); // a Friday
        assert_eq!(week_start(d), NaiveDate::from_ymd_opt(2023, 8, 28).unwrap());
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(from_days(19_600), epoch + Days::new(19_600));
        // The polars expression's Monday rule agrees with chrono's.
        for days in 19_590..19_605 {
            let monday = days - ((days + 3) % 7);
            assert_eq!(from_days(monday), week_start(from_days(days)));
        }
        // The direct count's rule is the polars expression it replaced, before 1970 too
        // (polars' integer `%` is floored, as `rem_euclid` by a positive divisor).
        let days: Vec<i32> = (-30..30).chain(19_590..19_605).collect();
        let frame = df!("date" => &days).unwrap();
        let weeks = frame
            .lazy()
            .select([(col("date") - ((col("date") + lit(3)) % lit(7))).alias("week")])
            .collect()
            .unwrap();
        let weeks: Vec<Option<i32>> = weeks
            .column("week")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        for (d, w) in days.iter().zip(weeks) {
            assert_eq!(Some(d - (d + 3).rem_euclid(7)), w, "day {d}");
            assert_eq!(
                from_days(d - (d + 3).rem_euclid(7)),
                week_start(from_days(*d))
            );
        }
        let (s, e) = month_range("2023-02").unwrap();
        assert_eq!(e - s, chrono::TimeDelta::days(27));
    }
}
