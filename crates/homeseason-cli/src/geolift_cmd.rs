//! `homeseason geolift`: GeoLift-style geo experiments on any long-format panel (CSV or Parquet).
//!
//! Reads `unit, time, outcome` rows, builds the balanced panel, and either estimates one or more
//! treated cells ([`homeseason_stats::geolift::estimate`]: synthetic control, conformal inference)
//! or, with `--power`, simulates the power and minimum detectable effect of a planned test
//! ([`homeseason_stats::geolift::power`]). Times are given as they appear in the data (e.g.
//! `2021-04-01`) or as GeoLift's 1-based period numbers (`91`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use homeseason_stats::geolift::{
    self, Augment, CellResult, CellSpec, Combined, Fill, FillReport, Interval, Options, Panel,
    Permutations, PowerOptions, PowerResult, Statistic,
};
use polars::prelude::*;
use serde::Serialize;

use crate::impact_cmd::read_frame;

// Time-based regression (`--tbr`), in its own file; a child module so `main.rs` needs no change.
#[path = "tbr_cmd.rs"]
mod tbr_cmd;

/// Arguments of `homeseason geolift`.
#[derive(clap::Args, Debug)]
pub(crate) struct GeoliftArgs {
    /// Long-format panel, CSV or Parquet (by extension: .parquet / .pq, anything else is CSV).
    pub(crate) input: PathBuf,
    /// Unit (location, region) column.
    #[arg(long, default_value = "location")]
    pub(crate) unit: String,
    /// Time column: dates (ISO, sorted as text), integers, or any text that sorts chronologically.
    #[arg(long, default_value = "date")]
    pub(crate) time: String,
    /// Outcome column (numeric).
    #[arg(long, default_value = "Y")]
    pub(crate) outcome: String,
    /// Treated units of a single cell named "treated", comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) treated: Vec<String>,
    /// First treated period of --treated: a time value from the data or a 1-based period number.
    #[arg(long)]
    pub(crate) start: Option<String>,
    /// Last treated period of --treated (inclusive; later periods are ignored). Default: the last.
    #[arg(long)]
    pub(crate) end: Option<String>,
    /// A treated cell `NAME=unit1,unit2:START:END` (repeatable; START/END as for --start/--end).
    /// Cells may start on different periods (staggered); donors are the units in no cell.
    #[arg(long = "cell", value_name = "NAME=UNITS:START:END")]
    pub(crate) cells: Vec<String>,
    /// Pool the cells into one result (cohorts of one staggered event): ATT weighted by treated
    /// unit-periods, summed incremental outcome, Bonferroni p-value.
    #[arg(long)]
    pub(crate) pool: bool,
    /// Outcome-model augmentation: none (GeoLift's default) or ridge.
    #[arg(long, default_value = "none")]
    pub(crate) augment: String,
    /// Ridge penalty (default: cross-validated, as augsynth does).
    #[arg(long)]
    pub(crate) lambda: Option<f64>,
    /// Significance level (interval level 1 − alpha).
    #[arg(long, default_value_t = 0.1)]
    pub(crate) alpha: f64,
    /// Seed of the permutations (results are deterministic for a seed).
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Number of random permutations of the conformal test.
    #[arg(long, default_value_t = 1000)]
    pub(crate) draws: usize,
    /// Permutations of the test: auto (blocks of --block-len periods for daily data, single
    /// periods otherwise), blocks, iid (GeoLift's single periods) or circular (all shifts).
    #[arg(long, default_value = "auto")]
    pub(crate) permutations: String,
    /// Block length of block permutations, in periods (7 = a week of daily data).
    #[arg(long, default_value_t = 7)]
    pub(crate) block_len: usize,
    /// Two-sided statistic: abs-sum (|Σu|, a test of the average effect; default) or sum-abs
    /// (Σ|u|, GeoLift's "Total", a test that the effect is the same constant on every period).
    #[arg(long, default_value = "abs-sum")]
    pub(crate) statistic: String,
    /// Interval: auto (the inverted test, jackknife+ only when that set is empty), conformal,
    /// jackknife (augsynth's jackknife+) or geolift (jackknife+ also when the conformal set misses
    /// the estimate, as GeoLift does).
    #[arg(long, default_value = "auto")]
    pub(crate) interval: String,
    /// Unbalanced panels: refuse (default), zero (a missing unit × time row is an outcome of 0) or
    /// drop (units with gaps are dropped).
    #[arg(long, default_value = "refuse")]
    pub(crate) fill: String,
    /// Alternative hypothesis: total (two-sided, default), positive or negative.
    #[arg(long, default_value = "total")]
    pub(crate) stat_test: String,
    /// Do not remove unit means before fitting (GeoLift's fixed effects are on by default).
    #[arg(long)]
    pub(crate) no_fixed_effects: bool,
    /// Write the results as JSON to this file (`-` = standard output, instead of the summary).
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Power analysis instead of estimation: for the treated units of --treated (or of each
    /// --cell) and each --duration, the power curve and the minimum detectable effect.
    #[arg(long)]
    pub(crate) power: bool,
    /// Test durations in periods for --power, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "14")]
    pub(crate) duration: Vec<usize>,
    /// Simulated effects for --power in percent, comma-separated (default 0,1,…,25).
    #[arg(long, value_delimiter = ',')]
    pub(crate) effects: Vec<f64>,
    /// Placebo windows for --power (the most recent first, one period apart).
    #[arg(long, default_value_t = 10)]
    pub(crate) windows: usize,
    /// Target power of the minimum detectable effect.
    #[arg(long, default_value_t = 0.8)]
    pub(crate) target_power: f64,
    /// Time-based regression (google/matched_markets' TBR) of a two-group design instead of the
    /// synthetic control: the treatment group (--treated, or group 2 of --assignment) against the
    /// control group (every other unit, or group 1), test period --start … --end.
    #[arg(long)]
    pub(crate) tbr: bool,
    /// --tbr: cost (spend) column, for the incremental cost and the iROAS.
    #[arg(long)]
    pub(crate) cost: Option<String>,
    /// --tbr: group assignment CSV, two columns: unit and group (1 = control, 2 = treatment), as
    /// matched_markets' geoassignment.csv.
    #[arg(long)]
    pub(crate) assignment: Option<PathBuf>,
    /// --tbr: first period of the pre-period (default: the first in the data).
    #[arg(long)]
    pub(crate) pre_start: Option<String>,
    /// --tbr: a two-sided interval (default: matched_markets' one-sided lower bound).
    #[arg(long)]
    pub(crate) two_sided_interval: bool,
}

/// Time keys: integers sort numerically, anything else as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Text(s) => f.write_str(s),
        }
    }
}

/// The panel read from the input and its time keys.
struct Data {
    panel: Panel,
    keys: Vec<String>,
    /// Gaps zero-filled or units dropped (`--fill`).
    fill: FillReport,
}

impl Data {
    /// Whether the time keys are consecutive calendar days (ISO dates one day apart).
    fn daily(&self) -> bool {
        let dates: Option<Vec<chrono::NaiveDate>> = self
            .keys
            .iter()
            .map(|k| chrono::NaiveDate::parse_from_str(k, "%Y-%m-%d").ok())
            .collect();
        dates.is_some_and(|d| d.len() > 1 && d.windows(2).all(|w| (w[1] - w[0]).num_days() == 1))
    }
}

fn load(args: &GeoliftArgs) -> Result<Data> {
    let df = read_frame(&args.input, &[args.unit.as_str()])?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    for (what, c) in [
        ("--unit", &args.unit),
        ("--time", &args.time),
        ("--outcome", &args.outcome),
    ] {
        if !names.iter().any(|n| n == c) {
            bail!(
                "{what} column {c:?} is not in {} (columns: {})",
                args.input.display(),
                names.join(", ")
            );
        }
    }
    let units = df.column(&args.unit)?.cast(&DataType::String)?;
    let units = units.str()?;
    let outcome = df
        .column(&args.outcome)?
        .cast(&DataType::Float64)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("--outcome column {:?} is not numeric", args.outcome))?;
    let outcome = outcome.f64()?;
    let time = df.column(&args.time)?;
    let times: Vec<Option<Key>> = if time.dtype().is_integer() {
        let t = time.cast(&DataType::Int64)?;
        t.i64()?.iter().map(|v| v.map(Key::Int)).collect()
    } else {
        let t = time.cast(&DataType::String)?;
        t.str()?
            .iter()
            .map(|v| v.map(|s| Key::Text(s.trim().to_owned())))
            .collect()
    };
    let mut rows = Vec::with_capacity(df.height());
    for (i, key) in times.into_iter().enumerate() {
        let (Some(u), Some(k)) = (units.get(i), key) else {
            bail!("row {}: empty unit or time", i + 2);
        };
        let Some(y) = outcome.get(i) else {
            bail!("row {}: empty outcome for unit {u:?} at {k}", i + 2);
        };
        rows.push((u.trim().to_owned(), k, y));
    }
    let fill = match args.fill.to_ascii_lowercase().as_str() {
        "refuse" | "" => Fill::Refuse,
        "zero" => Fill::Zero,
        "drop" => Fill::Drop,
        other => bail!("--fill {other:?}: expected refuse, zero or drop"),
    };
    let (panel, keys, fill) = Panel::from_long_filled(rows, fill).map_err(|e| match e {
        geolift::GeoError::MissingObservation { .. } => anyhow::anyhow!(
            "{e} — pass --fill zero (a missing row is an outcome of 0) or --fill drop (drop units with gaps)"
        ),
        e => e.into(),
    })?;
    Ok(Data {
        panel,
        keys: keys.iter().map(ToString::to_string).collect(),
        fill,
    })
}

/// A time value from the data, or a 1-based period number → 0-based period index.
fn period(data: &Data, t: &str) -> Result<usize> {
    let t = t.trim();
    if let Some(i) = data.keys.iter().position(|k| k == t) {
        return Ok(i);
    }
    if let Ok(n) = t.parse::<usize>()
        && (1..=data.keys.len()).contains(&n)
    {
        return Ok(n - 1);
    }
    bail!(
        "time {t:?} is neither a time in the data ({} … {}) nor a period number 1…{}",
        data.keys.first().map_or("", String::as_str),
        data.keys.last().map_or("", String::as_str),
        data.keys.len()
    )
}

fn units_of(data: &Data, list: &[String]) -> Result<Vec<usize>> {
    let names: Vec<&str> = list
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        bail!("no treated units given");
    }
    Ok(data.panel.unit_indices(&names)?)
}

/// `NAME=a,b:START:END` (END optional: `NAME=a,b:START`).
fn parse_cell(data: &Data, spec: &str) -> Result<CellSpec> {
    let (name, rest) = spec
        .split_once('=')
        .with_context(|| format!("--cell {spec:?}: expected NAME=UNITS:START:END"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (units, start, end) = match parts.as_slice() {
        [u, s, e] => (*u, *s, Some(*e)),
        [u, s] => (*u, *s, None),
        _ => bail!("--cell {spec:?}: expected NAME=UNITS:START:END"),
    };
    let list: Vec<String> = units.split(',').map(str::to_owned).collect();
    let treated = units_of(data, &list).with_context(|| format!("--cell {spec:?}"))?;
    let start = period(data, start).with_context(|| format!("--cell {spec:?}"))?;
    let end = match end {
        Some(e) => period(data, e).with_context(|| format!("--cell {spec:?}"))?,
        None => data.keys.len() - 1,
    };
    Ok(CellSpec::new(name.trim(), treated, start, end))
}

fn cells(data: &Data, args: &GeoliftArgs, need_dates: bool) -> Result<Vec<CellSpec>> {
    let mut out = Vec::new();
    if !args.treated.is_empty() {
        let treated = units_of(data, &args.treated)?;
        let (start, end) = if need_dates {
            let start = args
                .start
                .as_deref()
                .context("--treated needs --start (first treated period)")?;
            let start = period(data, start)?;
            let end = match args.end.as_deref() {
                Some(e) => period(data, e)?,
                None => data.keys.len() - 1,
            };
            (start, end)
        } else {
            (0, 0)
        };
        out.push(CellSpec::new("treated", treated, start, end));
    }
    for spec in &args.cells {
        out.push(parse_cell(data, spec)?);
    }
    if out.is_empty() {
        bail!(
            "give the treated units: --treated a,b --start T --end T, or --cell NAME=a,b:START:END"
        );
    }
    Ok(out)
}

fn options(args: &GeoliftArgs, data: &Data) -> Result<Options> {
    let augment = match args.augment.to_ascii_lowercase().as_str() {
        "none" | "" => Augment::None,
        "ridge" => Augment::Ridge {
            lambda: args.lambda,
        },
        other => bail!("--augment {other:?}: expected none or ridge"),
    };
    let alternative = match args.stat_test.to_ascii_lowercase().as_str() {
        "total" | "two-sided" | "two_sided" => geolift::Alternative::TwoSided,
        "positive" | "greater" => geolift::Alternative::Greater,
        "negative" | "less" => geolift::Alternative::Less,
        other => bail!("--stat-test {other:?}: expected total, positive or negative"),
    };
    let permutations = match args.permutations.to_ascii_lowercase().as_str() {
        "auto" | "" if data.daily() => Permutations::Blocks {
            len: args.block_len,
            draws: args.draws,
        },
        "auto" | "" | "iid" => Permutations::Iid { draws: args.draws },
        "blocks" | "block" => Permutations::Blocks {
            len: args.block_len,
            draws: args.draws,
        },
        "circular" => Permutations::Circular,
        other => bail!("--permutations {other:?}: expected auto, blocks, iid or circular"),
    };
    let statistic = match args.statistic.to_ascii_lowercase().as_str() {
        "abs-sum" | "abs_sum" => Statistic::AbsSum,
        "sum-abs" | "sum_abs" | "total" => Statistic::SumAbs,
        other => bail!("--statistic {other:?}: expected abs-sum or sum-abs"),
    };
    let interval = match args.interval.to_ascii_lowercase().as_str() {
        "auto" | "" => Interval::Auto,
        "conformal" => Interval::Conformal,
        "geolift" => Interval::GeoLiftAuto,
        "jackknife" | "jackknife+" | "jackknife_plus" => Interval::JackknifePlus,
        other => bail!("--interval {other:?}: expected auto, conformal, jackknife or geolift"),
    };
    Ok(Options {
        augment,
        fixed_effects: !args.no_fixed_effects,
        alpha: args.alpha,
        permutations,
        alternative,
        statistic,
        interval,
        seed: args.seed,
        ..Options::default()
    })
}

#[derive(Serialize)]
struct WeightOut {
    unit: String,
    weight: f64,
}

#[derive(Serialize)]
struct PointOut {
    period: usize,
    time: String,
    observed: f64,
    counterfactual: f64,
}

#[derive(Serialize)]
struct CellOut {
    name: String,
    treated: Vec<String>,
    /// 1-based first treated period (GeoLift's numbering).
    start_period: usize,
    /// 1-based last treated period.
    end_period: usize,
    start_time: String,
    end_time: String,
    donors: usize,
    att: f64,
    att_lower: f64,
    att_upper: f64,
    incremental: f64,
    incremental_lower: f64,
    incremental_upper: f64,
    lift_pct: f64,
    lift_lower: f64,
    lift_upper: f64,
    /// Two-sided (with --stat-test total) permutation p-value of no effect.
    p_value: f64,
    /// +1, −1 or 0: the direction of the ATT.
    effect_sign: i8,
    level: f64,
    interval_method: &'static str,
    /// Whether the interval excludes zero (for a conformal interval: exactly when p < alpha).
    interval_excludes_zero: bool,
    warnings: Vec<String>,
    l2_imbalance: f64,
    scaled_l2_imbalance: f64,
    pre_rmse: f64,
    lambda: Option<f64>,
    weights: Vec<WeightOut>,
    series: Vec<PointOut>,
}

#[derive(Serialize)]
struct PooledOut {
    att: f64,
    incremental: f64,
    lift_pct: f64,
    p_value: f64,
    unit_periods: usize,
}

#[derive(Serialize)]
struct CurveOut {
    effect_pct: f64,
    power: f64,
    mean_lift_pct: f64,
}

#[derive(Serialize)]
struct PowerOut {
    name: String,
    treated: Vec<String>,
    duration: usize,
    mde_pct: Option<f64>,
    target_power: f64,
    alpha: f64,
    windows: Vec<(String, String)>,
    mean_scaled_l2_imbalance: f64,
    curve: Vec<CurveOut>,
}

#[derive(Serialize)]
struct Output {
    input: String,
    unit: String,
    time: String,
    outcome: String,
    units: usize,
    periods: usize,
    first_time: String,
    last_time: String,
    augment: String,
    alpha: f64,
    seed: u64,
    draws: usize,
    fixed_effects: bool,
    /// How the test permutes the residuals (e.g. "blocks of 7 periods, 1000 draws").
    permutations: String,
    /// The two-sided statistic: "abs-sum" (|Σu|) or "sum-abs" (Σ|u|, GeoLift's).
    statistic: &'static str,
    /// Units dropped for gaps (--fill drop).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropped_units: Vec<String>,
    /// Unit × time cells set to zero (--fill zero).
    zero_filled: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cells: Vec<CellOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pooled: Option<PooledOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    power: Vec<PowerOut>,
}

fn cell_out(data: &Data, r: &CellResult, alpha: f64) -> CellOut {
    CellOut {
        name: r.name.clone(),
        treated: r.treated.clone(),
        start_period: r.start + 1,
        end_period: r.end + 1,
        start_time: data.keys[r.start].clone(),
        end_time: data.keys[r.end].clone(),
        donors: r.weights.len(),
        att: r.att,
        att_lower: r.att_lower,
        att_upper: r.att_upper,
        incremental: r.incremental,
        incremental_lower: r.incremental_lower,
        incremental_upper: r.incremental_upper,
        lift_pct: r.lift_pct,
        lift_lower: r.lift_pct_lower,
        lift_upper: r.lift_pct_upper,
        p_value: r.p_value,
        effect_sign: if r.att > 0.0 {
            1
        } else if r.att < 0.0 {
            -1
        } else {
            0
        },
        level: 1.0 - alpha,
        interval_method: interval_name(r.interval),
        interval_excludes_zero: excludes_zero(r.att_lower, r.att_upper),
        warnings: r.warnings.clone(),
        l2_imbalance: r.l2_imbalance,
        scaled_l2_imbalance: r.scaled_l2_imbalance,
        pre_rmse: r.pre_rmse,
        lambda: r.lambda,
        weights: r
            .weights
            .iter()
            .map(|(u, w)| WeightOut {
                unit: u.clone(),
                weight: *w,
            })
            .collect(),
        series: r
            .observed
            .iter()
            .zip(&r.counterfactual)
            .enumerate()
            .map(|(t, (o, c))| PointOut {
                period: t + 1,
                time: data.keys[t].clone(),
                observed: *o,
                counterfactual: *c,
            })
            .collect(),
    }
}

/// An interval excludes zero when it lies wholly on one side (an empty set, `NaN` bounds, holds no
/// effect at all and so excludes zero too).
fn excludes_zero(lower: f64, upper: f64) -> bool {
    lower.is_nan() || upper.is_nan() || lower > 0.0 || upper < 0.0
}

fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::JackknifePlus => "jackknife_plus",
        _ => "conformal",
    }
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "—".to_owned()
        } else if x > 0.0 {
            "∞".to_owned()
        } else {
            "−∞".to_owned()
        };
    }
    let a = x.abs();
    if a >= 1e5 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

/// A percentage for the summary: never `inf%` (an unbounded end prints as ±∞, an undefined one as
/// "n/a").
fn pct(x: f64) -> String {
    if x.is_nan() {
        "n/a".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "+∞" } else { "−∞" }.to_owned()
    } else {
        format!("{x:.1}%")
    }
}

/// A whole number for the summary (±∞ for an unbounded end).
fn whole(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        num(x)
    }
}

fn summary_cell(out: &mut String, c: &CellOut) {
    let level = (c.level * 100.0).round();
    let _ = writeln!(
        out,
        "\n=== GeoLift results — cell {:?}: {} ===",
        c.name,
        c.treated.join(", ")
    );
    let _ = writeln!(
        out,
        "Test periods {}–{} ({} … {}), {} periods; {} donor units",
        c.start_period,
        c.end_period,
        c.start_time,
        c.end_time,
        c.end_period + 1 - c.start_period,
        c.donors
    );
    let method = if c.interval_method == "jackknife_plus" {
        "jackknife+"
    } else {
        "conformal: the inverted permutation test"
    };
    let empty = c.att_lower.is_nan() || c.att_upper.is_nan();
    if empty {
        let _ = writeln!(
            out,
            "Average treatment effect (ATT): {} per unit and period   {level}% interval: empty — no constant effect passes the test ({method})",
            num(c.att)
        );
    } else {
        let _ = writeln!(
            out,
            "Average treatment effect (ATT): {} per unit and period   {level}% interval [{}, {}] ({method})",
            num(c.att),
            num(c.att_lower),
            num(c.att_upper)
        );
        let _ = writeln!(
            out,
            "Percent lift: {}   [{}, {}]",
            pct(c.lift_pct),
            pct(c.lift_lower),
            pct(c.lift_upper)
        );
        let _ = writeln!(
            out,
            "Incremental outcome: {}   [{}, {}]",
            whole(c.incremental),
            whole(c.incremental_lower),
            whole(c.incremental_upper)
        );
    }
    if empty {
        let _ = writeln!(
            out,
            "Percent lift: {}\nIncremental outcome: {}",
            pct(c.lift_pct),
            whole(c.incremental)
        );
    }
    let alpha = 1.0 - c.level;
    let rejected = c.p_value < alpha;
    // "Significant" only when the p-value and the interval agree.
    let verdict = match (rejected, c.interval_excludes_zero) {
        (true, true) => format!("significant at alpha {alpha:.2}"),
        (false, false) => format!("not significant at alpha {alpha:.2}"),
        (true, false) => format!(
            "below alpha {alpha:.2}, but the {method} interval covers zero: not significant"
        ),
        (false, true) => format!(
            "not significant at alpha {alpha:.2}, though the {method} interval excludes zero"
        ),
    };
    let direction = match c.effect_sign {
        1 => "positive",
        -1 => "negative",
        _ => "zero",
    };
    let _ = writeln!(
        out,
        "p-value (two-sided, no effect): {:.4}   effect {direction}; {verdict}",
        c.p_value
    );
    for w in &c.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    let _ = writeln!(
        out,
        "Balance: L2 imbalance {}, scaled L2 imbalance {:.4} (0 = perfect, 1 = equal donor weights); pre-period RMSE {}",
        num(c.l2_imbalance),
        c.scaled_l2_imbalance,
        num(c.pre_rmse)
    );
    if let Some(l) = c.lambda {
        let _ = writeln!(out, "Ridge lambda: {l:.6}");
    }
    let mut w: Vec<&WeightOut> = c
        .weights
        .iter()
        .filter(|w| w.weight.abs() >= 5e-5)
        .collect();
    w.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    let list: Vec<String> = w
        .iter()
        .map(|w| format!("{} {:.4}", w.unit, w.weight))
        .collect();
    let _ = writeln!(out, "Donor weights: {}", list.join(", "));
}

fn summary_power(out: &mut String, p: &PowerOut) {
    let _ = writeln!(
        out,
        "\n=== GeoLift power — {:?}: {}, duration {} periods ===",
        p.name,
        p.treated.join(", "),
        p.duration
    );
    let _ = writeln!(
        out,
        "{} placebo windows (latest {}–{}), alpha {:.2}, mean scaled L2 imbalance {:.4}",
        p.windows.len(),
        p.windows.first().map_or("", |w| w.0.as_str()),
        p.windows.first().map_or("", |w| w.1.as_str()),
        p.alpha,
        p.mean_scaled_l2_imbalance
    );
    let _ = writeln!(out, "  effect %   power   mean lift %");
    for c in &p.curve {
        let _ = writeln!(
            out,
            "  {:>8.1}   {:>5.2}   {:>11.2}",
            c.effect_pct, c.power, c.mean_lift_pct
        );
    }
    match p.mde_pct {
        Some(m) => {
            let _ = writeln!(
                out,
                "Minimum detectable effect ({:.0}% power): {m:.1}%",
                p.target_power * 100.0
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No simulated effect reaches {:.0}% power",
                p.target_power * 100.0
            );
        }
    }
}

fn power_out(
    data: &Data,
    cell: &CellSpec,
    duration: usize,
    res: &PowerResult,
    opts: &PowerOptions,
) -> PowerOut {
    PowerOut {
        name: cell.name.clone(),
        treated: cell
            .treated
            .iter()
            .map(|&i| data.panel.units[i].clone())
            .collect(),
        duration,
        mde_pct: res.mde.map(|m| 100.0 * m),
        target_power: opts.target_power,
        alpha: opts.estimate.alpha,
        windows: res
            .windows
            .iter()
            .map(|&(s, e)| (data.keys[s].clone(), data.keys[e].clone()))
            .collect(),
        mean_scaled_l2_imbalance: res.mean_scaled_l2_imbalance,
        curve: res
            .curve
            .iter()
            .map(|p| CurveOut {
                effect_pct: 100.0 * p.effect,
                power: p.power,
                mean_lift_pct: p.mean_lift_pct,
            })
            .collect(),
    }
}

/// Run `homeseason geolift`: returns the text to print (the summary, or the JSON with `--json -`).
pub(crate) fn run(args: &GeoliftArgs) -> Result<String> {
    if args.tbr {
        return tbr_cmd::run(args);
    }
    let data = load(args)?;
    let opts = options(args, &data)?;
    let mut output = Output {
        input: args.input.display().to_string(),
        unit: args.unit.clone(),
        time: args.time.clone(),
        outcome: args.outcome.clone(),
        units: data.panel.units.len(),
        periods: data.panel.times,
        first_time: data.keys.first().cloned().unwrap_or_default(),
        last_time: data.keys.last().cloned().unwrap_or_default(),
        augment: args.augment.to_ascii_lowercase(),
        alpha: args.alpha,
        seed: args.seed,
        draws: args.draws,
        fixed_effects: !args.no_fixed_effects,
        permutations: match opts.permutations {
            Permutations::Iid { draws } => format!("single periods (i.i.d.), {draws} draws"),
            Permutations::Blocks { len, draws } => {
                format!("blocks of {len} periods, {draws} draws")
            }
            Permutations::Circular => "all circular shifts".to_owned(),
        },
        statistic: match opts.statistic {
            Statistic::AbsSum => "abs-sum",
            Statistic::SumAbs => "sum-abs",
        },
        dropped_units: data.fill.dropped.clone(),
        zero_filled: data.fill.zero_filled,
        cells: Vec::new(),
        pooled: None,
        power: Vec::new(),
    };
    let specs = cells(&data, args, !args.power)?;
    if args.power {
        let effects: Vec<f64> = if args.effects.is_empty() {
            (0..=25).map(|i| f64::from(i) / 100.0).collect()
        } else {
            args.effects.iter().map(|e| e / 100.0).collect()
        };
        let all_treated: Vec<usize> = specs.iter().flat_map(|c| c.treated.clone()).collect();
        for cell in &specs {
            let popts = PowerOptions {
                estimate: opts.clone(),
                windows: args.windows,
                target_power: args.target_power,
                exclude: all_treated
                    .iter()
                    .copied()
                    .filter(|u| !cell.treated.contains(u))
                    .collect(),
                ..PowerOptions::default()
            };
            for &d in &args.duration {
                let res = geolift::power(&data.panel, &cell.treated, d, &effects, &popts)
                    .with_context(|| format!("power of {:?}, duration {d}", cell.name))?;
                output.power.push(power_out(&data, cell, d, &res, &popts));
            }
        }
    } else {
        let results = geolift::estimate(&data.panel, &specs, &opts)?;
        if args.pool {
            output.pooled = geolift::combine(&results).map(|c: Combined| PooledOut {
                att: c.att,
                incremental: c.incremental,
                lift_pct: c.lift_pct,
                p_value: c.p_value,
                unit_periods: c.unit_periods,
            });
        }
        output.cells = results
            .iter()
            .map(|r| cell_out(&data, r, args.alpha))
            .collect();
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: {} units × {} periods ({} … {}), outcome {:?}",
        output.input,
        output.units,
        output.periods,
        output.first_time,
        output.last_time,
        output.outcome
    );
    if !output.cells.is_empty() {
        let _ = writeln!(
            text,
            "Test: permutations of {}, statistic {}",
            output.permutations,
            if output.statistic == "abs-sum" {
                "|Σu| (average effect)"
            } else {
                "Σ|u| (GeoLift's Total)"
            }
        );
    }
    if output.zero_filled > 0 {
        let _ = writeln!(
            text,
            "Warning: {} missing unit × period rows filled with 0 (--fill zero)",
            output.zero_filled
        );
    }
    if !output.dropped_units.is_empty() {
        let _ = writeln!(
            text,
            "Warning: {} unit(s) with gaps dropped (--fill drop): {}",
            output.dropped_units.len(),
            output.dropped_units.join(", ")
        );
    }
    for c in &output.cells {
        summary_cell(&mut text, c);
    }
    if let Some(p) = &output.pooled {
        let _ = writeln!(
            text,
            "\n=== Pooled over {} cells ===\nATT {} per unit and period, incremental {}, lift {}, Bonferroni p-value {:.4}",
            output.cells.len(),
            num(p.att),
            num(p.incremental),
            pct(p.lift_pct),
            p.p_value
        );
    }
    for p in &output.power {
        summary_power(&mut text, p);
    }
    answer(args.json.as_deref(), &output, text)
}

/// The command's answer: with `--json -` the JSON itself; with `--json FILE` the summary `text`,
/// after writing the JSON to FILE and saying where; else `text`.
fn answer(json: Option<&Path>, doc: &impl Serialize, mut text: String) -> Result<String> {
    match json {
        Some(path) if path.as_os_str() == "-" => Ok(serde_json::to_string_pretty(doc)? + "\n"),
        Some(path) => {
            std::fs::write(path, serde_json::to_vec_pretty(doc)?)
                .with_context(|| format!("writing {}", path.display()))?;
            let _ = writeln!(text, "\nJSON → {}", path.display());
            Ok(text)
        }
        None => Ok(text),
    }
}
