//! Table snapshots and the lake's one commit pointer: what a reader globbing a table's folder sees
//! flips from one commit's state to the next at once, for every table of the commit together.
//!
//! ```text
//! <root>/payment_daily      -> .current/payment_daily          stable links, written once per table
//! <root>/payment_area_daily -> .current/payment_area_daily
//! <root>/.current           -> .snapshots/_lake/000043          the commit pointer: one rename a commit
//! <root>/.snapshots/_lake/000043/payment_daily      -> ../../payment_daily/000042
//! <root>/.snapshots/_lake/000043/payment_area_daily -> ../../payment_area_daily/000042
//! <root>/.snapshots/payment_daily/000042/v000042/institution=acq_a/year=2023/month=9/data.parquet
//! ```
//! A table with partitions is kept as numbered *table snapshots*. A commit builds a new snapshot of
//! each table it changes — every partition it does not change hard-linked from the current
//! snapshot, every changed one written new — then a new *lake snapshot* (`.snapshots/_lake/<n>`):
//! a folder of one relative link per table to that table's snapshot, the changed tables' new ones
//! and the others' current ones. The commit becomes visible by renaming a new `.current` link over
//! the old one: one atomic `rename(2)`, whatever the number of tables. The public path of a table
//! (`<root>/payment_daily`, the path DuckDB, pyarrow, Superset and Power BI glob) is a link to
//! `.current/payment_daily` that never changes once made; the kernel resolves the chain
//! `payment_daily → .current → .snapshots/_lake/000043 → payment_daily → ../../payment_daily/000042`
//! on every path lookup (Linux resolves `..` against the folder a link lies in, so the relative
//! links need nothing but the lake itself, and a copy of the lake with its links kept reads alike).
//! So a commit killed at any point leaves every table of it either old or new together:
//! `payment_daily` of one commit is never seen beside `payment_area_daily` of another. Windows is not
//! a target (its links need privileges and resolve differently).
//!
//! Every path below a table carries its snapshot's own folder (`v000042`), which no other snapshot
//! of the table has: a reader whose listing or opening straddles a switch that changed the table
//! re-resolves the chain, finds no `v000042` in the new snapshot and fails ("file not found",
//! retried) instead of combining files of two snapshots. Hive readers ignore the folder (it has no
//! `=`). A reader that globs two tables one after the other while a commit lands can still see the
//! first table before and the second after it; one that needs the two from one commit resolves
//! `.current` once (`readlink`) and reads both under `.snapshots/_lake/<n>/` — homeseason's own
//! readers do so with [`Lake::view`]. Old lake snapshots stay for a grace period (the newest
//! [`Retention::keep`] and any superseded less than [`Retention::grace`] ago), and so do the table
//! snapshots they name, for readers that resolved a path themselves; a later commit removes them.
//!
//! A lake written by an older homeseason is read as it is and takes this form on its first commit,
//! in a journaled step of its own that changes nothing a reader sees: a table that is a link
//! straight to its snapshot (`<root>/t -> .snapshots/t/000042`) keeps that snapshot, named by the
//! first lake snapshot, and its link is replaced by the stable one (one `rename`, the same files
//! before and after); a table that is still a real folder is hard-linked into a snapshot of its
//! own, and the folder moves into `.snapshots/<table>/legacy-<secs>` just before its stable link
//! takes its place (a reader in between finds no table, an error it retries, never a mix).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::layout::partition_keys;
use crate::store::{Lake, io, sync_dir};
use crate::{LakeError, Result};

/// The folder of the snapshots under the lake root.
pub const SNAPSHOTS_DIR: &str = ".snapshots";

/// The commit pointer under the lake root: a link to the current lake snapshot
/// (`.current -> .snapshots/_lake/000043`), renamed over by every commit.
pub const CURRENT_LINK: &str = ".current";

/// The folder of the lake snapshots under [`SNAPSHOTS_DIR`]: `_lake/000043/<table>` is a link to
/// the table's snapshot in that commit.
pub const LAKE_SNAPSHOTS: &str = "_lake";

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

/// A snapshot number written as the digits of a folder name (at most 12).
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The snapshot a per-table link text names (the form before the commit pointer), when it is
/// exactly `.snapshots/<table>/<digits>`.
fn parse_link(table: &str, text: &Path) -> Option<u64> {
    let rest = text
        .to_str()?
        .strip_prefix(SNAPSHOTS_DIR)?
        .strip_prefix('/')?;
    digits(rest.strip_prefix(table)?.strip_prefix('/')?)
}

/// The stable link text of a table: `.current/<table>`.
fn stable_text(table: &str) -> String {
    format!("{CURRENT_LINK}/{table}")
}

/// Whether a table's link text is its stable link (`.current/<table>`).
pub(crate) fn is_stable_link(table: &str, text: &Path) -> bool {
    text.to_str() == Some(stable_text(table).as_str())
}

/// Make a table's stable link at `at` (a staged temp name in `.tmp`).
pub(crate) fn stable_link(table: &str, at: &Path) -> Result<()> {
    symlink(&stable_text(table), at).map_err(io("link", at))
}

/// The link text of lake snapshot `n` (relative to the root): `.snapshots/_lake/<n>`.
fn lake_link_text(n: u64) -> String {
    format!("{SNAPSHOTS_DIR}/{LAKE_SNAPSHOTS}/{}", snapshot_name(n))
}

/// The lake snapshot the commit pointer's text names, when it is exactly `.snapshots/_lake/<digits>`.
fn parse_lake_link(text: &Path) -> Option<u64> {
    let rest = text
        .to_str()?
        .strip_prefix(SNAPSHOTS_DIR)?
        .strip_prefix('/')?;
    digits(rest.strip_prefix(LAKE_SNAPSHOTS)?.strip_prefix('/')?)
}

/// The text of a lake snapshot's link to snapshot `n` of `table` (relative to the lake snapshot's
/// folder): `../../<table>/<n>`.
fn member_text(table: &str, n: u64) -> String {
    format!("../../{table}/{}", snapshot_name(n))
}

/// The table snapshot a lake snapshot's link names, when its text is exactly `../../<table>/<digits>`.
fn parse_member(table: &str, text: &Path) -> Option<u64> {
    let rest = text.to_str()?.strip_prefix("../../")?;
    digits(rest.strip_prefix(table)?.strip_prefix('/')?)
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
    /// The folder of snapshot `n` of `table`'s files: `<root>/.snapshots/<table>/<n>/v<n>`.
    fn snapshot_dir(&self, table: &str, n: u64) -> PathBuf {
        self.root()
            .join(SNAPSHOTS_DIR)
            .join(table)
            .join(snapshot_name(n))
            .join(inner_name(n))
    }

    /// The folder of lake snapshot `n`: `<root>/.snapshots/_lake/<n>`.
    fn lake_dir(&self, n: u64) -> PathBuf {
        self.root()
            .join(SNAPSHOTS_DIR)
            .join(LAKE_SNAPSHOTS)
            .join(snapshot_name(n))
    }

    /// The lake snapshot the commit pointer names now, `None` when the lake has none (empty, or
    /// written by an older homeseason). A pointer that names anything else is refused.
    pub(crate) fn current_lake(&self) -> Result<Option<u64>> {
        let path = self.root().join(CURRENT_LINK);
        let text = match fs::read_link(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) if fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_symlink()) => {
                return Err(LakeError::Contract {
                    table: CURRENT_LINK.to_owned(),
                    reason: format!(
                        "{} is a real folder, not the lake's commit pointer (a symbolic link): the \
                         lake was copied without its links; copy it again keeping them (`cp -a`, \
                         `rsync -a`) / 提交指针应为符号链接，此处却是文件夹：复制数据湖时未保留链接，\
                         请用 cp -a 或 rsync -a 重新复制",
                        path.display()
                    ),
                });
            }
            Err(e) => return Err(io("read link", &path)(e)),
        };
        parse_lake_link(&text)
            .map(Some)
            .ok_or_else(|| LakeError::Contract {
                table: CURRENT_LINK.to_owned(),
                reason: format!(
                    "{} points to {}, not to a lake snapshot: refused / 提交指针未指向湖快照，已拒绝",
                    path.display(),
                    text.display()
                ),
            })
    }

    /// The lake snapshot this handle reads: the one it is fixed at ([`Lake::view`]), else the
    /// current one.
    fn lake_in_view(&self) -> Result<Option<u64>> {
        match self.pinned_lake() {
            Some(n) => {
                let dir = self.lake_dir(n);
                if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                    Ok(Some(n))
                } else {
                    Err(LakeError::Contract {
                        table: CURRENT_LINK.to_owned(),
                        reason: format!(
                            "the commit this view was fixed at ({}) has been removed after the \
                             retention period: read again / 视图所固定的提交已过保留期被删除，请重新读取",
                            dir.display()
                        ),
                    })
                }
            }
            None => self.current_lake(),
        }
    }

    /// The snapshot of `table` that the lake snapshot in view names, `None` when it names none.
    fn member_of(&self, table: &str) -> Result<Option<u64>> {
        let Some(l) = self.lake_in_view()? else {
            return Ok(None);
        };
        let link = self.lake_dir(l).join(table);
        let text = match fs::read_link(&link) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read link", &link)(e)),
        };
        parse_member(table, &text)
            .map(Some)
            .ok_or_else(|| LakeError::Contract {
                table: table.to_owned(),
                reason: format!(
                    "{} points to {}, not to a snapshot of its table: refused / 符号链接未指向本表的快照，已拒绝",
                    link.display(),
                    text.display()
                ),
            })
    }

    /// The table snapshots lake snapshot `n` names: table → snapshot number. Entries of another
    /// form are left out (and reported by [`Lake::check_layout`]).
    pub(crate) fn lake_members(&self, n: u64) -> Result<BTreeMap<String, u64>> {
        let dir = self.lake_dir(n);
        let mut out = BTreeMap::new();
        for e in fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .filter_map(std::result::Result::ok)
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_plain_table_name(&name) || !is_snapshotted(&name) {
                continue;
            }
            if let Some(m) = fs::read_link(e.path())
                .ok()
                .and_then(|t| parse_member(&name, &t))
            {
                out.insert(name, m);
            }
        }
        Ok(out)
    }

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
            let n = if text.to_str() == Some(stable_text(table).as_str()) {
                match self.member_of(table)? {
                    Some(n) => n,
                    // Made by a commit that has not switched yet: no table so far.
                    None => return Ok(None),
                }
            } else {
                parse_link(table, &text).ok_or_else(|| LakeError::Contract {
                    table: table.to_owned(),
                    reason: format!(
                        "{} points to {}, not into the lake's snapshot area: refused / 符号链接指向快照区之外，已拒绝",
                        public.display(),
                        text.display()
                    ),
                })?
            };
            return Ok(Some(TableBase::Snapshot {
                n,
                dir: self.snapshot_dir(table, n),
            }));
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
    /// snapshot or folder it is in: `<root>/.snapshots/t/000042/v000042/k=v/data.parquet`,
    /// `<root>/t/v000042/k=v/data.parquet`, `<root>/.current/t/v000042/k=v/data.parquet` and
    /// `<root>/.snapshots/_lake/000043/t/v000042/k=v/data.parquet` are all `t/k=v/data.parquet`.
    #[must_use]
    pub fn partition_rel(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root()).ok()?;
        let mut segs: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // `.current/t/…` and `.snapshots/_lake/<n>/t/…` are `t/…`.
        if segs.first().is_some_and(|s| s == CURRENT_LINK) {
            segs.remove(0);
        } else if segs.len() > 3 && segs[0] == SNAPSHOTS_DIR && segs[1] == LAKE_SNAPSHOTS {
            segs.drain(..3);
        }
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
    /// Returns its number, which a lake snapshot ([`Lake::build_lake_snapshot`]) then names.
    /// Nothing a reader sees changes here.
    pub(crate) fn build_snapshot(
        &self,
        table: &str,
        put: &[(PathBuf, String)],
        drop: &BTreeSet<String>,
        whole: bool,
    ) -> Result<u64> {
        let (area, next) = self.next_snapshot(table)?;
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
                        self.create_dirs_synced_later(parent)?;
                    }
                    if fs::hard_link(&path, &to).is_err() {
                        fs::copy(&path, &to).map_err(io("copy", &to))?;
                    }
                }
            }
            for (tmp, rel) in put {
                let to = self.snapshot_target(&dir, table, rel)?;
                if let Some(parent) = to.parent() {
                    self.create_dirs_synced_later(parent)?;
                }
                fs::rename(tmp, &to).map_err(io("rename", &to))?;
            }
            // Every folder made above is made durable here, children first (their parents'
            // fsyncs were left to this), before any lake snapshot names this one.
            sync_tree(&dir);
            sync_dir(&outer);
            Ok(())
        })();
        removed_if_failed(&outer, built)?;
        Ok(next)
    }

    /// Build the next lake snapshot: a folder of one link per table, to snapshot `changed[t]` for
    /// the tables a commit changes and to the current snapshot for every other table the current
    /// lake snapshot names (`base`, when given, replaces the current one's links: a lake of
    /// per-table links becoming this form). Returns the staged commit pointer (a temp link in
    /// `.tmp`) that makes it current once renamed over `<root>/.current` ([`Lake::switch_current`]).
    /// Nothing a reader sees changes here.
    pub(crate) fn build_lake_snapshot(
        &self,
        changed: &BTreeMap<String, u64>,
        base: Option<BTreeMap<String, u64>>,
    ) -> Result<PathBuf> {
        let mut members = match base {
            Some(b) => b,
            None => match self.current_lake()? {
                Some(l) => self.lake_members(l)?,
                None => BTreeMap::new(),
            },
        };
        members.extend(changed.iter().map(|(t, n)| (t.clone(), *n)));
        let (area, next) = self.next_snapshot(LAKE_SNAPSHOTS)?;
        let dir = area.join(snapshot_name(next));
        let built = (|| -> Result<()> {
            self.create_dirs(&dir)?;
            for (table, n) in &members {
                let at = dir.join(table);
                symlink(&member_text(table, *n), &at).map_err(io("link", &at))?;
            }
            sync_dir(&dir);
            sync_dir(&area);
            Ok(())
        })();
        removed_if_failed(&dir, built)?;
        let link = self.stage_name("link");
        symlink(&lake_link_text(next), &link).map_err(io("link", &link))?;
        sync_dir(&self.root().join(".tmp"));
        Ok(link)
    }

    /// Make a staged commit pointer current: first give every table of its lake snapshot that has
    /// no public path yet its stable link (`<root>/t -> .current/t`, dangling — no table, as
    /// before — until the pointer moves), then rename the pointer over `<root>/.current`: every
    /// table of the commit switches at once. Repeatable: a journal replay after a crash finishes it.
    pub(crate) fn switch_current(&self, link: &Path) -> Result<()> {
        let text = fs::read_link(link).map_err(io("read link", link))?;
        let n = parse_lake_link(&text).ok_or_else(|| LakeError::Contract {
            table: CURRENT_LINK.to_owned(),
            reason: format!(
                "a staged commit pointer {} names {}, not a lake snapshot / 暂存的提交指针无效",
                link.display(),
                text.display()
            ),
        })?;
        for table in self.lake_members(n)?.keys() {
            let public = self.resolve(table)?;
            match fs::symlink_metadata(&public) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match symlink(&stable_text(table), &public) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(io("link", &public)(e)),
                    }
                }
                Err(e) => return Err(io("inspect", &public)(e)),
            }
        }
        // The new links and the pointer are entries of the same folder, made durable together by
        // the one fsync after the rename (a dangling link stays as short as can be).
        let current = self.root().join(CURRENT_LINK);
        fs::rename(link, &current).map_err(io("switch", &current))?;
        sync_dir(self.root());
        Ok(())
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

    /// The snapshot area of `table` (created) and the number of its next snapshot.
    fn next_snapshot(&self, table: &str) -> Result<(PathBuf, u64)> {
        let area = self.resolve(&format!("{SNAPSHOTS_DIR}/{table}"))?;
        self.create_dirs(&area)?;
        let next = self.snapshot_numbers(table)?.last().map_or(1, |n| n + 1);
        Ok((area, next))
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

    /// Put a staged table link in place: rename it over `<root>/<table>` (the stable link of a
    /// table taking the commit-pointer form, or a per-table link of a journal an older homeseason
    /// left). A table that is still a real folder (written before snapshots) first moves into `.snapshots/<table>/legacy-<secs>`; a
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
    /// pending): lake snapshots newer than the current one (built by a commit that died before its
    /// journal) and superseded ones beyond the retention, then every table snapshot that no kept
    /// lake snapshot names, unless it is its table's current one or a superseded one the retention
    /// keeps (a lake of per-table links). Best effort.
    pub(crate) fn collect_snapshots(&self) {
        let area = self.root().join(SNAPSHOTS_DIR);
        let Ok(tables) = fs::read_dir(&area) else {
            return;
        };
        let Ok(current_lake) = self.current_lake() else {
            return;
        };
        let retention = self.retention();
        let now = SystemTime::now();
        // Lake snapshots first, so that none is left naming a removed table snapshot.
        let mut named: BTreeSet<(String, u64)> = BTreeSet::new();
        if let Ok(numbers) = self.snapshot_numbers(LAKE_SNAPSHOTS) {
            let keep = kept(&numbers, current_lake, retention, now, |n| self.lake_dir(n));
            let mut removed = false;
            for n in numbers {
                if keep.contains(&n) {
                    match self.lake_members(n) {
                        Ok(members) => named.extend(members),
                        // Unreadable: keep every table snapshot rather than guess.
                        Err(_) => return,
                    }
                } else {
                    let _ = fs::remove_dir_all(self.lake_dir(n));
                    removed = true;
                }
            }
            // A folder whose entries did not change has nothing to make durable: every commit
            // takes the lock, and an fsync of each table's area costs ~1.5 ms on a VM's disk
            // (~135 of the ~210 fsyncs of an `uplift` run were these).
            if removed {
                sync_dir(&area.join(LAKE_SNAPSHOTS));
            }
        }
        for t in tables.filter_map(std::result::Result::ok) {
            let table = t.file_name().to_string_lossy().into_owned();
            if table == LAKE_SNAPSHOTS || !is_plain_table_name(&table) {
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
            let keep = kept(&numbers, current, retention, now, dir_of);
            let mut remove: Vec<PathBuf> = numbers
                .iter()
                .filter(|n| !keep.contains(n) && !named.contains(&(table.clone(), **n)))
                .map(|n| dir_of(*n))
                .collect();
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
            if remove.is_empty() {
                continue;
            }
            for dir in remove {
                let _ = fs::remove_dir_all(&dir);
            }
            sync_dir(&t.path());
        }
    }

    /// Check the lake's links and snapshots: the commit pointer names a lake snapshot that exists;
    /// every table link in the root is a stable link whose table the current lake snapshot names,
    /// or (a lake not yet converted) a link to a snapshot of its own table; every link of a lake
    /// snapshot names a snapshot of its own table that exists; and there is no other symbolic link
    /// anywhere in the lake (nothing leads out of the root). Returns the problems found.
    #[must_use]
    pub fn check_layout(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let Ok(entries) = fs::read_dir(self.root()) else {
            return problems;
        };
        let snapshot_exists = |table: &str, n: u64| {
            let outer = self
                .root()
                .join(SNAPSHOTS_DIR)
                .join(table)
                .join(snapshot_name(n));
            let inner = outer.join(inner_name(n));
            [outer, inner]
                .iter()
                .all(|p| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_dir()))
        };
        let current = match self.current_lake() {
            Ok(Some(l)) if !self.lake_dir(l).is_dir() => {
                problems.push(format!(
                    "{CURRENT_LINK}: names the lake snapshot {}, which does not exist 提交指针指向的湖快照不存在",
                    lake_link_text(l)
                ));
                None
            }
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{CURRENT_LINK}: {e}"));
                None
            }
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                if name == CURRENT_LINK {
                    continue;
                }
                let text = fs::read_link(e.path()).unwrap_or_default();
                let stable = text.to_str() == Some(stable_text(&name).as_str());
                let ok = is_plain_table_name(&name)
                    && is_snapshotted(&name)
                    && if stable {
                        current.is_some_and(|l| {
                            fs::read_link(self.lake_dir(l).join(&name))
                                .ok()
                                .and_then(|t| parse_member(&name, &t))
                                .is_some_and(|n| snapshot_exists(&name, n))
                        })
                    } else {
                        parse_link(&name, &text).is_some_and(|n| snapshot_exists(&name, n))
                    };
                if !ok {
                    problems.push(format!(
                        "{name}: a link to {} — not a snapshot of this table in {SNAPSHOTS_DIR}/{name} \
                         that the current commit names 符号链接未指向本表的快照",
                        text.display()
                    ));
                }
            } else if ft.is_dir() {
                let lake_area = self.root().join(SNAPSHOTS_DIR).join(LAKE_SNAPSHOTS);
                crate::replace::walk(&e.path(), |c, ct| {
                    if !ct.is_symlink() {
                        return;
                    }
                    let path = c.path();
                    let rel = path
                        .strip_prefix(self.root())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    // Staged links of a commit under way (or killed) live in `.tmp`.
                    if rel.starts_with(".tmp/") {
                        return;
                    }
                    // A lake snapshot's link to a snapshot of its table.
                    let table = c.file_name().to_string_lossy().into_owned();
                    let in_lake_snapshot = path.parent().is_some_and(|d| {
                        d.parent() == Some(lake_area.as_path())
                            && d.file_name()
                                .and_then(|n| n.to_str())
                                .and_then(digits)
                                .is_some()
                    });
                    if in_lake_snapshot && is_plain_table_name(&table) && is_snapshotted(&table) {
                        let target = fs::read_link(&path).unwrap_or_default();
                        if !parse_member(&table, &target)
                            .is_some_and(|n| snapshot_exists(&table, n))
                        {
                            problems.push(format!(
                                "{rel}: a link to {} — not a snapshot of {table} 湖快照中的链接未指向本表的快照",
                                target.display()
                            ));
                        }
                        return;
                    }
                    problems.push(format!(
                        "{rel}: a symbolic link inside the lake (only the tables' links \
                         are allowed) 湖内不应有其他符号链接"
                    ));
                });
            }
        }
        problems.sort();
        problems
    }
}

/// A read-only view of the lake fixed at the commit that was current when it was made
/// ([`Lake::view`]): every table read through it comes from that one commit, however many commits
/// land meanwhile — `payment_daily` and `payment_area_daily` read through one view always agree.
/// The commit's snapshots stay on disk for the retention's grace period ([`Retention`]); a view
/// read after they were removed fails with an error saying so (read again), never with another
/// commit's rows.
#[derive(Debug, Clone)]
pub struct LakeView {
    lake: Lake,
}

impl Lake {
    /// A read-only view of the lake fixed at its current commit (the commit pointer resolved once):
    /// read two tables through it to have them from the same commit. For a lake not yet in the
    /// commit-pointer form (written by an older homeseason, no commit since) it reads the current
    /// state, table by table.
    ///
    /// # Errors
    /// When the commit pointer cannot be read or names no lake snapshot.
    pub fn view(&self) -> Result<LakeView> {
        Ok(LakeView {
            lake: self.clone().pinned_at(self.current_lake()?),
        })
    }
}

impl LakeView {
    /// The lake snapshot (commit) the view is fixed at, `None` for a lake without a commit pointer.
    #[must_use]
    pub fn commit(&self) -> Option<u64> {
        self.lake.pinned_lake()
    }

    /// [`Lake::files`] as of the view's commit.
    ///
    /// # Errors
    /// As [`Lake::files`]; also when the view's commit has been removed.
    pub fn files(&self, table: &str) -> Result<Vec<(PathBuf, BTreeMap<String, String>)>> {
        self.lake.files(table)
    }

    /// [`Lake::read_table`] as of the view's commit.
    ///
    /// # Errors
    /// As [`Lake::read_table`]; also when the view's commit has been removed.
    pub fn read_table(&self, table: &str) -> Result<polars::prelude::DataFrame> {
        self.lake.read_table(table)
    }

    /// [`Lake::read_file`] (a path returned by [`LakeView::files`]).
    ///
    /// # Errors
    /// As [`Lake::read_file`].
    pub fn read_file(&self, path: &Path, columns: &[&str]) -> Result<polars::prelude::DataFrame> {
        self.lake.read_file(path, columns)
    }

    /// [`Lake::partition_path`] as of the view's commit.
    ///
    /// # Errors
    /// As [`Lake::partition_path`]; also when the view's commit has been removed.
    pub fn partition_path(&self, rel: &str) -> Result<PathBuf> {
        self.lake.partition_path(rel)
    }
}

/// Which of the snapshots `numbers` the retention keeps, `current` being the one in use: it, and
/// every older one among the newest [`Retention::keep`] or superseded (its successor made, by the
/// successor folder's time) less than [`Retention::grace`] ago. None without a current one.
fn kept(
    numbers: &[u64],
    current: Option<u64>,
    retention: Retention,
    now: SystemTime,
    dir_of: impl Fn(u64) -> PathBuf,
) -> BTreeSet<u64> {
    let Some(c) = current else {
        return BTreeSet::new();
    };
    let created = |n: u64| {
        fs::metadata(dir_of(n))
            .and_then(|m| m.modified())
            .unwrap_or(now)
    };
    let older: Vec<u64> = numbers.iter().copied().filter(|n| *n < c).collect();
    let mut keep: BTreeSet<u64> = BTreeSet::from([c]);
    for (i, n) in older.iter().enumerate() {
        let newer_kept = older.len() - i - 1;
        let successor = older.get(i + 1).copied().unwrap_or(c);
        let superseded_for = now.duration_since(created(successor)).unwrap_or_default();
        if newer_kept < retention.keep || superseded_for < retention.grace {
            keep.insert(*n);
        }
    }
    keep
}

/// `built`, once the half-built snapshot `dir` is removed (best effort) when it failed.
fn removed_if_failed(dir: &Path, built: Result<()>) -> Result<()> {
    if built.is_err() {
        let _ = fs::remove_dir_all(dir);
    }
    built
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

    /// The table snapshot `<root>/<table>` resolves to now, relative to the root
    /// (`.snapshots/<table>/<n>`), after checking that the table's link is its stable one.
    fn link(lake: &Lake, table: &str) -> Option<String> {
        let public = lake.root().join(table);
        assert_eq!(
            fs::read_link(&public).ok()?.display().to_string(),
            format!(".current/{table}")
        );
        let real = fs::canonicalize(&public).ok()?;
        let root = fs::canonicalize(lake.root()).expect("root");
        let rel = real.strip_prefix(&root).expect("in the lake").to_owned();
        Some(rel.display().to_string())
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
        let mut lake_left: Vec<String> = fs::read_dir(tmp.path().join(".snapshots/_lake"))
            .expect("lake snapshots")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        lake_left.sort();
        assert_eq!(lake_left, ["000003", "000004"]);
        assert_eq!(total(&lake), (4, 4.0));
    }

    /// `collect_if_idle` removes the snapshots past the retention without a commit (what a writer's
    /// commit would remove), and leaves everything while another writer holds the lock.
    #[test]
    fn housekeeping_when_idle_removes_what_a_commit_would_and_waits_for_no_writer() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let keep_all = Lake::open(tmp.path()).expect("lake");
        for (i, c) in ['a', 'b', 'c'].into_iter().enumerate() {
            commit(&keep_all, c, &sales(&format!("U{i}"), &["2023-09"], 1.0));
        }
        let names = |dir: &str| {
            let mut n: Vec<String> = fs::read_dir(tmp.path().join(dir))
                .expect("area")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        let lake = Lake::open(tmp.path())
            .expect("lake")
            .with_retention(Retention {
                keep: 1,
                grace: std::time::Duration::ZERO,
            });
        let held = keep_all.lock().expect("another writer's lock");
        lake.collect_if_idle().expect("returns at once");
        assert_eq!(
            names(".snapshots/enterprise_sales"),
            ["000001", "000002", "000003"]
        );
        drop(held);
        lake.collect_if_idle().expect("housekeeping");
        // The current snapshot and the newest superseded one (`keep: 1`), as a commit leaves them.
        assert_eq!(names(".snapshots/enterprise_sales"), ["000002", "000003"]);
        assert_eq!(names(".snapshots/_lake"), ["000002", "000003"]);
        assert_eq!(total(&lake), (3, 3.0));
        assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
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
        // Snapshot 1 is the folder taken in as it is (hard links), 2 the layout's migration, 3 the
        // commit.
        assert_eq!(
            link(&lake, "enterprise_sales").as_deref(),
            Some(".snapshots/enterprise_sales/000003")
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

    const PD9: &str = "payment_daily/institution=acq_a/year=2023/month=9/data.parquet";
    const PD10: &str = "payment_daily/institution=acq_a/year=2023/month=10/data.parquet";
    const PA9: &str = "payment_area_daily/institution=acq_a/year=2023/month=9/data.parquet";
    const PA10: &str = "payment_area_daily/institution=acq_a/year=2023/month=10/data.parquet";
    const ES9: &str = "enterprise_sales/period=2023-09/330000.parquet";

    /// Stage `(relative path, bytes)` pairs.
    fn staged(lake: &Lake, files: &[(&str, &str)]) -> Vec<Staged> {
        files
            .iter()
            .map(|(rel, bytes)| {
                (
                    lake.stage(bytes.as_bytes()).expect("stage"),
                    (*rel).to_owned(),
                )
            })
            .collect()
    }

    /// Every file of `tables` as an outside reader globbing `<root>/<table>/**` sees it (the
    /// kernel following the links): relative partition path → content.
    fn globbed(root: &Path, tables: &[&str]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for t in tables {
            let base = root.join(t);
            crate::replace::walk(&base, |e, ft| {
                if ft.is_file() {
                    let rel = e.path().strip_prefix(&base).expect("under").to_owned();
                    let rel: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .filter(|s| {
                            !(s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit()))
                        })
                        .collect();
                    let bytes = fs::read(e.path()).expect("read");
                    out.insert(
                        format!("{t}/{}", rel.join("/")),
                        String::from_utf8(bytes).expect("text"),
                    );
                }
            });
        }
        out
    }

    /// The same through homeseason's own reader: one [`Lake::view`] for all the tables.
    fn viewed(lake: &Lake, tables: &[&str]) -> BTreeMap<String, String> {
        let view = lake.view().expect("view");
        let mut out = BTreeMap::new();
        for t in tables {
            for (path, _) in view.files(t).expect("files") {
                let rel = lake.partition_rel(&path).expect("rel");
                out.insert(rel, fs::read_to_string(&path).expect("read"));
            }
        }
        out
    }

    fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const TABLES: [&str; 3] = ["payment_daily", "payment_area_daily", "enterprise_sales"];

    fn old_state() -> BTreeMap<String, String> {
        pairs(&[(PD9, "pd9 old"), (PA9, "pa9 old"), (ES9, "es")])
    }

    /// The new pair: both tables' September rewritten and October added.
    const NEW_PAIR: [(&str, &str); 4] = [
        (PD9, "pd9 new"),
        (PD10, "pd10 new"),
        (PA9, "pa9 new"),
        (PA10, "pa10 new"),
    ];

    fn new_state() -> BTreeMap<String, String> {
        let mut state = pairs(&NEW_PAIR);
        state.insert(ES9.to_owned(), "es".to_owned());
        state
    }

    /// Commit [`NEW_PAIR`] to `lake` under its lock.
    fn commit_new_pair(lake: &Lake) {
        let _lock = lake.lock().expect("lock");
        lake.install_all(&staged(lake, &NEW_PAIR)).expect("commit");
    }

    /// A lake holding the old pair (and a third table the next commit leaves alone).
    fn old_lake(dir: &Path) -> Lake {
        let lake = Lake::open(dir).expect("lake");
        let _lock = lake.lock().expect("lock");
        lake.install_all(&staged(
            &lake,
            &[(PD9, "pd9 old"), (PA9, "pa9 old"), (ES9, "es")],
        ))
        .expect("old commit");
        lake
    }

    /// Issue 18: a commit of `payment_daily` and `payment_area_daily` (and a one-file table) killed
    /// after each of its steps — snapshots built, journal written, each rename — shows an outside
    /// reader globbing the tables, and homeseason's own reader, either the old pair or the new pair
    /// at every step, never one table's new rows beside the other's old ones; the next open then
    /// finishes the commit (journal written) or drops it (no journal, its snapshots removed).
    #[test]
    fn a_two_table_commit_killed_after_each_step_shows_the_old_pair_or_the_new_pair() {
        let new_files: Vec<(&str, &str)> = NEW_PAIR
            .into_iter()
            .chain([("uplift/data.parquet", "uplift new")])
            .collect();
        // The renames: the commit pointer, then the one-file table.
        let steps = 2;
        for killed_after in 0..=steps + 1 {
            let tmp = tempfile::tempdir().expect("temp dir");
            let lake = old_lake(tmp.path());
            let lock = lake.lock().expect("lock");
            let renames = lake
                .prepare_commit(&staged(&lake, &new_files), &[])
                .expect("prepared");
            assert_eq!(renames.len(), steps);
            assert_eq!(renames[0].1, CURRENT_LINK);
            let mut states = vec![(
                "built",
                globbed(lake.root(), &TABLES),
                viewed(&lake, &TABLES),
            )];
            if killed_after >= 1 {
                lake.write_journal(&renames).expect("journal");
                states.push((
                    "journal",
                    globbed(lake.root(), &TABLES),
                    viewed(&lake, &TABLES),
                ));
            }
            for (tmp_file, rel) in renames.iter().take(killed_after.saturating_sub(1)) {
                lake.install(tmp_file, rel).expect("rename");
                states.push((
                    rel.as_str(),
                    globbed(lake.root(), &TABLES),
                    viewed(&lake, &TABLES),
                ));
            }
            for (step, outside, own) in &states {
                assert!(
                    *outside == old_state() || *outside == new_state(),
                    "killed after {killed_after}, at {step}: {outside:?}"
                );
                assert_eq!(outside, own, "killed after {killed_after}, at {step}");
                // The pointer switched: the new pair; before: the old one.
                let switched = *step != "built" && *step != "journal";
                assert_eq!(*outside == new_state(), switched, "at {step}");
            }
            drop(lock);
            // The next process.
            let reopened = Lake::open(tmp.path()).expect("open");
            assert!(!tmp.path().join(".tmp/_commit.journal").exists());
            let want = if killed_after == 0 {
                old_state()
            } else {
                new_state()
            };
            assert_eq!(
                globbed(reopened.root(), &TABLES),
                want,
                "killed after {killed_after}"
            );
            assert_eq!(viewed(&reopened, &TABLES), want);
            assert!(
                reopened.check_layout().is_empty(),
                "{:?}",
                reopened.check_layout()
            );
            // The next writer collects what no reader needs.
            drop(reopened.lock().expect("lock"));
            let numbers = |t: &str| reopened.snapshot_numbers(t).expect("numbers");
            if killed_after == 0 {
                // The unused snapshots are gone; the old ones are current.
                assert_eq!(numbers("payment_daily"), [1]);
                assert_eq!(numbers(LAKE_SNAPSHOTS), [1]);
                assert!(!tmp.path().join("uplift").exists());
            } else {
                assert_eq!(numbers("payment_daily"), [1, 2]);
                assert_eq!(numbers(LAKE_SNAPSHOTS), [1, 2]);
                assert_eq!(
                    numbers("enterprise_sales"),
                    [1],
                    "an unchanged table keeps its snapshot"
                );
                assert_eq!(
                    fs::read_to_string(tmp.path().join("uplift/data.parquet")).expect("uplift"),
                    "uplift new"
                );
            }
        }
    }

    /// A view reads the commit that was current when it was made, whatever lands after; once the
    /// retention has removed that commit, reading through the view fails (never another commit's
    /// rows). A table a commit creates appears with it.
    #[test]
    fn a_view_reads_one_commit_and_fails_once_it_is_removed() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lake = old_lake(tmp.path()).with_retention(Retention {
            keep: 0,
            grace: std::time::Duration::ZERO,
        });
        let before = lake.view().expect("view");
        assert_eq!(before.commit(), Some(1));
        commit_new_pair(&lake);
        assert_eq!(viewed(&lake, &TABLES), new_state());
        // With no retention the commit `before` was fixed at is already gone.
        let err = before.files("payment_daily").expect_err("removed");
        assert!(err.to_string().contains("read again"), "{err}");
        let kept = Lake::open(tmp.path()).expect("lake");
        let view = kept.view().expect("view");
        {
            let _lock = kept.lock().expect("lock");
            kept.install_all(&staged(&kept, &[(PD9, "pd9 third"), (PA9, "pa9 third")]))
                .expect("commit");
        }
        let mut through_view = BTreeMap::new();
        for t in TABLES {
            for (path, _) in view.files(t).expect("files") {
                through_view.insert(
                    kept.partition_rel(&path).expect("rel"),
                    fs::read_to_string(&path).expect("read"),
                );
            }
        }
        assert_eq!(through_view, new_state(), "the view still reads its commit");
        assert_eq!(
            view.partition_path(PD9).expect("path"),
            kept.root().join(".snapshots/payment_daily/000002/v000002/institution=acq_a/year=2023/month=9/data.parquet")
        );
        assert_eq!(globbed(kept.root(), &["payment_daily"])[PD9], "pd9 third");
    }

    /// Turn a lake of today's form into the form main wrote before the commit pointer: each table
    /// a link straight to its snapshot, no `.current`, no lake snapshots; plus `activities` as a
    /// real folder (the form before snapshots).
    fn to_per_table_links(root: &Path) {
        let current = fs::read_link(root.join(CURRENT_LINK)).expect("pointer");
        for e in fs::read_dir(root.join(&current)).expect("lake snapshot") {
            let e = e.expect("entry");
            let table = e.file_name().to_string_lossy().into_owned();
            let n = fs::read_link(e.path()).expect("member");
            let n = n
                .file_name()
                .expect("number")
                .to_string_lossy()
                .into_owned();
            fs::remove_file(root.join(&table)).expect("stable link");
            std::os::unix::fs::symlink(format!(".snapshots/{table}/{n}"), root.join(&table))
                .expect("per-table link");
        }
        fs::remove_file(root.join(CURRENT_LINK)).expect("pointer");
        fs::remove_dir_all(root.join(".snapshots/_lake")).expect("lake snapshots");
        let folder = root.join("activities/year=2023/month=9");
        fs::create_dir_all(&folder).expect("mkdir");
        fs::write(folder.join("110000.parquet"), "act").expect("write");
    }

    const AC9: &str = "activities/year=2023/month=9/110000.parquet";
    const ALL: [&str; 4] = [
        "payment_daily",
        "payment_area_daily",
        "enterprise_sales",
        "activities",
    ];

    /// A lake main wrote (tables linked straight to their snapshots, one still a real folder) takes
    /// the commit-pointer form on its first commit, in a journaled step of its own: killed after
    /// each of its steps, an outside reader sees the same lake throughout, and the next process
    /// finishes the step (or leaves the old form, which reads alike). The commit after it then
    /// switches both tables at once, and the snapshots readers may hold stay for the grace period.
    #[cfg(unix)]
    #[test]
    fn a_lake_of_per_table_links_takes_the_pointer_form_on_its_first_commit() {
        let mut before = old_state();
        before.insert(AC9.to_owned(), "act".to_owned());
        // The pointer, then 4 tables' stable links.
        let steps = 5;
        for killed_after in 0..=steps + 1 {
            let tmp = tempfile::tempdir().expect("temp dir");
            drop(old_lake(tmp.path()));
            to_per_table_links(tmp.path());
            let lake = Lake::open(tmp.path()).expect("lake");
            assert_eq!(globbed(lake.root(), &ALL), before);
            assert_eq!(viewed(&lake, &ALL), before, "an old lake reads as it is");
            assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
            let lock = lake.lock().expect("lock");
            let renames = lake
                .prepare_link_migration()
                .expect("prepared")
                .expect("something to convert");
            assert_eq!(renames.len(), steps);
            assert_eq!(globbed(lake.root(), &ALL), before);
            if killed_after >= 1 {
                lake.write_journal(&renames).expect("journal");
            }
            for (tmp_file, rel) in renames.iter().take(killed_after.saturating_sub(1)) {
                lake.install(tmp_file, rel).expect("rename");
                assert_eq!(globbed(lake.root(), &ALL), before, "after {rel}");
                assert_eq!(viewed(&lake, &ALL), before, "after {rel}");
            }
            drop(lock);
            let lake = Lake::open(tmp.path()).expect("open");
            assert_eq!(globbed(lake.root(), &ALL), before);
            assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
            assert_eq!(
                tmp.path().join(CURRENT_LINK).exists(),
                killed_after > 0,
                "killed after {killed_after}"
            );
            // The first commit: converted (if it was not) and switched at once.
            commit_new_pair(&lake);
            let mut after = new_state();
            after.insert(AC9.to_owned(), "act".to_owned());
            assert_eq!(globbed(lake.root(), &ALL), after);
            assert_eq!(viewed(&lake, &ALL), after);
            for t in ALL {
                assert!(link(&lake, t).is_some(), "{t} has its stable link");
            }
            assert!(lake.check_layout().is_empty(), "{:?}", lake.check_layout());
            // The per-table snapshots main's readers resolved stay (the grace period), and the
            // old folder moved aside.
            assert!(
                tmp.path()
                    .join(".snapshots/payment_daily/000001/v000001")
                    .is_dir()
            );
            assert_eq!(
                link(&lake, "activities").as_deref(),
                Some(".snapshots/activities/000001")
            );
        }
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
