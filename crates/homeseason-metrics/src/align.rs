//! Holiday-aware alignment of a day with comparable days `k` years earlier.

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::calendar::{self, DayType};

use crate::days;
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
    /// The same calendar date (shopping festivals), carried to the target's weekday (see
    /// [`expected`]).
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
    let kind = days::day_type(date);
    let found: (Vec<NaiveDate>, Rule) = match kind {
        DayType::Holiday(h) => (
            near(40)
                .filter(|r| matches!(days::holiday(*r), Some((hh, _)) if hh == h))
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
            let m: Vec<NaiveDate> = near(40).filter(|r| days::is_makeup_workday(*r)).collect();
            if m.is_empty() {
                (
                    near(3)
                        .filter(|r| days::day_type(*r) == DayType::Workday)
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
                    .filter(|r| days::day_type(*r) == kind)
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

/// Days on either side of a matched day whose ordinary same-weekday sales give the weekday level.
const WEEKDAY_SPAN: i64 = 21;

/// Whether a matched day of `rule` needs the weekday correction: only date-anchored days
/// ([`Rule::SameDate`]) can fall on another weekday than their target. Ordinary days are matched on
/// their weekday; every day of a holiday block is a day off and a make-up workday a workday, whatever
/// the weekday.
#[must_use]
pub fn weekday_adjusted(target: NaiveDate, reference: NaiveDate, rule: Rule) -> bool {
    rule == Rule::SameDate && target.weekday() != reference.weekday()
}

/// The weekday level of `weekday` around `around` in the comparison year: the mean of the ordinary
/// days (workday or weekend, no holiday, festival or make-up day) with that weekday within
/// [`WEEKDAY_SPAN`] days of `around` that have a value.
fn weekday_level(
    around: NaiveDate,
    weekday: chrono::Weekday,
    value: &impl Fn(NaiveDate) -> Option<f64>,
) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for o in -WEEKDAY_SPAN..=WEEKDAY_SPAN {
        let x = around + Duration::days(o);
        if x.weekday() != weekday
            || !matches!(days::day_type(x), DayType::Workday | DayType::Weekend)
        {
            continue;
        }
        if let Some(v) = value(x).filter(|v| v.is_finite()) {
            sum += v;
            n += 1;
        }
    }
    (n > 0 && sum > 0.0).then(|| sum / n as f64)
}

/// The factor that carries a matched day's sales to the target's weekday: the comparison year's
/// ordinary level on the target's weekday over its level on the matched day's weekday, both around
/// the matched day (1 when no correction is due or the levels are unknown).
pub fn weekday_factor(
    target: NaiveDate,
    reference: NaiveDate,
    rule: Rule,
    value: &impl Fn(NaiveDate) -> Option<f64>,
) -> f64 {
    if !weekday_adjusted(target, reference, rule) {
        return 1.0;
    }
    match (
        weekday_level(reference, target.weekday(), value),
        weekday_level(reference, reference.weekday(), value),
    ) {
        (Some(to), Some(from)) => to / from,
        _ => 1.0,
    }
}

/// The aligned comparison value `ŷ(d)` of `date` from year `Y − lag` — the one alignment rule for
/// every kind of day: the mean over the matched days `r` ([`reference_dates`]) of
/// `y(r) · L(weekday of d) / L(weekday of r)`, where `L(w)` is the comparison year's mean of ordinary
/// days with weekday `w` within three weeks of `r`.
///
/// The factor is 1 wherever the match already keeps the weekday (ordinary days, matched with the same
/// weekday 52·k weeks earlier) or the weekday does not matter (holiday blocks, make-up workdays). It
/// matters for date-anchored days: 12.12 was a Tuesday in 2023 and a Sunday in 2021, so the 2021 day
/// carries both the festival and a Sunday; the factor keeps the festival and swaps the Sunday for a
/// Tuesday.
///
/// `None` when the calendar does not cover the comparison or a matched day has no value.
pub fn expected(
    date: NaiveDate,
    lag: u32,
    value: impl Fn(NaiveDate) -> Option<f64>,
) -> Option<f64> {
    let (refs, rule) = reference_dates(date, lag);
    expected_from(date, &refs, rule, value)
}

/// [`expected`] from the matched days of `date` and their rule, found before by
/// [`reference_dates`] (they depend on the date and the lag only, not on the series).
pub fn expected_from(
    date: NaiveDate,
    refs: &[NaiveDate],
    rule: Rule,
    value: impl Fn(NaiveDate) -> Option<f64>,
) -> Option<f64> {
    if refs.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for r in refs {
        sum += value(*r)? * weekday_factor(date, *r, rule, &value);
    }
    Some(sum / refs.len() as f64)
}

/// The alignment of every day of `days` with year `Y − lag`: `target_date`, `reference_date`, `rule`,
/// and `weekday_adjusted` (the matched day's sales are carried to the target's weekday, see
/// [`expected`]).
///
/// # Errors
/// Only on an internal frame failure.
pub fn alignment_table(days: impl Iterator<Item = NaiveDate>, lag: u32) -> Result<DataFrame> {
    let (mut t, mut r, mut rule, mut adj) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for d in days {
        let (refs, why) = reference_dates(d, lag);
        for x in refs {
            t.push(d);
            r.push(x);
            rule.push(why.id());
            adj.push(weekday_adjusted(d, x, why));
        }
    }
    Ok(df!("target_date" => t, "reference_date" => r, "rule" => rule, "weekday_adjusted" => adj)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::d;

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

    /// Sales with a weekday pattern (Sundays 1.6× a Tuesday) and a festival lift on 12.12, 11.11 and
    /// 6.18 of every year: the series the synthetic seasons are made of.
    fn sales(x: NaiveDate) -> Option<f64> {
        let dow =
            [1.0, 0.95, 0.97, 1.0, 1.1, 1.45, 1.6][x.weekday().num_days_from_monday() as usize];
        let festival = match calendar::day_type(x) {
            DayType::ShoppingFestival(_) => 1.3,
            DayType::Holiday(_) => 1.2,
            _ => 1.0,
        };
        let level = match calendar::day_type(x) {
            DayType::Holiday(_) => 1.4,
            DayType::MakeupWorkday => 1.0,
            _ => dow,
        };
        Some(1000.0 * level * festival)
    }

    #[test]
    fn date_anchored_days_keep_the_festival_and_take_the_targets_weekday() {
        // 12.12 was a Tuesday in 2023, a Monday in 2022 and a Sunday in 2021.
        assert_eq!(d(2023, 12, 12).weekday(), chrono::Weekday::Tue);
        assert_eq!(d(2021, 12, 12).weekday(), chrono::Weekday::Sun);
        let truth = sales(d(2023, 12, 12)).unwrap();
        for lag in [1, 2] {
            let (refs, rule) = reference_dates(d(2023, 12, 12), lag);
            assert_eq!(rule, Rule::SameDate);
            assert_eq!(refs.len(), 1);
            let got = expected(d(2023, 12, 12), lag, sales).unwrap();
            assert!(
                (got / truth - 1.0).abs() < 1e-9,
                "lag {lag}: {got} vs {truth}"
            );
        }
        // The Sunday of 2021 alone would put the baseline two thirds above the Tuesday.
        let naive = sales(d(2021, 12, 12)).unwrap();
        assert!(naive / truth > 1.6);
        // 11.11 (Saturday 2023, Thursday 2021) and 6.18 (Sunday 2023, Friday 2021) alike.
        for date in [d(2023, 11, 11), d(2023, 6, 18)] {
            let got = expected(date, 2, sales).unwrap();
            let truth = sales(date).unwrap();
            assert!((got / truth - 1.0).abs() < 1e-9, "{date}: {got} vs {truth}");
        }
    }

    #[test]
    fn one_rule_leaves_weekday_matched_holiday_and_makeup_days_alone() {
        // Ordinary days: the same weekday already, so no factor at all.
        for date in [d(2023, 9, 9), d(2023, 11, 14), d(2023, 12, 10)] {
            let (refs, rule) = reference_dates(date, 2);
            assert!(refs.iter().all(|r| !weekday_adjusted(date, *r, rule)));
            assert!((expected(date, 2, sales).unwrap() / sales(date).unwrap() - 1.0).abs() < 1e-9);
        }
        // A holiday (Friday 29 Sept 2023 meets Saturday–Monday 2022) and a make-up workday keep the
        // mean of their matches: every day of a block is a day off whatever its weekday.
        let (refs, rule) = reference_dates(d(2023, 9, 29), 1);
        assert!(
            refs.iter()
                .all(|r| !weekday_adjusted(d(2023, 9, 29), *r, rule))
        );
        assert!((expected(d(2023, 9, 29), 1, sales).unwrap() - 1680.0).abs() < 1e-9);
        assert!((expected(d(2023, 10, 7), 1, sales).unwrap() - 1000.0).abs() < 1e-9);
        // The table says which matches were carried to another weekday.
        let t = alignment_table([d(2023, 12, 12), d(2023, 12, 13)].into_iter(), 2).unwrap();
        let adj: Vec<bool> = t
            .column("weekday_adjusted")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(|b| b.unwrap())
            .collect();
        assert!(adj[0]);
        assert!(adj[1..].iter().all(|a| !a));
    }
}
