//! The payment roll-up on an Apache Spark cluster.
//!
//! homeseason's streaming ingest (`homeseason_ingest::stream`) is exact and fast on one machine; a
//! national season (billions of transactions) belongs on the provincial big-data platforms, which run
//! Spark. This crate runs the same roll-up there, unchanged in meaning:
//!
//! 1. [`prepare`] reads the first bytes of each transaction file (gzip, BOM, UTF-8 or GB18030) and
//!    resolves its header against the institution profile and the `payment_transactions` contract —
//!    the same functions the Rust engine uses — refusing a file the Rust engine would refuse. A
//!    cluster URI (`hdfs://`, `s3a://`, `file://` …) is never opened here: an inspect spark-submit of
//!    the driver stages its first bytes, size and JVM-computed SHA-256, and [`prepare_head`] reads
//!    those bytes as [`prepare`] reads a local file's.
//! 2. [`sql`] generates the Spark SQL: per file, the CSV parse and the validation predicates in the
//!    contract's reject order (missing value, bad date, bad pattern, bad number, below minimum, bad enum,
//!    unknown region, bad period), the amount in integer fen, the Beijing calendar day, refunds and
//!    reversals netted; then the exact dedupe by institution + `txn_id` (a shuffle, first line wins)
//!    and, in the same pass, the roll-ups to `payment_daily`'s grain and to `payment_area_daily`'s
//!    (each row's area from a broadcast lookup built from `homeseason_ingest::Areas`, the one
//!    classification both engines use).
//! 3. [`run_rollup`] writes the job, runs `spark-submit` of the bundled driver
//!    (`driver/rollup.py`, which holds no rules of its own) and reads the staged Parquet back,
//!    checking it for consistency ([`StagedRollup`]).
//!    Before the job, [`run_rollup`] stages the lake's index of each institution in the run (its
//!    txn ids, merchant pairs and area merchant pairs, as Parquet) and notes the index state it read
//!    ([`StagedRollup::seen`]); Spark dedupes the run's files against each other and against those,
//!    so it stages per file only the *increment*: cells of new transactions (daily and area), new
//!    ids, new pairs of both kinds.
//! 4. [`StagedFile::outcome`] turns a file's increment into the [`TxnOutcome`] the Rust engine
//!    returns (same counts, cells, rejects) and spills its ids and pairs into the lake's index
//!    format, so the caller commits it through the same lake write; a commit refused as stale (the
//!    index changed since `seen`) is the caller's to redo with the Rust engine.

#![deny(missing_docs)]

pub mod sql;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use homeseason_ingest::Encoding;
use homeseason_ingest::{Feed, FileReport, IngestError};
use homeseason_ingest::{Format, Profile, TimeFormat};
use homeseason_ingest::{MonthKey, TxnContext, TxnMonth, TxnOutcome, year_month};
use homeseason_ingest::{Reason, RejectSink};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use homeseason_schema::region::Regions;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::sql::{Decode, F_INST, FIELDS, FileLayout};

/// The bundled driver, written next to the job at run time.
pub const DRIVER_PY: &str = include_str!("../driver/rollup.py");

/// How much of a file [`prepare`] reads to find its header, encoding and institution (as the Rust
/// engine's first chunk).
const HEAD_BYTES: usize = 4 << 20;

/// Errors of the Spark engine (a refused file is not an error: see [`StagedFile::refused`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SparkError {
    /// Something the Spark engine does not translate (a profile setting, a file format).
    #[error("not supported by the Spark engine: {0}")]
    Unsupported(String),
    /// `spark-submit` could not be started or failed.
    #[error("spark-submit failed: {0}")]
    Submit(String),
    /// The staged output is missing, unreadable, or disagrees with itself or the contract.
    #[error("staged output: {0}")]
    Staged(String),
    /// Local IO.
    #[error(transparent)]
    Io(#[from] homeseason_lake::IoError),
    /// The lake's txn-id index could not be read or written.
    #[error("txn index: {0}")]
    Lake(String),
    /// A cluster URI is refused (its name, its scheme) or could not be opened by the cluster's
    /// file system; the message is in English and Chinese.
    #[error("{0}")]
    Uri(String),
}

/// Write `job` to `dir` as `name`, beside the PySpark driver; the paths of the job and the driver.
fn stage_job(
    dir: &Path,
    name: &str,
    job: &serde_json::Value,
) -> Result<(PathBuf, PathBuf), SparkError> {
    let job_path = dir.join(name);
    let text = serde_json::to_vec_pretty(job).unwrap_or_default();
    std::fs::write(&job_path, text).map_err(io_err("write", &job_path))?;
    let driver = dir.join("rollup.py");
    std::fs::write(&driver, DRIVER_PY).map_err(io_err("write", &driver))?;
    Ok((job_path, driver))
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SparkError + 'a {
    homeseason_lake::IoError::on(action, path)
}

fn staged(e: impl std::fmt::Display) -> SparkError {
    SparkError::Staged(e.to_string())
}

/// Where and how to run Spark.
#[derive(Debug, Clone)]
pub struct SparkOptions {
    /// Master URL: `spark://HOST:PORT`, `yarn`, `local[N]`, ….
    pub master: String,
    /// Spark installation (`bin/spark-submit`); the `pyspark` package folder works.
    pub spark_home: PathBuf,
    /// Python for the driver (must import `pyspark`); `PYSPARK_PYTHON` otherwise.
    pub python: Option<PathBuf>,
    /// Extra `--conf key=value` settings (e.g. `spark.executor.memory=1g`).
    pub conf: Vec<(String, String)>,
}

impl SparkOptions {
    /// Options for `master`, with Spark and Python from the environment (`SPARK_HOME`,
    /// `HOMESEASON_SPARK_PYTHON`), as `tests/spark/cluster.sh env` prints them.
    ///
    /// # Errors
    /// [`SparkError::Submit`] when `SPARK_HOME` is not set.
    pub fn for_master(master: &str) -> Result<SparkOptions, SparkError> {
        let spark_home = std::env::var_os("SPARK_HOME").map(PathBuf::from).ok_or_else(|| {
            SparkError::Submit(
                "SPARK_HOME is not set (eval \"$(tests/spark/cluster.sh env)\", or point it at a Spark installation)"
                    .into(),
            )
        })?;
        let python = std::env::var_os("HOMESEASON_SPARK_PYTHON").map(PathBuf::from);
        let mut conf = Vec::new();
        if master.contains("127.0.0.1") || master.contains("localhost") {
            conf.push(("spark.driver.host".to_owned(), "127.0.0.1".to_owned()));
        }
        Ok(SparkOptions {
            master: master.to_owned(),
            spark_home,
            python,
            conf,
        })
    }

    /// Options from the environment: `HOMESEASON_SPARK_MASTER` plus [`SparkOptions::for_master`].
    /// `None` when no master is configured.
    #[must_use]
    pub fn from_env() -> Option<SparkOptions> {
        let master = std::env::var("HOMESEASON_SPARK_MASTER").ok()?;
        SparkOptions::for_master(&master).ok()
    }

    /// Add a `--conf` setting.
    #[must_use]
    pub fn with_conf(mut self, key: &str, value: &str) -> SparkOptions {
        self.conf.retain(|(k, _)| k != key);
        self.conf.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// One transaction file to roll up, with the profile it is read under.
#[derive(Debug, Clone)]
pub struct Input {
    /// A local path (Spark reads it as `file://` on every worker), or a cluster URI
    /// (`hdfs://…`, `s3a://…`, `file://…`: [`homeseason_ingest::is_uri`]) that only the cluster
    /// opens: homeseason never reads it as a local path, and takes its name as a label only.
    pub path: PathBuf,
    /// The institution profile ([`Profile::default`] is the contract itself).
    pub profile: Profile,
    /// Files of one ledger are one ingest run: deduplicated against each other (by institution +
    /// `txn_id`, first file then line wins). `homeseason ingest` puts every file in ledger 0; a test
    /// of independent cases gives each its own.
    pub ledger: usize,
}

/// A file's header, encoding and institution, read from its first bytes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// File name (no folders).
    pub name: String,
    /// Encoding as the report states it.
    pub encoding: Encoding,
    /// How Spark decodes its lines.
    pub decode: Decode,
    /// Header cells.
    pub header: Vec<String>,
    /// Column of each of [`FIELDS`].
    pub columns: [Option<usize>; 9],
    /// Header text of each field (the field name when the column is absent).
    pub headers: [String; 9],
    /// Headers that matched no field.
    pub ignored: Vec<String>,
    /// The institution every row must carry.
    pub institution: String,
    /// The amounts' unit: the amount header's (`交易金额（分）`), else the profile's
    /// ([`homeseason_ingest::TxnColumns::unit`]).
    pub unit: homeseason_ingest::AmountUnit,
}

/// Read a file's first bytes as the Rust engine's first chunk: gzip, BOM, encoding (UTF-8 when its
/// non-ASCII text is valid UTF-8, else GB18030; all-ASCII decides line by line), header and columns
/// (profile first, then the contract's names and aliases), and the institution (the profile's, else
/// the first row's).
///
/// # Errors
/// The [`IngestError`] the Rust engine refuses the file with: empty, damaged gzip, undecodable,
/// not CSV, required columns missing.
pub fn prepare(path: &Path, profile: &Profile) -> Result<Prepared, IngestError> {
    let name = file_name(path);
    let csv_err = |reason: String| IngestError::Csv {
        file: name.clone(),
        reason,
    };
    let mut f = std::fs::File::open(path).map_err(|e| csv_err(e.to_string()))?;
    let mut magic = [0u8; 2];
    let n = homeseason_ingest::read_full(&mut f, &mut magic).map_err(|e| csv_err(e.to_string()))?;
    let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(f);
    let mut head = vec![0u8; HEAD_BYTES];
    let got = if n == 2 && magic == [0x1f, 0x8b] {
        let mut dec = flate2::read::MultiGzDecoder::new(chained);
        homeseason_ingest::read_full(&mut dec, &mut head).map_err(|e| IngestError::Gzip {
            file: name.clone(),
            reason: e.to_string(),
        })?
    } else {
        let mut plain = chained;
        homeseason_ingest::read_full(&mut plain, &mut head).map_err(|e| csv_err(e.to_string()))?
    };
    let full = got == HEAD_BYTES;
    head.truncate(got);
    prepare_text(name, head, full, profile)
}

/// [`prepare`] of a file known only by its first bytes: a cluster URI's head as the Spark engine's
/// inspect job staged it (its first [`HEAD_BYTES`] bytes, compressed as stored). `name` is the
/// file's name (a label, [`homeseason_ingest::uri_file_name`]); `truncated`: the file goes on after
/// `head`. A gzip head is inflated here, up to [`HEAD_BYTES`]; a gzip stream cut by the end of a
/// truncated head is not damage, a whole file's is.
///
/// # Errors
/// As [`prepare`].
pub fn prepare_head(
    name: &str,
    head: &[u8],
    truncated: bool,
    profile: &Profile,
) -> Result<Prepared, IngestError> {
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut dec = flate2::read::MultiGzDecoder::new(head);
        let mut out = vec![0u8; HEAD_BYTES];
        let mut got = 0;
        let mut cut = false;
        while got < HEAD_BYTES {
            match dec.read(&mut out[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) if truncated => {
                    cut = true;
                    break;
                }
                Err(e) => {
                    return Err(IngestError::Gzip {
                        file: name.to_owned(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        out.truncate(got);
        // An inflated head cut short (by HEAD_BYTES, or by the staged bytes' end) may end mid-line.
        let full = got == HEAD_BYTES || cut || (truncated && got > 0);
        prepare_text(name.to_owned(), out, full, profile)
    } else {
        let full = truncated || head.len() >= HEAD_BYTES;
        let take = head.len().min(HEAD_BYTES);
        prepare_text(name.to_owned(), head[..take].to_vec(), full, profile)
    }
}

/// The decoded head's header, encoding and institution (`full`: the head may end mid-line).
fn prepare_text(
    name: String,
    mut head: Vec<u8>,
    full: bool,
    profile: &Profile,
) -> Result<Prepared, IngestError> {
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    if bom {
        head.drain(..3);
    }
    if full {
        let cut = memrchr_nl(&head).map_or(head.len(), |i| i + 1);
        head.truncate(cut);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { file: name });
    }
    let (text, decode) = if head.is_ascii() {
        (String::from_utf8_lossy(&head).into_owned(), Decode::Auto)
    } else if let Ok(t) = std::str::from_utf8(&head) {
        (t.to_owned(), Decode::Utf8)
    } else if bom {
        return Err(IngestError::Encoding {
            file: name,
            reason: "UTF-8 BOM but invalid UTF-8".into(),
        });
    } else {
        let t = encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(&head)
            .ok_or_else(|| IngestError::Encoding {
                file: name.clone(),
                reason: "neither UTF-8 nor GB18030/GBK".into(),
            })?;
        (t.into_owned(), Decode::Gb18030)
    };
    let header = homeseason_ingest::csv_header(&name, text.as_bytes(), profile.delimiter)?;
    let homeseason_ingest::TxnColumns {
        columns,
        headers,
        ignored,
        unit,
    } = homeseason_ingest::map_txn_header(&name, profile, header.clone())?;
    let institution =
        homeseason_ingest::file_institution(text.as_bytes(), true, profile, columns[F_INST]);
    Ok(Prepared {
        name,
        encoding: Encoding::of_stream(bom, decode == Decode::Gb18030),
        decode,
        header,
        columns,
        headers,
        ignored,
        institution,
        unit,
    })
}

fn memrchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_owned()
}

fn sha256_file(path: &Path) -> Result<String, SparkError> {
    let mut f = std::fs::File::open(path).map_err(io_err("open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// One rejected row as Spark staged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedReject {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// Index into [`FIELDS`].
    pub field: usize,
    /// Reason code.
    pub reason: Reason,
    /// The cell's value.
    pub value: String,
    /// The line's text.
    pub raw: String,
    /// For a `conflict` within the file: the first occurrence's line and the columns whose values
    /// differ (`line|field,field`).
    pub detail: Option<String>,
}

/// One `payment_daily` cell of a file as Spark staged it (money in fen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedDaily {
    /// Beijing day, days since 1970-01-01.
    pub day: i32,
    /// Reporting region code.
    pub region: String,
    /// MCC.
    pub mcc: u16,
    /// `online` or `offline`.
    pub channel: String,
    /// Rows of every kind.
    pub rows: i64,
    /// Sales.
    pub txn_count: i64,
    /// Gross sales, fen.
    pub sale_fen: i64,
    /// Refunds and reversals, fen.
    pub refund_fen: i64,
    /// Distinct merchants with a sale.
    pub merchants: i64,
}

/// One `payment_area_daily` cell of a file as Spark staged it: the area's code and the cell's
/// day, reporting region, MCC, channel and figures (its merchants: distinct per area cell). The
/// area's city and urban/rural class are [`homeseason_ingest::Areas`]', read when the cell is
/// framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedArea {
    /// The area's code ([`homeseason_ingest::Area::code`]).
    pub area: String,
    /// Day, reporting region, MCC, channel and figures.
    pub cell: StagedDaily,
}

/// One month of a file as Spark staged it.
#[derive(Debug, Clone, Default)]
pub struct StagedMonth {
    /// Rows new to the lake (and to the run's earlier files): the increment.
    pub rows: usize,
    /// Rows whose `txn_id` the lake or an earlier file of the run holds.
    pub across: usize,
    /// Rows repeating an earlier row of the same file (dated in this month).
    pub duplicates: usize,
    /// Rows rejected as a `conflict` with the lake or an earlier file of the run (the Rust engine's
    /// month is created by them as by `across`).
    pub conflicts_across: usize,
    /// The month's increment cells of `payment_daily`.
    pub daily: Vec<StagedDaily>,
    /// The month's increment cells of `payment_area_daily` (the same rows by area).
    pub area: Vec<StagedArea>,
    /// Parquet files holding the month's new ids `(line, fp, fp2, day)`.
    pub id_files: Vec<PathBuf>,
    /// Parquet files holding the month's new merchant pairs `(pair, day)`.
    pub pair_files: Vec<PathBuf>,
    /// Parquet files holding the month's new area merchant pairs `(pair, day)`
    /// ([`homeseason_ingest::area_merchant_pair`]).
    pub area_pair_files: Vec<PathBuf>,
}

/// One input file after the Spark job.
#[derive(Debug)]
pub struct StagedFile {
    /// Path or URI as given.
    pub path: PathBuf,
    /// The cluster URI the file was read from ([`Input::path`] when it is one), `None` for a
    /// local path.
    pub uri: Option<String>,
    /// File name (for a URI, its last segment: a label).
    pub name: String,
    /// SHA-256 of the file (for a URI, computed in the cluster's JVM over the bytes as stored).
    pub sha256: String,
    /// The profile it was read under.
    pub profile: Profile,
    /// Header, encoding and institution ([`None`] when refused before Spark ran).
    pub prepared: Option<Prepared>,
    /// Why the whole file is refused (as the Rust engine refuses it), if it is.
    pub refused: Option<IngestError>,
    /// Data rows read.
    pub read: usize,
    /// Rejected rows, by line.
    pub rejects: Vec<StagedReject>,
    /// Months the file has accepted rows in.
    pub months: BTreeMap<MonthKey, StagedMonth>,
    /// Whether Spark decoded any line as GB18030.
    pub gb18030: bool,
    /// Refused only after the job used its rows (a mixed encoding): the run's later files of its
    /// institution were deduplicated against rows that never reach the lake.
    pub refused_late: bool,
}

/// The Spark job's result: every input file, staged and checked.
#[derive(Debug)]
pub struct StagedRollup {
    /// The files, in input order.
    pub files: Vec<StagedFile>,
    /// The staging folder (kept; the caller removes it).
    pub staging: PathBuf,
    /// The driver's summary (Spark version, timings).
    pub summary: serde_json::Value,
    /// Wall time of `spark-submit`, seconds.
    pub submit_seconds: f64,
    /// Per institution, the state of its txn index ([`homeseason_lake::Lake::txn_index_state`])
    /// taken before its known ids were staged: the state the first file's increment holds against.
    pub seen: BTreeMap<String, Vec<(PathBuf, u64)>>,
    /// Known ids, merchant pairs and area merchant pairs staged per institution (for the report).
    pub known: BTreeMap<String, (usize, usize, usize)>,
}

/// Roll `inputs` up on Spark: prepare each file, stage the `lake`'s index of each institution (none
/// without a lake), generate the SQL, `spark-submit` the bundled driver with the output staged under
/// `staging_dir`, then read the staged Parquet back and check it.
///
/// # Errors
/// [`SparkError`] when Spark cannot run or its output is inconsistent; a file Spark or the Rust
/// engine would refuse is returned with [`StagedFile::refused`] set instead.
pub fn run_rollup(
    opts: &SparkOptions,
    campaign: &Campaign,
    inputs: &[Input],
    staging_dir: &Path,
    lake: Option<&homeseason_lake::Lake>,
) -> Result<StagedRollup, SparkError> {
    std::fs::create_dir_all(staging_dir).map_err(io_err("create", staging_dir))?;
    let years = homeseason_ingest::campaign_years(campaign);
    let mut files = Vec::new();
    let mut groups: Vec<(FileLayout, Profile, Vec<usize>)> = Vec::new();
    let mut job_files = Vec::new();
    // Cluster URIs: named by their last segment, opened only by the cluster (the inspect job stages
    // each one's head, size and SHA-256 before the roll-up).
    let uris: Vec<Option<String>> = inputs
        .iter()
        .map(|input| input_uri(&input.path))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = inputs
        .iter()
        .zip(&uris)
        .map(|(input, uri)| match uri {
            Some(u) => {
                homeseason_ingest::uri_file_name(u).map_err(|e| SparkError::Uri(e.to_string()))
            }
            None => Ok(file_name(&input.path)),
        })
        .collect::<Result<_, _>>()?;
    for (input, name) in inputs.iter().zip(&names) {
        if input.profile.format.of_name(name) != Format::Csv {
            return Err(SparkError::Unsupported(format!(
                "{name}: the Spark engine reads CSV (optionally gzip-compressed); use --engine rust for JSON Lines and Parquet"
            )));
        }
    }
    let listed: Vec<(usize, &str)> = uris
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.as_deref().map(|u| (i, u)))
        .collect();
    let mut inspected: BTreeMap<usize, Inspected> = if listed.is_empty() {
        BTreeMap::new()
    } else {
        inspect(opts, &listed, staging_dir)?
    };
    for (fid, input) in inputs.iter().enumerate() {
        let name = names[fid].clone();
        if let TimeFormat::Rfc3339 = input.profile.time_format {
            return Err(SparkError::Unsupported(format!(
                "{name}: time_format rfc3339 (use --engine rust)"
            )));
        }
        // What Spark reads (the URI as given, or the local file as `file://`), the hash when known,
        // and the header from the inspected head or the local file.
        let (read_as, sha256, read) = match &uris[fid] {
            Some(uri) => {
                let seen = inspected
                    .remove(&fid)
                    .ok_or_else(|| staged(format!("{uri}: not inspected")))?;
                let read = prepare_head(&name, &seen.head, seen.truncated, &input.profile);
                (uri.clone(), seen.sha256, read)
            }
            None => {
                let abs =
                    std::fs::canonicalize(&input.path).map_err(io_err("open", &input.path))?;
                let read = prepare(&abs, &input.profile);
                (format!("file://{}", abs.display()), String::new(), read)
            }
        };
        let (prepared, refused) = match read {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        };
        // The file is read in its amounts' unit (the amount header's, else the profile's), as the
        // Rust engine reads it: the SQL's fen conversion and the report's `source_unit` follow it.
        let profile = Profile {
            amount_unit: prepared
                .as_ref()
                .map_or(input.profile.amount_unit, |p| p.unit),
            ..input.profile.clone()
        };
        if let Some(p) = &prepared {
            let layout = FileLayout {
                ncols: p.header.len().max(1),
                columns: p.columns,
                institution: p.institution.clone(),
                decode: p.decode,
            };
            match groups
                .iter_mut()
                .find(|(l, pr, _): &&mut (FileLayout, Profile, Vec<usize>)| {
                    *l == layout && *pr == profile
                }) {
                Some((_, _, fids)) => fids.push(fid),
                None => groups.push((layout, profile.clone(), vec![fid])),
            }
            job_files.push(serde_json::json!({
                "fid": fid,
                "path": read_as,
            }));
        }
        files.push(StagedFile {
            path: input.path.clone(),
            uri: uris[fid].clone(),
            name,
            sha256,
            profile,
            prepared,
            refused,
            read: 0,
            rejects: Vec::new(),
            months: BTreeMap::new(),
            gb18030: false,
            refused_late: false,
        });
    }
    let group_sql = groups
        .iter()
        .map(|(layout, profile, fids)| sql::group_sql(fids, layout, profile))
        .collect::<Result<Vec<_>, _>>()?;
    let meta: Vec<(usize, String, usize)> = files
        .iter()
        .enumerate()
        .filter_map(|(fid, f)| {
            f.prepared
                .as_ref()
                .map(|p| (fid, p.institution.clone(), inputs[fid].ledger))
        })
        .collect();
    let (views, outputs) = sql::job_sql(&group_sql, years, &meta);
    let (seen, known) = stage_known(lake, &meta, years, staging_dir)?;
    let job = serde_json::json!({
        "app_name": "homeseason-rollup",
        "staging": staging_dir.display().to_string(),
        "files": job_files,
        "tables": [
            {"name": "known_ids", "path": staging_dir.join("known_ids").display().to_string(),
             "ddl": "inst STRING, fp BIGINT, fp2 BIGINT, vfp BIGINT"},
            {"name": "known_pairs", "path": staging_dir.join("known_pairs").display().to_string(),
             "ddl": "inst STRING, pair BIGINT"},
            {"name": "known_area_pairs", "path": staging_dir.join("known_area_pairs").display().to_string(),
             "ddl": "inst STRING, pair BIGINT"},
        ],
        "views": views.iter().map(|(n, s, p)| serde_json::json!({"name": n, "sql": s, "persist": p})).collect::<Vec<_>>(),
        "outputs": outputs,
    });
    let (job_path, driver) = stage_job(staging_dir, "job.json", &job)?;

    // The local files' hashes are computed here while Spark works (a URI's came from the
    // inspect job).
    let started = std::time::Instant::now();
    let (status, hashes) = std::thread::scope(|s| {
        let hasher = s.spawn(|| {
            files
                .iter()
                .map(|f| match f.uri {
                    Some(_) => Ok(f.sha256.clone()),
                    None => sha256_file(&f.path),
                })
                .collect::<Result<Vec<_>, _>>()
        });
        let status = if job_files.is_empty() {
            Ok(None)
        } else {
            submit(opts, &opts.master, &driver, &[&job_path], staging_dir).map(Some)
        };
        (status, hasher.join())
    });
    let submit_seconds = started.elapsed().as_secs_f64();
    status?;
    let hashes = hashes.map_err(|_| SparkError::Submit("hashing thread failed".into()))??;
    for (f, h) in files.iter_mut().zip(hashes) {
        f.sha256 = h;
    }
    let summary: serde_json::Value = if job_files.is_empty() {
        serde_json::json!({})
    } else {
        let p = staging_dir.join("summary.json");
        let text = std::fs::read_to_string(&p).map_err(io_err("read", &p))?;
        serde_json::from_str(&text).map_err(staged)?
    };
    read_staged(&mut files, staging_dir, &summary)?;
    Ok(StagedRollup {
        files,
        staging: staging_dir.to_owned(),
        summary,
        submit_seconds,
        seen,
        known,
    })
}

type Seen = BTreeMap<String, Vec<(PathBuf, u64)>>;
/// Per institution: the known ids, merchant pairs and area merchant pairs staged for Spark.
type KnownCounts = BTreeMap<String, (usize, usize, usize)>;

/// Stage the lake's txn ids, merchant pairs and area merchant pairs of every institution in the
/// run as Parquet (`known_ids/`, `known_pairs/`, `known_area_pairs/`), each institution's index
/// state taken first. Area pairs are read per month of the campaign's data `years` (a row of
/// another year is rejected, so its pairs cannot match).
fn stage_known(
    lake: Option<&homeseason_lake::Lake>,
    meta: &[(usize, String, usize)],
    years: (i32, i32),
    staging: &Path,
) -> Result<(Seen, KnownCounts), SparkError> {
    let mut seen = BTreeMap::new();
    let mut known = BTreeMap::new();
    let Some(lake) = lake else {
        return Ok((seen, known));
    };
    let lake_err = |e: homeseason_lake::LakeError| SparkError::Lake(e.to_string());
    for dir in ["known_ids", "known_pairs", "known_area_pairs"] {
        let d = staging.join(dir);
        std::fs::create_dir_all(&d).map_err(io_err("create", &d))?;
    }
    let mut institutions: Vec<&str> = meta.iter().map(|(_, i, _)| i.as_str()).collect();
    institutions.sort_unstable();
    institutions.dedup();
    for (k, inst) in institutions.into_iter().enumerate() {
        if !homeseason_ingest::is_institution_code(inst) {
            continue;
        }
        let manifest = lake.manifest().map_err(lake_err)?;
        // The state first: a writer committing after it makes this run's commits stale.
        let state = lake.txn_index_state(&manifest, inst).map_err(lake_err)?;
        // Spilled to bucket files past the in-memory bound, and staged a bucket at a time.
        let ids = lake
            .institution_known_ids(&manifest, inst, homeseason_ingest::known_in_memory())
            .map_err(lake_err)?;
        let pairs = lake
            .institution_txn_pairs(&manifest, inst)
            .map_err(lake_err)?;
        let mut area_pairs = Vec::new();
        for year in years.0..=years.1 {
            for month in 1..=12 {
                if let Some(h) = lake
                    .month_holder(&manifest, inst, year, month)
                    .map_err(lake_err)?
                {
                    area_pairs.extend(h.area_fps);
                }
            }
        }
        let mut part = 0usize;
        let n_ids = ids
            .for_each_chunk(|chunk| {
                let (fp, fp2): (Vec<i64>, Vec<i64>) = chunk
                    .iter()
                    .map(|(id, _)| ((id >> 64) as u64 as i64, *id as u64 as i64))
                    .unzip();
                // The values' fingerprint, 0 when the index does not know it (format 2).
                let vfp: Vec<i64> = chunk.iter().map(|(_, v)| *v as i64).collect();
                let n = fp.len();
                let mut df = DataFrame::new(
                    n,
                    vec![
                        Column::new_scalar("inst".into(), Scalar::from(PlSmallStr::from(inst)), n),
                        Column::new("fp".into(), fp),
                        Column::new("fp2".into(), fp2),
                        Column::new("vfp".into(), vfp),
                    ],
                )
                .map_err(std::io::Error::other)?;
                let path = staging
                    .join("known_ids")
                    .join(format!("part-{k}-{part}.parquet"));
                part += 1;
                write_parquet(&path, &mut df).map_err(|e| std::io::Error::other(e.to_string()))
            })
            .map_err(|e| SparkError::Lake(e.to_string()))?;
        drop(ids);
        known.insert(inst.to_owned(), (n_ids, pairs.len(), area_pairs.len()));
        seen.insert(inst.to_owned(), state);
        for (dir, pairs) in [("known_pairs", pairs), ("known_area_pairs", area_pairs)] {
            if pairs.is_empty() {
                continue;
            }
            let mut pairs: Vec<i64> = pairs.iter().map(|p| *p as i64).collect();
            pairs.sort_unstable();
            pairs.dedup();
            let n = pairs.len();
            let mut df = DataFrame::new(
                n,
                vec![
                    Column::new_scalar("inst".into(), Scalar::from(PlSmallStr::from(inst)), n),
                    Column::new("pair".into(), pairs),
                ],
            )
            .map_err(staged)?;
            write_parquet(
                &staging.join(dir).join(format!("part-{k}.parquet")),
                &mut df,
            )?;
        }
    }
    Ok((seen, known))
}

fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(), SparkError> {
    let f = std::fs::File::create(path).map_err(io_err("create", path))?;
    ParquetWriter::new(f).finish(df).map_err(staged)?;
    Ok(())
}

/// A cluster URI's head, size and SHA-256, as the inspect job staged them.
struct Inspected {
    head: Vec<u8>,
    truncated: bool,
    sha256: String,
}

/// The URI an input names ([`homeseason_ingest::is_uri`]), `None` for a local path.
fn input_uri(path: &Path) -> Result<Option<String>, SparkError> {
    let Some(text) = path.to_str() else {
        return Ok(None);
    };
    match homeseason_ingest::is_uri(text) {
        Ok(true) => Ok(Some(text.to_owned())),
        Ok(false) => Ok(None),
        Err(e) => Err(SparkError::Uri(e.to_string())),
    }
}

/// Open each cluster URI through Hadoop's `FileSystem` in a `spark-submit` of the bundled driver
/// in its inspect mode (`--inspect`, on `local[1]`: only the driver's JVM reads, with the
/// cluster's Hadoop configuration and `--conf spark.hadoop.*` settings), which stages per URI its
/// first [`HEAD_BYTES`] bytes, its size and its SHA-256 (computed in the JVM over the stream).
fn inspect(
    opts: &SparkOptions,
    uris: &[(usize, &str)],
    staging: &Path,
) -> Result<BTreeMap<usize, Inspected>, SparkError> {
    let dir = staging.join("inspect");
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    let job = serde_json::json!({
        "app_name": "homeseason-inspect",
        "staging": dir.display().to_string(),
        "head_bytes": HEAD_BYTES,
        "uris": uris.iter().map(|(k, u)| serde_json::json!({"k": k, "uri": u})).collect::<Vec<_>>(),
    });
    let (job_path, driver) = stage_job(&dir, "inspect.json", &job)?;
    let flag = Path::new("--inspect");
    submit(opts, "local[1]", &driver, &[flag, &job_path], &dir)?;
    let out_path = dir.join("inspected.json");
    let text = std::fs::read_to_string(&out_path).map_err(io_err("read", &out_path))?;
    let found: serde_json::Value = serde_json::from_str(&text).map_err(staged)?;
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    for (k, uri) in uris {
        let entry = &found[k.to_string()];
        if let Some(err) = entry.get("error").and_then(serde_json::Value::as_str) {
            failed.push(format!("{uri}: {err}"));
            continue;
        }
        let size = entry.get("size").and_then(serde_json::Value::as_u64);
        let sha = entry
            .get("sha256")
            .and_then(serde_json::Value::as_str)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let (Some(size), Some(sha)) = (size, sha) else {
            return Err(staged(format!(
                "{uri}: the inspect job staged no size or hash"
            )));
        };
        let head_path = dir.join(format!("{k}.head"));
        let head = std::fs::read(&head_path).map_err(io_err("read", &head_path))?;
        let expected = usize::try_from(size).map_or(HEAD_BYTES, |s| s.min(HEAD_BYTES));
        if head.len() != expected {
            return Err(staged(format!(
                "{uri}: the inspect job staged {} head bytes of a {size}-byte file",
                head.len()
            )));
        }
        out.insert(
            *k,
            Inspected {
                truncated: (head.len() as u64) < size,
                head,
                sha256: sha.to_ascii_lowercase(),
            },
        );
    }
    if !failed.is_empty() {
        return Err(SparkError::Uri(format!(
            "the cluster could not read / 集群无法读取: {}",
            failed.join("; ")
        )));
    }
    Ok(out)
}

fn submit(
    opts: &SparkOptions,
    master: &str,
    driver: &Path,
    args: &[&Path],
    staging: &Path,
) -> Result<(), SparkError> {
    let bin = opts.spark_home.join("bin").join("spark-submit");
    let mut cmd = Command::new(&bin);
    cmd.arg("--master").arg(master);
    let mut conf: Vec<(String, String)> = vec![
        ("spark.sql.ansi.enabled".into(), "false".into()),
        ("spark.sql.legacy.javaCharsets".into(), "true".into()),
        ("spark.sql.legacy.codingErrorAction".into(), "true".into()),
        ("spark.ui.enabled".into(), "false".into()),
        ("spark.sql.session.timeZone".into(), "UTC".into()),
        // Smaller input splits: a task's rows (parsed, judged) stay well inside a 1 GiB executor.
        ("spark.sql.files.maxPartitionBytes".into(), "32m".into()),
    ];
    for (k, v) in &opts.conf {
        conf.retain(|(c, _)| c != k);
        conf.push((k.clone(), v.clone()));
    }
    for (k, v) in &conf {
        cmd.arg("--conf").arg(format!("{k}={v}"));
    }
    cmd.arg(driver).args(args);
    cmd.env("SPARK_HOME", &opts.spark_home);
    if let Some(py) = &opts.python {
        cmd.env("PYSPARK_PYTHON", py)
            .env("PYSPARK_DRIVER_PYTHON", py);
    }
    let log = staging.join("spark-submit.log");
    let log_file = std::fs::File::create(&log).map_err(io_err("create", &log))?;
    let err_file = log_file.try_clone().map_err(io_err("create", &log))?;
    let status = cmd
        .stdout(log_file)
        .stderr(err_file)
        .status()
        .map_err(|e| SparkError::Submit(format!("{}: {e}", bin.display())))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(SparkError::Submit(format!(
            "{status}; log {}:\n{}",
            log.display(),
            tail.join("\n")
        )));
    }
    Ok(())
}

/// The Parquet files under a folder (recursively), sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(std::result::Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_parquet(path: &Path) -> Result<DataFrame, SparkError> {
    let f = std::fs::File::open(path).map_err(io_err("open", path))?;
    ParquetReader::new(f).finish().map_err(staged)
}

fn col_i64(df: &DataFrame, name: &str) -> Result<Vec<i64>, SparkError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Int64))
        .map_err(staged)?;
    let ca = c.i64().map_err(staged)?;
    ca.iter()
        .map(|v| v.ok_or_else(|| staged(format!("null in {name}"))))
        .collect()
}

fn col_str(df: &DataFrame, name: &str) -> Result<Vec<String>, SparkError> {
    let c = df.column(name).map_err(staged)?;
    let ca = c.str().map_err(staged)?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect())
}

fn json_usize(v: &serde_json::Value, key: &str) -> usize {
    v.get(key)
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// The index of file `fid` when it is one of `files` and not refused.
fn live(files: &[StagedFile], fid: i64) -> Option<usize> {
    let i = usize::try_from(fid).ok()?;
    files.get(i).filter(|f| f.refused.is_none()).map(|_| i)
}

/// The cells staged under `dir` (the `daily` or, `with_area`, the `area` output) of the live
/// files: (file, month, area code or empty, cell), each checked against the contract — a cell
/// of a known region, MCC and channel, with sums that did not overflow, in the month it is staged
/// under, and an area of [`homeseason_ingest::Areas`] that rolls up to the cell's region.
fn staged_cells(
    files: &[StagedFile],
    dir: &Path,
    with_area: bool,
) -> Result<Vec<(usize, MonthKey, String, StagedDaily)>, SparkError> {
    let regions = Regions::embedded();
    let areas = homeseason_ingest::Areas::embedded();
    let mut out = Vec::new();
    for p in parquet_files(dir) {
        let df = read_parquet(&p)?;
        let (fid, mk, day) = (
            col_i64(&df, "fid")?,
            col_i64(&df, "mk")?,
            col_i64(&df, "day")?,
        );
        let region = col_str(&df, "region")?;
        let area = if with_area {
            col_str(&df, "area")?
        } else {
            vec![String::new(); df.height()]
        };
        let mcc = col_i64(&df, "mcc")?;
        let channel = col_str(&df, "channel")?;
        let (rows, txn, sale, refund, merchants) = (
            col_i64(&df, "rows")?,
            col_i64(&df, "txn_count")?,
            col_i64(&df, "sale_fen")?,
            col_i64(&df, "refund_fen")?,
            col_i64(&df, "merchants")?,
        );
        for k in 0..df.height() {
            let Some(i) = live(files, fid[k]) else {
                continue;
            };
            let cell = StagedDaily {
                day: i32::try_from(day[k]).map_err(staged)?,
                region: region[k].clone(),
                mcc: u16::try_from(mcc[k]).map_err(staged)?,
                channel: channel[k].clone(),
                rows: rows[k],
                txn_count: txn[k],
                sale_fen: sale[k],
                refund_fen: refund[k],
                merchants: merchants[k],
            };
            // The staged cells must be what the contract allows (a sum that overflowed BIGINT is
            // staged as -1 by `try_sum`, and refused here rather than wrapped to a negative gross).
            let ok = regions.by_code(&cell.region).is_some()
                && cell.mcc < 10_000
                && matches!(cell.channel.as_str(), "online" | "offline")
                && cell.sale_fen >= 0
                && cell.refund_fen >= 0
                && cell.txn_count <= cell.rows
                && cell.merchants <= cell.txn_count
                && (!with_area
                    || areas
                        .index_of(&area[k])
                        .and_then(|a| areas.get(a))
                        .is_some_and(|a| a.region == cell.region));
            if !ok {
                return Err(staged(format!(
                    "a {} cell breaks the contract: {cell:?} {}",
                    if with_area { "area" } else { "daily" },
                    area[k]
                )));
            }
            let month = MonthKey::try_from(mk[k]).map_err(staged)?;
            let (y, m) = year_month(month);
            let (cy, cm, _) = homeseason_schema::calendar::civil_from_days(cell.day);
            if (y, m) != (cy, cm) {
                return Err(staged(format!("cell {cell:?} staged under month {y}-{m}")));
            }
            out.push((i, month, area[k].clone(), cell));
        }
    }
    Ok(out)
}

fn read_staged(
    files: &mut [StagedFile],
    staging: &Path,
    summary: &serde_json::Value,
) -> Result<(), SparkError> {
    // Whole-file refusals found by the driver.
    if let Some(refused) = summary.get("refused").and_then(|r| r.as_object()) {
        for (fid, why) in refused {
            let Some(f) = fid.parse::<usize>().ok().and_then(|i| files.get_mut(i)) else {
                return Err(staged(format!("refusal for unknown file {fid}")));
            };
            let reason = why
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or_default()
                .to_owned();
            let file = f.name.clone();
            f.refused = Some(match why.get("kind").and_then(|k| k.as_str()) {
                Some("gzip") => IngestError::Gzip { file, reason },
                Some("empty") => IngestError::Empty { file },
                _ => IngestError::Csv { file, reason },
            });
        }
    }
    let collected = summary.get("collected");
    let rows_of = |name: &str| -> Vec<serde_json::Value> {
        collected
            .and_then(|c| c.get(name))
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    for r in rows_of("file_stats") {
        let fid = r
            .get("fid")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(-1);
        if let Some(i) = live(files, fid) {
            files[i].read = json_usize(&r, "read");
            files[i].gb18030 = json_usize(&r, "gb_lines") > 0;
            if json_usize(&r, "bad_enc_lines") > 0 {
                files[i].refused_late = true;
                files[i].refused = Some(IngestError::Encoding {
                    file: files[i].name.clone(),
                    reason: match files[i].prepared.as_ref().map(|p| p.decode) {
                        Some(Decode::Utf8) => "invalid UTF-8 (mixed encodings?)".into(),
                        _ => "neither UTF-8 nor GB18030/GBK".into(),
                    },
                });
            }
        }
    }
    for r in rows_of("month_stats") {
        let fid = r
            .get("fid")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(-1);
        let mk = r.get("mk").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if let Some(i) = live(files, fid) {
            let m = files[i]
                .months
                .entry(MonthKey::try_from(mk).map_err(staged)?)
                .or_default();
            m.rows = json_usize(&r, "rows");
            m.across = json_usize(&r, "across");
            m.duplicates = json_usize(&r, "dups");
            m.conflicts_across = json_usize(&r, "xconf");
        }
    }
    for p in parquet_files(&staging.join("rejects")) {
        let df = read_parquet(&p)?;
        let fid = col_i64(&df, "fid")?;
        let line = col_i64(&df, "line")?;
        let field = col_str(&df, "field")?;
        let reason = col_str(&df, "reason")?;
        let value = col_str(&df, "value")?;
        let raw = col_str(&df, "raw")?;
        let detail = df
            .column("detail")
            .map_err(staged)?
            .str()
            .map_err(staged)?
            .clone();
        for k in 0..df.height() {
            let Some(i) = live(files, fid[k]) else {
                continue;
            };
            let f = FIELDS
                .iter()
                .position(|x| *x == field[k])
                .ok_or_else(|| staged(format!("reject names unknown field {}", field[k])))?;
            if Reason::from_code(&reason[k]).code() != reason[k] {
                return Err(staged(format!("unknown reason code {}", reason[k])));
            }
            files[i].rejects.push(StagedReject {
                line: u64::try_from(line[k]).map_err(staged)?,
                field: f,
                reason: Reason::from_code(&reason[k]),
                value: value[k].clone(),
                raw: raw[k].clone(),
                detail: detail.get(k).map(str::to_owned),
            });
        }
    }
    for (i, mk, _, cell) in staged_cells(files, &staging.join("daily"), false)? {
        files[i].months.entry(mk).or_default().daily.push(cell);
    }
    for (i, mk, area, cell) in staged_cells(files, &staging.join("area"), true)? {
        files[i]
            .months
            .entry(mk)
            .or_default()
            .area
            .push(StagedArea { area, cell });
    }
    for (i, f) in files.iter_mut().enumerate() {
        if f.refused.is_some() {
            continue;
        }
        for (mk, m) in &mut f.months {
            let part = |out: &str| {
                staging
                    .join(out)
                    .join(format!("fid={i}"))
                    .join(format!("mk={mk}"))
            };
            m.id_files = parquet_files(&part("ids"));
            m.pair_files = parquet_files(&part("pairs"));
            m.area_pair_files = parquet_files(&part("apairs"));
            let rows: i64 = m.daily.iter().map(|c| c.rows).sum();
            let area_rows: i64 = m.area.iter().map(|c| c.cell.rows).sum();
            if usize::try_from(rows).ok() != Some(m.rows)
                || usize::try_from(area_rows).ok() != Some(m.rows)
            {
                return Err(staged(format!(
                    "{}: month {mk} has {} accepted rows but its daily cells hold {rows}, its area cells {area_rows}",
                    f.name, m.rows
                )));
            }
        }
        f.rejects.sort_by_key(|r| r.line);
        let accepted: usize = f
            .months
            .values()
            .map(|m| m.rows + m.across + m.duplicates)
            .sum();
        if accepted + f.rejects.len() != f.read {
            return Err(staged(format!(
                "{}: read {} ≠ accepted and duplicates {accepted} + rejected {}",
                f.name,
                f.read,
                f.rejects.len()
            )));
        }
    }
    Ok(())
}

/// The new ids of a staged month as the lake's index holds them (`(id128, day, values)`), in file
/// order.
///
/// # Errors
/// [`SparkError::Staged`] when a staged file cannot be read.
pub fn month_ids(month: &StagedMonth) -> Result<Vec<(u128, i32, u64)>, SparkError> {
    let mut out: Vec<(u64, u128, i32, u64)> = Vec::with_capacity(month.rows);
    for p in &month.id_files {
        let df = read_parquet(p)?;
        let (line, fp, fp2, vfp, day) = (
            col_i64(&df, "line")?,
            col_i64(&df, "fp")?,
            col_i64(&df, "fp2")?,
            col_i64(&df, "vfp")?,
            col_i64(&df, "day")?,
        );
        for k in 0..line.len() {
            let id = (u128::from(fp[k] as u64) << 64) | u128::from(fp2[k] as u64);
            out.push((
                u64::try_from(line[k]).map_err(staged)?,
                id,
                i32::try_from(day[k]).map_err(staged)?,
                vfp[k] as u64,
            ));
        }
    }
    out.sort_unstable_by_key(|(line, _, _, _)| *line);
    Ok(out
        .into_iter()
        .map(|(_, id, day, values)| (id, day, values))
        .collect())
}

/// The new merchant pairs of a staged month (`(pair, day)`).
///
/// # Errors
/// [`SparkError::Staged`] when a staged file cannot be read.
pub fn month_pairs(month: &StagedMonth) -> Result<Vec<(u64, i32)>, SparkError> {
    read_pairs(&month.pair_files)
}

/// The new area merchant pairs of a staged month (`(pair, day)`).
///
/// # Errors
/// [`SparkError::Staged`] when a staged file cannot be read.
pub fn month_area_pairs(month: &StagedMonth) -> Result<Vec<(u64, i32)>, SparkError> {
    read_pairs(&month.area_pair_files)
}

/// The `(pair, day)` records of staged pair files, sorted.
fn read_pairs(files: &[PathBuf]) -> Result<Vec<(u64, i32)>, SparkError> {
    let mut out = Vec::new();
    for p in files {
        let df = read_parquet(p)?;
        let (pair, day) = (col_i64(&df, "pair")?, col_i64(&df, "day")?);
        for k in 0..pair.len() {
            out.push((pair[k] as u64, i32::try_from(day[k]).map_err(staged)?));
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl StagedFile {
    /// The file's increment as the Rust engine's [`TxnOutcome`]: which rows are new (the increment
    /// Spark staged: not in the lake's index, not in an earlier file of the run), duplicates within
    /// the file and across files, the increment cells of `payment_daily` and `payment_area_daily`,
    /// the rejects; its new ids, merchant pairs and area merchant pairs are spilled to `ctx` in the
    /// lake's index format. `holder` names the files
    /// that already hold rows of an institution-month (for the report), as the Rust engine's does.
    ///
    /// # Errors
    /// The file's refusal ([`StagedFile::refused`]) as `Err(Ok(..))`; staging failures as
    /// `Err(Err(..))`.
    #[expect(
        clippy::too_many_lines,
        reason = "one pass over the staged file, like stream::finish"
    )]
    pub fn outcome(
        &self,
        campaign: &Campaign,
        ctx: &mut dyn TxnContext,
        holder: &mut dyn FnMut(&str, i32, u32) -> Option<String>,
    ) -> Result<TxnOutcome, Result<IngestError, SparkError>> {
        if let Some(e) = &self.refused {
            return Err(Ok(clone_refusal(e)));
        }
        let Some(prep) = &self.prepared else {
            return Err(Err(staged("file neither prepared nor refused")));
        };
        let file = self.name.as_str();
        let institution = prep.institution.as_str();
        // The Rust engine's months: those with a row that is not a repeat within the file.
        let live: Vec<(MonthKey, &StagedMonth)> = self
            .months
            .iter()
            .filter(|(_, m)| m.rows + m.across + m.conflicts_across > 0)
            .map(|(k, m)| (*k, m))
            .collect();
        let named = homeseason_ingest::name_month(file);
        let home = live
            .iter()
            .map(|(k, m)| (m.rows, m.rows, Some(*k) == named, *k))
            .max()
            .map(|(_, _, _, k)| k);
        let contract = Feed::PaymentTransactions.contract();
        let mut sink = RejectSink::new(Feed::PaymentTransactions.id(), file, "");
        let years = homeseason_ingest::campaign_years(campaign);
        for r in &self.rejects {
            let header = Some(prep.headers[r.field].clone());
            let detail = match (r.field, r.reason) {
                (2, Reason::BadDate) => Some(self.profile.time_format.describe()),
                (1, Reason::BadPattern) => {
                    Some(homeseason_ingest::INSTITUTION_CODE_RULE.to_owned())
                }
                (1, Reason::BadEnum) => {
                    Some(homeseason_ingest::other_institution_detail(institution))
                }
                (1, Reason::UnknownInstitution) => Some(
                    homeseason_ingest::unknown_institution_detail(&self.profile.known_institutions),
                ),
                (2, Reason::BadPeriod) => Some(homeseason_ingest::outside_years_detail(years)),
                (_, Reason::Conflict) => {
                    // `line|field,field` within the file; none against the lake or the run.
                    let within = r.detail.as_deref().and_then(|d| d.split_once('|'));
                    let first_line = within.and_then(|(l, _)| l.parse::<u64>().ok());
                    let fields: Vec<&str> = within
                        .map(|(_, f)| f.split(',').filter(|f| !f.is_empty()).collect())
                        .unwrap_or_default();
                    Some(homeseason_ingest::txn_conflict_detail(
                        institution,
                        first_line,
                        &fields,
                    ))
                }
                _ => None,
            };
            match detail {
                Some(d) => sink.push_detail(r.line, header, r.reason, &r.value, Some(&d), &r.raw),
                None => sink.push(
                    r.line,
                    header,
                    r.reason,
                    &r.value,
                    contract.field(FIELDS[r.field]),
                    &r.raw,
                ),
            }
        }
        let mut months = Vec::new();
        let mut cells = homeseason_ingest::DailyCells::new(campaign);
        let areas = homeseason_ingest::Areas::embedded();
        let mut area_cells = homeseason_ingest::AreaCells::new(campaign);
        let dup_in_file: usize = self.months.values().map(|m| m.duplicates).sum();
        let (mut accepted, mut across) = (0usize, 0usize);
        for &(key, m) in &live {
            let (y, mo) = year_month(key);
            accepted += m.rows;
            across += m.across;
            let ids = month_ids(m).map_err(Err)?;
            let pairs = month_pairs(m).map_err(Err)?;
            let area_pairs = month_area_pairs(m).map_err(Err)?;
            let merchants: i64 = m.daily.iter().map(|c| c.merchants).sum();
            let area_merchants: i64 = m.area.iter().map(|c| c.cell.merchants).sum();
            if ids.len() != m.rows
                || i64::try_from(pairs.len()).ok() != Some(merchants)
                || i64::try_from(area_pairs.len()).ok() != Some(area_merchants)
            {
                return Err(Err(staged(format!(
                    "{file}: month {key}: {} new ids for {} new rows, {} new pairs for {merchants} merchants, {} new area pairs for {area_merchants} area merchants",
                    ids.len(),
                    m.rows,
                    pairs.len(),
                    area_pairs.len()
                ))));
            }
            let lake_err = |e: std::io::Error| Err(SparkError::Lake(e.to_string()));
            if !ids.is_empty() {
                ctx.spill(y, mo, &ids).map_err(lake_err)?;
            }
            ctx.spill_pairs(y, mo, &pairs).map_err(lake_err)?;
            ctx.spill_area_pairs(y, mo, &area_pairs).map_err(lake_err)?;
            for cell in &m.daily {
                cells.push(homeseason_ingest::DailyCell {
                    day: cell.day,
                    region: &cell.region,
                    mcc: cell.mcc,
                    channel: &cell.channel,
                    rows: cell.rows,
                    txn_count: cell.txn_count,
                    sale_fen: i128::from(cell.sale_fen),
                    refund_fen: i128::from(cell.refund_fen),
                    merchants: cell.merchants,
                });
            }
            for a in &m.area {
                // Checked when staged: the area is one of `areas`.
                let Some(area) = areas.index_of(&a.area).and_then(|i| areas.get(i)) else {
                    return Err(Err(staged(format!("{file}: unknown area {}", a.area))));
                };
                area_cells.push(homeseason_ingest::AreaCell {
                    area,
                    figures: homeseason_ingest::DailyCell {
                        day: a.cell.day,
                        region: area.region.as_str(),
                        mcc: a.cell.mcc,
                        channel: &a.cell.channel,
                        rows: a.cell.rows,
                        txn_count: a.cell.txn_count,
                        sale_fen: i128::from(a.cell.sale_fen),
                        refund_fen: i128::from(a.cell.refund_fen),
                        merchants: a.cell.merchants,
                    },
                });
            }
            months.push(TxnMonth {
                year: y,
                month: mo,
                written: true,
                accepted: m.rows,
                duplicates_across_files: m.across,
                previous_file: holder(institution, y, mo),
            });
        }
        let err = |e: PolarsError| Err(staged(e));
        let (rows, unmapped_mcc) = cells.finish(institution).map_err(err)?;
        homeseason_lake::check_frame(tables::PAYMENT_DAILY, &rows, &[])
            .map_err(|e| Err(staged(e)))?;
        let rejects = homeseason_ingest::rejects_with_sha(&sink, &self.sha256).map_err(err)?;
        homeseason_lake::check_frame(tables::REJECTS, &rejects, &[]).map_err(|e| Err(staged(e)))?;
        let report = FileReport {
            file: file.to_owned(),
            sha256: self.sha256.clone(),
            feed: Feed::PaymentTransactions,
            encoding: if prep.encoding == Encoding::Utf8 && self.gb18030 {
                Encoding::Gb18030
            } else {
                prep.encoding
            },
            read: self.read,
            accepted,
            rejected: sink.len(),
            duplicates: dup_in_file + across,
            ignored_columns: prep.ignored.clone(),
            source_unit: self.profile.amount_unit.source_unit(),
        };
        if !report.balanced() {
            return Err(Err(staged(format!("unbalanced report {report:?}"))));
        }
        // The area cells are the same rows by area: summed over the areas they give the daily
        // cells (merchants at least as many), or the staged output is inconsistent.
        let area_rows = area_cells.finish(institution).map_err(err)?;
        homeseason_lake::check_frame(tables::PAYMENT_AREA_DAILY, &area_rows, &[])
            .map_err(|e| Err(staged(e)))?;
        let mismatches =
            homeseason_ingest::area_sum_mismatches(&rows, &area_rows, 5).map_err(err)?;
        if !mismatches.is_empty() {
            return Err(Err(staged(format!(
                "{file}: the area cells do not sum to the daily cells: {}",
                mismatches.join("; ")
            ))));
        }
        Ok(TxnOutcome {
            report,
            institution: institution.to_owned(),
            rows,
            area_rows,
            rejects: rejects.into(),
            months,
            home_month: home.map(year_month),
            duplicates_in_file: dup_in_file,
            duplicates_across_files: across,
            conflicts: self
                .rejects
                .iter()
                .filter(|r| r.reason == Reason::Conflict)
                .count(),
            passes: 1,
            unmapped_mcc,
        })
    }
}

fn clone_refusal(e: &IngestError) -> IngestError {
    match e {
        IngestError::Empty { file } => IngestError::Empty { file: file.clone() },
        IngestError::Gzip { file, reason } => IngestError::Gzip {
            file: file.clone(),
            reason: reason.clone(),
        },
        IngestError::Encoding { file, reason } => IngestError::Encoding {
            file: file.clone(),
            reason: reason.clone(),
        },
        IngestError::MissingColumns {
            file,
            missing,
            found,
            message_zh,
            message_en,
        } => IngestError::MissingColumns {
            file: file.clone(),
            missing: missing.clone(),
            found: found.clone(),
            message_zh: message_zh.clone(),
            message_en: message_en.clone(),
        },
        IngestError::Csv { file, reason } => IngestError::Csv {
            file: file.clone(),
            reason: reason.clone(),
        },
        other => IngestError::Csv {
            file: String::new(),
            reason: other.to_string(),
        },
    }
}
