//! The columns every row-by-row feed (enterprise sales, subsidies) ends its frame with: the
//! period's first and last day, and where the row came from.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::frame_util::Cells;
use crate::parse::Period;

/// The tail of an accepted row: `period_start`, `period_end` (the row's period's first and last
/// day), and its origin — its 1-based source line ([`crate::ORIGIN_LINE`]) and raw text
/// ([`crate::ORIGIN_RAW`]), which [`crate::split_origins`] later splits off.
#[derive(Default)]
pub(crate) struct RowTail {
    start: Vec<NaiveDate>,
    end: Vec<NaiveDate>,
    line: Vec<i64>,
    raw: Vec<String>,
}

impl RowTail {
    /// Record the tail of the accepted `row` of `cells`, whose period is `period`.
    pub(crate) fn push(&mut self, period: &Period, cells: &Cells<'_>, row: usize) {
        self.start.push(period.start);
        self.end.push(period.end);
        self.line
            .push(i64::try_from(cells.line(row)).unwrap_or(i64::MAX));
        self.raw.push(cells.raw(row).to_owned());
    }

    /// `frame` (the feed's own columns, one row per recorded tail) with the four tail columns
    /// appended, in the order above.
    pub(crate) fn append_to(self, mut frame: DataFrame) -> PolarsResult<DataFrame> {
        frame.hstack_mut(&[
            Column::new("period_start".into(), self.start),
            Column::new("period_end".into(), self.end),
            Column::new(crate::ORIGIN_LINE.into(), self.line),
            Column::new(crate::ORIGIN_RAW.into(), self.raw),
        ])?;
        Ok(frame)
    }
}
