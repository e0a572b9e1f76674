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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use homeseason_ingest::{Feed, FileOutcome, FileReport, IngestError, detect_feed, ingest_bytes};
use homeseason_lake::{
    Commit, CommitSummary, Lake, PartitionKey, RefusedEntry, TxnSpill, partition_keys,
};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::*;

use crate::error::{Result, io_err};
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
        rejects: DataFrame,
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
    let Prepared {
        feed,
        outcome,
        report_json,
        txn,
    } = prepared;
    let commit = Commit {
        table: feed.lake_table(),
        feed: feed.id(),
        file: name,
        sha256: &outcome.report.sha256,
        rows: &outcome.rows,
        rejects: &outcome.rejects,
        report: report_json,
        now,
    };
    let commit = match txn {
        Some(t) => lake.commit_with_txn_index(&commit, &t.institution, t.spill, &t.months)?,
        None => lake.commit(&commit)?,
    };
    Ok(Committed {
        feed,
        outcome,
        commit,
    })
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
    let name = source.name();
    match prepare(lake, source, feed, campaign, profiles)? {
        Ok(prepared) => {
            let Committed {
                feed,
                outcome,
                commit,
            } = commit_prepared(lake, &name, prepared, now)?;
            Ok(Fate::Ingested {
                feed,
                report: outcome.report,
                commit,
                rejects: outcome.rejects,
            })
        }
        Err(e) => {
            let reason = e.to_string();
            let feed_id = match &e {
                IngestError::UnknownFeed { .. } => None,
                _ => feed.map(Feed::id),
            };
            let sha = homeseason_ingest::sha256_hex(&source.bytes()?);
            record_refusal(lake, &name, &sha, feed_id, &reason, now)?;
            Ok(Fate::Refused { reason })
        }
    }
}

/// Every file under `paths`, skipping generator metadata: files named on the command line in the
/// order given (a correction named after the file it corrects is ingested after it), the files of a
/// directory walked in name order.
///
/// # Errors
/// When a folder cannot be listed.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
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
}

/// Ingest files into the lake, one commit per file. Refused files are recorded, not fatal.
///
/// # Errors
/// Lake and IO failures.
pub fn ingest_paths(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    mut progress: impl FnMut(usize, &Path),
) -> Result<Vec<FileResult>> {
    let mut results = Vec::new();
    for (i, path) in files.iter().enumerate() {
        progress(i, path);
        let fate = ingest_file(lake, &Source::Path(path), feed, campaign, profiles, now)?;
        results.push(match fate {
            Fate::Ingested { report, commit, .. } => FileResult {
                path: path.display().to_string(),
                report: Some(report),
                commit: Some(commit),
                refused: None,
            },
            Fate::Refused { reason } => FileResult {
                path: path.display().to_string(),
                report: None,
                commit: None,
                refused: Some(reason),
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
        rejects: &out.rejects,
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

/// A partition a commit would replace that holds rows of regions outside the allowed set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForeignPartition {
    /// Partition path, relative to the lake root.
    pub partition: String,
    /// The foreign regions found in it.
    pub regions: Vec<String>,
}

/// Partition values of each row for the table's partition keys, as `key=value` path segments.
fn row_partitions(table: &str, rows: &DataFrame) -> Result<BTreeSet<Vec<String>>> {
    let keys = partition_keys(table);
    if keys.is_empty() || rows.height() == 0 {
        return Ok(BTreeSet::new());
    }
    let exprs: Vec<Expr> = keys
        .iter()
        .map(|key| {
            let expr = match key {
                PartitionKey::Column(c) => col(*c).cast(DataType::String),
                PartitionKey::Year(c) => col(*c).dt().year().cast(DataType::String),
                PartitionKey::Month(c) => col(*c).dt().month().cast(DataType::String),
            };
            expr.alias(key.key())
        })
        .collect();
    let frame = rows
        .clone()
        .lazy()
        .select(exprs)
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    let mut out = BTreeSet::new();
    for i in 0..frame.height() {
        let mut segs = Vec::with_capacity(keys.len());
        for key in keys {
            let value = frame.column(key.key())?.str()?.get(i).unwrap_or("__null__");
            segs.push(format!("{}={value}", key.key()));
        }
        out.insert(segs);
    }
    Ok(out)
}

/// Which partitions a commit of `rows` into `table` would replace that hold rows of regions other than
/// `allowed` (from an earlier file). Payment partitions are per institution × month, not per region,
/// so a region-scoped upload must not replace one that also holds another region's rows.
///
/// # Errors
/// Lake or Parquet failures.
pub fn foreign_rows_in_replaced_partitions(
    lake: &Lake,
    table: &str,
    rows: &DataFrame,
    sha256: &str,
    allowed: &dyn Fn(&str) -> bool,
) -> Result<Vec<ForeignPartition>> {
    let wanted = row_partitions(table, rows)?;
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let manifest = lake.manifest()?;
    let region_in_path = partition_keys(table)
        .iter()
        .any(|k| matches!(k, PartitionKey::Column("region_code")));
    let mut out = Vec::new();
    for (path, parts) in lake.files(table)? {
        let segs: Vec<String> = partition_keys(table)
            .iter()
            .map(|k| {
                format!(
                    "{}={}",
                    k.key(),
                    parts.get(k.key()).map_or("", String::as_str)
                )
            })
            .collect();
        if !wanted.contains(&segs) {
            continue;
        }
        let rel = format!("{table}/{}/data.parquet", segs.join("/"));
        if manifest
            .partitions
            .get(&rel)
            .is_some_and(|p| p.source_sha256 == sha256)
        {
            continue;
        }
        let regions: BTreeSet<String> = if region_in_path {
            parts.get("region_code").cloned().into_iter().collect()
        } else {
            let frame = lake.read_file(&path, &["region_code"])?;
            row_regions(&frame)?.into_keys().collect()
        };
        let foreign: Vec<String> = regions.into_iter().filter(|r| !allowed(r)).collect();
        if !foreign.is_empty() {
            out.push(ForeignPartition {
                partition: rel,
                regions: foreign,
            });
        }
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
        let fate = ingest_file(
            &lake,
            &bytes_of("a.csv", &bytes),
            None,
            &campaign,
            &Profiles::default(),
            "t1",
        )
        .unwrap();
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
        let again = ingest_file(
            &lake,
            &bytes_of("a.csv", &bytes),
            None,
            &campaign,
            &Profiles::default(),
            "t2",
        )
        .unwrap();
        assert!(matches!(again, Fate::Ingested { commit, .. } if commit.unchanged));
        let refused = ingest_file(
            &lake,
            &bytes_of("b.csv", b"x,y\n1,2\n"),
            None,
            &campaign,
            &Profiles::default(),
            "t3",
        )
        .unwrap();
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
        let b = activities("330000", 1);
        let p2 = prepare(&lake, &bytes_of("b.csv", &b), None, &campaign, &none)
            .unwrap()
            .unwrap();
        let foreign = foreign_rows_in_replaced_partitions(
            &lake,
            Feed::Activities.lake_table(),
            &p2.outcome.rows,
            &p2.outcome.report.sha256,
            &|r| r == "110000",
        )
        .unwrap();
        assert_eq!(foreign.len(), 1);
        assert_eq!(foreign[0].regions, ["330000"]);
    }
}
