//! # homeseason-metrics
//!
//! How much more was sold in the campaign window than would have been sold without it — per region ×
//! category, with an interval. Frames in, frames out: no files, no clock, no printing.
//!
//! ## Input
//! [`daily_series`] turns the lake's `payment_daily` (one row per date × institution × region × MCC ×
//! channel) into one net-sales series per region × category (`region_code`, `category`, `date`,
//! `net_amount_yuan`), adding the national total (`000000`) and the sum of the targeted categories
//! (`all_targeted`).
//!
//! ## Methods ([`Method`])
//! Both compare the window with the same window `k` years earlier (`k = 1`: `prior_year`; `k = 2`:
//! `two_year`, for when the prior year is distorted, as late 2022 was):
//!
//! 1. **Alignment** ([`align::reference_dates`]). Each day `d` is matched with days of year `Y−k` of the
//!    same kind: an ordinary workday or weekend with the same weekday 52·k weeks earlier (±2 weeks,
//!    same day type); a holiday with the days of the same holiday block (so Mid-Autumn on 29 Sept 2023
//!    meets Mid-Autumn on 10–12 Sept 2022, not an ordinary Saturday); a make-up workday with make-up
//!    workdays; 6.18 / 11.11 / 12.12 with the same date. One rule ([`align::expected`]) then makes
//!    `ŷ(d)` the mean over the matched days `r` of `y(r) · L(weekday d) / L(weekday r)`, `L(w)` being
//!    the comparison year's mean of ordinary days with weekday `w` within three weeks of `r`: the
//!    factor is 1 for days matched on their weekday (and for holiday blocks and make-up workdays,
//!    whose weekday does not matter); for a date-anchored day it keeps the festival and swaps the
//!    weekday (12.12 was a Sunday in 2021 and a Tuesday in 2023).
//! 2. **Growth**. `g = Σ_{d∈P} y(d) / Σ_{d∈P} ŷ(d)` over the pre-period `P` (June–August by default).
//! 3. **Baseline and uplift**. Over the window `W`: actual `A = Σ_W y`, baseline `B = g · Σ_W ŷ`,
//!    `uplift_abs = A − B`, `uplift_pct = 100 · (A / B − 1)`.
//! 4. **Interval**. The daily log residuals `e(d) = ln(y(d) / (g·ŷ(d)))` on `P` are fitted with an
//!    AR(1) process (lag-1 autocorrelation with Kendall's small-sample correction). The counterfactual
//!    is `C = B · exp(D)` with `D = ē_W − ē_P` (ŷ-weighted mean residuals of the window and of the
//!    pre-period on one timeline: the error of the window's total and of `g`, correlated as the days
//!    are). `D = Σ_t c_t e_t` is a weighted sum of a stationary Gaussian AR(1), so it is exactly
//!    normal with variance `s² Σ_s Σ_t c_s c_t ρ^|s−t|` (`s²` the stationary variance, computed in
//!    one pass over the days): `lower_pct`/`upper_pct` are `100 · (A/B · e^(∓z·sd) − 1)` with `z`
//!    the normal quantile of the configured level, and `p_value` the two-sided p-value of no effect,
//!    `P(|D| ≥ |ln(A/B)|) = erfc(|ln(A/B)| / (sd·√2))` — small for a clearly negative effect as for
//!    a clearly positive one; the effect's direction is in `effect_sign` (+1, −1, 0). (The same
//!    estimator as simulating residual paths and taking quantiles of `100 · (A / C* − 1)`, without
//!    the simulation's noise or its p-value floor of `2 / (R + 1)`.)
//!    The interval covers noise and alignment error, not a distorted comparison year: that is what
//!    the two-year base and the placebo checks are for.
//!
//! 5. **Counterfactual regression** (`counterfactual_regression`, in the spirit of Google's
//!    CausalImpact; numerics in [`homeseason_stats::impact`]): ln y of the cell is regressed, over up to
//!    three years before the window (from the first day every series has; the campaign's `masked`
//!    shocks left out), on the log of the same region's untargeted categories (supermarkets,
//!    restaurants, fuel — they move with the local economy, not with the campaign; a centred weekly
//!    mean of their ordinary days, so their own day-to-day noise does not attenuate the fit), a linear
//!    trend, yearly Fourier terms (6 harmonics: the category's own season), weekday and Chinese
//!    day-type dummies, with a slow AR(1) + fast AR(1) + noise error process; the window is predicted
//!    from 300 posterior predictive draws, so the interval and the two-sided p-value carry
//!    parameter uncertainty and serial correlation into the total. Its placebo refits on the history
//!    before the placebo window.
//! 6. **Placebo**. The same method on a fake window where no effect exists (by default the pre-period,
//!    with the same number of days before it as its pre-period) is reported beside each estimate
//!    (`window_kind = placebo`): its interval should hold zero about as often as the level says.
//!
//! 7. **Backtest and the headline method** ([`backtest`]). Every method is run on windows of the
//!    campaign's length (no two overlapping) where no campaign ran; its bias, MAE and interval
//!    coverage there, a two-sided conformal scaling of its interval (widened when it covered too
//!    little, narrowed when too much) and its error band are written to `uplift_backtest`, and
//!    `baseline.primary_method = "auto"` heads the report with the best-calibrated method (coverage
//!    of its conformally scaled interval within ±5 points of the level, then the lowest backtest
//!    MAE). Cells whose |uplift| is below the
//!    method's error band are flagged (`distinguishable = false`).
//!
//! Every number is traceable: [`UpliftResult::baseline_daily`] gives `y(d)`, `g·ŷ(d)` and the daily
//! band for each cell and method, and [`align::alignment_table`] lists the matched days.
#![deny(missing_docs)]

pub mod activity;
pub mod align;
pub mod backtest;
pub mod channel;
mod days;
pub mod diagnostics;
pub mod leverage;
pub mod local_events;
pub mod memo;
mod regression;
pub mod score;
mod series;
pub mod split;
#[cfg(test)]
mod test_frames;
pub mod themes;
pub mod tracking;
pub mod triangulate;
mod uplift;
pub mod urban_rural;

pub use memo::{FitMemo, MemoCounts};
pub use series::{
    ALL_TARGETED, NET_FEN, daily_series, fen_cells, series_from_fen, with_zero_days,
    with_zero_days_fen,
};
pub use uplift::{BOOTSTRAP_SEED, Method, UpliftOptions, UpliftResult, placebo_windows, uplift};

/// Errors of the metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A frame operation failed (usually a missing column).
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    /// The input cannot support the method.
    #[error("{0}")]
    Input(String),
}

/// Result alias.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
