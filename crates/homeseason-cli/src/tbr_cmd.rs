//! `homeseason geolift --tbr`: time-based regression (google/matched_markets' TBR) for a two-group
//! geo experiment, with an optional cost column and the iROAS
//! ([`homeseason_stats::tbr::tbr`]).
//!
//! The long panel (`unit, time, outcome[, cost]`) is summed per group and period. The treatment
//! group is `--treated` (or group 2 of `--assignment`), the control group every other unit (or
//! group 1 of `--assignment`); the test period is `--start … --end`, the pre-period every earlier
//! period from `--pre-start` (default: the first).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};
use homeseason_stats::tbr::{GroupSeries, Tails, TbrEffect, TbrOptions, tbr};
use polars::prelude::*;
use serde_json::json;

use super::{GeoliftArgs, read_frame};

/// Unit → group (1 control, 2 treatment) from a two-column CSV such as matched_markets'
/// `geoassignment.csv` (`"geo","geo.group"`).
fn assignment(path: &std::path::Path) -> Result<HashMap<String, i64>> {
    let df = crate::impact_cmd::read_csv(path, &[])?;
    if df.width() < 2 {
        bail!("{}: expected two columns, unit and group", path.display());
    }
    let units = df
        .select_at_idx(0)
        .context("unit column")?
        .cast(&DataType::String)?;
    let groups = df
        .select_at_idx(1)
        .context("group column")?
        .cast(&DataType::Int64)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{}: the group column must be 1 or 2", path.display()))?;
    let mut out = HashMap::new();
    for (u, g) in units.str()?.iter().zip(groups.i64()?.iter()) {
        if let (Some(u), Some(g)) = (u, g) {
            if !(g == 1 || g == 2) {
                bail!(
                    "{}: group of {u:?} is {g}; expected 1 (control) or 2 (treatment)",
                    path.display()
                );
            }
            out.insert(u.trim().to_owned(), g);
        }
    }
    Ok(out)
}

fn effect_json(e: &TbrEffect) -> serde_json::Value {
    let finite = |x: f64| if x.is_finite() { json!(x) } else { json!(null) };
    json!({
        "estimate": e.estimate,
        "lower": finite(e.lower),
        "upper": finite(e.upper),
        "scale": e.scale,
        "p_value": e.p_value,
        "effect_sign": e.sign,
        "observed": e.observed,
        "counterfactual": e.counterfactual,
        "relative_lift": e.relative_lift,
        "relative_lift_lower": finite(e.relative_lift_lower),
        "relative_lift_upper": finite(e.relative_lift_upper),
        "model": {
            "intercept": e.model.intercept,
            "slope": e.model.slope,
            "sigma": e.model.sigma,
            "df": e.model.df,
            "r_squared": e.model.r_squared,
        },
    })
}

fn bound(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else if x > 0.0 {
        "∞".to_owned()
    } else {
        "−∞".to_owned()
    }
}

/// Run the TBR analysis: the text to print (or the JSON with `--json -`).
pub(crate) fn run(args: &GeoliftArgs) -> Result<String> {
    let df = read_frame(&args.input, &[args.unit.as_str()])?;
    let units = df
        .column(&args.unit)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("--unit column {:?} is not in the file", args.unit))?
        .cast(&DataType::String)?;
    let times = df
        .column(&args.time)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("--time column {:?} is not in the file", args.time))?
        .cast(&DataType::String)?;
    let outcome = df
        .column(&args.outcome)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("--outcome column {:?} is not in the file", args.outcome))?
        .cast(&DataType::Float64)?;
    let cost = match &args.cost {
        Some(c) => Some(
            df.column(c)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("--cost column {c:?} is not in the file"))?
                .cast(&DataType::Float64)?,
        ),
        None => None,
    };
    let groups: HashMap<String, i64> = match &args.assignment {
        Some(path) => assignment(path)?,
        None => {
            if args.treated.is_empty() {
                bail!("--tbr needs the treatment group: --treated a,b or --assignment FILE");
            }
            let treated: Vec<String> = args.treated.iter().map(|s| s.trim().to_owned()).collect();
            let mut g = HashMap::new();
            for u in units.str()?.iter().flatten() {
                let u = u.trim();
                g.insert(
                    u.to_owned(),
                    if treated.iter().any(|t| t == u) { 2 } else { 1 },
                );
            }
            for t in &treated {
                if !g.contains_key(t) {
                    bail!("--treated unit {t:?} is not in {}", args.input.display());
                }
            }
            g
        }
    };
    // time → [control outcome, treatment outcome, control cost, treatment cost]
    let mut sums: BTreeMap<String, [f64; 4]> = BTreeMap::new();
    let (units, times, outcome) = (units.str()?, times.str()?, outcome.f64()?);
    let cost_values = cost.as_ref().map(|c| c.f64()).transpose()?;
    let mut unassigned = 0usize;
    for i in 0..df.height() {
        let (Some(u), Some(t)) = (units.get(i), times.get(i)) else {
            bail!("row {}: empty unit or time", i + 2);
        };
        let Some(&g) = groups.get(u.trim()) else {
            unassigned += 1;
            continue;
        };
        let k = usize::from(g == 2);
        let e = sums.entry(t.trim().to_owned()).or_default();
        e[k] += outcome
            .get(i)
            .with_context(|| format!("row {}: empty outcome", i + 2))?;
        if let Some(c) = &cost_values {
            e[2 + k] += c.get(i).unwrap_or(0.0);
        }
    }
    let keys: Vec<String> = sums.keys().cloned().collect();
    let index = |t: &str, flag: &str| -> Result<usize> {
        let t = t.trim();
        keys.iter().position(|k| k == t).with_context(|| {
            format!(
                "{flag} {t:?} is not a time in the data ({} … {})",
                keys.first().map_or("", String::as_str),
                keys.last().map_or("", String::as_str)
            )
        })
    };
    let start = index(
        args.start
            .as_deref()
            .context("--tbr needs --start (first test period)")?,
        "--start",
    )?;
    let end = match args.end.as_deref() {
        Some(e) => index(e, "--end")?,
        None => keys.len() - 1,
    };
    let pre_start = match args.pre_start.as_deref() {
        Some(p) => index(p, "--pre-start")?,
        None => 0,
    };
    if !(pre_start < start && start <= end) {
        bail!("--pre-start, --start and --end must be in order with at least one pre-period");
    }
    let col = |j: usize| sums.values().map(|v| v[j]).collect::<Vec<f64>>();
    let response = GroupSeries::new(col(0), col(1))?;
    let cost_series = match cost {
        Some(_) => Some(GroupSeries::new(col(2), col(3))?),
        None => None,
    };
    let opts = TbrOptions {
        level: 1.0 - args.alpha,
        tails: if args.two_sided_interval {
            Tails::Two
        } else {
            Tails::One
        },
        seed: args.seed,
        ..TbrOptions::default()
    };
    let r = tbr(
        &response,
        cost_series.as_ref(),
        pre_start..start,
        start..end + 1,
        &opts,
    )
    .context("time-based regression")?;
    let n_control = groups.values().filter(|g| **g == 1).count();
    let n_treated = groups.values().filter(|g| **g == 2).count();
    let level = (opts.level * 100.0).round();
    let sided = if opts.tails == Tails::One {
        "one-sided lower bound"
    } else {
        "two-sided interval"
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: time-based regression (TBR), {n_treated} treatment and {n_control} control units; pre-period {} … {} ({} periods), test {} … {} ({} periods)",
        args.input.display(),
        keys[pre_start],
        keys[start - 1],
        start - pre_start,
        keys[start],
        keys[end],
        end + 1 - start
    );
    if unassigned > 0 {
        let _ = writeln!(
            text,
            "Warning: {unassigned} rows of units in neither group ignored"
        );
    }
    let m = &r.response.model;
    let _ = writeln!(
        text,
        "Pre-period model: treatment = {:.4} + {:.6} × control (σ {:.4}, R² {:.4}, {} df)",
        m.intercept, m.slope, m.sigma, m.r_squared, m.df
    );
    let e = &r.response;
    let _ = writeln!(
        text,
        "Incremental {}: {:.3}   {level}% {sided} [{}, {}]",
        args.outcome,
        e.estimate,
        bound(e.lower),
        bound(e.upper)
    );
    let _ = writeln!(
        text,
        "Relative lift: {:.2}%   [{}, {}]",
        100.0 * e.relative_lift,
        bound(100.0 * e.relative_lift_lower),
        bound(100.0 * e.relative_lift_upper)
    );
    let _ = writeln!(
        text,
        "p-value (two-sided, no effect): {:.4}   effect {}",
        e.p_value,
        match e.sign {
            1 => "positive",
            -1 => "negative",
            _ => "zero",
        }
    );
    if let (Some(c), Some(i)) = (&r.cost, &r.iroas) {
        let _ = writeln!(
            text,
            "Incremental cost: {:.3} ({})",
            c.estimate,
            if i.fixed_cost {
                "fixed cost: spend only in the treatment group during the test"
            } else {
                "variable cost, estimated by the same regression"
            }
        );
        let _ = writeln!(
            text,
            "iROAS: {:.6}   {level}% {sided} [{}, {}]",
            i.estimate,
            if i.lower.is_finite() {
                format!("{:.6}", i.lower)
            } else {
                bound(i.lower)
            },
            if i.upper.is_finite() {
                format!("{:.6}", i.upper)
            } else {
                bound(i.upper)
            }
        );
    } else if r.cost.is_some() {
        let _ = writeln!(text, "Incremental cost is zero: no iROAS");
    }
    let doc = json!({
        "method": "tbr",
        "input": args.input.display().to_string(),
        "treatment_units": n_treated,
        "control_units": n_control,
        "pre_period": [keys[pre_start].clone(), keys[start - 1].clone()],
        "test_period": [keys[start].clone(), keys[end].clone()],
        "level": opts.level,
        "tails": if opts.tails == Tails::One { 1 } else { 2 },
        "response": effect_json(&r.response),
        "cost": r.cost.as_ref().map(effect_json),
        "iroas": r.iroas.as_ref().map(|i| json!({
            "estimate": i.estimate,
            "lower": if i.lower.is_finite() { json!(i.lower) } else { json!(null) },
            "upper": if i.upper.is_finite() { json!(i.upper) } else { json!(null) },
            "fixed_cost": i.fixed_cost,
            "incremental_cost": i.incremental_cost,
        })),
    });
    super::answer(args.json.as_deref(), &doc, text)
}
