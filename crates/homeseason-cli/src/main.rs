//! `homeseason`: did the 家居焕新消费季 raise sales, where, and in which categories?
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints its results"
)]

mod client;
mod evaluate;
mod evaluate_dims;
mod export;
mod geolift_cmd;
mod impact_cmd;
mod serve;
mod spark_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use homeseason_ingest::Feed;
use homeseason_lake::Lake;
use homeseason_metrics::{Method, UpliftOptions};
use homeseason_pipeline::template::{self, TemplateFormat};
use homeseason_pipeline::{self as pipeline, Profiles};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "homeseason",
    version,
    about = "Measure whether a retail campaign worked: uplift per region × category, with intervals.\n衡量促消费活动成效：分地区、分品类的提升及其区间。"
)]
struct Cli {
    /// Campaign: a TOML file, or an embedded campaign's id or year (`2024` = the 2024 trade-in
    /// season); default: the embedded default campaign (`homeseason campaign` prints it).
    #[arg(long, global = true)]
    campaign: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How the sample season is generated (`demo`, `synth`).
#[derive(clap::Args)]
struct SeasonArgs {
    /// Seed of the sample season.
    #[arg(long, default_value_t = homeseason_synth::DEFAULT_SEED)]
    seed: u64,
    /// Size multiplier of the sample's transaction files.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Where the wallet's merchants sit: `sample` (a few county-level areas per region) or
    /// `dense` (every prefecture-level city, with truth_cities.csv: the city-level benchmark
    /// season). 商户区县分布：样本或全部地市。
    #[arg(long, default_value = "sample")]
    areas: homeseason_synth::AreaSpread,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the sample season, ingest it, estimate uplift and write the report, under --out.
    Demo {
        /// Output folder.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        #[command(flatten)]
        season: SeasonArgs,
    },
    /// Generate the sample season (all four feeds and the truth file).
    Synth {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        season: SeasonArgs,
    },
    /// Validate files (or folders of files) and store them in the lake; prints each file's counts.
    Ingest {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Feed of every file (default: recognised from each file's header).
        #[arg(long)]
        feed: Option<String>,
        /// Print the per-file results as JSON (with every rejected row).
        #[arg(long)]
        json: bool,
        /// Rejected rows to show on screen (all of them are in --json and in lake/rejects).
        #[arg(long, default_value_t = 20, value_name = "N")]
        show_rejects: usize,
        /// Exit non-zero when any row was rejected (not only when a file was refused whole).
        #[arg(long)]
        strict: bool,
        /// Institution profile (TOML) for every file; default: `profiles/<institution>.toml` matched
        /// by the institution code in each file's name or folder (see profiles/README.md).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Folder of institution profiles (default: ./profiles).
        #[arg(long)]
        profiles: Option<PathBuf>,
        /// Also write lake/dashboard/dashboard_payment_daily with cells of fewer than K merchants
        /// suppressed (小单元格抑制).
        #[arg(long, value_name = "K")]
        suppress_below: Option<u32>,
        /// Engine for transaction files: `rust` (streaming, this machine) or `spark` (the roll-up
        /// runs on an Apache Spark cluster and lands in the same lake; see docs/scale-out.md).
        #[arg(long, default_value = "rust")]
        engine: String,
        /// Spark master for `--engine spark`, e.g. spark://HOST:7077 (default:
        /// $HOMESEASON_SPARK_MASTER).
        #[arg(long)]
        spark_master: Option<String>,
        /// Extra Spark setting for `--engine spark`, KEY=VALUE (repeatable), e.g.
        /// spark.executor.memory=4g.
        #[arg(long)]
        spark_conf: Vec<String>,
        /// Remove a key range before ingesting (files are increments and never remove rows):
        /// `TABLE,column=value,…[,date=FROM..TO]`, e.g.
        /// `payment_daily,institution=wallet_b,date=2023-09-10..2023-09-10` or
        /// `enterprise_sales,region_code=330000,period=2023-09`. Audited in the manifest. Repeatable.
        #[arg(long, value_name = "RANGE")]
        replace: Vec<String>,
        /// With --replace: show what would be removed, change nothing, ingest nothing.
        #[arg(long, requires = "replace")]
        dry_run: bool,
        /// What to do with a row whose key the lake already holds with different values (a
        /// conflict): `keep-first` keeps the held row, `keep-last` stores the received row instead.
        /// Either way the conflict is counted and both rows go to lake/rejects (reasons `conflict`
        /// and `conflict_held`, in Chinese and English). 键相同而取值不同（冲突）时的处理策略。
        #[arg(long, value_name = "POLICY", default_value = "keep-first")]
        on_conflict: homeseason_lake::ConflictPolicy,
        /// Files or folders.
        #[arg(required_unless_present = "replace")]
        paths: Vec<PathBuf>,
    },
    /// Estimate uplift per region × category from the lake and write the uplift tables.
    Uplift {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Methods, comma-separated.
        #[arg(
            long,
            default_value = "prior_year,two_year,counterfactual_regression",
            value_delimiter = ','
        )]
        methods: Vec<String>,
        /// Bootstrap seed.
        #[arg(long, default_value_t = homeseason_metrics::BOOTSTRAP_SEED)]
        seed: u64,
        /// Print the wall time of each stage (read, uplift, backtest, tracking, local events) to
        /// stderr, for benchmarks/UPLIFT.md.
        #[arg(long)]
        timings: bool,
        /// The unit: `province` (the reporting regions) or `city` (prefecture-level cities, from
        /// payment_area_daily, written under the lake's levels/city/). 估算单位：省级或地市级。
        #[arg(long, default_value = "province")]
        level: pipeline::city::Level,
        /// With `--level city`: one province's (or plan city's) cities only, a code (330000) or a
        /// name (浙江). 仅估算该省的地市。
        #[arg(long)]
        region: Option<String>,
        /// Fit every regression afresh: neither read nor write the lake's cache of fits
        /// (`_cache/`). The tables are the same bytes either way; the cache only saves the fits
        /// whose inputs did not change since the last run (in a weekly re-run, the placebo and
        /// backtest windows). For cold benchmarks. 不读写回归拟合缓存（结果相同）。
        #[arg(long)]
        no_fit_cache: bool,
    },
    /// Build the report (HTML, Markdown, charts) from the lake's uplift tables.
    Report {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Report date (any date in the window; the report uses data up to the Sunday ending its
        /// week). Default: the latest complete week of data, or the window's end.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// One region's own report and workbook (its 重点活动表): a code (330000) or a name (浙江).
        #[arg(long)]
        region: Option<String>,
        /// `city`: the region section and the tile map replaced by the region's cities (a table and a
        /// bar chart), from `uplift --level city`. 按地市出具报告。
        #[arg(long, default_value = "province")]
        level: pipeline::city::Level,
    },
    /// Score the lake's uplift estimates against a truth file (the sample season's truth.csv).
    Score {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Truth CSV.
        #[arg(long)]
        truth: PathBuf,
        /// Print the scores as JSON (one object per method).
        #[arg(long)]
        json: bool,
    },
    /// Score every method against the sample season's truth over several seeds (accuracy table).
    Evaluate {
        /// Seeds, comma-separated (default: 1,2,3,4,5; with --scenario, 1).
        #[arg(long, value_delimiter = ',')]
        seeds: Option<Vec<u64>>,
        /// Working folder (one sample season and lake per seed).
        #[arg(long, default_value = "out/evaluate")]
        out: PathBuf,
        /// Also write the Markdown table here.
        #[arg(long)]
        table: Option<PathBuf>,
        /// Stress scenario(s) instead of the clean season: a name (clean, spillover, control-break,
        /// housing-drift, missing-late, early-local-event) or `all`; one table per scenario, on a
        /// dozen regions (default seeds then: 1).
        #[arg(long)]
        scenario: Option<String>,
    },
    /// Check every table in the lake against its data contract.
    Check {
        /// Lake folder.
        #[arg(long)]
        lake: PathBuf,
        /// Print the result as JSON (`{"ok": …, "problems": […]}`).
        #[arg(long)]
        json: bool,
    },
    /// Print the campaign configuration in use.
    Campaign,
    /// Run the upload service for liaisons (web page and JSON API, loopback only). 启动数据上传服务。
    Serve {
        /// Data folder: lake, raw uploads, tokens, audit log, upload registry.
        #[arg(long, default_value = "homeseason-data")]
        data: PathBuf,
        /// Address to listen on (loopback only: put a TLS reverse proxy in front).
        #[arg(long, default_value = "127.0.0.1:8023")]
        addr: std::net::SocketAddr,
        /// Largest upload, in MB.
        #[arg(long, default_value_t = 64)]
        max_upload_mb: u64,
        /// Seconds an upload waits for its report before answering 202 with a status URL.
        #[arg(long, default_value_t = 30)]
        sync_wait: u64,
        /// How uploads settle a row whose key the lake already holds with different values:
        /// `keep-first` (default) or `keep-last`; both rows go to rejects either way.
        /// 冲突处理策略。
        #[arg(long, value_name = "POLICY", default_value = "keep-first")]
        on_conflict: homeseason_lake::ConflictPolicy,
    },
    /// Issue, revoke and list the upload service's tokens. 管理联络员令牌。
    Liaison {
        #[command(subcommand)]
        action: LiaisonCommand,
    },
    /// Upload files to a homeseason server; retried safely (content already ingested is not sent
    /// again). 上传文件。
    Upload {
        /// Server URL, e.g. http://127.0.0.1:8023.
        #[arg(long)]
        server: String,
        /// Token (default: the HOMESEASON_TOKEN environment variable).
        #[arg(long)]
        token: Option<String>,
        /// Feed of every file (default: recognised from each file's header).
        #[arg(long)]
        feed: Option<String>,
        /// Attempts per file.
        #[arg(long, default_value_t = 5)]
        retries: u32,
        /// Print the server's records as JSON.
        #[arg(long)]
        json: bool,
        /// What the lake does with a row whose key it already holds with different values (a
        /// conflict): `keep-first` keeps the held row, `keep-last` stores this file's row instead;
        /// sent as the upload page sends it (form field `on_conflict`). Default: the server's
        /// policy. Either way the conflict is counted and both rows go to lake/rejects.
        /// 键相同而取值不同（冲突）时的处理策略（默认：服务器的设置）。
        #[arg(long, value_name = "POLICY")]
        on_conflict: Option<homeseason_lake::ConflictPolicy>,
        /// Files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Fetch institutions' feeds from their HTTPS endpoints (retry, backoff, published SHA-256
    /// checked), optionally ingesting them. 拉取机构数据。
    Pull(client::PullOptions),
    /// GeoLift-style geo experiment on any long-format panel (CSV or Parquet): synthetic control
    /// with conformal inference per treated cell, or power and minimum detectable effect with
    /// --power. 地理实验（合成控制）。
    Geolift(geolift_cmd::GeoliftArgs),
    /// Counterfactual regression (CausalImpact-style) on any series: a CSV or Parquet file with a
    /// time column, a target and covariates; prints CausalImpact's summary. 反事实回归影响评估。
    Impact(impact_cmd::ImpactArgs),
    /// Write a blank template for liaisons: both header languages, drop-down lists and a 填写说明 notes
    /// sheet (XLSX), or a UTF-8 CSV with BOM that Excel opens in Chinese. 生成填报模板。
    Template {
        /// Which table.
        #[arg(value_enum)]
        kind: TemplateKind,
        /// File format.
        #[arg(long, value_enum, default_value_t = TemplateFileFormat::Xlsx)]
        format: TemplateFileFormat,
        /// Output file (default: `<kind>_template.<format>` in the current folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Export the lake's outputs for other tools (a Jupyter notebook, DuckDB views).
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportCommand,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A Jupyter notebook that loads the Parquet outputs with polars and reproduces the headline
    /// tables and two charts, step by step (导出 Jupyter 笔记本).
    Notebook {
        /// Lake folder (written into the notebook as an absolute path).
        #[arg(long)]
        lake: PathBuf,
        /// Notebook file (`.ipynb`) or folder (then `homeseason-weekly-<week>.ipynb` inside it).
        #[arg(long)]
        out: PathBuf,
        /// Report week: a date (YYYY-MM-DD) in the week; the notebook uses the Sunday ending it.
        #[arg(long)]
        as_of: chrono::NaiveDate,
    },
    /// DuckDB views over every table of the lake, partition keys typed from the contract (`region_code`
    /// always text), for dashboards (导出 DuckDB 视图).
    Duckdb {
        /// Lake folder (written into the views as an absolute path).
        #[arg(long)]
        lake: PathBuf,
        /// SQL file to write (default: print to standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum LiaisonCommand {
    /// Issue a token (printed once; stored only as a hash).
    Add {
        /// Data folder of the server.
        #[arg(long, default_value = "homeseason-data")]
        data: PathBuf,
        /// Region(s) the token may upload and read (code or name, comma-separated).
        #[arg(long, value_delimiter = ',')]
        region: Vec<String>,
        /// Holder's name.
        #[arg(long)]
        name: String,
        /// Feeds the token may upload (comma-separated; default: every feed).
        #[arg(long, value_delimiter = ',')]
        feeds: Vec<String>,
        /// An administrator token (every region and feed, the audit log).
        #[arg(long)]
        admin: bool,
    },
    /// Revoke a token by id (or by holder name).
    Revoke {
        /// Data folder of the server.
        #[arg(long, default_value = "homeseason-data")]
        data: PathBuf,
        /// Token id or holder name.
        id: String,
    },
    /// List tokens (never the tokens themselves).
    List {
        /// Data folder of the server.
        #[arg(long, default_value = "homeseason-data")]
        data: PathBuf,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The campaign `--campaign` names and its TOML text: a file when one is at that path, else an
/// embedded campaign by id or year, else the embedded default.
fn load_campaign(arg: Option<&str>) -> Result<(Campaign, String)> {
    let Some(arg) = arg else {
        return Ok((
            Campaign::default_2023(),
            homeseason_schema::campaign::DEFAULT_TOML.to_owned(),
        ));
    };
    let p = Path::new(arg);
    if p.exists() {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let c =
            Campaign::from_toml(&text).with_context(|| format!("campaign file {}", p.display()))?;
        return Ok((c, text));
    }
    if let Some((c, text)) = Campaign::embedded(arg) {
        return Ok((c, text.to_owned()));
    }
    let known: Vec<String> = homeseason_schema::campaign::EMBEDDED
        .iter()
        .filter_map(|t| Campaign::from_toml(t).ok())
        .map(|c| format!("{} ({})", c.id, c.window.start.format("%Y")))
        .collect();
    bail!(
        "--campaign {arg:?}: no such file and no embedded campaign of that id or year (embedded: {}) \
         --campaign {arg:?}：既无此文件，也无此编号或年份的内置活动（内置：{}）",
        known.join(", "),
        known.join("、")
    )
}

/// A feed named on the command line (`enterprise-sales` or `enterprise_sales`); an unknown name is
/// answered with the valid ones, in both languages.
fn parse_feed(name: &str) -> Result<Feed> {
    Feed::from_id(name).with_context(|| {
        let names: Vec<String> = Feed::ALL
            .iter()
            .map(|f| format!("{} ({})", f.id().replace('_', "-"), f.contract().title_zh))
            .collect();
        format!(
            "unknown feed {name:?}; valid feeds: {} / 未知数据类型“{name}”，可用的数据类型：{}",
            names.join(", "),
            names.join("、")
        )
    })
}

/// A lake that must already exist (check, uplift, report, score): a missing folder is an error, never
/// created.
fn existing_lake(path: PathBuf) -> Result<Lake> {
    if !path.is_dir() {
        bail!(
            "lake folder {} does not exist (run `homeseason ingest --lake {}` first) / 数据湖目录 {} 不存在（请先运行 homeseason ingest）",
            path.display(),
            path.display(),
            path.display()
        );
    }
    Ok(Lake::open(path)?)
}

/// Rows of a frame as JSON objects (numbers as numbers, text as text, nulls as null).
fn frame_json(frame: &polars::prelude::DataFrame) -> Result<serde_json::Value> {
    use polars::prelude::{AnyValue, DataType};
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let mut row = serde_json::Map::new();
        for c in frame.columns() {
            let v = match c.get(i)? {
                AnyValue::Null => serde_json::Value::Null,
                AnyValue::Boolean(b) => serde_json::Value::Bool(b),
                AnyValue::String(s) => serde_json::Value::String(s.to_owned()),
                AnyValue::StringOwned(s) => serde_json::Value::String(s.to_string()),
                other => match other.cast(&DataType::Float64) {
                    AnyValue::Float64(x) if x.is_finite() => serde_json::json!(x),
                    _ => serde_json::Value::String(other.to_string()),
                },
            };
            row.insert(c.name().to_string(), v);
        }
        rows.push(serde_json::Value::Object(row));
    }
    Ok(serde_json::Value::Array(rows))
}

fn methods(ids: &[String]) -> Result<Vec<Method>> {
    ids.iter()
        .map(|m| {
            Method::from_id(m.trim()).with_context(|| {
                format!("unknown method {m:?} (prior_year, two_year, counterfactual_regression)")
            })
        })
        .collect()
}

struct SpinnerProgress(ProgressBar);
impl homeseason_synth::Progress for SpinnerProgress {
    fn step(&self, message: &str) {
        self.0.set_message(format!("sample season: {message}"));
    }
}

fn synth(
    campaign: &Campaign,
    out: &Path,
    seed: u64,
    scale: f64,
    areas: homeseason_synth::AreaSpread,
) -> Result<homeseason_synth::SynthSummary> {
    let pb = spinner("sample season");
    let config = homeseason_synth::SynthConfig {
        scale,
        areas,
        ..homeseason_synth::SynthConfig::for_campaign(campaign.clone(), seed)
    };
    let summary = homeseason_synth::generate(&config, out, &SpinnerProgress(pb.clone()))?;
    pb.finish_and_clear();
    Ok(summary)
}

/// Which template (`homeseason template KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TemplateKind {
    /// Key-enterprise sales (重点企业销售数据).
    EnterpriseSales,
    /// The activities register (重点活动表).
    Activities,
    /// Subsidies and consumption vouchers paid out (补贴/消费券).
    Subsidies,
}

/// File format of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TemplateFileFormat {
    /// Excel workbook with a notes sheet.
    Xlsx,
    /// CSV, UTF-8 with BOM.
    Csv,
}

fn ingest(
    lake: &Lake,
    campaign: &Campaign,
    paths: &[PathBuf],
    feed: Option<Feed>,
    profiles: &Profiles,
    keep: pipeline::KeepRejects,
) -> Result<Vec<pipeline::FileResult>> {
    let files = pipeline::expand(paths)?;
    let pb = ProgressBar::new(files.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stamp = now();
    let results = pipeline::ingest_paths_keeping(
        lake,
        &files,
        feed,
        campaign,
        profiles,
        &stamp,
        keep,
        |i, p| {
            pb.set_position(i as u64);
            pb.set_message(
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        },
    )?;
    pb.finish_and_clear();
    if results.iter().any(|r| {
        r.report
            .as_ref()
            .is_some_and(|rep| rep.feed == Feed::Activities)
    }) {
        pipeline::outputs::write_activity_summary(lake)?;
    }
    if results.iter().any(|r| {
        r.report
            .as_ref()
            .is_some_and(|rep| matches!(rep.feed, Feed::Activities | Feed::EnterpriseSales))
    }) {
        pipeline::dimensions::write_theme_summary(lake, campaign)?;
    }
    Ok(results)
}

fn print_ingest(results: &[pipeline::FileResult], show_rejects: usize) -> Result<()> {
    let (mut read, mut acc, mut rej, mut dup) = (0, 0, 0, 0);
    for r in results {
        match (&r.report, &r.refused) {
            (Some(rep), _) => {
                read += rep.read;
                acc += rep.accepted;
                rej += rep.rejected;
                dup += rep.duplicates;
                let state = r.commit.as_ref().map_or(String::new(), |c| {
                    let mut s = String::new();
                    if c.unchanged {
                        s.push_str(" (unchanged 未变化)");
                    }
                    if c.duplicate_rows > 0 {
                        s.push_str(&format!(
                            " ({} rows already in the lake 已在湖中)",
                            c.duplicate_rows
                        ));
                    }
                    if c.conflicts > 0 {
                        let kept = match c.policy {
                            homeseason_lake::ConflictPolicy::KeepFirst => {
                                "the row already in the lake kept 保留湖中已有的行"
                            }
                            homeseason_lake::ConflictPolicy::KeepLast => {
                                "the received row stored 以收到的行替换"
                            }
                        };
                        s.push_str(&format!(
                            " ({} conflicts 冲突, {}, both rows in rejects 两行均记入拒收表: {})",
                            c.conflicts,
                            kept,
                            c.conflict_keys.join("; ")
                        ));
                    }
                    s
                });
                if rep.rejected > 0 || rep.duplicates > 0 || !state.is_empty() {
                    println!(
                        "{}: read {} = accepted {} + rejected {} + duplicates {}{state}",
                        rep.file, rep.read, rep.accepted, rep.rejected, rep.duplicates
                    );
                }
            }
            (None, Some(why)) => println!("{}: REFUSED 拒收 — {why}", r.path),
            _ => {}
        }
    }
    println!(
        "{} files 文件: read 读取 {read} = accepted 接收 {acc} + rejected 拒收 {rej} + duplicates 重复 {dup}",
        results.len()
    );
    print_rejects(results, show_rejects)
}

/// The first `limit` rejected rows: file, row, column and reason, in Chinese and in English.
/// Each file keeps its first `limit` rows ([`pipeline::KeepRejects::First`]), enough for these.
fn print_rejects(results: &[pipeline::FileResult], limit: usize) -> Result<()> {
    let total: usize = results.iter().map(|r| r.rejects.len()).sum();
    if total == 0 || limit == 0 {
        return Ok(());
    }
    let shown = total.min(limit);
    println!(
        "rejected rows 拒收行 ({shown} of {total} shown 显示 {shown} 行，共 {total} 行; all in --json and lake/rejects 全部见 --json 与 lake/rejects):"
    );
    let mut rows = Vec::new();
    for r in results {
        if rows.len() >= limit {
            break;
        }
        rows.extend(r.rejects.head(limit - rows.len())?);
    }
    for rejected in &rows {
        let row = &rejected.row;
        let column = row.column.as_deref().unwrap_or("-");
        println!(
            "  {} · 第 {} 行 line {} · 列 column {} · {}",
            rejected.file, row.line, row.line, column, row.reason
        );
        println!("    {}", row.message_zh);
        println!("    {}", row.message_en);
    }
    if total > shown {
        println!(
            "  … {} more 另有 {} 行 (--show-rejects N, --json)",
            total - shown,
            total - shown
        );
    }
    Ok(())
}

fn estimate(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    seed: u64,
) -> Result<homeseason_metrics::UpliftResult> {
    let pb = spinner("estimating uplift 估算提升");
    let opts = UpliftOptions {
        seed,
        ..UpliftOptions::from_campaign(campaign)
    };
    let result = pipeline::outputs::estimate(lake, campaign, methods, &opts)?;
    pb.finish_and_clear();
    Ok(result)
}

/// A `--region` value (a code or a name) as its code in the embedded list.
fn resolve_region(r: &str) -> Result<String> {
    homeseason_schema::region::Regions::embedded()
        .resolve(r)
        .map(|found| found.code.clone())
        .map_err(|e| anyhow::anyhow!("--region {r:?}: {e}"))
}

fn score(lake: &Lake, truth: &Path) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let uplift = lake.read_table(contract::tables::UPLIFT)?;
    let truth = evaluate::read_truth(truth, &["region_code", "category"])?;
    let scores = homeseason_metrics::score::score(&uplift, &truth)?;
    let placebo = homeseason_metrics::score::placebo_rate(&uplift)?;
    Ok(evaluate::join_on_method(scores.lazy(), placebo).collect()?)
}

fn run(cli: Cli) -> Result<()> {
    let (campaign, campaign_toml) = load_campaign(cli.campaign.as_deref())?;
    match cli.command {
        Command::Demo {
            out,
            season: SeasonArgs { seed, scale, areas },
        } => {
            let start = Instant::now();
            let sample = out.join("sample");
            let summary = synth(&campaign, &sample, seed, scale, areas)?;
            eprintln!(
                "sample season 样本数据: {} files, {} rows → {}",
                summary.files.len(),
                summary.total_rows,
                sample.display()
            );
            let lake = Lake::open(out.join("lake"))?;
            let profiles = Profiles::from_working_dir()?;
            let results = ingest(
                &lake,
                &campaign,
                std::slice::from_ref(&sample),
                None,
                &profiles,
                pipeline::KeepRejects::First(0),
            )?;
            print_ingest(&results, 0)?;
            let nbs = pipeline::ingest_nbs(&lake, &now())?;
            println!(
                "NBS 社零 national figures 国家统计局社零全国数据 2022–2024: {} rows → retail_stats (region 000000)",
                nbs.accepted
            );
            estimate(
                &lake,
                &campaign,
                &Method::ALL,
                homeseason_metrics::BOOTSTRAP_SEED,
            )?;
            let pb = spinner("charts and report 图表与报告");
            let (report, html) =
                pipeline::outputs::report(&lake, &campaign, &out.join("report"), &now(), None)?;
            pb.finish_and_clear();
            let h = &report.headline;
            println!("report 报告: {}", html.display());
            let notebook = export::export_notebook(
                &campaign,
                &out.join("lake"),
                &out.join("notebooks"),
                campaign.window.end,
            )?;
            println!(
                "workbook 报送表: {}  notebook 笔记本: {}",
                out.join("report/workbook.xlsx").display(),
                notebook.display()
            );
            println!(
                "增量销售额 incremental sales: {:.2} 亿元 ({}{:.0}% interval {:.2} … {:.2})",
                h.incremental_yuan / 1e8,
                if h.calibrated {
                    "回测校准 backtest-calibrated "
                } else {
                    ""
                },
                campaign.baseline.level * 100.0,
                h.incremental_interval.0 / 1e8,
                h.incremental_interval.1 / 1e8
            );
            println!(
                "提升 uplift: {:+.1}% ({:+.1}% … {:+.1}%), method {}",
                h.uplift_pct, h.uplift_interval.0, h.uplift_interval.1, h.method
            );
            println!(
                "显著提升地区 regions with uplift above zero: {} / {}",
                h.regions_up.0, h.regions_up.1
            );
            if let Ok(scores) = score(&lake, &summary.path(&summary.truth_path)) {
                println!("accuracy vs the sample's injected truth 与注入真值相比:\n{scores}");
            }
            eprintln!("done in {:.1} s", start.elapsed().as_secs_f64());
        }
        Command::Synth {
            out,
            season: SeasonArgs { seed, scale, areas },
        } => {
            let s = synth(&campaign, &out, seed, scale, areas)?;
            println!(
                "{} files, {} rows, {} bytes → {}",
                s.files.len(),
                s.total_rows,
                s.total_bytes,
                out.display()
            );
            println!("truth 真值: {}", s.truth_path.display());
        }
        Command::Ingest {
            lake,
            feed,
            json,
            show_rejects,
            strict,
            profile,
            profiles,
            suppress_below,
            engine,
            spark_master,
            spark_conf,
            replace,
            dry_run,
            on_conflict,
            paths,
        } => {
            let ranges = replace
                .iter()
                .map(|r| homeseason_lake::ReplaceRange::parse(r).map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()?;
            let profiles = Profiles::load(
                profile.as_deref(),
                profiles.as_deref().unwrap_or(Path::new("profiles")),
            )?;
            let feed = feed.map(|f| parse_feed(&f)).transpose()?;
            let lake = Lake::open(lake)?.with_conflict_policy(on_conflict);
            let stamp = now();
            for (spec, range) in replace.iter().zip(&ranges) {
                let done = lake.replace_range(range, dry_run, &stamp)?;
                let verb = if dry_run {
                    "would remove 将删除"
                } else {
                    "removed 已删除"
                };
                let mut lines: Vec<String> = done
                    .entry
                    .partitions
                    .iter()
                    .map(|(part, n)| format!("{verb} {n} rows 行 from {part}"))
                    .collect();
                lines.push(format!(
                    "--replace {spec}: {verb} {} rows 行 in {} partitions 分区, {} transaction ids 交易编号",
                    done.entry.rows,
                    done.entry.partitions.len(),
                    done.entry.txn_ids
                ));
                for line in lines {
                    // With --json, stdout holds only the JSON results.
                    if json {
                        eprintln!("{line}");
                    } else {
                        println!("{line}");
                    }
                }
            }
            if dry_run {
                return Ok(());
            }
            // With --json every rejected row is printed (streamed from each file's `rejects`
            // frame); on screen only the first `--show-rejects`.
            let keep = if json {
                pipeline::KeepRejects::All
            } else {
                pipeline::KeepRejects::First(show_rejects)
            };
            let results = match engine.as_str() {
                "rust" => ingest(&lake, &campaign, &paths, feed, &profiles, keep)?,
                "spark" => {
                    let master = spark_master
                        .or_else(|| std::env::var("HOMESEASON_SPARK_MASTER").ok())
                        .context("--engine spark needs --spark-master spark://HOST:PORT")?;
                    let files = pipeline::expand(&paths)?;
                    let args = spark_cmd::SparkArgs {
                        master: &master,
                        conf: &spark_conf,
                    };
                    let results = spark_cmd::ingest(
                        &lake, &files, feed, &campaign, &profiles, &stamp, &args, keep,
                    )?;
                    if results.iter().any(|r| {
                        r.report
                            .as_ref()
                            .is_some_and(|rep| rep.feed == Feed::Activities)
                    }) {
                        pipeline::outputs::write_activity_summary(&lake)?;
                    }
                    results
                }
                other => bail!("--engine {other:?}: expected rust or spark"),
            };
            if let Some(k) = suppress_below {
                let s = pipeline::write_dashboard(&lake, k, &campaign)?;
                eprintln!(
                    "dashboard copies: {} cells of fewer than {k} merchants suppressed, {} more so \
                     that none can be derived from a published margin and {} more in {} boxes of \
                     secondary suppression; {} daily figures blanked / 已抑制 {} 个少于 {k} 家商户的\
                     单元格，另补充抑制 {} 个、二次抑制 {} 个（{} 组）以防由汇总数倒推；{} 个日汇总数已隐去",
                    s.primary,
                    s.complementary,
                    s.secondary,
                    s.boxes,
                    s.blanked_margins.len(),
                    s.primary,
                    s.complementary,
                    s.secondary,
                    s.boxes,
                    s.blanked_margins.len()
                );
                if !s.unprotected.is_empty() {
                    eprintln!(
                        "warning: {} small cells have no box of secondary suppression (no other day \
                         in their week, or no other category in their region that day); a sum over \
                         days, regions or categories may give them away: {} / 警告：{} 个小单元格\
                         无法二次抑制，可能由汇总数倒推",
                        s.unprotected.len(),
                        s.unprotected.join("; "),
                        s.unprotected.len()
                    );
                }
            }
            if json {
                // Written as it is serialised: every file's rejected rows can be hundreds of MB.
                use std::io::Write as _;
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                serde_json::to_writer_pretty(&mut out, &results)?;
                writeln!(out)?;
                out.flush()?;
            } else {
                print_ingest(&results, show_rejects)?;
            }
            if results.iter().any(|r| r.refused.is_some()) {
                bail!("some files were refused whole (see above) 部分文件被整份拒收");
            }
            let rejected: usize = results.iter().map(|r| r.rejects.len()).sum();
            if strict && rejected > 0 {
                bail!(
                    "--strict: {rejected} rows were rejected (see above) 严格模式：{rejected} 行被拒收（见上）"
                );
            }
        }
        Command::Uplift {
            lake,
            methods: m,
            seed,
            timings,
            level,
            region,
            no_fit_cache,
        } => {
            let lake = existing_lake(lake)?;
            let opts = UpliftOptions {
                seed,
                fits: if no_fit_cache {
                    homeseason_metrics::FitMemo::default()
                } else {
                    homeseason_metrics::FitMemo::lake()
                },
                ..UpliftOptions::from_campaign(&campaign)
            };
            if level == pipeline::city::Level::City {
                let region = region.map(|r| resolve_region(&r)).transpose()?;
                let start = Instant::now();
                let est = pipeline::city::estimate_cities(
                    &lake,
                    &campaign,
                    &methods(&m)?,
                    &opts,
                    region.as_deref(),
                )?;
                if timings {
                    for (stage, secs) in &est.timings {
                        eprintln!("{secs:8.3} s  {stage}");
                    }
                    eprintln!("{:8.3} s  city level", start.elapsed().as_secs_f64());
                }
                if let Some(cache) = &est.fit_cache {
                    eprintln!("{}", pipeline::fit_cache::describe(cache));
                }
                let c = &est.coverage;
                println!(
                    "{} estimates for {} cities of {} → {}\n{:.2} % of net sales carry no city (left out of every city figure) 无城市代码的销售额占比\n{}",
                    est.result.uplift.height(),
                    c.cities,
                    c.scope_name_zh,
                    est.dir.join("uplift").display(),
                    c.share_without_city * 100.0,
                    c.total_row
                );
                return Ok(());
            }
            if region.is_some() {
                bail!("--region applies to --level city only 仅按地市估算时可指定 --region");
            }
            let pb = (!timings).then(|| spinner("estimating uplift 估算提升"));
            let (r, times, cache) =
                pipeline::outputs::estimate_reported(&lake, &campaign, &methods(&m)?, &opts)?;
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            if timings {
                for (stage, secs) in times {
                    eprintln!("{secs:8.3} s  {stage}");
                }
            }
            if let Some(cache) = &cache {
                eprintln!("{}", pipeline::fit_cache::describe(cache));
            }
            println!(
                "{} estimates → {}",
                r.uplift.height(),
                lake.root().join("uplift").display()
            );
        }
        Command::Report {
            lake,
            out,
            as_of,
            region,
            level,
        } => {
            let lake = existing_lake(lake)?;
            let region = region.map(|r| resolve_region(&r)).transpose()?;
            let as_of = match as_of {
                Some(d) => Some(d),
                None => pipeline::outputs::latest_complete_week(&lake, &campaign)?,
            };
            let (lake, campaign, now, region) = (&lake, &campaign, &now(), region.as_deref());
            let html = if level == pipeline::city::Level::City {
                pipeline::city::report_cities(lake, campaign, &out, now, as_of, region)?
            } else {
                let (_, html, cache) = pipeline::outputs::report_for_level(
                    lake, campaign, &out, now, as_of, region, None,
                )?;
                // As `uplift` says it: the week's fits taken from the lake's cache, and computed.
                if let Some(cache) = &cache {
                    eprintln!("{}", pipeline::fit_cache::describe(cache));
                }
                html
            };
            println!("report 报告: {}", html.display());
        }
        Command::Score { lake, truth, json } => {
            let lake = existing_lake(lake)?;
            let scores = score(&lake, &truth)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&frame_json(&scores)?)?);
            } else {
                println!("{scores}");
            }
        }
        Command::Evaluate {
            seeds,
            out,
            table,
            scenario: Some(name),
        } => {
            let scenarios = if name == "all" {
                homeseason_synth::Scenario::ALL.to_vec()
            } else {
                vec![homeseason_synth::Scenario::from_id(&name).with_context(|| {
                    format!(
                        "未知情景 {name} · unknown scenario {name}: one of {} or all",
                        homeseason_synth::Scenario::ALL
                            .iter()
                            .map(|s| s.id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?]
            };
            // Seeds given are used as given (1,2,3,4,5 included); without --seeds, seed 1.
            let seeds = seeds.unwrap_or_else(|| vec![1]);
            let pb = spinner("evaluating scenarios 情景评估");
            let md = evaluate::evaluate_scenarios(
                &campaign,
                &scenarios,
                &seeds,
                &out,
                table.as_deref(),
                &now(),
                &|m: &str| pb.set_message(m.to_owned()),
            )?;
            pb.finish_and_clear();
            print!("{md}");
        }
        Command::Evaluate {
            seeds,
            out,
            table,
            scenario: None,
        } => {
            let seeds = seeds.unwrap_or_else(|| vec![1, 2, 3, 4, 5]);
            let pb = spinner("evaluating 评估");
            let md = evaluate::evaluate(&campaign, &seeds, &out, table.as_deref(), &now())?;
            pb.finish_and_clear();
            print!("{md}");
        }
        Command::Check { lake, json } => {
            let lake = existing_lake(lake)?;
            let mut problems = lake.check_manifest()?;
            for t in contract::all().iter().map(|t| t.name.as_str()) {
                problems.extend(lake.check_table(t)?);
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "ok": problems.is_empty(), "problems": problems })
                    )?
                );
                if !problems.is_empty() {
                    bail!("{} contract problems", problems.len());
                }
            } else if problems.is_empty() {
                println!("every table matches its contract 所有表均符合数据契约");
            } else {
                for p in &problems {
                    println!("{p}");
                }
                bail!("{} contract problems", problems.len());
            }
        }
        Command::Campaign => print!("{campaign_toml}"),
        Command::Serve {
            data,
            addr,
            max_upload_mb,
            sync_wait,
            on_conflict,
        } => serve::serve(
            serve::ServeOptions {
                data,
                addr,
                max_upload_mb,
                sync_wait_secs: sync_wait,
                on_conflict,
            },
            campaign,
        )?,
        Command::Liaison { action } => match action {
            LiaisonCommand::Add {
                data,
                region,
                name,
                feeds,
                admin,
            } => serve::liaison_add(&data, &name, region, feeds, admin)?,
            LiaisonCommand::Revoke { data, id } => serve::liaison_revoke(&data, &id)?,
            LiaisonCommand::List { data, json } => serve::liaison_list(&data, json)?,
        },
        Command::Upload {
            server,
            token,
            feed,
            retries,
            json,
            on_conflict,
            files,
        } => {
            let token = token
                .or_else(|| std::env::var("HOMESEASON_TOKEN").ok())
                .context("give --token or set HOMESEASON_TOKEN")?;
            client::upload(
                &server,
                &token,
                feed.as_deref(),
                on_conflict,
                retries,
                json,
                &files,
            )?;
        }
        Command::Pull(opts) => client::pull_sources(&opts, &campaign)?,
        Command::Geolift(args) => print!("{}", geolift_cmd::run(&args)?),
        Command::Impact(args) => {
            let out = impact_cmd::run(&args)?;
            print!("{}", out.text);
            if let Some(path) = &args.json {
                std::fs::write(path, serde_json::to_vec_pretty(&out.json)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Command::Template { kind, format, out } => {
            let kind = match kind {
                TemplateKind::EnterpriseSales => template::Kind::EnterpriseSales,
                TemplateKind::Activities => template::Kind::Activities,
                TemplateKind::Subsidies => template::Kind::Subsidies,
            };
            let format = match format {
                TemplateFileFormat::Xlsx => TemplateFormat::Xlsx,
                TemplateFileFormat::Csv => TemplateFormat::Csv,
            };
            let path =
                out.unwrap_or_else(|| PathBuf::from(template::default_file_name(kind, format)));
            std::fs::write(&path, template::bytes(kind, format, &campaign)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("template 模板: {}", path.display());
        }
        Command::Export {
            what: ExportCommand::Notebook { lake, out, as_of },
        } => {
            let path = export::export_notebook(&campaign, &lake, &out, as_of)?;
            println!("notebook 笔记本: {}", path.display());
        }
        Command::Export {
            what: ExportCommand::Duckdb { lake, out },
        } => {
            let sql = export::duckdb_views(&existing_lake(lake)?)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, sql)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("DuckDB views 视图: {}", path.display());
                }
                None => print!("{sql}"),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error 错误: {e:#}");
            ExitCode::FAILURE
        }
    }
}
