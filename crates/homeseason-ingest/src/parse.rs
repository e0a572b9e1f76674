//! Forgiving parsers for values typed by people: full-width digits, thousands separators, units in
//! the cell, Chinese dates and periods. Each returns `None` (or an error) rather than guessing.

use chrono::{Datelike, NaiveDate, Weekday};

/// Fold full-width ASCII (digits, letters, punctuation) and the ideographic space to half-width, and
/// trim.
#[must_use]
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '。' => '.',
            _ => homeseason_schema::text::half_width(c),
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A money unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Unit {
    /// 元.
    Yuan,
    /// 万元 (10⁴ yuan).
    Wan,
    /// 亿元 (10⁸ yuan).
    Yi,
}

impl Unit {
    /// Multiplier to yuan.
    #[must_use]
    pub fn factor(self) -> f64 {
        match self {
            Unit::Yuan => 1.0,
            Unit::Wan => 1e4,
            Unit::Yi => 1e8,
        }
    }
    /// Chinese name as in the contract's enum.
    #[must_use]
    pub fn zh(self) -> &'static str {
        match self {
            Unit::Yuan => "元",
            Unit::Wan => "万元",
            Unit::Yi => "亿元",
        }
    }
    /// Parse 元 / 万元 / 亿元 (and yuan, 10k yuan, 100m yuan, ¥).
    #[must_use]
    pub fn parse(s: &str) -> Option<Unit> {
        let t = fold_width(s).to_lowercase();
        match t.trim_matches(|c| c == '(' || c == ')' || c == '（' || c == '）') {
            "元" | "yuan" | "¥" | "rmb" | "cny" => Some(Unit::Yuan),
            "万元" | "万" | "10k yuan" | "wan" | "ten thousand yuan" => Some(Unit::Wan),
            "亿元" | "亿" | "100m yuan" | "yi" | "hundred million yuan" => Some(Unit::Yi),
            _ => None,
        }
    }
    /// The unit a header names in brackets, e.g. `销售额（万元）`.
    #[must_use]
    pub fn in_header(header: &str) -> Option<Unit> {
        let t = fold_width(header);
        if t.contains("亿元") {
            Some(Unit::Yi)
        } else if t.contains("万元") {
            Some(Unit::Wan)
        } else if t.contains("(元)") || t.ends_with('元') {
            Some(Unit::Yuan)
        } else {
            None
        }
    }
}

/// Whether the thousands separators of a number are where they belong: none, or in the integer part
/// only, grouping it in threes (`1,234,567.89`). `12,50`, `1,2,3`, `407,42` and `1,234.5,6` are not
/// numbers: a decimal comma or a slip of the keyboard, never silently read as something larger.
#[must_use]
pub(crate) fn thousands_ok(num: &str) -> bool {
    let unsigned = num.strip_prefix(['-', '+']).unwrap_or(num);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if frac.contains(',') {
        return false;
    }
    if !int.contains(',') {
        return true;
    }
    let mut groups = int.split(',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Parse an amount such as `1,234.5`, `１２３４`, `12.5万元` or `¥300`; returns the number and the
/// unit written in the cell, if any. Thousands separators only where they belong ([`thousands_ok`]).
#[must_use]
pub(crate) fn amount(s: &str) -> Option<(f64, Option<Unit>)> {
    let t = fold_width(s).replace([' ', '¥', '￥'], "");
    if t.is_empty() {
        return None;
    }
    let (num, unit) = if let Some(n) = t.strip_suffix("亿元").or_else(|| t.strip_suffix('亿')) {
        (n, Some(Unit::Yi))
    } else if let Some(n) = t.strip_suffix("万元").or_else(|| t.strip_suffix('万')) {
        (n, Some(Unit::Wan))
    } else if let Some(n) = t.strip_suffix('元') {
        (n, Some(Unit::Yuan))
    } else {
        (t.as_str(), None)
    };
    if !thousands_ok(num) {
        return None;
    }
    let value: f64 = num.replace(',', "").parse().ok()?;
    value.is_finite().then_some((value, unit))
}

/// Parse a date: `2023-09-01`, `2023/9/1`, `2023.9.1`, `20230901`, `2023年9月1日`.
#[must_use]
pub(crate) fn date(s: &str) -> Option<NaiveDate> {
    let t = fold_width(s);
    let t = t.split_whitespace().next().unwrap_or_default();
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(t, "%Y%m%d").ok();
    }
    let norm: String = t
        .chars()
        .map(|c| {
            if matches!(c, '/' | '.' | '年' | '月') {
                '-'
            } else {
                c
            }
        })
        .filter(|c| *c != '日')
        .collect();
    let mut parts = norm.split('-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// What kind of reporting period a value named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// A calendar month.
    Month,
    /// An ISO week.
    Week,
    /// An explicit date range.
    Range,
}

/// A parsed reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Kind.
    pub kind: PeriodKind,
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

impl Period {
    /// Canonical text: `2023-09`, `2023-W37` or `2023-09-01~2023-09-30`.
    #[must_use]
    pub fn canonical(&self) -> String {
        match self.kind {
            PeriodKind::Month => self.start.format("%Y-%m").to_string(),
            PeriodKind::Week => {
                let w = self.start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Range => format!("{}~{}", self.start, self.end),
        }
    }
}

fn month_period(y: i32, m: u32) -> Option<Period> {
    let start = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)?
    };
    Some(Period {
        kind: PeriodKind::Month,
        start,
        end: next.pred_opt()?,
    })
}

/// Parse a period: month (`2023-09`, `2023/9`, `202309`, `2023年9月`), ISO week (`2023-W37`,
/// `2023年第37周`) or a range (`2023-09-01~2023-09-30`, `2023-09-01至2023-09-30`).
#[must_use]
pub(crate) fn period(s: &str) -> Option<Period> {
    let t = fold_width(s).replace(' ', "");
    for sep in ["~", "至", "—", "–", "--"] {
        if let Some((a, b)) = t.split_once(sep) {
            let (start, end) = (date(a)?, date(b)?);
            return (start <= end).then_some(Period {
                kind: PeriodKind::Range,
                start,
                end,
            });
        }
    }
    let upper = t.to_uppercase();
    if let Some((y, w)) = upper.split_once("-W").or_else(|| upper.split_once('W')) {
        let y: i32 = y.trim_end_matches('-').parse().ok()?;
        let w: u32 = w.parse().ok()?;
        let start = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon)?;
        return Some(Period {
            kind: PeriodKind::Week,
            start,
            end: start + chrono::Duration::days(6),
        });
    }
    if let Some(rest) = t.strip_suffix('周') {
        let (y, w) = rest.split_once("年第")?;
        let start = NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, Weekday::Mon)?;
        return Some(Period {
            kind: PeriodKind::Week,
            start,
            end: start + chrono::Duration::days(6),
        });
    }
    if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) {
        return month_period(t[..4].parse().ok()?, t[4..].parse().ok()?);
    }
    let norm: String = t
        .chars()
        .map(|c| {
            if matches!(c, '/' | '.' | '年') {
                '-'
            } else {
                c
            }
        })
        .filter(|c| *c != '月' && *c != '份')
        .collect();
    let (y, m) = norm.split_once('-')?;
    month_period(y.parse().ok()?, m.parse().ok()?)
}

/// Parse yes/no: 是/否, Y/N, true/false, 1/0, 有/无.
#[must_use]
pub(crate) fn yes_no(s: &str) -> Option<bool> {
    match fold_width(s).to_lowercase().as_str() {
        "是" | "y" | "yes" | "true" | "1" | "有" | "√" => Some(true),
        "否" | "n" | "no" | "false" | "0" | "无" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(amount("1,234.5"), Some((1234.5, None)));
        assert_eq!(amount("１２３４"), Some((1234.0, None)));
        assert_eq!(amount("12.5万元"), Some((12.5, Some(Unit::Wan))));
        assert_eq!(amount("3亿"), Some((3.0, Some(Unit::Yi))));
        assert_eq!(amount("¥300元"), Some((300.0, Some(Unit::Yuan))));
        assert_eq!(amount("abc"), None);
        // Thousands separators only in their places (issue 13): a decimal comma is not a number.
        assert_eq!(amount("1,234,567.89"), Some((1_234_567.89, None)));
        assert_eq!(amount("-1,234"), Some((-1234.0, None)));
        assert_eq!(amount("12,50"), None);
        assert_eq!(amount("1,2,3"), None);
        assert_eq!(amount("407,42万元"), None);
        assert_eq!(amount("1234,567"), None);
        assert_eq!(amount(",123"), None);
        assert_eq!(amount("123,"), None);
        assert_eq!(amount("1,234.5,6"), None);
        assert_eq!(amount("１，２３４"), Some((1234.0, None)));
        assert_eq!(amount(""), None);
        assert_eq!(Unit::in_header("销售额（万元）"), Some(Unit::Wan));
    }

    #[test]
    fn periods() {
        let p = period("2023年9月").unwrap();
        assert_eq!(
            (p.kind, p.start.to_string(), p.end.to_string()),
            (PeriodKind::Month, "2023-09-01".into(), "2023-09-30".into())
        );
        assert_eq!(period("2023-09").unwrap(), p);
        assert_eq!(period("202309").unwrap(), p);
        assert_eq!(period("2023/9").unwrap(), p);
        let w = period("2023-W37").unwrap();
        assert_eq!(
            (w.kind, w.start.to_string(), w.canonical()),
            (PeriodKind::Week, "2023-09-11".into(), "2023-W37".into())
        );
        let r = period("2023-09-01~2023-09-15").unwrap();
        assert_eq!(
            (r.kind, r.end.to_string()),
            (PeriodKind::Range, "2023-09-15".into())
        );
        assert!(period("2023-13").is_none());
        assert!(period("上月").is_none());
        assert!(period("2023-09-15~2023-09-01").is_none());
    }

    #[test]
    fn dates() {
        assert_eq!(date("2023年9月1日").unwrap().to_string(), "2023-09-01");
        assert_eq!(date("2023/9/1").unwrap().to_string(), "2023-09-01");
        assert_eq!(date("20230901").unwrap().to_string(), "2023-09-01");
        assert!(date("2023-02-30").is_none());
    }
}
