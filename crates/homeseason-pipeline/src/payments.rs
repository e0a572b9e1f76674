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
    Ok((
        homeseason_ingest::blank_exposed_margins(&baseline_daily, &summary)?,
        Some(k),
    ))
}
