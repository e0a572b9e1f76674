//! `--engine spark` (issue 17) against a real standalone Spark cluster started by `tests/run.sh`
//! (`tests/spark/cluster.sh`; it exports `HOMESEASON_SPARK_MASTER`, `SPARK_HOME`,
//! `HOMESEASON_SPARK_PYTHON` and `HOMESEASON_SPARK_TEST=require`). Without a cluster (a plain
//! `cargo test`) these tests say so and skip; under `tests/run.sh` they are required.
//!
//! * The bad-input corpus's transaction cases, all in one Spark job: the same read / accepted /
//!   rejected / duplicate counts, rejects (line, column, reason) and refusals as the corpus expects of
//!   the Rust engine, and the same `payment_daily` and `payment_area_daily` rows as the Rust engine
//!   gives.
//! * The demo's whole sample season through `homeseason ingest --engine spark`: the lake's
//!   `payment_daily`, `payment_area_daily`, `rejects` and txn index (ids, merchant pairs, area
//!   merchant pairs) equal those the Rust engine committed in the demo's lake, and its area cells
//!   sum to its `payment_daily` cells.
//! * The sample season's transaction files as `file://` cluster URIs through Spark: the same lake as
//!   the same files as local paths through the Rust engine (both tables' rows, fen, rejects, txn
//!   index, manifest SHA-256s);
//!   a re-sent URI changes nothing; the Rust engine refuses a URI (no cluster needed).

#![expect(
    clippy::print_stderr,
    reason = "progress and timings of the Spark job, on purpose"
)]

use homeseason_ingest::{NoLake, Profile, ingest_transaction_bytes};
use homeseason_lake::Lake;
use homeseason_schema::campaign::Campaign;
use homeseason_spark::{Input, SparkOptions};
use homeseason_test_support::reject_triples;
use polars::prelude::*;
use std::collections::BTreeSet;

use crate::corpus::{Expect, cases};
use crate::util::{demo_dir, fails, ingest, ok, ok_with_env, read_json};

fn cluster() -> Option<SparkOptions> {
    let required = std::env::var("HOMESEASON_SPARK_TEST").is_ok_and(|v| v == "require");
    match SparkOptions::from_env() {
        Some(o) => Some(o.with_conf("spark.sql.shuffle.partitions", "4")),
        None if required => {
            panic!(
                "HOMESEASON_SPARK_TEST=require but HOMESEASON_SPARK_MASTER / SPARK_HOME are unset"
            )
        }
        None => {
            eprintln!(
                "SKIPPED: no Spark cluster (run tests/run.sh, or eval \"$(tests/spark/cluster.sh start)\")"
            );
            None
        }
    }
}

/// The arguments of `homeseason ingest --engine spark` on the test cluster `opts` into `lake`,
/// answering in JSON, of the files or URIs `inputs`.
fn spark_ingest_args<'a>(
    opts: &'a SparkOptions,
    lake: &'a std::path::Path,
    inputs: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "ingest",
        "--engine",
        "spark",
        "--spark-master",
        opts.master.as_str(),
        "--spark-conf",
        "spark.sql.shuffle.partitions=4",
        "--lake",
        lake.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(inputs);
    args
}

#[test]
fn spark_engine_on_the_corpus_transaction_cases() {
    let Some(opts) = cluster() else { return };
    let campaign = Campaign::default_2023();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.feed == "payment_transactions" && c.args.is_empty())
        .collect();
    assert!(cases.len() >= 10, "{}", cases.len());
    let inputs: Vec<Input> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let path = dir.path().join(format!("case{i:02}")).join(&c.file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &c.bytes).unwrap();
            // Each case is its own ingest (its own ledger): cases share ids but not a run.
            Input {
                path,
                profile: Profile::default(),
                ledger: i,
            }
        })
        .collect();
    let rollup =
        homeseason_spark::run_rollup(&opts, &campaign, &inputs, &dir.path().join("staging"), None)
            .expect("the Spark job runs");
    let mut failures = Vec::new();
    for (c, staged) in cases.iter().zip(&rollup.files) {
        let spark = staged.outcome(&campaign, &mut NoLake, &mut |_, _, _| None);
        let rust = ingest_transaction_bytes(&c.file, &c.bytes, &Profile::default(), &campaign);
        let verdict = match (&c.expect, spark, rust) {
            (Expect::Refused(needles), Err(Ok(e)), Err(_)) => {
                let why = e.to_string();
                needles
                    .iter()
                    .chain(std::iter::once(&c.file.as_str()))
                    .find(|n| !why.contains(**n))
                    .map(|n| format!("refusal lacks {n:?}: {why}"))
            }
            (
                Expect::Rows {
                    counts,
                    rejects: want,
                    ..
                },
                Ok(s),
                Ok(r),
            ) => {
                let rep = &s.report;
                let got_counts = (
                    rep.read as u64,
                    rep.accepted as u64,
                    rep.rejected as u64,
                    rep.duplicates as u64,
                );
                let mut want: Vec<(i64, String, String)> = want
                    .iter()
                    .map(|(l, c, r)| (*l, (*c).to_owned(), (*r).to_owned()))
                    .collect();
                want.sort();
                if got_counts != *counts {
                    Some(format!("counts {got_counts:?}, expected {counts:?}"))
                } else if reject_triples(&s.rejects.to_frame().expect("rejects")) != want {
                    Some(format!(
                        "rejects {:?}, expected {want:?}",
                        reject_triples(&s.rejects.to_frame().expect("rejects"))
                    ))
                } else if r.report != s.report
                    || !r.rows.equals_missing(&s.rows)
                    || !r.area_rows.equals_missing(&s.area_rows)
                {
                    Some(format!(
                        "differs from the Rust engine: {:?} vs {:?}\n{}\n{}\n{}\n{}",
                        r.report, s.report, r.rows, s.rows, r.area_rows, s.area_rows
                    ))
                } else {
                    None
                }
            }
            (_, s, r) => Some(format!(
                "unexpected outcome: spark {:?} / rust {:?}",
                s.map(|o| o.report)
                    .map_err(|e| e.map(|e| e.to_string()).map_err(|e| e.to_string())),
                r.map(|o| o.report).map_err(|e| e.to_string())
            )),
        };
        eprintln!("{:<70} {}", c.name, verdict.as_deref().unwrap_or("same"));
        if let Some(v) = verdict {
            failures.push(format!("{}: {v}", c.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn sorted_table(lake: &std::path::Path, table: &str, keys: &[&str]) -> DataFrame {
    let df = Lake::open(lake).unwrap().read_table(table).unwrap();
    if df.height() == 0 {
        return df;
    }
    let mut cols: Vec<String> = df
        .get_column_names()
        .iter()
        .map(std::string::ToString::to_string)
        .filter(|c| c != "file_sha256" && c != "ingested_at")
        .collect();
    cols.sort();
    df.select(cols)
        .unwrap()
        .sort(keys.to_vec(), SortMultipleOptions::default())
        .unwrap()
}

/// The lake's txn index as sets of records per institution-month folder and kind (`id128v`: id,
/// values' fingerprint and day; `pairs` and `apairs`: merchant pair or area merchant pair and day),
/// whichever files hold them.
type IndexSets = std::collections::BTreeMap<(String, &'static str), BTreeSet<Vec<u8>>>;

fn index_sets(lake: &std::path::Path) -> IndexSets {
    let mut out = IndexSets::new();
    let root = lake.join("_txn_index");
    assert!(root.is_dir(), "no txn index at {}", root.display());
    for p in homeseason_test_support::files_under(&root) {
        let (kind, size) = match p.extension().and_then(|x| x.to_str()).unwrap_or("") {
            "id128v" => ("id128v", 28),
            "pairs" => ("pairs", 12),
            "apairs" => ("apairs", 12),
            _ => continue,
        };
        let folder = p.parent().unwrap().strip_prefix(&root).unwrap();
        let set = out.entry((folder.display().to_string(), kind)).or_default();
        for rec in std::fs::read(&p).unwrap().chunks_exact(size) {
            assert!(
                set.insert(rec.to_vec()),
                "a record twice in {}",
                p.display()
            );
        }
    }
    out
}

/// Records of each kind in an index.
fn index_counts(index: &IndexSets) -> std::collections::BTreeMap<&'static str, usize> {
    let mut out = std::collections::BTreeMap::new();
    for ((_, kind), set) in index {
        *out.entry(*kind).or_default() += set.len();
    }
    out
}

/// The lake a Spark ingest wrote (`spark`) is the one the Rust engine wrote (`rust`): every row of
/// `payment_daily`, `payment_area_daily` and `rejects` (sorted, every column but the file hash and
/// ingest time), the txn index's ids, merchant pairs and area merchant pairs per institution-month;
/// and the Spark lake's area cells sum to its `payment_daily` cells
/// ([`homeseason_ingest::area_sum_mismatches`]).
fn assert_same_lake(spark: &std::path::Path, rust: &std::path::Path, what: &str) {
    let daily_keys = ["institution", "date", "region_code", "mcc", "channel"];
    let area_keys = [
        "institution",
        "date",
        "region_code",
        "area_code",
        "mcc",
        "channel",
    ];
    let reject_keys = ["line", "reason", "raw", "message_en"];
    let mut heights = Vec::new();
    for (table, keys) in [
        ("payment_daily", &daily_keys[..]),
        ("payment_area_daily", &area_keys[..]),
        ("rejects", &reject_keys[..]),
    ] {
        let (s, r) = (
            sorted_table(spark, table, keys),
            sorted_table(rust, table, keys),
        );
        assert_eq!(s.height(), r.height(), "{what}: {table} rows");
        assert!(s.equals_missing(&r), "{what}: {table} differs\n{s}\n{r}");
        heights.push((table, s.height()));
    }
    // (`payment_daily` also holds the rows of pre-aggregated daily files, which carry no area.)
    assert!(heights[0].1 > 0 && heights[1].1 > 0, "{what}: {heights:?}");
    let lake = Lake::open(spark).unwrap();
    let daily = lake.read_table("payment_daily").unwrap();
    let area = lake.read_table("payment_area_daily").unwrap();
    let bad = homeseason_ingest::area_sum_mismatches(&daily, &area, 10).unwrap();
    assert!(
        bad.is_empty(),
        "{what}: the Spark lake's areas do not sum to payment_daily:\n{}",
        bad.join("\n")
    );
    let (spark_index, rust_index) = (index_sets(spark), index_sets(rust));
    let counts = index_counts(&rust_index);
    eprintln!(
        "{what}: rows {heights:?}; txn index records spark {:?} rust {counts:?}",
        index_counts(&spark_index)
    );
    assert!(
        ["id128v", "pairs", "apairs"]
            .iter()
            .all(|k| counts.get(k).copied().unwrap_or(0) > 0),
        "{what}: {counts:?}"
    );
    assert!(spark_index == rust_index, "{what}: the txn index differs");
}

#[test]
fn spark_ingest_of_the_sample_season_lands_the_same_lake_tables() {
    let Some(opts) = cluster() else { return };
    let demo = demo_dir();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sample = demo.join("sample");
    // A delivery pattern first: one month of wallet_b through the Rust engine, then the whole season
    // (that month again among it) through Spark: the re-sent month adds nothing.
    let wallet = homeseason_test_support::files_with_ext(&sample.join("payments/wallet_b"), "csv");
    let first = wallet.last().unwrap();
    // The same file twice in one Spark run: a copy (another name, the same bytes) of another month
    // after the whole sample. Its rows are all duplicates of the original's; nothing is counted twice.
    let again = dir.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    let copy = again.join("wallet_b_sent_twice.csv");
    std::fs::copy(&wallet[0], &copy).unwrap();
    ingest(&lake, &[], &[first]);
    // The lake's ids spilled to bucket files however few (as past 2²⁰ ids): Spark is handed them a
    // bucket at a time.
    let stdout = ok_with_env(
        &spark_ingest_args(
            &opts,
            &lake,
            &[sample.to_str().unwrap(), copy.to_str().unwrap()],
        ),
        &[("HOMESEASON_KNOWN_IDS_IN_MEMORY", "0")],
    );
    let results: serde_json::Value = serde_json::from_str(&stdout).expect("JSON results");
    let twice = results
        .as_array()
        .expect("a result per file")
        .iter()
        .find(|r| r.to_string().contains("wallet_b_sent_twice.csv"))
        .unwrap_or_else(|| panic!("no result for the copy in {results}"));
    let r = &twice["report"];
    if r.is_object() {
        // Read through Spark: every row a duplicate of the original, none accepted.
        assert!(r["read"].as_u64() > Some(0), "{twice}");
        assert_eq!(r["accepted"].as_u64(), Some(0), "{twice}");
        assert_eq!(r["duplicates"], r["read"], "{twice}");
    } else {
        // Or recognised by its hash as content already ingested in this run.
        let text = twice.to_string();
        assert!(
            text.contains("unchanged") || text.contains("duplicate"),
            "{twice}"
        );
    }
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    let spark_files = manifest["files"]
        .as_array()
        .expect("manifest lists files")
        .iter()
        .filter(|f| f["report"]["payments"]["engine"] == "spark")
        .count();
    // 36 transaction files; the one ingested by the Rust engine first keeps its manifest entry (its
    // re-sending through Spark is `unchanged`).
    assert!(spark_files >= 35, "{spark_files} files went through Spark");
    assert_same_lake(&lake, &demo.join("lake"), "the sample season through Spark");
}

/// The stale fallback (issue 17): another writer commits transactions of the same institution while
/// the Spark job runs. Spark's increment was computed against the index as it was before that commit,
/// so committing it could count the other writer's transactions twice; the lake refuses it as stale
/// and the file is read again by the Rust engine. The lake must end exactly as the Rust engine alone
/// leaves it after the same two files in the order they were committed.
#[test]
fn a_stale_spark_increment_is_redone_by_the_rust_engine() {
    let Some(opts) = cluster() else { return };
    let demo = demo_dir();
    let dir = tempfile::tempdir().unwrap();
    let wallet: Vec<std::path::PathBuf> =
        homeseason_test_support::files_with_ext(&demo.join("sample/payments/wallet_b"), "csv")
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains("2023-09") || n.contains("2023-10"))
            })
            .collect();
    assert_eq!(wallet.len(), 2, "{wallet:?}");
    // Spark reads September; meanwhile the other writer sends October plus the first 300 sales of
    // September (an export that overlaps the month before): those 300 are in both files.
    let september = &wallet[0];
    let sep_text = std::fs::read_to_string(september).unwrap();
    let oct_text = std::fs::read_to_string(&wallet[1]).unwrap();
    let mut overlap = oct_text.clone();
    if !overlap.ends_with('\n') {
        overlap.push('\n');
    }
    for line in sep_text.lines().skip(1).take(300) {
        overlap.push_str(line);
        overlap.push('\n');
    }
    let other = dir.path().join("wallet_b_october_with_overlap.csv");
    std::fs::write(&other, overlap).unwrap();

    let lake = dir.path().join("lake");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_homeseason"))
        .args(spark_ingest_args(
            &opts,
            &lake,
            &[september.to_str().unwrap()],
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The driver is written after the index state was noted and the known ids staged: from then on a
    // commit by anyone else makes this run's increment stale.
    let started = std::time::Instant::now();
    let staged = loop {
        let found = std::fs::read_dir(lake.join(".tmp")).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path().join("rollup.py"))
                .find(|p| p.is_file())
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the Spark ingest ended before its job was staged"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "no Spark job staged after 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    ingest(&lake, &[], &[other.as_path()]);
    let other_done = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        staged.parent().is_some_and(|p| !p.exists()),
        "the staging folder is removed"
    );
    eprintln!(
        "the other writer committed {other_done:?} after the Spark ingest started; whole run {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("read again by the Rust engine")
            && stderr.contains("改由 Rust 引擎重新读取"),
        "the stale increment was not redone:\n{stderr}"
    );
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON results");
    let report = &results[0]["report"];
    assert_eq!(report["duplicates"].as_u64(), Some(300), "{results}");
    // What was committed is the Rust engine's reading: no manifest entry says Spark.
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    let files = manifest["files"].as_array().expect("manifest lists files");
    assert_eq!(files.len(), 2, "{manifest}");
    assert!(
        files
            .iter()
            .all(|f| f["report"]["payments"]["engine"] != "spark"),
        "{manifest}"
    );

    // The same two files through the Rust engine alone, in commit order.
    let reference = dir.path().join("reference");
    ingest(&reference, &[], &[other.as_path()]);
    ingest(&reference, &[], &[september.as_path()]);
    assert_same_lake(&lake, &reference, "the stale increment redone");
}

/// A `payment_daily` money column's total in fen, exactly (the decimal text summed as integers).
fn total_fen(df: &DataFrame, column: &str) -> i128 {
    let text = df.column(column).unwrap().cast(&DataType::String).unwrap();
    text.str()
        .unwrap()
        .iter()
        .map(|v| {
            let v = v.unwrap_or("0");
            let (neg, v) = v.strip_prefix('-').map_or((false, v), |r| (true, r));
            let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
            let frac = format!("{frac:0<2}");
            assert!(frac.len() == 2, "{column} {v}: finer than the fen");
            let fen = whole.parse::<i128>().unwrap() * 100 + frac.parse::<i128>().unwrap();
            if neg { -fen } else { fen }
        })
        .sum()
}

/// Rejected rows per reason code.
fn reject_counts(lake: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let df = Lake::open(lake).unwrap().read_table("rejects").unwrap();
    let mut out = std::collections::BTreeMap::new();
    if df.height() == 0 {
        return out;
    }
    for r in df.column("reason").unwrap().str().unwrap().iter() {
        *out.entry(r.unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    out
}

/// The manifest's files: name → (SHA-256, the `payments` report).
fn manifest_files(
    lake: &std::path::Path,
) -> std::collections::BTreeMap<String, (String, serde_json::Value)> {
    let manifest: serde_json::Value = read_json(&lake.join("_manifest.json"));
    manifest["files"]
        .as_array()
        .expect("manifest lists files")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                (
                    f["sha256"].as_str().unwrap().to_owned(),
                    f["report"]["payments"].clone(),
                ),
            )
        })
        .collect()
}

/// The Rust engine reads local files only: a cluster URI is refused before anything is read, in
/// both languages, and `scheme://` with a scheme no cluster reads is neither a URI nor a path.
#[test]
fn the_rust_engine_refuses_a_cluster_uri() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let local = dir.path().join("payment_transactions_wallet_b_2023-09.csv");
    std::fs::write(
        &local,
        "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n",
    )
    .unwrap();
    let uri = format!("file://{}", local.display());
    let lake_arg = lake.to_str().unwrap();
    let err = fails(&["ingest", "--lake", lake_arg, &uri]);
    for needle in [
        uri.as_str(),
        "can only be read by the Spark engine (--engine spark)",
        "只能由 Spark 引擎读取（--engine spark）",
    ] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    // Before anything is read: no file of the command reaches the lake, not even the local one.
    let err = fails(&["ingest", "--lake", lake_arg, local.to_str().unwrap(), &uri]);
    assert!(err.contains("only be read by the Spark engine"), "{err}");
    assert!(
        !lake.join("_manifest.json").exists()
            || read_json(&lake.join("_manifest.json"))["files"]
                .as_array()
                .is_none_or(Vec::is_empty),
        "a file was ingested"
    );
    for engine in ["rust", "spark"] {
        let err = fails(&[
            "ingest",
            "--engine",
            engine,
            "--spark-master",
            "spark://127.0.0.1:9",
            "--lake",
            lake_arg,
            "http://example.com/payment_transactions.csv",
        ]);
        for needle in ["not a local path", "不是本地路径", "hdfs", "s3a"] {
            assert!(err.contains(needle), "{engine}: {needle:?} not in: {err}");
        }
    }
    // Through Spark, a URI must name a CSV transaction file (checked before Spark is asked), and
    // its name is checked as an uploaded file's.
    for (bad, needle) in [
        (
            "file:///tmp/payment_transactions.parquet",
            "(.csv or .csv.gz)",
        ),
        ("hdfs://nn/season/..", "not usable"),
        ("s3a://bucket/..%2Fetc%2Fpasswd.csv", "percent-encoded"),
    ] {
        let err = fails(&[
            "ingest",
            "--engine",
            "spark",
            "--spark-master",
            "spark://127.0.0.1:9",
            "--lake",
            lake_arg,
            bad,
        ]);
        assert!(err.contains(needle), "{bad}: {needle:?} not in: {err}");
    }
}

/// The sample season's transaction files as `file://` URIs through Spark (inspected through
/// Hadoop's `FileSystem`, read by the cluster, never opened by homeseason) land the same lake as the
/// same files as local paths through the Rust engine: every `payment_daily` row to the fen, the
/// rejects by reason, the manifest's SHA-256 of every file. A URI sent again changes nothing.
#[test]
fn file_uris_through_spark_land_what_local_paths_land_through_rust() {
    let Some(opts) = cluster() else { return };
    let demo = demo_dir();
    let dir = tempfile::tempdir().unwrap();
    let files =
        homeseason_test_support::files_with_ext(&demo.join("sample/payments/wallet_b"), "csv");
    assert!(files.len() >= 12, "{files:?}");
    let uris: Vec<String> = files
        .iter()
        .map(|p| format!("file://{}", std::fs::canonicalize(p).unwrap().display()))
        .collect();
    let spark_lake = dir.path().join("spark");
    let rust_lake = dir.path().join("rust");
    let spark_ingest = |uris: &[String]| -> serde_json::Value {
        let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
        serde_json::from_str(&ok(&spark_ingest_args(&opts, &spark_lake, &uris)))
            .expect("JSON results")
    };
    let started = std::time::Instant::now();
    let results = spark_ingest(&uris);
    let spark_seconds = started.elapsed().as_secs_f64();
    let results = results.as_array().expect("a result per file").clone();
    assert_eq!(results.len(), uris.len());
    for (r, uri) in results.iter().zip(&uris) {
        assert_eq!(r["path"].as_str(), Some(uri.as_str()), "{r}");
        assert!(r["report"].is_object(), "{uri} was refused: {r}");
    }
    let paths: Vec<&std::path::Path> = files.iter().map(std::path::PathBuf::as_path).collect();
    let started = std::time::Instant::now();
    ingest(&rust_lake, &[], &paths);
    let rust_seconds = started.elapsed().as_secs_f64();

    let keys = ["institution", "date", "region_code", "mcc", "channel"];
    let spark = sorted_table(&spark_lake, "payment_daily", &keys);
    let rust = sorted_table(&rust_lake, "payment_daily", &keys);
    let fen = |df: &DataFrame| {
        (
            total_fen(df, "amount_yuan"),
            total_fen(df, "refund_amount_yuan"),
        )
    };
    eprintln!(
        "{} file:// URIs through Spark in {spark_seconds:.1} s, as local paths through Rust in {rust_seconds:.1} s; \
         payment_daily rows spark {} rust {}; (sales, refunds) in fen spark {:?} rust {:?}",
        uris.len(),
        spark.height(),
        rust.height(),
        fen(&spark),
        fen(&rust)
    );
    assert!(rust.height() > 0);
    assert_eq!(fen(&spark), fen(&rust));
    let (spark_rejects, rust_rejects) = (reject_counts(&spark_lake), reject_counts(&rust_lake));
    eprintln!("rejects by reason: spark {spark_rejects:?} rust {rust_rejects:?}");
    assert_eq!(spark_rejects, rust_rejects);
    assert_same_lake(&spark_lake, &rust_lake, "file:// URIs through Spark");
    // The manifest: the same files under the same SHA-256 (the JVM's, over the URI's stream), each
    // Spark entry naming its URI as the source.
    let (spark_files, rust_files) = (manifest_files(&spark_lake), manifest_files(&rust_lake));
    assert_eq!(spark_files.len(), uris.len());
    let shas = |m: &std::collections::BTreeMap<String, (String, serde_json::Value)>| {
        m.iter()
            .map(|(k, (sha, _))| (k.clone(), sha.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(shas(&spark_files), shas(&rust_files));
    for (file, uri) in files.iter().zip(&uris) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let (_, payments) = &spark_files[name];
        assert_eq!(payments["engine"], "spark", "{payments}");
        assert_eq!(
            payments["source"].as_str(),
            Some(uri.as_str()),
            "{payments}"
        );
    }

    // The same URI again: recognised, nothing changes.
    let again = spark_ingest(&uris[..1]);
    let r = &again[0];
    assert_eq!(r["commit"]["unchanged"], true, "{r}");
    assert_eq!(r["report"]["accepted"].as_u64(), Some(0), "{r}");
    assert_eq!(r["report"]["duplicates"], r["report"]["read"], "{r}");
    assert_eq!(shas(&manifest_files(&spark_lake)), shas(&rust_files));
    assert_same_lake(&spark_lake, &rust_lake, "a URI sent again");
}
