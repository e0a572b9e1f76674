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
#![deny(missing_docs)]

pub mod geolift;
pub mod impact;
pub mod numeric;
