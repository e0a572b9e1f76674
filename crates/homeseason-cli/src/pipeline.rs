//! The steps the commands share: ingest paths into the lake, estimate uplift, build the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use homeseason_ingest::{Feed, FileReport};
use homeseason_lake::{Commit, CommitSummary, Lake};
use homeseason_metrics::{Method, UpliftOptions, UpliftResult, daily_series, tracking, uplift};
use homeseason_report::{IngestTotals, Report, ReportInput};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::*;

pub(crate) use homeseason_schema::contract::tables::BASELINE_DAILY;

/// Every file under `paths`, skipping generator metadata: files named on the command line in the
/// order given (a correction named after the file it corrects is ingested after it), the files of a
/// directory walked in name order.
pub(crate) fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                for e in
                    std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
                {
                    let path = e?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if is_data_file(&path) {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    (lower.ends_with(".csv")
        || lower.ends_with(".csv.gz")
        || lower.ends_with(".xlsx")
        || lower.ends_with(".xls")
        || crate::payfeeds::is_extra_data_file(&lower))
        && !name.starts_with("truth")
        // Excel's lock file while a workbook is open.
        && !name.starts_with("~$")
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
        // Payment files (transactions, profiled or JSON Lines / Parquet daily files) stream.
        if let Some(result) = crate::payfeeds::ingest_payment_file(lake, path, feed, campaign, now)? {
            results.push(result);
            continue;
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
            .to_owned();
        // The one path from bytes to lake, shared with the upload server.
        let fate = homeseason_server::ingest::ingest_file(lake, &name, &bytes, feed, campaign, now)?;
        results.push(match fate {
            homeseason_server::ingest::Fate::Ingested { report, commit, .. } => FileResult {
                path: path.display().to_string(),
                report: Some(report),
                commit: Some(commit),
                refused: None,
            },
            homeseason_server::ingest::Fate::Refused { reason } => FileResult {
                path: path.display().to_string(),
                report: None,
                commit: None,
                refused: Some(reason),
            },
        });
    }
    Ok(results)
}

/// Estimate uplift from the lake's `payment_daily` and write `uplift`, `baseline_daily`,
/// `weekly_tracking`, `data_completeness`, `triangulation` and the local-event tables.
pub(crate) fn estimate(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<UpliftResult> {
    Ok(estimate_timed(lake, campaign, methods, opts)?.0)
}

/// [`estimate`], with the wall time of each stage in seconds (for `homeseason evaluate`).
pub(crate) fn estimate_timed(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(UpliftResult, Vec<(&'static str, f64)>)> {
    let mut times = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str, times: &mut Vec<(&'static str, f64)>| {
        times.push((name, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    anyhow::ensure!(
        daily.height() > 0,
        "the lake holds no payment_daily rows: ingest payment files first"
    );
    let series = daily_series(daily.lazy(), campaign)?;
    lap("read lake and build daily series", &mut times);
    let result = uplift(&series, campaign, methods, opts)?;
    lap("uplift, all methods with placebo windows", &mut times);
    lake.write_output(tables::UPLIFT, &result.uplift)?;
    lake.write_output(BASELINE_DAILY, &result.baseline_daily)?;
    let weekly = tracking::weekly_tracking(&result.baseline_daily, campaign)?;
    lake.write_output(tables::WEEKLY_TRACKING, &weekly)?;
    write_completeness(lake, campaign)?;
    write_triangulation(lake, campaign, &result.uplift, opts.seed)?;
    lap("weekly tracking, completeness, triangulation (and writes)", &mut times);
    crate::geolift_cmd::write_local_events(lake, &series, campaign)?;
    lap("local events: synthetic control and power", &mut times);
    Ok((result, times))
}

/// Rewrite `triangulation`: payments' uplift beside key-enterprise sales and 社零 (published YoY).
pub(crate) fn write_triangulation(lake: &Lake, campaign: &Campaign, uplift: &DataFrame, seed: u64) -> Result<DataFrame> {
    use homeseason_metrics::triangulate::{TriangulateOptions, triangulate};
    let enterprise = lake.read_table(tables::ENTERPRISE_SALES)?;
    let retail = lake.read_table(tables::RETAIL_STATS)?;
    let frame = triangulate(
        uplift,
        &enterprise,
        &retail,
        campaign,
        &TriangulateOptions { seed, ..TriangulateOptions::default() },
    )?;
    lake.write_output(tables::TRIANGULATION, &frame)?;
    Ok(frame)
}

/// Rewrite `data_completeness` (region × feed × week of the campaign window) from the lake's current
/// partitions; the upload server computes the same rows for its completeness endpoint.
pub(crate) fn write_completeness(lake: &Lake, campaign: &Campaign) -> Result<DataFrame> {
    let rows = homeseason_server::completeness::completeness(
        lake,
        campaign.window.start,
        campaign.window.end,
        &|_| true,
        &homeseason_server::completeness::FEEDS,
    )?;
    let frame = df!(
        "region_code" => rows.iter().map(|r| r.region_code.as_str()).collect::<Vec<_>>(),
        "feed" => rows.iter().map(|r| r.feed.as_str()).collect::<Vec<_>>(),
        "week_start" => rows.iter().map(|r| r.week_start).collect::<Vec<_>>(),
        "status" => rows.iter().map(|r| r.status).collect::<Vec<_>>(),
        "rows" => rows.iter().map(|r| r.rows as i64).collect::<Vec<_>>(),
        "files" => rows.iter().map(|r| r.files as i64).collect::<Vec<_>>(),
    )?;
    lake.write_output(tables::DATA_COMPLETENESS, &frame)?;
    Ok(frame)
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

/// The Sunday ending the latest week for which `payment_daily` holds every day, if that is before the
/// window's end (`None`: the window is complete, report on all of it).
pub(crate) fn latest_complete_week(lake: &Lake, campaign: &Campaign) -> Result<Option<chrono::NaiveDate>> {
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(None);
    }
    let last = daily
        .column("date")?
        .cast(&DataType::Int32)?
        .i32()?
        .max()
        .and_then(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163));
    let Some(last) = last else { return Ok(None) };
    if last >= campaign.window.end {
        return Ok(None);
    }
    let sunday = homeseason_report::week_sunday(last);
    Ok(Some(if sunday == last { last } else { sunday - chrono::Duration::days(7) }))
}

/// Build the report from the lake's output tables and write it under `out` (HTML, Markdown, charts,
/// the ministry workbook). With `as_of` before the window's end, the uplift is re-estimated in memory
/// on the data up to the Sunday of that week (the lake's `uplift` stays the full-window estimate) and
/// every section uses data up to that Sunday.
pub(crate) fn report(
    lake: &Lake,
    campaign: &Campaign,
    out: &Path,
    now: &str,
    as_of: Option<chrono::NaiveDate>,
) -> Result<(Report, PathBuf)> {
    let as_of_sunday = as_of.map(homeseason_report::week_sunday);
    let (uplift, baseline_daily) = match as_of_sunday {
        Some(d) if d < campaign.window.end => {
            anyhow::ensure!(
                d >= campaign.window.start,
                "--as-of {d}: the report week ends before the campaign window starts ({})",
                campaign.window.start
            );
            let mut partial = campaign.clone();
            partial.window.end = d;
            let daily = lake.read_table(tables::PAYMENT_DAILY)?;
            anyhow::ensure!(daily.height() > 0, "the lake holds no payment_daily rows");
            let series = daily_series(daily.lazy(), &partial)?;
            let r = uplift(&series, &partial, &Method::ALL, &UpliftOptions::from_campaign(&partial))?;
            (r.uplift, r.baseline_daily)
        }
        _ => (lake.read_table(tables::UPLIFT)?, lake.read_table(BASELINE_DAILY)?),
    };
    let completeness = lake.read_table(tables::DATA_COMPLETENESS)?;
    let completeness = match as_of_sunday {
        Some(d) => completeness
            .lazy()
            .filter(col("week_start").lt_eq(lit(d)))
            .collect()?,
        None => completeness,
    };
    anyhow::ensure!(
        uplift.height() > 0,
        "no uplift table in the lake: run `homeseason uplift` first"
    );
    let read = |t: &str| lake.read_table(t);
    let (weekly, activity_summary, events, event_series, power, triangulation) = (
        read(tables::WEEKLY_TRACKING)?,
        read(tables::ACTIVITY_SUMMARY)?,
        read(tables::LOCAL_EVENTS)?,
        read(tables::LOCAL_EVENT_SERIES)?,
        read(tables::LOCAL_EVENT_POWER)?,
        read(tables::TRIANGULATION)?,
    );
    let report = homeseason_report::build(&ReportInput {
        campaign,
        uplift: &uplift,
        baseline_daily: &baseline_daily,
        ingest: ingest_totals(lake)?,
        completeness: Some(&completeness),
        generated_at: now.to_owned(),
        as_of,
        tables: homeseason_report::ExtraTables {
            weekly_tracking: Some(&weekly),
            activity_summary: Some(&activity_summary),
            local_events: Some(&events),
            local_event_series: Some(&event_series),
            local_event_power: Some(&power),
            triangulation: Some(&triangulation),
        },
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
    // The ministry workbook: summary and the activities register (重点活动表), beside the report.
    let activities = lake.read_table(tables::ACTIVITIES)?;
    let activity_summary = lake.read_table(tables::ACTIVITY_SUMMARY)?;
    let workbook = homeseason_report::workbook::workbook(
        campaign,
        &uplift,
        &activities,
        (activity_summary.height() > 0).then_some(&activity_summary),
    )?;
    std::fs::write(out.join("workbook.xlsx"), workbook)?;
    Ok((report, html))
}

/// Ingest the bundled real NBS 社零 figures (national, 2022–2024) into `retail_stats`
/// (region `000000`), recorded in the manifest as `nbs_retail_by_category.csv`.
pub(crate) fn ingest_nbs(lake: &Lake, now: &str) -> Result<FileReport> {
    let out = homeseason_ingest::nbs::bundled()?;
    lake.commit(&Commit {
        table: tables::RETAIL_STATS,
        feed: Feed::RetailStats.id(),
        file: homeseason_ingest::nbs::FILE,
        sha256: &out.report.sha256,
        rows: &out.rows,
        rejects: &out.rejects,
        report: serde_json::to_value(&out.report)?,
        now,
    })?;
    Ok(out.report)
}

/// Rewrite `activity_summary` from the lake's current `activities` (see
/// `homeseason_metrics::activity`). Returns its number of rows.
pub(crate) fn write_activity_summary(lake: &Lake) -> Result<usize> {
    let activities = lake.read_table(tables::ACTIVITIES)?;
    let summary = homeseason_metrics::activity::activity_summary(&activities)?;
    lake.write_output(tables::ACTIVITY_SUMMARY, &summary)?;
    Ok(summary.height())
}
