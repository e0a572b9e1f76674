//! Chinese public holidays, make-up workdays and shopping festivals, 2021–2024.
//!
//! Transcribed from the State Council General Office's annual notices on holiday arrangements
//! (国务院办公厅关于20XX年部分节假日安排的通知). Mid-Autumn moved from 10 Sept in 2022 to 29 Sept in
//! 2023, where it merged with National Day into one eight-day block: aligning days by type rather
//! than by date is what keeps year-on-year baselines honest.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A named public-holiday block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    /// 元旦 New Year's Day.
    NewYear,
    /// 春节 Spring Festival.
    SpringFestival,
    /// 清明 Qingming.
    Qingming,
    /// 劳动节 Labour Day.
    LabourDay,
    /// 端午 Dragon Boat Festival.
    DragonBoat,
    /// 中秋 Mid-Autumn Festival.
    MidAutumn,
    /// 国庆 National Day (Golden Week); in 2023 merged with Mid-Autumn.
    NationalDay,
}

impl Holiday {
    /// Chinese name.
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        match self {
            Holiday::NewYear => "元旦",
            Holiday::SpringFestival => "春节",
            Holiday::Qingming => "清明",
            Holiday::LabourDay => "劳动节",
            Holiday::DragonBoat => "端午",
            Holiday::MidAutumn => "中秋",
            Holiday::NationalDay => "国庆",
        }
    }
}

/// The kind of a calendar day for retail purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    /// An ordinary Monday–Friday working day.
    Workday,
    /// An ordinary Saturday or Sunday off.
    Weekend,
    /// A statutory day off inside a holiday block.
    Holiday(Holiday),
    /// A Saturday or Sunday worked to make up for a holiday (调休上班).
    MakeupWorkday,
    /// A fixed-date online shopping festival (6.18, 11.11, 12.12) that is not also a holiday.
    ShoppingFestival(ShoppingFestival),
}

/// Fixed-date shopping festivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShoppingFestival {
    /// 6.18 mid-year sale.
    Jun18,
    /// 11.11 Singles' Day (双十一).
    Double11,
    /// 12.12 (双十二).
    Double12,
}

type Block = (Holiday, (i32, u32, u32), (i32, u32, u32));

const HOLIDAYS: &[Block] = &[
    (Holiday::NewYear, (2021, 1, 1), (2021, 1, 3)),
    (Holiday::SpringFestival, (2021, 2, 11), (2021, 2, 17)),
    (Holiday::Qingming, (2021, 4, 3), (2021, 4, 5)),
    (Holiday::LabourDay, (2021, 5, 1), (2021, 5, 5)),
    (Holiday::DragonBoat, (2021, 6, 12), (2021, 6, 14)),
    (Holiday::MidAutumn, (2021, 9, 19), (2021, 9, 21)),
    (Holiday::NationalDay, (2021, 10, 1), (2021, 10, 7)),
    (Holiday::NewYear, (2022, 1, 1), (2022, 1, 3)),
    (Holiday::SpringFestival, (2022, 1, 31), (2022, 2, 6)),
    (Holiday::Qingming, (2022, 4, 3), (2022, 4, 5)),
    (Holiday::LabourDay, (2022, 4, 30), (2022, 5, 4)),
    (Holiday::DragonBoat, (2022, 6, 3), (2022, 6, 5)),
    (Holiday::MidAutumn, (2022, 9, 10), (2022, 9, 12)),
    (Holiday::NationalDay, (2022, 10, 1), (2022, 10, 7)),
    (Holiday::NewYear, (2022, 12, 31), (2023, 1, 2)),
    (Holiday::SpringFestival, (2023, 1, 21), (2023, 1, 27)),
    (Holiday::Qingming, (2023, 4, 5), (2023, 4, 5)),
    (Holiday::LabourDay, (2023, 4, 29), (2023, 5, 3)),
    (Holiday::DragonBoat, (2023, 6, 22), (2023, 6, 24)),
    (Holiday::MidAutumn, (2023, 9, 29), (2023, 9, 29)),
    (Holiday::NationalDay, (2023, 9, 30), (2023, 10, 6)),
    (Holiday::NewYear, (2023, 12, 30), (2024, 1, 1)),
    (Holiday::SpringFestival, (2024, 2, 10), (2024, 2, 17)),
    (Holiday::Qingming, (2024, 4, 4), (2024, 4, 6)),
    (Holiday::LabourDay, (2024, 5, 1), (2024, 5, 5)),
    (Holiday::DragonBoat, (2024, 6, 8), (2024, 6, 10)),
    (Holiday::MidAutumn, (2024, 9, 15), (2024, 9, 17)),
    (Holiday::NationalDay, (2024, 10, 1), (2024, 10, 7)),
];

const MAKEUP_WORKDAYS: &[(i32, u32, u32)] = &[
    (2021, 2, 7),
    (2021, 2, 20),
    (2021, 4, 25),
    (2021, 5, 8),
    (2021, 9, 18),
    (2021, 9, 26),
    (2021, 10, 9),
    (2022, 1, 29),
    (2022, 1, 30),
    (2022, 4, 2),
    (2022, 4, 24),
    (2022, 5, 7),
    (2022, 10, 8),
    (2022, 10, 9),
    (2023, 1, 28),
    (2023, 1, 29),
    (2023, 4, 23),
    (2023, 5, 6),
    (2023, 6, 25),
    (2023, 10, 7),
    (2023, 10, 8),
    (2024, 2, 4),
    (2024, 2, 18),
    (2024, 4, 7),
    (2024, 4, 28),
    (2024, 5, 11),
    (2024, 9, 14),
    (2024, 9, 29),
    (2024, 10, 12),
];

/// First and last year the calendar covers.
pub const YEARS: (i32, i32) = (2021, 2024);

fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("calendar tables hold valid dates")
}

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 1970-01-01 (day 0 of Arrow's
/// `Date32`, which polars and Parquet use).
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

/// The date of an Arrow/Parquet `Date32` value (days since 1970-01-01).
#[must_use]
pub fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_FROM_CE)?)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), in integer arithmetic (Howard
/// Hinnant's `days_from_civil`): the transaction readers call it per row, where chrono's checked
/// constructors would cost more than the parse. `m` is 1–12 and `d` a valid day of it.
#[must_use]
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// (year, month, day) of days since 1970-01-01 (proleptic Gregorian), the inverse of
/// [`days_from_civil`].
#[must_use]
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days in month `m` (1–12) of year `y`.
#[must_use]
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Monday of the (Monday–Sunday) week holding `date`: the week every weekly table and report uses.
#[must_use]
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// The activities register's week rule, shared by the weekly summary (`activity_summary`), the
/// workbook's 活动周度汇总 sheet, the template's notes and the data-completeness table: an activity
/// counts once, in the week (Monday to Sunday) of its start date.
#[must_use]
pub fn activity_week(start: NaiveDate) -> NaiveDate {
    week_start(start)
}

/// [`activity_week`] in Chinese, as the workbook and the template state it.
pub const ACTIVITY_WEEK_RULE_ZH: &str = "一项活动只计一次，计入其开始日期所在的周（周一至周日）";

/// [`activity_week`] in English, as the workbook and the template state it.
pub const ACTIVITY_WEEK_RULE_EN: &str =
    "an activity counts once, in the week (Monday to Sunday) of its start date";

/// Sunday ending the (Monday–Sunday) week holding `date`.
#[must_use]
pub fn week_end(date: NaiveDate) -> NaiveDate {
    week_start(date) + chrono::Days::new(6)
}

/// The holiday block a date falls in, if any, with the block's first day.
#[must_use]
pub fn holiday(date: NaiveDate) -> Option<(Holiday, NaiveDate)> {
    HOLIDAYS.iter().find_map(|&(h, s, e)| {
        let (s, e) = (ymd(s), ymd(e));
        (s <= date && date <= e).then_some((h, s))
    })
}

/// Whether a date is a make-up workday (a Saturday or Sunday worked).
#[must_use]
pub fn is_makeup_workday(date: NaiveDate) -> bool {
    MAKEUP_WORKDAYS.iter().any(|&d| ymd(d) == date)
}

/// The fixed-date shopping festival on this date, if any.
#[must_use]
pub fn shopping_festival(date: NaiveDate) -> Option<ShoppingFestival> {
    match (date.month(), date.day()) {
        (6, 18) => Some(ShoppingFestival::Jun18),
        (11, 11) => Some(ShoppingFestival::Double11),
        (12, 12) => Some(ShoppingFestival::Double12),
        _ => None,
    }
}

/// Classify a date. Holidays win over festivals, festivals over make-up days and weekends.
#[must_use]
pub fn day_type(date: NaiveDate) -> DayType {
    if let Some((h, _)) = holiday(date) {
        return DayType::Holiday(h);
    }
    if let Some(f) = shopping_festival(date) {
        return DayType::ShoppingFestival(f);
    }
    if is_makeup_workday(date) {
        return DayType::MakeupWorkday;
    }
    match date.weekday() {
        Weekday::Sat | Weekday::Sun => DayType::Weekend,
        _ => DayType::Workday,
    }
}

/// Whether a date lies in a year the calendar covers (outside, holidays are unknown).
#[must_use]
pub fn covers(date: NaiveDate) -> bool {
    (YEARS.0..=YEARS.1).contains(&date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn mid_autumn_moves() {
        assert_eq!(
            day_type(d(2022, 9, 10)),
            DayType::Holiday(Holiday::MidAutumn)
        );
        assert_eq!(
            day_type(d(2023, 9, 29)),
            DayType::Holiday(Holiday::MidAutumn)
        );
        assert_eq!(day_type(d(2023, 9, 10)), DayType::Weekend);
        assert_eq!(day_type(d(2023, 10, 7)), DayType::MakeupWorkday);
        assert_eq!(
            day_type(d(2023, 11, 11)),
            DayType::ShoppingFestival(ShoppingFestival::Double11)
        );
        assert_eq!(day_type(d(2023, 11, 13)), DayType::Workday);
    }

    #[test]
    fn makeup_days_are_weekends_and_blocks_are_ordered() {
        for &m in MAKEUP_WORKDAYS {
            let w = ymd(m).weekday();
            assert!(matches!(w, Weekday::Sat | Weekday::Sun), "{m:?} is a {w}");
            assert!(holiday(ymd(m)).is_none());
        }
        for &(_, s, e) in HOLIDAYS {
            assert!(ymd(s) <= ymd(e));
        }
    }
}
