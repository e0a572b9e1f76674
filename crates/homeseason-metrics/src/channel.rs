//! Online and offline (线上线下): the uplift of each sales channel and the change of the online
//! share, per region × category and nationally (the `channel_uplift` table).
//!
//! ## What is estimated
//! `payment_daily` carries a `channel` (online / offline) on every row. For each channel the lake's
//! rows of that channel alone go through [`crate::daily_series`] (so the national `000000` and the
//! `all_targeted` sums are the same sums as the headline's, over one channel) and the two history
//! methods, `prior_year` and `two_year` ([`crate::uplift`], formulas in the crate docs), estimate the
//! channel's uplift over the campaign window with its interval and p-value. A cell with no online
//! sales (building materials in the sample season) has no online figures.
//!
//! **Why the history methods only, and the cost.** Their interval is a closed-form normal per cell
//! (the AR(1) residuals' weighted sum, [`crate::uplift`]); the counterfactual regression refits a model with covariates per cell (several times the cost)
//! and its controls (supermarkets, restaurants, fuel) are almost wholly offline, so they would not
//! describe the online series' economy anyway. No placebo window and no backtest are run per
//! channel. (Measured when the history methods still simulated 999 paths — sample season, debug
//! build, `homeseason evaluate --seeds 1` — the channel step took 5.1 s of a 56.9 s estimate; their
//! closed form since removes the simulation.) The channel rows carry the methods' nominal
//! intervals (no backtest calibration; the report says so).
//!
//! ## The online share
//! With `A` the window's actual and `B` the method's baseline of each channel, the window's online
//! share is `s = A_on / (A_on + A_off)` and the share without the campaign (the counterfactual
//! share) `s₀ = B_on / (B_on + B_off)`; `online_share_change_pp = 100 · (s − s₀)`. Its interval: each
//! channel's counterfactual `C = A / (1 + pct/100)` has, from its own interval, a log-scale standard
//! error `σ = (ln(1 + upper/100) − ln(1 + lower/100)) / (2 z)` (z the normal quantile of the level);
//! `logit s₀ = ln C_on − ln C_off` then has `σ² = σ_on² + σ_off² − 2ρ σ_on σ_off`, ρ the
//! correlation of the two channels' daily log residuals `ln(actual / baseline)` over the
//! pre-period (from each channel's `baseline_daily`; 0 with fewer than 14 common days), and the
//! interval is `100 · (s − logistic(logit s₀ ± z σ))`. Shocks both channels share (the region's
//! economy, a distorted comparison year) cancel in the share; ρ carries the day-to-day part of
//! that, the same correlation assumed for the window's total error.
//!
//! ## Suppression
//! The lake's table holds every figure; what is published (the report, the workbook) blanks channel
//! figures the small-cell suppression of the dashboard copies would give away — see
//! `homeseason_pipeline::dimensions::published_channels`.

use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::uplift::{Method, UpliftOptions, uplift};
use crate::{Result, daily_series};

/// The channels of `payment_daily`, in table order.
pub const CHANNELS: [&str; 2] = ["online", "offline"];

/// The methods run per channel (see the module docs for why only these).
pub const CHANNEL_METHODS: [Method; 2] = [Method::PriorYear, Method::TwoYear];

/// The per-channel figures taken from each channel's uplift rows, prefixed with the channel.
const FIGURES: [&str; 7] = [
    "actual_yuan",
    "baseline_yuan",
    "uplift_pct",
    "lower_pct",
    "upper_pct",
    "p_value",
    "effect_sign",
];

/// The columns that identify a row of `channel_uplift`.
const KEYS: [&str; 7] = [
    "campaign_id",
    "region_code",
    "region_name_zh",
    "category",
    "method",
    "window_start",
    "window_end",
];

/// The `channel_uplift` table from the lake's `payment_daily`: one row per region (and `000000`) ×
/// targeted category (and `all_targeted`) × history method, with each channel's uplift and the
/// online share's change (module docs). `opts` gives the level and seed; its placebo
/// and diagnostics are not used.
///
/// # Errors
/// When `payment_daily` lacks its columns.
pub fn channel_uplift(
    payment_daily: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let opts = UpliftOptions {
        placebo: None,
        diagnostics: false,
        ..opts.clone()
    };
    let mut per_channel: Vec<LazyFrame> = Vec::new();
    let mut residuals: Vec<LazyFrame> = Vec::new();
    for channel in CHANNELS {
        let rows = payment_daily
            .clone()
            .lazy()
            .filter(col("channel").eq(lit(channel)));
        let series = daily_series(rows, campaign)?;
        let frame = if series.height() == 0 {
            None
        } else {
            let result = uplift(&series, campaign, &CHANNEL_METHODS, &opts)?;
            residuals.push(pre_period_residuals(
                &result.baseline_daily,
                campaign,
                channel,
            ));
            (result.uplift.height() > 0).then_some(result.uplift)
        };
        let mut select: Vec<Expr> = KEYS.iter().map(|k| col(*k)).collect();
        select.extend(
            FIGURES
                .iter()
                .map(|f| col(*f).alias(format!("{channel}_{f}"))),
        );
        per_channel.push(match frame {
            Some(f) => f
                .lazy()
                .filter(col("window_kind").eq(lit("campaign")))
                .select(select),
            None => empty_channel(channel)?.lazy(),
        });
    }
    let keys: Vec<Expr> = KEYS.iter().map(|k| col(*k)).collect();
    let mut it = per_channel.into_iter();
    let (online, offline) = (
        it.next().expect("two channels"),
        it.next().expect("two channels"),
    );
    let joined = online
        .join(
            offline,
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_column(lit(opts.level).alias("level"));
    // The two channels' pre-period residual correlation per cell and method (none: 0).
    let cell = [col("region_code"), col("category"), col("method")];
    let joined = if residuals.len() == 2 {
        let mut r = residuals.into_iter();
        let (on, off) = (r.next().expect("two"), r.next().expect("two"));
        let mut day = cell.to_vec();
        day.push(col("date"));
        let days = on
            .join(off, day.clone(), day, JoinArgs::new(JoinType::Inner))
            .collect()?;
        let corr = correlations(&days)?.lazy();
        joined.join(corr, cell.clone(), cell, JoinArgs::new(JoinType::Left))
    } else {
        joined.with_column(lit(NULL).cast(DataType::Float64).alias(RHO))
    };
    let joined = joined
        .sort(
            ["region_code", "category", "method"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    with_share(joined, opts.level)
}

/// The helper column of the residual correlation (dropped from the output).
const RHO: &str = "__rho";

/// `actual / baseline` of each day of the pre-period in `baseline_daily` (one channel's), named
/// `<channel>_e`, with the cell, method and date ([`correlations`] takes its log).
fn pre_period_residuals(
    baseline_daily: &DataFrame,
    campaign: &Campaign,
    channel: &str,
) -> LazyFrame {
    baseline_daily
        .clone()
        .lazy()
        .filter(
            col("date")
                .lt(lit(campaign.window.start))
                .and(col("actual_yuan").gt(lit(0.0)))
                .and(col("baseline_yuan").gt(lit(0.0))),
        )
        .select([
            col("region_code"),
            col("category"),
            col("method"),
            col("date"),
            (col("actual_yuan") / col("baseline_yuan")).alias(format!("{channel}_e")),
        ])
}

/// Per region × category × method of `days` (the two channels' pre-period `online_e`,
/// `offline_e` ratios on their common days), the Pearson correlation of their logs, named [`RHO`]
/// (absent with fewer than 14 days or no variance).
fn correlations(days: &DataFrame) -> Result<DataFrame> {
    let text = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(days
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let num = |c: &str| -> Result<Vec<Option<f64>>> {
        Ok(days
            .column(c)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (region, category, method) = (text("region_code")?, text("category")?, text("method")?);
    let (on, off) = (num("online_e")?, num("offline_e")?);
    // n, Σx, Σy, Σx², Σy², Σxy per cell.
    let mut sums: std::collections::BTreeMap<(String, String, String), [f64; 6]> =
        std::collections::BTreeMap::new();
    for i in 0..days.height() {
        let (Some(r), Some(c), Some(m), Some(a), Some(b)) = (
            region[i].clone(),
            category[i].clone(),
            method[i].clone(),
            on[i],
            off[i],
        ) else {
            continue;
        };
        if a <= 0.0 || b <= 0.0 {
            continue;
        }
        let (x, y) = (a.ln(), b.ln());
        let s = sums.entry((r, c, m)).or_insert([0.0; 6]);
        s[0] += 1.0;
        s[1] += x;
        s[2] += y;
        s[3] += x * x;
        s[4] += y * y;
        s[5] += x * y;
    }
    let (mut rr, mut cc, mut mm, mut rho) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((r, c, m), s) in sums {
        let n = s[0];
        let (sxx, syy, sxy) = (
            s[3] - s[1] * s[1] / n,
            s[4] - s[2] * s[2] / n,
            s[5] - s[1] * s[2] / n,
        );
        if n >= 14.0 && sxx > 0.0 && syy > 0.0 {
            rr.push(r);
            cc.push(c);
            mm.push(m);
            rho.push(sxy / (sxx * syy).sqrt());
        }
    }
    Ok(df!(
        "region_code" => rr,
        "category" => cc,
        "method" => mm,
        RHO => rho,
    )?)
}

/// An empty frame with the key columns and one channel's figures (a channel with no rows).
fn empty_channel(channel: &str) -> Result<DataFrame> {
    let mut cols: Vec<Column> = KEYS[..5]
        .iter()
        .map(|k| Column::new((*k).into(), Vec::<String>::new()))
        .collect();
    for k in &KEYS[5..] {
        cols.push(Column::new((*k).into(), Vec::<i32>::new()).cast(&DataType::Date)?);
    }
    for f in FIGURES {
        let name = format!("{channel}_{f}");
        cols.push(if f == "effect_sign" {
            Column::new(name.into(), Vec::<i64>::new())
        } else {
            Column::new(name.into(), Vec::<f64>::new())
        });
    }
    Ok(DataFrame::new(0, cols)?)
}

/// Add the online share columns (module docs) to the joined channel rows.
fn with_share(frame: DataFrame, level: f64) -> Result<DataFrame> {
    let z = homeseason_stats::numeric::normal_quantile(0.5 + level / 2.0);
    let get = |c: &str| -> Result<Vec<Option<f64>>> {
        Ok(frame
            .column(c)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (a_on, b_on, lo_on, hi_on) = (
        get("online_actual_yuan")?,
        get("online_baseline_yuan")?,
        get("online_lower_pct")?,
        get("online_upper_pct")?,
    );
    let (a_off, b_off, lo_off, hi_off) = (
        get("offline_actual_yuan")?,
        get("offline_baseline_yuan")?,
        get("offline_lower_pct")?,
        get("offline_upper_pct")?,
    );
    let rho = get(RHO)?;
    let n = frame.height();
    let (mut share, mut share0, mut change, mut lower, mut upper) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in 0..n {
        let s = share_change(
            (a_on[i], b_on[i], lo_on[i], hi_on[i]),
            (a_off[i], b_off[i], lo_off[i], hi_off[i]),
            z,
            rho[i].unwrap_or(0.0),
        );
        share.push(s.map(|s| s.0));
        share0.push(s.map(|s| s.1));
        change.push(s.map(|s| s.2));
        lower.push(s.map(|s| s.3));
        upper.push(s.map(|s| s.4));
    }
    let mut out = frame.drop(RHO)?;
    for (name, values) in [
        ("online_share_pct", share),
        ("online_share_baseline_pct", share0),
        ("online_share_change_pp", change),
        ("online_share_change_lower_pp", lower),
        ("online_share_change_upper_pp", upper),
    ] {
        out.with_column(Column::new(name.into(), values))?;
    }
    Ok(out)
}

/// One channel's window figures: actual, baseline, lower and upper bound of its uplift (%).
type ChannelFigures = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);

/// The window's online share (%), the counterfactual share (%), their difference (points) and the
/// difference's bounds (points), from the two channels' figures; `None` when either channel lacks
/// a figure or a total is not positive.
fn share_change(
    online: ChannelFigures,
    offline: ChannelFigures,
    z: f64,
    rho: f64,
) -> Option<(f64, f64, f64, f64, f64)> {
    let (Some(a_on), Some(b_on), Some(lo_on), Some(hi_on)) = online else {
        return None;
    };
    let (Some(a_off), Some(b_off), Some(lo_off), Some(hi_off)) = offline else {
        return None;
    };
    if a_on + a_off <= 0.0 || b_on <= 0.0 || b_off <= 0.0 || z <= 0.0 {
        return None;
    }
    let log_se = |lo: f64, hi: f64| {
        let (l, h) = (1.0 + lo / 100.0, 1.0 + hi / 100.0);
        if l > 0.0 && h > 0.0 {
            Some((h.ln() - l.ln()).abs() / (2.0 * z))
        } else {
            None
        }
    };
    let (se_on, se_off) = (log_se(lo_on, hi_on)?, log_se(lo_off, hi_off)?);
    let rho = if rho.is_finite() {
        rho.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let sd = (se_on * se_on + se_off * se_off - 2.0 * rho * se_on * se_off)
        .max(0.0)
        .sqrt();
    let s = a_on / (a_on + a_off);
    let logit0 = b_on.ln() - b_off.ln();
    let logistic = |x: f64| 1.0 / (1.0 + (-x).exp());
    let s0 = logistic(logit0);
    // A higher counterfactual share gives a lower change: the bounds swap.
    let (s0_lo, s0_hi) = (logistic(logit0 - z * sd), logistic(logit0 + z * sd));
    Some((
        100.0 * s,
        100.0 * s0,
        100.0 * (s - s0),
        100.0 * (s - s0_hi),
        100.0 * (s - s0_lo),
    ))
}

/// `channel_uplift` as one row per region × category × method × channel with the `uplift` table's
/// column names (`uplift_pct`, `lower_pct`, `upper_pct`, `window_kind = campaign`) and the category
/// written `category/channel`, so [`crate::score::score`] scores each channel's cells against a
/// truth keyed the same way (the generator's `truth_channels.csv`).
///
/// # Errors
/// When a column is missing.
pub fn channel_rows_for_scoring(channel_uplift: &DataFrame) -> Result<DataFrame> {
    let one = |channel: &str| {
        channel_uplift
            .clone()
            .lazy()
            .filter(col(format!("{channel}_uplift_pct")).is_not_null())
            .select([
                col("region_code"),
                concat_str([col("category"), lit(channel)], "/", false).alias("category"),
                col("method"),
                lit("campaign").alias("window_kind"),
                col(format!("{channel}_uplift_pct")).alias("uplift_pct"),
                col(format!("{channel}_lower_pct")).alias("lower_pct"),
                col(format!("{channel}_upper_pct")).alias("upper_pct"),
            ])
    };
    Ok(concat([one(CHANNELS[0]), one(CHANNELS[1])], UnionArgs::default())?.collect()?)
}

/// Score `channel_uplift` against a channel truth (`region_code, category, channel,
/// true_uplift_pct`, the generator's `truth_channels.csv`): per channel and method, the
/// [`crate::score::score`] columns (`cells`, `mae_pp`, `bias_pp`, `coverage`), national rows
/// included where the truth has them.
///
/// # Errors
/// When a column is missing.
pub fn score_channels(channel_uplift: &DataFrame, truth: &DataFrame) -> Result<DataFrame> {
    let rows = channel_rows_for_scoring(channel_uplift)?;
    let mut out = Vec::new();
    for channel in CHANNELS {
        let truth = truth
            .clone()
            .lazy()
            .filter(col("channel").eq(lit(channel)))
            .select([
                col("region_code"),
                concat_str([col("category"), col("channel")], "/", false).alias("category"),
                col("true_uplift_pct"),
            ])
            .collect()?;
        out.push(
            crate::score::score(&rows, &truth)?
                .lazy()
                .with_column(lit(channel).alias("channel")),
        );
    }
    Ok(concat(out, UnionArgs::default())?.collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::f;
    use chrono::{Datelike, NaiveDate};

    /// `payment_daily`-like rows for one region and category, 2021–2023: the online part grows by
    /// `on` and the offline part by `off` in the window; online is 30 % of the value otherwise.
    fn daily(on: f64, off: f64) -> DataFrame {
        let (mut r, mut c, mut ch, mut d, mut v) = (vec![], vec![], vec![], vec![], vec![]);
        let campaign = Campaign::default_2023();
        let start = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        for (i, day) in start
            .iter_days()
            .take_while(|x| x.year() <= 2023)
            .enumerate()
        {
            let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
            let base = 1000.0 * 1.05f64.powf(i as f64 / 365.0) * if weekend { 1.3 } else { 1.0 };
            let inside = campaign.window.contains(day);
            // Each channel its own noise pattern (±1 %), so their residuals are not identical.
            let noise = [
                1.0 + 0.02 * ((i * 7919 % 101) as f64 / 101.0 - 0.5),
                1.0 + 0.02 * ((i * 104_729 % 97) as f64 / 97.0 - 0.5),
            ];
            for (k, (channel, part, effect)) in [("online", 0.3, on), ("offline", 0.7, off)]
                .into_iter()
                .enumerate()
            {
                r.push("330000");
                c.push("home_appliances");
                ch.push(channel);
                d.push(day);
                v.push(base * noise[k] * part * if inside { 1.0 + effect } else { 1.0 });
            }
        }
        df!("region_code" => r, "category" => c, "channel" => ch, "date" => d,
            "net_amount_yuan" => v)
        .unwrap()
    }

    fn options() -> (Campaign, UpliftOptions) {
        let campaign = Campaign::default_2023();
        let opts = UpliftOptions::from_campaign(&campaign);
        (campaign, opts)
    }

    /// Each channel's own effect is recovered inside its interval, and the online share's change is
    /// the known one: 30 % online, +20 % online and +5 % offline → 33.96 % (+3.96 points).
    #[test]
    fn recovers_each_channels_effect_and_the_share_change() {
        let (campaign, opts) = options();
        let out = channel_uplift(&daily(0.20, 0.05), &campaign, &opts).unwrap();
        // The region and the nation (same values) × the category and all_targeted × two methods.
        assert_eq!(out.height(), 8, "{out}");
        let truth_share = 100.0 * (0.3 * 1.2) / (0.3 * 1.2 + 0.7 * 1.05);
        for i in 0..out.height() {
            let g = |c: &str| f(&out, c, i).unwrap();
            let (on, off) = (g("online_uplift_pct"), g("offline_uplift_pct"));
            assert!((on - 20.0).abs() < 1.5, "online {on}");
            assert!((off - 5.0).abs() < 1.5, "offline {off}");
            assert!(g("online_lower_pct") < 20.0 && 20.0 < g("online_upper_pct"));
            assert!(g("offline_lower_pct") < 5.0 && 5.0 < g("offline_upper_pct"));
            let change = g("online_share_change_pp");
            assert!((g("online_share_pct") - truth_share).abs() < 0.5);
            assert!(
                (change - (truth_share - 30.0)).abs() < 0.5,
                "change {change}"
            );
            let (lo, hi) = (
                g("online_share_change_lower_pp"),
                g("online_share_change_upper_pp"),
            );
            assert!(lo < change && change < hi && lo > 0.0, "[{lo}, {hi}]");
        }
        // Scored against the known truth: every cell covered, errors under 1.5 points.
        let truth = df!(
            "region_code" => ["330000", "330000", "000000", "000000"],
            "category" => ["home_appliances"; 4],
            "channel" => ["online", "offline", "online", "offline"],
            "true_uplift_pct" => [20.0, 5.0, 20.0, 5.0],
        )
        .unwrap();
        let scores = score_channels(&out, &truth).unwrap();
        assert_eq!(scores.height(), 4, "{scores}");
        for i in 0..4 {
            assert_eq!(crate::test_frames::n(&scores, "cells", i), 2);
            assert!(f(&scores, "mae_pp", i).unwrap() < 1.5);
            assert!((f(&scores, "coverage", i).unwrap() - 1.0).abs() < 1e-12);
        }
    }

    /// With no channel effect, the share's change is about zero and its interval holds zero.
    #[test]
    fn equal_effects_leave_the_share_unchanged() {
        let (campaign, opts) = options();
        let out = channel_uplift(&daily(0.10, 0.10), &campaign, &opts).unwrap();
        for i in 0..out.height() {
            let g = |c: &str| f(&out, c, i).unwrap();
            assert!(g("online_share_change_pp").abs() < 0.3);
            assert!(
                g("online_share_change_lower_pp") < 0.0 && 0.0 < g("online_share_change_upper_pp")
            );
        }
    }

    /// Offline-only data: online figures and the share are empty, offline ones present.
    #[test]
    fn an_offline_only_cell_has_no_online_figures() {
        let (campaign, opts) = options();
        let only_offline = daily(0.0, 0.1)
            .lazy()
            .filter(col("channel").eq(lit("offline")))
            .collect()
            .unwrap();
        let out = channel_uplift(&only_offline, &campaign, &opts).unwrap();
        assert_eq!(out.height(), 8);
        assert_eq!(out.column("online_uplift_pct").unwrap().null_count(), 8);
        assert_eq!(
            out.column("online_share_change_pp").unwrap().null_count(),
            8
        );
        assert!((f(&out, "offline_uplift_pct", 0).unwrap() - 10.0).abs() < 1.5);
        let scored = channel_rows_for_scoring(&out).unwrap();
        assert_eq!(scored.height(), 8);
    }

    #[test]
    fn the_share_interval_follows_the_formula() {
        // Equal baselines and ±10 % intervals on both channels at the 90 % level.
        let z = homeseason_stats::numeric::normal_quantile(0.95);
        let s = share_change(
            (Some(60.0), Some(50.0), Some(-10.0), Some(10.0)),
            (Some(40.0), Some(50.0), Some(-10.0), Some(10.0)),
            z,
            0.0,
        )
        .unwrap();
        assert!((s.0 - 60.0).abs() < 1e-9 && (s.1 - 50.0).abs() < 1e-9);
        assert!((s.2 - 10.0).abs() < 1e-9);
        // Correlated channel errors cancel in the share: a narrower interval.
        let c = share_change(
            (Some(60.0), Some(50.0), Some(-10.0), Some(10.0)),
            (Some(40.0), Some(50.0), Some(-10.0), Some(10.0)),
            z,
            0.9,
        )
        .unwrap();
        assert!(c.4 - c.3 < 0.5 * (s.4 - s.3), "{c:?} vs {s:?}");
        let sd = ((1.1f64.ln() - 0.9f64.ln()) / (2.0 * z)) * 2f64.sqrt();
        let hi = 1.0 / (1.0 + (-z * sd).exp());
        assert!((s.3 - 100.0 * (0.6 - hi)).abs() < 1e-9);
        assert!((s.4 - 100.0 * (0.6 - (1.0 - hi))).abs() < 1e-9);
        assert!(
            share_change(
                (None, Some(1.0), Some(0.0), Some(1.0)),
                (Some(1.0), Some(1.0), Some(0.0), Some(1.0)),
                z,
                0.0
            )
            .is_none()
        );
    }
}
