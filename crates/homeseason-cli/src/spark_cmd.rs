//! `homeseason ingest --engine spark`: the payment roll-up of transaction files on an Apache Spark
//! cluster (homeseason_spark), committed to the lake through the same write as the Rust engine — one
//! commit per file with its txn-id index, manifest and report. Every other file (daily, enterprise,
//! statistics, activities; JSON Lines and Parquet transactions) takes the usual path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use homeseason_ingest::Feed;
use homeseason_ingest::profile::Format;
use homeseason_ingest::stream::{self, MonthOwner, TxnContext};
use homeseason_lake::{Commit, Lake, Manifest, RefusedEntry, TxnSpill};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use homeseason_spark::{Input, SparkOptions};

use crate::pipeline::FileResult;

/// Spark settings from the command line.
pub(crate) struct SparkArgs<'a> {
    /// `--spark-master`.
    pub(crate) master: &'a str,
    /// `--spark-conf KEY=VALUE`.
    pub(crate) conf: &'a [String],
}

/// Whether a file goes to Spark: a CSV transaction file under its profile.
fn is_transaction_csv(path: &Path, feed: Option<Feed>) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let profile = crate::payfeeds::profile_for(path);
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
    stream::detect_payment_feed(&prepared.header, &profile) == Some(Feed::PaymentTransactions)
}

struct LakeCtx<'a> {
    lake: &'a Lake,
    manifest: Manifest,
    spill: TxnSpill,
}

impl TxnContext for LakeCtx<'_> {
    fn month_owner(
        &mut self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> std::result::Result<Option<MonthOwner>, String> {
        self.lake
            .month_holder(&self.manifest, institution, year, month)
            .map(|h| {
                h.map(|h| MonthOwner {
                    file: h.file,
                    sha256: h.sha256,
                    txn_fps: h.fps,
                })
            })
            .map_err(|e| e.to_string())
    }
    fn spill(&mut self, year: i32, month: u32, fps: &[u64]) -> std::io::Result<()> {
        self.spill.push(year, month, fps)
    }
    fn reset_spill(&mut self) -> std::io::Result<()> {
        self.spill.reset()
    }
}

/// Ingest `files`: transaction CSVs through Spark, the rest as usual; results in input order.
pub(crate) fn ingest(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    now: &str,
    spark: &SparkArgs<'_>,
) -> Result<Vec<FileResult>> {
    let (to_spark, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|p| is_transaction_csv(p, feed));
    let others: Vec<PathBuf> = others.into_iter().cloned().collect();
    let mut results = crate::pipeline::ingest_paths(lake, &others, feed, campaign, now, |_, _| {})?;
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
            profile: crate::payfeeds::profile_for(p),
        })
        .collect();
    let staging = lake
        .root()
        .join(".tmp")
        .join(format!("spark-{}", std::process::id()));
    let rollup = homeseason_spark::run_rollup(&opts, campaign, &inputs, &staging)
        .context("the Spark roll-up")?;
    for staged in &rollup.files {
        let mut ctx = LakeCtx {
            lake,
            manifest: lake.manifest()?,
            spill: lake.txn_spill()?,
        };
        let path = staged.path.display().to_string();
        let out = match staged.outcome(campaign, &mut ctx) {
            Ok(out) => out,
            Err(Ok(refusal)) => {
                let reason = refusal.to_string();
                lake.record_refusal(RefusedEntry {
                    sha256: staged.sha256.clone(),
                    file: staged.name.clone(),
                    feed: Some(Feed::PaymentTransactions.id().to_owned()),
                    reason: reason.clone(),
                    at: now.to_owned(),
                })?;
                results.push(FileResult {
                    path,
                    report: None,
                    commit: None,
                    refused: Some(reason),
                });
                continue;
            }
            Err(Err(e)) => return Err(e).with_context(|| format!("settling {path}")),
        };
        let months: Vec<(i32, u32)> = out
            .months
            .iter()
            .filter(|m| m.written)
            .map(|m| (m.year, m.month))
            .collect();
        let mut report = serde_json::to_value(&out.report)?;
        if let Some(obj) = report.as_object_mut() {
            obj.insert(
                "payments".into(),
                serde_json::json!({
                    "engine": "spark",
                    "spark_master": opts.master,
                    "institution": out.institution,
                    "profile": staged.profile.source,
                    "home_month": out.home_month.map(|(y, m)| format!("{y}-{m:02}")),
                    "months": out.months,
                    "duplicates_in_file": out.duplicates_in_file,
                    "duplicates_across_files": out.duplicates_across_files,
                    "passes": out.passes,
                    "unmapped_mcc_rows": out.unmapped_mcc.values().sum::<usize>(),
                    "unmapped_mcc": out.unmapped_mcc,
                }),
            );
        }
        let LakeCtx { spill, .. } = ctx;
        let commit = lake.commit_with_txn_index(
            &Commit {
                table: tables::PAYMENT_DAILY,
                feed: Feed::PaymentTransactions.id(),
                file: &staged.name,
                sha256: &out.report.sha256,
                rows: &out.rows,
                rejects: &out.rejects,
                report,
                now,
            },
            &out.institution,
            spill,
            &months,
        )?;
        results.push(FileResult {
            path,
            report: Some(out.report),
            commit: Some(commit),
            refused: None,
        });
    }
    let _ = std::fs::remove_dir_all(&staging);
    // Input order, as the Rust engine reports.
    let order = |p: &str| files.iter().position(|f| f.display().to_string() == p);
    results.sort_by_key(|r| order(&r.path));
    Ok(results)
}
