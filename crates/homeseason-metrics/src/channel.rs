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
//! The machinery is [`crate::split`]'s, shared with [`crate::urban_rural`] (the same estimator
//! split by town and country).
//!
//! ## Suppression
//! The lake's table holds every figure; what is published (the report, the workbook) blanks channel
//! figures the small-cell suppression of the dashboard copies would give away — see
//! `homeseason_pipeline::dimensions::published_channels`.

use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

use crate::Result;
use crate::split::{
    Split, class_cells, class_rows_for_scoring, score_by_class, uplift_by_class,
    uplift_by_class_of_cells,
};
use crate::uplift::{Method, UpliftOptions};

/// The channels of `payment_daily`, in table order.
pub const CHANNELS: [&str; 2] = ["online", "offline"];

/// The methods run per channel (see the module docs for why only these).
pub const CHANNEL_METHODS: [Method; 2] = crate::split::CLASS_METHODS;

/// The split by channel: the `channel` column, the online share reported.
const BY_CHANNEL: Split<'static> = Split {
    column: "channel",
    classes: CHANNELS,
};

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
    uplift_by_class(payment_daily, campaign, opts, BY_CHANNEL)
}

/// `payment_daily` summed in integer fen per region × category × channel × date
/// ([`crate::split::class_cells`]): the one group-by behind both the headline series
/// ([`crate::split::all_classes`], then [`crate::series_from_fen`]: bit for bit
/// [`crate::daily_series`] of `payment_daily`) and [`channel_uplift_of_cells`].
///
/// # Errors
/// When `payment_daily` lacks its columns.
pub fn channel_cells(payment_daily: &DataFrame) -> Result<DataFrame> {
    class_cells(payment_daily, BY_CHANNEL)
}

/// [`channel_uplift`] from [`channel_cells`] (the same table, without grouping the rows again).
///
/// # Errors
/// When `cells` lack their columns.
pub fn channel_uplift_of_cells(
    cells: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    uplift_by_class_of_cells(cells, campaign, opts, BY_CHANNEL)
}

/// `channel_uplift` as one row per region × category × method × channel with the `uplift` table's
/// column names (`uplift_pct`, `lower_pct`, `upper_pct`, `window_kind = campaign`) and the category
/// written `category/channel`, so [`crate::score::score`] scores each channel's cells against a
/// truth keyed the same way (the generator's `truth_channels.csv`).
///
/// # Errors
/// When a column is missing.
pub fn channel_rows_for_scoring(channel_uplift: &DataFrame) -> Result<DataFrame> {
    class_rows_for_scoring(channel_uplift, CHANNELS)
}

/// Score `channel_uplift` against a channel truth (`region_code, category, channel,
/// true_uplift_pct`, the generator's `truth_channels.csv`): per channel and method, the
/// [`crate::score::score`] columns (`cells`, `mae_pp`, `bias_pp`, `coverage`), national rows
/// included where the truth has them.
///
/// # Errors
/// When a column is missing.
pub fn score_channels(channel_uplift: &DataFrame, truth: &DataFrame) -> Result<DataFrame> {
    score_by_class(channel_uplift, truth, BY_CHANNEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::{campaign_and_options, class_days, f};

    /// `payment_daily`-like rows for one region and category, 2021–2023: the online part grows by
    /// `on` and the offline part by `off` in the window; online is 30 % of the value otherwise.
    fn daily(on: f64, off: f64) -> DataFrame {
        class_days("channel", &[("online", 0.3), ("offline", 0.7)], |j, _| {
            [on, off][j]
        })
    }

    /// Each channel's own effect is recovered inside its interval, and the online share's change is
    /// the known one: 30 % online, +20 % online and +5 % offline → 33.96 % (+3.96 points).
    #[test]
    fn recovers_each_channels_effect_and_the_share_change() {
        let (campaign, opts) = campaign_and_options();
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
        let (campaign, opts) = campaign_and_options();
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
        let (campaign, opts) = campaign_and_options();
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
}
