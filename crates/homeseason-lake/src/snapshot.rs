//! Table snapshots: what a reader globbing a table's folder sees flips from one commit's state to the
//! next at once.
//!
//! ```text
//! <root>/payment_daily -> .snapshots/payment_daily/000042        a symbolic link (relative)
//! <root>/.snapshots/payment_daily/000042/v000042/institution=acq_a/year=2023/month=9/data.parquet
//! ```
//! A table with partitions is a symbolic link to its current snapshot. A commit builds a new
//! snapshot of each table it changes — every partition it does not change hard-linked from the
//! current snapshot, every changed one written new — and switches the table by renaming a new link
//! over the old one: one atomic `rename`. Every path below the link carries the snapshot's own
//! folder (`v000042`), which no other snapshot has: a reader whose listing or opening straddles a
//! switch re-resolves the link, finds no `v000042` in the new snapshot and fails ("file not
//! found", retried) instead of combining files of two snapshots. Hive readers ignore the folder (it
//! has no `=`). Old snapshots stay for a grace period (the newest [`Retention::keep`] and any
//! superseded less than [`Retention::grace`] ago) for readers that resolved the link themselves
//! (homeseason's own readers do, [`Lake::files`]); a later commit removes them.
//!
//! A table written by an older homeseason (a real folder) is read as it is and becomes a link on its
//! first commit: the folder moves into `.snapshots/<table>/legacy-<secs>` and the link takes its place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::layout::partition_keys;
use crate::store::{Lake, io, sync_dir};
use crate::{LakeError, Result};

/// The folder of the snapshots under the lake root.
pub const SNAPSHOTS_DIR: &str = ".snapshots";

/// How long superseded snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Superseded snapshots always kept per table (the newest ones).
    pub keep: usize,
    /// A superseded snapshot younger than this (since it was superseded) is kept.
    pub grace: Duration,
}

impl Default for Retention {
    /// 2 previous snapshots and 10 minutes, or `HOMESEASON_SNAPSHOT_KEEP` /
    /// `HOMESEASON_SNAPSHOT_GRACE_SECS`.
    fn default() -> Self {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Retention {
            keep: env("HOMESEASON_SNAPSHOT_KEEP")
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(2),
            grace: Duration::from_secs(env("HOMESEASON_SNAPSHOT_GRACE_SECS").unwrap_or(600)),
        }
    }
}

/// Whether a table is kept as snapshots (every table with partitions; a one-file table is replaced
/// by one `rename` of its file, already atomic for a reader).
#[must_use]
pub fn is_snapshotted(table: &str) -> bool {
    !partition_keys(table).is_empty()
}

/// Where a table's files are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TableBase {
    /// Snapshot `n`: its files are under `dir` (`.snapshots/<table>/<n>/v<n>`).
    Snapshot { n: u64, dir: PathBuf },
    /// A plain folder (an unpartitioned table, or a lake written before snapshots).
    Folder(PathBuf),
}

impl TableBase {
    pub(crate) fn dir(&self) -> &Path {
        match self {
            TableBase::Snapshot { dir, .. } | TableBase::Folder(dir) => dir,
        }
    }
}

fn snapshot_name(n: u64) -> String {
    format!("{n:06}")
}

fn inner_name(n: u64) -> String {
    format!("v{n:06}")
}

/// The link text of snapshot `n` of `table` (relative to the lake root).
fn link_text(table: &str, n: u64) -> String {
    format!("{SNAPSHOTS_DIR}/{table}/{}", snapshot_name(n))
}

/// The snapshot a link text names, when it is exactly `.snapshots/<table>/<digits>`.
fn parse_link(table: &str, text: &Path) -> Option<u64> {
    let text = text.to_str()?;
    let rest = text.strip_prefix(SNAPSHOTS_DIR)?.strip_prefix('/')?;
    let rest = rest.strip_prefix(table)?.strip_prefix('/')?;
    if rest.is_empty() || rest.len() > 12 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The one `v<digits>` folder a plain table folder holds when it is a dereferenced copy of a
/// snapshot (nothing else in it), else `None`.
fn dereferenced_snapshot(folder: &Path) -> Option<PathBuf> {
    let mut entries = fs::read_dir(folder).ok()?;
    let only = entries.next()?.ok()?;
    if entries.next().is_some() || !only.file_type().ok()?.is_dir() {
        return None;
    }
    let name = only.file_name();
    let name = name.to_str()?;
    let inner =
        name.len() > 1 && name.starts_with('v') && name[1..].bytes().all(|b| b.is_ascii_digit());
    inner.then(|| only.path())
}

fn is_plain_table_name(table: &str) -> bool {
    !table.is_empty()
        && table.len() <= 64
        && table
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Lake {
    /// Where `table`'s files are now, `None` when the lake has no such table. A link that does not
    /// name a snapshot of its own table (`.snapshots/<table>/<digits>`) is refused: nothing is read
    /// through it.
    pub(crate) fn table_base(&self, table: &str) -> Result<Option<TableBase>> {
        if !is_plain_table_name(table) {
            return Err(LakeError::Contract {
                table: table.to_owned(),
                reason: "not a table name 表名不合法".into(),
            });
        }
        if homeseason_schema::contract::get(table)
            .is_some_and(|t| t.kind == homeseason_schema::contract::TableKind::Dashboard)
        {
            // A dashboard copy: one plain folder under `dashboard/`, never a link.
            let dir = self
                .root()
                .join(homeseason_schema::contract::lake_dir(table));
            return Ok(fs::symlink_metadata(&dir)
                .is_ok_and(|m| m.is_dir())
                .then_some(TableBase::Folder(dir)));
        }
        let public = self.root().join(table);
        let meta = match fs::symlink_metadata(&public) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("inspect", &public)(e)),
        };
        if meta.file_type().is_symlink() {
            let text = fs::read_link(&public).map_err(io("read link", &public))?;
            let n = parse_link(table, &text).ok_or_else(|| LakeError::Contract {
                table: table.to_owned(),
                reason: format!(
                    "{} points to {}, not into the lake's snapshot area: refused / 符号链接指向快照区之外，已拒绝",
                    public.display(),
                    text.display()
                ),
            })?;
            let dir = self
                .root()
                .join(SNAPSHOTS_DIR)
                .join(table)
                .join(snapshot_name(n))
                .join(inner_name(n));
            return Ok(Some(TableBase::Snapshot { n, dir }));
        }
        if meta.is_dir() {
            // A snapshot copied with its link dereferenced (`cp -rL`, a copy tool that follows
            // links): the table folder holds the snapshot's one `v<digits>` folder.
            Ok(Some(TableBase::Folder(
                dereferenced_snapshot(&public).unwrap_or(public),
            )))
        } else {
            Ok(None)
        }
    }

    /// The file a relative partition path (`payment_daily/institution=…/data.parquet`, as the
    /// manifest names it) is stored in now: inside the table's current snapshot, or under the root
    /// for a plain folder. Checked to stay under the root first ([`Lake::resolve`]).
    ///
    /// # Errors
    /// A path that could leave the root; a table link that leaves the snapshot area.
    pub fn partition_path(&self, rel: &str) -> Result<PathBuf> {
        let plain = self.resolve(rel)?;
        let Some((table, rest)) = rel.split_once('/') else {
            return Ok(plain);
        };
        if !is_snapshotted(table) {
            return Ok(plain);
        }
        match self.table_base(table)? {
            Some(TableBase::Snapshot { dir, .. } | TableBase::Folder(dir)) => Ok(dir.join(rest)),
            None => Ok(plain),
        }
    }

    /// The relative partition path (as the manifest names it) of a file of the lake, whatever
    /// snapshot or folder it is in: `<root>/.snapshots/t/000042/v000042/k=v/data.parquet` and
    /// `<root>/t/v000042/k=v/data.parquet` are both `t/k=v/data.parquet`.
    #[must_use]
    pub fn partition_rel(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root()).ok()?;
        let segs: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let is_inner = |s: &str| {
            s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
        };
        let logical: Vec<&str> = match segs.first().map(String::as_str) {
            Some(SNAPSHOTS_DIR) if segs.len() > 4 && is_inner(&segs[3]) => {
                std::iter::once(&segs[1])
                    .chain(&segs[4..])
                    .map(String::as_str)
                    .collect()
            }
            Some(_) if segs.len() > 2 && is_inner(&segs[1]) => std::iter::once(&segs[0])
                .chain(&segs[2..])
                .map(String::as_str)
                .collect(),
            _ => segs.iter().map(String::as_str).collect(),
        };
        Some(logical.join("/"))
    }

    /// Build the next snapshot of `table`: the current one's files (hard links; copies where the
    /// filesystem has none) except `drop`ped partitions and those `put` replaces, then the `put`
    /// files (staged temp files, moved in). With `whole`, nothing of the current snapshot is kept.
    /// Returns the staged link (a temp name in `.tmp`) that makes it current once renamed over
    /// `<root>/<table>`. Nothing a reader sees changes here.
    pub(crate) fn build_snapshot(
        &self,
        table: &str,
        put: &[(PathBuf, String)],
        drop: &BTreeSet<String>,
        whole: bool,
    ) -> Result<PathBuf> {
        let area = self.resolve(&format!("{SNAPSHOTS_DIR}/{table}"))?;
        self.create_dirs(&area)?;
        let next = self.snapshot_numbers(table)?.last().map_or(1, |n| n + 1);
        let outer = area.join(snapshot_name(next));
        let dir = outer.join(inner_name(next));
        let built = (|| -> Result<()> {
            self.create_dirs(&dir)?;
            let replaced: BTreeSet<&str> = put.iter().map(|(_, rel)| rel.as_str()).collect();
            if !whole {
                for (path, _) in self.files(table)? {
                    let Some(rel) = self.partition_rel(&path) else {
                        continue;
                    };
                    if replaced.contains(rel.as_str()) || drop.contains(&rel) {
                        continue;
                    }
                    let to = self.snapshot_target(&dir, table, &rel)?;
                    if let Some(parent) = to.parent() {
                        self.create_dirs(parent)?;
                    }
                    if fs::hard_link(&path, &to).is_err() {
                        fs::copy(&path, &to).map_err(io("copy", &to))?;
                    }
                }
            }
            for (tmp, rel) in put {
                let to = self.snapshot_target(&dir, table, rel)?;
                if let Some(parent) = to.parent() {
                    self.create_dirs(parent)?;
                }
                fs::rename(tmp, &to).map_err(io("rename", &to))?;
            }
            sync_tree(&dir);
            sync_dir(&outer);
            Ok(())
        })();
        if let Err(e) = built {
            let _ = fs::remove_dir_all(&outer);
            return Err(e);
        }
        let link = self.stage_name("link");
        symlink(&link_text(table, next), &link).map_err(io("link", &link))?;
        sync_dir(&self.root().join(".tmp"));
        Ok(link)
    }

    /// The path of partition `rel` of `table` inside a snapshot folder `dir`, checked.
    fn snapshot_target(&self, dir: &Path, table: &str, rel: &str) -> Result<PathBuf> {
        self.resolve(rel)?;
        let rest = rel
            .strip_prefix(table)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| LakeError::Contract {
                table: table.to_owned(),
                reason: format!("{rel:?} is not a partition of {table}"),
            })?;
        Ok(dir.join(rest))
    }

    /// The numbered snapshots of `table` on disk, ascending.
    fn snapshot_numbers(&self, table: &str) -> Result<Vec<u64>> {
        let area = self.resolve(&format!("{SNAPSHOTS_DIR}/{table}"))?;
        let mut out: Vec<u64> = match fs::read_dir(&area) {
            Ok(entries) => entries
                .filter_map(std::result::Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| name.parse::<u64>().ok())
                        .flatten()
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("list", &area)(e)),
        };
        out.sort_unstable();
        Ok(out)
    }

    /// Make a staged link current: rename it over `<root>/<table>`. A table that is still a real
    /// folder (written before snapshots) first moves into `.snapshots/<table>/legacy-<secs>`; a
    /// reader in between finds no table (an error it retries), never a mix. Both steps are
    /// repeatable: a journal replay after a crash between them finishes the switch.
    pub(crate) fn switch_link(&self, link: &Path, table: &str) -> Result<()> {
        let public = self.resolve(table)?;
        if let Ok(meta) = fs::symlink_metadata(&public)
            && meta.is_dir()
        {
            let legacy =
                self.resolve(&format!("{SNAPSHOTS_DIR}/{table}/legacy-{}", unix_secs()))?;
            if let Some(parent) = legacy.parent() {
                self.create_dirs(parent)?;
            }
            fs::rename(&public, &legacy).map_err(io("move the old folder", &public))?;
            if let Some(parent) = legacy.parent() {
                sync_dir(parent);
            }
        }
        fs::rename(link, &public).map_err(io("switch", &public))?;
        sync_dir(self.root());
        Ok(())
    }

    /// Remove what no reader may need any more (the caller holds the lock and no journal is
    /// pending): snapshots newer than the current one (built by a commit that died before its
    /// journal), and superseded snapshots beyond the retention. Best effort.
    pub(crate) fn collect_snapshots(&self) {
        let area = self.root().join(SNAPSHOTS_DIR);
        let Ok(tables) = fs::read_dir(&area) else {
            return;
        };
        let retention = self.retention();
        let now = SystemTime::now();
        for t in tables.filter_map(std::result::Result::ok) {
            let table = t.file_name().to_string_lossy().into_owned();
            if !is_plain_table_name(&table) {
                continue;
            }
            let current = match self.table_base(&table) {
                Ok(Some(TableBase::Snapshot { n, .. })) => Some(n),
                Ok(_) => None,
                Err(_) => continue,
            };
            let Ok(numbers) = self.snapshot_numbers(&table) else {
                continue;
            };
            let dir_of = |n: u64| t.path().join(snapshot_name(n));
            let created = |n: u64| {
                fs::metadata(dir_of(n))
                    .and_then(|m| m.modified())
                    .unwrap_or(now)
            };
            let mut remove: Vec<PathBuf> = Vec::new();
            if let Some(c) = current {
                let older: Vec<u64> = numbers.iter().copied().filter(|n| *n < c).collect();
                for (i, n) in older.iter().enumerate() {
                    let newer_kept = older.len() - i - 1;
                    let successor = older.get(i + 1).copied().unwrap_or(c);
                    let superseded_for = now.duration_since(created(successor)).unwrap_or_default();
                    if newer_kept >= retention.keep && superseded_for >= retention.grace {
                        remove.push(dir_of(*n));
                    }
                }
                remove.extend(numbers.iter().filter(|n| **n > c).map(|n| dir_of(*n)));
            }
            // Folders of the old layout, moved aside when the table became a link.
            if let Ok(entries) = fs::read_dir(t.path()) {
                for e in entries.filter_map(std::result::Result::ok) {
                    let Some(secs) = crate::store::number_after::<u64>(&e, "legacy-") else {
                        continue;
                    };
                    if unix_secs().saturating_sub(secs) >= retention.grace.as_secs() {
                        remove.push(e.path());
                    }
                }
            }
            for dir in remove {
                let _ = fs::remove_dir_all(&dir);
            }
            sync_dir(&t.path());
        }
    }

    /// Check the lake's links and snapshots: every symbolic link in the root names a snapshot of its
    /// own table that exists, and there is no other symbolic link anywhere in the lake (nothing leads
    /// out of the root). Returns the problems found.
    #[must_use]
    pub fn check_layout(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let Ok(entries) = fs::read_dir(self.root()) else {
            return problems;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let text = fs::read_link(e.path()).unwrap_or_default();
                let ok = is_plain_table_name(&name)
                    && is_snapshotted(&name)
                    && parse_link(&name, &text).is_some_and(|n| {
                        let outer = self
                            .root()
                            .join(SNAPSHOTS_DIR)
                            .join(&name)
                            .join(snapshot_name(n));
                        let inner = outer.join(inner_name(n));
                        [outer, inner]
                            .iter()
                            .all(|p| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_dir()))
                    });
                if !ok {
                    problems.push(format!(
                        "{name}: a link to {} — not a snapshot of this table in {SNAPSHOTS_DIR}/{name} \
                         符号链接未指向本表的快照",
                        text.display()
                    ));
                }
            } else if ft.is_dir() {
                crate::replace::walk(&e.path(), |c, ct| {
                    if !ct.is_symlink() {
                        return;
                    }
                    let rel = c
                        .path()
                        .strip_prefix(self.root())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    // Staged links of a commit under way (or killed) live in `.tmp`.
                    if !rel.starts_with(".tmp/") {
                        problems.push(format!(
                            "{rel}: a symbolic link inside the lake (only the tables' links \
                             are allowed) 湖内不应有其他符号链接"
                        ));
                    }
                });
            }
        }
        problems.sort();
        problems
    }
}

/// fsync every folder of a tree (children first), so its entries survive a power loss.
fn sync_tree(dir: &Path) {
    let mut dirs = vec![dir.to_owned()];
    let mut i = 0;
    while i < dirs.len() {
        if let Ok(entries) = fs::read_dir(&dirs[i]) {
            for e in entries.filter_map(std::result::Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path());
                }
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        sync_dir(d);
    }
}

#[cfg(unix)]
fn symlink(text: &str, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(text, at)
}

#[cfg(not(unix))]
fn symlink(text: &str, at: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(text, at)
}

/// A staged temp file and the relative path it goes to.
pub(crate) type Staged = (PathBuf, String);

/// Group staged `(temp file, relative path)` pairs by snapshotted table; the rest stay in order.
pub(crate) fn split_by_table(staged: &[Staged]) -> (BTreeMap<String, Vec<Staged>>, Vec<Staged>) {
    let mut tables: BTreeMap<String, Vec<Staged>> = BTreeMap::new();
    let mut rest = Vec::new();
    for (tmp, rel) in staged {
        match rel.split_once('/') {
            Some((table, _)) if is_snapshotted(table) => tables
                .entry(table.to_owned())
                .or_default()
                .push((tmp.clone(), rel.clone())),
            _ => rest.push((tmp.clone(), rel.clone())),
        }
    }
    (tables, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Commit;
    use homeseason_schema::contract::tables;
    use polars::prelude::*;

    fn sales(uscc: &str, periods: &[&str], amount: f64) -> DataFrame {
        let n = periods.len();
        df!(
            "uscc" => vec![uscc; n],
            "region_code" => vec!["330000"; n],
            "category" => vec!["furniture"; n],
            "period" => periods.to_vec(),
            "sales_amount_yuan" => vec![amount; n],
        )
        .expect("frame")
    }

    fn commit(lake: &Lake, sha: char, rows: &DataFrame) {
        let sha = sha.to_string().repeat(64);
        let empty = DataFrame::empty();
        lake.commit(&Commit {
            table: tables::ENTERPRISE_SALES,
            feed: "enterprise_sales",
            file: "f.csv",
            sha256: &sha,
            rows,
            rejects: &empty,
            origins: None,
            report: serde_json::json!({}),
            now: "2023-10-01T00:00:00Z",
        })
        .expect("commit");
    }

    fn link(lake: &Lake, table: &str) -> Option<String> {
        fs::read_link(lake.root().join(table))
            .ok()
            .map(|p| p.display().to_string())
    }

    /// Rows and total of every file of the table as [`Lake::files`] lists them.
    fn total(lake: &Lake) -> (usize, f64) {
        let (mut rows, mut sum) = (0, 0.0);
        for (path, _) in lake.files(tables::ENTERPRISE_SALES).expect("files") {
            let t = lake.read_file(&path, &["sales_amount_yuan"]).expect("read");
            rows += t.height();
            sum += t
                .column("sales_amount_yuan")
                .map(|c| c.f64().expect("f64").sum().unwrap_or(0.0))
                .unwrap_or(0.0);
        }
        (rows, sum)
    }

    /// Each commit is a new snapshot switched in by the table's link; partitions it does not touch
    /// are hard links to the previous snapshot's files; the manifest still names partitions by
    /// their relative paths, and `check` finds nothing wrong.
    #[test]
    fn a_commit_switches_the_link_to_a_new_snapshot_of_hard_links() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path()).expect("lake");
        commit(&lake, 'a', &sales("A", &["2023-09", "2023-10"], 1.0));
        assert_eq!(
            link(&lake, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000001")
        );
        let sep = "enterprise_sales/period=2023-09/330000.parquet";
        let first = lake.partition_path(sep).expect("path");
        assert!(
            first.ends_with(
                ".snapshots/enterprise_sales/000001/v000001/period=2023-09/330000.parquet"
            )
        );
        assert_eq!(lake.partition_rel(&first).as_deref(), Some(sep));
        assert_eq!(
            lake.partition_rel(
                &lake
                    .root()
                    .join("enterprise_sales/v000001/period=2023-09/330000.parquet")
            )
            .as_deref(),
            Some(sep)
        );
        commit(&lake, 'b', &sales("B", &["2023-10"], 2.0));
        assert_eq!(
            link(&lake, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000002")
        );
        let second = lake.partition_path(sep).expect("path");
        assert_ne!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ino = |p: &Path| fs::metadata(p).expect("meta").ino();
            assert_eq!(
                ino(&first),
                ino(&second),
                "an unchanged partition is a hard link"
            );
        }
        assert_eq!(total(&lake), (3, 4.0));
        // The public path reads the current snapshot too.
        assert!(
            lake.root()
                .join("enterprise_sales/v000002/period=2023-10/330000.parquet")
                .is_file()
        );
        assert!(lake.check_manifest().expect("check").is_empty());
    }

    /// Superseded snapshots are kept while they are among the newest `keep` or younger than the
    /// grace period, then removed by a later commit.
    #[test]
    fn superseded_snapshots_are_removed_after_the_retention() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let keep_all = Lake::open(tmp.path()).expect("lake");
        for (i, c) in ['a', 'b', 'c'].into_iter().enumerate() {
            commit(&keep_all, c, &sales(&format!("U{i}"), &["2023-09"], 1.0));
        }
        let area = tmp.path().join(".snapshots/enterprise_sales");
        let count = || fs::read_dir(&area).expect("area").count();
        assert_eq!(count(), 3, "the default keeps 2 superseded snapshots");
        let lake = Lake::open(tmp.path())
            .expect("lake")
            .with_retention(Retention {
                keep: 1,
                grace: std::time::Duration::ZERO,
            });
        commit(&lake, 'd', &sales("U3", &["2023-09"], 1.0));
        let mut left: Vec<String> = fs::read_dir(&area)
            .expect("area")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["000003", "000004"]);
        assert_eq!(total(&lake), (4, 4.0));
    }

    /// A table of the old layout (a real folder, `region_code=` folders) is read as it is, with
    /// its region restored from the path; its first commit rewrites it into today's layout (one
    /// snapshot of its own: the region names the file and is a text column in it, the manifest's
    /// partitions follow) and then adds the new rows in the next snapshot.
    #[test]
    fn a_lake_of_the_old_layout_is_read_and_migrated_on_its_first_commit() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path())
            .expect("lake")
            .with_retention(Retention {
                keep: 2,
                grace: std::time::Duration::ZERO,
            });
        let old = sales("OLD", &["2023-09"], 5.0).drop_many(["region_code", "period"]);
        let bytes = Lake::parquet_bytes(tables::ENTERPRISE_SALES, &old).expect("bytes");
        let old_rel = "enterprise_sales/region_code=330000/period=2023-09/data.parquet";
        lake.write_atomic(old_rel, &bytes).expect("old layout");
        let mut manifest = lake.manifest().expect("manifest");
        manifest.partitions.insert(
            old_rel.to_owned(),
            crate::manifest::PartitionEntry {
                table: tables::ENTERPRISE_SALES.to_owned(),
                source_sha256: "0".repeat(64),
                version: 2,
                rows: 1,
                written_at: "2023-09-01T00:00:00Z".to_owned(),
                sources: vec!["0".repeat(64)],
            },
        );
        lake.write_atomic(
            "_manifest.json",
            &serde_json::to_vec(&manifest).expect("json"),
        )
        .expect("manifest");
        assert!(
            fs::symlink_metadata(tmp.path().join("enterprise_sales"))
                .expect("meta")
                .is_dir()
        );
        assert_eq!(total(&lake), (1, 5.0));
        let old_files = lake.files(tables::ENTERPRISE_SALES).expect("files");
        assert_eq!(
            old_files[0].1.get("region_code").map(String::as_str),
            Some("330000"),
            "the folder's value"
        );
        assert!(lake.check_manifest().expect("check").is_empty());
        commit(&lake, 'a', &sales("NEW", &["2023-09", "2023-10"], 1.0));
        // Snapshot 1 is the migration, 2 the commit.
        assert_eq!(
            link(&lake, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000002")
        );
        assert_eq!(total(&lake), (3, 7.0));
        let rels: Vec<String> = lake
            .files(tables::ENTERPRISE_SALES)
            .expect("files")
            .iter()
            .map(|(p, parts)| {
                assert_eq!(parts.get("region_code").map(String::as_str), Some("330000"));
                lake.partition_rel(p).expect("rel")
            })
            .collect();
        assert_eq!(
            rels,
            [
                "enterprise_sales/period=2023-09/330000.parquet",
                "enterprise_sales/period=2023-10/330000.parquet"
            ]
        );
        for (path, _) in lake.files(tables::ENTERPRISE_SALES).expect("files") {
            let columns = lake.file_columns(&path).expect("columns");
            assert!(columns.iter().any(|c| c == "region_code"), "{columns:?}");
            assert!(!columns.iter().any(|c| c == "period"), "{columns:?}");
        }
        let manifest = lake.manifest().expect("manifest");
        assert!(!manifest.partitions.contains_key(old_rel));
        let moved = &manifest.partitions["enterprise_sales/period=2023-09/330000.parquet"];
        // The migrated version 2 then this commit's write.
        assert_eq!((moved.version, moved.rows), (3, 2));
        assert!(moved.sources.contains(&"0".repeat(64)));
        assert!(lake.check_manifest().expect("check").is_empty());
        assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
        // The old folder went to `.snapshots/enterprise_sales/legacy-…`; with no grace period the
        // next commit removes it.
        commit(&lake, 'b', &sales("NEXT", &["2023-11"], 1.0));
        let legacy = fs::read_dir(tmp.path().join(".snapshots/enterprise_sales"))
            .expect("area")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("legacy-"))
            })
            .count();
        assert_eq!(legacy, 0);
        assert_eq!(total(&lake), (4, 8.0));
    }

    /// A commit killed after its journal (the link not switched yet) is finished by the next open;
    /// one killed before its journal leaves the lake as it was, and its unused snapshot is removed.
    #[test]
    fn a_killed_switch_is_finished_and_an_unused_snapshot_removed() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path()).expect("lake");
        commit(&lake, 'a', &sales("A", &["2023-09"], 1.0));
        let rel = "enterprise_sales/period=2023-10/330000.parquet";
        let part = sales("B", &["2023-10"], 2.0).drop_many(["period"]);
        let bytes = Lake::parquet_bytes(tables::ENTERPRISE_SALES, &part).expect("bytes");
        // A snapshot of the new partition built and its link staged, nothing switched.
        let build = || {
            let staged = lake.stage(&bytes).expect("stage");
            lake.build_snapshot(
                tables::ENTERPRISE_SALES,
                &[(staged, rel.to_owned())],
                &BTreeSet::new(),
                false,
            )
            .expect("built")
        };
        // Killed before the journal.
        let _link = build();
        assert!(
            tmp.path()
                .join(".snapshots/enterprise_sales/000002")
                .is_dir()
        );
        assert_eq!(total(&lake), (1, 1.0));
        drop(lake.lock().expect("lock"));
        assert!(
            !tmp.path()
                .join(".snapshots/enterprise_sales/000002")
                .exists()
        );
        assert_eq!(
            link(&lake, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000001")
        );
        // Killed after the journal: the next open switches the link.
        let link_tmp = build();
        let journal = serde_json::to_vec(&[(
            link_tmp
                .strip_prefix(lake.root())
                .expect("in .tmp")
                .display()
                .to_string(),
            tables::ENTERPRISE_SALES.to_owned(),
        )])
        .expect("json");
        lake.write_atomic(".tmp/_commit.journal", &journal)
            .expect("journal");
        assert_eq!(total(&lake), (1, 1.0));
        let reopened = Lake::open(tmp.path()).expect("open");
        assert!(!tmp.path().join(".tmp/_commit.journal").exists());
        assert_eq!(
            link(&reopened, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000002")
        );
        assert_eq!(total(&reopened), (2, 3.0));
    }

    /// A table link that leaves the snapshot area is refused by readers and reported by `check`, as
    /// is any other symbolic link in the lake.
    #[cfg(unix)]
    #[test]
    fn links_that_leave_the_snapshot_area_are_refused_and_reported() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = Lake::open(tmp.path().join("lake")).expect("lake");
        commit(&lake, 'a', &sales("A", &["2023-09"], 1.0));
        assert!(lake.check_layout().is_empty());
        let outside = tmp.path().join("outside/period=2");
        fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink("../outside", lake.root().join("activities")).expect("link");
        std::os::unix::fs::symlink(
            "../../../../../../outside",
            lake.root()
                .join(".snapshots/enterprise_sales/000001/v000001/period=2023-09/x"),
        )
        .expect("link");
        assert!(lake.files(tables::ACTIVITIES).is_err());
        let problems = lake.check_layout();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("activities:")));
        assert!(problems.iter().any(|p| p.contains("period=2023-09/x")));
        assert!(!lake.check_manifest().expect("check").is_empty());
    }
}
