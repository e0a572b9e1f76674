//! Payment-institution files: profiles, the streaming transaction ingest with the lake's txn-id index,
//! JSON Lines / Parquet / profiled daily files, and the dashboard copy with small cells suppressed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use homeseason_ingest::profile::{self, Format, Profile};
use homeseason_ingest::stream::{self, MonthOwner, TxnContext};
use homeseason_ingest::{Feed, IngestError};
use homeseason_lake::{Commit, Lake, Manifest, RefusedEntry, TxnSpill};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;

use crate::pipeline::FileResult;

/// The profiles in force for this run.
#[derive(Debug, Default)]
pub(crate) struct Profiles {
    /// `--profile FILE`: used for every file.
    explicit: Option<Profile>,
    /// `profiles/*.toml` (or `--profiles DIR`), matched by institution code in the file's name.
    found: Vec<Profile>,
}

static PROFILES: OnceLock<Profiles> = OnceLock::new();

/// Set the run's profiles from `--profile` and `--profiles` (default: `./profiles` when it exists).
pub(crate) fn set_profiles(file: Option<&Path>, dir: Option<&Path>) -> Result<()> {
    let explicit = file
        .map(Profile::from_file)
        .transpose()
        .context("reading --profile")?;
    let dir = dir.map_or_else(|| PathBuf::from("profiles"), Path::to_path_buf);
    let found =
        profile::load_dir(&dir).with_context(|| format!("profiles in {}", dir.display()))?;
    let _ = PROFILES.set(Profiles { explicit, found });
    Ok(())
}

fn profiles() -> &'static Profiles {
    PROFILES.get_or_init(|| Profiles {
        explicit: None,
        found: profile::load_dir(Path::new("profiles")).unwrap_or_default(),
    })
}

/// The profile for a file: `--profile`, else the first matching `profiles/*.toml`, else the contract.
pub(crate) fn profile_for(path: &Path) -> Profile {
    let p = profiles();
    p.explicit
        .clone()
        .or_else(|| profile::pick(&p.found, path).cloned())
        .unwrap_or_default()
}

/// Whether a name looks like a payment file this module reads beyond plain CSV.
pub(crate) fn is_extra_data_file(name: &str) -> bool {
    let lower = name.to_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".parquet")
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

fn head_bytes(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut buf[got..])?;
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
fn route(path: &Path, name: &str, feed: Option<Feed>, profile: &Profile) -> Result<Option<Feed>> {
    let lower = name.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        return Ok(None);
    }
    let format = profile.format.of_name(name);
    let wanted = |f: Feed| {
        matches!(f, Feed::PaymentTransactions)
            || (f == Feed::PaymentDaily && (format != Format::Csv || !profile.is_contract_layout()))
    };
    if let Some(f) = feed.or(profile.feed) {
        return Ok(wanted(f).then_some(f));
    }
    let head = if format == Format::Parquet {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    } else {
        head_bytes(path, 256 << 10)?
    };
    let Ok(headers) = stream::sniff_header(&head, format, profile.delimiter) else {
        return Ok(None);
    };
    Ok(stream::detect_payment_feed(&headers, profile).filter(|f| wanted(*f)))
}

/// Ingest `path` here when it is a payment file this module handles; `None` otherwise.
pub(crate) fn ingest_payment_file(
    lake: &Lake,
    path: &Path,
    feed: Option<Feed>,
    campaign: &Campaign,
    now: &str,
) -> Result<Option<FileResult>> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_owned();
    let profile = profile_for(path);
    let Some(feed) = route(path, &name, feed, &profile)? else {
        return Ok(None);
    };
    let outcome = match feed {
        Feed::PaymentTransactions => {
            ingest_transactions(lake, path, &name, &profile, campaign, now)
        }
        _ => ingest_daily(lake, path, &name, &profile, campaign, now),
    };
    match outcome {
        Ok(r) => Ok(Some(r)),
        Err(Refused(e)) => {
            let reason = e.to_string();
            let bytes = std::fs::read(path).unwrap_or_default();
            lake.record_refusal(RefusedEntry {
                sha256: homeseason_ingest::source::sha256_hex(&bytes),
                file: name,
                feed: Some(feed.id().to_owned()),
                reason: reason.clone(),
                at: now.to_owned(),
            })?;
            Ok(Some(FileResult {
                path: path.display().to_string(),
                report: None,
                commit: None,
                refused: Some(reason),
            }))
        }
        Err(Failed(e)) => Err(e),
    }
}

enum Failure {
    Refused(IngestError),
    Failed(anyhow::Error),
}
use Failure::{Failed, Refused};

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failed(e)
    }
}
impl From<homeseason_lake::LakeError> for Failure {
    fn from(e: homeseason_lake::LakeError) -> Failure {
        Failed(e.into())
    }
}
impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        Failed(e.into())
    }
}

fn ingest_transactions(
    lake: &Lake,
    path: &Path,
    name: &str,
    profile: &Profile,
    campaign: &Campaign,
    now: &str,
) -> std::result::Result<FileResult, Failure> {
    let mut ctx = LakeCtx {
        lake,
        manifest: lake.manifest()?,
        spill: lake.txn_spill()?,
    };
    let open =
        || -> std::io::Result<Box<dyn Read + Send>> { Ok(Box::new(std::fs::File::open(path)?)) };
    let size = std::fs::metadata(path).ok().map(|m| m.len());
    let out = stream::ingest_transactions(name, &open, size, profile, campaign, &mut ctx)
        .map_err(Refused)?;
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
                "institution": out.institution,
                "profile": profile.source,
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
            file: name,
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
    Ok(FileResult {
        path: path.display().to_string(),
        report: Some(out.report),
        commit: Some(commit),
        refused: None,
    })
}

fn ingest_daily(
    lake: &Lake,
    path: &Path,
    name: &str,
    profile: &Profile,
    campaign: &Campaign,
    now: &str,
) -> std::result::Result<FileResult, Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Failed)?;
    let out = homeseason_ingest::payments::daily_profiled(name, &bytes, profile, campaign)
        .map_err(Refused)?;
    let commit = lake.commit(&Commit {
        table: tables::PAYMENT_DAILY,
        feed: Feed::PaymentDaily.id(),
        file: name,
        sha256: &out.report.sha256,
        rows: &out.rows,
        rejects: &out.rejects,
        report: serde_json::to_value(&out.report)?,
        now,
    })?;
    Ok(FileResult {
        path: path.display().to_string(),
        report: Some(out.report),
        commit: Some(commit),
        refused: None,
    })
}

/// Write `dashboard_payment_daily`: `payment_daily` with every cell (day × region × MCC, per
/// institution and channel) of fewer than `k` merchants flagged and its money and counts blanked.
pub(crate) fn write_dashboard(lake: &Lake, k: u32) -> Result<usize> {
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(0);
    }
    let out = homeseason_ingest::payments::suppress_small_cells(&daily, k)?;
    let suppressed = out
        .column("suppressed")
        .ok()
        .and_then(|c| c.bool().ok().map(|b| b.sum().unwrap_or(0) as usize))
        .unwrap_or(0);
    lake.write_dashboard(homeseason_ingest::payments::DASHBOARD_TABLE, &out)?;
    Ok(suppressed)
}
