//! Cell accessors the unit tests share (panic when the column is absent, of another type or the
//! cell is out of range): `f` (an `f64`, `None` when null), `s` (a string), `n` (an `i64`), from
//! the workspace's test-support crate.

pub(crate) use homeseason_test_support::{f64_at as f, i64_at as n, str_at as s};
