//! One file's bytes into the lake: the single path shared by `homeseason ingest` and the server.
//!
//! [`ingest_file`] is what the CLI calls for each file: [`prepare`] (feed detection and
//! [`homeseason_ingest::ingest_bytes`]), then [`commit_prepared`] into the lake, or
//! [`record_refusal`] when the file is refused whole. The server calls the same three functions, with
//! its scope checks ([`row_regions`], [`foreign_rows_in_replaced_partitions`]) between preparing and
//! committing.

use std::collections::{BTreeMap, BTreeSet};

use homeseason_ingest::{Feed, FileOutcome, FileReport, IngestError, detect_feed, ingest_bytes};
use homeseason_lake::{Commit, CommitSummary, Lake, PartitionKey, RefusedEntry, partition_keys};
use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::error::Result;

/// A file read and validated, not yet committed.
#[derive(Debug)]
pub struct Prepared {
    /// The feed (given or recognised from the header).
    pub feed: Feed,
    /// Rows, rejects and counts.
    pub outcome: FileOutcome,
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

/// Read and validate a file: the feed given, or the one recognised from its header.
///
/// # Errors
/// [`IngestError`] when the whole file must be refused.
pub fn prepare(
    name: &str,
    bytes: &[u8],
    feed: Option<Feed>,
    campaign: &Campaign,
) -> Result<Prepared, IngestError> {
    let feed = match feed {
        Some(f) => f,
        None => detect_feed(name, bytes)?,
    };
    let outcome = ingest_bytes(feed, name, bytes, campaign)?;
    Ok(Prepared { feed, outcome })
}

/// Commit a prepared file's rows and rejects into the lake (one atomic commit under the lake lock).
///
/// # Errors
/// Lake failures.
pub fn commit_prepared(
    lake: &Lake,
    name: &str,
    prepared: &Prepared,
    now: &str,
) -> Result<CommitSummary> {
    let out = &prepared.outcome;
    let report = serde_json::to_value(&out.report).map_err(|e| crate::ServerError::Store {
        path: lake.root().join("_manifest.json"),
        reason: e.to_string(),
    })?;
    Ok(lake.commit(&Commit {
        table: prepared.feed.lake_table(),
        feed: prepared.feed.id(),
        file: name,
        sha256: &out.report.sha256,
        rows: &out.rows,
        rejects: &out.rejects,
        report,
        now,
    })?)
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

/// Ingest one file's bytes: prepare, then commit or record the refusal. `feed` is the feed the caller
/// named (`None`: recognise it from the header); the refusal names it unless the feed was unknown.
///
/// # Errors
/// Lake failures only: a refused file is a [`Fate::Refused`], not an error.
pub fn ingest_file(
    lake: &Lake,
    name: &str,
    bytes: &[u8],
    feed: Option<Feed>,
    campaign: &Campaign,
    now: &str,
) -> Result<Fate> {
    match prepare(name, bytes, feed, campaign) {
        Ok(prepared) => {
            let commit = commit_prepared(lake, name, &prepared, now)?;
            let Prepared { feed, outcome } = prepared;
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
            record_refusal(
                lake,
                name,
                &homeseason_ingest::source::sha256_hex(bytes),
                feed_id,
                &reason,
                now,
            )?;
            Ok(Fate::Refused { reason })
        }
    }
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
            let file = std::fs::File::open(&path).map_err(crate::error::io_err("open", &path))?;
            let frame = ParquetReader::new(file)
                .with_columns(Some(vec!["region_code".into()]))
                .finish()?;
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

    const HEADER: &str = "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站\n";

    fn activities(region: &str, n: usize) -> Vec<u8> {
        let mut s = HEADER.to_owned();
        for i in 1..=n {
            s.push_str(&format!(
                "{region}-2023-{i:03},{region},焕新活动{i},直播电商节,2023-09-10,2023-09-12,体育馆,商务厅,10,12,绿色,线下,否\n"
            ));
        }
        s.into_bytes()
    }

    #[test]
    fn ingest_then_unchanged_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let campaign = Campaign::default_2023();
        let bytes = activities("330000", 3);
        let fate = ingest_file(&lake, "a.csv", &bytes, None, &campaign, "t1").unwrap();
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
        let again = ingest_file(&lake, "a.csv", &bytes, None, &campaign, "t2").unwrap();
        assert!(matches!(again, Fate::Ingested { commit, .. } if commit.unchanged));
        let refused = ingest_file(&lake, "b.csv", b"x,y\n1,2\n", None, &campaign, "t3").unwrap();
        assert!(matches!(refused, Fate::Refused { .. }));
        assert_eq!(lake.manifest().unwrap().refused.len(), 1);
    }

    #[test]
    fn regions_and_partitions() {
        let campaign = Campaign::default_2023();
        let p = prepare("a.csv", &activities("330000", 2), None, &campaign).unwrap();
        let regions = row_regions(&p.outcome.rows).unwrap();
        assert_eq!(regions.get("330000"), Some(&2));
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        commit_prepared(&lake, "a.csv", &p, "t").unwrap();
        let p2 = prepare("b.csv", &activities("330000", 1), None, &campaign).unwrap();
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
