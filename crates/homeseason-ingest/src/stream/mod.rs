//! Streaming ingest of transaction-level payment files: bounded memory, two cores, one pass.
//!
//! A reader thread pulls the file through gzip, BOM and encoding detection (UTF-8 or GB18030, decided
//! by the first chunk that is not plain ASCII) and cuts it into ~4 MB chunks at record boundaries
//! (quote-aware). Worker threads parse and validate the records of a chunk (CSV through the `csv` crate,
//! or JSON Lines) into compact rows: a 64-bit fingerprint of the `txn_id`, the day × region × MCC ×
//! channel group, the merchant's fingerprint, the amount in fen and the kind. The merging thread takes
//! the chunks in file order, removes duplicate `txn_id`s (first occurrence kept, by line), checks each
//! row against the institution's txn-id index for the row's own month (other files already in the lake)
//! and aggregates to `payment_daily`. Memory is the duplicate table (a bounded filter, [`DupFilter`]),
//! the merchant-day set, the ids the lake already holds (a hash map up to [`KNOWN_IN_MEMORY`], else
//! spilled to bucket files behind a bounded filter: [`KnownIds`]), and a few chunks in flight — never
//! the file. Money is summed in integer fen.
//!
//! Which months a file writes: its *home month* (the month holding most of its rows; on a tie the one
//! with more rows no other file holds, then the month in the file's name, then the later) always; any other
//! month too unless that month's partition is already held by a different file (another name), in which
//! case the rows found in that file's txn-id index are duplicates (an overlapping export) and the others
//! are rejected as `bad_period` (send them in a corrected file for that month). A corrected file for a
//! month replaces the month: rows in the index of the version it replaces are not duplicates.
//!
//! Exactness: a 64-bit fingerprint that repeats inside a file is verified against the full `txn_id`
//! text in a verification pass, so within-file duplicates are exact. That pass reads the file again
//! but judges only the rows whose fingerprint repeats (a CSV chunk without quotes is split by lines
//! and only the `txn_id` cell of the others is hashed); everything the first pass decided for the
//! others stays. Only when two different ids share a fingerprint is the whole file merged again. Across files the index stores 64-bit
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
use crate::reject::{Detail, Reason, RejectSink};
use crate::source::Encoding;
use crate::{Feed, FileReport, IngestError, Result};

mod area;
mod blocks;
mod known;
mod merge;
mod reader;
mod rules;
mod spec;
mod stops;
mod worker;
mod xxh64;

pub use area::{Area, Areas};
use blocks::*;
pub(crate) use blocks::{beijing_day, parse_fen};
use known::{Deferred, Lookup};
pub use known::{
    KNOWN_IN_MEMORY, KnownIds, KnownIdsBuilder, SpillFiles, SpillRead, SpilledIds, for_each_record,
    known_in_memory,
};
pub use merge::name_month;
use merge::*;
pub use reader::read_full;
pub(crate) use reader::unclosed_quote_reason;
use reader::*;
pub use rules::{
    AreaCell, AreaCells, DailyCell, DailyCells, TXN_FIELDS, TxnColumns, csv_header,
    file_institution, map_txn_header, mcc_categories, other_institution_detail,
    outside_years_detail, rejects_with_sha, resolve_txn_field,
};
use spec::*;
use stops::Stops;
use worker::*;

/// Bytes per chunk handed to a worker.
pub(super) const CHUNK: usize = 4 << 20;

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

/// What the lake already holds for an institution-month: the 128-bit ids of every transaction the
/// institution has sent (over the whole campaign, every month: the same `txn_id` in two months is
/// one transaction) and the (day × region × MCC × channel group, merchant) pairs already counted in
/// this month, so a new file adds only what is new.
#[derive(Debug, Clone, Default)]
pub struct MonthOwner {
    /// The files that hold rows of the month, as ingested (for messages).
    pub file: String,
    /// SHA-256 of the latest of them (empty when none).
    pub sha256: String,
    /// Ids ([`txn_id128`]) of every transaction of the institution already in the lake, each with
    /// the fingerprint of its values ([`txn_values_fingerprint`]; `0` when the lake's index does
    /// not know them): in memory, or spilled to bucket files when there are many ([`KnownIds`]).
    pub txn_ids: Arc<KnownIds>,
    /// Merchant pairs already counted in the month (see [`TxnContext::spill_pairs`]).
    pub merchant_pairs: Vec<u64>,
    /// Area merchant pairs already counted in the month (see [`TxnContext::spill_area_pairs`]).
    pub area_pairs: Vec<u64>,
}

/// What the streaming ingest needs from the lake: what it already holds, and where to spill the new
/// rows' txn ids and merchant pairs (the new index). The lake-free [`NoLake`] knows nothing and keeps
/// nothing.
pub trait TxnContext {
    /// What the lake holds for `institution`'s `year`-`month`, if anything.
    ///
    /// # Errors
    /// A message when the lake cannot be read.
    fn month_owner(
        &mut self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> std::result::Result<Option<MonthOwner>, String>;
    /// Append 128-bit ids of new transactions of a month (in file order), each with its day (days
    /// since 1970-01-01, Beijing time) and the fingerprint of its values
    /// ([`txn_values_fingerprint`]).
    ///
    /// # Errors
    /// On IO failures.
    fn spill(&mut self, year: i32, month: u32, ids: &[(u128, i32, u64)]) -> std::io::Result<()>;
    /// Append the merchant pairs (a 64-bit hash of group and merchant) first counted in a month,
    /// each with its day.
    ///
    /// # Errors
    /// On IO failures.
    fn spill_pairs(&mut self, year: i32, month: u32, pairs: &[(u64, i32)]) -> std::io::Result<()>;
    /// Append the area merchant pairs ([`area_merchant_pair`]) first counted in a month, each with
    /// its day.
    ///
    /// # Errors
    /// On IO failures.
    fn spill_area_pairs(
        &mut self,
        year: i32,
        month: u32,
        pairs: &[(u64, i32)],
    ) -> std::io::Result<()>;
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
    fn spill(&mut self, _: i32, _: u32, _: &[(u128, i32, u64)]) -> std::io::Result<()> {
        Ok(())
    }
    fn spill_pairs(&mut self, _: i32, _: u32, _: &[(u64, i32)]) -> std::io::Result<()> {
        Ok(())
    }
    fn spill_area_pairs(&mut self, _: i32, _: u32, _: &[(u64, i32)]) -> std::io::Result<()> {
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
    /// `payment_area_daily` rows of the months written: the same transactions by area, so that
    /// summing them over `area_code` gives `rows`.
    pub area_rows: DataFrame,
    /// Rejected rows in the `rejects` contract (the streaming ingest keeps them compact: their
    /// messages are rendered a slice at a time, [`crate::Rejects`]).
    pub rejects: crate::Rejects,
    /// Months the file has rows in, in order.
    pub months: Vec<TxnMonth>,
    /// The month holding most of the file's rows.
    pub home_month: Option<(i32, u32)>,
    /// Duplicates of an earlier row of the same file.
    pub duplicates_in_file: usize,
    /// Duplicates of rows another file already holds.
    pub duplicates_across_files: usize,
    /// Rows rejected as `conflict`: a transaction id this file repeats, or the lake holds, with
    /// other values (the first occurrence is kept; counted in `report.rejected`).
    pub conflicts: usize,
    /// Passes over the file: 2 when repeated fingerprints (or ids the lake holds with other values)
    /// had to be verified — the second judges only those rows —, 3 when two different ids shared a
    /// fingerprint and the file was merged again.
    pub passes: usize,
    /// Accepted rows whose MCC is not in the campaign's map (stored under category `other`), by MCC.
    pub unmapped_mcc: BTreeMap<String, usize>,
}

/// The seed of every hash in the lake's txn index: Spark's `xxhash64` uses 42, so both engines
/// compute the same ids and pairs (the Spark roll-up, `homeseason-spark`).
pub const INDEX_HASH_SEED: u64 = 42;

/// What [`txn_id128`]'s second half appends to the trimmed id before hashing it.
pub const ID128_SECOND_SUFFIX: &[u8] = b"\x01homeseason";

/// The fingerprint of a transaction id: XXH64 (seed 42) of the trimmed text, never 0. Spark computes
/// the same with `xxhash64(txn_id)` (0 mapped to 1).
#[must_use]
pub fn txn_fingerprint(txn_id: &[u8]) -> u64 {
    nonzero(xxh64::xxh64(trim(txn_id), INDEX_HASH_SEED))
}

/// The 128-bit id of a transaction id: two 64-bit hashes of the trimmed text, XXH64 of the text and
/// XXH64 of the text followed by `"\u{1}homeseason"` (both seed 42, so Spark's `xxhash64` computes
/// them too). Two different ids of one institution share it with probability about n²/2¹²⁹:
/// 1.5 × 10⁻¹⁹ at 10¹⁰ transactions.
#[must_use]
pub fn txn_id128(txn_id: &[u8]) -> u128 {
    (u128::from(txn_fingerprint(txn_id)) << 64) | u128::from(txn_fingerprint2(txn_id))
}

/// The second half of [`txn_id128`].
pub(super) fn txn_fingerprint2(txn_id: &[u8]) -> u64 {
    let id = trim(txn_id);
    let n = id.len() + ID128_SECOND_SUFFIX.len();
    if n <= 128 {
        let mut buf = [0u8; 128];
        buf[..id.len()].copy_from_slice(id);
        buf[id.len()..n].copy_from_slice(ID128_SECOND_SUFFIX);
        xxh64::xxh64(&buf[..n], INDEX_HASH_SEED)
    } else {
        xxh64::xxh64(&[id, ID128_SECOND_SUFFIX].concat(), INDEX_HASH_SEED)
    }
}

/// The merchant pair of the lake's index: XXH64 (seed 42, never 0) of the canonical text
/// `day|region|mcc|channel|merchant` (day: days since 1970-01-01, Beijing; region: the reporting
/// region's code; mcc: 4 digits; channel: `0` offline, `1` online; merchant: the trimmed id), which
/// Spark builds with `concat_ws` and hashes with `xxhash64`.
#[must_use]
pub fn merchant_pair(day: i32, region: &str, mcc: u16, channel: u8, merchant: &[u8]) -> u64 {
    pair_in(&mut Vec::new(), (day, region, None, mcc, channel), merchant)
}

/// The area merchant pair of the lake's index (`.apairs` files): XXH64 (seed 42, never 0) of the
/// canonical text `day|region|area|mcc|channel|merchant` (as [`merchant_pair`], with the area code
/// after the reporting region's), which Spark builds with `concat_ws` and hashes with `xxhash64`.
#[must_use]
pub fn area_merchant_pair(
    day: i32,
    region: &str,
    area: &str,
    mcc: u16,
    channel: u8,
    merchant: &[u8],
) -> u64 {
    pair_in(
        &mut Vec::new(),
        (day, region, Some(area), mcc, channel),
        merchant,
    )
}

/// A pair's cell: day, reporting region, area (`None` for [`merchant_pair`]'s cell), MCC, channel.
pub(super) type PairCell<'a> = (i32, &'a str, Option<&'a str>, u16, u8);

/// [`merchant_pair`] (`area` `None`) or [`area_merchant_pair`] (`area` given), building the text in
/// `buf` (reused between rows) with plain digit writing rather than the formatting machinery.
pub(super) fn pair_in(
    buf: &mut Vec<u8>,
    (day, region, area, mcc, channel): PairCell<'_>,
    merchant: &[u8],
) -> u64 {
    buf.clear();
    push_decimal(buf, i64::from(day), 1);
    buf.push(b'|');
    buf.extend_from_slice(region.as_bytes());
    buf.push(b'|');
    if let Some(area) = area {
        buf.extend_from_slice(area.as_bytes());
        buf.push(b'|');
    }
    push_decimal(buf, i64::from(mcc), 4);
    buf.push(b'|');
    push_decimal(buf, i64::from(channel), 1);
    buf.push(b'|');
    buf.extend_from_slice(trim(merchant));
    nonzero(xxh64::xxh64(buf, INDEX_HASH_SEED))
}

/// Both pairs of a sale ([`merchant_pair`], [`area_merchant_pair`]) at once: the shared
/// `day|region|` is written once, the day's digits taken from `day_text` (the last day's, reused
/// while the day does not change), and short cells copied a byte at a time. `buf` is reused
/// between rows.
pub(super) fn sale_pairs(
    buf: &mut Vec<u8>,
    day_text: &mut (i32, Vec<u8>),
    (day, region, area, mcc, channel): (i32, &str, &str, u16, u8),
    merchant: &[u8],
) -> (u64, u64) {
    if day_text.1.is_empty() || day_text.0 != day {
        day_text.1.clear();
        push_decimal(&mut day_text.1, i64::from(day), 1);
        day_text.0 = day;
    }
    let merchant = trim(merchant);
    // The MCC's four digits (an MCC of 10,000 or more is written by `push_decimal`).
    let mcc_digits = [
        b'0' + (mcc / 1000 % 10) as u8,
        b'0' + (mcc / 100 % 10) as u8,
        b'0' + (mcc / 10 % 10) as u8,
        b'0' + (mcc % 10) as u8,
    ];
    buf.clear();
    push_short(buf, &day_text.1);
    buf.push(b'|');
    push_short(buf, region.as_bytes());
    buf.push(b'|');
    let prefix = buf.len();
    // `mcc|channel|merchant`, the tail both texts end with.
    let push_tail = |buf: &mut Vec<u8>| {
        if mcc < 10_000 {
            buf.extend_from_slice(&mcc_digits);
        } else {
            push_decimal(buf, i64::from(mcc), 4);
        }
        buf.push(b'|');
        if channel < 10 {
            buf.push(b'0' + channel);
        } else {
            push_decimal(buf, i64::from(channel), 1);
        }
        buf.push(b'|');
        push_short(buf, merchant);
    };
    push_tail(buf);
    let cell = nonzero(xxh64::xxh64(buf, INDEX_HASH_SEED));
    buf.truncate(prefix);
    push_short(buf, area.as_bytes());
    buf.push(b'|');
    push_tail(buf);
    let area_pair = nonzero(xxh64::xxh64(buf, INDEX_HASH_SEED));
    (cell, area_pair)
}

/// Appends `b`: a byte at a time when short (a call to `memcpy` costs more than the copy).
#[inline]
fn push_short(buf: &mut Vec<u8>, b: &[u8]) {
    if b.len() <= 16 {
        buf.reserve(b.len());
        for &c in b {
            buf.push(c);
        }
    } else {
        buf.extend_from_slice(b);
    }
}

/// Appends `v` in decimal, its digits zero-padded to at least `width` (as `{v:0width$}`), a byte
/// at a time (a copy of the few digits would be a call to `memcpy`, most of this function's time).
fn push_decimal(buf: &mut Vec<u8>, v: i64, width: usize) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = at.min(digits.len() - width.min(digits.len()));
    buf.reserve(digits.len() - start);
    for &d in &digits[start..] {
        buf.push(d);
    }
}

/// The fingerprint of a transaction's values — everything it contributes to `payment_daily`: its
/// Beijing day (days since 1970-01-01), reporting region, MCC, channel (`0` offline, `1` online),
/// whether it is a sale (a refund and a reversal contribute alike), its amount in fen (absolute) and
/// its merchant (trimmed). It is Spark's `xxhash64(day INT, region STRING, mcc INT, channel INT,
/// sale BOOLEAN, fen BIGINT, merchant_id STRING)`: XXH64 of each value in turn (an `INT` or a
/// `BOOLEAN` as 4 little-endian bytes, a `BIGINT` as 8, a string as its UTF-8 bytes), each seeded
/// with the hash so far, the first with 42; never 0 (0 means "values unknown" in the lake's index).
/// Two different values of one transaction id share it with probability 2⁻⁶⁴.
#[must_use]
pub fn txn_values_fingerprint(
    day: i32,
    region: &str,
    mcc: u16,
    channel: u8,
    sale: bool,
    fen: i64,
    merchant: &[u8],
) -> u64 {
    let mut h = INDEX_HASH_SEED;
    // The integers' little-endian bytes, hashed by the fixed-width forms (the same values).
    h = xxh64::xxh64_4(day.cast_unsigned(), h);
    h = xxh64::xxh64(region.as_bytes(), h);
    h = xxh64::xxh64_4(u32::from(mcc), h);
    h = xxh64::xxh64_4(u32::from(channel), h);
    h = xxh64::xxh64_4(u32::from(sale), h);
    h = xxh64::xxh64_8(fen.cast_unsigned(), h);
    h = xxh64::xxh64(trim(merchant), h);
    nonzero(h)
}

/// The columns a transaction's values are compared on, as a conflict names them (in this order).
pub const TXN_VALUE_FIELDS: [&str; 7] = [
    "txn_time",
    "region_code",
    "mcc",
    "channel",
    "txn_type",
    "amount",
    "merchant_id",
];

/// The detail of a transaction `conflict` reject (both engines write it): the institution, where
/// the first occurrence is (`first_line` in this file, else the lake or an earlier file of the run,
/// whose index keeps only a fingerprint of the values) and which of [`TXN_VALUE_FIELDS`] differ
/// when known (`differs`, within a file). Transactions keep the first occurrence under either
/// conflict policy: a transaction added to `payment_daily` cannot be taken out of it alone (its
/// merchant is a distinct count), so replacing transactions is `ingest --replace` of their days.
#[must_use]
pub fn txn_conflict_detail(institution: &str, first_line: Option<u64>, differs: &[&str]) -> String {
    let keep_zh = "保留第一笔：交易一旦计入 payment_daily 便无法单独扣除（商户数为去重计数），因此无论冲突策略是 keep-first 还是 keep-last，交易都保留第一笔；如需替换交易，请用 ingest --replace 删除其日期后重新发送更正的文件";
    let keep_en = "the first is kept: a transaction added to payment_daily cannot be taken out of it alone (merchants are a distinct count), so transactions keep the first under keep-first and keep-last alike; to replace transactions, remove their days with ingest --replace and send the corrected file";
    match first_line {
        Some(l) => {
            let fields = differs.join(", ");
            format!(
                "机构 {institution} 的这一交易号已在本文件第 {l} 行出现，取值不同（{fields}）；{keep_zh} / institution {institution}: this txn_id is already on line {l} of this file with other values ({fields}); {keep_en}"
            )
        }
        None => format!(
            "数据湖已有机构 {institution} 的这一交易号（来自先前的文件），取值不同（索引只保存交易取值的指纹，无法得知哪些列不同）；{keep_zh} / the lake already holds this txn_id of institution {institution} (from an earlier file) with other values (the index keeps only a fingerprint of a transaction's values, so which columns differ is not known); {keep_en}"
        ),
    }
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
    let input = Input {
        file,
        open,
        size_hint,
        format,
        profile,
        campaign,
    };
    run_all(&input, None, ctx)
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
    let input = Input {
        file,
        open: &open_csv,
        size_hint: Some(bytes.len() as u64 * 4),
        format: Format::Csv,
        profile: &p,
        campaign,
    };
    run_all(&input, Some(sha), ctx)
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
        return Ok(schema
            .iter_names()
            .map(polars::prelude::PlSmallStr::to_string)
            .collect());
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
    fn the_month_in_a_files_name() {
        assert_eq!(
            name_month("payment_transactions_t2_2023-10.csv"),
            Some(2023 * 12 + 9)
        );
        assert_eq!(name_month("bank_c_202309.csv"), Some(2023 * 12 + 8));
        assert_eq!(
            name_month("x/2023_09_then_2023-11.csv.gz"),
            Some(2023 * 12 + 10)
        );
        assert_eq!(name_month("transactions.csv"), None);
        assert_eq!(name_month("t_2023-13.csv"), None);
        assert_eq!(slot("x/abc.csv.gz"), "abc");
    }

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
        // 万元 and 亿元 (a unit in the header): six and ten decimals are whole fen, the next rounds.
        assert_eq!(parse_fen(b"0.01005", AmountUnit::WanYuan), Some(10_050));
        assert_eq!(
            parse_fen(b"1.2345678", AmountUnit::WanYuan),
            Some(1_234_568)
        );
        assert_eq!(parse_fen(b"-2", AmountUnit::WanYuan), Some(-2_000_000));
        assert_eq!(parse_fen(b"0.00000001549", AmountUnit::YiYuan), Some(155));
        assert_eq!(parse_fen(b"123456789012", AmountUnit::WanYuan), None);
        assert_eq!(
            parse_fen(b"12345678901", AmountUnit::WanYuan),
            Some(12_345_678_901_000_000)
        );
        assert_eq!(parse_fen(b"abc", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b".", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1e3", AmountUnit::Yuan), None);
        // Thousands separators only in their places (issue 13).
        assert_eq!(
            parse_fen(b"1,234,567.89", AmountUnit::Yuan),
            Some(123_456_789)
        );
        assert_eq!(parse_fen(b"-1,234", AmountUnit::Fen), Some(-1234));
        assert_eq!(parse_fen(b"12,50", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1,2,3", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"407,42", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1234,567", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b",123", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"123,", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1,23.5", AmountUnit::Yuan), None);
        assert_eq!(parse_fen(b"1,234.5,6", AmountUnit::Yuan), None);
    }

    #[test]
    fn sale_pairs_are_the_two_pairs() {
        let mut buf = Vec::new();
        let mut day_text = (0, Vec::new());
        for (day, region, area, mcc, channel, merchant) in [
            (
                19_601,
                "650000",
                "650801",
                5251_u16,
                1_u8,
                &b" M0017297 "[..],
            ),
            (19_601, "XPCC", "XPCC01", 42, 0, b"m"),
            (
                19_602,
                "110000",
                "110101",
                9999,
                1,
                b"a-merchant-id-longer-than-sixteen",
            ),
            (-3, "110000", "110101", 10_000, 12, b"M1"),
        ] {
            let got = sale_pairs(
                &mut buf,
                &mut day_text,
                (day, region, area, mcc, channel),
                merchant,
            );
            assert_eq!(
                got,
                (
                    merchant_pair(day, region, mcc, channel, merchant),
                    area_merchant_pair(day, region, area, mcc, channel, merchant)
                )
            );
        }
    }

    #[test]
    fn pair_texts_are_the_canonical_format() {
        for (day, region, area, mcc, channel) in [
            (19_601, "330000", "330106", 5722u16, 0u8),
            (-3, "XPCC", "659001", 742, 1),
            (0, "110000", "110105", 7, 1),
            (i32::MIN, "", "", 0, 0),
            (i32::MAX, "990000", "x", 65_535, 255),
        ] {
            let merchant = b"  M 1\t";
            let want = format!("{day}|{region}|{mcc:04}|{channel}|M 1");
            assert_eq!(
                merchant_pair(day, region, mcc, channel, merchant),
                nonzero(xxh64::xxh64(want.as_bytes(), INDEX_HASH_SEED)),
                "{want}"
            );
            let want = format!("{day}|{region}|{area}|{mcc:04}|{channel}|M 1");
            assert_eq!(
                area_merchant_pair(day, region, area, mcc, channel, merchant),
                nonzero(xxh64::xxh64(want.as_bytes(), INDEX_HASH_SEED)),
                "{want}"
            );
        }
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
            let id = if x.is_multiple_of(97) { i / 2 } else { i };
            out.push_str(&format!(
                "T{id},w,2023-09-{day:02} {h:02}:{m:02}:00,M{},{},{},{}.{:02},{},{}\n",
                (x >> 20) % 40,
                mccs[((x >> 24) % 5) as usize],
                regions[((x >> 28) % 7) as usize],
                (x >> 32) % 500,
                (x >> 40) % 100,
                kinds[((x >> 44) % 5) as usize],
                if (x >> 48).is_multiple_of(3) {
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
        // The sample repeats ids with other values: conflicts in both, counted as rejected.
        assert!(out.conflicts > 0, "{}", out.conflicts);
        let conflicts = |df: &DataFrame| {
            df.column("reason")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .filter(|r| *r == Some("conflict"))
                .count()
        };
        assert_eq!(conflicts(&out.rejects.to_frame().unwrap()), out.conflicts);
        assert_eq!(conflicts(&sink.to_frame().unwrap()), out.conflicts);
        let round = |df: &DataFrame| {
            df.clone()
                .lazy()
                .with_columns(
                    ["amount_yuan", "refund_amount_yuan", "net_amount_yuan"].map(|c| {
                        (col(c) * lit(100.0))
                            .round(0, RoundMode::HalfAwayFromZero)
                            .alias(c)
                    }),
                )
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
        assert_eq!(
            lines(&out.rejects.to_frame().unwrap()),
            lines(&sink.to_frame().unwrap())
        );
    }

    #[test]
    fn area_rows_sum_to_the_daily_rows() {
        let text = sample_csv(20_000);
        let campaign = Campaign::default_2023();
        let out =
            ingest_transaction_bytes("t.csv", text.as_bytes(), &Profile::default(), &campaign)
                .unwrap();
        assert_eq!(
            out.area_rows.height(),
            out.rows.height(),
            "one area per region here"
        );
        let bad = crate::area_sum_mismatches(&out.rows, &out.area_rows, 20).unwrap();
        assert!(bad.is_empty(), "{bad:#?}");
        let contract = homeseason_schema::contract::get(
            homeseason_schema::contract::tables::PAYMENT_AREA_DAILY,
        )
        .unwrap();
        let names: Vec<&str> = contract.fields.iter().map(|f| f.name.as_str()).collect();
        let got: Vec<&str> = out
            .area_rows
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(got, names);
        // One merchant selling in two districts of a city: one merchant of the region, one in
        // each area; a province-only code stays at the region (no city), a plan city's district
        // rolls up to the plan city.
        let text = "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n\
            A1,t9,2023-09-01 10:00:00,M1,5722,330106,15.00,sale,offline\n\
            A2,t9,2023-09-01 11:00:00,M1,5722,330782,5.00,sale,offline\n\
            A3,t9,2023-09-01 12:00:00,M1,5722,330000,10.00,sale,offline\n\
            A4,t9,2023-09-01 12:00:00,M2,5722,330212,10.00,refund,offline\n\
            A5,t9,2023-09-01 13:00:00,M2,5722,330782,1.00,sale,offline\n";
        let out =
            ingest_transaction_bytes("t.csv", text.as_bytes(), &Profile::default(), &campaign)
                .unwrap();
        let areas = homeseason_test_support::str_values(&out.area_rows, "area_code");
        assert_eq!(areas, ["330000", "330106", "330782", "330212"]);
        let cities: Vec<Option<String>> = out
            .area_rows
            .column("city_code")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|c| c.map(str::to_owned))
            .collect();
        assert_eq!(
            cities,
            [
                None,
                Some("330100".into()),
                Some("330700".into()),
                Some("330200".into())
            ]
        );
        let classes = homeseason_test_support::str_values(&out.area_rows, "urban_rural");
        assert_eq!(classes, ["unknown", "urban", "rural", "urban"]);
        let merchants: Vec<i64> = out
            .area_rows
            .column("merchant_count")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(merchants, [1, 1, 2, 0]);
        let daily: Vec<i64> = out
            .rows
            .column("merchant_count")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(daily, [2, 0]);
        let bad = crate::area_sum_mismatches(&out.rows, &out.area_rows, 20).unwrap();
        assert!(bad.is_empty(), "{bad:#?}");
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
        let cats = homeseason_test_support::str_values(&out.rows, "category");
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
        let rejects = out.rejects.to_frame().unwrap();
        let reason = rejects.column("reason").unwrap().str().unwrap().get(0);
        assert_eq!(reason, Some("bad_period"));
    }
}
