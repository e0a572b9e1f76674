//! `homeseason ingest --engine spark`: the payment roll-up of transaction files on an Apache Spark
//! cluster (homeseason_spark), committed to the lake through the same write as the Rust engine — one
//! commit per file with its txn-id index, manifest and report. Every other file (daily, enterprise,
//! statistics, activities; JSON Lines and Parquet transactions) takes the usual path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use homeseason_ingest::{Feed, Format, detect_payment_feed};
use homeseason_lake::Lake;
use homeseason_pipeline::{self as pipeline, FileResult, Profiles};
use homeseason_schema::campaign::Campaign;
use homeseason_spark::{Input, SparkOptions};

/// Spark settings from the command line.
pub(crate) struct SparkArgs<'a> {
    /// `--spark-master`.
    pub(crate) master: &'a str,
    /// `--spark-conf KEY=VALUE`.
    pub(crate) conf: &'a [String],
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

/// Ingest `files`: transaction CSVs through Spark, the rest as usual; results in input order.
pub(crate) fn ingest(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    profiles: &Profiles,
    now: &str,
    spark: &SparkArgs<'_>,
) -> Result<Vec<FileResult>> {
    let (to_spark, others): (Vec<&PathBuf>, Vec<&PathBuf>) = files
        .iter()
        .partition(|p| is_transaction_csv(p, feed, profiles));
    let others: Vec<PathBuf> = others.into_iter().cloned().collect();
    let mut results =
        pipeline::ingest_paths(lake, &others, feed, campaign, profiles, now, |_, _| {})?;
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
            profile: profiles.for_path(p),
        })
        .collect();
    let staging = lake
        .root()
        .join(".tmp")
        .join(format!("spark-{}", std::process::id()));
    let rollup = homeseason_spark::run_rollup(&opts, campaign, &inputs, &staging)
        .context("the Spark roll-up")?;
    let extra = [
        ("engine", serde_json::json!("spark")),
        ("spark_master", serde_json::json!(opts.master)),
    ];
    for staged in &rollup.files {
        let path = staged.path.display().to_string();
        // The staged output settles against the lake's txn-id index and commits through the
        // pipeline's one write path (manifest, audit, index), as a file read by the Rust engine does.
        let mut failure = None;
        let prepared = pipeline::settle_transactions(lake, &staged.profile, &extra, |ctx| {
            staged.outcome(campaign, ctx).map_err(|e| match e {
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
        })?;
        if let Some(e) = failure {
            return Err(e).with_context(|| format!("settling {path}"));
        }
        match prepared {
            Ok(prepared) => {
                let committed = pipeline::commit_prepared(lake, &staged.name, prepared, now)?;
                results.push(FileResult {
                    path,
                    rejects: pipeline::RejectedRow::from_frame(&committed.outcome.rejects)?,
                    report: Some(committed.outcome.report),
                    commit: Some(committed.commit),
                    refused: None,
                });
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
                    rejects: Vec::new(),
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
    // Input order, as the Rust engine reports.
    let order = |p: &str| files.iter().position(|f| f.display().to_string() == p);
    results.sort_by_key(|r| order(&r.path));
    Ok(results)
}
