//! Cell accessors the unit tests share (panic when the column is absent, of another type or the
//! cell is out of range).

use polars::prelude::DataFrame;

/// Row `i` of the `f64` column `col` (`None` when null).
pub(crate) fn f(df: &DataFrame, col: &str, i: usize) -> Option<f64> {
    df.column(col).unwrap().f64().unwrap().get(i)
}

/// Row `i` of the string column `col`.
pub(crate) fn s(df: &DataFrame, col: &str, i: usize) -> String {
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .unwrap()
        .to_owned()
}

/// Row `i` of the `i64` column `col`.
pub(crate) fn n(df: &DataFrame, col: &str, i: usize) -> i64 {
    df.column(col).unwrap().i64().unwrap().get(i).unwrap()
}
