//! `homeseason upload` and `homeseason pull`: the command-line side of `homeseason_client`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use homeseason_client::wire::{Status, UploadRecord};
use homeseason_client::{Client, PullConfig, PullSource, Retry, pull};
use homeseason_lake::Lake;
use homeseason_pipeline::{Fate, Profiles, Source, ingest_file};
use homeseason_schema::campaign::Campaign;

use crate::now;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn print_record(r: &UploadRecord, skipped: bool) {
    let report = r.report.as_ref();
    let n = |k: &str| {
        report
            .and_then(|v| v.get(k))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    match r.status {
        Status::Accepted => {
            let how = if skipped || r.duplicate_of.is_some() {
                " (already ingested, not ingested again 已入库，未重复导入)"
            } else {
                ""
            };
            println!(
                "{}: accepted 已接收{how}: read 读取 {} = accepted 接收 {} + rejected 拒收 {} + duplicates 重复 {}",
                r.file,
                n("read"),
                n("accepted"),
                n("rejected"),
                n("duplicates")
            );
            for x in &r.rejects {
                println!(
                    "  line 行 {} column 列 {}: {} / {}",
                    x.line,
                    x.column.as_deref().unwrap_or("-"),
                    x.message_zh,
                    x.message_en
                );
            }
            if r.rejects_total > r.rejects.len() {
                println!(
                    "  … {} rejected rows in all 共拒收 {} 行 (GET /api/uploads/{}/rejects.csv)",
                    r.rejects_total, r.rejects_total, r.id
                );
            }
            if let Some(c) = &r.commit {
                for x in &c.replaced {
                    println!(
                        "  replaced 替换 {} (was 原为 {})",
                        x.partition,
                        x.previous_file.as_deref().unwrap_or(&x.previous_sha256)
                    );
                }
            }
        }
        _ => {
            let why = r
                .refusal
                .as_ref()
                .map(|x| format!("{} / {}", x.message_zh, x.message_en))
                .unwrap_or_default();
            println!("{}: REFUSED 拒收 — {why}", r.file);
        }
    }
}

/// `homeseason upload`: `on_conflict` (`--on-conflict`) is sent with each file as the upload page
/// sends it; `None` leaves the server's policy.
pub(crate) fn upload(
    server: &str,
    token: &str,
    feed: Option<&str>,
    on_conflict: Option<homeseason_lake::ConflictPolicy>,
    retries: u32,
    json: bool,
    files: &[PathBuf],
) -> Result<()> {
    let mut client = Client::new(
        server,
        token,
        Retry {
            attempts: retries.max(1),
            ..Retry::default()
        },
    )?;
    if let Some(p) = on_conflict {
        client = client.with_on_conflict(p.id());
    }
    let rt = runtime()?;
    let mut refused = 0;
    let mut records = Vec::new();
    for file in files {
        let outcome = rt
            .block_on(client.upload(file, feed))
            .with_context(|| format!("uploading {}", file.display()))?;
        if outcome.record.status != Status::Accepted {
            refused += 1;
        }
        if json {
            records.push(outcome.record);
        } else {
            print_record(&outcome.record, outcome.skipped);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    }
    if refused > 0 {
        bail!("{refused} file(s) refused whole 文件被整份拒收");
    }
    Ok(())
}

/// Options of `homeseason pull`.
#[derive(clap::Args)]
pub(crate) struct PullOptions {
    /// Sources file (TOML, `[[source]]` tables with name, url, sha256_url or sha256, feed).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// One source's URL instead of a file.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// URL of its checksum (default: URL + ".sha256").
    #[arg(long)]
    pub(crate) sha256_url: Option<String>,
    /// Its SHA-256, when published elsewhere.
    #[arg(long)]
    pub(crate) sha256: Option<String>,
    /// Source name (with --config: pull only this one).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Feed of the file(s), for ingest.
    #[arg(long)]
    pub(crate) feed: Option<String>,
    /// Folder to write the files to.
    #[arg(long, default_value = "pulled")]
    pub(crate) out: PathBuf,
    /// Also ingest each file into this lake.
    #[arg(long)]
    pub(crate) lake: Option<PathBuf>,
    /// Attempts per download.
    #[arg(long, default_value_t = 5)]
    pub(crate) retries: u32,
    /// What to do with a row whose key the lake already holds with different values (a
    /// conflict): `keep-first` keeps the held row, `keep-last` stores the received row instead.
    /// Either way the conflict is counted and both rows go to lake/rejects (reasons `conflict`
    /// and `conflict_held`, in Chinese and English). 键相同而取值不同（冲突）时的处理策略。
    #[arg(long, value_name = "POLICY", default_value = "keep-first")]
    pub(crate) on_conflict: homeseason_lake::ConflictPolicy,
}

fn sources(opts: &PullOptions) -> Result<Vec<PullSource>> {
    let mut list = match &opts.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml_config(&text).with_context(|| format!("pull configuration {}", path.display()))?
        }
        None => Vec::new(),
    };
    if let Some(url) = &opts.url {
        list.push(PullSource {
            name: opts.name.clone().unwrap_or_else(|| "source".into()),
            url: url.clone(),
            sha256_url: opts.sha256_url.clone(),
            sha256: opts.sha256.clone(),
            feed: opts.feed.clone(),
        });
    } else if let Some(name) = &opts.name {
        list.retain(|s| &s.name == name);
    }
    if list.is_empty() {
        bail!("nothing to pull: give --config FILE (with [[source]] tables) or --url URL");
    }
    Ok(list)
}

fn toml_config(text: &str) -> Result<Vec<PullSource>> {
    let config: PullConfig = toml::from_str(text)?;
    Ok(config.source)
}

/// `homeseason pull`.
pub(crate) fn pull_sources(opts: &PullOptions, campaign: &Campaign) -> Result<()> {
    let list = sources(opts)?;
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let retry = Retry {
        attempts: opts.retries.max(1),
        ..Retry::default()
    };
    let rt = runtime()?;
    let lake = opts
        .lake
        .as_deref()
        .map(|p| Lake::open(p).map(|l| l.with_conflict_policy(opts.on_conflict)))
        .transpose()?;
    let mut refused = 0;
    for source in &list {
        let pulled = rt
            .block_on(pull(&http, source, &opts.out, &retry))
            .with_context(|| format!("pulling {} ({})", source.name, source.url))?;
        println!(
            "{}: {} ({} bytes, sha256 {}){}",
            source.name,
            pulled.path.display(),
            pulled.bytes,
            pulled.sha256,
            if pulled.unchanged {
                " unchanged 未变化"
            } else {
                ""
            }
        );
        if let Some(lake) = &lake {
            refused += ingest_pulled(lake, source, &pulled.path, campaign)?;
        }
    }
    if refused > 0 {
        bail!("{refused} file(s) refused whole 文件被整份拒收");
    }
    Ok(())
}

fn ingest_pulled(
    lake: &Lake,
    source: &PullSource,
    path: &Path,
    campaign: &Campaign,
) -> Result<usize> {
    let feed = source.feed.as_deref().map(crate::parse_feed).transpose()?;
    let profiles = Profiles::from_working_dir()?;
    match ingest_file(lake, &Source::Path(path), feed, campaign, &profiles, &now())? {
        Fate::Ingested { report, commit, .. } => {
            println!(
                "  ingested 已入库: read {} = accepted {} + rejected {} + duplicates {}{}",
                report.read,
                report.accepted,
                report.rejected,
                report.duplicates,
                if commit.unchanged {
                    " (unchanged 未变化)"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Fate::Refused { reason } => {
            println!("  REFUSED 拒收 — {reason}");
            Ok(1)
        }
    }
}
