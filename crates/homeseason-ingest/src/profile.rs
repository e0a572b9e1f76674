//! Per-institution column profiles: how one payment institution writes its files.
//!
//! A new institution is configuration, not code. A profile (TOML, one file per institution, kept in
//! `profiles/<institution>.toml`) says which of their headers is which of our fields, how they write
//! times and amounts, and how refunds are signed. Everything has a default, so a file that already uses
//! the contract's names (or any of its Chinese/English aliases) needs no profile at all.
//!
//! ```toml
//! institution = "bank_c"          # short code: the lake partition and the txn-id index are per institution
//! feed = "payment_transactions"   # or "payment_daily"
//! format = "csv"                  # csv | jsonl | parquet | auto (by file extension; the default)
//! delimiter = ","
//! amount_unit = "fen"             # yuan (default) | fen | wan_yuan | yi_yuan; a unit in the amount
//!                                 # header's brackets (交易金额（分）) is read without a profile; one that
//!                                 # contradicts amount_unit = "fen" refuses the file
//! refund_sign = "negative"        # type (default): amounts positive, txn_type says sale/refund/reversal
//!                                 # negative: a negative amount is a refund (or reversal, if txn_type says so)
//! time_format = "%Y/%m/%d %H:%M:%S"  # chrono format, or unix_s | unix_ms | rfc3339
//! utc_offset = "+08:00"           # offset the times are written in; the Beijing calendar date is kept
//! date_format = "%Y-%m-%d"        # pre-aggregated daily files
//!
//! [columns]                       # their header → our field
//! "流水号" = "txn_id"
//! "交易金额(分)" = "amount"
//!
//! [values.txn_type]               # their value → sale | refund | reversal (adds to the contract's aliases)
//! "S" = "sale"
//! [values.channel]                # their value → online | offline
//! "POS" = "offline"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Feed;

/// Errors reading a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The TOML is malformed or has unknown keys.
    #[error("profile {path}: {reason}")]
    Invalid {
        /// Path (or `<inline>`).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The unit amounts are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AmountUnit {
    /// 元, with up to two decimals (more are rounded half away from zero to the fen).
    #[default]
    Yuan,
    /// 分 (1/100 yuan), whole numbers.
    Fen,
    /// 万元 (10⁴ yuan), with up to six decimals (more are rounded half away from zero to the fen).
    /// A transaction file's header states it (`交易金额（万元）`).
    WanYuan,
    /// 亿元 (10⁸ yuan), with up to ten decimals (more are rounded half away from zero to the fen).
    YiYuan,
}

/// How refunds and reversals are told from sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RefundSign {
    /// Amounts are positive; the `txn_type` column says sale, refund or reversal (the contract).
    #[default]
    Type,
    /// Refunds are negative rows; `txn_type` is optional (a negative row is a refund unless its type
    /// says reversal).
    Negative,
}

/// What an institution code must look like, in English and Chinese.
pub const INSTITUTION_CODE_RULE: &str = "an institution code is 1–32 lower-case letters, digits or _ \
     (it names lake folders) / 机构代码须为 1–32 位小写字母、数字或下划线";

pub use homeseason_schema::text::is_institution_code;

/// The file format of an institution's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// By extension: `.jsonl`/`.ndjson` (optionally `.gz`) → JSON Lines, `.parquet` → Parquet, else CSV.
    #[default]
    Auto,
    /// Comma (or `delimiter`) separated values, optionally gzip-compressed.
    Csv,
    /// One JSON object per line, optionally gzip-compressed.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of a file name under `Auto`.
    #[must_use]
    pub fn of_name(self, name: &str) -> Format {
        if self != Format::Auto {
            return self;
        }
        let lower = name.to_ascii_lowercase();
        let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".json") {
            Format::Jsonl
        } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Format::Parquet
        } else {
            Format::Csv
        }
    }
}

/// How timestamps are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// A chrono `strftime` format. `%Y-%m-%d %H:%M:%S` (the contract's) has a fast path.
    Pattern(String),
    /// Seconds since 1970-01-01 UTC.
    UnixSeconds,
    /// Milliseconds since 1970-01-01 UTC.
    UnixMillis,
    /// RFC 3339 / ISO 8601 with an offset (`2023-09-01T10:00:00+08:00`); the offset in the value wins.
    Rfc3339,
}

impl TimeFormat {
    /// How the format is named in a `bad_date` reject's detail.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            TimeFormat::Pattern(f) => f.clone(),
            TimeFormat::UnixSeconds => "unix seconds".into(),
            TimeFormat::UnixMillis => "unix milliseconds".into(),
            TimeFormat::Rfc3339 => "RFC 3339".into(),
        }
    }

    fn parse(s: &str) -> TimeFormat {
        match s.trim() {
            "unix_s" | "unix" | "epoch" => TimeFormat::UnixSeconds,
            "unix_ms" | "epoch_ms" => TimeFormat::UnixMillis,
            "rfc3339" | "iso8601" => TimeFormat::Rfc3339,
            other => TimeFormat::Pattern(other.to_owned()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    institution: Option<String>,
    feed: Option<String>,
    #[serde(default)]
    format: Format,
    delimiter: Option<String>,
    #[serde(default)]
    amount_unit: AmountUnit,
    #[serde(default)]
    refund_sign: RefundSign,
    time_format: Option<String>,
    utc_offset: Option<String>,
    date_format: Option<String>,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// One institution's file layout. [`Profile::default`] is the contract itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Where it was read from (for messages); `None` for the default.
    pub source: Option<String>,
    /// Institution short code; when set, every row must carry it (or the file may omit the column).
    pub institution: Option<String>,
    /// Feed, when the profile fixes it.
    pub feed: Option<Feed>,
    /// File format.
    pub format: Format,
    /// Field delimiter (one byte).
    pub delimiter: u8,
    /// Amount unit.
    pub amount_unit: AmountUnit,
    /// Refund sign convention.
    pub refund_sign: RefundSign,
    /// Timestamp format of `txn_time`.
    pub time_format: TimeFormat,
    /// Offset of the written times from UTC, in seconds (Beijing: +28 800).
    pub utc_offset_secs: i32,
    /// Date format of daily files.
    pub date_format: String,
    /// File-name globs (`*` and `?`) this profile applies to, besides the institution token.
    pub files: Vec<String>,
    /// Their header → our field.
    pub columns: BTreeMap<String, String>,
    /// Field → (their value → our value).
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// The institutions a payment row may name: the codes of every profile in force (filled by
    /// whoever loads the profiles, not read from this profile's file). A well-formed code outside
    /// the list is a rejected row (`unknown_institution`); an empty list checks nothing (no
    /// profiles are configured).
    pub known_institutions: Vec<String>,
}

/// How many known institutions a rejected row's message lists.
const KNOWN_SHOWN: usize = 8;

/// The detail of a row whose institution no profile names (`unknown_institution`): the known
/// codes (the first few).
#[must_use]
pub fn unknown_institution_detail(known: &[String]) -> String {
    let mut shown: Vec<&str> = known.iter().take(KNOWN_SHOWN).map(String::as_str).collect();
    if known.len() > KNOWN_SHOWN {
        shown.push("…");
    }
    let list = shown.join(", ");
    format!("已知机构 {list} / known institutions: {list}")
}

impl Profile {
    /// Whether `code` is an institution a row may name: in [`Profile::known_institutions`], or any
    /// code when that list is empty.
    #[must_use]
    pub fn knows_institution(&self, code: &str) -> bool {
        self.known_institutions.is_empty() || self.known_institutions.iter().any(|k| k == code)
    }
}

impl AmountUnit {
    /// The unit as a file report keeps it (`source_unit`): `None` for yuan, the lake's unit; `分` for
    /// fen.
    #[must_use]
    pub fn source_unit(self) -> Option<String> {
        match self {
            AmountUnit::Yuan => None,
            other => Some(other.zh().to_owned()),
        }
    }

    /// The unit's Chinese name: 元, 分, 万元, 亿元.
    #[must_use]
    pub fn zh(self) -> &'static str {
        match self {
            AmountUnit::Yuan => "元",
            AmountUnit::Fen => "分",
            AmountUnit::WanYuan => "万元",
            AmountUnit::YiYuan => "亿元",
        }
    }

    /// Yuan per unit (0.01 for fen).
    #[must_use]
    pub fn yuan_factor(self) -> f64 {
        match self {
            AmountUnit::Yuan => 1.0,
            AmountUnit::Fen => 0.01,
            AmountUnit::WanYuan => 1e4,
            AmountUnit::YiYuan => 1e8,
        }
    }

    /// The decimal digits of an amount in this unit that are whole fen (fen per unit = 10^this):
    /// 0 for fen, 2 for yuan, 6 for 万元, 10 for 亿元.
    #[must_use]
    pub fn fen_digits(self) -> u32 {
        match self {
            AmountUnit::Fen => 0,
            AmountUnit::Yuan => 2,
            AmountUnit::WanYuan => 6,
            AmountUnit::YiYuan => 10,
        }
    }

    /// The most integer digits an amount in this unit may have, so that its value in fen stays
    /// within 17 digits (both engines refuse longer ones as not a number): 15 for fen and yuan,
    /// 11 for 万元, 7 for 亿元.
    #[must_use]
    pub fn max_int_digits(self) -> usize {
        let d = self.fen_digits() as usize;
        15.min(17 - d.max(2))
    }
}

impl Default for Profile {
    fn default() -> Profile {
        Profile {
            source: None,
            institution: None,
            feed: None,
            format: Format::Auto,
            delimiter: b',',
            amount_unit: AmountUnit::Yuan,
            refund_sign: RefundSign::Type,
            time_format: TimeFormat::Pattern(DEFAULT_TIME_FORMAT.to_owned()),
            utc_offset_secs: BEIJING_OFFSET,
            date_format: "%Y-%m-%d".to_owned(),
            files: Vec::new(),
            columns: BTreeMap::new(),
            values: BTreeMap::new(),
            known_institutions: Vec::new(),
        }
    }
}

/// The contract's timestamp format.
pub const DEFAULT_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// Beijing time, UTC+8, in seconds.
pub const BEIJING_OFFSET: i32 = 8 * 3600;

fn parse_offset(s: &str) -> Option<i32> {
    let t = s.trim();
    if matches!(t, "UTC" | "Z" | "utc" | "z" | "+00:00" | "0") {
        return Some(0);
    }
    if matches!(t, "Asia/Shanghai" | "Beijing" | "CST") {
        return Some(BEIJING_OFFSET);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

impl Profile {
    /// Parse a profile from TOML text; `origin` names it in messages.
    ///
    /// # Errors
    /// [`ProfileError::Invalid`] for bad TOML, unknown keys, or values out of range.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let invalid = |reason: String| ProfileError::Invalid {
            path: origin.to_owned(),
            reason,
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let _ = raw.description;
        let feed = raw
            .feed
            .as_deref()
            .map(|f| {
                Feed::from_id(f)
                    .filter(|f| matches!(f, Feed::PaymentTransactions | Feed::PaymentDaily))
                    .ok_or_else(|| {
                        invalid(format!(
                            "feed {f:?}: expected payment_transactions or payment_daily"
                        ))
                    })
            })
            .transpose()?;
        let delimiter = match raw.delimiter.as_deref() {
            None => b',',
            Some("\\t" | "\t" | "tab") => b'\t',
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            Some(d) => return Err(invalid(format!("delimiter {d:?} must be one character"))),
        };
        let utc_offset_secs = match raw.utc_offset.as_deref() {
            None => BEIJING_OFFSET,
            Some(o) => parse_offset(o)
                .ok_or_else(|| invalid(format!("utc_offset {o:?}: expected e.g. +08:00 or UTC")))?,
        };
        let payment = homeseason_schema::contract::get(Feed::PaymentTransactions.id());
        let daily = homeseason_schema::contract::get(Feed::PaymentDaily.id());
        for (header, field) in &raw.columns {
            let known = [payment, daily]
                .into_iter()
                .flatten()
                .any(|c| c.field(field).is_some_and(|f| !f.derived));
            if !known {
                return Err(invalid(format!(
                    "column {header:?} maps to {field:?}, which is not an input field of the payment contracts"
                )));
            }
        }
        for (field, map) in &raw.values {
            let allowed: &[&str] = match field.as_str() {
                "txn_type" => &["sale", "refund", "reversal"],
                "channel" => &["online", "offline"],
                other => {
                    return Err(invalid(format!(
                        "[values.{other}]: only txn_type and channel values can be mapped"
                    )));
                }
            };
            if let Some((k, v)) = map.iter().find(|(_, v)| !allowed.contains(&v.as_str())) {
                return Err(invalid(format!(
                    "[values.{field}] {k:?} = {v:?}: expected one of {}",
                    allowed.join(", ")
                )));
            }
        }
        if let Some(inst) = raw.institution.as_deref().filter(|s| !s.trim().is_empty())
            && !is_institution_code(inst)
        {
            return Err(invalid(format!(
                "institution = {inst:?}: {INSTITUTION_CODE_RULE}"
            )));
        }
        Ok(Profile {
            source: Some(origin.to_owned()),
            institution: raw.institution.filter(|s| !s.trim().is_empty()),
            feed,
            format: raw.format,
            delimiter,
            amount_unit: raw.amount_unit,
            refund_sign: raw.refund_sign,
            time_format: TimeFormat::parse(
                raw.time_format.as_deref().unwrap_or(DEFAULT_TIME_FORMAT),
            ),
            utc_offset_secs,
            date_format: raw.date_format.unwrap_or_else(|| "%Y-%m-%d".to_owned()),
            files: raw.files,
            columns: raw.columns,
            values: raw.values,
            known_institutions: Vec::new(),
        })
    }

    /// The field a header names under this profile: the profile's `[columns]` first (exact, then
    /// case- and space-insensitive), then `None` (callers fall back to the contract's aliases).
    #[must_use]
    pub fn column_for(&self, header: &str) -> Option<&str> {
        let h = header.trim().trim_start_matches('\u{feff}');
        if let Some(f) = self.columns.get(h) {
            return Some(f);
        }
        let key = homeseason_schema::contract::normalize_header(h);
        self.columns
            .iter()
            .find(|(k, _)| homeseason_schema::contract::normalize_header(k) == key)
            .map(|(_, f)| f.as_str())
    }

    /// Whether files under this profile read exactly as the contract says (header names mapped to
    /// themselves or not at all, yuan, typed refunds, the contract's date and time formats, commas).
    #[must_use]
    pub fn is_contract_layout(&self) -> bool {
        self.columns.iter().all(|(h, f)| h == f)
            && self.values.values().all(BTreeMap::is_empty)
            && self.amount_unit == AmountUnit::Yuan
            && self.refund_sign == RefundSign::Type
            && self.delimiter == b','
            && self.date_format == "%Y-%m-%d"
            && self.utc_offset_secs == BEIJING_OFFSET
            && self.time_format == TimeFormat::Pattern(DEFAULT_TIME_FORMAT.to_owned())
    }

    /// The profile's own spelling of a value of `field` (`txn_type`, `channel`), if it maps one.
    #[must_use]
    pub fn value_for(&self, field: &str, raw: &str) -> Option<&str> {
        let map = self.values.get(field)?;
        map.get(raw.trim())
            .or_else(|| {
                let key = homeseason_schema::contract::normalize_header(raw);
                map.iter()
                    .find(|(k, _)| homeseason_schema::contract::normalize_header(k) == key)
                    .map(|(_, v)| v)
            })
            .map(String::as_str)
    }

    /// Whether this profile applies to a file, by name or folder: the institution code as a token of the
    /// file name (`…_wallet_b_2023-09.csv`, `wallet_b.csv`) or as the parent folder's name, or a
    /// `files` glob.
    #[must_use]
    pub fn matches_file(&self, path: &Path) -> bool {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if self.files.iter().any(|g| glob_match(g, name)) {
            return true;
        }
        let Some(inst) = self.institution.as_deref() else {
            return false;
        };
        let parent = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        if parent == Some(inst) {
            return true;
        }
        let stem = name.split('.').next().unwrap_or_default();
        stem == inst
            || stem.starts_with(&format!("{inst}_"))
            || stem.ends_with(&format!("_{inst}"))
            || stem.contains(&format!("_{inst}_"))
    }
}

/// `*` and `?` globbing on a file name.
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The profile for a file among `profiles`: the first that matches it, else the default.
#[must_use]
pub fn pick<'a>(profiles: &'a [Profile], path: &Path) -> Option<&'a Profile> {
    profiles.iter().find(|p| p.matches_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_profile() {
        let p = Profile::from_toml(
            r#"
institution = "bank_c"
feed = "payment_transactions"
amount_unit = "fen"
refund_sign = "negative"
time_format = "%Y/%m/%d %H:%M:%S"
utc_offset = "UTC"
[columns]
"流水号" = "txn_id"
[values.channel]
"POS" = "offline"
"#,
            "inline",
        )
        .unwrap();
        assert_eq!(p.institution.as_deref(), Some("bank_c"));
        assert_eq!(p.amount_unit, AmountUnit::Fen);
        assert_eq!(p.refund_sign, RefundSign::Negative);
        assert_eq!(p.utc_offset_secs, 0);
        assert_eq!(p.column_for(" 流水号 "), Some("txn_id"));
        assert_eq!(p.value_for("channel", "pos"), Some("offline"));
        assert!(p.matches_file(Path::new("x/payment_transactions_bank_c_2023-09.csv")));
        assert!(p.matches_file(Path::new("bank_c/anything.csv")));
        assert!(!p.matches_file(Path::new("payment_transactions_bank_cd_2023-09.csv")));
    }

    #[test]
    fn rejects_unknown_fields_and_values() {
        assert!(Profile::from_toml("institution = 'x'\nbogus = 1\n", "t").is_err());
        assert!(Profile::from_toml("[columns]\n\"a\" = \"nope\"\n", "t").is_err());
        assert!(Profile::from_toml("[values.channel]\n\"a\" = \"shop\"\n", "t").is_err());
        assert!(Profile::from_toml("utc_offset = 'Mars'\n", "t").is_err());
        assert_eq!(parse_offset("+05:30"), Some(19_800));
        assert!(glob_match("bank_*_20??-*.csv", "bank_c_2023-09.csv"));
    }
}
