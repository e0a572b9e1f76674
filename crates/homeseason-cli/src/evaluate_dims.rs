//! `homeseason evaluate`, the dimensions of issue 18: the channel uplifts (`channel_uplift`) scored
//! against the generator's `truth_channels.csv` and the urban and rural uplifts
//! (`urban_rural_uplift`) against `truth_urban_rural.csv` (MAE, bias, coverage), per seed and
//! pooled.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use homeseason_lake::Lake;
use homeseason_schema::contract::tables;
use polars::prelude::*;

/// One seed's channel scores ([`homeseason_metrics::channel::score_channels`]) with a `seed`
/// column; empty when the lake has no `channel_uplift` or the season no channel truth.
pub(crate) fn channel_scores(lake: &Lake, sample: &Path, seed: u64) -> Result<DataFrame> {
    let table = lake.read_table(tables::CHANNEL_UPLIFT)?;
    let path = sample.join(homeseason_synth::TRUTH_CHANNELS_FILE);
    if table.height() == 0 || !path.exists() {
        return Ok(DataFrame::empty());
    }
    let truth = crate::evaluate::read_truth(&path, &["region_code"])?;
    Ok(homeseason_metrics::channel::score_channels(&table, &truth)?
        .lazy()
        .with_column(lit(seed as i64).alias("seed"))
        .collect()?)
}

/// One seed's urban/rural scores ([`homeseason_metrics::urban_rural::score_urban_rural`]) with a
/// `seed` column; empty when the lake has no `urban_rural_uplift` (no area rows) or the season no
/// urban/rural truth.
pub(crate) fn urban_rural_scores(lake: &Lake, sample: &Path, seed: u64) -> Result<DataFrame> {
    let table = lake.read_table(tables::URBAN_RURAL_UPLIFT)?;
    let path = sample.join(homeseason_synth::TRUTH_URBAN_RURAL_FILE);
    if table.height() == 0 || !path.exists() {
        return Ok(DataFrame::empty());
    }
    let truth = crate::evaluate::read_truth(&path, &["region_code"])?;
    let scores = homeseason_metrics::urban_rural::score_urban_rural(&table, &truth)?;
    if scores.height() == 0 {
        return Ok(scores);
    }
    Ok(scores
        .lazy()
        .with_column(lit(seed as i64).alias("seed"))
        .collect()?)
}

/// The SCORES.md section of the channels: per channel and method, cells, MAE, bias and coverage
/// pooled over the seeds (cell-weighted), at the campaign's interval level.
pub(crate) fn channel_markdown(scores: &[DataFrame], level: f64) -> Result<String> {
    let intro = format!(
        "\n## Online and offline (线上线下, issue 18)\n\nThe channel table (`channel_uplift`: each channel's uplift with the history methods, region and national × targeted category) against the injected channel effects (`truth_channels.csv`: the campaign lifts the online part by k·u, k ~ U(1.2, 1.6), and the offline part by as much less that the cell's total is unchanged). MAE and bias in percentage points of the channel's uplift %, coverage of the {:.0}% interval, pooled over seeds (cell-weighted).\n",
        level * 100.0
    );
    class_markdown(scores, "channel", &intro)
}

/// The SCORES.md section of town and country: per class and method, cells, MAE, bias and coverage
/// pooled over the seeds (cell-weighted), at the campaign's interval level.
pub(crate) fn urban_rural_markdown(scores: &[DataFrame], level: f64) -> Result<String> {
    let intro = format!(
        "\n## Town and country (城乡, issue 18)\n\nThe urban/rural table (`urban_rural_uplift`: each class's uplift with the history methods, region and national × targeted category, from wallet_b's county-level transactions) against the injected effects (`truth_urban_rural.csv`: rural areas are lifted by k·u, k ~ U(0.4, 0.8), raised by 1.5 on the days of the region's countryside-sales events, urban areas by as much more that the cell's total is unchanged). MAE and bias in percentage points of the class's uplift %, coverage of the {:.0}% interval, pooled over seeds (cell-weighted).\n",
        level * 100.0
    );
    class_markdown(scores, "urban_rural", &intro)
}

/// A pooled score table by class (`column`: `channel`, `urban_rural`) and method under `intro`;
/// empty when no seed has scores.
fn class_markdown(scores: &[DataFrame], column: &str, intro: &str) -> Result<String> {
    let frames: Vec<LazyFrame> = scores
        .iter()
        .filter(|f| f.height() > 0)
        .map(|f| f.clone().lazy())
        .collect();
    if frames.is_empty() {
        return Ok(String::new());
    }
    let w = |c: &str| {
        (col(c) * col("cells").cast(DataType::Float64)).sum()
            / col("cells").sum().cast(DataType::Float64)
    };
    let pooled = concat(frames, UnionArgs::default())?
        .group_by([col(column), col("method")])
        .agg([
            col("cells").sum().alias("cells_total"),
            w("mae_pp").alias("mae_pp"),
            w("bias_pp").alias("bias_pp"),
            w("coverage").alias("coverage"),
            col("seed").n_unique().alias("seeds"),
        ])
        .sort([column, "method"], SortMultipleOptions::default())
        .collect()?;
    let mut md = String::new();
    let _ = writeln!(md, "{intro}");
    let _ = writeln!(
        md,
        "| {} | method | seeds | cells | MAE pp | bias pp | coverage |\n|---|---|---|---|---|---|---|",
        if column == "channel" {
            "channel"
        } else {
            "class"
        }
    );
    let s = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(pooled
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let f = |c: &str| -> Result<Vec<Option<f64>>> {
        Ok(pooled
            .column(c)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (class, method) = (s(column)?, s("method")?);
    let (seeds, cells, mae, bias, cov) = (
        f("seeds")?,
        f("cells_total")?,
        f("mae_pp")?,
        f("bias_pp")?,
        f("coverage")?,
    );
    for i in 0..pooled.height() {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:+.2} | {:.1}% |",
            class[i].as_deref().unwrap_or(""),
            method[i].as_deref().unwrap_or(""),
            seeds[i].unwrap_or(0.0),
            cells[i].unwrap_or(0.0),
            mae[i].unwrap_or(f64::NAN),
            bias[i].unwrap_or(f64::NAN),
            100.0 * cov[i].unwrap_or(f64::NAN)
        );
    }
    Ok(md)
}
