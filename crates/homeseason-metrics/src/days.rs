//! The calendar's answers for a day, looked up in a table built once per process.
//!
//! [`homeseason_schema::calendar`] classifies a day by scanning its tables of holiday blocks and
//! make-up workdays, building dates as it goes; the estimators ask about the same few thousand days
//! millions of times (each aligned day, each regression design row, each break-test day), and
//! those scans were a tenth of `uplift`'s time. The table holds the calendar's own answers for
//! every day of the years it covers and three years either side (outside, the calendar itself
//! answers), so every answer is the calendar's.

use std::sync::LazyLock;

use chrono::NaiveDate;
use homeseason_schema::calendar::{self, DayType, Holiday};

/// One day's answers.
#[derive(Clone, Copy)]
struct Day {
    kind: DayType,
    holiday: Option<(Holiday, NaiveDate)>,
    makeup: bool,
}

/// The days from `first` on, one entry per day.
struct Table {
    first: NaiveDate,
    days: Vec<Day>,
}

/// Years beyond the calendar's own on either side that the table also holds.
const MARGIN_YEARS: i32 = 3;

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let (y0, y1) = calendar::YEARS;
    let first = NaiveDate::from_ymd_opt(y0 - MARGIN_YEARS, 1, 1).expect("a valid first day");
    let last = NaiveDate::from_ymd_opt(y1 + MARGIN_YEARS, 12, 31).expect("a valid last day");
    let days = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| Day {
            kind: calendar::day_type(d),
            holiday: calendar::holiday(d),
            makeup: calendar::is_makeup_workday(d),
        })
        .collect();
    Table { first, days }
});

fn entry(date: NaiveDate) -> Option<&'static Day> {
    let table = &*TABLE;
    let i = usize::try_from((date - table.first).num_days()).ok()?;
    table.days.get(i)
}

/// [`calendar::day_type`].
pub(crate) fn day_type(date: NaiveDate) -> DayType {
    entry(date).map_or_else(|| calendar::day_type(date), |d| d.kind)
}

/// [`calendar::holiday`].
pub(crate) fn holiday(date: NaiveDate) -> Option<(Holiday, NaiveDate)> {
    entry(date).map_or_else(|| calendar::holiday(date), |d| d.holiday)
}

/// [`calendar::is_makeup_workday`].
pub(crate) fn is_makeup_workday(date: NaiveDate) -> bool {
    entry(date).map_or_else(|| calendar::is_makeup_workday(date), |d| d.makeup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_the_calendars() {
        let (y0, y1) = calendar::YEARS;
        // Inside the table, at its edges and beyond them on both sides.
        let first = NaiveDate::from_ymd_opt(y0 - MARGIN_YEARS - 2, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(y1 + MARGIN_YEARS + 2, 12, 31).unwrap();
        let mut holidays = 0;
        for d in first.iter_days().take_while(|d| *d <= last) {
            assert_eq!(day_type(d), calendar::day_type(d), "{d}");
            assert_eq!(holiday(d), calendar::holiday(d), "{d}");
            assert_eq!(is_makeup_workday(d), calendar::is_makeup_workday(d), "{d}");
            holidays += usize::from(holiday(d).is_some());
        }
        assert!(holidays > 100, "the range holds the calendar's holidays");
    }
}
