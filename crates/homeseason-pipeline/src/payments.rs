//! Payment-institution files: profiles, the streaming transaction ingest with the lake's txn-id index,
//! JSON Lines / Parquet / profiled daily files, and the dashboard copy with small cells suppressed.
//!
//! Every entry point (`homeseason ingest`, an upload to the server, `homeseason pull`) reaches these
//! functions through [`crate::prepare`]: a transaction file is always checked against the lake's
//! txn-id index, whichever way it arrived.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use homeseason_ingest::{
    Feed, FileOutcome, Format, IngestError, MonthOwner, Profile, TxnContext, TxnOutcome,
    detect_payment_feed, ingest_transactions, pick_profile, sniff_header,
};
use homeseason_lake::{Lake, Manifest, TxnSpill};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use polars::prelude::DataFrame;

use crate::error::{Result, io_err};
use crate::intake::{Prepared, Source, TxnCommit};

/// The institution profiles in force: `--profile FILE` for every file, else the first of
/// `profiles/*.toml` whose institution or glob matches the file, else the contract's own layout.
#[derive(Debug, Default, Clone)]
pub struct Profiles {
    /// `--profile FILE`: used for every file.
    explicit: Option<Profile>,
    /// `profiles/*.toml` (or `--profiles DIR`), matched by institution code in the file's name.
    found: Vec<Profile>,
}

impl Profiles {
    /// Profiles from `--profile FILE` and the `*.toml` files of `dir` (a missing folder holds none).
    ///
    /// # Errors
    /// When a profile cannot be read or parsed.
    pub fn load(file: Option<&Path>, dir: &Path) -> Result<Profiles> {
        let explicit = file.map(read_profile).transpose()?;
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(std::result::Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                found.push(read_profile(&p)?);
            }
        }
        Ok(Profiles { explicit, found })
    }

    /// The profiles of `./profiles` when that folder exists (none otherwise).
    ///
    /// # Errors
    /// As [`Profiles::load`].
    pub fn from_working_dir() -> Result<Profiles> {
        Profiles::load(None, Path::new("profiles"))
    }

    /// The profile for a file (by its path, or its name alone for uploaded bytes).
    #[must_use]
    pub fn for_path(&self, path: &Path) -> Profile {
        let mut profile = self
            .explicit
            .clone()
            .or_else(|| pick_profile(&self.found, path).cloned())
            .unwrap_or_default();
        profile.known_institutions = self.institutions();
        profile
    }

    /// The known institutions: the codes the profiles in force name, sorted, each once. A payment
    /// row naming another code is rejected (`unknown_institution`); with no profile naming a code
    /// the list is empty and any well-formed code is accepted.
    #[must_use]
    pub fn institutions(&self) -> Vec<String> {
        let mut codes: Vec<String> = self
            .explicit
            .iter()
            .chain(&self.found)
            .filter_map(|p| p.institution.clone())
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

fn read_profile(path: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(path).map_err(io_err("reading profile", path))?;
    Ok(Profile::from_toml(&text, &path.display().to_string())?)
}

/// Whether a name looks like a payment file read beyond plain CSV.
pub(crate) fn is_extra_data_file(name: &str) -> bool {
    let lower = name.to_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".parquet")
}

struct LakeCtx<'a> {
    lake: &'a Lake,
    manifest: Manifest,
    spill: TxnSpill,
    /// The institution's transaction ids, read once per file (spilled when many).
    ids: Option<(String, Arc<homeseason_ingest::KnownIds>)>,
    /// The state of the institution's index the ids were read from (taken just before reading
    /// them), checked again when the file commits.
    seen: Vec<(PathBuf, u64)>,
}

impl TxnContext for LakeCtx<'_> {
    fn month_owner(
        &mut self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> std::result::Result<Option<MonthOwner>, String> {
        let ids = match &self.ids {
            Some((inst, ids)) if inst == institution => Arc::clone(ids),
            _ => {
                self.seen = self
                    .lake
                    .txn_index_state(&self.manifest, institution)
                    .map_err(|e| e.to_string())?;
                let ids = Arc::new(
                    self.lake
                        .institution_known_ids(
                            &self.manifest,
                            institution,
                            homeseason_ingest::known_in_memory(),
                        )
                        .map_err(|e| e.to_string())?,
                );
                self.ids = Some((institution.to_owned(), Arc::clone(&ids)));
                ids
            }
        };
        let holder = self
            .lake
            .month_holder(&self.manifest, institution, year, month)
            .map_err(|e| e.to_string())?;
        Ok(Some(match holder {
            Some(h) => MonthOwner {
                file: h.file,
                sha256: h.sha256,
                txn_ids: ids,
                merchant_pairs: h.fps,
                area_pairs: h.area_fps,
            },
            None => MonthOwner {
                txn_ids: ids,
                ..MonthOwner::default()
            },
        }))
    }
    fn spill(&mut self, year: i32, month: u32, ids: &[(u128, i32, u64)]) -> std::io::Result<()> {
        self.spill.push(year, month, ids)
    }
    fn spill_pairs(&mut self, year: i32, month: u32, pairs: &[(u64, i32)]) -> std::io::Result<()> {
        self.spill.push_pairs(year, month, pairs)
    }
    fn spill_area_pairs(
        &mut self,
        year: i32,
        month: u32,
        pairs: &[(u64, i32)],
    ) -> std::io::Result<()> {
        self.spill.push_area_pairs(year, month, pairs)
    }
    fn reset_spill(&mut self) -> std::io::Result<()> {
        self.spill.reset()
    }
}

fn head_bytes(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path).map_err(io_err("opening", path))?;
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut buf[got..]).map_err(io_err("reading", path))?;
        if k == 0 {
            break;
        }
        got += k;
    }
    buf.truncate(got);
    Ok(buf)
}

/// Which payment feed a file is, when it is one this module handles (transactions in any format;
/// daily files in JSON Lines or Parquet, or under a profile). `None`: leave it to the general path.
pub(crate) fn route(
    source: &Source<'_>,
    feed: Option<Feed>,
    profile: &Profile,
) -> Result<Option<Feed>> {
    let name = source.name();
    let lower = name.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        return Ok(None);
    }
    let format = profile.format.of_name(&name);
    let wanted = |f: Feed| {
        matches!(f, Feed::PaymentTransactions)
            || (f == Feed::PaymentDaily && (format != Format::Csv || !profile.is_contract_layout()))
    };
    if let Some(f) = feed.or(profile.feed) {
        return Ok(wanted(f).then_some(f));
    }
    let head: std::borrow::Cow<'_, [u8]> = match source {
        Source::Bytes { bytes, .. } => std::borrow::Cow::Borrowed(&bytes[..]),
        Source::Path(path) if format == Format::Parquet => {
            std::borrow::Cow::Owned(std::fs::read(path).map_err(io_err("reading", path))?)
        }
        Source::Path(path) => std::borrow::Cow::Owned(head_bytes(path, 256 << 10)?),
    };
    let head = if matches!(source, Source::Bytes { .. }) && format != Format::Parquet {
        &head[..head.len().min(256 << 10)]
    } else {
        &head[..]
    };
    let Ok(headers) = sniff_header(head, format, profile.delimiter) else {
        return Ok(None);
    };
    Ok(detect_payment_feed(&headers, profile).filter(|f| wanted(*f)))
}

/// A shared in-memory file, readable many times by the streaming ingest.
#[derive(Clone)]
struct SharedBytes(Arc<[u8]>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Validate a transaction file against the lake's txn-id index (duplicates across files, months held
/// by other files), ready to commit with [`crate::commit_prepared`].
pub(crate) fn prepare_transactions(
    lake: &Lake,
    source: &Source<'_>,
    profile: &Profile,
    campaign: &Campaign,
) -> Result<std::result::Result<Prepared, IngestError>> {
    let name = source.name();
    settle_transactions(lake, profile, &[], None, |ctx| match source {
        Source::Path(path) => {
            let path = path.to_path_buf();
            let open = move || -> std::io::Result<Box<dyn Read + Send>> {
                Ok(Box::new(std::fs::File::open(&path)?))
            };
            let size = std::fs::metadata(source.path_or_name())
                .ok()
                .map(|m| m.len());
            ingest_transactions(&name, &open, size, profile, campaign, ctx)
        }
        Source::Bytes { bytes, .. } => {
            let shared = SharedBytes(Arc::from(*bytes));
            let open = move || -> std::io::Result<Box<dyn Read + Send>> {
                Ok(Box::new(std::io::Cursor::new(shared.clone())))
            };
            let size = Some(bytes.len() as u64);
            ingest_transactions(&name, &open, size, profile, campaign, ctx)
        }
    })
}

/// A transaction file settled against the lake's txn-id index by `settle` — the streaming ingest, or
/// another engine's staged output (the Spark roll-up, `homeseason-spark`) — ready to commit with
/// [`crate::commit_prepared`] like every other file. `settle` is given the lake's index ([`TxnContext`]:
/// which file holds each institution-month, its txn-id fingerprints, the spill of the new ones);
/// `extra` adds fields to the manifest's `payments` report (e.g. the engine). `seen`: the state of
/// the institution's index the increment was computed against, when `settle` did not read the index
/// through the context (another engine staged it earlier); the commit is refused as stale when the
/// index changed since.
///
/// # Errors
/// The outer error for lake failures; the inner [`IngestError`] when `settle` refuses the file.
pub fn settle_transactions(
    lake: &Lake,
    profile: &Profile,
    extra: &[(&str, serde_json::Value)],
    seen: Option<Vec<(PathBuf, u64)>>,
    settle: impl FnOnce(&mut dyn TxnContext) -> std::result::Result<TxnOutcome, IngestError>,
) -> Result<std::result::Result<Prepared, IngestError>> {
    let mut ctx = LakeCtx {
        lake,
        manifest: lake.manifest()?,
        spill: lake.txn_spill()?,
        ids: None,
        seen: Vec::new(),
    };
    let out = match settle(&mut ctx) {
        Ok(out) => out,
        Err(e) => return Ok(Err(e)),
    };
    let months: Vec<(i32, u32)> = out
        .months
        .iter()
        .filter(|m| m.written)
        .map(|m| (m.year, m.month))
        .collect();
    let mut report = serde_json::to_value(&out.report)?;
    if let Some(obj) = report.as_object_mut() {
        let mut payments = serde_json::json!({
            "institution": out.institution,
            "profile": profile.source,
            "home_month": out.home_month.map(|(y, m)| format!("{y}-{m:02}")),
            "months": out.months,
            "duplicates_in_file": out.duplicates_in_file,
            "duplicates_across_files": out.duplicates_across_files,
            "passes": out.passes,
            "unmapped_mcc_rows": out.unmapped_mcc.values().sum::<usize>(),
            "unmapped_mcc": out.unmapped_mcc,
        });
        if let Some(p) = payments.as_object_mut() {
            for (k, v) in extra {
                p.insert((*k).to_owned(), v.clone());
            }
        }
        obj.insert("payments".into(), payments);
    }
    let LakeCtx {
        spill, seen: read, ..
    } = ctx;
    let seen = seen.unwrap_or(read);
    Ok(Ok(Prepared {
        feed: Feed::PaymentTransactions,
        outcome: FileOutcome {
            report: out.report,
            rows: out.rows,
            rejects: out.rejects,
            origins: None,
        },
        report_json: report,
        txn: Some(TxnCommit {
            institution: out.institution,
            spill,
            months,
            seen,
            area_rows: out.area_rows,
        }),
    }))
}

/// Validate a daily payment file read under a profile (JSON Lines, Parquet, or a non-contract CSV).
pub(crate) fn prepare_daily(
    source: &Source<'_>,
    profile: &Profile,
    campaign: &Campaign,
) -> Result<std::result::Result<Prepared, IngestError>> {
    let bytes = source.bytes()?;
    let out = match homeseason_ingest::daily_profiled(&source.name(), &bytes, profile, campaign) {
        Ok(out) => out,
        Err(e) => return Ok(Err(e)),
    };
    let report_json = serde_json::to_value(&out.report)?;
    Ok(Ok(Prepared {
        feed: Feed::PaymentDaily,
        outcome: out,
        report_json,
        txn: None,
    }))
}

/// Name of the dashboard copy of `baseline_daily`.
pub const DASHBOARD_BASELINE: &str = tables::DASHBOARD_BASELINE_DAILY;

/// Write the dashboard copies (`<lake>/dashboard/`): `dashboard_payment_daily`, `payment_daily` with
/// every cell (day × region × MCC, per institution and channel) of fewer than `k` merchants and its
/// complementary and secondary cells ([`homeseason_ingest::suppress_small_cells`]) flagged and its
/// money and counts blanked; and, when `baseline_daily` exists, `dashboard_baseline_daily` with the
/// daily figures suppression does not publish blanked
/// ([`homeseason_ingest::Suppression::blanked_margins`]). Both are checked against their contracts
/// (`data-schemas/dashboard_*.json`) before they are written. The threshold is recorded
/// (`dashboard/_suppression.json`) so the report blanks the same margins ([`published_daily`]).
/// Dashboards read these, never the tables beside them.
///
/// # Errors
/// Lake or frame failures; a frame that does not match its contract.
pub fn write_dashboard(
    lake: &Lake,
    k: u32,
    campaign: &Campaign,
) -> Result<homeseason_ingest::Suppression> {
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(homeseason_ingest::Suppression::default());
    }
    let (out, summary) = homeseason_ingest::suppress_small_cells(
        &daily,
        k,
        &homeseason_ingest::Published::of(campaign),
    )?;
    lake.write_dashboard(tables::DASHBOARD_PAYMENT_DAILY, &out)?;
    let baseline = lake.read_table(tables::BASELINE_DAILY)?;
    if baseline.height() > 0 {
        let blanked = homeseason_ingest::blank_exposed_margins(&baseline, &summary)?;
        let blanked = blank_unsafe_baselines(&blanked, &summary)?;
        lake.write_dashboard(tables::DASHBOARD_BASELINE_DAILY, &blanked)?;
    }
    let mut note = serde_json::to_value(&summary)?;
    if let Some(obj) = note.as_object_mut() {
        obj.insert("k".into(), k.into());
    }
    lake.write_suppression_note(&note)?;
    Ok(summary)
}

/// The daily series the report and the notebook publish, with the suppression of the dashboard
/// copies applied: when the lake's dashboard copies were written with a threshold `k`
/// ([`write_dashboard`]), suppression is worked out again on the lake's current `payment_daily`
/// and every row of `baseline_daily` whose figure (region or national, category or `all_targeted`,
/// day) is not published — a margin that is one suppressed cell alone, or a figure secondary
/// suppression hides — gets `actual_yuan` blanked and `suppressed = true`
/// ([`homeseason_ingest::blank_exposed_margins`]), as in `dashboard_baseline_daily`. Returns the
/// frame and `k`; without dashboard copies, `baseline_daily` unchanged and `None`.
///
/// # Errors
/// Lake or frame failures.
pub fn published_daily(
    lake: &Lake,
    campaign: &Campaign,
    baseline_daily: DataFrame,
) -> Result<(DataFrame, Option<u32>)> {
    let k = lake.suppression_threshold()?;
    if k.is_none() || baseline_daily.height() == 0 {
        return Ok((baseline_daily, k));
    }
    let Some((k, summary)) = suppression_in_force(lake, campaign)? else {
        return Ok((baseline_daily, k));
    };
    let blanked = homeseason_ingest::blank_exposed_margins(&baseline_daily, &summary)?;
    Ok((blank_unsafe_baselines(&blanked, &summary)?, Some(k)))
}

/// The sums over days the report and the notebook publish — `uplift` (campaign and placebo
/// windows), `weekly_tracking` and `local_events` — with the suppression of the dashboard copies
/// applied ([`suppression_in_force`]): [`blank_unsafe_uplift`], [`blank_unsafe_tracking`] and
/// [`blank_unsafe_events`]. Without dashboard copies, unchanged.
///
/// # Errors
/// Lake or frame failures.
pub fn published_sums(
    lake: &Lake,
    campaign: &Campaign,
    uplift: DataFrame,
    weekly: DataFrame,
    events: DataFrame,
) -> Result<(DataFrame, DataFrame, DataFrame)> {
    let Some((_, s)) = suppression_in_force(lake, campaign)? else {
        return Ok((uplift, weekly, events));
    };
    Ok((
        blank_unsafe_uplift(&uplift, &s)?,
        blank_unsafe_tracking(&weekly, &s, campaign)?,
        blank_unsafe_events(&events, &s)?,
    ))
}

/// The `local_event_series` the report draws (the impact plot of a local event), with the
/// suppression of the dashboard copies applied: when the lake's dashboard copies were written
/// with a threshold ([`write_dashboard`]), suppression is worked out again on the lake's current
/// `payment_daily` and [`blank_event_days`] blanks the days that would show an unpublished
/// figure. Without dashboard copies, or without events, `series` unchanged.
///
/// # Errors
/// Lake or frame failures.
pub fn published_event_series(
    lake: &Lake,
    campaign: &Campaign,
    series: DataFrame,
) -> Result<DataFrame> {
    if series.height() == 0 {
        return Ok(series);
    }
    let Some((_, summary)) = suppression_in_force(lake, campaign)? else {
        return Ok(series);
    };
    blank_event_days(&series, &summary)
}

/// `series` (`local_event_series`: region × category × day, observed and synthetic-control sales)
/// with `observed_yuan` and `counterfactual_yuan` blanked (null) on every day where a figure of
/// the row's category (a region's category or `all_targeted` figure, or the nation's) is not
/// published ([`homeseason_ingest::Suppression::blanked_margins`]): the observed value *is* the
/// treated region's figure, and the synthetic control is a weighted sum of the donor regions'
/// figures (weights published in `local_event_weights`), so either would give a blanked figure
/// away. A drawn chart then leaves those days out (observed, pointwise and cumulative panels).
///
/// # Errors
/// When `series` lacks `date`, `category`, `observed_yuan` or `counterfactual_yuan`.
pub fn blank_event_days(
    series: &DataFrame,
    s: &homeseason_ingest::Suppression,
) -> Result<DataFrame> {
    // (day, category or all_targeted) of every blanked figure.
    let mut hidden: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    for key in &s.blanked_margins {
        let mut day = None;
        let mut cat = None;
        for pair in key.split(',') {
            match pair.split_once('=') {
                Some(("date", v)) => day = Some(v.to_owned()),
                Some(("category", v)) => cat = Some(v.to_owned()),
                Some(("__targeted", "true")) => cat = Some("all_targeted".to_owned()),
                _ => {}
            }
        }
        match (day, cat) {
            (Some(d), Some(c)) => {
                hidden.insert((d, c));
            }
            // A figure over all categories (a region's or the nation's day): every category.
            (Some(d), None) => {
                hidden.insert((d, String::new()));
            }
            _ => {}
        }
    }
    if hidden.is_empty() || series.height() == 0 {
        return Ok(series.clone());
    }
    let text = |c: &str| homeseason_metrics::tracking::strings_of(series, c);
    let (dates, categories) = (text("date")?, text("category")?);
    let gaps: Vec<bool> = (0..series.height())
        .map(|i| {
            hidden.contains(&(dates[i].clone(), categories[i].clone()))
                || hidden.contains(&(dates[i].clone(), String::new()))
        })
        .collect();
    Ok(homeseason_ingest::blank_rows(
        series,
        &gaps,
        &["observed_yuan", "counterfactual_yuan"],
    )?)
}

/// The days a `method` baseline of `date` scales from: its reference days one or two years
/// earlier ([`homeseason_metrics::align::reference_dates`]) and, where a reference day is carried
/// to another weekday, the days within three weeks of it whose levels give the factor. Empty for
/// a method that is not a scaled earlier year (the regression).
#[must_use]
pub fn baseline_sources(
    method: homeseason_metrics::Method,
    date: chrono::NaiveDate,
) -> Vec<chrono::NaiveDate> {
    use homeseason_metrics::{Method, align};
    if method == Method::CounterfactualRegression {
        return Vec::new();
    }
    let (refs, rule) = align::reference_dates(date, method.lag_years());
    let mut days = Vec::new();
    for r in refs {
        if align::weekday_adjusted(date, r, rule) {
            days.extend((-21..=21).map(|o| r + chrono::Duration::days(o)));
        } else {
            days.push(r);
        }
    }
    days.sort_unstable();
    days.dedup();
    days
}

/// `frame` (`baseline_daily` or its dashboard copy) with the baseline of every row that scales an
/// unpublished figure blanked: a prior-year or two-year baseline is the growth ratio (published)
/// times the mean of the same figure (the same region or the nation, the same category or
/// `all_targeted`) on its reference days ([`baseline_sources`]), so where one of those days' figure
/// is not published ([`homeseason_ingest::Suppression::blanked_margins`], worked out over every day
/// of `payment_daily`, earlier years included) the baseline, and its band, would give it away and
/// `baseline_yuan`, `lower_yuan` and `upper_yuan` are blanked (null). Every baseline left is the
/// ratio times a sum of published figures, so it adds nothing a reader could not already compute;
/// and a blanked one cannot be rebuilt from others, since each of those sums only published
/// figures of its own days. The regression's baselines are model outputs over the same year's
/// untargeted categories and stay.
///
/// # Errors
/// When `frame` lacks `date`, `region_code`, `category`, `method` or a baseline column.
pub fn blank_unsafe_baselines(
    frame: &DataFrame,
    s: &homeseason_ingest::Suppression,
) -> Result<DataFrame> {
    use polars::prelude::*;
    if s.blanked_margins.is_empty() || frame.height() == 0 {
        return Ok(frame.clone());
    }
    let blanked: std::collections::HashSet<&str> =
        s.blanked_margins.iter().map(String::as_str).collect();
    let text = |c: &str| homeseason_metrics::tracking::strings_of(frame, c);
    let (regions, categories, methods) = (text("region_code")?, text("category")?, text("method")?);
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let dates: Vec<Option<chrono::NaiveDate>> = frame
        .column("date")?
        .cast(&DataType::Date)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .map(|v| v.map(|d| epoch + chrono::Duration::days(i64::from(d))))
        .collect();
    let mut sources: std::collections::HashMap<(String, chrono::NaiveDate), Vec<String>> =
        std::collections::HashMap::new();
    let unsafe_rows: Vec<bool> = (0..frame.height())
        .map(|i| {
            let (Some(method), Some(date)) =
                (homeseason_metrics::Method::from_id(&methods[i]), dates[i])
            else {
                return false;
            };
            let days = sources
                .entry((methods[i].clone(), date))
                .or_insert_with(|| {
                    baseline_sources(method, date)
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                });
            days.iter().any(|d| {
                blanked.contains(
                    homeseason_ingest::figure_key(d, &regions[i], &categories[i]).as_str(),
                )
            })
        })
        .collect();
    Ok(homeseason_ingest::blank_rows(
        frame,
        &unsafe_rows,
        &["baseline_yuan", "lower_yuan", "upper_yuan"],
    )?)
}

/// The suppression in force for what the report and the notebook publish: when the lake's
/// dashboard copies were written with a threshold `k` ([`write_dashboard`]), suppression worked out
/// again on the lake's current `payment_daily`. `None` without dashboard copies or cells.
///
/// # Errors
/// Lake or frame failures.
pub fn suppression_in_force(
    lake: &Lake,
    campaign: &Campaign,
) -> Result<Option<(u32, homeseason_ingest::Suppression)>> {
    let Some(k) = lake.suppression_threshold()? else {
        return Ok(None);
    };
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(None);
    }
    let (_, summary) =
        homeseason_ingest::suppression_of(&daily, k, &homeseason_ingest::Published::of(campaign))?;
    Ok(Some((k, summary)))
}

/// How a `method` baseline summed over the days of `span` weights the daily figures of its
/// series in the earlier year: each day's baseline is the growth ratio (published, so known) times
/// the mean of the figure over its reference days ([`homeseason_metrics::align::reference_dates`]),
/// so a reference day weighs 1/n for every day of `span` it is one of n reference days of. A day
/// carried to another weekday scales by weekday levels of the three weeks around its reference
/// day: those days enter non-linearly. `None` for a method that is not a scaled earlier year.
#[must_use]
pub fn baseline_weights(
    method: homeseason_metrics::Method,
    span: homeseason_schema::campaign::DateRange,
) -> Option<homeseason_ingest::DayWeights> {
    use homeseason_metrics::align;
    if method == homeseason_metrics::Method::CounterfactualRegression {
        return None;
    }
    let mut out = homeseason_ingest::DayWeights::default();
    for t in span.iter() {
        let (refs, rule) = align::reference_dates(t, method.lag_years());
        let n = refs.len() as f64;
        for r in refs {
            *out.weights.entry(r).or_default() += 1.0 / n;
            if align::weekday_adjusted(t, r, rule) {
                out.nonlinear.push(homeseason_schema::campaign::DateRange {
                    start: r - chrono::Duration::days(21),
                    end: r + chrono::Duration::days(21),
                });
            }
        }
    }
    Some(out)
}

/// A sum over days already checked: the method (or `actual`), its first and last day.
type SpanKey = (String, chrono::NaiveDate, chrono::NaiveDate);

/// Sums over days already checked, with their weights (`None`: not a scaled earlier year).
#[derive(Default)]
struct SpanCache(std::collections::HashMap<SpanKey, Option<homeseason_ingest::DayWeights>>);

impl SpanCache {
    /// Whether the actual sum and (for the span's method, when it scales an earlier year) the
    /// baseline sum of the span's series over its days are safe: `(actual, baseline)`.
    fn check(&mut self, check: &homeseason_ingest::SumCheck, span: &Span<'_>) -> (bool, bool) {
        let Span {
            region,
            category,
            method,
            start,
            end,
            ..
        } = *span;
        if !check.moved(region, category) {
            return (true, true);
        }
        let span = homeseason_schema::campaign::DateRange { start, end };
        let actual = self
            .0
            .entry(("actual".to_owned(), start, end))
            .or_insert_with(|| Some(homeseason_ingest::DayWeights::span(span)));
        let actual_safe = actual
            .as_ref()
            .is_none_or(|w| check.safe(region, category, w));
        let baseline_safe = match method.and_then(homeseason_metrics::Method::from_id) {
            Some(m) => self
                .0
                .entry((m.id().to_owned(), start, end))
                .or_insert_with(|| baseline_weights(m, span))
                .as_ref()
                .is_none_or(|w| check.safe(region, category, w)),
            None => true,
        };
        (actual_safe, baseline_safe)
    }
}

/// The column `c` of `frame` as dates (`None` where null or absent).
fn date_column(frame: &DataFrame, c: &str) -> Vec<Option<chrono::NaiveDate>> {
    homeseason_metrics::tracking::dates_of(frame, c).unwrap_or_else(|_| vec![None; frame.height()])
}

/// The column `c` of `frame` as text (`""` where null or absent).
fn text_column(frame: &DataFrame, c: &str) -> Vec<String> {
    homeseason_metrics::tracking::strings_of(frame, c)
        .unwrap_or_else(|_| vec![String::new(); frame.height()])
}

/// The columns a sum-over-days check reads from each row of an uplift or tracking table: the
/// series (region, category, method) and the span of days the row sums.
struct SpanRows {
    regions: Vec<String>,
    categories: Vec<String>,
    methods: Vec<String>,
    starts: Vec<Option<chrono::NaiveDate>>,
    ends: Vec<Option<chrono::NaiveDate>>,
}

/// A sum over days one row of a [`SpanRows`] publishes: the series and method, the first and last
/// day.
#[derive(Clone, Copy)]
struct Span<'a> {
    /// The row.
    row: usize,
    region: &'a str,
    category: &'a str,
    /// The baseline's method (`None`: the actual sum alone).
    method: Option<&'a str>,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
}

impl SpanRows {
    /// The check and the rows of `frame` when suppression moved anything and `frame` has rows;
    /// `None` when nothing can need blanking.
    fn to_check(
        frame: &DataFrame,
        s: &homeseason_ingest::Suppression,
        start: &str,
        end: &str,
    ) -> Option<(homeseason_ingest::SumCheck, SpanRows)> {
        (!s.moves.is_empty() && frame.height() > 0).then(|| {
            (
                homeseason_ingest::SumCheck::new(s),
                SpanRows::of(frame, start, end),
            )
        })
    }

    /// The rows whose span has both its first and its last day.
    fn spans(&self) -> impl Iterator<Item = Span<'_>> {
        (0..self.starts.len()).filter_map(|row| {
            Some(Span {
                row,
                region: &self.regions[row],
                category: &self.categories[row],
                method: Some(&self.methods[row]),
                start: self.starts[row]?,
                end: self.ends[row]?,
            })
        })
    }

    /// The rows of `frame`, whose spans run from the column `start` to the column `end`.
    fn of(frame: &DataFrame, start: &str, end: &str) -> SpanRows {
        SpanRows {
            regions: text_column(frame, "region_code"),
            categories: text_column(frame, "category"),
            methods: text_column(frame, "method"),
            starts: date_column(frame, start),
            ends: date_column(frame, end),
        }
    }
}

/// `uplift` (campaign and placebo windows) with the figures of every row blanked (null) whose sum
/// over the window would give a suppressed cell away ([`homeseason_ingest::SumCheck`]): where a box
/// moves the row's series (region or nation, category or `all_targeted`) and the window's actual
/// sum, or its prior-year / two-year baseline sum ([`baseline_weights`]: the reference days weigh
/// unequally), does not weigh the box's days equally. An unsafe actual blanks every figure of the
/// row (money, percentages, bounds, p-value, sign); an unsafe baseline every figure but
/// `actual_yuan`. The regression's baselines are model outputs and are not checked.
///
/// # Errors
/// Frame failures.
pub fn blank_unsafe_uplift(
    uplift: &DataFrame,
    s: &homeseason_ingest::Suppression,
) -> Result<DataFrame> {
    let Some((check, rows)) = SpanRows::to_check(uplift, s, "window_start", "window_end") else {
        return Ok(uplift.clone());
    };
    let mut cache = SpanCache::default();
    let (mut bad_actual, mut bad_baseline) =
        (vec![false; uplift.height()], vec![false; uplift.height()]);
    for r in rows.spans() {
        let (a, b) = cache.check(&check, &r);
        (bad_actual[r.row], bad_baseline[r.row]) = (!a, !b);
    }
    let figures: Vec<String> = uplift
        .columns()
        .iter()
        .filter(|c| {
            c.dtype().is_float()
                || c.name().as_str() == "effect_sign"
                || c.name().as_str() == "distinguishable"
        })
        .map(|c| c.name().to_string())
        .filter(|n| !matches!(n.as_str(), "level" | "backtest_error_pp" | "growth_factor"))
        .collect();
    let all: Vec<&str> = figures.iter().map(String::as_str).collect();
    let but_actual: Vec<&str> = all
        .iter()
        .copied()
        .filter(|c| *c != "actual_yuan")
        .collect();
    let out = homeseason_ingest::blank_rows(uplift, &bad_actual, &all)?;
    Ok(homeseason_ingest::blank_rows(
        &out,
        &bad_baseline,
        &but_actual,
    )?)
}

/// `weekly_tracking` with the sums over days blanked (null) that would give a suppressed cell away
/// ([`homeseason_ingest::SumCheck`], as [`blank_unsafe_uplift`]): the week's actual and baseline
/// (and its uplift and week-over-week change) where the week's sum is unsafe, the cumulative
/// figures where the sum from the window's start to the week's end is, and the week-over-week
/// change where the previous week's actual is (it is this week's actual over that one).
///
/// # Errors
/// Frame failures.
pub fn blank_unsafe_tracking(
    weekly: &DataFrame,
    s: &homeseason_ingest::Suppression,
    campaign: &Campaign,
) -> Result<DataFrame> {
    let Some((check, rows)) = SpanRows::to_check(weekly, s, "week_start", "week_end") else {
        return Ok(weekly.clone());
    };
    let mut cache = SpanCache::default();
    let n = weekly.height();
    let (mut week_a, mut week_b, mut cum_a, mut cum_b, mut wow) = (
        vec![false; n],
        vec![false; n],
        vec![false; n],
        vec![false; n],
        vec![false; n],
    );
    let day = chrono::Duration::days(1);
    for r in rows.spans() {
        let i = r.row;
        let (a, b) = cache.check(&check, &r);
        (week_a[i], week_b[i]) = (!a, !b);
        let cumulative = Span {
            start: campaign.window.start.min(r.start),
            ..r
        };
        let (a, b) = cache.check(&check, &cumulative);
        (cum_a[i], cum_b[i]) = (!a, !b);
        // The previous week's actual (its baseline is no figure of this row).
        let previous = r.start - day;
        let before = Span {
            method: None,
            start: homeseason_metrics::tracking::week_start(previous).max(campaign.window.start),
            end: previous,
            ..r
        };
        let (a, _) = cache.check(&check, &before);
        wow[i] = week_a[i] || (previous >= campaign.window.start && !a);
    }
    let mut out = homeseason_ingest::blank_rows(
        weekly,
        &week_a,
        &["week_actual_yuan", "week_baseline_yuan", "week_uplift_pct"],
    )?;
    out = homeseason_ingest::blank_rows(&out, &week_b, &["week_baseline_yuan", "week_uplift_pct"])?;
    out = homeseason_ingest::blank_rows(&out, &wow, &["wow_change_pct"])?;
    out = homeseason_ingest::blank_rows(
        &out,
        &cum_a,
        &[
            "cum_actual_yuan",
            "cum_baseline_yuan",
            "cum_uplift_abs_yuan",
            "cum_uplift_pct",
        ],
    )?;
    Ok(homeseason_ingest::blank_rows(
        &out,
        &cum_b,
        &["cum_baseline_yuan", "cum_uplift_abs_yuan", "cum_uplift_pct"],
    )?)
}

/// `local_events` with the figures of every event blanked (null) whose sum over the event's days
/// would give a suppressed cell away ([`homeseason_ingest::SumCheck`]): the observed sum
/// (`actual_yuan`) is the treated region's series over the event's days, and the synthetic
/// control (`counterfactual_yuan`) a weighted sum of the donor regions' series over the same
/// days; where a box moving the category's series of any region does not lie wholly inside or
/// wholly outside the event's days, the observed and synthetic sums and everything derived from
/// them (effect per day, increment, lift and their bounds) are blanked.
///
/// # Errors
/// Frame failures.
pub fn blank_unsafe_events(
    events: &DataFrame,
    s: &homeseason_ingest::Suppression,
) -> Result<DataFrame> {
    if s.moves.is_empty() || events.height() == 0 {
        return Ok(events.clone());
    }
    let check = homeseason_ingest::SumCheck::new(s);
    let categories = text_column(events, "category");
    let (starts, ends) = (
        date_column(events, "event_start"),
        date_column(events, "event_end"),
    );
    let unsafe_rows: Vec<bool> = (0..events.height())
        .map(|i| {
            let (Some(start), Some(end)) = (starts[i], ends[i]) else {
                return false;
            };
            let w = homeseason_ingest::DayWeights::span(homeseason_schema::campaign::DateRange {
                start,
                end,
            });
            !check.safe_in_every_region(&categories[i], &w)
        })
        .collect();
    Ok(homeseason_ingest::blank_rows(
        events,
        &unsafe_rows,
        &[
            "actual_yuan",
            "counterfactual_yuan",
            "att_yuan_per_day",
            "att_lower_yuan_per_day",
            "att_upper_yuan_per_day",
            "incremental_yuan",
            "incremental_lower_yuan",
            "incremental_upper_yuan",
            "lift_pct",
            "lift_lower_pct",
            "lift_upper_pct",
            "effect_sign",
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, NaiveDate};
    use homeseason_ingest::{Published, figure_key, margin_groups, suppression_of};
    use homeseason_metrics::Method;
    use polars::prelude::*;

    use super::*;

    const REGIONS: [&str; 2] = ["110000", "120000"];
    const CATEGORIES: [&str; 2] = ["furniture", "home_appliances"];

    /// `payment_daily` cells of 2022 around the prior-year reference days of `target` (a week
    /// either side): two regions × two categories × two institutions, 5–13 merchants each, except
    /// `small` (region 110000, furniture): one cell of one merchant, 321.09 yuan.
    fn prior_year_cells(target: NaiveDate, small: NaiveDate) -> DataFrame {
        let refs = baseline_sources(Method::PriorYear, target);
        let week = chrono::Duration::days(7);
        cells_between(refs[0] - week, refs[refs.len() - 1] + week, small)
    }

    /// `payment_daily` cells of the days `first ..= last`: two regions × two categories × two
    /// institutions, 5–13 merchants each, except `small` (region 110000, furniture): one cell of
    /// one merchant, 321.09 yuan.
    fn cells_between(first: NaiveDate, last: NaiveDate, small: NaiveDate) -> DataFrame {
        let mut rows: Vec<CellRow> = Vec::new();
        let mut day = first;
        let mut n = 0_i64;
        while day <= last {
            for (r, region) in REGIONS.into_iter().enumerate() {
                for (c, cat) in CATEGORIES.into_iter().enumerate() {
                    if day == small && r == 0 && c == 0 {
                        rows.push((day, region, cat, "bank_a", 1, 321.09));
                        continue;
                    }
                    for inst in ["bank_a", "bank_b"] {
                        n += 1;
                        let merchants = 5 + (n * 7 + i64::try_from(r * 3 + c).unwrap_or(0)) % 9;
                        rows.push((
                            day,
                            region,
                            cat,
                            inst,
                            merchants,
                            100.0 * merchants as f64 + 0.37 * n as f64,
                        ));
                    }
                }
            }
            day += chrono::Duration::days(1);
        }
        cells_frame(&rows)
    }

    /// A `payment_daily` cell: date, region, category, institution, merchants, net amount.
    type CellRow = (
        NaiveDate,
        &'static str,
        &'static str,
        &'static str,
        i64,
        f64,
    );

    /// The `payment_daily` frame of `rows`.
    fn cells_frame(rows: &[CellRow]) -> DataFrame {
        df!(
            "date" => rows.iter().map(|x| x.0).collect::<Vec<_>>(),
            "region_code" => rows.iter().map(|x| x.1).collect::<Vec<_>>(),
            "category" => rows.iter().map(|x| x.2).collect::<Vec<_>>(),
            "institution" => rows.iter().map(|x| x.3).collect::<Vec<_>>(),
            "merchant_count" => rows.iter().map(|x| x.4).collect::<Vec<_>>(),
            "net_amount_yuan" => rows.iter().map(|x| x.5).collect::<Vec<_>>(),
        )
        .expect("cells")
    }

    /// Suppression (k = 3) of `cells` for a report whose targeted categories are `targeted`:
    /// the mask of suppressed cells and the summary.
    fn suppress(
        cells: &DataFrame,
        targeted: &[&str],
    ) -> (Vec<bool>, homeseason_ingest::Suppression) {
        let published = Published {
            targeted: targeted.iter().map(|c| (*c).to_owned()).collect(),
            cuts: vec![],
            summed: None,
        };
        suppression_of(cells, 3, &published).expect("suppression")
    }

    /// Whether a cell (region, category) is in the series (region or `000000`, category or
    /// `all_targeted`).
    fn in_series(cell: (&str, &str), series: (&str, &str)) -> bool {
        (series.0 == "000000" || series.0 == cell.0)
            && (series.1 == "all_targeted" || series.1 == cell.1)
    }

    /// A prior-year cell that is one small cell in its unit, on a reference day of a published
    /// baseline: the baseline is the published ratio times the mean of that figure over the
    /// reference days, so published as it was it gives the small cell away (the attack below
    /// recovers it: the other reference days' figures are published). With the baselines that
    /// scale an unpublished figure blanked, the attack on every published daily figure of 2022,
    /// every weekly sum, and every baseline left (its reference days' cells, the ratio known)
    /// recovers nothing.
    #[test]
    fn a_baseline_that_scales_a_small_prior_year_cell_is_blanked_and_the_attack_recovers_nothing() {
        let target = NaiveDate::from_ymd_opt(2023, 9, 13).expect("date");
        let refs = baseline_sources(Method::PriorYear, target);
        assert!(refs.len() >= 3, "{refs:?}");
        let small = refs[refs.len() / 2];
        let cells = prior_year_cells(target, small);
        let (mask, s) = suppress(&cells, &CATEGORIES);
        assert!(s.unprotected.is_empty() && s.boxes >= 1, "{s:?}");
        let hidden: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let small_row = (0..cells.height())
            .find(|&i| {
                cells
                    .column("net_amount_yuan")
                    .unwrap()
                    .f64()
                    .unwrap()
                    .get(i)
                    == Some(321.09)
            })
            .expect("the small cell");
        assert!(mask[small_row]);
        let (dates, regions, cats, amounts) = cell_columns(&cells);
        // baseline_daily of the target day: the ratio 1.05 times the mean of the series' figure
        // over the reference days, for both regions and the nation, each category and all_targeted.
        let ref_text: Vec<String> = refs.iter().map(ToString::to_string).collect();
        let series: Vec<(&str, &str)> = ["110000", "120000", "000000"]
            .into_iter()
            .flat_map(|r| ["furniture", "home_appliances", "all_targeted"].map(|c| (r, c)))
            .collect();
        let value = |(r, c): (&str, &str)| -> f64 {
            let total: f64 = (0..cells.height())
                .filter(|&i| {
                    ref_text.contains(&dates[i]) && in_series((&regions[i], &cats[i]), (r, c))
                })
                .map(|i| amounts[i])
                .sum();
            1.05 * total / refs.len() as f64
        };
        let n = series.len();
        let baseline = df!(
            "region_code" => series.iter().map(|x| x.0).collect::<Vec<_>>(),
            "category" => series.iter().map(|x| x.1).collect::<Vec<_>>(),
            "method" => vec!["prior_year"; n],
            "date" => vec![target; n],
            "actual_yuan" => vec![1000.0; n],
            "baseline_yuan" => series.iter().map(|x| value(*x)).collect::<Vec<_>>(),
            "lower_yuan" => series.iter().map(|x| 0.9 * value(*x)).collect::<Vec<_>>(),
            "upper_yuan" => series.iter().map(|x| 1.1 * value(*x)).collect::<Vec<_>>(),
        )
        .expect("baseline");
        let shown = homeseason_ingest::blank_exposed_margins(&baseline, &s).expect("blank");
        let safe = blank_unsafe_baselines(&shown, &s).expect("blank baselines");
        let published_rows = |frame: &DataFrame| -> Vec<(&str, &str)> {
            let b = frame
                .column("baseline_yuan")
                .unwrap()
                .f64()
                .unwrap()
                .clone();
            (0..n)
                .filter(|&i| b.get(i).is_some())
                .map(|i| series[i])
                .collect()
        };
        // The small cell's own series is blanked, and its band, with the other corners of its
        // box (all four region × category series here); the sums over categories and regions,
        // whose figures are published on every reference day, stay.
        let kept = published_rows(&safe);
        assert!(!kept.contains(&("110000", "furniture")), "{safe}");
        for row in [
            ("110000", "all_targeted"),
            ("000000", "furniture"),
            ("000000", "all_targeted"),
        ] {
            assert!(kept.contains(&row), "{row:?}: {safe}");
        }
        for c in ["lower_yuan", "upper_yuan"] {
            assert_eq!(safe.column(c).unwrap().null_count(), n - kept.len(), "{c}");
        }
        assert_eq!(
            published_rows(&shown).len(),
            n,
            "without the fix every baseline is shown"
        );

        // Every published figure of 2022: the daily figures suppression publishes, and every
        // weekly sum (by region and nationally, by category, all_targeted and all categories).
        let mut frame = cells.clone();
        frame
            .with_column(Column::new(
                "__week".into(),
                (0..cells.height())
                    .map(|i| {
                        let d = NaiveDate::parse_from_str(&dates[i], "%Y-%m-%d").unwrap();
                        (d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())))
                            .to_string()
                    })
                    .collect::<Vec<_>>(),
            ))
            .unwrap();
        frame
            .with_column(Column::new(
                "__all".into(),
                vec!["all_targeted"; cells.height()],
            ))
            .unwrap();
        let blanked = &s.blanked_margins;
        let mut figures: Vec<Vec<usize>> = Vec::new();
        for time in ["date", "__week"] {
            for region in [Some("region_code"), None] {
                for cat in [Some("category"), Some("__all"), None] {
                    let cols: Vec<&str> = [Some(time), region, cat].into_iter().flatten().collect();
                    for group in margin_groups(&frame, &cols).unwrap() {
                        let i = group[0];
                        if time == "date" {
                            let r = region.map_or("000000", |_| regions[i].as_str());
                            let key = match cat {
                                Some("category") => figure_key(&dates[i], r, &cats[i]),
                                Some(_) => figure_key(&dates[i], r, "all_targeted"),
                                None if region.is_some() => {
                                    format!("date={},region_code={r}", dates[i])
                                }
                                None => format!("date={}", dates[i]),
                            };
                            if blanked.contains(&key) {
                                continue;
                            }
                        }
                        figures.push(group);
                    }
                }
            }
        }
        let baseline_groups = |rows: &[(&str, &str)]| -> Vec<Vec<usize>> {
            rows.iter()
                .map(|&(r, c)| {
                    (0..cells.height())
                        .filter(|&i| {
                            ref_text.contains(&dates[i])
                                && in_series((&regions[i], &cats[i]), (r, c))
                        })
                        .collect()
                })
                .collect()
        };
        let recovered = |rows: &[(&str, &str)]| {
            let mut all = figures.clone();
            all.extend(baseline_groups(rows));
            homeseason_test_support::recoverable(&hidden, &all)
        };
        assert_eq!(
            homeseason_test_support::recoverable(&hidden, &figures),
            Vec::<usize>::new(),
            "the daily and weekly figures alone give nothing away"
        );
        assert!(
            recovered(&published_rows(&shown)).contains(&small_row),
            "without the fix the baselines give the small cell away"
        );
        assert_eq!(recovered(&kept), Vec::<usize>::new(), "{s:?}");
    }

    /// The impact plot of a local event draws the treated region's `all_targeted` figure each
    /// day (observed) beside a synthetic control. On 2023-09-06 Beijing's targeted sales are one
    /// small cell (321.09 yuan, one merchant), so that figure is not published: the data behind
    /// the chart ([`homeseason_report::impact_points`]) leaves the day out, and no drawn point
    /// equals the cell; without the blanking the chart would draw it.
    #[test]
    fn the_local_event_impact_chart_draws_no_suppressed_figure() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2023, 9, d).expect("date");
        let mut rows: Vec<CellRow> = Vec::new();
        for d in 4..=17 {
            for region in REGIONS {
                for cat in ["furniture", "supermarket"] {
                    if d == 6 && region == "110000" && cat == "furniture" {
                        rows.push((day(d), region, cat, "bank_a", 1, 321.09));
                        continue;
                    }
                    for (k, inst) in ["bank_a", "bank_b"].into_iter().enumerate() {
                        let m = 5 + i64::from(d % 4) + i64::try_from(k).unwrap_or(0);
                        rows.push((day(d), region, cat, inst, m, 1000.0 + f64::from(d) * 10.0));
                    }
                }
            }
        }
        let cells = cells_frame(&rows);
        let (_, s) = suppress(&cells, &["furniture"]);
        let key = figure_key("2023-09-06", "110000", "all_targeted");
        assert!(s.blanked_margins.contains(&key), "{s:?}");
        // local_event_series of Beijing's event from 2023-09-11: observed = Beijing's targeted
        // sales that day (what `local_events` records), synthetic control 95 % of it.
        let days: Vec<NaiveDate> = (4..=17).map(day).collect();
        let observed: Vec<f64> = days
            .iter()
            .map(|d| {
                rows.iter()
                    .filter(|x| x.0 == *d && x.1 == "110000" && x.2 == "furniture")
                    .map(|x| x.5)
                    .sum()
            })
            .collect();
        let n = days.len();
        let series = df!(
            "campaign_id" => vec!["test"; n],
            "region_code" => vec!["110000"; n],
            "category" => vec!["all_targeted"; n],
            "event_start" => vec![day(11); n],
            "date" => days.clone(),
            "observed_yuan" => observed.clone(),
            "counterfactual_yuan" => observed.iter().map(|o| 0.95 * o).collect::<Vec<_>>(),
            "in_event" => days.iter().map(|d| *d >= day(11)).collect::<Vec<_>>(),
        )
        .expect("series");
        let drawn = |frame: &DataFrame| {
            homeseason_report::impact_points(frame, "110000", day(11)).expect("points")
        };
        let before = drawn(&series);
        assert!(
            before.iter().any(|p| (p.1 - 321.09).abs() < 0.005),
            "without the blanking the chart draws the cell: {before:?}"
        );
        let shown = blank_event_days(&series, &s).expect("blank");
        let after = drawn(&shown);
        let unpublished = days
            .iter()
            .filter(|d| {
                s.blanked_margins
                    .contains(&figure_key(&d.to_string(), "110000", "all_targeted"))
            })
            .count();
        assert!(unpublished >= 1, "{s:?}");
        assert_eq!(
            after.len(),
            n - unpublished,
            "only the unpublished days are left out: {after:?}"
        );
        for (d, o, c) in &after {
            assert!((o - 321.09).abs() >= 0.005 && (c - 321.09 * 0.95).abs() >= 0.005);
            let key = figure_key(&d.to_string(), "110000", "all_targeted");
            assert!(
                !s.blanked_margins.contains(&key),
                "{d} is drawn but not published"
            );
        }
        assert!(!after.iter().any(|p| p.0 == day(6)));
    }

    /// A series of a `weekly_tracking` row: its week's first and last day, and the forms of its
    /// week's and its cumulative baseline.
    type WeekRow<'a> = (
        (&'a str, &'a str),
        NaiveDate,
        NaiveDate,
        Vec<(usize, f64)>,
        Vec<(usize, f64)>,
    );

    /// A figure of the attack: whether weekly, the day or week, the region, the category.
    type FigureKey = (bool, String, String, String);

    /// A cell's date, region, category and amount, by row.
    type Cells = (Vec<String>, Vec<String>, Vec<String>, Vec<f64>);

    fn cell_columns(cells: &DataFrame) -> Cells {
        let text = |c: &str| homeseason_metrics::tracking::strings_of(cells, c).expect("a column");
        let amounts = cells
            .column("net_amount_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect();
        (text("date"), text("region_code"), text("category"), amounts)
    }

    /// The attack on `cells` (suppressed as `mask` and `s`) by the weighted sums of cells the
    /// outputs publish: the daily and weekly figures alone give no hidden cell away; with the
    /// sums `sums` published as they were, the small cell (321.09 yuan) is recovered (`why`);
    /// with only those `kept` once blanked, no hidden cell is.
    fn assert_attack(
        (cells, mask, s): (&DataFrame, &[bool], &homeseason_ingest::Suppression),
        sums: &[Vec<(usize, f64)>],
        kept: &[Vec<(usize, f64)>],
        why: &str,
    ) {
        let hidden: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let (_, _, _, amounts) = cell_columns(cells);
        let small_row = amounts
            .iter()
            .position(|&a| (a - 321.09).abs() < 1e-9)
            .expect("the small cell");
        let base = daily_and_weekly_forms(cells, s);
        let with = |more: &[Vec<(usize, f64)>]| [base.as_slice(), more].concat();
        assert_eq!(
            homeseason_test_support::recoverable_weighted(&hidden, &base),
            Vec::<usize>::new(),
            "the daily and weekly figures alone give nothing away"
        );
        assert!(
            homeseason_test_support::recoverable_weighted(&hidden, &with(sums))
                .contains(&small_row),
            "{why}"
        );
        assert_eq!(
            homeseason_test_support::recoverable_weighted(&hidden, &with(kept)),
            Vec::<usize>::new(),
            "{s:?}"
        );
    }

    /// Every daily figure of `cells` suppression publishes (region or nation; category,
    /// `all_targeted` — both categories here — or all), and every Monday–Sunday weekly sum of
    /// them (a box's two days lie in one week), as weighted forms for the attack.
    fn daily_and_weekly_forms(
        cells: &DataFrame,
        s: &homeseason_ingest::Suppression,
    ) -> Vec<Vec<(usize, f64)>> {
        let (dates, regions, cats, _) = cell_columns(cells);
        let monday = |d: &str| {
            let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
            (d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))).to_string()
        };
        let mut groups: std::collections::BTreeMap<FigureKey, Vec<usize>> =
            std::collections::BTreeMap::new();
        for i in 0..dates.len() {
            for region in [regions[i].as_str(), "000000"] {
                for cat in [cats[i].as_str(), "all_targeted", ""] {
                    for (weekly, time) in [(false, dates[i].clone()), (true, monday(&dates[i]))] {
                        groups
                            .entry((weekly, time, region.to_owned(), cat.to_owned()))
                            .or_default()
                            .push(i);
                    }
                }
            }
        }
        groups
            .into_iter()
            .filter(|((weekly, day, region, cat), _)| {
                *weekly || {
                    let key = match (cat.as_str(), region.as_str()) {
                        ("", "000000") => format!("date={day}"),
                        ("", r) => format!("date={day},region_code={r}"),
                        (c, r) => figure_key(day, r, c),
                    };
                    !s.blanked_margins.contains(&key)
                }
            })
            .map(|(_, g)| g.into_iter().map(|i| (i, 1.0)).collect())
            .collect()
    }

    /// The form of a sum over days of the series `(region, category)` of `cells` weighted by `w`.
    fn series_form(
        cells: &DataFrame,
        series: (&str, &str),
        w: &homeseason_ingest::DayWeights,
    ) -> Vec<(usize, f64)> {
        let (dates, regions, cats, _) = cell_columns(cells);
        (0..dates.len())
            .filter(|&i| in_series((&regions[i], &cats[i]), series))
            .map(|i| {
                (
                    i,
                    w.at(NaiveDate::parse_from_str(&dates[i], "%Y-%m-%d").unwrap()),
                )
            })
            .filter(|x| x.1 != 0.0)
            .collect()
    }

    /// Issue 13, multi-day baselines: a prior-year small cell on Monday 22 August 2022, boxed with
    /// a workday of its week. The campaign window's prior-year baseline (and the weeks' and the
    /// cumulative ones of `weekly_tracking`) weigh that Monday 1/4 and the other workday 1/5 (a
    /// Monday's reference days skip the Mid-Autumn Monday), so the box does not cancel: with every
    /// baseline sum published, the attack (every daily figure of 2022, every weekly sum, every
    /// baseline sum with its weights, the growth ratio known) recovers the cell. With the unsafe
    /// sums blanked — the four corners' regional series; the national and `all_targeted` ones,
    /// which no box moves, stay — it recovers nothing.
    #[test]
    fn baseline_sums_a_prior_year_box_does_not_cancel_are_blanked_and_the_attack_recovers_nothing()
    {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        let window = homeseason_schema::campaign::DateRange {
            start: d(2023, 9, 4),
            end: d(2023, 9, 17),
        };
        let small = d(2022, 8, 22);
        let cells = cells_between(d(2022, 8, 15), d(2022, 10, 9), small);
        let (mask, s) = suppress(&cells, &CATEGORIES);
        assert!(s.unprotected.is_empty() && s.boxes == 1, "{s:?}");
        let the_box = &s.moves[0];
        assert!(
            the_box.days.contains(&small) && the_box.days.len() == 2,
            "{s:?}"
        );
        let whole = baseline_weights(Method::PriorYear, window).expect("weights");
        assert!(!whole.cancels(&the_box.days), "{the_box:?}: {whole:?}");
        let mut campaign = Campaign::default_2023();
        campaign.window = window;
        let series: Vec<(&str, &str)> = ["110000", "120000", "000000"]
            .into_iter()
            .flat_map(|r| ["furniture", "home_appliances", "all_targeted"].map(|c| (r, c)))
            .collect();
        let (_, _, _, amounts) = cell_columns(&cells);
        let value = |f: &[(usize, f64)]| 1.05 * f.iter().map(|&(i, w)| amounts[i] * w).sum::<f64>();
        let n = series.len();
        let forms: Vec<Vec<(usize, f64)>> = series
            .iter()
            .map(|x| series_form(&cells, *x, &whole))
            .collect();
        let uplift = df!(
            "region_code" => series.iter().map(|x| x.0).collect::<Vec<_>>(),
            "category" => series.iter().map(|x| x.1).collect::<Vec<_>>(),
            "method" => vec!["prior_year"; n],
            "window_kind" => vec!["campaign"; n],
            "window_start" => vec![window.start; n],
            "window_end" => vec![window.end; n],
            "actual_yuan" => vec![1.0e6; n],
            "baseline_yuan" => forms.iter().map(|f| value(f)).collect::<Vec<_>>(),
            "uplift_pct" => forms.iter().map(|f| 100.0 * (1.0e6 / value(f) - 1.0)).collect::<Vec<_>>(),
            "level" => vec![0.9; n],
        )
        .expect("uplift");
        // weekly_tracking: both weeks of the window, every series.
        let weeks = [
            (d(2023, 9, 4), d(2023, 9, 10)),
            (d(2023, 9, 11), d(2023, 9, 17)),
        ];
        let mut rows: Vec<WeekRow<'_>> = Vec::new();
        for x in &series {
            for (start, end) in weeks {
                let span = |a, b| homeseason_schema::campaign::DateRange { start: a, end: b };
                let week = baseline_weights(Method::PriorYear, span(start, end)).expect("week");
                let cum =
                    baseline_weights(Method::PriorYear, span(window.start, end)).expect("cum");
                rows.push((
                    *x,
                    start,
                    end,
                    series_form(&cells, *x, &week),
                    series_form(&cells, *x, &cum),
                ));
            }
        }
        let m = rows.len();
        let weekly = df!(
            "as_of_week" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "region_code" => rows.iter().map(|r| r.0.0).collect::<Vec<_>>(),
            "category" => rows.iter().map(|r| r.0.1).collect::<Vec<_>>(),
            "method" => vec!["prior_year"; m],
            "week_start" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "week_end" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "week_actual_yuan" => vec![5.0e5; m],
            "week_baseline_yuan" => rows.iter().map(|r| value(&r.3)).collect::<Vec<_>>(),
            "cum_actual_yuan" => vec![1.0e6; m],
            "cum_baseline_yuan" => rows.iter().map(|r| value(&r.4)).collect::<Vec<_>>(),
            "wow_change_pct" => vec![Some(0.0); m],
        )
        .expect("weekly");
        let shown_uplift = blank_unsafe_uplift(&uplift, &s).expect("uplift");
        let shown_weekly = blank_unsafe_tracking(&weekly, &s, &campaign).expect("weekly");
        let published_at = |frame: &DataFrame, c: &str, i: usize| {
            frame.column(c).unwrap().f64().unwrap().get(i).is_some()
        };
        let (mut sums, mut kept) = (Vec::new(), Vec::new());
        for (i, f) in forms.iter().enumerate() {
            sums.push(f.clone());
            if published_at(&shown_uplift, "baseline_yuan", i) {
                kept.push(f.clone());
            }
            // The actual sums are of 2023: no suppressed cell of 2022 in them, so they stay.
            assert!(published_at(&shown_uplift, "actual_yuan", i));
        }
        for (i, r) in rows.iter().enumerate() {
            sums.extend([r.3.clone(), r.4.clone()]);
            if published_at(&shown_weekly, "week_baseline_yuan", i) {
                kept.push(r.3.clone());
            }
            if published_at(&shown_weekly, "cum_baseline_yuan", i) {
                kept.push(r.4.clone());
            }
        }
        assert_attack(
            (&cells, &mask, &s),
            &sums,
            &kept,
            "every baseline sum published gives the small cell away",
        );
        // What is blanked: the corners' four regional series; the regions' all_targeted and the
        // nation's series stay.
        for (i, x) in series.iter().enumerate() {
            let moved = x.0 != "000000" && x.1 != "all_targeted";
            assert_eq!(
                published_at(&shown_uplift, "baseline_yuan", i),
                !moved,
                "{x:?}: {shown_uplift}"
            );
            assert_eq!(
                published_at(&shown_uplift, "uplift_pct", i),
                !moved,
                "{x:?}"
            );
        }
    }

    /// Issue 13, local events: a small cell on Sunday 10 September 2023 (Beijing furniture),
    /// boxed with Saturday 9 September. Beijing's local event runs from the Sunday to 17
    /// September: its observed sum minus the published days 11–17 gives the cell, and the box
    /// does not cancel (one of its days is inside). With the event's figures blanked the attack
    /// (every daily and weekly figure, every event's observed sum and its synthetic control, the
    /// donor weight known) recovers nothing; an event whose days hold neither day stays.
    #[test]
    fn a_local_event_sum_a_box_straddles_is_blanked_and_the_attack_recovers_nothing() {
        let d = |m, day| NaiveDate::from_ymd_opt(2023, m, day).expect("date");
        let cells = cells_between(d(9, 4), d(9, 17), d(9, 10));
        let (mask, s) = suppress(&cells, &CATEGORIES);
        assert!(s.unprotected.is_empty() && s.boxes == 1, "{s:?}");
        assert_eq!(s.moves[0].days, vec![d(9, 9), d(9, 10)], "{s:?}");
        let span = |a, b| {
            homeseason_ingest::DayWeights::span(homeseason_schema::campaign::DateRange {
                start: a,
                end: b,
            })
        };
        let (beijing, tianjin) = (span(d(9, 10), d(9, 17)), span(d(9, 11), d(9, 17)));
        // Observed: the treated region's series; synthetic control: 0.8 × the donor's.
        let forms = [
            series_form(&cells, ("110000", "furniture"), &beijing),
            series_form(&cells, ("120000", "furniture"), &beijing)
                .into_iter()
                .map(|(i, w)| (i, 0.8 * w))
                .collect::<Vec<_>>(),
            series_form(&cells, ("120000", "home_appliances"), &tianjin),
            series_form(&cells, ("110000", "home_appliances"), &tianjin)
                .into_iter()
                .map(|(i, w)| (i, 0.8 * w))
                .collect::<Vec<_>>(),
        ];
        let (_, _, _, amounts) = cell_columns(&cells);
        let value = |f: &[(usize, f64)]| f.iter().map(|&(i, w)| amounts[i] * w).sum::<f64>();
        let events = df!(
            "campaign_id" => ["test", "test"],
            "region_code" => ["110000", "120000"],
            "category" => ["furniture", "home_appliances"],
            "event_start" => [d(9, 10), d(9, 11)],
            "event_end" => [d(9, 17), d(9, 17)],
            "actual_yuan" => [value(&forms[0]), value(&forms[2])],
            "counterfactual_yuan" => [value(&forms[1]), value(&forms[3])],
            "incremental_yuan" => [value(&forms[0]) - value(&forms[1]), value(&forms[2]) - value(&forms[3])],
            "level" => [0.9, 0.9],
        )
        .expect("events");
        let shown = blank_unsafe_events(&events, &s).expect("events");
        let published_at =
            |c: &str, i: usize| shown.column(c).unwrap().f64().unwrap().get(i).is_some();
        assert!(!published_at("actual_yuan", 0) && !published_at("counterfactual_yuan", 0));
        assert!(!published_at("incremental_yuan", 0));
        assert!(published_at("actual_yuan", 1) && published_at("counterfactual_yuan", 1));
        assert_attack(
            (&cells, &mask, &s),
            &forms,
            &forms[2..],
            "the event's observed sum gives the small cell away",
        );
    }
}
