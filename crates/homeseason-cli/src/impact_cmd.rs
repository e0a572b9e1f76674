//! `homeseason impact`: the counterfactual regression (CausalImpact-style) on any series an analyst
//! brings — a CSV or Parquet file with a time column (dates or integers), one target column and
//! covariate columns — with the pre- and post-period on the command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{Datelike, NaiveDate};
use homeseason_stats::impact::{
    Design, ErrorModel, Estimate, Impact, ImpactOptions, causal_impact,
};
use polars::prelude::*;
use serde_json::json;

/// Arguments of `homeseason impact`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImpactArgs {
    /// Input file: CSV (header row) or Parquet.
    pub(crate) input: PathBuf,
    /// Time column: dates (YYYY-MM-DD or a date type) or integers.
    #[arg(long, default_value = "date")]
    pub(crate) time: String,
    /// Target column (the series the intervention may have moved).
    #[arg(long)]
    pub(crate) target: String,
    /// Covariate columns the intervention did not touch, comma-separated (may be empty).
    #[arg(long, value_delimiter = ',')]
    pub(crate) covariates: Vec<String>,
    /// Pre-period as FIRST:LAST (inclusive), in the time column's values.
    #[arg(long)]
    pub(crate) pre: String,
    /// Post-period as FIRST:LAST (inclusive).
    #[arg(long)]
    pub(crate) post: String,
    /// Interval level.
    #[arg(long, default_value_t = 0.9)]
    pub(crate) level: f64,
    /// Posterior predictive draws.
    #[arg(long, default_value_t = 1000)]
    pub(crate) draws: usize,
    /// Seed of the draws (same seed, same output).
    #[arg(long, default_value_t = 20_230_901)]
    pub(crate) seed: u64,
    /// Model the series on its own scale instead of the log scale (needed for values ≤ 0).
    #[arg(long)]
    pub(crate) linear: bool,
    /// Add weekday dummies (date time columns only).
    #[arg(long)]
    pub(crate) weekday: bool,
    /// Error model: auto (the AR errors or CausalImpact's local level, whichever predicts the
    /// pre-period better one step ahead), ar (slow AR(1) + fast AR(1) + noise) or local-level
    /// (random walk + noise).
    #[arg(long, default_value = "auto")]
    pub(crate) model: String,
    /// Also write the summary (and the pointwise series) as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Add the analysis' own time (fit, posterior draws and summary, without reading the file or
    /// writing output) to the JSON: wall as `fit_seconds`, the CPU time of all the threads it used
    /// as `fit_cpu_seconds` (null where the process's CPU clock is not available); off by default,
    /// since a time is not a deterministic output.
    #[arg(long)]
    pub(crate) timings: bool,
}

/// A time key: a date or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Time {
    Date(NaiveDate),
    Int(i64),
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Time::Date(d) => write!(f, "{d}"),
            Time::Int(i) => write!(f, "{i}"),
        }
    }
}

fn parse_time(s: &str, dates: bool) -> Result<Time> {
    let s = s.trim();
    if dates {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Time::Date)
            .with_context(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
    } else {
        s.parse::<i64>()
            .map(Time::Int)
            .with_context(|| format!("{s:?} is not an integer time"))
    }
}

/// A table file: Parquet by its extension (`.parquet`, `.pq`), anything else CSV ([`read_csv`]),
/// the columns named in `text` read as text. Shared by `impact` and `geolift`.
pub(crate) fn read_frame(path: &Path, text: &[&str]) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext == "parquet" || ext == "pq" {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        return ParquetReader::new(file)
            .finish()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading Parquet {}", path.display()));
    }
    read_csv(path, text)
}

/// A CSV file with a header, the columns named in `text` read as text (unit codes such as
/// `0742` keep their leading zero) and the other types inferred from its first 10,000 rows.
pub(crate) fn read_csv(path: &Path, text: &[&str]) -> Result<DataFrame> {
    let text_schema = (!text.is_empty()).then(|| {
        std::sync::Arc::new(
            text.iter()
                .map(|c| Field::new((*c).into(), DataType::String))
                .collect::<Schema>(),
        )
    });
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(10_000))
        .with_schema_overwrite(text_schema)
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .map_err(anyhow::Error::from)
        .with_context(|| format!("opening {}", path.display()))?
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading CSV {}", path.display()))
}

/// The time keys of the frame's time column.
fn times(df: &DataFrame, name: &str) -> Result<(Vec<Time>, bool)> {
    let column = df
        .column(name)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("--time column {name:?} is not in the file"))?;
    // A missing key is an error naming its row (the header is row 1).
    let empty = |i: usize| format!("row {}: empty {name}", i + 2);
    let require = |keys: Vec<Option<Time>>| -> Result<Vec<Time>> {
        keys.into_iter()
            .enumerate()
            .map(|(i, k)| k.with_context(|| empty(i)))
            .collect()
    };
    match column.dtype() {
        DataType::Date => {
            let days = column.cast(&DataType::Int32)?;
            let keys = days
                .i32()?
                .iter()
                .map(|d| {
                    d.and_then(homeseason_schema::calendar::from_epoch_days)
                        .map(Time::Date)
                })
                .collect();
            Ok((require(keys)?, true))
        }
        t if t.is_integer() => {
            let v = column.cast(&DataType::Int64)?;
            Ok((
                require(v.i64()?.iter().map(|d| d.map(Time::Int)).collect())?,
                false,
            ))
        }
        _ => {
            let v = column.cast(&DataType::String)?;
            let out = v
                .str()?
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = s.with_context(|| empty(i))?;
                    parse_time(s, true).with_context(|| format!("row {}, column {name}", i + 2))
                })
                .collect::<Result<_>>()?;
            Ok((out, true))
        }
    }
}

fn floats(df: &DataFrame, name: &str, what: &str) -> Result<Vec<f64>> {
    let c = df
        .column(name)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{what} column {name:?} is not in the file"))?
        .cast(&DataType::Float64)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{what} column {name:?} is not numeric"))?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

fn period(spec: &str, dates: bool, flag: &str) -> Result<(Time, Time)> {
    let (a, b) = spec
        .split_once(':')
        .or_else(|| spec.split_once(".."))
        .with_context(|| format!("{flag} {spec:?}: expected FIRST:LAST"))?;
    let (a, b) = (parse_time(a, dates)?, parse_time(b, dates)?);
    if b < a {
        bail!("{flag} {spec:?}: the last time is before the first");
    }
    Ok((a, b))
}

/// Distance between two times in their unit (days or integer steps).
fn offset(a: Time, b: Time) -> usize {
    let d = match (a, b) {
        (Time::Date(a), Time::Date(b)) => (b - a).num_days(),
        (Time::Int(a), Time::Int(b)) => b - a,
        _ => 0,
    };
    usize::try_from(d).unwrap_or(0)
}

/// `a` moved `k` units later.
fn advance(a: Time, k: usize) -> Time {
    let k = i64::try_from(k).unwrap_or(i64::MAX);
    match a {
        Time::Date(d) => Time::Date(d + chrono::Duration::days(k)),
        Time::Int(i) => Time::Int(i + k),
    }
}

/// The most common gap between consecutive sorted times (ties: the smallest), at least 1.
fn spacing(sorted: &[Time]) -> usize {
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for w in sorted.windows(2) {
        let d = offset(w[0], w[1]);
        if d > 0 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(1, |(d, _)| *d)
}

/// What `homeseason impact` computed: the text summary and the JSON document.
pub(crate) struct Outcome {
    pub(crate) text: String,
    pub(crate) json: serde_json::Value,
}

/// Run the regression and build the summary.
///
/// # Errors
/// Unreadable input, missing columns, periods outside the data, or a failed fit.
pub(crate) fn run(args: &ImpactArgs) -> Result<Outcome> {
    let df = read_frame(&args.input, &[])?;
    let (time, dates) = times(&df, &args.time)?;
    let y_all = floats(&df, &args.target, "--target")?;
    let covs: Vec<(String, Vec<f64>)> = args
        .covariates
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| Ok((c.trim().to_owned(), floats(&df, c.trim(), "--covariates")?)))
        .collect::<Result<_>>()?;
    // Rows in time order; a repeated time is an error (one value per time point).
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by_key(|&i| time[i]);
    for w in order.windows(2) {
        if time[w[0]] == time[w[1]] {
            bail!(
                "time {} appears twice in column {:?} (rows {} and {})",
                time[w[0]],
                args.time,
                w[0] + 2,
                w[1] + 2
            );
        }
    }
    let (pre_a, pre_b) = period(&args.pre, dates, "--pre")?;
    let (post_a, post_b) = period(&args.post, dates, "--post")?;
    if post_a <= pre_b {
        bail!("--post must start after --pre ends ({post_a} ≤ {pre_b})");
    }
    let in_range: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| time[i] >= pre_a && time[i] <= post_b)
        .collect();
    if in_range.is_empty() {
        bail!("no rows between the start of --pre and the end of --post");
    }
    // One slot per period of the series' own spacing (the most common gap between consecutive
    // times: 1 day, 7 days, 1): a time absent from the file is a missing period (no response, no
    // covariates), not skipped, so the error process runs through it.
    let step = spacing(&order.iter().map(|&i| time[i]).collect::<Vec<_>>());
    let (first, last) = (time[in_range[0]], time[in_range[in_range.len() - 1]]);
    let mut rows: Vec<Option<usize>> = Vec::new();
    let mut t: Vec<Time> = Vec::new();
    {
        let by_time: std::collections::HashMap<Time, usize> =
            in_range.iter().map(|&i| (time[i], i)).collect();
        for &i in &in_range {
            if !offset(first, time[i]).is_multiple_of(step) {
                bail!(
                    "time {} is off the series' spacing of {step} (from {first}): the times must be regular",
                    time[i]
                );
            }
        }
        let periods = offset(first, last) / step + 1;
        for k in 0..periods {
            let at = advance(first, k * step);
            rows.push(by_time.get(&at).copied());
            t.push(at);
        }
    }
    let missing = rows.iter().filter(|r| r.is_none()).count();
    let pre_end = t.iter().position(|x| *x > pre_b).unwrap_or(t.len());
    let post_start = t.iter().position(|x| *x >= post_a).unwrap_or(t.len());
    if pre_end == 0 {
        bail!("no rows in the pre-period {}", args.pre);
    }
    if post_start >= t.len() {
        bail!("no rows in the post-period {}", args.post);
    }
    let y: Vec<f64> = rows
        .iter()
        .enumerate()
        // Rows between the periods are not fitted and not scored; absent times are missing.
        .map(|(k, &i)| match i {
            Some(i) if k < pre_end || k >= post_start => y_all[i],
            _ => f64::NAN,
        })
        .collect();
    let mut design = Design::new(rows.len());
    for (name, values) in &covs {
        let v: Vec<f64> = rows
            .iter()
            .map(|&i| i.map_or(f64::NAN, |i| values[i]))
            .collect();
        design = if args.linear {
            design.covariate(name.clone(), &v)?
        } else {
            design.log_covariate(format!("ln {name}"), &v)?
        };
    }
    if args.weekday {
        if !dates {
            bail!("--weekday needs a date time column");
        }
        let wd: Vec<u32> = t
            .iter()
            .map(|x| match x {
                Time::Date(d) => d.weekday().num_days_from_monday(),
                Time::Int(_) => 0,
            })
            .collect();
        design = design.weekday(&wd)?;
    }
    let errors = match args.model.to_ascii_lowercase().as_str() {
        "auto" | "" => ErrorModel::Auto,
        "ar" => ErrorModel::TwoAr1PlusNoise,
        "local-level" | "local_level" | "locallevel" | "ll" => ErrorModel::LocalLevel,
        other => bail!("--model {other:?}: expected auto, ar or local-level"),
    };
    let options = ImpactOptions {
        level: args.level,
        draws: args.draws,
        seed: args.seed,
        log: !args.linear,
        errors,
        // One analysis: the machine's cores (the result is the same bits whatever the count).
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        ..ImpactOptions::default()
    };
    // The analysis alone (fit, posterior draws, summary), timed for the per-fit comparison with
    // other tools (benchmarks/IMPACT.md); reading the file and writing the output are not in it.
    let started = std::time::Instant::now();
    let cpu_started = process_cpu_seconds();
    let impact = causal_impact(&y, &design, 0..pre_end, post_start..rows.len(), &options)
        .context("fitting the counterfactual regression")?;
    let fit_seconds = (
        started.elapsed().as_secs_f64(),
        cpu_started.zip(process_cpu_seconds()).map(|(a, b)| b - a),
    );
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: target {:?}, {} covariate(s){}; pre-period {} … {} ({} rows), post-period {} … {} ({} rows)\n",
        args.input.display(),
        args.target,
        covs.len(),
        if args.weekday { " + weekday" } else { "" },
        t[0],
        t[pre_end - 1],
        pre_end,
        t[post_start],
        t[rows.len() - 1],
        rows.len() - post_start
    );
    if missing > 0 {
        let _ = writeln!(
            text,
            "Note: {missing} period(s) absent from the file (spacing {step}) are treated as missing, not skipped.\n"
        );
    }
    let _ = write!(text, "{impact}");
    Ok(Outcome {
        json: to_json(args, &impact, &t, &covs, missing, fit_seconds),
        text,
    })
}

/// CPU time the process has run, in seconds, all its threads together (`CLOCK_PROCESS_CPUTIME_ID`,
/// nanoseconds; threads that have ended still count); `None` where there is no such clock. The
/// analysis runs on the calling thread and the threads it starts, and nothing else in the process
/// runs meanwhile, so the difference around it is its CPU time, which a loaded machine does not
/// inflate as it does the wall time.
#[cfg(unix)]
#[allow(unsafe_code)]
fn process_cpu_seconds() -> Option<f64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, exclusively borrowed `timespec`, the only memory `clock_gettime`
    // writes; the clock id is a constant every Unix the crate builds for defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut t) };
    (rc == 0).then_some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn process_cpu_seconds() -> Option<f64> {
    None
}

fn est(e: &Estimate) -> serde_json::Value {
    json!({ "value": e.value, "sd": e.sd, "lower": e.lower, "upper": e.upper })
}

fn to_json(
    args: &ImpactArgs,
    impact: &Impact,
    t: &[Time],
    covs: &[(String, Vec<f64>)],
    missing: usize,
    (fit_seconds, fit_cpu_seconds): (f64, Option<f64>),
) -> serde_json::Value {
    let summary = |s: &homeseason_stats::impact::PeriodSummary| {
        json!({
            "actual": s.actual,
            "predicted": est(&s.predicted),
            "absolute_effect": est(&s.absolute),
            "relative_effect": est(&s.relative),
        })
    };
    let mut doc = json!({
        "input": args.input.display().to_string(),
        "target": args.target,
        "covariates": covs.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        "model": if args.linear { "linear" } else { "log" },
        "error_model": impact.diagnostics.error_model.to_string(),
        "model_scores": impact.diagnostics.model_scores.iter().map(|(m, s)| json!({
            "model": m.to_string(),
            "log_evidence": s,
        })).collect::<Vec<_>>(),
        "missing_periods": missing,
        "level": impact.level,
        "draws": impact.draws,
        "seed": args.seed,
        "pre_period": [t[impact.pre.start].to_string(), t[impact.pre.end - 1].to_string()],
        "post_period": [t[impact.post.start].to_string(), t[impact.post.end - 1].to_string()],
        "days_used": impact.days_used,
        "average": summary(&impact.average),
        "cumulative": summary(&impact.cumulative),
        "p_value": impact.p_value,
        "p_value_definition": "two-sided p-value of no effect on the post-period total",
        "effect_sign": impact.effect_sign(),
        "points": impact.points.iter().map(|p| json!({
            "time": t[p.index].to_string(),
            "actual": if p.actual.is_finite() { json!(p.actual) } else { json!(null) },
            "predicted": est(&p.predicted),
            "effect": est(&p.effect),
            "cumulative_effect": est(&p.cumulative_effect),
        })).collect::<Vec<_>>(),
    });
    if args.timings {
        doc["fit_seconds"] = json!(fit_seconds);
        doc["fit_cpu_seconds"] = json!(fit_cpu_seconds);
    }
    doc
}
