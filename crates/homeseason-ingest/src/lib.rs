//! # homeseason-ingest
//!
//! Turns the files liaisons and institutions send into lake-shaped frames, row by row accountable.
//!
//! The path of one file: [`decode`] (gzip, BOM, UTF-8 or GB18030 detected) →
//! the CSV reader (every column as text, headers mapped onto the data contract, so Chinese and
//! English headers both work) → contract validation (contract types and constraints, vectorised) →
//! the feed's own rules (payments, enterprise sales, 社零, activities: region roll-up,
//! category map, USCC check, units, periods, netting and de-duplication). Every rejected row is kept in
//! a [`RejectSink`] with file, line, column, reason (Chinese and English) and raw text, and each
//! file's [`FileReport`] satisfies `read = accepted + rejected + duplicates`.
//!
//! No files are read or written here: callers pass bytes (or a reader) and institution profiles
//! ([`Profile::from_toml`]) in, and the lake crate stores what this crate returns. Transaction files
//! stream ([`ingest_transactions`]) with the caller's txn-id index behind [`TxnContext`].
//!
//! ```no_run
//! use homeseason_ingest::{Feed, ingest_bytes};
//! use homeseason_schema::campaign::Campaign;
//! let bytes = std::fs::read("payment_daily_acq_a_2023-09.csv").unwrap();
//! let out = ingest_bytes(Feed::PaymentDaily, "payment_daily_acq_a_2023-09.csv", &bytes, &Campaign::default_2023()).unwrap();
//! assert_eq!(out.report.read, out.report.accepted + out.report.rejected + out.report.duplicates);
//! ```
#![deny(missing_docs)]

mod activities;
mod enterprise;
mod frame_util;
#[doc(hidden)]
pub mod fuzzing;
mod guidance;
mod nbs;
mod parquet_guard;
mod parse;
mod payments;
mod profile;
mod reject;
mod retail;
mod row_tail;
mod source;
mod stream;
mod subsidies;
mod suppress;
mod table;
mod validate;
mod xlsx;

pub use guidance::missing_columns;
pub use nbs::{FILE as NBS_FILE, SOURCES_MD as NBS_SOURCES_MD, bundled as bundled_nbs};
pub use parse::{Period, PeriodKind, Unit, fold_width};
pub use payments::{DASHBOARD_TABLE, area_sum_mismatches, daily_profiled};
pub use profile::{
    AmountUnit, BEIJING_OFFSET, DEFAULT_TIME_FORMAT, Format, Profile, ProfileError, RefundSign,
    TimeFormat, pick as pick_profile,
};
pub use profile::{INSTITUTION_CODE_RULE, is_institution_code, unknown_institution_detail};
pub use reject::{
    CompactRejects, Detail, Reason, Reject, RejectSink, Rejects, append_rejects, rejects_frame,
};
pub use source::{
    Decoded, Encoding, URI_SCHEMES, UriError, decode, is_uri, sha256_hex, uri_file_name,
};
pub use stream::{
    Area, AreaCell, AreaCells, Areas, DailyCell, DailyCells, TXN_FIELDS, TxnColumns, csv_header,
    file_institution, map_txn_header, mcc_categories, name_month, other_institution_detail,
    outside_years_detail, read_full, rejects_with_sha, resolve_txn_field,
};
pub use stream::{
    ID128_SECOND_SUFFIX, INDEX_HASH_SEED, KNOWN_IN_MEMORY, KnownIds, KnownIdsBuilder, MonthKey,
    MonthOwner, NoLake, Opener, SpillFiles, SpillRead, SpilledIds, TxnContext, TxnMonth,
    TxnOutcome, area_merchant_pair, campaign_years, detect_payment_feed, for_each_record,
    ingest_transaction_bytes, ingest_transactions, known_in_memory, merchant_pair, parquet_to_csv,
    sniff_header, txn_fingerprint, txn_id128, year_month,
};
pub use stream::{TXN_VALUE_FIELDS, txn_conflict_detail, txn_values_fingerprint};
pub use suppress::{
    BoxMove, DayWeights, PUBLISHED_MARGINS, Published, SumCheck, Suppression,
    blank_exposed_margins, blank_rows, figure_key, margin_groups, suppress_small_cells,
    suppression_mask, suppression_of,
};

use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::{self, TableContract, tables};
use polars::prelude::*;
use serde::Serialize;

/// The feeds homeseason ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    /// Transaction-level payment files (one row per payment), aggregated to `payment_daily`.
    PaymentTransactions,
    /// Pre-aggregated daily payment files.
    PaymentDaily,
    /// Key-enterprise sales reports.
    EnterpriseSales,
    /// Retail-category statistics (社零).
    RetailStats,
    /// The register of campaign activities (重点活动表).
    Activities,
    /// Subsidies and consumption vouchers paid out (补贴/消费券).
    Subsidies,
}

impl Feed {
    /// Every feed.
    pub const ALL: [Feed; 6] = [
        Feed::PaymentTransactions,
        Feed::PaymentDaily,
        Feed::EnterpriseSales,
        Feed::RetailStats,
        Feed::Activities,
        Feed::Subsidies,
    ];

    /// The input contract name of the feed.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Feed::PaymentTransactions => tables::PAYMENT_TRANSACTIONS,
            Feed::PaymentDaily => tables::PAYMENT_DAILY,
            Feed::EnterpriseSales => tables::ENTERPRISE_SALES,
            Feed::RetailStats => tables::RETAIL_STATS,
            Feed::Activities => tables::ACTIVITIES,
            Feed::Subsidies => tables::SUBSIDIES,
        }
    }

    /// Parse a feed id (`enterprise_sales`; the command-line spelling `enterprise-sales` too).
    #[must_use]
    pub fn from_id(id: &str) -> Option<Feed> {
        let id = id.trim().replace('-', "_");
        Feed::ALL.into_iter().find(|f| f.id() == id)
    }

    /// The lake table this feed lands in.
    #[must_use]
    pub fn lake_table(self) -> &'static str {
        match self {
            Feed::PaymentTransactions | Feed::PaymentDaily => tables::PAYMENT_DAILY,
            other => other.id(),
        }
    }

    /// The input contract.
    #[must_use]
    pub fn contract(self) -> &'static TableContract {
        contract::get(self.id()).expect("every feed has an embedded contract")
    }

    /// Values for required fields a file may leave out: a retail table without a region column is
    /// national (`region_code` = `000000`).
    #[must_use]
    pub fn column_defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Feed::RetailStats => retail::DEFAULTS,
            _ => &[],
        }
    }

    /// Guess the feed from a header line: the feed whose required fields all resolve and that
    /// resolves the most headers.
    #[must_use]
    pub fn detect(headers: &[&str]) -> Option<Feed> {
        Feed::ALL
            .into_iter()
            .filter_map(|feed| {
                let c = feed.contract();
                let resolved: Vec<&str> = headers
                    .iter()
                    .filter_map(|h| c.resolve_header(h))
                    .map(|f| f.name.as_str())
                    .collect();
                let complete = c
                    .required_fields()
                    .filter(|f| !f.derived)
                    .filter(|f| !feed.column_defaults().iter().any(|(d, _)| *d == f.name))
                    .all(|f| resolved.contains(&f.name.as_str()));
                complete.then_some((feed, resolved.len()))
            })
            .max_by_key(|(_, n)| *n)
            .map(|(f, _)| f)
    }
}

/// The contract's maximum of a feed's number column, if it has one.
pub(crate) fn contract_max(feed: Feed, field: &str) -> Option<f64> {
    feed.contract().field(field)?.constraints.maximum
}

/// Errors that refuse a whole file. Row-level problems are never errors: they are rejects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A zero-byte or blank file.
    #[error("{file}: the file is empty / 文件为空")]
    Empty {
        /// File name.
        file: String,
    },
    /// A broken gzip stream.
    #[error("{file}: gzip stream is damaged or truncated ({reason}) / 压缩文件损坏或不完整")]
    Gzip {
        /// File name.
        file: String,
        /// Decoder message.
        reason: String,
    },
    /// A compressed file (gzip, or an Excel workbook's zip parts) that unpacks to more than
    /// [`MAX_UNPACKED_BYTES`]: refused whole before it is inflated into memory (a "zip bomb").
    #[error(
        "{file}: {what} unpacks to more than {} MB ({detail}); refused as a possible zip bomb, nothing was read / 文件解压后超过 {} MB，疑似压缩炸弹，整份拒收", MAX_UNPACKED_BYTES >> 20, MAX_UNPACKED_BYTES >> 20
    )]
    TooLarge {
        /// File name.
        file: String,
        /// What was being unpacked (gzip stream, Excel workbook).
        what: String,
        /// Which part, and how much was seen.
        detail: String,
    },
    /// Text in an unknown encoding.
    #[error("{file}: cannot decode text: {reason} / 无法识别文件编码（应为 UTF-8 或 GB18030/GBK）")]
    Encoding {
        /// File name.
        file: String,
        /// What failed.
        reason: String,
    },
    /// Not parseable as CSV.
    #[error("{file}: not a readable CSV table: {reason} / 无法解析为 CSV 表格")]
    Csv {
        /// File name.
        file: String,
        /// Parser message.
        reason: String,
    },
    /// Not a readable Excel workbook, or one without a data sheet.
    #[error("{file}: not a readable Excel workbook: {reason} / 无法读取 Excel 工作簿")]
    Workbook {
        /// File name.
        file: String,
        /// Reader message.
        reason: String,
    },
    /// Required columns are absent from the header. The messages name, for each, the closest header
    /// found and the accepted spellings.
    #[error("{message_en} / {message_zh}")]
    MissingColumns {
        /// File name.
        file: String,
        /// Required fields with no column (`name (title_zh)`).
        missing: Vec<String>,
        /// The header as found.
        found: Vec<String>,
        /// The whole message in Chinese.
        message_zh: String,
        /// The whole message in English.
        message_en: String,
    },
    /// The file's feed could not be recognised from its header. The messages list the headers each
    /// feed expects and which of them the file lacks.
    #[error("{message_en} / {message_zh}")]
    UnknownFeed {
        /// File name.
        file: String,
        /// The whole message in Chinese.
        message_zh: String,
        /// The whole message in English.
        message_en: String,
    },
    /// A daily file's amounts in a unit that is not a money unit (`amount (%)`), or whose header and
    /// institution profile state different units: refused whole rather than read in a guessed unit.
    #[error("{message_en} / {message_zh}")]
    AmountUnit {
        /// File name.
        file: String,
        /// The whole message in Chinese.
        message_zh: String,
        /// The whole message in English.
        message_en: String,
    },
    /// An internal dataframe failure.
    #[error("{file}: internal table error: {source}")]
    Polars {
        /// File name.
        file: String,
        /// Cause.
        #[source]
        source: PolarsError,
    },
}

/// The most a file may unpack to (a gzip stream read into memory, or the parts of an Excel workbook
/// together): 256 MiB, far above any real feed file that is not streamed (transaction files stream).
pub const MAX_UNPACKED_BYTES: u64 = 256 << 20;

/// Result alias for this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// What happened to one file: the counts a liaison sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// File name.
    pub file: String,
    /// SHA-256 of the file as received.
    pub sha256: String,
    /// Feed.
    pub feed: Feed,
    /// Detected encoding.
    pub encoding: source::Encoding,
    /// Data rows read.
    pub read: usize,
    /// Rows accepted.
    pub accepted: usize,
    /// Rows rejected (each in the rejects table).
    pub rejected: usize,
    /// Rows dropped as duplicates of an accepted row (e.g. a repeated txn_id).
    pub duplicates: usize,
    /// Headers that matched no contract field.
    pub ignored_columns: Vec<String>,
    /// The unit the file's amounts were written in when it is not the lake's yuan (`分`, `万元`, `亿元`;
    /// daily payment files: from the headers' brackets or the institution profile), kept as evidence
    /// of the conversion. Absent for yuan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_unit: Option<String>,
}

impl FileReport {
    /// Whether `read = accepted + rejected + duplicates`.
    #[must_use]
    pub fn balanced(&self) -> bool {
        self.read == self.accepted + self.rejected + self.duplicates
    }
}

/// The result of ingesting one file.
#[derive(Debug)]
pub struct FileOutcome {
    /// Counts.
    pub report: FileReport,
    /// Accepted rows shaped as the feed's lake table (for transactions: already aggregated to days).
    pub rows: DataFrame,
    /// Rejected rows in the `rejects` contract (a frame, or kept compact for a transaction file).
    pub rejects: Rejects,
    /// Where each accepted row came from, aligned with `rows` row by row: its 1-based source line
    /// ([`ORIGIN_LINE`], `i64`) and raw text ([`ORIGIN_RAW`]). The lake names them in the rejects of
    /// a conflict. `None` where a row is no single source row (transactions aggregated to days).
    pub origins: Option<DataFrame>,
}

/// Column of [`FileOutcome::origins`]: the accepted row's 1-based line in its file.
pub const ORIGIN_LINE: &str = table::LINE;
/// Column of [`FileOutcome::origins`]: the accepted row's raw text.
pub const ORIGIN_RAW: &str = table::RAW;

/// Split a validator's frame into the lake rows and their origins ([`ORIGIN_LINE`],
/// [`ORIGIN_RAW`]); a frame without the two columns has no origins.
pub(crate) fn split_origins(frame: DataFrame) -> PolarsResult<(DataFrame, Option<DataFrame>)> {
    if frame.column(ORIGIN_LINE).is_err() || frame.column(ORIGIN_RAW).is_err() {
        return Ok((frame, None));
    }
    let origins = frame
        .select([ORIGIN_LINE, ORIGIN_RAW])?
        .lazy()
        .with_column(col(ORIGIN_LINE).cast(DataType::Int64))
        .collect()?;
    Ok((frame.drop_many([ORIGIN_LINE, ORIGIN_RAW]), Some(origins)))
}

/// Ingest one file's bytes as `feed`.
///
/// # Errors
/// Only when the whole file must be refused (empty, undecodable, missing columns).
pub fn ingest_bytes(
    feed: Feed,
    file: &str,
    bytes: &[u8],
    campaign: &Campaign,
) -> Result<FileOutcome> {
    if feed == Feed::PaymentTransactions && !xlsx::is_workbook(bytes) {
        // Text transactions go through the streaming engine (as `homeseason ingest` does).
        let default = profile::Profile::default();
        let out = stream::ingest_transaction_bytes(file, bytes, &default, campaign)?;
        return Ok(FileOutcome {
            report: out.report,
            rows: out.rows,
            rejects: out.rejects,
            origins: None,
        });
    }
    let (table, sha256, encoding) = read_table(feed, file, bytes)?;
    let mut sink = reject::RejectSink::new(feed.id(), file, &sha256);
    let source_unit = match feed {
        Feed::PaymentDaily => {
            payments::DailyUnits::of(&table, &profile::Profile::default(), file)?.source_unit()
        }
        Feed::PaymentTransactions => payments::transaction_unit(&table, file)?.source_unit(),
        _ => None,
    };
    let (rows, accepted, duplicates) = match feed {
        Feed::PaymentTransactions => payments::transactions(&table, campaign, &mut sink)?,
        Feed::PaymentDaily => payments::daily(&table, campaign, &mut sink)?,
        Feed::EnterpriseSales => enterprise::sales(&table, &mut sink)?,
        Feed::RetailStats => retail::stats(&table, &mut sink)?,
        Feed::Activities => activities::register(&table, &mut sink)?,
        Feed::Subsidies => subsidies::subsidies(&table, campaign, &mut sink)?,
    };
    let pe = |e| IngestError::Polars {
        file: file.to_owned(),
        source: e,
    };
    let rejects = Rejects::Frame(sink.to_frame().map_err(pe)?);
    let (rows, origins) = split_origins(rows).map_err(pe)?;
    let report = FileReport {
        file: file.to_owned(),
        sha256,
        feed,
        encoding,
        read: table.frame.height(),
        accepted,
        rejected: sink.len(),
        duplicates,
        ignored_columns: table.ignored,
        source_unit,
    };
    debug_assert!(report.balanced(), "{report:?}");
    Ok(FileOutcome {
        report,
        rows,
        rejects,
        origins,
    })
}

/// Reject the accepted rows of a pre-aggregated daily payment file whose institution is not in
/// `known` (`unknown_institution`, naming the value and the known codes), with the line and raw
/// text of [`FileOutcome::origins`]; counts move from accepted to rejected. An empty `known` (no
/// profiles) checks nothing. Profiled daily files are checked while they are read; this covers
/// the contract-layout files [`ingest_bytes`] reads.
///
/// # Errors
/// Internal frame failures.
pub fn reject_unknown_institutions(mut out: FileOutcome, known: &[String]) -> Result<FileOutcome> {
    let file = out.report.file.clone();
    let pe = |e| IngestError::Polars {
        file: file.clone(),
        source: e,
    };
    if known.is_empty() || out.rows.column("institution").is_err() {
        return Ok(out);
    }
    let Some(origins) = out.origins.take() else {
        return Ok(out);
    };
    let list = Series::new("known".into(), known);
    let unknown = out
        .rows
        .clone()
        .lazy()
        .select([col("institution")
            .is_in(lit(list).implode(false), false)
            .not()
            .alias("unknown")])
        .collect()
        .map_err(pe)?;
    let mask = unknown
        .column("unknown")
        .map_err(pe)?
        .bool()
        .map_err(pe)?
        .clone();
    let n = mask.sum().unwrap_or(0) as usize;
    if n == 0 {
        out.origins = Some(origins);
        return Ok(out);
    }
    let mut sink = reject::RejectSink::new(out.report.feed.id(), &file, &out.report.sha256);
    let detail = profile::unknown_institution_detail(known);
    let institutions = out
        .rows
        .column("institution")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let lines = origins
        .column(ORIGIN_LINE)
        .map_err(pe)?
        .i64()
        .map_err(pe)?
        .clone();
    let raws = origins
        .column(ORIGIN_RAW)
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    for (i, bad) in mask.iter().enumerate() {
        if bad != Some(true) {
            continue;
        }
        sink.push_detail(
            u64::try_from(lines.get(i).unwrap_or(0)).unwrap_or(0),
            Some("institution".to_owned()),
            reject::Reason::UnknownInstitution,
            institutions.get(i).unwrap_or_default(),
            Some(&detail),
            raws.get(i).unwrap_or_default(),
        );
    }
    let keep = !&mask;
    out.rows = out.rows.filter(&keep).map_err(pe)?;
    out.origins = Some(origins.filter(&keep).map_err(pe)?);
    let extra = sink.to_frame().map_err(pe)?;
    let merged = !out.rejects.is_empty();
    let mut rejects = append_rejects(&out.rejects.to_frame().map_err(pe)?, extra).map_err(pe)?;
    if merged {
        // The rejects of both checks, in file order.
        rejects = rejects
            .sort(["line"], SortMultipleOptions::default())
            .map_err(pe)?;
    }
    out.rejects = Rejects::Frame(rejects);
    out.report.accepted -= n.min(out.report.accepted);
    out.report.rejected += n;
    Ok(out)
}

/// Read a file's bytes as a table mapped onto the feed's contract: Excel workbooks through [`xlsx`]
/// (reported as UTF-8, the encoding of their XML), text through [`source::decode`] and
/// [`table::read_csv`]. Returns the table, the SHA-256 of the bytes and the encoding.
fn read_table(
    feed: Feed,
    file: &str,
    bytes: &[u8],
) -> Result<(table::MappedTable, String, source::Encoding)> {
    if xlsx::is_workbook(bytes) {
        let table = xlsx::read(file, bytes, feed.contract(), feed.column_defaults())?;
        return Ok((table, source::sha256_hex(bytes), source::Encoding::Utf8));
    }
    let decoded = source::decode(file, bytes)?;
    let table = match feed {
        Feed::RetailStats => retail::read_csv(&decoded)?,
        _ => table::read_csv(&decoded, feed.contract())?,
    };
    Ok((table, decoded.sha256, decoded.encoding))
}

/// Detect the feed of CSV bytes from their header line, or of an Excel workbook from its header row.
///
/// # Errors
/// When the bytes cannot be decoded or no feed matches.
pub fn detect_feed(file: &str, bytes: &[u8]) -> Result<Feed> {
    if xlsx::is_workbook(bytes) {
        return xlsx::detect(file, bytes)?
            .ok_or_else(|| guidance::unknown_feed(file, &xlsx::header_cells(file, bytes)));
    }
    let decoded = source::decode(file, bytes)?;
    let header = decoded.text.lines().next().unwrap_or_default();
    let headers: Vec<&str> = header.split(',').map(|h| h.trim_matches('"')).collect();
    Feed::detect(&headers).ok_or_else(|| {
        let found: Vec<String> = headers
            .iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect();
        guidance::unknown_feed(file, &found)
    })
}
