//! Rewriting a lake of an earlier layout into today's.
//!
//! Until issue 15, `enterprise_sales`, `retail_stats` and `activities` were partitioned by a
//! `region_code=…` folder, and the folder was the only place the region lived. Engines infer a
//! folder key's type from the names they find, so DuckDB read `region_code` as `BIGINT` in a lake
//! holding only numeric regions (`000000` became 0), and pyarrow refuses a column kept both in the
//! file and in a folder. Today the region names the partition's file (`period=2023-09/330000.parquet`)
//! and stays in it as text ([`crate::PartitionKey::File`]). A lake written before is read as it is
//! (the path's values are restored as columns) and rewritten into today's layout by its next commit.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use homeseason_schema::contract::{self, tables};
use polars::prelude::*;

use crate::layout::{PartitionKey, partition_keys};
use crate::manifest::PartitionEntry;
use crate::store::{Lake, io, restore_path_columns, upgrade_v1_names};
use crate::{LakeError, Result};

/// Whether a partition's relative path (`table/k=v/…/name.parquet`) is in `table`'s layout of today:
/// the same folder keys in the same order and, when the layout names files by a column, a file named
/// by its value (not `data.parquet`).
fn in_current_layout(table: &str, rel: &str) -> bool {
    let keys = partition_keys(table);
    let Some(rest) = rel.strip_prefix(table).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    let mut segments: Vec<&str> = rest.split('/').collect();
    let Some(file) = segments.pop() else {
        return false;
    };
    let folders: Vec<&str> = segments
        .iter()
        .map(|s| s.split_once('=').map_or("", |(k, _)| k))
        .collect();
    let want: Vec<&str> = keys
        .iter()
        .filter(|k| k.is_folder())
        .map(|k| k.key())
        .collect();
    let named = keys.iter().any(|k| matches!(k, PartitionKey::File(_)));
    folders == want && (file == "data.parquet") != named
}

/// A frame's columns in its contract's order (the order an ingest writes), any others after.
fn contract_order(table: &str, frame: &DataFrame) -> PolarsResult<DataFrame> {
    let Some(c) = contract::get(table) else {
        return Ok(frame.clone());
    };
    let mut names: Vec<PlSmallStr> = c
        .fields
        .iter()
        .filter(|f| frame.column(&f.name).is_ok())
        .map(|f| f.name.as_str().into())
        .collect();
    for n in frame.get_column_names_owned() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    frame.select(names)
}

impl Lake {
    /// Bring a lake of an older form into the commit-pointer form ([`crate::snapshot`]): every
    /// table that is a link straight to its snapshot (`<root>/t -> .snapshots/t/000042`) or still
    /// a real folder gets its stable link (`<root>/t -> .current/t`) and a place in a new lake
    /// snapshot — the same snapshot for a linked table, a snapshot of hard links to its files for a
    /// folder. One journaled step of its own, before the commit that needs it, that changes
    /// nothing a reader sees: the commit pointer moves first (to a lake snapshot naming what every
    /// table shows now), then each table's link is replaced by its stable one. The caller holds
    /// the lock and no journal is pending. Returns the tables converted (none for a lake already in
    /// this form).
    ///
    /// # Errors
    /// IO failures (the lake is left as it was, or with a journal the next writer finishes).
    pub(crate) fn migrate_links(&self) -> Result<Vec<String>> {
        let Some(renames) = self.prepare_link_migration()? else {
            return Ok(Vec::new());
        };
        let tables = renames
            .iter()
            .filter(|(_, rel)| rel != crate::snapshot::CURRENT_LINK)
            .map(|(_, rel)| rel.clone())
            .collect();
        self.apply_journaled(&renames)?;
        Ok(tables)
    }

    /// The renames of [`Lake::migrate_links`] (the staged commit pointer first, then one staged
    /// stable link per table), with the snapshots they need built; `None` when nothing is to
    /// convert. Nothing a reader sees changes here.
    pub(crate) fn prepare_link_migration(&self) -> Result<Option<Vec<(PathBuf, String)>>> {
        let mut members: BTreeMap<String, u64> = match self.current_lake()? {
            Some(l) => self.lake_members(l)?,
            None => BTreeMap::new(),
        };
        let mut convert: Vec<String> = Vec::new();
        let root = self.root().to_owned();
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&root)
            .map_err(io("list", &root))?
            .filter_map(std::result::Result::ok)
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if !crate::snapshot::is_snapshotted(&name) || !crate::is_safe_relative_path(&name) {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let text = std::fs::read_link(e.path()).map_err(io("read link", &e.path()))?;
                if crate::snapshot::is_stable_link(&name, &text) {
                    continue;
                }
            } else if !ft.is_dir() {
                continue;
            }
            // A link straight to a snapshot (refused by `table_base` if it leads elsewhere), or a
            // folder: hard-linked into a snapshot of its own.
            let n = match self.table_base(&name)? {
                Some(crate::snapshot::TableBase::Snapshot { n, .. }) => n,
                _ => self.build_snapshot(&name, &[], &std::collections::BTreeSet::new(), false)?,
            };
            members.insert(name.clone(), n);
            convert.push(name);
        }
        if convert.is_empty() {
            return Ok(None);
        }
        let pointer = self.build_lake_snapshot(&BTreeMap::new(), Some(members))?;
        let mut renames = vec![(pointer, crate::snapshot::CURRENT_LINK.to_owned())];
        for table in convert {
            let link = self.stage_name("link");
            crate::snapshot::stable_link(&table, &link)?;
            renames.push((link, table));
        }
        Ok(Some(renames))
    }

    /// Rewrite every table still holding partitions of an earlier layout (`region_code=330000/…`)
    /// into today's ([`crate::partition_keys`]): each file is read with its path's values restored,
    /// split into today's partitions (the region's rows keep their region as text in the file) and
    /// the table is rebuilt whole, with the manifest's partition entries moved to the new paths
    /// (versions, sources and row counts kept; each file's `partitions` and `superseded` follow).
    /// All of it is one journaled commit: a crash leaves the old lake or the migrated one, and a
    /// reader sees one of the two whole. The caller holds the lock; a commit and a range
    /// replacement call this first. Returns the tables rewritten (none for a lake already in today's
    /// layout).
    ///
    /// # Errors
    /// IO, Parquet or manifest failures (the lake is left as it was).
    pub(crate) fn migrate_layout(&self, now: &str) -> Result<Vec<String>> {
        let mut migrated: Vec<String> = Vec::new();
        let mut staged: Vec<(PathBuf, String)> = Vec::new();
        // Old relative path → the new ones its rows went to; new path → its rows.
        let mut moved: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut rows_of: BTreeMap<String, usize> = BTreeMap::new();
        let unstage = |staged: &[(PathBuf, String)]| {
            for (tmp, _) in staged {
                let _ = std::fs::remove_file(tmp);
            }
        };
        for table in tables::ALL {
            let keys = partition_keys(table);
            if !keys.iter().any(|k| matches!(k, PartitionKey::File(_))) {
                continue;
            }
            let files = self.files(table)?;
            let rels: Vec<String> = files
                .iter()
                .map(|(p, _)| self.partition_rel(p).unwrap_or_default())
                .collect();
            if rels.iter().all(|r| in_current_layout(table, r)) {
                continue;
            }
            let mut parts: BTreeMap<String, Vec<DataFrame>> = BTreeMap::new();
            for ((path, values), rel) in files.iter().zip(&rels) {
                self.resolve(rel)?;
                let perr = |source| LakeError::Polars {
                    path: rel.clone(),
                    source,
                };
                let file = File::open(path).map_err(io("open", path))?;
                let frame = ParquetReader::new(file).finish().map_err(perr)?;
                let mut frame = upgrade_v1_names(table, frame);
                restore_path_columns(&mut frame, values).map_err(perr)?;
                let mut to = Vec::new();
                for (new_rel, rows) in Self::partitions(table, &frame)? {
                    to.push(new_rel.clone());
                    parts.entry(new_rel).or_default().push(rows);
                }
                moved.insert(rel.clone(), to);
            }
            for (new_rel, frames) in parts {
                let frame = if frames.len() == 1 {
                    frames.into_iter().next().unwrap_or_default()
                } else {
                    concat(
                        frames.into_iter().map(DataFrame::lazy).collect::<Vec<_>>(),
                        UnionArgs {
                            diagonal: true,
                            ..UnionArgs::default()
                        },
                    )
                    .and_then(LazyFrame::collect)
                    .map_err(|source| LakeError::Polars {
                        path: new_rel.clone(),
                        source,
                    })?
                };
                let frame = contract_order(table, &frame).map_err(|source| LakeError::Polars {
                    path: new_rel.clone(),
                    source,
                })?;
                rows_of.insert(new_rel.clone(), frame.height());
                let tmp = Self::parquet_bytes(table, &frame)
                    .and_then(|bytes| self.stage(&bytes))
                    .inspect_err(|_| unstage(&staged))?;
                staged.push((tmp, new_rel));
            }
            migrated.push((*table).to_owned());
        }
        if migrated.is_empty() {
            return Ok(migrated);
        }
        let mut manifest = self.manifest().inspect_err(|_| unstage(&staged))?;
        let mut entries: BTreeMap<String, PartitionEntry> = BTreeMap::new();
        for (old, news) in &moved {
            let previous = manifest.partitions.remove(old);
            for new in news {
                let rows = rows_of.get(new).copied().unwrap_or(0);
                match (entries.get_mut(new), &previous) {
                    (Some(e), Some(p)) => {
                        e.version = e.version.max(p.version);
                        for s in p.sources.iter().chain([&p.source_sha256]) {
                            if !e.sources.contains(s) {
                                e.sources.push(s.clone());
                            }
                        }
                    }
                    (None, Some(p)) => {
                        let mut e = p.clone();
                        e.rows = rows;
                        entries.insert(new.clone(), e);
                    }
                    (_, None) => {
                        let table = new.split('/').next().unwrap_or_default().to_owned();
                        entries.entry(new.clone()).or_insert(PartitionEntry {
                            table,
                            source_sha256: String::new(),
                            version: 1,
                            rows,
                            written_at: now.to_owned(),
                            sources: Vec::new(),
                        });
                    }
                }
            }
        }
        manifest.partitions.extend(entries);
        let map = |list: &mut Vec<String>| {
            let mut out: Vec<String> = Vec::new();
            for p in list.iter() {
                for n in moved.get(p).map_or_else(|| vec![p.clone()], Clone::clone) {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
            *list = out;
        };
        for f in &mut manifest.files {
            map(&mut f.partitions);
            map(&mut f.superseded);
        }
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| LakeError::Manifest {
            path: self.root().join("_manifest.json"),
            reason: e.to_string(),
        });
        let tmp = bytes
            .and_then(|b| self.stage(&b))
            .inspect_err(|_| unstage(&staged))?;
        staged.push((tmp, "_manifest.json".to_owned()));
        let whole: Vec<&str> = migrated.iter().map(String::as_str).collect();
        self.install_all_with(&staged, &whole)?;
        Ok(migrated)
    }
}

#[cfg(test)]
mod tests {
    use super::in_current_layout;

    #[test]
    fn paths_of_the_earlier_layout_are_told_from_todays() {
        for (table, rel, today) in [
            (
                "enterprise_sales",
                "enterprise_sales/period=2023-09/330000.parquet",
                true,
            ),
            (
                "enterprise_sales",
                "enterprise_sales/region_code=330000/period=2023-09/data.parquet",
                false,
            ),
            (
                "enterprise_sales",
                "enterprise_sales/period=2023-09/data.parquet",
                false,
            ),
            (
                "activities",
                "activities/year=2023/month=9/110000.parquet",
                true,
            ),
            (
                "activities",
                "activities/region_code=110000/year=2023/month=9/data.parquet",
                false,
            ),
            (
                "payment_daily",
                "payment_daily/institution=acq_a/year=2023/month=9/data.parquet",
                true,
            ),
        ] {
            assert_eq!(in_current_layout(table, rel), today, "{rel}");
        }
    }
}
