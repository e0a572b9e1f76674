//! Holiday-aware alignment of a day with comparable days `k` years earlier.

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::calendar::{self, DayType};
use polars::prelude::*;

use crate::Result;

/// The rule that matched a day (recorded in the alignment table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Same weekday and day type, 52·k weeks earlier ±2 weeks.
    SameWeekday,
    /// The same holiday block.
    HolidayBlock,
    /// Make-up workdays near the same date.
    MakeupWorkday,
    /// The same calendar date (shopping festivals).
    SameDate,
}

impl Rule {
    /// Stable id.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Rule::SameWeekday => "same_weekday",
            Rule::HolidayBlock => "holiday_block",
            Rule::MakeupWorkday => "makeup_workday",
            Rule::SameDate => "same_date",
        }
    }
}

/// Days of year `Y − lag` comparable with `date`, and the rule used. Empty when the calendar does not
/// cover the comparison year.
#[must_use]
pub fn reference_dates(date: NaiveDate, lag: u32) -> (Vec<NaiveDate>, Rule) {
    let lag_i = i64::from(lag);
    let base = date - Duration::days(364 * lag_i);
    let near = |days: i64| (-days..=days).map(move |o| base + Duration::days(o));
    let kind = calendar::day_type(date);
    let found: (Vec<NaiveDate>, Rule) = match kind {
        DayType::Holiday(h) => (
            near(40)
                .filter(|r| matches!(calendar::holiday(*r), Some((hh, _)) if hh == h))
                .collect(),
            Rule::HolidayBlock,
        ),
        DayType::ShoppingFestival(_) => {
            let same = NaiveDate::from_ymd_opt(
                date.year() - i32::try_from(lag).unwrap_or(1),
                date.month(),
                date.day(),
            );
            (same.into_iter().collect(), Rule::SameDate)
        }
        DayType::MakeupWorkday => {
            let m: Vec<NaiveDate> = near(40)
                .filter(|r| calendar::is_makeup_workday(*r))
                .collect();
            if m.is_empty() {
                (
                    near(3)
                        .filter(|r| calendar::day_type(*r) == DayType::Workday)
                        .collect(),
                    Rule::MakeupWorkday,
                )
            } else {
                (m, Rule::MakeupWorkday)
            }
        }
        DayType::Workday | DayType::Weekend => {
            let pick = |weeks: i64| -> Vec<NaiveDate> {
                (-weeks..=weeks)
                    .map(|w| base + Duration::weeks(w))
                    .filter(|r| calendar::day_type(*r) == kind)
                    .collect()
            };
            let p = pick(2);
            (if p.is_empty() { pick(4) } else { p }, Rule::SameWeekday)
        }
    };
    if found.0.iter().any(|d| !calendar::covers(*d)) || !calendar::covers(date) {
        return (Vec::new(), found.1);
    }
    found
}

/// The alignment of every day of `days` with year `Y − lag`: `target_date`, `reference_date`, `rule`.
///
/// # Errors
/// Only on an internal frame failure.
pub fn alignment_table(days: impl Iterator<Item = NaiveDate>, lag: u32) -> Result<DataFrame> {
    let (mut t, mut r, mut rule) = (Vec::new(), Vec::new(), Vec::new());
    for d in days {
        let (refs, why) = reference_dates(d, lag);
        for x in refs {
            t.push(d);
            r.push(x);
            rule.push(why.id());
        }
    }
    Ok(df!("target_date" => t, "reference_date" => r, "rule" => rule)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn mid_autumn_meets_mid_autumn() {
        let (refs, rule) = reference_dates(d(2023, 9, 29), 1);
        assert_eq!(rule, Rule::HolidayBlock);
        assert_eq!(refs, vec![d(2022, 9, 10), d(2022, 9, 11), d(2022, 9, 12)]);
        let (refs, _) = reference_dates(d(2023, 10, 3), 1);
        assert_eq!(refs.len(), 7);
        assert!(refs.iter().all(|r| r.month() == 10 && r.day() <= 7));
    }

    #[test]
    fn ordinary_days_keep_their_weekday_and_skip_holidays() {
        // Sat 9 Sept 2023 → Saturdays around 10 Sept 2022, but 10 Sept 2022 was Mid-Autumn.
        let (refs, rule) = reference_dates(d(2023, 9, 9), 1);
        assert_eq!(rule, Rule::SameWeekday);
        assert!(!refs.contains(&d(2022, 9, 10)));
        assert!(refs.iter().all(|r| r.weekday() == chrono::Weekday::Sat));
        let (refs, _) = reference_dates(d(2023, 11, 11), 2);
        assert_eq!(refs, vec![d(2021, 11, 11)]);
        let (refs, _) = reference_dates(d(2023, 10, 7), 1);
        assert!(refs.contains(&d(2022, 10, 8)));
    }
}
