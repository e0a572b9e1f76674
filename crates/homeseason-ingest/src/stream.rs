//! Streaming ingest of transaction-level payment files: bounded memory, two cores, one pass.
//!
//! A reader thread pulls the file through gzip, BOM and encoding detection (UTF-8 or GB18030, decided
//! by the first chunk that is not plain ASCII) and cuts it into ~4 MB chunks at record boundaries
//! (quote-aware). Worker threads parse and validate the records of a chunk (CSV through the `csv` crate,
//! or JSON Lines) into compact rows: a 64-bit fingerprint of the `txn_id`, the day × region × MCC ×
//! channel group, the merchant's fingerprint, the amount in fen and the kind. The merging thread takes
//! the chunks in file order, removes duplicate `txn_id`s (first occurrence kept, by line), checks each
//! row against the institution's txn-id index for the row's own month (other files already in the lake)
//! and aggregates to `payment_daily`. Memory is the duplicate table (8 bytes a row), the merchant-day
//! set, and a few chunks in flight — never the file. Money is summed in integer fen.
//!
//! Which months a file writes: its *home month* (the month holding most of its rows; on a tie the one
//! with more rows no other file holds, then the month in the file's name, then the later) always; any other
//! month too unless that month's partition is already held by a different file (another name), in which
//! case the rows found in that file's txn-id index are duplicates (an overlapping export) and the others
//! are rejected as `bad_period` (send them in a corrected file for that month). A corrected file for a
//! month replaces the month: rows in the index of the version it replaces are not duplicates.
//!
//! Exactness: a 64-bit fingerprint that repeats inside a file is verified against the full `txn_id`
//! text in a second pass, so within-file duplicates are exact. Across files the index stores 64-bit
//! fingerprints; a false match needs two different ids with the same fingerprint in the same
//! institution-month (probability about n·m/2⁶⁴, 5 × 10⁻⁶ for two 10 M-row months). Distinct merchants are
//! counted by 64-bit fingerprints of (group, merchant) the same way.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Cursor, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::{Field, TableContract};
use homeseason_schema::region::Regions;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::profile::{AmountUnit, Format, Profile, RefundSign, TimeFormat};
use crate::reject::{Reason, RejectSink};
use crate::source::Encoding;
use crate::{Feed, FileReport, IngestError, Result};

/// Bytes per chunk handed to a worker.
const CHUNK: usize = 4 << 20;

// ---------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------

/// A month of an institution: `year * 12 + month - 1`.
pub type MonthKey = u32;

/// Split a [`MonthKey`] into (year, month 1–12).
#[must_use]
pub fn year_month(key: MonthKey) -> (i32, u32) {
    ((key / 12) as i32, key % 12 + 1)
}

/// The years a payment row may fall in: from the campaign's first year of history to the year its
/// window ends (2021–2023 for the 2023 season).
#[must_use]
pub fn campaign_years(campaign: &Campaign) -> (i32, i32) {
    use chrono::Datelike;
    (campaign.history_start.year(), campaign.window.end.year())
}

fn month_key(year: i32, month: u32) -> MonthKey {
    (year.max(0) as u32) * 12 + month - 1
}

/// The file that currently holds an institution-month in the lake, with its txn-id fingerprints.
#[derive(Debug, Clone)]
pub struct MonthOwner {
    /// File name as it was ingested.
    pub file: String,
    /// SHA-256 of that file.
    pub sha256: String,
    /// Fingerprints ([`txn_fingerprint`]) of the transactions it holds in that month.
    pub txn_fps: Vec<u64>,
}

/// What the streaming ingest needs from the lake: who holds a month, and where to spill the accepted
/// rows' txn-id fingerprints (the new index). The lake-free [`NoLake`] knows nothing and keeps nothing.
pub trait TxnContext {
    /// The current holder of `institution`'s `year`-`month`, if any.
    ///
    /// # Errors
    /// A message when the lake cannot be read.
    fn month_owner(
        &mut self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> std::result::Result<Option<MonthOwner>, String>;
    /// Append fingerprints of accepted transactions of a month (in file order).
    ///
    /// # Errors
    /// On IO failures.
    fn spill(&mut self, year: i32, month: u32, fps: &[u64]) -> std::io::Result<()>;
    /// Forget everything spilled so far (the ingest starts a second pass).
    ///
    /// # Errors
    /// On IO failures.
    fn reset_spill(&mut self) -> std::io::Result<()>;
}

/// A [`TxnContext`] with an empty lake that keeps no index.
#[derive(Debug, Default)]
pub struct NoLake;

impl TxnContext for NoLake {
    fn month_owner(
        &mut self,
        _: &str,
        _: i32,
        _: u32,
    ) -> std::result::Result<Option<MonthOwner>, String> {
        Ok(None)
    }
    fn spill(&mut self, _: i32, _: u32, _: &[u64]) -> std::io::Result<()> {
        Ok(())
    }
    fn reset_spill(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What happened to one month of a transaction file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TxnMonth {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Whether the file writes (and so replaces) this month's partition.
    pub written: bool,
    /// Rows accepted into the month.
    pub accepted: usize,
    /// Rows dropped as already held by another file.
    pub duplicates_across_files: usize,
    /// The file that held the month before, when it is replaced or kept.
    pub previous_file: Option<String>,
}

/// The result of ingesting one transaction file.
#[derive(Debug)]
pub struct TxnOutcome {
    /// Counts (read = accepted + rejected + duplicates).
    pub report: FileReport,
    /// The institution of every accepted row.
    pub institution: String,
    /// `payment_daily` rows of the months written.
    pub rows: DataFrame,
    /// Rejected rows in the `rejects` contract.
    pub rejects: DataFrame,
    /// Months the file has rows in, in order.
    pub months: Vec<TxnMonth>,
    /// The month holding most of the file's rows.
    pub home_month: Option<(i32, u32)>,
    /// Duplicates of an earlier row of the same file.
    pub duplicates_in_file: usize,
    /// Duplicates of rows another file already holds.
    pub duplicates_across_files: usize,
    /// Passes over the file (2 when duplicates had to be verified or rows of a held month rejected).
    pub passes: usize,
    /// Accepted rows whose MCC is not in the campaign's map (stored under category `other`), by MCC.
    pub unmapped_mcc: BTreeMap<String, usize>,
}

/// The fingerprint of a transaction id (xxh3-64 of the trimmed text; never 0).
#[must_use]
pub fn txn_fingerprint(txn_id: &[u8]) -> u64 {
    nonzero(xxhash_rust::xxh3::xxh3_64(trim(txn_id)))
}

/// Opens the file afresh (the ingest may read it twice).
pub type Opener<'a> = dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Sync + 'a;

/// Ingest a transaction file as a stream. `open` yields the file's bytes as received (gzip or not);
/// `size_hint` (bytes) sizes the duplicate table up front.
///
/// # Errors
/// Only when the whole file must be refused: empty, undecodable, not CSV/JSON, missing columns.
pub fn ingest_transactions(
    file: &str,
    open: &Opener<'_>,
    size_hint: Option<u64>,
    profile: &Profile,
    campaign: &Campaign,
    ctx: &mut dyn TxnContext,
) -> Result<TxnOutcome> {
    let format = profile.format.of_name(file);
    if format == Format::Parquet {
        return ingest_parquet(file, open, profile, campaign, ctx);
    }
    run_all(file, open, size_hint, format, None, profile, campaign, ctx)
}

/// Ingest a whole transaction file held in memory, without a lake (no cross-file duplicates).
///
/// # Errors
/// As [`ingest_transactions`].
pub fn ingest_transaction_bytes(
    file: &str,
    bytes: &[u8],
    profile: &Profile,
    campaign: &Campaign,
) -> Result<TxnOutcome> {
    let owned: Arc<[u8]> = Arc::from(bytes);
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(Cursor::new(ArcBytes(owned.clone()))))
    };
    ingest_transactions(
        file,
        &open,
        Some(bytes.len() as u64),
        profile,
        campaign,
        &mut NoLake,
    )
}

struct ArcBytes(Arc<[u8]>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn ingest_parquet(
    file: &str,
    open: &Opener<'_>,
    profile: &Profile,
    campaign: &Campaign,
    ctx: &mut dyn TxnContext,
) -> Result<TxnOutcome> {
    let mut bytes = Vec::new();
    open()
        .and_then(|mut r| r.read_to_end(&mut bytes))
        .map_err(|e| IngestError::Csv {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
    let sha = crate::source::sha256_hex(&bytes);
    let csv = parquet_to_csv(file, &bytes)?;
    let csv: Arc<[u8]> = Arc::from(csv);
    let open_csv = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(Cursor::new(ArcBytes(csv.clone()))))
    };
    let mut p = profile.clone();
    p.delimiter = b',';
    run_all(
        file,
        &open_csv,
        Some(bytes.len() as u64 * 4),
        Format::Csv,
        Some(sha),
        &p,
        campaign,
        ctx,
    )
}

/// A Parquet file as CSV text with every column as text (dates and times in the contract's formats).
///
/// # Errors
/// [`IngestError::Csv`] when the bytes are not readable Parquet.
pub fn parquet_to_csv(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |e: PolarsError| IngestError::Csv {
        file: file.to_owned(),
        reason: format!("not readable Parquet: {e}"),
    };
    if let Some(why) = crate::parquet_guard::damaged(bytes) {
        return Err(IngestError::Csv {
            file: file.to_owned(),
            reason: format!("not readable Parquet: the file is damaged ({why})"),
        });
    }
    // The Parquet reader asserts (panics) on some damaged files, e.g. a dictionary page whose length
    // disagrees with its header (found by fuzzing): refuse those as unreadable too.
    let mut frame = std::panic::catch_unwind(|| ParquetReader::new(Cursor::new(bytes)).finish())
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(PolarsError::ComputeError(
                format!("damaged file (the reader failed: {what})").into(),
            ))
        })
        .map_err(bad)?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S".into()))
        .with_date_format(Some("%Y-%m-%d".into()))
        .finish(&mut frame)
        .map_err(bad)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Small building blocks: hashing, the fingerprint set, numbers and dates
// ---------------------------------------------------------------------------------------------------

fn nonzero(h: u64) -> u64 {
    if h == 0 { 1 } else { h }
}

fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A hasher for keys that are `u64`s already.
#[derive(Default)]
struct U64Hasher(u64);
impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = mix64(self.0 ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = mix64(i);
    }
}
type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

/// An open-addressing set of non-zero `u64` fingerprints: 8 bytes a slot, load ≤ 0.8.
#[derive(Debug, Clone)]
pub(crate) struct FpSet {
    slots: Vec<u64>,
    len: usize,
}

impl FpSet {
    pub(crate) fn with_capacity(n: usize) -> FpSet {
        let want = (n.saturating_mul(5) / 4).max(1024).next_power_of_two();
        FpSet {
            slots: vec![0; want],
            len: 0,
        }
    }
    #[inline]
    fn slot(&self, fp: u64) -> usize {
        (mix64(fp) as usize) & (self.slots.len() - 1)
    }
    /// Insert; `true` when it was not there.
    #[inline]
    pub(crate) fn insert(&mut self, fp: u64) -> bool {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(fp);
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = fp;
                self.len += 1;
                return true;
            }
            if s == fp {
                return false;
            }
            i = (i + 1) & mask;
        }
    }
    #[inline]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(fp);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return false;
            }
            if s == fp {
                return true;
            }
            i = (i + 1) & mask;
        }
    }
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![0; old.len() * 2];
        self.len = 0;
        for fp in old.into_iter().filter(|&f| f != 0) {
            self.insert(fp);
        }
    }
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// (year, month, day) of days since 1970-01-01.
fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Seconds since the epoch of a local time in the contract's format, `YYYY-MM-DD HH:MM:SS`.
fn fast_datetime(b: &[u8]) -> Option<i64> {
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let hh = digits(&b[11..13])?;
    let mm = digits(&b[14..16])?;
    let ss = digits(&b[17..19])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 59
    {
        return None;
    }
    Some(i64::from(days_from_civil(y, m, d)) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss))
}

/// The Beijing calendar day (days since the epoch) of a timestamp cell, or `None` when unreadable.
pub(crate) fn beijing_day(cell: &[u8], format: &TimeFormat, offset: i32) -> Option<i32> {
    const BJ: i64 = 8 * 3600;
    let utc_secs: i64 = match format {
        TimeFormat::Pattern(p) if p == crate::profile::DEFAULT_TIME_FORMAT => {
            fast_datetime(cell)? - i64::from(offset)
        }
        TimeFormat::Pattern(p) => {
            let s = std::str::from_utf8(cell).ok()?;
            let local = chrono::NaiveDateTime::parse_from_str(s, p)
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, p)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })?;
            local.and_utc().timestamp() - i64::from(offset)
        }
        TimeFormat::UnixSeconds => std::str::from_utf8(cell).ok()?.parse::<i64>().ok()?,
        TimeFormat::UnixMillis => std::str::from_utf8(cell)
            .ok()?
            .parse::<i64>()
            .ok()?
            .div_euclid(1000),
        TimeFormat::Rfc3339 => {
            chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(cell).ok()?)
                .ok()?
                .timestamp()
        }
    };
    // Checked: a Unix-seconds cell near i64::MAX overflowed here (found by fuzzing).
    i32::try_from(utc_secs.checked_add(BJ)?.div_euclid(86_400)).ok()
}

/// An amount cell → fen. `None` when not a plain decimal number.
pub(crate) fn parse_fen(cell: &[u8], unit: AmountUnit) -> Option<i64> {
    let mut b = cell;
    let mut neg = false;
    if let Some((&c, rest)) = b.split_first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            b = rest;
        }
    }
    let mut int: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits = 0u32;
    let mut round_up = false;
    let mut seen_digit = false;
    let mut in_frac = false;
    let mut int_digits = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i64::from(c - b'0');
                if in_frac {
                    let keep = match unit {
                        AmountUnit::Yuan => 2,
                        AmountUnit::Fen => 0,
                    };
                    if frac_digits < keep {
                        frac = frac * 10 + d;
                    } else if frac_digits == keep {
                        round_up = d >= 5;
                    }
                    frac_digits += 1;
                } else {
                    int_digits += 1;
                    if int_digits > 15 {
                        return None;
                    }
                    int = int * 10 + d;
                }
            }
            b'.' if !in_frac => in_frac = true,
            b',' if !in_frac => {}
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    let fen = match unit {
        AmountUnit::Yuan => {
            let mut f = frac;
            for _ in frac_digits.min(2)..2 {
                f *= 10;
            }
            int * 100 + f
        }
        AmountUnit::Fen => int,
    } + i64::from(round_up);
    Some(if neg { -fen } else { fen })
}

// ---------------------------------------------------------------------------------------------------
// The row spec: which column is which field, and everything a worker needs to judge a row
// ---------------------------------------------------------------------------------------------------

/// The input fields of `payment_transactions`, in contract (and so reject-priority) order.
const FIELDS: [&str; 9] = [
    "txn_id",
    "institution",
    "txn_time",
    "merchant_id",
    "mcc",
    "region_code",
    "amount",
    "txn_type",
    "channel",
];
const F_TXN: usize = 0;
const F_INST: usize = 1;
const F_TIME: usize = 2;
const F_MERCHANT: usize = 3;
const F_MCC: usize = 4;
const F_REGION: usize = 5;
const F_AMOUNT: usize = 6;
const F_TYPE: usize = 7;
const F_CHANNEL: usize = 8;

const SALE: u8 = 0;
const REFUND: u8 = 1;
const REVERSAL: u8 = 2;

struct Spec<'a> {
    format: Format,
    delimiter: u8,
    /// CSV: column index of each field.
    columns: [Option<usize>; 9],
    /// Header text of each field (for messages).
    headers: [String; 9],
    institution: String,
    profile: &'a Profile,
    contract: &'static TableContract,
    regions: &'static Regions,
    /// MCC (0–9999) → category id.
    category: Vec<&'static str>,
    /// Second pass: fingerprints whose txn_id text the merger needs.
    want_fps: Option<FpSet>,
    /// Second pass: months whose rows need their raw text (they may be rejected).
    want_months: Vec<MonthKey>,
    /// The campaign's data years (first year of history to the window's last): a transaction
    /// outside them is rejected as `bad_period`.
    years: (i32, i32),
}

impl Spec<'_> {
    fn field(&self, i: usize) -> Option<&'static Field> {
        self.contract.field(FIELDS[i])
    }
}

fn resolve_field(profile: &Profile, contract: &TableContract, header: &str) -> Option<usize> {
    let name = profile
        .column_for(header)
        .map(str::to_owned)
        .or_else(|| contract.resolve_header(header).map(|f| f.name.clone()))?;
    FIELDS.iter().position(|f| *f == name)
}

// ---------------------------------------------------------------------------------------------------
// Reader thread: bytes → decoded UTF-8 chunks at record boundaries
// ---------------------------------------------------------------------------------------------------

struct Chunk {
    seq: u64,
    data: Vec<u8>,
}

struct ReadSummary {
    sha256: String,
    encoding: Encoding,
    gzip: bool,
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}
impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The longest a CSV record may grow while no record ends (64 MB): beyond it a quote is taken to be
/// unclosed and the file is refused, so memory stays bounded.
const MAX_RECORD_BYTES: usize = 64 << 20;

/// Where the quote that leaves `buf` inside a quoted field was opened, if one does (`buf` starts
/// outside quotes, as every chunk does).
fn open_quote(buf: &[u8]) -> Option<usize> {
    let mut open = None;
    for i in memchr::memchr_iter(b'"', buf) {
        open = if open.is_some() { None } else { Some(i) };
    }
    open
}

/// When CSV text ends inside a quoted field, the plain-words reason naming the line the quote opened
/// on (for the CSV readers' error messages).
pub(crate) fn unclosed_quote_reason(text: &[u8]) -> Option<String> {
    let at = open_quote(text)?;
    let line = memchr::memchr_iter(b'\n', &text[..at]).count() + 1;
    Some(format!(
        "a quote (\") opened on line {line} is never closed / 第 {line} 行的引号（\"）未闭合"
    ))
}

/// Offset just past the last record terminator outside quotes.
fn cut_point(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv || memchr::memchr(b'"', buf).is_none() {
        return memchr::memrchr(b'\n', buf).map(|i| i + 1);
    }
    let mut in_quotes = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            last = Some(i + 1);
        }
    }
    last
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EncState {
    Undecided,
    Utf8,
    Gb18030,
}

fn read_chunks(
    file: &str,
    raw: Box<dyn Read + Send>,
    csv: bool,
    tx: &SyncSender<Chunk>,
) -> Result<ReadSummary> {
    let mut finished = false;
    let enc_err = |reason: String| IngestError::Encoding {
        file: file.to_owned(),
        reason,
    };
    let io_err = |e: std::io::Error| IngestError::Csv {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let mut hashing = HashingReader {
        inner: raw,
        hasher: Sha256::new(),
    };
    let mut head = [0u8; 2];
    let n = read_full(&mut hashing, &mut head).map_err(io_err)?;
    let gzip = n == 2 && head == [0x1f, 0x8b];
    let mut seq = 0u64;
    let mut bom = false;
    let mut state = EncState::Undecided;
    let mut total = 0usize;
    let mut lines_sent = 0usize;
    {
        let chained = Cursor::new(head[..n].to_vec()).chain(&mut hashing);
        let mut source: Box<dyn Read> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                chained,
            )))
        } else {
            Box::new(chained)
        };
        let mut pending: Vec<u8> = Vec::with_capacity(CHUNK + (CHUNK >> 2));
        let mut first = true;
        loop {
            let start = pending.len();
            let want = CHUNK.max(start + (1 << 20));
            pending.resize(want, 0);
            let got = read_full(&mut *source, &mut pending[start..]).map_err(|e| {
                if gzip {
                    IngestError::Gzip {
                        file: file.to_owned(),
                        reason: e.to_string(),
                    }
                } else {
                    io_err(e)
                }
            })?;
            pending.truncate(start + got);
            if first {
                if pending.starts_with(b"\xEF\xBB\xBF") {
                    pending.drain(..3);
                    bom = true;
                    state = EncState::Utf8;
                }
                first = false;
            }
            let eof = got == 0 || start + got < want;
            // A quote (") that is never closed would swallow the rest of the file into one field:
            // refuse the file, naming the line, rather than read it as one giant row.
            let unclosed = |pending: &[u8]| {
                let at = open_quote(pending).unwrap_or(0);
                let line = lines_sent + memchr::memchr_iter(b'\n', &pending[..at]).count() + 1;
                IngestError::Csv {
                    file: file.to_owned(),
                    reason: format!(
                        "a quote (\") opened on line {line} is never closed / 第 {line} 行的引号（\"）未闭合"
                    ),
                }
            };
            let cut = if eof {
                if csv && open_quote(&pending).is_some() {
                    return Err(unclosed(&pending));
                }
                Some(pending.len())
            } else {
                cut_point(&pending, csv)
            };
            let Some(cut) = cut else {
                if pending.len() > MAX_RECORD_BYTES {
                    return Err(unclosed(&pending));
                }
                continue;
            };
            if cut == 0 {
                if eof {
                    finished = true;
                    break;
                }
                continue;
            }
            let rest = pending.split_off(cut);
            let mut data = std::mem::replace(&mut pending, rest);
            if !data.ends_with(b"\n") {
                data.push(b'\n');
            }
            total += data.len();
            lines_sent += memchr::memchr_iter(b'\n', &data).count();
            if state == EncState::Undecided && !data.is_ascii() {
                state = if std::str::from_utf8(&data).is_ok() {
                    EncState::Utf8
                } else if bom {
                    return Err(enc_err("UTF-8 BOM but invalid UTF-8".into()));
                } else {
                    EncState::Gb18030
                };
            }
            let data = match state {
                EncState::Undecided => data,
                EncState::Utf8 => {
                    if let Err(e) = std::str::from_utf8(&data) {
                        return Err(enc_err(format!(
                            "invalid UTF-8 at byte {} of a chunk (mixed encodings?)",
                            e.valid_up_to()
                        )));
                    }
                    data
                }
                EncState::Gb18030 => {
                    match encoding_rs::GB18030
                        .decode_without_bom_handling_and_without_replacement(&data)
                    {
                        Some(Cow::Borrowed(_)) => data,
                        Some(Cow::Owned(s)) => s.into_bytes(),
                        None => return Err(enc_err("neither UTF-8 nor GB18030/GBK".into())),
                    }
                }
            };
            if tx.send(Chunk { seq, data }).is_err() {
                break;
            }
            seq += 1;
            if eof && pending.is_empty() {
                finished = true;
                break;
            }
        }
        if finished {
            // Whatever a decoder left unread still belongs to the file's hash.
            let _ = std::io::copy(&mut source, &mut std::io::sink());
        }
    }
    if total == 0 {
        return Err(IngestError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(ReadSummary {
        sha256: hex::encode(hashing.hasher.finalize()),
        encoding: if bom {
            Encoding::Utf8Bom
        } else if state == EncState::Gb18030 {
            Encoding::Gb18030
        } else {
            Encoding::Utf8
        },
        gzip,
    })
}

// ---------------------------------------------------------------------------------------------------
// Workers: a chunk of records → compact rows and rejects
// ---------------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Row {
    fp: u64,
    merchant: u64,
    /// day (high 32 bits, offset by 2³¹) | region index << 24 | mcc << 8 | channel.
    group: u64,
    fen: i64,
    line: u32,
    month: MonthKey,
    kind: u8,
    /// Index into the chunk's `texts` (second pass), or `u32::MAX`.
    text: u32,
}

struct RejectRec {
    line: u32,
    field: Option<usize>,
    reason: Reason,
    value: String,
    detail: Option<String>,
    raw: String,
}

struct ChunkOut {
    seq: u64,
    lines: u32,
    records: usize,
    rows: Vec<Row>,
    rejects: Vec<RejectRec>,
    /// (txn_id, raw) of rows the merger asked for.
    texts: Vec<(String, String)>,
}

/// Per-worker caches of value lookups.
#[derive(Default)]
struct Caches {
    region: HashMap<Vec<u8>, Option<u8>>,
    kind: HashMap<Vec<u8>, Option<u8>>,
    channel: HashMap<Vec<u8>, Option<u8>>,
    json_keys: HashMap<String, Option<usize>>,
    last_day: Option<(i32, MonthKey)>,
}

fn pack_group(day: i32, region: u8, mcc: u16, channel: u8) -> u64 {
    (u64::from((day as u32) ^ 0x8000_0000) << 32)
        | (u64::from(region) << 24)
        | (u64::from(mcc) << 8)
        | u64::from(channel)
}

fn unpack_group(g: u64) -> (i32, u8, u16, u8) {
    (
        ((g >> 32) as u32 ^ 0x8000_0000) as i32,
        ((g >> 24) & 0xff) as u8,
        ((g >> 8) & 0xffff) as u16,
        (g & 0xff) as u8,
    )
}

/// A per-worker lookup: the cached value for `key`, computing (and keeping) it on a miss.
fn cached<V: Copy>(map: &mut HashMap<Vec<u8>, V>, key: &[u8], f: impl FnOnce() -> V) -> V {
    if let Some(v) = map.get(key) {
        return *v;
    }
    let v = f();
    map.insert(key.to_vec(), v);
    v
}

enum Verdict {
    Row(Row),
    Reject(usize, Reason, Option<String>),
}

fn judge(spec: &Spec<'_>, cells: &[&[u8]; 9], caches: &mut Caches, line: u32) -> Verdict {
    let p = spec.profile;
    let missing = |i: usize| Verdict::Reject(i, Reason::MissingValue, None);
    let txn = cells[F_TXN];
    if txn.is_empty() {
        return missing(F_TXN);
    }
    if spec.columns[F_INST].is_some() {
        let inst = cells[F_INST];
        if inst.is_empty() {
            return missing(F_INST);
        }
        if inst != spec.institution.as_bytes() {
            return Verdict::Reject(
                F_INST,
                Reason::BadEnum,
                Some(format!(
                    "this file is for institution {} / 本文件属于机构 {}",
                    spec.institution, spec.institution
                )),
            );
        }
    }
    let time = cells[F_TIME];
    if time.is_empty() {
        return missing(F_TIME);
    }
    let Some(day) = beijing_day(time, &p.time_format, p.utc_offset_secs) else {
        let fmt = match &p.time_format {
            TimeFormat::Pattern(f) => f.clone(),
            TimeFormat::UnixSeconds => "unix seconds".into(),
            TimeFormat::UnixMillis => "unix milliseconds".into(),
            TimeFormat::Rfc3339 => "RFC 3339".into(),
        };
        return Verdict::Reject(F_TIME, Reason::BadDate, Some(fmt));
    };
    let merchant = cells[F_MERCHANT];
    if merchant.is_empty() {
        return missing(F_MERCHANT);
    }
    let mcc = cells[F_MCC];
    if mcc.is_empty() {
        return missing(F_MCC);
    }
    let Some(mcc) = (mcc.len() == 4).then(|| digits(mcc)).flatten() else {
        return Verdict::Reject(F_MCC, Reason::BadPattern, None);
    };
    let region = cells[F_REGION];
    if region.is_empty() {
        return missing(F_REGION);
    }
    let pattern_ok = region == b"XPCC" || (region.len() == 6 && digits(region).is_some());
    if !pattern_ok {
        return Verdict::Reject(F_REGION, Reason::BadPattern, None);
    }
    let amount = cells[F_AMOUNT];
    if amount.is_empty() {
        return missing(F_AMOUNT);
    }
    let Some(fen) = parse_fen(amount, p.amount_unit) else {
        return Verdict::Reject(F_AMOUNT, Reason::BadNumber, None);
    };
    if fen < 0 && p.refund_sign == RefundSign::Type {
        return Verdict::Reject(F_AMOUNT, Reason::BelowMinimum, None);
    }
    let ty = cells[F_TYPE];
    let typed = if ty.is_empty() {
        if p.refund_sign == RefundSign::Type {
            return missing(F_TYPE);
        }
        None
    } else {
        let k = cached(&mut caches.kind, ty, || {
            let s = String::from_utf8_lossy(ty);
            let v = p
                .value_for("txn_type", &s)
                .or_else(|| spec.field(F_TYPE).and_then(|f| f.resolve_enum(&s)));
            match v {
                Some("sale") => Some(SALE),
                Some("refund") => Some(REFUND),
                Some("reversal") => Some(REVERSAL),
                _ => None,
            }
        });
        let Some(k) = k else {
            return Verdict::Reject(F_TYPE, Reason::BadEnum, None);
        };
        Some(k)
    };
    let kind = match p.refund_sign {
        RefundSign::Type => typed.unwrap_or(SALE),
        RefundSign::Negative if fen < 0 => {
            if typed == Some(REVERSAL) {
                REVERSAL
            } else {
                REFUND
            }
        }
        RefundSign::Negative => typed.unwrap_or(SALE),
    };
    let ch = cells[F_CHANNEL];
    if ch.is_empty() {
        return missing(F_CHANNEL);
    }
    let channel = cached(&mut caches.channel, ch, || {
        let s = String::from_utf8_lossy(ch);
        match p
            .value_for("channel", &s)
            .or_else(|| spec.field(F_CHANNEL).and_then(|f| f.resolve_enum(&s)))
        {
            Some("offline") => Some(0),
            Some("online") => Some(1),
            _ => None,
        }
    });
    let Some(channel) = channel else {
        return Verdict::Reject(F_CHANNEL, Reason::BadEnum, None);
    };
    let region_idx = cached(&mut caches.region, region, || {
        let s = String::from_utf8_lossy(region);
        let r = spec.regions.resolve(&s).ok()?;
        spec.regions
            .all()
            .iter()
            .position(|x| x.code == r.code)
            .and_then(|i| u8::try_from(i).ok())
    });
    let Some(region_idx) = region_idx else {
        return Verdict::Reject(F_REGION, Reason::UnknownRegion, None);
    };
    let month = match caches.last_day {
        Some((d, m)) if d == day => m,
        _ => {
            let (y, m, _) = civil_from_days(day);
            let key = month_key(y, m);
            caches.last_day = Some((day, key));
            key
        }
    };
    let (year, _) = year_month(month);
    if year < spec.years.0 || year > spec.years.1 {
        let (from, to) = spec.years;
        return Verdict::Reject(
            F_TIME,
            Reason::BadPeriod,
            Some(format!(
                "outside the campaign's data years {from}–{to} / 不在本次活动的数据年份 {from}–{to} 之内"
            )),
        );
    }
    Verdict::Row(Row {
        fp: txn_fingerprint(txn),
        merchant: nonzero(xxhash_rust::xxh3::xxh3_64(merchant)),
        group: pack_group(day, region_idx, mcc as u16, channel),
        fen: fen.abs(),
        line,
        month,
        kind,
        text: u32::MAX,
    })
}

fn handle_record(
    spec: &Spec<'_>,
    caches: &mut Caches,
    out: &mut ChunkOut,
    cells: &[&[u8]; 9],
    raw: &[u8],
    line: u32,
) {
    out.records += 1;
    match judge(spec, cells, caches, line) {
        Verdict::Row(mut row) => {
            let wanted = spec.want_fps.as_ref().is_some_and(|w| w.contains(row.fp))
                || spec.want_months.contains(&row.month);
            if wanted {
                row.text = u32::try_from(out.texts.len()).unwrap_or(u32::MAX);
                out.texts.push((
                    String::from_utf8_lossy(cells[F_TXN]).into_owned(),
                    raw_text(raw),
                ));
            }
            out.rows.push(row);
        }
        Verdict::Reject(field, reason, detail) => out.rejects.push(RejectRec {
            line,
            field: Some(field),
            reason,
            value: String::from_utf8_lossy(cells[field]).into_owned(),
            detail,
            raw: raw_text(raw),
        }),
    }
}

fn process_chunk(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
) -> ChunkOut {
    let mut out = ChunkOut {
        seq: chunk.seq,
        lines: u32::try_from(memchr::memchr_iter(b'\n', &chunk.data).count()).unwrap_or(u32::MAX),
        records: 0,
        rows: Vec::with_capacity(chunk.data.len() / 48),
        rejects: Vec::new(),
        texts: Vec::new(),
    };
    if spec.format == Format::Jsonl {
        let mut line = 0u32;
        let mut owned: [String; 9] = Default::default();
        for raw in chunk.data.split(|&b| b == b'\n') {
            line += 1;
            if trim(raw).is_empty() {
                continue;
            }
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw) {
                Ok(obj) => {
                    for o in &mut owned {
                        o.clear();
                    }
                    for (k, v) in &obj {
                        let idx = match caches.json_keys.get(k) {
                            Some(i) => *i,
                            None => {
                                let i = resolve_field(spec.profile, spec.contract, k);
                                caches.json_keys.insert(k.clone(), i);
                                i
                            }
                        };
                        if let Some(i) = idx {
                            owned[i] = json_text(v);
                        }
                    }
                    let cells: [&[u8]; 9] = std::array::from_fn(|i| trim(owned[i].as_bytes()));
                    handle_record(spec, caches, &mut out, &cells, raw, line);
                }
                Err(e) => {
                    out.records += 1;
                    out.rejects.push(RejectRec {
                        line,
                        field: None,
                        reason: Reason::BadPattern,
                        value: String::new(),
                        detail: Some(format!("not a JSON object / 不是 JSON 对象: {e}")),
                        raw: raw_text(raw),
                    });
                }
            }
        }
        return out;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(spec.delimiter)
        .from_reader(&chunk.data[..]);
    let mut rec = csv::ByteRecord::new();
    let mut first = skip_header;
    loop {
        let start = usize::try_from(rdr.position().byte()).unwrap_or(0);
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                out.records += 1;
                let line = u32::try_from(rdr.position().line()).unwrap_or(u32::MAX);
                out.rejects.push(RejectRec {
                    line,
                    field: None,
                    reason: Reason::BadPattern,
                    value: String::new(),
                    detail: Some(e.to_string()),
                    raw: String::new(),
                });
                continue;
            }
        }
        if first {
            first = false;
            continue;
        }
        let end = usize::try_from(rdr.position().byte()).unwrap_or(start);
        let line = rec
            .position()
            .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        if rec.iter().all(|c| trim(c).is_empty()) {
            continue;
        }
        let cells: [&[u8]; 9] = std::array::from_fn(|i| {
            spec.columns[i]
                .and_then(|c| rec.get(c))
                .map_or(&b""[..], trim)
        });
        let raw = &chunk.data[start.min(end)..end];
        handle_record(spec, caches, &mut out, &cells, raw, line);
    }
    out
}

fn raw_text(raw: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(raw).into_owned();
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    s
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------
// The merger: chunks in order → dedupe, cross-file check, aggregation
// ---------------------------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Acc {
    /// Rows of every kind (sales, refunds, reversals).
    rows: i64,
    txn_count: i64,
    sale_fen: i64,
    refund_fen: i64,
    merchants: i64,
}

#[derive(Default)]
struct Aggregate {
    groups: U64Map<Acc>,
    rows: usize,
}

impl Aggregate {
    fn add(&mut self, row: &Row, merchants: &mut FpSet) {
        self.rows += 1;
        let acc = self.groups.entry(row.group).or_default();
        acc.rows += 1;
        if row.kind == SALE {
            acc.txn_count += 1;
            acc.sale_fen += row.fen;
            if merchants.insert(nonzero(mix64(row.group) ^ row.merchant)) {
                acc.merchants += 1;
            }
        } else {
            acc.refund_fen += row.fen;
        }
    }
}

struct MonthState {
    key: MonthKey,
    owner: Option<(String, String, FpSet)>,
    main: Aggregate,
    /// Rows whose txn_id the current holder of the month already has.
    hit: Aggregate,
    hit_merchants: U64Map<u64>,
    spill: Vec<u64>,
    spill_hits: Vec<u64>,
}

/// Decisions carried from the first pass into the second.
#[derive(Clone, Default)]
struct Plan {
    /// Months written (replaced) by this file.
    write: Vec<MonthKey>,
    /// Months held by another file that this file has new rows in (they are rejected).
    hold: Vec<MonthKey>,
    /// Within-file fingerprints that repeat (verify with the txn_id text).
    verify: Option<FpSet>,
}

struct Merged {
    months: BTreeMap<MonthKey, MonthState>,
    merchants: FpSet,
    candidates: FpSet,
    candidate_count: usize,
    duplicates_in_file: usize,
    duplicates_across: BTreeMap<MonthKey, usize>,
    read: usize,
}

#[allow(clippy::too_many_arguments)]
fn run_all(
    file: &str,
    open: &Opener<'_>,
    size_hint: Option<u64>,
    format: Format,
    sha_override: Option<String>,
    profile: &Profile,
    campaign: &Campaign,
    ctx: &mut dyn TxnContext,
) -> Result<TxnOutcome> {
    let first = run_pass(file, open, size_hint, format, profile, campaign, ctx, None)?;
    let (merged, sink, summary, header) = first;
    let home = home_month(&merged, file);
    let write: Vec<MonthKey> = merged
        .months
        .values()
        .filter(|m| writes(m, home, file))
        .map(|m| m.key)
        .collect();
    let conflict_rows = merged
        .months
        .values()
        .any(|m| !write.contains(&m.key) && m.main.rows > 0);
    let (merged, sink, summary, header, passes) = if merged.candidate_count > 0 || conflict_rows {
        ctx.reset_spill().map_err(|e| IngestError::Csv {
            file: file.to_owned(),
            reason: format!("txn index spill: {e}"),
        })?;
        let plan = Plan {
            write: write.clone(),
            hold: merged
                .months
                .keys()
                .filter(|k| !write.contains(k))
                .copied()
                .collect(),
            verify: (merged.candidate_count > 0).then(|| merged.candidates.clone()),
        };
        drop(merged);
        drop(sink);
        let second = run_pass(
            file,
            open,
            size_hint,
            format,
            profile,
            campaign,
            ctx,
            Some(plan),
        )?;
        (second.0, second.1, second.2, second.3, 2)
    } else {
        (merged, sink, summary, header, 1)
    };
    finish(
        file,
        merged,
        sink,
        summary,
        header,
        sha_override,
        home,
        &write,
        passes,
        campaign,
    )
}

/// The month holding most of the file's rows. Ties (an export overlapping the end of the previous
/// month as much as it covers its own) go to the month with more rows no other file holds, then to the
/// month the file's name carries (`…_2023-10.csv`), then to the later month.
fn home_month(m: &Merged, file: &str) -> Option<MonthKey> {
    let named = name_month(file);
    m.months
        .values()
        .map(|s| {
            (
                s.main.rows + s.hit.rows,
                s.main.rows,
                Some(s.key) == named,
                s.key,
            )
        })
        .max()
        .map(|(_, _, _, k)| k)
}

/// The month a file's name carries: the last `YYYY-MM`, `YYYY_MM` or `YYYYMM` (year 1900–2099) in it.
fn name_month(file: &str) -> Option<MonthKey> {
    let b = slot(file).as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut found = None;
    for i in 0..b.len() {
        if i > 0 && digit(i - 1) {
            continue;
        }
        if !(0..4).all(|k| digit(i + k)) {
            continue;
        }
        let year = digits(&b[i..i + 4])?;
        if !(1900..=2099).contains(&year) {
            continue;
        }
        let j = if matches!(b.get(i + 4), Some(b'-' | b'_')) {
            i + 5
        } else {
            i + 4
        };
        if !(digit(j) && digit(j + 1)) {
            continue;
        }
        let month = digits(&b[j..j + 2])?;
        if (1..=12).contains(&month) {
            found = Some(month_key(year as i32, month));
        }
    }
    found
}

/// A file's name without folders and extensions: `x/abc.csv.gz` → `abc`.
fn slot(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.split('.').next().unwrap_or(base)
}

fn writes(m: &MonthState, home: Option<MonthKey>, file: &str) -> bool {
    match &m.owner {
        None => true,
        Some((owner_file, _, _)) => Some(m.key) == home || slot(owner_file) == slot(file),
    }
}

struct Header {
    ignored: Vec<String>,
    headers: [String; 9],
    institution: String,
}

type PassResult = (Merged, RejectSink, ReadSummary, Header);

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn run_pass(
    file: &str,
    open: &Opener<'_>,
    size_hint: Option<u64>,
    format: Format,
    profile: &Profile,
    campaign: &Campaign,
    ctx: &mut dyn TxnContext,
    plan: Option<Plan>,
) -> Result<PassResult> {
    let contract = Feed::PaymentTransactions.contract();
    let io_err = |e: std::io::Error| IngestError::Csv {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let raw = open().map_err(io_err)?;
    let csv = format != Format::Jsonl;
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(1, 8);
    let (tx_a, rx_a) = sync_channel::<Chunk>(workers * 2);
    let (tx_b, rx_b) = sync_channel::<ChunkOut>(workers * 2);
    let mut category = vec!["other"; 10_000];
    for m in &campaign.mcc {
        if let Ok(code) = m.code.parse::<usize>() {
            if code < 10_000 && m.code.len() == 4 {
                category[code] = m.category.id();
            }
        }
    }
    let owned_name = file.to_owned();
    let reader = std::thread::spawn(move || read_chunks(&owned_name, raw, csv, &tx_a));
    let Ok(chunk0) = rx_a.recv() else {
        drop(rx_a);
        return match reader.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(IngestError::Empty {
                file: file.to_owned(),
            }),
        };
    };
    // Header: CSV's first record, or the keys of the first JSON object.
    let header_cells: Vec<String> = if csv {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(profile.delimiter)
            .from_reader(&chunk0.data[..]);
        let mut rec = csv::StringRecord::new();
        match rdr.read_record(&mut rec) {
            Ok(true) => rec
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').to_owned())
                .collect(),
            Ok(false) => Vec::new(),
            Err(e) => {
                return Err(IngestError::Csv {
                    file: file.to_owned(),
                    reason: e.to_string(),
                });
            }
        }
    } else {
        let line = chunk0
            .data
            .split(|&b| b == b'\n')
            .find(|l| !trim(l).is_empty())
            .unwrap_or_default();
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line) {
            Ok(obj) => obj.keys().cloned().collect(),
            Err(e) => {
                return Err(IngestError::Csv {
                    file: file.to_owned(),
                    reason: format!("first line is not a JSON object: {e}"),
                });
            }
        }
    };
    let mut columns: [Option<usize>; 9] = [None; 9];
    let mut headers: [String; 9] = std::array::from_fn(|i| FIELDS[i].to_owned());
    let mut ignored = Vec::new();
    for (i, h) in header_cells.iter().enumerate() {
        match resolve_field(profile, contract, h) {
            Some(f) if columns[f].is_none() => {
                columns[f] = Some(i);
                headers[f] = h.clone();
            }
            _ => ignored.push(h.clone()),
        }
    }
    let optional = |f: usize| {
        (f == F_INST && profile.institution.is_some())
            || (f == F_TYPE && profile.refund_sign == RefundSign::Negative)
    };
    let missing: Vec<String> = (0..9)
        .filter(|&f| columns[f].is_none() && !optional(f))
        .map(|f| {
            let title = contract
                .field(FIELDS[f])
                .map_or("", |x| x.title_zh.as_str());
            format!("{} ({title})", FIELDS[f])
        })
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            file: file.to_owned(),
            missing,
            found: header_cells,
        });
    }
    // The institution: the profile's, else the first row that names one.
    let institution = match &profile.institution {
        Some(i) => i.clone(),
        None => sniff_institution(&chunk0.data, csv, profile, columns[F_INST], contract)
            .unwrap_or_default(),
    };
    let (want_fps, want_months) = match &plan {
        Some(p) => (p.verify.clone(), p.hold.clone()),
        None => (None, Vec::new()),
    };
    let spec = Spec {
        format: if csv { Format::Csv } else { Format::Jsonl },
        delimiter: profile.delimiter,
        columns,
        headers: headers.clone(),
        institution: institution.clone(),
        profile,
        contract,
        regions: Regions::embedded(),
        category,
        want_fps,
        want_months,
        years: campaign_years(campaign),
    };
    let avg_row =
        (chunk0.data.len() / memchr::memchr_iter(b'\n', &chunk0.data).count().max(1)).max(16);
    let est_rows = size_hint.map_or(1 << 16, |s| {
        (usize::try_from(s).unwrap_or(usize::MAX) / avg_row).max(1 << 10)
    });
    let mut caches = Caches::default();
    let out0 = process_chunk(&spec, &chunk0, &mut caches, csv);
    drop(chunk0);
    let mut sink = RejectSink::new(Feed::PaymentTransactions.id(), file, "");
    let merged = std::thread::scope(|scope| {
        let spec = &spec;
        let rx_a = Arc::new(Mutex::new(rx_a));
        for _ in 0..workers {
            let rx = Arc::clone(&rx_a);
            let tx = tx_b.clone();
            scope.spawn(move || {
                let mut caches = Caches::default();
                loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some(chunk) = next else { break };
                    let out = process_chunk(spec, &chunk, &mut caches, false);
                    drop(chunk);
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx_b);
        let merged = merge(
            file,
            out0,
            &rx_b,
            est_rows,
            spec,
            &institution,
            plan.as_ref(),
            ctx,
            &mut sink,
        );
        // On an early error, stop the workers and the reader by closing the channels.
        drop(rx_b);
        drop(rx_a);
        merged
    });
    let summary = reader.join().unwrap_or_else(|_| {
        Err(IngestError::Csv {
            file: file.to_owned(),
            reason: "reader thread failed".into(),
        })
    });
    let merged = merged?;
    let summary = summary?;
    let _ = spec.category.len();
    Ok((
        merged,
        sink,
        summary,
        Header {
            ignored,
            headers,
            institution,
        },
    ))
}

fn sniff_institution(
    data: &[u8],
    csv: bool,
    profile: &Profile,
    column: Option<usize>,
    contract: &TableContract,
) -> Option<String> {
    if csv {
        let col = column?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(profile.delimiter)
            .from_reader(data);
        rdr.byte_records()
            .filter_map(std::result::Result::ok)
            .filter_map(|r| {
                r.get(col)
                    .map(|v| String::from_utf8_lossy(trim(v)).into_owned())
            })
            .find(|v| !v.is_empty())
    } else {
        data.split(|&b| b == b'\n')
            .filter_map(|l| {
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(l).ok()
            })
            .find_map(|obj| {
                obj.iter()
                    .find(|(k, _)| resolve_field(profile, contract, k) == Some(F_INST))
                    .map(|(_, v)| json_text(v).trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
    }
}

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn merge(
    file: &str,
    first: ChunkOut,
    rx: &Receiver<ChunkOut>,
    est_rows: usize,
    spec: &Spec<'_>,
    institution: &str,
    plan: Option<&Plan>,
    ctx: &mut dyn TxnContext,
    sink: &mut RejectSink,
) -> Result<Merged> {
    let mut m = Merged {
        months: BTreeMap::new(),
        merchants: FpSet::with_capacity(est_rows / 4),
        candidates: FpSet::with_capacity(0),
        candidate_count: 0,
        duplicates_in_file: 0,
        duplicates_across: BTreeMap::new(),
        read: 0,
    };
    let mut seen = FpSet::with_capacity(est_rows);
    // Second pass: the txn_id texts behind each repeated fingerprint, in file order.
    let mut texts_by_fp: U64Map<Vec<String>> = U64Map::default();
    let mut pending: BTreeMap<u64, ChunkOut> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut base_line: u64 = 1; // the header is line 1; chunk 0 starts there
    let mut feed = Some(first);
    let lake_err = |reason: String| IngestError::Csv {
        file: file.to_owned(),
        reason: format!("reading the lake's txn index: {reason}"),
    };
    loop {
        let out = if let Some(o) = pending.remove(&next_seq) {
            o
        } else if let Some(o) = feed.take() {
            if o.seq == next_seq {
                o
            } else {
                pending.insert(o.seq, o);
                continue;
            }
        } else {
            match rx.recv() {
                Ok(o) if o.seq == next_seq => o,
                Ok(o) => {
                    pending.insert(o.seq, o);
                    continue;
                }
                Err(_) => break,
            }
        };
        next_seq += 1;
        m.read += out.records;
        for r in &out.rejects {
            let line = base_line + u64::from(r.line) - 1;
            let header = r.field.map(|f| spec.headers[f].clone());
            match (&r.detail, r.field) {
                (Some(d), _) => sink.push_detail(line, header, r.reason, &r.value, Some(d), &r.raw),
                (None, Some(f)) => {
                    sink.push(line, header, r.reason, &r.value, spec.field(f), &r.raw);
                }
                (None, None) => sink.push_detail(line, header, r.reason, &r.value, None, &r.raw),
            }
        }
        for row in &out.rows {
            // Within-file duplicates.
            let first_time = seen.insert(row.fp);
            if !first_time
                || plan
                    .and_then(|p| p.verify.as_ref())
                    .is_some_and(|v| v.contains(row.fp))
            {
                let exact_dup = match plan.and_then(|p| p.verify.as_ref()) {
                    None => {
                        // First pass: note the repeat and verify in a second pass.
                        m.candidates.insert(row.fp);
                        m.candidate_count += 1;
                        m.duplicates_in_file += 1;
                        true
                    }
                    Some(_) => {
                        let (txn_id, _) = &out.texts[row.text as usize];
                        let seen_texts = texts_by_fp.entry(row.fp).or_default();
                        if seen_texts.iter().any(|t| t == txn_id) {
                            true
                        } else {
                            seen_texts.push(txn_id.clone());
                            false
                        }
                    }
                };
                if exact_dup {
                    if plan.is_some() {
                        m.duplicates_in_file += 1;
                    }
                    continue;
                }
            }
            // The month, its holder and the cross-file check.
            {
                if !m.months.contains_key(&row.month) {
                    let (y, mo) = year_month(row.month);
                    let owner = ctx
                        .month_owner(institution, y, mo)
                        .map_err(lake_err)?
                        .map(|o| {
                            let mut set = FpSet::with_capacity(o.txn_fps.len());
                            for fp in &o.txn_fps {
                                set.insert(*fp);
                            }
                            (o.file, o.sha256, set)
                        });
                    m.months.insert(
                        row.month,
                        MonthState {
                            key: row.month,
                            owner,
                            main: Aggregate::default(),
                            hit: Aggregate::default(),
                            hit_merchants: U64Map::default(),
                            spill: Vec::new(),
                            spill_hits: Vec::new(),
                        },
                    );
                }
            }
            let Some(ms) = m.months.get_mut(&row.month) else {
                continue;
            };
            let hit = ms
                .owner
                .as_ref()
                .is_some_and(|(_, _, set)| set.contains(row.fp));
            let written = plan.is_none_or(|p| p.write.contains(&row.month));
            if hit {
                if written {
                    ms.hit.rows += 1;
                    let acc = ms.hit.groups.entry(row.group).or_default();
                    acc.rows += 1;
                    if row.kind == SALE {
                        acc.txn_count += 1;
                        acc.sale_fen += row.fen;
                        ms.hit_merchants
                            .insert(nonzero(mix64(row.group) ^ row.merchant), row.group);
                    } else {
                        acc.refund_fen += row.fen;
                    }
                    ms.spill_hits.push(row.fp);
                } else {
                    *m.duplicates_across.entry(row.month).or_default() += 1;
                }
            } else if written {
                ms.main.add(row, &mut m.merchants);
                ms.spill.push(row.fp);
                if ms.spill.len() >= 1 << 16 {
                    let (y, mo) = year_month(ms.key);
                    ctx.spill(y, mo, &ms.spill)
                        .map_err(|e| lake_err(e.to_string()))?;
                    ms.spill.clear();
                }
            } else {
                // A month held by another file: this row is new to it, so it cannot go there.
                let (y, mo) = year_month(row.month);
                let holder = ms.owner.as_ref().map_or("", |(f, _, _)| f.as_str());
                let raw = out
                    .texts
                    .get(row.text as usize)
                    .map_or("", |t| t.1.as_str());
                sink.push_detail(
                    base_line + u64::from(row.line) - 1,
                    Some(spec.headers[F_TIME].clone()),
                    Reason::BadPeriod,
                    &format!("{y}-{mo:02}"),
                    Some(&format!(
                        "{y}-{mo:02} of {institution} is held by file {holder}; send this row in a corrected file for that month / 该月数据已由文件 {holder} 提供，请在该月的更正文件中报送"
                    )),
                    raw,
                );
            }
        }
        base_line += u64::from(out.lines);
    }
    for ms in m.months.values_mut() {
        let (y, mo) = year_month(ms.key);
        for part in [&ms.spill, &ms.spill_hits] {
            if !part.is_empty() {
                ctx.spill(y, mo, part)
                    .map_err(|e| lake_err(e.to_string()))?;
            }
        }
        ms.spill = Vec::new();
        ms.spill_hits = Vec::new();
    }
    Ok(m)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    file: &str,
    mut merged: Merged,
    sink: RejectSink,
    summary: ReadSummary,
    header: Header,
    sha_override: Option<String>,
    home: Option<MonthKey>,
    write: &[MonthKey],
    passes: usize,
    campaign: &Campaign,
) -> Result<TxnOutcome> {
    let err = crate::frame_util::perr(file);
    let sha256 = sha_override.unwrap_or(summary.sha256);
    let _ = summary.gzip;
    let mut category = vec!["other"; 10_000];
    let mut mapped = vec![false; 10_000];
    for m in &campaign.mcc {
        if let Ok(code) = m.code.parse::<usize>() {
            if code < 10_000 && m.code.len() == 4 {
                category[code] = m.category.id();
                mapped[code] = true;
            }
        }
    }
    let mut unmapped_mcc: BTreeMap<String, usize> = BTreeMap::new();
    let regions = Regions::embedded();
    let mut months = Vec::new();
    let mut accepted = 0usize;
    let mut across = 0usize;
    let (mut c_date, mut c_region, mut c_mcc, mut c_cat, mut c_channel) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut c_count, mut c_amount, mut c_refund, mut c_net, mut c_merchants) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ms in merged.months.values_mut() {
        let (year, month) = year_month(ms.key);
        let written = write.contains(&ms.key);
        let dup_here = merged.duplicates_across.get(&ms.key).copied().unwrap_or(0)
            + if written { 0 } else { ms.hit.rows };
        across += dup_here;
        let mut n = 0;
        if written {
            // Rows the replaced version also had are not duplicates: they are this file's now.
            for (pair, group) in &ms.hit_merchants {
                if merged.merchants.insert(*pair) {
                    ms.main.groups.entry(*group).or_default().merchants += 1;
                }
            }
            for (g, h) in &ms.hit.groups {
                let acc = ms.main.groups.entry(*g).or_default();
                acc.rows += h.rows;
                acc.txn_count += h.txn_count;
                acc.sale_fen += h.sale_fen;
                acc.refund_fen += h.refund_fen;
            }
            n = ms.main.rows + ms.hit.rows;
            accepted += n;
            for (g, acc) in &ms.main.groups {
                let (day, region, mcc, channel) = unpack_group(*g);
                c_date.push(day);
                c_region.push(
                    regions
                        .all()
                        .get(usize::from(region))
                        .map_or("", |r| r.code.as_str()),
                );
                c_mcc.push(format!("{mcc:04}"));
                if !mapped[usize::from(mcc)] {
                    *unmapped_mcc.entry(format!("{mcc:04}")).or_default() +=
                        usize::try_from(acc.rows).unwrap_or(0);
                }
                c_cat.push(category[usize::from(mcc)]);
                c_channel.push(if channel == 1 { "online" } else { "offline" });
                c_count.push(acc.txn_count);
                c_amount.push(acc.sale_fen as f64 / 100.0);
                c_refund.push(acc.refund_fen as f64 / 100.0);
                c_net.push((acc.sale_fen - acc.refund_fen) as f64 / 100.0);
                c_merchants.push(acc.merchants);
            }
        }
        months.push(TxnMonth {
            year,
            month,
            written,
            accepted: n,
            duplicates_across_files: dup_here,
            previous_file: ms.owner.as_ref().map(|(f, _, _)| f.clone()),
        });
    }
    let height = c_date.len();
    let institution = header.institution.clone();
    let rows = DataFrame::new(
        height,
        vec![
            Column::new("date".into(), c_date)
                .cast(&DataType::Date)
                .map_err(&err)?,
            Column::new_scalar(
                "institution".into(),
                Scalar::from(PlSmallStr::from(institution.as_str())),
                height,
            ),
            Column::new("region_code".into(), c_region),
            Column::new("mcc".into(), c_mcc),
            Column::new("category".into(), c_cat),
            Column::new("channel".into(), c_channel),
            Column::new("txn_count".into(), c_count),
            Column::new("amount".into(), c_amount),
            Column::new("refund_amount".into(), c_refund),
            Column::new("net_amount".into(), c_net),
            Column::new("merchant_count".into(), c_merchants),
        ],
    )
    .and_then(|df| {
        df.lazy()
            .sort(
                ["date", "region_code", "mcc", "channel"],
                SortMultipleOptions::default(),
            )
            .collect()
    })
    .map_err(&err)?;
    // The hash is known only once the file is read: set it on the rejects now.
    let mut rejects = sink.to_frame().map_err(&err)?;
    let n_rejects = rejects.height();
    rejects
        .with_column(Column::new_scalar(
            "file_sha256".into(),
            Scalar::from(PlSmallStr::from(sha256.as_str())),
            n_rejects,
        ))
        .map_err(&err)?;
    let report = FileReport {
        file: file.to_owned(),
        sha256,
        feed: Feed::PaymentTransactions,
        encoding: summary.encoding,
        read: merged.read,
        accepted,
        rejected: sink.len(),
        duplicates: merged.duplicates_in_file + across,
        ignored_columns: header.ignored,
    };
    debug_assert!(report.balanced(), "{report:?}");
    let _ = header.headers;
    Ok(TxnOutcome {
        report,
        institution,
        rows,
        rejects,
        months,
        home_month: home.map(year_month),
        duplicates_in_file: merged.duplicates_in_file,
        duplicates_across_files: across,
        passes,
        unmapped_mcc,
    })
}

/// The header of a file from its first bytes (gzip, BOM and GB18030 handled; a cut-off tail is fine):
/// CSV's first record, the keys of the first JSON object, or a Parquet file's column names (pass the
/// whole file for Parquet).
///
/// # Errors
/// [`IngestError::Csv`] when no header can be read.
pub fn sniff_header(head: &[u8], format: Format, delimiter: u8) -> Result<Vec<String>> {
    let bad = |reason: String| IngestError::Csv {
        file: String::new(),
        reason,
    };
    if format == Format::Parquet {
        let mut r = ParquetReader::new(Cursor::new(head));
        let schema = r.schema().map_err(|e| bad(e.to_string()))?;
        return Ok(schema.iter_names().map(|n| n.to_string()).collect());
    }
    let mut raw = head.to_vec();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let mut dec = flate2::read::MultiGzDecoder::new(head);
        let mut buf = [0u8; 64 << 10];
        loop {
            match dec.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            if out.len() > 256 << 10 {
                break;
            }
        }
        raw = out;
    }
    if let Some(rest) = raw.strip_prefix(b"\xEF\xBB\xBF") {
        raw = rest.to_vec();
    }
    let cut = memchr::memchr(b'\n', &raw).map_or(raw.len(), |i| i + 1);
    let line = &raw[..cut];
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.to_owned(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(line)
            .ok_or_else(|| bad("neither UTF-8 nor GB18030".into()))?
            .into_owned(),
    };
    if format == Format::Jsonl {
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text.trim()).map_err(|e| bad(e.to_string()))?;
        return Ok(obj.keys().cloned().collect());
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(str::to_owned).collect()),
        Ok(false) => Err(bad("no header line".into())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The payment feed a header belongs to under `profile`: the profile's feed when it names one, else
/// the contract whose required columns the (profile-mapped) header holds; a header with a `txn_id`
/// column is transactions.
#[must_use]
pub fn detect_payment_feed(headers: &[String], profile: &Profile) -> Option<Feed> {
    if let Some(f) = profile.feed {
        return Some(f);
    }
    let mapped: Vec<String> = headers
        .iter()
        .map(|h| {
            profile
                .column_for(h)
                .map_or_else(|| h.clone(), str::to_owned)
        })
        .collect();
    let refs: Vec<&str> = mapped.iter().map(String::as_str).collect();
    match Feed::detect(&refs) {
        Some(f @ (Feed::PaymentTransactions | Feed::PaymentDaily)) => Some(f),
        Some(_) => None,
        None => {
            let c = Feed::PaymentTransactions.contract();
            refs.iter()
                .any(|h| c.resolve_header(h).is_some_and(|f| f.name == "txn_id"))
                .then_some(Feed::PaymentTransactions)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_fast_datetime() {
        for d in [-1000, 0, 19_000, 19_601, 19_722, 20_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        let t = fast_datetime(b"2023-09-01 23:59:59").unwrap();
        assert_eq!(t.div_euclid(86_400), i64::from(days_from_civil(2023, 9, 1)));
        assert!(fast_datetime(b"2023-02-29 00:00:00").is_none());
        assert!(fast_datetime(b"2023-09-31 00:00:00").is_none());
        // 17:00 UTC on 31 Aug is 01:00 on 1 Sept in Beijing.
        let day = beijing_day(
            b"2023-08-31 17:00:00",
            &TimeFormat::Pattern(crate::profile::DEFAULT_TIME_FORMAT.into()),
            0,
        )
        .unwrap();
        assert_eq!(civil_from_days(day), (2023, 9, 1));
        let day = beijing_day(
            b"2023/09/01 08:00",
            &TimeFormat::Pattern("%Y/%m/%d %H:%M".into()),
            8 * 3600,
        )
        .unwrap();
        assert_eq!(civil_from_days(day), (2023, 9, 1));
        let day = beijing_day(b"2023-08-31T20:00:00Z", &TimeFormat::Rfc3339, 0).unwrap();
        assert_eq!(civil_from_days(day), (2023, 9, 1));
    }

    #[test]
    fn the_month_a_file_name_carries() {
        let k = |y, m| Some(month_key(y, m));
        assert_eq!(
            name_month("payment_transactions_t2_2023-10.csv"),
            k(2023, 10)
        );
        assert_eq!(
            name_month("dir/payment_transactions_t2_2023-10b.csv.gz"),
            k(2023, 10)
        );
        assert_eq!(name_month("bank_c_202309.csv"), k(2023, 9));
        assert_eq!(name_month("bank_c_2023_12_full.jsonl"), k(2023, 12));
        assert_eq!(name_month("export_20230915.csv"), k(2023, 9));
        assert_eq!(name_month("wallet_b_2023-13.csv"), None);
        assert_eq!(name_month("acq_a_12345678.csv"), None);
        assert_eq!(name_month("transactions.csv"), None);
    }

    #[test]
    fn amounts_to_fen() {
        assert_eq!(parse_fen(b"12.34", AmountUnit::Yuan), Some(1234));
        assert_eq!(parse_fen(b"12.3", AmountUnit::Yuan), Some(1230));
        assert_eq!(parse_fen(b"12", AmountUnit::Yuan), Some(1200));
        assert_eq!(parse_fen(b"1,234.565", AmountUnit::Yuan), Some(123_457));
        assert_eq!(parse_fen(b"-5.00", AmountUnit::Yuan), Some(-500));
        assert_eq!(parse_fen(b"1234", AmountUnit::Fen), Some(1234));
        assert_eq!(parse_fen(b"-1234", AmountUnit::Fen), Some(-1234));
        assert_eq!(parse_fen(b"abc", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b".", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1e3", AmountUnit::Yuan), None);
    }

    #[test]
    fn fp_set_grows_and_finds() {
        let mut s = FpSet::with_capacity(0);
        for i in 1..10_000u64 {
            assert!(s.insert(mix64(i) | 1));
        }
        for i in 1..10_000u64 {
            assert!(!s.insert(mix64(i) | 1));
            assert!(s.contains(mix64(i) | 1));
        }
        assert_eq!(s.len(), 9_999);
    }

    fn sample_csv(n: usize) -> String {
        let mut out = String::from(
            "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n",
        );
        let regions = [
            "330106", "440305", "110105", "370202", "659001", "210204", "990101",
        ];
        let mccs = ["5722", "5712", "0742", "5411", "12a4"];
        let kinds = ["sale", "sale", "sale", "refund", "reversal"];
        let mut x: u64 = 7;
        for i in 0..n {
            x = mix64(x + i as u64);
            let day = 1 + x % 30;
            let (h, m) = ((x >> 8) % 24, (x >> 16) % 60);
            let id = if x % 97 == 0 { i / 2 } else { i };
            out.push_str(&format!(
                "T{id},w,2023-09-{day:02} {h:02}:{m:02}:00,M{},{},{},{}.{:02},{},{}\n",
                (x >> 20) % 40,
                mccs[((x >> 24) % 5) as usize],
                regions[((x >> 28) % 7) as usize],
                (x >> 32) % 500,
                (x >> 40) % 100,
                kinds[((x >> 44) % 5) as usize],
                if (x >> 48) % 3 == 0 {
                    "online"
                } else {
                    "offline"
                },
            ));
        }
        out
    }

    #[test]
    fn streaming_matches_the_in_memory_reference() {
        let text = sample_csv(20_000);
        let campaign = Campaign::default_2023();
        let out =
            ingest_transaction_bytes("t.csv", text.as_bytes(), &Profile::default(), &campaign)
                .unwrap();
        let decoded = crate::source::decode("t.csv", text.as_bytes()).unwrap();
        let table = crate::table::read_csv(&decoded, Feed::PaymentTransactions.contract()).unwrap();
        let mut sink = RejectSink::new("payment_transactions", "t.csv", &decoded.sha256);
        let (reference, accepted, duplicates) =
            crate::payments::transactions(&table, &campaign, &mut sink).unwrap();
        assert!(out.report.balanced());
        assert_eq!(out.report.read, 20_000);
        assert_eq!(out.report.accepted, accepted);
        assert_eq!(out.report.duplicates, duplicates);
        assert_eq!(out.report.rejected, sink.len());
        assert_eq!(out.passes, 2);
        let round = |df: &DataFrame| {
            df.clone()
                .lazy()
                .with_columns(["amount", "refund_amount", "net_amount"].map(|c| {
                    (col(c) * lit(100.0))
                        .round(0, RoundMode::HalfAwayFromZero)
                        .alias(c)
                }))
                .collect()
                .unwrap()
        };
        assert!(
            round(&out.rows).equals(&round(&reference)),
            "{}\n{}",
            out.rows,
            reference
        );
        // Rejected lines and reasons agree too.
        let lines = |df: &DataFrame| -> Vec<(i64, String)> {
            let l = df.column("line").unwrap().i64().unwrap().clone();
            let r = df.column("reason").unwrap().str().unwrap().clone();
            l.iter()
                .zip(r.iter())
                .map(|(a, b)| (a.unwrap(), b.unwrap().to_owned()))
                .collect()
        };
        assert_eq!(lines(&out.rejects), lines(&sink.to_frame().unwrap()));
    }

    #[test]
    fn unmapped_mccs_go_to_other_and_are_counted() {
        let text = "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n\
            A1,t9,2023-09-01 10:00:00,M1,0742,330212,15.00,sale,offline\n\
            A2,t9,2023-09-01 11:00:00,M1,0742,330212,5.00,refund,offline\n\
            A3,t9,2023-09-01 12:00:00,M2,5722,330106,10.00,sale,offline\n\
            A4,t9,2023-09-02 12:00:00,M2,9999,330106,10.00,sale,online\n";
        let out = ingest_transaction_bytes(
            "t.csv",
            text.as_bytes(),
            &Profile::default(),
            &Campaign::default_2023(),
        )
        .unwrap();
        assert_eq!(out.report.accepted, 4);
        let want: BTreeMap<String, usize> = [("0742".to_owned(), 2), ("9999".to_owned(), 1)].into();
        assert_eq!(out.unmapped_mcc, want);
        let cats: Vec<&str> = out
            .rows
            .column("category")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(
            cats.iter().filter(|c| **c == "other").count(),
            2,
            "{cats:?}"
        );
    }

    #[test]
    fn gbk_gzip_and_chunk_boundaries() {
        let text = sample_csv(3_000).replace(",sale,", ",消费,");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&gbk).unwrap();
        let gz = enc.finish().unwrap();
        let campaign = Campaign::default_2023();
        let a = ingest_transaction_bytes("a.csv", text.as_bytes(), &Profile::default(), &campaign)
            .unwrap();
        let b = ingest_transaction_bytes("b.csv.gz", &gz, &Profile::default(), &campaign).unwrap();
        assert_eq!(b.report.encoding, Encoding::Gb18030);
        assert!(a.rows.equals(&b.rows));
        assert_eq!(a.report.accepted, b.report.accepted);
        assert_eq!(b.report.sha256, crate::source::sha256_hex(&gz));
        assert!(matches!(
            ingest_transaction_bytes(
                "c.csv.gz",
                &gz[..gz.len() / 2],
                &Profile::default(),
                &campaign
            ),
            Err(IngestError::Gzip { .. })
        ));
        assert!(matches!(
            ingest_transaction_bytes("e.csv", b"", &Profile::default(), &campaign),
            Err(IngestError::Empty { .. })
        ));
        assert!(matches!(
            ingest_transaction_bytes(
                "m.csv",
                b"txn_id,amount\n1,2\n",
                &Profile::default(),
                &campaign
            ),
            Err(IngestError::MissingColumns { .. })
        ));
    }

    #[test]
    fn cut_points_respect_quotes() {
        assert_eq!(cut_point(b"a,b\nc,d\ne", true), Some(8));
        assert_eq!(cut_point(b"a,\"x\ny\"\nc", true), Some(8));
        assert_eq!(cut_point(b"a,\"x\ny", true), Some(0).filter(|_| false));
        let (d, r, m, c) = unpack_group(pack_group(-3, 36, 742, 1));
        assert_eq!((d, r, m, c), (-3, 36, 742, 1));
    }

    #[test]
    fn an_unclosed_quote_refuses_the_file_naming_its_line() {
        let text = "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n\
                    T1,w,2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
                    T2,w,\"2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
                    T3,w,2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n";
        let campaign = Campaign::default_2023();
        let err =
            ingest_transaction_bytes("q.csv", text.as_bytes(), &Profile::default(), &campaign)
                .unwrap_err();
        assert!(
            matches!(&err, IngestError::Csv { reason, .. } if reason.contains("line 3")),
            "{err}"
        );
        assert_eq!(open_quote(b"a,\"b\"\"c\",d\n"), None);
        assert_eq!(open_quote(b"a,\"b\n"), Some(2));
    }

    #[test]
    fn transactions_outside_the_campaign_years_are_rejected() {
        let text = "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n\
                    T1,w,2023-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
                    T2,w,2019-09-01 10:00:00,M1,5722,330106,1,sale,offline\n\
                    T3,w,2021-01-01 00:00:00,M1,5722,330106,1,sale,offline\n";
        let campaign = Campaign::default_2023();
        assert_eq!(campaign_years(&campaign), (2021, 2023));
        let out =
            ingest_transaction_bytes("y.csv", text.as_bytes(), &Profile::default(), &campaign)
                .unwrap();
        assert_eq!((out.report.accepted, out.report.rejected), (2, 1));
        let reason = out.rejects.column("reason").unwrap().str().unwrap().get(0);
        assert_eq!(reason, Some("bad_period"));
    }
}
