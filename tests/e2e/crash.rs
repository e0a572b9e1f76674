//! Crashes and concurrency (issue 9): `homeseason ingest` killed with SIGKILL at reproducible random
//! points of a multi-file, multi-feed ingest, and two ingests of overlapping files into one lake at
//! once.
//!
//! After every kill the lake must read cleanly (DuckDB with `hive_partitioning`, `homeseason check`),
//! every data file must be byte-for-byte either the old or the new version of its partition (never a
//! torn or foreign file), and the manifest must describe the files on disk (each partition it lists
//! exists, holds the rows it records and the content of the source file it names). Rerunning the
//! ingest must then leave exactly the lake an uninterrupted run leaves: the same data files, the same
//! manifest partitions and files, the same totals.
//!
//! Kill points are drawn from a seeded RNG over 5–95 % of the measured duration of an uninterrupted
//! run (`HOMESEASON_CRASH_SEED` overrides the seed, `HOMESEASON_CRASH_KILLS` the number of kills).
//!
//! Two uploads of the same file at once to the upload server are covered by
//! `crates/homeseason-server/tests/server/abuse.rs` (`the_same_file_sent_concurrently_is_ingested_once`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use homeseason_lake::Manifest;
use polars::prelude::*;

use crate::util::{ok, s};
use homeseason_test_support::{copy_dir, files_under};

/// splitmix64: a tiny, reproducible RNG.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small multi-feed season: the sample generator's files, a subset of them (activities, enterprise
/// sales, acquirer daily files, wallet transaction files, a slice of 社零), in `new/`, and an earlier
/// version of the same files (every fifth data row missing) in `old/`.
struct Season {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    new: PathBuf,
    old: PathBuf,
}

fn season() -> Season {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().to_owned();
    let synth = root.join("synth");
    ok(&["synth", "--out", s(&synth), "--scale", "0.02"]);
    let new = root.join("new");
    std::fs::create_dir_all(&new).expect("mkdir");
    let mut picked: Vec<PathBuf> = Vec::new();
    for r in ["110000", "120000", "130000", "140000"] {
        picked.push(synth.join(format!("activities/activities_{r}.csv")));
    }
    for r in ["110000", "120000", "130000"] {
        picked.push(synth.join(format!("enterprise_sales/enterprise_sales_{r}.csv")));
    }
    for m in ["2023-09", "2023-10"] {
        picked.push(synth.join(format!("payments/acq_a/payment_daily_acq_a_{m}.csv")));
    }
    for m in 1..=12 {
        picked.push(synth.join(format!(
            "payments/wallet_b/payment_transactions_wallet_b_2023-{m:02}.csv"
        )));
    }
    for p in &picked {
        std::fs::copy(p, new.join(p.file_name().expect("name"))).expect("copy");
    }
    // 社零: the first 60 rows only (the whole file writes a thousand partitions).
    let retail = std::fs::read_to_string(synth.join("retail_stats/retail_stats_provincial.csv"))
        .expect("retail file");
    let head: Vec<&str> = retail.lines().take(61).collect();
    std::fs::write(
        new.join("retail_stats_provincial.csv"),
        head.join("\n") + "\n",
    )
    .expect("write");
    let old = root.join("old");
    std::fs::create_dir_all(&old).expect("mkdir");
    for e in std::fs::read_dir(&new).expect("list") {
        let p = e.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("utf-8 sample file");
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i == 0 || i % 5 != 4)
            .map(|(_, l)| l)
            .collect();
        std::fs::write(
            old.join(p.file_name().expect("name")),
            kept.join("\n") + "\n",
        )
        .expect("write");
    }
    Season {
        _tmp: tmp,
        root,
        new,
        old,
    }
}

fn ingest_cmd(lake: &Path, paths: &[&Path]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeseason"));
    cmd.args(["ingest", "--lake", s(lake)])
        .args(paths.iter().map(|p| s(p)))
        .stdin(Stdio::null());
    cmd
}

/// Run an ingest to completion; returns how long it took.
fn ingest(lake: &Path, paths: &[&Path]) -> Duration {
    let start = Instant::now();
    let out = ingest_cmd(lake, paths).output().expect("ingest runs");
    assert!(
        out.status.success(),
        "ingest into {} failed:\n{}{}",
        lake.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Every file under `dir` (relative paths), skipping nothing.
fn walk(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = files_under(dir)
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).expect("under dir");
            rel.to_string_lossy().into_owned()
        })
        .collect();
    out.sort();
    out
}

/// The lake's data: every file a reader globbing the tables sees (everything outside `.tmp`,
/// `.snapshots`, `_txn_index`, the lock and the manifest), partition path (without the snapshot
/// folder) → SHA-256 of its bytes.
fn snapshot(lake: &Path) -> BTreeMap<String, String> {
    walk(lake)
        .into_iter()
        .filter(|rel| {
            !rel.starts_with(".tmp/")
                && !rel.starts_with("_txn_index/")
                && rel != ".lock"
                && rel != "_manifest.json"
        })
        .map(|rel| {
            let bytes = std::fs::read(lake.join(&rel)).expect("readable data file");
            (
                homeseason_test_support::lake_rel(lake, &lake.join(&rel)),
                homeseason_ingest::sha256_hex(&bytes),
            )
        })
        .collect()
}

fn manifest(lake: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(lake.join("_manifest.json")).ok()?;
    Some(serde_json::from_slice(&bytes).expect("the manifest parses"))
}

/// What must not differ between two lakes' manifests: each partition's (table, source, version,
/// rows) and each file's (sha256, name, feed, table, partitions, superseded, counts).
type Parts = BTreeMap<String, (String, String, u32, usize)>;
type Files = BTreeSet<(
    String,
    String,
    String,
    String,
    Vec<String>,
    Vec<String>,
    String,
)>;

fn manifest_key(m: &Manifest) -> (Parts, Files) {
    let parts = m
        .partitions
        .iter()
        .map(|(p, e)| {
            (
                p.clone(),
                (e.table.clone(), e.source_sha256.clone(), e.version, e.rows),
            )
        })
        .collect();
    let files = m
        .files
        .iter()
        .map(|f| {
            let mut partitions = f.partitions.clone();
            partitions.sort();
            let mut superseded = f.superseded.clone();
            superseded.sort();
            let counts = ["read", "accepted", "rejected", "duplicates"]
                .iter()
                .map(|k| {
                    f.report
                        .get(*k)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("/");
            (
                f.sha256.clone(),
                f.file.clone(),
                f.feed.clone(),
                f.table.clone(),
                partitions,
                superseded,
                counts,
            )
        })
        .collect();
    (parts, files)
}

/// Per table, as DuckDB sees it with `hive_partitioning`: rows, files, and for `payment_daily` the
/// net amount and transaction count; and `area_cells_not_summing`, the cells where
/// `payment_area_daily` summed over areas does not give `payment_daily` (0 unless a reader can see
/// one table's rows of a commit without the other's). Every column of every row is decoded (a torn
/// file fails here).
const DUCK: &str = r#"
import duckdb, json, os, sys
lake = sys.argv[1]
con = duckdb.connect()
out = {}
srcs = {}
for t in sorted(os.listdir(lake)):
    d = os.path.join(lake, t)
    if t.startswith(('.', '_')) or not os.path.isdir(d):
        continue
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith('.parquet'))
    if not files:
        continue
    src = "read_parquet(%s, hive_partitioning=true)" % json.dumps(files).replace('"', "'")
    n = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    con.execute(f"SELECT max(COLUMNS(*)::VARCHAR) FROM {src}").fetchall()
    row = {"rows": n, "files": len(files)}
    if t == "payment_daily":
        net, txn = con.execute(f"SELECT round(sum(net_amount_yuan), 2), sum(txn_count) FROM {src}").fetchone()
        row["net_amount_yuan"] = float(net)
        row["txn_count"] = int(txn)
    out[t] = row
    srcs[t] = src
# payment_area_daily and payment_daily are one commit: summed over areas, every cell of an
# institution the area table holds gives payment_daily's sales and money (merchants at least).
if "payment_area_daily" in srcs and "payment_daily" in srcs:
    agg = "date, institution, region_code, mcc, channel, sum(txn_count) t, sum(round(amount_yuan * 100)) g, sum(round(refund_amount_yuan * 100)) r, sum(merchant_count) m"
    a, d = srcs["payment_area_daily"], srcs["payment_daily"]
    bad = con.execute(f"""
        WITH a AS (SELECT {agg} FROM {a} GROUP BY ALL),
             d AS (SELECT {agg} FROM {d} WHERE institution IN (SELECT institution FROM {a}) GROUP BY ALL)
        SELECT count(*) FROM d FULL JOIN a USING (date, institution, region_code, mcc, channel)
        WHERE d.t IS DISTINCT FROM a.t OR d.g IS DISTINCT FROM a.g OR d.r IS DISTINCT FROM a.r
           OR d.m IS NULL OR a.m IS NULL OR d.m > a.m""").fetchone()[0]
    out["area_cells_not_summing"] = bad
print(json.dumps(out, sort_keys=True))
"#;

fn duckdb(lake: &Path) -> serde_json::Value {
    let out = duckdb_totals(lake);
    // At every kill point, a commit's journal in `.tmp` or not, the tables of one commit switch
    // together (one rename of the lake's commit pointer): DuckDB sees whole commits.
    if let Some(bad) = out.get("area_cells_not_summing") {
        assert_eq!(
            bad.as_u64(),
            Some(0),
            "{}: payment_area_daily does not sum to payment_daily",
            lake.display()
        );
    }
    out
}

fn duckdb_totals(lake: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", DUCK, s(lake)])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 with duckdb is needed (tests/run.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "DuckDB could not read the lake {}:\n{}",
        lake.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("duckdb json")
}

fn parquet_rows(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file)
        .num_rows()
        .unwrap_or_else(|e| panic!("{}: not a whole Parquet file: {e}", path.display()))
}

/// A reference lake: its data files and manifest.
struct Reference {
    data: BTreeMap<String, String>,
    manifest: Manifest,
    duck: serde_json::Value,
}

fn reference(lake: &Path) -> Reference {
    Reference {
        data: snapshot(lake),
        manifest: manifest(lake).expect("reference manifest"),
        duck: duckdb(lake),
    }
}

/// What a kill left, for the log.
#[derive(Debug, Default)]
struct Seen {
    /// Data files not (yet) in the manifest (new partitions of the commit under way).
    unlisted: usize,
    /// Data files already the new version.
    new_files: usize,
    /// Leftovers in `.tmp`.
    tmp: usize,
    /// Staged Parquet/manifest temp files in `.tmp`.
    staged: usize,
    /// Killed during the renames of a commit (the journal was there).
    journal: bool,
}

/// Whether the data file `rel` with hash `sha` is the old version of its partition, the new one,
/// or (both false) neither, which fails the test.
fn old_or_new(
    rel: &str,
    sha: &str,
    old: Option<&Reference>,
    new: &Reference,
    label: &str,
) -> (bool, bool) {
    let is_new = new.data.get(rel).is_some_and(|s| s == sha);
    let is_old = old.is_some_and(|o| o.data.get(rel).is_some_and(|s| s == sha));
    assert!(
        is_new || is_old,
        "{label}: {rel} is neither the old nor the new version of its partition (sha {sha})"
    );
    (is_old, is_new)
}

/// The lake after a kill: old or new per data file, a manifest that describes what is on disk,
/// readable by DuckDB and `homeseason check`.
fn check_killed(lake: &Path, old: Option<&Reference>, new: &Reference, label: &str) -> Seen {
    let data = snapshot(lake);
    let mut seen = Seen::default();
    for (rel, sha) in &data {
        let (is_old, is_new) = old_or_new(rel, sha, old, new, label);
        assert!(
            rel.ends_with(".parquet"),
            "{label}: a stray file is visible among the tables: {rel}"
        );
        if is_new && !is_old {
            seen.new_files += 1;
        }
        parquet_rows(&homeseason_test_support::lake_file(lake, rel));
    }
    let journal = lake.join(".tmp/_commit.journal").exists();
    if journal {
        // Killed during the renames: the next homeseason process to open the lake finishes them.
        seen.journal = true;
    } else {
        seen.unlisted = manifest_describes_disk(lake, &data, old, new, label);
    }
    let tmp = walk(&lake.join(".tmp"));
    seen.tmp = tmp.len();
    seen.staged = tmp.iter().filter(|f| f.ends_with(".part")).count();
    duckdb(lake);
    // `homeseason check` opens the lake, which finishes an interrupted commit.
    ok(&["check", "--lake", s(lake)]);
    assert!(
        !lake.join(".tmp/_commit.journal").exists(),
        "{label}: the interrupted commit was not finished by the next process"
    );
    let data = snapshot(lake);
    for (rel, sha) in &data {
        old_or_new(rel, sha, old, new, &format!("{label}, recovered"));
    }
    manifest_describes_disk(lake, &data, old, new, &format!("{label}, recovered"));
    if seen.journal {
        duckdb(lake);
    }
    seen
}

/// Every partition the manifest lists exists, holds the rows it records and the content of the
/// source file it names; every file's partitions are listed. Returns the number of data files of the
/// ingest tables that the manifest does not list (new partitions of a commit that did not happen).
fn manifest_describes_disk(
    lake: &Path,
    data: &BTreeMap<String, String>,
    old: Option<&Reference>,
    new: &Reference,
    label: &str,
) -> usize {
    if let Some(m) = manifest(lake) {
        for (rel, entry) in &m.partitions {
            let path = homeseason_test_support::lake_file(lake, rel);
            assert!(
                path.exists(),
                "{label}: the manifest lists {rel}, which does not exist"
            );
            assert_eq!(
                parquet_rows(&path),
                entry.rows,
                "{label}: {rel} does not hold the {} rows the manifest records",
                entry.rows
            );
            // The content must be that of the source file the manifest names.
            let want = if new
                .manifest
                .partitions
                .get(rel)
                .is_some_and(|e| e.source_sha256 == entry.source_sha256)
            {
                new.data.get(rel)
            } else if let Some(o) = old.filter(|o| {
                o.manifest
                    .partitions
                    .get(rel)
                    .is_some_and(|e| e.source_sha256 == entry.source_sha256)
            }) {
                o.data.get(rel)
            } else {
                panic!(
                    "{label}: {rel} names a source ({}) neither reference lake has",
                    entry.source_sha256
                )
            };
            assert_eq!(
                data.get(rel),
                want,
                "{label}: {rel} does not hold the version of the file the manifest names"
            );
        }
        for f in &m.files {
            for p in &f.partitions {
                assert!(
                    m.partitions.contains_key(p),
                    "{label}: file {} lists partition {p}, which the manifest does not",
                    f.file
                );
            }
        }
        let ingest_tables = [
            "payment_daily",
            "payment_area_daily",
            "enterprise_sales",
            "retail_stats",
            "activities",
            "rejects",
        ];
        data.keys()
            .filter(|rel| {
                ingest_tables
                    .iter()
                    .any(|t| rel.starts_with(&format!("{t}/")))
                    && !m.partitions.contains_key(*rel)
            })
            .count()
    } else {
        data.len()
    }
}

/// The lake equals the reference: same data files, same manifest, nothing left in `.tmp`, and (with
/// `with_duckdb`) the same totals through DuckDB (byte-identical data files imply them).
fn assert_same_as(lake: &Path, r: &Reference, label: &str, with_duckdb: bool) {
    let data = snapshot(lake);
    let only_here: Vec<_> = data.keys().filter(|k| !r.data.contains_key(*k)).collect();
    let missing: Vec<_> = r.data.keys().filter(|k| !data.contains_key(*k)).collect();
    let differ: Vec<_> = data
        .iter()
        .filter(|(k, v)| r.data.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        only_here.is_empty() && missing.is_empty() && differ.is_empty(),
        "{label}: data files differ from an uninterrupted run: extra {only_here:?}, missing \
         {missing:?}, different {differ:?}"
    );
    let m = manifest(lake).expect("manifest");
    let (parts, files) = manifest_key(&m);
    let (want_parts, want_files) = manifest_key(&r.manifest);
    assert_eq!(parts, want_parts, "{label}: manifest partitions differ");
    assert_eq!(files, want_files, "{label}: manifest files differ");
    assert_eq!(
        m.files.len(),
        r.manifest.files.len(),
        "{label}: a file is recorded twice"
    );
    let leftovers: Vec<_> = walk(&lake.join(".tmp"));
    assert!(
        leftovers.is_empty(),
        "{label}: temp files left behind: {leftovers:?}"
    );
    if with_duckdb {
        assert_eq!(duckdb(lake), r.duck, "{label}: totals differ");
    }
}

#[test]
fn ingest_killed_at_random_points_leaves_old_or_new_and_a_rerun_completes_it() {
    let season = season();
    let root = &season.root;
    let (new_dir, old_dir) = (season.new.as_path(), season.old.as_path());
    // Uninterrupted references: the new files into an empty lake, the old files, the new over the old.
    let fresh_lake = root.join("ref-fresh");
    let d_fresh = ingest(&fresh_lake, &[new_dir]);
    let old_lake = root.join("ref-old");
    ingest(&old_lake, &[old_dir]);
    let over_lake = root.join("ref-over");
    copy_dir(&old_lake, &over_lake);
    let d_over = ingest(&over_lake, &[new_dir]);
    let fresh = reference(&fresh_lake);
    let old = reference(&old_lake);
    let over = reference(&over_lake);
    assert!(fresh.data.len() > 100, "{} data files", fresh.data.len());
    assert!(
        over.manifest.partitions.values().any(|p| p.version > 1),
        "the new files replace partitions of the old ones"
    );
    eprintln!(
        "uninterrupted ingest: {:.2}s into an empty lake, {:.2}s over the old version ({} data files)",
        d_fresh.as_secs_f64(),
        d_over.as_secs_f64(),
        fresh.data.len()
    );

    let seed = env_u64("HOMESEASON_CRASH_SEED", 0x1_5EA5_0009);
    let kills = env_u64("HOMESEASON_CRASH_KILLS", 20) as usize;
    let mut rng = Rng(seed);
    let mut outcomes = BTreeMap::<&str, usize>::new();
    // How long an uninterrupted run of each kind takes, as far as the runs seen so far show: the
    // measured run above, shortened by any killed run that finished before its kill (on a busy
    // machine the measured run may have been slow), so that the kills keep landing inside.
    let mut durations = [d_fresh, d_over];
    for i in 0..kills {
        // Even kills: into an empty lake; odd: over the old version of every file.
        let over_old = i % 2 == 1;
        let (duration, reference_lake, old_ref) = if over_old {
            (&mut durations[1], &over, Some(&old))
        } else {
            (&mut durations[0], &fresh, None)
        };
        let lake = root.join(format!("kill-{i}"));
        if over_old {
            copy_dir(&old_lake, &lake);
        }
        let at = duration.mul_f64(0.05 + 0.9 * rng.unit());
        let mut child = ingest_cmd(&lake, &[new_dir])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ingest starts");
        let started = Instant::now();
        while started.elapsed() < at {
            if child.try_wait().expect("poll the ingest").is_some() {
                *duration = (*duration).min(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().expect("wait");
        let label = format!(
            "kill {i} at {:.0} ms ({}, seed {seed:#x})",
            at.as_secs_f64() * 1000.0,
            if over_old {
                "over the old version"
            } else {
                "empty lake"
            }
        );
        let seen = check_killed(&lake, old_ref, reference_lake, &label);
        let outcome = if status.success() {
            "finished before the kill"
        } else if manifest(&lake).is_none() {
            "killed before the first commit"
        } else if seen.journal {
            "killed during a commit's renames (journal replayed by the next process)"
        } else if seen.unlisted > 0 {
            "killed inside a commit (partitions in place, not in the manifest)"
        } else if seen.staged > 0 {
            "killed while staging a commit (temp files in .tmp only)"
        } else {
            "killed between commits"
        };
        *outcomes.entry(outcome).or_default() += 1;
        eprintln!(
            "{label}: {outcome}; {} data files new, {} unlisted, {} files in .tmp ({} staged)",
            seen.new_files, seen.unlisted, seen.tmp, seen.staged
        );
        // The rerun completes the job: the lake an uninterrupted run leaves.
        ingest(&lake, &[new_dir]);
        assert_same_as(
            &lake,
            reference_lake,
            &format!("{label}, rerun"),
            i % 4 == 0,
        );
        let _ = std::fs::remove_dir_all(&lake);
    }
    eprintln!("{kills} kills: {outcomes:?}");
    assert!(
        outcomes
            .get("finished before the kill")
            .copied()
            .unwrap_or(0)
            < kills / 2,
        "most kills must land inside the ingest: {outcomes:?}"
    );
}

#[test]
fn two_ingests_of_overlapping_files_at_once_equal_one_ingest() {
    let season = season();
    let root = &season.root;
    let reference_lake = root.join("ref");
    ingest(&reference_lake, &[season.new.as_path()]);
    let r = reference(&reference_lake);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&season.new)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    // A: every file; B: all but the first two (B's files overlap A's, in the same order), started
    // at the same time or a little later.
    let a: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let b: Vec<&Path> = a[2..].to_vec();
    for (round, delay_ms) in [0u64, 150, 700].into_iter().enumerate() {
        let lake = root.join(format!("both-{round}"));
        let start = Instant::now();
        let pa = ingest_cmd(&lake, &a)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("A starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let pb = ingest_cmd(&lake, &b)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("B starts");
        let (oa, ob) = (
            pa.wait_with_output().expect("A ends"),
            pb.wait_with_output().expect("B ends"),
        );
        for (name, o) in [("A", &oa), ("B", &ob)] {
            assert!(
                o.status.success(),
                "round {round}: ingest {name} failed:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let unchanged = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("(unchanged"))
                .count()
        };
        eprintln!(
            "round {round} (B {delay_ms} ms after A): both done in {:.2}s; files another process \
             had already committed: A {}, B {}",
            start.elapsed().as_secs_f64(),
            unchanged(&oa),
            unchanged(&ob)
        );
        assert_same_as(&lake, &r, &format!("round {round}"), true);
        let _ = std::fs::remove_dir_all(&lake);
    }
}

#[test]
fn an_ingest_kept_waiting_by_the_lock_says_so_and_a_rerun_completes() {
    let season = season();
    let root = &season.root;
    let files = [
        season.new.join("activities_110000.csv"),
        season.new.join("enterprise_sales_110000.csv"),
    ];
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let reference_lake = root.join("ref");
    ingest(&reference_lake, &files);
    let r = reference(&reference_lake);
    let lake = root.join("lake");
    std::fs::create_dir_all(&lake).expect("mkdir");
    // Another writer holds the lake's lock.
    let holder = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lake.join(".lock"))
        .expect("lock file");
    holder.lock().expect("lock");
    let out = ingest_cmd(&lake, &files)
        .env("HOMESEASON_LOCK_TIMEOUT_SECS", "1")
        .output()
        .expect("ingest runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the ingest cannot commit while the lake is locked"
    );
    assert!(
        stderr.contains("locked by another writer") && stderr.contains("retry"),
        "the refusal says why: {stderr}"
    );
    assert!(manifest(&lake).is_none() && snapshot(&lake).is_empty());
    // With the default wait, an ingest waits for the lock and completes once it is released.
    let mut waiting = ingest_cmd(&lake, &files)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ingest starts");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        waiting.try_wait().expect("status").is_none(),
        "the second ingest waits for the lock"
    );
    assert!(manifest(&lake).is_none());
    drop(holder);
    assert!(waiting.wait().expect("ingest ends").success());
    assert_same_as(&lake, &r, "after waiting for the lock", true);
}
