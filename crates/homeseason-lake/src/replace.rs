//! Removing a key range: the one explicit way rows leave the lake (`homeseason ingest --replace`).
//!
//! Files are increments: a plain ingest never removes a row. To correct a day, a period or an
//! institution's month, the range is removed first (`--replace`, with `--dry-run` to see what would
//! go), then the corrected file is ingested. The removal is one journaled commit (partitions, the
//! txn index of the removed days and the manifest together) and is audited in the manifest's
//! `replacements`.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use chrono::NaiveDate;
use homeseason_schema::contract::tables;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layout::is_safe_partition_value;
use crate::manifest::PartitionEntry;
use crate::store::{Lake, io, write_key};
use crate::txn_index::{ID_RECORD, ID_VALUE_EXT, ID_VALUE_RECORD, PAIR_RECORD, TXN_INDEX_DIR};
use crate::{LakeError, Result};

/// A key range of one input table: exact values of key columns and, for `payment_daily`, a date
/// range. Written `TABLE,column=value,…[,date=FROM..TO]`, e.g.
/// `payment_daily,institution=wallet_b,date=2023-09-10..2023-09-10` or
/// `enterprise_sales,region_code=330000,period=2023-09` (a key column is matched whether it lives in the
/// file or in the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceRange {
    /// Lake table.
    pub table: String,
    /// Key column = value, all of which a row must match.
    pub equals: Vec<(String, String)>,
    /// Inclusive date range of the `date` column (`payment_daily` only).
    pub dates: Option<(NaiveDate, NaiveDate)>,
}

impl ReplaceRange {
    /// Parse `TABLE,column=value,…[,date=FROM..TO]`.
    ///
    /// # Errors
    /// A message (English and Chinese) naming what is wrong.
    pub fn parse(spec: &str) -> std::result::Result<ReplaceRange, String> {
        let mut parts = spec.split(',').map(str::trim);
        let table = parts.next().unwrap_or_default().to_owned();
        let key = write_key(&table);
        if key.is_empty() {
            return Err(format!(
                "--replace {spec:?}: {table:?} is not an input table (payment_daily, enterprise_sales, \
                 retail_stats, activities, subsidies) / 不是可替换的输入表"
            ));
        }
        let mut equals = Vec::new();
        let mut dates = None;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                return Err(format!(
                    "--replace {spec:?}: {p:?} is not column=value / 应为 列=值"
                ));
            };
            if k == "date" && table == tables::PAYMENT_DAILY {
                let (from, to) = v.split_once("..").unwrap_or((v, v));
                let d = |s: &str| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map_err(|_| format!("--replace {spec:?}: {s:?} is not a date YYYY-MM-DD / 日期格式应为 YYYY-MM-DD"))
                };
                let (from, to) = (d(from)?, d(to)?);
                if from > to {
                    return Err(format!(
                        "--replace {spec:?}: {from} is after {to} / 起始日期晚于结束日期"
                    ));
                }
                dates = Some((from, to));
            } else if key.contains(&k) {
                if !is_safe_partition_value(v) {
                    return Err(format!(
                        "--replace {spec:?}: {v:?} is not a key value / 键值不合法"
                    ));
                }
                equals.push((k.to_owned(), v.to_owned()));
            } else {
                return Err(format!(
                    "--replace {spec:?}: {k:?} is not a key column of {table} ({}) / 不是该表的键列",
                    key.join(", ")
                ));
            }
        }
        if equals.is_empty() && dates.is_none() {
            return Err(format!(
                "--replace {spec:?}: name at least one key value; a whole table is never replaced / 至少指定一个键值"
            ));
        }
        Ok(ReplaceRange {
            table,
            equals,
            dates,
        })
    }

    fn mask(&self) -> Expr {
        let mut m = lit(true);
        for (k, v) in &self.equals {
            m = m.and(col(k.as_str()).cast(DataType::String).eq(lit(v.as_str())));
        }
        if let Some((from, to)) = self.dates {
            m = m.and(col("date").gt_eq(lit(from)).and(col("date").lt_eq(lit(to))));
        }
        m
    }

    fn institution(&self) -> Option<&str> {
        self.equals
            .iter()
            .find(|(k, _)| k == "institution")
            .map(|(_, v)| v.as_str())
    }
}

/// One removal as the manifest keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplacementEntry {
    /// When (the caller's clock).
    pub at: String,
    /// The range removed.
    pub range: ReplaceRange,
    /// Partitions changed, with the rows removed from each.
    pub partitions: Vec<(String, usize)>,
    /// Rows removed.
    pub rows: usize,
    /// Transaction ids forgotten (so a corrected file's transactions count again).
    pub txn_ids: usize,
}

/// What a removal did, or would do (`dry_run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaceSummary {
    /// Nothing was changed: this is what would be removed.
    pub dry_run: bool,
    /// The removal.
    pub entry: ReplacementEntry,
}

impl Lake {
    /// Remove every row of `range` (or, with `dry_run`, count them), with the transaction ids of
    /// the removed days. One journaled commit, audited in the manifest.
    ///
    /// # Errors
    /// IO, Parquet or manifest failures (the lake is left as it was).
    pub fn replace_range(
        &self,
        range: &ReplaceRange,
        dry_run: bool,
        now: &str,
    ) -> Result<ReplaceSummary> {
        let _lock = self.lock()?;
        if !dry_run {
            // A lake of an earlier layout is rewritten into today's first (its own journaled
            // commit), so the removal is written in today's layout.
            self.migrate_layout(now)?;
        }
        let mut manifest = self.manifest()?;
        let table = range.table.as_str();
        let mut changed: Vec<(String, DataFrame, usize)> = Vec::new();
        // `payment_area_daily` holds the same transactions by area: their days go with them.
        let mut area_changed: Vec<(String, DataFrame, usize)> = Vec::new();
        let mut files: Vec<(&str, PathBuf, BTreeMap<String, String>)> = self
            .files(table)?
            .into_iter()
            .map(|(p, k)| (table, p, k))
            .collect();
        if table == tables::PAYMENT_DAILY {
            files.extend(
                self.files(tables::PAYMENT_AREA_DAILY)?
                    .into_iter()
                    .map(|(p, k)| (tables::PAYMENT_AREA_DAILY, p, k)),
            );
        }
        for (part_table, path, parts) in files {
            let table = part_table;
            // Prune by the path's own values.
            if range
                .equals
                .iter()
                .any(|(k, v)| parts.get(k).is_some_and(|p| p != v))
            {
                continue;
            }
            // The partition's relative path (as the manifest names it), checked under the root.
            let rel = self.partition_rel(&path).unwrap_or_default();
            self.resolve(&rel)?;
            let file = fs::File::open(&path).map_err(io("open", &path))?;
            let frame = ParquetReader::new(file)
                .finish()
                .map(|f| crate::store::upgrade_v1_names(table, f))
                .map_err(|source| LakeError::Polars {
                    path: rel.clone(),
                    source,
                })?;
            let perr = |source| LakeError::Polars {
                path: rel.clone(),
                source,
            };
            let mut frame = frame;
            let path_cols = crate::store::restore_path_columns(&mut frame, &parts).map_err(perr)?;
            let lf = frame.lazy();
            let removed = lf
                .clone()
                .filter(range.mask())
                .collect()
                .map_err(perr)?
                .height();
            if removed == 0 {
                continue;
            }
            let kept = lf
                .filter(range.mask().not())
                .collect()
                .map_err(perr)?
                .drop_many(path_cols.iter().map(String::as_str));
            if table == tables::PAYMENT_AREA_DAILY {
                area_changed.push((rel, kept, removed));
            } else {
                changed.push((rel, kept, removed));
            }
        }
        // Transaction ids of the removed days (payment_daily built from transactions).
        let mut index_files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut txn_ids = 0;
        if table == tables::PAYMENT_DAILY {
            let base = self.root().join(TXN_INDEX_DIR);
            if let Ok(insts) = fs::read_dir(&base) {
                for inst in insts.filter_map(std::result::Result::ok) {
                    let name = inst.file_name().to_string_lossy().into_owned();
                    let Some(code) = name.strip_prefix("institution=") else {
                        continue;
                    };
                    if range.institution().is_some_and(|i| i != code) {
                        continue;
                    }
                    for file in walk_files(&inst.path()) {
                        let rel = file
                            .strip_prefix(self.root())
                            .map(|r| r.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let record = if rel.ends_with(".id128") {
                            ID_RECORD
                        } else if rel
                            .rsplit_once('.')
                            .is_some_and(|(_, ext)| ext == ID_VALUE_EXT)
                        {
                            ID_VALUE_RECORD
                        } else if rel.ends_with(".pairs") || rel.ends_with(".apairs") {
                            PAIR_RECORD
                        } else {
                            continue;
                        };
                        let path = self.resolve(&rel)?;
                        let bytes = fs::read(&path).map_err(io("read", &path))?;
                        let mut kept = Vec::with_capacity(bytes.len());
                        let mut dropped = 0;
                        for rec in bytes.chunks_exact(record) {
                            let mut d = [0; 4];
                            d.copy_from_slice(&rec[record - 4..]);
                            let day = i32::from_le_bytes(d);
                            let in_range = range.dates.is_none_or(|(from, to)| {
                                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                                let date = epoch + chrono::Duration::days(i64::from(day));
                                date >= from && date <= to
                            });
                            if in_range {
                                dropped += 1;
                            } else {
                                kept.extend_from_slice(rec);
                            }
                        }
                        if dropped > 0 {
                            if record != PAIR_RECORD {
                                txn_ids += dropped;
                            }
                            index_files.push((rel, kept));
                        }
                    }
                }
            }
        }
        let entry = ReplacementEntry {
            at: now.to_owned(),
            range: range.clone(),
            partitions: changed.iter().map(|(p, _, n)| (p.clone(), *n)).collect(),
            rows: changed.iter().map(|(_, _, n)| n).sum(),
            txn_ids,
        };
        if dry_run {
            return Ok(ReplaceSummary {
                dry_run: true,
                entry,
            });
        }
        let mut staged: Vec<(PathBuf, String)> = Vec::new();
        for (rel, kept, _) in changed.iter().chain(&area_changed) {
            let table = rel.split('/').next().unwrap_or(table);
            let bytes = Lake::parquet_bytes(table, kept)?;
            staged.push((self.stage(&bytes)?, rel.clone()));
            // The files whose rows were removed are no longer whole in the lake: sending one of
            // them again is not a duplicate (it re-adds what was removed).
            // (An area partition is not one of a file's partitions in the manifest: the file's
            // `payment_daily` partitions of the same days are marked.)
            let sources = manifest
                .partitions
                .get(rel)
                .filter(|_| table != tables::PAYMENT_AREA_DAILY)
                .map(|p| {
                    let mut s = p.sources.clone();
                    s.push(p.source_sha256.clone());
                    s
                })
                .unwrap_or_default();
            for f in manifest
                .files
                .iter_mut()
                .filter(|f| sources.contains(&f.sha256))
            {
                if !f.superseded.contains(rel) {
                    f.superseded.push(rel.clone());
                }
            }
            if let Some(p) = manifest.partitions.get_mut(rel) {
                p.rows = kept.height();
                p.version += 1;
                p.written_at = now.to_owned();
            } else {
                manifest.partitions.insert(
                    rel.clone(),
                    PartitionEntry {
                        table: table.to_owned(),
                        source_sha256: String::new(),
                        version: 1,
                        rows: kept.height(),
                        written_at: now.to_owned(),
                        sources: Vec::new(),
                    },
                );
            }
        }
        for (rel, bytes) in &index_files {
            staged.push((self.stage(bytes)?, rel.clone()));
        }
        manifest.replacements.push(entry.clone());
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| LakeError::Manifest {
            path: self.root().join("_manifest.json"),
            reason: e.to_string(),
        })?;
        staged.push((self.stage(&bytes)?, "_manifest.json".to_owned()));
        self.install_all(&staged)?;
        Ok(ReplaceSummary {
            dry_run: false,
            entry,
        })
    }
}

/// Every file under `dir` (no symlinks followed).
fn walk_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, |e, t| {
        if t.is_file() {
            out.push(e.path());
        }
    });
    out.sort();
    out
}

/// Visit every entry under `dir` that is not a folder, with its type, descending into folders
/// (a symbolic link is visited, not followed). Unreadable folders and entries are skipped.
pub(crate) fn walk(dir: &std::path::Path, mut visit: impl FnMut(&fs::DirEntry, fs::FileType)) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else {
                visit(&e, t);
            }
        }
    }
}
