//! The lake's cache of regression fits (`<lake>/_cache/`, [`homeseason_metrics::memo`]): an
//! estimate whose options carry [`FitMemo::lake`] reads the cache before it starts and writes
//! the fits it used or computed after its tables are written. A fit is remembered under a
//! SHA-256 of everything it reads (this build's code stamp included), so the tables are the same
//! bytes with the cache, without it, or with another build's cache beside them: the cache only
//! saves the work of fits whose inputs did not change (in a weekly re-run, the placebo and every
//! backtest window). A cache that cannot be read, is damaged or is another build's is ignored
//! whole; a cache that cannot be written is left as it was — either way the estimate is complete.

use homeseason_lake::Lake;
use homeseason_metrics::{FitMemo, MemoCounts, UpliftOptions};

/// The cache file of the province-level estimate (the reporting regions).
pub const PROVINCE_FITS: &str = "regression-fits-province.bin";
/// The cache file of the province-level estimate of a week inside the window (the report's and
/// the notebook's, [`crate::outputs::week_estimates`]): the last such week's fits.
pub const WEEK_FITS: &str = "regression-fits-province-week.bin";
/// The cache file of a region's cities' estimate of a week inside the window
/// ([`crate::city::city_week_estimates`]).
#[must_use]
pub fn city_week_fits(region: &str) -> String {
    format!("regression-fits-city-{region}-week.bin")
}
/// The cache file of the prefecture-city estimate of `scope` (`000000` for the nation, or a
/// reporting region's code, checked against the embedded list by the caller; the lake refuses a
/// name that is not a plain file name).
#[must_use]
pub fn city_fits(scope: &str) -> String {
    format!("regression-fits-city-{scope}.bin")
}

/// What an estimate did with the lake's cache of fits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FitCacheReport {
    /// The cache file (under `<lake>/_cache/`).
    pub file: String,
    /// Fits read from it, used again, and computed.
    pub counts: MemoCounts,
    /// Why the file's fits were not used (absent, another build's, damaged), or why it could not
    /// be written; `None` when all went well.
    pub note: Option<String>,
    /// Other estimates' cache files this one read fits from and left as they were (a week's
    /// estimate reads the whole window's: [`consult`]); the `counts` include what they gave.
    pub consulted: Vec<String>,
}

/// Read the lake's cache `file` into `opts.fits` when it is backed by the lake; the report's
/// note says why nothing was read.
pub(crate) fn load(lake: &Lake, file: &str, opts: &UpliftOptions) -> Option<FitCacheReport> {
    if !opts.fits.in_lake() {
        return None;
    }
    let note = match lake.read_cache(file) {
        Ok(None) => Some("no cache yet 尚无缓存".to_owned()),
        Ok(Some(bytes)) => opts
            .fits
            .load(&bytes)
            .err()
            .map(|why| format!("ignored: {why} 缓存无效，已忽略")),
        Err(e) => Some(format!("ignored: {e} 缓存无法读取，已忽略")),
    };
    Some(FitCacheReport {
        file: file.to_owned(),
        counts: opts.fits.counts(),
        note,
        consulted: Vec::new(),
    })
}

/// Read the lake's cache `file` into `opts.fits` too, as another estimate's file that this one
/// only reads: a week's estimate consults the whole window's (`uplift`'s), whose campaign fits
/// searched the same pre-period and whose placebo fits are the week's own. A fit is found there
/// only under the key of everything it reads, so what it gives is what the fit would compute;
/// a file absent, damaged or another build's adds nothing (the estimate then computes those
/// fits). The fits used from it are written to the estimate's own file by [`save`], not to
/// `file`. The report (of [`load`]) names `file` when fits were read from it.
pub(crate) fn consult(
    lake: &Lake,
    file: &str,
    opts: &UpliftOptions,
    report: &mut Option<FitCacheReport>,
) {
    if opts.fits.in_lake()
        && let Ok(Some(bytes)) = lake.read_cache(file)
        // An unusable file is as good as none: nothing read, nothing to report.
        && opts.fits.load(&bytes).is_ok()
        && let Some(report) = report
    {
        report.consulted.push(file.to_owned());
    }
}

/// Write this run's fits back to the lake's cache (after the tables are written); the report
/// counts what the run used and computed.
pub(crate) fn save(lake: &Lake, opts: &UpliftOptions, report: &mut Option<FitCacheReport>) {
    let Some(report) = report else {
        return;
    };
    let known = report.counts.known;
    report.counts = MemoCounts {
        known,
        ..opts.fits.counts()
    };
    if let Some(bytes) = opts.fits.to_bytes()
        && let Err(e) = lake.write_cache(&report.file, &bytes)
    {
        report.note = Some(format!("not written: {e} 缓存未写入"));
    }
}

/// The report as one line for a person: `regression fits: 610 remembered, 148 computed (…)`.
#[must_use]
pub fn describe(report: &FitCacheReport) -> String {
    let MemoCounts { hits, misses, .. } = report.counts;
    let mut line = format!(
        "regression fits: {hits} remembered, {misses} computed (lake cache _cache/{}; --no-fit-cache fits all afresh) 回归拟合：{hits} 个沿用缓存，{misses} 个重新计算",
        report.file
    );
    if let Some(note) = &report.note {
        line.push_str(&format!("; {note}"));
    }
    for file in &report.consulted {
        line.push_str(&format!(
            "; also read _cache/{file}, left as it is 另读取 _cache/{file}（未改动）"
        ));
    }
    line
}

/// `opts` with a memo of its own when it is backed by the lake (a fresh memo per estimate: one
/// options value used for two lakes never mixes their fits).
pub(crate) fn fresh(opts: &UpliftOptions) -> UpliftOptions {
    let mut opts = opts.clone();
    if opts.fits.in_lake() {
        opts.fits = FitMemo::lake();
    }
    opts
}
