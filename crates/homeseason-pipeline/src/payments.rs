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
    /// The institution's transaction ids, read once per file.
    ids: Option<(String, Arc<homeseason_lake::TxnIds>)>,
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
                        .institution_txn_ids(&self.manifest, institution)
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
    let Some(k) = lake.suppression_threshold()? else {
        return Ok((baseline_daily, None));
    };
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 || baseline_daily.height() == 0 {
        return Ok((baseline_daily, Some(k)));
    }
    let (_, summary) =
        homeseason_ingest::suppression_of(&daily, k, &homeseason_ingest::Published::of(campaign))?;
    let blanked = homeseason_ingest::blank_exposed_margins(&baseline_daily, &summary)?;
    Ok((blank_unsafe_baselines(&blanked, &summary)?, Some(k)))
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
    let Some(k) = lake.suppression_threshold()? else {
        return Ok(series);
    };
    if series.height() == 0 {
        return Ok(series);
    }
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(series);
    }
    let (_, summary) =
        homeseason_ingest::suppression_of(&daily, k, &homeseason_ingest::Published::of(campaign))?;
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
    use polars::prelude::*;
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
    let text = |c: &str| -> Result<Vec<String>> {
        Ok(series
            .column(c)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let (dates, categories) = (text("date")?, text("category")?);
    let gaps: Vec<bool> = (0..series.height())
        .map(|i| {
            hidden.contains(&(dates[i].clone(), categories[i].clone()))
                || hidden.contains(&(dates[i].clone(), String::new()))
        })
        .collect();
    if !gaps.contains(&true) {
        return Ok(series.clone());
    }
    let mut out = series.clone();
    out.with_column(Column::new("__gap".into(), gaps))?;
    let blank = |c: &str| {
        when(col("__gap"))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col(c))
            .alias(c)
    };
    Ok(out
        .lazy()
        .with_columns([blank("observed_yuan"), blank("counterfactual_yuan")])
        .collect()?
        .drop("__gap")?)
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
    let text = |c: &str| -> Result<Vec<String>> {
        Ok(frame
            .column(c)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
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
    if !unsafe_rows.contains(&true) {
        return Ok(frame.clone());
    }
    let mut out = frame.clone();
    out.with_column(Column::new("__unsafe_baseline".into(), unsafe_rows))?;
    let blank = |c: &str| {
        when(col("__unsafe_baseline"))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col(c))
            .alias(c)
    };
    Ok(out
        .lazy()
        .with_columns([
            blank("baseline_yuan"),
            blank("lower_yuan"),
            blank("upper_yuan"),
        ])
        .collect()?
        .drop("__unsafe_baseline")?)
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
        let (first, last) = (refs[0] - chrono::Duration::days(7), refs[refs.len() - 1]);
        let mut rows: Vec<(NaiveDate, &str, &str, &str, i64, f64)> = Vec::new();
        let mut day = first;
        let mut n = 0_i64;
        while day <= last + chrono::Duration::days(7) {
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
        let published = Published {
            targeted: CATEGORIES.map(str::to_owned).to_vec(),
            cuts: vec![],
            summed: None,
        };
        let (mask, s) = suppression_of(&cells, 3, &published).expect("suppression");
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
        let text = |c: &str| -> Vec<String> {
            cells
                .column(c)
                .unwrap()
                .cast(&DataType::String)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect()
        };
        let (dates, regions, cats) = (text("date"), text("region_code"), text("category"));
        let amounts: Vec<f64> = cells
            .column("net_amount_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect();
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
        let mut rows: Vec<(NaiveDate, &str, &str, &str, i64, f64)> = Vec::new();
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
        let cells = df!(
            "date" => rows.iter().map(|x| x.0).collect::<Vec<_>>(),
            "region_code" => rows.iter().map(|x| x.1).collect::<Vec<_>>(),
            "category" => rows.iter().map(|x| x.2).collect::<Vec<_>>(),
            "institution" => rows.iter().map(|x| x.3).collect::<Vec<_>>(),
            "merchant_count" => rows.iter().map(|x| x.4).collect::<Vec<_>>(),
            "net_amount_yuan" => rows.iter().map(|x| x.5).collect::<Vec<_>>(),
        )
        .expect("cells");
        let published = Published {
            targeted: vec!["furniture".to_owned()],
            cuts: vec![],
            summed: None,
        };
        let (_, s) = suppression_of(&cells, 3, &published).expect("suppression");
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
}
