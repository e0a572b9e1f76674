//! `homeseason ingest --engine spark`: the payment roll-up of transaction files on an Apache Spark
//! cluster (homeseason_spark), committed to the lake through the same write as the Rust engine — one
//! commit per file with its txn-id index, manifest and report. Every other file (daily, enterprise,
//! statistics, activities; JSON Lines and Parquet transactions) takes the usual path.
//!
//! Inputs may also be cluster URIs (`hdfs://`, `s3a://`, `file://` …,
//! [`homeseason_ingest::is_uri`]): transaction CSVs (`.csv`, `.csv.gz`) that only the cluster reads.
//! The manifest records the URI as the file's source.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use homeseason_ingest::{Feed, Format, detect_payment_feed};
use homeseason_lake::Lake;
use homeseason_pipeline::{self as pipeline, FileRejects, FileResult, KeepRejects, Profiles};
use homeseason_schema::campaign::Campaign;
use homeseason_spark::{Input, SparkOptions};

/// Spark settings from the command line.
pub(crate) struct SparkArgs<'a> {
    /// `--spark-master`.
    pub(crate) master: &'a str,
    /// `--spark-conf KEY=VALUE`.
    pub(crate) conf: &'a [String],
}

/// The path a cluster URI's profile is matched by (its folder and file name; the query and fragment
/// removed): a string only, never opened.
fn uri_profile_key(uri: &str) -> PathBuf {
    PathBuf::from(uri.split(['?', '#']).next().unwrap_or(uri))
}

/// Check a cluster URI for Spark: a transaction CSV (`.csv`, `.csv.gz`) by its name, under no other
/// feed. Errors in English and Chinese.
fn check_uri(uri: &str, feed: Option<Feed>) -> Result<()> {
    let name = homeseason_ingest::uri_file_name(uri).map_err(anyhow::Error::msg)?;
    let lower = name.to_lowercase();
    if !(lower.ends_with(".csv") || lower.ends_with(".csv.gz")) {
        bail!(
            "{uri}: a cluster URI must name a transaction file in CSV (.csv or .csv.gz), which the Spark engine reads; copy other files here and ingest them as local files / {uri}：集群 URI 只能指向 CSV 交易明细文件（.csv 或 .csv.gz），由 Spark 引擎读取；其他文件请复制到本机后按本地文件导入"
        );
    }
    if let Some(f) = feed.filter(|f| *f != Feed::PaymentTransactions) {
        bail!(
            "{uri}: --feed {} cannot be read from a cluster URI: only payment_transactions goes to Spark / {uri}：集群 URI 只能导入 payment_transactions（交易明细），不能按 {} 导入",
            f.id(),
            f.id()
        );
    }
    Ok(())
}

/// Whether a file goes to Spark: a CSV transaction file under its profile.
fn is_transaction_csv(path: &Path, feed: Option<Feed>, profiles: &Profiles) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let profile = profiles.for_path(path);
    if profile.format.of_name(name) != Format::Csv || name.to_lowercase().ends_with(".xlsx") {
        return false;
    }
    if let Some(f) = feed.or(profile.feed) {
        return f == Feed::PaymentTransactions;
    }
    let Ok(prepared) = homeseason_spark::prepare(path, &profile) else {
        // Unreadable head: let Spark's preparation refuse it with the Rust engine's message only if
        // the header says transactions; otherwise the usual path decides.
        return false;
    };
    detect_payment_feed(&prepared.header, &profile) == Some(Feed::PaymentTransactions)
}

/// One file through the Rust engine (the fallback when a Spark increment went stale).
fn rust_engine(
    lake: &Lake,
    path: &Path,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    keep: KeepRejects,
) -> Result<Vec<FileResult>> {
    Ok(pipeline::ingest_paths_keeping(
        lake,
        &[path.to_path_buf()],
        Some(Feed::PaymentTransactions),
        campaign,
        profiles,
        now,
        keep,
        |_, _| {},
    )?)
}

/// Ingest `files`: transaction CSVs through Spark, the rest as usual; results in input order, with
/// the rejected rows `keep` says.
#[expect(
    clippy::too_many_arguments,
    reason = "the ingest context of every entry point, plus what to keep"
)]
pub(crate) fn ingest(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    spark: &SparkArgs<'_>,
    keep: KeepRejects,
) -> Result<Vec<FileResult>> {
    // Cluster URIs all go to Spark (checked first: nothing is ingested when one is unusable).
    let mut is_uri = Vec::with_capacity(files.len());
    for p in files {
        let uri = pipeline::input_is_uri(p)?;
        if uri {
            check_uri(&p.display().to_string(), feed)?;
        }
        is_uri.push(uri);
    }
    let mut to_spark: Vec<&PathBuf> = Vec::new();
    let mut others: Vec<PathBuf> = Vec::new();
    for (p, uri) in files.iter().zip(is_uri) {
        if uri || is_transaction_csv(p, feed, profiles) {
            to_spark.push(p);
        } else {
            others.push(p.clone());
        }
    }
    // A transaction file read again by the Rust engine (its institution's index changed meanwhile).
    let by_rust = |path: &Path| rust_engine(lake, path, campaign, profiles, now, keep);
    let mut results = pipeline::ingest_paths_keeping(
        lake,
        &others,
        feed,
        campaign,
        profiles,
        now,
        keep,
        |_, _| {},
    )?;
    if to_spark.is_empty() {
        return Ok(results);
    }
    let mut opts = SparkOptions::for_master(spark.master)?;
    for kv in spark.conf {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--spark-conf {kv:?}: expected KEY=VALUE"))?;
        opts = opts.with_conf(k, v);
    }
    let inputs: Vec<Input> = to_spark
        .iter()
        .map(|p| Input {
            path: (*p).clone(),
            profile: match p.to_str() {
                Some(s) if pipeline::input_is_uri(p).unwrap_or(false) => {
                    profiles.for_path(&uri_profile_key(s))
                }
                _ => profiles.for_path(p),
            },
            ledger: 0,
        })
        .collect();
    let staging = lake
        .root()
        .join(".tmp")
        .join(format!("spark-{}", std::process::id()));
    let rollup = homeseason_spark::run_rollup(&opts, campaign, &inputs, &staging, Some(lake))
        .context("the Spark roll-up")?;
    let extra = [
        ("engine", serde_json::json!("spark")),
        ("spark_master", serde_json::json!(opts.master)),
    ];
    // The index state each institution's next file was computed against: the state read before its
    // known ids were staged, then advanced by exactly this run's own commits.
    let mut seen = rollup.seen.clone();
    // Institutions whose remaining files go to the Rust engine: another writer changed the index
    // (stale), or a file refused after staging took part in the run's dedupe.
    let mut redo: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // URIs whose increment went stale: the Rust engine cannot read them again; the run must be.
    let mut run_again: Vec<String> = Vec::new();
    for staged in &rollup.files {
        let path = staged.path.display().to_string();
        let institution = staged
            .prepared
            .as_ref()
            .map(|p| p.institution.clone())
            .unwrap_or_default();
        if redo.contains(&institution) && staged.refused.is_none() {
            match &staged.uri {
                Some(uri) => run_again.push(uri.clone()),
                None => results.extend(by_rust(&staged.path)?),
            }
            continue;
        }
        if staged.refused_late {
            redo.insert(institution.clone());
        }
        // The staged increment settles into the lake's index format and commits through the
        // pipeline's one write path (manifest, audit, index), as a file read by the Rust engine does.
        let mut failure = None;
        let mut holder = |inst: &str, y: i32, m: u32| -> Option<String> {
            let manifest = lake.manifest().ok()?;
            lake.month_holder(&manifest, inst, y, m)
                .ok()
                .flatten()
                .map(|h| h.file)
        };
        // A URI's manifest entry names it as the file's source.
        let mut extra = extra.to_vec();
        if let Some(uri) = &staged.uri {
            extra.push(("source", serde_json::json!(uri)));
        }
        let prepared = pipeline::settle_transactions(
            lake,
            &staged.profile,
            &extra,
            Some(seen.get(&institution).cloned().unwrap_or_default()),
            |ctx| {
                staged
                    .outcome(campaign, ctx, &mut holder)
                    .map_err(|e| match e {
                        Ok(refusal) => refusal,
                        Err(e) => {
                            let why = e.to_string();
                            failure = Some(e);
                            homeseason_ingest::IngestError::Csv {
                                file: staged.name.clone(),
                                reason: why,
                            }
                        }
                    })
            },
        )?;
        if let Some(e) = failure {
            return Err(e).with_context(|| format!("settling {path}"));
        }
        match prepared {
            Ok(prepared) => {
                let before = seen.get(&institution).cloned().unwrap_or_default();
                match pipeline::commit_prepared(lake, &staged.name, prepared, now) {
                    Err(pipeline::PipelineError::Lake(homeseason_lake::LakeError::Stale {
                        ..
                    })) if staged.uri.is_some() => {
                        redo.insert(institution.clone());
                        run_again.push(path.clone());
                    }
                    Err(pipeline::PipelineError::Lake(homeseason_lake::LakeError::Stale {
                        ..
                    })) => {
                        eprintln!(
                            "{path}: another writer changed {institution}'s transaction index during the Spark run; this file and the run's later files of {institution} are read again by the Rust engine / Spark 运行期间另一写入者更改了 {institution} 的交易索引，本文件及其后同机构文件改由 Rust 引擎重新读取"
                        );
                        redo.insert(institution.clone());
                        results.extend(by_rust(&staged.path)?);
                    }
                    Err(e) => return Err(e.into()),
                    Ok(committed) => {
                        // Advance the state by this commit's own index files only; anything else
                        // is another writer's, and the institution's later files must be redone.
                        let manifest = lake.manifest()?;
                        let after = lake.txn_index_state(&manifest, &institution)?;
                        let sha = &committed.outcome.report.sha256;
                        let ours = |p: &Path| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with(sha.as_str()))
                        };
                        let mut expected: Vec<(PathBuf, u64)> = before
                            .into_iter()
                            .filter(|(p, _)| !ours(p))
                            .chain(after.iter().filter(|(p, _)| ours(p)).cloned())
                            .collect();
                        expected.sort();
                        if expected == after {
                            seen.insert(institution.clone(), after);
                        } else {
                            redo.insert(institution.clone());
                        }
                        let pipeline::Committed {
                            outcome, commit, ..
                        } = committed;
                        results.push(FileResult {
                            path,
                            rejects: FileRejects::from_rejects(outcome.rejects, keep)?,
                            report: Some(outcome.report),
                            commit: Some(commit),
                            refused: None,
                        });
                    }
                }
            }
            Err(refusal) => {
                let reason = refusal.to_string();
                pipeline::record_refusal(
                    lake,
                    &staged.name,
                    &staged.sha256,
                    Some(Feed::PaymentTransactions.id()),
                    &reason,
                    now,
                )?;
                results.push(FileResult {
                    path,
                    report: None,
                    commit: None,
                    refused: Some(reason),
                    rejects: FileRejects::default(),
                });
            }
        }
    }
    if let Err(e) = std::fs::remove_dir_all(&staging) {
        eprintln!(
            "could not remove the Spark staging folder {}: {e}",
            staging.display()
        );
    }
    if !run_again.is_empty() {
        let list = run_again.join(", ");
        bail!(
            "another writer changed the lake's transaction index during the Spark run, so these cluster URIs were not committed (a URI cannot be re-read here by the Rust engine); the run's other files are committed: run the same command again / Spark 运行期间另一写入者更改了交易索引，以下集群 URI 未入湖（本机 Rust 引擎无法重新读取 URI），本次其他文件已入湖：请重新运行同一命令: {list}"
        );
    }
    // Input order, as the Rust engine reports.
    let order = |p: &str| files.iter().position(|f| f.display().to_string() == p);
    results.sort_by_key(|r| order(&r.path));
    Ok(results)
}
