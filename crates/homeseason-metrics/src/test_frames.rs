//! Cell accessors the unit tests share (panic when the column is absent, of another type or the
//! cell is out of range): `f` (an `f64`, `None` when null), `s` (a string), `n` (an `i64`), from
//! the workspace's test-support crate; `d`, a date from year, month and day; [`class_days`],
//! a three-year daily series split by a class column (channel, urban/rural); and
//! [`campaign_and_options`].

pub(crate) use homeseason_test_support::{f64_at as f, i64_at as n, str_at as s};

/// The date `y`-`m`-`dd` (panics on one that does not exist).
pub(crate) fn d(y: i32, m: u32, dd: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, dd).expect("date")
}

/// The default (2023) campaign and the uplift options it sets.
pub(crate) fn campaign_and_options() -> (
    homeseason_schema::campaign::Campaign,
    crate::uplift::UpliftOptions,
) {
    let campaign = homeseason_schema::campaign::Campaign::default_2023();
    let opts = crate::uplift::UpliftOptions::from_campaign(&campaign);
    (campaign, opts)
}

/// `payment_daily`-like rows for region 330000 × home_appliances, 2021–2023, split by the column
/// `column` into `parts` (class, share of the value): a weekend factor of 1.3, 5 % yearly growth and
/// ±1 % noise of its own for each of the first two classes (none for later ones); on a day of the
/// 2023 campaign window class `j` is multiplied by `1 + effect(j, day)`.
pub(crate) fn class_days(
    column: &str,
    parts: &[(&str, f64)],
    effect: impl Fn(usize, chrono::NaiveDate) -> f64,
) -> polars::prelude::DataFrame {
    use chrono::Datelike;
    let (mut r, mut c, mut k, mut d, mut v) = (vec![], vec![], vec![], vec![], vec![]);
    let campaign = homeseason_schema::campaign::Campaign::default_2023();
    let start = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).expect("date");
    for (i, day) in start
        .iter_days()
        .take_while(|x| x.year() <= 2023)
        .enumerate()
    {
        let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        let base = 1000.0 * 1.05f64.powf(i as f64 / 365.0) * if weekend { 1.3 } else { 1.0 };
        let inside = campaign.window.contains(day);
        // Each class its own noise pattern (±1 %), so their residuals are not identical.
        let noise = [
            1.0 + 0.02 * ((i * 7919 % 101) as f64 / 101.0 - 0.5),
            1.0 + 0.02 * ((i * 104_729 % 97) as f64 / 97.0 - 0.5),
        ];
        for (j, (class, part)) in parts.iter().enumerate() {
            r.push("330000");
            c.push("home_appliances");
            k.push(*class);
            d.push(day);
            let lift = if inside { 1.0 + effect(j, day) } else { 1.0 };
            v.push(base * noise.get(j).copied().unwrap_or(1.0) * part * lift);
        }
    }
    let height = d.len();
    polars::prelude::DataFrame::new(
        height,
        vec![
            polars::prelude::Column::new("region_code".into(), r),
            polars::prelude::Column::new("category".into(), c),
            polars::prelude::Column::new(column.into(), k),
            polars::prelude::Column::new("date".into(), d),
            polars::prelude::Column::new("net_amount_yuan".into(), v),
        ],
    )
    .expect("frame")
}
