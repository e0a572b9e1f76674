//! Synthetic control over donor regions with conformal inference, in the spirit of Meta's GeoLift.
//!
//! Some regions ran extra "local station" events on top of the national campaign; did they add
//! sales? Each *cell* (one event, or one group of regions treated together) is compared with a
//! synthetic control built from the *donors* — the regions treated in no cell.
//!
//! # Method (GeoLift = augsynth with `scm = TRUE`, `fixedeff = TRUE`)
//!
//! For a cell with treated units `S`, first treated period `start` and last treated period `end`:
//!
//! 1. The panel is cut after `end` (GeoLift's `fn_treatment`); the treated units are **averaged**
//!    into one series `x₁`; the pre-period is `0..start`.
//! 2. **Fixed effects** (default on): every unit's pre-period mean is subtracted before fitting and
//!    added back in the counterfactual.
//! 3. **Weights**: `w ≥ 0`, `Σw = 1` minimising `‖x₁ − X₀w‖²` over the pre-period (augsynth's
//!    `synth_qp`), solved exactly by an active-set method. With [`Augment::Ridge`] the weights get
//!    augsynth's ridge correction (the ridge regression of the pre-period residual on the donors;
//!    such weights still sum to one but may be negative), λ either given or chosen by augsynth's
//!    leave-one-period-out cross-validation with the one-standard-error rule.
//! 4. **Counterfactual** `ŷ₀ₜ = m₁ + Σⱼ wⱼ (Yⱼₜ − mⱼ)` for every period; `ATT = mean over the
//!    post-period of (x₁ − ŷ₀)`; **incremental** outcome `= ATT × |S| × post length`;
//!    **percent lift** `= 100 × Σ_post(x₁ − ŷ₀) / |Σ_post ŷ₀|` (GeoLift's `Perc.Lift`, unrounded).
//! 5. **Fit diagnostics**: L2 imbalance `‖pre-period residual‖` (after fixed effects) and the
//!    *scaled* L2 imbalance, the same divided by the imbalance of uniform weights (0 = perfect,
//!    1 = no better than the plain donor average), and the pre-period RMSE.
//! 6. **Conformal inference** (augsynth `conformal_inf`): for a null effect θ (constant over the
//!    post-period) θ is subtracted from the treated post-period outcomes, the model is refitted on
//!    all periods (fixed effects are then means over all periods), and the statistic of the
//!    post-period residuals is ranked among the statistics of the residual series permuted over
//!    time ([`Permutations`]). The statistic is `|Σu|` two-sided ([`Statistic::AbsSum`], a test of
//!    the average effect; GeoLift's `Σ|u|` is [`Statistic::SumAbs`]) and `±Σu` one-sided. The
//!    default permutations move blocks of 7 periods (weeks of daily data), anchored at the first
//!    treated period, so serially correlated days are not treated as exchangeable (GeoLift permutes
//!    single days: [`Options::geolift`]). The reported p-value is that of θ = 0 — **the** p-value of
//!    "no effect", two-sided by default. With a ridge fit λ is kept fixed in the refits, as augsynth
//!    does. Random permutations come from a ChaCha8 generator seeded with [`Options::seed`], the same
//!    for every cell, so results are deterministic and a cell's result does not depend on the other
//!    cells it is estimated with.
//! 7. **Interval** ([`Interval`]): the set of constant effects θ that same test does not reject at
//!    `alpha`, found on a grid and refined by bisection; when it is not one piece, its hull, cut at
//!    zero if zero is rejected (and widened to zero if zero is accepted), so that **`p < alpha`
//!    exactly when the interval excludes zero**. Only when the set is empty (every constant effect
//!    rejected, which `|Σu|` makes rare) does [`Interval::Auto`] fall back to augsynth's jackknife+
//!    (leave one pre-period out, refit, widen the post-period counterfactual by the held-out
//!    error), as GeoLift does, and says so in [`CellResult::warnings`]. [`CellResult::interval`]
//!    says which one was used.
//!
//! Optionally ([`Options::pointwise`]) every post-period gets its own effect, p-value and interval
//! by augsynth's pointwise procedure (that period added to the pre-period, circular shifts).
//!
//! # Several cells, staggered starts
//!
//! [`estimate`] takes any number of cells, each with its own `start` and `end`; donors are the
//! units treated in **no** cell (GeoLift's `GeoLiftMultiCell` drops the other cells' units), so a
//! cell's result equals the result of estimating it alone on the panel without the other cells'
//! units. A cell has exactly one start. Regions of one event that started on different dates are
//! *cohorts*: [`CellSpec::cohorts`] makes one cell per start date, each is estimated against the
//! never-treated donors, and [`combine`] pools them: the ATT weighted by treated unit-periods (i.e.
//! total incremental / total treated unit-periods), the summed incremental outcome, the pooled lift,
//! and a Bonferroni p-value for the global null that no cohort had an effect (valid whatever the
//! dependence between cohorts, conservative). This is the "separate cohorts, weighted average"
//! reading of augsynth's `multisynth` without its partial pooling of weights.
//!
//! # Planning
//!
//! [`power`] simulates the design on history: for placebo windows of the planned duration ending at
//! the most recent periods, the candidate units' outcomes in the window are multiplied by
//! `1 + effect` (GeoLift's `GeoLiftPower`), the conformal test is run, and the power at an effect
//! size is the share of windows where `p < alpha`; the minimum detectable effect is the smallest
//! effect reaching the target power (80% by default, α = 0.1).
//!
//! # Example
//!
//! ```
//! use homeseason_stats::geolift::{CellSpec, GeoError, Options, Panel, estimate};
//!
//! // Long rows (region, day, sales): 12 regions, 60 days; regions 05 and 06 get +10 from day 50.
//! let mut rows = Vec::new();
//! for r in 0..12 {
//!     for d in 0..60 {
//!         let weekly = [0.0, 1.0, 2.0, 1.5, 0.5, 4.0, 5.0][d % 7] * (1.0 + 0.1 * r as f64);
//!         let noise = ((r * 31 + d * 17) % 5) as f64 * 0.5;
//!         let event = if (r == 5 || r == 6) && d >= 50 { 10.0 } else { 0.0 };
//!         rows.push((format!("region{r:02}"), d, 100.0 + 5.0 * r as f64 + weekly + noise + event));
//!     }
//! }
//! let (panel, days) = Panel::from_long(rows)?;
//! assert_eq!(days.len(), 60);
//! let treated = panel.unit_indices(&["region05", "region06"])?;
//! let cell = CellSpec::new("local station", treated, 50, 59);
//! let result = &estimate(&panel, &[cell], &Options::default())?[0];
//! assert!((result.att - 10.0).abs() < 2.0 && result.p_value < 0.1);
//! assert!((result.weights.iter().map(|(_, w)| w).sum::<f64>() - 1.0).abs() < 1e-9);
//! # Ok::<(), GeoError>(())
//! ```
//!
//! # Parity with GeoLift
//!
//! On GeoLift's own example (`GeoLift_Test`, chicago + portland, periods 91–105; see
//! `tests/geolift.rs`) this module reproduces the published walkthrough: ATT 155.556, lift 5.4%,
//! incremental 4667, the 13 donor weights to 4 decimals, L2 imbalance 909.489 (scaled 0.1636), the
//! 90% jackknife+ interval of the incremental outcome (−2450.734, 11349.93) (GeoLift's fallback
//! after its conformal interval fails; [`Interval::JackknifePlus`]), and with ridge augmentation
//! ATT 156.805, incremental 4704, L2 903.525 (0.1626) and all 34 published weights; the pointwise
//! p-value of the first treated day is augsynth's 0.2857 (26/91). On `GeoLift_PreTest`, [`power`]
//! with [`Options::geolift`] gives the walkthrough's power curve for a 15-day test in chicago +
//! portland (27 windows, each point within two windows of the published one) and its minimum
//! detectable lift of 10%. GeoLift's overall p-value is itself random (1000 unseeded i.i.d.
//! permutations of `Σ|u|`: its walkthroughs print 0.5%–1.7%); [`Options::geolift`] gives 1.4% with
//! seed 0. The defaults here answer a different, better-posed question — is the *average* effect
//! zero, with weeks rather than days exchangeable — so their p-value differs (see the tests for the
//! figures) and comes with a conformal interval that agrees with it.

mod conformal;
mod estimate;
mod panel;
mod power;
mod qp;
mod scm;

pub use estimate::{Combined, combine, estimate};
pub use panel::{Fill, FillReport, Panel};
pub use power::{PowerOptions, PowerPoint, PowerResult, power};

/// Errors of the geo-experiment estimators: bad input, never numerical trouble.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoError {
    /// The matrix and unit names do not fit together, or there is no data.
    #[error("panel shape: {0}")]
    Shape(String),
    /// Two units share a name.
    #[error("unit {0:?} appears twice")]
    DuplicateUnit(String),
    /// A value is NaN or infinite.
    #[error("unit {unit:?} has a non-finite value at time {time}")]
    NonFinite {
        /// Unit name.
        unit: String,
        /// Time key (long input) or column.
        time: String,
    },
    /// Long input has two rows for one unit and time.
    #[error("unit {unit:?} has more than one value for time {time}")]
    DuplicateObservation {
        /// Unit name.
        unit: String,
        /// Time key.
        time: String,
    },
    /// Long input is not a balanced panel.
    #[error(
        "panel is not balanced: unit {unit:?} has {have} of {expected} periods (first gap: time {time})"
    )]
    MissingObservation {
        /// Unit name.
        unit: String,
        /// First missing time key.
        time: String,
        /// Periods present for the unit.
        have: usize,
        /// Periods in the panel.
        expected: usize,
    },
    /// A unit name that is not in the panel.
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    /// A cell specification is unusable.
    #[error("cell {cell:?}: {reason}")]
    InvalidCell {
        /// Cell name.
        cell: String,
        /// What is wrong.
        reason: String,
    },
    /// A unit is treated in two cells.
    #[error("unit {unit:?} is treated in both cell {first:?} and cell {second:?}")]
    OverlappingCells {
        /// Unit name.
        unit: String,
        /// One cell.
        first: String,
        /// The other cell.
        second: String,
    },
    /// No donor unit is left.
    #[error("no donor units: every unit is treated or excluded")]
    NoDonors,
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// Outcome-model augmentation of the synthetic control (GeoLift's `model`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Augment {
    /// Pure synthetic control (`model = "none"`, GeoLift's default).
    #[default]
    None,
    /// Ridge-augmented synthetic control (`model = "Ridge"`).
    Ridge {
        /// Ridge penalty; `None` chooses it by augsynth's cross-validation (21 values from the
        /// largest squared singular value of the centred donor matrix down by 1e-8,
        /// leave-one-period-out, one-standard-error rule).
        lambda: Option<f64>,
    },
}

/// How residual series are permuted over time in the conformal test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Permutations {
    /// `draws` random permutations of single periods (augsynth's `"iid"`, GeoLift's default with
    /// 1000 draws).
    Iid {
        /// Number of random permutations.
        draws: usize,
    },
    /// `draws` random permutations of contiguous blocks of `len` periods (keeps short-range
    /// dependence such as the day-of-week pattern within a block).
    Blocks {
        /// Block length in periods (the last block may be shorter).
        len: usize,
        /// Number of random permutations.
        draws: usize,
    },
    /// All circular shifts of the series (augsynth's moving-block `"block"` type): exact and
    /// seed-free, but the smallest attainable p-value is one over the number of periods.
    Circular,
}

impl Default for Permutations {
    /// Random permutations of 7-period blocks, 1000 draws: for daily data a block is a week, so the
    /// serial correlation within a week and the weekday rhythm stay inside the permuted units.
    /// (GeoLift permutes single days, [`Permutations::Iid`], which treats serially correlated days
    /// as exchangeable and makes p-values too small; see [`Options::geolift`].)
    fn default() -> Self {
        Permutations::Blocks {
            len: 7,
            draws: 1000,
        }
    }
}

/// The two-sided test statistic of the post-period residuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistic {
    /// `|Σu|`, the absolute total of the residuals (the default): a test of the *average* effect,
    /// so the interval obtained by inverting it is an interval of the ATT and is never empty for a
    /// reasonable fit, whatever the day-to-day variation of the effect.
    #[default]
    AbsSum,
    /// `Σ|u|`, GeoLift's `"Total"`: a test that the effect is exactly the constant θ on *every*
    /// post period. A varying effect is rejected for every θ, so its inverted interval is often
    /// empty (GeoLift then falls back to jackknife+).
    SumAbs,
}

/// The alternative hypothesis of the test (GeoLift's `stat_test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alternative {
    /// Any effect: statistic `Σ|u|` (`"Total"`, the default).
    #[default]
    TwoSided,
    /// A positive effect: statistic `Σu` (`"Positive"`); the interval is `[lower, ∞)`.
    Greater,
    /// A negative effect: statistic `−Σu` (`"Negative"`); the interval is `(−∞, upper]`.
    Less,
}

/// How the interval of the average effect is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interval {
    /// Conformal — the inversion of the very test that gives the p-value, so that `p < alpha`
    /// exactly when the interval excludes zero — falling back to jackknife+ only when the
    /// conformal set is empty (every constant effect rejected), with a warning in
    /// [`CellResult::warnings`]. The default.
    #[default]
    Auto,
    /// GeoLift's rule ([`Options::geolift`]): conformal, falling back to jackknife+ when the
    /// conformal set is empty *or does not contain the point estimate* (with a warning).
    GeoLiftAuto,
    /// Invert the conformal test of a constant effect, whatever comes out. The set is empty
    /// (`NaN` bounds) when every constant effect is rejected — the daily effect varies more than
    /// the pre-period residuals do — and it can lie beside the point estimate when the pre-period
    /// fit extrapolates poorly (the test refits the weights on all periods under each null).
    Conformal,
    /// augsynth's jackknife+ over pre-periods.
    JackknifePlus,
}

/// Estimation options. `Options::default()` is GeoLift's default analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Outcome-model augmentation; default none.
    pub augment: Augment,
    /// Remove unit means (pre-period for the estimate) before fitting; default true.
    pub fixed_effects: bool,
    /// Significance level of the interval (and of power); default 0.1 (a 90% interval).
    pub alpha: f64,
    /// Permutation scheme of the conformal test; default 1000 random permutations of 7-period
    /// blocks (weeks of daily data).
    pub permutations: Permutations,
    /// Alternative hypothesis; default two-sided.
    pub alternative: Alternative,
    /// Two-sided statistic; default [`Statistic::AbsSum`] (`|Σu|`).
    pub statistic: Statistic,
    /// Interval method for the average effect; default [`Interval::Auto`].
    pub interval: Interval,
    /// Grid points used to invert the test into an interval (refined by bisection); default 50, at
    /// least 3.
    pub conformal_grid: usize,
    /// Also compute per-period effects, p-values and intervals; default false (costs one interval
    /// search per post period).
    pub pointwise: bool,
    /// Seed of the random permutations; default 0.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            augment: Augment::None,
            fixed_effects: true,
            alpha: 0.1,
            permutations: Permutations::default(),
            alternative: Alternative::TwoSided,
            statistic: Statistic::AbsSum,
            interval: Interval::Auto,
            conformal_grid: 50,
            pointwise: false,
            seed: 0,
        }
    }
}

impl Options {
    /// GeoLift's own inference, for comparison with its published figures: 1000 i.i.d.
    /// permutations of single periods, the `Σ|u|` statistic ("Total") and GeoLift's interval rule
    /// ([`Interval::GeoLiftAuto`]). Its p-value ignores serial correlation, and its inverted
    /// interval is often empty, so the interval then falls back to jackknife+ (as in GeoLift) and
    /// can disagree with the p-value.
    pub fn geolift() -> Self {
        Options {
            permutations: Permutations::Iid { draws: 1000 },
            statistic: Statistic::SumAbs,
            interval: Interval::GeoLiftAuto,
            ..Options::default()
        }
    }

    fn validate(&self) -> Result<(), GeoError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(GeoError::InvalidOption(format!(
                "alpha must be in (0, 1), got {}",
                self.alpha
            )));
        }
        if self.conformal_grid < 3 {
            return Err(GeoError::InvalidOption(
                "conformal_grid must be at least 3".to_owned(),
            ));
        }
        match self.permutations {
            Permutations::Iid { draws } | Permutations::Blocks { draws, .. } if draws == 0 => {
                return Err(GeoError::InvalidOption(
                    "permutation draws must be at least 1".to_owned(),
                ));
            }
            Permutations::Blocks { len: 0, .. } => {
                return Err(GeoError::InvalidOption(
                    "block length must be at least 1".to_owned(),
                ));
            }
            _ => {}
        }
        if let Augment::Ridge { lambda: Some(l) } = self.augment
            && !(l.is_finite() && l >= 0.0)
        {
            return Err(GeoError::InvalidOption(format!(
                "ridge lambda must be finite and ≥ 0, got {l}"
            )));
        }
        Ok(())
    }
}

/// One treated cell: units treated together from `start` to `end` (time indices, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSpec {
    /// Name used in the result (event or group name).
    pub name: String,
    /// Row indices of the treated units in the panel.
    pub treated: Vec<usize>,
    /// First treated period (time index); periods `0..start` are the pre-period (at least 2).
    pub start: usize,
    /// Last treated period (time index, inclusive); later periods are ignored for this cell.
    pub end: usize,
}

impl CellSpec {
    /// A cell from its parts.
    pub fn new(name: impl Into<String>, treated: Vec<usize>, start: usize, end: usize) -> Self {
        CellSpec {
            name: name.into(),
            treated,
            start,
            end,
        }
    }

    /// One cell per distinct start date for an event whose units started on different dates
    /// (staggered starts). `starts` lists `(unit index, first treated period)`; cells are named
    /// `"{name}@{start}"`, ordered by start, and all end at `end`. Estimate them together and pool
    /// them with [`combine`].
    pub fn cohorts(name: &str, starts: &[(usize, usize)], end: usize) -> Vec<CellSpec> {
        let mut by_start: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for &(unit, start) in starts {
            by_start.entry(start).or_default().push(unit);
        }
        by_start
            .into_iter()
            .map(|(start, mut units)| {
                units.sort_unstable();
                units.dedup();
                CellSpec {
                    name: format!("{name}@{start}"),
                    treated: units,
                    start,
                    end,
                }
            })
            .collect()
    }
}

/// Effect at one post-period (with [`Options::pointwise`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PointwiseEffect {
    /// Time index.
    pub time: usize,
    /// Treated average minus counterfactual at that period.
    pub att: f64,
    /// Lower end of the conformal interval (level `1 − alpha`).
    pub lower: f64,
    /// Upper end of the conformal interval.
    pub upper: f64,
    /// Conformal p-value of no effect at that period (circular shifts).
    pub p_value: f64,
}

/// Result for one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellResult {
    /// Cell name.
    pub name: String,
    /// Names of the treated units.
    pub treated: Vec<String>,
    /// First treated period.
    pub start: usize,
    /// Last treated period.
    pub end: usize,
    /// Average effect per treated unit and post period (treated average minus counterfactual).
    pub att: f64,
    /// Lower end of the conformal interval for a constant effect (level `1 − alpha`); `−∞` for a
    /// `Less` test, `NaN` when every constant effect is rejected (a sign of a poor fit).
    pub att_lower: f64,
    /// Upper end of the interval; `+∞` for a `Greater` test.
    pub att_upper: f64,
    /// Incremental outcome over all treated units and post periods: `att × units × periods`.
    pub incremental: f64,
    /// `att_lower × units × periods`.
    pub incremental_lower: f64,
    /// `att_upper × units × periods`.
    pub incremental_upper: f64,
    /// Percent lift: `100 × Σ_post(treated avg − counterfactual) / |Σ_post counterfactual|`.
    pub lift_pct: f64,
    /// Lift at `att_lower`.
    pub lift_pct_lower: f64,
    /// Lift at `att_upper`.
    pub lift_pct_upper: f64,
    /// Two-sided (for [`Alternative::TwoSided`]) permutation p-value of "no effect", θ = 0. With a
    /// conformal interval, `p_value < alpha` exactly when the interval excludes zero.
    pub p_value: f64,
    /// How `att_lower`/`att_upper` were obtained ([`Interval::Conformal`] or
    /// [`Interval::JackknifePlus`], never `Auto`).
    pub interval: Interval,
    /// What a reader must know about this result: a jackknife+ fallback (the interval is then not
    /// the inversion of the p-value's test and may disagree with it), a conformal interval that
    /// misses the estimate, more donors than pre-periods (the fit can interpolate the pre-period).
    pub warnings: Vec<String>,
    /// Every donor with its weight, in panel order (zero weights included).
    pub weights: Vec<(String, f64)>,
    /// Ridge penalty used, when augmented.
    pub lambda: Option<f64>,
    /// Pre-period L2 imbalance `‖treated − synthetic‖` (after fixed effects).
    pub l2_imbalance: f64,
    /// L2 imbalance divided by that of uniform donor weights.
    pub scaled_l2_imbalance: f64,
    /// Root mean squared pre-period gap between treated average and counterfactual.
    pub pre_rmse: f64,
    /// Observed treated average for periods `0..=end`.
    pub observed: Vec<f64>,
    /// Counterfactual treated average for periods `0..=end`.
    pub counterfactual: Vec<f64>,
    /// Per post-period effects; empty unless [`Options::pointwise`].
    pub pointwise: Vec<PointwiseEffect>,
}
