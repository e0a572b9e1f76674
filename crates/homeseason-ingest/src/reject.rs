//! Row-level rejects: why a row was not accepted, in Chinese and English, with its raw text.

use homeseason_schema::contract::{Field, RejectRow, tables};
use polars::prelude::*;

/// Why a row was rejected. Codes are stable: they are the `reason` column of the `rejects` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A required value is empty.
    MissingValue,
    /// Not a number.
    BadNumber,
    /// Not a date/time in the expected format.
    BadDate,
    /// Not a yes/no value.
    BadBoolean,
    /// Not one of the allowed values.
    BadEnum,
    /// Does not match the required pattern.
    BadPattern,
    /// Below the allowed minimum (e.g. a negative sale).
    BelowMinimum,
    /// Above the contract's maximum (an amount no single record can hold: a typing or unit error).
    AboveMaximum,
    /// Not one of the 37 reporting regions, nor a code that rolls up to one.
    UnknownRegion,
    /// Unknown product category.
    UnknownCategory,
    /// Invalid unified social credit code.
    BadUscc,
    /// Unrecognised reporting period.
    BadPeriod,
    /// Unrecognised unit.
    BadUnit,
    /// Start date after end date.
    BadDateRange,
    /// A well-formed institution code that no institution profile names.
    UnknownInstitution,
    /// A key already received with other values (a transaction id sent again with another amount,
    /// time, merchant …): the first is kept.
    Conflict,
}

impl Reason {
    /// Stable machine code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Reason::MissingValue => "missing_value",
            Reason::BadNumber => "bad_number",
            Reason::BadDate => "bad_date",
            Reason::BadBoolean => "bad_boolean",
            Reason::BadEnum => "bad_enum",
            Reason::BadPattern => "bad_pattern",
            Reason::BelowMinimum => "below_minimum",
            Reason::AboveMaximum => "above_maximum",
            Reason::UnknownRegion => "unknown_region",
            Reason::UnknownCategory => "unknown_category",
            Reason::BadUscc => "bad_uscc",
            Reason::BadPeriod => "bad_period",
            Reason::BadUnit => "bad_unit",
            Reason::BadDateRange => "bad_date_range",
            Reason::UnknownInstitution => "unknown_institution",
            Reason::Conflict => "conflict",
        }
    }

    /// Parse a code written by [`Reason::code`]; unknown codes read as a pattern failure.
    #[must_use]
    pub fn from_code(code: &str) -> Reason {
        [
            Reason::MissingValue,
            Reason::BadNumber,
            Reason::BadDate,
            Reason::BadBoolean,
            Reason::BadEnum,
            Reason::BadPattern,
            Reason::BelowMinimum,
            Reason::AboveMaximum,
            Reason::UnknownRegion,
            Reason::UnknownCategory,
            Reason::BadUscc,
            Reason::BadPeriod,
            Reason::BadUnit,
            Reason::BadDateRange,
            Reason::UnknownInstitution,
            Reason::Conflict,
        ]
        .into_iter()
        .find(|r| r.code() == code)
        .unwrap_or(Reason::BadPattern)
    }

    fn zh(self) -> &'static str {
        match self {
            Reason::MissingValue => "必填项为空",
            Reason::BadNumber => "不是有效数字",
            Reason::BadDate => "日期/时间格式不正确",
            Reason::BadBoolean => "应为“是”或“否”",
            Reason::BadEnum => "不是允许的取值",
            Reason::BadPattern => "格式不正确",
            Reason::BelowMinimum => "数值低于允许的最小值",
            Reason::AboveMaximum => "数值超过允许的最大值",
            Reason::UnknownRegion => "未知地区",
            Reason::UnknownCategory => "未知品类",
            Reason::BadUscc => "统一社会信用代码无效",
            Reason::BadPeriod => "无法识别的统计期",
            Reason::BadUnit => "无法识别的单位",
            Reason::BadDateRange => "开始日期晚于结束日期",
            Reason::UnknownInstitution => "不是已知机构（没有机构配置文件使用此代码）",
            Reason::Conflict => "与已收到的同一键的取值不同（冲突）",
        }
    }

    fn en(self) -> &'static str {
        match self {
            Reason::MissingValue => "required value is empty",
            Reason::BadNumber => "not a valid number",
            Reason::BadDate => "date/time not in the expected format",
            Reason::BadBoolean => "expected yes/no",
            Reason::BadEnum => "not an allowed value",
            Reason::BadPattern => "wrong format",
            Reason::BelowMinimum => "value below the allowed minimum",
            Reason::AboveMaximum => "value above the allowed maximum",
            Reason::UnknownRegion => "unknown region",
            Reason::UnknownCategory => "unknown category",
            Reason::BadUscc => "invalid unified social credit code",
            Reason::BadPeriod => "unrecognised reporting period",
            Reason::BadUnit => "unrecognised unit",
            Reason::BadDateRange => "start date is after end date",
            Reason::UnknownInstitution => {
                "not a known institution (no institution profile names this code)"
            }
            Reason::Conflict => "already received for the same key with other values (a conflict)",
        }
    }
}

/// Whether text holds a CJK ideograph.
fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A detail written `中文 / English` or `English / 中文` (one ` / `) split into its Chinese and English halves, so each
/// message is whole in its own language; a detail in one language only (or a list of values) is used as
/// is in both.
fn split_languages(detail: &str) -> (&str, &str) {
    // The English half starts with a Latin letter (it may quote a Chinese header further on).
    let english = |s: &str| {
        s.trim_start()
            .starts_with(|c: char| c.is_ascii_alphabetic())
    };
    match detail.split_once(" / ") {
        Some((a, b)) if has_cjk(a) && !english(a) && english(b) => (a.trim(), b.trim()),
        Some((a, b)) if has_cjk(b) && !english(b) && english(a) => (b.trim(), a.trim()),
        _ => (detail, detail),
    }
}

/// The detail of a period that could not be read: a month outside 1–12 (`2023年13月`, `2023-00`) is named
/// as such; otherwise the accepted forms (`formats`).
#[must_use]
pub(crate) fn period_detail(raw: &str, formats: &str) -> String {
    let folded = crate::parse::fold_width(raw);
    let groups: Vec<&str> = folded
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    if let [year, month, rest @ ..] = groups.as_slice()
        && year.len() == 4
        && (1..=2).contains(&month.len())
        && rest.len() <= 1
        && let Ok(m) = month.parse::<u32>()
        && !(1..=12).contains(&m)
    {
        return format!("没有{m}月，月份应为 1–12 / there is no month {m}; months are 1–12");
    }
    format!("可接受的格式：{formats} / accepted forms: {formats}")
}

/// The detail of a reject, kept compact until the `rejects` frame renders its messages: a file of
/// 10 M transactions with 3 % re-sends has ~105 k `conflict` rejects whose bilingual details are
/// ~1 kB each, so they are written once, straight into the frame's string columns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// No detail beyond the reason.
    None,
    /// A written detail: `中文 / English` (or `English / 中文`), or one language used in both.
    Text(String),
    /// A transaction `conflict` ([`crate::txn_conflict_detail`]): the institution, the line of the
    /// first occurrence in this file (`None`: the lake holds it) and which of
    /// [`crate::TXN_VALUE_FIELDS`] differ (bit `i` for field `i`).
    TxnConflict {
        /// The file's institution code.
        institution: String,
        /// Line of the first occurrence in this file; `None` when the lake holds it.
        first_line: Option<u64>,
        /// Bit `i` set: [`crate::TXN_VALUE_FIELDS`]`[i]` differs.
        differs: u8,
    },
}

impl Detail {
    /// The detail's text (`None` for [`Detail::None`]).
    #[must_use]
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Detail::None => None,
            Detail::Text(t) => Some(std::borrow::Cow::Borrowed(t)),
            Detail::TxnConflict {
                institution,
                first_line,
                differs,
            } => {
                let fields: Vec<&str> = crate::TXN_VALUE_FIELDS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| differs & (1 << i) != 0)
                    .map(|(_, f)| *f)
                    .collect();
                Some(std::borrow::Cow::Owned(crate::txn_conflict_detail(
                    institution,
                    *first_line,
                    &fields,
                )))
            }
        }
    }
}

/// One rejected row, as recorded: its messages are rendered when the `rejects` frame is built
/// ([`Reject::messages`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based line (CSV) or row (XLSX) number in the source file.
    pub line: u64,
    /// The source header that failed, if one did.
    pub column: Option<String>,
    /// Why.
    pub reason: Reason,
    /// The value that failed.
    pub value: String,
    /// What the messages add after the reason.
    pub detail: Detail,
    /// The row's raw text.
    pub raw: String,
}

impl Reject {
    /// Writes the Chinese and English messages (naming file `file`, row, column and value) into
    /// `zh` and `en`, which are cleared first.
    pub fn messages(&self, file: &str, zh: &mut String, en: &mut String) {
        use std::fmt::Write as _;
        zh.clear();
        en.clear();
        let line = self.line;
        let value = &self.value;
        let col_txt = self.column.as_deref().unwrap_or("-");
        let detail = self.detail.text();
        let (detail_zh, detail_en) = detail.as_deref().map(split_languages).unzip();
        // Writing into a String cannot fail.
        let _ = write!(
            zh,
            "文件 {file} 第 {line} 行，列“{col_txt}”：值“{value}”{}",
            self.reason.zh()
        );
        if let Some(d) = detail_zh {
            let _ = write!(zh, "：{d}");
        }
        let _ = write!(
            en,
            "file {file}, line {line}, column \"{col_txt}\": value \"{value}\" {}",
            self.reason.en()
        );
        if let Some(d) = detail_en {
            let _ = write!(en, ": {d}");
        }
    }

    /// The Chinese and English messages ([`Reject::messages`]).
    #[must_use]
    pub fn message_pair(&self, file: &str) -> (String, String) {
        let (mut zh, mut en) = (String::new(), String::new());
        self.messages(file, &mut zh, &mut en);
        (zh, en)
    }
}

/// Collects the rejects of one file.
#[derive(Debug)]
pub struct RejectSink {
    feed: String,
    file: String,
    sha256: String,
    rows: Vec<Reject>,
}

impl RejectSink {
    /// A sink for one file of one feed.
    #[must_use]
    pub fn new(feed: &str, file: &str, sha256: &str) -> RejectSink {
        RejectSink {
            feed: feed.to_owned(),
            file: file.to_owned(),
            sha256: sha256.to_owned(),
            rows: Vec::new(),
        }
    }

    /// File name the sink is for.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Record a rejected row. `detail` adds a specific explanation (e.g. the expected check character).
    pub fn push_detail(
        &mut self,
        line: u64,
        column: Option<String>,
        reason: Reason,
        value: &str,
        detail: Option<&str>,
        raw: &str,
    ) {
        let detail = detail.map_or(Detail::None, |d| Detail::Text(d.to_owned()));
        self.push_compact(line, column, reason, value, detail, raw);
    }

    /// Record a rejected row whose detail is kept compact until the frame is built.
    pub fn push_compact(
        &mut self,
        line: u64,
        column: Option<String>,
        reason: Reason,
        value: &str,
        detail: Detail,
        raw: &str,
    ) {
        self.rows.push(Reject {
            line,
            column,
            reason,
            value: value.to_owned(),
            detail,
            raw: raw.to_owned(),
        });
    }

    /// Record a rejected row found by contract validation; `field` adds the allowed values or pattern.
    pub fn push(
        &mut self,
        line: u64,
        column: Option<String>,
        reason: Reason,
        value: &str,
        field: Option<&Field>,
        raw: &str,
    ) {
        let detail = field.and_then(|f| match reason {
            Reason::BadEnum => f.constraints.r#enum.as_ref().map(|v| v.join(" | ")),
            Reason::BadPattern => f.constraints.pattern.clone(),
            Reason::BelowMinimum => f.constraints.minimum.map(|m| format!("≥ {m}")),
            Reason::AboveMaximum => f.constraints.maximum.map(|m| format!("≤ {m}")),
            Reason::BadDate => f.format.clone(),
            _ => None,
        });
        let detail = detail.map_or(Detail::None, Detail::Text);
        self.push_compact(line, column, reason, value, detail, raw);
    }

    /// Rejects so far.
    #[must_use]
    pub fn rows(&self) -> &[Reject] {
        &self.rows
    }

    /// Number of rejects so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing was rejected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rejects as a frame in the `rejects` table's contract, sorted by line.
    ///
    /// # Errors
    /// Only on an internal polars failure.
    pub fn to_frame(&self) -> PolarsResult<DataFrame> {
        let mut order: Vec<&Reject> = self.rows.iter().collect();
        order.sort_by_key(|r| r.line);
        frame_of(&self.feed, &self.file, &self.sha256, order.len(), order)
    }

    /// [`RejectSink::to_frame`], consuming the sink: each row is freed as soon as its messages are
    /// written into the frame, so the rejects are never held twice in full.
    ///
    /// # Errors
    /// Only on an internal polars failure.
    pub fn into_frame(self) -> PolarsResult<DataFrame> {
        let RejectSink {
            feed,
            file,
            sha256,
            mut rows,
        } = self;
        rows.sort_by_key(|r| r.line);
        let n = rows.len();
        frame_of(&feed, &file, &sha256, n, rows)
    }
    /// The rejects kept compact ([`CompactRejects`], sorted by line), for the file whose hash is
    /// `sha256` (known only once the file is read; the sink's own when `None`): their messages are
    /// rendered only when a slice of the frame is asked for, so the whole `rejects` frame (at 50 M
    /// transactions, 525 k conflicts × ~1.2 kB of bilingual messages) never has to exist.
    #[must_use]
    pub fn into_compact(self, sha256: Option<&str>) -> CompactRejects {
        let RejectSink {
            feed,
            file,
            sha256: own,
            mut rows,
        } = self;
        rows.sort_by_key(|r| r.line);
        CompactRejects {
            feed,
            file,
            sha256: sha256.map_or(own, str::to_owned),
            rows: std::sync::Arc::from(rows),
        }
    }
}

/// A file's rejects as recorded ([`Reject`]s, sorted by line), the `rejects` frame rendered a slice
/// at a time ([`CompactRejects::frame`]): the same rows, the same values as
/// [`RejectSink::into_frame`]'s frame.
#[derive(Debug, Clone)]
pub struct CompactRejects {
    feed: String,
    file: String,
    sha256: String,
    rows: std::sync::Arc<[Reject]>,
}

impl CompactRejects {
    /// Number of rejects.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows `offset .. offset + n` (fewer at the end) of the `rejects` frame.
    ///
    /// # Errors
    /// Only on an internal polars failure.
    pub fn frame(&self, offset: usize, n: usize) -> PolarsResult<DataFrame> {
        let from = offset.min(self.rows.len());
        let to = offset.saturating_add(n).min(self.rows.len());
        let rows = &self.rows[from..to];
        frame_of(&self.feed, &self.file, &self.sha256, rows.len(), rows)
    }
}

/// A file's rejected rows in the `rejects` contract: a frame, or kept compact and rendered a slice at
/// a time ([`CompactRejects`]; the streaming transaction ingest's, whose messages can be hundreds
/// of MB).
#[derive(Debug, Clone)]
pub enum Rejects {
    /// The `rejects` frame.
    Frame(DataFrame),
    /// The rows as recorded, rendered on demand.
    Compact(CompactRejects),
}

impl Default for Rejects {
    fn default() -> Self {
        Rejects::Frame(DataFrame::empty())
    }
}

impl From<DataFrame> for Rejects {
    fn from(frame: DataFrame) -> Self {
        Rejects::Frame(frame)
    }
}

impl Rejects {
    /// Number of rejected rows.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Rejects::Frame(f) => f.height(),
            Rejects::Compact(c) => c.len(),
        }
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `offset .. offset + n` (fewer at the end) of the `rejects` frame.
    ///
    /// # Errors
    /// Only on an internal polars failure.
    pub fn slice(&self, offset: usize, n: usize) -> PolarsResult<DataFrame> {
        match self {
            Rejects::Frame(f) => {
                let offset = i64::try_from(offset.min(f.height())).unwrap_or(i64::MAX);
                Ok(f.slice(offset, n))
            }
            Rejects::Compact(c) => c.frame(offset, n),
        }
    }

    /// The whole `rejects` frame (rendered, for compact rejects: for small files and tests).
    ///
    /// # Errors
    /// Only on an internal polars failure.
    pub fn to_frame(&self) -> PolarsResult<DataFrame> {
        match self {
            Rejects::Frame(f) => Ok(f.clone()),
            Rejects::Compact(c) => c.frame(0, c.len()),
        }
    }
}

/// A borrowed or owned reject, as [`frame_of`] takes them.
trait AsReject {
    fn reject(&self) -> &Reject;
}

impl AsReject for Reject {
    fn reject(&self) -> &Reject {
        self
    }
}

impl AsReject for &Reject {
    fn reject(&self) -> &Reject {
        self
    }
}

/// The `rejects` frame of `n` rejects of file `file` (hash `sha256`) of `feed`, in `rows`' order:
/// each message is rendered once, straight into its string column.
fn frame_of<R: AsReject>(
    feed: &str,
    file: &str,
    sha256: &str,
    n: usize,
    rows: impl IntoIterator<Item = R>,
) -> PolarsResult<DataFrame> {
    debug_assert!(homeseason_schema::contract::get(tables::REJECTS).is_some());
    let mut line = Vec::with_capacity(n);
    let mut column = StringChunkedBuilder::new("column".into(), n);
    let mut reason = StringChunkedBuilder::new("reason".into(), n);
    let mut message_zh = StringChunkedBuilder::new("message_zh".into(), n);
    let mut message_en = StringChunkedBuilder::new("message_en".into(), n);
    let mut raw = StringChunkedBuilder::new("raw".into(), n);
    let (mut zh, mut en) = (String::new(), String::new());
    for r in rows {
        let r = r.reject();
        line.push(r.line as i64);
        column.append_option(r.column.as_deref());
        reason.append_value(r.reason.code());
        r.messages(file, &mut zh, &mut en);
        message_zh.append_value(&zh);
        message_en.append_value(&en);
        raw.append_value(&r.raw);
    }
    DataFrame::new(
        n,
        vec![
            Column::new("feed".into(), vec![feed; n]),
            Column::new("file".into(), vec![file; n]),
            Column::new("file_sha256".into(), vec![sha256; n]),
            Column::new("line".into(), line),
            column.finish().into_column(),
            reason.finish().into_column(),
            message_zh.finish().into_column(),
            message_en.finish().into_column(),
            raw.finish().into_column(),
        ],
    )
}

/// `rows` as rows of the `rejects` table, in their order, for the file `file` (hash `sha256`) of
/// `feed`.
///
/// # Errors
/// Only on an internal polars failure.
pub fn rejects_frame(
    feed: &str,
    file: &str,
    sha256: &str,
    rows: &[RejectRow],
) -> PolarsResult<DataFrame> {
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new("feed".into(), vec![feed; n]),
            Column::new("file".into(), vec![file; n]),
            Column::new("file_sha256".into(), vec![sha256; n]),
            Column::new(
                "line".into(),
                rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "column".into(),
                rows.iter().map(|r| r.column.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                rows.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "message_zh".into(),
                rows.iter()
                    .map(|r| r.message_zh.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "message_en".into(),
                rows.iter()
                    .map(|r| r.message_en.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "raw".into(),
                rows.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `extra` rejects after `rejects` (the columns of both, `null` where one lacks a column); `extra`
/// alone when `rejects` has no rows.
///
/// # Errors
/// Only on an internal polars failure.
pub fn append_rejects(rejects: &DataFrame, extra: DataFrame) -> PolarsResult<DataFrame> {
    if rejects.height() == 0 {
        return Ok(extra);
    }
    concat(
        [rejects.clone().lazy(), extra.lazy()],
        UnionArgs {
            diagonal: true,
            ..UnionArgs::default()
        },
    )?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages as they were written before the detail was kept compact: both formatted at
    /// push time from the detail's text.
    fn eager(file: &str, r: &Reject) -> (String, String) {
        let line = r.line;
        let value = &r.value;
        let col_txt = r.column.as_deref().unwrap_or("-");
        let detail = r.detail.text();
        let (detail_zh, detail_en) = detail.as_deref().map(split_languages).unzip();
        let extra = detail_zh.map(|d| format!("：{d}")).unwrap_or_default();
        let extra_en = detail_en.map(|d| format!(": {d}")).unwrap_or_default();
        (
            format!(
                "文件 {file} 第 {line} 行，列“{col_txt}”：值“{value}”{}{extra}",
                r.reason.zh()
            ),
            format!(
                "file {file}, line {line}, column \"{col_txt}\": value \"{value}\" {}{extra_en}",
                r.reason.en()
            ),
        )
    }

    fn sink() -> RejectSink {
        let mut sink = RejectSink::new("payment_transactions", "t.csv", "abc");
        sink.push_compact(
            9,
            Some("交易号".into()),
            Reason::Conflict,
            "WB1",
            Detail::TxnConflict {
                institution: "wallet_b".into(),
                first_line: Some(3),
                differs: 0b010_0001,
            },
            "WB1,wallet_b,2023-09-01 00:00:00,M1,5411,110101,1.00,sale,online",
        );
        sink.push_compact(
            4,
            Some("txn_id".into()),
            Reason::Conflict,
            "WB2",
            Detail::TxnConflict {
                institution: "wallet_b".into(),
                first_line: None,
                differs: 0,
            },
            "WB2,…",
        );
        sink.push_detail(
            7,
            None,
            Reason::BadDate,
            "2023-13-45",
            Some("日期 / a date"),
            "raw",
        );
        sink.push_detail(2, Some("amount".into()), Reason::BadNumber, "x", None, "r");
        sink
    }

    #[test]
    fn a_compact_conflict_detail_renders_the_text_of_txn_conflict_detail() {
        let s = sink();
        let conflict = &s.rows()[0];
        let written = crate::txn_conflict_detail("wallet_b", Some(3), &["txn_time", "amount"]);
        assert_eq!(conflict.detail.text().as_deref(), Some(written.as_str()));
        let (zh, en) = conflict.message_pair("t.csv");
        assert!(
            zh.contains("第 3 行") && zh.contains("（txn_time, amount）"),
            "{zh}"
        );
        assert!(
            !zh.contains("institution"),
            "the Chinese message is whole in Chinese: {zh}"
        );
        assert!(en.contains("line 3 of this file") && en.contains("(txn_time, amount)"));
        assert!(
            !en.contains("交易号已"),
            "the English message is whole in English: {en}"
        );
        let lake = s.rows()[1].detail.text().unwrap_or_default().into_owned();
        assert_eq!(lake, crate::txn_conflict_detail("wallet_b", None, &[]));
    }

    #[test]
    fn compact_rejects_render_the_frame_of_the_sink_slice_by_slice() {
        let whole = sink().into_frame().expect("frame");
        let compact = sink().into_compact(None);
        assert_eq!(compact.len(), 4);
        assert!(compact.frame(0, 4).expect("frame").equals_missing(&whole));
        // Any cut into slices gives the same rows, in the same order.
        for step in 1..=5 {
            let mut parts = Vec::new();
            let mut offset = 0;
            while offset < compact.len() {
                parts.push(compact.frame(offset, step).expect("slice"));
                offset += step;
            }
            let mut joined = parts[0].clone();
            for p in &parts[1..] {
                joined.vstack_mut(p).expect("vstack");
            }
            assert!(joined.equals_missing(&whole), "step {step}: {joined}");
        }
        assert_eq!(compact.frame(9, 3).expect("past the end").height(), 0);
        // The file's hash, known once it is read, replaces the sink's.
        let rejects = Rejects::Compact(sink().into_compact(Some("f00d")));
        let frame = rejects.to_frame().expect("frame");
        let sha = frame
            .column("file_sha256")
            .expect("sha")
            .str()
            .expect("str")
            .clone();
        assert!(sha.iter().all(|v| v == Some("f00d")));
        assert_eq!(rejects.len(), 4);
        let framed = Rejects::Frame(whole.clone());
        assert!(
            framed
                .slice(1, 2)
                .expect("slice")
                .equals_missing(&whole.slice(1, 2))
        );
        assert!(
            rejects
                .slice(1, 2)
                .expect("slice")
                .drop("file_sha256")
                .expect("drop")
                .equals_missing(&whole.slice(1, 2).drop("file_sha256").expect("drop"))
        );
    }

    #[test]
    fn the_frame_holds_the_messages_formatted_at_push_time_sorted_by_line() {
        let s = sink();
        let expected: Vec<(i64, String, String)> = {
            let mut rows: Vec<&Reject> = s.rows().iter().collect();
            rows.sort_by_key(|r| r.line);
            rows.iter()
                .map(|r| {
                    let (zh, en) = eager("t.csv", r);
                    (r.line as i64, zh, en)
                })
                .collect()
        };
        let borrowed = s.to_frame().expect("frame");
        let owned = s.into_frame().expect("frame");
        assert!(borrowed.equals_missing(&owned), "{borrowed}\n{owned}");
        let lines: Vec<i64> = owned
            .column("line")
            .expect("line")
            .i64()
            .expect("i64")
            .into_no_null_iter()
            .collect();
        assert_eq!(lines, [2, 4, 7, 9]);
        let text = |c: &str| -> Vec<String> {
            owned
                .column(c)
                .expect("column")
                .str()
                .expect("str")
                .iter()
                .map(|v| v.unwrap_or("<null>").to_owned())
                .collect()
        };
        let (zh, en) = (text("message_zh"), text("message_en"));
        for (i, (line, z, e)) in expected.iter().enumerate() {
            assert_eq!(lines[i], *line);
            assert_eq!(&zh[i], z);
            assert_eq!(&en[i], e);
        }
        assert_eq!(text("column"), ["amount", "txn_id", "<null>", "交易号"]);
        assert_eq!(
            text("reason"),
            ["bad_number", "conflict", "bad_date", "conflict"]
        );
        assert_eq!(text("feed"), vec!["payment_transactions"; 4]);
        assert_eq!(text("file_sha256"), vec!["abc"; 4]);
        assert_eq!(text("raw")[0], "r");
        let names: Vec<&str> = owned
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "feed",
                "file",
                "file_sha256",
                "line",
                "column",
                "reason",
                "message_zh",
                "message_en",
                "raw"
            ]
        );
    }
}
