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

/// One rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based line (CSV) or row (XLSX) number in the source file.
    pub line: u64,
    /// The source header that failed, if one did.
    pub column: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Chinese message naming file, row, column and value.
    pub message_zh: String,
    /// English message naming file, row, column and value.
    pub message_en: String,
    /// The row's raw text.
    pub raw: String,
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
        let col_txt = column.as_deref().unwrap_or("-");
        let (detail_zh, detail_en) = detail.map(split_languages).unzip();
        let extra = detail_zh.map(|d| format!("：{d}")).unwrap_or_default();
        let extra_en = detail_en.map(|d| format!(": {d}")).unwrap_or_default();
        let message_zh = format!(
            "文件 {} 第 {line} 行，列“{col_txt}”：值“{value}”{}{extra}",
            self.file,
            reason.zh()
        );
        let message_en = format!(
            "file {}, line {line}, column \"{col_txt}\": value \"{value}\" {}{extra_en}",
            self.file,
            reason.en()
        );
        self.rows.push(Reject {
            line,
            column,
            reason,
            message_zh,
            message_en,
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
        self.push_detail(line, column, reason, value, detail.as_deref(), raw);
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
        debug_assert!(homeseason_schema::contract::get(tables::REJECTS).is_some());
        let mut rows: Vec<RejectRow> = self.rows.iter().map(Reject::to_row).collect();
        rows.sort_by_key(|r| r.line);
        rejects_frame(&self.feed, &self.file, &self.sha256, &rows)
    }
}

impl Reject {
    /// The reject as a row of the `rejects` table.
    fn to_row(&self) -> RejectRow {
        RejectRow {
            line: self.line as i64,
            column: self.column.clone(),
            reason: self.reason.code().to_owned(),
            message_zh: self.message_zh.clone(),
            message_en: self.message_en.clone(),
            raw: self.raw.clone(),
        }
    }
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
