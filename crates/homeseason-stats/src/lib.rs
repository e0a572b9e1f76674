//! # homeseason-stats
//!
//! The numerical core of homeseason's estimators, on plain slices and matrices (nalgebra): no
//! dataframes, no IO, deterministic for a given seed. The metrics crate adapts frames to these
//! functions.
//!
//! - [`impact`]: counterfactual regression in the spirit of Google's CausalImpact — fit the target on
//!   the pre-period against covariates the intervention did not touch, predict the post-period, and
//!   give pointwise, cumulative and average effects with intervals and a tail-area probability.
//! - [`geolift`]: synthetic control over donor units in the spirit of Meta's GeoLift — non-negative
//!   donor weights with unit fixed effects, optional ridge augmentation, ATT, lift and incremental
//!   outcome, conformal p-values and intervals, and power / minimum detectable effect for planning.
//! - [`tbr`]: time-based regression in the spirit of Google's `matched_markets` — the treatment
//!   group's total regressed on the control group's over the pre-period, the cumulative effect over
//!   the test period with a Student-t interval, and the iROAS with a cost series.
//!
//! **One p-value.** Every estimator reports the two-sided p-value of "no effect" (the impact's
//! `p_value`, the geolift cell's `p_value` under its default two-sided test, the TBR effect's
//! `p_value`), with the effect's direction reported separately; intervals come from the same
//! procedure as the p-value, so `p < α` when the `1 − α` interval excludes zero.
#![deny(missing_docs)]

pub mod geolift;
pub mod impact;
pub mod numeric;
pub mod tbr;
