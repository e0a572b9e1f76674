//! Spark SQL generated from homeseason's sources of truth: the `payment_transactions` contract (field
//! order = reject priority, enum values and their aliases, header folding), the institution profile
//! (column mapping, delimiter, amount unit, refund sign, time format and offset, value maps) and the
//! campaign (data years; the region roll-up is a lookup table built from [`Regions::resolve`], and
//! the area of `payment_area_daily` one built from `homeseason_ingest`'s [`Areas`]).
//!
//! Every rule mirrors `homeseason_ingest::stream` (the Rust engine) line by line; the unit tests
//! below pin the pieces that are easy to get subtly wrong, and the suite compares both engines on the
//! sample season and the bad-input corpus.

use std::fmt::Write as _;

use homeseason_ingest::{AmountUnit, DEFAULT_TIME_FORMAT, Profile, RefundSign, TimeFormat};
use homeseason_ingest::{Areas, Feed};
use homeseason_schema::contract::{Field, normalize_header};
use homeseason_schema::region::Regions;

use crate::SparkError;

/// The input fields of `payment_transactions`, in contract (and so reject-priority) order.
pub use homeseason_ingest::TXN_FIELDS as FIELDS;
pub(crate) const F_INST: usize = 1;

/// A Spark SQL string literal (backslash escapes, as Spark's parser reads them).
#[must_use]
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// ASCII whitespace trimmed as `stream`'s `trim` does (space, tab, LF, FF, CR).
fn ascii_trim(e: &str) -> String {
    format!("trim(BOTH ' \\t\\n\\r\\f' FROM {e})")
}

/// [`normalize_header`] in SQL: full-width ASCII and brackets folded, whitespace (Unicode), `_`, `-`
/// and invisible characters removed, lower-cased.
#[must_use]
pub fn normalize_sql(e: &str) -> String {
    let mut from = String::new();
    let mut to = String::new();
    for c in '\u{FF01}'..='\u{FF5E}' {
        from.push(c);
        to.push(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c));
    }
    for (a, b) in [('【', '['), ('〔', '['), ('】', ']'), ('〕', ']')] {
        from.push(a);
        to.push(b);
    }
    format!(
        "lower(regexp_replace(translate({e}, {}, {}), {}, ''))",
        lit(&from),
        lit(&to),
        lit("[\\p{IsWhite_Space}_\\-\u{FEFF}\u{200B}\u{200C}\u{200D}\u{2060}]")
    )
}

/// Unicode trim (`str::trim`), for the profile's exact value keys.
fn unicode_trim(e: &str) -> String {
    format!(
        "regexp_replace({e}, {}, '')",
        lit("^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$")
    )
}

/// How a value of `field` (`txn_type` or `channel`) reads: the profile's map (exact, then folded),
/// then the contract's values and aliases — `Profile::value_for` then `Field::resolve_enum`. `NULL`
/// when nothing matches.
#[must_use]
pub fn enum_sql(cell: &str, profile: &Profile, field: &Field) -> String {
    let norm = normalize_sql(cell);
    let mut s = String::from("CASE");
    if let Some(map) = profile.values.get(&field.name) {
        for (k, v) in map {
            let _ = write!(
                s,
                " WHEN {} = {} THEN {}",
                unicode_trim(cell),
                lit(k.trim()),
                lit(v)
            );
        }
        for (k, v) in map {
            let _ = write!(
                s,
                " WHEN {norm} = {} THEN {}",
                lit(&normalize_header(k)),
                lit(v)
            );
        }
    }
    // The contract's own values, spelled exactly (the common case: no folding needed).
    for v in field.enum_values() {
        if normalize_header(v) == *v {
            let _ = write!(s, " WHEN {cell} = {} THEN {}", lit(v), lit(v));
        }
    }
    let _ = write!(s, " WHEN {norm} = '' THEN NULL");
    for v in field.enum_values().iter().chain(field.enum_aliases.keys()) {
        let _ = write!(
            s,
            " WHEN {norm} = {} THEN {}",
            lit(&normalize_header(v)),
            lit(v)
        );
    }
    for (value, spellings) in &field.enum_aliases {
        let keys: Vec<String> = spellings
            .iter()
            .map(|sp| lit(&normalize_header(sp)))
            .collect();
        if !keys.is_empty() {
            let _ = write!(
                s,
                " WHEN {norm} IN ({}) THEN {}",
                keys.join(", "),
                lit(value)
            );
        }
    }
    s.push_str(" END");
    s
}

/// A chrono `strftime` pattern as an anchored regex and the capture group of each component
/// (year, month, day, hour, minute, second; 0 = absent).
fn pattern_regex(p: &str) -> Result<(String, [usize; 6]), SparkError> {
    let unsupported = |what: &str| {
        SparkError::Unsupported(format!(
            "time_format {p:?}: {what} is not supported by the Spark engine (use --engine rust, or unix_s / unix_ms / a pattern of %Y %m %d %H %M %S)"
        ))
    };
    let expanded = p.replace("%F", "%Y-%m-%d").replace("%T", "%H:%M:%S");
    let mut re = String::from("^");
    let mut groups = [0usize; 6];
    let mut n = 0;
    let mut chars = expanded.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let Some(spec) = chars.next() else {
                return Err(unsupported("a trailing %"));
            };
            let (slot, pat) = match spec {
                'Y' => (0, "([0-9]{4})"),
                'm' => (1, "([0-9]{1,2})"),
                'd' => (2, "([0-9]{1,2})"),
                'H' => (3, "([0-9]{1,2})"),
                'M' => (4, "([0-9]{1,2})"),
                'S' => (5, "([0-9]{1,2})"),
                '%' => {
                    re.push('%');
                    continue;
                }
                other => return Err(unsupported(&format!("%{other}"))),
            };
            n += 1;
            groups[slot] = n;
            re.push_str(pat);
        } else if c.is_whitespace() {
            re.push_str("\\s*");
        } else if c.is_ascii_alphanumeric() {
            re.push(c);
        } else {
            let _ = write!(re, "\\x{{{:x}}}", u32::from(c));
        }
    }
    re.push('$');
    if groups[0] == 0 || groups[1] == 0 || groups[2] == 0 {
        return Err(unsupported("a pattern without %Y, %m and %d"));
    }
    Ok((re, groups))
}

/// The Beijing calendar day (days since 1970-01-01, INT) of a `txn_time` cell, or `NULL` when it does
/// not read — `stream::beijing_day`.
///
/// # Errors
/// [`SparkError::Unsupported`] for time formats the Spark engine does not translate (RFC 3339, chrono
/// specifiers other than `%Y %m %d %H %M %S %F %T`).
pub fn day_sql(cell: &str, profile: &Profile) -> Result<String, SparkError> {
    let off = i64::from(profile.utc_offset_secs);
    let from_utc = |secs: &str| format!("CAST(floor(({secs} + 28800) / 86400) AS INT)");
    Ok(match &profile.time_format {
        TimeFormat::Pattern(p) => {
            let (re, g) = if p == DEFAULT_TIME_FORMAT {
                // The fast path: exactly `YYYY-MM-DD HH:MM:SS` (or a `T`), 19 characters.
                (
                    "^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})$"
                        .to_owned(),
                    [1, 2, 3, 4, 5, 6],
                )
            } else {
                pattern_regex(p)?
            };
            // The default pattern is fixed-width, so once the `RLIKE` guard has matched, each
            // component sits at a known position: `substr` instead of one regex match per component
            // (the guard is evaluated first, and `CASE` does not evaluate the rest when it fails).
            const FIXED: [i32; 6] = [1, 6, 9, 12, 15, 18];
            let fixed = p == DEFAULT_TIME_FORMAT;
            let part = |i: usize| {
                if g[i] == 0 {
                    "0".to_owned()
                } else if fixed {
                    let len = if i == 0 { 4 } else { 2 };
                    format!("CAST(substr({cell}, {}, {len}) AS INT)", FIXED[i])
                } else {
                    format!(
                        "CAST(regexp_extract({cell}, {}, {}) AS INT)",
                        lit(&re),
                        g[i]
                    )
                }
            };
            let (y, m, d, hh, mi, ss) = (part(0), part(1), part(2), part(3), part(4), part(5));
            let secs = format!(
                "(CAST(unix_date(make_date({y}, {m}, {d})) AS BIGINT) * 86400 + {hh} * 3600 + {mi} * 60 + {ss} - {off})"
            );
            format!(
                "CASE WHEN {cell} RLIKE {} AND {hh} <= 23 AND {mi} <= 59 AND {ss} <= 59 THEN {} END",
                lit(&re),
                from_utc(&secs)
            )
        }
        TimeFormat::UnixSeconds => format!(
            "CASE WHEN {cell} RLIKE '^[+-]?[0-9]+$' THEN {} END",
            from_utc(&format!("CAST({cell} AS BIGINT)"))
        ),
        TimeFormat::UnixMillis => format!(
            "CASE WHEN {cell} RLIKE '^[+-]?[0-9]+$' THEN {} END",
            from_utc(&format!("floor(CAST({cell} AS BIGINT) / 1000)"))
        ),
        TimeFormat::Rfc3339 => {
            return Err(SparkError::Unsupported(
                "time_format rfc3339 is not supported by the Spark engine (use --engine rust)"
                    .into(),
            ));
        }
    })
}

/// An amount cell in fen (BIGINT, signed), or `NULL` when it is not a plain decimal number —
/// `stream::parse_fen`: an optional sign, digits with thousands commas only where they belong
/// (`1,234,567.89`; not `12,50`, `1,2,3` or `407,42`), at most [`AmountUnit::max_int_digits`]
/// integer digits, an optional fraction; the fraction's first [`AmountUnit::fen_digits`] digits are
/// whole fen (two for yuan, six for 万元, none for fen) and the next one rounds half away from zero.
#[must_use]
pub fn fen_sql(cell: &str, unit: AmountUnit) -> String {
    let int = format!("regexp_replace(regexp_extract({cell}, '^[+-]?([0-9,]*)', 1), ',', '')");
    let frac = format!("regexp_extract({cell}, '[.]([0-9]*)$', 1)");
    let d = unit.fen_digits();
    let scale = 10_i64.pow(d);
    let keep = if d == 0 {
        String::new()
    } else {
        format!(" + CAST(rpad(substr({frac}, 1, {d}), {d}, '0') AS BIGINT)")
    };
    let round_at = d + 1;
    let max_int = unit.max_int_digits();
    format!(
        "CASE WHEN {cell} RLIKE '^[+-]?([0-9]*|[0-9]{{1,3}}(,[0-9]{{3}})+)([.][0-9]*)?$' AND {cell} RLIKE '[0-9]' AND length({int}) <= {max_int} \
         THEN (CASE WHEN substr({cell}, 1, 1) = '-' THEN -1 ELSE 1 END) * \
         (CAST(coalesce(nullif({int}, ''), '0') AS BIGINT) * {scale}{keep} \
         + CASE WHEN substr({frac}, {round_at}, 1) >= '5' THEN 1 ELSE 0 END) END"
    )
}

/// The region roll-up as a lookup: the first four characters of a region cell that passed the
/// pattern check (`XPCC` or six digits) → the reporting region's code. Built by asking
/// [`Regions::resolve`] (a six-digit code's region depends only on its first four digits; a unit
/// test checks that against `resolve` on every code of the sample below).
#[must_use]
pub fn region_lookup() -> Vec<(String, String)> {
    let regions = Regions::embedded();
    let mut out = Vec::new();
    if let Ok(r) = regions.resolve("XPCC") {
        out.push(("XPCC".to_owned(), r.code.clone()));
    }
    for p in 0..10_000 {
        let code = format!("{p:04}00");
        if let Ok(r) = regions.resolve(&code) {
            out.push((code[..4].to_owned(), r.code.clone()));
        }
    }
    out
}

/// The `region_lookup` view.
#[must_use]
pub fn region_lookup_sql() -> String {
    let rows: Vec<String> = region_lookup()
        .iter()
        .map(|(p, c)| format!("({}, {})", lit(p), lit(c)))
        .collect();
    format!("SELECT * FROM VALUES {} AS t(p4, region)", rows.join(", "))
}

/// The areas a region cell can name, as a lookup: each area code of [`Areas`] that passes the
/// region pattern (`XPCC` or six digits) → the reporting region it rolls up to. A row's area is its
/// region cell when the lookup holds it under the row's reporting region, else the reporting region
/// itself — [`Areas::area_of`] on a cell that passed the pattern check (a unit test checks that on
/// every code the region lookup resolves). Only codes leave Spark: the city and urban/rural class
/// are read from [`Areas`] when the staged cells are framed.
#[must_use]
pub fn area_lookup() -> Vec<(String, String)> {
    Areas::embedded()
        .all()
        .iter()
        .filter(|a| {
            a.code == "XPCC" || (a.code.len() == 6 && a.code.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|a| (a.code.clone(), a.region.clone()))
        .collect()
}

/// The `area_lookup` view (a few thousand rows: Spark broadcasts it to the join).
#[must_use]
pub fn area_lookup_sql() -> String {
    let rows: Vec<String> = area_lookup()
        .iter()
        .map(|(a, r)| format!("({}, {})", lit(a), lit(r)))
        .collect();
    format!(
        "SELECT * FROM VALUES {} AS t(code, region)",
        rows.join(", ")
    )
}

/// The merchant pairs a cell of `cells` (columns of `classified`) counts first: `pair` (a column
/// of `classified`) of the new sales, counted by the first file (then line) of the run that has it,
/// unless the lake counted it before (`known`, a view of `(inst, pair)`).
fn new_pairs_sql(pair: &str, cells: &[&str], known: &str) -> String {
    let cols = cells.join(", ");
    let p_cols: Vec<String> = cells.iter().map(|c| format!("p.{c}")).collect();
    format!(
        "SELECT p.fid, p.mk, {}, p.pair FROM \
           (SELECT fid, mk, {cols}, {pair} AS pair, inst, \
              row_number() OVER (PARTITION BY ledger, inst, {pair} ORDER BY fid, line) AS pr \
            FROM classified WHERE st = 0 AND sale) p \
         LEFT ANTI JOIN {known} k ON k.inst = p.inst AND k.pair = p.pair \
         WHERE p.pr = 1",
        p_cols.join(", ")
    )
}

/// The increment cells of a file and month grouped by `cells` (columns of `classified`): rows,
/// sales, gross sales and refunds in fen (a sum that overflows BIGINT is staged as -1, which the
/// reader refuses), and the merchants the view `pairs` ([`new_pairs_sql`]) counts in the cell.
fn cells_sql(cells: &[&str], pairs: &str) -> String {
    let keys = format!("fid, mk, {}", cells.join(", "));
    let on: Vec<String> = ["fid", "mk"]
        .iter()
        .chain(cells)
        .map(|c| format!("m.{c} = d.{c}"))
        .collect();
    format!(
        "SELECT d.*, coalesce(m.merchants, 0) AS merchants FROM \
           (SELECT {keys}, count(1) AS rows, count_if(sale) AS txn_count, \
              coalesce(try_sum(CASE WHEN sale THEN fen ELSE 0 END), -1) AS sale_fen, \
              coalesce(try_sum(CASE WHEN NOT sale THEN fen ELSE 0 END), -1) AS refund_fen \
            FROM classified WHERE st = 0 GROUP BY {keys}) d \
         LEFT JOIN (SELECT {keys}, count(1) AS merchants FROM {pairs} GROUP BY {keys}) m \
         ON {}",
        on.join(" AND ")
    )
}

/// What the generated SQL needs to know about a file (read from its first bytes by
/// [`crate::prepare`]). Files with equal layouts and profiles share one SELECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLayout {
    /// Number of header cells.
    pub ncols: usize,
    /// Column index of each of [`FIELDS`].
    pub columns: [Option<usize>; 9],
    /// The institution every row must carry.
    pub institution: String,
    /// How lines are decoded.
    pub decode: Decode,
}

/// How a file's bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decode {
    /// UTF-8 (decided from non-ASCII text in the first chunk).
    Utf8,
    /// GB18030 / GBK.
    Gb18030,
    /// The first chunk is plain ASCII: each line is UTF-8 when valid, else GB18030.
    Auto,
}

/// The SELECT for a group of files sharing a layout and a profile: decode and parse each data line
/// (CSV through `from_csv`, RFC 4180 quotes), trim the nine cells and read the time, the amount, the
/// type and the channel. The judging is [`job_sql`]'s `validated` view.
///
/// # Errors
/// [`SparkError::Unsupported`] for profile settings the Spark engine does not translate.
pub fn group_sql(
    fids: &[usize],
    layout: &FileLayout,
    profile: &Profile,
) -> Result<String, SparkError> {
    let contract = Feed::PaymentTransactions.contract();
    let field = |name: &str| {
        contract
            .field(name)
            .ok_or_else(|| SparkError::Unsupported(format!("contract has no field {name}")))
    };
    let text = match layout.decode {
        Decode::Utf8 => "CAST(bytes AS STRING)".to_owned(),
        Decode::Gb18030 => "decode(bytes, 'GB18030')".to_owned(),
        Decode::Auto => "CASE WHEN is_valid_utf8(CAST(bytes AS STRING)) THEN CAST(bytes AS STRING) ELSE decode(bytes, 'GB18030') END".to_owned(),
    };
    // A line that does not decode: the Rust engine refuses the whole file (`IngestError::Encoding`).
    let bad_enc = match layout.decode {
        Decode::Utf8 => "NOT is_valid_utf8(CAST(bytes AS STRING))".to_owned(),
        Decode::Gb18030 => "encode(decode(bytes, 'GB18030'), 'GB18030') <> bytes".to_owned(),
        Decode::Auto => "NOT is_valid_utf8(CAST(bytes AS STRING)) AND encode(decode(bytes, 'GB18030'), 'GB18030') <> bytes".to_owned(),
    };
    let gb = match layout.decode {
        Decode::Utf8 => "false".to_owned(),
        Decode::Gb18030 => "true".to_owned(),
        Decode::Auto => "NOT is_valid_utf8(CAST(bytes AS STRING))".to_owned(),
    };
    let schema: Vec<String> = (0..layout.ncols).map(|i| format!("c{i} STRING")).collect();
    let delim = char::from(profile.delimiter).to_string();
    let parse = format!(
        "from_csv(raw, {}, map('sep', {}, 'escape', '\"', 'mode', 'PERMISSIVE'))",
        lit(&schema.join(", ")),
        lit(&delim)
    );
    let cell = |i: usize| match layout.columns[i] {
        Some(c) => ascii_trim(&format!("coalesce(r.c{c}, '')")),
        None => "''".to_owned(),
    };
    let all_cells: Vec<String> = (0..layout.ncols)
        .map(|c| format!("coalesce(r.c{c}, '')"))
        .collect();
    let blank = format!(
        "{} = ''",
        ascii_trim(&format!("concat({})", all_cells.join(", ")))
    );
    let cells: Vec<String> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} AS {f}", cell(i)))
        .collect();
    let typed = profile.refund_sign == RefundSign::Type;
    let expected = if layout.columns[F_INST].is_some() {
        lit(&layout.institution)
    } else {
        "CAST(NULL AS STRING)".to_owned()
    };
    // The known institutions (the profiles' codes) as a literal set, each escaped by `lit`; no
    // list checks nothing (as the Rust engine's `Profile::knows_institution`).
    let known = if profile.known_institutions.is_empty() {
        "true".to_owned()
    } else {
        let codes: Vec<String> = profile.known_institutions.iter().map(|c| lit(c)).collect();
        format!("institution IN ({})", codes.join(", "))
    };
    let fid_list: Vec<String> = fids.iter().map(ToString::to_string).collect();
    let type_case = enum_sql("txn_type", profile, field("txn_type")?);
    let tyv = format!("CASE WHEN txn_type = '' THEN NULL ELSE {type_case} END");
    // The line is parsed once, by a generator (`LATERAL VIEW explode(array(from_csv(…)))`): a plain
    // projection `from_csv(…) AS r` lets the optimiser push the blank-line filter below it and inline
    // `from_csv` (and the decoding) into the filter once for each of the cells, which made the
    // validation ~10 × slower than one parse (EXPLAIN FORMATTED showed ten `from_csv` per row; see
    // benchmarks/spark/RESULTS.md). A filter on a generator's output cannot be pushed below it.
    Ok(format!(
        "SELECT *, {day} AS day, {fen} AS fen, {tyv} AS tyv, {chv} AS chv, \
           {expected} AS inst_expected, {known} AS inst_known, {typed} AS typed FROM ( \
           SELECT fid, line, raw, gb, bad_enc, {cells} FROM ( \
               SELECT fid, line, {text} AS raw, {gb} AS gb, {bad_enc} AS bad_enc \
               FROM lines WHERE fid IN ({fids}) AND line > 1) \
             LATERAL VIEW explode(array({parse})) parsed AS r \
           WHERE NOT ({blank}))",
        day = day_sql("txn_time", profile)?,
        fen = fen_sql("amount", profile.amount_unit),
        chv = enum_sql("channel", profile, field("channel")?),
        cells = cells.join(", "),
        fids = fid_list.join(", "),
    ))
}

/// The job's views and outputs, for the groups' SELECTs and the files' `(fid, institution, ledger)`:
/// `validated` (every data line judged: the first failing check in the Rust engine's order, else
/// accepted), `classified` (the exact dedupe by ledger + institution + `txn_id`, a shuffle, the
/// first file then line wins; and the anti-join with the lake's ids, the view `known_ids`),
/// `new_pairs` and `new_area_pairs` (merchant pairs of `payment_daily`'s and
/// `payment_area_daily`'s cells new to the run and to the lake, `known_pairs` and
/// `known_area_pairs`), and the staged outputs: per file and month the increment cells of both
/// tables (in one pass over the persisted `classified` rows; a row's area from the broadcast
/// `area_lookup`), the new ids and the new pairs of each kind.
#[must_use]
pub fn job_sql(
    groups: &[String],
    years: (i32, i32),
    files: &[(usize, String, usize)],
) -> (Vec<(String, String, bool)>, Vec<Output>) {
    let union = if groups.is_empty() {
        "SELECT CAST(NULL AS INT) AS fid, CAST(NULL AS BIGINT) AS line, CAST(NULL AS STRING) AS raw, false AS gb, false AS bad_enc, \
         '' AS txn_id, '' AS institution, '' AS txn_time, '' AS merchant_id, '' AS mcc, '' AS region_code, \
         '' AS amount, '' AS txn_type, '' AS channel, CAST(NULL AS INT) AS day, CAST(NULL AS BIGINT) AS fen, \
         CAST(NULL AS STRING) AS tyv, CAST(NULL AS STRING) AS chv, CAST(NULL AS STRING) AS inst_expected, \
         true AS inst_known, true AS typed WHERE false"
            .to_owned()
    } else {
        groups.join(" UNION ALL ")
    };
    let (y0, y1) = years;
    // The contract's maximum amount, in fen: a larger amount (sale or refund) is `above_maximum`.
    let above_max = homeseason_ingest::Feed::PaymentTransactions
        .contract()
        .field("amount")
        .and_then(|f| f.constraints.maximum)
        .map_or_else(String::new, |max| {
            format!(
                "WHEN abs(fen) > {} THEN 'amount|above_maximum' ",
                (max * 100.0).round() as i64
            )
        });
    let values: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("WHEN '{f}' THEN {f}"))
        .collect();
    let validated = format!(
        "SELECT fid, line, raw, gb, bad_enc, rej, CASE split_part(rej, '|', 1) {values} END AS value, \
           txn_id, merchant_id, CAST(mcc AS INT) AS mcc, region_code, region, day, \
           CAST(year(date_from_unix_date(day)) * 12 + month(date_from_unix_date(day)) - 1 AS INT) AS mk, \
           CASE WHEN typed THEN coalesce(tyv, 'sale') \
                WHEN fen < 0 THEN (CASE WHEN tyv = 'reversal' THEN 'reversal' ELSE 'refund' END) \
                ELSE coalesce(tyv, 'sale') END = 'sale' AS sale, \
           abs(fen) AS fen, chv AS channel \
         FROM (SELECT *, CASE WHEN txn_id = '' THEN 'txn_id|missing_value' \
             WHEN inst_expected IS NOT NULL AND institution = '' THEN 'institution|missing_value' \
             WHEN inst_expected IS NOT NULL AND NOT institution RLIKE '^[a-z0-9_]{{1,32}}$' THEN 'institution|bad_pattern' \
             WHEN inst_expected IS NOT NULL AND NOT inst_known THEN 'institution|unknown_institution' \
             WHEN inst_expected IS NOT NULL AND institution <> inst_expected THEN 'institution|bad_enum' \
             WHEN txn_time = '' THEN 'txn_time|missing_value' WHEN day IS NULL THEN 'txn_time|bad_date' \
             WHEN merchant_id = '' THEN 'merchant_id|missing_value' \
             WHEN mcc = '' THEN 'mcc|missing_value' WHEN NOT mcc RLIKE '^[0-9]{{4}}$' THEN 'mcc|bad_pattern' \
             WHEN region_code = '' THEN 'region_code|missing_value' \
             WHEN NOT (region_code = 'XPCC' OR region_code RLIKE '^[0-9]{{6}}$') THEN 'region_code|bad_pattern' \
             WHEN amount = '' THEN 'amount|missing_value' WHEN fen IS NULL THEN 'amount|bad_number' {above_max}\
             WHEN typed AND fen < 0 THEN 'amount|below_minimum' \
             WHEN typed AND txn_type = '' THEN 'txn_type|missing_value' \
             WHEN txn_type <> '' AND tyv IS NULL THEN 'txn_type|bad_enum' \
             WHEN channel = '' THEN 'channel|missing_value' WHEN chv IS NULL THEN 'channel|bad_enum' \
             WHEN region IS NULL THEN 'region_code|unknown_region' \
             WHEN year(date_from_unix_date(day)) NOT BETWEEN {y0} AND {y1} THEN 'txn_time|bad_period' END AS rej \
           FROM (SELECT g.*, rl.region FROM ({union}) g \
             LEFT JOIN region_lookup rl ON rl.p4 = substr(g.region_code, 1, 4)))",
        values = values.join(" "),
    );
    // Each file's institution (every accepted row carries it) and ledger (files of one ledger are
    // one ingest run: deduplicated against each other in input order).
    let meta_rows: Vec<String> = files
        .iter()
        .map(|(fid, inst, ledger)| format!("({fid}, {}, {ledger})", lit(inst)))
        .collect();
    let meta = if meta_rows.is_empty() {
        "SELECT CAST(NULL AS INT) AS fid, CAST(NULL AS STRING) AS inst, CAST(NULL AS INT) AS ledger WHERE false"
            .to_owned()
    } else {
        format!(
            "SELECT * FROM VALUES {} AS t(fid, inst, ledger)",
            meta_rows.join(", ")
        )
    };
    // The lake's index hashes (homeseason_ingest::txn_id128 and merchant_pair): XXH64 with seed 42,
    // which is Spark's xxhash64 of one string.
    let nz = |e: &str| format!("CASE WHEN {e} = 0 THEN CAST(1 AS BIGINT) ELSE {e} END");
    // The values' fingerprint (homeseason_ingest::txn_values_fingerprint): xxhash64 over the typed
    // values in this order, each hashed with the hash so far as its seed.
    let accepted = format!(
        "SELECT *, CASE WHEN sale THEN {apair} END AS apair FROM ( \
         SELECT v.fid, v.line, v.txn_id, v.mcc, v.region, v.day, v.mk, v.sale, v.fen, v.channel, \
           v.merchant_id, m.inst, m.ledger, {fp} AS fp, \
           xxhash64(concat(v.txn_id, chr(1), 'homeseason')) AS fp2, \
           CASE WHEN v.sale THEN {pair} END AS pair, {vfp} AS vfp, \
           CASE WHEN al.region = v.region THEN v.region_code ELSE v.region END AS area \
         FROM validated v JOIN file_meta m ON m.fid = v.fid \
           LEFT JOIN area_lookup al ON al.code = v.region_code WHERE v.rej IS NULL)",
        fp = nz("xxhash64(v.txn_id)"),
        vfp = nz(
            "xxhash64(CAST(v.day AS INT), CAST(v.region AS STRING), CAST(v.mcc AS INT), \
             CASE WHEN v.channel = 'online' THEN 1 ELSE 0 END, CAST(v.sale AS BOOLEAN), \
             CAST(v.fen AS BIGINT), CAST(v.merchant_id AS STRING))"
        ),
        pair = nz(
            "xxhash64(concat_ws('|', CAST(v.day AS STRING), v.region, lpad(CAST(v.mcc AS STRING), 4, '0'), \
             CASE WHEN v.channel = 'online' THEN '1' ELSE '0' END, v.merchant_id))"
        ),
        // homeseason_ingest::area_merchant_pair: the area code after the reporting region's.
        apair = nz(
            "xxhash64(concat_ws('|', CAST(day AS STRING), region, area, lpad(CAST(mcc AS STRING), 4, '0'), \
             CASE WHEN channel = 'online' THEN '1' ELSE '0' END, merchant_id))"
        ),
    );
    // The exact dedupe: one shuffle by ledger + institution + txn_id (the text, not a hash), rows in
    // input-file order then line. A row after another of its own file is a duplicate within the file
    // (st 1) when its values' fingerprint is the file's first occurrence's, else a conflict (st 3);
    // one whose id the lake holds is a duplicate across files (st 2), or a conflict when the lake's
    // index knows other values (a fingerprint 0 is unknown: a duplicate); one after a row of an
    // earlier file of the run is compared with the run's first occurrence the same way; otherwise it
    // is new (st 0) and only new rows are added to the lake. A conflict within the file names the
    // first occurrence's line and the values that differ (`cdetail`: `line|field,field`).
    let same_file = "PARTITION BY ledger, inst, txn_id, fid ORDER BY line";
    let differs: Vec<String> = [
        ("day", "txn_time"),
        ("region", "region_code"),
        ("mcc", "mcc"),
        ("channel", "channel"),
        ("sale", "txn_type"),
        ("fen", "amount"),
        ("merchant_id", "merchant_id"),
    ]
    .iter()
    .map(|(c, name)| {
        format!("CASE WHEN first_value({c}) OVER ({same_file}) <> {c} THEN '{name}' END")
    })
    .collect();
    let classified = format!(
        "SELECT a.*, CASE \
           WHEN a.prev_fid = a.fid THEN (CASE WHEN a.file_vfp = a.vfp THEN 1 ELSE 3 END) \
           WHEN k.fp IS NOT NULL THEN (CASE WHEN k.vfp <> 0 AND k.vfp <> a.vfp THEN 3 ELSE 2 END) \
           WHEN a.prev_fid IS NOT NULL THEN (CASE WHEN a.run_vfp = a.vfp THEN 2 ELSE 3 END) \
           ELSE 0 END AS st \
         FROM (SELECT *, lag(fid) OVER (PARTITION BY ledger, inst, txn_id ORDER BY fid, line) AS prev_fid, \
                 first_value(vfp) OVER (PARTITION BY ledger, inst, txn_id ORDER BY fid, line) AS run_vfp, \
                 first_value(vfp) OVER ({same_file}) AS file_vfp, \
                 concat(CAST(first_value(line) OVER ({same_file}) AS STRING), '|', concat_ws(',', {differs})) AS cdetail \
               FROM accepted) a \
         LEFT JOIN known_ids k ON k.inst = a.inst AND k.fp = a.fp AND k.fp2 = a.fp2",
        differs = differs.join(", "),
    );
    // Merchant pairs, by cell and by area cell: counted by the first file (then line) of the run
    // with a new sale in the pair, unless the lake counted the pair before.
    const DAILY: [&str; 4] = ["day", "region", "mcc", "channel"];
    const AREA: [&str; 5] = ["day", "region", "area", "mcc", "channel"];
    let new_pairs = new_pairs_sql("pair", &DAILY, "known_pairs");
    let new_area_pairs = new_pairs_sql("apair", &AREA, "known_area_pairs");
    let views = vec![
        ("region_lookup".to_owned(), region_lookup_sql(), false),
        ("area_lookup".to_owned(), area_lookup_sql(), false),
        ("file_meta".to_owned(), meta, false),
        ("validated".to_owned(), validated, true),
        ("accepted".to_owned(), accepted, false),
        ("classified".to_owned(), classified, true),
        ("new_pairs".to_owned(), new_pairs, true),
        ("new_area_pairs".to_owned(), new_area_pairs, true),
    ];
    let outputs = vec![
        Output {
            name: "rejects".into(),
            // Conflicts (st 3) are rejects of the `txn_id` column; `detail` names the first line of
            // the file and what differs when the first occurrence is in the same file.
            sql: "SELECT fid, line, split_part(rej, '|', 1) AS field, split_part(rej, '|', 2) AS reason, \
                  value, raw, CAST(NULL AS STRING) AS detail FROM validated WHERE rej IS NOT NULL \
                  UNION ALL \
                  SELECT c.fid, c.line, 'txn_id' AS field, 'conflict' AS reason, c.txn_id AS value, v.raw, \
                    CASE WHEN c.prev_fid = c.fid THEN c.cdetail END AS detail \
                  FROM classified c JOIN validated v ON v.fid = c.fid AND v.line = c.line WHERE c.st = 3"
                .into(),
            partition_by: vec![],
            collect: false,
        },
        Output {
            name: "daily".into(),
            sql: cells_sql(&DAILY, "new_pairs"),
            partition_by: vec![],
            collect: false,
        },
        Output {
            name: "area".into(),
            sql: cells_sql(&AREA, "new_area_pairs"),
            partition_by: vec![],
            collect: false,
        },
        Output {
            name: "ids".into(),
            sql: "SELECT fid, mk, line, fp, fp2, vfp, day FROM classified WHERE st = 0".into(),
            partition_by: vec!["fid".into(), "mk".into()],
            collect: false,
        },
        Output {
            name: "pairs".into(),
            sql: "SELECT fid, mk, pair, day FROM new_pairs".into(),
            partition_by: vec!["fid".into(), "mk".into()],
            collect: false,
        },
        Output {
            name: "apairs".into(),
            sql: "SELECT fid, mk, pair, day FROM new_area_pairs".into(),
            partition_by: vec!["fid".into(), "mk".into()],
            collect: false,
        },
        Output {
            name: "file_stats".into(),
            sql: "SELECT fid, count(1) AS read, count_if(rej IS NOT NULL) AS rejected, count_if(gb) AS gb_lines, count_if(bad_enc) AS bad_enc_lines \
                  FROM validated GROUP BY fid"
                .into(),
            partition_by: vec![],
            collect: true,
        },
        Output {
            name: "month_stats".into(),
            // `xconf`: conflicts with the lake or an earlier file (not within the file): like
            // `across`, they give the file the month (as the Rust engine's months).
            sql: "SELECT fid, mk, count_if(st = 0) AS rows, count_if(st = 2) AS across, count_if(st = 1) AS dups, \
                  count_if(st = 3 AND (prev_fid IS NULL OR prev_fid <> fid)) AS xconf \
                  FROM classified GROUP BY fid, mk"
                .into(),
            partition_by: vec![],
            collect: true,
        },
    ];
    (views, outputs)
}

/// One output of the job.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Output {
    /// Name (a folder under the staging area, or a key of the summary when collected).
    pub name: String,
    /// The SELECT.
    pub sql: String,
    /// Parquet partition columns.
    pub partition_by: Vec<String>,
    /// Collected into `summary.json` instead of written.
    pub collect: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_lookup_agrees_with_resolve() {
        let table: std::collections::HashMap<String, String> =
            region_lookup().into_iter().collect();
        let regions = Regions::embedded();
        for p in 0..10_000 {
            for tail in ["00", "01", "06", "12", "99"] {
                let code = format!("{p:04}{tail}");
                let want = regions.resolve(&code).ok().map(|r| r.code.clone());
                assert_eq!(table.get(&code[..4]).cloned(), want, "{code}");
            }
        }
        assert_eq!(table.get("XPCC").map(String::as_str), Some("XPCC"));
    }

    #[test]
    fn area_lookup_agrees_with_area_of() {
        let lookup: std::collections::HashMap<String, String> = area_lookup().into_iter().collect();
        let (regions, areas) = (Regions::embedded(), Areas::embedded());
        let mut named = 0;
        // Every six-digit code a region resolves (its first four digits decide: region_lookup),
        // and the corps.
        let codes = region_lookup()
            .into_iter()
            .filter(|(p4, _)| p4 != "XPCC")
            .flat_map(|(p4, _)| (0..100).map(move |t| format!("{p4}{t:02}")))
            .chain(std::iter::once("XPCC".to_owned()));
        for code in codes {
            let Ok(region) = regions.resolve(&code) else {
                continue;
            };
            // The SQL's rule: the cell itself when the lookup holds it under the row's region.
            let sql = match lookup.get(&code) {
                Some(r) if *r == region.code => code.clone(),
                _ => region.code.clone(),
            };
            let rust = areas
                .area_of(&code, &region.code)
                .and_then(|i| areas.get(i))
                .map(|a| a.code.clone());
            assert_eq!(Some(sql.clone()), rust, "{code}");
            named += usize::from(sql == code && sql != region.code);
        }
        assert!(named > 2_000, "{named} county- and prefecture-level areas");
    }

    #[test]
    fn patterns_translate() {
        let (re, g) = pattern_regex("%Y/%m/%d %H:%M:%S").unwrap();
        assert_eq!(
            re,
            "^([0-9]{4})\\x{2f}([0-9]{1,2})\\x{2f}([0-9]{1,2})\\s*([0-9]{1,2})\\x{3a}([0-9]{1,2})\\x{3a}([0-9]{1,2})$"
        );
        assert_eq!(g, [1, 2, 3, 4, 5, 6]);
        assert!(pattern_regex("%Y-%j").is_err());
        assert_eq!(lit("a'b\\c"), "'a\\'b\\\\c'");
    }
}
