//! The lake into outputs: uplift with its baselines, weekly tracking, data completeness,
//! triangulation, local events, activity summary, and the report with its workbook.

use std::path::{Path, PathBuf};

use homeseason_lake::Lake;
use homeseason_metrics::{
    Method, UpliftOptions, UpliftResult, daily_series, series_from_fen, tracking, uplift,
};
use homeseason_report::{IngestTotals, Report, ReportInput};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::*;

use crate::error::{PipelineError, Result, io_err};
use crate::fit_cache::{self, FitCacheReport};

/// Estimate uplift from the lake's `payment_daily` and write `uplift`, `baseline_daily`,
/// `weekly_tracking`, `data_completeness`, `triangulation`, the local-event tables and
/// `channel_uplift`, `urban_rural_uplift` and `theme_summary` ([`crate::dimensions`]).
pub fn estimate(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<UpliftResult> {
    Ok(estimate_timed(lake, campaign, methods, opts)?.0)
}

/// [`estimate`], with the wall time of each stage in seconds (for `homeseason evaluate`).
pub fn estimate_timed(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(UpliftResult, Vec<(&'static str, f64)>)> {
    estimate_reported(lake, campaign, methods, opts).map(|(r, times, _)| (r, times))
}

/// The wall time of each stage of an estimate, seconds, named.
pub type StageTimes = Vec<(&'static str, f64)>;

/// [`estimate_timed`], with what the estimate did with the lake's cache of regression fits
/// ([`crate::fit_cache`]; `None` when `opts.fits` is not backed by the lake).
pub fn estimate_reported(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(UpliftResult, StageTimes, Option<FitCacheReport>)> {
    let mut times = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str, times: &mut Vec<(&'static str, f64)>| {
        times.push((name, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let opts = &fit_cache::fresh(opts);
    let mut cache = fit_cache::load(lake, fit_cache::PROVINCE_FITS, opts);
    if cache.is_some() {
        lap("read the cache of regression fits", &mut times);
    }
    // The tables this run reads are read through one view of the lake: a commit landing meanwhile
    // cannot give `payment_daily` of one commit and `payment_area_daily` of another.
    let view = lake.view()?;
    // Three threads of work beside the uplift's pool, so no core idles while another works alone:
    // `early` starts at once with what needs no payments (the other feeds, data completeness, the
    // town/country split, the themes) while this thread reads `payment_daily` and builds the daily
    // series (one core's work); `late` takes what needs the series (local events and their power,
    // the online/offline split) beside the pool. Nothing is written until all are done: the same
    // tables, in the same order.
    let (activities_tx, activities_rx) = std::sync::mpsc::channel::<DataFrame>();
    let (estimated, early, late) = std::thread::scope(|scope| {
        let view = &view;
        // The lake's housekeeping (snapshots past their retention) beside the work, not in the
        // commit at the end; best effort, as in the commit, which does whatever is left.
        scope.spawn(|| {
            let _ = lake.collect_if_idle();
        });
        let early = scope.spawn(move || {
            let mut laps = Laps::default();
            let feeds = Feeds::read(view)?;
            // `late` needs the register too (a frame's clone shares its columns).
            let _ = activities_tx.send(feeds.activities.clone());
            drop(activities_tx);
            laps.lap("(alongside the uplift, not added) read activities, enterprise sales, 社零 and subsidies");
            let completeness = completeness_frame(lake, campaign)?;
            laps.lap("(alongside the uplift, not added) completeness");
            let urban_rural = crate::dimensions::urban_rural_uplift_with(
                view,
                &feeds.activities,
                campaign,
                opts,
            )?;
            laps.lap("(alongside the uplift, not added) town and country (history methods per class)");
            let themes = homeseason_metrics::themes::theme_summary(
                &feeds.activities,
                &feeds.enterprise,
                campaign,
            )?;
            laps.lap("(alongside the uplift, not added) themes");
            Ok::<_, PipelineError>(((feeds, completeness, urban_rural, themes), laps.times))
        });
        let mut read = || -> Result<(DataFrame, DataFrame)> {
            let daily = view.read_table(tables::PAYMENT_DAILY)?;
            if daily.height() == 0 {
                return Err(PipelineError::Invalid(
                    "the lake holds no payment_daily rows: ingest payment files first 湖中没有 payment_daily 数据：请先导入支付数据".into(),
                ));
            }
            lap("read payment_daily", &mut times);
            // One group-by (per region × category × channel × date, in fen) for the headline series
            // and the channels' (`channel_uplift`): summed over the channel it is exactly
            // `daily_series`.
            let channel_cells = homeseason_metrics::channel::channel_cells(&daily)?;
            drop(daily);
            let series = series_from_fen(
                homeseason_metrics::split::all_classes(&channel_cells),
                campaign,
            )?;
            lap("build the daily series", &mut times);
            Ok((channel_cells, series))
        };
        let (channel_cells, series) = match read() {
            Ok(read) => read,
            Err(e) => return (Err(e), joined(early), None),
        };
        let (late, estimated) = std::thread::scope(|inner| {
            let (series, channel_cells) = (&series, &channel_cells);
            let late = inner.spawn(move || {
                let mut laps = Laps::default();
                // Sent by `early` once it has read the feeds (closed unsent if that failed: its
                // error is the one reported).
                let Ok(activities) = activities_rx.recv() else {
                    return Ok(None);
                };
                let events = local_event_tables(&activities, series, campaign)?;
                laps.lap("(alongside the uplift, not added) local events and power");
                let channels = homeseason_metrics::channel::channel_uplift_of_cells(
                    channel_cells,
                    campaign,
                    opts,
                )?;
                laps.lap("(alongside the uplift, not added) online and offline (history methods per channel)");
                Ok::<_, PipelineError>(Some(((events, channels), laps.times)))
            });
            let estimated =
                homeseason_metrics::backtest::uplift_with_backtest(series, campaign, methods, opts);
            (joined(late), estimated)
        });
        let estimated = estimated.map(|e| (e, series)).map_err(PipelineError::from);
        (estimated, joined(early), Some(late))
    });
    let ((result, backtest_table, _, _), series) = estimated?;
    let ((feeds, completeness, urban_rural, themes), mut side_times) = early?;
    let Some(((events, channels), late_times)) = late.transpose()?.flatten() else {
        return Err(PipelineError::Invalid(
            "the side work of the uplift stopped without a result 旁路计算未返回结果".into(),
        ));
    };
    side_times.extend(late_times);
    let side = SideTables {
        feeds,
        events,
        completeness,
        channels,
        urban_rural,
        themes,
    };
    lap(
        "uplift, all methods, with placebo windows and the backtest windows (local events, completeness, splits and themes alongside)",
        &mut times,
    );
    // The headline method ("auto" resolved by the backtest) for the triangulation and the leverage.
    let resolved = homeseason_metrics::backtest::resolve_primary(campaign, Some(&backtest_table))?;
    // What is left: the weekly tracking, the triangulation and the leverage (single-threaded and
    // independent: computed side by side), and writing every table. The tables that need none of
    // the three are written meanwhile by a thread of their own: writing is mostly waiting on the
    // disk (each file and its folder fsynced), which kept a core idle at the end of every run.
    let (written, weekly, triangulation, leverage) = std::thread::scope(|scope| {
        let (side, result, backtest_table) = (&side, &result, &backtest_table);
        let cache = &mut cache;
        let written = scope.spawn(move || {
            timed(|| -> Result<()> {
                // Every fit is done: the cache is written beside the tables.
                fit_cache::save(lake, opts, cache);
                lake.write_output(tables::UPLIFT_BACKTEST, backtest_table)?;
                lake.write_output(tables::UPLIFT, &result.uplift)?;
                lake.write_output(tables::BASELINE_DAILY, &result.baseline_daily)?;
                lake.write_output(tables::DATA_COMPLETENESS, &side.completeness)?;
                if let Some(events) = &side.events {
                    write_local_event_tables(lake, events)?;
                }
                if side.channels.height() > 0 {
                    lake.write_output(tables::CHANNEL_UPLIFT, &side.channels)?;
                }
                if side.urban_rural.height() > 0 {
                    lake.write_output(tables::URBAN_RURAL_UPLIFT, &side.urban_rural)?;
                }
                lake.write_output(tables::THEME_SUMMARY, &side.themes)?;
                Ok(())
            })
        });
        let feeds = &side.feeds;
        let triangulation = scope.spawn(|| {
            timed(|| {
                triangulation_frame(
                    &feeds.enterprise,
                    &feeds.retail,
                    &resolved,
                    &result.uplift,
                    opts.seed,
                )
            })
        });
        let leverage = scope.spawn(|| {
            timed(|| leverage_frame(&feeds.subsidies, &resolved, &result.uplift, &series))
        });
        let weekly = timed(|| tracking::weekly_tracking(&result.baseline_daily, campaign));
        (
            joined(written),
            weekly,
            joined(triangulation),
            joined(leverage),
        )
    });
    lap(
        "  weekly tracking, triangulation and leverage (side by side), the other tables written meanwhile",
        &mut times,
    );
    let (
        (written, written_s),
        (weekly, weekly_s),
        (triangulation, triangulation_s),
        (leverage, leverage_s),
    ) = (written, weekly, triangulation, leverage);
    written?;
    side_times.extend([
        ("(side by side, not added) weekly tracking", weekly_s),
        ("(side by side, not added) triangulation", triangulation_s),
        ("(side by side, not added) leverage", leverage_s),
        (
            "(side by side, not added) write uplift_backtest, uplift, baseline_daily, data_completeness, the local-event tables, channel_uplift, urban_rural_uplift, theme_summary",
            written_s,
        ),
    ]);
    lake.write_output(tables::WEEKLY_TRACKING, &weekly?)?;
    lake.write_output(tables::TRIANGULATION, &triangulation?)?;
    if let Some(leverage) = leverage? {
        lake.write_output(tables::LEVERAGE, &leverage)?;
    }
    lap(
        "  write weekly_tracking, triangulation, leverage",
        &mut times,
    );
    times.extend(side_times);
    Ok((result, times, cache))
}

/// The wall time of each stage of a thread, in seconds, named: each `lap` closes the stage since
/// the last.
struct Laps {
    times: Vec<(&'static str, f64)>,
    clock: std::time::Instant,
}

impl Default for Laps {
    fn default() -> Laps {
        Laps {
            times: Vec::new(),
            clock: std::time::Instant::now(),
        }
    }
}

impl Laps {
    fn lap(&mut self, name: &'static str) {
        self.times.push((name, self.clock.elapsed().as_secs_f64()));
        self.clock = std::time::Instant::now();
    }
}

/// What `work` returned, and its wall time in seconds.
fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let clock = std::time::Instant::now();
    (work(), clock.elapsed().as_secs_f64())
}

/// What a scoped thread returned; a panic there is re-raised here, as if the work had run on this
/// thread.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// What `estimate_timed` computes beside the uplift's pool, written after it, and the feeds it read
/// for them (the triangulation and the leverage use them after the pool).
struct SideTables {
    feeds: Feeds,
    events: Option<LocalEventTables>,
    completeness: DataFrame,
    channels: DataFrame,
    urban_rural: DataFrame,
    themes: DataFrame,
}

/// The feeds beside the payments that [`estimate`] uses, each read once through the run's view of
/// the lake (one commit for all): local events, the town/country split and the themes take the
/// activities register, the themes and the triangulation the enterprise sales, the triangulation
/// 社零, the leverage the subsidies.
struct Feeds {
    activities: DataFrame,
    enterprise: DataFrame,
    retail: DataFrame,
    subsidies: DataFrame,
}

impl Feeds {
    fn read(view: &homeseason_lake::LakeView) -> Result<Feeds> {
        Ok(Feeds {
            activities: view.read_table(tables::ACTIVITIES)?,
            enterprise: view.read_table(tables::ENTERPRISE_SALES)?,
            retail: view.read_table(tables::RETAIL_STATS)?,
            subsidies: view.read_table(tables::SUBSIDIES)?,
        })
    }
}

/// Rewrite `triangulation`: payments' uplift beside key-enterprise sales and 社零 (published YoY).
pub fn write_triangulation(
    lake: &Lake,
    campaign: &Campaign,
    uplift: &DataFrame,
    seed: u64,
) -> Result<DataFrame> {
    let frame = triangulation_frame(
        &lake.read_table(tables::ENTERPRISE_SALES)?,
        &lake.read_table(tables::RETAIL_STATS)?,
        campaign,
        uplift,
        seed,
    )?;
    lake.write_output(tables::TRIANGULATION, &frame)?;
    Ok(frame)
}

/// The `triangulation` frame of [`write_triangulation`] from the lake's enterprise sales and 社零,
/// not written.
fn triangulation_frame(
    enterprise: &DataFrame,
    retail: &DataFrame,
    campaign: &Campaign,
    uplift: &DataFrame,
    seed: u64,
) -> Result<DataFrame> {
    use homeseason_metrics::triangulate::{TriangulateOptions, triangulate};
    Ok(triangulate(
        uplift,
        enterprise,
        retail,
        campaign,
        &TriangulateOptions {
            seed,
            ..TriangulateOptions::default()
        },
    )?)
}

/// Rewrite `leverage` (incremental sales per yuan of subsidy, and the iROAS where a region's subsidy
/// started later: `homeseason_metrics::leverage`) from the lake's `subsidies`, the uplift of the
/// headline method (`campaign` resolved from `auto`) and the daily series. Writes nothing when the
/// lake holds no subsidies. Returns the number of rows.
///
/// # Errors
/// Lake or frame failures.
pub fn write_leverage(
    lake: &Lake,
    campaign: &Campaign,
    uplift: &DataFrame,
    series: &DataFrame,
) -> Result<usize> {
    let subsidies = lake.read_table(tables::SUBSIDIES)?;
    let Some(frame) = leverage_frame(&subsidies, campaign, uplift, series)? else {
        return Ok(0);
    };
    lake.write_output(tables::LEVERAGE, &frame)?;
    Ok(frame.height())
}

/// The `leverage` frame of [`write_leverage`] from the lake's `subsidies`, not written; `None`
/// without subsidies.
fn leverage_frame(
    subsidies: &DataFrame,
    campaign: &Campaign,
    uplift: &DataFrame,
    series: &DataFrame,
) -> Result<Option<DataFrame>> {
    use homeseason_metrics::leverage::{LeverageOptions, leverage};
    if subsidies.height() == 0 {
        return Ok(None);
    }
    Ok(Some(leverage(
        uplift,
        subsidies,
        Some(series),
        campaign,
        &LeverageOptions::default(),
    )?))
}

/// The leverage table the report and the workbook show: computed from the *published* uplift
/// (`homeseason_metrics::leverage`: a cell whose uplift suppression blanked has its figures blank),
/// with the iROAS of the lake's `leverage` table for the same cell and window. Empty without
/// subsidies.
///
/// # Errors
/// Lake or frame failures.
pub fn published_leverage(
    lake: &Lake,
    campaign: &Campaign,
    published_uplift: &DataFrame,
    backtest: &DataFrame,
) -> Result<DataFrame> {
    use homeseason_metrics::leverage::{LeverageOptions, leverage, with_iroas_of};
    let subsidies = lake.read_table(tables::SUBSIDIES)?;
    let resolved = homeseason_metrics::backtest::resolve_primary(campaign, Some(backtest))?;
    let fresh = leverage(
        published_uplift,
        &subsidies,
        None,
        &resolved,
        &LeverageOptions::default(),
    )?;
    Ok(with_iroas_of(&fresh, &lake.read_table(tables::LEVERAGE)?)?)
}

/// Rewrite `data_completeness` (region × feed × week of the campaign window) from the lake's current
/// partitions; the upload server computes the same rows for its completeness endpoint.
pub fn write_completeness(lake: &Lake, campaign: &Campaign) -> Result<DataFrame> {
    let frame = completeness_frame(lake, campaign)?;
    lake.write_output(tables::DATA_COMPLETENESS, &frame)?;
    Ok(frame)
}

/// The `data_completeness` frame of [`write_completeness`], not written.
fn completeness_frame(lake: &Lake, campaign: &Campaign) -> Result<DataFrame> {
    let rows = crate::completeness::completeness(
        lake,
        campaign.window.start,
        campaign.window.end,
        &|_| true,
        &crate::completeness::FEEDS,
    )?;
    Ok(df!(
        "region_code" => rows.iter().map(|r| r.region_code.as_str()).collect::<Vec<_>>(),
        "feed" => rows.iter().map(|r| r.feed.as_str()).collect::<Vec<_>>(),
        "week_start" => rows.iter().map(|r| r.week_start).collect::<Vec<_>>(),
        "status" => rows.iter().map(|r| r.status).collect::<Vec<_>>(),
        "rows" => rows.iter().map(|r| r.rows as i64).collect::<Vec<_>>(),
        "files" => rows.iter().map(|r| r.files as i64).collect::<Vec<_>>(),
    )?)
}

/// Totals per feed of the current files in the manifest, and the files refused whole.
pub fn ingest_totals(lake: &Lake) -> Result<IngestTotals> {
    let manifest = lake.manifest()?;
    let mut by_feed: Vec<(String, usize, usize, usize, usize, usize)> = Vec::new();
    for f in manifest.files.iter().filter(|f| f.is_current()) {
        let n = |k: &str| {
            f.report
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0) as usize
        };
        let row = if let Some(r) = by_feed.iter_mut().find(|r| r.0 == f.feed) {
            r
        } else {
            by_feed.push((f.feed.clone(), 0, 0, 0, 0, 0));
            by_feed.last_mut().expect("just pushed")
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
pub fn latest_complete_week(lake: &Lake, campaign: &Campaign) -> Result<Option<chrono::NaiveDate>> {
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(None);
    }
    let last = daily
        .column("date")?
        .cast(&DataType::Int32)?
        .i32()?
        .max()
        .and_then(homeseason_schema::calendar::from_epoch_days);
    let Some(last) = last else { return Ok(None) };
    if last >= campaign.window.end {
        return Ok(None);
    }
    let sunday = homeseason_report::week_sunday(last);
    Ok(Some(if sunday == last {
        last
    } else {
        sunday - chrono::Duration::days(7)
    }))
}

/// Build the report from the lake's output tables and write it under `out` (HTML, Markdown, charts,
/// the ministry workbook). With `as_of` before the window's end, the uplift is re-estimated in memory
/// on the data up to the Sunday of that week (the lake's `uplift` stays the full-window estimate) and
/// every section uses data up to that Sunday.
pub fn report(
    lake: &Lake,
    campaign: &Campaign,
    out: &Path,
    now: &str,
    as_of: Option<chrono::NaiveDate>,
) -> Result<(Report, PathBuf)> {
    report_for(lake, campaign, out, now, as_of, None)
}

/// The `uplift` and `baseline_daily` of the campaign as of `week` (a Sunday): for a week inside the
/// window, a fresh estimate of the window so far with the backtest's calibrated intervals (from the
/// lake's `uplift_backtest`, as the whole-window table has them); from the window's end on, the lake's
/// tables. The report and the notebook of a week both take their numbers from here.
///
/// # Errors
/// A lake without payment rows (for a fresh estimate); reading or estimating failures.
pub fn week_estimates(
    lake: &Lake,
    campaign: &Campaign,
    week: chrono::NaiveDate,
) -> Result<(DataFrame, DataFrame)> {
    let (uplift, baseline_daily, _) = week_estimates_cached(lake, campaign, week)?;
    Ok((uplift, baseline_daily))
}

/// [`week_estimates`], with what the estimate did with the lake's cache of fits (`None` from the
/// window's end on, where nothing is estimated).
///
/// # Errors
/// As [`week_estimates`].
pub fn week_estimates_cached(
    lake: &Lake,
    campaign: &Campaign,
    week: chrono::NaiveDate,
) -> Result<(
    DataFrame,
    DataFrame,
    Option<crate::fit_cache::FitCacheReport>,
)> {
    if week >= campaign.window.end {
        return Ok((
            lake.read_table(tables::UPLIFT)?,
            lake.read_table(tables::BASELINE_DAILY)?,
            None,
        ));
    }
    let mut partial = campaign.clone();
    partial.window.end = week;
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Err(PipelineError::Invalid(
            "the lake holds no payment_daily rows 湖中没有 payment_daily 数据".into(),
        ));
    }
    let series = daily_series(daily.lazy(), &partial)?;
    // A week's estimate is made again and again: the report and the notebook of the same week,
    // the report again after a late file, next week's report (whose campaign fits search the
    // same pre-period). The lake's cache of fits serves it as it serves `uplift`, in a file of
    // its own; the tables are the same bytes with it or without it ([`crate::fit_cache`]).
    // The first report of a week finds the whole window's fits too (`uplift`'s, read and left
    // as they are): its campaign fits searched the same pre-period, and its placebo fits are the
    // week's own.
    let opts = UpliftOptions::from_campaign(&partial);
    let mut cache = crate::fit_cache::load(lake, crate::fit_cache::WEEK_FITS, &opts);
    crate::fit_cache::consult(lake, crate::fit_cache::PROVINCE_FITS, &opts, &mut cache);
    let mut r = uplift(&series, &partial, &Method::ALL, &opts)?;
    crate::fit_cache::save(lake, &opts, &mut cache);
    let backtest = lake.read_table(tables::UPLIFT_BACKTEST)?;
    if backtest.height() > 0 && r.uplift.column("calibrated_lower_pct").is_err() {
        r.uplift = homeseason_metrics::backtest::annotate(
            &r.uplift,
            &homeseason_metrics::backtest::figures_of(&backtest)?,
        )?;
    }
    Ok((r.uplift, r.baseline_daily, cache))
}

/// [`report`] for the whole campaign (`region` = `None`) or for one region: its own report
/// ([`homeseason_report::build_region`]) and its own workbook with its 重点活动表
/// ([`homeseason_report::workbook::region_workbook`]).
///
/// # Errors
/// As [`report`]; an unknown region is an error.
pub fn report_for(
    lake: &Lake,
    campaign: &Campaign,
    out: &Path,
    now: &str,
    as_of: Option<chrono::NaiveDate>,
    region: Option<&str>,
) -> Result<(Report, PathBuf)> {
    let (report, html, _) = report_for_level(lake, campaign, out, now, as_of, region, None)?;
    Ok((report, html))
}

/// The error of a report on a lake that `homeseason uplift` has not estimated.
pub(crate) fn no_uplift_table() -> PipelineError {
    PipelineError::Invalid(
        "no uplift table in the lake: run `homeseason uplift` first 湖中没有 uplift 表：请先运行 homeseason uplift".into(),
    )
}

/// [`report_for`]; with `cities`, a region's cities in place of its region section and tile map,
/// and as a sheet of its workbook ([`crate::city::report_cities`]).
///
/// Also returns what the week's estimate did with the lake's cache of fits, for the command
/// line's `regression fits: …` line ([`crate::fit_cache::describe`], as `uplift` prints it);
/// `None` when nothing was estimated (from the window's end on, the report reads the lake's
/// tables).
///
/// # Errors
/// As [`report_for`].
pub fn report_for_level(
    lake: &Lake,
    campaign: &Campaign,
    out: &Path,
    now: &str,
    as_of: Option<chrono::NaiveDate>,
    region: Option<&str>,
    cities: Option<homeseason_report::city::CitySection>,
) -> Result<(Report, PathBuf, Option<FitCacheReport>)> {
    let as_of_sunday = as_of.map(homeseason_report::week_sunday);
    let (uplift, baseline_daily, fit_cache) = match as_of_sunday {
        Some(d) if d < campaign.window.end => {
            if d < campaign.window.start {
                return Err(PipelineError::Invalid(format!(
                    "--as-of {d}: the report week ends before the campaign window starts ({}) 报告周早于活动开始",
                    campaign.window.start
                )));
            }
            // The week's estimate is made afresh, but the report's other sections read what
            // `uplift` wrote (backtest, tracking, completeness): say so before estimating.
            if lake.read_table(tables::UPLIFT)?.height() == 0 {
                return Err(no_uplift_table());
            }
            week_estimates_cached(lake, campaign, d)?
        }
        _ => week_estimates_cached(lake, campaign, campaign.window.end)?,
    };
    // The daily series are published: the margins the dashboard copies blank are gaps here too.
    let (baseline_daily, suppress_below) =
        crate::payments::published_daily(lake, campaign, baseline_daily)?;
    let completeness = lake.read_table(tables::DATA_COMPLETENESS)?;
    let completeness = match as_of_sunday {
        Some(d) => completeness
            .lazy()
            .filter(col("week_start").lt_eq(lit(d)))
            .collect()?,
        None => completeness,
    };
    if uplift.height() == 0 {
        return Err(no_uplift_table());
    }
    let read = |t: &str| lake.read_table(t);
    let backtest = read(tables::UPLIFT_BACKTEST)?;
    // The sums over days are published too: those a box would not cancel are blank here.
    let (uplift, weekly, events) = crate::payments::published_sums(
        lake,
        campaign,
        uplift,
        read(tables::WEEKLY_TRACKING)?,
        read(tables::LOCAL_EVENTS)?,
    )?;
    let (activity_summary, event_series, power, triangulation) = (
        read(tables::ACTIVITY_SUMMARY)?,
        crate::payments::published_event_series(lake, campaign, read(tables::LOCAL_EVENT_SERIES)?)?,
        read(tables::LOCAL_EVENT_POWER)?,
        read(tables::TRIANGULATION)?,
    );
    // The leverage of the published uplift (a blanked uplift blanks its row), with the lake's iROAS.
    let leverage = published_leverage(lake, campaign, &uplift, &backtest)?;
    let channels =
        crate::dimensions::published_channels(lake, campaign, read(tables::CHANNEL_UPLIFT)?)?;
    let themes = read(tables::THEME_SUMMARY)?;
    let urban_rural = crate::dimensions::published_urban_rural(
        lake,
        campaign,
        read(tables::URBAN_RURAL_UPLIFT)?,
    )?;
    let input = ReportInput {
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
            uplift_backtest: Some(&backtest),
            leverage: Some(&leverage),
            channel_uplift: Some(&channels),
            urban_rural_uplift: Some(&urban_rural),
            theme_summary: Some(&themes),
        },
        suppress_below,
    };
    let city_sheet = cities.clone();
    let report = match (region, cities) {
        (Some(code), Some(cities)) => homeseason_report::build_region_cities(&input, code, cities)?,
        (Some(code), None) => homeseason_report::build_region(&input, code)?,
        (None, _) => homeseason_report::build(&input)?,
    };
    let charts = out.join("charts");
    std::fs::create_dir_all(&charts).map_err(io_err("creating", &charts))?;
    for c in &report.charts {
        write(&charts.join(format!("{}.png", c.name)), &c.png)?;
        write(&charts.join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
    }
    let html = out.join("report.html");
    write(&html, report.html.as_bytes())?;
    write(&out.join("report.md"), report.markdown.as_bytes())?;
    write(
        &out.join("headline.json"),
        &serde_json::to_vec_pretty(&report.headline)?,
    )?;
    // The charts' data, point by point (a suppressed day has no actual).
    write(
        &out.join("series.json"),
        &serde_json::to_vec_pretty(&report.series)?,
    )?;
    // The ministry workbook: summary and the activities register (重点活动表), beside the report.
    let activities = lake.read_table(tables::ACTIVITIES)?;
    let activity_summary = lake.read_table(tables::ACTIVITY_SUMMARY)?;
    let summary = (activity_summary.height() > 0).then_some(&activity_summary);
    // The workbook uses the headline method ("auto" resolved by the backtest, as in the report).
    let resolved = homeseason_metrics::backtest::resolve_primary(campaign, Some(&backtest))?;
    let campaign = &resolved;
    let dims = homeseason_report::workbook::DimensionTables {
        channel_uplift: Some(&channels),
        urban_rural_uplift: Some(&urban_rural),
        theme_summary: Some(&themes),
        leverage: Some(&leverage),
    };
    let workbook = match region {
        Some(code) => homeseason_report::workbook::region_workbook_with(
            campaign,
            &uplift,
            &activities,
            summary,
            &dims,
            code,
            city_sheet.as_ref(),
        )?,
        None => homeseason_report::workbook::workbook_with(
            campaign,
            &uplift,
            &activities,
            summary,
            &dims,
        )?,
    };
    write(&out.join("workbook.xlsx"), &workbook)?;
    Ok((report, html, fit_cache))
}

/// Rewrite `activity_summary` from the lake's current `activities` (see
/// `homeseason_metrics::activity`). Returns its number of rows.
pub fn write_activity_summary(lake: &Lake) -> Result<usize> {
    let activities = lake.read_table(tables::ACTIVITIES)?;
    let summary = homeseason_metrics::activity::activity_summary(&activities)?;
    lake.write_output(tables::ACTIVITY_SUMMARY, &summary)?;
    Ok(summary.height())
}

/// The pipeline step for local-station events: read the lake's activities register and, when it
/// holds local-station events, estimate them against the regions without one and write
/// `local_events`, `local_event_weights`, `local_event_series` and `local_event_power`. Quietly
/// does nothing when the register is absent or has no local-station event. Returns the number of
/// event × category rows written.
///
/// # Errors
/// Lake or estimation failures.
pub fn write_local_events(lake: &Lake, series: &DataFrame, campaign: &Campaign) -> Result<usize> {
    match local_event_tables(&lake.read_table(tables::ACTIVITIES)?, series, campaign)? {
        Some(t) => write_local_event_tables(lake, &t),
        None => Ok(0),
    }
}

/// The tables [`write_local_events`] writes: events, weights, series and power (`None` when empty).
struct LocalEventTables {
    events: DataFrame,
    weights: DataFrame,
    series: DataFrame,
    power: DataFrame,
}

/// The local-event tables of [`write_local_events`] from the lake's activities register, not
/// written (`None`: nothing to write).
fn local_event_tables(
    activities: &DataFrame,
    series: &DataFrame,
    campaign: &Campaign,
) -> Result<Option<LocalEventTables>> {
    use homeseason_metrics::local_events::{
        LocalEventOptions, local_event_power, local_events, local_station_events,
    };
    if local_station_events(activities)?.is_empty() {
        return Ok(None);
    }
    let opts = LocalEventOptions::from_campaign(campaign);
    let est = local_events(series, activities, campaign, &opts)?;
    if est.events.height() == 0 {
        return Ok(None);
    }
    let power = local_event_power(series, activities, campaign, &opts)?;
    Ok(Some(LocalEventTables {
        events: est.events,
        weights: est.weights,
        series: est.series,
        power,
    }))
}

/// Write the tables of [`local_event_tables`]; the number of event × category rows.
fn write_local_event_tables(lake: &Lake, t: &LocalEventTables) -> Result<usize> {
    lake.write_output(tables::LOCAL_EVENTS, &t.events)?;
    lake.write_output(tables::LOCAL_EVENT_WEIGHTS, &t.weights)?;
    lake.write_output(tables::LOCAL_EVENT_SERIES, &t.series)?;
    if t.power.height() > 0 {
        lake.write_output(tables::LOCAL_EVENT_POWER, &t.power)?;
    }
    Ok(t.events.height())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(io_err("writing", path))
}
