//! Reading and writing the lake.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use homeseason_ingest::{CompactRejects, append_rejects, rejects_frame};
use homeseason_schema::contract::{self, FieldType, RejectRow};
use polars::prelude::*;

use crate::layout::{PartitionKey, partition_keys};
use crate::manifest::{FileEntry, Manifest, PartitionEntry, RefusedEntry};
use crate::{IoError, LakeError, Result};

/// Version of the table contracts, written into every Parquet file's key-value metadata
/// (`homeseason.schema_version`). `2`: every money column names its unit (`sales_amount_yuan`,
/// `source_unit`, `value_100m_yuan`, `lower_pct`, `lower_yuan` …); `3`: `payment_daily`'s
/// `amount_yuan`, `refund_amount_yuan`, `net_amount_yuan` too. Files of earlier versions are renamed on
/// read ([`Lake::read_table`], [`Lake::check_table`], the merge of a commit), and a commit rewrites the
/// partitions it touches under today's names.
pub const SCHEMA_VERSION: &str = "3";
const MANIFEST: &str = "_manifest.json";
/// The folder of the lake's caches ([`Lake::read_cache`]): what can be computed again from the
/// tables, kept to save the work.
pub const CACHE_DIR: &str = "_cache";
/// The commit journal: the renames of a commit whose files are all staged in `.tmp`. Written
/// atomically after the staging and before the first rename, removed after the last; a writer that
/// finds it (a commit was killed half-way) finishes the renames before doing anything else.
const JOURNAL: &str = ".tmp/_commit.journal";
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> LakeError + 'a {
    IoError::on(action, path)
}

/// The number a folder entry's name carries after `prefix` (`year=2023` → 2023); `None` for a name
/// of another form.
pub(crate) fn number_after<T: std::str::FromStr>(entry: &fs::DirEntry, prefix: &str) -> Option<T> {
    entry
        .file_name()
        .to_str()?
        .strip_prefix(prefix)?
        .parse()
        .ok()
}

fn perr(path: impl Into<String>) -> impl FnOnce(PolarsError) -> LakeError {
    let path = path.into();
    move |source| LakeError::Polars { path, source }
}

/// Files below this size are read into memory whole before decoding, larger ones mapped.
const SMALL_FILE: u64 = 1 << 20;

/// Decode one Parquet file (`columns`: all when `None`). A small file (under [`SMALL_FILE`], as a
/// partition of a feed or an output table mostly is) is read into memory with one `read` and decoded
/// on the calling thread: mapping it, faulting its pages in and unmapping it cost more than the
/// copy, and handing it to polars' pool more than decoding it, when a table is thousands of such
/// files. A larger one is mapped, so only the columns asked for are touched, and decoded with
/// `large`.
fn read_parquet(
    path: &Path,
    mut file: File,
    columns: Option<Vec<String>>,
    large: ParallelStrategy,
) -> Result<DataFrame> {
    let len = file.metadata().map_err(io("stat", path))?.len();
    let frame = if len < SMALL_FILE {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io("read", path))?;
        ParquetReader::new(std::io::Cursor::new(bytes))
            .with_columns(columns)
            .read_parallel(ParallelStrategy::None)
            .finish()
    } else {
        ParquetReader::new(file)
            .with_columns(columns)
            .read_parallel(large)
            .finish()
    };
    frame.map_err(perr(path.display().to_string()))
}

/// A lake rooted at a directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    retention: crate::snapshot::Retention,
    on_conflict: ConflictPolicy,
    /// The lake snapshot a [`crate::LakeView`] is fixed at; `None`: the current one, resolved on
    /// every read (every writer's handle).
    pinned: Option<u64>,
}

/// An exclusive lock on the lake, released on drop.
#[derive(Debug)]
pub struct LakeLock {
    _file: File,
}

/// One source file's rows for one table, to be committed.
#[derive(Debug)]
pub struct Commit<'a> {
    /// Table the rows belong to.
    pub table: &'a str,
    /// Feed id.
    pub feed: &'a str,
    /// Source file name.
    pub file: &'a str,
    /// SHA-256 of the source file.
    pub sha256: &'a str,
    /// Accepted rows, in the table's contract (partition columns included).
    pub rows: &'a DataFrame,
    /// Rejected rows in the `rejects` contract.
    pub rejects: &'a DataFrame,
    /// Where each of `rows` came from, row by row: its source line ([`ORIGIN_LINE`], `i64`) and raw
    /// text ([`ORIGIN_RAW`]), named in the rejects of a conflict; `None` when unknown.
    pub origins: Option<&'a DataFrame>,
    /// The ingest report to keep in the manifest.
    pub report: serde_json::Value,
    /// Caller's clock, RFC 3339.
    pub now: &'a str,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CommitSummary {
    /// Nothing changed: every row of the file was already in the lake.
    pub unchanged: bool,
    /// Partitions written.
    pub written: Vec<String>,
    /// Partitions an explicit `--replace` emptied before this commit (never by a plain ingest:
    /// files are increments), with the SHA-256 of the file that held them.
    pub replaced: Vec<(String, String)>,
    /// Rows (cells for `payment_daily`) the lake did not hold and now does.
    pub added_rows: usize,
    /// Rows whose key the lake already held with the same values (changed nothing).
    pub duplicate_rows: usize,
    /// Rows whose key the lake already held with different values, settled by the lake's
    /// [`ConflictPolicy`] (`policy`); both rows of each are in `rejects` ([`RejectRow`]).
    pub conflicts: usize,
    /// Of `conflicts`, those between two rows of the file itself (a key repeated in the file with
    /// other values). Whatever the policy, one row of each is not stored: it counts as rejected.
    pub in_file_conflicts: usize,
    /// The first conflicting keys (at most 20), `column=value` joined by `, `.
    pub conflict_keys: Vec<String>,
    /// How the conflicts were settled.
    pub policy: ConflictPolicy,
    /// The rows this commit wrote to `rejects` for its conflicts: for each conflict the received
    /// row (`conflict`) and the row the lake held (`conflict_held`).
    pub conflict_rejects: Vec<RejectRow>,
}

/// Column of [`Commit::origins`]: the row's 1-based source line.
pub const ORIGIN_LINE: &str = "__line";
/// Column of [`Commit::origins`]: the row's raw text.
pub const ORIGIN_RAW: &str = "__raw";

/// What a commit does with a row whose key the lake already holds with *different* values (a
/// conflict). Either way the conflict is counted and both rows are kept in `rejects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The row the lake holds stays; the received row is not stored (default).
    #[default]
    KeepFirst,
    /// The received row replaces the held one.
    KeepLast,
}

impl ConflictPolicy {
    /// Every policy.
    pub const ALL: [ConflictPolicy; 2] = [ConflictPolicy::KeepFirst, ConflictPolicy::KeepLast];

    /// The policy's name (`keep-first`, `keep-last`), as `--on-conflict` and the server's
    /// configuration spell it.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            ConflictPolicy::KeepFirst => "keep-first",
            ConflictPolicy::KeepLast => "keep-last",
        }
    }

    /// Parse a policy name (`keep-first`, `keep_first` …).
    #[must_use]
    pub fn parse(text: &str) -> Option<ConflictPolicy> {
        let t = text.trim().replace('_', "-").to_lowercase();
        ConflictPolicy::ALL.into_iter().find(|p| p.id() == t)
    }
}

impl std::fmt::Display for ConflictPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for ConflictPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        ConflictPolicy::parse(s).ok_or_else(|| {
            format!("unknown conflict policy {s:?}: keep-first | keep-last / 未知的冲突策略")
        })
    }
}

impl CommitSummary {
    /// How many of the file's accepted rows this commit did not store because of conflicts (they
    /// count as rejected, so `read = accepted + rejected + duplicates` holds): under `keep-first`
    /// every conflicting received row; under `keep-last` only the replaced row of each conflict
    /// within the file (a held row from an earlier file is not a row of this file).
    #[must_use]
    pub fn not_stored(&self) -> usize {
        match self.policy {
            ConflictPolicy::KeepFirst => self.conflicts,
            ConflictPolicy::KeepLast => self.in_file_conflicts,
        }
    }
}

/// One conflict found by a merge.
#[derive(Debug, Clone)]
struct ConflictPair {
    /// The key, `column=value` joined by `, `.
    key: String,
    /// The columns whose values differ: (column, held, received).
    diffs: Vec<(String, String, String)>,
    /// The received row's line and raw text, when known.
    line: Option<i64>,
    raw: Option<String>,
    /// The held row as `column=value; …`, or its raw text when it is a row of the same file.
    held: String,
    /// For a conflict within the file: the held row's line (the earlier row with the key).
    held_line: Option<i64>,
}

/// The wording of a conflict's two `rejects` rows, each `(English, Chinese)`.
struct ConflictTexts {
    /// How the held and the received values are named in the list of differences.
    held_label: (String, String),
    got_label: (String, String),
    /// What the received row's and the held row's messages say, before the differences.
    got: (String, String),
    held: (String, String),
    /// What the policy did with the received row and with the held one.
    got_policy: (String, String),
    held_policy: (String, String),
    /// The held row's line in `rejects`.
    held_line: i64,
}

/// Counts of one partition merge.
#[derive(Debug, Default)]
struct MergeCounts {
    added: usize,
    duplicates: usize,
    conflicts: usize,
    /// Of `conflicts`, those within the file.
    in_file: usize,
    /// Held rows a received row replaced (`keep-last`).
    replaced: usize,
    conflict_keys: Vec<String>,
    pairs: Vec<ConflictPair>,
}

impl MergeCounts {
    fn absorb(&mut self, o: MergeCounts) {
        self.added += o.added;
        self.duplicates += o.duplicates;
        self.conflicts += o.conflicts;
        self.in_file += o.in_file;
        self.replaced += o.replaced;
        for k in o.conflict_keys {
            if self.conflict_keys.len() < 20 {
                self.conflict_keys.push(k);
            }
        }
        self.pairs.extend(o.pairs);
    }

    /// Whether the merge changed the partition.
    fn changed(&self) -> bool {
        self.added > 0 || self.replaced > 0
    }
}

impl ConflictPair {
    /// The two `rejects` rows of this conflict: the received row, then the held one — a row the
    /// lake held from an earlier file, or (`held_line`) an earlier row of the same file, each row
    /// then on its own line.
    fn rejects(&self, policy: ConflictPolicy) -> [RejectRow; 2] {
        let line = self.line.unwrap_or(1);
        let t = self.texts(policy, line);
        let diff = |label: usize, sep: &str, join: &str| -> String {
            self.diffs
                .iter()
                .map(|(c, held, got)| {
                    let (h, g) = if label == 0 {
                        (&t.held_label.0, &t.got_label.0)
                    } else {
                        (&t.held_label.1, &t.got_label.1)
                    };
                    format!(
                        "{c}{sep}{h} {held}{}{g} {got}",
                        if label == 0 { ", " } else { "，" }
                    )
                })
                .collect::<Vec<_>>()
                .join(join)
        };
        let (diff_en, diff_zh) = (diff(0, ": ", "; "), diff(1, "：", "；"));
        let column = self.diffs.first().map(|(c, _, _)| c.clone());
        [
            RejectRow {
                line,
                column: column.clone(),
                reason: "conflict".into(),
                message_en: format!("conflict: {} ({diff_en}); {}", t.got.0, t.got_policy.0),
                message_zh: format!("冲突：{}（{diff_zh}）；{}", t.got.1, t.got_policy.1),
                raw: self.raw.clone().unwrap_or_else(|| self.received_text()),
            },
            RejectRow {
                line: t.held_line,
                column,
                reason: "conflict_held".into(),
                message_en: format!("conflict: {} ({diff_en}); {}", t.held.0, t.held_policy.0),
                message_zh: format!("冲突：{}（{diff_zh}）；{}", t.held.1, t.held_policy.1),
                raw: self.held.clone(),
            },
        ]
    }

    /// The wording of [`ConflictPair::rejects`] (`line`: the received row's).
    fn texts(&self, policy: ConflictPolicy, line: i64) -> ConflictTexts {
        let key = &self.key;
        let first = policy == ConflictPolicy::KeepFirst;
        let pair = |en: String, zh: String| (en, zh);
        if let Some(h) = self.held_line {
            let (got_policy, held_policy) = if first {
                (
                    pair(
                        format!("policy keep-first: line {h} is stored, this row is not"),
                        format!("策略 keep-first：第 {h} 行入湖，本行未入湖"),
                    ),
                    pair(
                        format!("policy keep-first: this row is stored, line {line} is not"),
                        format!("策略 keep-first：本行入湖，第 {line} 行未入湖"),
                    ),
                )
            } else {
                (
                    pair(
                        format!("policy keep-last: this row is stored, line {h} is not"),
                        format!("策略 keep-last：本行入湖，第 {h} 行未入湖"),
                    ),
                    pair(
                        format!(
                            "policy keep-last: line {line} is stored in place of this row, which is not"
                        ),
                        format!("策略 keep-last：第 {line} 行代替本行入湖，本行未入湖"),
                    ),
                )
            };
            return ConflictTexts {
                held_label: pair(format!("line {h}"), format!("第 {h} 行")),
                got_label: pair(format!("line {line}"), format!("第 {line} 行")),
                got: pair(
                    format!("key {key} is also on line {h} of this file, with other values"),
                    format!("键 {key} 在本文件第 {h} 行已出现，取值不同"),
                ),
                held: pair(
                    format!("key {key} is repeated on line {line} of this file with other values"),
                    format!("键 {key} 在本文件第 {line} 行再次出现，取值不同"),
                ),
                got_policy,
                held_policy,
                held_line: h,
            };
        }
        let where_en = self
            .line
            .map_or_else(|| "this file".to_owned(), |l| format!("line {l}"));
        let where_zh = self
            .line
            .map_or_else(|| "本文件".to_owned(), |l| format!("第 {l} 行"));
        let (got_policy, held_policy) = if first {
            (
                (
                    "policy keep-first: the row already in the lake stays, this row is not stored",
                    "策略 keep-first：保留数据湖中已有的行，本行未入湖",
                ),
                (
                    "policy keep-first: this row stays in the lake",
                    "策略 keep-first：本行保留在数据湖中",
                ),
            )
        } else {
            (
                (
                    "policy keep-last: this row replaced the row the lake held",
                    "策略 keep-last：本行替换了数据湖中已有的行",
                ),
                (
                    "policy keep-last: this row was replaced by the received one and is no longer in the lake",
                    "策略 keep-last：本行已被新收到的行替换，不再在数据湖中",
                ),
            )
        };
        let owned = |(en, zh): (&str, &str)| (en.to_owned(), zh.to_owned());
        ConflictTexts {
            held_label: owned(("held", "已有")),
            got_label: owned(("received", "收到")),
            got: pair(
                format!("the lake already holds key {key} with other values"),
                format!("数据湖中已有键 {key} 的行，取值不同"),
            ),
            held: pair(
                format!(
                    "the row the lake held for key {key}, from an earlier file; {where_en} of this file carries other values"
                ),
                format!("数据湖中键 {key} 原有的行（来自先前的文件）；本文件{where_zh}的取值不同"),
            ),
            got_policy: owned(got_policy),
            held_policy: owned(held_policy),
            held_line: line,
        }
    }

    /// The received row's differing values, when its raw text is unknown.
    fn received_text(&self) -> String {
        let mut parts = vec![self.key.clone()];
        parts.extend(self.diffs.iter().map(|(c, _, got)| format!("{c}={got}")));
        parts.join("; ")
    }
}

/// The columns that identify a row of an input table (the feed's documented key).
#[must_use]
pub fn write_key(table: &str) -> &'static [&'static str] {
    use contract::tables;
    match table {
        t if t == tables::PAYMENT_DAILY => {
            &["date", "institution", "region_code", "mcc", "channel"]
        }
        t if t == tables::PAYMENT_AREA_DAILY => &[
            "date",
            "institution",
            "region_code",
            "area_code",
            "mcc",
            "channel",
        ],
        t if t == tables::ENTERPRISE_SALES => &[
            "uscc",
            "region_code",
            "period",
            "category",
            "channel",
            "brand",
            "subcategory",
        ],
        t if t == tables::ACTIVITIES => &["activity_id"],
        t if t == tables::RETAIL_STATS => &["region_code", "period", "category"],
        t if t == tables::SUBSIDIES => &[
            "region_code",
            "city_code",
            "category",
            "period",
            "instrument",
            "funding_source",
        ],
        _ => &[],
    }
}

/// A frame read from a file written under an earlier contract version with its columns renamed to
/// today's names ([`contract::RENAMED_IN_V2`], [`contract::RENAMED_IN_V3`]); a frame with today's
/// names is returned as it is.
#[must_use]
pub(crate) fn upgrade_v1_names(table: &str, mut frame: DataFrame) -> DataFrame {
    for (old, new) in contract::renamed_columns(table) {
        if frame.column(old).is_ok() && frame.column(new).is_err() {
            // Cannot fail: `old` exists and `new` is free.
            let _ = frame.rename(old, new.into());
        }
    }
    // Optional columns added later read as empty text (contract::ADDED_OPTIONAL).
    for (t, name) in contract::ADDED_OPTIONAL {
        if t == table && frame.column(name).is_err() {
            let empty = Column::full_null(name.into(), frame.height(), &DataType::String);
            // Cannot fail: the column is absent and has the frame's height.
            let _ = frame.with_column(empty);
        }
    }
    frame
}

/// Join arguments where a null key equals a null key (an enterprise row without a brand matches
/// the same row without a brand).
fn nulls_equal(how: JoinType) -> JoinArgs {
    let mut a = JoinArgs::new(how);
    a.nulls_equal = true;
    a
}

/// The source lines and raw texts of `n` rows ([`Commit::origins`]), when they are known for each.
fn origin_columns(
    origins: Option<&DataFrame>,
    n: usize,
) -> (Option<Int64Chunked>, Option<StringChunked>) {
    match origins {
        Some(o) if o.height() == n => (
            o.column(ORIGIN_LINE)
                .and_then(|c| c.cast(&DataType::Int64))
                .ok()
                .and_then(|c| c.i64().ok().cloned()),
            o.column(ORIGIN_RAW)
                .ok()
                .and_then(|c| c.str().ok().cloned()),
        ),
        _ => (None, None),
    }
}

/// Text of a cell for comparing rows and naming values: a null is [`NULL_TEXT`].
const NULL_TEXT: &str = "\u{0}";

/// The columns `names` as text for comparing rows, a null as [`NULL_TEXT`].
fn cells_as_text(names: &[PlSmallStr]) -> Vec<Expr> {
    names
        .iter()
        .map(|n| {
            col(n.clone())
                .cast(DataType::String)
                .fill_null(lit(NULL_TEXT))
        })
        .collect()
}

/// A cell's text as messages show it.
fn show_cell(v: Option<&str>) -> String {
    match v {
        None | Some(NULL_TEXT) => "(empty 空)".to_owned(),
        Some(v) => v.to_owned(),
    }
}

/// Settle the keys a file's rows of one partition repeat with *different* values (a conflict
/// within the file), by [`write_key`] and `policy`: the earlier row (by source line) is the held
/// one; `keep-first` keeps it and drops the later row, `keep-last` keeps the later one. A repeat
/// with the same values is dropped as a duplicate (the validators already drop those). Returns the
/// rows and origins left, with the conflicts (`in_file`) and their pairs. `context`: as for
/// [`merge_rows`].
fn settle_in_file(
    table: &str,
    rows: DataFrame,
    origins: Option<DataFrame>,
    policy: ConflictPolicy,
    context: &str,
) -> Result<(DataFrame, Option<DataFrame>, MergeCounts)> {
    let key: Vec<&str> = write_key(table)
        .iter()
        .copied()
        .filter(|k| rows.column(k).is_ok())
        .collect();
    let n = rows.height();
    if key.is_empty() || n < 2 {
        return Ok((rows, origins, MergeCounts::default()));
    }
    let err = || perr(table);
    let repeated = rows
        .select(key.iter().copied())
        .and_then(|k| k.is_duplicated())
        .map_err(err())?;
    if !repeated.any() {
        return Ok((rows, origins, MergeCounts::default()));
    }
    let names: Vec<PlSmallStr> = rows.get_column_names_owned();
    let text = rows
        .clone()
        .lazy()
        .with_columns(cells_as_text(&names))
        .collect()
        .map_err(err())?;
    let cells: Vec<StringChunked> = names
        .iter()
        .map(|n| text.column(n).and_then(|c| c.str().cloned()).map_err(err()))
        .collect::<Result<_>>()?;
    let key_at: Vec<usize> = key
        .iter()
        .filter_map(|k| names.iter().position(|n| n.as_str() == *k))
        .collect();
    let value_at: Vec<usize> = (0..names.len()).filter(|i| !key_at.contains(i)).collect();
    let (lines, raws) = origin_columns(origins.as_ref(), n);
    // File order: by source line when known (a daily file's rows are sorted by key).
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(l) = &lines {
        order.sort_by_key(|&i| (l.get(i).unwrap_or(i64::MAX), i));
    }
    let row_text = |i: usize, at: &[usize]| -> Vec<String> {
        at.iter()
            .map(|&c| format!("{}={}", names[c], show_cell(cells[c].get(i))))
            .collect()
    };
    let mut counts = MergeCounts::default();
    let mut keep = vec![true; n];
    let mut kept: std::collections::HashMap<Vec<Option<&str>>, usize> =
        std::collections::HashMap::new();
    for i in order {
        if repeated.get(i) != Some(true) {
            continue;
        }
        let k: Vec<Option<&str>> = key_at.iter().map(|&c| cells[c].get(i)).collect();
        let Some(&h) = kept.get(&k) else {
            kept.insert(k, i);
            continue;
        };
        let diffs: Vec<(String, String, String)> = value_at
            .iter()
            .filter(|&&c| cells[c].get(i) != cells[c].get(h))
            .map(|&c| {
                (
                    names[c].to_string(),
                    show_cell(cells[c].get(h)),
                    show_cell(cells[c].get(i)),
                )
            })
            .collect();
        if diffs.is_empty() {
            counts.duplicates += 1;
            keep[i] = false;
            continue;
        }
        counts.conflicts += 1;
        counts.in_file += 1;
        let mut parts: Vec<String> = Vec::new();
        if !context.is_empty() {
            parts.push(context.to_owned());
        }
        parts.extend(row_text(i, &key_at));
        let key_text = parts.join(", ");
        if counts.conflict_keys.len() < 20 {
            counts.conflict_keys.push(key_text.clone());
        }
        let held_line = lines.as_ref().and_then(|l| l.get(h));
        let held = raws
            .as_ref()
            .and_then(|t| t.get(h).map(str::to_owned))
            .unwrap_or_else(|| row_text(h, &(0..names.len()).collect::<Vec<_>>()).join("; "));
        counts.pairs.push(ConflictPair {
            key: key_text,
            diffs,
            line: lines.as_ref().and_then(|l| l.get(i)),
            raw: raws.as_ref().and_then(|t| t.get(i).map(str::to_owned)),
            held,
            // Both rows are in the file; an unknown line still marks the pair as in-file.
            held_line: Some(held_line.unwrap_or(1)),
        });
        match policy {
            ConflictPolicy::KeepFirst => keep[i] = false,
            ConflictPolicy::KeepLast => {
                keep[h] = false;
                kept.insert(k, i);
            }
        }
    }
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    let rows = rows.filter(&mask).map_err(err())?;
    let origins = match origins {
        Some(o) if o.height() == n => Some(o.filter(&mask).map_err(err())?),
        other => other,
    };
    Ok((rows, origins, counts))
}

/// Sum a file's cells into the cells a partition holds (`payment_daily` and `payment_area_daily`
/// from transactions, whose new rows are only new transactions): the measures of equal cells are
/// added (money in integer fen) and the cells sorted by [`write_key`]. Every row of the file counts
/// as added.
///
/// `held`: the partition's columns (its rows are not read); `held_rows`: its rows, a slice at a
/// time, in order. When the date leads the key, every cell lies in one day and the cells are summed
/// a day at a time: a held day with the file's cells of that day, once a slice of a later day is
/// read. The days' sums, in date order, are the rows of one sum over the partition. So the whole
/// held partition and its days' parts are never in memory beside the sum (summed whole, a month's
/// ~1 M area cells took ~500 B a cell). The slices must then come in date order
/// ([`HeldFile::slices`]); an error otherwise.
fn sum_cells(
    table: &str,
    held: &DataFrame,
    held_rows: impl IntoIterator<Item = Result<DataFrame>>,
    new: DataFrame,
) -> Result<(DataFrame, MergeCounts)> {
    let counts = MergeCounts {
        added: new.height(),
        ..MergeCounts::default()
    };
    let key: Vec<&str> = write_key(table)
        .iter()
        .copied()
        .filter(|k| new.column(k).is_ok() && held.column(k).is_ok())
        .collect();
    if key.is_empty() {
        return Ok((new, counts));
    }
    let order: Vec<PlSmallStr> = held.get_column_names_owned();
    let new = new.select(order.iter().cloned()).map_err(perr(table))?;
    let measures = [
        "txn_count",
        "amount_yuan",
        "refund_amount_yuan",
        "net_amount_yuan",
        "merchant_count",
    ];
    let mut group: Vec<Expr> = Vec::new();
    let mut aggs: Vec<Expr> = Vec::new();
    for name in &order {
        let n = name.as_str();
        if measures.contains(&n) {
            aggs.push(
                if matches!(n, "amount_yuan" | "refund_amount_yuan" | "net_amount_yuan") {
                    // Summed in integer fen; turned back into yuan by `fen_to_yuan`.
                    (col(n) * lit(100.0))
                        .round(0, RoundMode::HalfToEven)
                        .cast(DataType::Int64)
                        .sum()
                        .alias(n)
                } else {
                    col(n).sum().alias(n)
                },
            );
        } else {
            group.push(col(n));
        }
    }
    let sum = |parts: Vec<DataFrame>| -> Result<DataFrame> {
        let mut rows = concat(
            parts.into_iter().map(IntoLazy::lazy).collect::<Vec<_>>(),
            UnionArgs::default(),
        )
        .and_then(|lf| {
            lf.group_by(group.clone())
                .agg(aggs.clone())
                .sort(
                    key.iter().map(|k| (*k).into()).collect::<Vec<PlSmallStr>>(),
                    SortMultipleOptions::default(),
                )
                .select(order.iter().map(|n| col(n.clone())).collect::<Vec<_>>())
                .collect()
        })
        .map_err(perr(table))?;
        fen_to_yuan(&mut rows).map_err(perr(table))?;
        Ok(rows)
    };
    if key.first() != Some(&"date") {
        let mut parts = held_rows.into_iter().collect::<Result<Vec<_>>>()?;
        parts.push(new);
        return Ok((sum(parts)?, counts));
    }
    let empty = new.clear();
    let mut fresh = days_of(new).map_err(perr(table))?;
    let mut held_days: BTreeMap<i32, Vec<DataFrame>> = BTreeMap::new();
    let mut sums: Vec<DataFrame> = Vec::new();
    // The last day summed: a held slice must not reach back to it.
    let mut done: Option<i32> = None;
    for rows in held_rows {
        let days = days_of(rows?).map_err(perr(table))?;
        let Some(first) = days.keys().next().copied() else {
            continue;
        };
        if done.is_some_and(|d| first <= d) {
            return Err(perr(table)(polars_err!(
                ComputeError: "held cells out of date order 已有的单元格未按日期排序"
            )));
        }
        while let Some((day, parts)) = take_first_day(&mut held_days, &mut fresh, Some(first)) {
            sums.push(sum(parts)?);
            done = Some(day);
        }
        for (day, parts) in days {
            held_days.entry(day).or_default().extend(parts);
        }
    }
    while let Some((_, parts)) = take_first_day(&mut held_days, &mut fresh, None) {
        sums.push(sum(parts)?);
    }
    let mut days = sums.into_iter();
    let Some(mut rows) = days.next() else {
        return Ok((sum(vec![empty])?, counts));
    };
    for day in days {
        rows.vstack_mut_owned(day).map_err(perr(table))?;
    }
    // One chunk, as one sum gives: the Parquet sink cuts its row groups along the chunks. A column
    // at a time, so that only one column is ever held twice.
    rows.rechunk_mut();
    Ok((rows, counts))
}

/// `rows` split by their date (days since the epoch; rows without a date first), each day's rows in
/// their order.
fn days_of(rows: DataFrame) -> PolarsResult<BTreeMap<i32, Vec<DataFrame>>> {
    let mut days: BTreeMap<i32, Vec<DataFrame>> = BTreeMap::new();
    if rows.height() == 0 {
        return Ok(days);
    }
    for day in rows.partition_by_stable(["date"], true)? {
        let date = day
            .column("date")
            .and_then(|c| c.cast(&DataType::Int32))
            .ok()
            .and_then(|c| c.i32().ok().and_then(|d| d.get(0)))
            .unwrap_or(i32::MIN);
        days.entry(date).or_default().push(day);
    }
    Ok(days)
}

/// The first day of `held` and `fresh` if it is before `before` (or `before` is `None`), taken out
/// of both: its held rows, then the file's.
fn take_first_day(
    held: &mut BTreeMap<i32, Vec<DataFrame>>,
    fresh: &mut BTreeMap<i32, Vec<DataFrame>>,
    before: Option<i32>,
) -> Option<(i32, Vec<DataFrame>)> {
    let day = held
        .keys()
        .next()
        .into_iter()
        .chain(fresh.keys().next())
        .min()
        .copied()?;
    if before.is_some_and(|b| day >= b) {
        return None;
    }
    let mut parts = held.remove(&day).unwrap_or_default();
    parts.extend(fresh.remove(&day).unwrap_or_default());
    Some((day, parts))
}

/// Summed cells' money columns, integer fen, back into yuan with a true division (as the ingest
/// does), so that a cell is bit-identical whichever files it came from.
fn fen_to_yuan(rows: &mut DataFrame) -> PolarsResult<()> {
    for money in ["amount_yuan", "refund_amount_yuan", "net_amount_yuan"] {
        let Ok(fen) = rows.column(money).and_then(|c| c.i64().cloned()) else {
            continue;
        };
        let yuan: Vec<Option<f64>> = fen.iter().map(|f| f.map(|f| f as f64 / 100.0)).collect();
        rows.with_column(Column::new(money.into(), yuan))?;
    }
    Ok(())
}

/// Merge a file's rows into the rows a partition holds, by [`write_key`]: rows with a new key are
/// added, a key already held with the same values is a duplicate, with other values a conflict,
/// settled by `policy` (`keep-first`: the held row stays; `keep-last`: the received row replaces
/// it) and listed with both rows. `origins`: the source line and raw text of each of `new`'s rows
/// (see [`Commit::origins`]); `context`: the partition's own key values (`region_code=330000,
/// period=2023-09`), prefixed to the keys in messages. (Cells summed from transactions are merged
/// by [`sum_cells`].)
fn merge_rows(
    table: &str,
    old: DataFrame,
    new: DataFrame,
    policy: ConflictPolicy,
    origins: Option<&DataFrame>,
    context: &str,
) -> Result<(DataFrame, MergeCounts)> {
    let key: Vec<&str> = write_key(table)
        .iter()
        .copied()
        .filter(|k| new.column(k).is_ok() && old.column(k).is_ok())
        .collect();
    let err = perr(table);
    if key.is_empty() {
        let n = new.height();
        return Ok((
            new,
            MergeCounts {
                added: n,
                ..MergeCounts::default()
            },
        ));
    }
    let order: Vec<PlSmallStr> = old.get_column_names_owned();
    let new = new.select(order.iter().cloned()).map_err(perr(table))?;
    let key_exprs: Vec<Expr> = key.iter().map(|k| col(*k)).collect();
    // The rows whose key the partition does not hold yet.
    let fresh = new
        .clone()
        .lazy()
        .join(
            old.clone().lazy(),
            key_exprs.clone(),
            key_exprs.clone(),
            nulls_equal(JoinType::Anti),
        )
        .collect()
        .map_err(perr(table))?;
    let mut counts = MergeCounts {
        added: fresh.height(),
        ..MergeCounts::default()
    };
    let overlap = new.height() - fresh.height();
    let mut replaced_new: Vec<IdxSize> = Vec::new();
    let mut replaced_old: Vec<IdxSize> = Vec::new();
    if overlap > 0 {
        // Same key: a duplicate when every value is the same (compared as text), else a conflict.
        let as_text = |df: &DataFrame| df.clone().lazy().with_columns(cells_as_text(&order));
        let values: Vec<&str> = order
            .iter()
            .map(PlSmallStr::as_str)
            .filter(|n| !key.contains(n))
            .collect();
        let held_name = |n: &str| format!("__held__{n}");
        let held = as_text(&old).with_row_index("__j", None).select(
            key_exprs
                .iter()
                .cloned()
                .chain([col("__j")])
                .chain(values.iter().map(|n| col(*n).alias(held_name(n))))
                .collect::<Vec<_>>(),
        );
        let pairs = as_text(&new)
            .with_row_index("__i", None)
            .join(
                held,
                key_exprs.clone(),
                key_exprs.clone(),
                nulls_equal(JoinType::Inner),
            )
            .sort(["__i"], SortMultipleOptions::default())
            .collect()
            .map_err(perr(table))?;
        let text_col = |name: &str| -> Result<StringChunked> {
            Ok(pairs
                .column(name)
                .map_err(perr(table))?
                .str()
                .map_err(perr(table))?
                .clone())
        };
        let show = show_cell;
        let keys: Vec<StringChunked> = key.iter().map(|k| text_col(k)).collect::<Result<_>>()?;
        let got: Vec<StringChunked> = values.iter().map(|n| text_col(n)).collect::<Result<_>>()?;
        let was: Vec<StringChunked> = values
            .iter()
            .map(|n| text_col(&held_name(n)))
            .collect::<Result<_>>()?;
        let idx = |name: &str| -> Result<Vec<IdxSize>> {
            Ok(pairs
                .column(name)
                .map_err(perr(table))?
                .idx()
                .map_err(perr(table))?
                .into_no_null_iter()
                .collect())
        };
        let (is, js) = (idx("__i")?, idx("__j")?);
        let (lines, raws) = origin_columns(origins, new.height());
        for r in 0..pairs.height() {
            let diffs: Vec<(String, String, String)> = values
                .iter()
                .enumerate()
                .filter(|(c, _)| got[*c].get(r) != was[*c].get(r))
                .map(|(c, n)| ((*n).to_owned(), show(was[c].get(r)), show(got[c].get(r))))
                .collect();
            if diffs.is_empty() {
                counts.duplicates += 1;
                continue;
            }
            counts.conflicts += 1;
            let mut parts: Vec<String> = Vec::new();
            if !context.is_empty() {
                parts.push(context.to_owned());
            }
            for (k, values) in key.iter().zip(&keys) {
                parts.push(format!("{k}={}", show(values.get(r))));
            }
            let key_text = parts.join(", ");
            if counts.conflict_keys.len() < 20 {
                counts.conflict_keys.push(key_text.clone());
            }
            let mut held_parts: Vec<String> = Vec::new();
            if !context.is_empty() {
                held_parts.push(context.to_owned());
            }
            for (k, values) in key.iter().zip(&keys) {
                held_parts.push(format!("{k}={}", show(values.get(r))));
            }
            for (c, n) in values.iter().enumerate() {
                held_parts.push(format!("{n}={}", show(was[c].get(r))));
            }
            let i = is[r] as usize;
            counts.pairs.push(ConflictPair {
                key: key_text,
                diffs,
                line: lines.as_ref().and_then(|l| l.get(i)),
                raw: raws.as_ref().and_then(|t| t.get(i).map(str::to_owned)),
                held: held_parts.join("; "),
                held_line: None,
            });
            if policy == ConflictPolicy::KeepLast {
                replaced_new.push(is[r]);
                replaced_old.push(js[r]);
            }
        }
    }
    counts.replaced = replaced_old.len();
    let mut rows = if replaced_old.is_empty() {
        old
    } else {
        // `keep-last`: the held rows of the conflicts go, the received ones take their place.
        let mut keep = vec![true; old.height()];
        for j in &replaced_old {
            keep[*j as usize] = false;
        }
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        let mut rows = old.filter(&mask).map_err(perr(table))?;
        let received = new
            .take(&IdxCa::from_vec("i".into(), replaced_new))
            .map_err(perr(table))?;
        rows.vstack_mut(&received).map_err(perr(table))?;
        rows
    };
    if fresh.height() > 0 {
        rows.vstack_mut(&fresh).map_err(err)?;
    }
    Ok((rows, counts))
}

impl Lake {
    /// Open (creating if needed) a lake at `root`, finishing a commit a killed writer left half-way
    /// when no writer is active ([`Lake::recover_if_idle`]).
    ///
    /// # Errors
    /// When the directory cannot be created or the interrupted commit cannot be finished.
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake> {
        let root = root.into();
        fs::create_dir_all(root.join(".tmp")).map_err(io("create", &root))?;
        set_private(&root);
        set_private(&root.join(".tmp"));
        let lake = Lake {
            root,
            retention: crate::snapshot::Retention::default(),
            on_conflict: ConflictPolicy::default(),
            pinned: None,
        };
        lake.recover_if_idle()?;
        Ok(lake)
    }

    /// The same lake with another retention of superseded table snapshots (by default the
    /// newest 2 and any superseded less than 10 minutes ago, see [`crate::Retention`]).
    #[must_use]
    pub fn with_retention(mut self, retention: crate::snapshot::Retention) -> Lake {
        self.retention = retention;
        self
    }

    /// The same lake with another [`ConflictPolicy`] for the commits made through it (by default
    /// `keep-first`). `homeseason ingest --on-conflict`, the server's configuration and `pull` set it
    /// here, so every entry point's commits settle conflicts in the one write path.
    #[must_use]
    pub fn with_conflict_policy(mut self, policy: ConflictPolicy) -> Lake {
        self.on_conflict = policy;
        self
    }

    /// The same lake read as of lake snapshot `n` (`None`: the current one); only a
    /// [`crate::LakeView`] holds such a handle, so nothing is ever written through it.
    pub(crate) fn pinned_at(mut self, n: Option<u64>) -> Lake {
        self.pinned = n;
        self
    }

    /// The lake snapshot this handle is fixed at, if any.
    pub(crate) fn pinned_lake(&self) -> Option<u64> {
        self.pinned
    }

    /// How this lake handle settles conflicts.
    #[must_use]
    pub fn conflict_policy(&self) -> ConflictPolicy {
        self.on_conflict
    }

    /// How long superseded table snapshots are kept.
    #[must_use]
    pub fn retention(&self) -> crate::snapshot::Retention {
        self.retention
    }

    /// Root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Take the writer lock, waiting while another writer holds it (at most
    /// `HOMESEASON_LOCK_TIMEOUT_SECS`, default 600 s), then finish a commit a killed writer left
    /// half-way (the commit journal). The lock is an OS file lock (`flock`): the kernel releases it
    /// when its holder dies, even by SIGKILL, so only a live writer can hold it.
    ///
    /// # Errors
    /// [`LakeError::Locked`] when another writer held the lock for the whole wait; when the lock file
    /// cannot be opened or locked, or the interrupted commit cannot be finished.
    pub fn lock(&self) -> Result<LakeLock> {
        let file = self.lock_file()?;
        let path = self.root.join(".lock");
        let timeout = std::env::var("HOMESEASON_LOCK_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(600);
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed().as_secs() >= timeout {
                        return Err(LakeError::Locked {
                            path,
                            waited_secs: timeout,
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
            }
        }
        self.recover()?;
        Ok(LakeLock { _file: file })
    }

    fn lock_file(&self) -> Result<File> {
        let path = self.root.join(".lock");
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))
    }

    /// Finish a commit that a killed writer left half-way, when no writer holds the lock: after it
    /// the manifest describes the partitions on disk again. Readers that trust the manifest call this
    /// first ([`Lake::open`] does); a writer does it when it takes the lock.
    ///
    /// # Errors
    /// When the interrupted commit cannot be finished.
    pub fn recover_if_idle(&self) -> Result<()> {
        if !self.root.join(JOURNAL).exists() {
            return Ok(());
        }
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => self.recover(),
            // A writer holds the lock: it recovers itself.
            Err(_) => Ok(()),
        }
    }

    /// A writer's housekeeping ahead of its commit, when no writer holds the lock: finish a killed
    /// writer's commit, remove its temp files, and remove the snapshots past their retention (what
    /// [`Lake::lock`] does once it holds the lock). A long run that commits at its end (`uplift`)
    /// calls this on a thread of its own while it computes, so its commit does not start with
    /// removing the links of every snapshot the ingests since the last writer left (43,070 links,
    /// 0.66 s of system time, after the sample season's ingest). When a writer holds the lock this
    /// returns at once: that writer does the same itself.
    ///
    /// # Errors
    /// When the lock file cannot be opened, or an interrupted commit cannot be finished.
    pub fn collect_if_idle(&self) -> Result<()> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => self.recover(),
            Err(_) => Ok(()),
        }
    }

    /// Replay the commit journal, if any (the caller holds the lock): rename every staged file that
    /// is still in `.tmp` into place, in the journal's order (partitions first, the manifest last).
    /// Then remove what killed processes left in `.tmp`.
    fn recover(&self) -> Result<()> {
        let path = self.root.join(JOURNAL);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.remove_dead_temp_files();
                self.collect_snapshots();
                return Ok(());
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        let renames: Vec<(String, String)> =
            serde_json::from_slice(&bytes).map_err(|e| LakeError::Manifest {
                path: path.clone(),
                reason: format!("commit journal: {e}"),
            })?;
        for (tmp, rel) in &renames {
            let tmp = self.root.join(tmp);
            // A staged table link dangles while it is in `.tmp` (its text is relative to the root):
            // look at the entry itself.
            if fs::symlink_metadata(&tmp).is_ok() {
                self.install(&tmp, rel)?;
            }
        }
        self.finish_journal()?;
        self.remove_dead_temp_files();
        self.collect_snapshots();
        Ok(())
    }

    /// Remove temp files and txn-id spill folders in `.tmp` whose process (the pid in their name) is
    /// gone: a killed writer's staging that never reached a journal. Only where a process's liveness
    /// can be seen (`/proc`); best effort.
    fn remove_dead_temp_files(&self) {
        if !cfg!(target_os = "linux") || !Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = fs::read_dir(self.root.join(".tmp")) else {
            return;
        };
        let me = std::process::id();
        for e in entries.filter_map(std::result::Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_suffix(".part")
                .or_else(|| name.strip_suffix(".link"))
                .and_then(|n| n.split('-').next())
                .or_else(|| name.strip_prefix("txn-").and_then(|n| n.split('-').next()))
                .and_then(|p| p.parse::<u32>().ok());
            let Some(pid) = pid else { continue };
            if pid == me || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let path = e.path();
            let _ = if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }

    fn finish_journal(&self) -> Result<()> {
        let path = self.root.join(JOURNAL);
        fs::remove_file(&path).map_err(io("remove", &path))?;
        if let Ok(dir) = File::open(self.root.join(".tmp")) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Read the manifest (empty if none yet).
    ///
    /// # Errors
    /// When it exists but cannot be read or parsed.
    pub fn manifest(&self) -> Result<Manifest> {
        let path = self.root.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| LakeError::Manifest {
                path: path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                format: 1,
                ..Manifest::default()
            }),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// The path of the cache file `name` under `<root>/_cache/`: `name` is one of the caller's
    /// constants, checked to be a plain file name (ASCII letters, digits, `-`, `_`, `.`; not
    /// starting with a dot), never a value from a file.
    fn cache_rel(name: &str) -> Result<String> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return Err(LakeError::Contract {
                table: CACHE_DIR.to_owned(),
                reason: format!(
                    "cache name {name:?} is not a plain file name, refused / 缓存文件名 {name:?} 不是普通文件名，已拒绝"
                ),
            });
        }
        Ok(format!("{CACHE_DIR}/{name}"))
    }

    /// The bytes of the cache file `name` (`<root>/_cache/<name>`), `None` when there is none.
    /// A cache holds what can be computed again from the tables (remembered results, keyed by
    /// their inputs): no reader of the tables reads it, and losing it loses nothing.
    ///
    /// # Errors
    /// A name that is not a plain file name; an IO error other than the file being absent.
    pub fn read_cache(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.resolve(&Self::cache_rel(name)?)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Replace the cache file `name` with `bytes`, atomically (staged in `.tmp`, fsynced, renamed):
    /// a reader sees the old file or the new one, never a part.
    ///
    /// # Errors
    /// A name that is not a plain file name; IO errors.
    pub fn write_cache(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.write_atomic(&Self::cache_rel(name)?, bytes)
    }

    /// Write bytes to `rel` atomically: temp file in `.tmp`, fsync, rename.
    pub(crate) fn write_atomic(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let tmp = self.stage(bytes)?;
        self.install(&tmp, rel).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Write bytes to a new temp file in `.tmp` and fsync it; returns its path.
    pub(crate) fn stage(&self, bytes: &[u8]) -> Result<PathBuf> {
        let tmp = self.stage_name("part");
        let mut file = private_file(&tmp).map_err(io("create", &tmp))?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io("write", &tmp)(e));
        }
        Ok(tmp)
    }

    /// A new temp name in `.tmp` (`<pid>-<n>-<nanos>.<ext>`: a dead process's are removed).
    pub(crate) fn stage_name(&self, ext: &str) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.root
            .join(".tmp")
            .join(format!("{}-{n}-{nanos}.{ext}", std::process::id()))
    }

    /// The absolute path of `rel`, checked to stay under the lake root before anything is written
    /// or deleted there ([`crate::layout::is_safe_relative_path`]): a value from a file can never
    /// name a folder outside its partition.
    ///
    /// # Errors
    /// [`LakeError::Contract`] for a path that could leave the root.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf> {
        if !crate::layout::is_safe_relative_path(rel) {
            return Err(LakeError::Contract {
                table: rel.split('/').next().unwrap_or_default().to_owned(),
                reason: format!(
                    "path {rel:?} would leave the lake's root, refused / 路径 {rel:?} 会超出数据湖根目录，已拒绝"
                ),
            });
        }
        Ok(self.root.join(rel))
    }

    /// Create `dir` (under the root) and every missing parent, fsyncing each parent after a new
    /// entry is created in it, with mode 0700.
    pub(crate) fn create_dirs(&self, dir: &Path) -> Result<()> {
        self.make_dirs(dir, true)
    }

    /// [`Lake::create_dirs`] without the fsync of each new folder's parent, for folders inside a
    /// tree that its builder fsyncs whole before anything names it (a table snapshot being built:
    /// `sync_tree`), so that a snapshot of n partition folders costs n + 1 fsyncs, not 2n + 1.
    pub(crate) fn create_dirs_synced_later(&self, dir: &Path) -> Result<()> {
        self.make_dirs(dir, false)
    }

    fn make_dirs(&self, dir: &Path, sync: bool) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent()
            && parent != self.root
            && parent.starts_with(&self.root)
        {
            self.make_dirs(parent, sync)?;
        }
        match private_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(io("create", dir)(e)),
        }
        if sync && let Some(parent) = dir.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    /// Rename a staged temp file over `rel` (checked to stay under the root) and fsync the folder; a
    /// staged commit pointer is switched in ([`Lake::switch_current`]), a staged table link put in
    /// place ([`Lake::switch_link`]).
    pub(crate) fn install(&self, tmp: &Path, rel: &str) -> Result<()> {
        if rel == crate::snapshot::CURRENT_LINK {
            return self.switch_current(tmp);
        }
        if !rel.contains('/')
            && crate::snapshot::is_snapshotted(rel)
            && fs::symlink_metadata(tmp).is_ok_and(|m| m.file_type().is_symlink())
        {
            return self.switch_link(tmp, rel);
        }
        let target = self.resolve(rel)?;
        if let Some(parent) = target.parent() {
            self.create_dirs(parent)?;
        }
        fs::rename(tmp, &target).map_err(io("rename", &target))?;
        if let Some(parent) = target.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    /// Put staged files in place as one commit. The files of every table kept as snapshots go into
    /// a new snapshot of their table ([`Lake::build_snapshot`]), and one new lake snapshot names
    /// them all ([`Lake::build_lake_snapshot`]); then the journal is written (atomically), the
    /// commit pointer and the other files (index files, one-file tables, the manifest last) are
    /// renamed in order, and the journal is removed: every table of the commit switches with the
    /// one rename of the pointer. A crash after the journal is written is finished by the next
    /// writer (see [`Lake::lock`]); a crash before it leaves only temp files and unused snapshots,
    /// removed by the next writer. A lake of an older form takes the commit-pointer form first, in
    /// a journaled step of its own ([`Lake::migrate_links`]).
    pub(crate) fn install_all(&self, staged: &[(PathBuf, String)]) -> Result<()> {
        self.install_all_with(staged, &[])
    }

    /// [`Lake::install_all`]; the tables named in `whole` keep nothing of their current snapshot
    /// (an output table written whole).
    pub(crate) fn install_all_with(
        &self,
        staged: &[(PathBuf, String)],
        whole: &[&str],
    ) -> Result<()> {
        let renames = self.prepare_commit(staged, whole)?;
        self.apply_journaled(&renames)
    }

    /// Everything of [`Lake::install_all_with`] before its journal: the lake converted to the
    /// commit-pointer form if need be, the tables' and the lake's new snapshots built. Returns the
    /// renames of the commit in order (the staged commit pointer first, the manifest last). Nothing
    /// a reader sees changes here; on failure the staged files are removed.
    pub(crate) fn prepare_commit(
        &self,
        staged: &[(PathBuf, String)],
        whole: &[&str],
    ) -> Result<Vec<(PathBuf, String)>> {
        let unstage = || {
            for (tmp, _) in staged {
                let _ = fs::remove_file(tmp);
            }
        };
        self.migrate_links().inspect_err(|_| unstage())?;
        let (tables, rest) = crate::snapshot::split_by_table(staged);
        let mut changed: BTreeMap<String, u64> = BTreeMap::new();
        for (table, put) in &tables {
            let n = self
                .build_snapshot(
                    table,
                    put,
                    &std::collections::BTreeSet::new(),
                    whole.contains(&table.as_str()),
                )
                .inspect_err(|_| unstage())?;
            changed.insert(table.clone(), n);
        }
        // A table written whole that is not in `staged` (an output table now empty).
        for table in whole {
            if crate::snapshot::is_snapshotted(table) && !tables.contains_key(*table) {
                let n = self
                    .build_snapshot(table, &[], &std::collections::BTreeSet::new(), true)
                    .inspect_err(|_| unstage())?;
                changed.insert((*table).to_owned(), n);
            }
        }
        let mut renames: Vec<(PathBuf, String)> = Vec::new();
        if !changed.is_empty() {
            let pointer = self
                .build_lake_snapshot(&changed, None)
                .inspect_err(|_| unstage())?;
            renames.push((pointer, crate::snapshot::CURRENT_LINK.to_owned()));
        }
        renames.extend(rest);
        Ok(renames)
    }

    /// Write the journal of `renames` (atomically), rename each staged file over its path in
    /// order, remove the journal, then what no reader needs any more.
    pub(crate) fn apply_journaled(&self, renames: &[(PathBuf, String)]) -> Result<()> {
        self.write_journal(renames).inspect_err(|_| {
            for (tmp, _) in renames {
                let _ = fs::remove_file(tmp);
            }
        })?;
        for (tmp, rel) in renames {
            self.install(tmp, rel)?;
        }
        self.finish_journal()?;
        self.collect_snapshots();
        Ok(())
    }

    /// Write the journal of `renames` (atomically): from here on the commit is finished by the
    /// next writer if this one dies.
    pub(crate) fn write_journal(&self, renames: &[(PathBuf, String)]) -> Result<()> {
        let entries: Vec<(String, &str)> = renames
            .iter()
            .map(|(tmp, rel)| {
                let tmp = tmp.strip_prefix(&self.root).unwrap_or(tmp);
                (tmp.to_string_lossy().into_owned(), rel.as_str())
            })
            .collect();
        let journal = serde_json::to_vec(&entries).map_err(|e| LakeError::Manifest {
            path: self.root.join(JOURNAL),
            reason: e.to_string(),
        })?;
        self.write_atomic(JOURNAL, &journal)
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| LakeError::Manifest {
            path: self.root.join(MANIFEST),
            reason: e.to_string(),
        })?;
        self.write_atomic(MANIFEST, &bytes)
    }

    /// Encode a frame as Parquet bytes with the schema version and table name in the metadata.
    ///
    /// Text columns are written with the Arrow type `large_string`, not `string_view`: polars'
    /// eager writer stores its newest Arrow types in the file's Arrow schema, and pyarrow (26) cannot
    /// filter `string_view` columns (pola-rs/polars#26435), which breaks dashboards reading the lake
    /// with pyarrow. The lazy sink writes at the oldest compatibility level, so the frame goes
    /// through it into a private temporary file, read back whole.
    ///
    /// # Errors
    /// On a Parquet encoding failure.
    pub fn parquet_bytes(table: &str, frame: &DataFrame) -> Result<Vec<u8>> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = std::env::temp_dir().join(format!(
            "homeseason-encode-{}-{}.parquet",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = Self::write_parquet_file(table, frame, &tmp);
        let bytes = written.and_then(|()| fs::read(&tmp).map_err(io("read back", &tmp)));
        let _ = fs::remove_file(&tmp);
        bytes
    }

    /// [`Lake::parquet_bytes`] written straight to `path` (created or truncated): the lazy sink
    /// writes the frame in row groups, so the file's bytes are never held in memory.
    /// The Parquet options of a lake file of `table` (`row_group_size`: `None` for the default).
    fn parquet_options(table: &str, row_group_size: Option<usize>) -> ParquetWriteOptions {
        ParquetWriteOptions {
            compression: ParquetCompression::Zstd(None),
            key_value_metadata: Some(KeyValueMetadata::from_static(vec![
                ("homeseason.table".into(), table.into()),
                ("homeseason.schema_version".into(), SCHEMA_VERSION.into()),
            ])),
            compat_level: None,
            row_group_size,
            ..ParquetWriteOptions::default()
        }
    }

    fn write_parquet_file(table: &str, frame: &DataFrame, path: &Path) -> Result<()> {
        let options = Self::parquet_options(table, row_group_rows(frame));
        frame
            .clone()
            .lazy()
            .sink(
                SinkDestination::File {
                    target: SinkTarget::Path(PlRefPath::from(path.to_string_lossy().as_ref())),
                },
                FileWriteFormat::Parquet(std::sync::Arc::new(options)),
                UnifiedSinkArgs::default(),
            )
            .and_then(LazyFrame::collect)
            .map(drop)
            .map_err(perr(table))
    }

    /// A frame encoded as [`Lake::parquet_bytes`] does, into a new temp file in `.tmp` (private,
    /// fsynced; [`Lake::stage`]), without holding its bytes: a file's `rejects` can be hundreds of
    /// MB of bilingual messages.
    pub(crate) fn stage_parquet(&self, table: &str, frame: &DataFrame) -> Result<PathBuf> {
        self.stage_written(|_, tmp| Self::write_parquet_file(table, frame, tmp))
    }

    /// A new private temp file in `.tmp` that `write` fills (given the file and its path), then
    /// fsynced; removed again when anything fails.
    fn stage_written(&self, write: impl FnOnce(File, &Path) -> Result<()>) -> Result<PathBuf> {
        let tmp = self.stage_name("part");
        let written = private_file(&tmp)
            .map_err(io("create", &tmp))
            .and_then(|file| write(file, &tmp))
            .and_then(|()| {
                File::open(&tmp)
                    .and_then(|f| f.sync_all())
                    .map_err(io("write", &tmp))
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(tmp)
    }

    /// The file's compact rejects (then the frame's rows after them) rendered and written a row
    /// group at a time into a new temp file in `.tmp` (private, fsynced), as [`Lake::stage_parquet`]
    /// writes a frame: the whole frame of their messages never exists.
    fn stage_rejects(&self, table: &str, r: &StreamedRejects<'_>) -> Result<PathBuf> {
        self.stage_written(|file, tmp| Self::write_rejects_file(table, r, file, tmp))
    }

    fn write_rejects_file(
        table: &str,
        r: &StreamedRejects<'_>,
        file: File,
        path: &Path,
    ) -> Result<()> {
        let n = r.compact.len();
        // Rows a row group: ~ROW_GROUP_BYTES of values, from the first rows' size.
        let first = r.compact.frame(0, 1024).map_err(perr(table))?;
        let per_group = row_group_rows(&first)
            .or_else(|| {
                let bytes = frame_bytes(&first);
                let rows = first.height().max(1);
                Some((ROW_GROUP_BYTES / (bytes / rows).max(1)).clamp(1024, DEFAULT_ROW_GROUP_ROWS))
            })
            .unwrap_or(DEFAULT_ROW_GROUP_ROWS);
        let options = Self::parquet_options(table, None);
        let select = |f: DataFrame| -> Result<DataFrame> {
            let mut f = f
                .select(r.columns.iter().map(String::as_str))
                .map_err(perr(table))?;
            f.rechunk_mut();
            Ok(f)
        };
        let first = select(first)?;
        let mut writer = options
            .to_writer(std::io::BufWriter::new(file))
            .batched(first.schema())
            .map_err(perr(table))?;
        drop(first);
        let mut offset = 0;
        while offset < n {
            let chunk = select(r.compact.frame(offset, per_group).map_err(perr(table))?)?;
            writer.write_batch(&chunk).map_err(perr(table))?;
            offset += per_group;
        }
        if let Some(after) = r.after {
            let mut offset = 0;
            while offset < after.height() {
                let at = i64::try_from(offset).unwrap_or(i64::MAX);
                writer
                    .write_batch(&select(after.slice(at, per_group))?)
                    .map_err(perr(table))?;
                offset += per_group;
            }
        }
        let size = writer.finish().map_err(perr(table))?;
        // The buffered file is flushed as the writer is dropped: check that every byte is there.
        drop(writer);
        let on_disk = fs::metadata(path).map_err(io("write", path))?.len();
        if on_disk != size {
            return Err(io("write", path)(std::io::Error::other(format!(
                "{on_disk} of {size} bytes written 仅写入 {on_disk} / {size} 字节"
            ))));
        }
        Ok(())
    }

    /// Split rows into partitions: relative path → rows without the path-only columns (a
    /// [`PartitionKey::File`] column names the file and stays in the rows).
    pub(crate) fn partitions(table: &str, rows: &DataFrame) -> Result<Vec<(String, DataFrame)>> {
        let keys = partition_keys(table);
        if keys.is_empty() {
            return Ok(vec![(format!("{table}/data.parquet"), rows.clone())]);
        }
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for key in keys {
            let expr = match key {
                PartitionKey::Column(c) | PartitionKey::File(c) => col(*c).cast(DataType::String),
                PartitionKey::Year(c) => col(*c).dt().year().cast(DataType::String),
                PartitionKey::Month(c) => col(*c).dt().month().cast(DataType::String),
            };
            let name = format!("__part_{}", key.key());
            exprs.push(expr.alias(name.as_str()));
            names.push(name);
        }
        // The keys alone first: when every row has the same keys (one file's `rejects`, a
        // month's rows), the one partition is the rows themselves, without a copy of them.
        let key_frame = rows
            .clone()
            .lazy()
            .select(exprs.clone())
            .collect()
            .map_err(perr(table))?;
        let single = rows.height() > 0
            && key_frame
                .columns()
                .iter()
                .all(|c| c.as_materialized_series().n_unique().is_ok_and(|n| n == 1));
        let with_keys = if single {
            rows.hstack(key_frame.columns()).map_err(perr(table))?
        } else {
            drop(key_frame);
            rows.clone()
                .lazy()
                .with_columns(exprs)
                .collect()
                .map_err(perr(table))?
        };
        let drop: Vec<&str> = keys
            .iter()
            .filter_map(|k| {
                if let PartitionKey::Column(c) = k {
                    Some(*c)
                } else {
                    None
                }
            })
            .chain(names.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        let parts = if single {
            vec![with_keys]
        } else {
            with_keys
                .partition_by_stable(names.iter().map(String::as_str), true)
                .map_err(perr(table))?
        };
        for part in parts {
            let mut path = table.to_owned();
            let mut file = "data".to_owned();
            for (key, name) in keys.iter().zip(&names) {
                let value = part
                    .column(name)
                    .map_err(perr(table))?
                    .str()
                    .map_err(perr(table))?
                    .get(0)
                    .unwrap_or("__null__")
                    .to_owned();
                if !crate::layout::is_safe_partition_value(&value)
                    || (!key.is_folder() && value == "data")
                {
                    return Err(LakeError::Contract {
                        table: table.to_owned(),
                        reason: format!(
                            "{} = {value:?} cannot name a partition (letters, digits, _ - . only) 分区值不合法",
                            key.key()
                        ),
                    });
                }
                if key.is_folder() {
                    path.push_str(&format!("/{}={}", key.key(), value));
                } else {
                    file = value;
                }
            }
            path.push_str(&format!("/{file}.parquet"));
            out.push((path, part.drop_many(drop.iter().copied())));
        }
        Ok(out)
    }

    /// Commit one source file's rows (and rejects). Takes the lock for the duration.
    ///
    /// # Errors
    /// On IO or encoding failures; the lake is left as it was (nothing is renamed into place before
    /// every file of the commit is staged), or, when renaming failed half-way, with a journal that
    /// the next writer (or [`Lake::open`]) replays to finish the commit.
    pub fn commit(&self, c: &Commit<'_>) -> Result<CommitSummary> {
        let _lock = self.lock()?;
        self.commit_locked(c)
    }

    /// [`Lake::commit`] for a caller that holds the lock ([`Lake::lock`]).
    ///
    /// # Errors
    /// As [`Lake::commit`].
    pub fn commit_with_lock(&self, _held: &LakeLock, c: &Commit<'_>) -> Result<CommitSummary> {
        self.commit_locked(c)
    }

    /// [`Lake::commit`] for a caller that already holds the lock (the txn-id index commits with it).
    pub(crate) fn commit_locked(&self, c: &Commit<'_>) -> Result<CommitSummary> {
        self.commit_locked_also(c, None, None)
    }

    /// [`Lake::commit_locked`], with `also`: the rows of a second table the same file adds (a
    /// transaction file's `payment_area_daily` cells; taken, so that they are freed as their
    /// partitions are merged), summed into its partitions like `c`'s and installed in the same
    /// journaled commit — a reader sees both tables' rows or neither.
    ///
    /// `compact`: the file's rejects kept compact (a transaction file's), written into the
    /// `rejects` partition a row group at a time before `c.rejects`' rows, so that their whole
    /// frame of bilingual messages never exists.
    pub(crate) fn commit_locked_also(
        &self,
        c: &Commit<'_>,
        also: Option<(&str, DataFrame)>,
        compact: Option<&CompactRejects>,
    ) -> Result<CommitSummary> {
        // A lake of an earlier layout is rewritten into today's first (its own journaled commit).
        self.migrate_layout(c.now)?;
        let mut manifest = self.manifest()?;
        let policy = self.on_conflict;
        // The rows' origins (source line and text) travel with them into their partitions, and
        // are split off again before anything is written.
        let with_origins = match c.origins {
            Some(o)
                if o.height() == c.rows.height()
                    && o.column(ORIGIN_LINE).is_ok()
                    && o.column(ORIGIN_RAW).is_ok()
                    && c.rows.column(ORIGIN_LINE).is_err() =>
            {
                let mut rows = c.rows.clone();
                for name in [ORIGIN_LINE, ORIGIN_RAW] {
                    rows.with_column(o.column(name).map_err(perr(c.table))?.clone())
                        .map_err(perr(c.table))?;
                }
                Some(rows)
            }
            _ => None,
        };
        // Incoming rows without an optional column added later read like old partitions do
        // (`contract::ADDED_OPTIONAL`: empty), so the write key is whole on both sides.
        let incoming = upgrade_v1_names(c.table, with_origins.unwrap_or_else(|| c.rows.clone()));
        let parts = Self::partitions(c.table, &incoming)?;
        // A file is an increment: each partition it touches keeps the rows it already holds and
        // gains the file's rows whose key it does not hold yet (`payment_daily` from transactions:
        // the new transactions are added to the cells).
        let add = c.feed == "payment_transactions";
        let mut merged_parts = Vec::with_capacity(parts.len());
        let mut totals = MergeCounts::default();
        for (path, frame) in &parts {
            let (frame, origins) = if frame.column(ORIGIN_LINE).is_ok() {
                (
                    frame.drop_many([ORIGIN_LINE, ORIGIN_RAW]),
                    Some(
                        frame
                            .select([ORIGIN_LINE, ORIGIN_RAW])
                            .map_err(perr(c.table))?,
                    ),
                )
            } else {
                (frame.clone(), None)
            };
            let context = partition_context(c.table, path);
            // A key the file itself repeats with other values: a conflict within the file.
            let (frame, origins, in_file) = if add {
                (frame, origins, MergeCounts::default())
            } else {
                settle_in_file(c.table, frame, origins, policy, &context)?
            };
            // Cells summed from transactions take one canonical form (sorted by key, money
            // through integer fen) whether the partition is new or merged, so the lake is the
            // same whichever of two overlapping deliveries arrives first.
            let (rows, counts) = if add {
                self.sum_into_partition(c.table, path, frame)?
            } else if let Some(old) = self.read_partition(path)? {
                merge_rows(c.table, old, frame, policy, origins.as_ref(), &context)?
            } else {
                let n = frame.height();
                let counts = MergeCounts {
                    added: n,
                    ..MergeCounts::default()
                };
                (frame, counts)
            };
            let changed = counts.changed();
            totals.absorb(in_file);
            totals.absorb(counts);
            merged_parts.push((path.clone(), rows, changed));
        }
        // The second table's cells are added to its partitions (no conflicts: cells are sums).
        let mut also_parts = Vec::new();
        if let Some((table, rows)) = also.filter(|(_, rows)| rows.height() > 0) {
            let parts = Self::partitions(table, &rows)?;
            // Each partition holds its rows now: they are freed as it is merged (a transaction
            // file's area cells are ~1 M rows at 50 M transactions).
            drop(rows);
            for (path, frame) in parts {
                let (rows, counts) = self.sum_into_partition(table, &path, frame)?;
                let changed = counts.changed();
                also_parts.push((path, rows, changed));
            }
        }
        let conflict_rejects: Vec<RejectRow> = totals
            .pairs
            .iter()
            .flat_map(|p| p.rejects(policy))
            .collect();
        let known = manifest.file(c.sha256).is_some();
        // What this commit did if it changes nothing; completed below when it does.
        let mut summary = CommitSummary {
            unchanged: true,
            written: Vec::new(),
            replaced: Vec::new(),
            added_rows: 0,
            duplicate_rows: totals.duplicates,
            conflicts: totals.conflicts,
            in_file_conflicts: totals.in_file,
            conflict_keys: totals.conflict_keys,
            policy,
            conflict_rejects,
        };
        if known
            && merged_parts
                .iter()
                .chain(&also_parts)
                .all(|(_, _, changed)| !changed)
        {
            return Ok(summary);
        }
        // The table's other partitions still under an earlier contract version's names (a lake
        // written before a rename) are rewritten under today's names in this commit, so the table
        // never mixes the two namings: DuckDB, pyarrow and polars refuse a glob whose files disagree.
        // Their rows and manifest entries stay as they are.
        let migrated = self.partitions_with_old_names(c.table, &merged_parts)?;
        // The file's rejects, with both rows of each conflict.
        let all_rejects = if summary.conflict_rejects.is_empty() {
            None
        } else {
            let extra = conflict_frame(c, &summary.conflict_rejects).map_err(perr(c.table))?;
            Some(append_rejects(c.rejects, extra).map_err(perr(contract::tables::REJECTS))?)
        };
        let rejects_frame = all_rejects.as_ref().unwrap_or(c.rejects);
        // Compact rejects are rendered a row group at a time into their partition (one file's
        // rejects are one partition: its feed and hash), the frame's rows after them.
        let streamed = match compact.filter(|r| !r.is_empty()) {
            Some(r) => {
                let head = r.frame(0, 1).map_err(perr(contract::tables::REJECTS))?;
                let Some((path, part)) = Self::partitions(contract::tables::REJECTS, &head)?
                    .into_iter()
                    .next()
                else {
                    return Err(LakeError::Contract {
                        table: contract::tables::REJECTS.to_owned(),
                        reason: "no partition for the file's rejects 拒收行没有分区".into(),
                    });
                };
                let columns: Vec<String> = part
                    .get_column_names()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let after = (rejects_frame.height() > 0).then_some(rejects_frame);
                Some((
                    path,
                    StreamedRejects {
                        compact: r,
                        after,
                        columns,
                    },
                ))
            }
            None => None,
        };
        let reject_parts = if streamed.is_none() && rejects_frame.height() > 0 {
            Self::partitions(contract::tables::REJECTS, rejects_frame)?
        } else {
            Vec::new()
        };
        let mut written = Vec::new();
        // Every partition and the new manifest are staged in `.tmp` first, then put in place as one
        // journaled commit: a crash leaves the old state, or the new one once the next writer has
        // finished the renames, never a manifest that disagrees with the partitions.
        let mut staged: Vec<(PathBuf, String)> = Vec::new();
        let unstage = |staged: &[(PathBuf, String)]| {
            for (tmp, _) in staged {
                let _ = fs::remove_file(tmp);
            }
        };
        let data = merged_parts
            .iter()
            .chain(&also_parts)
            .filter(|(_, _, changed)| *changed)
            .map(|(p, f, _)| (p, f));
        let data = data.map(|(p, f)| (p, StagedRows::Frame(f)));
        let rejects: Vec<(&String, StagedRows<'_>)> = if known {
            Vec::new()
        } else {
            reject_parts
                .iter()
                .map(|(p, f)| (p, StagedRows::Frame(f)))
                .chain(streamed.iter().map(|(p, r)| (p, StagedRows::Rejects(r))))
                .collect()
        };
        for (path, frame) in &migrated {
            let tmp = self
                .stage_parquet(c.table, frame)
                .inspect_err(|_| unstage(&staged))?;
            staged.push((tmp, path.clone()));
        }
        for (path, frame) in data.chain(rejects) {
            let table = path.split('/').next().unwrap_or_default();
            let tmp = match frame {
                StagedRows::Frame(f) => self.stage_parquet(table, f),
                StagedRows::Rejects(r) => self.stage_rejects(table, r),
            }
            .inspect_err(|_| unstage(&staged))?;
            staged.push((tmp, path.clone()));
            let previous = manifest.partitions.get(path).cloned();
            let mut sources = previous
                .as_ref()
                .map(|p| {
                    if p.sources.is_empty() {
                        vec![p.source_sha256.clone()]
                    } else {
                        p.sources.clone()
                    }
                })
                .unwrap_or_default();
            if !sources.iter().any(|s| s == c.sha256) {
                sources.push(c.sha256.to_owned());
            }
            manifest.partitions.insert(
                path.clone(),
                PartitionEntry {
                    table: table.to_owned(),
                    source_sha256: c.sha256.to_owned(),
                    version: previous.map_or(1, |p| p.version + 1),
                    rows: frame.height(),
                    written_at: c.now.to_owned(),
                    sources,
                },
            );
            written.push(path.clone());
        }
        let mut report = c.report.clone();
        if let Some(obj) = report.as_object_mut() {
            obj.insert(
                "lake".into(),
                serde_json::json!({
                    "added_rows": totals.added,
                    "duplicate_rows": totals.duplicates,
                    "conflicts": totals.conflicts,
                    "in_file_conflicts": totals.in_file,
                    "conflict_keys": summary.conflict_keys,
                    "policy": policy.id(),
                }),
            );
            // A conflicting row of the file that is not stored (`keep-first`: the received row;
            // within the file, either policy: one row of each pair) counts as rejected (it is in
            // `rejects`), keeping read = accepted + rejected + duplicates.
            let not_stored = summary.not_stored();
            if not_stored > 0 {
                for (field, delta) in [("accepted", -1_i64), ("rejected", 1)] {
                    if let Some(n) = obj.get(field).and_then(serde_json::Value::as_i64) {
                        let moved = i64::try_from(not_stored).unwrap_or(i64::MAX);
                        obj.insert(field.into(), (n + delta * moved).into());
                    }
                }
            }
        }
        manifest.files.retain(|f| f.sha256 != c.sha256);
        manifest.files.push(FileEntry {
            sha256: c.sha256.to_owned(),
            file: c.file.to_owned(),
            feed: c.feed.to_owned(),
            table: c.table.to_owned(),
            ingested_at: c.now.to_owned(),
            report,
            partitions: parts.iter().map(|(p, _)| p.clone()).collect(),
            superseded: Vec::new(),
        });
        manifest.format = 1;
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| LakeError::Manifest {
            path: self.root.join(MANIFEST),
            reason: e.to_string(),
        });
        let tmp = bytes
            .and_then(|b| self.stage(&b))
            .inspect_err(|_| unstage(&staged))?;
        staged.push((tmp, MANIFEST.to_owned()));
        self.install_all(&staged)?;
        summary.unchanged = false;
        summary.written = written;
        summary.added_rows = totals.added;
        Ok(summary)
    }

    /// The partitions of `table` other than `touched` whose file still carries a column under a name
    /// an earlier contract version used ([`contract::renamed_columns`]), read and renamed to today's
    /// names, by relative path.
    fn partitions_with_old_names(
        &self,
        table: &str,
        touched: &[(String, DataFrame, bool)],
    ) -> Result<Vec<(String, DataFrame)>> {
        let old: Vec<&str> = contract::renamed_columns(table).map(|(o, _)| o).collect();
        if old.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (path, _) in self.files(table)? {
            let Some(rel) = self.partition_rel(&path) else {
                continue;
            };
            if touched.iter().any(|(p, _, _)| *p == rel) {
                continue;
            }
            let columns = self.file_columns(&path)?;
            if !columns.iter().any(|c| old.contains(&c.as_str())) {
                continue;
            }
            if let Some(frame) = self.read_partition(&rel)? {
                out.push((rel, frame));
            }
        }
        Ok(out)
    }

    /// Open one of the lake's files: `path` must lie under the lake's root, with no `..`.
    ///
    /// # Errors
    /// [`LakeError::Contract`] when `path` is not under the lake's root; IO failures.
    fn open_own_file(&self, path: &Path) -> Result<File> {
        if !path.starts_with(&self.root)
            || path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(LakeError::Contract {
                table: path.display().to_string(),
                reason: "not a file of this lake".into(),
            });
        }
        File::open(path).map_err(io("open", path))
    }

    /// The column names of one of the lake's Parquet files (read from its footer only).
    ///
    /// # Errors
    /// [`LakeError::Contract`] when `path` is not under the lake's root; IO or Parquet failures.
    pub fn file_columns(&self, path: &Path) -> Result<Vec<String>> {
        let file = self.open_own_file(path)?;
        let schema = ParquetReader::new(file)
            .schema()
            .map_err(perr(path.display().to_string()))?;
        Ok(schema.iter_names().map(ToString::to_string).collect())
    }

    /// A file's cells summed into the cells partition `rel` holds ([`sum_cells`]), its file read a
    /// row group at a time.
    fn sum_into_partition(
        &self,
        table: &str,
        rel: &str,
        new: DataFrame,
    ) -> Result<(DataFrame, MergeCounts)> {
        match HeldFile::open(table, self.partition_path(rel)?)? {
            Some(held) => {
                let slices = held.slices()?;
                let rows = slices.into_iter().map(|(at, n)| held.read(at, n));
                sum_cells(table, &held.columns()?, rows, new)
            }
            None => sum_cells(table, &new.clear(), std::iter::empty(), new),
        }
    }

    /// The rows a partition holds now (without its path-only columns), `None` when it has none.
    fn read_partition(&self, rel: &str) -> Result<Option<DataFrame>> {
        let path = self.partition_path(rel)?;
        let table = rel.split('/').next().unwrap_or_default();
        match File::open(&path) {
            Ok(file) => ParquetReader::new(file)
                .finish()
                .map(|frame| Some(upgrade_v1_names(table, frame)))
                .map_err(perr(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("open", &path)(e)),
        }
    }

    /// Record a file refused whole, so the refusal is visible in the manifest and reports.
    ///
    /// # Errors
    /// On IO failures.
    pub fn record_refusal(&self, entry: RefusedEntry) -> Result<()> {
        let _lock = self.lock()?;
        let mut manifest = self.manifest()?;
        manifest.refused.retain(|r| r.sha256 != entry.sha256);
        manifest.refused.push(entry);
        manifest.format = 1;
        self.write_manifest(&manifest)
    }

    /// Replace an output table (unpartitioned, or partitioned by its layout) with `frame`, checking it
    /// against the table's contract first. Partitions of an earlier version that `frame` no longer
    /// holds are removed after the new ones are in place, so a reader globbing the table sees only
    /// the new version.
    ///
    /// # Errors
    /// [`LakeError::Contract`] when the frame does not match; IO errors.
    pub fn write_output(&self, table: &str, frame: &DataFrame) -> Result<Vec<PathBuf>> {
        check_frame(table, frame, &[])?;
        let _lock = self.lock()?;
        if crate::snapshot::is_snapshotted(table) {
            // A new snapshot holding only the new partitions, switched in at once.
            let mut staged: Vec<(PathBuf, String)> = Vec::new();
            for (path, part) in Self::partitions(table, frame)? {
                let tmp = Self::parquet_bytes(table, &part)
                    .and_then(|bytes| self.stage(&bytes))
                    .inspect_err(|_| {
                        for (tmp, _) in &staged {
                            let _ = fs::remove_file(tmp);
                        }
                    })?;
                staged.push((tmp, path));
            }
            let rels: Vec<String> = staged.iter().map(|(_, r)| r.clone()).collect();
            self.install_all_with(&staged, &[table])?;
            return rels.iter().map(|r| self.partition_path(r)).collect();
        }
        let mut paths = Vec::new();
        for (path, part) in Self::partitions(table, frame)? {
            self.write_atomic(&path, &Self::parquet_bytes(table, &part)?)?;
            paths.push(self.root.join(path));
        }
        for (stale, _) in self.files(table)? {
            if !paths.contains(&stale) {
                let rel = stale
                    .strip_prefix(&self.root)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let stale = self.resolve(&rel)?;
                fs::remove_file(&stale).map_err(io("remove", &stale))?;
                if let Some(dir) = stale.parent() {
                    let _ = fs::remove_dir(dir);
                }
            }
        }
        Ok(paths)
    }

    /// Every Parquet file of a table with its partition values: its `key=value` folders and, for a
    /// table whose layout names files by a column ([`PartitionKey::File`]), that column's value from
    /// the file's name (`330000.parquet`; not from a `data.parquet` of an earlier layout).
    ///
    /// # Errors
    /// On IO failures.
    pub fn files(&self, table: &str) -> Result<Vec<(PathBuf, BTreeMap<String, String>)>> {
        let file_key = partition_keys(table).iter().find_map(|k| match k {
            PartitionKey::File(c) => Some(*c),
            _ => None,
        });
        let mut out = Vec::new();
        let Some(base) = self.table_base(table)? else {
            return Ok(out);
        };
        let dir = base.dir().to_owned();
        if !dir.is_dir() {
            return Ok(out);
        }
        let mut stack = vec![(dir, BTreeMap::new())];
        while let Some((d, parts)) = stack.pop() {
            let mut entries: Vec<_> = fs::read_dir(&d)
                .map_err(io("list", &d))?
                .filter_map(std::result::Result::ok)
                .collect();
            entries.sort_by_key(fs::DirEntry::file_name);
            for e in entries {
                let name = e.file_name().to_string_lossy().into_owned();
                let path = e.path();
                if path.is_dir() {
                    if let Some((k, v)) = name.split_once('=') {
                        let mut p = parts.clone();
                        p.insert(k.to_owned(), v.to_owned());
                        stack.push((path, p));
                    }
                } else if let Some(stem) = name.strip_suffix(".parquet") {
                    let mut parts = parts.clone();
                    if let Some(c) = file_key
                        && stem != "data"
                    {
                        parts.insert(c.to_owned(), stem.to_owned());
                    }
                    out.push((path, parts));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Read some columns of one of the lake's data files (a path returned by [`Lake::files`]).
    ///
    /// # Errors
    /// [`LakeError::Contract`] when `path` is not under the lake's root; IO or Parquet failures.
    pub fn read_file(&self, path: &Path, columns: &[&str]) -> Result<DataFrame> {
        let file = self.open_own_file(path)?;
        // On the calling thread: a file of a partition is small, and callers read thousands of
        // them one after another (handing each to the thread pool costs more than decoding it).
        read_parquet(
            path,
            file,
            Some(columns.iter().map(|c| (*c).into()).collect()),
            ParallelStrategy::None,
        )
    }

    /// The rejected rows one file left (`rejects/feed=…/file_sha256=…`), if it left any. Both values
    /// are checked (a feed id of `[a-z_]`, a hex SHA-256) before they name a folder.
    ///
    /// # Errors
    /// [`LakeError::Contract`] for a malformed feed or hash; IO or Parquet failures.
    pub fn read_rejects(&self, feed: &str, sha256: &str) -> Result<Option<DataFrame>> {
        let feed_ok = !feed.is_empty()
            && feed.len() <= 64
            && feed.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let sha_ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !feed_ok || !sha_ok {
            return Err(LakeError::Contract {
                table: contract::tables::REJECTS.into(),
                reason: format!("not a feed and file hash: {feed:?} {sha256:?}"),
            });
        }
        let path = self.partition_path(&format!(
            "{}/feed={feed}/file_sha256={sha256}/data.parquet",
            contract::tables::REJECTS
        ))?;
        if !path.exists() {
            return Ok(None);
        }
        let file = File::open(&path).map_err(io("open", &path))?;
        ParquetReader::new(file)
            .finish()
            .map(Some)
            .map_err(perr(path.display().to_string()))
    }

    /// Read a whole table: every partition, with its path columns restored and cast to the
    /// contract's types (`year`/`month` are dropped: they are derived).
    ///
    /// # Errors
    /// On IO or Parquet failures. An absent table reads as an empty frame with no columns.
    pub fn read_table(&self, table: &str) -> Result<DataFrame> {
        let mut frames = Vec::new();
        let mut path_columns: std::collections::BTreeSet<String> =
            std::collections::BTreeSet::new();
        for (path, parts) in self.files(table)? {
            let file = File::open(&path).map_err(io("open", &path))?;
            // A feed's files are small and many (one per region × period): `read_parquet` decodes
            // those on this thread, a large one on polars' pool.
            let frame = read_parquet(&path, file, None, ParallelStrategy::Auto)?;
            let mut frame = upgrade_v1_names(table, frame);
            path_columns.extend(restore_path_columns(&mut frame, &parts).map_err(perr(table))?);
            frames.push(frame.lazy());
        }
        if frames.is_empty() {
            return Ok(DataFrame::empty());
        }
        // Path columns come back as text: give them the contract's type (a date partition such as
        // weekly_tracking's `as_of_week=2023-09-03` is a date again).
        let order: Vec<Expr> = contract::get(table).map_or_else(
            || vec![all().as_expr()],
            |c| {
                c.fields
                    .iter()
                    .map(|f| {
                        let e = col(f.name.as_str());
                        if path_columns.contains(&f.name) {
                            typed_path_column(e, dtype_of(f.r#type))
                        } else {
                            e
                        }
                    })
                    .collect()
            },
        );
        concat(
            frames,
            UnionArgs {
                diagonal: true,
                ..UnionArgs::default()
            },
        )
        .and_then(|lf| lf.select(order).collect())
        .map_err(perr(table))
    }

    /// Check every Parquet file of a table against its contract, decoding each file whole: names,
    /// types, required columns (path columns count as present), and every value: no empty required
    /// value, nothing below a minimum or above a maximum. A file that cannot be decoded is a problem, not an error.
    /// Returns the problems found, empty when all is well.
    ///
    /// # Errors
    /// On IO failures listing the table.
    pub fn check_table(&self, table: &str) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        for (path, parts) in self.files(table)? {
            let decoded = File::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|file| ParquetReader::new(file).finish().map_err(|e| e.to_string()));
            let frame = match decoded {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!(
                        "{}: cannot be decoded 文件无法解码: {e}",
                        path.display()
                    ));
                    continue;
                }
            };
            // A file of an earlier contract version is checked under today's names, as it is read.
            let frame = upgrade_v1_names(table, frame);
            let path_cols: Vec<&str> = parts.keys().map(String::as_str).collect();
            if let Err(LakeError::Contract { reason, .. }) = check_frame(table, &frame, &path_cols)
            {
                problems.push(format!("{}: {reason}", path.display()));
                continue;
            }
            for p in check_values(table, &frame) {
                problems.push(format!("{}: {p}", path.display()));
            }
        }
        Ok(problems)
    }

    /// Check the manifest against the files: every partition it lists exists, decodes whole and
    /// holds the number of rows the manifest says. Returns the problems found.
    ///
    /// # Errors
    /// When the manifest cannot be read.
    pub fn check_manifest(&self) -> Result<Vec<String>> {
        let manifest = self.manifest()?;
        let mut problems = self.check_layout();
        for (rel, entry) in &manifest.partitions {
            let Ok(path) = self.partition_path(rel) else {
                problems.push(format!("{rel}: not a path under the lake 路径不在湖内"));
                continue;
            };
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    problems.push(format!(
                        "{rel}: listed in the manifest but missing 清单中的分区文件缺失"
                    ));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{rel}: cannot be opened 无法打开: {e}"));
                    continue;
                }
            };
            match ParquetReader::new(file).finish() {
                Ok(frame) if frame.height() != entry.rows => problems.push(format!(
                    "{rel}: {} rows, the manifest says {} 行数与清单不符",
                    frame.height(),
                    entry.rows
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("{rel}: cannot be decoded 文件无法解码: {e}")),
            }
        }
        Ok(problems)
    }
}

/// Value checks of a decoded frame against its contract: required values present, minimums and
/// maximums held.
fn check_values(table: &str, frame: &DataFrame) -> Vec<String> {
    let Some(contract) = contract::get(table) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for field in &contract.fields {
        let Ok(column) = frame.column(&field.name) else {
            continue;
        };
        if field.constraints.required && column.null_count() > 0 {
            problems.push(format!(
                "column {}: {} empty required values 必填值为空",
                field.name,
                column.null_count()
            ));
        }
        let bounds = [
            (field.constraints.minimum, "below the minimum", "低于最小值"),
            (field.constraints.maximum, "above the maximum", "高于最大值"),
        ];
        for (bound, en, zh) in bounds {
            let Some(bound) = bound else { continue };
            let Ok(values) = column.cast(&DataType::Float64) else {
                continue;
            };
            let outside = values
                .f64()
                .map(|v| {
                    v.iter()
                        .flatten()
                        .filter(|x| {
                            if en.starts_with("below") {
                                *x < bound
                            } else {
                                *x > bound
                            }
                        })
                        .count()
                })
                .unwrap_or(0);
            if outside > 0 {
                problems.push(format!(
                    "column {}: {outside} values {en} {bound} {zh}",
                    field.name
                ));
            }
        }
    }
    problems
}

/// The key values a partition's path carries (`region_code=330000, period=2023-09`): its
/// `column=value` folders whose column is in the table's [`write_key`].
fn partition_context(table: &str, path: &str) -> String {
    let key = write_key(table);
    path.split('/')
        .filter_map(|seg| seg.split_once('='))
        .filter(|(k, _)| key.contains(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bytes of a frame's values above which its Parquet row groups are cut by size.
const LARGE_FRAME_BYTES: usize = 32 << 20;
/// The values a row group of a large frame holds, about.
const ROW_GROUP_BYTES: usize = 8 << 20;
/// The sink's default rows a row group (polars' streaming Parquet sink).
const DEFAULT_ROW_GROUP_ROWS: usize = 122_880;

/// Rows a Parquet row group of `frame`: the sink's default for most frames; fewer for a frame
/// whose rows are large (a file's `rejects`: ~1.2 kB of bilingual messages a row), so that the
/// sink's row groups in flight (each converted, encoded and compressed whole before it is written)
/// stay ~[`ROW_GROUP_BYTES`] instead of ~150 MB. From the values alone (their bytes), so the file
/// is the same however the frame was built.
fn row_group_rows(frame: &DataFrame) -> Option<usize> {
    let rows = frame.height();
    if rows == 0 {
        return None;
    }
    let bytes = frame_bytes(frame);
    (bytes > LARGE_FRAME_BYTES)
        .then(|| (ROW_GROUP_BYTES / (bytes / rows).max(1)).clamp(1024, DEFAULT_ROW_GROUP_ROWS))
}

/// The bytes of a frame's values: its texts' bytes, 8 a value of other columns.
fn frame_bytes(frame: &DataFrame) -> usize {
    let rows = frame.height();
    frame
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::String => c.as_materialized_series().str().map_or(0, |s| {
                s.downcast_iter().fold(0, |n, a| n + a.total_bytes_len())
            }),
            _ => 8 * rows,
        })
        .sum()
}

/// A partition's Parquet file, read a slice of its rows at a time ([`sum_cells`]).
struct HeldFile {
    table: String,
    path: PathBuf,
    /// The rows of each of its row groups, in order.
    groups: Vec<usize>,
}

impl HeldFile {
    /// `None` when the partition has no file.
    fn open(table: &str, path: PathBuf) -> Result<Option<Self>> {
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut reader = ParquetReader::new(file);
        let metadata = reader
            .get_metadata()
            .map_err(perr(path.display().to_string()))?;
        let mut groups = Vec::with_capacity(metadata.row_groups.len());
        for group in &metadata.row_groups {
            groups.push(group.num_rows());
        }
        Ok(Some(Self {
            table: table.to_owned(),
            path,
            groups,
        }))
    }

    /// Rows `at..at + n` (under today's names, as [`Lake::read_partition`] reads them).
    fn read(&self, at: usize, n: usize) -> Result<DataFrame> {
        let file = File::open(&self.path).map_err(io("open", &self.path))?;
        ParquetReader::new(file)
            .with_slice(Some((at, n)))
            .finish()
            .map(|frame| upgrade_v1_names(&self.table, frame))
            .map_err(perr(self.path.display().to_string()))
    }

    /// Its columns, without rows.
    fn columns(&self) -> Result<DataFrame> {
        self.read(0, 0)
    }

    /// The slices (first row, rows) [`sum_cells`] reads in turn: the row groups when the dates are
    /// in order (as summed cells are written: sorted by their key, which the date leads; a row
    /// without a date first), else the whole file at once.
    fn slices(&self) -> Result<Vec<(usize, usize)>> {
        let whole = vec![(0, self.groups.iter().sum())];
        if self.groups.len() < 2 || self.columns()?.column("date").is_err() {
            return Ok(whole);
        }
        let file = File::open(&self.path).map_err(io("open", &self.path))?;
        let err = || perr(self.path.display().to_string());
        let dates = ParquetReader::new(file)
            .with_columns(Some(vec!["date".into()]))
            .finish()
            .and_then(|f| f.column("date")?.cast(&DataType::Int32))
            .map_err(err())?;
        let dates = dates.i32().map_err(err())?;
        let mut last = i32::MIN;
        for date in dates.iter().map(|d| d.unwrap_or(i32::MIN)) {
            if date < last {
                return Ok(whole);
            }
            last = date;
        }
        let mut at = 0;
        Ok(self
            .groups
            .iter()
            .map(|&n| {
                at += n;
                (at - n, n)
            })
            .collect())
    }
}

/// A partition a commit stages: a frame, or a file's compact rejects.
enum StagedRows<'a> {
    Frame(&'a DataFrame),
    Rejects(&'a StreamedRejects<'a>),
}

impl StagedRows<'_> {
    fn height(&self) -> usize {
        match self {
            StagedRows::Frame(f) => f.height(),
            StagedRows::Rejects(r) => r.compact.len() + r.after.map_or(0, DataFrame::height),
        }
    }
}

/// A file's compact rejects as their partition receives them: rendered a row group at a time, then
/// the rows of `after` (the frame's rejects and the commit's conflicts); `columns`: the partition's
/// columns (without the path-only ones).
struct StreamedRejects<'a> {
    compact: &'a CompactRejects,
    after: Option<&'a DataFrame>,
    columns: Vec<String>,
}

/// The `rejects` rows of a commit's conflicts.
fn conflict_frame(c: &Commit<'_>, rows: &[RejectRow]) -> PolarsResult<DataFrame> {
    rejects_frame(c.feed, c.file, c.sha256, rows)
}

/// Create a folder readable by its owner only (0700 on Unix).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Create (truncate) a file readable by its owner only (0600 on Unix).
pub(crate) fn private_file(path: &Path) -> std::io::Result<File> {
    let mut o = File::options();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Restrict an existing folder to its owner (0700), best effort.
pub(crate) fn set_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// fsync a folder so the entries created or renamed in it survive a power loss (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Add to a partition's rows the values its path carries that the file does not hold (its
/// `key=value` folders, as text; `year`/`month` are derived and skipped), whatever keys the layout
/// that wrote it had: a partition of an earlier layout (`region_code=330000/…`) reads as one of
/// today's. Returns the columns added.
pub(crate) fn restore_path_columns(
    frame: &mut DataFrame,
    parts: &BTreeMap<String, String>,
) -> PolarsResult<Vec<String>> {
    let height = frame.height();
    let mut added = Vec::new();
    for (k, v) in parts {
        if matches!(k.as_str(), "year" | "month") || frame.column(k).is_ok() {
            continue;
        }
        frame.with_column(Column::new_scalar(
            k.as_str().into(),
            Scalar::from(PlSmallStr::from(v.as_str())),
            height,
        ))?;
        added.push(k.clone());
    }
    Ok(added)
}

/// A path column read back as text, cast to its contract type (dates as `%Y-%m-%d`).
fn typed_path_column(e: Expr, dtype: DataType) -> Expr {
    match dtype {
        DataType::String => e,
        DataType::Date => e.str().to_date(StrptimeOptions {
            format: Some("%Y-%m-%d".into()),
            strict: true,
            exact: true,
            cache: true,
        }),
        other => e.strict_cast(other),
    }
}

/// The polars dtype a contract type is stored as.
#[must_use]
pub fn dtype_of(t: FieldType) -> DataType {
    match t {
        FieldType::String => DataType::String,
        FieldType::Number => DataType::Float64,
        FieldType::Integer => DataType::Int64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::Date => DataType::Date,
        FieldType::Datetime => DataType::Datetime(TimeUnit::Milliseconds, None),
    }
}

/// Check a frame's columns against a table's contract. `path_columns` are columns that live in the
/// partition path instead of the frame (`year`/`month` are always allowed there).
///
/// # Errors
/// [`LakeError::Contract`] listing every mismatch.
pub fn check_frame(table: &str, frame: &DataFrame, path_columns: &[&str]) -> Result<()> {
    let contract = contract::get(table).ok_or_else(|| LakeError::Contract {
        table: table.to_owned(),
        reason: "no contract for this table".into(),
    })?;
    let mut problems = Vec::new();
    for column in frame.columns() {
        let name = column.name().as_str();
        match contract.field(name) {
            None => problems.push(format!("column {name} is not in the contract")),
            Some(field) => {
                let want = dtype_of(field.r#type);
                let got = column.dtype();
                let ok =
                    got == &want || (matches!(got, DataType::Null) && !field.constraints.required);
                if !ok {
                    problems.push(format!("column {name} is {got}, contract says {want}"));
                }
            }
        }
    }
    for field in &contract.fields {
        let present =
            frame.column(&field.name).is_ok() || path_columns.contains(&field.name.as_str());
        if !present && field.constraints.required {
            problems.push(format!("required column {} is missing", field.name));
        }
    }
    for p in path_columns {
        if !matches!(*p, "year" | "month") && contract.field(p).is_none() {
            problems.push(format!("path column {p} is not in the contract"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LakeError::Contract {
            table: table.to_owned(),
            reason: problems.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_values_below_the_minimum_and_above_the_maximum() {
        // payment_daily.amount_yuan: minimum 0, maximum 1e12 yuan (data-schemas/payment_daily.json).
        let frame = df!(
            "amount_yuan" => [5.0, -1.0, 2.0e12, 3.0e12],
            "txn_count" => [1_i64, 1, 1, 1],
        )
        .expect("frame");
        let problems = check_values(contract::tables::PAYMENT_DAILY, &frame);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("column amount_yuan: 1 values below the minimum 0")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p
                .contains("column amount_yuan: 2 values above the maximum 1000000000000")
                && p.contains("高于最大值")),
            "{problems:?}"
        );
        let fine = df!("amount_yuan" => [0.0, 1.0e12]).expect("frame");
        assert!(check_values(contract::tables::PAYMENT_DAILY, &fine).is_empty());
    }

    /// A cache file is named by a plain file name under `_cache/`, written whole, read back.
    #[test]
    fn caches_are_plain_files_under_the_cache_folder() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path().join("lake")).expect("lake");
        assert_eq!(lake.read_cache("fits.bin").expect("read"), None);
        lake.write_cache("fits.bin", b"one").expect("write");
        lake.write_cache("fits.bin", b"two").expect("write");
        assert_eq!(
            lake.read_cache("fits.bin").expect("read").as_deref(),
            Some(&b"two"[..])
        );
        assert!(tmp.path().join("lake/_cache/fits.bin").is_file());
        for bad in [
            "",
            "../fits.bin",
            "a/b",
            ".hidden",
            "/etc/passwd",
            "a\\b",
            "é.bin",
        ] {
            assert!(lake.write_cache(bad, b"x").is_err(), "{bad:?}");
            assert!(lake.read_cache(bad).is_err(), "{bad:?}");
        }
        assert!(!tmp.path().join("fits.bin").exists());
        // No table reader sees it, and the lake still checks clean.
        assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
    }

    /// Every path the lake writes or deletes is checked under its root; folders are 0700, files 0600.
    #[test]
    fn paths_stay_under_the_root_and_are_private() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path().join("lake")).expect("lake");
        for bad in [
            "../x",
            "payment_daily/institution=../../activities/data.parquet",
            "payment_daily/institution=a\\b/data.parquet",
            "/etc/passwd",
            "payment_daily/institution=a\0b/data.parquet",
            "payment_daily/institution=%2e%2e%2f/data.parquet",
            "payment_daily/institution=a\u{FF0F}b/data.parquet",
        ] {
            assert!(lake.resolve(bad).is_err(), "{bad:?}");
            assert!(lake.write_atomic(bad, b"x").is_err(), "{bad:?}");
        }
        assert!(!tmp.path().join("x").exists());
        lake.write_atomic("t/k=1/data.parquet", b"ok")
            .expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(lake.root()), 0o700);
            assert_eq!(mode(&lake.root().join("t")), 0o700);
            assert_eq!(mode(&lake.root().join("t/k=1")), 0o700);
            assert_eq!(mode(&lake.root().join("t/k=1/data.parquet")), 0o600);
        }
    }

    /// A lake written under contract version 1 (`sales_amount`, `unit`) still reads, under today's
    /// names (`sales_amount_yuan`, `source_unit`).
    #[test]
    fn a_version_1_file_reads_under_the_new_names() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path()).expect("lake");
        let dir = tmp
            .path()
            .join("enterprise_sales/region_code=330000/period=2023-09");
        fs::create_dir_all(&dir).expect("dir");
        let start = chrono::NaiveDate::from_ymd_opt(2023, 9, 1).expect("date");
        let end = chrono::NaiveDate::from_ymd_opt(2023, 9, 30).expect("date");
        let mut v1 = df!(
            "uscc" => ["91330100000000000X"],
            "enterprise_name" => ["浙江企业"],
            "category" => ["furniture"],
            "sales_amount" => [1_250_000.0],
            "unit" => ["万元"],
            "channel" => [None::<&str>],
            "brand" => [None::<&str>],
            "period_start" => [start],
            "period_end" => [end],
        )
        .expect("frame");
        let file = fs::File::create(dir.join("data.parquet")).expect("file");
        ParquetWriter::new(file).finish(&mut v1).expect("write");
        let read = lake
            .read_table(contract::tables::ENTERPRISE_SALES)
            .expect("read");
        assert_eq!(
            read.column("sales_amount_yuan")
                .expect("renamed")
                .f64()
                .expect("f64")
                .get(0),
            Some(1_250_000.0)
        );
        assert_eq!(
            read.column("source_unit")
                .expect("renamed")
                .str()
                .expect("str")
                .get(0),
            Some("万元")
        );
        assert!(read.column("sales_amount").is_err() && read.column("unit").is_err());
    }

    /// `payment_daily` rows of one cell per day (from `start` on) in today's names.
    fn daily_cells(start: (i32, u32), amounts: &[(f64, f64)]) -> DataFrame {
        let n = amounts.len();
        let start = chrono::NaiveDate::from_ymd_opt(start.0, start.1, 1).expect("date");
        let days: Vec<chrono::NaiveDate> = (0..n)
            .map(|i| start + chrono::Days::new(u64::try_from(i).expect("small")))
            .collect();
        df!(
            "date" => days,
            "institution" => vec!["acq_a"; n],
            "region_code" => vec!["330000"; n],
            "mcc" => vec!["5722"; n],
            "category" => vec!["home_appliances"; n],
            "channel" => vec!["offline"; n],
            "txn_count" => vec![2_i64; n],
            "amount_yuan" => amounts.iter().map(|a| a.0).collect::<Vec<_>>(),
            "refund_amount_yuan" => amounts.iter().map(|a| a.1).collect::<Vec<_>>(),
            "net_amount_yuan" => amounts.iter().map(|a| a.0 - a.1).collect::<Vec<_>>(),
            "merchant_count" => vec![1_i64; n],
        )
        .expect("frame")
    }

    fn commit_daily(lake: &Lake, rows: &DataFrame, sha: &str) -> CommitSummary {
        let rejects = DataFrame::empty();
        lake.commit(&Commit {
            table: contract::tables::PAYMENT_DAILY,
            feed: "payment_transactions",
            file: "t.csv",
            sha256: sha,
            rows,
            rejects: &rejects,
            report: serde_json::json!({}),
            now: "2023-10-01T00:00:00Z",
            origins: None,
        })
        .expect("commit")
    }

    /// Rewrite every `payment_daily` file of the lake as contract version 2 wrote it (`amount`,
    /// `refund_amount`, `net_amount`), in place.
    fn rewrite_as_version_2(lake: &Lake, scratch: &Path) {
        for (i, (path, _)) in lake
            .files(contract::tables::PAYMENT_DAILY)
            .expect("files")
            .into_iter()
            .enumerate()
        {
            let mut v2 = ParquetReader::new(File::open(&path).expect("open"))
                .finish()
                .expect("read");
            for (old, new) in contract::renamed_columns(contract::tables::PAYMENT_DAILY) {
                v2.rename(new, old.into()).expect("rename");
            }
            let tmp = scratch.join(format!("v2-{i}.parquet"));
            ParquetWriter::new(File::create(&tmp).expect("create"))
                .finish(&mut v2)
                .expect("write");
            fs::rename(&tmp, &path).expect("replace");
        }
    }

    /// The column names of each `payment_daily` file, by month folder.
    fn daily_file_columns(lake: &Lake) -> BTreeMap<String, Vec<String>> {
        lake.files(contract::tables::PAYMENT_DAILY)
            .expect("files")
            .into_iter()
            .map(|(path, parts)| {
                (
                    parts.get("month").cloned().unwrap_or_default(),
                    lake.file_columns(&path).expect("columns"),
                )
            })
            .collect()
    }

    /// A lake written before contract version 3 (`payment_daily.amount`, `refund_amount`,
    /// `net_amount`) reads and checks under today's names (`amount_yuan` …). The next commit adds to
    /// the cells of its partition in fen, and writes that partition and the table's other old ones
    /// under the new names (their rows and manifest entries unchanged), so no reader sees the table
    /// mix the two namings.
    #[test]
    fn a_version_2_payment_daily_lake_reads_checks_and_is_rewritten_under_the_new_names() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path().join("lake")).expect("lake");
        commit_daily(
            &lake,
            &daily_cells((2023, 9), &[(100.10, 0.0), (50.0, 20.05)]),
            "a",
        );
        commit_daily(&lake, &daily_cells((2023, 10), &[(7.0, 1.0)]), "b");
        rewrite_as_version_2(&lake, tmp.path());
        let before = daily_file_columns(&lake);
        assert_eq!(before.len(), 2);
        for cols in before.values() {
            assert!(cols.contains(&"net_amount".to_owned()), "{cols:?}");
        }
        let net = |lake: &Lake| {
            let mut v = lake
                .read_table(contract::tables::PAYMENT_DAILY)
                .expect("read")
                .column("net_amount_yuan")
                .expect("renamed on read")
                .f64()
                .expect("f64")
                .into_no_null_iter()
                .collect::<Vec<_>>();
            v.sort_by(f64::total_cmp);
            v
        };
        assert_eq!(net(&lake), [6.0, 29.95, 100.10]);
        let read = lake
            .read_table(contract::tables::PAYMENT_DAILY)
            .expect("read");
        assert!(read.column("amount").is_err() && read.column("net_amount").is_err());
        assert_eq!(
            lake.check_table(contract::tables::PAYMENT_DAILY)
                .expect("check"),
            Vec::<String>::new(),
            "an old lake passes check"
        );
        assert!(lake.check_manifest().expect("check").is_empty());
        let october = "payment_daily/institution=acq_a/year=2023/month=10/data.parquet";
        let entry = |lake: &Lake| {
            let e = lake.manifest().expect("manifest").partitions[october].clone();
            (e.rows, e.version, e.source_sha256)
        };
        let october_entry = entry(&lake);
        // The next commit (September only): cells summed in fen, both months under the new names.
        let summary = commit_daily(&lake, &daily_cells((2023, 9), &[(0.20, 0.10)]), "c");
        assert!(!summary.unchanged);
        assert_eq!(summary.written.len(), 1, "{summary:?}");
        assert_eq!(net(&lake), [6.0, 29.95, 100.20]);
        for (month, cols) in daily_file_columns(&lake) {
            for (old, new) in contract::renamed_columns(contract::tables::PAYMENT_DAILY) {
                assert!(
                    cols.contains(&new.to_owned()) && !cols.contains(&old.to_owned()),
                    "month {month}: {cols:?}"
                );
            }
        }
        assert_eq!(entry(&lake), october_entry, "a rename changes no entry");
        assert!(
            lake.check_table(contract::tables::PAYMENT_DAILY)
                .expect("check")
                .is_empty()
        );
        assert!(lake.check_manifest().expect("check").is_empty());
    }

    fn enterprise(rows: &[(&str, &str, f64)]) -> DataFrame {
        let n = rows.len();
        df!(
            "uscc" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "region_code" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "category" => vec!["furniture"; n],
            "period" => vec!["2023-09"; n],
            "sales_amount_yuan" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .expect("frame")
    }

    /// Keep-first merge by key: new keys are added, the same values are duplicates, other values
    /// conflicts (the first stays).
    #[test]
    fn a_partition_merge_adds_new_keys_and_keeps_the_first_value() {
        let old = enterprise(&[("A", "330000", 1.0), ("B", "330000", 2.0)]);
        let new = enterprise(&[
            ("B", "330000", 2.0),
            ("A", "330000", 9.0),
            ("C", "330000", 3.0),
        ]);
        let (rows, counts) = merge_rows(
            contract::tables::ENTERPRISE_SALES,
            old,
            new,
            ConflictPolicy::KeepFirst,
            None,
            "",
        )
        .expect("merge");
        assert_eq!(rows.height(), 3);
        assert_eq!(
            (counts.added, counts.duplicates, counts.conflicts),
            (1, 1, 1)
        );
        assert_eq!(counts.conflict_keys.len(), 1);
        assert!(
            counts.conflict_keys[0].contains("uscc=A"),
            "{:?}",
            counts.conflict_keys
        );
        let a = rows
            .column("sales_amount_yuan")
            .expect("col")
            .f64()
            .expect("f64")
            .get(0);
        assert_eq!(a, Some(1.0), "the first value stays");
    }

    /// Area cells summed a day at a time give one sorted sum over the partition: cells of three
    /// days, held and received out of order, some in both; money through integer fen.
    #[test]
    fn summed_cells_are_one_sorted_sum_whatever_the_days_order() {
        let cells = |rows: &[(i32, &str, i64, f64)]| -> DataFrame {
            let n = rows.len();
            let date: Vec<chrono::NaiveDate> = rows
                .iter()
                .map(|r| {
                    chrono::NaiveDate::from_ymd_opt(2023, 9, r.0.cast_unsigned()).expect("day")
                })
                .collect();
            df!(
                "date" => date,
                "region_code" => vec!["330000"; n],
                "area_code" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "mcc" => vec!["5712"; n],
                "channel" => vec!["offline"; n],
                "txn_count" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                "net_amount_yuan" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )
            .expect("cells")
        };
        let old = cells(&[
            (1, "330106", 1, 0.1),
            (2, "330106", 2, 0.2),
            (3, "330102", 3, 0.3),
        ]);
        let new = cells(&[
            (3, "330102", 10, 0.7),
            (1, "330102", 20, 1.25),
            (2, "330106", 30, 0.1),
            (1, "330106", 40, 0.2),
        ]);
        let (rows, counts) = sum_cells(
            contract::tables::PAYMENT_AREA_DAILY,
            &old.clear(),
            [Ok(old)],
            new,
        )
        .expect("sum");
        assert_eq!(counts.added, 4);
        let want = cells(&[
            (1, "330102", 20, 1.25),
            (1, "330106", 41, 0.3),
            (2, "330106", 32, 0.3),
            (3, "330102", 13, 1.0),
        ]);
        assert!(rows.equals_missing(&want), "{rows}\n{want}");
    }

    /// A partition's cells read and summed a row group at a time are the cells of one sum over the
    /// whole partition, and their file is byte for byte the file of that sum: a held partition of
    /// days 1–6 written with row groups of 5 rows (days span groups, groups hold several days), a
    /// file with cells of days 2–8 (new cells, cells the partition holds, days only it has), keys
    /// with null values on both sides. Held rows out of date order are read whole.
    #[test]
    fn cells_summed_a_row_group_at_a_time_are_the_whole_sum() {
        let table = contract::tables::PAYMENT_AREA_DAILY;
        // (day, area (None: null), txn_count, amount, merchants)
        let cells = |rows: &[(u32, Option<&str>, i64, f64, i64)]| -> DataFrame {
            let date: Vec<chrono::NaiveDate> = rows
                .iter()
                .map(|r| chrono::NaiveDate::from_ymd_opt(2023, 9, r.0).expect("day"))
                .collect();
            let n = rows.len();
            df!(
                "date" => date,
                "institution" => vec!["wallet_b"; n],
                "region_code" => vec!["330000"; n],
                "area_code" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "mcc" => rows.iter().map(|r| if r.2 % 2 == 0 { "5712" } else { "5722" }).collect::<Vec<_>>(),
                "channel" => vec!["offline"; n],
                "txn_count" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                "amount_yuan" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                "net_amount_yuan" => rows.iter().map(|r| r.3 - 0.01).collect::<Vec<_>>(),
                "merchant_count" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )
            .expect("cells")
        };
        let areas = [Some("330102"), Some("330106"), None, Some("330110")];
        let mut held_rows = Vec::new();
        let mut new_rows = Vec::new();
        for day in 1..=8_u32 {
            for (i, area) in areas.iter().enumerate() {
                let n = i64::from(day) * 10 + i64::try_from(i).expect("i");
                let yuan = f64::from(day) + 0.07 * f64::from(u8::try_from(i).expect("i"));
                if day <= 6 {
                    held_rows.push((day, *area, n, yuan, 1));
                    held_rows.push((day, *area, n + 1, yuan + 0.1, 2));
                }
                if day >= 2 && (day + u32::try_from(i).expect("i")) % 3 != 0 {
                    new_rows.push((day, *area, n + 1, yuan * 2.0, 3));
                }
            }
        }
        new_rows.reverse();
        let fresh = |rows: &[(u32, Option<&str>, i64, f64, i64)]| {
            let frame = cells(rows);
            sum_cells(table, &frame.clear(), [], frame).expect("sum").0
        };
        // The held partition as a commit writes it: summed, sorted by key.
        let mut held = fresh(&held_rows);
        let new = cells(&new_rows);
        let tmp = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, frame: &mut DataFrame, group: Option<usize>| {
            let path = tmp.path().join(name);
            let file = File::create(&path).expect("create");
            ParquetWriter::new(file)
                .with_row_group_size(group)
                .finish(frame)
                .expect("write");
            path
        };
        let path = write("held.parquet", &mut held, Some(5));
        let file = HeldFile::open(table, path.clone())
            .expect("open")
            .expect("file");
        let slices = file.slices().expect("slices");
        assert!(slices.len() > 4, "a row group at a time: {slices:?}");
        let columns = file.columns().expect("columns");
        assert_eq!(columns.height(), 0);
        let rows = slices.iter().map(|&(at, n)| file.read(at, n));
        let (summed, counts) = sum_cells(table, &columns, rows, new.clone()).expect("sum");
        assert_eq!(counts.added, new.height());

        // One sum over the held rows and the file's, as the lake summed before.
        let measures = [
            "txn_count",
            "amount_yuan",
            "net_amount_yuan",
            "merchant_count",
        ];
        let fen = |n: &str| {
            (col(n) * lit(100.0))
                .round(0, RoundMode::HalfToEven)
                .cast(DataType::Int64)
        };
        let mut whole = concat(
            [held.clone().lazy(), new.clone().lazy()],
            UnionArgs::default(),
        )
        .expect("concat")
        .group_by(
            held.get_column_names()
                .into_iter()
                .filter(|n| !measures.contains(&n.as_str()))
                .map(|n| col(n.clone()))
                .collect::<Vec<_>>(),
        )
        .agg([
            col("txn_count").sum(),
            fen("amount_yuan").sum(),
            fen("net_amount_yuan").sum(),
            col("merchant_count").sum(),
        ])
        .sort(
            write_key(table)
                .iter()
                .map(|k| (*k).into())
                .collect::<Vec<PlSmallStr>>(),
            SortMultipleOptions::default(),
        )
        .select(
            held.get_column_names()
                .into_iter()
                .map(|n| col(n.clone()))
                .collect::<Vec<_>>(),
        )
        .collect()
        .expect("whole sum");
        fen_to_yuan(&mut whole).expect("yuan");
        whole.rechunk_mut();
        assert_eq!(
            summed.first_col_n_chunks(),
            1,
            "one chunk, as one sum gives"
        );
        assert!(summed.equals_missing(&whole), "{summed}\n{whole}");
        assert!(
            (1..=8).all(|d| {
                let day = chrono::NaiveDate::from_ymd_opt(2023, 9, d).expect("day");
                summed
                    .column("date")
                    .and_then(|c| c.as_materialized_series().date().cloned())
                    .is_ok_and(|c| c.as_date_iter().any(|x| x == Some(day)))
            }),
            "days only held and only in the file are kept"
        );
        let lake_bytes = |frame: &DataFrame, name: &str| {
            let path = tmp.path().join(name);
            Lake::write_parquet_file(table, frame, &path).expect("write");
            fs::read(&path).expect("read")
        };
        assert!(
            lake_bytes(&summed, "summed.parquet") == lake_bytes(&whole, "whole.parquet"),
            "the same file"
        );

        // Held rows out of date order (not as the lake writes them) are read whole.
        let mut reversed = held.reverse();
        let path = write("reversed.parquet", &mut reversed, Some(5));
        let file = HeldFile::open(table, path).expect("open").expect("file");
        let slices = file.slices().expect("slices");
        assert_eq!(slices, vec![(0, held.height())]);
        let rows = slices.iter().map(|&(at, n)| file.read(at, n));
        let (again, _) = sum_cells(table, &columns, rows, new.clone()).expect("sum");
        assert!(again.equals_missing(&whole), "{again}\n{whole}");
        // Given out of order anyway, the sum refuses them.
        let backwards = (0..held.height())
            .rev()
            .step_by(5)
            .map(|at| Ok(held.slice(i64::try_from(at).expect("at"), 5)));
        assert!(sum_cells(table, &columns, backwards, new).is_err());
        assert!(
            HeldFile::open(table, tmp.path().join("none.parquet"))
                .expect("open")
                .is_none()
        );
    }

    /// Both policies through a real commit: the first file's row A is held, the second file
    /// carries A with another amount (line 3), B again and a new C. Either way one conflict is
    /// counted and two rows land in `rejects` (`conflict` with the received line and raw text,
    /// `conflict_held` with the held values), both messages whole in each language and naming the
    /// key, the column and both values; `keep-first` leaves A at 1.0, `keep-last` stores 9.0.
    #[test]
    fn a_conflict_is_two_rejects_rows_and_the_policy_decides_the_stored_row() {
        for policy in ConflictPolicy::ALL {
            let (_tmp, lake) = lake_with(policy);
            assert_eq!(lake.conflict_policy(), policy);
            let commit = |name: &str, sha: &str, rows: &DataFrame, lines: &[i64], raws: &[&str]| {
                commit_sales(&lake, name, sha, rows, lines, raws)
            };
            let (sha1, sha2) = ("1".repeat(64), "2".repeat(64));
            let first = enterprise(&[("A", "330000", 1.0), ("B", "330000", 2.0)]);
            commit("first.csv", &sha1, &first, &[2, 3], &["A,1", "B,2"]);
            let second = enterprise(&[
                ("B", "330000", 2.0),
                ("A", "330000", 9.0),
                ("C", "330000", 3.0),
            ]);
            let send_second = || {
                let raws = ["B,2", "A,9 (raw)", "C,3"];
                commit("second.csv", &sha2, &second, &[2, 3, 4], &raws)
            };
            let summary = send_second();
            let counts = merge_counts(&summary);
            assert_eq!(counts, (1, 1, 1, 0), "{policy}: {summary:?}");
            assert_eq!(summary.policy, policy);
            let want = match policy {
                ConflictPolicy::KeepFirst => 1.0,
                ConflictPolicy::KeepLast => 9.0,
            };
            let (_, a) = stored_sales(&lake, "A");
            assert_eq!(a, [Some(want)], "{policy}: one row for key A");
            let rejects = lake
                .read_rejects("enterprise_sales", &sha2)
                .expect("read rejects")
                .expect("the second file has rejects");
            assert_eq!(rejects.height(), 2, "{policy}: {rejects}");
            let text = |c: &str, i: usize| {
                rejects
                    .column(c)
                    .expect("col")
                    .cast(&DataType::String)
                    .expect("cast")
                    .str()
                    .expect("str")
                    .get(i)
                    .map(str::to_owned)
                    .unwrap_or_default()
            };
            assert_eq!(text("reason", 0), "conflict");
            assert_eq!(text("reason", 1), "conflict_held");
            assert_eq!(text("line", 0), "3", "the received row's line");
            assert_eq!(text("raw", 0), "A,9 (raw)");
            assert!(
                text("raw", 1).contains("sales_amount_yuan=1.0"),
                "{}",
                text("raw", 1)
            );
            assert_eq!(text("column", 0), "sales_amount_yuan");
            assert_eq!(text("file", 0), "second.csv");
            for i in 0..2 {
                let (en, zh) = (text("message_en", i), text("message_zh", i));
                for m in [&en, &zh] {
                    assert!(
                        m.contains("region_code=330000") && m.contains("uscc=A"),
                        "{m}"
                    );
                    assert!(m.contains("1.0") && m.contains("9.0"), "{m}");
                    assert!(m.contains(policy.id()), "{m}");
                }
                assert!(en.contains("held 1.0, received 9.0"), "{en}");
                assert!(
                    zh.contains("冲突") && zh.contains("已有 1.0，收到 9.0"),
                    "{zh}"
                );
                assert!(!en.contains('冲'), "English whole in English: {en}");
            }
            // The manifest keeps the policy, and under keep-first the conflicting row counts as
            // rejected (read = accepted + rejected + duplicates).
            let manifest = lake.manifest().expect("manifest");
            let report = &manifest.file(&sha2).expect("entry").report;
            assert_eq!(report["lake"]["policy"], policy.id());
            let accepted = if policy == ConflictPolicy::KeepFirst {
                2
            } else {
                3
            };
            assert_eq!(report["accepted"], accepted, "{policy}: {report}");
            // Sending the second file again changes nothing.
            let again = send_second();
            assert!(again.unchanged, "{policy}: {again:?}");
        }
    }

    /// A key the file itself repeats with other values (A on lines 2 and 4) is a conflict within the
    /// file under either policy: `keep-first` stores line 2's row, `keep-last` line 4's; the
    /// `conflict` row is the later line (its raw text), the `conflict_held` row the earlier line (its
    /// raw text); one row of the file is not stored, so one accepted row counts as rejected. An
    /// identical repeat (B) changes nothing.
    #[test]
    fn a_key_repeated_in_the_file_with_other_values_is_a_conflict_within_the_file() {
        for policy in ConflictPolicy::ALL {
            let (_tmp, lake) = lake_with(policy);
            let rows = enterprise(&[
                ("A", "330000", 1.0),
                ("B", "330000", 2.0),
                ("A", "330000", 9.0),
            ]);
            let sha = "3".repeat(64);
            let raws = ["A,1", "B,2", "A,9"];
            let summary = commit_sales(&lake, "one.csv", &sha, &rows, &[2, 3, 4], &raws);
            let counts = merge_counts(&summary);
            assert_eq!(counts, (2, 0, 1, 1), "{policy}: {summary:?}");
            assert_eq!(summary.not_stored(), 1, "{policy}");
            let r = &summary.conflict_rejects;
            assert_eq!(r.len(), 2);
            assert_eq!(
                (r[0].reason.as_str(), r[0].line, r[0].raw.as_str()),
                ("conflict", 4, "A,9")
            );
            assert_eq!(
                (r[1].reason.as_str(), r[1].line, r[1].raw.as_str()),
                ("conflict_held", 2, "A,1")
            );
            for x in r {
                for m in [&x.message_en, &x.message_zh] {
                    assert!(
                        m.contains("uscc=A") && m.contains("1.0") && m.contains("9.0"),
                        "{m}"
                    );
                    assert!(m.contains(policy.id()), "{m}");
                }
                assert!(
                    x.message_en.contains("line 2") && x.message_en.contains("line 4"),
                    "{}",
                    x.message_en
                );
                assert!(
                    x.message_zh.contains("第 2 行") && x.message_zh.contains("冲突"),
                    "{}",
                    x.message_zh
                );
                assert!(!x.message_en.contains('冲'), "{}", x.message_en);
            }
            let (stored, a) = stored_sales(&lake, "A");
            assert_eq!(stored.height(), 2, "{policy}: {stored}");
            let want = match policy {
                ConflictPolicy::KeepFirst => 1.0,
                ConflictPolicy::KeepLast => 9.0,
            };
            assert_eq!(a, [Some(want)], "{policy}");
            let manifest = lake.manifest().expect("manifest");
            let report = &manifest.file(&sha).expect("entry").report;
            assert_eq!(
                (&report["accepted"], &report["rejected"]),
                (&serde_json::json!(2), &serde_json::json!(1)),
                "{policy}: {report}"
            );
            assert_eq!(report["lake"]["in_file_conflicts"], 1, "{report}");
            let rejects = lake
                .read_rejects("enterprise_sales", &sha)
                .expect("read rejects")
                .expect("rejects");
            assert_eq!(rejects.height(), 2, "{rejects}");
        }
    }

    /// A commit's merge counts: (added, duplicate, conflicting, conflicting within the file) rows.
    fn merge_counts(s: &CommitSummary) -> (usize, usize, usize, usize) {
        (
            s.added_rows,
            s.duplicate_rows,
            s.conflicts,
            s.in_file_conflicts,
        )
    }

    /// The enterprise-sales partition (a test lake holds one) and the `sales_amount_yuan` of its
    /// rows with key `uscc`.
    fn stored_sales(lake: &Lake, uscc: &str) -> (DataFrame, Vec<Option<f64>>) {
        let (path, _) = lake
            .files(contract::tables::ENTERPRISE_SALES)
            .expect("files")
            .pop()
            .expect("one partition");
        let stored = ParquetReader::new(File::open(path).expect("open"))
            .finish()
            .expect("read");
        let of_key = stored
            .clone()
            .lazy()
            .filter(col("uscc").eq(lit(uscc)))
            .collect()
            .expect("filter");
        let amounts = of_key.column("sales_amount_yuan").expect("col");
        let amounts = amounts.f64().expect("f64");
        (stored, (0..amounts.len()).map(|i| amounts.get(i)).collect())
    }

    /// A lake in a new temporary folder (removed when the first value drops) under `policy`.
    fn lake_with(policy: ConflictPolicy) -> (tempfile::TempDir, Lake) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path())
            .expect("lake")
            .with_conflict_policy(policy);
        (tmp, lake)
    }

    /// Commit enterprise-sales `rows` of the file `file` (hash `sha`), read from the source lines
    /// `lines` with the raw texts `raws`, every row accepted and none rejected.
    fn commit_sales(
        lake: &Lake,
        file: &str,
        sha: &str,
        rows: &DataFrame,
        lines: &[i64],
        raws: &[&str],
    ) -> CommitSummary {
        let origins = df!(ORIGIN_LINE => lines, ORIGIN_RAW => raws).expect("origins");
        let n = rows.height();
        lake.commit(&Commit {
            table: contract::tables::ENTERPRISE_SALES,
            feed: "enterprise_sales",
            file,
            sha256: sha,
            rows,
            rejects: &rejects_frame(&[]),
            origins: Some(&origins),
            report: serde_json::json!({"read": n, "accepted": n, "rejected": 0, "duplicates": 0}),
            now: "2023-10-01T00:00:00Z",
        })
        .expect("commit")
    }

    /// A `rejects` frame with the given (line, reason) rows.
    pub(super) fn rejects_frame(rows: &[(i64, &str)]) -> DataFrame {
        let n = rows.len();
        df!(
            "feed" => vec!["enterprise_sales"; n],
            "file" => vec!["f.csv"; n],
            "file_sha256" => vec!["0".repeat(64); n],
            "line" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "column" => vec![None::<&str>; n],
            "reason" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "message_zh" => vec!["x"; n],
            "message_en" => vec!["x"; n],
            "raw" => vec!["x"; n],
        )
        .expect("frame")
    }

    #[test]
    fn conflict_policies_parse_from_their_names() {
        for p in ConflictPolicy::ALL {
            assert_eq!(ConflictPolicy::parse(p.id()), Some(p));
            assert_eq!(p.id().parse::<ConflictPolicy>(), Ok(p));
        }
        assert_eq!(
            ConflictPolicy::parse("KEEP_LAST"),
            Some(ConflictPolicy::KeepLast)
        );
        assert!("newest".parse::<ConflictPolicy>().is_err());
        assert_eq!(ConflictPolicy::default(), ConflictPolicy::KeepFirst);
    }

    /// A commit killed after its journal was written and its first rename done: the next process
    /// to open the lake (once no writer holds the lock) finishes the renames, manifest last, and
    /// removes the staging a dead process left.
    #[test]
    fn an_interrupted_commit_is_finished_by_the_next_open() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path()).expect("lake");
        lake.write_atomic("t/k=1/data.parquet", b"old 1")
            .expect("write");
        lake.write_atomic("t/k=2/data.parquet", b"old 2")
            .expect("write");
        let manifest = Manifest {
            format: 1,
            ..Manifest::default()
        };
        lake.write_manifest(&manifest).expect("manifest");
        let new_manifest = serde_json::to_vec(&Manifest {
            format: 1,
            refused: vec![RefusedEntry {
                sha256: "x".into(),
                file: "f.csv".into(),
                feed: None,
                reason: "r".into(),
                at: "2023-09-01T00:00:00Z".into(),
            }],
            ..Manifest::default()
        })
        .expect("json");
        let staged = [
            (
                lake.stage(b"new 1").expect("stage"),
                "t/k=1/data.parquet".to_owned(),
            ),
            (
                lake.stage(b"new 2").expect("stage"),
                "t/k=2/data.parquet".to_owned(),
            ),
            (
                lake.stage(&new_manifest).expect("stage"),
                MANIFEST.to_owned(),
            ),
        ];
        let renames: Vec<(String, &str)> = staged
            .iter()
            .map(|(t, r)| {
                let t = t.strip_prefix(lake.root()).expect("under root");
                (t.to_string_lossy().into_owned(), r.as_str())
            })
            .collect();
        lake.write_atomic(JOURNAL, &serde_json::to_vec(&renames).expect("json"))
            .expect("journal");
        lake.install(&staged[0].0, &staged[0].1)
            .expect("first rename");
        // What a killed process staged without reaching a journal (pid above any pid_max).
        let dead = lake.root().join(".tmp/4294967295-0-0.part");
        fs::write(&dead, b"garbage").expect("write");
        let read = |rel: &str| fs::read(lake.root().join(rel)).expect("read");
        assert_eq!(read("t/k=1/data.parquet"), b"new 1");
        assert_eq!(read("t/k=2/data.parquet"), b"old 2");
        assert_eq!(lake.manifest().expect("manifest"), manifest);

        // While a writer holds the lock, opening leaves the journal to it.
        let held = lake.lock_file().expect("lock file");
        held.lock().expect("lock");
        let _ = Lake::open(tmp.path()).expect("open");
        assert!(lake.root().join(JOURNAL).exists());
        drop(held);

        let reopened = Lake::open(tmp.path()).expect("open");
        assert!(!lake.root().join(JOURNAL).exists());
        assert_eq!(read("t/k=1/data.parquet"), b"new 1");
        assert_eq!(read("t/k=2/data.parquet"), b"new 2");
        assert_eq!(reopened.manifest().expect("manifest").refused.len(), 1);
        if cfg!(target_os = "linux") {
            assert!(!dead.exists(), "a dead process's staging is removed");
        }
        // The lock is free again and nothing is left to replay.
        drop(reopened.lock().expect("lock"));
        let left: Vec<_> = fs::read_dir(lake.root().join(".tmp"))
            .expect("list")
            .filter_map(std::result::Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
