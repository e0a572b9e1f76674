//! The steps the commands share: ingest paths into the lake, estimate uplift, build the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use homeseason_ingest::{Feed, FileReport, IngestError, detect_feed, ingest_bytes};
use homeseason_lake::{Commit, CommitSummary, Lake, RefusedEntry};
use homeseason_metrics::{Method, UpliftOptions, UpliftResult, daily_series, uplift};
use homeseason_report::{IngestTotals, Report, ReportInput};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::*;

pub(crate) use homeseason_schema::contract::tables::BASELINE_DAILY;

/// Every file under `paths` (directories walked, sorted), skipping generator metadata.
pub(crate) fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                for e in
                    std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
                {
                    let path = e?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if is_data_file(&path) {
                        out.push(path);
                    }
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}

fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    (name.ends_with(".csv") || name.ends_with(".csv.gz")) && !name.starts_with("truth")
}

/// One file's fate.
#[derive(Debug, serde::Serialize)]
pub(crate) struct FileResult {
    /// File path as given.
    pub(crate) path: String,
    /// Counts (absent when refused whole).
    pub(crate) report: Option<FileReport>,
    /// What the lake did.
    pub(crate) commit: Option<CommitSummary>,
    /// Why it was refused whole.
    pub(crate) refused: Option<String>,
}

/// Ingest files into the lake, one commit per file. Refused files are recorded, not fatal.
pub(crate) fn ingest_paths(
    lake: &Lake,
    files: &[PathBuf],
    feed: Option<Feed>,
    campaign: &Campaign,
    now: &str,
    mut progress: impl FnMut(usize, &Path),
) -> Result<Vec<FileResult>> {
    let mut results = Vec::new();
    for (i, path) in files.iter().enumerate() {
        progress(i, path);
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
            .to_owned();
        let outcome = feed
            .map_or_else(|| detect_feed(&name, &bytes), Ok)
            .and_then(|f| ingest_bytes(f, &name, &bytes, campaign).map(|o| (f, o)));
        match outcome {
            Ok((f, out)) => {
                let commit = lake.commit(&Commit {
                    table: f.lake_table(),
                    feed: f.id(),
                    file: &name,
                    sha256: &out.report.sha256,
                    rows: &out.rows,
                    rejects: &out.rejects,
                    report: serde_json::to_value(&out.report)?,
                    now,
                })?;
                results.push(FileResult {
                    path: path.display().to_string(),
                    report: Some(out.report),
                    commit: Some(commit),
                    refused: None,
                });
            }
            Err(e) => {
                let reason = e.to_string();
                let feed_id = match &e {
                    IngestError::UnknownFeed { .. } => None,
                    _ => feed.map(|f| f.id().to_owned()),
                };
                lake.record_refusal(RefusedEntry {
                    sha256: homeseason_ingest::source::sha256_hex(&bytes),
                    file: name,
                    feed: feed_id,
                    reason: reason.clone(),
                    at: now.to_owned(),
                })?;
                results.push(FileResult {
                    path: path.display().to_string(),
                    report: None,
                    commit: None,
                    refused: Some(reason),
                });
            }
        }
    }
    Ok(results)
}

/// Estimate uplift from the lake's `payment_daily` and write `uplift` and `baseline_daily`.
pub(crate) fn estimate(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<UpliftResult> {
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    anyhow::ensure!(
        daily.height() > 0,
        "the lake holds no payment_daily rows: ingest payment files first"
    );
    let series = daily_series(daily.lazy(), campaign)?;
    let result = uplift(&series, campaign, methods, opts)?;
    lake.write_output(tables::UPLIFT, &result.uplift)?;
    lake.write_output(BASELINE_DAILY, &result.baseline_daily)?;
    Ok(result)
}

/// Totals per feed of the current files in the manifest, and the files refused whole.
pub(crate) fn ingest_totals(lake: &Lake) -> Result<IngestTotals> {
    let manifest = lake.manifest()?;
    let mut by_feed: Vec<(String, usize, usize, usize, usize, usize)> = Vec::new();
    for f in manifest.files.iter().filter(|f| f.is_current()) {
        let n = |k: &str| {
            f.report
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0) as usize
        };
        let row = match by_feed.iter_mut().find(|r| r.0 == f.feed) {
            Some(r) => r,
            None => {
                by_feed.push((f.feed.clone(), 0, 0, 0, 0, 0));
                by_feed.last_mut().expect("just pushed")
            }
        };
        row.1 += 1;
        row.2 += n("read");
        row.3 += n("accepted");
        row.4 += n("rejected");
        row.5 += n("duplicates");
    }
    let refused = manifest
        .refused
        .iter()
        .filter(|r| {
            !manifest
                .files
                .iter()
                .any(|f| f.file == r.file && f.ingested_at >= r.at)
        })
        .map(|r| (r.file.clone(), r.reason.clone()))
        .collect();
    Ok(IngestTotals { by_feed, refused })
}

/// Build the report from the lake's output tables and write it under `out` (HTML, Markdown, charts).
pub(crate) fn report(
    lake: &Lake,
    campaign: &Campaign,
    out: &Path,
    now: &str,
) -> Result<(Report, PathBuf)> {
    let uplift = lake.read_table(tables::UPLIFT)?;
    let baseline_daily = lake.read_table(BASELINE_DAILY)?;
    anyhow::ensure!(
        uplift.height() > 0,
        "no uplift table in the lake: run `homeseason uplift` first"
    );
    let report = homeseason_report::build(&ReportInput {
        campaign,
        uplift: &uplift,
        baseline_daily: &baseline_daily,
        ingest: ingest_totals(lake)?,
        generated_at: now.to_owned(),
    })?;
    let charts = out.join("charts");
    std::fs::create_dir_all(&charts).with_context(|| format!("creating {}", charts.display()))?;
    for c in &report.charts {
        std::fs::write(charts.join(format!("{}.png", c.name)), &c.png)?;
        std::fs::write(charts.join(format!("{}.svg", c.name)), &c.svg)?;
    }
    let html = out.join("report.html");
    std::fs::write(&html, &report.html)?;
    std::fs::write(out.join("report.md"), &report.markdown)?;
    std::fs::write(
        out.join("headline.json"),
        serde_json::to_vec_pretty(&report.headline)?,
    )?;
    Ok((report, html))
}
