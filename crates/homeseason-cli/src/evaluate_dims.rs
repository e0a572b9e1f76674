//! `homeseason evaluate`, the dimensions of issue 18: the channel uplifts (`channel_uplift`) scored
//! against the generator's `truth_channels.csv` and the urban and rural uplifts
//! (`urban_rural_uplift`) against `truth_urban_rural.csv` (MAE, bias, coverage), per seed and
//! pooled; the urban/rural cells also by scope (national, region) and by the data floor.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use homeseason_lake::Lake;
use homeseason_metrics::tracking::{opt_floats_of, strings_of};
use homeseason_schema::campaign::Campaign;
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

/// One seed's urban/rural cells, scored: per region (and `000000`) × category × class × method of
/// the lake's `urban_rural_uplift` with a truth in `truth_urban_rural.csv`, the estimate, its
/// interval, the truth, the error, whether the interval holds the truth, and the class series'
/// support over the pre-period ([`homeseason_pipeline::dimensions::class_support`]: merchants on
/// its largest day, days with sales), with a `seed` column. Also written to the seed's folder as
/// `urban_rural_cells.csv`. Empty when the lake has no `urban_rural_uplift` (no area rows) or the
/// season no urban/rural truth.
pub(crate) fn urban_rural_scores(
    lake: &Lake,
    sample: &Path,
    seed: u64,
    campaign: &Campaign,
) -> Result<DataFrame> {
    let table = lake.read_table(tables::URBAN_RURAL_UPLIFT)?;
    let path = sample.join(homeseason_synth::TRUTH_URBAN_RURAL_FILE);
    if table.height() == 0 || !path.exists() {
        return Ok(DataFrame::empty());
    }
    let truth = crate::evaluate::read_truth(&path, &["region_code"])?;
    let area = lake.read_table(tables::PAYMENT_AREA_DAILY)?;
    let support = homeseason_pipeline::dimensions::class_support(
        &area,
        "urban_rural",
        campaign.baseline.pre_period,
        campaign,
    )?;
    let (mut keys, mut merchants, mut days) =
        ((Vec::new(), Vec::new(), Vec::new()), Vec::new(), Vec::new());
    for ((r, c, k), s) in &support {
        keys.0.push(r.clone());
        keys.1.push(c.clone());
        keys.2.push(k.clone());
        merchants.push(s.merchants);
        days.push(s.days);
    }
    let support = df!(
        "region_code" => keys.0,
        "category" => keys.1,
        "urban_rural" => keys.2,
        "merchants" => merchants,
        "days" => days,
    )?;
    let one = |class: &str| {
        table.clone().lazy().select([
            col("region_code"),
            col("category"),
            col("method"),
            lit(class).alias("urban_rural"),
            col(format!("{class}_uplift_pct")).alias("uplift_pct"),
            col(format!("{class}_lower_pct")).alias("lower_pct"),
            col(format!("{class}_upper_pct")).alias("upper_pct"),
        ])
    };
    let classes = homeseason_metrics::urban_rural::CLASSES;
    let key = [col("region_code"), col("category"), col("urban_rural")];
    let mut cells = concat([one(classes[0]), one(classes[1])], UnionArgs::default())?
        .filter(col("uplift_pct").is_not_null())
        .join(
            truth.lazy().select([
                col("region_code"),
                col("category"),
                col("urban_rural"),
                col("true_uplift_pct").cast(DataType::Float64),
            ]),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            support.lazy(),
            key.clone(),
            key,
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            lit(seed as i64).alias("seed"),
            when(col("region_code").eq(lit(homeseason_schema::region::NATIONAL)))
                .then(lit("national"))
                .otherwise(lit("region"))
                .alias("scope"),
            (col("uplift_pct") - col("true_uplift_pct")).alias("error_pp"),
            col("lower_pct")
                .lt_eq(col("true_uplift_pct"))
                .and(col("true_uplift_pct").lt_eq(col("upper_pct")))
                .fill_null(lit(false))
                .alias("covered"),
            col("merchants").fill_null(lit(0i64)),
            col("days").fill_null(lit(0i64)),
        ])
        .sort(
            ["region_code", "category", "urban_rural", "method"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    if let Some(dir) = sample.parent() {
        crate::evaluate::write_csv(&dir.join("urban_rural_cells.csv"), &mut cells)?;
    }
    Ok(cells)
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

/// The SCORES.md section of town and country from the scored cells of every seed
/// ([`urban_rural_scores`]): per class and method the pooled scores (as for the channels); per
/// method the national rows and the region rows at and above the data floor
/// ([`homeseason_metrics::urban_rural::FLOOR_MERCHANTS`], [`homeseason_metrics::urban_rural::FLOOR_DAYS`])
/// and below it; and the region rows above and below candidate floors (merchants alone, days with
/// sales alone), the evidence the floor was chosen on.
pub(crate) fn urban_rural_markdown(cells: &[DataFrame], level: f64) -> Result<String> {
    let Some(all) = stacked(cells)? else {
        return Ok(String::new());
    };
    let all = all.collect()?;
    let scores = all
        .clone()
        .lazy()
        .group_by([col("seed"), col("urban_rural"), col("method")])
        .agg(score_aggs())
        .collect()?;
    let intro = format!(
        "\n## Town and country (城乡, issue 18)\n\nThe urban/rural table (`urban_rural_uplift`: each class's uplift with the history methods, region and national × targeted category, from wallet_b's county-level transactions) against the injected effects (`truth_urban_rural.csv`: rural areas are lifted by k·u, k ~ U(0.4, 0.8), raised by 1.5 on the days of the region's countryside-sales events, urban areas by as much more that the cell's total is unchanged). MAE and bias in percentage points of the class's uplift %, coverage of the {:.0}% interval, pooled over seeds (cell-weighted). Each seed's folder keeps its scored cells (`urban_rural_cells.csv`, with each class series' support).\n",
        level * 100.0
    );
    let mut md = class_markdown(&[scores], "urban_rural", &intro)?;
    let (n, m) = (
        homeseason_metrics::urban_rural::FLOOR_MERCHANTS,
        homeseason_metrics::urban_rural::FLOOR_DAYS,
    );
    let _ = writeln!(
        md,
        "\n### Town and country: the data floor\n\nThe report and the workbook withhold a region × category class estimate whose class series holds fewer than {n} merchants on the pre-period's largest day or fewer than {m} pre-period days with sales (`homeseason_pipeline::dimensions::withhold_thin_classes`); national rows are always published. Both classes pooled:\n\n| method | rows | cells | MAE pp | bias pp | coverage |\n|---|---|---|---|---|---|"
    );
    let side = when(col("scope").eq(lit("national")))
        .then(lit("national"))
        .when(
            col("merchants")
                .gt_eq(lit(n))
                .and(col("days").gt_eq(lit(m))),
        )
        .then(lit(format!(
            "region, at or above the floor (≥ {n} merchants and ≥ {m} days)"
        )))
        .otherwise(lit("region, below the floor (withheld)"))
        .alias("side");
    let by_side = all
        .clone()
        .lazy()
        .with_column(side)
        .group_by([col("method"), col("side")])
        .agg(score_aggs())
        .sort(["method", "side"], SortMultipleOptions::default())
        .collect()?;
    write_rows(&mut md, &by_side, &["method", "side"])?;
    let _ = writeln!(
        md,
        "\nCandidate floors (region rows, both classes; merchants alone, then days with sales alone): cells, MAE and coverage below and at or above each.\n\n| method | floor | below: cells | MAE pp | coverage | at/above: cells | MAE pp | coverage |\n|---|---|---|---|---|---|---|---|"
    );
    let regions = all.clone().lazy().filter(col("scope").eq(lit("region")));
    let methods = ["prior_year", "two_year"];
    for method in methods {
        let rows = regions.clone().filter(col("method").eq(lit(method)));
        for (what, column, values) in [
            ("merchants", "merchants", &[2i64, 3, 5, 10, 20, 40][..]),
            ("days", "days", &[30i64, 45, 60, 75, 90][..]),
        ] {
            for &v in values {
                let part = |below: bool| -> Result<(f64, f64, f64)> {
                    let cond = if below {
                        col(column).lt(lit(v))
                    } else {
                        col(column).gt_eq(lit(v))
                    };
                    let f = rows
                        .clone()
                        .filter(cond)
                        .select([
                            col("error_pp")
                                .count()
                                .cast(DataType::Float64)
                                .alias("cells"),
                            col("error_pp").abs().mean().alias("mae"),
                            col("covered")
                                .cast(DataType::Float64)
                                .mean()
                                .alias("coverage"),
                        ])
                        .collect()?;
                    let g = |c: &str| -> Result<f64> {
                        Ok(f.column(c)?
                            .cast(&DataType::Float64)?
                            .f64()?
                            .get(0)
                            .unwrap_or(f64::NAN))
                    };
                    Ok((g("cells")?, g("mae")?, g("coverage")?))
                };
                let (b, a) = (part(true)?, part(false)?);
                let _ = writeln!(
                    md,
                    "| {method} | {what} ≥ {v} | {:.0} | {:.2} | {:.1}% | {:.0} | {:.2} | {:.1}% |",
                    b.0,
                    b.1,
                    100.0 * b.2,
                    a.0,
                    a.1,
                    100.0 * a.2
                );
            }
        }
    }
    Ok(md)
}

/// The score columns of a group of scored cells: `cells`, `mae_pp`, `bias_pp`, `coverage`, and
/// the seeds.
fn score_aggs() -> [Expr; 5] {
    [
        col("error_pp").count().cast(DataType::Int64).alias("cells"),
        col("error_pp").abs().mean().alias("mae_pp"),
        col("error_pp").mean().alias("bias_pp"),
        col("covered")
            .cast(DataType::Float64)
            .mean()
            .alias("coverage"),
        col("seed").n_unique().cast(DataType::Int64).alias("seeds"),
    ]
}

/// Rows of `frame` as Markdown table rows: the text columns `labels`, then `cells`, MAE, bias and
/// coverage.
fn write_rows(md: &mut String, frame: &DataFrame, labels: &[&str]) -> Result<()> {
    let texts: Vec<Vec<String>> = labels
        .iter()
        .map(|c| strings_of(frame, c))
        .collect::<PolarsResult<_>>()?;
    let (cells, mae, bias, cov) = (
        opt_floats_of(frame, "cells")?,
        opt_floats_of(frame, "mae_pp")?,
        opt_floats_of(frame, "bias_pp")?,
        opt_floats_of(frame, "coverage")?,
    );
    for i in 0..frame.height() {
        let label: Vec<&str> = texts.iter().map(|t| t[i].as_str()).collect();
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.2} | {:+.2} | {:.1}% |",
            label.join(" | "),
            cells[i].unwrap_or(0.0),
            mae[i].unwrap_or(f64::NAN),
            bias[i].unwrap_or(f64::NAN),
            100.0 * cov[i].unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// A pooled score table by class (`column`: `channel`, `urban_rural`) and method under `intro`;
/// empty when no seed has scores.
fn class_markdown(scores: &[DataFrame], column: &str, intro: &str) -> Result<String> {
    let Some(stack) = stacked(scores)? else {
        return Ok(String::new());
    };
    let w = |c: &str| {
        (col(c) * col("cells").cast(DataType::Float64)).sum()
            / col("cells").sum().cast(DataType::Float64)
    };
    let pooled = stack
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
    let f = |c: &str| opt_floats_of(&pooled, c);
    let (class, method) = (strings_of(&pooled, column)?, strings_of(&pooled, "method")?);
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
            class[i],
            method[i],
            seeds[i].unwrap_or(0.0),
            cells[i].unwrap_or(0.0),
            mae[i].unwrap_or(f64::NAN),
            bias[i].unwrap_or(f64::NAN),
            100.0 * cov[i].unwrap_or(f64::NAN)
        );
    }
    Ok(md)
}

/// The frames of `frames` that hold rows, stacked; `None` when none does.
fn stacked(frames: &[DataFrame]) -> Result<Option<LazyFrame>> {
    let lazy: Vec<LazyFrame> = frames
        .iter()
        .filter(|f| f.height() > 0)
        .map(|f| f.clone().lazy())
        .collect();
    if lazy.is_empty() {
        return Ok(None);
    }
    Ok(Some(concat(lazy, UnionArgs::default())?))
}
