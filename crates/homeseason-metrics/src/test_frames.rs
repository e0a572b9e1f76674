//! Cell accessors the unit tests share (panic when the column is absent, of another type or the
//! cell is out of range): `f` (an `f64`, `None` when null), `s` (a string), `n` (an `i64`), from
//! the workspace's test-support crate; and `d`, a date from year, month and day.

pub(crate) use homeseason_test_support::{f64_at as f, i64_at as n, str_at as s};

/// The date `y`-`m`-`dd` (panics on one that does not exist).
pub(crate) fn d(y: i32, m: u32, dd: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, dd).expect("date")
}
