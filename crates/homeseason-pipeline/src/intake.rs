//! Files into the lake: the one write path of every feed and every entry point.
//!
//! `homeseason ingest` calls [`ingest_paths`] (files on disk), `homeseason pull` and the upload server
//! call [`ingest_file`] or, with their scope checks between the two steps, [`prepare`] and
//! [`commit_prepared`]. Whatever the entry point, a file goes the same way:
//!
//! 1. [`prepare`]: the feed (given, the profile's, or recognised from the header), then validation:
//!    transaction files through the streaming ingest *with the lake's txn-id index* (duplicates across
//!    files, months held by other files), daily payment files under their profile, every other feed
//!    through [`homeseason_ingest::ingest_bytes`]. A file refused whole is an [`IngestError`].
//! 2. [`commit_prepared`]: one atomic lake commit (rows, rejects, manifest, audit), with the txn-id
//!    index for transactions.
//! 3. Or [`record_refusal`]: the refusal lands in the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use homeseason_ingest::{
    Feed, FileOutcome, FileReport, IngestError, Rejects, append_rejects, detect_feed, ingest_bytes,
    rejects_frame,
};
use homeseason_lake::{Commit, CommitSummary, Lake, RefusedEntry, TxnSpill};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::*;

use crate::error::{PipelineError, Result, io_err};
use crate::payments::{self, Profiles};

/// Where a file comes from: a path on disk (streamed), or bytes already in memory (an upload, a pull).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file on disk.
    Path(&'a Path),
    /// A file in memory, with the name it was sent under.
    Bytes {
        /// The file's name (a label, never a path).
        name: &'a str,
        /// Its content.
        bytes: &'a [u8],
    },
}

impl Source<'_> {
    /// The file's name as recorded in the manifest.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Source::Path(p) => p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
                .to_owned(),
            Source::Bytes { name, .. } => (*name).to_owned(),
        }
    }

    /// The path (for a profile's folder match), or the name as a path.
    pub(crate) fn path_or_name(&self) -> &Path {
        match self {
            Source::Path(p) => p,
            Source::Bytes { name, .. } => Path::new(*name),
        }
    }

    /// The whole content.
    pub(crate) fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Source::Path(p) => Ok(std::borrow::Cow::Owned(
                std::fs::read(p).map_err(io_err("reading", p))?,
            )),
            Source::Bytes { bytes, .. } => Ok(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

/// What a transaction commit needs beside the rows: the institution, the new txn-id fingerprints
/// (spilled to disk while reading) and the months the file owns.
#[derive(Debug)]
pub(crate) struct TxnCommit {
    pub(crate) institution: String,
    pub(crate) spill: TxnSpill,
    pub(crate) months: Vec<(i32, u32)>,
    /// The state of the institution's txn index the file was read against.
    pub(crate) seen: Vec<(std::path::PathBuf, u64)>,
    /// The file's `payment_area_daily` cells, committed with its `payment_daily` rows.
    pub(crate) area_rows: polars::prelude::DataFrame,
}

/// A file read and validated, not yet committed.
#[derive(Debug)]
pub struct Prepared {
    /// The feed (given or recognised from the header).
    pub feed: Feed,
    /// Rows, rejects and counts.
    pub outcome: FileOutcome,
    /// The counts as recorded in the manifest (with the payment details for transaction files).
    pub(crate) report_json: serde_json::Value,
    /// Set for transaction files: committed with the lake's txn-id index.
    pub(crate) txn: Option<TxnCommit>,
}

/// A file committed to the lake.
#[derive(Debug)]
pub struct Committed {
    /// Feed.
    pub feed: Feed,
    /// Rows, rejects and counts.
    pub outcome: FileOutcome,
    /// What the lake did.
    pub commit: CommitSummary,
}

/// What became of one file.
#[derive(Debug)]
pub enum Fate {
    /// Validated and committed (possibly unchanged, when the same bytes were already current).
    Ingested {
        /// Feed.
        feed: Feed,
        /// Counts.
        report: FileReport,
        /// What the lake did.
        commit: CommitSummary,
        /// The rejected rows (the `rejects` contract).
        rejects: Rejects,
    },
    /// Refused whole; recorded in the lake's manifest.
    Refused {
        /// Why, in Chinese and English.
        reason: String,
    },
}

/// Read and validate a file: the feed given, the profile's, or the one recognised from its header.
/// Transaction files are checked against the lake's txn-id index.
///
/// # Errors
/// The outer error for lake and IO failures; the inner [`IngestError`] when the whole file must be
/// refused.
pub fn prepare(
    lake: &Lake,
    source: &Source<'_>,
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
) -> Result<std::result::Result<Prepared, IngestError>> {
    let profile = profiles.for_path(source.path_or_name());
    match payments::route(source, feed, &profile)? {
        Some(Feed::PaymentTransactions) => {
            return payments::prepare_transactions(lake, source, &profile, campaign);
        }
        Some(_) => return payments::prepare_daily(source, &profile, campaign),
        None => {}
    }
    let name = source.name();
    let bytes = source.bytes()?;
    let feed = match feed {
        Some(f) => f,
        None => match detect_feed(&name, &bytes) {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        },
    };
    let outcome = match ingest_bytes(feed, &name, &bytes, campaign) {
        Ok(o) if feed == Feed::PaymentDaily => {
            // The institution of every daily row must be a known one (the profiles' codes).
            match homeseason_ingest::reject_unknown_institutions(o, &profiles.institutions()) {
                Ok(o) => o,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    let report_json = serde_json::to_value(&outcome.report)?;
    Ok(Ok(Prepared {
        feed,
        outcome,
        report_json,
        txn: None,
    }))
}

/// Commit a prepared file's rows and rejects into the lake (one atomic commit under the lake lock;
/// transaction files with the txn-id index).
///
/// # Errors
/// Lake failures.
pub fn commit_prepared(
    lake: &Lake,
    name: &str,
    prepared: Prepared,
    now: &str,
) -> Result<Committed> {
    commit_prepared_under(lake, None, name, prepared, now)
}

/// [`commit_prepared`]; `held`: the caller holds the lake's lock (taken before the file was read).
fn commit_prepared_under(
    lake: &Lake,
    held: Option<&homeseason_lake::LakeLock>,
    name: &str,
    prepared: Prepared,
    now: &str,
) -> Result<Committed> {
    let Prepared {
        feed,
        outcome,
        report_json,
        txn,
    } = prepared;
    // A transaction file's compact rejects go to the lake as they are (rendered a row group at a
    // time as their partition is written); any other file's as a frame.
    let (rejects, compact) = match (&outcome.rejects, txn.is_some()) {
        (Rejects::Frame(f), _) => (f.clone(), None),
        (Rejects::Compact(c), true) => (DataFrame::empty(), Some(c)),
        (r @ Rejects::Compact(_), false) => (r.to_frame()?, None),
    };
    let commit = Commit {
        table: feed.lake_table(),
        feed: feed.id(),
        file: name,
        sha256: &outcome.report.sha256,
        rows: &outcome.rows,
        rejects: &rejects,
        origins: outcome.origins.as_ref(),
        report: report_json,
        now,
    };
    let commit = {
        // The caller's lock, or the lake's taken for the commit alone (as `Lake::commit` does).
        let taken;
        let lock = match held {
            Some(lock) => lock,
            None => {
                taken = lake.lock()?;
                &taken
            }
        };
        match txn {
            Some(t) => lake.commit_with_txn_index_locked(
                lock,
                &commit,
                compact,
                t.area_rows,
                &t.institution,
                t.spill,
                &t.months,
                &t.seen,
            )?,
            None => lake.commit_with_lock(lock, &commit)?,
        }
    };
    let mut outcome = outcome;
    settle_conflicts(&mut outcome, &commit)?;
    Ok(Committed {
        feed,
        outcome,
        commit,
    })
}

/// A commit's conflicts in the file's outcome: both rows of each conflict join its rejects (as in
/// the lake's `rejects` table), and a conflicting row of the file that is not stored (under
/// `keep-first` the received row; within the file, one row of each pair under either policy)
/// counts as rejected instead of accepted, so `read = accepted + rejected + duplicates` still holds
/// ([`CommitSummary::not_stored`]).
fn settle_conflicts(outcome: &mut FileOutcome, commit: &CommitSummary) -> Result<()> {
    if commit.conflict_rejects.is_empty() {
        return Ok(());
    }
    let moved = commit.not_stored().min(outcome.report.accepted);
    outcome.report.accepted -= moved;
    outcome.report.rejected += moved;
    let r = &outcome.report;
    let extra = rejects_frame(
        r.feed.id(),
        r.file.as_str(),
        r.sha256.as_str(),
        &commit.conflict_rejects,
    )?;
    outcome.rejects = Rejects::Frame(append_rejects(&outcome.rejects.to_frame()?, extra)?);
    Ok(())
}

/// Record a whole-file refusal in the lake's manifest.
///
/// # Errors
/// Lake failures.
pub fn record_refusal(
    lake: &Lake,
    name: &str,
    sha256: &str,
    feed: Option<&str>,
    reason: &str,
    now: &str,
) -> Result<()> {
    lake.record_refusal(RefusedEntry {
        sha256: sha256.to_owned(),
        file: name.to_owned(),
        feed: feed.map(str::to_owned),
        reason: reason.to_owned(),
        at: now.to_owned(),
    })?;
    Ok(())
}

/// Ingest one file: prepare, then commit or record the refusal. `feed` is the feed the caller named
/// (`None`: recognise it from the header); the refusal names it unless the feed was unknown.
///
/// # Errors
/// Lake and IO failures only: a refused file is a [`Fate::Refused`], not an error.
pub fn ingest_file(
    lake: &Lake,
    source: &Source<'_>,
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
) -> Result<Fate> {
    match prepare(lake, source, feed, campaign, profiles)? {
        Ok(prepared) => {
            match commit_fresh(lake, source, feed, campaign, profiles, prepared, now)? {
                Ok(Committed {
                    feed,
                    outcome,
                    commit,
                }) => Ok(Fate::Ingested {
                    feed,
                    report: outcome.report,
                    commit,
                    rejects: outcome.rejects,
                }),
                Err(e) => refuse(lake, source, feed, &e, now),
            }
        }
        Err(e) => refuse(lake, source, feed, &e, now),
    }
}

/// How many times a transaction file is read again without the lake's lock when other writers keep
/// committing transactions of its institution meanwhile; the last reading holds the lock, so it
/// cannot be overtaken.
const FRESH_ATTEMPTS: usize = 3;

/// Commit a prepared file ([`commit_prepared`]); when another writer committed transactions of the
/// same institution after the file was read (the lake answers [`homeseason_lake::LakeError::Stale`]
/// and writes nothing), read `source` again against the new txn index and retry; the last attempt
/// reads and commits under the lake's lock. Two ingests of overlapping transaction files at once
/// thus give the lake that one ingest after the other gives.
///
/// # Errors
/// Lake failures. The inner error: the file, read again, was refused whole.
pub fn commit_fresh(
    lake: &Lake,
    source: &Source<'_>,
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    prepared: Prepared,
    now: &str,
) -> Result<std::result::Result<Committed, IngestError>> {
    let name = source.name();
    let mut first = Some(prepared);
    for _ in 1..FRESH_ATTEMPTS {
        let prepared = match first.take() {
            Some(p) => p,
            None => match prepare(lake, source, feed, campaign, profiles)? {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            },
        };
        match commit_prepared(lake, &name, prepared, now) {
            Err(PipelineError::Lake(homeseason_lake::LakeError::Stale { .. })) => {}
            other => return other.map(Ok),
        }
    }
    let lock = lake.lock()?;
    let prepared = match prepare(lake, source, feed, campaign, profiles)? {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    commit_prepared_under(lake, Some(&lock), &name, prepared, now).map(Ok)
}

/// Record a whole-file refusal of `source` and say so.
fn refuse(
    lake: &Lake,
    source: &Source<'_>,
    feed: Option<Feed>,
    e: &IngestError,
    now: &str,
) -> Result<Fate> {
    let reason = e.to_string();
    let feed_id = match e {
        IngestError::UnknownFeed { .. } => None,
        _ => feed.map(Feed::id),
    };
    let sha = homeseason_ingest::sha256_hex(&source.bytes()?);
    record_refusal(lake, &source.name(), &sha, feed_id, &reason, now)?;
    Ok(Fate::Refused { reason })
}

/// Whether an input is a cluster URI (`hdfs://…`, `s3a://…`, `file://…`: see
/// [`homeseason_ingest::is_uri`]) rather than a local path.
///
/// # Errors
/// [`PipelineError::Invalid`] for `scheme://…` with a scheme no cluster reads (`http://…`), in
/// Chinese and English.
pub fn input_is_uri(path: &Path) -> Result<bool> {
    match path.to_str() {
        Some(s) => homeseason_ingest::is_uri(s).map_err(|e| PipelineError::Invalid(e.to_string())),
        None => Ok(false),
    }
}

/// The refusal of a cluster URI by the Rust engine, which reads local files only.
#[must_use]
pub fn uri_needs_spark(uri: &Path) -> PipelineError {
    let uri = uri.display();
    PipelineError::Invalid(format!(
        "{uri}: a cluster URI can only be read by the Spark engine (--engine spark) / {uri}：集群 URI 只能由 Spark 引擎读取（--engine spark）"
    ))
}

/// Every file under `paths`, skipping generator metadata: files named on the command line in the
/// order given (a correction named after the file it corrects is ingested after it), the files of a
/// directory walked in name order. A cluster URI ([`input_is_uri`]) is passed through as given: it
/// is not a local path, so it is neither canonicalised nor listed.
///
/// # Errors
/// When a folder cannot be listed, or an input is `scheme://…` with a scheme no cluster reads.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if input_is_uri(p)? {
            out.push(p.clone());
        } else if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
                    let path = e.map_err(io_err("listing", &dir))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if is_data_file(&path) {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    (lower.ends_with(".csv")
        || lower.ends_with(".csv.gz")
        || lower.ends_with(".xlsx")
        || lower.ends_with(".xls")
        || payments::is_extra_data_file(&lower))
        && !name.starts_with("truth")
        // Excel's lock file while a workbook is open.
        && !name.starts_with("~$")
}

/// One file's fate, as `homeseason ingest` reports it.
#[derive(Debug, serde::Serialize)]
pub struct FileResult {
    /// File path as given.
    pub path: String,
    /// Counts (absent when refused whole).
    pub report: Option<FileReport>,
    /// What the lake did.
    pub commit: Option<CommitSummary>,
    /// Why it was refused whole.
    pub refused: Option<String>,
    /// The file's rejected rows (the rows of the `rejects` contract), in file order: their count,
    /// and every row or the first few ([`KeepRejects`]). In JSON, every row.
    pub rejects: FileRejects,
}

/// Which of a file's rejected rows a [`FileResult`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepRejects {
    /// Every row (`homeseason ingest --json` prints them all).
    All,
    /// The first `n` rows (the ones shown on screen); the others are counted, and are in the
    /// lake's `rejects` table.
    First(usize),
}

/// A file's rejected rows as a [`FileResult`] holds them: the count, and either the whole
/// `rejects` frame (turned into [`RejectedRow`]s a chunk at a time when serialised) or the first
/// few rows. A file can have hundreds of thousands of rejects with kilobytes of bilingual messages
/// each, so every row is never held as a `RejectedRow` at once.
#[derive(Debug, Default)]
pub struct FileRejects {
    total: usize,
    /// The first rows (when not `all`).
    first: Vec<RejectedRow>,
    /// Every row (the `rejects` frame, or the rows kept compact), when kept.
    all: Option<Rejects>,
}

/// Rows of the `rejects` frame turned into [`RejectedRow`]s at a time when serialising.
const REJECTS_CHUNK: usize = 4096;

impl FileRejects {
    /// The rows of a `rejects` frame, kept as `keep` says.
    ///
    /// # Errors
    /// When a column of the `rejects` contract is missing.
    pub fn from_frame(frame: DataFrame, keep: KeepRejects) -> Result<FileRejects> {
        FileRejects::from_rejects(Rejects::Frame(frame), keep)
    }

    /// [`FileRejects::from_frame`] for a file's [`Rejects`] (a frame, or the rows kept compact,
    /// whose messages are rendered only for the rows shown or serialised, a chunk at a time).
    ///
    /// # Errors
    /// When a column of the `rejects` contract is missing.
    pub fn from_rejects(rejects: Rejects, keep: KeepRejects) -> Result<FileRejects> {
        let total = rejects.len();
        match keep {
            KeepRejects::All => Ok(FileRejects {
                total,
                first: Vec::new(),
                all: (total > 0).then_some(rejects),
            }),
            KeepRejects::First(n) => Ok(FileRejects {
                total,
                first: RejectedRow::from_owned_frame(rejects.slice(0, n)?)?,
                all: None,
            }),
        }
    }

    /// How many rows the file left in `rejects`.
    #[must_use]
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether the file left no rejected row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The first `n` rows (fewer when fewer were kept: [`KeepRejects::First`]).
    ///
    /// # Errors
    /// When a column of the `rejects` contract is missing.
    pub fn head(&self, n: usize) -> Result<Vec<RejectedRow>> {
        match &self.all {
            Some(rejects) => RejectedRow::from_owned_frame(rejects.slice(0, n.min(self.total))?),
            None => Ok(self.first.iter().take(n).cloned().collect()),
        }
    }
}

impl serde::Serialize for FileRejects {
    /// Every row, as a sequence of [`RejectedRow`]s (as a `Vec<RejectedRow>` serialises); an error
    /// when only the first rows were kept.
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq as _};
        let mut seq = serializer.serialize_seq(Some(self.total))?;
        match &self.all {
            Some(rejects) => {
                let mut offset = 0;
                while offset < self.total {
                    let rows = RejectedRow::from_owned_frame(
                        rejects
                            .slice(offset, REJECTS_CHUNK)
                            .map_err(S::Error::custom)?,
                    )
                    .map_err(S::Error::custom)?;
                    offset += REJECTS_CHUNK;
                    for row in &rows {
                        seq.serialize_element(row)?;
                    }
                }
            }
            None if self.first.len() == self.total => {
                for row in &self.first {
                    seq.serialize_element(row)?;
                }
            }
            None => {
                return Err(S::Error::custom(format!(
                    "only {} of the {} rejected rows were kept (KeepRejects::All keeps them all) / 仅保留了 {} 行拒收行，共 {} 行",
                    self.first.len(),
                    self.total,
                    self.first.len(),
                    self.total
                )));
            }
        }
        seq.end()
    }
}

/// One rejected row as `homeseason ingest` shows it: file, row, column and the reason in both
/// languages (a row of the `rejects` contract; in JSON one object, the file first).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    /// File name.
    pub file: String,
    /// Line, column, reason, messages and raw text.
    #[serde(flatten)]
    pub row: homeseason_schema::contract::RejectRow,
}

impl RejectedRow {
    /// The rows of a `rejects` frame, in its order.
    ///
    /// # Errors
    /// When a column of the `rejects` contract is missing.
    pub fn from_frame(frame: &DataFrame) -> Result<Vec<RejectedRow>> {
        RejectedRow::from_owned_frame(frame.clone())
    }

    /// [`RejectedRow::from_frame`], taking the frame: each column is freed as soon as its texts are
    /// in the rows, so the frame and its rows are never both whole in memory (a file's rejects
    /// can be hundreds of MB of bilingual messages).
    ///
    /// # Errors
    /// When a column of the `rejects` contract is missing.
    pub fn from_owned_frame(frame: DataFrame) -> Result<Vec<RejectedRow>> {
        let height = frame.height();
        if height == 0 {
            return Ok(Vec::new());
        }
        let mut columns: std::collections::HashMap<String, Column> = frame
            .into_columns()
            .into_iter()
            .map(|c| (c.name().to_string(), c))
            .collect();
        let mut take = |name: &str| -> Result<Column> {
            columns
                .remove(name)
                .ok_or_else(|| PolarsError::ColumnNotFound(name.to_owned().into()).into())
        };
        let line = take("line")?.cast(&DataType::Int64)?;
        let line = line.i64()?;
        let mut rows: Vec<RejectedRow> = (0..height)
            .map(|i| RejectedRow {
                file: String::new(),
                row: homeseason_schema::contract::RejectRow {
                    line: line.get(i).unwrap_or(0),
                    column: None,
                    reason: String::new(),
                    message_zh: String::new(),
                    message_en: String::new(),
                    raw: String::new(),
                },
            })
            .collect();
        type Field = fn(&mut RejectedRow, Option<&str>);
        let fields: [(&str, Field); 6] = [
            ("file", |r, v| r.file = v.unwrap_or_default().to_owned()),
            ("column", |r, v| r.row.column = v.map(str::to_owned)),
            ("reason", |r, v| {
                r.row.reason = v.unwrap_or_default().to_owned();
            }),
            ("raw", |r, v| r.row.raw = v.unwrap_or_default().to_owned()),
            ("message_en", |r, v| {
                r.row.message_en = v.unwrap_or_default().to_owned();
            }),
            ("message_zh", |r, v| {
                r.row.message_zh = v.unwrap_or_default().to_owned();
            }),
        ];
        for (name, set) in fields {
            let column = take(name)?.cast(&DataType::String)?;
            for (r, v) in rows.iter_mut().zip(column.str()?.iter()) {
                set(r, v);
            }
        }
        Ok(rows)
    }
}

/// Ingest files into the lake, one commit per file. Refused files are recorded, not fatal. Every
/// rejected row is kept in the results ([`ingest_paths_keeping`]).
///
/// # Errors
/// Lake and IO failures; before anything is read, [`uri_needs_spark`] when an input is a cluster
/// URI (the Rust engine reads local files only).
pub fn ingest_paths(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    progress: impl FnMut(usize, &Path),
) -> Result<Vec<FileResult>> {
    ingest_paths_keeping(
        lake,
        files,
        feed,
        campaign,
        profiles,
        now,
        KeepRejects::All,
        progress,
    )
}

/// [`ingest_paths`], keeping of each file's rejected rows those `keep` says (all are counted, and
/// all are in the lake's `rejects` table).
///
/// # Errors
/// As [`ingest_paths`].
#[expect(
    clippy::too_many_arguments,
    reason = "the ingest context of every entry point, plus what to keep"
)]
pub fn ingest_paths_keeping(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    keep: KeepRejects,
    mut progress: impl FnMut(usize, &Path),
) -> Result<Vec<FileResult>> {
    for path in files {
        if input_is_uri(path)? {
            return Err(uri_needs_spark(path));
        }
    }
    let mut results = Vec::new();
    for (i, path) in files.iter().enumerate() {
        progress(i, path);
        let fate = ingest_file(lake, &Source::Path(path), feed, campaign, profiles, now)?;
        results.push(match fate {
            Fate::Ingested {
                report,
                commit,
                rejects,
                ..
            } => FileResult {
                path: path.display().to_string(),
                report: Some(report),
                commit: Some(commit),
                refused: None,
                rejects: FileRejects::from_rejects(rejects, keep)?,
            },
            Fate::Refused { reason } => FileResult {
                path: path.display().to_string(),
                report: None,
                commit: None,
                refused: Some(reason),
                rejects: FileRejects::default(),
            },
        });
    }
    Ok(results)
}

/// Ingest the bundled real NBS 社零 figures (national, 2022–2024) into `retail_stats`
/// (region `000000`), recorded in the manifest as `nbs_retail_by_category.csv`.
///
/// # Errors
/// Lake failures.
pub fn ingest_nbs(lake: &Lake, now: &str) -> Result<FileReport> {
    let out = homeseason_ingest::bundled_nbs()?;
    lake.commit(&Commit {
        table: tables::RETAIL_STATS,
        feed: Feed::RetailStats.id(),
        file: homeseason_ingest::NBS_FILE,
        sha256: &out.report.sha256,
        rows: &out.rows,
        rejects: &out.rejects.to_frame()?,
        origins: out.origins.as_ref(),
        report: serde_json::to_value(&out.report)?,
        now,
    })?;
    Ok(out.report)
}

/// Accepted rows per `region_code` (every lake table of an input feed has one).
///
/// # Errors
/// When the frame has no `region_code` text column.
pub fn row_regions(rows: &DataFrame) -> Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    if rows.height() == 0 {
        return Ok(out);
    }
    let column = rows.column("region_code")?.str()?.clone();
    for value in column.iter() {
        *out.entry(value.unwrap_or("").to_owned()).or_insert(0) += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activities(region: &str, n: usize) -> Vec<u8> {
        homeseason_test_support::activities_csv(&[region], n, false, "")
    }

    fn bytes_of<'a>(name: &'a str, bytes: &'a [u8]) -> Source<'a> {
        Source::Bytes { name, bytes }
    }

    #[test]
    fn ingest_then_unchanged_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let campaign = Campaign::default_2023();
        let bytes = activities("330000", 3);
        // Ingest `bytes` as the file `name` at time `now`.
        let ingest = |name: &str, bytes: &[u8], now: &str| {
            ingest_file(
                &lake,
                &bytes_of(name, bytes),
                None,
                &campaign,
                &Profiles::default(),
                now,
            )
            .unwrap()
        };
        let fate = ingest("a.csv", &bytes, "t1");
        let Fate::Ingested {
            feed,
            report,
            commit,
            ..
        } = fate
        else {
            panic!("ingested: {fate:?}")
        };
        assert_eq!(feed, Feed::Activities);
        assert_eq!(report.accepted, 3, "{report:?}");
        assert!(!commit.unchanged);
        let again = ingest("a.csv", &bytes, "t2");
        assert!(matches!(again, Fate::Ingested { commit, .. } if commit.unchanged));
        let refused = ingest("b.csv", b"x,y\n1,2\n", "t3");
        assert!(matches!(refused, Fate::Refused { .. }));
        assert_eq!(lake.manifest().unwrap().refused.len(), 1);
    }

    #[test]
    fn regions_and_partitions() {
        let campaign = Campaign::default_2023();
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let none = Profiles::default();
        let a = activities("330000", 2);
        let p = prepare(&lake, &bytes_of("a.csv", &a), None, &campaign, &none)
            .unwrap()
            .unwrap();
        let regions = row_regions(&p.outcome.rows).unwrap();
        assert_eq!(regions.get("330000"), Some(&2));
        commit_prepared(&lake, "a.csv", p, "t").unwrap();
    }

    /// Transactions `T{from}`..`T{to}` of institution `wallet_x` in September 2023.
    fn txns(from: usize, to: usize) -> Vec<u8> {
        let mut s = String::from(
            "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n",
        );
        for i in from..to {
            s.push_str(&format!(
                "T{i},wallet_x,2023-09-0{} 10:00:00,M{},5722,330106,{}.50,sale,offline\n",
                1 + i % 3,
                i % 4,
                100 + i
            ));
        }
        s.into_bytes()
    }

    fn payment_daily(lake: &Lake) -> DataFrame {
        lake.read_table(tables::PAYMENT_DAILY)
            .unwrap()
            .sort(
                ["date", "region_code", "mcc", "channel"],
                SortMultipleOptions::default(),
            )
            .unwrap()
    }

    /// A `rejects` frame of `n` rows (every third with no column), longer than a serialising chunk.
    fn many_rejects(n: usize) -> DataFrame {
        let rows: Vec<homeseason_schema::contract::RejectRow> = (0..n)
            .map(|i| homeseason_schema::contract::RejectRow {
                line: i64::try_from(i).unwrap() + 2,
                column: (i % 3 != 0).then(|| format!("col{i}")),
                reason: "conflict".into(),
                message_zh: format!("第 {i} 行 冲突"),
                message_en: format!("line {i}: a conflict"),
                raw: format!("T{i},wallet_x"),
            })
            .collect();
        rejects_frame("payment_transactions", "f.csv", &"a".repeat(64), &rows).unwrap()
    }

    #[test]
    fn file_rejects_serialise_every_row_as_the_rows_did_and_keep_only_what_is_asked() {
        let n = REJECTS_CHUNK * 2 + 7;
        let frame = many_rejects(n);
        let rows = RejectedRow::from_frame(&frame).unwrap();
        let want = serde_json::to_string_pretty(&rows).unwrap();
        let all = FileRejects::from_frame(frame.clone(), KeepRejects::All).unwrap();
        assert_eq!(all.len(), n);
        assert_eq!(serde_json::to_string_pretty(&all).unwrap(), want);
        assert_eq!(all.head(5).unwrap(), rows[..5].to_vec());
        let first = FileRejects::from_frame(frame.clone(), KeepRejects::First(3)).unwrap();
        assert_eq!(first.len(), n, "every row is counted");
        assert_eq!(first.head(10).unwrap(), rows[..3].to_vec());
        assert!(
            serde_json::to_string(&first).is_err(),
            "only the first rows were kept: JSON would lose rows"
        );
        let whole = FileRejects::from_frame(many_rejects(4), KeepRejects::First(10)).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&whole).unwrap(),
            serde_json::to_string_pretty(&rows[..4]).unwrap()
        );
        let none = FileRejects::from_frame(many_rejects(0), KeepRejects::All).unwrap();
        assert!(none.is_empty());
        assert_eq!(serde_json::to_string_pretty(&none).unwrap(), "[]");
    }

    #[test]
    fn a_transaction_file_read_before_another_writer_committed_is_read_again() {
        let campaign = Campaign::default_2023();
        let none = Profiles::default();
        let (a, b) = (txns(0, 30), txns(20, 50));
        // One after the other.
        let dir = tempfile::tempdir().unwrap();
        let sequential = Lake::open(dir.path().join("seq")).unwrap();
        for (name, bytes) in [("a.csv", &a), ("b.csv", &b)] {
            let fate = ingest_file(
                &sequential,
                &bytes_of(name, bytes),
                None,
                &campaign,
                &none,
                "t",
            );
            assert!(matches!(fate, Ok(Fate::Ingested { .. })), "{fate:?}");
        }
        // Both read before either commits (two ingests at once): B commits first, then A.
        let raced = Lake::open(dir.path().join("race")).unwrap();
        let read = |name, bytes| {
            prepare(&raced, &bytes_of(name, bytes), None, &campaign, &none)
                .unwrap()
                .unwrap()
        };
        let (pa, pa_twice, pb) = (read("a.csv", &a), read("a.csv", &a), read("b.csv", &b));
        commit_prepared(&raced, "b.csv", pb, "t").unwrap();
        let stale = commit_prepared(&raced, "a.csv", pa_twice, "t");
        assert!(
            matches!(
                stale,
                Err(PipelineError::Lake(
                    homeseason_lake::LakeError::Stale { .. }
                ))
            ),
            "A's increment was computed before B's transactions were in the lake: {stale:?}"
        );
        let fresh = commit_fresh(
            &raced,
            &bytes_of("a.csv", &a),
            None,
            &campaign,
            &none,
            pa,
            "t",
        )
        .unwrap()
        .unwrap();
        assert!(!fresh.commit.unchanged);
        let (want, got) = (payment_daily(&sequential), payment_daily(&raced));
        assert_eq!(
            got.column("txn_count")
                .unwrap()
                .as_materialized_series()
                .sum::<i64>()
                .unwrap(),
            50,
            "each of the 50 transactions once: {got}"
        );
        assert!(got.equals_missing(&want), "raced {got}\nsequential {want}");
    }
}
